package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/store"
)

// Quarantine backoff: the first quarantine lasts quarantineBase, each one
// after it twice as long as the last, up to quarantineMax.
const (
	quarantineBase = 5 * time.Minute
	quarantineMax  = 6 * time.Hour
)

// readStatus returns a target's status row, from the cache unless fresh is
// set or the cached copy is older than the TTL.
func (e *Engine) readStatus(ctx context.Context, target string, fresh bool) (store.TargetStatus, error) {
	e.mu.Lock()
	c, ok := e.status[target]
	e.mu.Unlock()
	if ok && !fresh && e.now().Sub(c.read) < e.statusTTL {
		return c.status, nil
	}
	st, err := e.store.GetStatus(ctx, target)
	if errors.Is(err, store.ErrNotFound) {
		st, err = store.TargetStatus{Target: target}, nil
	}
	if err != nil {
		return st, fmt.Errorf("read status of %s: %w", target, err)
	}
	e.mu.Lock()
	e.status[target] = cachedStatus{status: st, read: e.now()}
	e.mu.Unlock()
	return st, nil
}

// updateStatus applies fn to a target's status row with optimistic
// concurrency, retrying lost races.
func (e *Engine) updateStatus(ctx context.Context, target string, fn func(*store.TargetStatus)) error {
	for range 20 {
		st, err := e.readStatus(ctx, target, true)
		if err != nil {
			return err
		}
		fn(&st)
		st, err = e.store.PutStatus(ctx, st)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("write status of %s: %w", target, err)
		}
		e.mu.Lock()
		e.status[target] = cachedStatus{status: st, read: e.now()}
		e.mu.Unlock()
		return nil
	}
	return fmt.Errorf("write status of %s: %w", target, store.ErrConflict)
}

func bump(st *store.TargetStatus, counter string) {
	if st.Counters == nil {
		st.Counters = map[string]int64{}
	}
	st.Counters[counter]++
}

// quarantined returns the reason and end of a target's quarantine, or "" when
// work may proceed. When a quarantine has run out, one attempt is let through
// as a probe: its outcome ends the quarantine or renews it.
func (e *Engine) quarantined(ctx context.Context, t *target) (string, time.Time) {
	st, err := e.readStatus(ctx, t.name, false)
	if err != nil {
		e.log.WarnContext(ctx, "could not read target status; proceeding", "target", t.name, "err", err)
		return "", time.Time{}
	}
	if st.QuarantineReason != "" && e.now().Before(st.QuarantinedUntil) {
		return st.QuarantineReason, st.QuarantinedUntil
	}
	return "", time.Time{}
}

// quarantining reports whether err says the target as a whole refuses us:
// authorization failures and policies such as disabled invitations.
func quarantining(err error) bool {
	return errors.Is(err, directory.ErrForbidden)
}

// noteOutcome counts consecutive target-wide failures and quarantines the
// target after QuarantineAfter of them, with exponential backoff; a success
// clears the count.
func (e *Engine) noteOutcome(ctx context.Context, t *target, err error) {
	st, rerr := e.readStatus(ctx, t.name, false)
	if rerr != nil {
		return
	}
	if err == nil || !quarantining(err) {
		if st.ConsecutiveFailures == 0 && st.QuarantineReason == "" {
			return
		}
		if st.QuarantineReason != "" && e.now().Before(st.QuarantinedUntil) {
			return // skipped work says nothing about the target
		}
		uerr := e.updateStatus(ctx, t.name, func(st *store.TargetStatus) {
			if st.QuarantineReason != "" {
				e.log.InfoContext(ctx, "target quarantine ended", "target", t.name)
			}
			st.ConsecutiveFailures, st.QuarantineReason, st.QuarantinedUntil = 0, "", time.Time{}
		})
		if uerr != nil {
			e.log.WarnContext(ctx, "could not clear target failures", "target", t.name, "err", uerr)
		}
		return
	}
	uerr := e.updateStatus(ctx, t.name, func(st *store.TargetStatus) {
		st.ConsecutiveFailures++
		bump(st, "failure")
		if st.ConsecutiveFailures < e.quarantineAfter {
			return
		}
		d := quarantineBase
		for i := e.quarantineAfter; i < st.ConsecutiveFailures && d < quarantineMax; i++ {
			d *= 2
		}
		d = min(d, quarantineMax)
		st.QuarantinedUntil = e.now().Add(d)
		st.QuarantineReason = err.Error()
		e.log.WarnContext(ctx, "target quarantined", "target", t.name, "until", st.QuarantinedUntil, "reason", st.QuarantineReason)
	})
	if uerr != nil {
		e.log.WarnContext(ctx, "could not record target failure", "target", t.name, "err", uerr)
	}
}

// Resume ends a target's quarantine now (the operator's command).
func (e *Engine) Resume(ctx context.Context, targetName string) error {
	t, err := e.target(targetName)
	if err != nil {
		return err
	}
	return e.updateStatus(ctx, t.name, func(st *store.TargetStatus) {
		st.ConsecutiveFailures, st.QuarantineReason, st.QuarantinedUntil = 0, "", time.Time{}
	})
}
