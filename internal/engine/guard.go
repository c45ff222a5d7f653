package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/tenantsync/tenantsync/internal/store"
)

// The deletion guard. Every deprovision — a delete or a disable, whether
// the user left scope, was deleted in the source, or was disabled there and
// the mapping carries accountEnabled — passes through it:
//
//  1. It is recorded as pending in the target's store.Guard and waits out
//     the settle delay (deprovision.delay). A user who comes back meanwhile
//     cancels it.
//  2. When the delay is over, the guard counts the pending deprovisions
//     and those carried out without approval within the window. Within the
//     threshold, this one is carried out. Over it, every pending one is
//     staged for approval, and so is every deprovision until the window
//     has passed: a burst arriving within the delay is held whole, as
//     Cross-Tenant Synchronization holds a whole cycle.
//
// Each step is one conditional write of the guard record (its ETag), so
// that no two workers, in one process or in several instances sharing
// Table Storage, ever act on the same count. Approved deprovisions bypass
// the guard and are not counted.

// verdict is the guard's decision for one deprovision.
type verdict int

const (
	// verdictWait: recorded as pending; decide again at due.
	verdictWait verdict = iota
	// verdictExecute: carry it out now.
	verdictExecute
	// verdictStage: hold it for approval.
	verdictStage
)

// guardDecision is the outcome of asking the guard about one deprovision.
type guardDecision struct {
	verdict verdict
	// due is when a waiting deprovision is decided (verdictWait).
	due time.Time
	// staged are the other pending deprovisions the same decision staged:
	// the burst this one belongs to.
	staged []string
	// count is pending plus recently executed at the time of the decision.
	count int
}

// guardRaces bounds how often one guard decision is retried after losing
// the conditional write to another worker.
const guardRaces = 200

// updateGuard reads a target's guard, prunes the executions that have left
// the window, and applies decide, writing the record back conditionally
// when decide changed it (or the pruning did and decide reports a
// change). A lost race reads again and decides again.
func (e *Engine) updateGuard(ctx context.Context, t *target, decide func(g *store.Guard, now time.Time) (guardDecision, bool)) (guardDecision, error) {
	for attempt := range guardRaces {
		g, err := e.store.GetGuard(ctx, t.name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			g = store.Guard{Target: t.name}
		case err != nil:
			return guardDecision{}, fmt.Errorf("read deletion guard of %s: %w", t.name, err)
		}
		if g.Pending == nil {
			g.Pending = map[string]time.Time{}
		}
		if g.Executed == nil {
			g.Executed = map[string]time.Time{}
		}
		now := e.now()
		for id, at := range g.Executed {
			if !at.After(now.Add(-t.window)) {
				delete(g.Executed, id)
			}
		}
		d, changed := decide(&g, now)
		if !changed {
			return d, nil
		}
		_, err = e.store.PutGuard(ctx, g)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return guardDecision{}, fmt.Errorf("write deletion guard of %s: %w", t.name, err)
		}
		// Sixteen workers on one record: a little jitter keeps them from
		// colliding in lockstep.
		wait := time.Duration(rand.Int64N(int64(time.Millisecond) * int64(1+min(attempt, 20))))
		select {
		case <-ctx.Done():
			return guardDecision{}, ctx.Err()
		case <-time.After(wait):
		}
	}
	return guardDecision{}, fmt.Errorf("write deletion guard of %s: lost %d races in a row: %w", t.name, guardRaces, store.ErrConflict)
}

// admit asks the guard about a deprovision of sourceID: record it as
// pending, or, once its delay is over, carry it out or stage it.
func (e *Engine) admit(ctx context.Context, t *target, sourceID string) (guardDecision, error) {
	return e.updateGuard(ctx, t, func(g *store.Guard, now time.Time) (guardDecision, bool) {
		count := len(g.Pending) + len(g.Executed)
		if _, ok := g.Executed[sourceID]; ok {
			// Claimed before: a retry after a crash between the claim and
			// the Graph write. It was counted once already.
			return guardDecision{verdict: verdictExecute, count: count}, false
		}
		if now.Before(g.HoldUntil) {
			_, was := g.Pending[sourceID]
			delete(g.Pending, sourceID)
			return guardDecision{verdict: verdictStage, count: count}, was
		}
		since, pending := g.Pending[sourceID]
		changed := false
		if !pending {
			since, changed = now, true
			g.Pending[sourceID] = now
			count++
		}
		if due := since.Add(t.delay); now.Before(due) {
			return guardDecision{verdict: verdictWait, due: due, count: count}, changed
		}
		if count > t.threshold {
			// Over the threshold: hold the whole burst.
			var others []string
			for id := range g.Pending {
				if id != sourceID {
					others = append(others, id)
				}
			}
			sort.Strings(others)
			clear(g.Pending)
			g.HoldUntil = now.Add(t.window)
			return guardDecision{verdict: verdictStage, staged: others, count: count}, true
		}
		delete(g.Pending, sourceID)
		g.Executed[sourceID] = now
		return guardDecision{verdict: verdictExecute, count: count}, true
	})
}

// release takes a deprovision of sourceID out of the guard's pending set:
// the user came back, or the deprovision was staged or approved.
func (e *Engine) release(ctx context.Context, t *target, sourceID string) error {
	_, err := e.updateGuard(ctx, t, func(g *store.Guard, _ time.Time) (guardDecision, bool) {
		_, was := g.Pending[sourceID]
		delete(g.Pending, sourceID)
		return guardDecision{}, was
	})
	return err
}

// overdue returns the source ids of a target's pending deprovisions whose
// delay ended more than grace ago: their re-check was lost (a local run that
// stopped, a message that expired), and a reconcile sends them again.
func (e *Engine) overdue(ctx context.Context, t *target, grace time.Duration) ([]string, error) {
	g, err := e.store.GetGuard(ctx, t.name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read deletion guard of %s: %w", t.name, err)
	}
	var ids []string
	for id, since := range g.Pending {
		if !e.now().Before(since.Add(t.delay + grace)) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}
