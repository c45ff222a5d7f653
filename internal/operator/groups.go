package operator

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/store"
)

// Group provisioning in the operator commands: plan's groups section and
// status's groups line (docs/groups.md).

// GroupStatus summarises a target's synced groups from their links.
type GroupStatus struct {
	// States counts the group links by state (active, pending, staged,
	// conflict, deleted, creating).
	States map[string]int `json:"states"`
	// Conflicts are the synced groups not created because a target group
	// with their name is not tenantsync's.
	Conflicts []GroupConflict `json:"conflicts,omitempty"`
}

// GroupConflict is one group conflict, with the command that resolves it.
type GroupConflict struct {
	SourceID      string `json:"sourceId"`
	Name          string `json:"name"`
	TargetGroupID string `json:"targetGroupId"`
	Reason        string `json:"reason"`
	Command       string `json:"command"`
}

// groupOutcomeKey starts the key of a group's outcome in a reconcile's
// tally, apart from the users'.
const groupOutcomeKey = "group\x00"

// readGroupStatus reads a target's group links; nil when it has none.
func readGroupStatus(ctx context.Context, st store.Store, target string) (*GroupStatus, error) {
	links, err := st.ListGroupLinks(ctx, target)
	if err != nil {
		return nil, fmt.Errorf("read the group links of target %s: %w", target, err)
	}
	if len(links) == 0 {
		return nil, nil
	}
	gs := &GroupStatus{States: map[string]int{}}
	for _, l := range links {
		gs.States[string(l.State)]++
		if l.State == store.GroupConflict {
			gs.Conflicts = append(gs.Conflicts, GroupConflict{SourceID: l.SourceID, Name: l.SourceName, TargetGroupID: l.TargetID, Reason: l.LastError,
				Command: fmt.Sprintf("handler adopt --target %s --group %s --target-group %s", target, l.SourceID, l.TargetID)})
		}
	}
	return gs, nil
}

// String is the groups line of status: "3 active, 1 conflict".
func (g *GroupStatus) String() string {
	order := []string{string(store.GroupActive), string(store.GroupCreating), string(store.GroupPending), string(store.GroupStaged),
		string(store.GroupConflict), string(store.GroupDeleted)}
	var parts []string
	for _, s := range order {
		if n := g.States[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	return strings.Join(parts, ", ")
}

// writeGroupStatus writes a target's groups for status.
func writeGroupStatus(w io.Writer, g *GroupStatus) error {
	if g == nil {
		return nil
	}
	t := newTable(w)
	t.row("  synced groups", g.String())
	for _, c := range g.Conflicts {
		t.row("    conflict", orDash(c.Name), c.Reason+": "+c.Command)
	}
	return t.flush()
}

// groupLabel names a group in a plan: its display name, else its id.
func groupLabel(a engine.GroupAction) string {
	if a.DisplayName != "" {
		return a.DisplayName
	}
	return a.SourceID
}

// groupCounts counts a plan's group actions: "1 create, 2 update, 1 held,
// 1 conflict"; "" for none.
func groupCounts(acts []engine.GroupAction) string {
	n := map[string]int{}
	for _, a := range acts {
		switch {
		case a.Conflict != nil:
			n["conflict"]++
		case a.Error != "":
			n["failed"]++
		case a.Held:
			n["held"]++
		case a.PendingUntil != nil:
			n["pending"]++
		default:
			n[string(a.Op)]++
		}
	}
	var parts []string
	for _, k := range []string{"create", "update", "deprovision", "pending", "held", "conflict", "skip", "failed"} {
		if n[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[k], k))
		}
	}
	return strings.Join(parts, ", ")
}

// writePlanGroups writes a target's group actions: creates, updates and
// deletions with the members before → after, what the deletion guard would
// hold, then the conflicts (nothing is written to those groups).
func writePlanGroups(w io.Writer, acts []engine.GroupAction) error {
	if len(acts) == 0 {
		return nil
	}
	work := slices.Clone(acts)
	slices.SortStableFunc(work, func(a, b engine.GroupAction) int {
		if d := slices.Index(planOps(), a.Op) - slices.Index(planOps(), b.Op); d != 0 {
			return d
		}
		return strings.Compare(strings.ToLower(groupLabel(a)), strings.ToLower(groupLabel(b)))
	})
	fmt.Fprintln(w, "\n  Groups:")
	t := newTable(w, "    ACTION", "GROUP", "TARGET ID", "MEMBERS", "REASON")
	for _, a := range work {
		if a.Conflict != nil {
			continue
		}
		label := "    " + string(a.Op)
		if a.Held {
			label = "    held " + string(a.Op)
		}
		id := "-"
		if a.TargetID != nil {
			id = *a.TargetID
		}
		members := fmt.Sprintf("%d → %d", a.MembersBefore, a.MembersAfter)
		if a.Op == engine.OpDeprovision {
			members = "-"
		}
		reason := a.Reason
		if a.Error != "" {
			reason += " (error: " + a.Error + ")"
		}
		t.row(label, groupLabel(a), id, members, reason)
		for _, k := range a.Changes.Keys() {
			ch := a.Changes[k]
			t.text(fmt.Sprintf("        %s: %s → %s", k, directory.Format(ch.Old), directory.Format(ch.New)))
		}
		if len(a.Added)+len(a.Removed) > 0 {
			t.text(fmt.Sprintf("        members: +%d −%d", len(a.Added), len(a.Removed)))
		}
	}
	for _, a := range work {
		if a.Conflict != nil {
			t.row("    conflict", groupLabel(a), a.Conflict.TargetID, "-", a.Reason)
		}
	}
	return t.flush()
}
