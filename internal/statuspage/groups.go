package statuspage

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tenantsync/tenantsync/internal/store"
)

// Group provisioning on the status page (docs/groups.md): per target, its
// group links by state; among the reasons for attention, the group
// conflicts and the group deletions the deletion guard holds, each with
// the command that resolves it.

// groupDeletionPrefix starts the source id of a group's deletion held by the
// deletion guard: "group:" + the source group's id (the engine's key; object
// ids never contain ':').
const groupDeletionPrefix = "group:"

// maxIDsInCommand is how many held group deletions an attention line's
// command names one by one; beyond, it points at the list.
const maxIDsInCommand = 3

// GroupCounts count a target's group links by state: the security groups
// tenantsync provisions into the target.
type GroupCounts struct {
	Total int `json:"total"`
	// Active are the synced groups: created (or adopted) and kept in step.
	Active   int `json:"active"`
	Creating int `json:"creating"`
	// Pending deletions wait out the settle delay; Staged ones are held by
	// the deletion guard (or approved and not yet carried out).
	Pending int `json:"pending"`
	Staged  int `json:"staged"`
	// Conflict counts synced groups not created because a target group
	// with their name is not tenantsync's.
	Conflict int `json:"conflict"`
	Deleted  int `json:"deleted"`
	// Other counts links in a state this page does not know.
	Other int `json:"other,omitempty"`
	// HeldDeletions counts the group deletions awaiting approval; the
	// target's StagedDeletions count them too.
	HeldDeletions int `json:"heldDeletions"`

	// conflicts and held are what the attention lines' commands name:
	// the links in conflict, and the held deletions' keys ("group:<id>").
	conflicts []store.GroupLink
	held      []string
}

// groupCounts counts a target's group links and picks its held group
// deletions out of dels, the target's staged deletions; nil when it has
// neither (a target that syncs no group).
func (h *Handler) groupCounts(ctx context.Context, target string, dels []store.Deletion) (*GroupCounts, error) {
	links, err := h.opts.Store.ListGroupLinks(ctx, target)
	if err != nil {
		return nil, fmt.Errorf("list the group links of target %s: %w", target, err)
	}
	g := &GroupCounts{}
	for _, d := range dels {
		if strings.HasPrefix(d.SourceID, groupDeletionPrefix) && !d.Approved {
			g.held = append(g.held, d.SourceID)
		}
	}
	if len(links) == 0 && len(g.held) == 0 {
		return nil, nil
	}
	slices.Sort(g.held)
	g.HeldDeletions = len(g.held)
	for _, l := range links {
		g.Total++
		switch l.State {
		case store.GroupActive:
			g.Active++
		case store.GroupCreating:
			g.Creating++
		case store.GroupPending:
			g.Pending++
		case store.GroupStaged:
			g.Staged++
		case store.GroupConflict:
			g.Conflict++
			g.conflicts = append(g.conflicts, l)
		case store.GroupDeleted:
			g.Deleted++
		default:
			g.Other++
		}
	}
	return g, nil
}

// heldDeletions counts the held group deletions; 0 for no groups.
func (g *GroupCounts) heldDeletions() int {
	if g == nil {
		return 0
	}
	return g.HeldDeletions
}

// Summary is the groups line of a target in the overview: "3 synced,
// 1 in conflict".
func (g *GroupCounts) Summary() string {
	var parts []string
	for _, s := range []struct {
		n    int
		what string
	}{
		{g.Active, "synced"}, {g.Creating, "being created"}, {g.Pending, "pending deletion"}, {g.Staged, "deletion held"},
		{g.Conflict, "in conflict"}, {g.Deleted, "deleted"}, {g.Other, "in another state"},
	} {
		if s.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", s.n, s.what))
		}
	}
	if len(parts) == 0 {
		return "none synced"
	}
	return strings.Join(parts, ", ")
}

// attention says what about a target's groups needs an operator: held
// group deletions and group conflicts, each with the command that resolves
// it (exact when it can name what it resolves).
func (g *GroupCounts) attention(target string) []Attention {
	if g == nil {
		return nil
	}
	var out []Attention
	if n := len(g.held); n > 0 {
		cmd := "handler deletions list --target " + target + " lists them; handler deletions approve --target " + target + " group:ID…"
		if n <= maxIDsInCommand {
			cmd = "handler deletions approve --target " + target + " " + strings.Join(g.held, " ")
		}
		out = append(out, Attention{What: count(n, "group deletion", "group deletions") + " held by the deletion guard, awaiting approval",
			Count: n, Command: cmd})
	}
	if n := len(g.conflicts); n > 0 {
		what := count(n, "group", "groups") + " in conflict with a target group of the same name that is not tenantsync's"
		cmd := "handler status lists each with its command; handler adopt --target " + target + " --group ID --target-group ID if one is the same group"
		if n == 1 {
			c := g.conflicts[0]
			name := c.SourceName
			if name == "" {
				name = c.SourceID
			}
			what = fmt.Sprintf("group %q in conflict with target group %s, which has its name and is not tenantsync's", name, c.TargetID)
			cmd = "handler adopt --target " + target + " --group " + c.SourceID + " --target-group " + c.TargetID + " if it is the same group; or rename either"
		}
		out = append(out, Attention{What: what, Count: n, Command: cmd})
	}
	return out
}

// IsGroup reports whether the event is a group's (the engine writes them
// with the action "group create", "group update", "group delete", …).
func (e Event) IsGroup() bool { return strings.HasPrefix(e.Action, "group ") }
