package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/changes"
	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/pipeline"
	"github.com/tenantsync/tenantsync/internal/queue"
)

// flakyQueue fails its first failures Schedule calls, as Service Bus does
// during a short outage, and records when each call came.
type flakyQueue struct {
	mu        sync.Mutex
	failures  int
	calls     []time.Time
	scheduled []queue.Message
}

var errUnavailable = errors.New("service bus: connection lost (amqp: link detached)")

func (q *flakyQueue) Enqueue(context.Context, ...queue.Message) error { return nil }

func (q *flakyQueue) Schedule(_ context.Context, _ time.Time, msgs ...queue.Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls = append(q.calls, time.Now())
	if len(q.calls) <= q.failures {
		return errUnavailable
	}
	q.scheduled = append(q.scheduled, msgs...)
	return nil
}

// scriptedEngine answers every sync with res and err.
type scriptedEngine struct {
	res engine.Result
	err error
}

func (e scriptedEngine) Sync(_ context.Context, ch engine.Change) (engine.Result, error) {
	r := e.res
	r.Change = ch
	return r, e.err
}

func (scriptedEngine) Reconcile(context.Context, engine.ReconcileOptions) (engine.ReconcileResult, error) {
	return engine.ReconcileResult{}, nil
}

// A re-schedule that fails because Service Bus is briefly unavailable is
// tried again inside the invocation, after a pause, instead of failing it:
// a failed invocation is redelivered at once, and a short outage would burn
// every delivery and dead-letter the change. After the last try the
// invocation fails (the message is abandoned, not dead-lettered).
func TestRescheduleBacksOffWhenTheQueueFails(t *testing.T) {
	causes := []struct {
		name string
		eng  scriptedEngine
	}{
		{"throttled", scriptedEngine{err: &directory.Error{Op: "update user", Status: 429, Code: "TooManyRequests", Err: directory.ErrThrottled, RetryAfter: time.Second}}},
		{"transient failure", scriptedEngine{err: errors.New("503 serviceNotAvailable")}},
		{"deletion guard re-check", scriptedEngine{res: engine.Result{RecheckAt: time.Now().Add(time.Minute)}}},
	}
	const backoff = 20 * time.Millisecond
	outages := []struct {
		failures       int
		wantErr        bool
		wantCalls      int
		wantMinElapsed time.Duration // the pauses between the tries
	}{
		{0, false, 1, 0},
		{1, false, 2, backoff},
		{2, false, 3, backoff + 2*backoff},
		{3, true, 3, backoff + 2*backoff},
		{10, true, 3, backoff + 2*backoff},
	}
	for _, c := range causes {
		for _, o := range outages {
			t.Run(fmt.Sprintf("%s/%d failures", c.name, o.failures), func(t *testing.T) {
				q := &flakyQueue{failures: o.failures}
				p, err := pipeline.New(pipeline.Options{Engine: c.eng, Queue: q, RescheduleBackoff: backoff})
				if err != nil {
					t.Fatal(err)
				}
				msg, err := changes.Message(engine.Change{Kind: engine.KindUser, ID: "0b9c7e8e-0000-4000-8000-000000000003", Cause: "notification"})
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				err = p.ProcessChange(t.Context(), queue.Delivery{Message: msg, DeliveryCount: 1})
				elapsed := time.Since(start)
				if (err != nil) != o.wantErr {
					t.Fatalf("ProcessChange = %v, want error: %t", err, o.wantErr)
				}
				if err != nil {
					if !errors.Is(err, errUnavailable) || errors.Is(err, queue.ErrDeadLetter) {
						t.Errorf("error %v: want the queue's failure, and no dead letter", err)
					}
					if !strings.Contains(err.Error(), "(tries: 3)") {
						t.Errorf("error %v does not say how often it tried", err)
					}
				}
				if len(q.calls) != o.wantCalls {
					t.Fatalf("Schedule called %d times, want %d", len(q.calls), o.wantCalls)
				}
				if elapsed < o.wantMinElapsed {
					t.Errorf("took %s, want at least %s of pauses between tries", elapsed, o.wantMinElapsed)
				}
				for i := 1; i < len(q.calls); i++ {
					if gap, want := q.calls[i].Sub(q.calls[i-1]), backoff<<(i-1); gap < want {
						t.Errorf("try %d came %s after the one before, want at least %s", i+1, gap, want)
					}
				}
				counters := p.Counters()
				if got, want := counters["rescheduleFailures"], int64(min(o.failures, 3)); got != want {
					t.Errorf("rescheduleFailures = %d, want %d", got, want)
				}
				wantScheduled, wantRetried := int64(1), int64(0)
				if o.wantErr {
					wantScheduled, wantRetried = 0, 1
				}
				if counters["changesRescheduled"] != wantScheduled || counters["changesRetried"] != wantRetried {
					t.Errorf("changesRescheduled, changesRetried = %d, %d; want %d, %d",
						counters["changesRescheduled"], counters["changesRetried"], wantScheduled, wantRetried)
				}
			})
		}
	}
}

// The tries stay inside the invocation's deadline: when the next pause
// would outlast it, ProcessChange fails at once with the queue's error, so
// that the host hears why before its own timeout.
func TestRescheduleStopsAtTheDeadline(t *testing.T) {
	tests := []struct {
		name      string
		deadline  time.Duration
		backoff   time.Duration
		wantCalls int
	}{
		{"no room for a pause", 100 * time.Millisecond, time.Second, 1},
		{"room for one pause", 300 * time.Millisecond, 100 * time.Millisecond, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &flakyQueue{failures: 10}
			p, err := pipeline.New(pipeline.Options{
				Engine:            scriptedEngine{err: errors.New("503 serviceNotAvailable")},
				Queue:             q,
				RescheduleBackoff: tt.backoff,
			})
			if err != nil {
				t.Fatal(err)
			}
			msg, err := changes.Message(engine.Change{Kind: engine.KindUser, ID: "0b9c7e8e-0000-4000-8000-000000000004"})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), tt.deadline)
			defer cancel()
			start := time.Now()
			err = p.ProcessChange(ctx, queue.Delivery{Message: msg, DeliveryCount: 1})
			if !errors.Is(err, errUnavailable) {
				t.Fatalf("ProcessChange = %v, want the queue's failure", err)
			}
			if took := time.Since(start); took > tt.deadline {
				t.Errorf("took %s, past the deadline %s", took, tt.deadline)
			}
			if len(q.calls) != tt.wantCalls {
				t.Errorf("Schedule called %d times, want %d", len(q.calls), tt.wantCalls)
			}
		})
	}
}
