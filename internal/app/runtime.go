package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/tenantsync/tenantsync/internal/pipeline"
	"github.com/tenantsync/tenantsync/internal/queue"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/statuspage"
	"github.com/tenantsync/tenantsync/internal/subscriptions"
	"github.com/tenantsync/tenantsync/internal/webhook"
)

// RuntimeOptions configure the functions around an App.
type RuntimeOptions struct {
	// Queue carries change messages: Service Bus in Azure, the embedded
	// queue in local runs.
	Queue queue.Enqueuer
	// NotificationURL and LifecycleURL are where Graph delivers change and
	// lifecycle notifications; URLs, when set, is asked at every
	// subscription run instead (Azure: the URLs carry a function key read at
	// run time). With neither, change notifications are off.
	NotificationURL, LifecycleURL string
	URLs                          func(ctx context.Context) (notification, lifecycle string, err error)
	// Counters adds queue counters to the status page; optional.
	Counters func() map[string]int64
	// DeadLetters, when set, lets the status page count and list the
	// dead-lettered changes (the embedded queue's, in local runs).
	DeadLetters queue.DeadLetters
	// CounterGroup, when set, starts every counter's name on the status
	// page, as in "thisInstance.changesProcessed". The counters are the
	// process's own, and on Flex Consumption every function scales on its
	// own instances, except that the HTTP functions scale together
	// ("per-function scaling",
	// https://learn.microsoft.com/azure/azure-functions/event-driven-scaling):
	// the instance that serves the Status page is rarely one that runs
	// ProcessChange, so the page must say whose counts it shows. The local
	// runner, one process for everything, leaves it empty.
	CounterGroup string
	// StatusAuth, when set, puts the status page behind the App Service
	// authentication check (statuspage.RequireOperator) and shows attribute
	// names instead of values: the Functions host sets it, where the page
	// is reachable from the internet. The local runner has its own token.
	StatusAuth *statuspage.OperatorAuth
	// WarmUpClient, when set, sends the subscription manager's warm-up
	// request to the webhook before each subscription it creates
	// (subscriptions.Options.WarmUpClient): the Functions host sets it, as
	// its HTTP functions may sit on no instance when Graph validates.
	WarmUpClient *http.Client
}

// logRetention reads TENANTSYNC_LOG_RETENTION.
func logRetention(env settings.Env) (time.Duration, error) {
	v := env.Get(settings.LogRetention)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration such as 720h", settings.LogRetention, v)
	}
	return d, nil
}

// CounterGroupThisInstance is the CounterGroup of the Functions host.
const CounterGroupThisInstance = "thisInstance"

// Runtime is the four functions over an App, ready to be served by the
// Functions host or the local runner.
type Runtime struct {
	Pipeline      *pipeline.Pipeline
	Webhook       *webhook.Handler
	Status        http.Handler
	Subscriptions *subscriptions.Manager // nil when notifications are off
}

// Runtime assembles the webhook, the subscription manager, the pipeline and
// the status page.
func (a *App) Runtime(opts RuntimeOptions) (*Runtime, error) {
	rt := &Runtime{}
	if opts.NotificationURL != "" || opts.URLs != nil {
		m, err := subscriptions.New(subscriptions.Options{
			Graph:           a.Source,
			Store:           a.Store,
			Tenant:          a.Config.Source.Tenant,
			NotificationURL: opts.NotificationURL,
			LifecycleURL:    opts.LifecycleURL,
			URLs:            opts.URLs,
			WarmUpClient:    opts.WarmUpClient,
			Logger:          a.Logger,
		})
		if err != nil {
			return nil, fmt.Errorf("subscription manager: %w", err)
		}
		rt.Subscriptions = m
	}
	var ensure func(context.Context) error
	var lifecycle webhook.Lifecycle
	if rt.Subscriptions != nil {
		ensure = func(ctx context.Context) error {
			_, err := rt.Subscriptions.Ensure(ctx)
			return err
		}
		lifecycle = rt.Subscriptions
	}
	var err error
	retention, err := logRetention(a.Env)
	if err != nil {
		return nil, err
	}
	rt.Pipeline, err = pipeline.New(pipeline.Options{
		Engine:        a.Engine,
		Queue:         opts.Queue,
		Subscriptions: ensure,
		Prune:         a.Store.PruneEvents,
		LogRetention:  retention,
		Logger:        a.Logger,
	})
	if err != nil {
		return nil, err
	}
	rt.Webhook, err = webhook.New(webhook.Options{
		SourceTenant: a.Config.Source.Tenant,
		TenantID:     a.Source.TenantID,
		Store:        a.Store,
		Queue:        opts.Queue,
		Lifecycle:    lifecycle,
		Logger:       a.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	counters := func() map[string]int64 {
		c := rt.Pipeline.Counters()
		w := rt.Webhook.Counters()
		c["notificationsReceived"] = w.Received
		c["notificationsEnqueued"] = w.Enqueued
		c["notificationsDropped"] = w.Dropped()
		c["notificationsDroppedClientState"] = w.DroppedClientState
		if opts.Counters != nil {
			for k, v := range opts.Counters() {
				c[k] = v
			}
		}
		if opts.CounterGroup == "" {
			return c
		}
		grouped := make(map[string]int64, len(c))
		for k, v := range c {
			grouped[opts.CounterGroup+"."+k] = v
		}
		return grouped
	}
	status := statuspage.Options{
		Store:               a.Store,
		SourceTenant:        a.Config.Source.Tenant,
		Targets:             a.Engine.Targets(),
		Counters:            counters,
		Notifications:       rt.Subscriptions != nil,
		SubscriptionFailure: rt.Pipeline.SubscriptionFailure,
		ReconcileFailure:    rt.Pipeline.ReconcileFailure,
		Logger:              a.Logger,
		AttributeNamesOnly:  opts.StatusAuth != nil,
	}
	if dl := opts.DeadLetters; dl != nil {
		status.DeadLetters = func(ctx context.Context) (int, error) {
			ds, err := dl.List(ctx, 0)
			return len(ds), err
		}
		status.ListDeadLetters = func(ctx context.Context, max int) ([]statuspage.DeadLetter, error) {
			ds, err := dl.List(ctx, max)
			out := make([]statuspage.DeadLetter, len(ds))
			for i, d := range ds {
				out[i] = statuspage.DeadLetterOf(d)
			}
			return out, err
		}
	}
	page, err := statuspage.New(status)
	if err != nil {
		return nil, fmt.Errorf("status page: %w", err)
	}
	rt.Status = page
	if opts.StatusAuth != nil {
		rt.Status = statuspage.RequireOperator(page, *opts.StatusAuth)
	}
	return rt, nil
}
