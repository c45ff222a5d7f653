package chaos

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Trap kinds: the runner is killed right after the simulator applied a
// target write, before the runner hears the answer, so before it can write
// its link.
const (
	trapInvite = "invite" // POST /invitations: the B2B user exists, unlinked and without anchor
	trapPatch  = "patch"  // PATCH /users/{id}: attributes (the anchor among them) written, link not
)

// interceptor stands in front of the simulator. It springs the armed trap
// on the runner's next matching target write, loses the answers to some of
// the runner's writes (the write is applied, the runner gets a 504, as when
// a gateway times out after the directory did the work), and counts the
// fault statuses the runner and the suite got.
type interceptor struct {
	next    http.Handler
	targets map[string]bool // lower-cased target tenant path segments
	spring  func(kind string) bool

	mu       sync.Mutex
	armed    string
	sprung   map[string]int
	statuses map[int]int64
	lostRate float64
	lost     int64
	rand     *rand.Rand
}

func newInterceptor(next http.Handler, targets []targetSpec, seed uint64, spring func(kind string) bool) *interceptor {
	i := &interceptor{next: next, targets: map[string]bool{}, spring: spring,
		sprung: map[string]int{}, statuses: map[int]int64{}, rand: rand.New(rand.NewPCG(seed, 0x1057))}
	for _, t := range targets {
		i.targets[strings.ToLower(t.Domain)] = true
	}
	return i
}

// Arm sets the trap for the next matching write ("" disarms).
func (i *interceptor) Arm(kind string) {
	i.mu.Lock()
	i.armed = kind
	i.mu.Unlock()
}

// Armed returns the trap that is set, if any.
func (i *interceptor) Armed() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.armed
}

// LoseAnswers sets the fraction of the runner's writes whose answer is
// lost after the write was applied.
func (i *interceptor) LoseAnswers(rate float64) {
	i.mu.Lock()
	i.lostRate = rate
	i.mu.Unlock()
}

// Lost returns how many answers were lost.
func (i *interceptor) Lost() int64 {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.lost
}

// loseNext decides whether to lose the answer to a runner's write.
func (i *interceptor) loseNext(r *http.Request) bool {
	if r.Header.Get(suiteHeader) != "" || r.Method == http.MethodGet || strings.HasPrefix(r.URL.Path, "/_sim") {
		return false
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.lostRate > 0 && i.rand.Float64() < i.lostRate
}

// Sprung returns how often each trap killed the runner.
func (i *interceptor) Sprung() map[string]int {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := map[string]int{}
	for k, v := range i.sprung {
		out[k] = v
	}
	return out
}

// Statuses returns the count of answers by error status (429 and 5xx).
func (i *interceptor) Statuses() map[int]int64 {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := map[int]int64{}
	for k, v := range i.statuses {
		out[k] = v
	}
	return out
}

// kind classifies a runner's request as a trap kind, or "".
func (i *interceptor) kind(r *http.Request) string {
	if r.Header.Get(suiteHeader) != "" {
		return ""
	}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(segs) < 3 || !i.targets[strings.ToLower(segs[0])] || segs[1] != "v1.0" {
		return ""
	}
	switch {
	case r.Method == http.MethodPost && len(segs) == 3 && segs[2] == "invitations":
		return trapInvite
	case r.Method == http.MethodPatch && len(segs) == 4 && segs[2] == "users":
		return trapPatch
	}
	return ""
}

func (i *interceptor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if i.loseNext(r) {
		rec := httptest.NewRecorder()
		i.next.ServeHTTP(rec, r)
		if rec.Code >= 300 {
			i.count(rec.Code)
			copyResponse(w, rec)
			return
		}
		i.mu.Lock()
		i.lost++
		i.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusGatewayTimeout)
		_, _ = w.Write([]byte(`{"error":{"code":"UnknownError","message":"The gateway timed out (chaos suite: the write was applied, its answer lost)."}}`))
		return
	}
	kind := i.kind(r)
	if kind == "" || i.Armed() != kind {
		sw := &statusWriter{ResponseWriter: w}
		i.next.ServeHTTP(sw, r)
		i.count(sw.status)
		return
	}
	// Let the simulator apply the write, then kill the runner before it
	// sees the answer.
	rec := httptest.NewRecorder()
	i.next.ServeHTTP(rec, r)
	i.count(rec.Code)
	if rec.Code < 300 {
		i.mu.Lock()
		fire := i.armed == kind
		if fire {
			i.armed = ""
		}
		i.mu.Unlock()
		if fire && i.spring(kind) {
			i.mu.Lock()
			i.sprung[kind]++
			i.mu.Unlock()
		}
	}
	copyResponse(w, rec)
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (i *interceptor) count(status int) {
	if status == http.StatusTooManyRequests || status >= 500 {
		i.mu.Lock()
		i.statuses[status]++
		i.mu.Unlock()
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}
