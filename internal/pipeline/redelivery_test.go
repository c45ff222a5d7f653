package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/changes"
	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/pipeline"
	"github.com/tenantsync/tenantsync/internal/queue"
)

// recordingEngine remembers the changes it was asked to sync.
type recordingEngine struct{ synced []engine.Change }

func (r *recordingEngine) Sync(_ context.Context, ch engine.Change) (engine.Result, error) {
	r.synced = append(r.synced, ch)
	return engine.Result{Change: ch}, nil
}

func (r *recordingEngine) Reconcile(context.Context, engine.ReconcileOptions) (engine.ReconcileResult, error) {
	return engine.ReconcileResult{}, nil
}

type discardQueue struct{}

func (discardQueue) Enqueue(context.Context, ...queue.Message) error             { return nil }
func (discardQueue) Schedule(context.Context, time.Time, ...queue.Message) error { return nil }

// A delivery after the first may follow a crash in the middle of the
// change: the engine is asked to force it, so that it compares with the
// targets as they are and repeats what the crash may have lost (found by
// the chaos suite).
func TestProcessChangeForcesRedeliveries(t *testing.T) {
	tests := []struct {
		deliveryCount int
		want          bool
	}{{1, false}, {2, true}, {7, true}}
	for _, tt := range tests {
		eng := &recordingEngine{}
		p, err := pipeline.New(pipeline.Options{Engine: eng, Queue: discardQueue{}})
		if err != nil {
			t.Fatal(err)
		}
		msg, err := changes.Message(engine.Change{Kind: engine.KindUser, ID: "0b9c7e8e-0000-4000-8000-000000000001", Cause: "notification"})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.ProcessChange(t.Context(), queue.Delivery{Message: msg, DeliveryCount: tt.deliveryCount}); err != nil {
			t.Fatal(err)
		}
		if len(eng.synced) != 1 || eng.synced[0].Force != tt.want {
			t.Errorf("delivery %d: synced %+v, want Force %v", tt.deliveryCount, eng.synced, tt.want)
		}
	}
}

// failingEngine fails every sync with err.
type failingEngine struct {
	recordingEngine
	err error
}

func (f *failingEngine) Sync(ctx context.Context, ch engine.Change) (engine.Result, error) {
	f.recordingEngine.Sync(ctx, ch)
	return engine.Result{Change: ch}, f.err
}

// capturingQueue keeps what is scheduled.
type capturingQueue struct{ scheduled []queue.Message }

func (q *capturingQueue) Enqueue(context.Context, ...queue.Message) error { return nil }
func (q *capturingQueue) Schedule(_ context.Context, _ time.Time, msgs ...queue.Message) error {
	q.scheduled = append(q.scheduled, msgs...)
	return nil
}

// The retry of a failed change is forced: the sync may have failed after a
// target write it could not record in the link (found by the chaos suite: a
// restore followed by a 503 left the link saying "deleted", and the user
// stayed live when it left the scope).
func TestRetriesAreForced(t *testing.T) {
	tests := []struct {
		name          string
		err           error
		deliveryCount int
	}{
		{"transient failure", errors.New("503 serviceNotAvailable"), 1},
		{"throttled", &directory.Error{Op: "update user", Status: 429, Code: "TooManyRequests", Err: directory.ErrThrottled, RetryAfter: time.Second}, 1},
		{"transient failure of a redelivery", errors.New("503 serviceNotAvailable"), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &capturingQueue{}
			p, err := pipeline.New(pipeline.Options{Engine: &failingEngine{err: tt.err}, Queue: q})
			if err != nil {
				t.Fatal(err)
			}
			msg, err := changes.Message(engine.Change{Kind: engine.KindUser, ID: "0b9c7e8e-0000-4000-8000-000000000002", Cause: "delta"})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.ProcessChange(t.Context(), queue.Delivery{Message: msg, DeliveryCount: tt.deliveryCount}); err != nil {
				t.Fatalf("the failure is re-scheduled, not returned: %v", err)
			}
			if len(q.scheduled) != 1 {
				t.Fatalf("scheduled %d messages, want 1", len(q.scheduled))
			}
			ch, err := changes.Decode(q.scheduled[0].Body)
			if err != nil {
				t.Fatal(err)
			}
			if !ch.Force {
				t.Errorf("the retry is not forced: %+v", ch)
			}
		})
	}
}
