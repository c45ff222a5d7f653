package local_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/devtools/testenv"
	"github.com/tenantsync/tenantsync/internal/local"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/storeopen"
	"github.com/tenantsync/tenantsync/internal/store/storeopen/localadmin"
)

// publicWebhook is the public URL forwarding to the listener in these
// tests, with a key in its query as a function URL has.
const publicWebhook = "https://hooks.example/api/GraphWebhook?code=K3y-0f-the-f0rwarder"

// port returns the listener's port.
func (w *world) port() string {
	u, err := url.Parse(w.local.Info().URL)
	if err != nil {
		w.t.Fatal(err)
	}
	return u.Port()
}

// send makes a request to the listener with the given Host header.
func (w *world) send(method, path, host string, header http.Header) (int, string) {
	w.t.Helper()
	req, err := http.NewRequest(method, w.local.Info().URL+path, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHostCheck: the listener answers only requests that name it by its
// loopback name, and, on the webhook routes, by the notification URL's
// host; anything else is misdirected (421), so that a web page that
// rebinds its DNS name to 127.0.0.1 reads nothing.
func TestHostCheck(t *testing.T) {
	w := startWith(t, func(o *local.Options) {
		o.Notifications = false // the simulator cannot reach hooks.example
		o.NotificationURL = publicWebhook
	})
	p := w.port()
	bearer := http.Header{"Authorization": {"Bearer " + w.local.Info().StatusToken}}
	const validate = "/api/GraphWebhook?validationToken=hello"
	tests := []struct {
		name, method, path, host string
		header                   http.Header
		want                     int
	}{
		{"status on 127.0.0.1", "GET", "/api/status?format=json", "127.0.0.1:" + p, bearer, 200},
		{"status on localhost", "GET", "/api/status?format=json", "localhost:" + p, bearer, 200},
		{"status on LOCALHOST", "GET", "/?format=json", "LOCALHOST:" + p, bearer, 200},
		{"status on [::1]", "GET", "/api/status?format=json", "[::1]:" + p, bearer, 200},
		{"status for a rebound name", "GET", "/api/status?format=json", "evil.example", bearer, 421},
		{"status for a rebound name with the port", "GET", "/?format=json", "evil.example:" + p, bearer, 421},
		{"status on another port", "GET", "/api/status?format=json", "127.0.0.1:1", bearer, 421},
		{"status through the public URL", "GET", "/api/status?format=json", "hooks.example", bearer, 421},
		{"webhook on 127.0.0.1", "POST", validate, "127.0.0.1:" + p, nil, 200},
		{"webhook through the public URL", "POST", validate, "hooks.example", nil, 200},
		{"webhook through the public URL, port spelt out", "POST", validate, "HOOKS.example:443", nil, 200},
		{"webhook through the public URL, another port", "POST", validate, "hooks.example:8443", nil, 421},
		{"lifecycle through the public URL", "POST", "/api/GraphLifecycle?validationToken=hello", "hooks.example", nil, 200},
		{"webhook for a rebound name", "POST", validate, "evil.example", nil, 421},
		{"webhook for a rebound name with the port", "POST", validate, "evil.example:" + p, nil, 421},
		{"unknown route through the public URL", "GET", "/debug", "hooks.example", nil, 421},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := w.send(tt.method, tt.path, tt.host, tt.header)
			if code != tt.want {
				t.Fatalf("%s %s with Host %q: %d %s, want %d", tt.method, tt.path, tt.host, code, body, tt.want)
			}
			if code == 200 && strings.HasPrefix(tt.path, "/api/Graph") && body != "hello" {
				t.Errorf("validation answer %q, want the token echoed", body)
			}
			if code == 421 && strings.Contains(body, "tenantsync status") {
				t.Errorf("a misdirected request got the page: %s", body)
			}
		})
	}
}

// TestStatusPageNeedsTheToken: the status page answers only with the run's
// token: in the printed URL (which sets a cookie for the page's own links
// and refreshes), in that cookie, or as a bearer token.
func TestStatusPageNeedsTheToken(t *testing.T) {
	w := start(t)
	info := w.local.Info()
	if !strings.HasPrefix(info.StatusURL, info.URL+"/?token=") || len(info.StatusToken) < 40 {
		t.Fatalf("status URL %q, token of %d characters", info.StatusURL, len(info.StatusToken))
	}
	token := info.StatusToken
	cookie := "tenantsync_status_" + w.port()
	tests := []struct {
		name, path string
		header     http.Header
		want       int
		setsCookie bool
	}{
		{"no token", "/", nil, 401, false},
		{"no token, JSON", "/api/status?format=json", nil, 401, false},
		{"the printed URL", "/?token=" + url.QueryEscape(token), nil, 200, true},
		{"token in the query of the JSON", "/api/status?format=json&token=" + url.QueryEscape(token), nil, 200, true},
		{"wrong token in the query", "/?token=x" + token, nil, 401, false},
		{"two tokens in the query", "/?token=" + token + "&token=" + token, nil, 401, false},
		{"wrong query token beats a right cookie", "/?token=nope", http.Header{"Cookie": {cookie + "=" + token}}, 401, false},
		{"the cookie", "/", http.Header{"Cookie": {cookie + "=" + token}}, 200, false},
		{"a wrong cookie", "/", http.Header{"Cookie": {cookie + "=" + token[1:]}}, 401, false},
		{"another port's cookie", "/", http.Header{"Cookie": {"tenantsync_status_1=" + token}}, 401, false},
		{"bearer", "/api/status?format=json", http.Header{"Authorization": {"Bearer " + token}}, 200, false},
		{"wrong bearer", "/api/status?format=json", http.Header{"Authorization": {"Bearer " + token + "x"}}, 401, false},
		{"basic", "/api/status?format=json", http.Header{"Authorization": {"Basic " + token}}, 401, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", info.URL+tt.path, nil)
			for k, v := range tt.header {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("GET %s: %d, want %d: %s", tt.path, resp.StatusCode, tt.want, body)
			}
			if tt.want == 401 && (bytes.Contains(body, []byte("linked users")) || bytes.Contains(body, []byte(token))) {
				t.Errorf("a refusal shows the page or the token: %s", body)
			}
			var set *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == cookie {
					set = c
				}
			}
			switch {
			case !tt.setsCookie && set != nil:
				t.Errorf("cookie set: %v", set)
			case tt.setsCookie && (set == nil || set.Value != token || !set.HttpOnly || set.SameSite != http.SameSiteStrictMode || set.Path != "/"):
				t.Errorf("cookie %v, want %s=<token>; Path=/; HttpOnly; SameSite=Strict", set, cookie)
			}
			if ref := resp.Header.Get("Referrer-Policy"); ref != "no-referrer" {
				t.Errorf("Referrer-Policy %q", ref)
			}
		})
	}

	// A browser opens the printed URL, then follows the page's links,
	// which carry no token.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	for _, u := range []string{info.StatusURL, info.URL + "/", info.URL + "/?target=contoso"} {
		resp, err := browser.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("browser GET %s: %d", u, resp.StatusCode)
		}
	}
}

// TestSlowClientsAreCut: a client that sends its request slowly is cut off
// within the listener's bounds, so that it cannot hold a connection; a
// notification's body within the 3 seconds Graph waits for the answer.
func TestSlowClientsAreCut(t *testing.T) {
	w := start(t)
	host := strings.TrimPrefix(w.local.Info().URL, "http://")
	tests := []struct {
		name string
		// head is sent at once; then a byte every 100 ms until the
		// connection is closed.
		head string
		// within is when the server must have closed the connection.
		within time.Duration
	}{
		{"notification body", "POST /api/GraphWebhook HTTP/1.1\r\nHost: " + host +
			"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", 3 * time.Second},
		{"lifecycle body", "POST /api/GraphLifecycle HTTP/1.1\r\nHost: " + host +
			"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", 3 * time.Second},
		{"status page body", "GET /api/status HTTP/1.1\r\nHost: " + host +
			"\r\nContent-Length: 100000\r\n\r\n{", 6 * time.Second},
		{"headers", "GET /api/status HTTP/1.1\r\nHost: " + host + "\r\nX-Slow: ", 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			if _, err := io.WriteString(conn, tt.head); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			wg.Add(1)
			stop := make(chan struct{})
			go func() {
				defer wg.Done()
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if _, err := conn.Write([]byte("x")); err != nil {
							return
						}
					}
				}
			}()
			// Read until the server closes; a reply before that is fine.
			_ = conn.SetReadDeadline(time.Now().Add(tt.within + 5*time.Second))
			_, err = io.Copy(io.Discard, bufio.NewReader(conn))
			took := time.Since(start)
			close(stop)
			wg.Wait()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server held the connection for %s", took)
			}
			if took > tt.within {
				t.Errorf("the server closed the connection after %s, want within %s", took, tt.within)
			}
		})
	}
}

// TestNotificationURLKeyIsNotLogged: the notification URL may carry a key
// (code=…); the log names the URL without it.
func TestNotificationURLKeyIsNotLogged(t *testing.T) {
	var logs testenv.Buffer
	w := startWith(t, func(o *local.Options) {
		o.Notifications = false
		o.NotificationURL = publicWebhook
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	_ = w
	out := logs.String()
	if !strings.Contains(out, "tenantsync is running") {
		t.Fatalf("no start record: %s", out)
	}
	for _, secret := range []string{"K3y-0f-the-f0rwarder", w.local.Info().StatusToken} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows a secret %q: %s", secret, out)
		}
	}
}

// TestAdminEndpoint: while local runs, the store opens through its admin
// endpoint (storeopen.Open, as the operator commands do) and sees what
// local wrote; when local stops, its admin file goes.
func TestAdminEndpoint(t *testing.T) {
	var logs testenv.Buffer
	w := startWith(t, func(o *local.Options) { o.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
	w.settle()
	info := w.local.Info()
	fi, err := os.Stat(info.AdminFile)
	if err != nil {
		t.Fatalf("admin file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("admin file mode %#o, want 0600", fi.Mode().Perm())
	}
	f, err := localadmin.ReadFile(info.AdminFile)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Store || f.StatusURL != info.StatusURL || f.PID != os.Getpid() {
		t.Errorf("admin file %+v", f)
	}
	state := strings.TrimSuffix(info.AdminFile, ".admin.json")
	st, err := storeopen.Open(t.Context(), storeopen.Settings{State: state}, storeopen.Options{})
	if err != nil {
		t.Fatalf("open the store while local runs: %v", err)
	}
	defer st.Close()
	if _, ok := st.(*localadmin.Store); !ok {
		t.Fatalf("store %T, want the running local's", st)
	}
	n := 0
	if err := st.ListLinks(t.Context(), "contoso", func(store.Link) error { n++; return nil }); err != nil || n == 0 {
		t.Errorf("links through the admin endpoint: %d, %v; want the initial sync's", n, err)
	}
	if strings.Contains(logs.String(), f.Token) {
		t.Errorf("the log shows the admin token")
	}
}

// TestAdminFileGoesWhenLocalStops is TestAdminEndpoint's end: the file is
// removed at shutdown, so that no command reaches for a stopped local.
func TestAdminFileGoesWhenLocalStops(t *testing.T) {
	var admin string
	t.Run("running", func(t *testing.T) {
		w := startWith(t, func(o *local.Options) { o.Notifications = false })
		admin = w.local.Info().AdminFile
		if _, err := os.Stat(admin); err != nil {
			t.Fatal(err)
		}
	}) // the subtest's cleanup stops local
	if admin == "" {
		t.Fatal("no admin file")
	}
	if _, err := os.Stat(admin); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("admin file after local stopped: %v", err)
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		listen string
		want   bool
	}{
		{"127.0.0.1:7071", true},
		{"127.0.0.2:7071", true},
		{"[::1]:7071", true},
		{"localhost:7071", true},
		{":7071", false},
		{"0.0.0.0:7071", false},
		{"[::]:7071", false},
		{"192.168.1.5:7071", false},
		{"example.com:7071", false},
		{"127.0.0.1", false},
	}
	for _, tt := range tests {
		if got := local.IsLoopback(tt.listen); got != tt.want {
			t.Errorf("IsLoopback(%q) = %v, want %v", tt.listen, got, tt.want)
		}
	}
}
