package graphsim

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// changeOp is what a change log entry records.
type changeOp uint8

const (
	opCreate changeOp = iota
	opUpdate
	opSoftDelete
	opRestore
	opHardDelete
	opMemberAdd
	opMemberRemove
)

// change is one entry of a tenant's change log, which delta queries read:
// a delta token is a position (sequence number) in it.
type change struct {
	seq        uint64
	kind       objKind
	op         changeOp
	id         string
	mask       uint64 // properties changed by opUpdate
	member     string // for member ops
	memberKind objKind
	// visible is when normal reads see the change (Unix nanoseconds on
	// the simulated clock); 0: at once (lag.go).
	visible int64
}

// event is a change as the notifier sees it.
type event struct {
	kind       objKind
	id         string
	changeType string // "updated" or "deleted"
	members    []memberDelta
}

type memberDelta struct {
	id      string
	kind    objKind
	removed bool
}

// tenant is one simulated tenant: its directory, change log, subscriptions,
// throttling buckets and counters.
type tenant struct {
	srv              *Server
	id               string
	domain           string
	initialDomain    string
	displayName      string
	blockInvitations bool

	mu            sync.RWMutex
	users         map[string]*user // live users by id
	byUPN         map[string]*user // live users by lower-cased userPrincipalName
	userOrder     []*user          // live users sorted by id, for paging
	deletedUsers  map[string]*user
	reports       map[string]map[string]struct{} // manager id → direct report ids
	values        map[string][]*user             // value index, see index.go
	groups        map[string]*group
	groupOrder    []*group
	deletedGroups map[string]*group
	seq           uint64
	log           []change
	logFloor      uint64 // tokens from before this position are no longer valid
	nextExpiry    time.Time
	deltaCache    deltaCache
	deltaReset    deltaResetState // deltareset.go
	lag           lagState        // lag.go

	nUsers atomic.Int64 // live users, for the throttling size class

	subsMu sync.Mutex
	subs   map[string]*subscription

	stats    tenantStats
	throttle throttle

	// perms are the application permissions granted to the app; nil
	// grants all (permissions.go).
	perms atomic.Pointer[grant]
}

func newTenant(s *Server, id, domain, initialDomain, displayName string) *tenant {
	return &tenant{
		srv:           s,
		id:            strings.ToLower(id),
		domain:        domain,
		initialDomain: initialDomain,
		displayName:   displayName,
		users:         make(map[string]*user),
		byUPN:         make(map[string]*user),
		deletedUsers:  make(map[string]*user),
		reports:       make(map[string]map[string]struct{}),
		groups:        make(map[string]*group),
		deletedGroups: make(map[string]*group),
		subs:          make(map[string]*subscription),
	}
}

func (t *tenant) keys() []string {
	keys := []string{strings.ToLower(t.id), strings.ToLower(t.domain)}
	if t.initialDomain != "" && !strings.EqualFold(t.initialDomain, t.domain) {
		keys = append(keys, strings.ToLower(t.initialDomain))
	}
	return keys
}

func (t *tenant) info() TenantInfo {
	return TenantInfo{ID: t.id, Domain: t.domain, InitialDomain: t.initialDomain, DisplayName: t.displayName}
}

func (t *tenant) userCount() int { return int(t.nUsers.Load()) }

// verifiedDomain reports whether d is one of the tenant's domains.
func (t *tenant) verifiedDomain(d string) bool {
	return strings.EqualFold(d, t.domain) || strings.EqualFold(d, t.initialDomain)
}

// record appends a change to the log, with the object's new state as a
// lagging version when lagBefore noted it; the caller holds t.mu.
func (t *tenant) record(c change) {
	t.seq++
	c.seq = t.seq
	c.visible = t.lagVersion(c.kind, c.id)
	t.log = append(t.log, c)
}

// recordNow appends a change that every reader sees at once (an admin
// write); the caller holds t.mu.
func (t *tenant) recordNow(c change) {
	t.seq++
	c.seq = t.seq
	t.log = append(t.log, c)
}

// lookupUser finds a live user by id or userPrincipalName; the caller holds
// t.mu.
func (t *tenant) lookupUser(key string) *user {
	if u := t.users[key]; u != nil {
		return u
	}
	if strings.Contains(key, "@") {
		return t.byUPN[strings.ToLower(key)]
	}
	if len(key) == 36 {
		return t.users[strings.ToLower(key)]
	}
	return nil
}

// indexUser adds a live user to the indexes; the caller holds t.mu.
func (t *tenant) indexUser(u *user) {
	t.users[u.id] = u
	if upn := u.upn(); upn != "" {
		t.byUPN[strings.ToLower(upn)] = u
	}
	t.userOrder = insertByID(t.userOrder, u)
	if u.manager != "" {
		t.addReport(u.manager, u.id)
	}
	t.indexValues(u)
	t.nUsers.Store(int64(len(t.users)))
}

// unindexUser removes a live user from the indexes; the caller holds t.mu.
func (t *tenant) unindexUser(u *user) {
	delete(t.users, u.id)
	if upn := u.upn(); upn != "" && t.byUPN[strings.ToLower(upn)] == u {
		delete(t.byUPN, strings.ToLower(upn))
	}
	t.userOrder = removeByID(t.userOrder, u)
	if u.manager != "" {
		t.removeReport(u.manager, u.id)
	}
	t.unindexValues(u)
	t.nUsers.Store(int64(len(t.users)))
}

func (t *tenant) addReport(manager, id string) {
	r := t.reports[manager]
	if r == nil {
		r = make(map[string]struct{})
		t.reports[manager] = r
	}
	r[id] = struct{}{}
}

func (t *tenant) removeReport(manager, id string) {
	if r := t.reports[manager]; r != nil {
		delete(r, id)
		if len(r) == 0 {
			delete(t.reports, manager)
		}
	}
}

func (t *tenant) indexGroup(g *group) {
	t.groups[g.id] = g
	t.groupOrder = insertByID(t.groupOrder, g)
}

func (t *tenant) unindexGroup(g *group) {
	delete(t.groups, g.id)
	t.groupOrder = removeByID(t.groupOrder, g)
}

// searchID returns the position of o in objs, sorted by id, or where it
// would be; found says whether that position holds an object with o's id.
func searchID[T identified](objs []T, o T) (int, bool) {
	return slices.BinarySearchFunc(objs, o.objectID(), func(x T, id string) int {
		return strings.Compare(x.objectID(), id)
	})
}

// insertByID inserts o into objs, keeping them sorted by id.
func insertByID[T identified](objs []T, o T) []T {
	i, _ := searchID(objs, o)
	return slices.Insert(objs, i, o)
}

// removeByID removes o from objs, sorted by id, if it is there.
func removeByID[T identified](objs []T, o T) []T {
	if i, found := searchID(objs, o); found && objs[i] == o {
		return slices.Delete(objs, i, i+1)
	}
	return objs
}

// checkUPN validates a new userPrincipalName for u; the caller holds t.mu.
func (t *tenant) checkUPN(u *user, upn string) *graphError {
	at := strings.LastIndexByte(upn, '@')
	if at <= 0 || at == len(upn)-1 {
		return errInvalidValue("userPrincipalName", "User")
	}
	if !t.verifiedDomain(upn[at+1:]) {
		return errBadRequest("The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.")
	}
	if o := t.byUPN[strings.ToLower(upn)]; o != nil && o != u {
		return errBadRequest("Another object with the same value for property userPrincipalName already exists.")
	}
	for _, d := range t.deletedUsers {
		if strings.EqualFold(d.upn(), upn) {
			return errBadRequest("Another object with the same value for property userPrincipalName already exists.")
		}
	}
	return nil
}

// createUser adds a user from a POST /users body.
func (t *tenant) createUser(props map[string]any, now time.Time) (*user, *graphError) {
	u := &user{id: newGUID()}
	if _, gerr := applyUserProps(u, props, modeCreate); gerr != nil {
		return nil, gerr
	}
	for _, p := range []int{pAccountEnabled, pDisplayName, pMailNickname, pUserPrincipalName, pPasswordProfile} {
		if u.v[p] == nil {
			return nil, errRequired(userProps[p].name, "User")
		}
	}
	u.v[pPasswordProfile] = nil // write-only; never kept
	if u.v[pUserType] == nil {
		u.v[pUserType] = "Member"
	}
	u.v[pCreatedDateTime] = graphTime(now)
	if bind, ok := props["manager@odata.bind"].(string); ok {
		u.manager = strings.ToLower(lastSegment(bind))
	}
	t.mu.Lock()
	if gerr := t.checkUPN(u, u.upn()); gerr != nil {
		t.mu.Unlock()
		return nil, gerr
	}
	if gerr := t.checkMailUnique(u, u.str(pMail)); gerr != nil {
		t.mu.Unlock()
		return nil, gerr
	}
	if u.manager != "" && t.users[u.manager] == nil {
		t.mu.Unlock()
		return nil, errNotFound(u.manager)
	}
	t.lagBefore(objUser, u.id)
	t.indexUser(u)
	t.record(change{kind: objUser, op: opCreate, id: u.id})
	t.mu.Unlock()
	t.publish(event{kind: objUser, id: u.id, changeType: "updated"})
	return u, nil
}

// patchUser applies a PATCH body to a live user.
func (t *tenant) patchUser(key string, props map[string]any) *graphError {
	t.mu.Lock()
	u := t.lookupUser(key)
	if u == nil {
		t.mu.Unlock()
		return errNoObject(key)
	}
	if u.privileged && namedProps(props)&sensitiveUserProps != 0 {
		t.mu.Unlock()
		return errInsufficientPrivileges()
	}
	// Work on a copy so that a refused PATCH changes nothing.
	next := *u
	mask, gerr := applyUserProps(&next, props, modePatch)
	if gerr == nil && mask&(1<<pUserPrincipalName) != 0 {
		gerr = t.checkUPN(u, next.upn())
	}
	if gerr == nil && mask&(1<<pMail) != 0 {
		gerr = t.checkMailUnique(u, next.str(pMail))
	}
	if gerr != nil {
		t.mu.Unlock()
		return gerr
	}
	if mask == 0 {
		t.mu.Unlock()
		return nil
	}
	t.lagBefore(objUser, u.id)
	if mask&(1<<pUserPrincipalName) != 0 {
		delete(t.byUPN, strings.ToLower(u.upn()))
		t.byUPN[strings.ToLower(next.upn())] = u
	}
	reindex := mask&indexedMask != 0
	if reindex {
		t.unindexValues(u)
	}
	u.v = next.v
	if reindex {
		t.indexValues(u)
	}
	t.record(change{kind: objUser, op: opUpdate, id: u.id, mask: mask})
	t.mu.Unlock()
	t.publish(event{kind: objUser, id: u.id, changeType: "updated"})
	return nil
}

// deleteUser soft deletes a live user into deleted items.
func (t *tenant) deleteUser(key string, now time.Time) *graphError {
	t.mu.Lock()
	u := t.lookupUser(key)
	if u == nil {
		t.mu.Unlock()
		return errNoObject(key)
	}
	if u.privileged {
		t.mu.Unlock()
		return errInsufficientPrivileges()
	}
	t.lagBefore(objUser, u.id)
	t.unindexUser(u)
	u.deleted = now
	u.v[pDeletedDateTime] = graphTime(now)
	t.deletedUsers[u.id] = u
	t.record(change{kind: objUser, op: opSoftDelete, id: u.id})
	evs := []event{{kind: objUser, id: u.id, changeType: "updated"}}
	var groupEvs []event
	u.deletedFrom, groupEvs = t.leaveGroups(member{id: u.id, kind: objUser})
	evs = append(evs, groupEvs...)
	t.scheduleExpiry(now.Add(t.srv.opts.DeletedItemRetention))
	t.mu.Unlock()
	t.publish(evs...)
	return nil
}

func (t *tenant) scheduleExpiry(at time.Time) {
	if t.nextExpiry.IsZero() || at.Before(t.nextExpiry) {
		t.nextExpiry = at
	}
}

// restore brings a soft-deleted user or group back.
func (t *tenant) restore(id string) (kind objKind, gerr *graphError) {
	id = strings.ToLower(id)
	t.mu.Lock()
	var evs []event
	if u := t.deletedUsers[id]; u != nil {
		if u.privileged {
			t.mu.Unlock()
			return objUser, errInsufficientPrivileges()
		}
		if o := t.byUPN[strings.ToLower(u.upn())]; o != nil {
			t.mu.Unlock()
			return objUser, errBadRequest("Another object with the same value for property userPrincipalName already exists.")
		}
		t.lagBefore(objUser, id)
		delete(t.deletedUsers, id)
		u.deleted = time.Time{}
		u.v[pDeletedDateTime] = nil
		t.indexUser(u)
		t.record(change{kind: objUser, op: opRestore, id: u.id})
		evs = append(evs, event{kind: objUser, id: u.id, changeType: "updated"})
		for _, gid := range u.deletedFrom {
			m := member{id: u.id, kind: objUser}
			if g := t.groups[gid]; g != nil && !g.hasMember(m.id) {
				t.lagBefore(objGroup, g.id)
				g.addMember(m)
				evs = append(evs, t.recordMembership(g.id, m, false))
			}
		}
		u.deletedFrom = nil
		t.mu.Unlock()
		t.publish(evs...)
		return objUser, nil
	}
	if g := t.deletedGroups[id]; g != nil {
		t.lagBefore(objGroup, id)
		delete(t.deletedGroups, id)
		g.deleted = time.Time{}
		g.v[gDeletedDateTime] = nil
		t.indexGroup(g)
		t.record(change{kind: objGroup, op: opRestore, id: g.id})
		t.mu.Unlock()
		t.publish(event{kind: objGroup, id: g.id, changeType: "updated"})
		return objGroup, nil
	}
	t.mu.Unlock()
	return objUser, errNotFound(id)
}

// purge permanently deletes a soft-deleted object.
func (t *tenant) purge(id string) *graphError {
	id = strings.ToLower(id)
	t.mu.Lock()
	if u := t.deletedUsers[id]; u != nil && u.privileged {
		t.mu.Unlock()
		return errInsufficientPrivileges()
	}
	evs, ok := t.purgeLocked(id)
	t.mu.Unlock()
	if !ok {
		return errNotFound(id)
	}
	t.publish(evs...)
	return nil
}

func (t *tenant) purgeLocked(id string) ([]event, bool) {
	if u := t.deletedUsers[id]; u != nil {
		t.lagBefore(objUser, id)
		delete(t.deletedUsers, id)
		t.record(change{kind: objUser, op: opHardDelete, id: id})
		// Direct reports lose their manager for good.
		for rid := range t.reports[id] {
			if r := t.users[rid]; r != nil {
				r.manager = ""
			}
		}
		delete(t.reports, id)
		return []event{{kind: objUser, id: id, changeType: "deleted"}}, true
	}
	if g := t.deletedGroups[id]; g != nil {
		t.lagBefore(objGroup, id)
		delete(t.deletedGroups, id)
		t.record(change{kind: objGroup, op: opHardDelete, id: id})
		return []event{{kind: objGroup, id: id, changeType: "deleted"}}, true
	}
	return nil, false
}

// expire permanently deletes soft-deleted objects past their retention and
// drops expired subscriptions.
func (t *tenant) expire(now time.Time) {
	t.mu.Lock()
	var evs []event
	if !t.nextExpiry.IsZero() && !now.Before(t.nextExpiry) {
		retention := t.srv.opts.DeletedItemRetention
		t.nextExpiry = time.Time{}
		for _, id := range sortedKeys(t.deletedUsers) {
			u := t.deletedUsers[id]
			if end := u.deleted.Add(retention); !now.Before(end) {
				e, _ := t.purgeLocked(id)
				evs = append(evs, e...)
			} else {
				t.scheduleExpiry(end)
			}
		}
		for _, id := range sortedKeys(t.deletedGroups) {
			g := t.deletedGroups[id]
			if end := g.deleted.Add(retention); !now.Before(end) {
				e, _ := t.purgeLocked(id)
				evs = append(evs, e...)
			} else {
				t.scheduleExpiry(end)
			}
		}
	}
	t.mu.Unlock()
	t.publish(evs...)
	t.expireSubscriptions(now)
}

// maybeExpire runs expire when something is due, cheaply otherwise.
func (t *tenant) maybeExpire(now time.Time) {
	t.mu.RLock()
	due := !t.nextExpiry.IsZero() && !now.Before(t.nextExpiry)
	t.mu.RUnlock()
	if due {
		t.expire(now)
	}
}

// setManager sets or (managerID "") clears a user's manager.
func (t *tenant) setManager(key, managerID string) *graphError {
	t.mu.Lock()
	u := t.lookupUser(key)
	if u == nil {
		t.mu.Unlock()
		return errNoObject(key)
	}
	if managerID != "" {
		m := t.lookupUser(managerID)
		if m == nil {
			t.mu.Unlock()
			return errNoObject(managerID)
		}
		if m == u {
			t.mu.Unlock()
			return errBadRequest("A user cannot be their own manager.")
		}
		managerID = m.id
	} else if u.manager == "" {
		t.mu.Unlock()
		return errNotFound("manager")
	}
	if u.manager == managerID {
		t.mu.Unlock()
		return nil
	}
	t.lagBefore(objUser, u.id)
	if u.manager != "" {
		t.removeReport(u.manager, u.id)
	}
	u.manager = managerID
	if managerID != "" {
		t.addReport(managerID, u.id)
	}
	t.record(change{kind: objUser, op: opUpdate, id: u.id, mask: maskManager})
	t.mu.Unlock()
	t.publish(event{kind: objUser, id: u.id, changeType: "updated"})
	return nil
}

// maskManager is the change mask bit for a manager change; a users delta
// with $select=manager tracks it (reported as manager@delta).
const maskManager = 1 << 63

// objectKind says whether id is a live user or group; the caller holds t.mu.
func (t *tenant) objectKind(id string) (objKind, bool) {
	if t.users[id] != nil {
		return objUser, true
	}
	if t.groups[id] != nil {
		return objGroup, true
	}
	return 0, false
}

// addMember adds a user or group to a group.
func (t *tenant) addMember(groupID, memberID string) *graphError {
	return t.changeMembers(groupID, memberID, false, func(g *group, id string) (objKind, *graphError) {
		k, ok := t.objectKind(id)
		if !ok {
			return 0, errNotFound(id)
		}
		if id == g.id {
			return 0, errBadRequest("A group cannot be a member of itself.")
		}
		if !g.addMember(member{id: id, kind: k}) {
			return 0, errBadRequest("One or more added object references already exist for the following modified properties: 'members'.")
		}
		return k, nil
	})
}

// removeMember removes a direct member from a group.
func (t *tenant) removeMember(groupID, memberID string) *graphError {
	return t.changeMembers(groupID, memberID, true, func(g *group, id string) (objKind, *graphError) {
		i, ok := g.index[id]
		if !ok {
			return 0, errNotFound(id)
		}
		k := g.members[i].kind
		g.removeMember(id)
		return k, nil
	})
}

// changeMembers runs apply, which adds memberID to the group groupID or
// (removed) takes it out and returns the member's kind, under t.mu; if it
// succeeds, the change is logged and published.
func (t *tenant) changeMembers(groupID, memberID string, removed bool, apply func(g *group, memberID string) (objKind, *graphError)) *graphError {
	groupID, memberID = strings.ToLower(groupID), strings.ToLower(memberID)
	t.mu.Lock()
	g := t.groups[groupID]
	if g == nil {
		t.mu.Unlock()
		return errNotFound(groupID)
	}
	t.lagBefore(objGroup, groupID)
	k, gerr := apply(g, memberID)
	if gerr != nil {
		t.mu.Unlock()
		return gerr
	}
	ev := t.recordMembership(groupID, member{id: memberID, kind: k}, removed)
	t.mu.Unlock()
	t.publish(ev)
	return nil
}

// recordMembership logs that m joined the group groupID, or left it
// (removed), and returns the event that tells subscribers; the caller holds
// t.mu.
func (t *tenant) recordMembership(groupID string, m member, removed bool) event {
	op := opMemberAdd
	if removed {
		op = opMemberRemove
	}
	t.record(change{kind: objGroup, op: op, id: groupID, member: m.id, memberKind: m.kind})
	return event{kind: objGroup, id: groupID, changeType: "updated",
		members: []memberDelta{{id: m.id, kind: m.kind, removed: removed}}}
}

// leaveGroups takes m out of every live group it is a direct member of,
// logging each removal, and returns those groups' ids and the events to
// publish; the caller holds t.mu.
func (t *tenant) leaveGroups(m member) (groupIDs []string, evs []event) {
	for _, g := range t.groupOrder {
		if g.hasMember(m.id) {
			t.lagBefore(objGroup, g.id)
			g.removeMember(m.id)
			groupIDs = append(groupIDs, g.id)
			evs = append(evs, t.recordMembership(g.id, m, true))
		}
	}
	return groupIDs, evs
}

// parentsOf returns the live groups that have id as a direct member; the
// caller holds t.mu.
func (t *tenant) parentsOf(id string) []*group {
	var out []*group
	for _, g := range t.groupOrder {
		if g.hasMember(id) {
			out = append(out, g)
		}
	}
	return out
}

// transitiveParents returns every group id is in, directly or through
// nested groups, in a stable order; the caller holds t.mu.
func (t *tenant) transitiveParents(id string) []*group {
	seen := map[string]bool{}
	var out []*group
	queue := []string{id}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, g := range t.parentsOf(cur) {
			if !seen[g.id] {
				seen[g.id] = true
				out = append(out, g)
				queue = append(queue, g.id)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// transitiveMembers returns every member of g, through nested groups, each
// once, in breadth-first order; the caller holds t.mu.
func (t *tenant) transitiveMembers(g *group) []member {
	seen := map[string]bool{g.id: true}
	var out []member
	queue := []*group{g}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, m := range cur.members {
			if seen[m.id] {
				continue
			}
			seen[m.id] = true
			out = append(out, m)
			if m.kind == objGroup {
				if ng := t.groups[m.id]; ng != nil {
					queue = append(queue, ng)
				}
			}
		}
	}
	return out
}

// invite creates a B2B user for an invitation, or returns the existing user
// with that address.
func (t *tenant) invite(inv invitationBody, now time.Time) (u *user, existing bool, gerr *graphError) {
	if t.blockInvitations {
		return nil, false, newError(http.StatusForbidden, "Authorization_RequestDenied",
			"Guest invitations not allowed for your company. Contact your company administrator for more details.")
	}
	addr := inv.InvitedUserEmailAddress
	if !validInvitedAddress(addr) {
		return nil, false, errInvalidInvitedAddress()
	}
	at := strings.LastIndexByte(addr, '@')
	if t.verifiedDomain(addr[at+1:]) {
		return nil, false, newError(http.StatusBadRequest, "BadRequest",
			"The invited user already exists in the directory as a member of this organization: the address uses a verified domain of the tenant.")
	}
	t.mu.Lock()
	for _, o := range t.values[strings.ToLower(addr)] {
		if strings.EqualFold(o.str(pMail), addr) {
			t.mu.Unlock()
			return o, true, nil
		}
		if others, _ := o.v[pOtherMails].([]string); len(others) > 0 {
			for _, m := range others {
				if strings.EqualFold(m, addr) {
					t.mu.Unlock()
					return o, true, nil
				}
			}
		}
	}
	local := strings.ReplaceAll(addr[:at], "@", "_") + "_" + addr[at+1:]
	upn := local + "#EXT#@" + t.initialDomain
	if t.byUPN[strings.ToLower(upn)] != nil {
		t.mu.Unlock()
		return nil, false, errBadRequest("Another object with the same value for property userPrincipalName already exists.")
	}
	userType := "Guest"
	if strings.EqualFold(inv.InvitedUserType, "Member") {
		userType = "Member"
	}
	display := inv.InvitedUserDisplayName
	if display == "" {
		display = addr[:at]
	}
	u = &user{id: newGUID()}
	u.v[pAccountEnabled] = true
	u.v[pDisplayName] = display
	u.v[pMail] = addr
	u.v[pOtherMails] = []string{addr}
	u.v[pMailNickname] = local + "#EXT#"
	u.v[pUserPrincipalName] = upn
	u.v[pUserType] = userType
	u.v[pCreationType] = "Invitation"
	u.v[pExternalUserState] = "PendingAcceptance"
	u.v[pExternalUserStateChangeDateTime] = graphTime(now)
	u.v[pCreatedDateTime] = graphTime(now)
	t.lagBefore(objUser, u.id)
	t.indexUser(u)
	t.record(change{kind: objUser, op: opCreate, id: u.id})
	t.mu.Unlock()
	t.publish(event{kind: objUser, id: u.id, changeType: "updated"})
	return u, false, nil
}

// lastSegment returns what follows the last "/" of an @odata.id or bind
// URL, without a trailing "('…')" form's quotes.
func lastSegment(ref string) string {
	ref = strings.TrimRight(ref, "/")
	if i := strings.LastIndexByte(ref, '/'); i >= 0 {
		ref = ref[i+1:]
	}
	if i := strings.IndexByte(ref, '('); i >= 0 {
		ref = strings.Trim(ref[i:], "()'")
	}
	return ref
}
