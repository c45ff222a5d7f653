package graphsim

import (
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Eventual consistency. "A successful write to Microsoft Entra does not
// guarantee that an immediate read will reflect that change"; during
// replication it is normal for a read "to not return the latest data for
// entities that have been recently updated", for "A newly created object to
// return a 'Not Found'" and for "A recently updated property to not yet be
// visible"
// (https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/;
// the List users page says "This request might have replication delays
// for users that were recently created, updated, or deleted",
// https://learn.microsoft.com/graph/api/user-list). Advanced queries
// (ConsistencyLevel: eventual) read an index: "A slight delay can exist
// between when an item is added or updated and when it's available in the
// index" (https://learn.microsoft.com/graph/api/user-list-memberof,
// "Optional query parameters").
//
// With a replication lag L, each write to a user or group becomes visible
// to Graph reads a random part of L after it (drawn from a per-tenant
// generator, so a run is reproducible), and to advanced queries the same
// part of the advanced lag. Until then readers see the object as it was
// before the write: missing (404) if it was just created, the previous
// version if it was changed, still there if it was deleted. Writes to an
// object a reader cannot see yet answer 404, as Graph does. Versions of one
// object become visible in order. The simulated clock measures the lag, so
// AdvanceClock makes everything visible at once. The admin API always reads
// the current state.
//
// Delta queries follow the delta query overview's "Processing delays"
// (https://learn.microsoft.com/graph/delta-query-overview#processing-delays):
// a change may show up only in a later round than the one that follows it,
// and is never lost: a round ends at the last change before the first one
// not yet visible, so the next round picks it up.

// lagState is a tenant's replication lag and the writes not yet visible to
// every reader; it is guarded by t.mu (floor is atomic because delta
// readers advance it under the read lock).
type lagState struct {
	lag, advanced time.Duration
	seed          uint64 // as configured; 0: derived from Options.LagSeed
	rng           *rand.Rand
	users         map[string]*pending
	groups        map[string]*pending
	writes        int // since the last prune
	// floor is a log position at or below which every change is visible
	// to normal reads.
	floor atomic.Uint64
}

// pending is an object with writes that some reader may not see yet: its
// state before the first of them (nil if it did not exist) and the state
// after each.
type pending struct {
	baseUser  *user
	baseGroup *group
	versions  []version
}

// version is an object's state after one write and when it becomes
// visible to normal and to advanced reads.
type version struct {
	visible, advVisible time.Time
	user                *user
	group               *group
}

// readView is who reads: when, and whether with ConsistencyLevel: eventual.
type readView struct {
	now      time.Time
	advanced bool
}

func (rq *request) view() readView {
	return readView{now: rq.now, advanced: strings.EqualFold(rq.header.Get("ConsistencyLevel"), "eventual")}
}

// setLag sets the lags and the generator seed; the caller holds t.mu.
func (t *tenant) setLag(lag, advanced time.Duration, seed uint64) {
	t.lag.lag, t.lag.advanced = lag, advanced
	if t.lag.rng == nil || seed != t.lag.seed {
		t.lag.seed = seed
		h := fnv.New64a()
		h.Write([]byte(t.id))
		if seed == 0 {
			seed = t.srv.opts.LagSeed
		}
		t.lag.rng = rand.New(rand.NewPCG(seed, h.Sum64()))
	}
}

// parseLags reads the replicationLag and advancedLag of a seed or of the
// admin API: durations such as "2s"; advanced defaults to twice lag.
func parseLags(lag, advanced string) (time.Duration, time.Duration, error) {
	var l, a time.Duration
	var err error
	if strings.TrimSpace(lag) != "" {
		if l, err = time.ParseDuration(lag); err != nil {
			return 0, 0, fmt.Errorf("replicationLag %q: %w", lag, err)
		}
	}
	if strings.TrimSpace(advanced) != "" {
		if a, err = time.ParseDuration(advanced); err != nil {
			return 0, 0, fmt.Errorf("advancedLag %q: %w", advanced, err)
		}
	}
	return checkLags(l, a)
}

// checkLags validates lags and applies the advanced default.
func checkLags(lag, advanced time.Duration) (time.Duration, time.Duration, error) {
	if lag < 0 || advanced < 0 {
		return 0, 0, fmt.Errorf("lags must not be negative")
	}
	if advanced == 0 {
		advanced = 2 * lag
	}
	if advanced < lag {
		return 0, 0, fmt.Errorf("advancedLag %v is shorter than replicationLag %v: advanced queries lag longer", advanced, lag)
	}
	return lag, advanced, nil
}

// SetReplicationLag sets a tenant's replication lag for Graph reads and
// for advanced queries (ConsistencyLevel: eventual); advanced 0 means
// twice lag, and lag 0 turns the lag off for writes from now on.
func (s *Server) SetReplicationLag(tenant string, lag, advanced time.Duration) error {
	t := s.lookupTenant(tenant)
	if t == nil {
		return fmt.Errorf("set replication lag: %s: %w", tenant, ErrUnknownTenant)
	}
	lag, advanced, err := checkLags(lag, advanced)
	if err != nil {
		return fmt.Errorf("set replication lag of %s: %w", tenant, err)
	}
	t.mu.Lock()
	t.setLag(lag, advanced, t.lag.seed)
	t.mu.Unlock()
	return nil
}

// ReplicationLag returns a tenant's replication lags.
func (s *Server) ReplicationLag(tenant string) (lag, advanced time.Duration, err error) {
	t := s.lookupTenant(tenant)
	if t == nil {
		return 0, 0, fmt.Errorf("replication lag: %s: %w", tenant, ErrUnknownTenant)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.lag.lag, t.lag.advanced, nil
}

// lagBefore notes an object's state before a write to it, when the write
// will lag; the caller holds t.mu and calls it before changing the object.
func (t *tenant) lagBefore(kind objKind, id string) {
	if t.lag.lag <= 0 {
		return
	}
	now := t.srv.clock.now()
	t.lag.writes++
	if t.lag.writes >= 64 && t.lag.writes >= len(t.lag.users)+len(t.lag.groups) {
		t.pruneLag(now)
	}
	m := t.lagMap(kind, true)
	if p := m[id]; p != nil && !p.settled(now) {
		return
	}
	p := &pending{}
	if kind == objGroup {
		p.baseGroup = cloneGroup(t.groupPrimary(id))
	} else {
		p.baseUser = cloneUser(t.userPrimary(id))
	}
	m[id] = p
}

// lagVersion records the state of an object after a write noted by
// lagBefore and returns when normal reads see it (Unix nanoseconds), or 0
// when the write does not lag; the caller holds t.mu.
func (t *tenant) lagVersion(kind objKind, id string) int64 {
	p := t.lagMap(kind, false)[id]
	if p == nil || t.lag.lag <= 0 {
		return 0
	}
	now := t.srv.clock.now()
	part := t.lag.rng.Float64()
	v := version{
		visible:    now.Add(time.Duration(part * float64(t.lag.lag))),
		advVisible: now.Add(time.Duration(part * float64(t.lag.advanced))),
	}
	if n := len(p.versions); n > 0 {
		// Versions of one object replicate in order.
		last := p.versions[n-1]
		v.visible = maxTime(v.visible, last.visible)
		v.advVisible = maxTime(v.advVisible, last.advVisible)
	}
	if kind == objGroup {
		v.group = cloneGroup(t.groupPrimary(id))
	} else {
		v.user = cloneUser(t.userPrimary(id))
	}
	p.versions = append(p.versions, v)
	return v.visible.UnixNano()
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (t *tenant) lagMap(kind objKind, create bool) map[string]*pending {
	m := &t.lag.users
	if kind == objGroup {
		m = &t.lag.groups
	}
	if *m == nil && create {
		*m = make(map[string]*pending)
	}
	return *m
}

// settled reports whether every reader sees the newest version at now.
func (p *pending) settled(now time.Time) bool {
	n := len(p.versions)
	return n == 0 || !now.Before(p.versions[n-1].advVisible)
}

// pruneLag forgets objects whose writes every reader sees; the caller holds
// t.mu.
func (t *tenant) pruneLag(now time.Time) {
	for _, m := range []map[string]*pending{t.lag.users, t.lag.groups} {
		maps.DeleteFunc(m, func(_ string, p *pending) bool { return p.settled(now) })
	}
	t.lag.writes = 0
}

// seen returns which version of p a reader sees: -1 for the state before
// the pending writes, len(p.versions)-1 or more for the current state.
func (p *pending) seen(rv readView) int {
	i := len(p.versions) - 1
	for ; i >= 0; i-- {
		at := p.versions[i].visible
		if rv.advanced {
			at = p.versions[i].advVisible
		}
		if !rv.now.Before(at) {
			break
		}
	}
	return i
}

func cloneUser(u *user) *user {
	if u == nil {
		return nil
	}
	c := *u
	return &c
}

func cloneGroup(g *group) *group {
	if g == nil {
		return nil
	}
	c := *g
	c.members = slices.Clone(g.members)
	c.index = maps.Clone(g.index)
	return &c
}

// userPrimary and groupPrimary return an object's current state: live,
// soft-deleted (deleted set), or nil; the caller holds t.mu.
func (t *tenant) userPrimary(id string) *user {
	if u := t.users[id]; u != nil {
		return u
	}
	return t.deletedUsers[id]
}

func (t *tenant) groupPrimary(id string) *group {
	if g := t.groups[id]; g != nil {
		return g
	}
	return t.deletedGroups[id]
}

// userState returns user id as a reader sees it: live, soft-deleted
// (deleted set) or nil; the caller holds t.mu for reading and must not
// change what it returns.
func (t *tenant) userState(id string, rv readView) *user {
	p := t.lag.users[id]
	if p == nil {
		return t.userPrimary(id)
	}
	switch i := p.seen(rv); {
	case i >= len(p.versions)-1:
		return t.userPrimary(id)
	case i < 0:
		return p.baseUser
	default:
		return p.versions[i].user
	}
}

// groupState is userState for groups.
func (t *tenant) groupState(id string, rv readView) *group {
	p := t.lag.groups[id]
	if p == nil {
		return t.groupPrimary(id)
	}
	switch i := p.seen(rv); {
	case i >= len(p.versions)-1:
		return t.groupPrimary(id)
	case i < 0:
		return p.baseGroup
	default:
		return p.versions[i].group
	}
}

// readUser finds a live user by id or userPrincipalName as a reader sees
// it; the caller holds t.mu for reading.
func (t *tenant) readUser(key string, rv readView) *user {
	if len(t.lag.users) == 0 {
		return t.lookupUser(key)
	}
	live := func(u *user) *user {
		if u == nil || !u.deleted.IsZero() {
			return nil
		}
		if strings.Contains(key, "@") && !strings.EqualFold(u.upn(), key) {
			return nil
		}
		return u
	}
	if u := t.lookupUser(key); u != nil {
		if v := live(t.userState(u.id, rv)); v != nil {
			return v
		}
	}
	id := strings.ToLower(key)
	if !strings.Contains(key, "@") {
		return live(t.userState(id, rv))
	}
	// A userPrincipalName the reader still sees on a user that changed it
	// or was deleted.
	for pid := range t.lag.users {
		if v := live(t.userState(pid, rv)); v != nil {
			return v
		}
	}
	return nil
}

// readGroup finds a live group by id as a reader sees it; the caller holds
// t.mu for reading.
func (t *tenant) readGroup(id string, rv readView) *group {
	id = strings.ToLower(id)
	g := t.groupState(id, rv)
	if g == nil || !g.deleted.IsZero() {
		return nil
	}
	return g
}

// liveUsers returns the live users a reader sees, sorted by id; the caller
// holds t.mu for reading.
func (t *tenant) liveUsers(rv readView) []*user {
	if len(t.lag.users) == 0 {
		return t.userOrder
	}
	out := make([]*user, 0, len(t.userOrder)+len(t.lag.users))
	for _, u := range t.userOrder {
		if t.lag.users[u.id] == nil {
			out = append(out, u)
		}
	}
	for id := range t.lag.users {
		if u := t.userState(id, rv); u != nil && u.deleted.IsZero() {
			out = append(out, u)
		}
	}
	sortUsers(out)
	return out
}

// liveGroups is liveUsers for groups.
func (t *tenant) liveGroups(rv readView) []*group {
	if len(t.lag.groups) == 0 {
		return t.groupOrder
	}
	out := make([]*group, 0, len(t.groupOrder)+len(t.lag.groups))
	for _, g := range t.groupOrder {
		if t.lag.groups[g.id] == nil {
			out = append(out, g)
		}
	}
	for id := range t.lag.groups {
		if g := t.groupState(id, rv); g != nil && g.deleted.IsZero() {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b *group) int { return strings.Compare(a.id, b.id) })
	return out
}

// lagging reports whether some write to an object of kind is not yet
// visible to every reader; the caller holds t.mu for reading.
func (t *tenant) lagging(kind objKind) bool {
	if kind == objGroup {
		return len(t.lag.groups) > 0
	}
	return len(t.lag.users) > 0
}

// lagHides answers a request that names a live user or group (by id or
// userPrincipalName) which the reader cannot see yet: 404, as Graph answers
// a write to an object that has not replicated. It returns nil when the
// reader sees the object or when it does not exist at all (the handler
// answers that).
func lagHides(rq *request, kind objKind, key string) *graphError {
	t := rq.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	if !t.lagging(kind) {
		return nil
	}
	rv := rq.view()
	if kind == objGroup {
		if t.groups[strings.ToLower(key)] != nil && t.readGroup(key, rv) == nil {
			return errNoObject(key)
		}
		return nil
	}
	if t.lookupUser(key) != nil && t.readUser(key, rv) == nil {
		return errNoObject(key)
	}
	return nil
}

// deltaHorizon is the log position a delta round may end at: the last
// change before the first one that normal reads do not see yet; the caller
// holds t.mu for reading.
func (t *tenant) deltaHorizon(now time.Time) uint64 {
	floor := t.lag.floor.Load()
	i := sort.Search(len(t.log), func(i int) bool { return t.log[i].seq > floor })
	n := now.UnixNano()
	for ; i < len(t.log); i++ {
		if v := t.log[i].visible; v != 0 && v > n {
			break
		}
		floor = t.log[i].seq
	}
	for {
		old := t.lag.floor.Load()
		if floor <= old || t.lag.floor.CompareAndSwap(old, floor) {
			break
		}
	}
	if i == len(t.log) {
		return t.seq
	}
	return t.log[i].seq - 1
}
