package operator

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/engine"
)

// planOps are the operations a plan summary counts, in the order it shows
// them; noops are left out of plans.
var planOps = []engine.Op{engine.OpCreate, engine.OpUpdate, engine.OpDisable, engine.OpDeprovision, engine.OpRestore, engine.OpSkip}

// PlanCounts count the actions of a plan by operation, those the deletion
// guard would hold back, the conflicts among the skips, and the users with
// target-side changes left alone.
type PlanCounts struct {
	ByOp      map[engine.Op]int
	Held      int
	Conflicts int
	Drift     int
}

// CountPlan counts the actions of the given target plans.
func CountPlan(targets ...engine.TargetPlan) PlanCounts {
	c := PlanCounts{ByOp: map[engine.Op]int{}}
	for _, tp := range targets {
		for _, a := range tp.Actions {
			if a.Op != engine.OpNoop {
				c.ByOp[a.Op]++
			}
			if a.Conflict != nil {
				c.Conflicts++
			}
			if len(a.Drift) > 0 {
				c.Drift++
			}
		}
		c.Held += len(tp.Held)
	}
	return c
}

// String renders the counts as "3 create, 1 update, 0 disable, 0
// deprovision, 0 restore, 2 skip, 1 held", with ", 1 conflict" and ", 1
// drift left" when there are any.
func (c PlanCounts) String() string {
	parts := make([]string, 0, len(planOps)+3)
	for _, op := range planOps {
		parts = append(parts, fmt.Sprintf("%d %s", c.ByOp[op], op))
	}
	parts = append(parts, fmt.Sprintf("%d held", c.Held))
	if c.Conflicts > 0 {
		parts = append(parts, plural(c.Conflicts, "conflict", "conflicts"))
	}
	if c.Drift > 0 {
		parts = append(parts, fmt.Sprintf("%d drift left", c.Drift))
	}
	return strings.Join(parts, ", ")
}

// FilterPlan keeps the named target of a plan; ok is false when the plan
// has no such target.
func FilterPlan(p engine.Plan, target string) (engine.Plan, bool) {
	for _, tp := range p.Targets {
		if tp.Name == target {
			return engine.Plan{Targets: []engine.TargetPlan{tp}}, true
		}
	}
	return engine.Plan{Targets: []engine.TargetPlan{}}, false
}

// maxSkipsListed is how many users skipped for the same reason the text
// plan lists one by one; more are counted in one line (--json lists all).
const maxSkipsListed = 3

// WritePlan writes a plan for people: per target a summary line and a table
// of its actions (action, user, target object id, reason) in the order
// create, update, disable, deprovision, restore, with each attribute change
// beneath its action as "attribute: old → new"; then the deprovisions the
// deletion guard would hold back; then the skips, grouped by reason (users
// out of scope with nothing in the target are most of a tenant); then the
// totals.
func WritePlan(w io.Writer, p engine.Plan) error {
	for i, tp := range p.Targets {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s: %s\n", tp.Name, CountPlan(tp))
		work := slices.DeleteFunc(slices.Clone(tp.Actions), func(a engine.Action) bool { return a.Op == engine.OpSkip || a.Op == engine.OpNoop })
		slices.SortStableFunc(work, func(a, b engine.Action) int {
			return slices.Index(planOps, a.Op) - slices.Index(planOps, b.Op)
		})
		if len(work)+len(tp.Held) > 0 {
			fmt.Fprintln(w)
			t := newTable(w, "  ACTION", "USER", "TARGET ID", "REASON")
			for _, a := range work {
				actionRows(t, "  "+string(a.Op), a)
			}
			for _, a := range tp.Held {
				actionRows(t, "  held "+string(a.Op), a)
			}
			if err := t.flush(); err != nil {
				return err
			}
		} else {
			fmt.Fprintln(w, "  nothing to create, update or deprovision")
		}
		if err := writeConflicts(w, tp.Actions); err != nil {
			return err
		}
		if err := writeDrift(w, tp.Actions); err != nil {
			return err
		}
		if err := writeSkips(w, tp.Actions); err != nil {
			return err
		}
	}
	if len(p.Targets) != 1 {
		fmt.Fprintf(w, "\nTotal: %s (%s)\n", CountPlan(p.Targets...), plural(len(p.Targets), "target", "targets"))
	}
	_, err := fmt.Fprintln(w, "\nThis is a dry run: nothing was written. `reconcile` carries it out.")
	return err
}

// writeConflicts lists the users who are not linked because a target user
// that is not provably theirs holds their address.
func writeConflicts(w io.Writer, acts []engine.Action) error {
	t := newTable(w)
	n := 0
	for _, a := range acts {
		if a.Conflict == nil {
			continue
		}
		if n == 0 {
			fmt.Fprintln(w, "\n  Conflicts (nothing is written to these target users; `adopt` links one if it is the user's):")
		}
		n++
		user := a.UserPrincipalName
		if user == "" {
			user = a.SourceID
		}
		t.row("    conflict", user, a.Conflict.TargetID, a.Conflict.Reason)
	}
	return t.flush()
}

// writeDrift lists the users a target administrator changed, whose changes
// are left as the target has them.
func writeDrift(w io.Writer, acts []engine.Action) error {
	t := newTable(w)
	n := 0
	for _, a := range acts {
		if len(a.Drift) == 0 {
			continue
		}
		if n == 0 {
			fmt.Fprintln(w, "\n  Changed in the target and left alone (tenantsync wrote → the target has):")
		}
		n++
		user := a.UserPrincipalName
		if user == "" {
			user = a.SourceID
		}
		for _, k := range a.Drift.Keys() {
			d := a.Drift[k]
			t.row("    drift", user, fmt.Sprintf("%s: %s → %s", k, directory.Format(d.Old), directory.Format(d.New)))
		}
	}
	return t.flush()
}

// writeSkips lists the skipped users grouped by reason, in the order the
// reasons first appear.
func writeSkips(w io.Writer, acts []engine.Action) error {
	var reasons []string
	byReason := map[string][]engine.Action{}
	for _, a := range acts {
		if a.Op != engine.OpSkip || a.Conflict != nil {
			continue
		}
		key := a.Reason
		if a.Error != "" {
			key += "\x00" + a.Error
		}
		if _, ok := byReason[key]; !ok {
			reasons = append(reasons, key)
		}
		byReason[key] = append(byReason[key], a)
	}
	if len(reasons) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\n  Skipped:")
	t := newTable(w)
	for _, key := range reasons {
		group := byReason[key]
		if len(group) > maxSkipsListed {
			reason, errText, _ := strings.Cut(key, "\x00")
			t.row("    "+plural(len(group), "user", "users"), reason)
			if errText != "" {
				t.text("      error: " + errText)
			}
			continue
		}
		for _, a := range group {
			actionRows(t, "    skip", a)
		}
	}
	return t.flush()
}

// actionRows adds an action's row, its changes and its error to t.
func actionRows(t *table, label string, a engine.Action) {
	user := a.UserPrincipalName
	if user == "" {
		user = a.SourceID
	}
	targetID := "-"
	if a.TargetID != nil {
		targetID = *a.TargetID
	}
	t.row(label, user, targetID, a.Reason)
	for _, k := range a.Changes.Keys() {
		ch := a.Changes[k]
		t.text(fmt.Sprintf("      %s: %s → %s", k, directory.Format(ch.Old), directory.Format(ch.New)))
	}
	if a.Conflict != nil {
		t.text("      conflict with target user " + a.Conflict.TargetID + ": " + a.Conflict.Reason)
	}
	for _, k := range a.Drift.Keys() {
		d := a.Drift[k]
		t.text(fmt.Sprintf("      left as the target has it: %s: %s → %s", k, directory.Format(d.Old), directory.Format(d.New)))
	}
	if a.Error != "" {
		t.text("      error: " + a.Error)
	}
}

// WriteActions writes actions carried out (such as approved deletions) as
// the plan's table, with their errors and Graph request ids.
func WriteActions(w io.Writer, acts []engine.Action) error {
	t := newTable(w, "ACTION", "USER", "TARGET ID", "REASON")
	for _, a := range acts {
		actionRows(t, string(a.Op), a)
		if len(a.RequestIDs) > 0 {
			t.text("      Graph request ids: " + strings.Join(a.RequestIDs, ", "))
		}
	}
	return t.flush()
}
