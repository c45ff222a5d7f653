package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/mapping"
	"github.com/tenantsync/tenantsync/internal/store"
)

// maxMembersPerAdd is how many members one AddGroupMembers call adds: what
// Graph takes in one PATCH with members@odata.bind.
const maxMembersPerAdd = 20

// groupDecision is one source group's sync into one target, from the reads
// to the writes: one call's state in one struct, as decision is a user's.
type groupDecision struct {
	e   *Engine
	t   *target
	api GroupTarget
	ch  Change
	rep *Report // nil but for on-demand provisioning
	id  string  // the source group's object id
	// src is the source group as read; gone when it does not exist (or is
	// soft deleted); synced when the target's configuration syncs it.
	src    directory.Group
	gone   bool
	synced bool
	// syncedAs is the configured entry that selects the group.
	syncedAs string
	// link is the group's link in the target; linked says whether one was
	// stored (otherwise it holds only its keys).
	link   store.GroupLink
	linked bool
	// created is true when this sync created the target group.
	created bool
	// recent are the wanted members whose target users were linked
	// within lagTolerance: Graph may not know them yet.
	recent map[string]bool
	act    GroupAction
}

func (e *Engine) syncGroupTargetRetrying(ctx context.Context, t *target, ch Change, rep *Report) (GroupAction, error) {
	if directory.TraceFrom(ctx) == nil {
		ctx = directory.WithTrace(ctx, &directory.Trace{})
	}
	var act GroupAction
	var err error
	for range maxRaces {
		act, err = e.syncGroupTarget(ctx, t, ch, rep)
		if !errors.Is(err, store.ErrConflict) {
			break
		}
		e.log.DebugContext(ctx, "lost a race on a group link, syncing again", "target", t.name, "groupId", ch.ID)
	}
	if errors.Is(err, errNotOurs) {
		act.Error, err = err.Error(), nil
		act.Reason += "; refused"
	}
	wide := false
	if err != nil && errors.Is(err, directory.ErrForbidden) {
		var perr error
		if wide, perr = e.targetWide(ctx, t, err); perr == nil && !wide {
			act.Error, err = err.Error(), nil
			act.Reason += "; the target refuses this group alone (its probe read succeeds)"
		}
	}
	e.finishGroup(ctx, t, &act, ch, err, wide)
	return act, err
}

// syncGroupTarget decides and carries out what one target needs for one
// source group. A store.ErrConflict means another worker changed the link
// meanwhile: the caller runs it again.
func (e *Engine) syncGroupTarget(ctx context.Context, t *target, ch Change, rep *Report) (GroupAction, error) {
	d := &groupDecision{e: e, t: t, api: e.groupAPI(t), ch: ch, rep: rep, id: ch.ID,
		act: GroupAction{Target: t.name, SourceID: ch.ID}}
	if q, until := e.quarantined(ctx, t); q != "" {
		d.act.Op, d.act.Reason = OpSkip, fmt.Sprintf("target %s is quarantined until %s: %s", t.name, until.Format(time.RFC3339), q)
		return d.act, nil
	}
	groups, err := e.syncedGroups(ctx, t)
	if err != nil {
		return d.act, err
	}
	if i := slices.IndexFunc(groups, func(g syncedGroup) bool { return g.ID == d.id }); i >= 0 {
		d.synced, d.syncedAs = true, groups[i].as
	}
	if err := d.readLink(ctx); err != nil {
		return d.act, err
	}
	if !d.linked && !d.synced {
		// Not this target's group, and never was.
		d.act.Op, d.act.Reason = OpNoop, "not a synced group of this target"
		return d.act, nil
	}
	if err := d.readSource(ctx); err != nil {
		return d.act, err
	}
	if d.gone || !d.synced {
		return d.deprovision(ctx)
	}
	return d.provision(ctx)
}

func (d *groupDecision) readSource(ctx context.Context) error {
	gs, err := d.e.groupSource()
	if err != nil {
		return err
	}
	attrs := append([]string{"displayName"}, d.t.group.mappings.SourceAttributes()...)
	g, err := gs.GetGroup(ctx, d.id, dedupe(attrs))
	switch {
	case errors.Is(err, directory.ErrNotFound):
		d.gone = true
		d.rep.step("import", "source group %s does not exist (deleted)", d.id)
		return nil
	case err != nil:
		return fmt.Errorf("read source group %s: %w", d.id, err)
	}
	d.src = g
	d.act.DisplayName = g.DisplayName
	d.rep.step("import", "read source group %s (%s)", g.ID, g.DisplayName)
	return nil
}

func (d *groupDecision) readLink(ctx context.Context) error {
	l, err := d.e.store.GetGroupLink(ctx, d.t.name, d.id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		d.link, d.linked = store.GroupLink{Target: d.t.name, SourceID: d.id}, false
		return nil
	case err != nil:
		return fmt.Errorf("read group link %s/%s: %w", d.t.name, d.id, err)
	}
	d.link, d.linked = l, true
	if d.act.DisplayName == "" {
		d.act.DisplayName = l.SourceName
	}
	if l.TargetID != "" && l.State != store.GroupConflict {
		d.act.setTargetID(l.TargetID)
	}
	d.rep.step("match", "linked to target group %s (state %s)", l.TargetID, l.State)
	return nil
}

// putLink writes the group link and keeps the decision's copy current.
func (d *groupDecision) putLink(ctx context.Context) error {
	l := d.link
	l.Updated = d.e.now()
	if l.Created.IsZero() {
		l.Created = l.Updated
	}
	if d.src.DisplayName != "" {
		l.SourceName = d.src.DisplayName
	}
	if d.syncedAs != "" {
		l.SyncedAs = d.syncedAs
	}
	stored, err := d.e.store.PutGroupLink(ctx, l)
	if err != nil {
		return fmt.Errorf("write group link %s/%s: %w", l.Target, l.SourceID, err)
	}
	d.link, d.linked = stored, true
	return nil
}

// desired maps the source group to the target group's properties, the
// anchor among them.
func (d *groupDecision) desired(op mapping.Op) (directory.Attributes, error) {
	attrs := d.src.Attrs.Clone()
	if attrs == nil {
		attrs = directory.Attributes{}
	}
	attrs["id"], attrs["displayName"] = d.src.ID, d.src.DisplayName
	res, err := d.t.group.mappings.Map(directory.User{ID: d.src.ID, Attrs: attrs}, op, mapping.Options{Now: d.e.now})
	if err != nil {
		return nil, fmt.Errorf("map group %s for %s: %w: %w", d.id, d.t.name, err, ErrPermanent)
	}
	want := res.Attrs
	if want == nil {
		want = directory.Attributes{}
	}
	if name, _ := want.String("displayName"); strings.TrimSpace(name) == "" {
		return nil, fmt.Errorf("map group %s for %s: the displayName mapping gives no name: %w", d.id, d.t.name, ErrPermanent)
	}
	want[d.t.group.anchorAttr] = d.e.groupAnchorValue(d.id)
	return want, nil
}

// readAttrs are the target group properties a sync reads: what the
// mappings write, and the anchor.
func (d *groupDecision) readAttrs() []string {
	return dedupe(append(d.t.group.mappings.TargetAttributes(), d.t.group.anchorAttr, "displayName"))
}

// ours reports whether a target group is provably this source group's: it
// carries tenantsync's anchor for it, or it is the group an operator
// adopted for it (the link says so) and carries no anchor at all.
func (d *groupDecision) ours(g directory.Group) bool {
	a, _ := g.Attrs.String(d.t.group.anchorAttr)
	if a == d.e.groupAnchorValue(d.id) {
		return true
	}
	return a == "" && d.linked && d.link.Adopted && g.ID != "" && g.ID == d.link.TargetID
}

// provision makes the target group of a synced source group exist, with the
// mapped properties and the members it should have.
func (d *groupDecision) provision(ctx context.Context) (GroupAction, error) {
	if d.link.State == store.GroupPending || d.link.State == store.GroupStaged {
		if err := d.cancel(ctx); err != nil {
			return d.act, err
		}
	}
	current, found, err := d.locate(ctx)
	if err != nil || d.act.Conflict != nil {
		return d.act, err
	}
	if !found {
		if _, err = d.create(ctx); err != nil {
			return d.act, err
		}
	} else if err := d.update(ctx, current); err != nil {
		return d.act, err
	}
	if err := d.members(ctx); err != nil {
		return d.act, err
	}
	switch {
	case d.created:
		d.act.Op = OpCreate
		d.act.Reason = "synced group; created as a security group"
	case len(d.act.Changes) > 0 || len(d.act.Added) > 0 || len(d.act.Removed) > 0:
		d.act.Op = OpUpdate
		d.act.Reason = "synced group; updated"
	default:
		d.act.Op = OpNoop
		d.act.Reason = "synced group; up to date"
	}
	if d.link.State != store.GroupActive || d.link.LastError != "" {
		d.link.State, d.link.LastError = store.GroupActive, ""
		if err := d.putLink(ctx); err != nil {
			return d.act, err
		}
	}
	return d.act, nil
}

// locate finds the target group that is this source group's: the linked
// one (restored from deleted items if it was deleted), else one with the
// mapped name (or the name an interrupted create used) that carries
// tenantsync's anchor for it. A group with that name that is not provably
// ours is a conflict (d.act.Conflict): nothing is written to it.
func (d *groupDecision) locate(ctx context.Context) (directory.Group, bool, error) {
	if d.linked && d.link.TargetID != "" && d.link.State != store.GroupConflict && d.link.State != store.GroupCreating {
		g, err := d.api.GetGroup(ctx, d.link.TargetID, d.readAttrs())
		if errors.Is(err, directory.ErrNotFound) && d.e.now().Sub(d.link.Created) < lagTolerance {
			// Graph replicates a new group with a delay: a group created a
			// moment ago that does not show yet is not gone, and creating
			// another would make two.
			return g, false, fmt.Errorf("read target group %s (created %s ago; Graph replicates a new group with a delay, so this is tried again): %w: %w",
				d.link.TargetID, d.e.now().Sub(d.link.Created).Round(time.Second), err, directory.ErrTransient)
		}
		if errors.Is(err, directory.ErrNotFound) {
			// Deleted, by tenantsync or by a target administrator: the
			// group is synced, so it comes back, with its members.
			d.rep.step("match", "target group %s is not live; restoring it", d.link.TargetID)
			rerr := d.api.RestoreGroup(ctx, d.link.TargetID)
			switch {
			case rerr == nil:
				if _, dry := d.e.store.(*overlayStore); dry {
					// A dry run restores nothing: the group stands as last written.
					return directory.Group{ID: d.link.TargetID, DisplayName: stringAttr(d.link.Attributes, "displayName"),
						Attrs: directory.Attributes(d.link.Attributes).Clone()}, true, nil
				}
				if g, err = d.api.GetGroup(ctx, d.link.TargetID, d.readAttrs()); errors.Is(err, directory.ErrNotFound) {
					return g, false, fmt.Errorf("read target group %s, just restored: %w: %w", d.link.TargetID, err, directory.ErrTransient)
				}
			case !errors.Is(rerr, directory.ErrNotFound):
				return g, false, fmt.Errorf("restore target group %s: %w", d.link.TargetID, rerr)
			}
		}
		switch {
		case err == nil && d.ours(g):
			return g, true, nil
		case err == nil:
			a, _ := g.Attrs.String(d.t.group.anchorAttr)
			return g, false, fmt.Errorf("%w: target group %s linked to source group %s carries %q in %s, not tenantsync's anchor for it; nothing was written to it",
				errNotOurs, g.ID, d.id, a, d.t.group.anchorAttr)
		case !errors.Is(err, directory.ErrNotFound):
			return g, false, fmt.Errorf("read target group %s: %w", d.link.TargetID, err)
		}
		d.rep.step("match", "target group %s is gone for good; looking for ours by name and anchor", d.link.TargetID)
		d.link.TargetID, d.link.Members = "", nil
		d.act.setTargetID("")
	}
	want, err := d.desired(mapping.Create)
	if err != nil {
		return directory.Group{}, false, err
	}
	names := []string{stringAttr(want, "displayName")}
	if d.link.State == store.GroupCreating {
		// A create a crash interrupted may have made the group under the
		// name it then had.
		names = append(names, stringAttr(d.link.Attributes, "displayName"))
	}
	var other *directory.Group
	for _, name := range dedupe(names) {
		if name == "" {
			continue
		}
		found, err := d.api.FindGroupsByName(ctx, name, d.readAttrs())
		if err != nil {
			return directory.Group{}, false, fmt.Errorf("find target groups named %q: %w", name, err)
		}
		for _, g := range found {
			if d.ours(g) {
				d.rep.step("match", "found target group %s by its name and tenantsync's anchor", g.ID)
				d.link.TargetID, d.link.State, d.link.LastError = g.ID, store.GroupActive, ""
				d.act.setTargetID(g.ID)
				return g, true, nil
			}
			if other == nil && strings.EqualFold(g.DisplayName, stringAttr(want, "displayName")) {
				other = &g
			}
		}
	}
	if other != nil {
		return directory.Group{}, false, d.conflict(ctx, *other)
	}
	return directory.Group{}, false, nil
}

// conflict records a target group that has the source group's mapped name
// but is not provably tenantsync's: it is never written to or adopted but
// by an operator (handler adopt --group).
func (d *groupDecision) conflict(ctx context.Context, g directory.Group) error {
	reason := "a target group with this name exists and does not carry tenantsync's anchor"
	if a, _ := g.Attrs.String(d.t.group.anchorAttr); a != "" {
		reason = fmt.Sprintf("a target group with this name carries another anchor (%q)", a)
	}
	c := Conflict{TargetID: g.ID, Reason: reason}
	d.act.Op, d.act.Conflict = OpSkip, &c
	d.act.setTargetID("")
	d.act.Reason = "synced group; conflict: " + reason + "; if it is the same group, adopt it with `handler adopt --target " +
		d.t.name + " --group " + d.id + " --target-group " + g.ID + "`, or rename either"
	d.rep.step("match", "conflict: %s", reason)
	if d.linked && d.link.State == store.GroupConflict && d.link.TargetID == g.ID && d.link.LastError == reason {
		d.act.known = true
		return nil
	}
	d.link.State, d.link.TargetID, d.link.LastError, d.link.Members = store.GroupConflict, g.ID, reason, nil
	return d.putLink(ctx)
}

// create makes the security group. The link is written first in state
// creating, with the properties about to be sent: a crash between the
// create and the link's next write is found again by that name and the
// anchor, never created twice.
func (d *groupDecision) create(ctx context.Context) (directory.Group, error) {
	want, err := d.desired(mapping.Create)
	if err != nil {
		return directory.Group{}, err
	}
	d.link.State, d.link.TargetID, d.link.Attributes, d.link.Members, d.link.LastError = store.GroupCreating, "", want, nil, ""
	if err := d.putLink(ctx); err != nil {
		return directory.Group{}, err
	}
	d.rep.step("action", "create security group %q", stringAttr(want, "displayName"))
	g, err := d.api.CreateGroup(ctx, want)
	if err != nil {
		return g, fmt.Errorf("create target group for %s: %w", d.id, err)
	}
	d.created = true
	for _, k := range want.Keys() {
		addGroupChange(&d.act, k, nil, want[k])
	}
	d.link.State, d.link.TargetID = store.GroupActive, g.ID
	d.act.setTargetID(g.ID)
	if err := d.putLink(ctx); err != nil {
		return g, err
	}
	return g, nil
}

// update writes the mapped properties that differ from the target group as
// it is: one PATCH, none when nothing differs.
func (d *groupDecision) update(ctx context.Context, current directory.Group) error {
	want, err := d.desired(mapping.Update)
	if err != nil {
		return err
	}
	// The anchor is written on create (or stamped by an adoption) only:
	// Graph's uniqueName is immutable.
	delete(want, d.t.group.anchorAttr)
	have := current.Attrs.Clone()
	if have == nil {
		have = directory.Attributes{}
	}
	have["displayName"] = current.DisplayName
	changes := mapping.Diff(have, want)
	d.link.Attributes = mergeAttrs(d.link.Attributes, want)
	if len(changes) == 0 {
		return nil
	}
	d.rep.step("action", "update %s of target group %s", strings.Join(changes.Keys(), ", "), current.ID)
	if err := d.api.UpdateGroup(ctx, current.ID, changes.Patch()); err != nil {
		return fmt.Errorf("update target group %s: %w", current.ID, err)
	}
	d.act.Changes = changes
	return d.putLink(ctx)
}

// members brings the target group's members to the target users linked
// (active) to the source group's members: added in batches, and removed only
// if tenantsync added them. The members to add are recorded on the link
// before they are added, so that a crash cannot leave a member tenantsync
// added that it would not remove.
func (d *groupDecision) members(ctx context.Context) error {
	want, err := d.wantedMembers(ctx)
	if err != nil {
		return err
	}
	current := map[string]bool{}
	if !d.created {
		ids, err := d.api.ListGroupMembers(ctx, d.link.TargetID)
		if err != nil {
			return fmt.Errorf("list members of target group %s: %w", d.link.TargetID, err)
		}
		for _, id := range ids {
			current[id] = true
		}
	}
	added := map[string]bool{}
	for _, id := range d.link.Members {
		added[id] = true
	}
	var toAdd, toRemove []string
	for id := range want {
		if !current[id] {
			toAdd = append(toAdd, id)
		}
	}
	for id := range current {
		if added[id] && !want[id] {
			toRemove = append(toRemove, id)
		}
	}
	sort.Strings(toAdd)
	sort.Strings(toRemove)
	d.act.MembersBefore = len(current)
	d.act.MembersAfter = len(current) + len(toAdd) - len(toRemove)
	d.act.Added, d.act.Removed = toAdd, toRemove
	d.rep.step("members", "%d wanted, %d now: add %d, remove %d (members tenantsync did not add stay)",
		len(want), len(current), len(toAdd), len(toRemove))

	// What tenantsync added and still counts: those still members or to
	// be, those who may come back (a soft-deleted user is restored with
	// their memberships), and what it is about to add.
	keep := map[string]bool{}
	for id := range added {
		if current[id] || want[id] {
			keep[id] = true
			continue
		}
		stays, err := d.mayReturn(ctx, id)
		if err != nil {
			return err
		}
		keep[id] = stays
	}
	for _, id := range toAdd {
		keep[id] = true
	}
	if len(toAdd) > 0 {
		d.link.Members = sortedKeys(keep)
		if err := d.putLink(ctx); err != nil {
			return err
		}
	}
	failed, err := d.add(ctx, toAdd)
	if err != nil {
		return err
	}
	for _, id := range failed {
		delete(keep, id)
	}
	for _, id := range toRemove {
		if err := d.api.RemoveGroupMember(ctx, d.link.TargetID, id); err != nil && !errors.Is(err, directory.ErrNotFound) {
			return fmt.Errorf("remove member %s from target group %s: %w", id, d.link.TargetID, err)
		}
		delete(keep, id)
	}
	if members := sortedKeys(keep); !slices.Equal(members, d.link.Members) {
		d.link.Members = members
		return d.putLink(ctx)
	}
	return nil
}

// mayReturn reports whether a member tenantsync added, no longer a member
// nor wanted, must stay on its list: while a user tenantsync manages has
// it, the user may be restored from deleted items, and Graph restores a
// user's group memberships with the user.
func (d *groupDecision) mayReturn(ctx context.Context, targetUserID string) (bool, error) {
	if strings.HasPrefix(targetUserID, "(new) ") {
		return false, nil
	}
	_, err := d.e.store.GetLinkByTargetID(ctx, d.t.name, targetUserID)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("read link of target user %s: %w", targetUserID, err)
}

// add adds members in batches of maxMembersPerAdd. A batch Graph refuses
// for one of its users (a target user deleted since its link was written)
// is added one by one, and the users refused are returned, noted on the
// action: the others are not held back by one.
func (d *groupDecision) add(ctx context.Context, ids []string) (failed []string, err error) {
	for start := 0; start < len(ids); start += maxMembersPerAdd {
		batch := ids[start:min(start+maxMembersPerAdd, len(ids))]
		err := d.api.AddGroupMembers(ctx, d.link.TargetID, batch)
		if err == nil {
			continue
		}
		if directory.Retryable(err) || !errors.Is(err, directory.ErrNotFound) && !errors.Is(err, directory.ErrBadRequest) {
			return failed, fmt.Errorf("add %d members to target group %s: %w", len(batch), d.link.TargetID, err)
		}
		if age := d.e.now().Sub(d.link.Created); d.created || age < lagTolerance {
			// "Requests to add members to the group might return a 400
			// Bad Request error with the message: 'The source resource
			// object or one of the objects being referenced do not
			// exist.'" (group-post-members) while a new group replicates.
			return failed, fmt.Errorf("add %d members to target group %s, created %s ago (Graph replicates a new group with a delay, so this is tried again): %w: %w",
				len(batch), d.link.TargetID, age.Round(time.Second), err, directory.ErrTransient)
		}
		lagging := false
		for _, id := range batch {
			err := d.api.AddGroupMembers(ctx, d.link.TargetID, []string{id})
			switch {
			case err == nil:
			case directory.Retryable(err) || !errors.Is(err, directory.ErrNotFound) && !errors.Is(err, directory.ErrBadRequest):
				return failed, fmt.Errorf("add member %s to target group %s: %w", id, d.link.TargetID, err)
			case d.recent[id]:
				// A user invited a moment ago that Graph does not know
				// yet: the change is tried again.
				lagging = true
				failed = append(failed, id)
			default:
				failed = append(failed, id)
				d.act.Error = fmt.Sprintf("the target refused to add %s: %v", strings.Join(failed, ", "), err)
			}
		}
		if lagging {
			return failed, fmt.Errorf("add members to target group %s: a user linked a moment ago is not known to the target yet (Graph replicates new users with a delay, so this is tried again): %w",
				d.link.TargetID, directory.ErrTransient)
		}
	}
	if len(failed) > 0 {
		d.act.Added = slices.DeleteFunc(d.act.Added, func(id string) bool { return slices.Contains(failed, id) })
		d.act.MembersAfter -= len(failed)
	}
	return failed, nil
}

// wantedMembers returns the target users the group should have: those
// linked, active, to the source group's user members (transitively when the
// target's scope is nested). An active link is the user's own sync's
// verdict that the user is in this target's scope; one whose deprovision
// is pending or held stays a member until it is carried out.
func (d *groupDecision) wantedMembers(ctx context.Context) (map[string]bool, error) {
	m, err := d.e.source.GroupMembers(ctx, d.id, d.t.cfg.Scope.Nested)
	if err != nil {
		return nil, fmt.Errorf("list members of source group %s: %w", d.id, err)
	}
	_, dry := d.e.store.(*overlayStore)
	users := dedupe(m.Users)
	// One call for the whole group: a store on the network reads the links
	// concurrently rather than one member after another.
	links, err := d.e.store.GetLinks(ctx, d.t.name, users)
	if err != nil {
		return nil, fmt.Errorf("read the links of %d members of source group %s: %w", len(users), d.id, err)
	}
	want := map[string]bool{}
	for _, u := range users {
		l, ok := links[u]
		if !ok {
			continue
		}
		switch l.State {
		case store.LinkActive:
		case store.LinkPending, store.LinkStaged:
			// Out of scope, but its deprovision waits for the deletion
			// guard: until it is carried out the user stays a member, so
			// that a held burst changes nothing.
		default:
			continue
		}
		switch {
		case l.TargetID != "":
			want[l.TargetID] = true
			if d.e.now().Sub(l.Created) < lagTolerance {
				if d.recent == nil {
					d.recent = map[string]bool{}
				}
				d.recent[l.TargetID] = true
			}
		case dry:
			// A user the same dry run creates: counted, under a stand-in.
			want["(new) "+u] = true
		}
	}
	return want, nil
}

// cancel drops a pending or staged deletion of a group that is synced again.
func (d *groupDecision) cancel(ctx context.Context) error {
	e, t := d.e, d.t
	key := groupGuardID(d.id)
	if err := e.release(ctx, t, key); err != nil {
		return err
	}
	if err := e.settled(ctx, t, key); err != nil {
		return err
	}
	d.act.cancelled = string(d.link.State)
	d.link.State = store.GroupActive
	d.rep.step("guard", "the %s deletion is cancelled", d.act.cancelled)
	return d.putLink(ctx)
}

// finishGroup records the outcome of one group decision: the provisioning
// log (actions "group create", "group update", "group delete") and the
// target's quarantine.
func (e *Engine) finishGroup(ctx context.Context, t *target, act *GroupAction, ch Change, err error, wide bool) {
	if err != nil {
		act.Error = err.Error()
		if act.Reason == "" {
			act.Reason = "failed"
		}
	}
	if act.RequestIDs == nil {
		act.RequestIDs = requestIDs(ctx)
	}
	e.noteOutcome(ctx, t, err, wide)
	if act.known && act.Error == "" || act.Op == OpNoop && act.Error == "" && act.cancelled == "" {
		return
	}
	if act.Op == "" {
		act.Op = OpSkip
	}
	ev := store.Event{
		Time:       e.now(),
		Target:     t.name,
		SourceID:   act.SourceID,
		SourceUPN:  "group " + act.DisplayName,
		Action:     "group " + string(act.Op),
		Result:     "ok",
		Reason:     act.Reason,
		Changes:    groupSummary(act),
		RequestIDs: act.RequestIDs,
		Error:      act.Error,
		Trigger:    ch.Cause,
	}
	if act.Op == OpDeprovision {
		ev.Action = "group delete"
	}
	if act.TargetID != nil {
		ev.TargetID = *act.TargetID
	}
	e.appendEvent(ctx, &ev, outcome{err: act.Error, held: act.Held, pending: act.PendingUntil != nil,
		conflict: act.Conflict, op: act.Op, cancelled: act.cancelled}, ch.Observed)
	level := slog.LevelInfo
	if act.Error != "" {
		level = slog.LevelWarn
	}
	e.log.Log(ctx, level, "group provisioning", "target", t.name, "groupId", act.SourceID, "group", act.DisplayName,
		"action", act.Op, "result", ev.Result, "reason", act.Reason, "attributes", act.Changes.Keys(),
		"membersBefore", act.MembersBefore, "membersAfter", act.MembersAfter, "added", len(act.Added), "removed", len(act.Removed),
		"requestIds", act.RequestIDs, "err", err)
}

// groupSummary renders a group's changes for the log: its properties
// (names and values: a group's are not personal data) and its member counts.
func groupSummary(act *GroupAction) string {
	s := summarize(act.Changes)
	if len(act.Added) > 0 || len(act.Removed) > 0 {
		m := fmt.Sprintf("members: %d → %d (+%d −%d)", act.MembersBefore, act.MembersAfter, len(act.Added), len(act.Removed))
		if s != "" {
			s += "; "
		}
		s += m
	}
	return s
}

func addGroupChange(a *GroupAction, attr string, old, new any) {
	if a.Changes == nil {
		a.Changes = mapping.Changes{}
	}
	a.Changes[attr] = mapping.Change{Old: old, New: new}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil
	}
	return out
}
