package subscriptions_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/changes"
	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/graph"
	"github.com/tenantsync/tenantsync/internal/graphsim"
	"github.com/tenantsync/tenantsync/internal/queue"
	"github.com/tenantsync/tenantsync/internal/queue/embedded"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
	"github.com/tenantsync/tenantsync/internal/subscriptions"
	"github.com/tenantsync/tenantsync/internal/webhook"

	"github.com/tenantsync/tenantsync/internal/devtools/testenv"
)

const (
	tenant  = "fabrikam.example"
	aliceID = "a11ce000-0000-4000-8000-000000000001"
	salesID = "5a1e5000-0000-4000-8000-0000000000a1"
)

// env is the simulator's Graph, the real Graph adapter, the real store and
// embedded queue, and the real webhook on a loopback HTTP server whose URLs
// the subscriptions point at.
type env struct {
	t        *testing.T
	sim      *graphsim.TestServer
	graph    *graph.Client
	store    *boltstore.Store
	queue    *embedded.Queue
	webhook  *webhook.Handler
	current  atomic.Pointer[webhook.Handler] // what the hook server serves
	hook     *httptest.Server
	notify   string // notification URL
	life     string // lifecycle URL
	logs     *testenv.Buffer
	received chan engine.Change
	mgrs     []*subscriptions.Manager
	secrets  []string // every clientState seen, for the log check
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, logs: &testenv.Buffer{}, received: make(chan engine.Change, 100)}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.sim = graphsim.NewTestServer(t, graphsim.Seed{Tenants: []graphsim.TenantSeed{{
		Domain: tenant, DisplayName: "Fabrikam",
		Users: []graphsim.Object{{"id": aliceID, "userPrincipalName": "alice@fabrikam.example",
			"displayName": "Alice Adams", "mail": "alice@fabrikam.example", "accountEnabled": true}},
		Groups: []graphsim.Object{{"id": salesID, "displayName": "Sales", "members": []string{aliceID}}},
	}}})
	var err error
	e.graph, err = graph.New(context.Background(), graph.Options{BaseURL: e.sim.TenantURL(tenant), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	e.store, err = boltstore.OpenTemp(nil)
	if err != nil {
		t.Fatal(err)
	}
	e.queue, err = embedded.Open(e.store.DB(), &embedded.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	// The source by its domain, as the tests' config names it: the webhook
	// learns the tenant's id from the simulator (GET /organization), and
	// every notification the simulator sends must carry that id.
	e.webhook, err = webhook.New(webhook.Options{SourceTenant: tenant, TenantID: e.graph.TenantID,
		Store: e.store, Queue: e.queue, Logger: log, MissTTL: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.current.Store(e.webhook)
	serve := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.current.Load().ServeHTTP(w, r) })
	mux := http.NewServeMux()
	mux.Handle("/api/GraphWebhook", serve)
	mux.Handle("/api/GraphLifecycle", serve)
	e.hook = httptest.NewServer(mux)
	e.notify = e.hook.URL + "/api/GraphWebhook?code=key-1"
	e.life = e.hook.URL + "/api/GraphLifecycle?code=key-2"

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.queue.Run(ctx, embedded.RunOptions{ShutdownGrace: -1}, func(ctx context.Context, d queue.Delivery) error {
			c, err := changes.Decode(d.Body)
			if err != nil {
				t.Errorf("a queued message does not decode: %v", err)
				return nil
			}
			e.received <- c
			return nil
		})
	}()
	t.Cleanup(func() {
		e.webhook.Wait()
		cancel()
		<-done
		e.hook.Close()
		if logs := e.logs.String(); e.secretsIn(logs) {
			t.Errorf("the logs carry a clientState or a function key")
		}
		e.queue.Close()
		e.store.Close()
	})
	return e
}

// secretsIn reports whether s holds a recorded clientState or the keys.
func (e *env) secretsIn(s string) bool {
	subs, err := e.store.ListSubscriptions(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	for _, sub := range subs {
		e.secrets = append(e.secrets, sub.ClientState)
	}
	for _, secret := range e.secrets {
		if secret != "" && strings.Contains(s, secret) {
			return true
		}
	}
	return strings.Contains(s, "key-1") || strings.Contains(s, "key-2")
}

func (e *env) manager(mod func(*subscriptions.Options)) *subscriptions.Manager {
	e.t.Helper()
	opts := subscriptions.Options{
		Graph: e.graph, Store: e.store, Tenant: tenant,
		NotificationURL: e.notify, LifecycleURL: e.life,
		Now:    e.sim.Now, // the simulator's clock, which the tests advance
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)),
	}
	if mod != nil {
		mod(&opts)
	}
	m, err := subscriptions.New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mgrs = append(e.mgrs, m)
	return m
}

// simSubs returns the simulator's subscriptions at the webhook, by id.
func (e *env) simSubs() map[string]graphsim.SubscriptionSeed {
	out := map[string]graphsim.SubscriptionSeed{}
	for _, s := range e.sim.Subscriptions()[tenant] {
		if strings.HasPrefix(s.NotificationURL, e.hook.URL+"/") {
			out[s.ID] = s
		}
	}
	return out
}

// recorded returns the store's subscriptions, by id.
func (e *env) recorded() map[string]store.Subscription {
	e.t.Helper()
	subs, err := e.store.ListSubscriptions(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]store.Subscription{}
	for _, s := range subs {
		out[s.ID] = s
	}
	return out
}

// admin calls the simulator's admin API over HTTP.
func (e *env) admin(method, path, body string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.sim.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		e.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
}

func (e *env) advance(d time.Duration) {
	e.admin(http.MethodPost, "/_sim/clock", fmt.Sprintf(`{"advance":%q}`, d.String()))
}

// checkOnePerResource checks that the simulator and the store agree on
// exactly one subscription per resource, with the same secret, pointing at
// the webhook.
func (e *env) checkOnePerResource(resources ...string) map[string]store.Subscription {
	e.t.Helper()
	sims, recs := e.simSubs(), e.recorded()
	byResource := map[string]store.Subscription{}
	for id, rec := range recs {
		sim, ok := sims[id]
		if !ok {
			e.t.Errorf("recorded subscription %s is not in Graph", id)
			continue
		}
		if !store.ClientStateMatches(rec.ClientState, sim.ClientState) {
			e.t.Errorf("subscription %s: Graph's clientState does not match the recorded one", id)
		}
		if strings.Contains(rec.ClientState, sim.ClientState) {
			e.t.Errorf("subscription %s: the store holds the clientState in clear", id)
		}
		if sim.NotificationURL != e.notify || sim.LifecycleNotificationURL != e.life {
			e.t.Errorf("subscription %s points at %s and %s", id, subscriptions.Redact(sim.NotificationURL), subscriptions.Redact(sim.LifecycleNotificationURL))
		}
		if sim.ChangeType != "updated,deleted" {
			e.t.Errorf("subscription %s: changeType %q", id, sim.ChangeType)
		}
		if !sim.ExpirationDateTime.Equal(rec.Expiry) {
			e.t.Errorf("subscription %s: Graph's expiry %v, recorded %v", id, sim.ExpirationDateTime, rec.Expiry)
		}
		// The secret itself is Graph's copy; the store holds its hash.
		// Tests send notifications with the returned record's
		// ClientState, so it carries the secret, as Graph does.
		e.secrets = append(e.secrets, rec.ClientState, sim.ClientState)
		rec.ClientState = sim.ClientState
		if prev, dup := byResource[rec.Resource]; dup {
			e.t.Errorf("two subscriptions for %s: %s and %s", rec.Resource, prev.ID, id)
		}
		byResource[rec.Resource] = rec
	}
	if len(sims) != len(recs) {
		e.t.Errorf("Graph has %d subscriptions, the store %d", len(sims), len(recs))
	}
	for _, r := range resources {
		if _, ok := byResource[r]; !ok {
			e.t.Errorf("no subscription for %s", r)
		}
	}
	if len(byResource) != len(resources) {
		e.t.Errorf("subscriptions for %d resources, want %v", len(byResource), resources)
	}
	return byResource
}

func (e *env) ensure(m *subscriptions.Manager) subscriptions.Result {
	e.t.Helper()
	res, err := m.Ensure(context.Background())
	if err != nil {
		e.t.Fatalf("Ensure: %v", err)
	}
	return res
}

func TestEnsureCreatesValidatedSubscriptionsOnce(t *testing.T) {
	e := newEnv(t)
	m := e.manager(nil)
	res := e.ensure(m)
	if len(res.Created) != 2 || len(res.Live) != 2 || len(res.Removed) != 0 {
		t.Fatalf("first Ensure: %+v", res)
	}
	subs := e.checkOnePerResource("/users", "/groups")
	for _, s := range subs {
		if len(s.ClientState) < 32 || len(s.ClientState) > 128 {
			t.Errorf("clientState of %d characters", len(s.ClientState))
		}
		if s.ClientStateID == "" || strings.Contains(s.ClientState, s.ClientStateID) {
			t.Errorf("clientStateId %q", s.ClientStateID)
		}
		if want := e.sim.Now().Add(subscriptions.DefaultLifetime); s.Expiry.Before(want.Add(-time.Minute)) || s.Expiry.After(want) {
			t.Errorf("expiry %v, want about %v", s.Expiry, want)
		}
	}
	if subs["/users"].ClientState == subs["/groups"].ClientState {
		t.Error("two subscriptions share a secret")
	}
	// Graph validated both URLs of both subscriptions against the webhook.
	if c := e.webhook.Counters(); c.Validations != 4 {
		t.Errorf("%d validation handshakes, want 4", c.Validations)
	}

	// Idempotent: nothing to do the second time.
	res = e.ensure(m)
	if len(res.Created)+len(res.Renewed)+len(res.Removed) != 0 || len(res.Live) != 2 {
		t.Fatalf("second Ensure: %+v", res)
	}
	e.checkOnePerResource("/users", "/groups")
}

func TestNotificationsArriveOnTheQueue(t *testing.T) {
	e := newEnv(t)
	e.ensure(e.manager(nil))
	before := time.Now()
	if err := e.graph.UpdateUser(context.Background(), aliceID, directory.Attributes{"jobTitle": "CEO"}); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-e.received:
		if c.Kind != engine.KindUser || c.ID != aliceID || c.Cause != "notification" {
			t.Errorf("change %+v, want user %s from a notification", c, aliceID)
		}
		if c.Observed.Before(before) || c.Observed.After(time.Now()) {
			t.Errorf("observed %v, want the arrival time", c.Observed)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no change arrived; webhook counters %+v", e.webhook.Counters())
	}
	// The webhook counts a message as enqueued once the send has returned,
	// which can be a moment after the queue has handed it to us.
	testenv.WaitFor(t, 5*time.Second, "the webhook to count the message as enqueued", func() bool {
		return e.webhook.Counters().Enqueued >= 1
	})
	if c := e.webhook.Counters(); c.Dropped() != 0 || c.Enqueued < 1 {
		t.Errorf("webhook counters %+v", c)
	}
}

func TestRenewBeforeExpiry(t *testing.T) {
	e := newEnv(t)
	m := e.manager(nil)
	e.ensure(m)
	first := e.checkOnePerResource("/users", "/groups")

	// Not due yet: an hour later nothing is renewed.
	e.advance(time.Hour)
	if res := e.ensure(m); len(res.Renewed) != 0 {
		t.Fatalf("renewed too early: %+v", res)
	}
	// Past half the lifetime it is.
	e.advance(subscriptions.DefaultRenewBefore)
	res := e.ensure(m)
	if len(res.Renewed) != 2 || len(res.Created) != 0 || len(res.Removed) != 0 {
		t.Fatalf("Ensure after half the lifetime: %+v", res)
	}
	renewed := e.checkOnePerResource("/users", "/groups")
	for r, s := range renewed {
		if s.ID != first[r].ID {
			t.Errorf("%s: replaced (%s → %s) rather than renewed", r, first[r].ID, s.ID)
		}
		if !s.Expiry.After(first[r].Expiry.Add(subscriptions.DefaultRenewBefore)) {
			t.Errorf("%s: expiry %v not moved from %v", r, s.Expiry, first[r].Expiry)
		}
	}
	// Beyond the first expiry, the renewed subscriptions still work.
	e.advance(subscriptions.DefaultLifetime - subscriptions.DefaultRenewBefore)
	if len(e.simSubs()) != 2 {
		t.Fatalf("the renewed subscriptions expired at their first expiry")
	}
	if err := e.graph.UpdateUser(context.Background(), aliceID, directory.Attributes{"department": "Board"}); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-e.received:
		if c.ID != aliceID {
			t.Errorf("change %+v", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification through a renewed subscription")
	}
}

func TestRecreateWhatGraphLost(t *testing.T) {
	tests := []struct {
		name string
		lose func(e *env, users store.Subscription)
		// recreated are the resources whose subscription is replaced.
		recreated []string
	}{
		{"deleted silently", func(e *env, users store.Subscription) {
			e.admin(http.MethodDelete, "/_sim/subscriptions/"+users.ID, "")
		}, []string{"/users"}},
		{"expired", func(e *env, users store.Subscription) {
			e.advance(subscriptions.DefaultLifetime + time.Minute)
		}, []string{"/users", "/groups"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			m := e.manager(nil)
			e.ensure(m)
			before := e.checkOnePerResource("/users", "/groups")
			tt.lose(e, before["/users"])
			res := e.ensure(m)
			if len(res.Created) != len(tt.recreated) || len(res.Removed) != len(tt.recreated) {
				t.Fatalf("Ensure: %+v, want %v recreated", res, tt.recreated)
			}
			after := e.checkOnePerResource("/users", "/groups")
			for r, s := range after {
				if slices.Contains(tt.recreated, r) == (s.ID == before[r].ID) {
					t.Errorf("%s: %s → %s", r, before[r].ID, s.ID)
				}
			}
			// A notification for the lost subscription is no longer accepted.
			gone := before["/users"]
			body := fmt.Sprintf(`{"value":[{"subscriptionId":%q,"clientState":%q,"changeType":"updated","resource":"Users/%s"}]}`,
				gone.ID, gone.ClientState, aliceID)
			resp, err := http.Post(e.notify, "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if c := e.webhook.Counters(); c.DroppedUnknownSubscription != 1 {
				t.Errorf("a notification for the lost subscription: counters %+v", c)
			}
		})
	}
}

func TestReauthorizeOnLifecycleNotification(t *testing.T) {
	tests := []struct {
		name    string
		advance time.Duration
		renewed bool
	}{
		{"fresh: reauthorized", 0, false},
		{"due for renewal: reauthorized and renewed", subscriptions.DefaultRenewBefore + time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			m := e.manager(nil)
			e.webhookLifecycle(m)
			e.ensure(m)
			users := e.checkOnePerResource("/users", "/groups")["/users"]
			if tt.advance > 0 {
				e.advance(tt.advance)
			}
			e.admin(http.MethodPost, "/_sim/subscriptions/"+users.ID+"/reauthorize-required", "")
			e.webhook.Wait()
			c := e.webhook.Counters()
			if c.Lifecycle != 1 || c.LifecycleDone != 1 || c.LifecycleFailures != 0 {
				t.Fatalf("webhook counters %+v", c)
			}
			routes := e.sim.Stats().Tenants[tenant].Routes
			if n := routes["POST /subscriptions/{id}/reauthorize"]; n != 1 {
				t.Errorf("%d reauthorize calls, want 1 (routes %v)", n, routes)
			}
			after := e.recorded()[users.ID]
			if moved := after.Expiry.After(users.Expiry); moved != tt.renewed {
				t.Errorf("expiry %v → %v, renewal wanted: %v", users.Expiry, after.Expiry, tt.renewed)
			}
			e.checkOnePerResource("/users", "/groups")
		})
	}
}

// webhookLifecycle makes the env's webhook act on lifecycle notifications
// through m.
func (e *env) webhookLifecycle(m *subscriptions.Manager) {
	e.t.Helper()
	h, err := webhook.New(webhook.Options{SourceTenant: tenant, TenantID: e.graph.TenantID, Store: e.store, Queue: e.queue, Lifecycle: m,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil))})
	if err != nil {
		e.t.Fatal(err)
	}
	e.webhook = h
	e.current.Store(h)
}

func TestReauthorizeReplacesASubscriptionGraphLost(t *testing.T) {
	e := newEnv(t)
	m := e.manager(nil)
	e.ensure(m)
	users := e.checkOnePerResource("/users", "/groups")["/users"]
	if !e.sim.RemoveSubscription(users.ID) {
		t.Fatal("the simulator did not have the subscription")
	}
	if err := m.Reauthorize(context.Background(), users.ID); err != nil {
		t.Fatal(err)
	}
	if now := e.checkOnePerResource("/users", "/groups")["/users"]; now.ID == users.ID {
		t.Errorf("the lost subscription was not replaced")
	}
}

func TestRecreateOnSubscriptionRemoved(t *testing.T) {
	e := newEnv(t)
	m := e.manager(nil)
	e.webhookLifecycle(m)
	e.ensure(m)
	groups := e.checkOnePerResource("/users", "/groups")["/groups"]
	// The webhook drops notifications from any tenant but the source.
	tenantID, err := e.graph.TenantID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"value":[{"subscriptionId":%q,"clientState":%q,"lifecycleEvent":"subscriptionRemoved","tenantId":%q}]}`,
		groups.ID, groups.ClientState, tenantID)
	resp, err := http.Post(e.life, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d", resp.StatusCode)
	}
	e.webhook.Wait()
	if now := e.checkOnePerResource("/users", "/groups")["/groups"]; now.ID == groups.ID {
		t.Errorf("the removed subscription was not replaced")
	}
}

func TestConcurrentInstancesConverge(t *testing.T) {
	e := newEnv(t)
	const instances = 3
	var ms []*subscriptions.Manager
	for range instances {
		ms = append(ms, e.manager(nil))
	}
	for round := range 3 {
		var wg sync.WaitGroup
		errs := make([]error, instances)
		for i, m := range ms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = m.Ensure(context.Background())
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		e.checkOnePerResource("/users", "/groups")
		// Next round from scratch: Graph loses everything.
		for id := range e.simSubs() {
			e.sim.RemoveSubscription(id)
		}
	}
}

func TestStaleAndOrphanedSubscriptionsAreRemoved(t *testing.T) {
	e := newEnv(t)
	m := e.manager(nil)
	e.ensure(m)
	ctx := context.Background()
	// An orphan: a subscription at our URL that no record knows.
	orphan, err := e.graph.CreateSubscription(ctx, subscriptions.GraphSubscription{
		Resource: "/users", ChangeType: "updated,deleted", NotificationURL: e.notify,
		ClientState: "lost-secret", Expiry: e.sim.Now().Add(subscriptions.DefaultLifetime),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Another deployment's subscription at another URL: not ours to touch.
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, r.URL.Query().Get("validationToken"))
	}))
	defer elsewhere.Close()
	other, err := e.graph.CreateSubscription(ctx, subscriptions.GraphSubscription{
		Resource: "/users", ChangeType: "updated", NotificationURL: elsewhere.URL + "/api/GraphWebhook",
		ClientState: "theirs", Expiry: e.sim.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Young, the orphan may be another instance's, not yet recorded.
	if res := e.ensure(m); slices.Contains(res.Removed, orphan.ID) {
		t.Fatal("a subscription created a moment ago was deleted as an orphan")
	}
	e.advance(subscriptions.DefaultOrphanGrace + time.Minute)
	res := e.ensure(m)
	if !slices.Contains(res.Removed, orphan.ID) || slices.Contains(res.Removed, other.ID) {
		t.Fatalf("Ensure after the grace: %+v; want the orphan %s removed and %s kept", res, orphan.ID, other.ID)
	}
	e.checkOnePerResource("/users", "/groups")
	if _, err := e.graph.GetSubscription(ctx, other.ID); err != nil {
		t.Errorf("another deployment's subscription: %v", err)
	}

	// A resource no longer watched is given up.
	usersOnly := e.manager(func(o *subscriptions.Options) { o.Resources = []string{"/users"} })
	res = e.ensure(usersOnly)
	if len(res.Removed) != 1 || len(res.Live) != 1 {
		t.Fatalf("Ensure for /users only: %+v", res)
	}
	e.checkOnePerResource("/users")
}

func TestRotatedFunctionKeyReplacesSubscriptions(t *testing.T) {
	e := newEnv(t)
	e.ensure(e.manager(nil))
	before := e.checkOnePerResource("/users", "/groups")
	e.notify = strings.Replace(e.notify, "key-1", "key-1-rotated", 1)
	var calls int
	m := e.manager(func(o *subscriptions.Options) {
		o.NotificationURL, o.LifecycleURL = "", ""
		o.URLs = func(context.Context) (string, string, error) {
			calls++
			return e.notify, e.life, nil
		}
	})
	res := e.ensure(m)
	if len(res.Created) != 2 || len(res.Removed) != 2 || calls != 1 {
		t.Fatalf("Ensure after a key rotation: %+v (URLs called %d times)", res, calls)
	}
	for r, s := range e.checkOnePerResource("/users", "/groups") {
		if s.ID == before[r].ID {
			t.Errorf("%s still points at the old key", r)
		}
	}
}

func TestEnsureFailures(t *testing.T) {
	t.Run("webhook unreachable: nothing recorded", func(t *testing.T) {
		e := newEnv(t)
		m := e.manager(func(o *subscriptions.Options) {
			o.NotificationURL = "http://127.0.0.1:1/api/GraphWebhook"
			o.LifecycleURL = ""
		})
		_, err := m.Ensure(context.Background())
		if err == nil || !errors.Is(err, directory.ErrBadRequest) || !strings.Contains(err.Error(), "create subscription for /users") {
			t.Fatalf("Ensure = %v, want a bad request creating /users", err)
		}
		if len(e.recorded()) != 0 || len(e.simSubs()) != 0 {
			t.Errorf("something was left behind")
		}
	})
	t.Run("URLs fail: renewals still happen", func(t *testing.T) {
		e := newEnv(t)
		e.ensure(e.manager(nil))
		e.advance(subscriptions.DefaultRenewBefore + time.Hour)
		m := e.manager(func(o *subscriptions.Options) {
			o.URLs = func(context.Context) (string, string, error) {
				return "", "", errors.New("ARM: 403 AuthorizationFailed")
			}
		})
		res, err := m.Ensure(context.Background())
		if err == nil || !strings.Contains(err.Error(), "AuthorizationFailed") {
			t.Fatalf("Ensure error %v", err)
		}
		if len(res.Renewed) != 2 || len(res.Created)+len(res.Removed) != 0 {
			t.Fatalf("Ensure: %+v", res)
		}
	})
}

func TestNewValidates(t *testing.T) {
	e := newEnv(t)
	base := subscriptions.Options{Graph: e.graph, Store: e.store, Tenant: tenant, NotificationURL: e.notify}
	tests := []struct {
		name string
		mod  func(*subscriptions.Options)
	}{
		{"no graph", func(o *subscriptions.Options) { o.Graph = nil }},
		{"no store", func(o *subscriptions.Options) { o.Store = nil }},
		{"no tenant", func(o *subscriptions.Options) { o.Tenant = "" }},
		{"no URL", func(o *subscriptions.Options) { o.NotificationURL = "" }},
		{"lifetime over Graph's limit", func(o *subscriptions.Options) { o.Lifetime = subscriptions.MaxLifetime + time.Minute }},
		{"renewal window over the lifetime", func(o *subscriptions.Options) { o.Lifetime = time.Hour; o.RenewBefore = 2 * time.Hour }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			tt.mod(&o)
			if _, err := subscriptions.New(o); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
}

func TestHelpers(t *testing.T) {
	tests := []struct {
		in, lifecycle, redacted string
	}{
		{"https://func.azurewebsites.net/api/GraphWebhook", "https://func.azurewebsites.net/api/GraphLifecycle", "https://func.azurewebsites.net/api/GraphWebhook"},
		{"https://func.azurewebsites.net/api/GraphWebhook?code=SECRET", "https://func.azurewebsites.net/api/GraphLifecycle?code=SECRET", "https://func.azurewebsites.net/api/GraphWebhook?…"},
		{"http://127.0.0.1:7071/api/GraphWebhook/", "http://127.0.0.1:7071/api/GraphLifecycle", "http://127.0.0.1:7071/api/GraphWebhook/"},
	}
	for _, tt := range tests {
		got, err := subscriptions.LifecycleURL(tt.in)
		if err != nil || got != tt.lifecycle {
			t.Errorf("LifecycleURL(%s) = %q, %v; want %q", tt.in, got, err, tt.lifecycle)
		}
		if got := subscriptions.Redact(tt.in); got != tt.redacted || strings.Contains(got, "SECRET") {
			t.Errorf("Redact(%s) = %q, want %q", tt.in, got, tt.redacted)
		}
	}
	if _, err := subscriptions.LifecycleURL("GraphWebhook"); err == nil {
		t.Error("LifecycleURL of a relative URL succeeded")
	}
	a, err := subscriptions.NewClientState()
	b, _ := subscriptions.NewClientState()
	if err != nil || a == b || len(a) != 43 || strings.ContainsAny(a, "+/=") {
		t.Errorf("NewClientState = %q, %q, %v", a, b, err)
	}
	// GraphSubscription never prints its secret or the key.
	gs := subscriptions.GraphSubscription{ID: "x", ClientState: "SECRET-STATE", NotificationURL: "https://h/api/GraphWebhook?code=SECRET-KEY"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "s", gs)
	for _, s := range []string{fmt.Sprint(gs), fmt.Sprintf("%+v", gs), fmt.Sprintf("%#v", gs), buf.String()} {
		if strings.Contains(s, "SECRET") {
			t.Errorf("printed a secret: %s", s)
		}
	}
}
