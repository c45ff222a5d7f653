package statuspage

import (
	"bytes"
	"context"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/tenantsync/tenantsync/internal/devtools/testenv"
)

// envScreenshots is a directory to keep the page's screenshot in; unset, it
// goes to the test's temporary directory.
const envScreenshots = "TENANTSYNC_SCREENSHOTS"

// browser records what a page did that a person would notice.
type browser struct {
	mu      sync.Mutex
	dialogs []string // JavaScript dialogs that opened
	console []string // console and browser log messages (CSP violations land here)
}

// listen records dialogs and console messages, and closes every dialog (an
// open one would block the page).
func (b *browser) listen(ctx context.Context) error {
	return chromedp.Listen(ctx, func(ev any) {
		// This runs in the tab's message loop: record and return.
		switch ev := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			b.mu.Lock()
			b.dialogs = append(b.dialogs, ev.Message)
			b.mu.Unlock()
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		case *cdplog.EventEntryAdded:
			b.mu.Lock()
			b.console = append(b.console, ev.Entry.Text)
			b.mu.Unlock()
		case *runtime.EventConsoleAPICalled:
			b.mu.Lock()
			for _, a := range ev.Args {
				b.console = append(b.console, string(a.Value))
			}
			b.mu.Unlock()
		}
	})
}

func (b *browser) seen() (dialogs, console []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.dialogs), slices.Clone(b.console)
}

func (b *browser) reset() {
	b.mu.Lock()
	b.dialogs, b.console = nil, nil
	b.mu.Unlock()
}

// TestBrowser loads the status page in headless Chromium, under the path
// prefix and with the function key as in Azure, and checks what a person sees.
func TestBrowser(t *testing.T) {
	h := seedHandler(t)

	mux := http.NewServeMux()
	mux.Handle("/api/status", h)
	// The control page proves that the dialog detector works: it runs a
	// script, as the status page must never let directory data do.
	mux.HandleFunc("/control", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!doctype html><title>control</title><script>alert("control")</script>`))
	})
	srv := httptest.NewServer(mux) // loopback
	defer srv.Close()

	bctx := testenv.Browser(t, 90*time.Second)
	var b browser
	if err := b.listen(bctx); err != nil {
		t.Fatalf("listen to Chromium: %v", err)
	}

	// The control first: a script that opens a dialog is noticed.
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/control")); err != nil {
		t.Fatalf("load the control page: %v", err)
	}
	testenv.WaitFor(t, 10*time.Second, "the control page's dialog", func() bool { d, _ := b.seen(); return len(d) == 1 })
	b.reset()

	const key = "test-function-key"
	pageURL := srv.URL + "/api/status?code=" + key
	if err := chromedp.Do(bctx, chromedp.Navigate(pageURL), chromedp.WaitVisible(chromedp.CSS("svg.chart"))); err != nil {
		t.Fatalf("load %s: %v", pageURL, err)
	}
	title, err := chromedp.Run(bctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	counts := testenv.Eval[map[string]string](t, bctx, `Object.fromEntries([...document.querySelectorAll('tr[data-target="contoso"] td[data-state]')].map(td => [td.dataset.state, td.innerText.trim()]))`)
	checks := []struct {
		what      string
		got, want any
	}{
		{"title", title, "Fabrikam → partners"},
		{"target names", testenv.Eval[string](t, bctx, `[...document.querySelectorAll('table.targets td.name')].map(td => td.innerText).join(",")`), "contoso,northwind"},
		{"active", counts["active"], "7"},
		{"disabled", counts["disabled"], "2"},
		{"deleted", counts["deleted"], "1"},
		{"staged", counts["staged"], "1"},
		{"quarantined", counts["quarantined"], "1"},
		{"total", counts["total"], "12"},
		{"northwind total", testenv.Eval[string](t, bctx, `document.querySelector('tr[data-target="northwind"] td[data-state="total"]').innerText`), "3"},
		{"quarantine banners", testenv.Eval[int](t, bctx, `document.querySelectorAll('.banner.quarantine').length`), 1},
		{"quarantine banner background (the stylesheet applied)", testenv.Eval[string](t, bctx, `getComputedStyle(document.querySelector('.banner.quarantine')).backgroundColor`), "rgb(253, 235, 234)"},
		{"chart points", testenv.Eval[int](t, bctx, `document.querySelectorAll('svg.chart circle.pt').length`), 2 * seedChartBuckets},
		{"p50 points", testenv.Eval[int](t, bctx, `document.querySelectorAll('svg.chart circle.pt.p50').length`), seedChartBuckets},
		{"hostile diff shown as text", testenv.Eval[string](t, bctx, `document.querySelector('tr.event[data-source-id="src-ev-001"] td.changes .change').innerText`), "displayName: → " + hostileScript},
		{"hostile UPN shown as text", testenv.Eval[string](t, bctx, `document.querySelector('tr.event[data-source-id="src-ev-001"] .upn').innerText`), hostileUPN},
		{"script elements", testenv.Eval[int](t, bctx, `document.scripts.length`), 0},
		{"image elements", testenv.Eval[int](t, bctx, `document.images.length`), 0},
		{"event rows", testenv.Eval[int](t, bctx, `document.querySelectorAll('tr.event').length`), 50},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	banner := testenv.Eval[string](t, bctx, `document.querySelector('.banner.quarantine').innerText`)
	for _, want := range []string{"Target contoso is quarantined", quarantineWhy, "in 25 min"} {
		if !strings.Contains(banner, want) {
			t.Errorf("quarantine banner %q lacks %q", banner, want)
		}
	}
	known := testenv.Eval[string](t, bctx, `document.querySelector('tr.event[data-source-id="src-ev-000"]').innerText`)
	for _, want := range []string{knownUPN, "department: Sales → Marketing\njobTitle: → Lead", knownRequest, "update", "ok", "400 ms"} {
		if !strings.Contains(known, want) {
			t.Errorf("known event row %q lacks %q", known, want)
		}
	}
	if w := testenv.Eval[float64](t, bctx, `document.querySelector('svg.chart').getBoundingClientRect().width`); w < 600 {
		t.Errorf("chart is %.0f px wide: squeezed", w)
	}
	if w := testenv.Eval[float64](t, bctx, `document.documentElement.scrollWidth`); w > 1400 {
		t.Errorf("page is %.0f px wide in a 1400 px window: it scrolls sideways", w)
	}
	if over := testenv.Eval[[]string](t, bctx, `[...document.querySelectorAll('.card')].filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.querySelector('h2').innerText)`); len(over) > 0 {
		t.Errorf("content spills out of the cards %q", over)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}

	// Older events: the link keeps the prefix and the key.
	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`a[rel="next"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a.newest`)),
	); err != nil {
		t.Fatalf("follow the older events link: %v", err)
	}
	loc, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil || u.Path != "/api/status" || u.Query().Get("code") != key || u.Query().Get("page") == "" {
		t.Errorf("older events at %q: want /api/status with the key and a page", loc)
	}
	if n := testenv.Eval[int](t, bctx, `document.querySelectorAll('tr.event').length`); n != 50 {
		t.Errorf("older page has %d events, want 50", n)
	}

	checkHealthReasons(t, bctx, pageURL)
	checkLogFilter(t, bctx, pageURL, key)

	dialogs, console := b.seen()
	if len(dialogs) > 0 {
		t.Errorf("the page opened JavaScript dialogs: %q", dialogs)
	}
	for _, m := range console {
		if strings.Contains(m, "Content Security Policy") || strings.Contains(m, "Refused to") {
			t.Errorf("the browser blocked something the page asked for: %s", m)
		}
	}

	checkScreenshot(t, shot)
}

// checkScreenshot keeps the screenshot for a person to look at and checks
// that it is a page-sized PNG.
func checkScreenshot(t *testing.T, shot []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 1000 {
		t.Errorf("screenshot is %dx%d: the page did not lay out", b.Dx(), b.Dy())
	}
	dir := os.Getenv(envScreenshots)
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "statuspage.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// checkHealthReasons loads the page and checks that each target's health
// shows with its reasons, each with the command that resolves it.
func checkHealthReasons(t *testing.T, bctx context.Context, pageURL string) {
	t.Helper()
	if err := chromedp.Do(bctx, chromedp.Navigate(pageURL), chromedp.WaitVisible(chromedp.CSS("table.targets"))); err != nil {
		t.Fatalf("load %s: %v", pageURL, err)
	}
	health := testenv.Eval[map[string]string](t, bctx, `Object.fromEntries([...document.querySelectorAll('table.targets tr[data-target]')].map(tr => [tr.dataset.target, tr.querySelector('.badge[data-health]').dataset.health]))`)
	if health["contoso"] != HealthQuarantined || health["northwind"] != HealthAttention {
		t.Errorf("health = %v, want contoso quarantined and northwind attention", health)
	}
	reasons := func(target string) []string {
		return testenv.Eval[[]string](t, bctx, `[...document.querySelectorAll('tr[data-target-reasons="`+target+`"] .attention')].map(e => e.innerText)`)
	}
	want := map[string][]string{
		"contoso": {
			"quarantined until 2026-03-01T12:25:00Z: " + quarantineWhy + " — handler resume --target contoso",
			"1 deprovision held by the deletion guard, awaiting approval — handler deletions list --target contoso, then handler deletions approve --target contoso SOURCE-ID… (or --all)",
			"1 user whose last attempt failed — handler status shows the recent errors; handler status --user USER shows one",
		},
		"northwind": {
			"the last sync failed 30 s ago (update nw.second@fabrikam.example): " + unreachable +
				" — handler log --target northwind --failed lists the failures; handler validate --online checks the tenant's access",
			"reconcile overdue: none for 50 min, and the schedule runs one every 15 min — handler reconcile runs one now; check that the Reconcile timer runs (the Function App, or handler local)",
		},
	}
	for target, w := range want {
		if got := reasons(target); strings.Join(got, "\n") != strings.Join(w, "\n") {
			t.Errorf("%s's reasons as shown:\n%s\nwant:\n%s", target, strings.Join(got, "\n"), strings.Join(w, "\n"))
		}
	}
	if got := testenv.Eval[string](t, bctx, `document.querySelector('tr[data-target="northwind"] td.lastsync').innerText`); got != "30 s ago failed" {
		t.Errorf("northwind's last sync shows %q", got)
	}
	if got := testenv.Eval[string](t, bctx, `document.querySelector('tr[data-counter="notifications.received"] td').innerText`); got != "notifications received" {
		t.Errorf("a counter's name shows as %q", got)
	}
}

// checkLogFilter filters the log as a person would, with the form: by
// user, then failures only; the key and the target stay in the URL.
func checkLogFilter(t *testing.T, bctx context.Context, pageURL, key string) {
	t.Helper()
	if err := chromedp.Do(bctx,
		chromedp.Navigate(pageURL),
		chromedp.WaitVisible(chromedp.CSS(`form.filter`)),
		chromedp.SetValue(chromedp.CSS(`form.filter input[name="user"]`), "ADELE.VANCE@fabrikam.example"),
		chromedp.Click(chromedp.CSS(`form.filter button`)),
		chromedp.WaitVisible(chromedp.CSS(`p.filtered`)),
	); err != nil {
		t.Fatalf("filter by user: %v", err)
	}
	rows := testenv.Eval[[]string](t, bctx, `[...document.querySelectorAll('tr.event')].map(tr => tr.dataset.sourceId)`)
	if strings.Join(rows, ",") != "src-ev-000" {
		t.Errorf("filtered by user: rows %v, want src-ev-000", rows)
	}
	loc, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil || u.Path != "/api/status" || u.Query().Get("code") != key || u.Query().Get("target") != "contoso" ||
		u.Query().Get("user") != "ADELE.VANCE@fabrikam.example" {
		t.Errorf("filtered at %q: want /api/status with the key, the target and the user", loc)
	}

	if err := chromedp.Do(bctx,
		chromedp.Navigate(pageURL),
		chromedp.WaitVisible(chromedp.CSS(`form.filter`)),
		chromedp.Click(chromedp.CSS(`form.filter input[name="failed"]`)),
		chromedp.Click(chromedp.CSS(`form.filter button`)),
		// The new page has the box checked in its HTML.
		chromedp.WaitVisible(chromedp.CSS(`form.filter input[name="failed"][checked]`)),
	); err != nil {
		t.Fatalf("filter the failures: %v", err)
	}
	rows = testenv.Eval[[]string](t, bctx, `[...document.querySelectorAll('tr.event')].map(tr => tr.className + ' ' + tr.dataset.sourceId)`)
	if strings.Join(rows, ",") != "event result-error src-ev-002" {
		t.Errorf("failures only: rows %v, want the failed event", rows)
	}
	if got := testenv.Eval[string](t, bctx, `document.querySelector('p.filtered code').innerText`); got != "handler log --target contoso --failed" {
		t.Errorf("the same search on the command line: %q", got)
	}
}
