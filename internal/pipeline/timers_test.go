package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/pipeline"
	"github.com/tenantsync/tenantsync/internal/queue"
)

// reconcileEngine answers Reconcile with err; Sync is never called here.
type reconcileEngine struct{ err error }

func (e *reconcileEngine) Sync(context.Context, engine.Change) (engine.Result, error) {
	return engine.Result{}, errors.New("not used")
}

func (e *reconcileEngine) Reconcile(context.Context, engine.ReconcileOptions) (engine.ReconcileResult, error) {
	return engine.ReconcileResult{}, e.err
}

type nopQueue struct{}

func (nopQueue) Enqueue(context.Context, ...queue.Message) error { return nil }

func (nopQueue) Schedule(context.Context, time.Time, ...queue.Message) error { return nil }

// TestReconcilePrunesTheLogOnceADay: the provisioning log is pruned with the
// retention on the first reconcile, not again within 24 hours (a reconcile
// runs every 5 minutes), and again after; a failed reconcile prunes too.
func TestReconcilePrunesTheLogOnceADay(t *testing.T) {
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	var cutoffs []time.Time
	eng := &reconcileEngine{}
	p, err := pipeline.New(pipeline.Options{
		Engine: eng, Queue: nopQueue{}, Now: func() time.Time { return now },
		LogRetention: 48 * time.Hour,
		Prune: func(_ context.Context, before time.Time) (int, error) {
			cutoffs = append(cutoffs, before)
			return 3, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		advance time.Duration
		fail    bool
		want    int // pruning calls so far
	}{
		{0, false, 1},
		{5 * time.Minute, false, 1},
		{23 * time.Hour, true, 1},
		{time.Hour, true, 2},
		{time.Minute, false, 2},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		eng.err = nil
		if s.fail {
			eng.err = errors.New("graph unreachable")
		}
		_, _ = p.Reconcile(t.Context(), false)
		if len(cutoffs) != s.want {
			t.Fatalf("step %d (%s later): pruned %d times, want %d", i, s.advance, len(cutoffs), s.want)
		}
		if got := cutoffs[len(cutoffs)-1]; s.want == i+1 && !got.Equal(now.Add(-48*time.Hour)) {
			t.Errorf("step %d: pruned before %s, want %s (now - retention)", i, got, now.Add(-48*time.Hour))
		}
	}
}

// TestLastFailuresAreKeptUntilASuccess: the status page learns that the
// timers fail (the store records neither), and forgets once one succeeds.
func TestLastFailuresAreKeptUntilASuccess(t *testing.T) {
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	eng := &reconcileEngine{}
	var subsErr error
	p, err := pipeline.New(pipeline.Options{
		Engine: eng, Queue: nopQueue{}, Now: func() time.Time { return now },
		Subscriptions: func(context.Context) error { return subsErr },
	})
	if err != nil {
		t.Fatal(err)
	}
	if at, err := p.ReconcileFailure(); err != nil || !at.IsZero() {
		t.Fatalf("before any run: ReconcileFailure = %s, %v; want none", at, err)
	}
	eng.err = errors.New("graph unreachable")
	subsErr = errors.New("validation timed out")
	if _, err := p.Reconcile(t.Context(), false); err == nil {
		t.Fatal("Reconcile hid the engine's error")
	}
	if err := p.ManageSubscriptions(t.Context()); err == nil {
		t.Fatal("ManageSubscriptions hid the error")
	}
	if at, err := p.ReconcileFailure(); err == nil || !at.Equal(now) {
		t.Errorf("after a failure: ReconcileFailure = %s, %v; want %s and the error", at, err, now)
	}
	if at, err := p.SubscriptionFailure(); err == nil || !at.Equal(now) {
		t.Errorf("after a failure: SubscriptionFailure = %s, %v; want %s and the error", at, err, now)
	}
	now = now.Add(5 * time.Minute)
	eng.err, subsErr = nil, nil
	if _, err := p.Reconcile(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if err := p.ManageSubscriptions(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ReconcileFailure(); err != nil {
		t.Errorf("after a success: ReconcileFailure still %v", err)
	}
	if _, err := p.SubscriptionFailure(); err != nil {
		t.Errorf("after a success: SubscriptionFailure still %v", err)
	}
}
