package customhandler

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// waitUp polls GET / as the host does until the handler answers.
func waitUp(t testing.TB, addr string) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("handler at %s not up: %v", addr, err)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestListenAndServePort(t *testing.T) {
	for _, port := range []string{"", "0", "-1", "65536", "http", ":7071"} {
		err := ListenAndServe(context.Background(), port, NewServer(nil))
		if err == nil || !strings.Contains(err.Error(), "custom handler port") {
			t.Errorf("ListenAndServe(%q) = %v, want a port error", port, err)
		}
	}
	// A port in use is an error, not a hang.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	if err := ListenAndServe(context.Background(), busy, NewServer(nil)); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("ListenAndServe on a busy port = %v", err)
	}
}

func TestListenAndServeLoopbackAndShutdown(t *testing.T) {
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ListenAndServe(ctx, port, NewServer(nil)) }()
	waitUp(t, "127.0.0.1:"+port)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenAndServe after cancel = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ListenAndServe did not return after cancel")
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
		c.Close()
		t.Error("still accepting connections after shutdown")
	}
}

// TestServeFinishesInFlight cancels the context while an invocation runs:
// the invocation completes and is answered, and Serve then returns.
func TestServeFinishesInFlight(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	s := NewServer(nil)
	s.HandleInvocation("Slow", func(ctx context.Context, inv *Invocation) (*Response, error) {
		close(started)
		<-release
		// The request context is not cancelled by the shutdown.
		return &Response{ReturnValue: ctx.Err() == nil}, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, s) }()

	answer := make(chan string, 1)
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String()+"/Slow", "application/json", strings.NewReader(`{"Data":{},"Metadata":{}}`))
		if err != nil {
			answer <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answer <- resp.Status + " " + string(b)
	}()
	<-started
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v with an invocation in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if got := <-answer; got != `200 OK {"Outputs":{},"Logs":[],"ReturnValue":true}` {
		t.Errorf("in-flight answer = %s", got)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve = %v", err)
	}
}
