package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/devtools/testenv"
	"github.com/tenantsync/tenantsync/internal/queue"
)

func TestSessionOrderUnderConcurrency(t *testing.T) {
	tests := []struct {
		name                  string
		sessions, perSession  int
		maxConcurrentSessions int
	}{
		{name: "more sessions than workers", sessions: 40, perSession: 25, maxConcurrentSessions: 8},
		{name: "more workers than sessions", sessions: 6, perSession: 60, maxConcurrentSessions: 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testSessionOrder(t, tt.sessions, tt.perSession, tt.maxConcurrentSessions)
		})
	}
}

func testSessionOrder(t *testing.T, sessions, perSession, maxConcurrentSessions int) {
	q, _ := openQueue(t, tempPath(t))

	var (
		mu      sync.Mutex
		got     = map[string][]int{}
		active  = map[string]int{}
		overlap atomic.Int64
		failed  atomic.Int64
	)
	h := func(ctx context.Context, d queue.Delivery) error {
		mu.Lock()
		active[d.SessionID]++
		if active[d.SessionID] > 1 {
			overlap.Add(1)
		}
		mu.Unlock()
		defer func() {
			mu.Lock()
			active[d.SessionID]--
			mu.Unlock()
		}()
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		_, num, _ := strings.Cut(d.ID, "/")
		n, err := strconv.Atoi(num)
		if err != nil {
			return &queue.DeadLetterError{Reason: "BadID", Description: d.ID}
		}
		// Some messages fail on their first delivery: they must come again
		// before the next message of their session.
		if n%7 == 3 && d.DeliveryCount == 1 {
			failed.Add(1)
			return errBoom
		}
		mu.Lock()
		got[d.SessionID] = append(got[d.SessionID], n)
		mu.Unlock()
		return nil
	}
	r := start(t, q, RunOptions{MaxConcurrentSessions: maxConcurrentSessions}, h)

	// One producer per session, each enqueuing its messages in order, in
	// batches of one to three, at a pace that has messages arrive for
	// sessions that are being handled.
	var wg sync.WaitGroup
	for s := range sessions {
		wg.Go(func() {
			sid := fmt.Sprintf("user-%02d", s)
			for n := 0; n < perSession; {
				k := min(1+rand.IntN(3), perSession-n)
				var batch []queue.Message
				for i := range k {
					batch = append(batch, msg(fmt.Sprintf("%s/%d", sid, n+i), sid))
				}
				if err := q.Enqueue(context.Background(), batch...); err != nil {
					t.Error(err)
					return
				}
				n += k
				time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	testenv.WaitFor(t, 30*time.Second, "all messages completed", func() bool {
		return q.Stats().Completed == int64(sessions*perSession)
	})
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}

	want := make([]int, perSession)
	for i := range want {
		want[i] = i
	}
	for s := range sessions {
		sid := fmt.Sprintf("user-%02d", s)
		if !slices.Equal(got[sid], want) {
			t.Errorf("session %s handled %v, want %v", sid, got[sid], want)
		}
	}
	if n := overlap.Load(); n != 0 {
		t.Errorf("%d deliveries overlapped another of the same session", n)
	}
	st := q.Stats()
	if st.Abandoned != failed.Load() || st.Delivered != int64(sessions*perSession)+failed.Load() {
		t.Errorf("stats %+v, want %d abandoned and %d delivered", st.Counters, failed.Load(), int64(sessions*perSession)+failed.Load())
	}
	if st.VisibleMessages != 0 || st.Locked != 0 || st.Sessions != 0 {
		t.Errorf("queue not empty at the end: %+v", st)
	}
}

func TestSessionsRunInParallel(t *testing.T) {
	tests := []struct {
		name                 string
		sessions, perSession int
		maxConcurrent        int
		wantPeak             int64
	}{
		{name: "across sessions", sessions: 4, perSession: 1, maxConcurrent: 4, wantPeak: 4},
		{name: "bounded by MaxConcurrentSessions", sessions: 6, perSession: 1, maxConcurrent: 3, wantPeak: 3},
		{name: "one session at a time", sessions: 1, perSession: 4, maxConcurrent: 4, wantPeak: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := openQueue(t, tempPath(t))
			var batch []queue.Message
			for s := range tt.sessions {
				for i := range tt.perSession {
					batch = append(batch, msg(fmt.Sprintf("s%d-%d", s, i), fmt.Sprintf("s%d", s)))
				}
			}
			enqueue(t, q, batch...)
			var cur, peak atomic.Int64
			start(t, q, RunOptions{MaxConcurrentSessions: tt.maxConcurrent}, func(ctx context.Context, d queue.Delivery) error {
				n := cur.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(150 * time.Millisecond)
				cur.Add(-1)
				return nil
			})
			total := int64(tt.sessions * tt.perSession)
			testenv.WaitFor(t, 20*time.Second, "all completed", func() bool { return q.Stats().Completed == total })
			if p := peak.Load(); p != tt.wantPeak {
				t.Errorf("peak concurrency %d, want %d", p, tt.wantPeak)
			}
		})
	}
}

func TestLockExpiry(t *testing.T) {
	tests := []struct {
		name           string
		lock, renewal  time.Duration
		firstTakes     time.Duration
		wantDeliveries int
		wantCause      error
	}{
		{name: "lapses and the message comes again", lock: 150 * time.Millisecond, renewal: -1, firstTakes: 5 * time.Second, wantDeliveries: 2, wantCause: queue.ErrLockLost},
		{name: "renewed while the handler runs", lock: 100 * time.Millisecond, renewal: 2 * time.Second, firstTakes: 300 * time.Millisecond, wantDeliveries: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := openQueue(t, tempPath(t))
			enqueue(t, q, msg("m1", "user-1"))
			var rec recorder
			var cause atomic.Value
			start(t, q, RunOptions{LockDuration: tt.lock, MaxAutoLockRenewal: tt.renewal}, func(ctx context.Context, d queue.Delivery) error {
				rec.add(d)
				if d.DeliveryCount == 1 {
					select {
					case <-time.After(tt.firstTakes):
					case <-ctx.Done():
						cause.Store(context.Cause(ctx))
					}
				}
				return nil // after a lost lock, this completion must be dropped
			})
			testenv.WaitFor(t, 10*time.Second, "the message completed", func() bool { return q.Stats().Completed == 1 })
			// Let a wrongly late second delivery or completion show.
			time.Sleep(2 * tt.lock)

			ds := rec.list()
			if len(ds) != tt.wantDeliveries {
				t.Fatalf("%d deliveries, want %d", len(ds), tt.wantDeliveries)
			}
			for i, d := range ds {
				if d.DeliveryCount != i+1 {
					t.Errorf("delivery %d has DeliveryCount %d", i, d.DeliveryCount)
				}
			}
			if c, _ := cause.Load().(error); !errors.Is(c, tt.wantCause) || (tt.wantCause == nil && c != nil) {
				t.Errorf("first handler's context cause = %v, want %v", c, tt.wantCause)
			}
			st := q.Stats()
			wantLost := int64(tt.wantDeliveries - 1)
			if st.Completed != 1 || st.LockLost != wantLost || st.VisibleMessages != 0 {
				t.Errorf("stats = %+v, want 1 completed, %d lock lost, none left", st, wantLost)
			}
		})
	}
}

func TestAbandonAndMaxDeliveryCount(t *testing.T) {
	tests := []struct {
		name       string
		max        int
		handle     func(d queue.Delivery) error
		wantCounts []int
		wantDead   bool
		abandoned  int64
	}{
		{
			name: "always fails: dead-lettered after the max", max: 3,
			handle:     func(d queue.Delivery) error { return fmt.Errorf("%w %d", errBoom, d.DeliveryCount) },
			wantCounts: []int{1, 2, 3}, wantDead: true, abandoned: 2,
		},
		{
			name: "succeeds on the last try", max: 3,
			handle: func(d queue.Delivery) error {
				if d.DeliveryCount < 3 {
					return errBoom
				}
				return nil
			},
			wantCounts: []int{1, 2, 3}, abandoned: 2,
		},
		{
			name: "a panic abandons", max: 10,
			handle: func(d queue.Delivery) error {
				if d.DeliveryCount == 1 {
					panic("handler bug")
				}
				return nil
			},
			wantCounts: []int{1, 2}, abandoned: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := openQueue(t, tempPath(t))
			enqueue(t, q, msg("m1", "user-1"))
			var rec recorder
			start(t, q, RunOptions{MaxDeliveryCount: tt.max}, func(ctx context.Context, d queue.Delivery) error {
				rec.add(d)
				return tt.handle(d)
			})
			testenv.WaitFor(t, 10*time.Second, "the message settled for good", func() bool {
				st := q.Stats()
				return st.Completed+st.DeadLettered == 1
			})
			var counts []int
			for _, d := range rec.list() {
				counts = append(counts, d.DeliveryCount)
			}
			if !slices.Equal(counts, tt.wantCounts) {
				t.Errorf("delivery counts %v, want %v", counts, tt.wantCounts)
			}
			st := q.Stats()
			if st.Abandoned != tt.abandoned {
				t.Errorf("abandoned %d, want %d", st.Abandoned, tt.abandoned)
			}
			dead, err := q.List(context.Background(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.wantDead {
				if len(dead) != 0 || st.DeadLetterMessages != 0 {
					t.Fatalf("dead letters %v", dead)
				}
				return
			}
			if len(dead) != 1 || st.DeadLetterMessages != 1 {
				t.Fatalf("%d dead letters, want 1", len(dead))
			}
			d := dead[0]
			if d.ID != "m1" || d.SessionID != "user-1" || d.Reason != queue.ReasonMaxDeliveryCountExceeded ||
				d.DeliveryCount != tt.max || !strings.Contains(d.Description, "boom 3") || string(d.Body) != `{"id":"m1"}` {
				t.Errorf("dead letter = %+v", d)
			}
		})
	}
}

func TestExplicitDeadLetter(t *testing.T) {
	long := strings.Repeat("é", 2000)
	tests := []struct {
		name            string
		err             error
		reason, descrip string
	}{
		{name: "with reason and description", err: &queue.DeadLetterError{Reason: "BadPayload", Description: "no sourceId"},
			reason: "BadPayload", descrip: "no sourceId"},
		{name: "wrapped sentinel", err: fmt.Errorf("parse change: %w", queue.ErrDeadLetter),
			reason: "parse change: dead-letter the message"},
		{name: "wrapped error type", err: fmt.Errorf("outer: %w", &queue.DeadLetterError{Reason: "Unsupported"}),
			reason: "Unsupported"},
		{name: "long reason cut", err: &queue.DeadLetterError{Reason: long},
			reason: long[:1024]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := openQueue(t, tempPath(t))
			enqueue(t, q, msg("m1", "u"), msg("m2", "u"))
			var rec recorder
			start(t, q, RunOptions{}, func(ctx context.Context, d queue.Delivery) error {
				rec.add(d)
				if d.ID == "m1" {
					return tt.err
				}
				return nil
			})
			testenv.WaitFor(t, 10*time.Second, "both settled", func() bool {
				st := q.Stats()
				return st.Completed == 1 && st.DeadLettered == 1
			})
			if ids := rec.ids(); !slices.Equal(ids, []string{"m1", "m2"}) {
				t.Errorf("deliveries %v, want m1 once then m2", ids)
			}
			dead, err := q.List(context.Background(), 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(dead) != 1 || dead[0].ID != "m1" || dead[0].Reason != tt.reason || dead[0].Description != tt.descrip || dead[0].DeliveryCount != 1 {
				t.Fatalf("dead letters = %+v", dead)
			}
		})
	}
}

func TestScheduledMessages(t *testing.T) {
	q, _ := openQueue(t, tempPath(t))
	t0 := time.Now()
	ctx := context.Background()
	if err := q.Schedule(ctx, t0.Add(600*time.Millisecond), msg("late", "s1")); err != nil {
		t.Fatal(err)
	}
	soon := msg("soon", "s1")
	soon.ScheduledAt = t0.Add(300 * time.Millisecond)
	enqueue(t, q, soon, msg("now", "s2"))
	past := msg("past", "s3")
	past.ScheduledAt = t0.Add(-time.Hour)
	enqueue(t, q, past)

	st := q.Stats()
	if st.ScheduledMessages != 2 || st.VisibleMessages != 2 || st.Scheduled != 2 {
		t.Fatalf("before running: %+v, want 2 scheduled and 2 visible", st)
	}
	var rec recorder
	start(t, q, RunOptions{}, func(ctx context.Context, d queue.Delivery) error {
		rec.add(d)
		return nil
	})
	testenv.WaitFor(t, 10*time.Second, "all four delivered", func() bool { return q.Stats().Completed == 4 })

	rec.mu.Lock()
	defer rec.mu.Unlock()
	at := map[string]time.Duration{}
	var order []string
	for i, d := range rec.ds {
		at[d.ID] = rec.at[i].Sub(t0)
		order = append(order, d.ID)
	}
	if at["now"] > 250*time.Millisecond || at["past"] > 250*time.Millisecond {
		t.Errorf("visible messages delivered late: now at %v, past at %v", at["now"], at["past"])
	}
	if at["soon"] < 300*time.Millisecond || at["late"] < 600*time.Millisecond {
		t.Errorf("scheduled messages delivered early: soon at %v, late at %v", at["soon"], at["late"])
	}
	if at["late"] > 5*time.Second {
		t.Errorf("late delivered at %v: the timer for scheduled messages did not fire", at["late"])
	}
	if slices.Index(order, "soon") > slices.Index(order, "late") {
		t.Errorf("order %v: soon must come before late", order)
	}
	for _, d := range rec.ds {
		if d.ID == "late" && !d.ScheduledAt.Equal(t0.Add(600*time.Millisecond).UTC()) {
			t.Errorf("late's ScheduledAt = %v", d.ScheduledAt)
		}
	}
}

func TestMessageRoundTrip(t *testing.T) {
	q, _ := openQueue(t, tempPath(t))
	in := queue.Message{
		ID: "id-1", SessionID: "user-1", Body: []byte{0, 1, 2, 0xff}, ContentType: "application/octet-stream",
		Properties: map[string]any{"kind": "user", "attempt": 3, "throttled": true},
	}
	enqueue(t, q, in, queue.Message{SessionID: "user-2"})
	var rec recorder
	start(t, q, RunOptions{}, func(ctx context.Context, d queue.Delivery) error {
		rec.add(d)
		return nil
	})
	testenv.WaitFor(t, 10*time.Second, "both delivered", func() bool { return q.Stats().Completed == 2 })
	ds := rec.list()
	slices.SortFunc(ds, func(a, b queue.Delivery) int { return strings.Compare(a.SessionID, b.SessionID) })
	d := ds[0]
	if d.ID != in.ID || d.SessionID != in.SessionID || string(d.Body) != string(in.Body) || d.ContentType != in.ContentType {
		t.Errorf("delivered %+v", d)
	}
	if d.Properties["kind"] != "user" || d.Properties["attempt"] != json.Number("3") || d.Properties["throttled"] != true {
		t.Errorf("properties %#v", d.Properties)
	}
	if d.SequenceNumber <= 0 || d.EnqueuedAt.IsZero() || !d.LockedUntil.After(d.EnqueuedAt) {
		t.Errorf("delivery metadata: seq %d enqueued %v locked until %v", d.SequenceNumber, d.EnqueuedAt, d.LockedUntil)
	}
	if len(ds[1].ID) != 36 {
		t.Errorf("message without id got %q, want a UUID", ds[1].ID)
	}
}

func TestEnqueueRefuses(t *testing.T) {
	q, _ := openQueue(t, tempPath(t))
	big := msg("big", "u")
	big.Body = make([]byte, DefaultMaxMessageSize+1)
	tests := []struct {
		name string
		msgs []queue.Message
		want error
	}{
		{name: "too large", msgs: []queue.Message{big}, want: queue.ErrMessageTooLarge},
		{name: "too large in a batch: none stored", msgs: []queue.Message{msg("ok", "u"), big}, want: queue.ErrMessageTooLarge},
		{name: "unencodable property", msgs: []queue.Message{{ID: "p", Properties: map[string]any{"c": make(chan int)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := q.Enqueue(context.Background(), tt.msgs...)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Enqueue error = %v, want %v", err, tt.want)
			}
			if st := q.Stats(); st.VisibleMessages != 0 || st.Enqueued != 0 {
				t.Errorf("something was enqueued: %+v", st)
			}
		})
	}
}

func TestClosed(t *testing.T) {
	q, _ := openQueue(t, tempPath(t))
	enqueue(t, q, msg("m1", "u"))
	started := make(chan struct{})
	r := start(t, q, RunOptions{}, func(ctx context.Context, d queue.Delivery) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	<-started
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run still going after Close")
	}
	if !errors.Is(r.err, queue.ErrClosed) {
		t.Errorf("Run returned %v, want ErrClosed", r.err)
	}
	ctx := context.Background()
	if err := q.Enqueue(ctx, msg("m2", "u")); !errors.Is(err, queue.ErrClosed) {
		t.Errorf("Enqueue after Close: %v", err)
	}
	if err := q.Run(ctx, RunOptions{}, func(context.Context, queue.Delivery) error { return nil }); !errors.Is(err, queue.ErrClosed) {
		t.Errorf("Run after Close: %v", err)
	}
	if _, err := q.Resubmit(ctx, queue.ResubmitOptions{All: true}); !errors.Is(err, queue.ErrClosed) {
		t.Errorf("Resubmit after Close: %v", err)
	}
	if err := q.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
