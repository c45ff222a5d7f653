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
// work may proceed. When a quarantine has run out, work is let through:
// its first outcome ends the quarantine or starts the next, longer one.
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

// probeResult is a target's last probe, cached so that a burst of refused
// writes probes once.
type probeResult struct {
	wide bool
	at   time.Time
}

// probeTTL is how long a probe's answer stands.
const probeTTL = 30 * time.Second

// targetWide tells whether a refusal (401, 403) is the whole target's —
// the token, the consent, or a policy that refuses every invitation — or
// only this user's (an administrator in the target, whose sensitive
// properties an app may not change). It probes the target with the
// smallest read tenantsync's permissions allow (one user: GET /organization
// would need Organization.Read.All, which syncing does not), and for a
// refused invitation also reads the invitation policy. An error says the
// probe itself could not tell (a transient failure).
func (e *Engine) targetWide(ctx context.Context, t *target, cause error) (bool, error) {
	e.mu.Lock()
	p, ok := e.probes[t.name]
	e.mu.Unlock()
	if ok && e.now().Sub(p.at) < probeTTL {
		return p.wide, nil
	}
	wide := false
	err := t.api.Probe(ctx)
	switch {
	case errors.Is(err, directory.ErrForbidden):
		wide = true
	case err != nil:
		return false, fmt.Errorf("probe target %s: %w", t.name, err)
	case errors.As(cause, new(*inviteError)):
		blocked, perr := t.api.InvitationsBlocked(ctx)
		switch {
		case errors.Is(perr, directory.ErrForbidden):
			// The policy is not readable (Policy.Read.All is not needed to
			// sync): a refused invitation cannot be told from a refused
			// tenant, and stopping is the safe side.
			wide = true
		case perr != nil:
			return false, fmt.Errorf("probe the invitation policy of %s: %w", t.name, perr)
		default:
			wide = blocked
		}
	}
	e.mu.Lock()
	e.probes[t.name] = probeResult{wide: wide, at: e.now()}
	e.mu.Unlock()
	return wide, nil
}

// inviteError marks a failed invitation, for the probe.
type inviteError struct{ err error }

func (e *inviteError) Error() string { return e.err.Error() }
func (e *inviteError) Unwrap() error { return e.err }

// noteOutcome quarantines a target that refused us as a whole (wide), and
// ends a quarantine that ran out once work succeeds again. A quarantine
// starts only when none is in force: failures of work already under way
// when it started do not lengthen it. Each quarantine in a row lasts twice
// as long as the one before, from quarantineBase up to quarantineMax.
func (e *Engine) noteOutcome(ctx context.Context, t *target, err error, wide bool) {
	st, rerr := e.readStatus(ctx, t.name, false)
	if rerr != nil {
		return
	}
	now := e.now()
	if !wide {
		if err != nil || st.QuarantineReason == "" && st.Quarantines == 0 {
			return
		}
		if now.Before(st.QuarantinedUntil) {
			return // skipped work says nothing about the target
		}
		uerr := e.updateStatus(ctx, t.name, func(st *store.TargetStatus) {
			if st.QuarantineReason != "" {
				e.log.InfoContext(ctx, "target quarantine ended", "target", t.name)
			}
			st.Quarantines, st.QuarantineReason, st.QuarantinedUntil = 0, "", time.Time{}
		})
		if uerr != nil {
			e.log.WarnContext(ctx, "could not clear the target's quarantine", "target", t.name, "err", uerr)
		}
		return
	}
	if now.Before(st.QuarantinedUntil) {
		return
	}
	uerr := e.updateStatus(ctx, t.name, func(st *store.TargetStatus) {
		if now.Before(st.QuarantinedUntil) {
			return // another worker started it
		}
		st.Quarantines++
		bump(st, "quarantine")
		d := quarantineBase
		for i := 1; i < st.Quarantines && d < quarantineMax; i++ {
			d *= 2
		}
		st.QuarantinedUntil = now.Add(min(d, quarantineMax))
		st.QuarantineReason = err.Error()
		// Work is skipped from now on: only a full pass catches up.
		st.FullPassNeeded = true
		e.log.WarnContext(ctx, "target quarantined", "target", t.name, "until", st.QuarantinedUntil, "reason", st.QuarantineReason)
	})
	if uerr != nil {
		e.log.WarnContext(ctx, "could not record the target's quarantine", "target", t.name, "err", uerr)
	}
}

// Resume ends a target's quarantine now (the operator's command). The
// next reconcile runs a full pass for the work the quarantine skipped.
func (e *Engine) Resume(ctx context.Context, targetName string) error {
	t, err := e.target(targetName)
	if err != nil {
		return err
	}
	e.mu.Lock()
	delete(e.probes, t.name)
	e.mu.Unlock()
	return e.updateStatus(ctx, t.name, func(st *store.TargetStatus) {
		if st.QuarantineReason != "" {
			st.FullPassNeeded = true
		}
		st.Quarantines, st.QuarantineReason, st.QuarantinedUntil = 0, "", time.Time{}
	})
}
