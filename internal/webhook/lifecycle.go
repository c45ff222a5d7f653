package webhook

import "context"

// Lifecycle notifications: Graph asks tenantsync to reauthorize or
// recreate a subscription.

// Lifecycle events.
const (
	EventReauthorizationRequired = "reauthorizationRequired"
	EventSubscriptionRemoved     = "subscriptionRemoved"
	EventMissed                  = "missed"
)

// lifecycle acts on a verified lifecycle notification in the background, at
// most once at a time per subscription, bounded by LifecycleTimeout.
func (h *Handler) lifecycle(n notification) {
	id, event := n.SubscriptionID, n.LifecycleEvent
	h.c.lifecycle.Add(1)
	log := h.log.With("subscription", id, "lifecycleEvent", truncate(event, 64))
	var act func(context.Context, string) error
	switch event {
	case EventReauthorizationRequired:
		if h.opts.Lifecycle != nil {
			act = h.opts.Lifecycle.Reauthorize
		}
	case EventSubscriptionRemoved:
		if h.opts.Lifecycle != nil {
			act = h.opts.Lifecycle.Recreate
		}
	case EventMissed:
		log.Warn("Graph missed change notifications; the next reconcile repairs what they carried")
		return
	default:
		log.Warn("unknown lifecycle event ignored")
		return
	}
	if act == nil {
		log.Warn("lifecycle notification not acted on: no subscription manager; the SubscriptionManager timer will")
		return
	}
	h.lcMu.Lock()
	if h.lcActive[id] {
		h.lcMu.Unlock()
		log.Info("lifecycle notification: the subscription is already being handled")
		return
	}
	h.lcActive[id] = true
	h.lcWG.Add(1)
	h.lcMu.Unlock()
	go func() {
		defer func() {
			h.lcMu.Lock()
			delete(h.lcActive, id)
			h.lcMu.Unlock()
			h.lcWG.Done()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), h.opts.LifecycleTimeout)
		defer cancel()
		if err := act(ctx, id); err != nil {
			h.c.lifecycleFailures.Add(1)
			log.Error("acting on the lifecycle notification failed; the SubscriptionManager timer will retry", "err", err)
			return
		}
		h.c.lifecycleDone.Add(1)
		log.Info("acted on the lifecycle notification")
	}()
}

// Wait waits until the lifecycle work started so far has finished, such as
// before the process exits.
func (h *Handler) Wait() { h.lcWG.Wait() }
