// Package subscriptions is the SubscriptionManager: it keeps exactly one live
// Microsoft Graph change-notification subscription per source resource
// (/users and /groups), each with its own clientState secret recorded in the
// store, where the webhook finds it to verify notifications.
//
// Manager.Ensure creates what is missing, renews what expires soon, replaces
// what Graph lost or what points at an outdated URL (a rotated function
// key), and deletes the extras it owns. It is idempotent, and safe when two
// instances run it at once: both may create a subscription for a resource,
// but each records its own before it looks, so at least one of them sees
// both and deletes all but the one with the smallest id, which nobody
// deletes. Renewals write the record conditionally on its ETag.
//
// Under the Functions host, before it creates a subscription the manager
// sends the webhook one validation request of its own (Options.WarmUpClient),
// so that Graph's validation request does not meet a cold start.
package subscriptions

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/store"
)

// GraphSubscription is a subscription as Graph reports it.
type GraphSubscription struct {
	ID                       string
	Resource                 string
	ChangeType               string
	NotificationURL          string
	LifecycleNotificationURL string
	// ClientState is the secret Graph echoes in notifications; never
	// logged.
	ClientState string
	Expiry      time.Time
}

// LogValue leaves the secret out, and the query of the URLs, which carries
// the function key.
func (s GraphSubscription) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", s.ID),
		slog.String("resource", s.Resource),
		slog.String("notificationUrl", Redact(s.NotificationURL)),
		slog.Time("expiry", s.Expiry),
	)
}

// String describes the subscription without its secrets.
func (s GraphSubscription) String() string {
	return fmt.Sprintf("graph subscription %s (%s, %s, expires %s)", s.ID, s.Resource,
		Redact(s.NotificationURL), s.Expiry.Format(time.RFC3339))
}

// GoString is String, for %#v.
func (s GraphSubscription) GoString() string { return s.String() }

// Graph is the subscription API of the source tenant's Graph; the Graph
// adapter (*graph.Client) implements it. Errors are *directory.Error, so
// that a vanished subscription is directory.ErrNotFound.
type Graph interface {
	// CreateSubscription creates s (its ID is ignored); Graph validates
	// the notification and lifecycle URLs before it answers.
	CreateSubscription(ctx context.Context, s GraphSubscription) (GraphSubscription, error)
	GetSubscription(ctx context.Context, id string) (GraphSubscription, error)
	// RenewSubscription sets a new expiry.
	RenewSubscription(ctx context.Context, id string, expiry time.Time) (GraphSubscription, error)
	DeleteSubscription(ctx context.Context, id string) error
	// ReauthorizeSubscription answers a reauthorizationRequired challenge.
	ReauthorizeSubscription(ctx context.Context, id string) error
	// ListSubscriptions lists the application's subscriptions in the
	// tenant.
	ListSubscriptions(ctx context.Context) ([]GraphSubscription, error)
}

// Store keeps the subscriptions and their secrets; store.Store satisfies it.
type Store interface {
	GetSubscription(ctx context.Context, id string) (store.Subscription, error)
	PutSubscription(ctx context.Context, s store.Subscription) (store.Subscription, error)
	DeleteSubscription(ctx context.Context, id string) error
	ListSubscriptions(ctx context.Context) ([]store.Subscription, error)
}

// MaxLifetime is the longest subscription lifetime Graph allows for users
// and groups.
const MaxLifetime = 41760 * time.Minute

// Defaults of Options.
const (
	// DefaultLifetime keeps an hour's margin under MaxLifetime for clock
	// skew between this machine and Graph.
	DefaultLifetime = MaxLifetime - time.Hour
	// DefaultRenewBefore renews a subscription once half its lifetime has
	// passed: with the timer every 6 hours that leaves two weeks of runs to
	// succeed in.
	DefaultRenewBefore = DefaultLifetime / 2
	// DefaultChangeType is what users and groups support: "updated" covers
	// creation, changes and soft deletion, "deleted" permanent deletion.
	DefaultChangeType = "updated,deleted"
	// DefaultOrphanGrace protects a subscription another instance has just
	// created and not yet recorded from being taken for an orphan.
	DefaultOrphanGrace = 15 * time.Minute
)

// DefaultResources are the source resources watched.
var DefaultResources = []string{"/users", "/groups"}

// Options configure a Manager.
type Options struct {
	// Graph is the source tenant's Graph. Required.
	Graph Graph
	// Store records the subscriptions and their secrets. Required.
	Store Store
	// Tenant is the source tenant id or domain, as recorded. Required.
	Tenant string
	// NotificationURL is the GraphWebhook URL Graph calls, with its
	// function key in Azure. LifecycleURL is the GraphLifecycle URL; empty
	// means no lifecycle notifications. Either set NotificationURL or URLs.
	NotificationURL string
	LifecycleURL    string
	// URLs, when set, returns the notification and lifecycle URLs at each
	// Ensure instead of NotificationURL and LifecycleURL: for URLs that
	// carry a function key read at run time (see package functionkey).
	URLs func(ctx context.Context) (notification, lifecycle string, err error)
	// Resources to keep a subscription for. Default DefaultResources.
	Resources []string
	// ChangeType of the subscriptions. Default DefaultChangeType.
	ChangeType string
	// Lifetime of a created or renewed subscription, at most MaxLifetime.
	// Default DefaultLifetime.
	Lifetime time.Duration
	// RenewBefore renews a subscription when it expires within this.
	// Default DefaultRenewBefore; it must be less than Lifetime.
	RenewBefore time.Duration
	// OrphanGrace: a subscription Graph lists at our URL but the store does
	// not know is deleted only when it was created longer ago than this.
	// Default DefaultOrphanGrace.
	OrphanGrace time.Duration
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// Logger receives the manager's records. Default slog.Default().
	Logger *slog.Logger
	// WarmUpClient, when set, sends one validation request of our own to
	// the notification URL before each subscription is created, so that
	// Graph's validation request (which must be answered within 10 s,
	// https://learn.microsoft.com/graph/change-notifications-delivery-webhooks#notificationurl-validation)
	// finds the webhook's instance started: on Flex Consumption the HTTP
	// functions may have no instance at all until a request arrives. The
	// warm-up is bounded by WarmUpTimeout, logged, and never fails a run by
	// itself. Nil: no warm-up (local runs, tests).
	WarmUpClient *http.Client
	// WarmUpTimeout bounds the warm-up request. Default DefaultWarmUpTimeout.
	WarmUpTimeout time.Duration
}

// DefaultWarmUpTimeout bounds the warm-up request: long enough for a cold
// start of the webhook's instance, short enough that a webhook that does
// not answer delays the run by little before Graph's own attempt.
const DefaultWarmUpTimeout = 10 * time.Second

// warmUpToken is the validationToken of the warm-up request; the webhook
// echoes it as it does Graph's.
const warmUpToken = "tenantsync warm-up"

// Manager keeps the subscriptions alive. It is safe for concurrent use;
// within one Manager, runs are serialised.
type Manager struct {
	opts Options
	log  *slog.Logger
	mu   sync.Mutex
}

// New returns a Manager.
func New(opts Options) (*Manager, error) {
	switch {
	case opts.Graph == nil:
		return nil, errors.New("subscriptions: Options.Graph is required")
	case opts.Store == nil:
		return nil, errors.New("subscriptions: Options.Store is required")
	case opts.Tenant == "":
		return nil, errors.New("subscriptions: Options.Tenant is required")
	case opts.NotificationURL == "" && opts.URLs == nil:
		return nil, errors.New("subscriptions: Options.NotificationURL or Options.URLs is required")
	}
	if len(opts.Resources) == 0 {
		opts.Resources = DefaultResources
	}
	if opts.ChangeType == "" {
		opts.ChangeType = DefaultChangeType
	}
	if opts.Lifetime <= 0 {
		opts.Lifetime = DefaultLifetime
	}
	if opts.Lifetime > MaxLifetime {
		return nil, fmt.Errorf("subscriptions: Lifetime %v exceeds Graph's %v for users and groups", opts.Lifetime, MaxLifetime)
	}
	if opts.RenewBefore <= 0 {
		opts.RenewBefore = opts.Lifetime / 2
	}
	if opts.RenewBefore >= opts.Lifetime {
		return nil, fmt.Errorf("subscriptions: RenewBefore %v must be less than Lifetime %v", opts.RenewBefore, opts.Lifetime)
	}
	if opts.OrphanGrace <= 0 {
		opts.OrphanGrace = DefaultOrphanGrace
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.WarmUpTimeout <= 0 {
		opts.WarmUpTimeout = DefaultWarmUpTimeout
	}
	return &Manager{opts: opts, log: opts.Logger.With("tenant", opts.Tenant)}, nil
}

// Result is what one Ensure did.
type Result struct {
	// Live are the recorded subscriptions after the run, one per resource
	// unless something failed.
	Live []store.Subscription
	// Created, Renewed and Removed are subscription ids.
	Created []string
	Renewed []string
	Removed []string
}

// LogValue summarises the result.
func (r Result) LogValue() slog.Value {
	ids := make([]string, len(r.Live))
	for i, s := range r.Live {
		ids[i] = s.Resource + "=" + s.ID
	}
	return slog.GroupValue(
		slog.Any("live", ids),
		slog.Any("created", r.Created),
		slog.Any("renewed", r.Renewed),
		slog.Any("removed", r.Removed),
	)
}

// Ensure keeps exactly one live subscription per resource. It carries on
// past a failure with one resource or subscription and returns the failures
// joined.
func (m *Manager) Ensure(ctx context.Context) (Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ensure(ctx)
}

// ensureRun is one Ensure's state, so that its three phases take one
// argument: the recorded subscriptions reviewed (renewed, or removed when
// they no longer serve), the missing ones created (one per resource), and
// the orphans in Graph swept.
type ensureRun struct {
	m                       *Manager
	now                     time.Time
	notifyURL, lifecycleURL string // empty when the URLs could not be had
	remote                  []GraphSubscription
	inGraph                 map[string]GraphSubscription // by lower-case id
	recorded                map[string]bool              // ids any record knows, lower case
	live                    map[string][]store.Subscription
	res                     Result
	errs                    []error
}

func (m *Manager) ensure(ctx context.Context) (Result, error) {
	run := &ensureRun{m: m, now: m.opts.Now(), recorded: map[string]bool{}, live: map[string][]store.Subscription{}}

	// The URLs first: without them nothing can be created, but renewals
	// still can and must go on.
	var urlErr error
	run.notifyURL, run.lifecycleURL, urlErr = m.urls(ctx)
	if urlErr != nil {
		run.errs = append(run.errs, fmt.Errorf("notification URLs: %w", urlErr))
		run.notifyURL, run.lifecycleURL = "", ""
	}

	// The store before Graph: a subscription another instance creates in
	// between is then young in Graph's list, and OrphanGrace spares it.
	all, err := m.opts.Store.ListSubscriptions(ctx)
	if err != nil {
		return run.res, fmt.Errorf("ensure subscriptions: list recorded subscriptions: %w", err)
	}
	run.remote, err = m.opts.Graph.ListSubscriptions(ctx)
	if err != nil {
		return run.res, fmt.Errorf("ensure subscriptions: list Graph subscriptions: %w", err)
	}
	run.inGraph = make(map[string]GraphSubscription, len(run.remote))
	for _, r := range run.remote {
		run.inGraph[strings.ToLower(r.ID)] = r
	}

	for _, rec := range all {
		run.review(ctx, rec)
	}
	for _, resource := range m.opts.Resources {
		run.fill(ctx, resource)
	}
	if run.notifyURL != "" {
		run.sweep(ctx)
	}

	err = errors.Join(run.errs...)
	if err != nil {
		m.log.Error("subscriptions ensured with failures", "result", run.res, "err", err)
	} else {
		m.log.Info("subscriptions ensured", "result", run.res)
	}
	return run.res, err
}

// review keeps a recorded subscription of this tenant live (renewing it
// when it expires soon) or removes it when it no longer serves: its
// resource is not watched, it expired, Graph lost it, or its URLs are
// outdated.
func (run *ensureRun) review(ctx context.Context, rec store.Subscription) {
	m, now := run.m, run.now
	run.recorded[strings.ToLower(rec.ID)] = true
	if rec.Tenant != m.opts.Tenant {
		return
	}
	log := m.log.With("subscription", rec)
	r, found := run.inGraph[strings.ToLower(rec.ID)]
	if !found && now.Before(rec.Expiry) && slices.Contains(m.opts.Resources, rec.Resource) {
		// Graph's list may lag behind a subscription created a moment
		// ago: ask for this one before giving it up.
		got, err := m.opts.Graph.GetSubscription(ctx, rec.ID)
		switch {
		case err == nil:
			r, found = got, true
		case !errors.Is(err, directory.ErrNotFound):
			run.errs = append(run.errs, fmt.Errorf("get subscription %s: %w", rec.ID, err))
			run.live[rec.Resource] = append(run.live[rec.Resource], rec)
			return
		}
	}
	var why string
	switch {
	case !slices.Contains(m.opts.Resources, rec.Resource):
		why = "its resource is no longer watched"
	case !now.Before(rec.Expiry):
		why = "it expired"
	case !found:
		why = "Graph no longer has it"
	case run.notifyURL != "" && !sameURL(r.NotificationURL, run.notifyURL):
		why = "its notification URL is outdated"
	case run.notifyURL != "" && !sameURL(r.LifecycleNotificationURL, run.lifecycleURL):
		why = "its lifecycle URL is outdated"
	}
	if why != "" {
		log.Info("removing subscription: " + why)
		run.remove(ctx, rec)
		return
	}
	if rec.Expiry.Sub(now) < m.opts.RenewBefore {
		renewed, err := m.renew(ctx, rec, now)
		switch {
		case errors.Is(err, directory.ErrNotFound):
			log.Info("removing subscription: Graph no longer has it")
			run.remove(ctx, rec)
			return
		case err != nil:
			// Not expired yet: it still works; the next run retries.
			run.errs = append(run.errs, err)
		default:
			rec = renewed
			run.res.Renewed = append(run.res.Renewed, rec.ID)
		}
	}
	run.live[rec.Resource] = append(run.live[rec.Resource], rec)
}

// fill makes exactly one live subscription watch resource: it creates one
// when none is, and removes all but one when concurrent runs made several.
func (run *ensureRun) fill(ctx context.Context, resource string) {
	m := run.m
	recs := run.live[resource]
	if len(recs) == 0 {
		if run.notifyURL == "" {
			return // the URLs' error says why
		}
		created, err := m.create(ctx, resource, run.notifyURL, run.lifecycleURL)
		if err != nil {
			run.errs = append(run.errs, err)
			return
		}
		run.res.Created = append(run.res.Created, created.ID)
		run.recorded[strings.ToLower(created.ID)] = true
		// Another instance may have created one at the same time.
		recs, err = m.recordedFor(ctx, resource)
		if err != nil {
			run.errs = append(run.errs, err)
			run.res.Live = append(run.res.Live, created)
			return
		}
	}
	keep, extra := pick(recs)
	for _, rec := range extra {
		m.log.Info("removing a second subscription for the resource", "subscription", rec, "kept", keep.ID)
		run.remove(ctx, rec)
	}
	run.res.Live = append(run.res.Live, keep)
}

// sweep deletes the orphans: subscriptions at our URL that no record knows
// (a crash between creating and recording, or a record lost), so their
// secret is unknown and their notifications would all be dropped. One
// younger than OrphanGrace may be another instance's, not recorded yet.
func (run *ensureRun) sweep(ctx context.Context) {
	m := run.m
	for _, r := range run.remote {
		if run.recorded[strings.ToLower(r.ID)] || !sameEndpoint(r.NotificationURL, run.notifyURL) {
			continue
		}
		if !slices.Contains(m.opts.Resources, r.Resource) {
			continue
		}
		if createdAround := r.Expiry.Add(-m.opts.Lifetime); run.now.Sub(createdAround) < m.opts.OrphanGrace {
			continue
		}
		m.log.Info("deleting an unrecorded subscription at our notification URL", "subscription", r)
		if err := m.opts.Graph.DeleteSubscription(ctx, r.ID); err != nil && !errors.Is(err, directory.ErrNotFound) {
			run.errs = append(run.errs, fmt.Errorf("delete orphaned subscription %s: %w", r.ID, err))
			continue
		}
		run.res.Removed = append(run.res.Removed, r.ID)
	}
}

// remove removes a recorded subscription and counts it, or keeps the error.
func (run *ensureRun) remove(ctx context.Context, rec store.Subscription) {
	if err := run.m.remove(ctx, rec); err != nil {
		run.errs = append(run.errs, err)
		return
	}
	run.res.Removed = append(run.res.Removed, rec.ID)
}

// pick keeps the subscription with the smallest id, the rule every instance
// applies, so that concurrent runs agree.
func pick(recs []store.Subscription) (keep store.Subscription, extra []store.Subscription) {
	recs = slices.Clone(recs)
	slices.SortFunc(recs, func(a, b store.Subscription) int { return strings.Compare(a.ID, b.ID) })
	return recs[0], recs[1:]
}

func (m *Manager) recordedFor(ctx context.Context, resource string) ([]store.Subscription, error) {
	all, err := m.opts.Store.ListSubscriptions(ctx)
	if err != nil {
		return nil, fmt.Errorf("list recorded subscriptions: %w", err)
	}
	var out []store.Subscription
	for _, s := range all {
		if s.Tenant == m.opts.Tenant && s.Resource == resource {
			out = append(out, s)
		}
	}
	return out, nil
}

func (m *Manager) urls(ctx context.Context) (string, string, error) {
	if m.opts.URLs != nil {
		n, l, err := m.opts.URLs(ctx)
		if err == nil && n == "" {
			err = errors.New("no notification URL")
		}
		return n, l, err
	}
	return m.opts.NotificationURL, m.opts.LifecycleURL, nil
}

// create creates a subscription for resource with a fresh secret and
// records it. Graph calls the notification URL to validate it meanwhile.
func (m *Manager) create(ctx context.Context, resource, notifyURL, lifecycleURL string) (store.Subscription, error) {
	secret, err := NewClientState()
	if err != nil {
		return store.Subscription{}, fmt.Errorf("create subscription for %s: %w", resource, err)
	}
	secretID, err := newClientStateID()
	if err != nil {
		return store.Subscription{}, fmt.Errorf("create subscription for %s: %w", resource, err)
	}
	m.warmUp(ctx, notifyURL)
	now := m.opts.Now()
	gs, err := m.opts.Graph.CreateSubscription(ctx, GraphSubscription{
		Resource: resource, ChangeType: m.opts.ChangeType,
		NotificationURL: notifyURL, LifecycleNotificationURL: lifecycleURL,
		ClientState: secret, Expiry: now.Add(m.opts.Lifetime).UTC(),
	})
	if err != nil {
		return store.Subscription{}, fmt.Errorf("create subscription for %s: %w", resource, err)
	}
	expiry := gs.Expiry
	if expiry.IsZero() {
		expiry = now.Add(m.opts.Lifetime).UTC()
	}
	rec, err := m.opts.Store.PutSubscription(ctx, store.Subscription{
		ID: gs.ID, Tenant: m.opts.Tenant, Resource: resource, Expiry: expiry,
		ClientStateID: secretID, ClientState: store.HashClientState(secret), Created: now.UTC(),
	})
	if err != nil {
		// Unrecorded, its notifications would all be dropped: take it back.
		if derr := m.opts.Graph.DeleteSubscription(ctx, gs.ID); derr != nil && !errors.Is(derr, directory.ErrNotFound) {
			m.log.Warn("deleting an unrecorded subscription failed; a later run deletes it as an orphan",
				"subscription", gs, "err", derr)
		}
		return store.Subscription{}, fmt.Errorf("record subscription %s for %s: %w", gs.ID, resource, err)
	}
	m.log.Info("subscription created", "subscription", rec)
	return rec, nil
}

// warmUp sends the webhook one validation request, as Graph will, and
// reads its answer, within WarmUpTimeout. It reports nothing but a log
// record: a webhook that does not answer now may still answer Graph, and
// if it does not, creating the subscription fails with Graph's reason.
func (m *Manager) warmUp(ctx context.Context, notifyURL string) {
	client := m.opts.WarmUpClient
	if client == nil {
		return
	}
	u, err := url.Parse(notifyURL)
	if err != nil {
		m.log.WarnContext(ctx, "webhook warm-up skipped: unreadable notification URL", "err", redactErr(err))
		return
	}
	// Keep the query (the function key) and add the token, as Graph does.
	q := u.Query()
	q.Set("validationToken", warmUpToken)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, m.opts.WarmUpTimeout)
	defer cancel()
	// The URL is logged without its query: it carries the function key.
	log := m.log.With("url", Redact(notifyURL))
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		log.WarnContext(ctx, "webhook warm-up skipped", "err", redactErr(err))
		return
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	res, err := client.Do(req)
	elapsed := time.Since(start).Round(time.Millisecond)
	if err != nil {
		log.WarnContext(ctx, "webhook warm-up failed; creating the subscription anyway", "elapsed", elapsed, "err", redactErr(err))
		return
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 256))
	if res.StatusCode != http.StatusOK || string(body) != warmUpToken {
		log.WarnContext(ctx, "webhook warm-up got an unexpected answer; creating the subscription anyway",
			"status", res.StatusCode, "elapsed", elapsed)
		return
	}
	log.InfoContext(ctx, "webhook warmed up", "elapsed", elapsed)
}

// redactErr returns err's text with every URL query cut off: net/http
// quotes the request URL in its errors (Post "https://…?code=…": …), and the
// query carries the function key.
func redactErr(err error) string {
	msg := err.Error()
	var b strings.Builder
	for {
		i := strings.IndexByte(msg, '?')
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		b.WriteString(msg[:i])
		b.WriteString("?…")
		msg = msg[i+1:]
		if j := strings.IndexAny(msg, "\" \t\n"); j >= 0 {
			msg = msg[j:]
		} else {
			msg = ""
		}
	}
}

// renew extends rec's expiry in Graph and then in the store, conditionally
// on the record's ETag; a concurrent renewal that got further wins.
func (m *Manager) renew(ctx context.Context, rec store.Subscription, now time.Time) (store.Subscription, error) {
	gs, err := m.opts.Graph.RenewSubscription(ctx, rec.ID, now.Add(m.opts.Lifetime).UTC())
	if err != nil {
		return rec, fmt.Errorf("renew subscription %s: %w", rec.ID, err)
	}
	expiry := gs.Expiry
	if expiry.IsZero() {
		expiry = now.Add(m.opts.Lifetime).UTC()
	}
	for range 3 {
		if !expiry.After(rec.Expiry) {
			return rec, nil
		}
		rec.Expiry = expiry
		put, err := m.opts.Store.PutSubscription(ctx, rec)
		if err == nil {
			m.log.Info("subscription renewed", "subscription", put)
			return put, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return rec, fmt.Errorf("record renewal of subscription %s: %w", rec.ID, err)
		}
		if rec, err = m.opts.Store.GetSubscription(ctx, rec.ID); err != nil {
			return rec, fmt.Errorf("record renewal of subscription %s: %w", rec.ID, err)
		}
	}
	return rec, fmt.Errorf("record renewal of subscription %s: %w", rec.ID, store.ErrConflict)
}

// remove deletes a subscription from Graph, then its record: a crash in
// between leaves a record Graph no longer has, which the next run removes.
func (m *Manager) remove(ctx context.Context, rec store.Subscription) error {
	if err := m.opts.Graph.DeleteSubscription(ctx, rec.ID); err != nil && !errors.Is(err, directory.ErrNotFound) {
		return fmt.Errorf("delete subscription %s: %w", rec.ID, err)
	}
	if err := m.opts.Store.DeleteSubscription(ctx, rec.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete the record of subscription %s: %w", rec.ID, err)
	}
	return nil
}

// Reauthorize answers a reauthorizationRequired lifecycle notification:
// it reauthorizes the subscription and renews it when it is due. When
// Graph no longer has it, it is replaced.
func (m *Manager) Reauthorize(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, err := m.opts.Store.GetSubscription(ctx, id)
	if err != nil {
		return fmt.Errorf("reauthorize subscription %s: %w", id, err)
	}
	log := m.log.With("subscription", rec)
	err = m.opts.Graph.ReauthorizeSubscription(ctx, id)
	if errors.Is(err, directory.ErrNotFound) {
		log.Info("Graph no longer has the subscription to reauthorize; replacing it")
		if err := m.remove(ctx, rec); err != nil {
			return fmt.Errorf("reauthorize subscription %s: %w", id, err)
		}
		_, err := m.ensure(ctx)
		return err
	}
	if err != nil {
		return fmt.Errorf("reauthorize subscription %s: %w", id, err)
	}
	log.Info("subscription reauthorized")
	now := m.opts.Now()
	if rec.Expiry.Sub(now) < m.opts.RenewBefore {
		if _, err := m.renew(ctx, rec, now); err != nil {
			return fmt.Errorf("reauthorize subscription %s: %w", id, err)
		}
	}
	return nil
}

// Recreate answers a subscriptionRemoved lifecycle notification: it drops
// the subscription and ensures a replacement.
func (m *Manager) Recreate(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, err := m.opts.Store.GetSubscription(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("recreate subscription %s: %w", id, err)
	default:
		m.log.Info("Graph removed the subscription; replacing it", "subscription", rec)
		if err := m.remove(ctx, rec); err != nil {
			return fmt.Errorf("recreate subscription %s: %w", id, err)
		}
	}
	_, err = m.ensure(ctx)
	return err
}

// clientStateBytes of randomness make a 43-character secret, well within
// Graph's 128.
const clientStateBytes = 32

// NewClientState returns a fresh clientState secret: 256 random bits,
// base64url without padding.
func NewClientState() (string, error) {
	b := make([]byte, clientStateBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate a clientState: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// newClientStateID returns a name for a secret that reveals nothing of it.
func newClientStateID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate a clientState id: %w", err)
	}
	return "cs-" + hex.EncodeToString(b), nil
}

// sameURL compares two URLs as Graph may echo them: scheme and host without
// regard to case, the path exactly, the query as a set of parameters.
func sameURL(a, b string) bool {
	if a == b {
		return true
	}
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil {
		return false
	}
	if !sameEndpointURL(ua, ub) {
		return false
	}
	qa, qb := ua.Query(), ub.Query()
	if len(qa) != len(qb) {
		return false
	}
	for k, va := range qa {
		if !slices.Equal(va, qb[k]) {
			return false
		}
	}
	return true
}

// sameEndpoint compares two URLs without their query (the function key).
func sameEndpoint(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && sameEndpointURL(ua, ub)
}

func sameEndpointURL(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host) &&
		strings.TrimSuffix(a.Path, "/") == strings.TrimSuffix(b.Path, "/")
}

// Redact returns a URL without its query and fragment, which may carry a
// function key, for logs.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	u.Fragment, u.RawFragment, u.User = "", "", nil
	return u.String()
}

// LifecycleURL returns the GraphLifecycle function's URL for the
// GraphWebhook URL: the same with its last path segment replaced, as the
// deployment serves both functions at /api/<name>.
func LifecycleURL(webhookURL string) (string, error) {
	u, err := url.Parse(webhookURL)
	if err != nil {
		return "", fmt.Errorf("lifecycle URL of %s: %w", Redact(webhookURL), err)
	}
	i := strings.LastIndex(strings.TrimSuffix(u.Path, "/"), "/")
	if u.Host == "" || i < 0 {
		return "", fmt.Errorf("lifecycle URL of %s: want an absolute URL ending in /GraphWebhook", Redact(webhookURL))
	}
	u.Path = u.Path[:i+1] + "GraphLifecycle"
	u.RawPath = ""
	return u.String(), nil
}
