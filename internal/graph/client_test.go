package graph_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/graph"
	"github.com/tenantsync/tenantsync/internal/graphsim"
)

func TestErrorMapping(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.client(t, source)
	ctx := context.Background()
	tests := []struct {
		name       string
		status     int
		retryAfter int
		kind       error
		notKinds   []error
		wantDelay  time.Duration
	}{
		{"429 with Retry-After", 429, 7, directory.ErrThrottled, []error{directory.ErrTransient, directory.ErrNotFound}, 7 * time.Second},
		{"503 with Retry-After", 503, 2, directory.ErrThrottled, nil, 2 * time.Second},
		{"504", 504, 0, directory.ErrTransient, []error{directory.ErrThrottled}, 0},
		{"403", 403, 0, directory.ErrForbidden, []error{directory.ErrTransient, directory.ErrThrottled}, 0},
		{"401", 401, 0, directory.ErrForbidden, nil, 0},
		{"409", 409, 0, directory.ErrConflict, nil, 0},
		{"500", 500, 0, directory.ErrTransient, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := sim.SetFaults(graphsim.Faults{FailNext: 1, ErrorStatuses: []int{tt.status}, RetryAfterSeconds: tt.retryAfter}); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = sim.SetFaults(graphsim.Faults{}) }()
			trace := &directory.Trace{}
			start := time.Now()
			_, err := c.GetUser(directory.WithTrace(ctx, trace), aliceID, []string{"displayName"})
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("the call took %v: with MaxRetries 0 it must not sleep", elapsed)
			}
			if !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v, want %v", err, tt.kind)
			}
			for _, k := range tt.notKinds {
				if errors.Is(err, k) {
					t.Errorf("err %v is also %v", err, k)
				}
			}
			de := asError(t, err)
			if de.Status != tt.status || de.Op != "get user "+aliceID || de.RequestID == "" || de.Code == "" {
				t.Errorf("error = %+v", de)
			}
			if de.RetryAfter != tt.wantDelay {
				t.Errorf("RetryAfter = %v, want %v", de.RetryAfter, tt.wantDelay)
			}
			if d, ok := directory.RetryAfter(err); ok != errors.Is(err, directory.ErrThrottled) || d != tt.wantDelay && ok {
				t.Errorf("directory.RetryAfter = %v, %v", d, ok)
			}
			reqs := trace.Requests()
			if len(reqs) != 1 || reqs[0].Status != tt.status || reqs[0].RequestID != de.RequestID {
				t.Errorf("trace = %+v, want the one failed request", reqs)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	tests := []struct {
		name       string
		maxRetries int
		fail       int
		wantErr    bool
		wantTrace  []int
	}{
		{"no retries: the 429 comes back at once", 0, 1, true, []int{429}},
		{"one retry honours Retry-After and succeeds", 2, 1, false, []int{429, 200}},
		{"retries run out", 1, 2, true, []int{429, 429}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sim.clientWith(t, graph.Options{BaseURL: sim.tenantURL(source), MaxRetries: tt.maxRetries})
			if err := sim.SetFaults(graphsim.Faults{FailNext: tt.fail, ErrorStatuses: []int{429}, RetryAfterSeconds: 1}); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = sim.SetFaults(graphsim.Faults{}) }()
			trace := &directory.Trace{}
			start := time.Now()
			_, err := c.GetUser(directory.WithTrace(context.Background(), trace), aliceID, nil)
			elapsed := time.Since(start)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, directory.ErrThrottled) {
				t.Errorf("err = %v, want ErrThrottled", err)
			}
			var statuses []int
			for _, r := range trace.Requests() {
				statuses = append(statuses, r.Status)
			}
			if len(statuses) != len(tt.wantTrace) {
				t.Fatalf("trace statuses = %v, want %v", statuses, tt.wantTrace)
			}
			for i := range statuses {
				if statuses[i] != tt.wantTrace[i] {
					t.Errorf("trace statuses = %v, want %v", statuses, tt.wantTrace)
				}
			}
			retried := len(tt.wantTrace) - 1
			if elapsed < time.Duration(retried)*time.Second {
				t.Errorf("%d retries in %v: Retry-After (1 s) not honoured", retried, elapsed)
			}
		})
	}
}

func TestTransportError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there now
	c, err := graph.New(context.Background(), graph.Options{BaseURL: "http://" + addr + "/x/v1.0", HTTPClient: &http.Client{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	trace := &directory.Trace{}
	_, err = c.GetUser(directory.WithTrace(context.Background(), trace), aliceID, nil)
	if !errors.Is(err, directory.ErrTransient) {
		t.Fatalf("err = %v, want ErrTransient", err)
	}
	if de := asError(t, err); de.Status != 0 || de.Err == nil {
		t.Errorf("error = %+v, want status 0 and the cause", de)
	}
	if reqs := trace.Requests(); len(reqs) != 1 || reqs[0].Status != 0 {
		t.Errorf("trace = %+v, want one request without a status", reqs)
	}
}

func TestCanceledContext(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.client(t, source)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.GetUser(ctx, aliceID, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestTrace(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.clientWith(t, graph.Options{BaseURL: sim.tenantURL(source), PageSize: 3})
	trace := &directory.Trace{}
	ctx := directory.WithTrace(context.Background(), trace)
	if _, err := c.GetUser(ctx, bobID, []string{"displayName", "manager"}); err != nil {
		t.Fatal(err)
	}
	if err := c.ListUsers(ctx, []string{"displayName"}, func([]directory.User) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetUser(ctx, "00000000-0000-4000-8000-00000000dead", nil); err == nil {
		t.Fatal("no error for a missing user")
	}
	want := []directory.Request{
		{Method: "GET", Path: "/fabrikam.example/v1.0/users/" + bobID, Status: 200},
		{Method: "GET", Path: "/fabrikam.example/v1.0/users", Status: 200},
		{Method: "GET", Path: "/fabrikam.example/v1.0/users", Status: 200},
		{Method: "GET", Path: "/fabrikam.example/v1.0/users/00000000-0000-4000-8000-00000000dead", Status: 404},
	}
	got := trace.Requests()
	if len(got) != len(want) {
		t.Fatalf("trace = %+v, want %d requests", got, len(want))
	}
	ids := map[string]bool{}
	for i, r := range got {
		if r.Method != want[i].Method || r.Path != want[i].Path || r.Status != want[i].Status {
			t.Errorf("request %d = %+v, want %+v", i, r, want[i])
		}
		if r.RequestID == "" || ids[r.RequestID] {
			t.Errorf("request %d has request id %q: want a new one", i, r.RequestID)
		}
		ids[r.RequestID] = true
	}
	// Without a trace in the context nothing is recorded, and nothing fails.
	if _, err := c.GetUser(context.Background(), bobID, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(trace.Requests()); n != len(want) {
		t.Errorf("a request without a trace was recorded (%d)", n)
	}
}

func TestMaxResponseBytes(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.clientWith(t, graph.Options{BaseURL: sim.tenantURL(source), MaxResponseBytes: 300})
	if _, err := c.GetUser(context.Background(), carolID, []string{"mail"}); err != nil {
		t.Fatalf("a small response failed: %v", err)
	}
	err := c.ListUsers(context.Background(), []string{"displayName", "mail", "jobTitle"}, func([]directory.User) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("a response over the limit = %v, want a too large error", err)
	}
}

// staticCredential hands out a fixed token and records the scopes asked.
type staticCredential struct {
	mu     sync.Mutex
	scopes [][]string
}

func (c *staticCredential) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes = append(c.scopes, opts.Scopes)
	return azcore.AccessToken{Token: "test-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestCredentialScopes(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	tests := []struct {
		name   string
		scopes []string
		want   string
	}{
		{"scope follows the base URL", nil, sim.URL + "/.default"},
		{"explicit scope", []string{"https://graph.microsoft.us/.default"}, "https://graph.microsoft.us/.default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred := &staticCredential{}
			c := sim.clientWith(t, graph.Options{BaseURL: sim.tenantURL(source), Credential: cred, Scopes: tt.scopes})
			sim.reset()
			if _, err := c.GetUser(context.Background(), aliceID, nil); err != nil {
				t.Fatal(err)
			}
			if got := sim.recorded()[0].Header.Get("Authorization"); got != "Bearer test-token" {
				t.Errorf("Authorization = %q", got)
			}
			if len(cred.scopes) != 1 || len(cred.scopes[0]) != 1 || cred.scopes[0][0] != tt.want {
				t.Errorf("scopes asked = %v, want [%s]", cred.scopes, tt.want)
			}
		})
	}
	sim.reset()
	if _, err := sim.client(t, source).GetUser(context.Background(), aliceID, nil); err != nil {
		t.Fatal(err)
	}
	if got := sim.recorded()[0].Header.Get("Authorization"); got != "" {
		t.Errorf("anonymous client sent Authorization %q", got)
	}
}

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name string
		opts graph.Options
		ok   bool
	}{
		{"global cloud", graph.Options{BaseURL: "https://graph.microsoft.com/v1.0"}, true},
		{"trailing slash", graph.Options{BaseURL: "https://graph.microsoft.us/v1.0/"}, true},
		{"simulator with a token", graph.Options{BaseURL: "http://127.0.0.1:8765/fabrikam.example/v1.0", Credential: &staticCredential{}}, true},
		{"plain http to a remote host with a token", graph.Options{BaseURL: "http://graph.example/v1.0", Credential: &staticCredential{}}, false},
		{"missing", graph.Options{}, false},
		{"relative", graph.Options{BaseURL: "/v1.0"}, false},
		{"query", graph.Options{BaseURL: "https://graph.microsoft.com/v1.0?x=1"}, false},
		{"too many retries", graph.Options{BaseURL: "https://graph.microsoft.com/v1.0", MaxRetries: 11}, false},
		{"negative retries", graph.Options{BaseURL: "https://graph.microsoft.com/v1.0", MaxRetries: -1}, false},
		{"page too large", graph.Options{BaseURL: "https://graph.microsoft.com/v1.0", PageSize: 1000}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := graph.New(context.Background(), tt.opts)
			if (err == nil) != tt.ok {
				t.Fatalf("New = %v, want ok %v", err, tt.ok)
			}
			if tt.ok && c.BaseURL() != strings.TrimRight(tt.opts.BaseURL, "/") {
				t.Errorf("BaseURL = %q", c.BaseURL())
			}
		})
	}
}
