// Package boltcommit groups concurrent bbolt write transactions into one
// commit.
//
// bbolt syncs the file at every commit. The embedded queue and the embedded
// store each write a few records per synced user, from many sessions at
// once; committed one by one, those syncs bound how many users a second the
// process can sync. A Committer applies the writes that arrive while a
// commit is being written together in the next transaction, so a busy
// process pays one sync for many writes and an idle one waits for no timer
// (bbolt's DB.Batch waits up to MaxBatchDelay for company).
package boltcommit

import (
	"context"
	"errors"

	"go.etcd.io/bbolt"
)

// ErrClosed is returned by Do after Close.
var ErrClosed = errors.New("boltcommit: committer closed")

// maxGroup bounds how many writes share one transaction.
const maxGroup = 1024

// A Committer applies write functions to a bbolt database, grouping those
// that arrive together into one transaction. Its methods are safe for
// concurrent use.
type Committer struct {
	db   *bbolt.DB
	reqs chan *request
	stop chan struct{}
	done chan struct{}
}

type request struct {
	fn   func(*bbolt.Tx) error
	errc chan error
}

// New starts a Committer for db. Close it before closing db.
func New(db *bbolt.DB) *Committer {
	c := &Committer{
		db:   db,
		reqs: make(chan *request),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go c.loop()
	return c
}

// Do applies fn in a write transaction and returns once it is committed,
// with fn's error or the commit's.
//
// fn may run more than once: when a write of its group fails, the group is
// rolled back and each write is applied again alone, so that one bad write
// fails only its own caller. fn must therefore set its results afresh each
// time, and return an error only when its write cannot be made. Within a
// group, fn sees the writes of those applied before it, as it would had
// they been committed one by one.
//
// Once handed over, the write is waited for even if ctx ends, so that the
// caller never mistakes a committed write for a failed one.
func (c *Committer) Do(ctx context.Context, fn func(*bbolt.Tx) error) error {
	r := &request{fn: fn, errc: make(chan error, 1)}
	select {
	case c.reqs <- r:
	case <-c.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.errc
}

func (c *Committer) loop() {
	defer close(c.done)
	for {
		var first *request
		select {
		case first = <-c.reqs:
		case <-c.stop:
			return
		}
		group := []*request{first}
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

func (c *Committer) commit(group []*request) {
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
	// One write failed, or the commit did: apply each alone.
	for _, r := range group {
		r.errc <- c.db.Update(r.fn)
	}
}

// Close stops the Committer after the transaction in progress; later calls
// to Do return ErrClosed. It may be called more than once.
func (c *Committer) Close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
}
