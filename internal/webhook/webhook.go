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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantsync/tenantsync/internal/changes"
	"github.com/tenantsync/tenantsync/internal/engine"
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

// notification is one element of a notification POST's value array; only
// the fields tenantsync reads.
type notification struct {
	SubscriptionID string `json:"subscriptionId"`
	ClientState    string `json:"clientState"`
	ChangeType     string `json:"changeType"`
	Resource       string `json:"resource"`
	ResourceData   *struct {
		ODataType string `json:"@odata.type"`
		ID        string `json:"id"`
	} `json:"resourceData"`
	TenantID       string `json:"tenantId"`
	LifecycleEvent string `json:"lifecycleEvent"`
}

// collection is the body of a notification POST.
type collection struct {
	Value *[]notification `json:"value"`
}

// Lifecycle events.
const (
	EventReauthorizationRequired = "reauthorizationRequired"
	EventSubscriptionRemoved     = "subscriptionRemoved"
	EventMissed                  = "missed"
)

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

// verify checks n's clientState against its subscription's secret. It
// returns the subscription and a drop reason, or an error when the store
// failed.
func (h *Handler) verify(ctx context.Context, n notification) (subscription, string, error) {
	if !isGUID(n.SubscriptionID) {
		// Graph's subscription ids are GUIDs: anything else is dropped
		// before a lookup, and never logged in full.
		return subscription{}, DropMalformed, nil
	}
	sub, found, err := h.secrets.get(ctx, n.SubscriptionID)
	if err != nil {
		return subscription{}, "", err
	}
	if !found {
		return subscription{}, DropUnknownSubscription, nil
	}
	// A subscription without a secret would accept anything: never.
	if !store.ClientStateMatches(sub.secret, n.ClientState) {
		return subscription{}, DropClientState, nil
	}
	return sub, "", nil
}

// fromSource checks that an authentic notification comes from the source
// tenant. It returns a drop reason, or an error when the source tenant's
// id could not be learnt.
func (h *Handler) fromSource(ctx context.Context, n notification) (string, error) {
	want, err := h.tenant.get(ctx)
	if err != nil {
		return "", err
	}
	if !strings.EqualFold(strings.TrimSpace(n.TenantID), want) {
		return DropTenant, nil
	}
	return "", nil
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

func (h *Handler) drop(n notification, reason string) {
	switch reason {
	case DropUnknownSubscription:
		h.c.droppedUnknown.Add(1)
	case DropClientState:
		h.c.droppedClientState.Add(1)
	case DropTenant:
		h.c.droppedTenant.Add(1)
	case DropResource:
		h.c.droppedResource.Add(1)
	default:
		h.c.droppedMalformed.Add(1)
	}
	// Never the clientState: a mismatch may be a probe with a guess. The
	// tenant ids are not secret, and say where a stray notification came
	// from.
	attrs := []any{"reason", reason, "subscription", truncate(n.SubscriptionID, 64),
		"resource", truncate(n.Resource, 200), "lifecycleEvent", truncate(n.LifecycleEvent, 64)}
	if reason == DropTenant {
		attrs = append(attrs, "tenantId", truncate(n.TenantID, 64), "sourceTenantId", h.tenant.known())
	}
	h.log.Warn("change notification dropped", attrs...)
}

// changeOf reads the object a change notification is about, from
// resourceData (@odata.type and id) and resource ("Users/{id}",
// "Groups/{id}"), which must agree where both are present.
func changeOf(n notification) (engine.Change, bool) {
	var kind engine.Kind
	var id string
	if rk, rid, ok := parseResource(n.Resource); ok {
		kind, id = rk, rid
	} else if n.Resource != "" {
		return engine.Change{}, false
	}
	if d := n.ResourceData; d != nil {
		if d.ODataType != "" {
			k, ok := kindOfType(d.ODataType)
			if !ok || kind != "" && k != kind {
				return engine.Change{}, false
			}
			kind = k
		}
		if d.ID != "" {
			if id != "" && !strings.EqualFold(d.ID, id) {
				return engine.Change{}, false
			}
			id = d.ID
		}
	}
	if kind == "" || !validID(id) {
		return engine.Change{}, false
	}
	return engine.Change{Kind: kind, ID: strings.ToLower(id)}, true
}

// parseResource reads "Users/{id}" or "Groups/{id}" (any case, an optional
// leading slash).
func parseResource(resource string) (engine.Kind, string, bool) {
	coll, id, ok := strings.Cut(strings.TrimPrefix(resource, "/"), "/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", "", false
	}
	switch strings.ToLower(coll) {
	case "users":
		return engine.KindUser, id, true
	case "groups":
		return engine.KindGroup, id, true
	}
	return "", "", false
}

// kindOfType reads "#Microsoft.Graph.User" or "#microsoft.graph.group".
func kindOfType(t string) (engine.Kind, bool) {
	switch strings.ToLower(strings.TrimPrefix(t, "#")) {
	case "microsoft.graph.user":
		return engine.KindUser, true
	case "microsoft.graph.group":
		return engine.KindGroup, true
	}
	return "", false
}

// validID accepts directory object ids: GUIDs, or at least nothing but
// letters, digits and hyphens, as the id becomes a queue session id.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

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
