package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// readyGate opens something slow (the Functions runtime: config, store,
// queue) in the background and holds the requests that need it until it is
// open. It lets the custom handler listen, and answer the host's readiness
// probe, at once: the host restarts a worker that has not answered within
// 30 s, and opening can take longer than that when a dependency is slow.
//
// Each attempt to open runs with its own bound; a failed attempt is tried
// again after a pause that doubles up to retryMax, so that a dependency
// that comes up late (the managed identity endpoint at cold start, a
// storage blip) is waited out rather than fatal. Requests wait within
// their own deadline, or maxWait when they have none, and then fail with
// the last attempt's error.
type readyGate[T any] struct {
	open        func(ctx context.Context) (T, error)
	openTimeout time.Duration
	maxWait     time.Duration
	retryMin    time.Duration
	retryMax    time.Duration
	log         *slog.Logger

	ready chan struct{} // closed once val is set
	val   T

	mu       sync.Mutex
	lastErr  error
	attempts int
}

func newReadyGate[T any](open func(ctx context.Context) (T, error), openTimeout, maxWait time.Duration, log *slog.Logger) *readyGate[T] {
	return &readyGate[T]{
		open:        open,
		openTimeout: openTimeout,
		maxWait:     maxWait,
		retryMin:    time.Second,
		retryMax:    time.Minute,
		log:         log,
		ready:       make(chan struct{}),
	}
}

// run opens until an attempt succeeds or ctx ends. It returns whether the
// value is open; the caller owns it then.
func (g *readyGate[T]) run(ctx context.Context) bool {
	pause := g.retryMin
	for {
		start := time.Now()
		actx, cancel := context.WithTimeout(ctx, g.openTimeout)
		v, err := g.open(actx)
		cancel()
		g.mu.Lock()
		g.attempts++
		attempt := g.attempts
		if err == nil {
			g.val = v
			g.lastErr = nil
			g.mu.Unlock()
			close(g.ready)
			g.log.Info("tenantsync is ready", "attempt", attempt, "took", time.Since(start))
			return true
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("%w (no answer within %s)", err, g.openTimeout)
		}
		g.lastErr = err
		g.mu.Unlock()
		if ctx.Err() != nil {
			return false
		}
		g.log.Error("tenantsync could not open; trying again", "attempt", attempt, "retryIn", pause, "err", err)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		pause = min(2*pause, g.retryMax)
	}
}

// wait returns once the value is open, or an error naming why it is not
// when ctx ends, or maxWait passes for a ctx without a deadline.
func (g *readyGate[T]) wait(ctx context.Context) error {
	select {
	case <-g.ready:
		return nil
	default:
	}
	if _, ok := ctx.Deadline(); !ok && g.maxWait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, g.maxWait)
		defer cancel()
	}
	start := time.Now()
	select {
	case <-g.ready:
		return nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	err, attempts := g.lastErr, g.attempts
	g.mu.Unlock()
	waited := time.Since(start).Round(time.Millisecond)
	if err != nil {
		return fmt.Errorf("tenantsync is not ready after waiting %s: attempt %d to open it failed: %w", waited, attempts, err)
	}
	return fmt.Errorf("tenantsync is not ready after waiting %s: still opening: %w", waited, ctx.Err())
}

// value returns the open value; call it only after wait returned nil.
func (g *readyGate[T]) value() T {
	<-g.ready
	return g.val
}
