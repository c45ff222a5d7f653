// Package embedded is a durable queue with the semantics of a
// session-enabled Azure Service Bus queue, kept in a bbolt file: the change
// queue of `handler local`, which runs the event pipeline in one process.
//
// The semantics are those of Service Bus that tenantsync relies on:
//   - Sessions: at most one consumer holds a session; its messages are
//     delivered one at a time, in order; different sessions are handled in
//     parallel up to RunOptions.MaxConcurrentSessions.
//   - Peek-lock: a delivery holds a lock for RunOptions.LockDuration (renewed
//     automatically up to RunOptions.MaxAutoLockRenewal). A lock that lapses
//     makes the message deliverable again, with its delivery count raised.
//   - Settlement by the handler's result: complete, abandon (delivered again
//     at once, delivery count raised), or dead-letter.
//   - Dead-lettering after RunOptions.MaxDeliveryCount deliveries, with the
//     reason MaxDeliveryCountExceeded, and the queue.DeadLetters interface to
//     list and resubmit dead letters.
//   - Scheduled messages, invisible until their time.
//
// Durability: every message lives in bbolt, in two buckets of its own per
// queue ("queue.<name>.messages" and "queue.<name>.deadletters"), keyed by
// sequence number. Locks live in memory only, and a delivery's count is
// written before its handler runs: a process killed mid-delivery loses
// nothing, and on restart the message is delivered again with its count
// raised, as after a lapsed lock. Concurrent writes share bbolt
// transactions, so a busy queue pays one fsync for many messages.
//
// Messages without a session id form one session of their own (Service Bus
// takes the empty string as a session id too). What it does not do: message
// time-to-live, duplicate detection, deferral, session state. One Queue per
// name and file at a time.
package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"

	"github.com/tenantsync/tenantsync/internal/boltcommit"
	"github.com/tenantsync/tenantsync/internal/queue"
)

// BucketPrefix starts the name of every bucket this package owns.
const BucketPrefix = "queue."

// DefaultName is the queue's name when none is given.
const DefaultName = "changes"

// DefaultMaxMessageSize is Service Bus's standard tier limit.
const DefaultMaxMessageSize = 256 << 10

// Options tune Open. The zero value is usable.
type Options struct {
	// Name names the queue and its buckets; DefaultName when empty.
	Name string
	// MaxMessageSize bounds a message's body and properties;
	// DefaultMaxMessageSize when zero.
	MaxMessageSize int
	// Logger receives the queue's records; nil means slog.Default().
	Logger *slog.Logger
}

// Queue is an embedded queue. It is safe for concurrent use.
type Queue struct {
	db          *bbolt.DB
	name        string
	messages    []byte // bucket names
	deadLetters []byte
	maxSize     int
	log         *slog.Logger
	commits     *boltcommit.Committer

	mu        sync.Mutex
	idx       index
	deadCount int
	locked    int
	changed   chan struct{} // closed and replaced on every change
	closed    bool
	closedCh  chan struct{}
	runs      sync.WaitGroup
	closeOnce sync.Once
	counters  counters
}

var (
	_ queue.Enqueuer    = (*Queue)(nil)
	_ queue.DeadLetters = (*Queue)(nil)
)

type counters struct {
	enqueued, scheduled, delivered, completed, abandoned,
	deadLettered, lockLost, released, resubmitted atomic.Int64
}

// Open opens the queue in db, creating its buckets if needed, and loads its
// index. The caller keeps ownership of db: Close does not close it.
func Open(db *bbolt.DB, opts *Options) (*Queue, error) {
	if opts == nil {
		opts = &Options{}
	}
	q := &Queue{
		db:       db,
		name:     opts.Name,
		maxSize:  opts.MaxMessageSize,
		log:      opts.Logger,
		idx:      newIndex(),
		changed:  make(chan struct{}),
		closedCh: make(chan struct{}),
	}
	if q.name == "" {
		q.name = DefaultName
	}
	if q.maxSize <= 0 {
		q.maxSize = DefaultMaxMessageSize
	}
	if q.log == nil {
		q.log = slog.Default()
	}
	q.messages = []byte(BucketPrefix + q.name + ".messages")
	q.deadLetters = []byte(BucketPrefix + q.name + ".deadletters")

	err := db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{q.messages, q.deadLetters} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open queue %s: create buckets: %w", q.name, err)
	}
	if err := q.load(); err != nil {
		return nil, fmt.Errorf("open queue %s: %w", q.name, err)
	}
	q.commits = boltcommit.New(db)
	q.log.Debug("queue opened", "queue", q.name, "visible", q.idx.visible,
		"scheduled", len(q.idx.scheduled), "deadLetters", q.deadCount)
	return q, nil
}

// load rebuilds the index from the file.
func (q *Queue) load() error {
	now := time.Now()
	return q.db.View(func(tx *bbolt.Tx) error {
		err := tx.Bucket(q.messages).ForEach(func(k, v []byte) error {
			rec, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("message %d: %w", keySeq(k), err)
			}
			q.idx.add(entry{seq: keySeq(k), session: rec.SessionID, visibleAt: rec.visibleAt()}, now)
			return nil
		})
		if err != nil {
			return err
		}
		q.deadCount = tx.Bucket(q.deadLetters).Stats().KeyN
		return nil
	})
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// Enqueue stores msgs in one transaction: all or none are enqueued. A message
// without an id gets a random one.
func (q *Queue) Enqueue(ctx context.Context, msgs ...queue.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	now := time.Now().UTC()
	recs := make([]record, len(msgs))
	vals := make([][]byte, len(msgs))
	for i, m := range msgs {
		if m.ID == "" {
			m.ID = uuid.NewString()
		}
		size := len(m.ID) + len(m.SessionID) + len(m.ContentType) + len(m.Body)
		if len(m.Properties) > 0 {
			p, err := json.Marshal(m.Properties)
			if err != nil {
				return fmt.Errorf("enqueue to %s: message %s: properties: %w", q.name, m.ID, err)
			}
			size += len(p)
		}
		if size > q.maxSize {
			return fmt.Errorf("enqueue to %s: message %s of %d bytes, over %d: %w", q.name, m.ID, size, q.maxSize, queue.ErrMessageTooLarge)
		}
		recs[i] = record{
			ID:          m.ID,
			SessionID:   m.SessionID,
			Body:        m.Body,
			ContentType: m.ContentType,
			Properties:  m.Properties,
			ScheduledAt: m.ScheduledAt.UTC(),
			EnqueuedAt:  now,
		}
		v, err := recs[i].encode()
		if err != nil {
			return fmt.Errorf("enqueue to %s: message %s: %w", q.name, m.ID, err)
		}
		vals[i] = v
	}

	if q.isClosed() {
		return fmt.Errorf("enqueue to %s: %w", q.name, queue.ErrClosed)
	}
	seqs := make([]uint64, len(vals))
	err := q.commit(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(q.messages)
		for i, v := range vals {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			if err := b.Put(seqKey(seq), v); err != nil {
				return err
			}
			seqs[i] = seq
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("enqueue %d messages to %s: %w", len(msgs), q.name, err)
	}

	scheduled := int64(0)
	q.mu.Lock()
	at := time.Now()
	for i, r := range recs {
		e := entry{seq: seqs[i], session: r.SessionID, visibleAt: r.visibleAt()}
		if e.visibleAt.After(at) {
			scheduled++
		}
		q.idx.add(e, at)
	}
	q.broadcast()
	q.mu.Unlock()
	q.counters.enqueued.Add(int64(len(msgs)))
	q.counters.scheduled.Add(scheduled)
	return nil
}

// Schedule stores msgs to become visible at at.
func (q *Queue) Schedule(ctx context.Context, at time.Time, msgs ...queue.Message) error {
	out := make([]queue.Message, len(msgs))
	for i, m := range msgs {
		m.ScheduledAt = at
		out[i] = m
	}
	return q.Enqueue(ctx, out...)
}

// Stats is a snapshot of a queue: its counters since Open, and its contents.
type Stats struct {
	queue.Counters
	// VisibleMessages can be delivered now or are being delivered.
	VisibleMessages int
	// ScheduledMessages become visible later.
	ScheduledMessages int
	// DeadLetterMessages are in the dead letters.
	DeadLetterMessages int
	// Locked is how many deliveries hold a lock.
	Locked int
	// Sessions is how many sessions have visible messages or a lock.
	Sessions int
}

// Stats returns a snapshot of the queue.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	s := Stats{
		VisibleMessages:    q.idx.visible,
		ScheduledMessages:  len(q.idx.scheduled),
		DeadLetterMessages: q.deadCount,
		Locked:             q.locked,
		Sessions:           len(q.idx.sessions),
	}
	q.mu.Unlock()
	c := &q.counters
	s.Counters = queue.Counters{
		Enqueued:     c.enqueued.Load(),
		Scheduled:    c.scheduled.Load(),
		Delivered:    c.delivered.Load(),
		Completed:    c.completed.Load(),
		Abandoned:    c.abandoned.Load(),
		DeadLettered: c.deadLettered.Load(),
		LockLost:     c.lockLost.Load(),
		Released:     c.released.Load(),
		Resubmitted:  c.resubmitted.Load(),
	}
	return s
}

// Close stops every Run (one not already shutting down releases its
// deliveries without grace) and waits for them, then stops writing. It does
// not close the bbolt file. Handlers still running after that cannot settle
// their messages, which are delivered again after a restart.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() {
		q.mu.Lock()
		q.closed = true
		close(q.closedCh)
		q.broadcast()
		q.mu.Unlock()
		q.runs.Wait()
		q.commits.Close()
	})
	return nil
}

// commit applies fn in a write transaction shared with the writes that
// arrive with it (boltcommit): a busy queue pays one sync for many messages.
func (q *Queue) commit(ctx context.Context, fn func(*bbolt.Tx) error) error {
	err := q.commits.Do(ctx, fn)
	if errors.Is(err, boltcommit.ErrClosed) {
		return queue.ErrClosed
	}
	return err
}

func (q *Queue) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// broadcast wakes everyone waiting for a change. The caller holds q.mu.
func (q *Queue) broadcast() {
	close(q.changed)
	q.changed = make(chan struct{})
}
