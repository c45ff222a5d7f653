package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/changes"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/queue"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"

	"github.com/tenantsync/tenantsync/internal/devtools/testenv"
)

const (
	subID  = "7f2a9c1e-0d4b-4f6a-9e3c-2b1d8a7c6e5f" // watches /users
	secret = "s3cr3t-client-state-abcdefghijklmnopqrstuvwxyz0123456789"
	// groupSubID watches /groups, with groupSecret.
	groupSubID  = "6e1b8b0d-9c3a-4e59-8d2b-1a0c7b6d5e4f"
	groupSecret = "s3cr3t-groups-client-state-abcdefghijklmnopqrstuvwxyz012"
	// tenantID is the source tenant; foreignID another.
	tenantID  = "0a1b2c3d-1111-4222-8333-444455556666"
	foreignID = "99999999-1111-4222-8333-444455556666"
	userID    = "11111111-2222-3333-4444-555555555555"
	groupID   = "99999999-8888-7777-6666-555555555555"
)

// memQueue is an in-memory Enqueuer that records what it was given.
type memQueue struct {
	mu    sync.Mutex
	msgs  []queue.Message
	calls int
	err   error
	block bool          // wait for the context to end
	hang  chan struct{} // ignore the context and return when it is closed
}

func (q *memQueue) Enqueue(ctx context.Context, msgs ...queue.Message) error {
	if q.hang != nil {
		<-q.hang
		return errors.New("too late")
	}
	if q.block {
		<-ctx.Done()
		return ctx.Err()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls++
	if q.err != nil {
		return q.err
	}
	q.msgs = append(q.msgs, msgs...)
	return nil
}

func (q *memQueue) changes(t *testing.T) []engine.Change {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []engine.Change
	for _, m := range q.msgs {
		c, err := changes.Decode(m.Body)
		if err != nil {
			t.Fatalf("queued message does not decode: %v", err)
		}
		if m.SessionID != c.Session() {
			t.Errorf("session id %q, want %q", m.SessionID, c.Session())
		}
		out = append(out, c)
	}
	return out
}

// countingStore counts subscription reads of a real store and can fail them.
type countingStore struct {
	store.Store
	reads atomic.Int64
	err   error
}

func (s *countingStore) GetSubscription(ctx context.Context, id string) (store.Subscription, error) {
	s.reads.Add(1)
	if s.err != nil {
		return store.Subscription{}, s.err
	}
	return s.Store.GetSubscription(ctx, id)
}

func newStore(t testing.TB) *countingStore {
	t.Helper()
	st, err := boltstore.OpenTemp(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, sub := range []store.Subscription{
		// The users subscription is recorded as SubscriptionManager
		// records one now (the secret's hash); the groups one as records
		// written before hashing were (in clear): both must verify.
		{ID: subID, Tenant: "fabrikam.example", Resource: "/users", Expiry: time.Now().Add(24 * time.Hour),
			ClientStateID: "cs-1", ClientState: store.HashClientState(secret), Created: time.Now()},
		{ID: groupSubID, Tenant: "fabrikam.example", Resource: "/groups", Expiry: time.Now().Add(24 * time.Hour),
			ClientStateID: "cs-2", ClientState: groupSecret, Created: time.Now()},
	} {
		if _, err := st.PutSubscription(context.Background(), sub); err != nil {
			t.Fatal(err)
		}
	}
	return &countingStore{Store: st}
}

type fixture struct {
	h    *Handler
	q    *memQueue
	st   *countingStore
	srv  *httptest.Server
	logs *testenv.Buffer
	now  time.Time
}

func newFixture(t testing.TB, mod func(*Options)) *fixture {
	t.Helper()
	f := &fixture{q: &memQueue{}, st: newStore(t), logs: &testenv.Buffer{}, now: time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)}
	opts := Options{
		SourceTenant: tenantID,
		Store:        f.st, Queue: f.q, Now: func() time.Time { return f.now },
		Logger: slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&opts)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) do(t testing.TB, method, rawQuery string, body []byte) (*http.Response, []byte) {
	t.Helper()
	u := f.srv.URL + "/api/GraphWebhook"
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// userNote is a change notification for a user as Graph sends it.
func userNote(sub, clientState, id string) string {
	return fmt.Sprintf(`{"subscriptionId":%q,"subscriptionExpirationDateTime":"2026-05-07T00:00:00.0000000Z",`+
		`"clientState":%q,"changeType":"updated","resource":"Users/%s",`+
		`"resourceData":{"@odata.type":"#Microsoft.Graph.User","@odata.id":"Users/%s","id":%q,"organizationId":"t"},`+
		`"tenantId":%q}`, sub, clientState, id, id, id, tenantID)
}

// groupNote is a change notification for a group as Graph sends it.
func groupNote(sub, clientState, id string) string {
	return fmt.Sprintf(`{"subscriptionId":%q,"clientState":%q,"changeType":"updated","resource":"Groups/%s",`+
		`"resourceData":{"@odata.type":"#Microsoft.Graph.Group","@odata.id":"Groups/%s","id":%q},"tenantId":%q}`,
		sub, clientState, id, id, id, tenantID)
}

func collectionOf(notes ...string) []byte {
	return []byte(`{"value":[` + strings.Join(notes, ",") + `]}`)
}

func TestValidationHandshake(t *testing.T) {
	long := strings.Repeat("A", DefaultMaxTokenBytes)
	tests := []struct {
		name     string
		rawQuery string
		want     string // the body, when the status is 200
		status   int
	}{
		{"graph's token", "validationToken=" + url.QueryEscape("Validation: Testing client application reachability for subscription Request-Id: 2b0a"),
			"Validation: Testing client application reachability for subscription Request-Id: 2b0a", 200},
		{"script tag", "validationToken=" + url.QueryEscape("<script>alert(document.cookie)</script>"),
			"<script>alert(document.cookie)</script>", 200},
		{"html and quotes", "validationToken=" + url.QueryEscape(`"><img src=x onerror=alert(1)>&amp;`),
			`"><img src=x onerror=alert(1)>&amp;`, 200},
		{"unicode", "validationToken=" + url.QueryEscape("Grüße 🙂 — ℌ \u202e"), "Grüße 🙂 — ℌ \u202e", 200},
		{"percent-encoded twice decodes once", "validationToken=%253Cb%253E", "%3Cb%3E", 200},
		{"percent-encoded html", "validationToken=%3Cb%3Ebold%3C%2Fb%3E", "<b>bold</b>", 200},
		{"plus is a space", "validationToken=a+b", "a b", 200},
		{"CRLF stays in the body", "validationToken=a%0D%0ASet-Cookie:%20x=1", "a\r\nSet-Cookie: x=1", 200},
		{"at the bound", "validationToken=" + long, long, 200},
		{"over the bound", "validationToken=" + long + "B", "", 400},
		{"empty", "validationToken=", "", 400},
		{"twice", "validationToken=a&validationToken=b", "", 400},
		{"malformed escape", "validationToken=%zz", "", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			resp, body := f.do(t, http.MethodPost, tt.rawQuery, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tt.status, body)
			}
			if got := resp.Header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type %q", got)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
			c := f.h.Counters()
			if tt.status == 200 {
				if string(body) != tt.want {
					t.Errorf("body %q, want %q", body, tt.want)
				}
				if c.Validations != 1 || c.ValidationsRefused != 0 {
					t.Errorf("counters %+v", c)
				}
			} else if c.ValidationsRefused+c.Rejected != 1 || c.Validations != 0 {
				t.Errorf("counters %+v", c)
			}
			if f.q.calls != 0 {
				t.Errorf("a validation enqueued something")
			}
		})
	}
}

func TestMethods(t *testing.T) {
	tests := []struct {
		method   string
		rawQuery string
		body     []byte
		status   int
	}{
		{http.MethodPost, "", collectionOf(userNote(subID, secret, userID)), http.StatusAccepted},
		{http.MethodPost, "validationToken=abc", nil, http.StatusOK},
		{http.MethodGet, "", nil, http.StatusMethodNotAllowed},
		{http.MethodGet, "validationToken=abc", nil, http.StatusMethodNotAllowed},
		{http.MethodPut, "", collectionOf(userNote(subID, secret, userID)), http.StatusMethodNotAllowed},
		{http.MethodDelete, "", nil, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.method+"?"+tt.rawQuery, func(t *testing.T) {
			f := newFixture(t, nil)
			resp, body := f.do(t, tt.method, tt.rawQuery, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%q)", resp.StatusCode, tt.status, body)
			}
			if tt.status == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != http.MethodPost {
				t.Errorf("Allow %q", resp.Header.Get("Allow"))
			}
			wantQueued := 0
			if tt.status == http.StatusAccepted {
				wantQueued = 1
			}
			if got := len(f.q.changes(t)); got != wantQueued {
				t.Errorf("%d changes queued, want %d", got, wantQueued)
			}
		})
	}
}

func TestNotifications(t *testing.T) {
	groupNote := groupNote(groupSubID, groupSecret, groupID)
	other := "22222222-2222-2222-2222-222222222222"
	tests := []struct {
		name   string
		body   []byte
		status int
		want   []engine.Change // queued, Observed and Cause aside
		// dropped by reason
		unknown, clientState, malformed int64
	}{
		{name: "a user", body: collectionOf(userNote(subID, secret, userID)), status: 202,
			want: []engine.Change{{Kind: engine.KindUser, ID: userID}}},
		{name: "a group", body: collectionOf(groupNote), status: 202,
			want: []engine.Change{{Kind: engine.KindGroup, ID: groupID}}},
		{name: "several in one post", body: collectionOf(userNote(subID, secret, userID), groupNote, userNote(subID, secret, other)), status: 202,
			want: []engine.Change{{Kind: engine.KindUser, ID: userID}, {Kind: engine.KindGroup, ID: groupID}, {Kind: engine.KindUser, ID: other}}},
		{name: "upper-case id is normalised", body: collectionOf(userNote(subID, secret, strings.ToUpper(userID))), status: 202,
			want: []engine.Change{{Kind: engine.KindUser, ID: userID}}},
		{name: "deleted", body: collectionOf(strings.Replace(userNote(subID, secret, userID), `"updated"`, `"deleted"`, 1)), status: 202,
			want: []engine.Change{{Kind: engine.KindUser, ID: userID}}},
		{name: "only resource", body: collectionOf(fmt.Sprintf(`{"subscriptionId":%q,"clientState":%q,"resource":"Users/%s","tenantId":%q}`, subID, secret, userID, tenantID)), status: 202,
			want: []engine.Change{{Kind: engine.KindUser, ID: userID}}},
		{name: "only resourceData", body: collectionOf(fmt.Sprintf(`{"subscriptionId":%q,"clientState":%q,"resourceData":{"@odata.type":"#microsoft.graph.user","id":%q},"tenantId":%q}`, subID, secret, userID, tenantID)), status: 202,
			want: []engine.Change{{Kind: engine.KindUser, ID: userID}}},
		{name: "wrong clientState", body: collectionOf(userNote(subID, secret+"x", userID)), status: 202, clientState: 1},
		{name: "clientState prefix", body: collectionOf(userNote(subID, secret[:10], userID)), status: 202, clientState: 1},
		{name: "no clientState", body: collectionOf(userNote(subID, "", userID)), status: 202, clientState: 1},
		{name: "unknown subscription", body: collectionOf(userNote("00000000-0000-0000-0000-000000000000", secret, userID)), status: 202, unknown: 1},
		{name: "no subscription id", body: collectionOf(userNote("", secret, userID)), status: 202, malformed: 1},
		{name: "good and bad together", body: collectionOf(userNote(subID, "guess", userID), userNote(subID, secret, other), userNote("00000000-0000-4000-8000-000000000000", secret, userID)),
			status: 202, want: []engine.Change{{Kind: engine.KindUser, ID: other}}, clientState: 1, unknown: 1},
		{name: "resource and resourceData disagree on the id",
			body:   collectionOf(fmt.Sprintf(`{"subscriptionId":%q,"clientState":%q,"resource":"Users/%s","resourceData":{"id":%q},"tenantId":%q}`, subID, secret, userID, other, tenantID)),
			status: 202, malformed: 1},
		{name: "resource and resourceData disagree on the kind",
			body:   collectionOf(fmt.Sprintf(`{"subscriptionId":%q,"clientState":%q,"resource":"Users/%s","resourceData":{"@odata.type":"#Microsoft.Graph.Group"},"tenantId":%q}`, subID, secret, userID, tenantID)),
			status: 202, malformed: 1},
		{name: "unsupported resource", body: collectionOf(fmt.Sprintf(`{"subscriptionId":%q,"clientState":%q,"resource":"Devices/%s","tenantId":%q}`, subID, secret, userID, tenantID)), status: 202, malformed: 1},
		{name: "hostile id", body: collectionOf(fmt.Sprintf(`{"subscriptionId":%q,"clientState":%q,"resource":"Users/a%%20b","resourceData":{"id":"<script>"},"tenantId":%q}`, subID, secret, tenantID)), status: 202, malformed: 1},
		{name: "nested resource path", body: collectionOf(fmt.Sprintf(`{"subscriptionId":%q,"clientState":%q,"resource":"Users/%s/messages/x","tenantId":%q}`, subID, secret, userID, tenantID)), status: 202, malformed: 1},
		{name: "nothing about the object", body: collectionOf(fmt.Sprintf(`{"subscriptionId":%q,"clientState":%q,"tenantId":%q}`, subID, secret, tenantID)), status: 202, malformed: 1},
		{name: "empty value array", body: []byte(`{"value":[]}`), status: 202},
		{name: "no value", body: []byte(`{"values":[]}`), status: 400},
		{name: "null value", body: []byte(`{"value":null}`), status: 400},
		{name: "malformed JSON", body: []byte(`{"value":[{"subscriptionId":`), status: 400},
		{name: "not JSON", body: []byte(`<xml/>`), status: 400},
		{name: "wrong shape", body: []byte(`{"value":{"subscriptionId":"x"}}`), status: 400},
		{name: "trailing garbage", body: []byte(`{"value":[]} {}`), status: 400},
		{name: "empty body", body: nil, status: 400},
		{name: "oversized body", body: collectionOf(strings.Repeat(userNote(subID, secret, userID)+",", DefaultMaxBodyBytes/300) + userNote(subID, secret, userID)), status: 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			resp, body := f.do(t, http.MethodPost, "", tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%q)", resp.StatusCode, tt.status, body)
			}
			got := f.q.changes(t)
			if len(got) != len(tt.want) {
				t.Fatalf("queued %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if !got[i].Observed.Equal(f.now) || got[i].Cause != "notification" {
					t.Errorf("change %d: observed %v cause %q, want the arrival time %v and notification", i, got[i].Observed, got[i].Cause, f.now)
				}
				got[i].Observed, got[i].Cause = time.Time{}, ""
				if got[i] != tt.want[i] {
					t.Errorf("change %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
			if len(got) > 0 && f.q.calls != 1 {
				t.Errorf("%d Enqueue calls, want one for the whole post", f.q.calls)
			}
			c := f.h.Counters()
			if c.DroppedUnknownSubscription != tt.unknown || c.DroppedClientState != tt.clientState || c.DroppedMalformed != tt.malformed {
				t.Errorf("dropped unknown %d clientState %d malformed %d, want %d %d %d",
					c.DroppedUnknownSubscription, c.DroppedClientState, c.DroppedMalformed, tt.unknown, tt.clientState, tt.malformed)
			}
			if c.Enqueued != int64(len(tt.want)) {
				t.Errorf("Enqueued counter %d, want %d", c.Enqueued, len(tt.want))
			}
			if tt.status >= 400 && c.Rejected != 1 {
				t.Errorf("Rejected counter %d, want 1", c.Rejected)
			}
			if logs := f.logs.String(); strings.Contains(logs, secret[:10]) || strings.Contains(logs, "guess") {
				t.Errorf("the logs carry a clientState:\n%s", logs)
			}
		})
	}
}

func TestDroppedNotificationsAreLoggedWithTheSubscription(t *testing.T) {
	f := newFixture(t, nil)
	resp, _ := f.do(t, http.MethodPost, "", collectionOf(userNote(subID, "wrong-guess", userID)))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d", resp.StatusCode)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, `"reason":"clientStateMismatch"`) || !strings.Contains(logs, `"subscription":"`+subID+`"`) {
		t.Errorf("no drop record naming the subscription and reason:\n%s", logs)
	}
	if strings.Contains(logs, "wrong-guess") || strings.Contains(logs, secret) {
		t.Errorf("the logs carry a clientState:\n%s", logs)
	}
}

func TestStoredSubscriptionWithoutSecretAcceptsNothing(t *testing.T) {
	f := newFixture(t, nil)
	const noSecret = "0c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e"
	_, err := f.st.PutSubscription(context.Background(), store.Subscription{ID: noSecret, Tenant: "t", Resource: "/users", Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	f.do(t, http.MethodPost, "", collectionOf(userNote(noSecret, "", userID)))
	if c := f.h.Counters(); c.DroppedClientState != 1 || c.Enqueued != 0 {
		t.Fatalf("counters %+v", c)
	}
}

func TestQueueAndStoreFailuresAnswer503InTime(t *testing.T) {
	const deadline = 300 * time.Millisecond
	tests := []struct {
		name    string
		q       *memQueue
		storeEr error
	}{
		{"queue fails", &memQueue{err: errors.New("service bus: connection refused")}, nil},
		{"queue slower than the deadline", &memQueue{block: true}, nil},
		{"queue ignores the context", &memQueue{hang: make(chan struct{})}, nil},
		{"store fails", &memQueue{}, errors.New("table storage: 500")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.Queue = tt.q; o.Deadline = deadline })
			f.q = tt.q
			if tt.q.hang != nil {
				t.Cleanup(func() { close(tt.q.hang) })
			}
			f.st.err = tt.storeEr
			began := time.Now()
			resp, _ := f.do(t, http.MethodPost, "", collectionOf(userNote(subID, secret, userID)))
			took := time.Since(began)
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want 503", resp.StatusCode)
			}
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("no Retry-After")
			}
			// Not a speed test: the handler must give up at its deadline
			// rather than wait for the queue; a generous bound catches a hang.
			if took > deadline+2*time.Second {
				t.Errorf("answered after %v with a %v deadline", took, deadline)
			}
			if c := f.h.Counters(); c.Failures != 1 || c.Enqueued != 0 {
				t.Errorf("counters %+v", c)
			}
		})
	}
}

func TestSecretsAreCached(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MissTTL = 50 * time.Millisecond })
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.do(t, http.MethodPost, "", collectionOf(userNote(subID, secret, userID), userNote(subID, secret, userID)))
		}()
	}
	wg.Wait()
	if n := f.st.reads.Load(); n != 1 {
		t.Errorf("%d store reads for 40 notifications of one subscription, want 1", n)
	}
	if c := f.h.Counters(); c.Enqueued != 40 {
		t.Errorf("enqueued %d, want 40", c.Enqueued)
	}

	// An unknown subscription is remembered only briefly: Graph may notify
	// before a new subscription is recorded.
	const newSub = "abcdefab-0000-0000-0000-000000000001"
	f.do(t, http.MethodPost, "", collectionOf(userNote(newSub, "fresh", userID)))
	if _, err := f.st.PutSubscription(context.Background(), store.Subscription{ID: newSub, Tenant: "t", Resource: "/users", ClientState: "fresh", ClientStateID: "c2"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	f.do(t, http.MethodPost, "", collectionOf(userNote(newSub, "fresh", userID)))
	if c := f.h.Counters(); c.DroppedUnknownSubscription != 1 || c.Enqueued != 41 {
		t.Errorf("after the miss expired: counters %+v", c)
	}
}

// recordingLifecycle records the lifecycle actions asked of it.
type recordingLifecycle struct {
	mu       sync.Mutex
	reauth   []string
	recreate []string
	err      error
	gate     chan struct{} // when set, Reauthorize waits for it to close
}

func (l *recordingLifecycle) Reauthorize(ctx context.Context, id string) error {
	if l.gate != nil {
		<-l.gate
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reauth = append(l.reauth, id)
	return l.err
}

func (l *recordingLifecycle) Recreate(ctx context.Context, id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recreate = append(l.recreate, id)
	return l.err
}

func TestLifecycleNotifications(t *testing.T) {
	lc := func(sub, clientState, event string) string {
		return fmt.Sprintf(`{"subscriptionId":%q,"subscriptionExpirationDateTime":"2026-05-07T00:00:00Z","tenantId":%q,`+
			`"clientState":%q,"lifecycleEvent":%q}`, sub, tenantID, clientState, event)
	}
	tests := []struct {
		name                   string
		body                   []byte
		fail                   error
		slow                   bool // the manager is still busy with the first when the second arrives
		reauth, recreate       int
		lifecycle, done, fails int64
		clientState            int64
	}{
		{name: "reauthorizationRequired", body: collectionOf(lc(subID, secret, EventReauthorizationRequired)), reauth: 1, lifecycle: 1, done: 1},
		{name: "subscriptionRemoved", body: collectionOf(lc(subID, secret, EventSubscriptionRemoved)), recreate: 1, lifecycle: 1, done: 1},
		{name: "missed", body: collectionOf(lc(subID, secret, EventMissed)), lifecycle: 1},
		{name: "unknown event", body: collectionOf(lc(subID, secret, "somethingNew")), lifecycle: 1},
		{name: "wrong clientState", body: collectionOf(lc(subID, "guess", EventReauthorizationRequired)), clientState: 1},
		{name: "the same subscription twice in one post", body: collectionOf(lc(subID, secret, EventReauthorizationRequired), lc(subID, secret, EventReauthorizationRequired)),
			slow: true, reauth: 1, lifecycle: 2, done: 1},
		{name: "the manager fails", body: collectionOf(lc(subID, secret, EventReauthorizationRequired)), fail: errors.New("graph: 503"),
			reauth: 1, lifecycle: 1, fails: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rl := &recordingLifecycle{err: tt.fail}
			if tt.slow {
				rl.gate = make(chan struct{})
			}
			f := newFixture(t, func(o *Options) { o.Lifecycle = rl })
			resp, _ := f.do(t, http.MethodPost, "", tt.body)
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if rl.gate != nil {
				close(rl.gate)
			}
			f.h.Wait()
			rl.mu.Lock()
			defer rl.mu.Unlock()
			if len(rl.reauth) != tt.reauth || len(rl.recreate) != tt.recreate {
				t.Errorf("reauthorize %v recreate %v, want %d and %d", rl.reauth, rl.recreate, tt.reauth, tt.recreate)
			}
			if tt.reauth > 0 && (len(rl.reauth) == 0 || rl.reauth[0] != subID) {
				t.Errorf("reauthorize %v, want %s", rl.reauth, subID)
			}
			c := f.h.Counters()
			if c.Lifecycle != tt.lifecycle || c.LifecycleFailures != tt.fails || c.DroppedClientState != tt.clientState {
				t.Errorf("counters %+v", c)
			}
			if tt.done > 0 && c.LifecycleDone < 1 {
				t.Errorf("LifecycleDone %d", c.LifecycleDone)
			}
			if f.q.calls != 0 {
				t.Errorf("a lifecycle notification enqueued a change")
			}
		})
	}
}

func TestNewRequiresStoreQueueAndSourceTenant(t *testing.T) {
	resolve := func(context.Context) (string, error) { return tenantID, nil }
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"everything", Options{SourceTenant: tenantID, Store: newStore(t), Queue: &memQueue{}}, true},
		{"a domain and its resolver", Options{SourceTenant: "fabrikam.example", TenantID: resolve, Store: newStore(t), Queue: &memQueue{}}, true},
		{"no store", Options{SourceTenant: tenantID, Queue: &memQueue{}}, false},
		{"no queue", Options{SourceTenant: tenantID, Store: newStore(t)}, false},
		{"no source tenant", Options{Store: newStore(t), Queue: &memQueue{}}, false},
		{"a domain without a resolver", Options{SourceTenant: "fabrikam.example", Store: newStore(t), Queue: &memQueue{}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if (err == nil) != tt.ok {
				t.Errorf("New: %v, want success %v", err, tt.ok)
			}
		})
	}
}

// TestTenantAndResourceChecks sends authentic notifications (the right
// clientState) that come from another tenant or are about another kind of
// object than their subscription watches: each is dropped and counted, and
// the log says why without the clientState.
func TestTenantAndResourceChecks(t *testing.T) {
	userFrom := func(tenant string) string {
		return strings.Replace(userNote(subID, secret, userID), `"tenantId":"`+tenantID+`"`, `"tenantId":"`+tenant+`"`, 1)
	}
	lifecycleFrom := func(tenant string) string {
		return fmt.Sprintf(`{"subscriptionId":%q,"subscriptionExpirationDateTime":"2026-05-07T00:00:00Z","tenantId":%q,`+
			`"clientState":%q,"lifecycleEvent":"reauthorizationRequired"}`, subID, tenant, secret)
	}
	tests := []struct {
		name                          string
		note                          string
		enqueued                      int64
		tenant, resource, clientState int64
		lifecycle                     int64
		log                           string // in the drop record
	}{
		{name: "from the source tenant", note: userNote(subID, secret, userID), enqueued: 1},
		{name: "the source tenant's id in upper case", note: userFrom(strings.ToUpper(tenantID)), enqueued: 1},
		{name: "from another tenant", note: userFrom(foreignID), tenant: 1,
			log: `"reason":"tenantMismatch","subscription":"` + subID + `","resource":"Users/` + userID + `","lifecycleEvent":"","tenantId":"` + foreignID + `","sourceTenantId":"` + tenantID + `"`},
		{name: "without a tenant id", note: strings.Replace(userNote(subID, secret, userID), `,"tenantId":"`+tenantID+`"`, "", 1), tenant: 1,
			log: `"reason":"tenantMismatch"`},
		{name: "a users subscription delivering a group", note: groupNote(subID, secret, groupID), resource: 1,
			log: `"reason":"resourceMismatch","subscription":"` + subID + `","resource":"Groups/` + groupID + `"`},
		{name: "a groups subscription delivering a user", note: userNote(groupSubID, groupSecret, userID), resource: 1,
			log: `"reason":"resourceMismatch","subscription":"` + groupSubID + `"`},
		{name: "a lifecycle notification from another tenant", note: lifecycleFrom(foreignID), tenant: 1, log: `"reason":"tenantMismatch"`},
		{name: "a lifecycle notification from the source tenant", note: lifecycleFrom(tenantID), lifecycle: 1},
		{name: "a wrong clientState from another tenant is a wrong clientState", note: strings.Replace(userFrom(foreignID), secret, "guess", 1),
			clientState: 1, log: `"reason":"clientStateMismatch"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rl := &recordingLifecycle{}
			f := newFixture(t, func(o *Options) { o.Lifecycle = rl })
			resp, body := f.do(t, http.MethodPost, "", collectionOf(tt.note))
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("status %d (%s)", resp.StatusCode, body)
			}
			f.h.Wait()
			c := f.h.Counters()
			if c.Enqueued != tt.enqueued || c.DroppedTenant != tt.tenant || c.DroppedResource != tt.resource ||
				c.DroppedClientState != tt.clientState || c.Lifecycle != tt.lifecycle {
				t.Errorf("counters %+v", c)
			}
			if want := tt.tenant + tt.resource + tt.clientState; c.Dropped() != want {
				t.Errorf("Dropped() = %d, want %d", c.Dropped(), want)
			}
			if got := len(f.q.changes(t)); int64(got) != tt.enqueued {
				t.Errorf("%d changes queued, want %d", got, tt.enqueued)
			}
			rl.mu.Lock()
			if int64(len(rl.reauth)) != tt.lifecycle {
				t.Errorf("reauthorized %v, want %d", rl.reauth, tt.lifecycle)
			}
			rl.mu.Unlock()
			logs := f.logs.String()
			if tt.log != "" && !strings.Contains(logs, tt.log) {
				t.Errorf("no drop record with %s:\n%s", tt.log, logs)
			}
			if strings.Contains(logs, secret) || strings.Contains(logs, groupSecret) || strings.Contains(logs, "guess") {
				t.Errorf("the logs carry a clientState:\n%s", logs)
			}
		})
	}
}

// TestSourceTenantByDomain configures the source by its domain: the
// tenant's id is learnt from the resolver (the source's Graph client) once,
// on the first authentic notification, never from a notification, and a
// failure to learn it answers 503 so that Graph delivers again.
func TestSourceTenantByDomain(t *testing.T) {
	type answer struct {
		id    string
		err   error
		delay time.Duration
	}
	tests := []struct {
		name    string
		answers []answer // one per call; the last repeats
		posts   []string // notifications, one POST each
		status  []int
		calls   int64
		queued  int
		tenant  int64
	}{{
		name:    "learnt once, normalised, and enforced",
		answers: []answer{{id: strings.ToUpper(tenantID)}},
		posts:   []string{userNote(subID, "guess", userID), userNote(subID, secret, userID), strings.Replace(userNote(subID, secret, userID), tenantID, foreignID, 1), userNote(subID, secret, userID)},
		status:  []int{202, 202, 202, 202},
		// The wrong clientState asks nothing.
		calls: 1, queued: 2, tenant: 1,
	}, {
		name:    "a failure answers 503, and the next delivery learns it",
		answers: []answer{{err: errors.New("learn the tenant id: 401 CredentialUnavailable: acquire token: no managed identity")}, {id: tenantID}},
		posts:   []string{userNote(subID, secret, userID), userNote(subID, secret, userID)},
		status:  []int{503, 202},
		calls:   2, queued: 1,
	}, {
		name:    "an id that is not a GUID is refused",
		answers: []answer{{id: "fabrikam.example"}},
		posts:   []string{userNote(subID, secret, userID)},
		status:  []int{503},
		calls:   1,
	}, {
		name:    "a lookup slower than the deadline answers 503 in time",
		answers: []answer{{id: tenantID, delay: time.Minute}},
		posts:   []string{userNote(subID, secret, userID)},
		status:  []int{503},
		calls:   1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int64
			resolve := func(ctx context.Context) (string, error) {
				n := int(calls.Add(1)) - 1
				a := tt.answers[min(n, len(tt.answers)-1)]
				if a.delay > 0 {
					select {
					case <-time.After(a.delay):
					case <-ctx.Done():
						return "", ctx.Err()
					}
				}
				return a.id, a.err
			}
			f := newFixture(t, func(o *Options) {
				o.SourceTenant, o.TenantID, o.Deadline = "fabrikam.example", resolve, 300*time.Millisecond
			})
			for i, note := range tt.posts {
				began := time.Now()
				resp, body := f.do(t, http.MethodPost, "", collectionOf(note))
				if resp.StatusCode != tt.status[i] {
					t.Fatalf("POST %d: status %d, want %d (%s)", i, resp.StatusCode, tt.status[i], body)
				}
				if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
					t.Errorf("POST %d: 503 without Retry-After", i)
				}
				if took := time.Since(began); took > 2*time.Second {
					t.Errorf("POST %d answered after %v", i, took)
				}
			}
			if n := calls.Load(); n != tt.calls {
				t.Errorf("%d lookups of the tenant id, want %d", n, tt.calls)
			}
			if got := len(f.q.changes(t)); got != tt.queued {
				t.Errorf("%d changes queued, want %d", got, tt.queued)
			}
			if c := f.h.Counters(); c.DroppedTenant != tt.tenant {
				t.Errorf("DroppedTenant %d, want %d", c.DroppedTenant, tt.tenant)
			}
		})
	}
}

// TestSourceTenantLearntOnceUnderLoad sends many authentic notifications at
// once before the id is known: they share one lookup.
func TestSourceTenantLearntOnceUnderLoad(t *testing.T) {
	var calls atomic.Int64
	gate := make(chan struct{})
	f := newFixture(t, func(o *Options) {
		o.SourceTenant = "fabrikam.example"
		o.TenantID = func(ctx context.Context) (string, error) {
			calls.Add(1)
			<-gate
			return tenantID, nil
		}
	})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, body := f.do(t, http.MethodPost, "", collectionOf(userNote(subID, secret, userID))); resp.StatusCode != http.StatusAccepted {
				t.Errorf("status %d (%s)", resp.StatusCode, body)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(gate)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("%d lookups for 20 concurrent notifications, want 1", n)
	}
	if c := f.h.Counters(); c.Enqueued != 20 {
		t.Errorf("enqueued %d, want 20", c.Enqueued)
	}
}

// A subscriptionId that is not a GUID (Graph's are) is dropped as
// malformed before any store lookup, and the log record stays small
// however long the id.
func TestNonGUIDSubscriptionIDIsDroppedBeforeALookup(t *testing.T) {
	tests := []struct{ name, id string }{
		{"a name", "users-subscription"},
		{"a GUID with a tail", subID + "x"},
		{"half a megabyte", strings.Repeat("7f2a9c1e", 1<<16)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.do(t, http.MethodPost, "", collectionOf(userNote(tt.id, secret, userID)))
			if c := f.h.Counters(); c.DroppedMalformed != 1 || c.Enqueued != 0 {
				t.Errorf("counters %+v, want one dropped as malformed", c)
			}
			if n := f.st.reads.Load(); n != 0 {
				t.Errorf("%d subscription lookups, want none", n)
			}
			if n := len(f.logs.String()); n > 4096 {
				t.Errorf("%d bytes of logs for one dropped notification", n)
			}
		})
	}
}
