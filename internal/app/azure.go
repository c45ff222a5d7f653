package app

import (
	"context"
	"fmt"
	"net/url"

	"github.com/tenantsync/tenantsync/internal/customhandler"
	"github.com/tenantsync/tenantsync/internal/functionkey"
	"github.com/tenantsync/tenantsync/internal/pipeline"
	"github.com/tenantsync/tenantsync/internal/queue/servicebus"
	"github.com/tenantsync/tenantsync/internal/settings"
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

// ServeFunctions serves the Azure Functions host as its custom handler on
// port, until ctx ends: ProcessChange on Service Bus, the two timers, and
// the forwarded HTTP functions (webhook, lifecycle, status).
func (a *App) ServeFunctions(ctx context.Context, port string) error {
	q, ok, err := OpenServiceBus(a.Env)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no Service Bus: set %s (managed identity) or %s", settings.ServiceBusNamespace, settings.ServiceBusConnectionString)
	}
	defer q.Close(context.WithoutCancel(ctx))
	urls, err := a.notificationURLs()
	if err != nil {
		return err
	}
	rt, err := a.Runtime(RuntimeOptions{Queue: q, URLs: urls})
	if err != nil {
		return err
	}
	srv := customhandler.NewServer(&customhandler.ServerOptions{Logger: a.Logger})
	rt.Pipeline.Register(srv, pipeline.HTTPHandlers{Webhook: rt.Webhook, Status: rt.Status})
	a.Logger.InfoContext(ctx, "serving the Functions host", "port", port, "config", a.ConfigSource)
	err = customhandler.ListenAndServe(ctx, port, srv)
	rt.Webhook.Wait()
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
