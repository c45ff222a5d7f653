package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/mapping"
	"github.com/tenantsync/tenantsync/internal/store"
)

// Group provisioning (docs/groups.md): the security groups of a target's
// groups.sync (and, with scopeGroups, of its scope.groups) are created in
// the target, owned by tenantsync, and their members kept to the target
// users linked to the source group's members. The decision for one group in
// one target is a groupDecision, as a user's is a decision.

// groupTarget is a target's group provisioning, compiled.
type groupTarget struct {
	api      GroupTarget
	mappings *mapping.Set
	// anchorAttr is the group property tenantsync writes its anchor into:
	// the Graph adapter's choice, given by the wiring (Options.GroupAnchorAttr).
	anchorAttr string
	action     config.GroupDeprovision
	// names are the configured source groups, ids or display names.
	names []string
}

// newGroupTarget compiles a target's groups section; nil when it syncs no
// group.
func newGroupTarget(i int, tc config.Target, api Target, anchorAttr string) (*groupTarget, error) {
	if !tc.Groups.Enabled() {
		return nil, nil
	}
	gapi, ok := api.(GroupTarget)
	if !ok {
		return nil, fmt.Errorf("targets[%d].groups: the Target given for %q cannot provision groups (it does not implement GroupTarget)", i, tc.Name)
	}
	if anchorAttr == "" {
		return nil, fmt.Errorf("targets[%d].groups: no group anchor attribute given (Options.GroupAnchorAttr): tenantsync cannot tell its groups from others", i)
	}
	set, err := mapping.CompileGroup(tc.Groups.Mappings)
	if err != nil {
		return nil, fmt.Errorf("targets[%d].groups.mappings: %w", i, err)
	}
	for _, a := range set.TargetAttributes() {
		if strings.EqualFold(a, anchorAttr) {
			return nil, fmt.Errorf("targets[%d].groups.mappings: %s is the group anchor; tenantsync writes it, a mapping must not", i, a)
		}
	}
	return &groupTarget{api: gapi, mappings: set, anchorAttr: anchorAttr, action: tc.Groups.Action(), names: tc.GroupNames()}, nil
}

// groupGuardPrefix marks a group's entry in the deletion guard and among
// the staged deletions, which are keyed by source id: "group:" + the source
// group's id. Object ids never contain ':'.
const groupGuardPrefix = "group:"

// groupGuardID is the deletion guard's key for a source group.
func groupGuardID(groupID string) string { return groupGuardPrefix + groupID }

// groupOfGuardID returns the source group of a guard key, if it is one.
func groupOfGuardID(id string) (string, bool) { return strings.CutPrefix(id, groupGuardPrefix) }

// guardChange is the change that re-checks a deprovision the guard holds:
// a group's or a user's.
func guardChange(id, cause string, observed time.Time) Change {
	if g, ok := groupOfGuardID(id); ok {
		return Change{Kind: KindGroup, ID: g, Cause: cause, Observed: observed}
	}
	return Change{Kind: KindUser, ID: id, Cause: cause, Observed: observed}
}

// groupAnchorValue is what tenantsync writes into the anchor property of
// every group it creates: "tenantsync.<source tenant>.<source group id>",
// in the characters an alternate key takes without escaping (the Graph
// adapter's uniqueName: letters, digits, '.', '_', '-', at most 128). A
// source tenant named by a long or unusual domain is named by a digest.
func (e *Engine) groupAnchorValue(sourceGroupID string) string {
	tenant := strings.ToLower(e.sourceTenant)
	if len(tenant) > 64 || strings.Trim(tenant, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" {
		sum := sha256.Sum256([]byte(tenant))
		tenant = hex.EncodeToString(sum[:8])
	}
	return "tenantsync." + tenant + "." + sourceGroupID
}

// CauseGroupSync marks a group change that provisions the group alone: a
// follow-up of a user's sync or of a groups delta. Any other group change
// (a notification) first catches up the groups delta.
const CauseGroupSync = "groupsync"

// groupOnlyCauses are the causes of group changes that provision the group
// without reading the groups delta.
var groupOnlyCauses = []string{CauseGroupSync, "guard", "approve", "ondemand", "full", "plan"}

// GroupAction is the decision for one source group in one target, and its
// outcome: the element of a target's "groups" in `plan --json`.
type GroupAction struct {
	Op          Op              `json:"action"`
	SourceID    string          `json:"sourceId"`
	DisplayName string          `json:"displayName"`
	TargetID    *string         `json:"targetId"`
	Reason      string          `json:"reason"`
	Changes     mapping.Changes `json:"changes,omitempty"`
	// MembersBefore and MembersAfter count the target group's direct
	// members before and after (hand-added members included).
	MembersBefore int `json:"membersBefore"`
	MembersAfter  int `json:"membersAfter"`
	// Added and Removed are the target users added and removed.
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
	// Held is true when the deletion guard staged the group's deletion.
	Held         bool       `json:"held,omitempty"`
	PendingUntil *time.Time `json:"pendingUntil,omitempty"`
	// Conflict names a target group with the name the source group maps to
	// that tenantsync does not own: nothing was written to it.
	Conflict   *Conflict `json:"conflict,omitempty"`
	RequestIDs []string  `json:"requestIds,omitempty"`
	Error      string    `json:"error,omitempty"`
	Target     string    `json:"-"`

	// burst are the other deprovisions the guard staged with this one.
	burst []string
	// known: a conflict recorded before, not logged again.
	known bool
	// stagedBefore: staged already before this sync.
	stagedBefore bool
	// cancelled names the deletion ("pending" or "staged") this sync
	// cancelled because the group is synced again.
	cancelled string
}

func (a *GroupAction) setTargetID(id string) {
	if id == "" {
		a.TargetID = nil
		return
	}
	a.TargetID = &id
}

// AsAction renders a group's action in the form of a user's, for the
// callers that list both (deletions approve, provision, adopt): the user
// is "group <displayName>".
func (a GroupAction) AsAction() Action {
	return Action{Op: a.Op, SourceID: a.SourceID, UserPrincipalName: "group " + a.DisplayName, TargetID: a.TargetID,
		Reason: a.Reason, Changes: a.Changes, Held: a.Held, PendingUntil: a.PendingUntil, Conflict: a.Conflict,
		RequestIDs: a.RequestIDs, Error: a.Error, Target: a.Target}
}

// groupSource returns the source's group reads: the real source's, in a dry
// run too (a survey holds no groups).
func (e *Engine) groupSource() (GroupSource, error) {
	src := e.source
	if ss, ok := src.(surveySource); ok {
		src = ss.Source
	}
	gs, ok := src.(GroupSource)
	if !ok {
		return nil, fmt.Errorf("the source cannot read groups (it does not implement GroupSource): %w", ErrPermanent)
	}
	return gs, nil
}

// groupAPI returns a target's group writes: in a dry run (the engine's
// store is the overlay), a wrapper that reads and never writes, so that no
// path of a dry run can write a group whatever it decides.
func (e *Engine) groupAPI(t *target) GroupTarget {
	if _, dry := e.store.(*overlayStore); dry {
		return dryGroupTarget{real: t.group.api}
	}
	return t.group.api
}

// syncedGroup is a configured group resolved: the group, and the entry of
// the configuration (id or display name) that selects it.
type syncedGroup struct {
	directory.Group
	as string
}

// syncedGroups resolves a target's configured groups (ids or display
// names) to source groups. A name that matches no group is the group
// linked under that name, if any (a source group renamed, which stays
// synced), or else left out with a warning (a group deleted in the source
// is deprovisioned as one no longer synced); a name that matches several
// is an error: nothing is decided for the target's groups until it is
// configured by id.
func (e *Engine) syncedGroups(ctx context.Context, t *target) ([]syncedGroup, error) {
	if t.group == nil {
		return nil, nil
	}
	var out []syncedGroup
	var links []store.GroupLink
	for _, name := range t.group.names {
		g, found, err := e.findGroup(ctx, t, "synced group", name)
		if err != nil {
			return nil, err
		}
		if !found {
			if links == nil {
				if links, err = e.store.ListGroupLinks(ctx, t.name); err != nil {
					return nil, fmt.Errorf("list group links of %s: %w", t.name, err)
				}
			}
			i := slices.IndexFunc(links, func(l store.GroupLink) bool { return strings.EqualFold(l.SyncedAs, name) })
			if i < 0 {
				e.log.WarnContext(ctx, "a synced group is not in the source tenant", "target", t.name, "group", name)
				continue
			}
			// Renamed (or deleted: its sync finds out) since it was
			// linked. Not cached: the name may come back.
			g = directory.Group{ID: links[i].SourceID, DisplayName: links[i].SourceName}
		}
		if !slices.ContainsFunc(out, func(o syncedGroup) bool { return o.ID == g.ID }) {
			out = append(out, syncedGroup{Group: g, as: name})
		}
	}
	return out, nil
}

// syncedIDs returns the object ids of a target's synced groups.
func (e *Engine) syncedIDs(ctx context.Context, t *target) ([]string, error) {
	groups, err := e.syncedGroups(ctx, t)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(groups))
	for i, g := range groups {
		ids[i] = g.ID
	}
	return ids, nil
}

// groupsOfMember maps every group whose membership change may change a
// synced group's members to the synced groups concerned: each synced group
// itself, and for targets with nested scopes every group inside one.
func (e *Engine) groupsOfMember(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	add := func(k, v string) {
		if !slices.Contains(out[k], v) {
			out[k] = append(out[k], v)
		}
	}
	for _, t := range e.targets {
		ids, err := e.syncedIDs(ctx, t)
		if err != nil && permanent(err) {
			// Not the delta's to fail for: the full pass reports it per group.
			e.log.WarnContext(ctx, "the synced groups cannot be resolved", "target", t.name, "err", err)
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, g := range ids {
			add(g, g)
			if !t.cfg.Scope.Nested {
				continue
			}
			m, err := e.source.GroupMembers(ctx, g, true)
			if err != nil && !errors.Is(err, directory.ErrNotFound) {
				return nil, fmt.Errorf("list nested groups of synced group %s: %w", g, err)
			}
			for _, sub := range m.Groups {
				add(sub, g)
			}
		}
	}
	return out, nil
}

// syncGroupChange handles a change of the group kind: a notification first
// catches up the groups delta (which returns the users whose scope moved and
// the synced groups that changed, as follow-ups); a follow-up, a re-check or
// an approval provisions the group in every target that syncs it.
func (e *Engine) syncGroupChange(ctx context.Context, ch Change) (Result, error) {
	if !slices.Contains(groupOnlyCauses, ch.Cause) {
		return e.syncGroup(ctx, ch)
	}
	return e.provisionGroup(ctx, ch, nil, nil)
}

// provisionGroup syncs one source group into every target that syncs groups
// (or only into only): each decides whether the group is its to sync.
func (e *Engine) provisionGroup(ctx context.Context, ch Change, only *target, rep *Report) (Result, error) {
	res := Result{Change: ch}
	var errs []error
	for _, t := range e.targets {
		if t.group == nil || only != nil && t != only {
			continue
		}
		act, err := e.syncGroupTargetRetrying(ctx, t, ch, rep)
		res.Groups = append(res.Groups, act)
		if err != nil {
			errs = append(errs, err)
		}
		if act.PendingUntil != nil && (res.RecheckAt.IsZero() || act.PendingUntil.Before(res.RecheckAt)) {
			res.RecheckAt = *act.PendingUntil
		}
		for _, id := range act.burst {
			res.FollowUps = append(res.FollowUps, guardChange(id, "guard", ch.Observed))
		}
	}
	return res, joinSyncErrors(errs)
}

// syncMemberGroups syncs now, in one target, the synced groups a user's
// on-demand sync made them join or leave (memberFollowUps), noting each in
// the report.
func (e *Engine) syncMemberGroups(ctx context.Context, t *target, src *sourceUser, ch Change, act Action, rep *Report) error {
	groups, err := e.memberFollowUps(ctx, t, src, ch, act)
	if err != nil {
		return err
	}
	var errs []error
	for _, g := range groups {
		ga, err := e.syncGroupTargetRetrying(ctx, t, g, nil)
		if err != nil {
			errs = append(errs, err)
		}
		rep.step("groups", "group %s: %s (members %d → %d)", ga.DisplayName, ga.Op, ga.MembersBefore, ga.MembersAfter)
	}
	return errors.Join(errs...)
}

// memberFollowUps returns the group changes a user's sync in one target
// implies: when the user's target user became a member-to-be (created,
// restored, enabled), the synced groups the source user is in; when it
// stopped being one (a deprovision carried out), the synced groups
// tenantsync added it to.
func (e *Engine) memberFollowUps(ctx context.Context, t *target, src *sourceUser, ch Change, act Action) ([]Change, error) {
	if t.group == nil || act.Error != "" {
		return nil, nil
	}
	joined := act.activated || ch.Force && act.linked
	// A pending or held deprovision changes no group: only one carried out.
	carriedOut := (act.Op == OpDeprovision || act.Op == OpDisable) && act.PendingUntil == nil && !act.Held
	left := carriedOut || ch.Force
	if !joined && !left {
		return nil, nil
	}
	var groups []string
	if joined && !src.gone && !src.user.Deleted {
		ids, err := e.syncedIDs(ctx, t)
		if err != nil && permanent(err) {
			// A groups section that cannot be resolved fails the groups'
			// syncs, not this user's: its follow-ups are left to them.
			e.log.WarnContext(ctx, "the synced groups cannot be resolved; the user's groups are not updated", "target", t.name, "sourceId", src.id, "err", err)
			ids, err = nil, nil
		}
		if err != nil {
			return nil, err
		}
		if len(ids) > 0 {
			in, err := e.source.MemberOf(ctx, src.id, ids, t.cfg.Scope.Nested)
			if err != nil {
				return nil, fmt.Errorf("read synced groups of %s: %w", src.id, err)
			}
			groups = append(groups, in...)
		}
	}
	if left && act.TargetID != nil {
		links, err := e.store.ListGroupLinks(ctx, t.name)
		if err != nil {
			return nil, fmt.Errorf("list group links of %s: %w", t.name, err)
		}
		for _, l := range links {
			if slices.Contains(l.Members, *act.TargetID) {
				groups = append(groups, l.SourceID)
			}
		}
	}
	var out []Change
	for _, g := range dedupe(groups) {
		out = append(out, Change{Kind: KindGroup, ID: g, Cause: CauseGroupSync, Observed: ch.Observed})
	}
	return out, nil
}
