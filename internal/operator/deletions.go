package operator

import (
	"fmt"
	"io"
	"time"

	"github.com/tenantsync/tenantsync/internal/store"
)

// Deletion is a deprovision held back by the deletion guard, as `deletions
// list --json` prints it.
type Deletion struct {
	Target    string    `json:"target"`
	SourceID  string    `json:"sourceId"`
	TargetID  string    `json:"targetId"`
	SourceUPN string    `json:"userPrincipalName"`
	Action    string    `json:"action"`
	Reason    string    `json:"reason"`
	StagedAt  time.Time `json:"stagedAt"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	Approved  bool      `json:"approved"`
}

// DeletionOf converts a stored deletion.
func DeletionOf(d store.Deletion) Deletion {
	return Deletion{
		Target: d.Target, SourceID: d.SourceID, TargetID: d.TargetID, SourceUPN: d.SourceUPN,
		Action: d.Action, Reason: d.Reason, StagedAt: d.StagedAt.UTC(), ExpiresAt: d.ExpiresAt.UTC(), Approved: d.Approved,
	}
}

// WriteDeletions writes staged deletions as a table.
func WriteDeletions(w io.Writer, now time.Time, ds []Deletion) error {
	if len(ds) == 0 {
		_, err := fmt.Fprintln(w, "No staged deletions.")
		return err
	}
	t := newTable(w, "TARGET", "SOURCE ID", "USER", "ACTION", "STAGED", "EXPIRES", "APPROVED", "REASON")
	for _, d := range ds {
		approved := "no"
		if d.Approved {
			approved = "yes"
		}
		expires := "-"
		if !d.ExpiresAt.IsZero() {
			expires = ago(now, d.ExpiresAt)
		}
		t.row(d.Target, d.SourceID, orDash(d.SourceUPN), d.Action, ago(now, d.StagedAt), expires, approved, d.Reason)
	}
	if err := t.flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s. Approve with `deletions approve --target NAME (--all | SOURCE-ID…)`.\n",
		plural(len(ds), "staged deletion", "staged deletions"))
	return err
}
