// Package graphsim is a local, stateful Microsoft Graph v1.0 for several
// Entra ID tenants in one process: what Azurite is for Storage, for the parts
// of Graph that tenantsync uses. Code that passes against it should work
// against real Graph, so it answers with Graph's paths, JSON shapes, status
// codes, error bodies, paging and delta semantics, and is as strict as
// Graph's documentation where it says so. docs/simulator.md lists what it
// models, what it does not, and the Graph page behind each rule.
//
// A Server is an http.Handler. Each tenant's Graph is at
// http://HOST/<tenant id or domain>/v1.0/..., and the admin API at
// http://HOST/_sim/... (stats, faults, clock, snapshots, and per tenant
// permissions, replication lag, privileged users, redemptions and delta
// resets; see serveAdmin in admin.go). What it serves:
//
//   - users: list ($select, $filter, $top, $count, paging), get by id or
//     userPrincipalName, create, update, soft delete, manager, direct reports,
//     memberOf, transitiveMemberOf, checkMemberGroups, delta;
//   - groups: list, get, create, update, delete, members, transitiveMembers,
//     members/$ref, delta with members@delta;
//   - directory/deletedItems: list, get, restore, permanent delete, with the
//     30-day retention honoured by the simulated clock;
//   - invitations (B2B users), $batch (20 requests, dependsOn), subscriptions
//     with the validation handshake and change notifications, organization,
//     policies/authorizationPolicy, and the app's own service principal
//     (servicePrincipals(appId='...')) with its appRoleAssignments.
//
// Always on, as in Graph: showInAddressList reads back null; invitation
// addresses follow the invitation resource's character rules; a user's mail
// may not be another object's mail or proxy address; and every response
// says its resource unit cost (x-ms-resource-unit) from Graph's identity
// and access cost table.
//
// Off unless a seed or the admin API turns it on (TenantSeed fields and
// Server methods):
//
//   - application permissions (permissions, SetPermissions): each request
//     needs what its API reference page's "Permissions" section lists,
//     else 403 Authorization_RequestDenied (permissions.go);
//   - privileged users ("privileged": true on a seed user, SetPrivileged):
//     the app may not change their sensitive properties, delete or restore
//     them (privileged.go);
//   - eventual consistency (replicationLag, advancedLag, SetReplicationLag):
//     writes reach reads, lists, $filter and delta a seeded random part of
//     the lag later (lag.go);
//   - redemptions of invitations (Redeem) and delta token resets
//     (ResetDelta: 410 Gone with Location, or 400 syncStateNotFound);
//   - throttling after the identity and access service limits, and faults
//     (errors, latency, notification loss, duplication, reordering, delay)
//     for tests (Faults).
//
// Notification URLs must be https, as in Graph, except on a loopback host
// (127.0.0.1, ::1, localhost), where http is accepted so that tests and local
// runs can receive notifications without certificates.
package graphsim

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server. The zero value is ready to use.
type Options struct {
	// DeltaTokenMaxAge is how long delta and skip tokens stay valid, on the
	// simulated clock. Default 7 days, as Graph for directory objects.
	DeltaTokenMaxAge time.Duration
	// DeletedItemRetention is how long soft-deleted objects stay
	// restorable. Default 30 days.
	DeletedItemRetention time.Duration
	// DeltaPageSize is the number of objects per delta page when the client
	// sends no Prefer: odata.maxpagesize. Default 200, as Graph.
	DeltaPageSize int
	// DeltaMemberLinks is the most members@delta entries on one delta
	// page; a larger group continues on the next page. Default 500.
	DeltaMemberLinks int
	// MaxBodyBytes bounds request bodies. Default 4 MiB, as Graph.
	MaxBodyBytes int64
	// Faults are the faults and throttling in force at start.
	Faults Faults
	// HTTPClient sends validation requests and change notifications.
	// Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// ValidationTimeout bounds the subscription validation handshake.
	// Default 10 s, as Graph.
	ValidationTimeout time.Duration
	// NotificationBatchWindow is how long the simulator collects change
	// notifications for one subscription before posting them together.
	// Default 50 ms.
	NotificationBatchWindow time.Duration
	// NotificationRetry is the first delay before a failed notification
	// delivery is retried; it doubles up to a minute. Default 1 s.
	NotificationRetry time.Duration
	// NotificationRetryFor is how long a failing delivery is retried before
	// it is dropped. Default 4 h, as Graph.
	NotificationRetryFor time.Duration
	// SlowDelivery is the duration above which a delivery counts as slow.
	// Default 2.9 s, as Graph.
	SlowDelivery time.Duration
	// Logger receives the simulator's log. Default: discard.
	Logger *slog.Logger
	// LagSeed seeds the generators that draw replication delays (each
	// tenant's is derived from it and the tenant id), so that a run with
	// replication lag is reproducible. A tenant seed's lagSeed overrides
	// it.
	LagSeed uint64
}

func (o *Options) setDefaults() {
	if o.DeltaTokenMaxAge <= 0 {
		o.DeltaTokenMaxAge = 7 * 24 * time.Hour
	}
	if o.DeletedItemRetention <= 0 {
		o.DeletedItemRetention = 30 * 24 * time.Hour
	}
	if o.DeltaPageSize <= 0 {
		o.DeltaPageSize = 200
	}
	if o.DeltaMemberLinks <= 0 {
		o.DeltaMemberLinks = 500
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 4 << 20
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.ValidationTimeout <= 0 {
		o.ValidationTimeout = 10 * time.Second
	}
	if o.NotificationBatchWindow <= 0 {
		o.NotificationBatchWindow = 50 * time.Millisecond
	}
	if o.NotificationRetry <= 0 {
		o.NotificationRetry = time.Second
	}
	if o.NotificationRetryFor <= 0 {
		o.NotificationRetryFor = 4 * time.Hour
	}
	if o.SlowDelivery <= 0 {
		o.SlowDelivery = 2900 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Server is a simulated Microsoft Graph for several tenants. It is safe for
// concurrent use.
type Server struct {
	opts  Options
	log   *slog.Logger
	clock clock

	mu      sync.RWMutex
	tenants map[string]*tenant // by lower-cased id, domain and initial domain
	order   []*tenant          // in the order they were added

	faults atomic.Pointer[faultState]

	// Notification delivery runs until Close.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
}

// New returns a Server with no tenants; add them with LoadSeed.
func New(opts Options) *Server {
	opts.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		tenants: make(map[string]*tenant),
		ctx:     ctx,
		cancel:  cancel,
	}
	if err := s.SetFaults(opts.Faults); err != nil {
		s.log.Warn("ignoring invalid faults in options", "err", err)
		_ = s.SetFaults(Faults{})
	}
	return s
}

// Close stops notification delivery and waits for deliveries in flight. The
// server answers requests after Close, but sends no more notifications.
func (s *Server) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.cancel()
	s.wg.Wait()
	return nil
}

// Now returns the simulated time: the wall clock plus every AdvanceClock.
func (s *Server) Now() time.Time { return s.clock.now() }

// AdvanceClock moves the simulated clock forward by d. Delta tokens,
// deleted items and subscriptions expire against it, and throttling buckets
// refill with it.
func (s *Server) AdvanceClock(d time.Duration) {
	if d <= 0 {
		return
	}
	s.clock.advance(d)
	now := s.clock.now()
	for _, t := range s.tenantList() {
		t.expire(now)
	}
}

// TenantInfo identifies a simulated tenant.
type TenantInfo struct {
	ID            string `json:"id"`
	Domain        string `json:"domain"`
	InitialDomain string `json:"initialDomain"`
	DisplayName   string `json:"displayName"`
}

// Tenants lists the simulated tenants in the order they were added.
func (s *Server) Tenants() []TenantInfo {
	var out []TenantInfo
	for _, t := range s.tenantList() {
		out = append(out, t.info())
	}
	return out
}

func (s *Server) tenantList() []*tenant {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]*tenant(nil), s.order...)
}

// lookupTenant finds a tenant by id, domain or initial domain.
func (s *Server) lookupTenant(key string) *tenant {
	s.mu.RLock()
	t := s.tenants[strings.ToLower(key)]
	s.mu.RUnlock()
	return t
}

// putTenant adds t, replacing the tenant with the same id or domain.
func (s *Server) putTenant(t *tenant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var old *tenant
	for _, k := range t.keys() {
		if o := s.tenants[k]; o != nil {
			old = o
		}
	}
	if old != nil {
		for _, k := range old.keys() {
			delete(s.tenants, k)
		}
		for i, o := range s.order {
			if o == old {
				s.order = append(s.order[:i], s.order[i+1:]...)
				break
			}
		}
		old.stopSubscriptions()
	}
	for _, k := range t.keys() {
		s.tenants[k] = t
	}
	s.order = append(s.order, t)
}

// request is one Graph request, either from HTTP or from inside a $batch.
type request struct {
	ctx         context.Context
	t           *tenant
	method      string
	segs        []string // path segments after /v1.0, unescaped
	query       url.Values
	header      http.Header
	body        []byte
	base        string // scheme://host/<tenant>/v1.0, for absolute links
	reqID       string
	clientReqID string
	now         time.Time // simulated
	inBatch     bool
}

// param returns a system query option, with or without its "$".
func (r *request) param(name string) string {
	if v, ok := r.query["$"+name]; ok && len(v) > 0 {
		return v[0]
	}
	if v, ok := r.query[name]; ok && len(v) > 0 {
		return v[0]
	}
	return ""
}

func (r *request) hasParam(name string) bool {
	_, a := r.query["$"+name]
	_, b := r.query[name]
	return a || b
}

// advanced reports whether the request carries the advanced query
// parameters: ConsistencyLevel: eventual and $count=true.
func (r *request) advanced() bool {
	return strings.EqualFold(r.header.Get("ConsistencyLevel"), "eventual") &&
		strings.EqualFold(r.param("count"), "true")
}

// response is what a route answers.
type response struct {
	status   int
	body     []byte // JSON unless contentType says otherwise
	ctype    string
	location string
	// preference is sent as Preference-Applied.
	preference string
	// resourceUnits is sent as x-ms-resource-unit: what the request cost
	// under the identity and access limits (costs.go).
	resourceUnits int
	err           *graphError
}

func jsonResponse(status int, body []byte) *response { return &response{status: status, body: body} }

func errorResponse(e *graphError) *response { return &response{status: e.status, err: e} }

func noContent() *response { return &response{status: http.StatusNoContent} }

// noContentOr answers 204, or the error if there is one.
func noContentOr(gerr *graphError) *response {
	if gerr != nil {
		return errorResponse(gerr)
	}
	return noContent()
}

const jsonContentType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

// ServeHTTP serves the admin API under /_sim/ and each tenant's Graph under
// /<tenant>/v1.0/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if strings.HasPrefix(path, "/_sim/") || path == "/_sim" {
		s.serveAdmin(w, r)
		return
	}
	reqID := newGUID()
	clientReqID := r.Header.Get("client-request-id")
	if clientReqID == "" {
		clientReqID = reqID
	}
	now := s.clock.now()
	segs, err := splitPath(path)
	if err != nil || len(segs) < 2 {
		s.writeError(w, errSegment(path), reqID, clientReqID, now)
		return
	}
	t := s.lookupTenant(segs[0])
	if t == nil {
		e := newError(http.StatusUnauthorized, "InvalidAuthenticationToken",
			"Tenant '%s' is not known to the simulator; known tenants are listed at /_sim/tenants.", segs[0])
		s.writeError(w, e, reqID, clientReqID, now)
		return
	}
	t.stats.requests.Add(1)
	if segs[1] != "v1.0" {
		s.writeError(w, newError(http.StatusBadRequest, "BadRequest",
			"Invalid version: '%s'. The simulator serves v1.0.", segs[1]), reqID, clientReqID, now)
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	rq := &request{
		ctx:         r.Context(),
		t:           t,
		method:      r.Method,
		segs:        segs[2:],
		query:       r.URL.Query(),
		header:      r.Header,
		base:        scheme + "://" + r.Host + "/" + escapeSegment(segs[0]) + "/v1.0",
		reqID:       reqID,
		clientReqID: clientReqID,
		now:         now,
	}
	if r.Body != nil && r.Method != http.MethodGet {
		body, gerr := readBody(r, s.opts.MaxBodyBytes)
		if gerr != nil {
			t.stats.count(routeUnknown, false, gerr.status)
			s.writeError(w, gerr, reqID, clientReqID, now)
			return
		}
		rq.body = body
	}
	resp := s.handle(rq)
	s.writeResponse(w, rq, resp)
}

// handle routes one request and applies stats, faults and throttling.
func (s *Server) handle(rq *request) *response {
	rt, h, gerr := route(rq)
	t := rq.t
	if gerr != nil {
		t.stats.count(routeUnknown, false, gerr.status)
		return errorResponse(gerr)
	}
	if rt == routeBatch {
		// The envelope is not a Graph operation: its items are counted,
		// faulted and throttled one by one.
		t.stats.countEnvelope()
		return h(s, rq)
	}
	def := &routes[rt]
	if f := s.faults.Load(); f != nil {
		if d := f.latency(); d > 0 && !rq.inBatch {
			select {
			case <-time.After(d):
			case <-rq.ctx.Done():
			}
		}
		if status, ok := f.injectError(); ok {
			e := faultError(status, f.retryAfterSeconds(), t.id)
			t.stats.count(rt, def.write, status)
			return errorResponse(e)
		}
	}
	cost := requestCost(rt, rq)
	if wait, ok := t.throttle.take(s.faults.Load(), rq.now, cost, writeCost(rt) > 0, t.userCount()); !ok {
		t.stats.count(rt, def.write, http.StatusTooManyRequests)
		return errorResponse(errThrottled(wait, t.id))
	}
	// The permission check follows throttling: a refused request still
	// costs its resource units (Graph does not document the order; this is
	// the stricter reading).
	if gerr := s.authorize(rq, rt); gerr != nil {
		t.stats.count(rt, def.write, gerr.status)
		return errorResponse(gerr)
	}
	resp := h(s, rq)
	resp.resourceUnits = cost
	t.stats.count(rt, def.write, resp.status)
	return resp
}

func (s *Server) writeResponse(w http.ResponseWriter, rq *request, resp *response) {
	h := w.Header()
	h.Set("request-id", rq.reqID)
	h.Set("client-request-id", rq.clientReqID)
	if resp.location != "" {
		// Also on errors: a 410 Gone from a delta query says where to
		// restart.
		h.Set("Location", resp.location)
	}
	if resp.err != nil {
		s.writeError(w, resp.err, rq.reqID, rq.clientReqID, rq.now)
		return
	}
	if resp.preference != "" {
		h.Set("Preference-Applied", resp.preference)
	}
	if resp.resourceUnits > 0 {
		// Graph's identity and access responses say what they cost
		// (https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits, "x-ms-resource-unit").
		h.Set("x-ms-resource-unit", strconv.Itoa(resp.resourceUnits))
	}
	if resp.body == nil {
		w.WriteHeader(resp.status)
		return
	}
	ct := resp.ctype
	if ct == "" {
		ct = jsonContentType
	}
	h.Set("Content-Type", ct)
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

func (s *Server) writeError(w http.ResponseWriter, e *graphError, reqID, clientReqID string, now time.Time) {
	h := w.Header()
	h.Set("request-id", reqID)
	h.Set("client-request-id", clientReqID)
	h.Set("Content-Type", "application/json")
	if e.retryAfter > 0 {
		h.Set("Retry-After", retryAfterHeader(e.retryAfter))
	}
	w.WriteHeader(e.status)
	_, _ = w.Write(appendErrorBody(nil, e, reqID, clientReqID, now))
}

// readBody reads a request body of at most limit bytes, decompressed:
// msgraph-sdk-go's default pipeline gzips request bodies, as Graph accepts
// (tenantsync's own pipeline leaves that out: internal/graph newHTTPClient).
func readBody(r *http.Request, limit int64) ([]byte, *graphError) {
	var src io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, newError(http.StatusBadRequest, "BadRequest", "The gzip request body could not be read.")
		}
		defer zr.Close()
		src = zr
	default:
		return nil, newError(http.StatusUnsupportedMediaType, "UnsupportedMediaType", "Content-Encoding '%s' is not supported.", enc)
	}
	body, err := io.ReadAll(io.LimitReader(src, limit+1))
	if err != nil {
		return nil, newError(http.StatusBadRequest, "BadRequest", "Could not read the request body.")
	}
	if int64(len(body)) > limit {
		return nil, newError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			"The request body exceeds the limit of %d bytes.", limit)
	}
	return body, nil
}

// splitPath splits an escaped URL path into unescaped segments, so that a
// userPrincipalName with an encoded "#" or "/" stays one segment.
func splitPath(escaped string) ([]string, error) {
	escaped = strings.Trim(escaped, "/")
	if escaped == "" {
		return nil, nil
	}
	parts := strings.Split(escaped, "/")
	for i, p := range parts {
		if !strings.Contains(p, "%") {
			continue
		}
		u, err := url.PathUnescape(p)
		if err != nil {
			return nil, fmt.Errorf("unescape %q: %w", p, err)
		}
		parts[i] = u
	}
	return parts, nil
}

// escapeSegment escapes s for use as one path segment.
func escapeSegment(s string) string { return url.PathEscape(s) }

// LoadSeed adds the seed's tenants, replacing tenants with the same id or
// domain.
func (s *Server) LoadSeed(seed Seed) error {
	built := make([]*tenant, 0, len(seed.Tenants))
	for i, ts := range seed.Tenants {
		t, err := s.buildTenant(ts)
		if err != nil {
			return fmt.Errorf("seed tenant %d (%s): %w", i, ts.Domain, err)
		}
		built = append(built, t)
	}
	for _, t := range built {
		s.putTenant(t)
		t.startSubscriptions()
	}
	return nil
}

// PutTenant adds one tenant or replaces the tenant with the same id or
// domain, dropping its state and subscriptions.
func (s *Server) PutTenant(ts TenantSeed) error {
	return s.LoadSeed(Seed{Tenants: []TenantSeed{ts}})
}

// Snapshot returns a tenant's current state as seed JSON: users, groups
// with their members, soft-deleted objects and subscriptions.
func (s *Server) Snapshot(tenantKey string) (TenantSeed, error) {
	t := s.lookupTenant(tenantKey)
	if t == nil {
		return TenantSeed{}, fmt.Errorf("snapshot %s: %w", tenantKey, ErrUnknownTenant)
	}
	return t.snapshot(), nil
}

// ErrUnknownTenant is returned for a tenant the server does not simulate.
var ErrUnknownTenant = errors.New("unknown tenant")

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
