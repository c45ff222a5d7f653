package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// simulator is a Graph simulator served over loopback HTTP for one phase,
// behind a recorder that notes, per tenant, the writes the simulator
// applied and when, which its own counters do not tell apart from the
// throttled ones.
type simulator struct {
	*graphsim.Server
	URL string // http://127.0.0.1:PORT

	srv *http.Server
	rec *recorder
}

// startSimulator loads seed into a new simulator with the given
// throttling and serves it on a free loopback port, through the given
// middleware (outermost first) and the recorder.
func startSimulator(seed graphsim.Seed, throttle string, middleware ...func(http.Handler) http.Handler) (*simulator, error) {
	s := graphsim.New(graphsim.Options{})
	if err := s.LoadSeed(seed); err != nil {
		s.Close()
		return nil, fmt.Errorf("seed the simulator: %w", err)
	}
	if err := s.SetFaults(graphsim.Faults{Throttle: throttle}); err != nil {
		s.Close()
		return nil, fmt.Errorf("throttle %q: %w", throttle, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("listen for the simulator: %w", err)
	}
	rec := newRecorder()
	for _, t := range seed.Tenants {
		rec.tenant(t.Domain)
	}
	sim := &simulator{Server: s, URL: "http://" + ln.Addr().String(), rec: rec}
	h := rec.wrap(s)
	for _, m := range slices.Backward(middleware) {
		h = m(h)
	}
	sim.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go sim.srv.Serve(ln)
	return sim, nil
}

// tenantURL is a tenant's Graph root.
func (s *simulator) tenantURL(domain string) string { return s.URL + "/" + domain + "/v1.0" }

// limits returns the throttling limits in force for a tenant.
func (s *simulator) limits(domain string) graphsim.Limits {
	return s.Stats().Tenants[domain].Limits
}

// reset zeroes the simulator's counters and the recorder's.
func (s *simulator) reset() {
	s.ResetStats()
	s.rec.reset()
}

func (s *simulator) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	s.Server.Close()
}

// recorder counts, per tenant, the writes the simulator applied (answered
// 2xx) and the 429s it answered, and notes when it last applied a write;
// while tracing, it also notes when it applied each PATCH of a user. It
// counts group writes by kind and notes each membership write, which the
// simulator's route counters cannot tell apart (a PATCH /groups/{id} may
// bind members or change properties).
type recorder struct {
	tenants map[string]*tenantRecord // by lower-cased domain; fixed after setup

	tracing atomic.Bool
	mu      sync.Mutex
	patched map[string][]time.Time   // "domain/user id" → times of applied PATCHes
	members map[string][]memberWrite // "domain/group id/user id" → applied membership writes
}

type tenantRecord struct {
	applied   atomic.Int64 // writes answered 2xx
	throttled atomic.Int64 // requests answered 429
	lastWrite atomic.Int64 // unix nanoseconds of the last applied write
	groups    groupCounters
}

// groupCounters count a tenant's group writes; all but rejected count
// writes answered 2xx.
type groupCounters struct {
	creates, updates, deletes atomic.Int64
	memberPatches, bound      atomic.Int64 // PATCHes with members@odata.bind, and the members they bound
	refAdds, removes          atomic.Int64 // POST members/$ref, DELETE members/{id}/$ref
	rejected                  atomic.Int64 // answered 4xx other than 429
	first, last               atomic.Int64 // unix nanoseconds of the first and last applied group write
}

// memberWrite is one applied change to one group membership.
type memberWrite struct {
	at  time.Time
	add bool
}

// GroupWrites are a tenant's group writes since the last reset, by kind.
type GroupWrites struct {
	Creates, Updates, Deletes int64
	// MemberPatches are PATCHes with members@odata.bind, MembersBound the
	// members they added; MemberRefAdds add one member each (POST
	// members/$ref), MemberRemoves remove one each.
	MemberPatches, MembersBound, MemberRefAdds, MemberRemoves int64
	// Rejected are group writes the tenant refused (4xx but 429): they
	// count against the quota as well.
	Rejected    int64
	First, Last time.Time
}

// Total is the group writes applied.
func (g GroupWrites) Total() int64 {
	return g.Creates + g.Updates + g.Deletes + g.MemberPatches + g.MemberRefAdds + g.MemberRemoves
}

// AddWrites are the writes that added members; Additions the members
// they added.
func (g GroupWrites) AddWrites() int64 { return g.MemberPatches + g.MemberRefAdds }
func (g GroupWrites) Additions() int64 { return g.MembersBound + g.MemberRefAdds }

func newRecorder() *recorder {
	return &recorder{tenants: map[string]*tenantRecord{}, patched: map[string][]time.Time{}, members: map[string][]memberWrite{}}
}

func (r *recorder) tenant(domain string) *tenantRecord {
	k := strings.ToLower(domain)
	if t := r.tenants[k]; t != nil {
		return t
	}
	t := &tenantRecord{}
	r.tenants[k] = t
	return t
}

func (r *recorder) reset() {
	for _, t := range r.tenants {
		t.applied.Store(0)
		t.throttled.Store(0)
		t.lastWrite.Store(0)
		g := &t.groups
		for _, c := range []*atomic.Int64{&g.creates, &g.updates, &g.deletes, &g.memberPatches, &g.bound,
			&g.refAdds, &g.removes, &g.rejected, &g.first, &g.last} {
			c.Store(0)
		}
	}
	r.mu.Lock()
	r.patched = map[string][]time.Time{}
	r.members = map[string][]memberWrite{}
	r.mu.Unlock()
}

// groupWrites returns a tenant's group writes since the last reset.
func (r *recorder) groupWrites(domain string) GroupWrites {
	t := r.tenants[strings.ToLower(domain)]
	if t == nil {
		return GroupWrites{}
	}
	g := &t.groups
	w := GroupWrites{Creates: g.creates.Load(), Updates: g.updates.Load(), Deletes: g.deletes.Load(),
		MemberPatches: g.memberPatches.Load(), MembersBound: g.bound.Load(), MemberRefAdds: g.refAdds.Load(),
		MemberRemoves: g.removes.Load(), Rejected: g.rejected.Load()}
	if ns := g.first.Load(); ns != 0 {
		w.First = time.Unix(0, ns)
	}
	if ns := g.last.Load(); ns != 0 {
		w.Last = time.Unix(0, ns)
	}
	return w
}

// memberWrites returns the applied writes that added a user to a group or
// removed them, in the order applied.
func (r *recorder) memberWrites(domain, groupID, userID string) []memberWrite {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]memberWrite(nil), r.members[memberKey(domain, groupID, userID)]...)
}

func memberKey(domain, groupID, userID string) string {
	return strings.ToLower(domain) + "/" + strings.ToLower(groupID) + "/" + strings.ToLower(userID)
}

// groupWrite is what a request to /groups wrote: its kind, the group, and
// the members it added or removed.
type groupWrite struct {
	kind           groupWriteKind
	group          string
	added, removed []string
}

type groupWriteKind int

const (
	notGroupWrite groupWriteKind = iota
	groupCreate                  // POST /groups, or the upsert PATCH /groups(uniqueName='…')
	groupUpdate                  // PATCH /groups/{id} of properties
	groupDelete                  // DELETE /groups/{id}
	groupBind                    // PATCH /groups/{id} with members@odata.bind
	groupRefAdd                  // POST /groups/{id}/members/$ref
	groupRemove                  // DELETE /groups/{id}/members/{id}/$ref
)

// classifyGroupWrite says what a request wrote to groups, from its method,
// its path after the tenant ("v1.0/groups/…") and its body.
func classifyGroupWrite(method, rest string, body []byte) groupWrite {
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	if len(segs) < 2 || !strings.HasPrefix(segs[1], "groups") {
		return groupWrite{}
	}
	switch {
	case len(segs) == 2 && segs[1] == "groups" && method == http.MethodPost,
		len(segs) == 2 && strings.HasPrefix(segs[1], "groups(") && method == http.MethodPatch:
		return groupWrite{kind: groupCreate}
	case segs[1] != "groups" || len(segs) < 3:
		return groupWrite{}
	}
	g := strings.ToLower(segs[2])
	switch {
	case len(segs) == 3 && method == http.MethodPatch:
		var props struct {
			Bind []string `json:"members@odata.bind"`
		}
		if json.Unmarshal(body, &props) == nil && len(props.Bind) > 0 {
			w := groupWrite{kind: groupBind, group: g}
			for _, ref := range props.Bind {
				w.added = append(w.added, lastSegment(ref))
			}
			return w
		}
		return groupWrite{kind: groupUpdate, group: g}
	case len(segs) == 3 && method == http.MethodDelete:
		return groupWrite{kind: groupDelete, group: g}
	case len(segs) == 5 && segs[3] == "members" && segs[4] == "$ref" && method == http.MethodPost:
		var ref struct {
			ID string `json:"@odata.id"`
		}
		_ = json.Unmarshal(body, &ref)
		return groupWrite{kind: groupRefAdd, group: g, added: []string{lastSegment(ref.ID)}}
	case len(segs) == 6 && segs[3] == "members" && segs[5] == "$ref" && method == http.MethodDelete:
		return groupWrite{kind: groupRemove, group: g, removed: []string{strings.ToLower(segs[4])}}
	}
	return groupWrite{}
}

// plainBody is a request body as sent, gunzipped if it was gzipped (as
// msgraph-sdk-go sends them); nil if it cannot be read.
func plainBody(h http.Header, body []byte) []byte {
	if !strings.EqualFold(h.Get("Content-Encoding"), "gzip") || len(body) == 0 {
		return body
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil
	}
	defer zr.Close()
	b, err := io.ReadAll(io.LimitReader(zr, 1<<20))
	if err != nil {
		return nil
	}
	return b
}

// lastSegment is the object id an @odata.bind or @odata.id URL names.
func lastSegment(ref string) string {
	if u, err := url.Parse(ref); err == nil {
		ref = u.Path
	}
	return strings.ToLower(path.Base(ref))
}

// record counts an answered group write.
func (r *recorder) recordGroupWrite(domain string, t *tenantRecord, w groupWrite, status int, now time.Time) {
	g := &t.groups
	if status >= 300 {
		g.rejected.Add(1)
		return
	}
	switch w.kind {
	case groupCreate:
		g.creates.Add(1)
	case groupUpdate:
		g.updates.Add(1)
	case groupDelete:
		g.deletes.Add(1)
	case groupBind:
		g.memberPatches.Add(1)
		g.bound.Add(int64(len(w.added)))
	case groupRefAdd:
		g.refAdds.Add(1)
	case groupRemove:
		g.removes.Add(1)
	}
	g.first.CompareAndSwap(0, now.UnixNano())
	g.last.Store(now.UnixNano())
	if len(w.added) == 0 && len(w.removed) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range w.added {
		k := memberKey(domain, w.group, id)
		r.members[k] = append(r.members[k], memberWrite{at: now, add: true})
	}
	for _, id := range w.removed {
		k := memberKey(domain, w.group, id)
		r.members[k] = append(r.members[k], memberWrite{at: now})
	}
}

// trace turns the per-user PATCH times on or off.
func (r *recorder) trace(on bool) { r.tracing.Store(on) }

// patches returns when the simulator applied PATCHes to a user.
func (r *recorder) patches(domain, id string) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.patched[strings.ToLower(domain)+"/"+strings.ToLower(id)]...)
}

// applied returns the writes applied to a tenant and when the last was.
func (r *recorder) applied(domain string) (int64, time.Time) {
	t := r.tenants[strings.ToLower(domain)]
	if t == nil {
		return 0, time.Time{}
	}
	last := time.Time{}
	if ns := t.lastWrite.Load(); ns != 0 {
		last = time.Unix(0, ns)
	}
	return t.applied.Load(), last
}

func (r *recorder) throttled(domain string) int64 {
	if t := r.tenants[strings.ToLower(domain)]; t != nil {
		return t.throttled.Load()
	}
	return 0
}

// readActions are POST actions that read (they do not count against the
// write quota); $batch envelopes are not operations of their own.
var readActions = map[string]bool{"checkMemberGroups": true, "getMemberGroups": true,
	"checkMemberObjects": true, "getMemberObjects": true, "getByIds": true, "$batch": true}

func (r *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		domain, rest, ok := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
		t := r.tenants[strings.ToLower(domain)]
		var gw groupWrite
		if ok && t != nil && req.Method != http.MethodGet {
			// The body says whether a PATCH of a group binds members:
			// read it here and hand the simulator a copy.
			var body []byte
			if req.Body != nil && (req.Method == http.MethodPatch || req.Method == http.MethodPost) && strings.Contains(rest, "/groups") {
				body, _ = io.ReadAll(io.LimitReader(req.Body, 1<<20))
				req.Body.Close()
				req.Body = io.NopCloser(bytes.NewReader(body))
			}
			gw = classifyGroupWrite(req.Method, rest, plainBody(req.Header, body))
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, req)
		if !ok || t == nil {
			return
		}
		if sw.status == http.StatusTooManyRequests {
			t.throttled.Add(1)
			return
		}
		if gw.kind != notGroupWrite && sw.status < 500 {
			r.recordGroupWrite(domain, t, gw, sw.status, time.Now())
		}
		if req.Method == http.MethodGet || sw.status >= 300 ||
			req.Method == http.MethodPost && readActions[strings.TrimPrefix(path.Base(req.URL.Path), "microsoft.graph.")] {
			return
		}
		now := time.Now()
		t.applied.Add(1)
		t.lastWrite.Store(now.UnixNano())
		if req.Method != http.MethodPatch || !r.tracing.Load() {
			return
		}
		// PATCH /<tenant>/v1.0/users/{id}
		segs := strings.Split(rest, "/")
		if len(segs) == 3 && segs[1] == "users" {
			key := strings.ToLower(domain) + "/" + strings.ToLower(segs[2])
			r.mu.Lock()
			r.patched[key] = append(r.patched[key], now)
			r.mu.Unlock()
		}
	})
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Flush lets streamed responses through.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// errNotConverged is returned when a phase did not finish in its time.
var errNotConverged = errors.New("did not finish in time")
