package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/store"
)

// Plan is the outcome of a dry run: per target, what a full reconcile would do.
type Plan struct {
	Targets []TargetPlan `json:"targets"`
	// forced marks users whose target drifted or lost its link.
	forced map[string]bool
}

// TargetPlan is the dry run of one target; Held lists deprovisions the
// deletion guard would hold back.
type TargetPlan struct {
	Name    string   `json:"name"`
	Actions []Action `json:"actions"`
	Held    []Action `json:"held"`
	// Groups are the synced groups' actions (group_plan.go), held ones
	// included (Held set); omitted for a target that syncs no group.
	Groups []GroupAction `json:"groups,omitempty"`
}

// PlanOptions are the options of PlanWith: what a caller that shows a plan
// as it is made (`plan`'s text) is told, and when.
type PlanOptions struct {
	// Targets are the names of the targets to plan; none means all. A
	// name the configuration does not have is an error.
	Targets []string
	// Read, when set, is called as the dry run reads what it decides from,
	// before the first decision: after each page of source users, each
	// target's links and each page of its users, with the running counts.
	Read func(ReadProgress)
	// Decided, when set, is called with each action as soon as it is
	// decided and final, in the order the source lists its users: every
	// action but a deprovision that waits for the deletion guard's settle
	// delay (PendingUntil set), which the guard's burst rule may still turn
	// into a held one once the whole target is decided.
	Decided func(target string, a Action)
	// TargetDone, when set, is called with each target's plan as soon as
	// it is complete (the pending deprovisions among its Actions, the held
	// ones in Held), before the next target is decided.
	TargetDone func(TargetPlan)
}

// ReadProgress counts what a dry run has read so far.
type ReadProgress struct {
	SourceUsers int
	// Target is the target being read ("" while the source is), and
	// Links and TargetUsers what has been read of it.
	Target      string
	Links       int
	TargetUsers int
}

// Plan is a full dry run: for each target, the users it would create,
// update (with old → new attributes), disable, deprovision, restore or skip,
// and what the deletion guard would hold back. It reads both tenants in pages
// and writes nothing anywhere.
func (e *Engine) Plan(ctx context.Context) (Plan, error) {
	return e.plan(ctx, e.targets, true, PlanOptions{})
}

// PlanWith is Plan, telling opts what it reads and decides as it goes, so
// that a plan of a large tenant shows from its first second what it does.
func (e *Engine) PlanWith(ctx context.Context, opts PlanOptions) (Plan, error) {
	targets := e.targets
	if len(opts.Targets) > 0 {
		targets = nil
		for _, name := range opts.Targets {
			i := slices.IndexFunc(e.targets, func(t *target) bool { return t.name == name })
			if i < 0 {
				return Plan{}, fmt.Errorf("plan: no target named %q in the configuration", name)
			}
			targets = append(targets, e.targets[i])
		}
	}
	return e.plan(ctx, targets, true, opts)
}

// plan decides for every user and target with the dry engine. Without
// details it keeps only what a full pass needs to enqueue (the operation,
// the user, whether it is held or failed): the attribute diffs and reasons
// of every user in every target are most of a plan's memory.
func (e *Engine) plan(ctx context.Context, targets []*target, details bool, opts PlanOptions) (Plan, error) {
	s, err := e.survey(ctx, targets, opts.Read)
	if err != nil {
		return Plan{}, err
	}
	defer s.close()
	d := e.dry(s)
	p := Plan{forced: map[string]bool{}}
	for _, t := range d.targets {
		ts := s.targets[t.name]
		tp := TargetPlan{Name: t.name, Actions: []Action{}, Held: []Action{}}
		ids := append([]string(nil), s.order...)
		// Linked users the listing did not return are deleted in the source;
		// target users carrying our anchor without a link were left by a crash.
		var extra []string
		ts.links.eachID(func(id string) {
			if !s.users.has(id) {
				extra = append(extra, id)
			}
		})
		err := ts.users.each(func(_ string, u directory.User) error {
			a, _ := u.Attrs.String(t.anchorAttr)
			if id, ok := strings.CutPrefix(a, e.anchorPrefix()); ok {
				l, linked, err := ts.links.get(id)
				if err != nil {
					return err
				}
				if !linked || l.TargetID != u.ID {
					p.forced[id] = true
					if !s.users.has(id) {
						extra = append(extra, id)
					}
				}
			}
			return nil
		})
		if err != nil {
			return p, err
		}
		sort.Strings(extra)
		ids = append(ids, dedupe(extra)...)
		for _, id := range ids {
			drift, err := drifted(t, ts, id)
			if err != nil {
				return p, err
			}
			force := p.forced[id] || drift
			if force {
				p.forced[id] = true
			}
			src, ok, err := s.users.get(id)
			if err != nil {
				return p, err
			}
			var sv *sourceUser
			if ok {
				sv = &sourceUser{id: id, user: src}
			} else {
				sv, err = e.readSource(ctx, id)
				if err != nil {
					return p, err
				}
			}
			act, err := d.syncTarget(ctx, t, sv, Change{Kind: KindUser, ID: id, Force: force, Cause: "plan"}, nil)
			if err != nil {
				act.Error = err.Error()
				if act.Op == "" {
					act.Op, act.Reason = OpSkip, "skipped: it would fail"
				}
			}
			if act.Op == OpNoop && len(act.Drift) == 0 {
				continue
			}
			act.heldAlone = act.heldOnly()
			if !details {
				act.Changes, act.Reason, act.UserPrincipalName, act.RequestIDs = nil, "", "", nil
			}
			if act.Held {
				tp.Held = append(tp.Held, act)
			} else {
				tp.Actions = append(tp.Actions, act)
			}
			if opts.Decided != nil && act.PendingUntil == nil {
				opts.Decided(t.name, act)
			}
		}
		d.holdBurst(ctx, t, &tp)
		if err := d.planGroups(ctx, t, &tp, details); err != nil {
			return p, err
		}
		p.Targets = append(p.Targets, tp)
		if opts.TargetDone != nil {
			opts.TargetDone(tp)
		}
	}
	return p, nil
}

// holdBurst applies the deletion guard's rule to a whole plan, as the guard
// will apply it when the settle delay ends: when the deprovisions the plan
// records as pending, with those pending or carried out already, are more
// than the threshold, every one of them will be held.
func (d *Engine) holdBurst(ctx context.Context, t *target, tp *TargetPlan) {
	g, err := d.store.GetGuard(ctx, t.name)
	if err != nil {
		return // no guard record: nothing recorded
	}
	recent := 0
	for _, at := range g.Executed {
		if at.After(d.now().Add(-t.window)) {
			recent++
		}
	}
	count := len(g.Pending) + recent
	if count <= t.threshold && !d.now().Before(g.HoldUntil) {
		return
	}
	kept := tp.Actions[:0]
	for _, a := range tp.Actions {
		if a.PendingUntil == nil {
			kept = append(kept, a)
			continue
		}
		a.Held = true
		if a.Reason != "" {
			a.Reason += fmt.Sprintf("; the deletion guard will hold it: %d deprovisions pending or carried out within %s, over the threshold of %d",
				count, config.Duration(t.window), t.threshold)
		}
		tp.Held = append(tp.Held, a)
	}
	tp.Actions = kept
}

// drifted reports whether a linked target user differs from what tenantsync
// last wrote to it, on the attributes it keeps in step.
func drifted(t *target, ts *targetSurvey, sourceID string) (bool, error) {
	l, ok, err := ts.links.get(sourceID)
	if err != nil || !ok || l.State != store.LinkActive {
		return false, err
	}
	u, ok, err := ts.users.get(l.TargetID)
	if err != nil {
		return false, err
	}
	if !ok {
		return true, nil // deleted in the target by someone else
	}
	for _, k := range t.comparedAttrs() {
		if !directory.Equal(u.Attrs[k], l.Attributes[k]) {
			return true, nil
		}
	}
	if m, ok := l.Attributes["manager"]; ok && !directory.Equal(u.Attrs["manager"], m) {
		return true, nil
	}
	return false, nil
}
