package operator

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/statuspage"
)

// Outcome is what one decision for one user in one target comes to, in
// the words plan, reconcile, the log and the status page share
// (statuspage.Outcomes): "failed" when it failed, "held" when the deletion
// guard staged it, "pending" while it waits out the guard's settle delay,
// "conflict" when a target user in the way keeps the user from being
// linked, "drift" for a user left as a target administrator changed it,
// else the operation ("create", "update", …, "skip"). A decision that
// changes nothing is "".
func Outcome(a engine.Action) string {
	switch {
	case a.Error != "":
		return "failed"
	case a.Held:
		return "held"
	case a.PendingUntil != nil:
		return "pending"
	case a.Conflict != nil:
		return "conflict"
	case a.Op == engine.OpNoop && len(a.Drift) > 0:
		return "drift"
	case a.Op == engine.OpNoop:
		return ""
	}
	return string(a.Op)
}

// planOutcome is Outcome for a plan, which shows what a reconcile will
// have done once it has waited out the settle delay, as `reconcile` does
// by default: a deprovision the guard will let through counts as what it
// is, not as pending.
func planOutcome(a engine.Action) string {
	if a.PendingUntil != nil && !a.Held && a.Error == "" {
		return string(a.Op)
	}
	return Outcome(a)
}

// Counts count users by outcome: each user once per target.
type Counts map[string]int

// String renders the counts in the order of statuspage.Outcomes, leaving
// out what did not happen: "3 create, 1 update, 2 skip", or "nothing to
// do".
func (c Counts) String() string {
	var parts []string
	for _, o := range statuspage.Outcomes() {
		if n := c[o]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, o))
		}
	}
	var rest []string
	for o, n := range c {
		if n > 0 && !slices.Contains(statuspage.Outcomes(), o) {
			rest = append(rest, fmt.Sprintf("%d %s", n, o))
		}
	}
	slices.Sort(rest)
	parts = append(parts, rest...)
	if len(parts) == 0 {
		return "nothing to do"
	}
	return strings.Join(parts, ", ")
}

// CountPlan counts the users of the given target plans by outcome, once
// per user per target, as a reconcile of the same changes counts them.
func CountPlan(targets ...engine.TargetPlan) Counts {
	c := Counts{}
	for _, tp := range targets {
		for _, a := range tp.Actions {
			if o := planOutcome(a); o != "" {
				c[o]++
			}
		}
		for _, a := range tp.Held {
			a.Held = true // the plan's held list: held, whatever the action says
			c[planOutcome(a)]++
		}
	}
	return c
}

// mergeOutcome is a user's outcome in a target after a second decision
// in the same run: a deprovision left pending or held is decided again
// after the settle delay (or dropped when the user came back, which does
// nothing), a follow-up that sets a created user's manager is part of the
// create, and otherwise the later decision stands.
func mergeOutcome(prev, next string) string {
	switch {
	case next == "" && (prev == "pending" || prev == "held"):
		return ""
	case next == "":
		return prev
	case prev == "create" && next == "update":
		return prev
	}
	return next
}
