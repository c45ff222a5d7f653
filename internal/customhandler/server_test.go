package customhandler

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testServer is a Server behind a real loopback HTTP listener, with its
// process log captured as JSON records.
type testServer struct {
	*Server
	url string
	log *syncBuffer
}

func newTestServer(t *testing.T, opts *ServerOptions) *testServer {
	t.Helper()
	buf := &syncBuffer{}
	var o ServerOptions
	if opts != nil {
		o = *opts
	}
	o.Logger = slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := NewServer(&o)
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return &testServer{Server: s, url: hs.URL, log: buf}
}

// post sends an invocation as the host does.
func (ts *testServer) post(t *testing.T, path, invocationID string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if invocationID != "" {
		req.Header.Set(HeaderInvocationID, invocationID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// processChange stands in for the real ProcessChange: it decodes the
// message and fails, panics or succeeds as the body asks.
func processChange(ctx context.Context, inv *Invocation) (*Response, error) {
	m, err := ServiceBusMessage(inv, "message")
	if err != nil {
		return nil, err
	}
	log := LoggerFromContext(ctx)
	switch {
	case bytes.Contains(m.Body, []byte("throttle")):
		log.Warn("target throttled", "target", "contoso")
		return nil, errors.New("process change: throttled")
	case bytes.Contains(m.Body, []byte("panic")):
		panic("bad message")
	}
	log.Debug("not collected at the default level")
	log.Info("change processed", "sessionId", m.SessionID, "deliveryCount", m.DeliveryCount)
	return nil, nil
}

func TestServerInvocations(t *testing.T) {
	ok := fixture(t, "servicebus-session-string.json")
	withBody := func(body string) []byte {
		inv, err := NewServiceBusInvocation("ProcessChange", "message", Message{Body: []byte(body), SessionID: "s"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(inv)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name       string
		path       string
		body       []byte
		wantStatus int
		wantBody   string   // fixture file or exact JSON; "" to skip
		wantLogs   []string // substrings of Response.Logs, in order
		wantErrLog string   // substring of an ERROR process record, "" for none
	}{
		{
			name: "success", path: "/ProcessChange", body: ok,
			wantStatus: http.StatusOK, wantBody: "response-success.json",
		},
		{
			name: "function name in another case", path: "/processchange", body: ok,
			wantStatus: http.StatusOK, wantBody: "response-success.json",
		},
		{
			name: "handler error fails the invocation", path: "/ProcessChange", body: withBody(`{"throttle":1}`),
			wantStatus: http.StatusInternalServerError,
			wantLogs:   []string{`level=WARN msg="target throttled" target=contoso`, `level=ERROR msg="invocation failed" err="process change: throttled"`},
			wantErrLog: "process change: throttled",
		},
		{
			name: "panic fails the invocation, not the process", path: "/ProcessChange", body: withBody(`{"panic":1}`),
			wantStatus: http.StatusInternalServerError,
			wantLogs:   []string{`msg="invocation panicked" panic="bad message"`, `invoke ProcessChange: panic: bad message`},
			wantErrLog: "panic: bad message",
		},
		{
			name: "undecodable metadata fails the invocation", path: "/ProcessChange",
			body:       []byte(`{"Data":{"message":"\"x\""},"Metadata":{"DeliveryCount":"many"}}`),
			wantStatus: http.StatusInternalServerError,
			wantLogs:   []string{`Metadata.DeliveryCount`},
			wantErrLog: "Metadata.DeliveryCount",
		},
		{
			name: "malformed payload", path: "/ProcessChange", body: []byte(`{"Data":`),
			wantStatus: http.StatusBadRequest,
			wantLogs:   []string{"decode invocation of ProcessChange"},
			wantErrLog: "decode invocation of ProcessChange",
		},
		{
			name: "oversized payload", path: "/ProcessChange", body: withBody(`"` + strings.Repeat("x", 70<<10) + `"`),
			wantStatus: http.StatusRequestEntityTooLarge,
			wantLogs:   []string{"request body too large"},
			wantErrLog: "request body too large",
		},
		{
			name: "unknown function", path: "/Nope", body: ok,
			wantStatus: http.StatusNotFound,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, &ServerOptions{MaxInvocationBytes: 64 << 10})
			ts.HandleInvocation("ProcessChange", processChange)
			status, body := ts.post(t, tc.path, "inv-"+tc.name, tc.body)
			if status != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %s", status, tc.wantStatus, body)
			}
			if tc.wantBody != "" && !jsonEqual(t, body, fixture(t, tc.wantBody)) {
				t.Errorf("body =\n%s\nwant\n%s", body, fixture(t, tc.wantBody))
			}
			if len(tc.wantLogs) > 0 {
				var resp Response
				if err := json.Unmarshal(body, &resp); err != nil {
					t.Fatalf("answer is not a Response: %v: %s", err, body)
				}
				joined := strings.Join(resp.Logs, "\n")
				at := 0
				for _, want := range tc.wantLogs {
					i := strings.Index(joined[at:], want)
					if i < 0 {
						t.Fatalf("Logs lack %q after offset %d:\n%s", want, at, joined)
					}
					at += i + len(want)
				}
			}
			errLogged := false
			for _, r := range ts.log.records(t) {
				if tc.path == "/ProcessChange" || tc.path == "/processchange" {
					if r["invocationId"] != "inv-"+tc.name || r["function"] != "ProcessChange" {
						t.Errorf("process record without the invocation: %v", r)
					}
				}
				if r["level"] == "ERROR" && strings.Contains(fmt.Sprint(r["err"]), tc.wantErrLog) {
					errLogged = true
				}
			}
			if tc.wantErrLog != "" && !errLogged {
				t.Errorf("no ERROR process record with %q: %v", tc.wantErrLog, ts.log.records(t))
			}
		})
	}
}

func TestServerProbeAndMethods(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.HandleInvocation("Reconcile", func(context.Context, *Invocation) (*Response, error) { return nil, nil })
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/", http.StatusOK},
		{http.MethodHead, "/", http.StatusOK},
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
		{http.MethodGet, "/Reconcile", http.StatusMethodNotAllowed},
		{http.MethodGet, "/api/GraphWebhook", http.StatusNotFound},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, ts.url+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
}

// TestServerForwarded replays the host's forwarded validation request and a
// forwarded notification through a registered http.Handler.
func TestServerForwarded(t *testing.T) {
	ts := newTestServer(t, &ServerOptions{MaxHTTPBodyBytes: 1 << 10})
	type seen struct {
		id, token, host, contentType string
		contentLength                int64
	}
	got := make(chan seen, 1)
	ts.HandleHTTP("POST /api/GraphWebhook", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		LoggerFromContext(r.Context()).Info("webhook call")
		got <- seen{
			id: InvocationIDFromContext(r.Context()), token: r.URL.Query().Get("validationToken"),
			host: r.Host, contentType: r.Header.Get("Content-Type"), contentLength: r.ContentLength,
		}
		if token := r.URL.Query().Get("validationToken"); token != "" {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, token)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))

	raw, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(fixture(t, "http-forwarded-validation.txt"))))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(raw.Method, ts.url+raw.URL.RequestURI(), raw.Body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = raw.Header
	// The host sends the caller's Host header, not the loopback address it
	// connects to (testdata/README.md).
	req.Host = raw.Host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	const token = "Validation: Testing client application reachability for subscription Request-Id: 25ed7e04-8be5-4b4c-9c45-7e5bb4d1c77c"
	if resp.StatusCode != http.StatusOK || string(body) != token || resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("validation answer = %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	s := <-got
	if s.id != "2982be63-9441-4b0f-8e80-ecf75801958a" || s.token != token {
		t.Errorf("handler saw id %q token %q", s.id, s.token)
	}
	// What the host forwards for an empty POST: the caller's host name, no
	// Content-Type, a zero length.
	if s.host != "func-tenantsync.azurewebsites.net" || s.contentType != "" || s.contentLength != 0 {
		t.Errorf("handler saw Host %q, Content-Type %q, length %d; want the app's host name, none, 0", s.host, s.contentType, s.contentLength)
	}
	records := ts.log.records(t)
	if len(records) != 1 || records[0]["invocationId"] != s.id || records[0]["path"] != "/api/GraphWebhook" {
		t.Errorf("process log = %v", records)
	}
	for _, r := range records {
		if line := fmt.Sprint(r); strings.Contains(line, "placeholder-function-key") || strings.Contains(line, "Validation") {
			t.Errorf("query string logged: %s", line)
		}
	}

	tests := []struct {
		name string
		body string
		want int
	}{
		{"notification", `{"value":[]}`, http.StatusAccepted},
		{"body over the bound", strings.Repeat("x", 2<<10), http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		resp, err := http.Post(ts.url+"/api/GraphWebhook?code=k", "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
		if tc.want == http.StatusAccepted {
			if s := <-got; s.id == "" {
				t.Errorf("%s: no invocation id generated", tc.name)
			}
		}
	}
}

func TestServerForwardedPanic(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.HandleHTTP("GET /api/status", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	resp, err := http.Get(ts.url + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status = %d", resp.StatusCode)
	}
	found := false
	for _, r := range ts.log.records(t) {
		found = found || (r["level"] == "ERROR" && r["panic"] == "boom")
	}
	if !found {
		t.Errorf("panic not logged: %v", ts.log.records(t))
	}
}

// TestServerInvoke calls a function in process, as `handler local` does.
func TestServerInvoke(t *testing.T) {
	buf := &syncBuffer{}
	s := NewServer(&ServerOptions{
		Logger:      slog.New(slog.NewJSONHandler(buf, nil)),
		LogLevel:    slog.LevelDebug,
		MaxLogLines: 5,
	})
	var sawID string
	s.HandleInvocation("Reconcile", func(ctx context.Context, inv *Invocation) (*Response, error) {
		tm, err := TimerInfo(inv, "timer")
		if err != nil {
			return nil, err
		}
		sawID = InvocationIDFromContext(ctx)
		log := LoggerFromContext(ctx).With("pastDue", tm.IsPastDue)
		for i := range 12 {
			log.Debug("page", "n", i)
		}
		return &Response{ReturnValue: "done", Logs: []string{"handler line"}}, nil
	})
	inv, err := NewTimerInvocation("Reconcile", "timer", Timer{IsPastDue: true}, &InvocationOptions{ID: "local-1"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.Invoke(context.Background(), inv)
	if err != nil {
		t.Fatal(err)
	}
	if sawID != "local-1" || resp.ReturnValue != "done" {
		t.Errorf("id %q, return %v", sawID, resp.ReturnValue)
	}
	want := []string{
		"level=DEBUG msg=page pastDue=true n=0",
		"level=DEBUG msg=page pastDue=true n=1",
		"level=DEBUG msg=page pastDue=true n=2",
		"level=DEBUG msg=page pastDue=true n=3",
		"level=DEBUG msg=page pastDue=true n=4",
		`level=WARN msg="7 more log lines dropped"`,
		"handler line",
	}
	if strings.Join(resp.Logs, "\n") != strings.Join(want, "\n") {
		t.Errorf("Logs =\n%s\nwant\n%s", strings.Join(resp.Logs, "\n"), strings.Join(want, "\n"))
	}
	// The process log keeps every record, at its own level (Info here).
	if n := len(buf.records(t)); n != 0 {
		t.Errorf("%d debug records reached an Info process log", n)
	}

	if _, err := s.Invoke(context.Background(), &Invocation{Function: "Missing"}); err == nil {
		t.Error("invoking an unregistered function succeeded")
	}
}

func TestHandleInvocationRegistration(t *testing.T) {
	h := func(context.Context, *Invocation) (*Response, error) { return nil, nil }
	tests := []struct {
		name string
		do   func(s *Server)
	}{
		{"empty name", func(s *Server) { s.HandleInvocation("", h) }},
		{"slash", func(s *Server) { s.HandleInvocation("a/b", h) }},
		{"nil handler", func(s *Server) { s.HandleInvocation("A", nil) }},
		{"twice, any case", func(s *Server) { s.HandleInvocation("A", h); s.HandleInvocation("a", h) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tc.do(NewServer(nil))
		})
	}
}

func TestServerUnencodableOutputs(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.HandleInvocation("Bad", func(context.Context, *Invocation) (*Response, error) {
		return &Response{Outputs: map[string]any{"out": make(chan int)}}, nil
	})
	status, body := ts.post(t, "/Bad", "inv-bad", []byte(`{"Data":{},"Metadata":{}}`))
	if status != http.StatusInternalServerError || !strings.Contains(string(body), "encode response of Bad") {
		t.Errorf("answer = %d %s", status, body)
	}
	logged := false
	for _, r := range ts.log.records(t) {
		logged = logged || (r["level"] == "ERROR" && r["invocationId"] == "inv-bad")
	}
	if !logged {
		t.Errorf("failure not in the process log: %v", ts.log.records(t))
	}
}
