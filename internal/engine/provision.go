package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/mapping"
	"github.com/tenantsync/tenantsync/internal/store"
)

// provision makes the target user of an in-scope source user exist, enabled
// or disabled as the source is, with the mapped attributes.
func (e *Engine) provision(ctx context.Context, t *target, src *source, ch Change, link store.Link, hasLink bool, scopeReason string, act Action, rep *Report) (Action, error) {
	if hasLink && link.TargetID != "" {
		restored := false
		switch link.State {
		case store.LinkDeleted:
			if err := e.restore(ctx, t, &link, rep); err != nil {
				if !errors.Is(err, directory.ErrNotFound) {
					return act, err
				}
				// Gone for good from the target's deleted items: start over.
				rep.step("match", "target user %s is gone for good; creating a new one", link.TargetID)
				if err := e.store.DeleteLink(ctx, link); err != nil && !errors.Is(err, store.ErrNotFound) {
					return act, fmt.Errorf("drop link %s/%s: %w", t.name, src.id, err)
				}
				return e.matchOrCreate(ctx, t, src, store.Link{Target: t.name, SourceID: src.id}, scopeReason, act, rep)
			}
			restored = true
		case store.LinkStaged:
			if err := e.cancelDeletion(ctx, t, src.id); err != nil {
				return act, err
			}
			rep.step("guard", "back in scope: the staged deprovision is cancelled")
		}
		return e.update(ctx, t, src, ch, link, restored, scopeReason, act, rep)
	}
	return e.matchOrCreate(ctx, t, src, link, scopeReason, act, rep)
}

// update brings a linked target user in line with the source.
func (e *Engine) update(ctx context.Context, t *target, src *source, ch Change, link store.Link, restored bool, scopeReason string, act Action, rep *Report) (Action, error) {
	activating := restored || link.State != store.LinkActive
	want, err := e.desiredFor(ctx, t, src, mapping.Update)
	if err != nil {
		return act, err
	}
	current := directory.Attributes(link.Attributes)
	hiddenManager := false
	if ch.Force {
		// The target may have drifted from what we wrote: compare with it as
		// it is, its manager included.
		keys := want.attrs.Keys()
		if t.mappings.HasManager() {
			keys = append(keys, mapping.ManagerAttribute)
		}
		tu, err := t.api.GetUser(ctx, link.TargetID, keys)
		switch {
		case errors.Is(err, directory.ErrNotFound):
			return e.lostTarget(ctx, t, src, link, scopeReason, act, rep)
		case err != nil:
			return act, fmt.Errorf("read target user %s: %w", link.TargetID, err)
		}
		// Graph shows no manager while the manager is soft deleted, and the
		// reference comes back with a restore: when a manager was written,
		// a manager that must go is removed even if none shows.
		hiddenManager = directory.IsEmpty(tu.Attrs[mapping.ManagerAttribute]) && !directory.IsEmpty(current[mapping.ManagerAttribute])
		current = mergeAttrs(current, tu.Attrs)
	}
	mgr, mgrKnown, err := e.targetManager(ctx, t, want)
	if err != nil {
		return act, err
	}
	changes := mapping.Diff(current, want.attrs)
	mgrChange := mgrKnown && (!directory.Equal(current["manager"], mgr) || mgr == "" && hiddenManager)
	act.Changes = changes.Redact(want.redacted)
	if mgrChange {
		addChange(&act, "manager", current["manager"], mgr)
	}
	act.Op = OpUpdate
	if restored {
		act.Op = OpRestore
	} else if c, ok := changes["accountEnabled"]; ok && c.New == false {
		act.Op = OpDisable
	}
	hash := mapping.Hash(want.attrs)
	if len(changes) == 0 && !mgrChange && !restored {
		act.Op = OpNoop
		act.Reason = scopeReason + "; target user is up to date"
		rep.step("action", "no change")
		if link.State != store.LinkActive || link.Hash != hash {
			link.State, link.Hash, link.LastError = store.LinkActive, hash, ""
			if _, err := e.putLink(ctx, link); err != nil {
				return act, err
			}
		}
		act.linked, act.activated = true, activating
		return act, nil
	}
	act.Reason = scopeReason
	rep.step("action", "%s: %s", act.Op, summarize(act.Changes))
	if len(changes) > 0 {
		if err := t.api.UpdateUser(ctx, link.TargetID, changes.Patch()); err != nil {
			if errors.Is(err, directory.ErrNotFound) {
				return e.lostTarget(ctx, t, src, link, scopeReason, act, rep)
			}
			return act, e.failLink(ctx, link, fmt.Errorf("update target user %s: %w", link.TargetID, err))
		}
	}
	if mgrChange {
		if err := setManager(ctx, t, link.TargetID, mgr); err != nil {
			return act, e.failLink(ctx, link, fmt.Errorf("set manager of target user %s: %w", link.TargetID, err))
		}
	}
	link.Attributes = mergeAttrs(current, want.attrs)
	if mgrKnown {
		setOrDelete(link.Attributes, "manager", mgr)
	}
	link.Hash, link.State, link.LastError = hash, store.LinkActive, ""
	link.SourceUPN = src.upn()
	if _, err = e.putLink(ctx, link); err != nil {
		return act, err
	}
	act.linked, act.activated = true, activating
	return act, nil
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
func (e *Engine) lostTarget(ctx context.Context, t *target, src *source, link store.Link, scopeReason string, act Action, rep *Report) (Action, error) {
	rep.step("match", "linked target user %s no longer exists", link.TargetID)
	err := e.restore(ctx, t, &link, rep)
	if err == nil {
		link.Attributes = nil // unknown after someone else's delete: rewrite all
		return e.update(ctx, t, src, Change{Kind: KindUser, ID: src.id, Force: true}, link, true, scopeReason, act, rep)
	}
	if !errors.Is(err, directory.ErrNotFound) {
		return act, err
	}
	if err := e.store.DeleteLink(ctx, link); err != nil && !errors.Is(err, store.ErrNotFound) {
		return act, fmt.Errorf("drop link %s/%s: %w", t.name, src.id, err)
	}
	return e.matchOrCreate(ctx, t, src, store.Link{Target: t.name, SourceID: src.id}, scopeReason, act, rep)
}

func (e *Engine) restore(ctx context.Context, t *target, link *store.Link, rep *Report) error {
	if err := t.api.RestoreUser(ctx, link.TargetID); err != nil {
		return fmt.Errorf("restore target user %s: %w", link.TargetID, err)
	}
	rep.step("action", "restored target user %s from deleted items", link.TargetID)
	link.State = store.LinkActive
	return nil
}

// matchOrCreate finds the target user of an unlinked source user (by anchor,
// then by invitation address among B2B users) or invites a new one, then
// writes the link.
func (e *Engine) matchOrCreate(ctx context.Context, t *target, src *source, link store.Link, scopeReason string, act Action, rep *Report) (Action, error) {
	want, err := e.desiredFor(ctx, t, src, mapping.Create)
	if err != nil {
		return act, err
	}
	// The link's hash is always over what an update writes, so that the
	// next comparison is like for like.
	update, err := e.desiredFor(ctx, t, src, mapping.Update)
	if err != nil {
		return act, err
	}
	if want.address == "" {
		act.Op = OpSkip
		act.Reason = scopeReason + "; skipped: no invitation address (the inviteAddress expression is empty for this user)"
		rep.step("match", "no invitation address")
		return act, nil
	}
	found, how, err := e.match(ctx, t, src.id, want.address, invitedAddress(link), want.attrs.Keys())
	if err != nil {
		return act, err
	}
	mgr, mgrKnown, err := e.targetManager(ctx, t, want)
	if err != nil {
		return act, err
	}
	var current directory.Attributes
	if found != nil {
		// Adopted: the user exists, so this is an update of what is there.
		rep.step("match", "%s", how)
		want = update
		link.TargetID = found.ID
		current = found.Attrs
		act.Op = OpUpdate
		act.Reason = scopeReason + "; " + how
	} else {
		rep.step("match", "no existing target user: inviting %s", want.address)
		// Record the invitation before sending it. A crash between the
		// invitation and the link write leaves this link, from which the
		// next sync finds the invited user by its address, whether the
		// source user is still in scope (it is adopted) or not (it is
		// deprovisioned), even if their address has changed since.
		// Another worker may have recorded this very invitation already (a
		// lost race brings us here again): rewriting the same record would
		// only make the workers take turns on the link.
		if invitedAddress(link) != want.address || link.SourceUPN != src.upn() {
			link.TargetID, link.State, link.SourceUPN = "", store.LinkInviting, src.upn()
			link.Attributes = directory.Attributes{"mail": want.address}
			if link, err = e.putLink(ctx, link); err != nil {
				return act, err
			}
		}
		u, err := t.api.Invite(ctx, Invitation{
			Email:       want.address,
			DisplayName: stringAttr(want.attrs, "displayName"),
			RedirectURL: t.cfg.InviteRedirectURL,
			UserType:    string(userType(t.cfg)),
		})
		if err != nil {
			return act, fmt.Errorf("invite %s into %s: %w", want.address, t.name, err)
		}
		link.TargetID = u.ID
		current = u.Attrs
		act.Op = OpCreate
		act.Reason = scopeReason + "; invited " + want.address
		act.Changes = mapping.Diff(nil, want.attrs).Redact(want.redacted)
	}
	act.setTargetID(link.TargetID)
	changes := mapping.Diff(current, want.attrs)
	if act.Op == OpUpdate {
		act.Changes = changes.Redact(want.redacted)
	}
	if len(changes) > 0 {
		if err := t.api.UpdateUser(ctx, link.TargetID, changes.Patch()); err != nil {
			return act, fmt.Errorf("write attributes of target user %s: %w", link.TargetID, err)
		}
	}
	if mgrKnown && !directory.Equal(current["manager"], mgr) {
		if err := setManager(ctx, t, link.TargetID, mgr); err != nil {
			return act, fmt.Errorf("set manager of target user %s: %w", link.TargetID, err)
		}
		addChange(&act, "manager", current["manager"], mgr)
	} else if found != nil && mgrKnown && mgr == "" {
		// An adopted user that shows no manager may still refer to a
		// soft-deleted one, which comes back when that user is restored:
		// remove the reference too (setManager takes "none" for done).
		if err := setManager(ctx, t, link.TargetID, ""); err != nil {
			return act, fmt.Errorf("remove manager of target user %s: %w", link.TargetID, err)
		}
	}
	rep.step("action", "%s: %s", act.Op, summarize(act.Changes))
	link.Attributes = mergeAttrs(current, want.attrs)
	if mgrKnown {
		setOrDelete(link.Attributes, "manager", mgr)
	}
	link.Hash = mapping.Hash(update.attrs)
	link.State = store.LinkActive
	link.SourceUPN = src.upn()
	link.Created = e.now()
	if _, err := e.putLink(ctx, link); err != nil {
		return act, err
	}
	act.linked, act.activated = true, true
	return act, nil
}

// invitedAddress is the address of an invitation a crash interrupted
// before its link was written, or "".
func invitedAddress(l store.Link) string {
	if l.State != store.LinkInviting {
		return ""
	}
	s, _ := directory.Attributes(l.Attributes).String("mail")
	return s
}

// match looks for the target user of an unlinked source user: by anchor,
// then among B2B users by the invitation address, or by invited, the
// address of an invitation a crash interrupted.
func (e *Engine) match(ctx context.Context, t *target, sourceID, address, invited string, attrs []string) (*directory.User, string, error) {
	anchor := e.anchorValue(sourceID)
	attrs = append(attrs, "userPrincipalName", "creationType", "userType", "mail", "otherMails", "manager")
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
		return nil, "", fmt.Errorf("find target user of %s in %s: %w", sourceID, t.name, err)
	}
	var byAnchor, byAddress []directory.User
	for _, u := range users {
		a, _ := u.Attrs.String(t.anchorAttr)
		switch {
		case a == anchor:
			byAnchor = append(byAnchor, u)
		case a != "":
			// Someone else's anchor: another source user (or another
			// tenantsync) owns it. Never take it over.
		case hasAddress(u, address) || invited != "" && hasAddress(u, invited) && isB2B(u):
			byAddress = append(byAddress, u)
		}
	}
	if len(byAnchor) > 0 {
		// Several users with our anchor can only come from outside
		// interference; take the oldest id deterministically, report the rest.
		u := byAnchor[0]
		how := "matched target user " + u.ID + " by anchor " + t.anchorAttr
		if len(byAnchor) > 1 {
			how += fmt.Sprintf(" (warning: %d target users carry this anchor)", len(byAnchor))
		}
		return &u, how, nil
	}
	for _, u := range byAddress {
		if isB2B(u) || t.cfg.AdoptMembers {
			addr := address
			if !hasAddress(u, address) {
				addr = invited + " (an invitation a crash interrupted)"
			}
			return &u, "adopted existing target user " + u.ID + " with address " + addr, nil
		}
	}
	if len(byAddress) > 0 {
		return nil, "", fmt.Errorf("target %s: %s belongs to an internal member (%s) of the target; set adoptMembers to take it over: %w",
			t.name, address, byAddress[0].ID, ErrPermanent)
	}
	return nil, "", nil
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
	if strings.Contains(u.UPN(), "#EXT#") {
		return true
	}
	return false
}

// targetManager resolves a source manager id to the manager's target user
// through the links. known is false when the mapping does not apply: the
// user's manager is then left as it is. A manager with no active target user
// (out of the target's scope, deprovisioned, or not synced yet) resolves to
// none: a target user's manager never names someone who is not their
// manager in the source, and when the manager's link becomes active, its
// sync sends the reports again (Result.FollowUps) to set it.
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
	if !ok || l.TargetID == "" || l.State != store.LinkActive {
		return "", true, nil
	}
	return l.TargetID, true, nil
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
