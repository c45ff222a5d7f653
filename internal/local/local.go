// Package local runs every tenantsync function in one process, with no
// Azure: the webhook and the status page on an HTTP listener, the timers on
// their NCRONTAB schedules, ProcessChange on the embedded queue — the same
// code the Functions host runs. The queue is durable in the state file
// (TENANTSYNC_STATE, .tenantsync/state.db by default), which also holds the
// store unless the store is Table Storage.
//
// # The listener
//
// The listener serves people's data (the status page) and takes Graph's
// notifications, so it answers only what it is meant to:
//
//   - Host: a request must name the listener by its loopback name or
//     address (127.0.0.1:PORT, localhost:PORT, [::1]:PORT); the webhook
//     routes also answer to the host of the notification URL (the public
//     URL forwarding here, TENANTSYNC_WEBHOOK_URL). Anything else gets 421
//     Misdirected Request: a web page the operator visits cannot rebind its
//     DNS name to 127.0.0.1 and read the page, and a public URL forwarding
//     here publishes the webhook only. 421 rather than 403 because nothing
//     is forbidden to the client: this server just does not serve that
//     host.
//   - The status page needs the run's token, a random one each start: the
//     URL printed at start carries it (/?token=…), and the first request
//     with it sets an HttpOnly, SameSite=Strict cookie, so that refreshes
//     and the page's own links work. Scripts may send Authorization: Bearer
//     instead; the admin file (below) holds the URL with the token, and
//     localadmin.StatusAuth sends it for harnesses that watch a local.
//     Without it: 401. This keeps the page from other users of the machine,
//     and from a forwarder that rewrites Host to localhost.
//   - Timeouts: a request's headers must arrive within 3 s and all of it
//     within 5 s, a notification's body within 2 s of its headers, inside
//     the 3 seconds Graph gives the webhook to answer; answers are written
//     within 30 s and idle connections closed after 60 s. A slow client
//     cannot hold a connection.
//
// A --listen that is not loopback is allowed (a container, a webhook
// reached directly) but warned about loudly.
//
// # Operator commands while local runs
//
// The state file is a bbolt file that one process at a time may open, and a
// running local holds it. So local also serves an admin endpoint of its
// own on 127.0.0.1 (never on the listener), authenticated with another
// random token, and writes its address and token to an admin file beside
// the state file (state.db.admin.json, mode 0600), removed when it stops.
// The operator commands open the store with storeopen.Open, which finds the
// admin file and returns a store.Store client of the endpoint
// (localadmin.Store, which passes the store contract suite): status, plan,
// provision, reconcile, deletions, resume and adopt then run unchanged,
// sharing the state with the running local exactly as two processes share
// Table Storage, through the store's ETags. The endpoint also serves the
// embedded queue's dead letters, for dlq (storeopen.RunningDeadLetters).
// A remote store rather than running the commands in this process: the
// commands keep their own code paths, flags, settings and credentials, and
// this package needs to know nothing about them. See package localadmin.
package local

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"go.etcd.io/bbolt"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/pipeline"
	"github.com/tenantsync/tenantsync/internal/queue/embedded"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
	"github.com/tenantsync/tenantsync/internal/store/storeopen/localadmin"
	"github.com/tenantsync/tenantsync/internal/subscriptions"
)

// Defaults, as in Azure.
const (
	DefaultListen               = "127.0.0.1:7071"
	DefaultReconcileSchedule    = "0 */15 * * * *"
	DefaultSubscriptionSchedule = "0 0 */6 * * *"
)

// Timeouts of the listener. Graph waits 3 seconds for the webhook's answer
// (and retries, then drops notifications, when it gets none): a
// notification whose body is not in after webhookBodyTimeout cannot be
// answered in time anyway, so its connection is closed rather than held.
const (
	readHeaderTimeout  = 3 * time.Second
	readTimeout        = 5 * time.Second
	webhookBodyTimeout = 2 * time.Second
	// writeTimeout bounds rendering and sending the status page, the
	// slowest answer (the events of the last hour for the chart).
	writeTimeout   = 30 * time.Second
	idleTimeout    = 60 * time.Second
	maxHeaderBytes = 64 << 10
)

// Timeouts of the admin endpoint: on loopback, for the operator commands. A
// store request may carry a few MiB; a listing of links streams as long as
// the command reads it, so there is no write timeout.
const (
	adminReadHeaderTimeout = 10 * time.Second
	adminReadTimeout       = 2 * time.Minute
	adminIdleTimeout       = 2 * time.Minute
)

// Options configure Run.
type Options struct {
	// App is the assembled tenantsync. Its store must be the embedded store
	// unless QueueDB is given: the queue lives in the same file.
	App *app.App
	// QueueDB holds the embedded queue when the store is not embedded
	// (Table Storage from a laptop): the state file, which
	// storeopen.OpenQueueFile opens. Nil uses the embedded store's file.
	// The caller closes it after Wait.
	QueueDB *bbolt.DB
	// Listen is the HTTP address (DefaultListen).
	Listen string
	// Listener, when set, is used instead of listening on Listen (tests).
	Listener net.Listener
	// NotificationURL is the GraphWebhook URL Graph calls. Empty derives it
	// from the listener, which only a Graph on this machine (the simulator)
	// can reach; for real tenants set TENANTSYNC_WEBHOOK_URL to a public
	// URL that forwards here, or leave notifications off (Notifications
	// false) and rely on the reconcile timer. The webhook routes answer to
	// its host besides the loopback names.
	NotificationURL string
	// Notifications turns Graph subscriptions on.
	Notifications bool
	// ReconcileSchedule and SubscriptionSchedule are 6-field NCRONTAB
	// expressions, as in Azure.
	ReconcileSchedule, SubscriptionSchedule string
	// Sessions is how many users are synced at once (default 8).
	Sessions int
	// StatusToken is the token the status page asks for; empty means a
	// random one, new each start.
	StatusToken string
	// Ready, when set, is called once everything is running.
	Ready  func(Info)
	Logger *slog.Logger
}

// Info says where a running local instance is.
type Info struct {
	URL string // http://127.0.0.1:7071
	// StatusURL is the status page with its token: http://127.0.0.1:7071/?token=…
	StatusURL string
	// StatusToken is the status page's token (a secret: print it, never
	// log it).
	StatusToken string
	// NotificationURL is empty when notifications are off. It may carry a
	// key (code=…): show it with subscriptions.Redact.
	NotificationURL string
	// AdminFile is where the admin endpoint's address and token are, for
	// the operator commands (localadmin.FileFor the state file).
	AdminFile string
}

// Local is a running local instance.
type Local struct {
	opts       Options
	log        *slog.Logger
	queue      *embedded.Queue
	runtime    *app.Runtime
	info       Info
	adminToken string
	run        func() error
	done       chan struct{}
	err        error
}

// Run runs tenantsync until ctx is cancelled, then shuts down gracefully:
// it stops taking work, lets in-flight changes finish, and releases the
// rest to the queue, which keeps them for the next start.
func Run(ctx context.Context, opts Options) error {
	l, err := Start(ctx, opts)
	if err != nil {
		return err
	}
	return l.Wait()
}

// Start starts a local instance; Wait waits for it to stop.
func Start(ctx context.Context, opts Options) (*Local, error) {
	if opts.App == nil {
		return nil, errors.New("local: App is required")
	}
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	if opts.ReconcileSchedule == "" {
		opts.ReconcileSchedule = DefaultReconcileSchedule
	}
	if opts.SubscriptionSchedule == "" {
		opts.SubscriptionSchedule = DefaultSubscriptionSchedule
	}
	if opts.Sessions <= 0 {
		opts.Sessions = 8
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Local{opts: opts, log: log}

	db := opts.QueueDB
	var served store.Store // the store the admin endpoint serves: the embedded one in db
	if bs, ok := opts.App.Store.(*boltstore.Store); ok && (db == nil || db == bs.DB()) {
		db, served = bs.DB(), bs
	}
	if db == nil {
		return nil, errors.New("local: the store is not the embedded one; give QueueDB, the state file, for the embedded queue")
	}
	q, err := embedded.Open(db, &embedded.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open the embedded queue in %s: %w", db.Path(), err)
	}
	l.queue = q
	var closers []func() // undone when Start fails
	fail := func(err error) (*Local, error) {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
		q.Close()
		return nil, err
	}

	ln := opts.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", opts.Listen)
		if err != nil {
			return fail(fmt.Errorf("listen on %s: %w", opts.Listen, err))
		}
	}
	closers = append(closers, func() { ln.Close() })
	base, port, err := baseURL(ln.Addr())
	if err != nil {
		return fail(err)
	}
	if !IsLoopback(ln.Addr().String()) {
		log.Warn("the listener is not on loopback: anyone who can reach "+ln.Addr().String()+
			" can send it requests. The status page still needs its token and answers only to a loopback Host, "+
			"the webhook to the notification URL's host too; prefer 127.0.0.1 and a forwarder for Graph",
			"listen", ln.Addr().String())
	}
	statusToken := opts.StatusToken
	if statusToken == "" {
		statusToken = localadmin.NewToken()
	}
	l.info = Info{URL: base, StatusURL: base + "/?token=" + url.QueryEscape(statusToken), StatusToken: statusToken}
	rto := app.RuntimeOptions{Queue: q, Counters: func() map[string]int64 { return queueCounters(q.Stats()) }, DeadLetters: q}
	if opts.Notifications {
		rto.NotificationURL = opts.NotificationURL
		if rto.NotificationURL == "" {
			rto.NotificationURL = base + "/api/GraphWebhook"
		}
		rto.LifecycleURL, err = subscriptions.LifecycleURL(rto.NotificationURL)
		if err != nil {
			return fail(err)
		}
		l.info.NotificationURL = rto.NotificationURL
	}
	// The webhook also answers to the host Graph calls it by, when that is
	// not the listener's loopback name.
	var webhookHost hostName
	if n := cmp.Or(rto.NotificationURL, opts.NotificationURL); n != "" {
		if webhookHost, err = webhookHostOf(n); err != nil {
			return fail(err)
		}
	}
	rt, err := opts.App.Runtime(rto)
	if err != nil {
		return fail(err)
	}
	l.runtime = rt

	srv := &http.Server{
		Handler:           l.handler(port, webhookHost, statusToken),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}

	admin, err := l.startAdmin(db.Path(), served)
	if err != nil {
		return fail(err)
	}

	l.run = func() error { return l.serve(ctx, ln, srv, admin) }
	l.done = make(chan struct{})
	go func() {
		defer close(l.done)
		l.err = l.run()
	}()
	return l, nil
}

// admin is the running admin endpoint.
type admin struct {
	srv  *http.Server
	ln   net.Listener
	file string
}

// startAdmin serves the admin endpoint on a loopback port of its own and
// writes the admin file beside the state file, so that the operator
// commands reach the store (when it is the embedded one, served) and the
// queue's dead letters while this process holds the file.
func (l *Local) startAdmin(statePath string, served store.Store) (*admin, error) {
	state, err := filepath.Abs(statePath)
	if err != nil {
		return nil, fmt.Errorf("admin endpoint: state file %s: %w", statePath, err)
	}
	l.adminToken = localadmin.NewToken()
	h, err := localadmin.NewHandler(localadmin.ServerOptions{
		Token: l.adminToken, State: state, Store: served, DeadLetters: l.queue, Logger: l.log,
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("admin endpoint: listen on 127.0.0.1: %w", err)
	}
	a := &admin{ln: ln, file: localadmin.FileFor(state), srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: adminReadHeaderTimeout,
		ReadTimeout:       adminReadTimeout,
		IdleTimeout:       adminIdleTimeout,
		ErrorLog:          slog.NewLogLogger(l.log.Handler(), slog.LevelDebug),
	}}
	err = localadmin.WriteFile(a.file, localadmin.File{
		URL: "http://" + ln.Addr().String(), Token: l.adminToken, State: state, Store: served != nil,
		StatusURL: l.info.StatusURL, PID: os.Getpid(),
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin endpoint: %w", err)
	}
	l.info.AdminFile = a.file
	return a, nil
}

// handler is the listener's handler: the host check in front of every
// route, the status token in front of the status page, the body deadline
// in front of the webhook.
func (l *Local) handler(port string, webhookHost hostName, statusToken string) http.Handler {
	webhook := withBodyDeadline(webhookBodyTimeout, l.runtime.Webhook)
	status := requireToken(statusToken, statusCookiePrefix+port, l.runtime.Status)

	all := http.NewServeMux()
	all.Handle(pipeline.RouteWebhook, webhook)
	all.Handle(pipeline.RouteLifecycle, webhook)
	all.Handle(pipeline.RouteStatus, status)
	all.Handle("GET /{$}", status)

	webhookOnly := http.NewServeMux()
	webhookOnly.Handle(pipeline.RouteWebhook, webhook)
	webhookOnly.Handle(pipeline.RouteLifecycle, webhook)
	webhookOnly.HandleFunc("/", misdirected)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case localadmin.IsLoopbackHost(r.Host, port):
			all.ServeHTTP(w, r)
		case webhookHost.matches(r.Host):
			webhookOnly.ServeHTTP(w, r)
		default:
			misdirected(w, r)
		}
	})
}

// misdirected answers a request for a host this listener does not serve.
func misdirected(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "misdirected request: this tenantsync listener answers to its loopback address (and the webhook to the notification URL's host) only",
		http.StatusMisdirectedRequest)
}

// withBodyDeadline gives a request's body until d after its headers came:
// the webhook must answer Graph within 3 seconds.
func withBodyDeadline(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		h.ServeHTTP(w, r)
	})
}

// statusCookiePrefix starts the name of the status page's cookie; the port
// ends it, as a browser sends a 127.0.0.1 cookie to every port.
const statusCookiePrefix = "tenantsync_status_"

// requireToken lets through a request that carries the token: as ?token=
// (then it sets the cookie, so that refreshes and links work), as the
// cookie, or as Authorization: Bearer.
func requireToken(token, cookie string, h http.Handler) http.Handler {
	want := []byte(token)
	ok := func(got string) bool { return subtle.ConstantTimeCompare([]byte(got), want) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The page links nowhere else, but keep the token out of any
		// Referer regardless.
		w.Header().Set("Referrer-Policy", "no-referrer")
		authorized := false
		if q, present := r.URL.Query()["token"]; present {
			authorized = len(q) == 1 && ok(q[0])
			if authorized {
				http.SetCookie(w, &http.Cookie{Name: cookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			}
		} else if c, err := r.Cookie(cookie); err == nil {
			authorized = ok(c.Value)
		} else if auth, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found {
			authorized = ok(auth)
		}
		if !authorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tenantsync status"`)
			http.Error(w, "unauthorized: open the status page with the URL handler local printed at start (/?token=…); "+
				"the token is also in the admin file beside the state file (statusUrl)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// baseURL is the listener's URL for this machine, and its port: an
// all-interfaces listener is reached on 127.0.0.1.
func baseURL(addr net.Addr) (base, port string, err error) {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "", "", fmt.Errorf("listener address %s: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port), port, nil
}

// IsLoopback reports whether a listen address (host:port) is on loopback
// only: 127.0.0.0/8, ::1 or localhost. An empty or unspecified host
// listens on every interface.
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hostName is a host as a Host header names it: a name and a port.
type hostName struct {
	name, port string
	// defaultPort is the port a Host header without one means: the
	// scheme's.
	defaultPort string
}

// webhookHostOf returns the host of the notification URL, as a forwarder
// passes it in Host.
func webhookHostOf(notificationURL string) (hostName, error) {
	u, err := url.Parse(notificationURL)
	if err != nil || u.Hostname() == "" {
		return hostName{}, fmt.Errorf("notification URL %s is not an absolute URL", subscriptions.Redact(notificationURL))
	}
	h := hostName{name: strings.ToLower(u.Hostname()), port: u.Port(), defaultPort: "80"}
	if strings.EqualFold(u.Scheme, "https") {
		h.defaultPort = "443"
	}
	if h.port == "" {
		h.port = h.defaultPort
	}
	return h, nil
}

// matches reports whether a Host header names h.
func (h hostName) matches(hostHeader string) bool {
	if h.name == "" {
		return false
	}
	name, port, err := net.SplitHostPort(hostHeader)
	if err != nil {
		name, port = strings.Trim(hostHeader, "[]"), h.defaultPort
	}
	return strings.EqualFold(name, h.name) && port == h.port
}

// Wait waits until the instance has stopped and returns why, nil after a
// clean shutdown.
func (l *Local) Wait() error {
	<-l.done
	return l.err
}

// serve runs the HTTP listener, the admin endpoint, the queue consumer and
// the timers until ctx ends.
func (l *Local) serve(ctx context.Context, ln net.Listener, srv *http.Server, adm *admin) error {
	defer l.queue.Close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	errs := make(chan error, 4)

	for name, s := range map[string]struct {
		srv *http.Server
		ln  net.Listener
	}{"http": {srv, ln}, "admin endpoint": {adm.srv, adm.ln}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel(err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := l.queue.Run(ctx, embedded.RunOptions{MaxConcurrentSessions: l.opts.Sessions}, l.runtime.Pipeline.ProcessChange)
		if err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
			errs <- fmt.Errorf("queue: %w", err)
			cancel(err)
		}
	}()
	// stop stops taking requests (the admin file goes first, so that no
	// operator command starts on a stopping local), lets those in flight
	// finish, and waits for the queue consumer.
	stop := func() {
		if err := localadmin.RemoveFile(adm.file, l.adminToken); err != nil {
			l.log.Warn("the admin file stays behind; the next start replaces it", "err", err)
		}
		shutdown, done := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer done()
		for name, s := range map[string]*http.Server{"http": srv, "admin endpoint": adm.srv} {
			if err := s.Shutdown(shutdown); err != nil {
				l.log.Warn(name+" shutdown", "err", err)
			}
		}
		l.runtime.Webhook.Wait()
		wg.Wait()
	}

	// As the Functions host does with runOnStartup: subscriptions first (so
	// changes during the first reconcile are not missed), then a reconcile,
	// which does the initial full sync when there is no watermark yet.
	if err := l.runtime.Pipeline.ManageSubscriptions(ctx); err != nil {
		l.log.ErrorContext(ctx, "subscriptions could not be set up; the reconcile timer still runs", "err", err)
	}
	c := cron.New(cron.WithSeconds(), cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	if _, err := c.AddFunc(l.opts.ReconcileSchedule, func() { l.reconcile(ctx) }); err != nil {
		cancel(err)
		stop()
		return fmt.Errorf("ReconcileSchedule %q: %w", l.opts.ReconcileSchedule, err)
	}
	if _, err := c.AddFunc(l.opts.SubscriptionSchedule, func() {
		if err := l.runtime.Pipeline.ManageSubscriptions(ctx); err != nil {
			l.log.ErrorContext(ctx, "subscription upkeep failed", "err", err)
		}
	}); err != nil {
		cancel(err)
		stop()
		return fmt.Errorf("SubscriptionSchedule %q: %w", l.opts.SubscriptionSchedule, err)
	}
	l.reconcile(ctx)
	c.Start()
	if l.opts.Ready != nil {
		l.opts.Ready(l.info)
	}
	// Neither token is logged: the status page's is printed once by the
	// caller, the admin endpoint's is in the admin file only.
	l.log.InfoContext(ctx, "tenantsync is running", "url", l.info.URL, "statusPage", l.info.URL+"/",
		"notificationUrl", subscriptions.Redact(l.info.NotificationURL), "adminFile", l.info.AdminFile)

	<-ctx.Done()
	l.log.Info("shutting down: finishing changes in flight")
	<-c.Stop().Done()
	stop()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return nil
}

func (l *Local) reconcile(ctx context.Context) {
	if _, err := l.runtime.Pipeline.Reconcile(ctx, false); err != nil && ctx.Err() == nil {
		l.log.ErrorContext(ctx, "reconcile failed; the next run tries again", "err", err)
	}
}

// Reconcile runs a reconcile now, as the timer would.
func (l *Local) Reconcile(ctx context.Context, full bool) error {
	_, err := l.runtime.Pipeline.Reconcile(ctx, full)
	return err
}

// queueCounters are the queue's counters since start and, as gauges, what
// it holds now: an operator (or the chaos suite) sees from the status page
// whether work is still pending.
func queueCounters(st embedded.Stats) map[string]int64 {
	c := st.Counters
	return map[string]int64{
		"queueEnqueued":     c.Enqueued,
		"queueCompleted":    c.Completed,
		"queueAbandoned":    c.Abandoned,
		"queueDeadLettered": c.DeadLettered,
		"queueScheduled":    c.Scheduled,
		// Gauges.
		"queueVisibleMessages":    int64(st.VisibleMessages),
		"queueScheduledMessages":  int64(st.ScheduledMessages),
		"queueLockedMessages":     int64(st.Locked),
		"queueDeadLetterMessages": int64(st.DeadLetterMessages),
	}
}

// Info returns where the instance listens.
func (l *Local) Info() Info { return l.info }

// Queue returns the embedded queue (for operator commands and tests).
func (l *Local) Queue() *embedded.Queue { return l.queue }

// Runtime returns the functions the instance runs.
func (l *Local) Runtime() *app.Runtime { return l.runtime }
