package graphsim

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Seed is the simulator's seed file, and the shape of snapshots:
// {"tenants":[{"id","domain","displayName","users":[…],"groups":[…]}]}.
type Seed struct {
	Tenants []TenantSeed `json:"tenants"`
}

// TenantSeed is one tenant of a seed. Users and groups are Graph JSON;
// their ids are optional (stable GUIDs are derived from the tenant and the
// userPrincipalName or group displayName). A user's "manager" and a group's
// "members" name objects by id or userPrincipalName (members may also name
// a group by its displayName). A user may carry the simulator-only key
// "privileged": true, for a user who holds an administrator role
// (privileged.go); invited users may carry externalUserState and
// identities, as a redeemed guest has them.
type TenantSeed struct {
	ID          string `json:"id,omitempty"`
	Domain      string `json:"domain"`
	DisplayName string `json:"displayName,omitempty"`
	// InitialDomain is the tenant's <name>.onmicrosoft.com domain, used in
	// the userPrincipalName of B2B users. Default: Domain if it already
	// ends in onmicrosoft.com, else its first label + ".onmicrosoft.com".
	InitialDomain string `json:"initialDomain,omitempty"`
	// BlockInvitations makes POST /invitations answer 403, as a tenant
	// that restricts guest invitations does.
	BlockInvitations bool `json:"blockInvitations,omitempty"`
	// Permissions are the Microsoft Graph application permissions granted
	// to the app in the tenant, such as User.Read.All: omitted (nil)
	// grants all, an empty list none (permissions.go).
	Permissions []string `json:"permissions,omitzero"`
	// ReplicationLag and AdvancedLag turn on eventual consistency: Go
	// durations such as "2s" by which writes may lag behind reads and
	// advanced queries (default twice ReplicationLag). LagSeed seeds the
	// delays; 0 derives it from Options.LagSeed (lag.go).
	ReplicationLag string   `json:"replicationLag,omitempty"`
	AdvancedLag    string   `json:"advancedLag,omitempty"`
	LagSeed        uint64   `json:"lagSeed,omitempty"`
	Users          []Object `json:"users"`
	Groups         []Object `json:"groups"`
	// The fields below are written by snapshots and state files.
	DeletedUsers  []Object           `json:"deletedUsers,omitempty"`
	DeletedGroups []Object           `json:"deletedGroups,omitempty"`
	Subscriptions []SubscriptionSeed `json:"subscriptions,omitempty"`
	// Sequence is the change log position; delta tokens from before it
	// answer syncStateNotFound after a reload.
	Sequence uint64 `json:"sequence,omitempty"`
}

// Object is a user or group in Graph JSON.
type Object map[string]any

// ReadSeed decodes a seed file.
func ReadSeed(r io.Reader) (Seed, error) {
	var seed Seed
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&seed); err != nil {
		return Seed{}, fmt.Errorf("read seed: %w", err)
	}
	return seed, nil
}

// stableGUID derives a GUID from a name, so that seeds without ids load
// with the same ids every time.
func stableGUID(name string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("graphsim:"+strings.ToLower(name))).String()
}

// TenantIDOf is the id of a seeded tenant whose seed gives none: derived
// from its domain, the same in every run.
func TenantIDOf(domain string) string { return stableGUID("tenant:" + domain) }

// defaultInitialDomain is <domain> for an onmicrosoft.com domain and
// <first label>.onmicrosoft.com otherwise.
func defaultInitialDomain(domain string) string {
	if strings.HasSuffix(strings.ToLower(domain), ".onmicrosoft.com") {
		return domain
	}
	label, _, _ := strings.Cut(domain, ".")
	return label + ".onmicrosoft.com"
}

func objectID(o Object) (string, error) {
	raw, ok := o["id"]
	if !ok || raw == nil || raw == "" {
		return "", nil
	}
	s, ok := raw.(string)
	if !ok || !isGUID(s) {
		return "", fmt.Errorf("id %v is not a GUID", raw)
	}
	return strings.ToLower(s), nil
}

// buildTenant makes a tenant from a seed.
func (s *Server) buildTenant(ts TenantSeed) (*tenant, error) {
	b := newTenantBuilder(s)
	b.meta = ts
	for i, o := range ts.Users {
		if err := b.addUser(i, o, false); err != nil {
			return nil, err
		}
	}
	for i, o := range ts.DeletedUsers {
		if err := b.addUser(i, o, true); err != nil {
			return nil, err
		}
	}
	for i, o := range ts.Groups {
		if err := b.addGroup(i, o, false); err != nil {
			return nil, err
		}
	}
	for i, o := range ts.DeletedGroups {
		if err := b.addGroup(i, o, true); err != nil {
			return nil, err
		}
	}
	return b.finish()
}

// tenantBuilder assembles a tenant from seed objects given one at a time,
// so that a seed file can be streamed: ids, managers and members are
// resolved by finish, once everything is known.
type tenantBuilder struct {
	s        *Server
	meta     TenantSeed // the tenant's fields; Users, Groups and the like are ignored
	now      time.Time
	users    []*user // live and deleted, in seed order
	managers map[*user]string
	groups   []*group
	members  map[*group][]string
}

func newTenantBuilder(s *Server) *tenantBuilder {
	return &tenantBuilder{s: s, now: s.clock.now(), managers: map[*user]string{}, members: map[*group][]string{}}
}

// addUser converts one seed user; its id may be derived later.
func (b *tenantBuilder) addUser(i int, o Object, deleted bool) error {
	what := "user"
	if deleted {
		what = "deleted user"
	}
	u := &user{}
	if _, gerr := applyUserProps(u, o, modeSeed); gerr != nil {
		return fmt.Errorf("%s %d: %s", what, i, gerr.message)
	}
	switch p := o[seedPrivilegedKey].(type) {
	case nil:
	case bool:
		u.privileged = p
	default:
		return fmt.Errorf("%s %d: %s must be true or false", what, i, seedPrivilegedKey)
	}
	upn := u.upn()
	if upn == "" {
		return fmt.Errorf("%s %d: userPrincipalName is required", what, i)
	}
	uid, err := objectID(o)
	if err != nil {
		return fmt.Errorf("%s %d (%s): %w", what, i, upn, err)
	}
	u.id = uid
	if u.v[pAccountEnabled] == nil {
		u.v[pAccountEnabled] = true
	}
	if u.v[pUserType] == nil {
		u.v[pUserType] = "Member"
	}
	if u.v[pMailNickname] == nil {
		local, _, _ := strings.Cut(upn, "@")
		u.v[pMailNickname] = local
	}
	if u.v[pCreatedDateTime] == nil {
		u.v[pCreatedDateTime] = graphTime(b.now)
	}
	u.v[pPasswordProfile] = nil
	if m, ok := o["manager"]; ok && m != nil {
		switch v := m.(type) {
		case string:
			b.managers[u] = v
		case map[string]any:
			b.managers[u], _ = v["id"].(string)
		case Object:
			b.managers[u], _ = v["id"].(string)
		default:
			return fmt.Errorf("%s %d (%s): manager must be an id, a userPrincipalName or {\"id\":…}", what, i, upn)
		}
	}
	if deleted {
		when := b.now
		if ds, ok := u.v[pDeletedDateTime].(string); ok {
			if tm, err := time.Parse(time.RFC3339, ds); err == nil {
				when = tm
			}
		}
		u.deleted = when
		u.v[pDeletedDateTime] = graphTime(when)
	}
	b.users = append(b.users, u)
	return nil
}

// addGroup converts one seed group; members are resolved by finish.
func (b *tenantBuilder) addGroup(i int, o Object, deleted bool) error {
	g := &group{}
	if _, gerr := applyGroupProps(g, o, modeSeed); gerr != nil {
		return fmt.Errorf("group %d: %s", i, gerr.message)
	}
	name := g.str(gDisplayName)
	if name == "" {
		return fmt.Errorf("group %d: displayName is required", i)
	}
	gid, err := objectID(o)
	if err != nil {
		return fmt.Errorf("group %d (%s): %w", i, name, err)
	}
	g.id = gid
	if g.v[gSecurityEnabled] == nil {
		g.v[gSecurityEnabled] = true
	}
	if g.v[gMailEnabled] == nil {
		g.v[gMailEnabled] = false
	}
	if g.v[gMailNickname] == nil {
		g.v[gMailNickname] = strings.ReplaceAll(strings.ToLower(name), " ", "-")
	}
	if g.v[gCreatedDateTime] == nil {
		g.v[gCreatedDateTime] = graphTime(b.now)
	}
	var refs []string
	switch raw := o["members"].(type) {
	case nil:
	case []any:
		for _, r := range raw {
			s, ok := r.(string)
			if !ok {
				return fmt.Errorf("group %s: members must be ids, userPrincipalNames or group names", name)
			}
			refs = append(refs, s)
		}
	case []string:
		refs = raw
	default:
		return fmt.Errorf("group %s: members must be a list", name)
	}
	if deleted {
		g.deleted = b.now
		if ds, ok := g.v[gDeletedDateTime].(string); ok {
			if tm, err := time.Parse(time.RFC3339, ds); err == nil {
				g.deleted = tm
			}
		}
		g.v[gDeletedDateTime] = graphTime(g.deleted)
	} else {
		b.members[g] = refs
	}
	b.groups = append(b.groups, g)
	return nil
}

// finish resolves ids, managers and members and builds the indexes.
func (b *tenantBuilder) finish() (*tenant, error) {
	ts, s := &b.meta, b.s
	if ts.Domain == "" {
		return nil, fmt.Errorf("domain is required")
	}
	id := ts.ID
	if id == "" {
		id = TenantIDOf(ts.Domain)
	} else if !isGUID(id) {
		return nil, fmt.Errorf("tenant id %q is not a GUID", id)
	}
	initial := ts.InitialDomain
	if initial == "" {
		initial = defaultInitialDomain(ts.Domain)
	}
	name := ts.DisplayName
	if name == "" {
		name = ts.Domain
	}
	t := newTenant(s, id, ts.Domain, initial, name)
	t.blockInvitations = ts.BlockInvitations
	g, err := newGrant(ts.Permissions)
	if err != nil {
		return nil, err
	}
	t.perms.Store(g)
	lag, adv, err := parseLags(ts.ReplicationLag, ts.AdvancedLag)
	if err != nil {
		return nil, err
	}
	t.setLag(lag, adv, ts.LagSeed)

	t.userOrder = make([]*user, 0, len(b.users))
	for _, u := range b.users {
		if u.id == "" {
			u.id = stableGUID(t.id + "/user/" + u.upn())
		}
		key := strings.ToLower(u.upn())
		if t.users[u.id] != nil || t.deletedUsers[u.id] != nil {
			return nil, fmt.Errorf("user %s: duplicate id %s", u.upn(), u.id)
		}
		if !u.deleted.IsZero() {
			t.deletedUsers[u.id] = u
			t.scheduleExpiry(u.deleted.Add(s.opts.DeletedItemRetention))
			continue
		}
		if t.byUPN[key] != nil {
			return nil, fmt.Errorf("duplicate userPrincipalName %s", u.upn())
		}
		t.users[u.id] = u
		t.byUPN[key] = u
		t.userOrder = append(t.userOrder, u)
		t.indexValues(u)
	}
	// Sorting once is much faster than inserting in order.
	sortUsers(t.userOrder)
	t.nUsers.Store(int64(len(t.users)))
	for u, ref := range b.managers {
		m := t.lookupUser(ref)
		if m == nil {
			m = t.deletedUsers[strings.ToLower(ref)]
		}
		if m == nil {
			return nil, fmt.Errorf("user %s: manager %q not found", u.upn(), ref)
		}
		u.manager = m.id
		if u.deleted.IsZero() {
			t.addReport(m.id, u.id)
		}
	}

	byName := map[string]*group{}
	for _, g := range b.groups {
		if g.id == "" {
			g.id = stableGUID(t.id + "/group/" + g.str(gDisplayName))
		}
		if t.groups[g.id] != nil || t.deletedGroups[g.id] != nil {
			return nil, fmt.Errorf("group %s: duplicate id %s", g.str(gDisplayName), g.id)
		}
		if !g.deleted.IsZero() {
			t.deletedGroups[g.id] = g
			t.scheduleExpiry(g.deleted.Add(s.opts.DeletedItemRetention))
			continue
		}
		t.groups[g.id] = g
		byName[strings.ToLower(g.str(gDisplayName))] = g
	}
	for _, g := range b.groups {
		for _, ref := range b.members[g] {
			key := strings.ToLower(ref)
			switch {
			case t.users[key] != nil:
				g.addMember(member{id: key, kind: objUser})
			case t.groups[key] != nil:
				g.addMember(member{id: key, kind: objGroup})
			case t.byUPN[key] != nil:
				g.addMember(member{id: t.byUPN[key].id, kind: objUser})
			case byName[key] != nil:
				g.addMember(member{id: byName[key].id, kind: objGroup})
			default:
				return nil, fmt.Errorf("group %s: member %q not found", g.str(gDisplayName), ref)
			}
		}
	}
	t.groupOrder = make([]*group, 0, len(t.groups))
	for _, id := range sortedKeys(t.groups) {
		t.groupOrder = append(t.groupOrder, t.groups[id])
	}
	for _, ss := range ts.Subscriptions {
		kind, objID, members, ok := parseResource(ss.Resource)
		if !ok || !isGUID(ss.ID) {
			return nil, fmt.Errorf("subscription %s: bad resource %q or id", ss.ID, ss.Resource)
		}
		t.subs[strings.ToLower(ss.ID)] = &subscription{
			t: t, id: strings.ToLower(ss.ID), resource: ss.Resource, kind: kind, objID: objID, membersOnly: members,
			changeTypes: ss.ChangeType, notifyURL: ss.NotificationURL, lifecycle: ss.LifecycleNotificationURL,
			clientState: ss.ClientState, tls: ss.LatestSupportedTLSVersion, expires: ss.ExpirationDateTime,
		}
	}
	t.seq, t.logFloor = ts.Sequence, ts.Sequence
	return t, nil
}

func sortUsers(us []*user) {
	slices.SortFunc(us, func(a, b *user) int { return strings.Compare(a.id, b.id) })
}

// snapshot writes the tenant as a seed.
func (t *tenant) snapshot() TenantSeed {
	t.mu.RLock()
	ts := TenantSeed{
		ID: t.id, Domain: t.domain, DisplayName: t.displayName, InitialDomain: t.initialDomain,
		BlockInvitations: t.blockInvitations, Sequence: t.seq,
		Permissions: t.perms.Load().list(), LagSeed: t.lag.seed,
		Users: make([]Object, 0, len(t.userOrder)), Groups: make([]Object, 0, len(t.groupOrder)),
	}
	if t.lag.lag > 0 {
		ts.ReplicationLag, ts.AdvancedLag = t.lag.lag.String(), t.lag.advanced.String()
	}
	for _, u := range t.userOrder {
		ts.Users = append(ts.Users, userObject(u))
	}
	for _, id := range sortedKeys(t.deletedUsers) {
		ts.DeletedUsers = append(ts.DeletedUsers, userObject(t.deletedUsers[id]))
	}
	for _, g := range t.groupOrder {
		ts.Groups = append(ts.Groups, groupObject(g))
	}
	for _, id := range sortedKeys(t.deletedGroups) {
		ts.DeletedGroups = append(ts.DeletedGroups, groupObject(t.deletedGroups[id]))
	}
	t.mu.RUnlock()
	ts.Subscriptions = t.subscriptionSeeds()
	return ts
}

func userObject(u *user) Object {
	o := Object{"id": u.id}
	for i, v := range u.v {
		if v == nil || userProps[i].hidden {
			continue
		}
		switch t := v.(type) {
		case *extAttrs:
			m := map[string]any{}
			for j, s := range t {
				if s != nil {
					m[fmt.Sprintf("extensionAttribute%d", j+1)] = *s
				}
			}
			o[userProps[i].name] = m
		case []string:
			o[userProps[i].name] = append([]string(nil), t...)
		default:
			o[userProps[i].name] = v
		}
	}
	if u.manager != "" {
		o["manager"] = u.manager
	}
	if u.privileged {
		o[seedPrivilegedKey] = true
	}
	return o
}

// seedPrivilegedKey is the simulator-only seed key of a user who holds an
// administrator role (privileged.go). It is not a Graph property: reads
// never return it, and POST or PATCH refuse it as unknown.
const seedPrivilegedKey = "privileged"

func groupObject(g *group) Object {
	o := Object{"id": g.id}
	for i, v := range g.v {
		if v == nil {
			continue
		}
		if s, ok := v.([]string); ok {
			v = append([]string(nil), s...)
		}
		o[groupProps[i].name] = v
	}
	members := make([]string, len(g.members))
	for i, m := range g.members {
		members[i] = m.id
	}
	o["members"] = members
	return o
}
