// Package pipeline is the logic of tenantsync's four functions —
// GraphWebhook, ProcessChange, Reconcile and SubscriptionManager — apart
// from how they are invoked. The Azure Functions custom handler (Register)
// and the local runner (package local) call the same methods, so the
// system behaves the same in both.
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantsync/tenantsync/internal/changes"
	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/queue"
)

// Engine is what the pipeline needs of *engine.Engine.
type Engine interface {
	Sync(ctx context.Context, ch engine.Change) (engine.Result, error)
	Reconcile(ctx context.Context, opts engine.ReconcileOptions) (engine.ReconcileResult, error)
}

// Options configure a Pipeline.
type Options struct {
	Engine Engine
	Queue  queue.Enqueuer
	// Subscriptions keeps the Graph subscriptions alive (a
	// subscriptions.Manager's Ensure). It may be nil when no notification
	// URL is reachable (local runs against real tenants without a public
	// URL): the reconcile timer is then the only source of changes.
	Subscriptions func(ctx context.Context) error
	Logger        *slog.Logger
	Now           func() time.Time
	// FullEvery is the period of the full reconcile pass; 0 means 24 h.
	FullEvery time.Duration
	// ThrottleDelay is the delay used when Graph throttles without saying
	// for how long; 0 means 30 s.
	ThrottleDelay time.Duration
	// Prune, when set, deletes provisioning events older than a time
	// (store.Store.PruneEvents); Reconcile calls it once a day with
	// LogRetention (0 means DefaultLogRetention).
	Prune        func(ctx context.Context, before time.Time) (int, error)
	LogRetention time.Duration
	// Backoff is the first delay after a transient failure, doubling with
	// each attempt up to MaxAttempts; 0 means 5 s and 7 attempts (about
	// 10 minutes in all). After that the message goes back to the queue,
	// which retries it and finally dead-letters it.
	Backoff     time.Duration
	MaxAttempts int
	// RescheduleTries is how often ProcessChange tries to put a change back
	// on the queue (a throttled or failed change's retry, the deletion
	// guard's re-check, a group's follow-ups) before it gives up and fails
	// the invocation; 0 means 3. RescheduleBackoff is the wait after the
	// first failed try, doubling after each; 0 means 3 s, so 3 tries span
	// about 10 s. See DefaultRescheduleTries.
	RescheduleTries   int
	RescheduleBackoff time.Duration
}

// DefaultRescheduleTries and DefaultRescheduleBackoff bound how long
// ProcessChange keeps trying to write to the queue when Service Bus is
// briefly unavailable: 3 tries, 3 s and then 6 s apart. A failed invocation
// is no gentler retry: the host abandons the message and Service Bus
// delivers it again at once, so a short outage would burn the queue's 10
// deliveries in seconds and dead-letter the change. Each try is itself one
// azservicebus call, which retries on its own (3 retries from 4 s, the
// SDK's defaults); the tries here cover an outage longer than those, and
// stay far inside ProcessChangeTimeout.
const (
	DefaultRescheduleTries   = 3
	DefaultRescheduleBackoff = 3 * time.Second
)

// ProcessChangeTimeout is the deadline of one ProcessChange invocation under
// the Functions host (Register gives it to the invocation's context).
//
// The host renews a Service Bus session lock only for
// maxAutoLockRenewalDuration (host.json extensions.serviceBus), counted from
// when it accepted the session, not from each message: every message it
// handles in that session back to back shares the window
// (Azure/azure-sdk-for-net, Azure.Messaging.ServiceBus,
// src/Processor/SessionReceiverManager.cs, RenewSessionLock:
// CancelAfter(MaxAutoLockRenewalDuration) when the session receiver is
// created). After the window the lock lapses within the queue's
// lockDuration (1 minute), another instance may accept the session, and two
// invocations would work on the same user at once. host.json renews for 30
// minutes, the functionTimeout; 4 minutes lets seven invocations of one
// session run to their deadline inside that window, and is still far more
// than a change takes (two Graph reads, a write or two: well under a
// second; a throttled one is re-scheduled, never slept on). An invocation
// that hits the deadline fails with the reason, and the message is
// delivered again.
const ProcessChangeTimeout = 4 * time.Minute

// DefaultLogRetention is how long provisioning events are kept: 30 days.
const DefaultLogRetention = 30 * 24 * time.Hour

// Pipeline runs the functions. It is safe for concurrent use.
type Pipeline struct {
	engine        Engine
	queue         queue.Enqueuer
	subs          func(ctx context.Context) error
	log           *slog.Logger
	now           func() time.Time
	fullEvery     time.Duration
	throttleDelay time.Duration
	backoff       time.Duration
	maxAttempts   int
	writeTries    int
	writeBackoff  time.Duration

	processed, retried, scheduled, deadLettered, followUps, reconciles atomic.Int64
	// rescheduleFailures counts failed tries to put a change back on the
	// queue, and followUpFailures failed tries to enqueue follow-ups, each
	// try apart: a queue outage shows even when a later try succeeded.
	rescheduleFailures, followUpFailures atomic.Int64

	// lastReconcile and lastSubscriptions are the timers' last runs, for
	// the status page: the store records neither failure.
	lastReconcile, lastSubscriptions lastRun

	prune        func(ctx context.Context, before time.Time) (int, error)
	logRetention time.Duration
	pruned       atomic.Int64 // unix seconds of the last pruning
}

// lastRun is when a timer function last ran, and its error (nil: success).
type lastRun struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

func (l *lastRun) set(at time.Time, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.at, l.err = at, err
}

// failure returns when the last run failed and why, or a nil error when it
// succeeded or none ran.
func (l *lastRun) failure() (time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		return time.Time{}, nil
	}
	return l.at, l.err
}

// ReconcileFailure returns when the last reconcile of this process failed
// and why, or a nil error (statuspage.Options.ReconcileFailure).
func (p *Pipeline) ReconcileFailure() (time.Time, error) { return p.lastReconcile.failure() }

// SubscriptionFailure is ReconcileFailure for SubscriptionManager.
func (p *Pipeline) SubscriptionFailure() (time.Time, error) { return p.lastSubscriptions.failure() }

// New returns a Pipeline.
func New(opts Options) (*Pipeline, error) {
	if opts.Engine == nil || opts.Queue == nil {
		return nil, errors.New("pipeline: Engine and Queue are required")
	}
	p := &Pipeline{
		engine:        opts.Engine,
		queue:         opts.Queue,
		subs:          opts.Subscriptions,
		log:           opts.Logger,
		now:           opts.Now,
		fullEvery:     opts.FullEvery,
		throttleDelay: opts.ThrottleDelay,
		backoff:       opts.Backoff,
		maxAttempts:   opts.MaxAttempts,
		writeTries:    opts.RescheduleTries,
		writeBackoff:  opts.RescheduleBackoff,
		prune:         opts.Prune,
		logRetention:  opts.LogRetention,
	}
	if p.logRetention <= 0 {
		p.logRetention = DefaultLogRetention
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.throttleDelay <= 0 {
		p.throttleDelay = 30 * time.Second
	}
	if p.backoff <= 0 {
		p.backoff = 5 * time.Second
	}
	if p.maxAttempts <= 0 {
		p.maxAttempts = 7
	}
	if p.writeTries <= 0 {
		p.writeTries = DefaultRescheduleTries
	}
	if p.writeBackoff <= 0 {
		p.writeBackoff = DefaultRescheduleBackoff
	}
	return p, nil
}

// writeQueue runs write, a queue write that puts a change (or its
// follow-ups) back on the queue, up to p.writeTries times, waiting
// p.writeBackoff after the first failure and twice as long after each next
// one, and counting every failure in failures. It gives up early when ctx
// would end before the next try, so that the invocation still fails in
// time to say why. The error wraps the last failure.
func (p *Pipeline) writeQueue(ctx context.Context, log *slog.Logger, failures *atomic.Int64, what string, write func(context.Context) error) error {
	wait := p.writeBackoff
	var err error
	try := 1
	for ; ; try++ {
		if err = write(ctx); err == nil {
			if try > 1 {
				log.InfoContext(ctx, "queue write succeeded after failing", "what", what, "try", try)
			}
			return nil
		}
		failures.Add(1)
		if try >= p.writeTries || ctx.Err() != nil {
			break
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			break
		}
		log.WarnContext(ctx, "queue write failed; trying again", "what", what, "try", try, "retryIn", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s (tries: %d, then the invocation ended): %w: %w", what, try, err, ctx.Err())
		case <-t.C:
		}
		wait *= 2
	}
	return fmt.Errorf("%s (tries: %d): %w", what, try, err)
}

// ProcessChange handles one change message (the ProcessChange function). It
// returns nil when the message is done with (synced, or re-scheduled after
// throttling), an error wrapping queue.ErrDeadLetter when it can never
// succeed, and any other error to have it delivered again.
func (p *Pipeline) ProcessChange(ctx context.Context, d queue.Delivery) error {
	ch, err := changes.Decode(d.Body)
	if err != nil {
		p.deadLettered.Add(1)
		p.log.ErrorContext(ctx, "undecodable change message", "messageId", d.ID, "err", err)
		return &queue.DeadLetterError{Reason: "InvalidChangeMessage", Description: err.Error()}
	}
	if d.DeliveryCount > 1 {
		// A crash may have come in the middle of this change, between a
		// target write and its link write: the engine compares with the
		// targets as they are, and repeats what the crash could have lost.
		// A re-scheduled retry keeps the flag.
		ch.Force = true
	}
	log := p.log.With("kind", ch.Kind, "sourceId", ch.ID, "messageId", d.ID, "deliveryCount", d.DeliveryCount)
	res, err := p.engine.Sync(ctx, ch)
	if len(res.FollowUps) > 0 {
		// Enqueue follow-ups even when a target failed: they are about
		// other users, and duplicates are harmless.
		msgs, merr := changes.Messages(res.FollowUps)
		if merr == nil {
			merr = p.writeQueue(ctx, log, &p.followUpFailures, "enqueue follow-ups", func(ctx context.Context) error {
				return p.queue.Enqueue(ctx, msgs...)
			})
		}
		if merr != nil {
			p.retried.Add(1)
			return fmt.Errorf("enqueue %d follow-up changes of %s %s: %w", len(res.FollowUps), ch.Kind, ch.ID, merr)
		}
		p.followUps.Add(int64(len(res.FollowUps)))
		log.InfoContext(ctx, "group or manager change fanned out", "followUps", len(res.FollowUps))
	}
	if res.Commit != nil && err == nil {
		// The follow-ups are enqueued: the group's delta may move on.
		if cerr := res.Commit(ctx); cerr != nil {
			err = fmt.Errorf("record the groups watermark after %s %s: %w", ch.Kind, ch.ID, cerr)
		}
	}
	if err == nil && !res.RecheckAt.IsZero() {
		// A deprovision waits out the deletion guard's settle delay: look
		// again then. Losing this message is not fatal either: reconcile
		// sends overdue ones again.
		recheck := ch
		recheck.Cause, recheck.Force = "guard", false
		msg, merr := changes.Message(recheck)
		if merr == nil {
			merr = p.writeQueue(ctx, log, &p.rescheduleFailures, "schedule the re-check", func(ctx context.Context) error {
				return p.queue.Schedule(ctx, res.RecheckAt, msg)
			})
		}
		if merr != nil {
			p.retried.Add(1)
			return fmt.Errorf("schedule the deletion guard's re-check of %s %s: %w", ch.Kind, ch.ID, merr)
		}
		p.scheduled.Add(1)
		log.InfoContext(ctx, "deprovision pending: re-check scheduled", "recheckAt", res.RecheckAt)
	}
	if err == nil {
		p.processed.Add(1)
		return nil
	}
	// The sync may have failed after a target write it could not record
	// (a lost answer, a failure in a later step): its retry compares with
	// the targets as they are, not with the links.
	retry := ch
	retry.Force = true
	if wait, ok := directory.RetryAfter(err); ok {
		if wait <= 0 {
			wait = p.throttleDelay
		}
		at := p.now().Add(wait)
		msg, merr := changes.Message(retry)
		if merr == nil {
			merr = p.writeQueue(ctx, log, &p.rescheduleFailures, "schedule the retry", func(ctx context.Context) error {
				return p.queue.Schedule(ctx, at, msg)
			})
		}
		if merr != nil {
			p.retried.Add(1)
			return fmt.Errorf("re-schedule throttled change of %s: %w (throttled: %w)", ch.ID, merr, err)
		}
		p.scheduled.Add(1)
		log.WarnContext(ctx, "throttled by Graph: change re-scheduled", "retryAt", at, "err", err)
		return nil
	}
	if errors.Is(err, engine.ErrPermanent) {
		p.deadLettered.Add(1)
		log.ErrorContext(ctx, "change cannot succeed: dead-lettering it", "err", err)
		return &queue.DeadLetterError{Reason: "PermanentFailure", Description: err.Error()}
	}
	// A transient failure (Graph 5xx, a timeout): try again later rather
	// than at once, which is what abandoning would do, so that a short
	// outage does not burn through the delivery count in milliseconds.
	attempt := attemptOf(d) + 1
	if attempt > p.maxAttempts {
		p.retried.Add(1)
		log.WarnContext(ctx, "change failed again after backing off; handing it back to the queue", "attempt", attempt, "err", err)
		return fmt.Errorf("sync %s %s (attempt %d): %w", ch.Kind, ch.ID, attempt, err)
	}
	wait := p.backoff << (attempt - 1)
	msg, merr := changes.Message(retry)
	if merr == nil {
		msg.Properties = map[string]any{PropertyAttempt: attempt}
		at := p.now().Add(wait)
		merr = p.writeQueue(ctx, log, &p.rescheduleFailures, "schedule the retry", func(ctx context.Context) error {
			return p.queue.Schedule(ctx, at, msg)
		})
	}
	if merr != nil {
		p.retried.Add(1)
		return fmt.Errorf("re-schedule failed change of %s: %w (failure: %w)", ch.ID, merr, err)
	}
	p.scheduled.Add(1)
	log.WarnContext(ctx, "change failed; trying again later", "attempt", attempt, "retryIn", wait, "err", err)
	return nil
}

// PropertyAttempt is the message property that counts how often a change
// was re-scheduled after a transient failure.
const PropertyAttempt = "tenantsyncAttempt"

// attemptOf reads PropertyAttempt, which comes back as an int, an int64 or
// a json.Number depending on the queue.
func attemptOf(d queue.Delivery) int {
	switch v := d.Properties[PropertyAttempt].(type) {
	case int:
		return v
	case int64:
		return int(v)
	case float64:
		return int(v)
	case json.Number:
		n, _ := v.Int64()
		return int(n)
	case string:
		n, _ := strconv.Atoi(v)
		return n
	}
	return 0
}

// Reconcile runs the Reconcile function: it puts a change message on the
// queue for everything the delta (or a full pass) finds.
func (p *Pipeline) Reconcile(ctx context.Context, full bool) (engine.ReconcileResult, error) {
	start := p.now()
	res, err := p.engine.Reconcile(ctx, engine.ReconcileOptions{
		Full:      full,
		FullEvery: p.fullEvery,
		Emit: func(ctx context.Context, cs []engine.Change) error {
			msgs, err := changes.Messages(cs)
			if err != nil {
				return err
			}
			return p.queue.Enqueue(ctx, msgs...)
		},
	})
	p.reconciles.Add(1)
	p.lastReconcile.set(p.now(), err)
	p.pruneLog(ctx)
	if err != nil {
		return res, fmt.Errorf("reconcile: %w", err)
	}
	p.log.InfoContext(ctx, "reconciled", "full", res.Full, "why", res.Why, "changes", res.Changes,
		"planned", res.Planned, "took", p.now().Sub(start))
	return res, nil
}

// ManageSubscriptions runs the SubscriptionManager function.
func (p *Pipeline) ManageSubscriptions(ctx context.Context) error {
	if p.subs == nil {
		p.log.InfoContext(ctx, "no notification URL: change notifications are off, reconcile alone keeps targets in step")
		return nil
	}
	err := p.subs(ctx)
	p.lastSubscriptions.set(p.now(), err)
	if err != nil {
		return fmt.Errorf("manage subscriptions: %w", err)
	}
	return nil
}

// pruneLog deletes the provisioning events older than the retention, at
// most once a day per process (several instances may each do it: deleting
// what is already gone is harmless).
func (p *Pipeline) pruneLog(ctx context.Context) {
	if p.prune == nil {
		return
	}
	now := p.now()
	last := p.pruned.Load()
	if last != 0 && now.Sub(time.Unix(last, 0)) < 24*time.Hour || !p.pruned.CompareAndSwap(last, now.Unix()) {
		return
	}
	n, err := p.prune(ctx, now.Add(-p.logRetention))
	if err != nil {
		p.log.WarnContext(ctx, "could not prune the provisioning log", "err", err)
		return
	}
	p.log.InfoContext(ctx, "provisioning log pruned", "deleted", n, "olderThan", p.logRetention)
}

// Counters returns what the pipeline did since it started, for the status
// page and logs.
func (p *Pipeline) Counters() map[string]int64 {
	return map[string]int64{
		"changesProcessed":    p.processed.Load(),
		"changesRetried":      p.retried.Load(),
		"changesRescheduled":  p.scheduled.Load(),
		"changesDeadLettered": p.deadLettered.Load(),
		"followUpsEnqueued":   p.followUps.Load(),
		"reconciles":          p.reconciles.Load(),
		"rescheduleFailures":  p.rescheduleFailures.Load(),
		"followUpFailures":    p.followUpFailures.Load(),
	}
}
