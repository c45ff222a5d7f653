package statuspage

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/store"
)

// get serves one request and returns the response and its body.
func get(t *testing.T, h http.Handler, method, target string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

// getJSON serves a JSON request and decodes it.
func getJSON(t *testing.T, h http.Handler, target string) Snapshot {
	t.Helper()
	res, body := get(t, h, http.MethodGet, target)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", target, res.StatusCode, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("GET %s: Content-Type %q", target, ct)
	}
	var s Snapshot
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("GET %s: %v\n%s", target, err, body)
	}
	return s
}

func TestLinkCounts(t *testing.T) {
	h := seedHandler(t)
	s := getJSON(t, h, "/?format=json")
	want := map[string]LinkCounts{
		"contoso":   seedCounts,
		"northwind": {Total: seedNorthwindActive, Active: seedNorthwindActive},
	}
	if len(s.Targets) != 2 || s.Targets[0].Name != "contoso" || s.Targets[1].Name != "northwind" {
		t.Fatalf("targets %+v, want contoso then northwind (config order)", s.Targets)
	}
	for _, tg := range s.Targets {
		if tg.Links != want[tg.Name] {
			t.Errorf("%s links = %+v, want %+v", tg.Name, tg.Links, want[tg.Name])
		}
	}

	_, page := get(t, h, http.MethodGet, "/")
	tests := []struct {
		target, state string
		want          int
	}{
		{"contoso", "active", seedCounts.Active},
		{"contoso", "disabled", seedCounts.Disabled},
		{"contoso", "deleted", seedCounts.Deleted},
		{"contoso", "staged", seedCounts.Staged},
		{"contoso", "quarantined", seedCounts.Quarantined},
		{"contoso", "total", seedCounts.Total},
		{"contoso", "deletions", 1}, // one staged, one approved
		{"northwind", "active", seedNorthwindActive},
		{"northwind", "total", seedNorthwindActive},
		{"northwind", "deletions", 0},
	}
	for _, tt := range tests {
		t.Run(tt.target+"/"+tt.state, func(t *testing.T) {
			if got := cell(t, page, tt.target, tt.state); got != tt.want {
				t.Errorf("cell %s/%s = %d, want %d", tt.target, tt.state, got, tt.want)
			}
		})
	}
}

// cell returns the number in the targets table's cell for target and state.
func cell(t *testing.T, page, target, state string) int {
	t.Helper()
	row := regexp.MustCompile(`(?s)<tr data-target="` + regexp.QuoteMeta(target) + `">(.*?)</tr>`).FindStringSubmatch(page)
	if row == nil {
		t.Fatalf("no row for target %s", target)
	}
	m := regexp.MustCompile(`data-state="` + state + `">(\d+)`).FindStringSubmatch(row[1])
	if m == nil {
		t.Fatalf("no %s cell in row of %s: %s", state, target, row[1])
	}
	var n int
	fmt.Sscan(m[1], &n)
	return n
}

func TestTargetStatus(t *testing.T) {
	h := seedHandler(t)
	s := getJSON(t, h, "/status.json")
	c, nw := s.Targets[0], s.Targets[1]

	if c.Quarantine == nil || c.Quarantine.Reason != quarantineWhy || !c.Quarantine.Until.Equal(seedNow.Add(25*time.Minute)) || c.Quarantine.Quarantines != 5 {
		t.Errorf("contoso quarantine = %+v", c.Quarantine)
	}
	if c.Health != HealthQuarantined || len(c.Attention) == 0 || c.Attention[0].Command != "handler resume --target contoso" {
		t.Errorf("contoso health = %q, attention %+v; want quarantined, resolved by handler resume", c.Health, c.Attention)
	}
	if nw.Quarantine != nil {
		t.Errorf("northwind's quarantine ended an hour ago, got %+v", nw.Quarantine)
	}
	if !c.LastReconcile.Equal(seedNow.Add(-2*time.Minute)) || !c.LastFullReconcile.Equal(seedNow.Add(-5*time.Hour)) {
		t.Errorf("contoso reconciles = %v, %v", c.LastReconcile, c.LastFullReconcile)
	}
	if c.StagedDeletions != 1 || c.ApprovedDeletions != 1 {
		t.Errorf("contoso deletions staged %d approved %d, want 1 and 1", c.StagedDeletions, c.ApprovedDeletions)
	}
	if c.Actions["update"] != 30 || c.Actions["create"] != 9 {
		t.Errorf("contoso actions = %v", c.Actions)
	}

	wantWM := []Watermark{
		{Resource: "users", Present: true, TakenAt: seedNow.Add(-90 * time.Second), AgeSeconds: 90, FullSyncAt: seedNow.Add(-5 * time.Hour)},
		{Resource: "groups"},
	}
	if len(s.Source.Watermarks) != len(wantWM) {
		t.Fatalf("watermarks = %+v", s.Source.Watermarks)
	}
	for i, w := range wantWM {
		got := s.Source.Watermarks[i]
		if got.Resource != w.Resource || got.Present != w.Present || !got.TakenAt.Equal(w.TakenAt) || got.AgeSeconds != w.AgeSeconds || !got.FullSyncAt.Equal(w.FullSyncAt) {
			t.Errorf("watermark %d = %+v, want %+v", i, got, w)
		}
	}

	// Subscriptions soonest expiry first, each with its health.
	var subs []string
	for _, sub := range s.Subscriptions {
		subs = append(subs, sub.ID+":"+sub.Health)
	}
	if got, want := strings.Join(subs, " "), "sub-gone:expired sub-groups:expiring "+usersSubID+":ok"; got != want {
		t.Errorf("subscriptions = %s, want %s", got, want)
	}
	if s.Pipeline["notifications.received"] != 1042 {
		t.Errorf("pipeline = %v", s.Pipeline)
	}

	d := s.Selected
	if d == nil || d.Name != "contoso" {
		t.Fatalf("selected = %+v, want contoso (the first target)", d)
	}
	if len(d.Deletions) != 2 || d.Deletions[0].SourceID != "src-20" || d.Deletions[1].SourceID != "src-10" {
		t.Errorf("deletions = %+v, want src-20 (staged first) then src-10", d.Deletions)
	}
}

func TestPageShowsState(t *testing.T) {
	h := seedHandler(t)
	_, page := get(t, h, http.MethodGet, "/")
	tests := []struct {
		name string
		want string
	}{
		{"title", "<title>Fabrikam → partners</title>"},
		{"auto refresh", `<meta http-equiv="refresh" content="10">`},
		{"quarantine banner", `<div class="banner quarantine" role="alert" data-target="contoso">`},
		{"quarantine reason", quarantineWhy},
		{"quarantine until", "until 2026-03-01 12:25:00 UTC (in 25 min)"},
		{"last reconcile", "2 min ago"},
		{"watermark age", `<td data-age="90">1 min ago`},
		{"groups never delta-queried", "no delta query yet"},
		{"expired subscription", `<tr class="health-expired" data-subscription="sub-gone">`},
		{"pipeline counter, readable", `<tr data-counter="notifications.dropped"><td>notifications dropped</td><td class="num">3</td></tr>`},
		{"selected tab", `class="on" aria-current="page">contoso</a>`},
		{"known event upn", knownUPN},
		{"known event diff line 1", `<div class="change">department: Sales → Marketing</div>`},
		{"known event diff line 2", `<div class="change">jobTitle: → Lead</div>`},
		{"known event request id", "<div>" + knownRequest + "</div>"},
		{"known event trigger", `<div class="muted small trigger" title="why this sync ran">by notification</div>`},
		{"error event", `<div class="error">invite x@fabrikam.example: 403 Authorization_RequestDenied</div>`},
		{"staged deletion", "leaver@fabrikam.example"},
		{"approved deletion", `<span class="badge good">approved</span>`},
		{"latency chart", `<svg class="chart"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(page, tt.want) {
				t.Errorf("page lacks %q", tt.want)
			}
		})
	}
	if strings.Contains(page, "old trouble") {
		t.Error("page shows northwind's ended quarantine")
	}
}

func TestEscapesDirectoryData(t *testing.T) {
	h := seedHandler(t)
	_, page := get(t, h, http.MethodGet, "/")
	// The hostile text is there, as text: no tag of it survives.
	for _, raw := range []string{"<script", "<img"} {
		if i := strings.Index(page, raw); i >= 0 {
			t.Errorf("page contains %q unescaped: …%s…", raw, page[max(0, i-80):min(len(page), i+80)])
		}
	}
	for _, want := range []string{
		html.EscapeString("displayName: → " + hostileScript),
		html.EscapeString(hostileUPN),
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks the escaped text %q", want)
		}
	}
}

func TestSecretsStayOut(t *testing.T) {
	h := seedHandler(t)
	for _, target := range []string{"/", "/?format=json"} {
		_, body := get(t, h, http.MethodGet, target)
		if strings.Contains(body, clientSecret) {
			t.Errorf("%s shows a subscription's client state", target)
		}
		if !strings.Contains(body, usersSubID) {
			t.Errorf("%s does not show the subscription at all", target)
		}
	}
}

func TestEventsNewestFirstAndPaging(t *testing.T) {
	h := seedHandler(t)
	const key = "k3y_with-chars"
	target := "/api/status?code=" + key
	var (
		pages []int
		times []time.Time
		seen  = map[string]bool{}
	)
	for range 10 {
		res, page := get(t, h, http.MethodGet, target)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", target, res.StatusCode)
		}
		ids := regexp.MustCompile(`<tr class="event result-\w+" data-source-id="([^"]+)">`).FindAllStringSubmatch(page, -1)
		pages = append(pages, len(ids))
		for _, id := range ids {
			if seen[id[1]] {
				t.Errorf("event %s shown twice", id[1])
			}
			seen[id[1]] = true
		}

		// The JSON of the same page has the times.
		u, _ := url.Parse(target)
		q := u.Query()
		q.Set("format", "json")
		s := getJSON(t, h, "/api/status?"+q.Encode())
		for _, ev := range s.Selected.Events {
			times = append(times, ev.Time)
		}

		next := regexp.MustCompile(`rel="next" href="([^"]+)"`).FindStringSubmatch(page)
		if next == nil {
			break
		}
		href := html.UnescapeString(next[1])
		if !strings.HasPrefix(href, "?") {
			t.Fatalf("next link %q is not relative to the page", href)
		}
		ref, _ := url.Parse(href)
		if ref.Query().Get("code") != key || ref.Query().Get("target") != "contoso" {
			t.Fatalf("next link %q lost the function key or the target", href)
		}
		target = u.ResolveReference(ref).String()
		if !strings.HasPrefix(target, "/api/status?") {
			t.Fatalf("next page resolves to %q, outside the prefix", target)
		}
	}
	if fmt.Sprint(pages) != "[50 50 25]" {
		t.Errorf("pages of %v events, want [50 50 25]", pages)
	}
	if len(seen) != seedEvents || len(times) != seedEvents {
		t.Errorf("saw %d events (%d times), want %d", len(seen), len(times), seedEvents)
	}
	for i := 1; i < len(times); i++ {
		if !times[i].Before(times[i-1]) {
			t.Fatalf("event %d at %v is not older than event %d at %v", i, times[i], i-1, times[i-1])
		}
	}
	if len(times) > 0 && !times[0].Equal(seedNow) {
		t.Errorf("newest event at %v, want %v", times[0], seedNow)
	}
}

func TestTargetSelection(t *testing.T) {
	h := seedHandler(t)
	s := getJSON(t, h, "/?target=northwind&format=json")
	if s.Selected == nil || s.Selected.Name != "northwind" || len(s.Selected.Events) != 2 || s.Selected.Events[1].SourceUPN != "nw.only@fabrikam.example" {
		t.Fatalf("selected = %+v, want northwind's two events", s.Selected)
	}
	if s.Selected.Latency.Samples != 1 {
		t.Errorf("northwind chart samples = %d, want 1", s.Selected.Latency.Samples)
	}
}

func TestRequests(t *testing.T) {
	h := seedHandler(t)
	tests := []struct {
		name, method, target string
		status               int
		contentType          string
		body                 string // a substring of the body; "-" for an empty body
	}{
		{"page", http.MethodGet, "/", 200, "text/html; charset=utf-8", "<!doctype html>"},
		{"page under a prefix", http.MethodGet, "/api/status", 200, "text/html; charset=utf-8", "<!doctype html>"},
		{"head", http.MethodHead, "/", 200, "text/html; charset=utf-8", "-"},
		{"json by query", http.MethodGet, "/?format=json", 200, "application/json; charset=utf-8", `"targets"`},
		{"json by path", http.MethodGet, "/api/status.json", 200, "application/json; charset=utf-8", `"targets"`},
		{"html by query", http.MethodGet, "/?format=html", 200, "text/html; charset=utf-8", "<!doctype html>"},
		{"post", http.MethodPost, "/", 405, "text/plain; charset=utf-8", "read-only"},
		{"put", http.MethodPut, "/", 405, "text/plain; charset=utf-8", "read-only"},
		{"delete", http.MethodDelete, "/?format=json", 405, "text/plain; charset=utf-8", "read-only"},
		{"patch", http.MethodPatch, "/", 405, "text/plain; charset=utf-8", "read-only"},
		{"unknown format", http.MethodGet, "/?format=xml", 400, "text/plain; charset=utf-8", `unknown format "xml"`},
		{"unknown target", http.MethodGet, "/?target=fourthcoffee", 404, "text/plain; charset=utf-8", `unknown target "fourthcoffee"`},
		{"hostile target", http.MethodGet, "/?target=%3Cscript%3E", 404, "text/plain; charset=utf-8", `unknown target "<script>"`},
		{"bad page token", http.MethodGet, "/?page=%3Cx%3E", 400, "text/plain; charset=utf-8", "bad page token"},
		{"long page token", http.MethodGet, "/?page=" + strings.Repeat("A", maxPageToken+1), 400, "text/plain; charset=utf-8", "bad page token"},
		{"stale page token", http.MethodGet, "/?page=AAAA", 200, "text/html; charset=utf-8", "Could not read this page of events of target contoso"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := get(t, h, tt.method, tt.target)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, body)
			}
			if ct := res.Header.Get("Content-Type"); ct != tt.contentType {
				t.Errorf("Content-Type %q, want %q", ct, tt.contentType)
			}
			if tt.body == "-" {
				if body != "" {
					t.Errorf("body of %d bytes, want none", len(body))
				}
			} else if !strings.Contains(body, tt.body) {
				t.Errorf("body lacks %q: %.300s", tt.body, body)
			}
			if tt.status == 405 && res.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q", res.Header.Get("Allow"))
			}
			// Every answer, errors included, carries the security headers.
			if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy = %q", csp)
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("headers = %v", res.Header)
			}
		})
	}
}

func TestHeadHasTheLengthOfGet(t *testing.T) {
	h := seedHandler(t)
	getRes, body := get(t, h, http.MethodGet, "/")
	headRes, _ := get(t, h, http.MethodHead, "/")
	if want := fmt.Sprint(len(body)); getRes.Header.Get("Content-Length") != want || headRes.Header.Get("Content-Length") != want {
		t.Errorf("Content-Length GET %q HEAD %q, want %s", getRes.Header.Get("Content-Length"), headRes.Header.Get("Content-Length"), want)
	}
}

// TestStyleIsAllowedByItsHash checks that the CSP's style hash is the hash of
// the inline stylesheet exactly as served; if not, browsers drop the styles.
func TestStyleIsAllowedByItsHash(t *testing.T) {
	h := seedHandler(t)
	res, page := get(t, h, http.MethodGet, "/")
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllStringSubmatch(page, -1)
	if len(m) != 1 {
		t.Fatalf("%d inline stylesheets, want 1", len(m))
	}
	sum := sha256.Sum256([]byte(m[0][1]))
	want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, want) {
		t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
	}
	if strings.Contains(page, " style=") {
		t.Error("page has a style attribute, which the CSP blocks")
	}
}

// TestLinksAreRelative checks that the page works under any prefix: no link
// names a path or a host.
func TestLinksAreRelative(t *testing.T) {
	h := seedHandler(t)
	_, page := get(t, h, http.MethodGet, "/api/status?code=abc")
	links := regexp.MustCompile(`(?:href|src)="([^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(links) < 4 {
		t.Fatalf("only %d links on the page", len(links))
	}
	for _, l := range links {
		href := html.UnescapeString(l[1])
		if href != "data:," && !strings.HasPrefix(href, "?") {
			t.Errorf("link %q is not relative to the page", href)
		}
		if strings.HasPrefix(href, "?") && !strings.Contains(href, "code=abc") {
			t.Errorf("link %q drops the function key", href)
		}
	}
}

func TestNoAutoRefresh(t *testing.T) {
	opts := seedOptions(seedStore(t))
	opts.Refresh = -1
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	_, page := get(t, h, http.MethodGet, "/")
	if strings.Contains(page, `http-equiv="refresh"`) {
		t.Error("page refreshes although Refresh < 0")
	}
}

func TestNew(t *testing.T) {
	st := seedStore(t)
	tests := []struct {
		name string
		opts Options
		err  string
	}{
		{"no store", Options{Targets: []string{"a"}}, "status page: no store"},
		{"duplicate target", Options{Store: st, Targets: []string{"a", "a"}}, `status page: target "a" listed twice`},
		{"empty target", Options{Store: st, Targets: []string{""}}, "status page: empty target name"},
		{"minimal", Options{Store: st}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if got := fmt.Sprint(err); (tt.err == "" && err != nil) || (tt.err != "" && got != tt.err) {
				t.Errorf("New: %v, want %q", err, tt.err)
			}
		})
	}
}

// TestNoTargets: a page with no targets and no source still renders.
func TestNoTargets(t *testing.T) {
	h, err := New(Options{Store: seedStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	res, page := get(t, h, http.MethodGet, "/")
	if res.StatusCode != 200 || !strings.Contains(page, "No targets are configured.") {
		t.Errorf("status %d, page %.500s", res.StatusCode, page)
	}
	s := getJSON(t, h, "/?format=json")
	if s.Selected != nil || len(s.Targets) != 0 || len(s.Subscriptions) != 3 {
		t.Errorf("snapshot = %+v", s)
	}
}

// failingStore fails the calls named in fail, and serves the rest from the
// real store.
type failingStore struct {
	store.Store
	fail map[string]bool
}

var errInjected = errors.New("injected failure https://account.table.core.windows.net/?sig=SECRET")

func (f failingStore) ListLinks(ctx context.Context, target string, fn func(store.Link) error) error {
	if f.fail["ListLinks"] {
		return errInjected
	}
	return f.Store.ListLinks(ctx, target, fn)
}

func (f failingStore) ListEvents(ctx context.Context, target string, o store.ListEventsOptions) (store.EventPage, error) {
	if f.fail["ListEvents"] {
		return store.EventPage{}, errInjected
	}
	return f.Store.ListEvents(ctx, target, o)
}

func (f failingStore) ListSubscriptions(ctx context.Context) ([]store.Subscription, error) {
	if f.fail["ListSubscriptions"] {
		return nil, errInjected
	}
	return f.Store.ListSubscriptions(ctx)
}

func (f failingStore) GetStatus(ctx context.Context, target string) (store.TargetStatus, error) {
	if f.fail["GetStatus"] {
		return store.TargetStatus{}, errInjected
	}
	return f.Store.GetStatus(ctx, target)
}

// TestStoreFailures: what cannot be read is named on the page, the rest is
// shown, and the error text (which may hold a URL with a signature) stays
// in the log.
func TestStoreFailures(t *testing.T) {
	tests := []struct {
		fail    string
		problem string
		still   string // something the page still shows
	}{
		{"ListLinks", "Could not count the links of target contoso", quarantineWhy},
		{"ListEvents", "Could not read this page of events of target contoso", "leaver@fabrikam.example"},
		{"ListSubscriptions", "Could not list the subscriptions", knownUPN},
		{"GetStatus", "Could not read the status of target northwind", knownUPN},
	}
	for _, tt := range tests {
		t.Run(tt.fail, func(t *testing.T) {
			var logged strings.Builder
			opts := seedOptions(failingStore{seedStore(t), map[string]bool{tt.fail: true}})
			opts.Logger = slogTo(&logged)
			h, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			res, page := get(t, h, http.MethodGet, "/")
			if res.StatusCode != 200 {
				t.Fatalf("status %d", res.StatusCode)
			}
			if !strings.Contains(page, tt.problem) {
				t.Errorf("page lacks %q", tt.problem)
			}
			if !strings.Contains(page, tt.still) {
				t.Errorf("page no longer shows %q", tt.still)
			}
			if strings.Contains(page, "SECRET") {
				t.Error("page shows the store's error text")
			}
			if !strings.Contains(logged.String(), "injected failure") {
				t.Errorf("log lacks the error: %s", logged.String())
			}
		})
	}
}

func TestChartTruncated(t *testing.T) {
	opts := seedOptions(seedStore(t))
	opts.MaxChartEvents = 30
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s := getJSON(t, h, "/?format=json")
	c := s.Selected.Latency
	// The 30 newest events: k = 0…29, of which k = 6, 13, 20, 27 have no latency.
	if !c.Truncated || c.Samples != 26 {
		t.Errorf("chart truncated %v samples %d, want true and 26", c.Truncated, c.Samples)
	}
}

func TestChartFromSeed(t *testing.T) {
	h := seedHandler(t)
	s := getJSON(t, h, "/?format=json")
	c := s.Selected.Latency
	if c.Truncated {
		t.Error("chart truncated")
	}
	wantSamples := 0
	for k := range seedRecent {
		if seedLatency(k) > 0 {
			wantSamples++
		}
	}
	if c.Samples != wantSamples {
		t.Errorf("samples = %d, want %d (the old events left out)", c.Samples, wantSamples)
	}
	nonEmpty := 0
	for _, b := range c.Buckets {
		if b.Count > 0 {
			nonEmpty++
		}
	}
	if nonEmpty != seedChartBuckets {
		t.Errorf("%d buckets with data, want %d", nonEmpty, seedChartBuckets)
	}
	_, page := get(t, h, http.MethodGet, "/")
	if n := strings.Count(page, `<circle class="pt p50"`); n != seedChartBuckets {
		t.Errorf("%d p50 points, want %d", n, seedChartBuckets)
	}
	if n := strings.Count(page, `<circle class="pt p99"`); n != seedChartBuckets {
		t.Errorf("%d p99 points, want %d", n, seedChartBuckets)
	}
}

// TestConcurrentRequests: views of the same moment are the same page,
// whoever asks at the same time (run with -race).
func TestConcurrentRequests(t *testing.T) {
	h := seedHandler(t)
	_, want := get(t, h, http.MethodGet, "/")
	const n = 8
	bodies := make(chan string, n)
	for range n {
		go func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			bodies <- rec.Body.String()
		}()
	}
	for range n {
		if got := <-bodies; got != want {
			t.Fatal("a concurrent request got a different page")
		}
	}
}
