package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/tenantsync/tenantsync/internal/customhandler"
	"github.com/tenantsync/tenantsync/internal/functionkey"
	"github.com/tenantsync/tenantsync/internal/pipeline"
	"github.com/tenantsync/tenantsync/internal/queue/servicebus"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/statuspage"
	"github.com/tenantsync/tenantsync/internal/subscriptions"
)

// DefaultQueueName is the Service Bus queue when ServiceBusQueueName is unset.
const DefaultQueueName = "changes"

// OpenServiceBus connects to the Service Bus queue the settings name: by
// namespace with the managed identity, or by connection string. ok is false
// when neither is set.
func OpenServiceBus(env settings.Env) (q *servicebus.Queue, ok bool, err error) {
	name := env.Get(settings.QueueName)
	if name == "" {
		name = DefaultQueueName
	}
	if ns := env.Get(settings.ServiceBusNamespace); ns != "" {
		cred, err := AzureCredential(env)
		if err != nil {
			return nil, true, fmt.Errorf("service bus %s: credential: %w", ns, err)
		}
		q, err := servicebus.New(ns, cred, name, nil)
		return q, true, err
	}
	if cs := env.Get(settings.ServiceBusConnectionString); cs != "" {
		q, err := servicebus.NewFromConnectionString(cs, name, nil)
		return q, true, err
	}
	return nil, false, nil
}

// Bounds of the Functions host's start (HostOptions).
const (
	// DefaultOpenTimeout bounds one attempt to open the runtime: loading
	// the config, checking the state tables and building the functions. It
	// stays under the 30 s the host allows a worker to answer its probe,
	// though the probe no longer waits for it, so that a stuck attempt is
	// abandoned and tried again well before anyone would give up on it.
	DefaultOpenTimeout = 20 * time.Second
	// DefaultReadyWait bounds how long a request without a deadline of its
	// own (a forwarded HTTP request, a timer) waits for the runtime to open
	// before it fails with the reason. A ProcessChange invocation waits
	// within its own deadline (pipeline.ProcessChangeTimeout).
	DefaultReadyWait = 30 * time.Second
)

// HostOptions configure ServeFunctionsHost.
type HostOptions struct {
	// App is what Open needs. ServeFunctionsHost sets ExistingTables: the
	// tables must have been created by provisioning.
	App Options
	// Port is FUNCTIONS_CUSTOMHANDLER_PORT; Listener, when set, is used
	// instead (tests).
	Port     string
	Listener net.Listener
	// OpenTimeout bounds one attempt to open the runtime; 0 means
	// DefaultOpenTimeout.
	OpenTimeout time.Duration
	// ReadyWait bounds a deadline-less request's wait for the runtime; 0
	// means DefaultReadyWait.
	ReadyWait time.Duration
}

// functionsRuntime is what the Functions host's functions run on.
type functionsRuntime struct {
	app   *App
	queue *servicebus.Queue
	rt    *Runtime
	// own is whether ServeFunctionsHost opened app and must close it.
	own bool
}

func (f *functionsRuntime) functions() pipeline.Functions {
	return pipeline.Functions{Pipeline: f.rt.Pipeline, HTTPHandlers: pipeline.HTTPHandlers{Webhook: f.rt.Webhook, Status: f.rt.Status}}
}

// close waits for the webhook's background work and closes what was
// opened for the functions.
func (f *functionsRuntime) close(ctx context.Context) {
	f.rt.Webhook.Wait()
	if err := f.queue.Close(ctx); err != nil {
		f.app.Logger.Warn("closing the queue", "err", err)
	}
	if f.own {
		if err := f.app.Close(); err != nil {
			f.app.Logger.Warn("closing the store", "err", err)
		}
	}
}

// ServeFunctionsHost serves the Azure Functions host as its custom handler
// until ctx ends: ProcessChange on Service Bus, the two timers, and the
// forwarded HTTP functions (webhook, lifecycle, status).
//
// It listens before anything else and answers the host's readiness probe at
// once; the runtime (config, store, queue, functions) opens behind a ready
// gate, each attempt bounded by OpenTimeout and retried until it succeeds.
// The host polls GET / every 25 ms for 30 s and then restarts the worker
// (customhandler.ListenAndServe), so nothing slow may come before listening,
// on any cold start. Invocations and requests that arrive before the
// runtime is open wait for it (customhandler.ServerOptions.Ready) and fail
// with the reason if it does not open in time. The state tables are opened,
// not created: provisioning creates them.
func ServeFunctionsHost(ctx context.Context, opts HostOptions) error {
	log := opts.App.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	appOpts := opts.App
	appOpts.ExistingTables = true
	return serveFunctions(ctx, opts, log, func(ctx context.Context) (*functionsRuntime, error) {
		a, err := Open(ctx, appOpts)
		if err != nil {
			return nil, err
		}
		f, err := a.functionsRuntime()
		if err != nil {
			a.Close()
			return nil, err
		}
		f.own = true
		return f, nil
	})
}

// ServeFunctions serves the Azure Functions host as its custom handler on
// port, until ctx ends, over an App already open. ServeFunctionsHost is the
// better start under the host: it listens before opening anything.
func (a *App) ServeFunctions(ctx context.Context, port string) error {
	return serveFunctions(ctx, HostOptions{Port: port}, a.Logger, func(context.Context) (*functionsRuntime, error) {
		return a.functionsRuntime()
	})
}

// functionsRuntime assembles the functions over a: the Service Bus queue,
// the notification URLs and the runtime, its counters labelled as this
// instance's.
func (a *App) functionsRuntime() (*functionsRuntime, error) {
	q, ok, err := OpenServiceBus(a.Env)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("no Service Bus: set %s (managed identity) or %s", settings.ServiceBusNamespace, settings.ServiceBusConnectionString)
	}
	urls, err := a.notificationURLs()
	if err != nil {
		q.Close(context.Background())
		return nil, err
	}
	rt, err := a.Runtime(RuntimeOptions{
		Queue: q, URLs: urls, CounterGroup: CounterGroupThisInstance, DeadLetters: q,
		// The status page is on the internet: App Service authentication
		// signs operators in (infra/modules/app-auth.bicep) and the page
		// checks the principal it forwards.
		StatusAuth:   &statuspage.OperatorAuth{AppClientID: a.Env.Get(settings.OperatorAppClientID), Logger: a.Logger},
		WarmUpClient: &http.Client{},
	})
	if err != nil {
		q.Close(context.Background())
		return nil, err
	}
	a.Logger.Info("functions assembled", "config", a.ConfigSource, "queue", q.Name())
	return &functionsRuntime{app: a, queue: q, rt: rt}, nil
}

// serveFunctions listens, registers the functions behind a ready gate over
// open, opens in the background and serves until ctx ends.
func serveFunctions(ctx context.Context, opts HostOptions, log *slog.Logger, open func(context.Context) (*functionsRuntime, error)) error {
	ln := opts.Listener
	if ln == nil {
		var err error
		if ln, err = customhandler.Listen(opts.Port); err != nil {
			return err
		}
	}
	openTimeout, readyWait := opts.OpenTimeout, opts.ReadyWait
	if openTimeout <= 0 {
		openTimeout = DefaultOpenTimeout
	}
	if readyWait <= 0 {
		readyWait = DefaultReadyWait
	}
	gate := newReadyGate(open, openTimeout, readyWait, log)
	srv := customhandler.NewServer(&customhandler.ServerOptions{Logger: log, Ready: gate.wait})
	pipeline.RegisterDeferred(srv, func() pipeline.Functions { return gate.value().functions() })

	octx, stopOpening := context.WithCancel(ctx)
	opened := make(chan bool, 1)
	go func() { opened <- gate.run(octx) }()
	log.InfoContext(ctx, "serving the Functions host", "addr", ln.Addr().String())
	err := customhandler.Serve(ctx, ln, srv)
	stopOpening()
	if <-opened {
		gate.value().close(context.WithoutCancel(ctx))
	}
	return err
}

// notificationURLs returns how the subscription manager learns the URLs
// Graph must call: TENANTSYNC_WEBHOOK_URL, with the function keys read from
// Azure Resource Manager at run time when TENANTSYNC_FUNCTION_APP_ID is set
// (the keys never sit in a setting). Nil means notifications are off.
func (a *App) notificationURLs() (func(context.Context) (string, string, error), error) {
	webhook := a.Env.Get(settings.WebhookURL)
	if webhook == "" {
		a.Logger.Warn("TENANTSYNC_WEBHOOK_URL is not set: change notifications are off; the reconcile timer alone keeps targets in step")
		return nil, nil
	}
	if u, err := url.Parse(webhook); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%s %q: want an https URL", settings.WebhookURL, webhook)
	}
	lifecycle, err := subscriptions.LifecycleURL(webhook)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", settings.WebhookURL, err)
	}
	appID := a.Env.Get(settings.FunctionAppID)
	if appID == "" {
		return func(context.Context) (string, string, error) { return webhook, lifecycle, nil }, nil
	}
	cred, err := AzureCredential(a.Env)
	if err != nil {
		return nil, fmt.Errorf("function keys: credential: %w", err)
	}
	keys, err := functionkey.New(cred, nil)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (string, string, error) {
		return keys.NotificationURLs(ctx, appID, webhook, lifecycle)
	}, nil
}
