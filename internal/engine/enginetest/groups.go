package enginetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/engine"
)

// A Directory's groups besides the scoping group: in a source, the groups
// tenantsync syncs (members users and groups); in a target, the security
// groups it creates, with Graph's semantics where the engine depends on
// them (20 references per add, an existing member is no error, soft delete
// and restore keep the members).

var (
	_ engine.GroupSource = (*Directory)(nil)
	_ engine.GroupTarget = (*Directory)(nil)
)

type memGroup struct {
	group   directory.Group
	users   map[string]bool
	groups  map[string]bool // nested groups
	deleted bool
}

// AddGroup adds a group with this display name and properties and returns
// its id.
func (d *Directory) AddGroup(name string, attrs directory.Attributes) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	return d.addGroup(fmt.Sprintf("00000000-0000-4000-a000-%012d", d.seq), name, attrs)
}

func (d *Directory) addGroup(id, name string, attrs directory.Attributes) string {
	if d.groups == nil {
		d.groups = map[string]*memGroup{}
	}
	a := attrs.Clone()
	if a == nil {
		a = directory.Attributes{}
	}
	delete(a, "displayName")
	d.groups[id] = &memGroup{group: directory.Group{ID: id, DisplayName: name, Attrs: a}, users: map[string]bool{}, groups: map[string]bool{}}
	return id
}

// SetGroupMember puts a user in a group, or takes them out, as an
// administrator would.
func (d *Directory) SetGroupMember(groupID, userID string, in bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if in {
		d.groups[groupID].users[userID] = true
	} else {
		delete(d.groups[groupID].users, userID)
	}
}

// NestGroup puts a group in another, or takes it out.
func (d *Directory) NestGroup(parentID, childID string, in bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if in {
		d.groups[parentID].groups[childID] = true
	} else {
		delete(d.groups[parentID].groups, childID)
	}
}

// PatchGroup changes a group's properties as an administrator would.
func (d *Directory) PatchGroup(id string, attrs directory.Attributes) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.patchGroup(d.groups[id], attrs)
}

func (d *Directory) patchGroup(g *memGroup, attrs directory.Attributes) {
	for k, v := range attrs {
		switch {
		case k == "displayName":
			g.group.DisplayName, _ = v.(string)
		case v == nil:
			delete(g.group.Attrs, k)
		default:
			g.group.Attrs[k] = v
		}
	}
}

// RemoveGroup soft deletes a group as an administrator would.
func (d *Directory) RemoveGroup(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.groups[id].deleted = true
}

// GroupState is a group as a test sees it: live or not, its properties, its
// direct user members.
type GroupState struct {
	Group   directory.Group
	Members []string
	Deleted bool
}

// Group returns a group, live or soft deleted, with its live direct user
// members: as in Graph, a soft-deleted user is no member until restored,
// and then is again.
func (d *Directory) Group(id string) (GroupState, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.groups[id]
	if !ok {
		return GroupState{}, false
	}
	out := g.group
	out.Attrs = out.Attrs.Clone()
	return GroupState{Group: out, Members: d.membersOf(g, false).Users, Deleted: g.deleted}, true
}

// GroupsNamed returns the ids of the groups, live or soft deleted, with
// this display name.
func (d *Directory) GroupsNamed(name string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ids []string
	for _, id := range slices.Sorted(maps.Keys(d.groups)) {
		if strings.EqualFold(d.groups[id].group.DisplayName, name) {
			ids = append(ids, id)
		}
	}
	return ids
}

// memberOfGroups returns those of ids (groups of this file) that the user
// is in, directly or transitively. The caller holds d.mu.
func (d *Directory) memberOfGroups(userID string, ids []string, transitive bool) []string {
	var in []string
	for _, id := range ids {
		g, ok := d.groups[id]
		if !ok || g.deleted {
			continue
		}
		if slices.Contains(d.membersOf(g, transitive).Users, userID) {
			in = append(in, id)
		}
	}
	return in
}

// membersOf lists a group's live user members and member groups, flattened
// through nested groups when transitive. The caller holds d.mu.
func (d *Directory) membersOf(g *memGroup, transitive bool) directory.Members {
	users, groups := map[string]bool{}, map[string]bool{}
	var walk func(g *memGroup)
	walk = func(g *memGroup) {
		for u := range g.users {
			if _, live := d.users[u]; live {
				users[u] = true
			}
		}
		for c := range g.groups {
			child, ok := d.groups[c]
			if !ok || child.deleted || groups[c] {
				continue
			}
			groups[c] = true
			if transitive {
				walk(child)
			}
		}
	}
	walk(g)
	return directory.Members{Users: slices.Sorted(maps.Keys(users)), Groups: slices.Sorted(maps.Keys(groups))}
}

func selectedGroup(g directory.Group, attrs []string) directory.Group {
	out := directory.Group{ID: g.ID, DisplayName: g.DisplayName, Attrs: directory.Attributes{}}
	for _, a := range attrs {
		if a == "displayName" {
			out.Attrs[a] = g.DisplayName
			continue
		}
		out.Attrs[a] = g.Attrs[a]
	}
	return out
}

// GetGroup implements engine.GroupSource and engine.GroupTarget.
func (d *Directory) GetGroup(_ context.Context, id string, attrs []string) (directory.Group, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.groups[id]
	if !ok || g.deleted {
		return directory.Group{}, notFound("get group " + id)
	}
	return selectedGroup(g.group, attrs), nil
}

// CreateGroup implements engine.GroupTarget.
func (d *Directory) CreateGroup(ctx context.Context, attrs directory.Attributes) (directory.Group, error) {
	d.traced(ctx, "POST", "/groups")
	name, _ := attrs.String("displayName")
	nick, _ := attrs.String("mailNickname")
	if name == "" || nick == "" {
		return directory.Group{}, &directory.Error{Op: "create group", Status: 400, Code: "Request_BadRequest",
			Message: "displayName and mailNickname are required", Err: directory.ErrBadRequest}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.GroupWrites++
	d.seq++
	id := d.addGroup(fmt.Sprintf("00000000-0000-4000-b000-%012d", d.seq), name, attrs)
	for k, v := range attrs {
		if v == nil {
			delete(d.groups[id].group.Attrs, k)
		}
	}
	d.groups[id].group.Attrs["securityEnabled"], d.groups[id].group.Attrs["mailEnabled"] = true, false
	g := d.groups[id].group
	g.Attrs = g.Attrs.Clone()
	return g, nil
}

// FindGroupsByName implements engine.GroupTarget.
func (d *Directory) FindGroupsByName(_ context.Context, name string, attrs []string) ([]directory.Group, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []directory.Group
	for _, id := range slices.Sorted(maps.Keys(d.groups)) {
		g := d.groups[id]
		if !g.deleted && strings.EqualFold(g.group.DisplayName, name) {
			out = append(out, selectedGroup(g.group, attrs))
		}
	}
	return out, nil
}

// UpdateGroup implements engine.GroupTarget.
func (d *Directory) UpdateGroup(ctx context.Context, id string, attrs directory.Attributes) error {
	d.traced(ctx, "PATCH", "/groups/"+id)
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.groups[id]
	if !ok || g.deleted {
		return notFound("update group " + id)
	}
	if _, ok := attrs[d.ImmutableGroupAttr]; ok && d.ImmutableGroupAttr != "" {
		return &directory.Error{Op: "update group " + id, Status: 400, Code: "Request_BadRequest",
			Message: d.ImmutableGroupAttr + " is immutable", Err: directory.ErrBadRequest}
	}
	d.GroupWrites++
	d.patchGroup(g, attrs)
	return nil
}

// ListGroupMembers implements engine.GroupTarget: direct user members.
func (d *Directory) ListGroupMembers(_ context.Context, id string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.groups[id]
	if !ok || g.deleted {
		return nil, notFound("list members of group " + id)
	}
	return d.membersOf(g, false).Users, nil
}

// AddGroupMembers implements engine.GroupTarget: at most 20 per request,
// as Graph takes; a member already is no error; a user that does not
// exist fails the request (404).
func (d *Directory) AddGroupMembers(ctx context.Context, id string, userIDs []string) error {
	d.traced(ctx, "PATCH", "/groups/"+id)
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(userIDs) > 20 {
		return &directory.Error{Op: "add members to group " + id, Status: 400, Code: "Request_BadRequest",
			Message: "at most 20 members may be added in one request", Err: directory.ErrBadRequest}
	}
	g, ok := d.groups[id]
	if !ok || g.deleted {
		return notFound("add members to group " + id)
	}
	for _, u := range userIDs {
		if _, live := d.users[u]; !live {
			return notFound("add member " + u + " to group " + id)
		}
	}
	d.GroupWrites++
	for _, u := range userIDs {
		g.users[u] = true
	}
	return nil
}

// RemoveGroupMember implements engine.GroupTarget.
func (d *Directory) RemoveGroupMember(ctx context.Context, id, userID string) error {
	d.traced(ctx, "DELETE", "/groups/"+id+"/members/"+userID+"/$ref")
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.groups[id]
	if !ok || g.deleted {
		return notFound("remove member from group " + id)
	}
	d.GroupWrites++
	delete(g.users, userID)
	return nil
}

// DeleteGroup implements engine.GroupTarget: the group goes to deleted
// items with its members; the members themselves stay.
func (d *Directory) DeleteGroup(ctx context.Context, id string) error {
	d.traced(ctx, "DELETE", "/groups/"+id)
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.groups[id]
	if !ok || g.deleted {
		return notFound("delete group " + id)
	}
	d.GroupWrites++
	g.deleted = true
	return nil
}

// RestoreGroup implements engine.GroupTarget.
func (d *Directory) RestoreGroup(ctx context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.groups[id]
	if !ok || !g.deleted {
		return notFound("restore group " + id)
	}
	d.GroupWrites++
	g.deleted = false
	return nil
}
