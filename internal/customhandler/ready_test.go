package customhandler

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestReadyHoldsRequestsNotTheProbe serves with a Ready that blocks until
// released or failed: the host's GET / is answered at once, invocations and
// forwarded requests wait, then run or fail with the reason.
func TestReadyHoldsRequestsNotTheProbe(t *testing.T) {
	tests := []struct {
		name       string
		readyErr   error // what Ready returns once released
		wantInvoke int
		wantHTTP   int
		wantLog    string // substring of the failed invocation's Logs
	}{
		{"opens", nil, http.StatusOK, http.StatusOK, ""},
		{"cannot open", errors.New("open the store (Table Storage at example): no answer"), http.StatusInternalServerError, http.StatusServiceUnavailable, "open the store (Table Storage at example)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			waiting := make(chan struct{}, 4)
			ts := newTestServer(t, &ServerOptions{Ready: func(ctx context.Context) error {
				waiting <- struct{}{}
				select {
				case <-release:
					return tc.readyErr
				case <-ctx.Done():
					return ctx.Err()
				}
			}})
			ts.HandleInvocation("Reconcile", func(context.Context, *Invocation) (*Response, error) { return nil, nil })
			ts.HandleHTTP("GET /api/status", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))

			// The probe does not wait.
			client := &http.Client{Timeout: time.Second}
			resp, err := client.Get(ts.url + "/")
			if err != nil {
				t.Fatalf("probe while not ready: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("probe = %d", resp.StatusCode)
			}

			type answer struct {
				status int
				body   string
				retry  string
			}
			invoke, forward := make(chan answer, 1), make(chan answer, 1)
			do := func(req *http.Request, out chan<- answer) {
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					out <- answer{status: -1, body: err.Error()}
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				out <- answer{resp.StatusCode, string(b), resp.Header.Get("Retry-After")}
			}
			ireq, _ := http.NewRequest(http.MethodPost, ts.url+"/Reconcile", strings.NewReader(`{"Data":{},"Metadata":{}}`))
			freq, _ := http.NewRequest(http.MethodGet, ts.url+"/api/status", nil)
			go do(ireq, invoke)
			go do(freq, forward)
			<-waiting
			<-waiting
			select {
			case a := <-invoke:
				t.Fatalf("invocation answered %d before ready", a.status)
			case a := <-forward:
				t.Fatalf("forwarded request answered %d before ready", a.status)
			case <-time.After(50 * time.Millisecond):
			}
			close(release)
			ia, fa := <-invoke, <-forward
			if ia.status != tc.wantInvoke || fa.status != tc.wantHTTP {
				t.Fatalf("invocation %d, forwarded %d; want %d, %d (%s | %s)", ia.status, fa.status, tc.wantInvoke, tc.wantHTTP, ia.body, fa.body)
			}
			if tc.wantLog != "" {
				var r Response
				if err := json.Unmarshal([]byte(ia.body), &r); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(strings.Join(r.Logs, "\n"), tc.wantLog) {
					t.Errorf("invocation Logs %q lack %q", r.Logs, tc.wantLog)
				}
				if fa.retry == "" || strings.Contains(fa.body, "Table Storage") {
					t.Errorf("forwarded answer: Retry-After %q, body %q (want a Retry-After and no internals)", fa.retry, fa.body)
				}
				logged := false
				for _, r := range ts.log.records(t) {
					logged = logged || (r["level"] == "ERROR" && strings.Contains(r["err"].(string), tc.wantLog))
				}
				if !logged {
					t.Errorf("the reason is not in the process log: %v", ts.log.records(t))
				}
			}
		})
	}
}

// TestInvocationTimeout checks the deadline HandleInvocationTimeout gives an
// invocation's context, from the moment the server receives it, and that
// the wait for Ready counts against it.
func TestInvocationTimeout(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
	}{
		{"none", 0},
		{"four minutes", 4 * time.Minute},
		{"short", 150 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var readyDeadline time.Time
			s := NewServer(&ServerOptions{Ready: func(ctx context.Context) error {
				readyDeadline, _ = ctx.Deadline()
				return nil
			}})
			var deadline time.Time
			var hasDeadline bool
			s.HandleInvocationTimeout("F", tc.timeout, func(ctx context.Context, _ *Invocation) (*Response, error) {
				deadline, hasDeadline = ctx.Deadline()
				return nil, nil
			})
			start := time.Now()
			if _, err := s.Invoke(context.Background(), &Invocation{Function: "f"}); err != nil {
				t.Fatal(err)
			}
			if hasDeadline != (tc.timeout > 0) {
				t.Fatalf("deadline set = %t, want %t", hasDeadline, tc.timeout > 0)
			}
			if tc.timeout == 0 {
				return
			}
			if d := deadline.Sub(start); d < tc.timeout || d > tc.timeout+time.Second {
				t.Errorf("deadline %s after the start, want %s", d, tc.timeout)
			}
			if !readyDeadline.Equal(deadline) {
				t.Errorf("Ready waited with deadline %v, the handler got %v: the wait must count against the invocation", readyDeadline, deadline)
			}
		})
	}
	// A Ready that outlasts the deadline fails the invocation with it.
	s := NewServer(&ServerOptions{
		Logger: slog.New(slog.DiscardHandler),
		Ready:  func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
	})
	ran := false
	s.HandleInvocationTimeout("F", 50*time.Millisecond, func(context.Context, *Invocation) (*Response, error) { ran = true; return nil, nil })
	if _, err := s.Invoke(context.Background(), &Invocation{Function: "F"}); !errors.Is(err, context.DeadlineExceeded) || ran {
		t.Errorf("Invoke = %v (handler ran: %t), want the deadline and no run", err, ran)
	}
}
