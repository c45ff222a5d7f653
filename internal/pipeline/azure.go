package pipeline

import (
	"context"
	"net/http"

	"github.com/tenantsync/tenantsync/internal/customhandler"
	"github.com/tenantsync/tenantsync/internal/queue"
)

// Function and binding names, as in functions/<Name>/function.json.
const (
	FunctionProcessChange       = "ProcessChange"
	FunctionReconcile           = "Reconcile"
	FunctionSubscriptionManager = "SubscriptionManager"
	bindingMessage              = "message"
	bindingTimer                = "timer"
)

// HTTP routes the Functions host forwards, as in functions/*/function.json
// under host.json's "api" route prefix. The local runner serves the same.
const (
	RouteWebhook   = "POST /api/GraphWebhook"
	RouteLifecycle = "POST /api/GraphLifecycle"
	RouteStatus    = "GET /api/status"
)

// HTTPHandlers are the HTTP functions' handlers.
type HTTPHandlers struct {
	Webhook http.Handler // serves GraphWebhook and GraphLifecycle
	Status  http.Handler
}

// Register installs the functions on a custom-handler server, for the Azure
// Functions host. A failed ProcessChange invocation makes the host abandon
// the message, which Service Bus delivers again and dead-letters after its
// maximum delivery count; the host offers a custom handler no way to
// dead-letter at once, so errors that never heal take that path too, with
// the reason in the logs.
func (p *Pipeline) Register(srv *customhandler.Server, h HTTPHandlers) {
	srv.HandleInvocation(FunctionProcessChange, func(ctx context.Context, inv *customhandler.Invocation) (*customhandler.Response, error) {
		m, err := customhandler.ServiceBusMessage(inv, bindingMessage)
		if err != nil {
			return nil, err
		}
		d := queue.Delivery{
			Message: queue.Message{
				ID:          m.MessageID,
				SessionID:   m.SessionID,
				Body:        m.Body,
				ContentType: m.ContentType,
				Properties:  m.ApplicationProperties,
			},
			DeliveryCount:  m.DeliveryCount,
			SequenceNumber: m.SequenceNumber,
			EnqueuedAt:     m.EnqueuedTime,
		}
		if err := p.ProcessChange(ctx, d); err != nil {
			return nil, err
		}
		return &customhandler.Response{}, nil
	})
	srv.HandleInvocation(FunctionReconcile, func(ctx context.Context, inv *customhandler.Invocation) (*customhandler.Response, error) {
		if _, err := customhandler.TimerInfo(inv, bindingTimer); err != nil {
			return nil, err
		}
		if _, err := p.Reconcile(ctx, false); err != nil {
			return nil, err
		}
		return &customhandler.Response{}, nil
	})
	srv.HandleInvocation(FunctionSubscriptionManager, func(ctx context.Context, inv *customhandler.Invocation) (*customhandler.Response, error) {
		if _, err := customhandler.TimerInfo(inv, bindingTimer); err != nil {
			return nil, err
		}
		if err := p.ManageSubscriptions(ctx); err != nil {
			return nil, err
		}
		return &customhandler.Response{}, nil
	})
	if h.Webhook != nil {
		srv.HandleHTTP(RouteWebhook, h.Webhook)
		srv.HandleHTTP(RouteLifecycle, h.Webhook)
	}
	if h.Status != nil {
		srv.HandleHTTP(RouteStatus, h.Status)
	}
}
