package graphsim

import (
	"sync/atomic"
	"time"
)

// clock is the simulated clock: the wall clock shifted by every advance, so
// that time still passes between requests and tests can jump days ahead.
type clock struct {
	offset atomic.Int64 // nanoseconds
}

func (c *clock) now() time.Time {
	return time.Now().Add(time.Duration(c.offset.Load()))
}

func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func (c *clock) setOffset(d time.Duration) { c.offset.Store(int64(d)) }

func (c *clock) getOffset() time.Duration { return time.Duration(c.offset.Load()) }
