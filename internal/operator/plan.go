package operator

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/engine"
)

// planOps are the operations a plan lists one by one, in the order it
// shows them; skips are grouped by reason after them, and noops left out.
func planOps() []engine.Op {
	return []engine.Op{engine.OpCreate, engine.OpUpdate, engine.OpDisable, engine.OpDeprovision, engine.OpRestore}
}

// PlanJSON is what `plan --json` prints: the plan, and its counts in the
// words and the one-per-user-per-target count of `reconcile --json`'s
// actions.
type PlanJSON struct {
	engine.Plan
	Counts Counts `json:"counts"`
}

// upn is how an action names its user: the userPrincipalName, else the
// source object id.
func upn(a engine.Action) string {
	if a.UserPrincipalName != "" {
		return a.UserPrincipalName
	}
	return a.SourceID
}

// byOpThenUser orders actions as a plan lists them: by operation, then by
// user, so that one user is easy to find among many.
func byOpThenUser(a, b engine.Action) int {
	if d := slices.Index(planOps(), a.Op) - slices.Index(planOps(), b.Op); d != 0 {
		return d
	}
	return strings.Compare(strings.ToLower(upn(a)), strings.ToLower(upn(b)))
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

// WritePlan writes a plan for people: per target a summary line (its
// counts, as reconcile counts the same changes) and a table of its actions
// (action, user, target object id, reason) in the order create, update,
// disable, deprovision, restore, and by userPrincipalName within each, with
// each attribute change beneath its action as "attribute: old → new"; then
// the deprovisions the deletion guard would hold back; then the conflicts,
// the drift and the skips, grouped by reason (users out of scope with
// nothing in the target are most of a tenant); then the totals.
func WritePlan(w io.Writer, p engine.Plan) error {
	for i, tp := range p.Targets {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if g := groupCounts(tp.Groups); g != "" {
			fmt.Fprintf(w, "%s: %s; groups: %s\n", tp.Name, CountPlan(tp), g)
		} else {
			fmt.Fprintf(w, "%s: %s\n", tp.Name, CountPlan(tp))
		}
		work := slices.DeleteFunc(slices.Clone(tp.Actions), func(a engine.Action) bool { return a.Op == engine.OpSkip || a.Op == engine.OpNoop })
		slices.SortStableFunc(work, byOpThenUser)
		held := slices.Clone(tp.Held)
		slices.SortStableFunc(held, byOpThenUser)
		if len(work)+len(tp.Held) > 0 {
			fmt.Fprintln(w)
			t := newTable(w, "  ACTION", "USER", "TARGET ID", "REASON")
			for _, a := range work {
				actionRows(t, "  "+string(a.Op), a)
			}
			for _, a := range held {
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
		if err := writePlanGroups(w, tp.Groups); err != nil {
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
	for _, a := range byUser(acts) {
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
	for _, a := range byUser(acts) {
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

// byUser returns the actions ordered by userPrincipalName.
func byUser(acts []engine.Action) []engine.Action {
	out := slices.Clone(acts)
	slices.SortStableFunc(out, func(a, b engine.Action) int {
		return strings.Compare(strings.ToLower(upn(a)), strings.ToLower(upn(b)))
	})
	return out
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
		group := byUser(byReason[key])
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
