package customhandler

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestForwardedRoutesIgnoreCase checks that forwarded paths and methods
// match as the host's routes do, without regard to case: the host forwards
// whatever spelling the caller used (GetPathValue), so a case-sensitive
// match would answer 404 to a request the host accepted and billed.
func TestForwardedRoutesIgnoreCase(t *testing.T) {
	ts := newTestServer(t, nil)
	saw := make(chan string, 1)
	handler := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			saw <- name + " " + r.URL.Path
			io.WriteString(w, name)
		})
	}
	ts.HandleHTTP("POST /api/GraphWebhook", handler("webhook"))
	ts.HandleHTTP("GET /api/status", handler("status"))
	ts.HandleHTTP("/api/Any", handler("any"))
	ts.HandleInvocation("ProcessChange", func(context.Context, *Invocation) (*Response, error) { return nil, nil })

	tests := []struct {
		method, path string
		want         int
		wantSaw      string // handler and the path it saw; "" when none runs
		wantAllow    string
	}{
		{"POST", "/api/GraphWebhook", http.StatusOK, "webhook /api/GraphWebhook", ""},
		{"POST", "/api/graphwebhook", http.StatusOK, "webhook /api/GraphWebhook", ""},
		{"POST", "/API/GRAPHWEBHOOK", http.StatusOK, "webhook /api/GraphWebhook", ""},
		{"post", "/Api/GraphWebHook", http.StatusOK, "webhook /api/GraphWebhook", ""},
		{"GET", "/api/Status", http.StatusOK, "status /api/status", ""},
		{"HEAD", "/API/STATUS", http.StatusOK, "status /api/status", ""},
		{"DELETE", "/api/ANY", http.StatusOK, "any /api/Any", ""},
		{"GET", "/api/graphwebhook", http.StatusMethodNotAllowed, "", "POST"},
		{"POST", "/api/status", http.StatusMethodNotAllowed, "", "GET, HEAD"},
		{"POST", "/api/graphwebhook/", http.StatusNotFound, "", ""},
		{"POST", "/api/GraphWebhooks", http.StatusNotFound, "", ""},
		// Invocation paths, too, ignore case (the host posts the folder name).
		{"POST", "/processchange", http.StatusOK, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			body := io.Reader(strings.NewReader("{}"))
			if tc.method == "HEAD" || tc.method == "GET" {
				body = nil
			}
			req, err := http.NewRequest(tc.method, ts.url+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.want)
			}
			if got := resp.Header.Get("Allow"); got != tc.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tc.wantAllow)
			}
			select {
			case got := <-saw:
				if got != tc.wantSaw {
					t.Errorf("handler saw %q, want %q", got, tc.wantSaw)
				}
			default:
				if tc.wantSaw != "" {
					t.Errorf("no handler ran, want %q", tc.wantSaw)
				}
			}
		})
	}
}

func TestHandleHTTPRegistration(t *testing.T) {
	h := http.NotFoundHandler()
	tests := []struct {
		name string
		do   func(s *Server)
	}{
		{"no leading slash", func(s *Server) { s.HandleHTTP("POST api/x", h) }},
		{"wildcard", func(s *Server) { s.HandleHTTP("GET /api/{id}", h) }},
		{"query", func(s *Server) { s.HandleHTTP("GET /api/x?a=1", h) }},
		{"two spaces", func(s *Server) { s.HandleHTTP("GET  /api/x", h) }},
		{"nil handler", func(s *Server) { s.HandleHTTP("GET /api/x", nil) }},
		{"twice, another case", func(s *Server) { s.HandleHTTP("GET /api/x", h); s.HandleHTTP("get /API/X", h) }},
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
	// Different methods on one path are one route.
	s := NewServer(nil)
	s.HandleHTTP("GET /api/x", h)
	s.HandleHTTP("POST /API/x", h)
	if n := len(s.routes); n != 1 {
		t.Errorf("%d routes, want 1", n)
	}
}
