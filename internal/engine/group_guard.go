package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/store"
)

// deprovision handles a group that left the target's groups or was deleted
// in the source: with groups.deprovision delete, the target group is soft
// deleted through the deletion guard, counted with the users' deprovisions
// (its members are users and stay); with none, tenantsync lets go of it.
func (d *groupDecision) deprovision(ctx context.Context) (GroupAction, error) {
	why := "no longer a synced group of this target"
	if d.gone {
		why = "deleted in the source tenant"
	}
	d.act.Reason = why
	switch d.link.State {
	case store.GroupConflict:
		// The group in the way was never ours.
		if err := d.dropLink(ctx); err != nil {
			return d.act, err
		}
		d.act.setTargetID("")
		d.act.Op, d.act.Reason = OpSkip, why+"; no target group to delete (the conflicting target group "+d.link.TargetID+" is not tenantsync's and is left alone)"
		return d.act, nil
	case store.GroupCreating:
		// A create a crash interrupted: the group may exist under the
		// name it was given, with our anchor.
		_, found, err := d.locate(ctx)
		if err != nil {
			return d.act, err
		}
		if !found {
			if err := d.dropLink(ctx); err != nil {
				return d.act, err
			}
			d.act.Op, d.act.Reason = OpSkip, why+"; an interrupted create made no target group"
			return d.act, nil
		}
	case store.GroupDeleted:
		d.act.Op, d.act.Reason = OpNoop, why+"; already deleted"
		return d.act, nil
	}
	if d.link.TargetID == "" {
		d.act.Op, d.act.Reason = OpSkip, why+"; no target group"
		return d.act, nil
	}
	if d.t.group.action == config.GroupDeprovisionNone || d.link.Adopted {
		if d.link.State == store.GroupPending || d.link.State == store.GroupStaged {
			if err := d.cancel(ctx); err != nil {
				return d.act, err
			}
		}
		// tenantsync lets go of the group: it stays as it is, members
		// included, and is no longer managed.
		if err := d.dropLink(ctx); err != nil {
			return d.act, err
		}
		d.act.Op, d.act.Reason = OpNoop, why+"; groups.deprovision is none: the target group is left as it is and no longer managed"
		if d.link.Adopted {
			// A group tenantsync did not create is never deleted by it.
			d.act.Reason = why + "; the target group was adopted, not created by tenantsync: it is left as it is and no longer managed"
		}
		d.rep.step("action", "target group %s left as it is", d.link.TargetID)
		return d.act, nil
	}
	d.act.Op = OpDeprovision
	v, err := d.guarded(ctx)
	if err != nil || v != verdictExecute {
		return d.act, err
	}
	return d.act, d.execute(ctx)
}

func (d *groupDecision) dropLink(ctx context.Context) error {
	if !d.linked {
		return nil
	}
	if err := d.e.store.DeleteGroupLink(ctx, d.link); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("drop group link %s/%s: %w", d.t.name, d.id, err)
	}
	return nil
}

// guarded takes the group's deletion through the deletion guard, as a
// user's deprovision is (decision.guarded): the link is marked pending
// before the guard is asked, an approved staged deletion goes ahead, a
// staged one stays held.
func (d *groupDecision) guarded(ctx context.Context) (verdict, error) {
	e, t, rep := d.e, d.t, d.rep
	key := groupGuardID(d.id)
	if d.link.State == store.GroupStaged {
		staged, err := e.store.GetDeletion(ctx, t.name, key)
		switch {
		case err == nil && staged.Approved:
			rep.step("guard", "approved by an operator")
			d.act.Reason += "; approved"
			return verdictExecute, nil
		case err == nil:
			d.act.Held, d.act.stagedBefore = true, true
			d.act.Reason += "; held by the deletion guard, awaiting approval (deletions approve)"
			rep.step("guard", "held, awaiting approval")
			return verdictStage, nil
		case !errors.Is(err, store.ErrNotFound):
			return verdictStage, fmt.Errorf("read staged deletion %s/%s: %w", t.name, key, err)
		}
	}
	if d.link.State != store.GroupPending {
		d.link.State = store.GroupPending
		if err := d.putLink(ctx); err != nil {
			return verdictWait, err
		}
	}
	g, err := e.admit(ctx, t, key)
	if err != nil {
		return verdictWait, err
	}
	switch g.verdict {
	case verdictWait:
		due := g.due
		d.act.PendingUntil = &due
		d.act.Reason += fmt.Sprintf("; pending: deleted after the settle delay (%s), at %s, unless the group is synced again or the deletion guard holds it",
			config.Duration(t.delay), due.UTC().Format(time.RFC3339))
		rep.step("guard", "recorded as pending until %s (%d pending or recent of threshold %d)", due.UTC().Format(time.RFC3339), g.count, t.threshold)
	case verdictStage:
		d.act.Held = true
		d.act.Reason += fmt.Sprintf("; held by the deletion guard (%d deprovisions pending or carried out within %s, threshold %d): approve with `deletions approve --target %s %s`",
			g.count, config.Duration(t.window), t.threshold, t.name, key)
		rep.step("guard", "staged for approval")
		if err := d.stage(ctx); err != nil {
			return verdictStage, err
		}
		d.act.burst = g.staged
		for _, id := range g.staged {
			var err error
			if gid, ok := groupOfGuardID(id); ok {
				err = e.stageOtherGroup(ctx, t, gid, d.act.Reason)
			} else {
				err = e.stageOther(ctx, t, id, d.act.Reason)
			}
			if err != nil {
				e.log.WarnContext(ctx, "could not stage a deprovision of the burst; its own re-check will", "target", t.name, "sourceId", id, "err", err)
			}
		}
	case verdictExecute:
		rep.step("guard", "within the threshold (%d pending or recent of %d)", g.count, t.threshold)
	}
	return g.verdict, nil
}

// stage holds the group's deletion for approval: a staged deletion keyed
// "group:"+id, then the link.
func (d *groupDecision) stage(ctx context.Context) error {
	return d.e.stageGroup(ctx, d.t, &d.link, d.act.DisplayName, d.act.Reason)
}

func (e *Engine) stageGroup(ctx context.Context, t *target, link *store.GroupLink, name, reason string) error {
	key := groupGuardID(link.SourceID)
	if name == "" {
		name = link.SourceName
	}
	del := store.Deletion{
		Target:    t.name,
		SourceID:  key,
		TargetID:  link.TargetID,
		SourceUPN: "group " + name,
		Action:    "delete group",
		Reason:    reason,
		StagedAt:  e.now(),
		ExpiresAt: e.now().Add(stagedLifetime),
	}
	if _, err := e.store.PutDeletion(ctx, del); err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("stage deletion %s/%s: %w", t.name, key, err)
	}
	if link.State == store.GroupStaged {
		return nil
	}
	link.State = store.GroupStaged
	link.Updated = e.now()
	stored, err := e.store.PutGroupLink(ctx, *link)
	if err != nil {
		return fmt.Errorf("write group link %s/%s: %w", t.name, link.SourceID, err)
	}
	*link = stored
	return nil
}

// stageOtherGroupKey is stageOtherGroup by the group's guard key.
func (e *Engine) stageOtherGroupKey(ctx context.Context, t *target, key, reason string) error {
	gid, _ := groupOfGuardID(key)
	return e.stageOtherGroup(ctx, t, gid, reason)
}

// stageOtherGroup stages the pending deletion of another group of a burst.
func (e *Engine) stageOtherGroup(ctx context.Context, t *target, groupID, reason string) error {
	for range maxRaces {
		l, err := e.store.GetGroupLink(ctx, t.name, groupID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil || l.State != store.GroupPending {
			return err
		}
		err = e.stageGroup(ctx, t, &l, "", reason)
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("stage group %s/%s: %w", t.name, groupID, store.ErrConflict)
}

// execute deletes the target group after checking, on the group as it is
// now, that it carries tenantsync's anchor for this source group: a link
// alone is not proof. Deleting a group deletes none of its members.
func (d *groupDecision) execute(ctx context.Context) error {
	e, t := d.e, d.t
	id := d.link.TargetID
	g, err := d.api.GetGroup(ctx, id, []string{t.group.anchorAttr, "displayName"})
	switch {
	case errors.Is(err, directory.ErrNotFound):
		d.rep.step("action", "target group %s is gone already", id)
	case err != nil:
		return fmt.Errorf("read target group %s before deleting it: %w", id, err)
	case !d.ours(g):
		a, _ := g.Attrs.String(t.group.anchorAttr)
		return fmt.Errorf("%w: target group %s carries %q in %s, not tenantsync's anchor for source group %s; it was not deleted",
			errNotOurs, id, a, t.group.anchorAttr, d.id)
	default:
		d.rep.step("action", "delete target group %s", id)
		if err := d.api.DeleteGroup(ctx, id); err != nil && !errors.Is(err, directory.ErrNotFound) {
			return fmt.Errorf("delete target group %s: %w", id, err)
		}
	}
	// Members stay on the link: a restore brings them back with the group.
	d.link.State, d.link.LastError = store.GroupDeleted, ""
	if err := d.putLink(ctx); err != nil {
		return err
	}
	return e.settled(ctx, t, groupGuardID(d.id))
}
