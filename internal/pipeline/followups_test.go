package pipeline_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/changes"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/pipeline"
	"github.com/tenantsync/tenantsync/internal/queue"
)

// groupEngine answers every change as a group change with one follow-up
// and a Commit, writing what happens to events.
type groupEngine struct {
	events *[]string
	err    error
}

func (g groupEngine) Sync(_ context.Context, ch engine.Change) (engine.Result, error) {
	return engine.Result{
		Change:    ch,
		FollowUps: []engine.Change{{Kind: engine.KindUser, ID: "0b9c7e8e-0000-4000-8000-000000000002", Cause: "group"}},
		Commit: func(context.Context) error {
			*g.events = append(*g.events, "commit")
			return nil
		},
	}, g.err
}

func (groupEngine) Reconcile(context.Context, engine.ReconcileOptions) (engine.ReconcileResult, error) {
	return engine.ReconcileResult{}, nil
}

type eventQueue struct {
	events *[]string
	err    error
}

func (q eventQueue) Enqueue(_ context.Context, msgs ...queue.Message) error {
	if q.err != nil {
		*q.events = append(*q.events, "enqueue failed")
		return q.err
	}
	*q.events = append(*q.events, "enqueue")
	return nil
}

func (q eventQueue) Schedule(context.Context, time.Time, ...queue.Message) error {
	*q.events = append(*q.events, "schedule")
	return nil
}

// A group change's watermark is committed only after its follow-ups are
// enqueued, so that a crash or a queue failure in between loses nothing
// (the redelivered change reads the same delta again).
func TestGroupChangeCommitsAfterEnqueue(t *testing.T) {
	tests := []struct {
		name       string
		engineErr  error
		enqueueErr error
		wantErr    bool
		want       []string
	}{
		{"follow-ups enqueued", nil, nil, false, []string{"enqueue", "commit"}},
		{"queue down", nil, errors.New("service bus unavailable"), true, []string{"enqueue failed", "enqueue failed", "enqueue failed"}},
		{"engine failed after reading the delta", errors.New("read group: 503"), nil, false, []string{"enqueue", "schedule"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var events []string
			p, err := pipeline.New(pipeline.Options{
				Engine:            groupEngine{events: &events, err: tt.engineErr},
				Queue:             eventQueue{events: &events, err: tt.enqueueErr},
				RescheduleBackoff: time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			msg, err := changes.Message(engine.Change{Kind: engine.KindGroup, ID: "0b9c7e8e-0000-4000-8000-0000000000aa", Cause: "notification"})
			if err != nil {
				t.Fatal(err)
			}
			err = p.ProcessChange(t.Context(), queue.Delivery{Message: msg, DeliveryCount: 1})
			if (err != nil) != tt.wantErr {
				t.Errorf("ProcessChange error = %v, want error: %t", err, tt.wantErr)
			}
			if !slices.Equal(events, tt.want) {
				t.Errorf("events = %q, want %q", events, tt.want)
			}
		})
	}
}
