package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/store"
)

// Adopt links a source user to an existing target user on an operator's
// word: the resolution of a conflict the engine would not decide alone (a
// guest who redeemed with another identity, an internal member). It then
// syncs the user, which writes the anchor and the mapped attributes (not
// userType, unless a mapping applies it always).
//
// It refuses a target user that carries another anchor or is linked to
// another source user, and a source user who is not in the target's scope:
// adopting someone tenantsync would deprovision at once helps no one.
func (e *Engine) Adopt(ctx context.Context, targetName, sourceUser, targetUserID string) (Action, error) {
	t, err := e.target(targetName)
	if err != nil {
		return Action{}, err
	}
	src, err := e.readSource(ctx, sourceUser)
	if err != nil {
		return Action{}, err
	}
	if src.gone || src.user.Deleted {
		return Action{}, fmt.Errorf("adopt: source user %q is not a live user of %s", sourceUser, e.sourceTenant)
	}
	in, reason, err := e.inScope(ctx, t, src)
	if err != nil {
		return Action{}, err
	}
	if !in {
		return Action{}, fmt.Errorf("adopt: source user %s (%s) is %s of target %s", src.id, src.upn(), reason, t.name)
	}
	tu, err := t.api.GetUser(ctx, targetUserID, []string{t.anchorAttr, "userPrincipalName", "mail", "userType", "creationType"})
	if errors.Is(err, directory.ErrNotFound) {
		return Action{}, fmt.Errorf("adopt: target user %s: %w in %s", targetUserID, directory.ErrNotFound, t.name)
	}
	if err != nil {
		return Action{}, fmt.Errorf("adopt: read target user %s: %w", targetUserID, err)
	}
	if a, _ := tu.Attrs.String(t.anchorAttr); a != "" && a != e.anchorValue(src.id) {
		return Action{}, fmt.Errorf("adopt: target user %s carries another anchor in %s (%q): it belongs to another source user or another sync; clear it in the target first if it really is this user",
			tu.ID, t.anchorAttr, a)
	}
	other, err := e.store.GetLinkByTargetID(ctx, t.name, tu.ID)
	switch {
	case err == nil && other.SourceID != src.id && other.State != store.LinkConflict:
		return Action{}, fmt.Errorf("adopt: target user %s is already linked to source user %s (%s)", tu.ID, other.SourceID, other.SourceUPN)
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return Action{}, fmt.Errorf("adopt: read the link of target user %s: %w", tu.ID, err)
	}
	link, hasLink, err := e.getLink(ctx, t.name, src.id)
	if err != nil {
		return Action{}, err
	}
	if hasLink && link.TargetID != "" && link.TargetID != tu.ID && link.State != store.LinkConflict && link.State != store.LinkInviting {
		return Action{}, fmt.Errorf("adopt: source user %s is already linked to target user %s (state %s)", src.id, link.TargetID, link.State)
	}
	// The operator's decision, recorded: what was there is unknown, so the
	// sync that follows compares with the target user as it is.
	link.TargetID, link.State, link.LastError, link.SourceUPN = tu.ID, store.LinkActive, "", src.upn()
	link.Attributes, link.Hash = nil, ""
	if _, err := e.putLink(ctx, link); err != nil {
		return Action{}, err
	}
	e.log.InfoContext(ctx, "target user adopted by an operator", "target", t.name, "sourceId", src.id, "targetId", tu.ID)
	ev := store.Event{Time: e.now(), Target: t.name, SourceID: src.id, TargetID: tu.ID, SourceUPN: src.upn(),
		Action: "adopt", Result: "ok", Reason: "linked to target user " + tu.ID + " by an operator (handler adopt)", Trigger: "adopt"}
	if err := e.store.AppendEvent(ctx, ev); err != nil {
		e.log.WarnContext(ctx, "could not write provisioning event", "target", t.name, "sourceId", src.id, "err", err)
	}
	return e.syncTargetRetrying(ctx, t, src, Change{Kind: KindUser, ID: src.id, Cause: "adopt", Force: true}, nil)
}
