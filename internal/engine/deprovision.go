package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
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
func (d *decision) deprovision(ctx context.Context) (Action, error) {
	e, t, src, rep := d.e, d.t, d.src, d.rep
	d.act.Reason = d.scope
	if d.linked && d.link.State == store.LinkConflict {
		// The user in the way was never ours: there is nothing of ours to
		// deprovision, and the conflict no longer matters.
		if err := e.store.DeleteLink(ctx, d.link); err != nil && !errors.Is(err, store.ErrNotFound) {
			return d.act, fmt.Errorf("drop conflict link %s/%s: %w", t.name, src.id, err)
		}
		d.act.setTargetID("")
		d.act.Op, d.act.Reason = OpSkip, d.scope+"; no target user to deprovision (the conflicting target user "+d.link.TargetID+" is not this user's and is left alone)"
		rep.step("action", "nothing to do: the conflict is dropped")
		return d.act, nil
	}
	if d.linked && d.link.State == store.LinkInviting && d.link.TargetID != "" {
		// Invited, its attributes not written yet: the user the invitation
		// returned is this one's, whether Graph shows it yet or not.
		d.link.State = store.LinkActive
	}
	if addr := invitedAddress(d.link); d.linked && addr != "" {
		// A crash came between an invitation and its link: the invited user
		// is found by the address, as it carries no anchor yet.
		found, err := d.findInvited(ctx, addr)
		if err != nil {
			return d.act, err
		}
		if found == nil {
			// The invitation was never sent, or went to someone who is not
			// provably this user: forget it.
			if err := e.store.DeleteLink(ctx, d.link); err != nil && !errors.Is(err, store.ErrNotFound) {
				return d.act, fmt.Errorf("drop link %s/%s: %w", t.name, src.id, err)
			}
			d.act.Op, d.act.Reason = OpSkip, d.scope+"; an interrupted invitation created no target user of this user's"
			return d.act, nil
		}
		d.link.TargetID, d.link.State, d.link.Attributes = found.ID, store.LinkActive, found.Attrs
		d.act.setTargetID(d.link.TargetID)
		rep.step("match", "found target user %s of an interrupted invitation to %s", d.link.TargetID, addr)
	}
	if (!d.linked || d.link.TargetID == "") && d.ch.Force {
		// A full pass found a target user with this user's anchor but no
		// link (a crash between invitation and link): deprovision it too.
		users, err := t.api.FindUsers(ctx, []Cond{{Attr: t.anchorAttr, Value: e.anchorValue(src.id)}}, []string{t.anchorAttr, "accountEnabled"})
		if err != nil {
			return d.act, fmt.Errorf("find unlinked target user of %s in %s: %w", src.id, t.name, err)
		}
		if len(users) > 0 {
			d.link.TargetID, d.link.State, d.link.Attributes = users[0].ID, store.LinkActive, users[0].Attrs
			d.act.setTargetID(d.link.TargetID)
			rep.step("match", "found unlinked target user %s by anchor", d.link.TargetID)
			d.linked = true
		}
	}
	if !d.linked || d.link.TargetID == "" {
		d.act.Op = OpSkip
		d.act.Reason = d.scope + "; no target user to deprovision"
		rep.step("action", "nothing to do")
		return d.act, nil
	}
	action := deprovisionAction(t.cfg)
	already := d.link.State == store.LinkDeleted || action == config.DeprovisionDisable && d.link.State == store.LinkDisabled
	if already && d.ch.Force {
		// A crash may have come between a restore (or an enable) and its
		// link write: believe the target, not the link.
		live, enabled, err := e.targetState(ctx, t, d.link.TargetID)
		if err != nil {
			return d.act, err
		}
		if d.link.State == store.LinkDeleted && live || d.link.State == store.LinkDisabled && enabled {
			rep.step("match", "target user %s is live (enabled: %t) although its link says %s", d.link.TargetID, enabled, d.link.State)
			already = false
		}
	}
	switch {
	case already && d.link.State == store.LinkDeleted:
		d.act.Op, d.act.Reason = OpNoop, d.scope+"; already deprovisioned (deleted)"
		return d.act, nil
	case already:
		d.act.Op, d.act.Reason = OpNoop, d.scope+"; already deprovisioned (disabled)"
		return d.act, nil
	case action == config.DeprovisionNone:
		if d.link.State == store.LinkPending || d.link.State == store.LinkStaged {
			// The action was changed to none while one was held: cancel it.
			if err := d.cancel(ctx); err != nil {
				return d.act, err
			}
		}
		d.act.Op, d.act.Reason = OpNoop, d.scope+"; deprovision action is none: target user left as is"
		return d.act, nil
	}
	d.act.Op = OpDeprovision
	if action == config.DeprovisionDisable {
		d.act.Op = OpDisable
		d.act.Changes = mapping.Changes{"accountEnabled": {Old: d.link.Attributes["accountEnabled"], New: false}}
	}
	g, err := d.guarded(ctx, string(action))
	if err != nil || g != verdictExecute {
		return d.act, err
	}
	rep.step("action", "%s target user %s", d.act.Op, d.link.TargetID)
	if err := d.execute(ctx, action); err != nil {
		return d.act, err
	}
	return d.act, e.settled(ctx, t, src.id)
}

// guarded takes a deprovision (action "delete" or "disable") of a linked
// target user through the deletion guard: an approved staged deprovision
// goes ahead; a staged one stays held; otherwise the guard decides, and the
// deprovision waits (act.PendingUntil), is staged (act.Held) or goes
// ahead (verdictExecute, which the caller then carries out). The link is
// marked pending before the guard is asked, so that whatever a crash
// interrupts, the next sync of the user finds and finishes it.
func (d *decision) guarded(ctx context.Context, action string) (verdict, error) {
	e, t, src, rep := d.e, d.t, d.src, d.rep
	if d.link.State == store.LinkStaged {
		staged, err := e.store.GetDeletion(ctx, t.name, src.id)
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
			return verdictStage, fmt.Errorf("read staged deletion %s/%s: %w", t.name, src.id, err)
		}
		// Staged, but the staged deletion expired unapproved: the guard
		// decides afresh.
	}
	if d.link.State != store.LinkPending {
		prev := d.link.State
		d.link.State = store.LinkPending
		stored, err := e.putLink(ctx, d.link)
		if err != nil {
			d.link.State = prev
			return verdictWait, err
		}
		d.link = stored
	}
	g, err := e.admit(ctx, t, src.id)
	if err != nil {
		return verdictWait, err
	}
	switch g.verdict {
	case verdictWait:
		due := g.due
		d.act.PendingUntil = &due
		d.act.Reason += fmt.Sprintf("; pending: carried out after the settle delay (%s), at %s, unless the user comes back or the deletion guard holds it",
			config.Duration(t.delay), due.UTC().Format(time.RFC3339))
		rep.step("guard", "recorded as pending until %s (%d pending or recent of threshold %d)", due.UTC().Format(time.RFC3339), g.count, t.threshold)
	case verdictStage:
		d.act.Held = true
		d.act.Reason += fmt.Sprintf("; held by the deletion guard (%d deprovisions pending or carried out within %s, threshold %d): approve with `deletions approve`",
			g.count, config.Duration(t.window), t.threshold)
		rep.step("guard", "staged for approval")
		if err := e.stage(ctx, t, src.id, &d.link, action, d.act.Reason); err != nil {
			return verdictStage, err
		}
		d.act.burst = g.staged
		for _, id := range g.staged {
			// The rest of the burst: staged here too, so that `deletions
			// list` shows it at once. Each one's own re-check stages it as
			// well (the guard holds), so a failure here loses nothing.
			stage := e.stageOther
			if _, group := groupOfGuardID(id); group {
				stage = e.stageOtherGroupKey // a group's deletion (group_guard.go)
			}
			if err := stage(ctx, t, id, d.act.Reason); err != nil {
				e.log.WarnContext(ctx, "could not stage a deprovision of the burst; its own re-check will", "target", t.name, "sourceId", id, "err", err)
			}
		}
	case verdictExecute:
		rep.step("guard", "within the threshold (%d pending or recent of %d)", g.count, t.threshold)
	}
	return g.verdict, nil
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

// cancel drops a pending or staged deprovision of a user who no
// longer needs one (back in scope, enabled again in the source).
func (d *decision) cancel(ctx context.Context) error {
	e, t, rep := d.e, d.t, d.rep
	if err := e.release(ctx, t, d.link.SourceID); err != nil {
		return err
	}
	if err := e.settled(ctx, t, d.link.SourceID); err != nil {
		return err
	}
	what := "pending"
	if d.link.State == store.LinkStaged {
		what = "staged"
	}
	d.link.State = store.LinkActive
	stored, err := e.putLink(ctx, d.link)
	if err != nil {
		return err
	}
	d.link = stored
	d.act.cancelled = what
	rep.step("guard", "the %s deprovision is cancelled", what)
	return nil
}

// findInvited finds the target user of an invitation a crash interrupted,
// among the users with its address, if one is provably this user's.
func (d *decision) findInvited(ctx context.Context, addr string) (*directory.User, error) {
	e, t, src := d.e, d.t, d.src
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

func (d *decision) execute(ctx context.Context, action config.DeprovisionAction) error {
	e, t := d.e, d.t
	gone, err := d.owned(ctx)
	if err != nil {
		return e.failLink(ctx, d.link, err)
	}
	if gone {
		action = config.DeprovisionDelete // nothing left to disable either: deleted
	}
	switch {
	case gone:
		d.link.State = store.LinkDeleted
	case action == config.DeprovisionDelete:
		err := e.notYet(ctx, t, d.link, t.api.DeleteUser(ctx, d.link.TargetID))
		if err != nil && (!errors.Is(err, directory.ErrNotFound) || directory.Retryable(err)) {
			return e.failLink(ctx, d.link, fmt.Errorf("delete target user %s: %w", d.link.TargetID, err))
		}
		d.link.State = store.LinkDeleted
	case action == config.DeprovisionDisable:
		patch := directory.Attributes{"accountEnabled": false}
		if anchor := e.anchorValue(d.link.SourceID); !directory.Equal(d.link.Attributes[t.anchorAttr], anchor) {
			// The user of an interrupted invitation has no anchor yet; a
			// disabled user stays in the target and must stay findable.
			patch[t.anchorAttr] = anchor
		}
		err := e.notYet(ctx, t, d.link, t.api.UpdateUser(ctx, d.link.TargetID, patch))
		if err != nil && (!errors.Is(err, directory.ErrNotFound) || directory.Retryable(err)) {
			return e.failLink(ctx, d.link, fmt.Errorf("disable target user %s: %w", d.link.TargetID, err))
		}
		if d.link.Attributes == nil {
			d.link.Attributes = map[string]any{}
		}
		for k, v := range patch {
			d.link.Attributes[k] = v
		}
		d.link.Hash = "" // no longer what the mappings want
		d.link.State = store.LinkDisabled
	}
	d.link.LastError = ""
	stored, err := e.putLink(ctx, d.link)
	if err != nil {
		return err
	}
	d.link = stored
	return e.updateStatus(ctx, t.name, func(st *store.TargetStatus) { bump(st, "deprovision") })
}

// errNotOurs marks a destructive write refused because the target user is
// not provably tenantsync's: the link may be damaged, or point elsewhere.
var errNotOurs = errors.New("refused: the target user is not provably this source user's")

// owned re-reads the linked target user before a destructive write (a
// delete, or a PATCH that disables) and checks it is provably this source
// user's: tenantsync's anchor for them (or, for the user of an invitation a
// crash interrupted, an unredeemed invitation without an anchor yet), and a
// B2B user unless the target adopts internal members. What the link says is
// not enough: a row of a store could point anywhere. gone reports a user
// that no longer exists (and was not created a moment ago).
func (d *decision) owned(ctx context.Context) (gone bool, err error) {
	id := d.link.TargetID
	u, err := d.t.api.GetUser(ctx, id, []string{d.t.anchorAttr, "userPrincipalName", "creationType", "externalUserState"})
	switch {
	case errors.Is(err, directory.ErrNotFound):
		if err := d.e.notYet(ctx, d.t, d.link, err); directory.Retryable(err) {
			return false, fmt.Errorf("read target user %s before deprovisioning it: %w", id, err)
		}
		return true, nil
	case err != nil:
		return false, fmt.Errorf("read target user %s before deprovisioning it: %w", id, err)
	}
	anchor, _ := u.Attrs.String(d.t.anchorAttr)
	state, _ := u.Attrs.String("externalUserState")
	switch {
	case anchor == d.e.anchorValue(d.src.id):
	case anchor == "" && isB2B(u) && strings.EqualFold(state, "PendingAcceptance"):
		// An invitation of ours whose attributes a crash kept from being
		// written: it has no anchor yet.
	case anchor == "":
		return false, fmt.Errorf("%w: target user %s carries no anchor in %s; nothing was written to it", errNotOurs, id, d.t.anchorAttr)
	default:
		return false, fmt.Errorf("%w: target user %s carries another anchor in %s (%q); nothing was written to it", errNotOurs, id, d.t.anchorAttr, anchor)
	}
	if !isB2B(u) && !d.t.cfg.AdoptMembers {
		return false, fmt.Errorf("%w: target user %s is an internal member of the target, not a B2B user; nothing was written to it", errNotOurs, id)
	}
	return false, nil
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
		var res Result
		if g, ok := groupOfGuardID(d.SourceID); ok {
			// A group's deletion (group_guard.go).
			res, err = e.provisionGroup(tctx, Change{Kind: KindGroup, ID: g, Cause: "approve"}, t, nil)
			for _, ga := range res.Groups {
				acts = append(acts, ga.AsAction())
			}
		} else {
			res, err = e.syncUser(tctx, Change{Kind: KindUser, ID: d.SourceID, Cause: "approve"}, nil, t)
			for _, f := range res.FollowUps {
				if f.Kind == KindGroup && err == nil {
					// The synced groups the user leaves, now (group.go).
					_, err = e.provisionGroup(tctx, f, t, nil)
				}
			}
		}
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
