// Package statuspage serves tenantsync's read-only status page: per target,
// the linked users by state, the last reconciles, quarantine, staged
// deletions, the recent provisioning events with their attribute diffs and
// Graph request ids, and a chart of sync latency over the last hour; for the
// source tenant, the delta watermarks and the Graph subscriptions.
//
// The page is server-rendered HTML (html/template, CSS embedded and inlined,
// the chart as inline SVG) with no JavaScript and nothing loaded from
// elsewhere, so it works behind the Functions key and under a strict
// Content-Security-Policy. The same data is available as JSON with
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
		"form-action 'none'",
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
	key    string // the Functions key, kept in links only
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
	q := url.Values{}
	if target != "" {
		q.Set("target", target)
	}
	if page != "" {
		q.Set("page", page)
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
