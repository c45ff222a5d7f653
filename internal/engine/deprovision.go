package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/mapping"
	"github.com/tenantsync/tenantsync/internal/store"
)

// stagedLifetime is how long a deprovision held by the deletion guard waits
// for approval before it is dropped (and staged again by the next full
// reconcile if the user is still out of scope).
const stagedLifetime = 7 * 24 * time.Hour

// deprovision applies the target's deprovision action to the target user of
// a source user that left scope or was deleted, through the deletion guard.
func (e *Engine) deprovision(ctx context.Context, t *target, src *source, link store.Link, hasLink, force bool, scopeReason string, act Action, rep *Report) (Action, error) {
	act.Reason = scopeReason
	if addr := invitedAddress(link); hasLink && addr != "" {
		// A crash came between an invitation and its link: the invited user
		// is found by the address, as it carries no anchor yet.
		found, _, err := e.match(ctx, t, src.id, addr, "", []string{t.anchorAttr, "accountEnabled"})
		if err != nil && !errors.Is(err, ErrPermanent) {
			return act, err
		}
		if found == nil {
			// The invitation was never sent: forget it.
			if err := e.store.DeleteLink(ctx, link); err != nil && !errors.Is(err, store.ErrNotFound) {
				return act, fmt.Errorf("drop link %s/%s: %w", t.name, src.id, err)
			}
			act.Op, act.Reason = OpSkip, scopeReason+"; an interrupted invitation created no target user"
			return act, nil
		}
		link.TargetID, link.State, link.Attributes = found.ID, store.LinkActive, found.Attrs
		act.setTargetID(link.TargetID)
		rep.step("match", "found target user %s of an interrupted invitation to %s", link.TargetID, addr)
	}
	if (!hasLink || link.TargetID == "") && force {
		// A full pass found a target user with this user's anchor but no
		// link (a crash between invitation and link): deprovision it too.
		users, err := t.api.FindUsers(ctx, []Cond{{Attr: t.anchorAttr, Value: e.anchorValue(src.id)}}, []string{t.anchorAttr, "accountEnabled"})
		if err != nil {
			return act, fmt.Errorf("find unlinked target user of %s in %s: %w", src.id, t.name, err)
		}
		if len(users) > 0 {
			link.TargetID, link.State, link.Attributes = users[0].ID, store.LinkActive, users[0].Attrs
			act.setTargetID(link.TargetID)
			rep.step("match", "found unlinked target user %s by anchor", link.TargetID)
			hasLink = true
		}
	}
	if !hasLink || link.TargetID == "" {
		act.Op = OpSkip
		act.Reason = scopeReason + "; no target user to deprovision"
		rep.step("action", "nothing to do")
		return act, nil
	}
	action := deprovisionAction(t.cfg)
	already := link.State == store.LinkDeleted || action == config.DeprovisionDisable && link.State == store.LinkDisabled
	if already && force {
		// A crash may have come between a restore (or an enable) and its
		// link write: believe the target, not the link.
		live, enabled, err := e.targetState(ctx, t, link.TargetID)
		if err != nil {
			return act, err
		}
		if link.State == store.LinkDeleted && live || link.State == store.LinkDisabled && enabled {
			rep.step("match", "target user %s is live (enabled: %t) although its link says %s", link.TargetID, enabled, link.State)
			already = false
		}
	}
	switch {
	case already && link.State == store.LinkDeleted:
		act.Op, act.Reason = OpNoop, scopeReason+"; already deprovisioned (deleted)"
		return act, nil
	case already:
		act.Op, act.Reason = OpNoop, scopeReason+"; already deprovisioned (disabled)"
		return act, nil
	case action == config.DeprovisionNone:
		act.Op, act.Reason = OpNoop, scopeReason+"; deprovision action is none: target user left as is"
		return act, nil
	}
	act.Op = OpDeprovision
	if action == config.DeprovisionDisable {
		act.Op = OpDisable
		act.Changes = mapping.Changes{"accountEnabled": {Old: link.Attributes["accountEnabled"], New: false}}
	}
	approved := false
	if link.State == store.LinkStaged {
		d, err := e.store.GetDeletion(ctx, t.name, src.id)
		switch {
		case err == nil && d.Approved:
			approved = true
		case err == nil:
			act.Held = true
			act.Reason = scopeReason + "; held by the deletion guard, awaiting approval"
			return act, nil
		case !errors.Is(err, store.ErrNotFound):
			return act, fmt.Errorf("read staged deletion %s/%s: %w", t.name, src.id, err)
		}
		// Staged, but the staged deletion expired: the guard decides afresh.
	}
	if !approved {
		held, err := e.guard(ctx, t)
		if err != nil {
			return act, err
		}
		if held {
			return e.stage(ctx, t, src, link, string(action), act, rep)
		}
	}
	rep.step("action", "%s target user %s", act.Op, link.TargetID)
	if err := e.executeDeprovision(ctx, t, &link, action); err != nil {
		return act, err
	}
	if approved {
		if err := e.store.DeleteDeletion(ctx, store.Deletion{Target: t.name, SourceID: src.id}); err != nil && !errors.Is(err, store.ErrNotFound) {
			return act, fmt.Errorf("clear approved deletion %s/%s: %w", t.name, src.id, err)
		}
	}
	return act, nil
}

// targetState reports whether a target user is live (not deleted) and
// enabled.
func (e *Engine) targetState(ctx context.Context, t *target, id string) (live, enabled bool, err error) {
	u, err := t.api.GetUser(ctx, id, []string{"accountEnabled"})
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return false, false, nil
	case err != nil:
		return false, false, fmt.Errorf("read target user %s: %w", id, err)
	}
	enabled, ok := u.Attrs.Bool("accountEnabled")
	return true, enabled || !ok, nil
}

func (e *Engine) executeDeprovision(ctx context.Context, t *target, link *store.Link, action config.DeprovisionAction) error {
	switch action {
	case config.DeprovisionDelete:
		err := t.api.DeleteUser(ctx, link.TargetID)
		if err != nil && !errors.Is(err, directory.ErrNotFound) {
			return fmt.Errorf("delete target user %s: %w", link.TargetID, err)
		}
		link.State = store.LinkDeleted
	case config.DeprovisionDisable:
		patch := directory.Attributes{"accountEnabled": false}
		if anchor := e.anchorValue(link.SourceID); !directory.Equal(link.Attributes[t.anchorAttr], anchor) {
			// The user of an interrupted invitation has no anchor yet; a
			// disabled user stays in the target and must stay findable.
			patch[t.anchorAttr] = anchor
		}
		err := t.api.UpdateUser(ctx, link.TargetID, patch)
		if err != nil && !errors.Is(err, directory.ErrNotFound) {
			return fmt.Errorf("disable target user %s: %w", link.TargetID, err)
		}
		if link.Attributes == nil {
			link.Attributes = map[string]any{}
		}
		for k, v := range patch {
			link.Attributes[k] = v
		}
		link.Hash = "" // no longer what the mappings want
		link.State = store.LinkDisabled
	}
	link.LastError = ""
	if _, err := e.putLink(ctx, *link); err != nil {
		return err
	}
	return e.countDeprovision(ctx, t)
}

// guard reports whether the deletion guard holds the next deprovision: when
// the target has already had Threshold deprovisions within Window.
func (e *Engine) guard(ctx context.Context, t *target) (bool, error) {
	st, err := e.readStatus(ctx, t.name, true)
	if err != nil {
		return false, err
	}
	return recentCount(st.RecentDeprovisions, e.now().Add(-t.window)) >= t.threshold, nil
}

func recentCount(times []time.Time, since time.Time) int {
	n := 0
	for _, at := range times {
		if at.After(since) {
			n++
		}
	}
	return n
}

// countDeprovision records an executed deprovision in the target's window.
func (e *Engine) countDeprovision(ctx context.Context, t *target) error {
	since := e.now().Add(-t.window)
	return e.updateStatus(ctx, t.name, func(st *store.TargetStatus) {
		kept := st.RecentDeprovisions[:0]
		for _, at := range st.RecentDeprovisions {
			if at.After(since) {
				kept = append(kept, at)
			}
		}
		st.RecentDeprovisions = append(kept, e.now())
		bump(st, "deprovision")
	})
}

// stage holds a deprovision for approval.
func (e *Engine) stage(ctx context.Context, t *target, src *source, link store.Link, action string, act Action, rep *Report) (Action, error) {
	act.Held = true
	act.Reason += fmt.Sprintf("; held by the deletion guard (more than %d deprovisions within %s): approve with `deletions approve`", t.threshold, t.window)
	rep.step("guard", "deprovision staged for approval")
	d := store.Deletion{
		Target:    t.name,
		SourceID:  src.id,
		TargetID:  link.TargetID,
		SourceUPN: link.SourceUPN,
		Action:    action,
		Reason:    act.Reason,
		StagedAt:  e.now(),
		ExpiresAt: e.now().Add(stagedLifetime),
	}
	if _, err := e.store.PutDeletion(ctx, d); err != nil && !errors.Is(err, store.ErrConflict) {
		return act, fmt.Errorf("stage deletion %s/%s: %w", t.name, src.id, err)
	}
	link.State = store.LinkStaged
	_, err := e.putLink(ctx, link)
	return act, err
}

func (e *Engine) cancelDeletion(ctx context.Context, t *target, sourceID string) error {
	err := e.store.DeleteDeletion(ctx, store.Deletion{Target: t.name, SourceID: sourceID})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("cancel staged deletion %s/%s: %w", t.name, sourceID, err)
	}
	return nil
}

// ApproveDeletions approves staged deprovisions of a target (all of them
// when sourceIDs is empty) and carries them out now, after checking that each
// user is still out of scope.
func (e *Engine) ApproveDeletions(ctx context.Context, targetName string, sourceIDs []string) ([]Action, error) {
	t, err := e.target(targetName)
	if err != nil {
		return nil, err
	}
	staged, err := e.store.ListDeletions(ctx, t.name)
	if err != nil {
		return nil, fmt.Errorf("list staged deletions of %s: %w", t.name, err)
	}
	want := map[string]bool{}
	for _, id := range sourceIDs {
		want[id] = true
	}
	var acts []Action
	var errs []error
	for _, d := range staged {
		if len(want) > 0 && !want[d.SourceID] {
			continue
		}
		delete(want, d.SourceID)
		d.Approved = true
		if _, err := e.store.PutDeletion(ctx, d); err != nil {
			errs = append(errs, fmt.Errorf("approve %s: %w", d.SourceID, err))
			continue
		}
		// Let the normal path decide with fresh source state: it carries
		// out an approved deletion, or cancels it if the user came back.
		res, err := e.syncUser(ctx, Change{Kind: KindUser, ID: d.SourceID, Cause: "approve"}, nil, t)
		acts = append(acts, res.Actions...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	for id := range want {
		errs = append(errs, fmt.Errorf("no staged deletion for source user %s in %s", id, t.name))
	}
	return acts, errors.Join(errs...)
}
