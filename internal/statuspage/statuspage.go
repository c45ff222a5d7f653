// Package statuspage serves tenantsync's read-only status page: per target,
// its health with each reason and the command that resolves it, the linked
// users by state, the last reconciles, quarantine, staged deletions, the
// actions of the last day, the provisioning log with its attribute diffs and
// Graph request ids (filtered by user, action, failure and age), and a chart
// of sync latency over the last hour; for the source tenant, the delta
// watermarks and the Graph subscriptions; and the dead-lettered changes.
//
// The page is server-rendered HTML (html/template, CSS embedded and inlined,
// the chart as inline SVG) with no JavaScript and nothing loaded from
// elsewhere, so it works behind the Functions key and under a strict
// Content-Security-Policy. The log filter is a GET form to the page itself
// (form-action 'self'), which carries the Functions key on as the links do;
// the page still changes nothing (it answers GET and HEAD only). The same data is available as JSON with
// ?format=json (or at a path ending in status.json) for scripts.
//
// Every link on the page is relative to the page itself (only the query
// changes), so the handler works at "/" in `handler local` as well as at
// /api/status behind an Azure Functions HTTP trigger.
package statuspage

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tenantsync/tenantsync/internal/store"
)

//go:embed templates/page.html
var pageTemplate string

//go:embed templates/style.css
var styleSheet string

// Defaults for Options.
const (
	defaultTitle          = "tenantsync status"
	defaultRefresh        = 10 * time.Second
	defaultMaxChartEvents = 5000
	// defaultMaxActionEvents bounds the events read per target to count
	// the actions of the last day.
	defaultMaxActionEvents = 1000
	// DefaultReconcileEvery is the Reconcile timer's default period
	// (ReconcileSchedule "0 */15 * * * *").
	DefaultReconcileEvery = 15 * time.Minute
	// eventsPerPage is how many events a page of the log shows.
	eventsPerPage = 50
	// maxFilterScan bounds the events a filtered page of the log reads.
	maxFilterScan = 5000
	// maxDeadLettersListed is how many dead letters the page lists.
	maxDeadLettersListed = 20
	// maxFilterUser bounds the user a log filter names: an object id or a
	// userPrincipalName (at most 113 characters in Entra).
	maxFilterUser = 256
	// maxPageToken bounds the continuation token a request may carry; the
	// stores' tokens are a few dozen characters.
	maxPageToken = 512
	// functionKeyParam is the query parameter that carries the Azure
	// Functions key. Links on the page keep it, so that paging works for an
	// admin who opened the page with ?code=…; the page never shows it.
	functionKeyParam = "code"
)

// Options configure New. Store is required; everything else has a default.
type Options struct {
	// Store is where the state is read from. The page never writes to it.
	Store store.Store
	// SourceTenant is the source tenant id or domain, as in the config: the
	// key of the delta watermarks.
	SourceTenant string
	// Targets are the target names from the config, in the order to show them.
	Targets []string
	// Title heads the page. Empty means "tenantsync status".
	Title string
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	// Counters, when set, returns the pipeline's counters (notifications
	// received or dropped, messages processed, retried, dead-lettered, …)
	// to show beside the stored state. It must be safe for concurrent use.
	Counters func() map[string]int64
	// DeadLetters, when set, counts the dead-lettered changes; any makes
	// the health "attention".
	DeadLetters func(ctx context.Context) (int, error)
	// ListDeadLetters, when set, lists up to max dead-lettered changes,
	// oldest first, for the page to show (DeadLetterOf converts them).
	ListDeadLetters func(ctx context.Context, max int) ([]DeadLetter, error)
	// Notifications says that change notifications are configured (a
	// notification URL is set): a resource without a live subscription is
	// then a problem, not a choice.
	Notifications bool
	// SubscriptionFailure and ReconcileFailure, when set, return the last
	// failure of the subscription manager and of the reconcile and when it
	// happened, or a nil error when their last run succeeded (or none ran).
	// The store records neither: only the process that runs them knows.
	SubscriptionFailure func() (time.Time, error)
	ReconcileFailure    func() (time.Time, error)
	// ReconcileEvery is how often the Reconcile timer runs; a target not
	// reconciled for twice as long needs attention. Zero means
	// DefaultReconcileEvery.
	ReconcileEvery time.Duration
	// MaxActionEvents bounds how many events of the last day one request
	// reads per target to count its actions. Zero means 1000.
	MaxActionEvents int
	// Refresh is how often the browser reloads the page. Zero means 10
	// seconds; a negative value turns the automatic reload off.
	Refresh time.Duration
	// MaxChartEvents bounds how many events one request reads to draw the
	// latency chart. Zero means 5000. When the last hour holds more, the
	// chart shows the newest ones and says so.
	MaxChartEvents int
	// Logger receives the errors the page could not show in full. Nil means
	// slog.Default().
	Logger *slog.Logger
	// AttributeNamesOnly shows, for each event of the provisioning log, the
	// names of the attributes it changed and not their values (HTML and
	// JSON alike): the Azure status page, which more people may open than
	// the operator at the machine, shows no personal data beyond who was
	// synced and what changed.
	AttributeNamesOnly bool
}

// Handler serves the status page. It is safe for concurrent use.
type Handler struct {
	opts    Options
	tmpl    *template.Template
	css     template.CSS
	csp     string
	targets map[string]bool
	log     *slog.Logger
}

var _ http.Handler = (*Handler)(nil)

// New returns the status page handler for opts.
func New(opts Options) (*Handler, error) {
	if opts.Store == nil {
		return nil, errors.New("status page: no store")
	}
	targets := make(map[string]bool, len(opts.Targets))
	for _, name := range opts.Targets {
		if name == "" {
			return nil, errors.New("status page: empty target name")
		}
		if targets[name] {
			return nil, fmt.Errorf("status page: target %q listed twice", name)
		}
		targets[name] = true
	}
	opts.Targets = slices.Clone(opts.Targets)
	if opts.Title == "" {
		opts.Title = defaultTitle
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Refresh == 0 {
		opts.Refresh = defaultRefresh
	}
	if opts.MaxChartEvents <= 0 {
		opts.MaxChartEvents = defaultMaxChartEvents
	}
	if opts.MaxActionEvents <= 0 {
		opts.MaxActionEvents = defaultMaxActionEvents
	}
	if opts.ReconcileEvery <= 0 {
		opts.ReconcileEvery = DefaultReconcileEvery
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	tmpl, err := template.New("page").Funcs(templateFuncs).Parse(pageTemplate)
	if err != nil {
		return nil, fmt.Errorf("status page: parse template: %w", err)
	}
	// The stylesheet is inlined and allowed by its hash: a separate file
	// would need a route of its own, which the Functions trigger (one route,
	// "status") does not have.
	sum := sha256.Sum256([]byte(styleSheet))
	csp := strings.Join([]string{
		"default-src 'none'",
		"style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'",
		"img-src data:",
		"base-uri 'none'",
		// The log filter is a GET form to the page itself.
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; ")
	return &Handler{
		opts:    opts,
		tmpl:    tmpl,
		css:     template.CSS(styleSheet),
		csp:     csp,
		targets: targets,
		log:     log,
	}, nil
}

// request is what a request asks the page for.
type request struct {
	json   bool
	target string
	page   string
	filter LogFilter
	key    string // the Functions key, kept in links only
}

// LogFilter is the log filter a request asks for, as its query gives it.
type LogFilter struct {
	User   string `json:"user,omitempty"`
	Action string `json:"action,omitempty"`
	Failed bool   `json:"failed,omitempty"`
	// Since is how far back to look, as given ("1h", "7d").
	Since string `json:"since,omitempty"`
	since time.Duration
}

// eventFilter is the filter as of now.
func (f LogFilter) eventFilter(now time.Time) EventFilter {
	ef := EventFilter{User: f.User, Action: f.Action, Failed: f.Failed}
	if f.since > 0 {
		ef.Since = now.Add(-f.since)
	}
	return ef
}

// parseFilter reads the log filter from the query; msg says what is wrong.
func parseFilter(q url.Values) (f LogFilter, msg string) {
	f.User = strings.TrimSpace(q.Get("user"))
	if len(f.User) > maxFilterUser || strings.IndexFunc(f.User, unicode.IsControl) >= 0 {
		return f, "bad user: give an object id or a userPrincipalName"
	}
	f.Action = q.Get("action")
	if err := CheckAction(f.Action); err != nil {
		return f, err.Error()
	}
	switch v := q.Get("failed"); v {
	case "", "0", "false":
	case "1", "true", "on":
		f.Failed = true
	default:
		return f, fmt.Sprintf("bad failed %q: use 1 or leave it out", v)
	}
	if f.Since = q.Get("since"); f.Since != "" {
		d, err := ParseSince(f.Since)
		if err != nil {
			return f, "bad since: " + err.Error()
		}
		f.since = d
	}
	return f, ""
}

// ServeHTTP serves the page (GET and HEAD only).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.securityHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the status page is read-only: use GET", http.StatusMethodNotAllowed)
		return
	}
	req, status, msg := h.parseRequest(r)
	if status != 0 {
		http.Error(w, msg, status)
		return
	}
	snap := h.snapshot(r.Context(), req)

	var body bytes.Buffer
	if req.json {
		enc := json.NewEncoder(&body)
		enc.SetIndent("", "  ")
		if err := enc.Encode(snap); err != nil {
			h.log.ErrorContext(r.Context(), "status page: encode JSON", "err", err)
			http.Error(w, "status page: internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	} else {
		view := pageView{Snapshot: snap, CSS: h.css, Refresh: int(h.opts.Refresh / time.Second), req: req}
		if err := h.tmpl.Execute(&body, &view); err != nil {
			h.log.ErrorContext(r.Context(), "status page: render", "err", err)
			http.Error(w, "status page: internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	}
	w.Header().Set("Content-Length", strconv.Itoa(body.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body.Bytes())
	}
}

func (h *Handler) securityHeaders(hdr http.Header) {
	hdr.Set("Content-Security-Policy", h.csp)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Cache-Control", "no-store")
}

// parseRequest reads the query. A non-zero status is the answer to give
// instead of the page.
func (h *Handler) parseRequest(r *http.Request) (request, int, string) {
	q := r.URL.Query()
	var req request
	switch f := q.Get("format"); f {
	case "", "html":
		req.json = strings.HasSuffix(r.URL.Path, "status.json")
	case "json":
		req.json = true
	default:
		return req, http.StatusBadRequest, fmt.Sprintf("unknown format %q: use html or json", f)
	}
	req.target = q.Get("target")
	switch {
	case req.target == "" && len(h.opts.Targets) > 0:
		req.target = h.opts.Targets[0]
	case req.target != "" && !h.targets[req.target]:
		return req, http.StatusNotFound, fmt.Sprintf("unknown target %q", req.target)
	}
	req.page = q.Get("page")
	if len(req.page) > maxPageToken || strings.IndexFunc(req.page, notTokenRune) >= 0 {
		return req, http.StatusBadRequest, "bad page token"
	}
	req.key = q.Get(functionKeyParam)
	f, msg := parseFilter(q)
	if msg != "" {
		return req, http.StatusBadRequest, msg
	}
	req.filter = f
	return req, 0, ""
}

// notTokenRune reports runes outside the unpadded base64url alphabet of the
// stores' continuation tokens.
func notTokenRune(r rune) bool {
	return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
}

// link returns a relative URL (only a query) for the page with the given
// parameters, keeping the Functions key.
func (req request) link(target, page string, asJSON bool) string {
	return req.linkFiltered(target, page, asJSON, LogFilter{})
}

// linkFiltered is link with a log filter.
func (req request) linkFiltered(target, page string, asJSON bool, f LogFilter) string {
	q := url.Values{}
	if target != "" {
		q.Set("target", target)
	}
	if page != "" {
		q.Set("page", page)
	}
	if f.User != "" {
		q.Set("user", f.User)
	}
	if f.Action != "" {
		q.Set("action", f.Action)
	}
	if f.Failed {
		q.Set("failed", "1")
	}
	if f.Since != "" {
		q.Set("since", f.Since)
	}
	if asJSON {
		q.Set("format", "json")
	}
	if req.key != "" {
		q.Set(functionKeyParam, req.key)
	}
	if len(q) == 0 {
		// An empty href would be the page itself with its current query;
		// "?" drops the query.
		return "?"
	}
	return "?" + q.Encode()
}
