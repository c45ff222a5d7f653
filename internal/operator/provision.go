package operator

import (
	"fmt"
	"io"
	"strings"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/engine"
)

// stepTitles name the engine's provisioning steps as the Entra portal's
// "Provision on demand" does.
var stepTitles = map[string]string{
	"import": "Import user",
	"scope":  "Determine if user is in scope",
	"match":  "Match user between source and target",
	"guard":  "Check the deletion guard",
	"action": "Perform action",
	// A group's (provision --group).
	"members": "Keep the group's members (only those tenantsync added are removed)",
	// A user's synced groups (docs/groups.md).
	"groups": "Update the user's synced groups",
	"error":  "Error",
}

// ProvisionResult is what `provision --json` prints: the user asked for
// and a report per target.
type ProvisionResult struct {
	User    string          `json:"user"`
	Reports []engine.Report `json:"reports"`
}

// WriteReports writes on-demand provisioning reports for people, step by
// step: what was imported, whether and why the user is in scope, how the
// target user was matched, and the action with its attribute changes, its
// error if any, and the Graph request ids behind it.
func WriteReports(w io.Writer, user string, reports []engine.Report) error {
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		name := r.Action.UserPrincipalName
		if name == "" {
			name = user
		}
		fmt.Fprintf(w, "Provision on demand: %s → %s\n", clean(name), r.Target)
		n := 0
		last := ""
		for _, s := range r.Steps {
			if s.Name != last {
				n++
				title := stepTitles[s.Name]
				if title == "" {
					title = s.Name
				}
				if s.Name == "action" && r.Action.Op != "" {
					title += ": " + string(r.Action.Op)
				}
				fmt.Fprintf(w, "\n  %d. %s\n", n, title)
				last = s.Name
			}
			fmt.Fprintf(w, "     %s\n", clean(s.Detail))
		}
		a := r.Action
		if keys := a.Changes.Keys(); len(keys) > 0 {
			fmt.Fprintln(w, "\n  Attribute changes:")
			t := newTable(w)
			for _, k := range keys {
				ch := a.Changes[k]
				t.row("    "+k, directory.Format(ch.Old), "→", directory.Format(ch.New))
			}
			if err := t.flush(); err != nil {
				return err
			}
		}
		fmt.Fprintln(w)
		result := string(a.Op)
		if a.Held {
			result = "held " + result
		}
		switch {
		case a.Error != "" && result == "":
			fmt.Fprintf(w, "  Result: failed: %s\n", clean(a.Error))
		case a.Error != "":
			fmt.Fprintf(w, "  Result: %s failed: %s\n", result, clean(a.Error))
		default:
			fmt.Fprintf(w, "  Result: %s (%s)\n", orDash(result), clean(a.Reason))
		}
		if a.TargetID != nil {
			fmt.Fprintf(w, "  Target user: %s\n", *a.TargetID)
		}
		if len(a.RequestIDs) > 0 {
			fmt.Fprintf(w, "  Graph request ids: %s\n", strings.Join(a.RequestIDs, ", "))
		}
	}
	return nil
}
