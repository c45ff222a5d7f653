// Package webhook is the GraphWebhook function: the HTTP endpoint Microsoft
// Graph calls with change notifications for the source tenant's users and
// groups, and with lifecycle notifications for the subscriptions.
//
// A Handler answers Graph's validation handshake, checks every
// notification's clientState against the secret stored for its subscription
// (in constant time), turns each valid notification into one change message
// and puts them all on the change queue in one call, answering 202 well
// within Graph's 3-second limit, or 503 so that Graph retries when the store
// or the queue does not answer in time. A notification is a hint, never
// data: the message names the object, and ProcessChange reads its current
// state.
//
// Past its clientState, a notification must also come from the source
// tenant and be about what its subscription watches, else it is dropped and
// counted, like a wrong clientState:
//
//   - Its tenantId, "the unique identifier of the tenant from which the
//     change notification originated", required in every notification
//     (https://learn.microsoft.com/graph/api/resources/changenotification),
//     must be the source tenant's id. The configured source tenant is that id
//     when it is a GUID. When it is a verified domain, the id is learnt once
//     per process from the source's own Graph client (Options.TenantID: the
//     tid claim of the access token tenantsync signs in with, or, without a
//     token in the simulator, GET /organization, whose id is the one the
//     simulator's notifications carry), never from a notification. It is
//     learnt on the first notification whose clientState is right, so a
//     stranger's POST costs no token request; if it cannot be learnt the
//     POST is answered 503 and Graph delivers it again. Recording the id on
//     each stored subscription would do the same without the one lookup
//     per process, but needs a new field in both stores; the source tenant
//     is one per deployment, so one id for the process is as correct.
//   - Its resource ("Users/{id}" or "Groups/{id}", and resourceData's
//     @odata.type) must be of the kind its subscription's resource (/users
//     or /groups) watches: a /users subscription delivering a group is not
//     what Graph sends.
//
// Both guard against a notification whose clientState leaked, or a
// subscription record from an earlier configuration (another source tenant)
// that is still in the store.
//
// The same Handler serves the lifecycle URL (GraphLifecycle): a
// reauthorizationRequired event asks the subscription manager to reauthorize
// the subscription, subscriptionRemoved to recreate it, in the background and
// bounded in time; the SubscriptionManager timer is the safety net.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/tenantsync/tenantsync/internal/changes"
	"github.com/tenantsync/tenantsync/internal/queue"
	"github.com/tenantsync/tenantsync/internal/store"
)

// Enqueuer puts change messages on the queue; queue.Enqueuer satisfies it.
type Enqueuer interface {
	Enqueue(ctx context.Context, msgs ...queue.Message) error
}

// SubscriptionStore finds the subscriptions tenantsync owns, with their
// secrets; store.Store satisfies it.
type SubscriptionStore interface {
	GetSubscription(ctx context.Context, id string) (store.Subscription, error)
}

// Lifecycle acts on lifecycle notifications; *subscriptions.Manager
// satisfies it.
type Lifecycle interface {
	// Reauthorize reauthorizes (or renews) a subscription Graph says needs
	// it.
	Reauthorize(ctx context.Context, subscriptionID string) error
	// Recreate replaces a subscription Graph says it removed.
	Recreate(ctx context.Context, subscriptionID string) error
}

// Defaults of Options.
const (
	DefaultMaxBodyBytes     = 1 << 20
	DefaultMaxTokenBytes    = 1024
	DefaultDeadline         = 2 * time.Second
	DefaultLifecycleTimeout = 30 * time.Second
	DefaultCacheTTL         = time.Minute
	DefaultMissTTL          = 5 * time.Second
)

// Options configure a Handler.
type Options struct {
	// SourceTenant is the source tenant as configured: its id (a GUID) or a
	// verified domain. Required: a notification from any other tenant is
	// dropped.
	SourceTenant string
	// TenantID returns the source tenant's id; required when SourceTenant
	// is a domain. The source's *graph.Client.TenantID. It is called on the
	// first notification that needs it and until it succeeds, with the
	// POST's deadline; its result is kept for the life of the Handler.
	TenantID func(ctx context.Context) (string, error)
	// Store holds the subscriptions and their clientState secrets. Required.
	Store SubscriptionStore
	// Queue receives one change message per valid notification. Required.
	Queue Enqueuer
	// Lifecycle acts on lifecycle notifications. Nil: they are verified,
	// counted and logged only.
	Lifecycle Lifecycle
	// MaxBodyBytes bounds a notification POST's body; larger bodies are
	// refused with 413. Default 1 MiB.
	MaxBodyBytes int64
	// MaxTokenBytes bounds the decoded validation token; longer ones are
	// refused with 400. Default 1024.
	MaxTokenBytes int
	// Deadline bounds the work behind one notification POST (looking
	// subscriptions up and enqueueing): past it the Handler answers 503 so
	// that Graph delivers again. Graph counts a delivery over 2.9 s as slow,
	// so keep it well under that. Default 2 s.
	Deadline time.Duration
	// LifecycleTimeout bounds the background work for one lifecycle
	// notification. Default 30 s.
	LifecycleTimeout time.Duration
	// CacheTTL is how long a subscription's secret is cached. Default 1 min.
	CacheTTL time.Duration
	// MissTTL is how long "no such subscription" is cached. It is short,
	// because Graph may deliver before a new subscription is recorded.
	// Default 5 s.
	MissTTL time.Duration
	// Now returns the current time, recorded as a change's arrival time.
	// Default time.Now.
	Now func() time.Time
	// Logger receives the handler's records. Default slog.Default().
	Logger *slog.Logger
}

// Handler is the GraphWebhook (and GraphLifecycle) HTTP endpoint. It is
// safe for concurrent use.
type Handler struct {
	opts    Options
	log     *slog.Logger
	secrets *secretCache
	tenant  *sourceTenant
	c       counters

	// Lifecycle work in the background: at most one per subscription.
	lcMu     sync.Mutex
	lcActive map[string]bool
	lcWG     sync.WaitGroup
}

// New returns a Handler.
func New(opts Options) (*Handler, error) {
	if opts.Store == nil {
		return nil, errors.New("webhook: Options.Store is required")
	}
	if opts.Queue == nil {
		return nil, errors.New("webhook: Options.Queue is required")
	}
	tenant, err := newSourceTenant(opts.SourceTenant, opts.TenantID)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxTokenBytes <= 0 {
		opts.MaxTokenBytes = DefaultMaxTokenBytes
	}
	if opts.Deadline <= 0 {
		opts.Deadline = DefaultDeadline
	}
	if opts.LifecycleTimeout <= 0 {
		opts.LifecycleTimeout = DefaultLifecycleTimeout
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = DefaultCacheTTL
	}
	if opts.MissTTL <= 0 {
		opts.MissTTL = DefaultMissTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Handler{
		opts:     opts,
		log:      opts.Logger,
		secrets:  newSecretCache(opts.Store, opts.CacheTTL, opts.MissTTL),
		tenant:   tenant,
		lcActive: map[string]bool{},
	}, nil
}

// Drop reasons, as counted and logged.
const (
	DropUnknownSubscription = "unknownSubscription"
	DropClientState         = "clientStateMismatch"
	// DropTenant: the notification's tenantId is not the source tenant's.
	DropTenant = "tenantMismatch"
	// DropResource: the notification is about another kind of object than
	// its subscription watches.
	DropResource  = "resourceMismatch"
	DropMalformed = "malformed"
)

// ServeHTTP answers Graph: the validation handshake when the query carries
// a validationToken, change and lifecycle notifications otherwise.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		h.c.rejected.Add(1)
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed: Graph POSTs notifications", http.StatusMethodNotAllowed)
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		h.c.rejected.Add(1)
		http.Error(w, "malformed query string", http.StatusBadRequest)
		return
	}
	if tokens, ok := q["validationToken"]; ok {
		h.validate(w, tokens)
		return
	}
	h.notify(w, r)
}

// validate answers the validation handshake: 200, text/plain, the decoded
// token and nothing else. The token is echoed as bytes with no markup, and
// nosniff keeps a browser from reading it as anything but text.
func (h *Handler) validate(w http.ResponseWriter, tokens []string) {
	if len(tokens) != 1 || tokens[0] == "" {
		h.c.validationsRefused.Add(1)
		http.Error(w, "want exactly one non-empty validationToken", http.StatusBadRequest)
		return
	}
	token := tokens[0]
	if len(token) > h.opts.MaxTokenBytes {
		h.c.validationsRefused.Add(1)
		http.Error(w, fmt.Sprintf("validationToken longer than %d bytes", h.opts.MaxTokenBytes), http.StatusBadRequest)
		return
	}
	h.c.validations.Add(1)
	hd := w.Header()
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, token)
	h.log.Info("answered Graph's validation handshake", "tokenBytes", len(token))
}

func (h *Handler) notify(w http.ResponseWriter, r *http.Request) {
	arrived := h.opts.Now()
	began := time.Now()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	if err != nil {
		h.c.rejected.Add(1)
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("body larger than %d bytes", h.opts.MaxBodyBytes), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading the body failed", http.StatusBadRequest)
		return
	}
	var coll collection
	if err := json.Unmarshal(body, &coll); err != nil {
		h.c.rejected.Add(1)
		http.Error(w, "malformed JSON: want a change notification collection", http.StatusBadRequest)
		return
	}
	if coll.Value == nil {
		h.c.rejected.Add(1)
		http.Error(w, `malformed notification: no "value" array`, http.StatusBadRequest)
		return
	}
	items := *coll.Value
	h.c.requests.Add(1)
	h.c.received.Add(int64(len(items)))

	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Deadline)
	defer cancel()

	var (
		msgs      []queue.Message
		lifecycle []notification
		dropped   int
	)
	for _, n := range items {
		sub, reason, err := h.verify(ctx, n)
		if err != nil {
			h.fail(w, "look the subscription up", n.SubscriptionID, err)
			return
		}
		if reason == "" {
			reason, err = h.fromSource(ctx, n)
			if err != nil {
				h.fail(w, "learn the source tenant's id", n.SubscriptionID, err)
				return
			}
		}
		if reason != "" {
			h.drop(n, reason)
			dropped++
			continue
		}
		if n.LifecycleEvent != "" {
			lifecycle = append(lifecycle, n)
			continue
		}
		c, ok := changeOf(n)
		if !ok {
			h.drop(n, DropMalformed)
			dropped++
			continue
		}
		if c.Kind != sub.kind {
			h.drop(n, DropResource)
			dropped++
			continue
		}
		c.Observed, c.Cause = arrived, "notification"
		m, err := changes.Message(c)
		if err != nil {
			h.drop(n, DropMalformed)
			dropped++
			continue
		}
		msgs = append(msgs, m)
		h.log.Debug("change notification", "subscription", n.SubscriptionID, "changeType", n.ChangeType,
			"kind", c.Kind, "objectId", c.ID)
	}
	if len(msgs) > 0 {
		if err := h.enqueue(ctx, msgs); err != nil {
			h.fail(w, "enqueue changes", "", err)
			return
		}
		h.c.enqueued.Add(int64(len(msgs)))
	}
	for _, n := range lifecycle {
		h.lifecycle(n)
	}
	w.WriteHeader(http.StatusAccepted)
	h.log.Info("change notifications accepted", "received", len(items), "enqueued", len(msgs),
		"lifecycle", len(lifecycle), "dropped", dropped, "took", time.Since(began))
}

// enqueue runs the enqueue under ctx, and returns when ctx ends even if the
// queue ignores it: the Handler must answer Graph in time.
func (h *Handler) enqueue(ctx context.Context, msgs []queue.Message) error {
	done := make(chan error, 1)
	go func() { done <- h.opts.Queue.Enqueue(ctx, msgs...) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Handler) fail(w http.ResponseWriter, doing, subscriptionID string, err error) {
	h.c.failures.Add(1)
	attrs := []any{"err", err}
	if subscriptionID != "" {
		attrs = append(attrs, "subscription", subscriptionID)
	}
	h.log.Error("change notifications refused with 503: "+doing+" failed; Graph will deliver them again", attrs...)
	w.Header().Set("Retry-After", "5")
	http.Error(w, "temporarily unable to accept notifications", http.StatusServiceUnavailable)
}
