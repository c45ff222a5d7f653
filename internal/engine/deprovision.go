package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
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
	if hasLink && link.State == store.LinkConflict {
		// The user in the way was never ours: there is nothing of ours to
		// deprovision, and the conflict no longer matters.
		if err := e.store.DeleteLink(ctx, link); err != nil && !errors.Is(err, store.ErrNotFound) {
			return act, fmt.Errorf("drop conflict link %s/%s: %w", t.name, src.id, err)
		}
		act.setTargetID("")
		act.Op, act.Reason = OpSkip, scopeReason+"; no target user to deprovision (the conflicting target user "+link.TargetID+" is not this user's and is left alone)"
		rep.step("action", "nothing to do: the conflict is dropped")
		return act, nil
	}
	if hasLink && link.State == store.LinkInviting && link.TargetID != "" {
		// Invited, its attributes not written yet: the user the invitation
		// returned is this one's, whether Graph shows it yet or not.
		link.State = store.LinkActive
	}
	if addr := invitedAddress(link); hasLink && addr != "" {
		// A crash came between an invitation and its link: the invited user
		// is found by the address, as it carries no anchor yet.
		found, err := e.findInvited(ctx, t, src, link, addr)
		if err != nil {
			return act, err
		}
		if found == nil {
			// The invitation was never sent, or went to someone who is not
			// provably this user: forget it.
			if err := e.store.DeleteLink(ctx, link); err != nil && !errors.Is(err, store.ErrNotFound) {
				return act, fmt.Errorf("drop link %s/%s: %w", t.name, src.id, err)
			}
			act.Op, act.Reason = OpSkip, scopeReason+"; an interrupted invitation created no target user of this user's"
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
		if link.State == store.LinkPending || link.State == store.LinkStaged {
			// The action was changed to none while one was held: cancel it.
			if err := e.cancelDeprovision(ctx, t, &link, &act, rep); err != nil {
				return act, err
			}
		}
		act.Op, act.Reason = OpNoop, scopeReason+"; deprovision action is none: target user left as is"
		return act, nil
	}
	act.Op = OpDeprovision
	if action == config.DeprovisionDisable {
		act.Op = OpDisable
		act.Changes = mapping.Changes{"accountEnabled": {Old: link.Attributes["accountEnabled"], New: false}}
	}
	g, err := e.guarded(ctx, t, src, &link, string(action), &act, rep)
	if err != nil || g != verdictExecute {
		return act, err
	}
	rep.step("action", "%s target user %s", act.Op, link.TargetID)
	if err := e.executeDeprovision(ctx, t, &link, action); err != nil {
		return act, err
	}
	return act, e.settled(ctx, t, src.id)
}

// guarded takes a deprovision (action "delete" or "disable") of a linked
// target user through the deletion guard: an approved staged deprovision
// goes ahead; a staged one stays held; otherwise the guard decides, and the
// deprovision waits (act.PendingUntil), is staged (act.Held) or goes
// ahead (verdictExecute, which the caller then carries out). The link is
// marked pending before the guard is asked, so that whatever a crash
// interrupts, the next sync of the user finds and finishes it.
func (e *Engine) guarded(ctx context.Context, t *target, src *source, link *store.Link, action string, act *Action, rep *Report) (verdict, error) {
	if link.State == store.LinkStaged {
		d, err := e.store.GetDeletion(ctx, t.name, src.id)
		switch {
		case err == nil && d.Approved:
			rep.step("guard", "approved by an operator")
			act.Reason += "; approved"
			return verdictExecute, nil
		case err == nil:
			act.Held, act.stagedBefore = true, true
			act.Reason += "; held by the deletion guard, awaiting approval (deletions approve)"
			rep.step("guard", "held, awaiting approval")
			return verdictStage, nil
		case !errors.Is(err, store.ErrNotFound):
			return verdictStage, fmt.Errorf("read staged deletion %s/%s: %w", t.name, src.id, err)
		}
		// Staged, but the staged deletion expired unapproved: the guard
		// decides afresh.
	}
	if link.State != store.LinkPending {
		prev := link.State
		link.State = store.LinkPending
		stored, err := e.putLink(ctx, *link)
		if err != nil {
			link.State = prev
			return verdictWait, err
		}
		*link = stored
	}
	d, err := e.admit(ctx, t, src.id)
	if err != nil {
		return verdictWait, err
	}
	switch d.verdict {
	case verdictWait:
		due := d.due
		act.PendingUntil = &due
		act.Reason += fmt.Sprintf("; pending: carried out after the settle delay (%s), at %s, unless the user comes back or the deletion guard holds it",
			t.delay, due.UTC().Format(time.RFC3339))
		rep.step("guard", "recorded as pending until %s (%d pending or recent of threshold %d)", due.UTC().Format(time.RFC3339), d.count, t.threshold)
	case verdictStage:
		act.Held = true
		act.Reason += fmt.Sprintf("; held by the deletion guard (%d deprovisions pending or carried out within %s, threshold %d): approve with `deletions approve`",
			d.count, t.window, t.threshold)
		rep.step("guard", "staged for approval")
		if err := e.stage(ctx, t, src.id, link, action, act.Reason); err != nil {
			return verdictStage, err
		}
		act.burst = d.staged
		for _, id := range d.staged {
			// The rest of the burst: staged here too, so that `deletions
			// list` shows it at once. Each one's own re-check stages it as
			// well (the guard holds), so a failure here loses nothing.
			if err := e.stageOther(ctx, t, id, act.Reason); err != nil {
				e.log.WarnContext(ctx, "could not stage a deprovision of the burst; its own re-check will", "target", t.name, "sourceId", id, "err", err)
			}
		}
	case verdictExecute:
		rep.step("guard", "within the threshold (%d pending or recent of %d)", d.count, t.threshold)
	}
	return d.verdict, nil
}

// settled clears what the guard kept of a deprovision that was carried out:
// an approved staged deletion.
func (e *Engine) settled(ctx context.Context, t *target, sourceID string) error {
	err := e.store.DeleteDeletion(ctx, store.Deletion{Target: t.name, SourceID: sourceID})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("clear staged deletion %s/%s: %w", t.name, sourceID, err)
	}
	return nil
}

// cancelDeprovision drops a pending or staged deprovision of a user who no
// longer needs one (back in scope, enabled again in the source).
func (e *Engine) cancelDeprovision(ctx context.Context, t *target, link *store.Link, act *Action, rep *Report) error {
	if err := e.release(ctx, t, link.SourceID); err != nil {
		return err
	}
	if err := e.settled(ctx, t, link.SourceID); err != nil {
		return err
	}
	what := "pending"
	if link.State == store.LinkStaged {
		what = "staged"
	}
	link.State = store.LinkActive
	stored, err := e.putLink(ctx, *link)
	if err != nil {
		return err
	}
	*link = stored
	act.cancelled = what
	rep.step("guard", "the %s deprovision is cancelled", what)
	return nil
}

// findInvited finds the target user of an invitation a crash interrupted,
// among the users with its address, if one is provably this user's.
func (e *Engine) findInvited(ctx context.Context, t *target, src *source, link store.Link, addr string) (*directory.User, error) {
	m, err := e.match(ctx, t, src, addr, "", []string{t.anchorAttr, "accountEnabled"})
	if err != nil {
		return nil, err
	}
	return m.user, nil
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
		err := e.notYet(*link, t.api.DeleteUser(ctx, link.TargetID))
		if err != nil && (!errors.Is(err, directory.ErrNotFound) || directory.Retryable(err)) {
			return e.failLink(ctx, *link, fmt.Errorf("delete target user %s: %w", link.TargetID, err))
		}
		link.State = store.LinkDeleted
	case config.DeprovisionDisable:
		patch := directory.Attributes{"accountEnabled": false}
		if anchor := e.anchorValue(link.SourceID); !directory.Equal(link.Attributes[t.anchorAttr], anchor) {
			// The user of an interrupted invitation has no anchor yet; a
			// disabled user stays in the target and must stay findable.
			patch[t.anchorAttr] = anchor
		}
		err := e.notYet(*link, t.api.UpdateUser(ctx, link.TargetID, patch))
		if err != nil && (!errors.Is(err, directory.ErrNotFound) || directory.Retryable(err)) {
			return e.failLink(ctx, *link, fmt.Errorf("disable target user %s: %w", link.TargetID, err))
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
	stored, err := e.putLink(ctx, *link)
	if err != nil {
		return err
	}
	*link = stored
	return e.updateStatus(ctx, t.name, func(st *store.TargetStatus) { bump(st, "deprovision") })
}

// stage holds a deprovision for approval: a staged deletion, then the link.
func (e *Engine) stage(ctx context.Context, t *target, sourceID string, link *store.Link, action, reason string) error {
	d := store.Deletion{
		Target:    t.name,
		SourceID:  sourceID,
		TargetID:  link.TargetID,
		SourceUPN: link.SourceUPN,
		Action:    action,
		Reason:    reason,
		StagedAt:  e.now(),
		ExpiresAt: e.now().Add(stagedLifetime),
	}
	if _, err := e.store.PutDeletion(ctx, d); err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("stage deletion %s/%s: %w", t.name, sourceID, err)
	}
	if link.State == store.LinkStaged {
		return nil
	}
	link.State = store.LinkStaged
	stored, err := e.putLink(ctx, *link)
	if err != nil {
		return err
	}
	*link = stored
	return nil
}

// stageOther stages the pending deprovision of another user of a burst.
func (e *Engine) stageOther(ctx context.Context, t *target, sourceID, reason string) error {
	for range maxRaces {
		l, ok, err := e.getLink(ctx, t.name, sourceID)
		if err != nil || !ok || l.State != store.LinkPending {
			return err
		}
		action := string(deprovisionAction(t.cfg))
		if l.Attributes != nil && directory.Equal(l.Attributes["accountEnabled"], true) && action == string(config.DeprovisionNone) {
			action = string(config.DeprovisionDisable)
		}
		err = e.stage(ctx, t, sourceID, &l, action, reason)
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("stage %s/%s: %w", t.name, sourceID, store.ErrConflict)
}

// ApproveDeletions approves exactly the staged deprovisions of the given
// source users in a target and carries them out now, each after checking
// that its user still needs it: one who is back cancels it instead. Every
// id must name a staged deletion of the target; if one does not, nothing
// is approved.
func (e *Engine) ApproveDeletions(ctx context.Context, targetName string, sourceIDs []string) ([]Action, error) {
	if len(sourceIDs) == 0 {
		return nil, errors.New("approve deletions: no source user ids given (ApproveAllDeletions approves every one)")
	}
	return e.approve(ctx, targetName, sourceIDs, false)
}

// ApproveAllDeletions approves every staged deprovision of a target and
// carries them out now, as ApproveDeletions does. It also ends the guard's
// hold: the operator has seen the burst.
func (e *Engine) ApproveAllDeletions(ctx context.Context, targetName string) ([]Action, error) {
	return e.approve(ctx, targetName, nil, true)
}

func (e *Engine) approve(ctx context.Context, targetName string, sourceIDs []string, all bool) ([]Action, error) {
	t, err := e.target(targetName)
	if err != nil {
		return nil, err
	}
	staged, err := e.store.ListDeletions(ctx, t.name)
	if err != nil {
		return nil, fmt.Errorf("list staged deletions of %s: %w", t.name, err)
	}
	byID := make(map[string]store.Deletion, len(staged))
	for _, d := range staged {
		byID[d.SourceID] = d
	}
	var chosen []store.Deletion
	if all {
		chosen = staged
	} else {
		var unknown []string
		seen := map[string]bool{}
		for _, id := range sourceIDs {
			if seen[id] {
				continue
			}
			seen[id] = true
			d, ok := byID[id]
			if !ok {
				unknown = append(unknown, id)
				continue
			}
			chosen = append(chosen, d)
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return nil, fmt.Errorf("no staged deletion for source user %s in %s: nothing approved", joinQuoted(unknown), t.name)
		}
	}
	var acts []Action
	var errs []error
	for _, d := range chosen {
		d.Approved = true
		if _, err := e.store.PutDeletion(ctx, d); err != nil {
			errs = append(errs, fmt.Errorf("approve %s: %w", d.SourceID, err))
			continue
		}
		// The normal path decides with fresh source state: it carries out
		// an approved deprovision, or cancels it if the user came back.
		// Each under its own trace, so that every action names the Graph
		// requests behind it and no other's.
		tctx := directory.WithTrace(ctx, &directory.Trace{})
		res, err := e.syncUser(tctx, Change{Kind: KindUser, ID: d.SourceID, Cause: "approve"}, nil, t)
		acts = append(acts, res.Actions...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if all && len(errs) == 0 {
		_, err := e.updateGuard(ctx, t, func(g *store.Guard, now time.Time) (guardDecision, bool) {
			held := now.Before(g.HoldUntil)
			g.HoldUntil = time.Time{}
			return guardDecision{}, held
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return acts, errors.Join(errs...)
}

func joinQuoted(ids []string) string {
	s := ""
	for i, id := range ids {
		if i > 0 {
			s += ", "
		}
		s += id
	}
	return s
}

// expireStaged drops staged deletions nobody approved in time; the link goes
// back to being judged afresh (and staged again if the guard still holds).
func (e *Engine) expireStaged(ctx context.Context) {
	for _, t := range e.targets {
		staged, err := e.store.ListDeletions(ctx, t.name)
		if err != nil {
			e.log.WarnContext(ctx, "could not list staged deletions", "target", t.name, "err", err)
			continue
		}
		for _, d := range staged {
			if d.Approved || e.now().Before(d.ExpiresAt) {
				continue
			}
			if err := e.store.DeleteDeletion(ctx, d); err != nil && !errors.Is(err, store.ErrNotFound) {
				e.log.WarnContext(ctx, "could not expire staged deletion", "target", t.name, "sourceId", d.SourceID, "err", err)
			}
		}
	}
}
