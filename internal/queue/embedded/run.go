package embedded

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"go.etcd.io/bbolt"

	"github.com/tenantsync/tenantsync/internal/queue"
)

// ErrStopping is the cancellation cause of a handler's context when its
// consumer stopped and the grace period ran out.
var ErrStopping = errors.New("queue consumer stopping")

// RunOptions tune Run. The zero value is usable: the defaults are those of
// the project's Service Bus queue and host.json.
type RunOptions struct {
	// MaxConcurrentSessions bounds how many sessions are handled at once;
	// 8 when zero.
	MaxConcurrentSessions int
	// LockDuration is how long a delivery's lock lasts; 1 minute when zero.
	LockDuration time.Duration
	// MaxAutoLockRenewal is how long the lock is renewed while the handler
	// runs, as the Functions host does: the lock lapses LockDuration after
	// that. 5 minutes when zero; negative means no renewal.
	MaxAutoLockRenewal time.Duration
	// MaxDeliveryCount is how many deliveries a message gets before it is
	// dead-lettered; 10 when zero.
	MaxDeliveryCount int
	// ShutdownGrace is how long handlers in flight may go on once ctx is
	// done; 10 seconds when zero; negative means none.
	ShutdownGrace time.Duration
}

func (o RunOptions) withDefaults() RunOptions {
	if o.MaxConcurrentSessions <= 0 {
		o.MaxConcurrentSessions = 8
	}
	if o.LockDuration <= 0 {
		o.LockDuration = time.Minute
	}
	if o.MaxAutoLockRenewal == 0 {
		o.MaxAutoLockRenewal = 5 * time.Minute
	}
	if o.MaxDeliveryCount <= 0 {
		o.MaxDeliveryCount = 10
	}
	if o.ShutdownGrace == 0 {
		o.ShutdownGrace = 10 * time.Second
	}
	return o
}

// lockLife is how long a lock lasts from delivery.
func (o RunOptions) lockLife() time.Duration {
	if o.MaxAutoLockRenewal > 0 {
		return o.MaxAutoLockRenewal + o.LockDuration
	}
	return o.LockDuration
}

type leaseState int

const (
	leaseDelivering leaseState = iota // its delivery count is being written
	leaseHeld                         // its handler runs
	leaseSettling                     // its settlement is being written
	leaseLost                         // its lock lapsed
	leaseReleased                     // given back at shutdown
	leaseDone
)

// lease is a consumer's hold on a session while it delivers the session's
// first message. The Queue's mutex guards its state.
type lease struct {
	run      *runner
	session  string
	seq      uint64
	state    leaseState
	deadline time.Time
	timer    *time.Timer
	cancel   context.CancelCauseFunc // the handler's context, once it runs
}

// runner is one Run call.
type runner struct {
	q    *Queue
	opts RunOptions
	h    queue.Handler
	// base is the parent of handlers' contexts: it outlives Run's context
	// by the grace period.
	base     context.Context
	stopBase context.CancelCauseFunc
	leases   map[*lease]struct{} // guarded by q.mu
	finished chan struct{}       // a worker is done
	inflight int                 // workers running; Run's goroutine only
}

// Run delivers messages to h until ctx is done or the queue is closed, one
// message per session at a time, up to opts.MaxConcurrentSessions sessions
// at once; see the package documentation for the semantics.
//
// When ctx is done Run takes no more work, lets handlers in flight finish for
// opts.ShutdownGrace, then cancels their contexts (cause ErrStopping) and
// gives their messages back without counting the delivery. It returns nil
// then, or queue.ErrClosed when the queue was closed. Several Runs may share
// a queue.
//
// A handler whose lock is lost keeps its slot until it returns: a handler
// should heed its context.
func (q *Queue) Run(ctx context.Context, opts RunOptions, h queue.Handler) error {
	if h == nil {
		return errors.New("queue run: nil handler")
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return queue.ErrClosed
	}
	q.runs.Add(1)
	q.mu.Unlock()
	defer q.runs.Done()

	opts = opts.withDefaults()
	base, stop := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stop(nil)
	r := &runner{
		q:        q,
		opts:     opts,
		h:        h,
		base:     base,
		stopBase: stop,
		leases:   map[*lease]struct{}{},
		finished: make(chan struct{}, opts.MaxConcurrentSessions),
	}
	q.log.DebugContext(ctx, "queue consumer started", "queue", q.name, "maxConcurrentSessions", opts.MaxConcurrentSessions)

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			r.shutdown(-1)
			return queue.ErrClosed
		}
		now := time.Now()
		q.idx.promote(now)
		for r.inflight < opts.MaxConcurrentSessions {
			s := q.idx.take()
			if s == nil {
				break
			}
			l := r.lease(s, now)
			r.inflight++
			go r.work(l)
		}
		var changed <-chan struct{}
		var due <-chan time.Time
		if r.inflight < opts.MaxConcurrentSessions {
			changed = q.changed
			if at, ok := q.idx.nextDue(); ok {
				timer.Reset(at.Sub(now))
				due = timer.C
			}
		}
		q.mu.Unlock()

		select {
		case <-ctx.Done():
			r.shutdown(opts.ShutdownGrace)
			return nil
		case <-q.closedCh:
		case <-changed:
		case <-due:
		case <-r.finished:
			r.inflight--
		}
		timer.Stop()
	}
}

// lease locks s for delivering its first message. The caller holds q.mu.
func (r *runner) lease(s *session, now time.Time) *lease {
	life := r.opts.lockLife()
	l := &lease{
		run:      r,
		session:  s.id,
		seq:      s.msgs[0].seq,
		state:    leaseDelivering,
		deadline: now.Add(life),
	}
	s.lease = l
	r.leases[l] = struct{}{}
	r.q.locked++
	l.timer = time.AfterFunc(life, func() { r.q.expire(l) })
	return l
}

// endLease ends l in state, frees its session and wakes the consumers. The
// caller holds q.mu.
func (q *Queue) endLease(l *lease, state leaseState) {
	l.state = state
	l.timer.Stop()
	if _, ok := l.run.leases[l]; ok {
		delete(l.run.leases, l)
		q.locked--
	}
	q.idx.unlease(l)
	q.broadcast()
}

// expire runs when l's lock lapses: the message becomes deliverable again
// and the handler, if it runs, is told through its context.
func (q *Queue) expire(l *lease) {
	q.mu.Lock()
	if l.state != leaseDelivering && l.state != leaseHeld {
		q.mu.Unlock()
		return
	}
	if l.cancel != nil {
		l.cancel(queue.ErrLockLost)
	}
	q.endLease(l, leaseLost)
	q.mu.Unlock()
	q.counters.lockLost.Add(1)
	q.log.Warn("queue message lock lost", "queue", q.name, "seq", l.seq, "sessionId", l.session)
}

type deliverOutcome int

const (
	outcomeDeliver deliverOutcome = iota
	outcomeGone
	outcomeDeadLettered
)

// work delivers l's message to the handler and settles it.
func (r *runner) work(l *lease) {
	defer func() { r.finished <- struct{}{} }()
	q := r.q

	rec, outcome, err := r.deliver(l)
	if err != nil {
		q.log.Error("queue delivery failed", "queue", q.name, "seq", l.seq, "sessionId", l.session, "err", err)
		// Hold the session a moment, so that a failing file is not
		// hammered, then offer the message again.
		select {
		case <-time.After(time.Second):
		case <-r.base.Done():
		}
		q.mu.Lock()
		if l.state == leaseDelivering {
			q.endLease(l, leaseDone)
		}
		q.mu.Unlock()
		return
	}
	if outcome != outcomeDeliver {
		q.mu.Lock()
		q.idx.remove(l.session, l.seq)
		if outcome == outcomeDeadLettered {
			q.deadCount++
		}
		if l.state == leaseDelivering {
			q.endLease(l, leaseDone)
		} else {
			q.broadcast()
		}
		q.mu.Unlock()
		if outcome == outcomeDeadLettered {
			q.counters.deadLettered.Add(1)
			q.log.Warn("queue message dead-lettered", "queue", q.name, "seq", l.seq, "messageId", rec.ID,
				"sessionId", l.session, "reason", queue.ReasonMaxDeliveryCountExceeded, "deliveryCount", rec.DeliveryCount)
		}
		return
	}

	hctx, cancel := context.WithCancelCause(r.base)
	defer cancel(nil)
	q.mu.Lock()
	switch l.state {
	case leaseDelivering:
		l.state = leaseHeld
		l.cancel = cancel
	case leaseReleased:
		// Shutdown gave the message back while its count was being
		// written: take the count back.
		q.mu.Unlock()
		r.uncount([]uint64{l.seq})
		return
	default: // the lock lapsed: the count stands, as in Service Bus
		q.mu.Unlock()
		return
	}
	q.mu.Unlock()

	q.counters.delivered.Add(1)
	d := queue.Delivery{
		Message: queue.Message{
			ID:          rec.ID,
			SessionID:   rec.SessionID,
			Body:        rec.Body,
			ContentType: rec.ContentType,
			ScheduledAt: rec.ScheduledAt,
			Properties:  rec.Properties,
		},
		DeliveryCount:  rec.DeliveryCount,
		SequenceNumber: int64(l.seq),
		EnqueuedAt:     rec.EnqueuedAt,
		LockedUntil:    l.deadline,
	}
	herr := r.call(hctx, d)
	r.settle(l, rec, herr)
}

// deliver counts a delivery of l's message in the file and returns its
// record, or dead-letters it if it has had its deliveries.
func (r *runner) deliver(l *lease) (record, deliverOutcome, error) {
	q := r.q
	var (
		rec     record
		outcome deliverOutcome
	)
	err := q.commit(context.Background(), func(tx *bbolt.Tx) error {
		rec, outcome = record{}, outcomeGone
		b := tx.Bucket(q.messages)
		v := b.Get(seqKey(l.seq))
		if v == nil {
			return nil
		}
		cur, err := decodeRecord(v)
		if err != nil {
			// It can never be delivered: keep its bytes for inspection.
			outcome = outcomeDeadLettered
			return moveToDeadLetters(tx, q.messages, q.deadLetters, l.seq,
				record{SessionID: l.session, Body: append([]byte(nil), v...)}, "UndecodableMessage", err.Error(), time.Now().UTC())
		}
		rec = cur
		if rec.DeliveryCount >= r.opts.MaxDeliveryCount {
			outcome = outcomeDeadLettered
			return moveToDeadLetters(tx, q.messages, q.deadLetters, l.seq, rec, queue.ReasonMaxDeliveryCountExceeded,
				fmt.Sprintf("Message could not be consumed after %d delivery attempts.", rec.DeliveryCount), time.Now().UTC())
		}
		rec.DeliveryCount++
		nv, err := rec.encode()
		if err != nil {
			return err
		}
		outcome = outcomeDeliver
		return b.Put(seqKey(l.seq), nv)
	})
	return rec, outcome, err
}

// call runs the handler, turning a panic into an error.
func (r *runner) call(ctx context.Context, d queue.Delivery) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.q.log.Error("queue handler panicked", "queue", r.q.name, "seq", d.SequenceNumber,
				"messageId", d.ID, "sessionId", d.SessionID, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return r.h(ctx, d)
}

// settle completes, abandons or dead-letters l's message by the handler's
// result, unless its lock was lost or released meanwhile.
func (r *runner) settle(l *lease, rec record, herr error) {
	q := r.q
	q.mu.Lock()
	if l.state != leaseHeld {
		q.mu.Unlock()
		q.log.Debug("queue settlement dropped: lock gone", "queue", q.name, "seq", l.seq, "sessionId", l.session, "handlerErr", herr)
		return
	}
	l.state = leaseSettling
	l.timer.Stop()
	q.mu.Unlock()

	const (
		completed = iota
		abandoned
		deadLettered
	)
	outcome := abandoned
	var reason, description string
	switch {
	case herr == nil:
		outcome = completed
	case errors.Is(herr, queue.ErrDeadLetter):
		outcome = deadLettered
		reason, description = queue.DeadLetterReason(herr)
	case rec.DeliveryCount >= r.opts.MaxDeliveryCount:
		outcome = deadLettered
		reason = queue.ReasonMaxDeliveryCountExceeded
		description = queue.Truncate(fmt.Sprintf("Message could not be consumed after %d delivery attempts. Last error: %v", rec.DeliveryCount, herr))
	}

	var write func(*bbolt.Tx) error
	switch outcome {
	case completed:
		write = func(tx *bbolt.Tx) error { return tx.Bucket(q.messages).Delete(seqKey(l.seq)) }
	case deadLettered:
		write = func(tx *bbolt.Tx) error {
			v := tx.Bucket(q.messages).Get(seqKey(l.seq))
			if v == nil {
				return nil
			}
			cur, err := decodeRecord(v)
			if err != nil {
				return err
			}
			return moveToDeadLetters(tx, q.messages, q.deadLetters, l.seq, cur, reason, description, time.Now().UTC())
		}
	}
	if write != nil {
		if err := q.commit(context.Background(), write); err != nil {
			// The message stays and is delivered again.
			q.log.Error("queue settlement failed", "queue", q.name, "seq", l.seq, "sessionId", l.session, "err", err)
			outcome = abandoned
		}
	}

	q.mu.Lock()
	if outcome != abandoned {
		q.idx.remove(l.session, l.seq)
	}
	if outcome == deadLettered {
		q.deadCount++
	}
	q.endLease(l, leaseDone)
	q.mu.Unlock()

	attrs := []any{"queue", q.name, "seq", l.seq, "messageId", rec.ID, "sessionId", l.session, "deliveryCount", rec.DeliveryCount}
	switch outcome {
	case completed:
		q.counters.completed.Add(1)
	case abandoned:
		q.counters.abandoned.Add(1)
		q.log.Info("queue message abandoned", append(attrs, "err", herr)...)
	case deadLettered:
		q.counters.deadLettered.Add(1)
		q.log.Warn("queue message dead-lettered", append(attrs, "reason", reason, "description", description)...)
	}
}

// shutdown stops r: it waits up to grace for the workers in flight, then
// gives back the messages still held without counting their delivery.
func (r *runner) shutdown(grace time.Duration) {
	q := r.q
	if grace > 0 && r.inflight > 0 {
		t := time.NewTimer(grace)
		defer t.Stop()
	wait:
		for r.inflight > 0 {
			select {
			case <-r.finished:
				r.inflight--
			case <-t.C:
				break wait
			}
		}
	}
	if r.inflight == 0 {
		q.log.Debug("queue consumer stopped", "queue", q.name)
		return
	}

	q.mu.Lock()
	var uncount []uint64
	released := 0
	for l := range r.leases {
		switch l.state {
		case leaseHeld:
			uncount = append(uncount, l.seq)
		case leaseDelivering:
			// Its worker takes the count back when the write is done.
		default:
			continue
		}
		if l.cancel != nil {
			l.cancel(ErrStopping)
		}
		q.endLease(l, leaseReleased)
		released++
	}
	q.mu.Unlock()
	r.stopBase(ErrStopping)
	if len(uncount) > 0 {
		r.uncount(uncount)
	}
	q.counters.released.Add(int64(released))
	q.log.Info("queue consumer stopped; deliveries released", "queue", q.name, "released", released)

	// Give the cancelled handlers a moment to return, so that their
	// workers end with the consumer where they can.
	t := time.NewTimer(time.Second)
	defer t.Stop()
	for r.inflight > 0 {
		select {
		case <-r.finished:
			r.inflight--
		case <-t.C:
			return
		}
	}
}

// uncount takes back the delivery count of messages given back unhandled.
func (r *runner) uncount(seqs []uint64) {
	q := r.q
	err := q.commit(context.Background(), func(tx *bbolt.Tx) error {
		b := tx.Bucket(q.messages)
		for _, seq := range seqs {
			v := b.Get(seqKey(seq))
			if v == nil {
				continue
			}
			rec, err := decodeRecord(v)
			if err != nil {
				continue
			}
			if rec.DeliveryCount > 0 {
				rec.DeliveryCount--
			}
			nv, err := rec.encode()
			if err != nil {
				return err
			}
			if err := b.Put(seqKey(seq), nv); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// The deliveries stay counted, as after a lapsed lock.
		q.log.Warn("queue release: delivery count not taken back", "queue", q.name, "messages", len(seqs), "err", err)
	}
}
