package operator

import (
	"fmt"
	"io"
	"time"

	"github.com/tenantsync/tenantsync/internal/statuspage"
)

// WriteDeletions writes staged deletions grouped by target, in the order
// the targets first appear in ds (the caller's order: the config's), each
// group a table.
func WriteDeletions(w io.Writer, now time.Time, ds []statuspage.Deletion) error {
	if len(ds) == 0 {
		_, err := fmt.Fprintln(w, "No staged deletions.")
		return err
	}
	var targets []string
	byTarget := map[string][]statuspage.Deletion{}
	for _, d := range ds {
		if _, ok := byTarget[d.Target]; !ok {
			targets = append(targets, d.Target)
		}
		byTarget[d.Target] = append(byTarget[d.Target], d)
	}
	for i, target := range targets {
		group := byTarget[target]
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "Target %s: %s\n", target, plural(len(group), "staged deletion", "staged deletions"))
		t := newTable(w, "  SOURCE ID", "USER", "ACTION", "STAGED", "EXPIRES", "APPROVED", "REASON")
		for _, d := range group {
			approved := "no"
			if d.Approved {
				approved = "yes"
			}
			expires := "-"
			if !d.ExpiresAt.IsZero() {
				expires = ago(now, d.ExpiresAt)
			}
			t.row("  "+d.SourceID, orDash(d.SourceUPN), d.Action, ago(now, d.StagedAt), expires, approved, d.Reason)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "\n%s. Approve with `deletions approve --target NAME (--all | SOURCE-ID…)`.\n",
		plural(len(ds), "staged deletion", "staged deletions"))
	return err
}
