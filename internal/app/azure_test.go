package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/customhandler"
	"github.com/tenantsync/tenantsync/internal/demo"
	"github.com/tenantsync/tenantsync/internal/devtools/testenv"
	"github.com/tenantsync/tenantsync/internal/pipeline"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/statuspage"
)

// A Service Bus connection string that parses; nothing connects before a
// message is sent.
const fakeServiceBus = "Endpoint=sb://127.0.0.1:1/;SharedAccessKeyName=send;SharedAccessKey=bm90LWEta2V5"

// blackhole accepts connections and never answers on them: a Table
// endpoint that hangs, as one behind a broken network path does.
type blackhole struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newBlackhole(t *testing.T) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, c := range b.conns {
			c.Close()
		}
	})
	return b
}

func (b *blackhole) port() int { return b.ln.Addr().(*net.TCPAddr).Port }

func (b *blackhole) accepted() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}

// host serves ServeFunctionsHost on a loopback listener, as the Functions
// host starts the worker, and stops it when the test ends.
type host struct {
	url   string
	start time.Time
	done  chan error
	stop  context.CancelFunc
	log   *bytes.Buffer
	logMu *sync.Mutex
}

func startHost(t *testing.T, env map[string]string, openTimeout, readyWait time.Duration) *host {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &host{url: "http://" + ln.Addr().String(), done: make(chan error, 1), log: &bytes.Buffer{}, logMu: &sync.Mutex{}}
	logger := slog.New(slog.NewJSONHandler(lockedWriter{h.log, h.logMu}, nil))
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	h.start = time.Now()
	go func() {
		h.done <- app.ServeFunctionsHost(ctx, app.HostOptions{
			App: app.Options{
				Env:        settings.FromMap(env),
				Config:     demo.Config("http://127.0.0.1:9"),
				MaxRetries: new(int),
				Logger:     logger,
			},
			Listener:    ln,
			OpenTimeout: openTimeout,
			ReadyWait:   readyWait,
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("ServeFunctionsHost = %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("ServeFunctionsHost did not return after its context ended")
		}
	})
	return h
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// probe polls GET / as the host does (DefaultHttpWorkerService.IsWorkerReady:
// every 25 ms) and returns how long after the start the first answer came.
func (h *host) probe(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	client := &http.Client{Timeout: limit}
	for {
		resp, err := client.Get(h.url + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET / = %d", resp.StatusCode)
			}
			return time.Since(h.start)
		}
		if time.Since(h.start) > limit {
			t.Fatalf("no answer to GET / within %s: %v", limit, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (h *host) post(t *testing.T, path string, inv *customhandler.Invocation) (int, customhandler.Response) {
	t.Helper()
	b, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(h.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r customhandler.Response
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("answer of %s is not a Response: %v: %s", path, err, body)
	}
	return resp.StatusCode, r
}

// TestServeFunctionsHostListensFirst starts the custom handler with a Table
// endpoint that accepts connections and never answers. The host's probe is
// answered at once all the same, so the host does not restart the worker;
// the invocations and requests that need the store fail, after their wait,
// with an error that names the store.
func TestServeFunctionsHostListensFirst(t *testing.T) {
	hole := newBlackhole(t)
	h := startHost(t, map[string]string{
		settings.Tables:                     testenv.DevConnectionString("127.0.0.1", hole.port()),
		settings.ServiceBusConnectionString: fakeServiceBus,
	}, 300*time.Millisecond, time.Second)

	if took := h.probe(t, time.Second); took > time.Second {
		t.Errorf("first answer to GET / after %s, want under 1 s", took)
	}
	// The probe keeps being answered while the store hangs.
	time.Sleep(400 * time.Millisecond)
	if took := h.probe(t, time.Second); took > 2*time.Second {
		t.Errorf("GET / unanswered while the runtime opens")
	}

	storeName := "open the store (Table Storage at http://127.0.0.1:" + strconv.Itoa(hole.port()) + "/devstoreaccount1"
	inv, err := customhandler.NewTimerInvocation(pipeline.FunctionReconcile, "timer", customhandler.Timer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	status, resp := h.post(t, "/"+pipeline.FunctionReconcile, inv)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the failed invocation took %s, want about the 1 s ready wait", took)
	}
	if status != http.StatusInternalServerError {
		t.Fatalf("Reconcile answered %d, want 500", status)
	}
	logs := strings.Join(resp.Logs, "\n")
	for _, want := range []string{"tenantsync is not ready", storeName, "context deadline exceeded"} {
		if !strings.Contains(logs, want) {
			t.Errorf("invocation Logs lack %q:\n%s", want, logs)
		}
	}

	hresp, err := http.Get(h.url + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(hresp.Body)
	hresp.Body.Close()
	if hresp.StatusCode != http.StatusServiceUnavailable || hresp.Header.Get("Retry-After") == "" {
		t.Errorf("status page = %d (Retry-After %q), want 503 with a Retry-After", hresp.StatusCode, hresp.Header.Get("Retry-After"))
	}
	if strings.Contains(string(body), "127.0.0.1") {
		t.Errorf("the HTTP answer shows internals: %s", body)
	}
	if hole.accepted() == 0 {
		t.Error("the Table endpoint was never contacted: the runtime did not try to open the store")
	}
	h.logMu.Lock()
	processLog := h.log.String()
	h.logMu.Unlock()
	if !strings.Contains(processLog, "could not open; trying again") || !strings.Contains(processLog, storeName) {
		t.Errorf("the process log does not say why the runtime did not open:\n%s", processLog)
	}
}

// TestServeFunctionsHostOpensBehindTheGate starts the custom handler on the
// embedded store: the runtime opens in the background, the functions then
// run, the HTTP routes match in any case as the host's do, and the status
// page labels the counters as this instance's.
func TestServeFunctionsHostOpensBehindTheGate(t *testing.T) {
	const operatorApp = "6d1b3c2a-5f4e-4a8b-9c0d-1e2f3a4b5c6d"
	h := startHost(t, map[string]string{
		settings.State:                      filepath.Join(t.TempDir(), "state.db"),
		settings.ServiceBusConnectionString: fakeServiceBus,
		settings.OperatorAppClientID:        operatorApp,
	}, 0, 0)
	h.probe(t, time.Second)

	// Under the host the status page answers only an operator signed in by
	// App Service authentication (statuspage.RequireOperator).
	get := func(principal string) *http.Response {
		req, err := http.NewRequest(http.MethodGet, h.url+"/API/Status?format=json", nil)
		if err != nil {
			t.Fatal(err)
		}
		if principal != "" {
			req.Header.Set(statuspage.PrincipalHeader, base64.StdEncoding.EncodeToString([]byte(principal)))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := get(""); resp.StatusCode != http.StatusUnauthorized {
		resp.Body.Close()
		t.Fatalf("status page without a sign-in = %d; want 401", resp.StatusCode)
	} else {
		resp.Body.Close()
	}
	resp := get(`{"auth_typ":"aad","claims":[{"typ":"aud","val":"` + operatorApp + `"},{"typ":"roles","val":"` + statuspage.OperatorRole + `"}],` +
		`"name_typ":"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name","role_typ":"http://schemas.microsoft.com/ws/2008/06/identity/claims/role"}`)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status page = %d: %s", resp.StatusCode, b)
	}
	var snap struct {
		Pipeline map[string]int64 `json:"pipeline"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Pipeline) == 0 {
		t.Fatal("the status page shows no counters")
	}
	for name := range snap.Pipeline {
		if !strings.HasPrefix(name, app.CounterGroupThisInstance+".") {
			t.Errorf("counter %q is not labelled as this instance's", name)
		}
	}
	for _, want := range []string{"changesProcessed", "rescheduleFailures", "notificationsReceived"} {
		if _, ok := snap.Pipeline[app.CounterGroupThisInstance+"."+want]; !ok {
			t.Errorf("counter %s.%s missing: %v", app.CounterGroupThisInstance, want, snap.Pipeline)
		}
	}
}
