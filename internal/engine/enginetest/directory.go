// Package enginetest holds what the engine's tests share: Directory, an
// in-memory source and target tenant for unit tests that need no Graph
// client (and so compile in seconds), and GuardScenario, the random burst
// that attacks the deletion guard, played against any World — that
// Directory, or the Graph simulator through the real Graph client.
//
// Directory models only what the engine asks of a tenant, with Graph's
// semantics where the engine depends on them (an invitation to a known
// address returns the user that has it; a deleted user goes to deleted
// items; 404 for what is not there). The proof against a Graph as strict as
// the real one stays with the simulator (internal/engine/graphtest).
package enginetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/engine"
)

// GroupID is the id of the one scoping group a Directory source has; its
// display name is GroupName.
const (
	GroupID   = "00000000-0000-4000-8000-00000000a11a"
	GroupName = "Cross-tenant sync"
)

// Directory is one in-memory tenant, usable as an engine.Source and an
// engine.Target. It is safe for concurrent use.
type Directory struct {
	mu      sync.Mutex
	domain  string
	users   map[string]directory.User // live, by id
	deleted map[string]directory.User
	members map[string]bool // of the scoping group
	seq     int
	// Invitations counts POST /invitations; Writes every write.
	Invitations, Writes int
	// RequestID, when set, names each write in the caller's
	// directory.Trace, as the Graph client does with Graph's request ids.
	RequestID func() string
	// groups are the tenant's other groups (groups.go), by id.
	groups map[string]*memGroup
	// GroupWrites counts the group writes (create, PATCH, member add and
	// remove requests, delete, restore).
	GroupWrites int
	// ImmutableGroupAttr, when set, is a group property UpdateGroup
	// refuses (400), as Graph refuses to change a group's uniqueName.
	ImmutableGroupAttr string
}

// traced records a write in the trace of ctx, if any.
func (d *Directory) traced(ctx context.Context, method, path string) {
	if tr := directory.TraceFrom(ctx); tr != nil && d.RequestID != nil {
		tr.Add(directory.Request{Method: method, Path: path, Status: 200, RequestID: d.RequestID()})
	}
}

var (
	_ engine.Source = (*Directory)(nil)
	_ engine.Target = (*Directory)(nil)
)

// NewDirectory returns an empty tenant with the given domain.
func NewDirectory(domain string) *Directory {
	return &Directory{domain: domain, users: map[string]directory.User{}, deleted: map[string]directory.User{}, members: map[string]bool{}}
}

// AddUser adds a user with these attributes (userPrincipalName at least)
// and returns its id; member puts it in the scoping group.
func (d *Directory) AddUser(attrs directory.Attributes, member bool) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", d.seq)
	d.users[id] = directory.User{ID: id, Attrs: attrs.Clone()}
	d.members[id] = member
	return id
}

// SetMember puts a user in the scoping group, or takes them out.
func (d *Directory) SetMember(id string, member bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.members[id] = member
}

// Patch changes a user's attributes as an administrator would.
func (d *Directory) Patch(id string, attrs directory.Attributes) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u := d.users[id]
	maps.Copy(u.Attrs, attrs)
}

// User returns a live user by id.
func (d *Directory) User(id string) (directory.User, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[id]
	if ok {
		u.Attrs = u.Attrs.Clone()
	}
	return u, ok
}

// ByMail returns the live users whose mail is addr.
func (d *Directory) ByMail(addr string) []directory.User {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []directory.User
	for _, u := range d.sorted() {
		if m, _ := u.Attrs.String("mail"); strings.EqualFold(m, addr) {
			out = append(out, u)
		}
	}
	return out
}

func (d *Directory) sorted() []directory.User {
	ids := slices.Sorted(maps.Keys(d.users))
	out := make([]directory.User, len(ids))
	for i, id := range ids {
		out[i] = d.users[id]
	}
	return out
}

func notFound(op string) error {
	return &directory.Error{Op: op, Status: 404, Code: "Request_ResourceNotFound", Message: "does not exist"}
}

// lookup finds a live user by id or userPrincipalName.
func (d *Directory) lookup(key string) (directory.User, bool) {
	if u, ok := d.users[key]; ok {
		return u, true
	}
	for _, u := range d.users {
		if strings.EqualFold(u.UPN(), key) {
			return u, true
		}
	}
	return directory.User{}, false
}

// selected returns u with only the asked attributes (nil for those it lacks).
func selected(u directory.User, attrs []string) directory.User {
	out := directory.User{ID: u.ID, Deleted: u.Deleted, Attrs: directory.Attributes{}}
	for _, a := range attrs {
		out.Attrs[a] = u.Attrs[a]
	}
	return out
}

// GetUser implements engine.Source and engine.Target.
func (d *Directory) GetUser(_ context.Context, id string, attrs []string) (directory.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.lookup(id)
	if !ok {
		return directory.User{}, notFound("get user " + id)
	}
	return selected(u, attrs), nil
}

// GetDeletedUser implements engine.Source and engine.Target.
func (d *Directory) GetDeletedUser(_ context.Context, id string, attrs []string) (directory.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.deleted[id]
	if !ok {
		return directory.User{}, notFound("get deleted user " + id)
	}
	return selected(u, attrs), nil
}

// ListUsers implements engine.Source and engine.Target: one page.
func (d *Directory) ListUsers(_ context.Context, attrs []string, fn func([]directory.User) error) error {
	d.mu.Lock()
	page := make([]directory.User, 0, len(d.users))
	for _, u := range d.sorted() {
		page = append(page, selected(u, attrs))
	}
	d.mu.Unlock()
	return fn(page)
}

// MemberOf implements engine.Source.
func (d *Directory) MemberOf(_ context.Context, userID string, groupIDs []string, transitive bool) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var in []string
	if d.members[userID] && slices.Contains(groupIDs, GroupID) {
		in = append(in, GroupID)
	}
	return append(in, d.memberOfGroups(userID, groupIDs, transitive)...), nil
}

// GroupMembers implements engine.Source.
func (d *Directory) GroupMembers(_ context.Context, groupID string, transitive bool) (directory.Members, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var m directory.Members
	if g, ok := d.groups[groupID]; ok && !g.deleted {
		return d.membersOf(g, transitive), nil
	}
	if groupID != GroupID {
		return m, notFound("list members of " + groupID)
	}
	for _, id := range slices.Sorted(maps.Keys(d.members)) {
		if _, live := d.users[id]; live && d.members[id] {
			m.Users = append(m.Users, id)
		}
	}
	return m, nil
}

// DirectReports implements engine.Source: no managers here.
func (d *Directory) DirectReports(context.Context, string) ([]string, error) { return nil, nil }

// FindGroups implements engine.Source.
func (d *Directory) FindGroups(_ context.Context, idOrName string) ([]directory.Group, error) {
	if idOrName == GroupID || idOrName == GroupName {
		return []directory.Group{{ID: GroupID, DisplayName: GroupName}}, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []directory.Group
	for _, id := range slices.Sorted(maps.Keys(d.groups)) {
		g := d.groups[id]
		if !g.deleted && (id == idOrName || strings.EqualFold(g.group.DisplayName, idOrName)) {
			out = append(out, directory.Group{ID: id, DisplayName: g.group.DisplayName})
		}
	}
	return out, nil
}

// UsersDelta implements engine.Source: every round is empty.
func (d *Directory) UsersDelta(context.Context, string, []string, func([]directory.UserDelta) error) (string, error) {
	return "delta", nil
}

// GroupsDelta implements engine.Source: every round is empty.
func (d *Directory) GroupsDelta(context.Context, string, func([]directory.GroupDelta) error) (string, error) {
	return "delta", nil
}

// Invite implements engine.Target. As Graph does, an invitation to an
// address a user already has returns that user.
func (d *Directory) Invite(ctx context.Context, inv engine.Invitation) (directory.User, error) {
	d.traced(ctx, "POST", "/invitations")
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Invitations++
	d.Writes++
	for _, u := range d.sorted() {
		if m, _ := u.Attrs.String("mail"); strings.EqualFold(m, inv.Email) {
			return directory.User{ID: u.ID, Attrs: directory.Attributes{}}, nil
		}
	}
	d.seq++
	id := fmt.Sprintf("00000000-0000-4000-9000-%012d", d.seq)
	local := strings.ReplaceAll(inv.Email, "@", "_")
	d.users[id] = directory.User{ID: id, Attrs: directory.Attributes{
		"userPrincipalName": local + "#EXT#@" + d.domain, "mail": inv.Email, "otherMails": []string{inv.Email},
		"displayName": inv.DisplayName, "userType": inv.UserType, "creationType": "Invitation",
		"externalUserState": "PendingAcceptance", "accountEnabled": true,
	}}
	return directory.User{ID: id, Attrs: directory.Attributes{}}, nil
}

// FindUsers implements engine.Target.
func (d *Directory) FindUsers(_ context.Context, conds []engine.Cond, attrs []string) ([]directory.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []directory.User
	for _, u := range d.sorted() {
		for _, c := range conds {
			if matches(u, c) {
				out = append(out, selected(u, attrs))
				break
			}
		}
	}
	return out, nil
}

func matches(u directory.User, c engine.Cond) bool {
	switch v := u.Attrs[c.Attr].(type) {
	case string:
		return strings.EqualFold(v, c.Value)
	case []string:
		return slices.ContainsFunc(v, func(s string) bool { return strings.EqualFold(s, c.Value) })
	}
	return false
}

// UpdateUser implements engine.Target: nil values clear attributes.
func (d *Directory) UpdateUser(ctx context.Context, id string, attrs directory.Attributes) error {
	d.traced(ctx, "PATCH", "/users/"+id)
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[id]
	if !ok {
		return notFound("update user " + id)
	}
	d.Writes++
	for k, v := range attrs {
		if v == nil {
			delete(u.Attrs, k)
		} else {
			u.Attrs[k] = v
		}
	}
	return nil
}

// DeleteUser implements engine.Target: the user goes to deleted items.
func (d *Directory) DeleteUser(ctx context.Context, id string) error {
	d.traced(ctx, "DELETE", "/users/"+id)
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[id]
	if !ok {
		return notFound("delete user " + id)
	}
	d.Writes++
	delete(d.users, id)
	u.Deleted = true
	d.deleted[id] = u
	return nil
}

// RestoreUser implements engine.Target.
func (d *Directory) RestoreUser(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.deleted[id]
	if !ok {
		return notFound("restore user " + id)
	}
	d.Writes++
	delete(d.deleted, id)
	u.Deleted = false
	d.users[id] = u
	return nil
}

// SetManager implements engine.Target.
func (d *Directory) SetManager(_ context.Context, id, managerID string) error {
	return d.UpdateUser(context.Background(), id, directory.Attributes{"manager": managerOrNil(managerID)})
}

func managerOrNil(id string) any {
	if id == "" {
		return nil
	}
	return id
}

// Probe implements engine.Target: the tenant is always readable.
func (d *Directory) Probe(context.Context) error { return nil }

// InvitationsBlocked implements engine.Target: never.
func (d *Directory) InvitationsBlocked(context.Context) (bool, error) { return false, nil }
