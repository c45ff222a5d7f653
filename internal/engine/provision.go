package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/mapping"
	"github.com/tenantsync/tenantsync/internal/store"
)

// provision makes the target user of an in-scope source user exist, enabled
// or disabled as the source is, with the mapped attributes.
func (d *decision) provision(ctx context.Context) (Action, error) {
	if d.linked && d.link.TargetID != "" && d.link.State != store.LinkConflict {
		restored := false
		if d.link.State == store.LinkDeleted {
			if err := d.restore(ctx); err != nil {
				if !errors.Is(err, directory.ErrNotFound) {
					return d.act, err
				}
				// Not in deleted items: restored already (by an attempt whose
				// link write was lost, or by an administrator), or gone for
				// good. Only the second makes a new user.
				live, err := d.live(ctx)
				if err != nil {
					return d.act, err
				}
				if !live {
					d.rep.step("match", "target user %s is gone for good; creating a new one", d.link.TargetID)
					return d.startOver(ctx)
				}
				d.rep.step("match", "target user %s is live already: restored before", d.link.TargetID)
				d.link.State = store.LinkActive
			}
			restored = true
		}
		return d.update(ctx, restored)
	}
	return d.matchOrCreate(ctx)
}

// update brings a linked target user in line with the source. What a target
// administrator changed is left alone until the source changes it, as
// Cross-Tenant Synchronization does: a user disabled in the target is never
// enabled again by drift repair, and with driftRepair false no drift is
// written back at all. A disable that the source asks for goes through the
// deletion guard like any deprovision.
func (d *decision) update(ctx context.Context, restored bool) (Action, error) {
	e, t, src, rep := d.e, d.t, d.src, d.rep
	activating := restored || d.link.State != store.LinkActive && d.link.State != store.LinkPending && d.link.State != store.LinkStaged
	want, err := e.desiredFor(ctx, t, src, mapping.Update)
	if err != nil {
		return d.act, err
	}
	written := directory.Attributes(d.link.Attributes) // what tenantsync last wrote
	current := written
	hiddenManager := false
	if d.ch.Force {
		// The target may have drifted from what we wrote: compare with it as
		// it is, its manager included.
		keys := slices.DeleteFunc(want.attrs.Keys(), func(k string) bool { return !mapping.ReadBack(k) })
		if t.mappings.HasManager() {
			keys = append(keys, mapping.ManagerAttribute)
		}
		tu, err := t.api.GetUser(ctx, d.link.TargetID, keys)
		switch {
		case errors.Is(err, directory.ErrNotFound):
			return d.lostTarget(ctx)
		case err != nil:
			return d.act, fmt.Errorf("read target user %s: %w", d.link.TargetID, err)
		}
		// Graph shows no manager while the manager is soft deleted, and the
		// reference comes back with a restore: when a manager was written,
		// a manager that must go is removed even if none shows.
		hiddenManager = directory.IsEmpty(tu.Attrs[mapping.ManagerAttribute]) && !directory.IsEmpty(written[mapping.ManagerAttribute])
		current = mergeAttrs(written, tu.Attrs)
	}
	mgr, mgrKnown, err := e.targetManager(ctx, t, want)
	if err != nil {
		return d.act, err
	}
	changes := mapping.Diff(current, want.attrs)
	if d.ch.Force && written != nil && !restored {
		d.act.Drift = e.leaveTargetEdits(t, changes, written, want.attrs)
		if len(d.act.Drift) > 0 {
			rep.step("drift", "left as the target has it: %s", summarize(d.act.Drift))
		}
	}
	mgrChange := mgrKnown && (!directory.Equal(current["manager"], mgr) || mgr == "" && hiddenManager)

	// A disable is a deprovision: the guard decides when it happens. But a
	// user still being created (the link still says inviting: a write of
	// the creation failed and is tried again) is created disabled, as
	// matchOrCreate does, with no deprovision: the guard must neither hold
	// nor count a user who was never enabled.
	d.act.Reason = d.scope
	disable, disabling := changes["accountEnabled"]
	disabling = disabling && disable.New == false && d.link.State != store.LinkInviting
	pendingDisable := false
	switch {
	case disabling:
		v, err := d.guarded(ctx, string(config.DeprovisionDisable))
		if err != nil {
			return d.act, err
		}
		if v != verdictExecute {
			pendingDisable = true
			delete(changes, "accountEnabled")
		} else if _, err := d.owned(ctx); err != nil {
			// A disable is destructive: the user must be provably ours.
			return d.act, e.failLink(ctx, d.link, err)
		}
	case d.link.State == store.LinkPending || d.link.State == store.LinkStaged:
		// Back in scope, or enabled again in the source, before the
		// deprovision happened.
		if err := d.cancel(ctx); err != nil {
			return d.act, err
		}
		d.act.Reason += "; the " + d.act.cancelled + " deprovision is cancelled"
	}

	d.act.Changes = changes.Redact(want.redacted)
	if mgrChange {
		addChange(&d.act, "manager", current["manager"], mgr)
	}
	d.act.Op = OpUpdate
	switch {
	case restored:
		d.act.Op = OpRestore
	case disabling:
		d.act.Op = OpDisable
		if pendingDisable {
			addChange(&d.act, "accountEnabled", disable.Old, false)
		}
	}
	hash := mapping.Hash(want.attrs)
	d.act.linked = true
	if len(changes) == 0 && !mgrChange && !restored {
		if pendingDisable {
			return d.act, nil // guarded recorded the link's state
		}
		d.act.Op = OpNoop
		d.act.Reason += "; target user is up to date"
		rep.step("action", "no change")
		if d.link.State != store.LinkActive || d.link.Hash != hash || d.link.LastError != "" {
			d.link.State, d.link.Hash, d.link.LastError = store.LinkActive, hash, ""
			if _, err := e.putLink(ctx, d.link); err != nil {
				return d.act, err
			}
		}
		d.act.activated = activating
		return d.act, nil
	}
	rep.step("action", "%s: %s", d.act.Op, summarize(d.act.Changes))
	var refused []string
	if len(changes) > 0 {
		refused, err = e.patch(ctx, t, d.link.TargetID, changes.Patch())
		if err != nil {
			if errors.Is(err, directory.ErrNotFound) {
				return d.lostTarget(ctx)
			}
			return d.act, e.failLink(ctx, d.link, fmt.Errorf("update target user %s: %w", d.link.TargetID, err))
		}
		d.act.refused(refused)
	}
	if mgrChange {
		if err := setManager(ctx, t, d.link.TargetID, mgr); err != nil {
			return d.act, e.failLink(ctx, d.link, fmt.Errorf("set manager of target user %s: %w", d.link.TargetID, err))
		}
	}
	// The target now has what was desired, but for what was not written:
	// a disable still held, and what the target refused.
	d.link.Attributes = mergeAttrs(current, want.attrs)
	if pendingDisable {
		d.link.Attributes["accountEnabled"] = current["accountEnabled"]
	}
	for _, k := range refused {
		d.link.Attributes[k] = current[k]
	}
	if mgrKnown {
		setOrDelete(d.link.Attributes, "manager", mgr)
	}
	d.link.Hash = hash
	if pendingDisable || len(refused) > 0 {
		d.link.Hash = "" // not all of it is written yet
	}
	if !pendingDisable {
		d.link.State = store.LinkActive
	}
	d.link.LastError = d.act.Error
	d.link.SourceUPN = src.upn()
	if _, err = e.putLink(ctx, d.link); err != nil {
		return d.act, err
	}
	d.act.activated = activating && !pendingDisable
	return d.act, nil
}

// leaveTargetEdits takes out of changes what a target administrator changed
// while the source did not: changes whose desired value is what tenantsync
// last wrote. A user disabled in the target stays disabled; with
// driftRepair false nothing such is written back. It returns what it left.
func (e *Engine) leaveTargetEdits(t *target, changes mapping.Changes, written, want directory.Attributes) mapping.Changes {
	var left mapping.Changes
	for k, c := range changes {
		if _, ok := written[k]; !ok || !directory.Equal(written[k], want[k]) {
			continue // the source changed it since: it flows
		}
		reenable := k == "accountEnabled" && c.New == true && c.Old == false
		if reenable || !t.cfg.RepairsDrift() {
			if left == nil {
				left = mapping.Changes{}
			}
			left[k] = mapping.Change{Old: c.New, New: c.Old} // what tenantsync wrote → what the target has
			delete(changes, k)
		}
	}
	return left
}

// sensitiveAttributes are the user properties that only a caller with a
// higher privilege may change on a user who holds an administrator role:
// learn.microsoft.com/graph/api/user-update ("Who can update sensitive
// attributes"). An app gets 403 for the whole PATCH.
var sensitiveAttributes = map[string]bool{
	"accountEnabled": true, "businessPhones": true, "mobilePhone": true, "otherMails": true,
	"passwordProfile": true, "userPrincipalName": true, "onPremisesImmutableId": true,
}

// patch PATCHes a target user. When the target refuses a PATCH that
// includes sensitive properties (the user holds an admin role there), it
// writes the rest and returns the properties it could not write: that
// refusal is this user's, not the target's.
func (e *Engine) patch(ctx context.Context, t *target, id string, attrs directory.Attributes) ([]string, error) {
	err := t.api.UpdateUser(ctx, id, attrs)
	if err == nil || !errors.Is(err, directory.ErrForbidden) {
		return nil, err
	}
	rest := directory.Attributes{}
	var refused []string
	for k, v := range attrs {
		if sensitiveAttributes[k] {
			refused = append(refused, k)
		} else {
			rest[k] = v
		}
	}
	if len(refused) == 0 {
		return nil, err
	}
	sort.Strings(refused)
	if wide, perr := e.targetWide(ctx, t, err); perr != nil || wide {
		return nil, err
	}
	if len(rest) > 0 {
		if err := t.api.UpdateUser(ctx, id, rest); err != nil {
			return nil, err
		}
	}
	return refused, nil
}

// setManager sets a target user's manager, or removes it (managerID ""):
// removing a manager that is already gone is done.
func setManager(ctx context.Context, t *target, id, managerID string) error {
	err := t.api.SetManager(ctx, id, managerID)
	if managerID == "" && errors.Is(err, directory.ErrNotFound) {
		return nil
	}
	return err
}

// lostTarget handles a linked target user that no longer exists: someone
// deleted it in the target. It is restored if it is in deleted items, and
// created again otherwise, as Cross-Tenant Synchronization would.
func (d *decision) lostTarget(ctx context.Context) (Action, error) {
	e, rep := d.e, d.rep
	if err := e.notYet(ctx, d.t, d.link, fmt.Errorf("target user %s: %w", d.link.TargetID, directory.ErrNotFound)); errors.Is(err, directory.ErrTransient) {
		return d.act, err // created a moment ago: not replicated yet
	}
	rep.step("match", "linked target user %s no longer exists", d.link.TargetID)
	err := d.restore(ctx)
	if err == nil {
		d.link.Attributes = nil // unknown after someone else's delete: rewrite all
		d.ch.Force = true
		return d.update(ctx, true)
	}
	if !errors.Is(err, directory.ErrNotFound) {
		return d.act, err
	}
	return d.startOver(ctx)
}

// startOver drops the link of a target user that is gone for good (not in
// the target's deleted items either) and matches or creates the user again.
func (d *decision) startOver(ctx context.Context) (Action, error) {
	if err := d.e.store.DeleteLink(ctx, d.link); err != nil && !errors.Is(err, store.ErrNotFound) {
		return d.act, fmt.Errorf("drop link %s/%s: %w", d.t.name, d.src.id, err)
	}
	d.fresh()
	return d.matchOrCreate(ctx)
}

// restore restores the linked target user from the target's deleted items
// and records it on the link at once. Graph replicates a restore with a
// delay: the writes that follow may answer 404, and a retry that found the
// link still "deleted" would restore again, get 404 (the user has left
// deleted items) and take the user for gone for good — a second user, the
// restored one left live (found by the chaos suite, seed 685288498).
func (d *decision) restore(ctx context.Context) error {
	e, t, rep := d.e, d.t, d.rep
	if err := t.api.RestoreUser(ctx, d.link.TargetID); err != nil {
		return fmt.Errorf("restore target user %s: %w", d.link.TargetID, err)
	}
	rep.step("action", "restored target user %s from deleted items", d.link.TargetID)
	d.link.State, d.link.Restored = store.LinkActive, e.now()
	stored, err := e.putLink(ctx, d.link)
	if err != nil {
		return err
	}
	d.link = stored
	return nil
}

// live reports whether the linked target user exists outside deleted
// items. A 404 soon after tenantsync invited or restored it is
// replication, not absence: an error tried again later (notYet).
func (d *decision) live(ctx context.Context) (bool, error) {
	_, err := d.t.api.GetUser(ctx, d.link.TargetID, []string{"id"})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, directory.ErrNotFound):
		if err := d.e.notYet(ctx, d.t, d.link, err); errors.Is(err, directory.ErrTransient) {
			return false, err
		}
		return false, nil
	}
	return false, fmt.Errorf("read target user %s: %w", d.link.TargetID, err)
}

// matchOrCreate finds the target user of an unlinked source user (by anchor,
// then by invitation address among users provably theirs) or invites a new
// one, then writes the link. A target user that holds the address but is
// not provably this user's is a conflict: recorded on the link, never
// adopted, and nothing is written to it.
func (d *decision) matchOrCreate(ctx context.Context) (Action, error) {
	e, t, src, rep := d.e, d.t, d.src, d.rep
	want, err := e.desiredFor(ctx, t, src, mapping.Create)
	if err != nil {
		return d.act, err
	}
	// The link's hash is always over what an update writes, so that the
	// next comparison is like for like.
	update, err := e.desiredFor(ctx, t, src, mapping.Update)
	if err != nil {
		return d.act, err
	}
	if want.address == "" {
		d.act.Op = OpSkip
		d.act.Reason = d.scope + "; skipped: no invitation address (the inviteAddress expression is empty for this user)"
		rep.step("match", "no invitation address")
		return d.act, nil
	}
	var m matched
	if d.link.State != store.LinkInviting || d.link.TargetID == "" {
		if m, err = e.match(ctx, t, src, want.address, invitedAddress(d.link), want.attrs.Keys()); err != nil {
			return d.act, err
		}
	}
	if m.conflict != nil {
		return d.conflict(ctx, want.address, *m.conflict)
	}
	mgr, mgrKnown, err := e.targetManager(ctx, t, want)
	if err != nil {
		return d.act, err
	}
	found := m.user
	var current directory.Attributes
	if found != nil {
		// Adopted: the user exists, so this is an update of what is there.
		rep.step("match", "%s", m.how)
		want = update
		d.link.TargetID = found.ID
		current = found.Attrs
		d.act.Op = OpUpdate
		d.act.Reason = d.scope + "; " + m.how
	} else {
		u, c, err := d.invite(ctx, want)
		switch {
		case err != nil:
			return d.act, err
		case c != nil:
			return d.conflict(ctx, want.address, *c)
		}
		current = u.Attrs
		d.act.Op = OpCreate
		d.act.Reason = d.scope + "; invited " + want.address
		d.act.Changes = mapping.Diff(nil, want.attrs).Redact(want.redacted)
	}
	d.act.setTargetID(d.link.TargetID)
	changes := mapping.Diff(current, want.attrs)
	if found == nil {
		delete(changes, "userType") // the invitation set it
	}
	if d.act.Op == OpUpdate {
		d.act.Changes = changes.Redact(want.redacted)
	}
	var refused []string
	if len(changes) > 0 {
		refused, err = e.patch(ctx, t, d.link.TargetID, changes.Patch())
		if err != nil {
			return d.act, e.notYet(ctx, d.t, d.link, fmt.Errorf("write attributes of target user %s: %w", d.link.TargetID, err))
		}
		d.act.refused(refused)
	}
	if mgrKnown && !directory.Equal(current["manager"], mgr) {
		if err := setManager(ctx, t, d.link.TargetID, mgr); err != nil {
			return d.act, e.notYet(ctx, d.t, d.link, fmt.Errorf("set manager of target user %s: %w", d.link.TargetID, err))
		}
		addChange(&d.act, "manager", current["manager"], mgr)
	} else if found != nil && mgrKnown && mgr == "" {
		// An adopted user that shows no manager may still refer to a
		// soft-deleted one, which comes back when that user is restored:
		// remove the reference too (setManager takes "none" for done).
		if err := setManager(ctx, t, d.link.TargetID, ""); err != nil {
			return d.act, fmt.Errorf("remove manager of target user %s: %w", d.link.TargetID, err)
		}
	}
	rep.step("action", "%s: %s", d.act.Op, summarize(d.act.Changes))
	d.link.Attributes = mergeAttrs(current, want.attrs)
	for _, k := range refused {
		d.link.Attributes[k] = current[k]
	}
	if mgrKnown {
		setOrDelete(d.link.Attributes, "manager", mgr)
	}
	d.link.Hash = mapping.Hash(update.attrs)
	if len(refused) > 0 {
		d.link.Hash = ""
	}
	d.link.State = store.LinkActive
	d.link.SourceUPN = src.upn()
	d.link.LastError = d.act.Error
	d.link.Created = e.now()
	if _, err := e.putLink(ctx, d.link); err != nil {
		return d.act, err
	}
	d.act.linked, d.act.activated = true, true
	return d.act, nil
}

// invite invites a source user into a target, or returns the user an
// earlier invitation of theirs returned (the link records it): a user is
// never invited twice, however often writing its attributes must be tried
// again while Graph replicates the new user.
//
// The invitation is recorded on the link before it is sent, with the
// address: a crash between the invitation and the next link write leaves
// that record, from which the next sync finds the invited user by its
// address, whether the source user is still in scope (it is adopted) or
// not (it is deprovisioned), even if their address has changed since. The
// user the invitation returns is recorded at once.
func (d *decision) invite(ctx context.Context, want desired) (directory.User, *Conflict, error) {
	e, t, src, rep := d.e, d.t, d.src, d.rep
	if d.link.State == store.LinkInviting && d.link.TargetID != "" {
		rep.step("match", "invited before as target user %s: writing its attributes", d.link.TargetID)
		return directory.User{ID: d.link.TargetID, Attrs: directory.Attributes{}}, nil, nil
	}
	address := want.address
	if prev := invitedAddress(d.link); prev != "" && prev != address && e.now().Sub(d.link.Updated) < lagTolerance {
		// An invitation of the earlier address was sent moments ago and
		// its answer lost: Graph may have carried it out, and the search
		// for its user may miss it while Graph replicates it. Inviting the
		// new address would then make a second user; inviting the earlier
		// one again returns that user if it exists, and the attribute
		// write that follows gives it the new address.
		rep.step("match", "an invitation of %s was sent %s ago: inviting it again, not %s", prev, e.now().Sub(d.link.Updated).Round(time.Second), address)
		address = prev
	} else {
		rep.step("match", "no existing target user: inviting %s", address)
	}
	// Another worker may have recorded this very invitation already (a lost
	// race brings us here again): rewriting the same record would only make
	// the workers take turns on the link.
	if invitedAddress(d.link) != address || d.link.SourceUPN != src.upn() {
		d.link.TargetID, d.link.State, d.link.SourceUPN, d.link.LastError = "", store.LinkInviting, src.upn(), ""
		d.link.Attributes, d.link.Created = directory.Attributes{"mail": address}, time.Time{}
		stored, err := e.putLink(ctx, d.link)
		if err != nil {
			return directory.User{}, nil, err
		}
		d.link = stored
	}
	userType, _ := want.attrs.String("userType")
	u, err := t.api.Invite(ctx, Invitation{
		Email:       address,
		DisplayName: stringAttr(want.attrs, "displayName"),
		RedirectURL: t.cfg.InviteRedirectURL,
		UserType:    userType,
	})
	if err != nil {
		return directory.User{}, nil, fmt.Errorf("invite %s into %s: %w", address, t.name, &inviteError{err})
	}
	// Graph answers an invitation to an address it already knows with the
	// user that has it: make sure that user is this one's before writing
	// anything to it.
	c, err := e.checkInvited(ctx, t, src, u.ID, address)
	if err != nil || c != nil {
		return directory.User{}, c, err
	}
	d.link.TargetID = u.ID
	stored, err := e.putLink(ctx, d.link)
	if err != nil {
		return directory.User{}, nil, err
	}
	d.link = stored
	return u, nil, nil
}

// lagTolerance is how long after tenantsync invited a target user a 404 for
// it means "not replicated yet" rather than "gone": Graph replicates a new
// user to the directory's replicas with a delay, so that a read or a PATCH
// right after the invitation may not find it
// (learn.microsoft.com/graph/best-practices-concept, "Eventual
// consistency" — hedged: the docs give no bound).
const lagTolerance = 10 * time.Minute

// restoreLagTolerance is lagTolerance for a user tenantsync restored: a
// restore brings back an object every replica knew, and a user not seen
// for this long after it was purged since (an administrator's act): it is
// then created again. Shorter than for a new user, so that such a purge
// delays the user's sync by two minutes, not ten (found by the chaos
// suite, seed 391679898, whose settle timeout is three minutes).
const restoreLagTolerance = 2 * time.Minute

// notYet turns a 404 for a target user tenantsync created less than
// lagTolerance ago into a retryable error: the user is not replicated yet,
// and is never taken for gone (which would invite it again). A user found
// in the target's deleted items is gone, however recent: a delete whose
// answer was lost (a 504 after Graph carried it out) must not keep every
// later sync waiting for a replication that will never come.
func (e *Engine) notYet(ctx context.Context, t *target, link store.Link, err error) error {
	since, what, tolerance := link.Created, "invited", lagTolerance
	if !link.Restored.IsZero() && !link.Restored.Before(since) {
		since, what, tolerance = link.Restored, "restored", restoreLagTolerance
	}
	if !errors.Is(err, directory.ErrNotFound) || since.IsZero() || e.now().Sub(since) >= tolerance {
		return err
	}
	// A user invited a moment ago and found in deleted items was deleted
	// since. One restored a moment ago may show there or not while the
	// restore replicates: deleted items tell nothing then.
	if what == "invited" {
		if _, derr := t.api.GetDeletedUser(ctx, link.TargetID, []string{"id"}); derr == nil {
			return err
		}
	}
	return fmt.Errorf("%w (%s %s ago; Graph replicates a new or restored user with a delay, so this is tried again): %w",
		err, what, e.now().Sub(since).Round(time.Second), directory.ErrTransient)
}

// conflict records that a target user holds a source user's address without
// being provably theirs. The link keeps the conflict (shown by plan,
// provision, status and the status page) until the source or the target
// user changes or an operator adopts (handler adopt). It is not an error
// of the change: retrying it would find the same.
func (d *decision) conflict(ctx context.Context, address string, c Conflict) (Action, error) {
	e, t, src, rep := d.e, d.t, d.src, d.rep
	d.act.Op = OpSkip
	d.act.Conflict = &c
	d.act.setTargetID("")
	d.act.Reason = d.scope + "; conflict: " + c.Reason + "; resolve with `handler adopt --target " + t.name +
		" --source-user " + src.id + " --target-user " + c.TargetID + "` if it is this user"
	rep.step("match", "conflict: %s", c.Reason)
	if d.link.State == store.LinkConflict && d.link.TargetID == c.TargetID && d.link.LastError == c.Reason && invitedAddressOf(d.link) == address {
		d.act.known = true // recorded already: nothing to write or log again
		return d.act, nil
	}
	d.link.State, d.link.TargetID, d.link.LastError, d.link.SourceUPN = store.LinkConflict, c.TargetID, c.Reason, src.upn()
	d.link.Attributes, d.link.Hash = directory.Attributes{"mail": address}, ""
	_, err := e.putLink(ctx, d.link)
	return d.act, err
}

// checkInvited reads the user an invitation returned and reports a conflict
// when it is not provably this source user's (the address belonged to
// someone else already). A user not readable yet is a new one: Graph
// replicates a new user with a delay, while an existing one is long there.
func (e *Engine) checkInvited(ctx context.Context, t *target, src *sourceUser, id, address string) (*Conflict, error) {
	u, err := t.api.GetUser(ctx, id, []string{t.anchorAttr, "userPrincipalName", "creationType", "userType", "mail", "otherMails", "externalUserState", "identities"})
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read invited target user %s: %w", id, err)
	}
	if a, _ := u.Attrs.String(t.anchorAttr); a == e.anchorValue(src.id) {
		return nil, nil
	}
	if why, ok := e.provable(t, src, u, address); !ok {
		return &Conflict{TargetID: u.ID, Reason: "the invitation to " + address + " returned target user " + u.ID + ", who " + why}, nil
	}
	return nil, nil
}

// invitedAddress is the address of an invitation a crash interrupted
// before its link was written, or "".
func invitedAddress(l store.Link) string {
	if l.State != store.LinkInviting {
		return ""
	}
	return invitedAddressOf(l)
}

func invitedAddressOf(l store.Link) string {
	s, _ := directory.Attributes(l.Attributes).String("mail")
	return s
}

// matched is the outcome of looking for an unlinked source user's target user.
type matched struct {
	user     *directory.User // the user to adopt; nil to invite
	how      string
	conflict *Conflict // a user in the way, not provably this one's
}

// match looks for the target user of an unlinked source user: by anchor,
// then, among the users with the invitation address (or invited, the
// address of an invitation a crash interrupted), one that is provably this
// source user's. A user with the address that is not is a conflict.
func (e *Engine) match(ctx context.Context, t *target, src *sourceUser, address, invited string, attrs []string) (matched, error) {
	anchor := e.anchorValue(src.id)
	attrs = append(attrs, t.anchorAttr, "userPrincipalName", "creationType", "userType", "mail", "otherMails", "manager",
		"externalUserState", "identities")
	conds := []Cond{
		{Attr: t.anchorAttr, Value: anchor},
		{Attr: "mail", Value: address},
		{Attr: "otherMails", Value: address},
	}
	if strings.EqualFold(invited, address) {
		invited = ""
	}
	if invited != "" {
		conds = append(conds, Cond{Attr: "mail", Value: invited}, Cond{Attr: "otherMails", Value: invited})
	}
	users, err := t.api.FindUsers(ctx, conds, dedupe(attrs))
	if err != nil {
		return matched{}, fmt.Errorf("find target user of %s in %s: %w", src.id, t.name, err)
	}
	sort.Slice(users, func(i, j int) bool { return users[i].ID < users[j].ID })
	var byAnchor, byAddress []directory.User
	for _, u := range users {
		a, _ := u.Attrs.String(t.anchorAttr)
		switch {
		case a == anchor:
			byAnchor = append(byAnchor, u)
		case hasAddress(u, address):
			byAddress = append(byAddress, u)
		case invited != "" && hasAddress(u, invited):
			byAddress = append(byAddress, u)
		}
	}
	if len(byAnchor) > 0 {
		// Several users with our anchor can only come from outside
		// interference; take the lowest id deterministically, report the rest.
		u := byAnchor[0]
		how := "matched target user " + u.ID + " by anchor " + t.anchorAttr
		if len(byAnchor) > 1 {
			how += fmt.Sprintf(" (warning: %d target users carry this anchor)", len(byAnchor))
		}
		return matched{user: &u, how: how}, nil
	}
	for _, u := range byAddress {
		addr := address
		if !hasAddress(u, address) {
			addr = invited + " (an invitation a crash interrupted)"
		}
		if why, ok := e.provable(t, src, u, addr); ok {
			return matched{user: &u, how: "adopted existing target user " + u.ID + " with address " + addr + ": " + why}, nil
		}
	}
	if len(byAddress) > 0 {
		u := byAddress[0]
		why, _ := e.provable(t, src, u, address)
		return matched{conflict: &Conflict{TargetID: u.ID, Reason: "target user " + u.ID + " has the address " + address + " but " + why}}, nil
	}
	return matched{}, nil
}

// provable says whether an existing target user with a source user's
// address is provably that source user, and why or why not. Only these
// are: an unredeemed invitation (externalUserState PendingAcceptance) of a
// B2B user, and a B2B user who redeemed with an identity issued by the
// source tenant; an internal member only when adoptMembers allows it. A
// user carrying an anchor is someone else's. Cross-Tenant Synchronization
// likewise matches on the source identity and never takes over an account
// that only shares an address.
func (e *Engine) provable(t *target, src *sourceUser, u directory.User, address string) (string, bool) {
	if a, _ := u.Attrs.String(t.anchorAttr); a != "" {
		return fmt.Sprintf("carries another anchor in %s (%q): it belongs to another source user or another sync", t.anchorAttr, a), false
	}
	if !isB2B(u) {
		if t.cfg.AdoptMembers {
			return "an internal member, adopted as adoptMembers allows", true
		}
		return "is an internal member of the target, not a B2B user (set adoptMembers: true to take such users over)", false
	}
	state, _ := u.Attrs.String("externalUserState")
	if strings.EqualFold(state, "PendingAcceptance") {
		return "an unredeemed invitation for " + address, true
	}
	var issuers []string
	for _, id := range u.Identities() {
		if id.Issuer == "" || strings.EqualFold(id.SignInType, "userPrincipalName") {
			continue // the target's own sign-in name, not the redemption
		}
		if e.sourceIssuer(src, id.Issuer) {
			return "redeemed with the source tenant (" + id.Issuer + ")", true
		}
		issuers = append(issuers, describeIssuer(id.Issuer))
	}
	switch {
	case len(issuers) > 0:
		return "is a guest who redeemed with " + strings.Join(issuers, ", ") + ", not with the source tenant " + e.sourceTenant, false
	case state != "":
		return "is an external user (" + state + ") whose identities do not name the source tenant " + e.sourceTenant, false
	}
	return "is an external user whose redemption cannot be told (no externalUserState or identities)", false
}

// sourceIssuer reports whether an identity issuer is the source tenant: its
// configured id or domain, or the domain of the source user's
// userPrincipalName (always a verified domain of the source tenant).
func (e *Engine) sourceIssuer(src *sourceUser, issuer string) bool {
	if strings.EqualFold(issuer, e.sourceTenant) {
		return true
	}
	if _, domain, ok := strings.Cut(src.upn(), "@"); ok && !strings.Contains(strings.ToUpper(src.upn()), "#EXT#") {
		return strings.EqualFold(issuer, domain)
	}
	return false
}

// describeIssuer names an identity issuer for people.
func describeIssuer(issuer string) string {
	switch strings.ToLower(issuer) {
	case "microsoftaccount", "live.com":
		return "a personal Microsoft account (" + issuer + ")"
	case "mail", "emailotp":
		return "a one-time passcode (" + issuer + ")"
	case "externalazuread":
		return "an unnamed Microsoft Entra organization (" + issuer + ")"
	}
	return "another organization (" + issuer + ")"
}

func hasAddress(u directory.User, addr string) bool {
	if m, _ := u.Attrs.String("mail"); strings.EqualFold(m, addr) {
		return true
	}
	others, _ := u.Attrs["otherMails"].([]string)
	for _, o := range others {
		if strings.EqualFold(o, addr) {
			return true
		}
	}
	return false
}

// isB2B reports whether a target user is an external (B2B) user rather than
// an internal member of the target tenant.
func isB2B(u directory.User) bool {
	if c, _ := u.Attrs.String("creationType"); c == "Invitation" {
		return true
	}
	if strings.Contains(strings.ToUpper(u.UPN()), "#EXT#") {
		return true
	}
	return false
}

// targetManager resolves a source manager id to the manager's target user
// through the links. known is false when the mapping does not apply: the
// user's manager is then left as it is. A manager whose target user is
// still there and tenantsync's resolves to it: active, disabled (in the
// source, or deprovisioned by disabling), or with a deprovision pending or
// held by the deletion guard; a held burst must change nothing, the
// reports' managers included. A manager with no such target user (deleted,
// in conflict, not synced yet) resolves to none: a target user's manager
// never names someone who is not their manager in the source, and when the
// manager's link becomes active, its sync sends the reports again
// (Result.FollowUps) to set it.
func (e *Engine) targetManager(ctx context.Context, t *target, want desired) (id string, known bool, err error) {
	if !want.managerApplies {
		return "", false, nil
	}
	if want.manager == "" {
		return "", true, nil
	}
	l, ok, err := e.getLink(ctx, t.name, want.manager)
	if err != nil {
		return "", false, err
	}
	if !ok || l.TargetID == "" {
		return "", true, nil
	}
	switch l.State {
	case store.LinkActive, store.LinkDisabled, store.LinkPending, store.LinkStaged:
		return l.TargetID, true, nil
	}
	return "", true, nil
}

func (e *Engine) putLink(ctx context.Context, l store.Link) (store.Link, error) {
	l.Updated = e.now()
	if l.Created.IsZero() {
		l.Created = l.Updated
	}
	out, err := e.store.PutLink(ctx, l)
	if err != nil {
		return out, fmt.Errorf("write link %s/%s: %w", l.Target, l.SourceID, err)
	}
	return out, nil
}

// failLink notes a failure on the link (for status) and returns err.
func (e *Engine) failLink(ctx context.Context, l store.Link, err error) error {
	if directory.Retryable(err) {
		return err
	}
	l.LastError = err.Error()
	if _, perr := e.putLink(ctx, l); perr != nil && !errors.Is(perr, store.ErrConflict) {
		e.log.WarnContext(ctx, "could not record the error on the link", "target", l.Target, "sourceId", l.SourceID, "err", perr)
	}
	if errors.Is(err, directory.ErrBadRequest) {
		return fmt.Errorf("%w: %w", err, ErrPermanent)
	}
	return err
}

func addChange(a *Action, attr string, old, new any) {
	if a.Changes == nil {
		a.Changes = mapping.Changes{}
	}
	a.Changes[attr] = mapping.Change{Old: old, New: new}
}

func mergeAttrs(base, over directory.Attributes) directory.Attributes {
	out := base.Clone()
	if out == nil {
		out = directory.Attributes{}
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

func setOrDelete(a directory.Attributes, k, v string) {
	if v == "" {
		delete(a, k)
		return
	}
	a[k] = v
}

func stringAttr(a directory.Attributes, k string) string {
	s, _ := a.String(k)
	return s
}

// deprovisionAction is the configured deprovision action, with its default.
func deprovisionAction(t config.Target) config.DeprovisionAction {
	if t.Deprovision.Action == "" {
		return config.DeprovisionDelete
	}
	return t.Deprovision.Action
}
