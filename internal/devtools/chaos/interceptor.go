package chaos

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
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
// a gateway times out after the directory did the work), counts the fault
// statuses the runner and the suite got, and records the runner's writes to
// target users and its invitations: the oracle's evidence of what
// tenantsync did between two of its looks at the targets (a user deleted
// and restored in between leaves no other trace).
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
	// writes and invites are the runner's successful writes to target
	// users and invitations; lastWrite is when any write was applied.
	writes    []targetWrite
	invites   []invitation
	lastWrite time.Time
	// refusals are when the runner was answered 403, by tenant.
	refusals map[string][]time.Time
}

func newInterceptor(next http.Handler, targets []targetSpec, seed uint64, spring func(kind string) bool) *interceptor {
	i := &interceptor{next: next, targets: map[string]bool{}, spring: spring, refusals: map[string][]time.Time{},
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
	write := r.Method != http.MethodGet && r.Method != http.MethodHead && !strings.HasPrefix(r.URL.Path, "/_sim")
	if write {
		defer i.wrote()
	}
	obs := i.classify(r)
	lose := i.loseNext(r)
	kind := i.kind(r)
	trap := kind != "" && i.Armed() == kind
	if obs == nil && !lose && !trap {
		sw := &statusWriter{ResponseWriter: w}
		i.next.ServeHTTP(sw, r)
		i.count(sw.status)
		i.refused(r, sw.status)
		return
	}
	// Let the simulator apply the write, and read its answer, before the
	// runner may hear it.
	rec := httptest.NewRecorder()
	i.next.ServeHTTP(rec, r)
	i.count(rec.Code)
	i.refused(r, rec.Code)
	if rec.Code < 300 && obs != nil {
		i.record(*obs, rec.Body.Bytes())
	}
	switch {
	case lose && rec.Code < 300:
		i.mu.Lock()
		i.lost++
		i.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusGatewayTimeout)
		_, _ = w.Write([]byte(`{"error":{"code":"UnknownError","message":"The gateway timed out (chaos suite: the write was applied, its answer lost)."}}`))
		return
	case trap && rec.Code < 300:
		// Kill the runner before it sees the answer.
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

// Kinds of the runner's writes to target users that the interceptor
// records.
const (
	writeDelete  = "delete"  // DELETE /users/{id}
	writeDisable = "disable" // PATCH /users/{id} with accountEnabled false
	writeOther   = "write"   // any other write naming the user
)

// targetWrite is one of the runner's successful writes to a target user.
type targetWrite struct {
	Tenant, ID, Kind string
	At               time.Time
}

// invitation is one of the runner's successful invitations.
type invitation struct {
	Tenant, Address, UserID string
	At                      time.Time
}

// observed is what the interceptor must record of a request once the
// simulator answers it with success.
type observed struct {
	tenant, id, kind string
	invite           string // the address, for an invitation
}

// classify returns what to record of one of the runner's writes to a
// target: a write naming a user, or an invitation. It reads the body (and
// puts it back).
func (i *interceptor) classify(r *http.Request) *observed {
	if r.Header.Get(suiteHeader) != "" || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(segs) < 3 || !i.targets[strings.ToLower(segs[0])] || segs[1] != "v1.0" {
		return nil
	}
	o := &observed{tenant: strings.ToLower(segs[0]), kind: writeOther}
	rest := segs[2:]
	switch {
	case len(rest) == 1 && rest[0] == "invitations" && r.Method == http.MethodPost:
		var body struct {
			InvitedUserEmailAddress string `json:"invitedUserEmailAddress"`
		}
		_ = json.Unmarshal(readBody(r), &body)
		o.invite = body.InvitedUserEmailAddress
		return o
	case len(rest) >= 2 && rest[0] == "users":
		o.id = rest[1]
		if len(rest) == 2 {
			switch r.Method {
			case http.MethodDelete:
				o.kind = writeDelete
			case http.MethodPatch:
				var body map[string]any
				_ = json.Unmarshal(readBody(r), &body)
				if v, ok := body["accountEnabled"]; ok && v == false {
					o.kind = writeDisable
				}
			}
		}
		return o
	case len(rest) == 4 && rest[0] == "directory" && rest[1] == "deletedItems" && rest[3] == "restore":
		o.id = rest[2]
		return o
	}
	return nil
}

// readBody reads a request's body and puts it back for the simulator. It
// returns the body decompressed: Microsoft Graph's SDK gzips request bodies.
func readBody(r *http.Request) []byte {
	if r.Body == nil {
		return nil
	}
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil
		}
		plain, _ := io.ReadAll(zr)
		return plain
	}
	return b
}

func (i *interceptor) record(o observed, answer []byte) {
	now := time.Now()
	i.mu.Lock()
	defer i.mu.Unlock()
	if o.invite != "" {
		var inv struct {
			InvitedUser struct {
				ID string `json:"id"`
			} `json:"invitedUser"`
		}
		_ = json.Unmarshal(answer, &inv)
		i.invites = append(i.invites, invitation{Tenant: o.tenant, Address: o.invite, UserID: inv.InvitedUser.ID, At: now})
		return
	}
	i.writes = append(i.writes, targetWrite{Tenant: o.tenant, ID: o.id, Kind: o.kind, At: now})
}

// Writes returns the runner's successful writes to target users, and its
// invitations, so far.
func (i *interceptor) Writes() ([]targetWrite, []invitation) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return slices.Clone(i.writes), slices.Clone(i.invites)
}

// refused notes a 403 answered to the runner.
func (i *interceptor) refused(r *http.Request, status int) {
	if status != http.StatusForbidden || r.Header.Get(suiteHeader) != "" {
		return
	}
	tenant, _, _ := strings.Cut(strings.Trim(r.URL.Path, "/"), "/")
	i.mu.Lock()
	i.refusals[strings.ToLower(tenant)] = append(i.refusals[strings.ToLower(tenant)], time.Now())
	i.mu.Unlock()
}

// Refused counts the 403s answered to the runner for a tenant between two
// times.
func (i *interceptor) Refused(tenant string, from, to time.Time) int {
	i.mu.Lock()
	defer i.mu.Unlock()
	n := 0
	for _, at := range i.refusals[strings.ToLower(tenant)] {
		if !at.Before(from) && at.Before(to) {
			n++
		}
	}
	return n
}

// wrote notes that a write to a tenant was applied.
func (i *interceptor) wrote() {
	i.mu.Lock()
	i.lastWrite = time.Now()
	i.mu.Unlock()
}

// LastWrite is when a write (anyone's) was last applied: with replication
// lag, a read sees it only some time later.
func (i *interceptor) LastWrite() time.Time {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.lastWrite
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
