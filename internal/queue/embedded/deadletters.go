package embedded

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/tenantsync/tenantsync/internal/queue"
)

// List returns up to max dead letters (all when max <= 0), in the order the
// messages were first enqueued.
func (q *Queue) List(ctx context.Context, max int) ([]queue.DeadLetter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []queue.DeadLetter
	err := q.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(q.deadLetters).Cursor()
		for k, v := c.First(); k != nil && (max <= 0 || len(out) < max); k, v = c.Next() {
			rec, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("dead letter %d: %w", keySeq(k), err)
			}
			out = append(out, queue.DeadLetter{
				ID:             rec.ID,
				SessionID:      rec.SessionID,
				SequenceNumber: int64(keySeq(k)),
				Reason:         rec.DeadLetterReason,
				Description:    rec.DeadLetterDescription,
				DeliveryCount:  rec.DeliveryCount,
				EnqueuedAt:     rec.EnqueuedAt,
				Body:           rec.Body,
				ContentType:    rec.ContentType,
				Properties:     rec.Properties,
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list dead letters of %s: %w", q.name, err)
	}
	return out, nil
}

// Resubmit moves the chosen dead letters back to the queue in one
// transaction: each becomes a new message (a new sequence number, a new id
// from queue.ResubmitID, a delivery count of zero, the property
// queue.PropertyResubmittedFrom) at the end of its session. Being one
// transaction, it never duplicates or loses a message.
func (q *Queue) Resubmit(ctx context.Context, opts queue.ResubmitOptions) (int, error) {
	if opts.All == (len(opts.IDs) > 0) {
		return 0, errors.New("resubmit: give either message ids or All")
	}
	want := make(map[string]bool, len(opts.IDs))
	for _, id := range opts.IDs {
		want[id] = true
	}
	if q.isClosed() {
		return 0, fmt.Errorf("resubmit to %s: %w", q.name, queue.ErrClosed)
	}

	var moved []entry
	err := q.commit(ctx, func(tx *bbolt.Tx) error {
		moved = moved[:0]
		now := time.Now().UTC()
		dl, mb := tx.Bucket(q.deadLetters), tx.Bucket(q.messages)
		var keys [][]byte
		var recs []record
		err := dl.ForEach(func(k, v []byte) error {
			rec, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("dead letter %d: %w", keySeq(k), err)
			}
			if opts.All || want[rec.ID] {
				keys = append(keys, append([]byte(nil), k...))
				recs = append(recs, rec)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i, rec := range recs {
			props := make(map[string]any, len(rec.Properties)+1)
			for k, v := range rec.Properties {
				props[k] = v
			}
			props[queue.PropertyResubmittedFrom] = rec.ID
			cp := record{
				ID:          queue.ResubmitID(rec.ID, int64(keySeq(keys[i]))),
				SessionID:   rec.SessionID,
				Body:        rec.Body,
				ContentType: rec.ContentType,
				Properties:  props,
				EnqueuedAt:  now,
			}
			v, err := cp.encode()
			if err != nil {
				return err
			}
			seq, err := mb.NextSequence()
			if err != nil {
				return err
			}
			if err := mb.Put(seqKey(seq), v); err != nil {
				return err
			}
			if err := dl.Delete(keys[i]); err != nil {
				return err
			}
			moved = append(moved, entry{seq: seq, session: cp.SessionID, visibleAt: now})
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("resubmit dead letters of %s: %w", q.name, err)
	}

	q.mu.Lock()
	at := time.Now()
	for _, e := range moved {
		q.idx.add(e, at)
	}
	q.deadCount -= len(moved)
	q.broadcast()
	q.mu.Unlock()
	q.counters.resubmitted.Add(int64(len(moved)))
	q.counters.enqueued.Add(int64(len(moved)))
	q.log.Info("dead letters resubmitted", "queue", q.name, "count", len(moved))
	return len(moved), nil
}
