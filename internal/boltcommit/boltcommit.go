package embedded

import (
	"context"
	"errors"

	"go.etcd.io/bbolt"

	"github.com/tenantsync/tenantsync/internal/queue"
)

// maxGroup bounds how many writes share one bbolt transaction.
const maxGroup = 1024

// committer applies the queue's writes, committing those that arrive while a
// transaction is being written together in the next one: a busy queue then
// pays one fsync for many messages, and an idle one waits for no timer (as
// bbolt's DB.Batch does).
type committer struct {
	db   *bbolt.DB
	reqs chan *commitReq
	stop chan struct{}
	done chan struct{}
}

type commitReq struct {
	// fn applies one write. It may run more than once (when a group is
	// retried one by one), so it must set its results afresh each time. An
	// error means the write could not be made, not that it found nothing
	// to do.
	fn   func(*bbolt.Tx) error
	errc chan error
}

func newCommitter(db *bbolt.DB) *committer {
	c := &committer{
		db:   db,
		reqs: make(chan *commitReq),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go c.loop()
	return c
}

// do applies fn in a write transaction and returns once it is committed.
// Once handed over, the write is waited for even if ctx ends, so that the
// caller never mistakes a committed write for a failed one.
func (c *committer) do(ctx context.Context, fn func(*bbolt.Tx) error) error {
	r := &commitReq{fn: fn, errc: make(chan error, 1)}
	select {
	case c.reqs <- r:
	case <-c.stop:
		return queue.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.errc
}

func (c *committer) loop() {
	defer close(c.done)
	for {
		var first *commitReq
		select {
		case first = <-c.reqs:
		case <-c.stop:
			return
		}
		group := []*commitReq{first}
	collect:
		for len(group) < maxGroup {
			select {
			case r := <-c.reqs:
				group = append(group, r)
			default:
				break collect
			}
		}
		c.commit(group)
	}
}

var errGroupFailed = errors.New("a write in the group failed")

func (c *committer) commit(group []*commitReq) {
	err := c.db.Update(func(tx *bbolt.Tx) error {
		for _, r := range group {
			if err := r.fn(tx); err != nil {
				if len(group) == 1 {
					return err
				}
				return errGroupFailed
			}
		}
		return nil
	})
	if err == nil || len(group) == 1 {
		for _, r := range group {
			r.errc <- err
		}
		return
	}
	// One write failed, or the commit did: apply each alone, so that one
	// bad write fails only its own caller.
	for _, r := range group {
		r.errc <- c.db.Update(r.fn)
	}
}

// close stops the loop after the transaction in progress.
func (c *committer) close() {
	close(c.stop)
	<-c.done
}
