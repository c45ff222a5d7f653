package pipeline_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/changes"
	"github.com/tenantsync/tenantsync/internal/customhandler"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/pipeline"
)

// The custom handler's recorded host payloads (internal/customhandler/testdata).
const hostFixtures = "../customhandler/testdata"

// deadlineEngine records what ProcessChange gave the engine, and fails
// with err.
type deadlineEngine struct {
	mu       sync.Mutex
	deadline time.Time
	has      bool
	synced   []engine.Change
	err      error
}

func (e *deadlineEngine) Sync(ctx context.Context, ch engine.Change) (engine.Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.deadline, e.has = ctx.Deadline()
	e.synced = append(e.synced, ch)
	return engine.Result{Change: ch}, e.err
}

func (*deadlineEngine) Reconcile(context.Context, engine.ReconcileOptions) (engine.ReconcileResult, error) {
	return engine.ReconcileResult{}, nil
}

// TestProcessChangeFromTheHost replays the recorded Service Bus invocation
// (a re-scheduled retry, delivered a second time) through the custom
// handler: the change in its body reaches the engine, the invocation's
// context ends ProcessChangeTimeout after the handler received it, so that
// the work stops well inside the session lock's renewal (host.json), and
// the message's attempt count carries on into the next retry.
func TestProcessChangeFromTheHost(t *testing.T) {
	payload, err := os.ReadFile(filepath.Join(hostFixtures, "servicebus-session-string.json"))
	if err != nil {
		t.Fatal(err)
	}
	eng := &deadlineEngine{err: io.ErrUnexpectedEOF} // a transient failure: re-scheduled
	q := &capturingQueue{}
	p, err := pipeline.New(pipeline.Options{Engine: eng, Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	srv := customhandler.NewServer(nil)
	p.Register(srv, pipeline.HTTPHandlers{})
	hs := httptest.NewServer(srv)
	defer hs.Close()

	sent := time.Now()
	resp, err := http.Post(hs.URL+"/"+pipeline.FunctionProcessChange, "application/json", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ProcessChange answered %d: %s", resp.StatusCode, body)
	}
	if len(eng.synced) != 1 {
		t.Fatalf("engine synced %d changes, want 1", len(eng.synced))
	}
	if got := eng.synced[0]; got.Kind != engine.KindUser || got.ID != "0f4c6a63-3d3c-4f0a-9d7e-2b1e6b7c9a01" || got.Cause != "notification" || !got.Force {
		t.Errorf("engine got %+v, want the fixture's forced user change", got)
	}
	if !eng.has {
		t.Fatal("the invocation's context has no deadline")
	}
	if d := eng.deadline.Sub(sent); d < pipeline.ProcessChangeTimeout-time.Second || d > pipeline.ProcessChangeTimeout+time.Second {
		t.Errorf("deadline %s after the request, want %s", d, pipeline.ProcessChangeTimeout)
	}
	if len(q.scheduled) != 1 {
		t.Fatalf("scheduled %d retries, want 1", len(q.scheduled))
	}
	if got := q.scheduled[0].Properties[pipeline.PropertyAttempt]; got != 3 {
		t.Errorf("retry's %s = %v, want 3 (the fixture's 2, plus one)", pipeline.PropertyAttempt, got)
	}
	if ch, err := changes.Decode(q.scheduled[0].Body); err != nil || ch.ID != eng.synced[0].ID {
		t.Errorf("retry body %s: %v", q.scheduled[0].Body, err)
	}
}

// TestForwardedRoutesIgnoreCase sends Graph's validation request, as the
// host forwards it, to the real webhook under spellings of the route the
// host accepts, and the status page likewise.
func TestForwardedRoutesIgnoreCase(t *testing.T) {
	r := newRig(t)
	srv := customhandler.NewServer(nil)
	r.p.Register(srv, pipeline.HTTPHandlers{Webhook: r.rt.Webhook, Status: r.rt.Status})
	hs := httptest.NewServer(srv)
	defer hs.Close()

	raw, err := os.ReadFile(filepath.Join(hostFixtures, "http-forwarded-validation.txt"))
	if err != nil {
		t.Fatal(err)
	}
	fwd, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	const token = "Validation: Testing client application reachability for subscription Request-Id: 25ed7e04-8be5-4b4c-9c45-7e5bb4d1c77c"
	tests := []struct {
		method, path string
		query        string
		want         int
		wantBody     string
	}{
		{"POST", "/api/GraphWebhook", fwd.URL.RawQuery, http.StatusOK, token},
		{"POST", "/api/graphwebhook", fwd.URL.RawQuery, http.StatusOK, token},
		{"POST", "/API/GRAPHWEBHOOK", fwd.URL.RawQuery, http.StatusOK, token},
		{"POST", "/api/graphlifecycle", fwd.URL.RawQuery, http.StatusOK, token},
		{"GET", "/api/status", "", http.StatusOK, ""},
		{"GET", "/api/Status", "", http.StatusOK, ""},
		{"GET", "/API/STATUS", "", http.StatusOK, ""},
		{"GET", "/api/graphwebhook", fwd.URL.RawQuery, http.StatusMethodNotAllowed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, hs.URL+tc.path+"?"+tc.query, http.NoBody)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = fwd.Header.Clone()
			req.Host = fwd.Host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, b)
			}
			if tc.wantBody != "" && string(b) != tc.wantBody {
				t.Errorf("body %q, want the validation token", b)
			}
		})
	}
}

// TestRegisterDeferred serves the functions before their pipeline exists,
// as the Functions host path does: get is asked only when a request comes,
// and an HTTP function it leaves without a handler answers 404.
func TestRegisterDeferred(t *testing.T) {
	var mu sync.Mutex
	var fns pipeline.Functions
	asked := 0
	srv := customhandler.NewServer(nil)
	pipeline.RegisterDeferred(srv, func() pipeline.Functions {
		mu.Lock()
		defer mu.Unlock()
		asked++
		return fns
	})
	if asked != 0 {
		t.Fatalf("RegisterDeferred asked for the functions %d times before any request", asked)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	get := func(path string) int {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get("/api/status"); got != http.StatusNotFound {
		t.Errorf("status page without a handler = %d, want 404", got)
	}
	p, err := pipeline.New(pipeline.Options{Engine: &recordingEngine{}, Queue: discardQueue{}})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	fns = pipeline.Functions{Pipeline: p, HTTPHandlers: pipeline.HTTPHandlers{Status: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})}}
	mu.Unlock()
	if got := get("/api/STATUS"); got != http.StatusOK {
		t.Errorf("status page = %d, want 200", got)
	}
	msg, err := changes.Message(engine.Change{Kind: engine.KindUser, ID: "0b9c7e8e-0000-4000-8000-000000000005"})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := customhandler.NewServiceBusInvocation(pipeline.FunctionProcessChange, "message",
		customhandler.Message{Body: msg.Body, SessionID: msg.SessionID, DeliveryCount: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(inv)
	resp, err := http.Post(hs.URL+"/processchange", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || p.Counters()["changesProcessed"] != 1 {
		t.Errorf("ProcessChange = %d, processed %d; want 200, 1", resp.StatusCode, p.Counters()["changesProcessed"])
	}
}
