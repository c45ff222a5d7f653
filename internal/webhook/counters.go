package webhook

import (
	"log/slog"
	"sync/atomic"
)

// counters are the Handler's live counters.
type counters struct {
	requests, received, enqueued                         atomic.Int64
	droppedUnknown, droppedClientState, droppedMalformed atomic.Int64
	droppedTenant, droppedResource                       atomic.Int64
	validations, validationsRefused, rejected, failures  atomic.Int64
	lifecycle, lifecycleDone, lifecycleFailures          atomic.Int64
}

// Counters count what a Handler did since it was created, for the status
// page and logs.
type Counters struct {
	// Requests are notification POSTs accepted for processing.
	Requests int64 `json:"requests"`
	// Received are the notifications in them.
	Received int64 `json:"received"`
	// Enqueued are change messages put on the queue.
	Enqueued int64 `json:"enqueued"`
	// Dropped are notifications dropped, by reason.
	DroppedUnknownSubscription int64 `json:"droppedUnknownSubscription"`
	DroppedClientState         int64 `json:"droppedClientState"`
	// DroppedTenant: authentic notifications from another tenant than the
	// source; DroppedResource: about another kind of object than their
	// subscription watches.
	DroppedTenant    int64 `json:"droppedTenant"`
	DroppedResource  int64 `json:"droppedResource"`
	DroppedMalformed int64 `json:"droppedMalformed"`
	// Validations are validation handshakes answered; ValidationsRefused
	// those refused (empty, repeated or too long tokens).
	Validations        int64 `json:"validations"`
	ValidationsRefused int64 `json:"validationsRefused"`
	// Rejected are requests refused before any notification was read: wrong
	// method, malformed query or JSON, body too large.
	Rejected int64 `json:"rejected"`
	// Failures are requests answered 503 because the store or the queue
	// failed or was too slow; Graph delivers them again.
	Failures int64 `json:"failures"`
	// Lifecycle are verified lifecycle notifications; LifecycleDone and
	// LifecycleFailures count the actions taken on them.
	Lifecycle         int64 `json:"lifecycle"`
	LifecycleDone     int64 `json:"lifecycleDone"`
	LifecycleFailures int64 `json:"lifecycleFailures"`
}

// Dropped returns the notifications dropped for any reason.
func (c Counters) Dropped() int64 {
	return c.DroppedUnknownSubscription + c.DroppedClientState + c.DroppedTenant + c.DroppedResource + c.DroppedMalformed
}

// LogValue implements slog.LogValuer.
func (c Counters) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int64("requests", c.Requests), slog.Int64("received", c.Received), slog.Int64("enqueued", c.Enqueued),
		slog.Int64("droppedUnknownSubscription", c.DroppedUnknownSubscription),
		slog.Int64("droppedClientState", c.DroppedClientState), slog.Int64("droppedTenant", c.DroppedTenant),
		slog.Int64("droppedResource", c.DroppedResource), slog.Int64("droppedMalformed", c.DroppedMalformed),
		slog.Int64("validations", c.Validations), slog.Int64("validationsRefused", c.ValidationsRefused),
		slog.Int64("rejected", c.Rejected), slog.Int64("failures", c.Failures),
		slog.Int64("lifecycle", c.Lifecycle), slog.Int64("lifecycleDone", c.LifecycleDone),
		slog.Int64("lifecycleFailures", c.LifecycleFailures),
	)
}

// Counters returns a snapshot of the counters.
func (h *Handler) Counters() Counters {
	return Counters{
		Requests: h.c.requests.Load(), Received: h.c.received.Load(), Enqueued: h.c.enqueued.Load(),
		DroppedUnknownSubscription: h.c.droppedUnknown.Load(), DroppedClientState: h.c.droppedClientState.Load(),
		DroppedTenant: h.c.droppedTenant.Load(), DroppedResource: h.c.droppedResource.Load(),
		DroppedMalformed: h.c.droppedMalformed.Load(),
		Validations:      h.c.validations.Load(), ValidationsRefused: h.c.validationsRefused.Load(),
		Rejected: h.c.rejected.Load(), Failures: h.c.failures.Load(),
		Lifecycle: h.c.lifecycle.Load(), LifecycleDone: h.c.lifecycleDone.Load(),
		LifecycleFailures: h.c.lifecycleFailures.Load(),
	}
}
