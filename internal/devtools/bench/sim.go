package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path"
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
// throttling and serves it on a free loopback port.
func startSimulator(seed graphsim.Seed, throttle string) (*simulator, error) {
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
	sim.srv = &http.Server{Handler: rec.wrap(s), ReadHeaderTimeout: 10 * time.Second}
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
// while tracing, it also notes when it applied each PATCH of a user.
type recorder struct {
	tenants map[string]*tenantRecord // by lower-cased domain; fixed after setup

	tracing atomic.Bool
	mu      sync.Mutex
	patched map[string][]time.Time // "domain/user id" → times of applied PATCHes
}

type tenantRecord struct {
	applied   atomic.Int64 // writes answered 2xx
	throttled atomic.Int64 // requests answered 429
	lastWrite atomic.Int64 // unix nanoseconds of the last applied write
}

func newRecorder() *recorder {
	return &recorder{tenants: map[string]*tenantRecord{}, patched: map[string][]time.Time{}}
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
	}
	r.mu.Lock()
	r.patched = map[string][]time.Time{}
	r.mu.Unlock()
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
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, req)
		domain, rest, ok := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
		if !ok {
			return
		}
		t := r.tenants[strings.ToLower(domain)]
		if t == nil {
			return
		}
		if sw.status == http.StatusTooManyRequests {
			t.throttled.Add(1)
			return
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
