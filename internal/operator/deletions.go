package operator

import (
	"fmt"
	"io"
	"time"

	"github.com/tenantsync/tenantsync/internal/statuspage"
)

// WriteDeletions writes staged deletions as a table.
func WriteDeletions(w io.Writer, now time.Time, ds []statuspage.Deletion) error {
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
