// Package local runs every tenantsync function in one process, with no
// Azure: the webhook and the status page on an HTTP listener, the timers on
// their NCRONTAB schedules, ProcessChange on the embedded queue (durable in
// the embedded store's file) — the same code the Functions host runs.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"go.etcd.io/bbolt"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/pipeline"
	"github.com/tenantsync/tenantsync/internal/queue/embedded"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
	"github.com/tenantsync/tenantsync/internal/subscriptions"
)

// Defaults, as in Azure.
const (
	DefaultListen               = "127.0.0.1:7071"
	DefaultReconcileSchedule    = "0 */15 * * * *"
	DefaultSubscriptionSchedule = "0 0 */6 * * *"
)

// Options configure Run.
type Options struct {
	// App is the assembled tenantsync. Its store must be the embedded store
	// unless QueueDB is given: the queue lives in the same file.
	App *app.App
	// QueueDB holds the embedded queue when the store is not embedded
	// (Table Storage from a laptop); nil uses the embedded store's file.
	QueueDB *bbolt.DB
	// Listen is the HTTP address (DefaultListen).
	Listen string
	// Listener, when set, is used instead of listening on Listen (tests).
	Listener net.Listener
	// NotificationURL is the GraphWebhook URL Graph calls. Empty derives it
	// from the listener, which only a Graph on this machine (the simulator)
	// can reach; for real tenants set TENANTSYNC_WEBHOOK_URL to a public
	// URL that forwards here, or leave notifications off (Notifications
	// false) and rely on the reconcile timer.
	NotificationURL string
	// Notifications turns Graph subscriptions on.
	Notifications bool
	// ReconcileSchedule and SubscriptionSchedule are 6-field NCRONTAB
	// expressions, as in Azure.
	ReconcileSchedule, SubscriptionSchedule string
	// Sessions is how many users are synced at once (default 8).
	Sessions int
	// Ready, when set, is called once everything is running.
	Ready  func(Info)
	Logger *slog.Logger
}

// Info says where a running local instance is.
type Info struct {
	URL             string // http://127.0.0.1:7071
	StatusURL       string
	NotificationURL string // empty when notifications are off
}

// Local is a running local instance.
type Local struct {
	opts    Options
	log     *slog.Logger
	queue   *embedded.Queue
	runtime *app.Runtime
	info    Info
	run     func() error
	done    chan struct{}
	err     error
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
	if db == nil {
		bs, ok := opts.App.Store.(*boltstore.Store)
		if !ok {
			return nil, errors.New("local: the store is not the embedded one; give QueueDB for the embedded queue")
		}
		db = bs.DB()
	}
	q, err := embedded.Open(db, &embedded.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open the embedded queue: %w", err)
	}
	l.queue = q

	ln := opts.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", opts.Listen)
		if err != nil {
			q.Close()
			return nil, fmt.Errorf("listen on %s: %w", opts.Listen, err)
		}
	}
	base := "http://" + ln.Addr().String()
	l.info = Info{URL: base, StatusURL: base + "/"}
	rto := app.RuntimeOptions{Queue: q, Counters: func() map[string]int64 { return queueCounters(q.Stats()) }}
	if opts.Notifications {
		rto.NotificationURL = opts.NotificationURL
		if rto.NotificationURL == "" {
			rto.NotificationURL = base + "/api/GraphWebhook"
		}
		rto.LifecycleURL, err = subscriptions.LifecycleURL(rto.NotificationURL)
		if err != nil {
			ln.Close()
			q.Close()
			return nil, err
		}
		l.info.NotificationURL = rto.NotificationURL
	}
	rt, err := opts.App.Runtime(rto)
	if err != nil {
		ln.Close()
		q.Close()
		return nil, err
	}
	l.runtime = rt

	mux := http.NewServeMux()
	mux.Handle(pipeline.RouteWebhook, rt.Webhook)
	mux.Handle(pipeline.RouteLifecycle, rt.Webhook)
	mux.Handle(pipeline.RouteStatus, rt.Status)
	mux.Handle("GET /{$}", rt.Status)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	l.run = func() error { return l.serve(ctx, ln, srv) }
	l.done = make(chan struct{})
	go func() {
		defer close(l.done)
		l.err = l.run()
	}()
	return l, nil
}

// Wait waits until the instance has stopped and returns why, nil after a
// clean shutdown.
func (l *Local) Wait() error {
	<-l.done
	return l.err
}

// serve runs the HTTP listener, the queue consumer and the timers until ctx
// ends.
func (l *Local) serve(ctx context.Context, ln net.Listener, srv *http.Server) error {
	defer l.queue.Close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	errs := make(chan error, 3)

	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("http: %w", err)
			cancel(err)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := l.queue.Run(ctx, embedded.RunOptions{MaxConcurrentSessions: l.opts.Sessions}, l.runtime.Pipeline.ProcessChange)
		if err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
			errs <- fmt.Errorf("queue: %w", err)
			cancel(err)
		}
	}()

	// As the Functions host does with runOnStartup: subscriptions first (so
	// changes during the first reconcile are not missed), then a reconcile,
	// which does the initial full sync when there is no watermark yet.
	if err := l.runtime.Pipeline.ManageSubscriptions(ctx); err != nil {
		l.log.ErrorContext(ctx, "subscriptions could not be set up; the reconcile timer still runs", "err", err)
	}
	c := cron.New(cron.WithSeconds(), cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	if _, err := c.AddFunc(l.opts.ReconcileSchedule, func() { l.reconcile(ctx) }); err != nil {
		cancel(err)
		wg.Wait()
		return fmt.Errorf("ReconcileSchedule %q: %w", l.opts.ReconcileSchedule, err)
	}
	if _, err := c.AddFunc(l.opts.SubscriptionSchedule, func() {
		if err := l.runtime.Pipeline.ManageSubscriptions(ctx); err != nil {
			l.log.ErrorContext(ctx, "subscription upkeep failed", "err", err)
		}
	}); err != nil {
		cancel(err)
		wg.Wait()
		return fmt.Errorf("SubscriptionSchedule %q: %w", l.opts.SubscriptionSchedule, err)
	}
	l.reconcile(ctx)
	c.Start()
	if l.opts.Ready != nil {
		l.opts.Ready(l.info)
	}
	l.log.InfoContext(ctx, "tenantsync is running", "url", l.info.URL, "notificationUrl", l.info.NotificationURL)

	<-ctx.Done()
	l.log.Info("shutting down: finishing changes in flight")
	<-c.Stop().Done()
	shutdown, stop := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer stop()
	if err := srv.Shutdown(shutdown); err != nil {
		l.log.Warn("http shutdown", "err", err)
	}
	l.runtime.Webhook.Wait()
	wg.Wait()
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
