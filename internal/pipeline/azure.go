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
// The custom handler matches them without regard to case, as the host does.
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

// Functions is what the host's functions run on.
type Functions struct {
	Pipeline *Pipeline
	HTTPHandlers
}

// Register installs the functions on a custom-handler server, for the Azure
// Functions host. A failed ProcessChange invocation makes the host abandon
// the message, which Service Bus delivers again and dead-letters after its
// maximum delivery count; the host offers a custom handler no way to
// dead-letter at once, so errors that never heal take that path too, with
// the reason in the logs.
func (p *Pipeline) Register(srv *customhandler.Server, h HTTPHandlers) {
	fns := Functions{Pipeline: p, HTTPHandlers: h}
	RegisterDeferred(srv, func() Functions { return fns })
}

// RegisterDeferred is Register for functions whose pipeline does not exist
// yet when the server starts: get is called for each invocation and
// forwarded request, after the server's ServerOptions.Ready wait, and must
// return what the functions run on by then. It lets the custom handler
// listen, and answer the host's readiness probe, before the store and queue
// are open. An HTTP function whose handler get leaves nil answers 404.
//
// ProcessChange invocations get ProcessChangeTimeout as their deadline; the
// wait for Ready counts against it.
func RegisterDeferred(srv *customhandler.Server, get func() Functions) {
	srv.HandleInvocationTimeout(FunctionProcessChange, ProcessChangeTimeout, func(ctx context.Context, inv *customhandler.Invocation) (*customhandler.Response, error) {
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
		if err := get().Pipeline.ProcessChange(ctx, d); err != nil {
			return nil, err
		}
		return &customhandler.Response{}, nil
	})
	srv.HandleInvocation(FunctionReconcile, func(ctx context.Context, inv *customhandler.Invocation) (*customhandler.Response, error) {
		if _, err := customhandler.TimerInfo(inv, bindingTimer); err != nil {
			return nil, err
		}
		if _, err := get().Pipeline.Reconcile(ctx, false); err != nil {
			return nil, err
		}
		return &customhandler.Response{}, nil
	})
	srv.HandleInvocation(FunctionSubscriptionManager, func(ctx context.Context, inv *customhandler.Invocation) (*customhandler.Response, error) {
		if _, err := customhandler.TimerInfo(inv, bindingTimer); err != nil {
			return nil, err
		}
		if err := get().Pipeline.ManageSubscriptions(ctx); err != nil {
			return nil, err
		}
		return &customhandler.Response{}, nil
	})
	handler := func(pick func(HTTPHandlers) http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := pick(get().HTTPHandlers)
			if h == nil {
				http.NotFound(w, r)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	webhook := handler(func(h HTTPHandlers) http.Handler { return h.Webhook })
	srv.HandleHTTP(RouteWebhook, webhook)
	srv.HandleHTTP(RouteLifecycle, webhook)
	srv.HandleHTTP(RouteStatus, handler(func(h HTTPHandlers) http.Handler { return h.Status }))
}
