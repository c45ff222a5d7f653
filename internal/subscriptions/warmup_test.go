package subscriptions_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/subscriptions"
)

// warmGraph is a Graph that records, for each subscription it creates,
// whether the webhook had been called before: the order the warm-up exists
// for.
type warmGraph struct {
	mu           sync.Mutex
	warmed       func() int
	warmedBefore []int
	created      int
}

func (g *warmGraph) CreateSubscription(ctx context.Context, s subscriptions.GraphSubscription) (subscriptions.GraphSubscription, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.created++
	g.warmedBefore = append(g.warmedBefore, g.warmed())
	s.ID = "00000000-0000-4000-8000-00000000000" + string(rune('0'+g.created))
	return s, nil
}

func (g *warmGraph) GetSubscription(ctx context.Context, id string) (subscriptions.GraphSubscription, error) {
	return subscriptions.GraphSubscription{}, context.Canceled
}

func (g *warmGraph) RenewSubscription(ctx context.Context, id string, expiry time.Time) (subscriptions.GraphSubscription, error) {
	return subscriptions.GraphSubscription{}, context.Canceled
}
func (g *warmGraph) DeleteSubscription(ctx context.Context, id string) error      { return nil }
func (g *warmGraph) ReauthorizeSubscription(ctx context.Context, id string) error { return nil }
func (g *warmGraph) ListSubscriptions(ctx context.Context) ([]subscriptions.GraphSubscription, error) {
	return nil, nil
}

// memSubs is a subscriptions.Store in memory.
type memSubs struct {
	mu   sync.Mutex
	subs map[string]store.Subscription
}

func (m *memSubs) GetSubscription(ctx context.Context, id string) (store.Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.subs[id], nil
}

func (m *memSubs) PutSubscription(ctx context.Context, s store.Subscription) (store.Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.subs == nil {
		m.subs = map[string]store.Subscription{}
	}
	m.subs[s.ID] = s
	return s, nil
}

func (m *memSubs) DeleteSubscription(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.subs, id)
	return nil
}

func (m *memSubs) ListSubscriptions(ctx context.Context) ([]store.Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Subscription
	for _, s := range m.subs {
		out = append(out, s)
	}
	return out, nil
}

// The manager calls the webhook's validation path once before each
// subscription it creates, with the function key the URL carries, and a
// webhook that hangs or fails delays the run by at most the timeout and
// fails nothing.
func TestWarmUpBeforeCreate(t *testing.T) {
	const key = "WARMUP-FUNCTION-KEY"
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
		wantLog string
	}{
		{"answers", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, r.URL.Query().Get("validationToken"))
		}, "webhook warmed up"},
		{"fails", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "cold", http.StatusServiceUnavailable)
		}, "unexpected answer"},
		{"hangs", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, "webhook warm-up failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var calls []*http.Request
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				calls = append(calls, r)
				mu.Unlock()
				tt.handler(w, r)
			}))
			defer hook.Close()
			count := func() int { mu.Lock(); defer mu.Unlock(); return len(calls) }
			g := &warmGraph{warmed: count}
			var logs bytes.Buffer
			m, err := subscriptions.New(subscriptions.Options{
				Graph: g, Store: &memSubs{}, Tenant: "fabrikam.example",
				NotificationURL: hook.URL + "/api/GraphWebhook?code=" + key,
				WarmUpClient:    hook.Client(),
				WarmUpTimeout:   200 * time.Millisecond,
				Logger:          slog.New(slog.NewTextHandler(&logs, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			res, err := m.Ensure(context.Background())
			if err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("Ensure took %v: the warm-up is not bounded", elapsed)
			}
			if len(res.Created) != 2 || len(g.warmedBefore) != 2 {
				t.Fatalf("created %v; want one per resource", res.Created)
			}
			for i, n := range g.warmedBefore {
				if n != i+1 {
					t.Errorf("subscription %d created after %d warm-up requests; want %d", i+1, n, i+1)
				}
			}
			mu.Lock()
			for _, r := range calls {
				q := r.URL.Query()
				if r.Method != http.MethodPost || r.URL.Path != "/api/GraphWebhook" || q.Get("code") != key || q.Get("validationToken") == "" {
					t.Errorf("warm-up request %s %s: want POST /api/GraphWebhook with the key and a validationToken", r.Method, r.URL)
				}
			}
			mu.Unlock()
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("logs lack %q:\n%s", tt.wantLog, logs.String())
			}
			if strings.Contains(logs.String(), key) {
				t.Errorf("the logs carry the function key:\n%s", logs.String())
			}
		})
	}
}

// Without a client, nothing is sent: local runs and the other tests.
func TestNoWarmUpWithoutClient(t *testing.T) {
	var called bool
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true }))
	defer hook.Close()
	g := &warmGraph{warmed: func() int { return 0 }}
	m, err := subscriptions.New(subscriptions.Options{
		Graph: g, Store: &memSubs{}, Tenant: "fabrikam.example",
		NotificationURL: hook.URL + "/api/GraphWebhook",
		Logger:          slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	if called {
		t.Error("the webhook was called without a WarmUpClient")
	}
}

// An error that quotes the URL loses its query, which carries the key.
func TestWarmUpErrorsAreRedacted(t *testing.T) {
	var logs bytes.Buffer
	m, err := subscriptions.New(subscriptions.Options{
		Graph: &warmGraph{warmed: func() int { return 0 }}, Store: &memSubs{}, Tenant: "fabrikam.example",
		// Nothing listens on port 1: the request fails with the URL quoted.
		NotificationURL: "https://127.0.0.1:1/api/GraphWebhook?code=SECRET-KEY",
		WarmUpClient:    &http.Client{},
		WarmUpTimeout:   time.Second,
		Logger:          slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "webhook warm-up failed") {
		t.Errorf("no warm-up failure logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "SECRET-KEY") {
		t.Errorf("the logs carry the function key:\n%s", logs.String())
	}
}
