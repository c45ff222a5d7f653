package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/store"
)

// planGroups decides, with the dry engine d, every group of a target: its
// synced groups and the groups it has links for (those no longer synced
// are deleted). It runs after the target's users were decided, so that the
// members it counts include the users the same plan creates.
func (d *Engine) planGroups(ctx context.Context, t *target, tp *TargetPlan, details bool) error {
	if t.group == nil {
		return nil
	}
	ids, err := d.syncedIDs(ctx, t)
	if err != nil {
		// A groups section that cannot be resolved (an ambiguous name)
		// fails the groups alone, not the users' plan or full pass.
		tp.Groups = []GroupAction{{Op: OpSkip, Target: t.name, Reason: "groups not planned", Error: err.Error()}}
		return nil
	}
	links, err := d.store.ListGroupLinks(ctx, t.name)
	if err != nil {
		return fmt.Errorf("list group links of %s: %w", t.name, err)
	}
	for _, l := range links {
		ids = append(ids, l.SourceID)
	}
	ids = dedupe(ids)
	sort.Strings(ids)
	tp.Groups = []GroupAction{}
	for _, id := range ids {
		act, err := d.syncGroupTarget(ctx, t, Change{Kind: KindGroup, ID: id, Cause: "plan"}, nil)
		if err != nil {
			act.Error = err.Error()
			if act.Op == "" {
				act.Op, act.Reason = OpSkip, "skipped: it would fail"
			}
		}
		if act.Op == OpNoop && act.cancelled == "" {
			continue
		}
		if !details {
			act.Changes, act.Reason, act.RequestIDs = nil, "", nil
		}
		tp.Groups = append(tp.Groups, act)
	}
	d.holdGroupBurst(ctx, t, tp)
	return nil
}

// holdGroupBurst applies the deletion guard's rule to the group deletions
// of a plan as holdBurst does to the users': over the threshold, counted
// with the users' deprovisions, every pending one will be held.
func (d *Engine) holdGroupBurst(ctx context.Context, t *target, tp *TargetPlan) {
	g, err := d.store.GetGuard(ctx, t.name)
	if err != nil {
		return
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
	for i := range tp.Groups {
		a := &tp.Groups[i]
		if a.PendingUntil == nil || a.Held {
			continue
		}
		a.Held = true
		if a.Reason != "" {
			a.Reason += fmt.Sprintf("; the deletion guard will hold it: %d deprovisions pending or carried out within %s, over the threshold of %d",
				count, config.Duration(t.window), t.threshold)
		}
	}
}

// groupWork returns the source groups of a plan that a full pass sends as
// changes: those with something to do that has not been staged before and
// would not fail the same way again.
func (tp TargetPlan) groupWork() []string {
	var ids []string
	for _, a := range tp.Groups {
		if a.stagedBefore || a.Op == OpNoop || a.Op == OpSkip || a.Error != "" {
			continue
		}
		ids = append(ids, a.SourceID)
	}
	return ids
}

// resolveSourceGroup finds a source group by object id or display name.
func (e *Engine) resolveSourceGroup(ctx context.Context, group string) (directory.Group, error) {
	found, err := e.source.FindGroups(ctx, group)
	if err != nil {
		return directory.Group{}, fmt.Errorf("find source group %q: %w", group, err)
	}
	switch len(found) {
	case 0:
		return directory.Group{}, fmt.Errorf("source group %q: %w in the source tenant %s", group, directory.ErrNotFound, e.sourceTenant)
	case 1:
		return found[0], nil
	}
	var ids []string
	for _, g := range found {
		ids = append(ids, g.ID)
	}
	return directory.Group{}, fmt.Errorf("source group %q is ambiguous (%s): name it by object id", group, strings.Join(ids, ", "))
}

// groupTargets returns the targets that sync groups, or the one named.
func (e *Engine) groupTargets(targetName string) ([]*target, error) {
	var out []*target
	for _, t := range e.targets {
		if t.group != nil && (targetName == "" || t.name == targetName) {
			out = append(out, t)
		}
	}
	if targetName != "" && len(out) == 0 {
		if _, err := e.target(targetName); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("target %s syncs no groups (its groups section is empty)", targetName)
	}
	if len(out) == 0 {
		return nil, errors.New("no target syncs groups (no groups section in the configuration)")
	}
	return out, nil
}

// ProvisionGroup syncs one source group now, by object id or display name,
// into one target (or every target that syncs groups, when targetName is
// empty), and reports every step with the Graph request ids behind it. A
// group a target does not sync is reported as such, and one it has a link
// for but no longer syncs is deleted through the deletion guard.
func (e *Engine) ProvisionGroup(ctx context.Context, group, targetName string) ([]Report, error) {
	targets, err := e.groupTargets(targetName)
	if err != nil {
		return nil, err
	}
	g, err := e.resolveSourceGroup(ctx, group)
	if err != nil {
		return nil, err
	}
	ch := Change{Kind: KindGroup, ID: g.ID, Cause: "ondemand"}
	var reports []Report
	var errs []error
	for _, t := range targets {
		rep := &Report{Target: t.name}
		act, err := e.syncGroupTargetRetrying(directory.WithTrace(ctx, &directory.Trace{}), t, ch, rep)
		if err != nil {
			rep.step("error", "%v", err)
			errs = append(errs, fmt.Errorf("%s: %w", t.name, err))
		}
		rep.Group = &act
		rep.Action = act.AsAction()
		reports = append(reports, *rep)
	}
	return reports, errors.Join(errs...)
}

// AdoptGroup resolves a group conflict by an operator's decision: the
// existing target group becomes the synced source group's. It stamps
// tenantsync's anchor on the target group and links it; the members it has
// stay and are never removed by tenantsync (it did not add them). It
// refuses a source group the target does not sync, a target group carrying
// another anchor, and one linked to another source group. The group is then
// synced.
func (e *Engine) AdoptGroup(ctx context.Context, targetName, sourceGroup, targetGroupID string) (GroupAction, error) {
	targets, err := e.groupTargets(targetName)
	if err != nil {
		return GroupAction{}, err
	}
	t := targets[0]
	src, err := e.resolveSourceGroup(ctx, sourceGroup)
	if err != nil {
		return GroupAction{}, err
	}
	ids, err := e.syncedIDs(ctx, t)
	if err != nil {
		return GroupAction{}, err
	}
	if !slices.Contains(ids, src.ID) {
		return GroupAction{}, fmt.Errorf("source group %s (%s) is not a synced group of %s: add it to groups.sync first", src.ID, src.DisplayName, t.name)
	}
	api := e.groupAPI(t)
	tg, err := api.GetGroup(ctx, targetGroupID, []string{t.group.anchorAttr, "displayName"})
	if err != nil {
		return GroupAction{}, fmt.Errorf("read target group %s: %w", targetGroupID, err)
	}
	anchor := e.groupAnchorValue(src.ID)
	if a, _ := tg.Attrs.String(t.group.anchorAttr); a != "" && a != anchor {
		return GroupAction{}, fmt.Errorf("target group %s carries another anchor in %s (%q): it is not adopted", tg.ID, t.group.anchorAttr, a)
	}
	links, err := e.store.ListGroupLinks(ctx, t.name)
	if err != nil {
		return GroupAction{}, fmt.Errorf("list group links of %s: %w", t.name, err)
	}
	link := store.GroupLink{Target: t.name, SourceID: src.ID}
	for _, l := range links {
		switch {
		case l.SourceID == src.ID:
			link = l
		case l.TargetID == tg.ID && l.State != store.GroupConflict:
			return GroupAction{}, fmt.Errorf("target group %s is linked to source group %s already: it is not adopted", tg.ID, l.SourceID)
		}
	}
	if link.TargetID != "" && link.TargetID != tg.ID && link.State != store.GroupConflict && link.State != store.GroupDeleted && link.State != store.GroupCreating {
		return GroupAction{}, fmt.Errorf("source group %s is linked to target group %s already (state %s): it is not adopted", src.ID, link.TargetID, link.State)
	}
	if a, _ := tg.Attrs.String(t.group.anchorAttr); a != anchor {
		err := api.UpdateGroup(ctx, tg.ID, directory.Attributes{t.group.anchorAttr: anchor})
		switch {
		case errors.Is(err, directory.ErrBadRequest) && !directory.Retryable(err):
			// The anchor cannot be written after the create (Graph's
			// uniqueName is immutable): the link's adoption is the proof.
			e.log.InfoContext(ctx, "the anchor cannot be stamped on an existing group; the link records the adoption", "target", t.name, "targetGroupId", tg.ID, "err", err)
		case err != nil:
			return GroupAction{}, fmt.Errorf("stamp the anchor on target group %s: %w", tg.ID, err)
		}
	}
	if link.TargetID != tg.ID {
		link.Members = nil // the adopted group's members are not tenantsync's
	}
	link.TargetID, link.State, link.LastError, link.SourceName, link.Adopted = tg.ID, store.GroupActive, "", src.DisplayName, true
	link.Updated = e.now()
	if link.Created.IsZero() {
		link.Created = link.Updated
	}
	if _, err := e.store.PutGroupLink(ctx, link); err != nil {
		return GroupAction{}, fmt.Errorf("write group link %s/%s: %w", t.name, src.ID, err)
	}
	e.log.InfoContext(ctx, "group adopted by an operator", "target", t.name, "groupId", src.ID, "targetGroupId", tg.ID)
	return e.syncGroupTargetRetrying(ctx, t, Change{Kind: KindGroup, ID: src.ID, Cause: "ondemand"}, nil)
}
