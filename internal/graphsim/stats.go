package graphsim

import (
	"net/http"
	"sync/atomic"
)

// tenantStats are a tenant's counters, updated without locks.
type tenantStats struct {
	requests  atomic.Int64 // HTTP requests, $batch envelopes included
	reads     atomic.Int64
	writes    atomic.Int64
	throttled atomic.Int64
	failed    atomic.Int64
	routes    [numRoutes]atomic.Int64

	posts      atomic.Int64
	delivered  atomic.Int64
	postFailed atomic.Int64
	retried    atomic.Int64
	slow       atomic.Int64
	dropped    atomic.Int64
	duplicated atomic.Int64
	reordered  atomic.Int64
	abandoned  atomic.Int64
	lifecycle  atomic.Int64
}

// count records one Graph operation (a request, or an item of a $batch).
func (s *tenantStats) count(rt routeID, write bool, status int) {
	s.routes[rt].Add(1)
	if write {
		s.writes.Add(1)
	} else {
		s.reads.Add(1)
	}
	switch {
	case status == http.StatusTooManyRequests:
		s.throttled.Add(1)
	case status >= 500:
		s.failed.Add(1)
	}
}

func (s *tenantStats) countEnvelope() { s.routes[routeBatch].Add(1) }

func (s *tenantStats) reset() {
	for _, c := range []*atomic.Int64{&s.requests, &s.reads, &s.writes, &s.throttled, &s.failed,
		&s.posts, &s.delivered, &s.postFailed, &s.retried, &s.slow, &s.dropped, &s.duplicated,
		&s.reordered, &s.abandoned, &s.lifecycle} {
		c.Store(0)
	}
	for i := range s.routes {
		s.routes[i].Store(0)
	}
}

// Stats are the simulator's counters, per tenant domain.
type Stats struct {
	Tenants map[string]TenantStats `json:"tenants"`
}

// TenantStats are one tenant's counters since start or the last
// ResetStats. Reads and Writes count Graph operations: a $batch counts once
// in Requests and Routes["POST /$batch"], and each of its items as its own
// operation. Throttled counts 429 answers, Failed answers of 500 and above
// (injected faults included).
type TenantStats struct {
	ID        string `json:"id"`
	Domain    string `json:"domain"`
	Requests  int64  `json:"requests"`
	Reads     int64  `json:"reads"`
	Writes    int64  `json:"writes"`
	Throttled int64  `json:"throttled"`
	Failed    int64  `json:"failed"`
	// Routes counts operations by method and route template, such as
	// "GET /users/{id}".
	Routes        map[string]int64  `json:"routes"`
	Users         int               `json:"users"`
	Groups        int               `json:"groups"`
	DeletedItems  int               `json:"deletedItems"`
	Subscriptions int               `json:"subscriptions"`
	Notifications NotificationStats `json:"notifications"`
	Limits        Limits            `json:"limits"`
}

// NotificationStats count change notification deliveries.
type NotificationStats struct {
	Posts      int64 `json:"posts"`      // POSTs to notification URLs, retries included
	Delivered  int64 `json:"delivered"`  // notifications acknowledged with 2xx
	Failed     int64 `json:"failed"`     // POSTs answered non-2xx or not at all
	Retried    int64 `json:"retried"`    // POSTs that were retries
	Slow       int64 `json:"slow"`       // POSTs answered after more than 2.9 s
	Dropped    int64 `json:"dropped"`    // notifications dropped by a fault
	Duplicated int64 `json:"duplicated"` // notifications duplicated by a fault
	Reordered  int64 `json:"reordered"`  // notifications held back by a fault
	Abandoned  int64 `json:"abandoned"`  // notifications given up after retrying
	Lifecycle  int64 `json:"lifecycle"`  // lifecycle notifications sent
}

// Stats returns the counters of every tenant.
func (s *Server) Stats() Stats {
	out := Stats{Tenants: map[string]TenantStats{}}
	f := s.faults.Load()
	for _, t := range s.tenantList() {
		st := &t.stats
		ts := TenantStats{
			ID: t.id, Domain: t.domain,
			Requests: st.requests.Load(), Reads: st.reads.Load(), Writes: st.writes.Load(),
			Throttled: st.throttled.Load(), Failed: st.failed.Load(),
			Routes: map[string]int64{},
			Notifications: NotificationStats{
				Posts: st.posts.Load(), Delivered: st.delivered.Load(), Failed: st.postFailed.Load(),
				Retried: st.retried.Load(), Slow: st.slow.Load(), Dropped: st.dropped.Load(),
				Duplicated: st.duplicated.Load(), Reordered: st.reordered.Load(),
				Abandoned: st.abandoned.Load(), Lifecycle: st.lifecycle.Load(),
			},
		}
		for i := range st.routes {
			if n := st.routes[i].Load(); n > 0 {
				ts.Routes[routes[i].name] = n
			}
		}
		t.mu.RLock()
		ts.Users, ts.Groups = len(t.users), len(t.groups)
		ts.DeletedItems = len(t.deletedUsers) + len(t.deletedGroups)
		t.mu.RUnlock()
		t.subsMu.Lock()
		ts.Subscriptions = len(t.subs)
		t.subsMu.Unlock()
		ts.Limits = limitsFor(f, ts.Users)
		out.Tenants[t.domain] = ts
	}
	return out
}

// ResetStats sets every counter to zero.
func (s *Server) ResetStats() {
	for _, t := range s.tenantList() {
		t.stats.reset()
	}
}
