package embedded

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/tenantsync/tenantsync/internal/devtools/testenv"
	"github.com/tenantsync/tenantsync/internal/queue"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

// crashChildEnv, set to a bbolt file's path, makes the test binary a child
// process that consumes the queue in that file and hangs in its handler
// until the parent kills it.
const crashChildEnv = "TENANTSYNC_QUEUE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		os.Exit(crashChild(path))
	}
	os.Exit(m.Run())
}

func crashChild(path string) int {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	q, err := Open(db, &Options{Logger: quiet})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	err = q.Run(context.Background(), RunOptions{}, func(ctx context.Context, d queue.Delivery) error {
		fmt.Printf("DELIVERED %s %d\n", d.ID, d.DeliveryCount)
		time.Sleep(time.Hour) // killed here
		return nil
	})
	fmt.Fprintln(os.Stderr, "Run returned:", err)
	return 2
}

func TestCrashMidDeliveryLosesNothing(t *testing.T) {
	path := tempPath(t)
	func() {
		q, db := openQueue(t, path)
		enqueue(t, q, msg("u1", "u"), msg("u2", "u"), msg("u3", "u"), msg("v1", "v"))
		_ = q.Close()
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}()

	// A child process takes the head of each session and is killed (SIGKILL)
	// in the middle of handling them.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	var delivered []string
	timeout := time.After(30 * time.Second)
	for len(delivered) < 2 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("child ended early: %s", stderr.String())
			}
			delivered = append(delivered, l)
		case <-timeout:
			_ = cmd.Process.Kill()
			t.Fatalf("child delivered %v in 30 s; stderr: %s", delivered, stderr.String())
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	slices.Sort(delivered)
	if want := []string{"DELIVERED u1 1", "DELIVERED v1 1"}; !slices.Equal(delivered, want) {
		t.Fatalf("child delivered %v, want %v", delivered, want)
	}

	// Reopened, the queue has every message; the two that were in flight
	// count the crashed delivery, as after a lapsed lock.
	q, _ := openQueue(t, path)
	if st := q.Stats(); st.VisibleMessages != 4 {
		t.Fatalf("after the crash %d messages visible, want 4", st.VisibleMessages)
	}
	var rec recorder
	start(t, q, RunOptions{}, func(ctx context.Context, d queue.Delivery) error {
		rec.add(d)
		return nil
	})
	testenv.WaitFor(t, 10*time.Second, "all delivered", func() bool { return q.Stats().Completed == 4 })
	var u []string
	for _, d := range rec.list() {
		entry := fmt.Sprintf("%s %d", d.ID, d.DeliveryCount)
		if d.SessionID == "u" {
			u = append(u, entry)
		} else if entry != "v1 2" {
			t.Errorf("session v delivered %q, want v1 2", entry)
		}
	}
	if want := []string{"u1 2", "u2 1", "u3 1"}; !slices.Equal(u, want) {
		t.Errorf("session u delivered %v, want %v", u, want)
	}
}

func TestDurableAcrossReopen(t *testing.T) {
	path := tempPath(t)
	q, db := openQueue(t, path)
	enqueue(t, q, msg("a1", "a"), msg("a2", "a"), msg("a3", "a"), msg("b1", "b"))
	if err := q.Schedule(context.Background(), time.Now().Add(time.Hour), msg("c1", "c")); err != nil {
		t.Fatal(err)
	}
	// a1 fails until the stop, k times, and k depends on timing (a retry
	// takes well under a millisecond): both consumers get a delivery limit
	// k cannot reach, or the one after the reopen would dead-letter a1.
	opts := RunOptions{MaxDeliveryCount: 1000}
	var tries atomic.Int64
	r := start(t, q, opts, func(ctx context.Context, d queue.Delivery) error {
		switch d.ID {
		case "b1":
			return &queue.DeadLetterError{Reason: "Bad", Description: "b1 is bad"}
		case "a1":
			tries.Add(1)
			return errBoom
		}
		t.Errorf("%s delivered while a1 fails", d.ID)
		return nil
	})
	testenv.WaitFor(t, 10*time.Second, "a1 abandoned and b1 dead-lettered", func() bool {
		st := q.Stats()
		return st.Abandoned >= 2 && st.DeadLettered == 1
	})
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	k := int(tries.Load())
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	q, _ = openQueue(t, path)
	st := q.Stats()
	if st.VisibleMessages != 3 || st.ScheduledMessages != 1 || st.DeadLetterMessages != 1 {
		t.Fatalf("reopened: %+v, want 3 visible, 1 scheduled, 1 dead letter", st)
	}
	var rec recorder
	start(t, q, opts, func(ctx context.Context, d queue.Delivery) error {
		rec.add(d)
		return nil
	})
	testenv.WaitFor(t, 10*time.Second, "a1..a3 completed", func() bool { return q.Stats().Completed == 3 })
	var got []string
	for _, d := range rec.list() {
		got = append(got, fmt.Sprintf("%s %d", d.ID, d.DeliveryCount))
	}
	if want := []string{fmt.Sprintf("a1 %d", k+1), "a2 1", "a3 1"}; !slices.Equal(got, want) {
		t.Errorf("after reopen delivered %v, want %v", got, want)
	}
	dead, err := q.List(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].ID != "b1" || dead[0].Reason != "Bad" || dead[0].Description != "b1 is bad" {
		t.Errorf("dead letters after reopen: %+v", dead)
	}
	if st := q.Stats(); st.ScheduledMessages != 1 {
		t.Errorf("the scheduled message is gone: %+v", st)
	}
}

func TestTwoQueuesInOneFile(t *testing.T) {
	db := openDB(t, tempPath(t))
	q1, err := Open(db, &Options{Name: "one", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer q1.Close()
	q2, err := Open(db, &Options{Name: "two", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	enqueue(t, q1, msg("x", "s"))
	if st := q2.Stats(); st.VisibleMessages != 0 {
		t.Errorf("queue two sees %d messages of queue one", st.VisibleMessages)
	}
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
			if !strings.HasPrefix(string(name), BucketPrefix) {
				return fmt.Errorf("bucket %q outside %q", name, BucketPrefix)
			}
			return nil
		})
	})
	if err != nil {
		t.Error(err)
	}
}

func TestResubmitDeadLetters(t *testing.T) {
	q, _ := openQueue(t, tempPath(t))
	ctx := context.Background()
	enqueue(t, q, msg("m1", "a"), msg("m2", "a"), msg("m3", "b"))
	var rec recorder
	start(t, q, RunOptions{}, func(ctx context.Context, d queue.Delivery) error {
		if d.Properties[queue.PropertyResubmittedFrom] == nil {
			return &queue.DeadLetterError{Reason: "NotYet"}
		}
		rec.add(d)
		return nil
	})
	testenv.WaitFor(t, 10*time.Second, "three dead letters", func() bool { return q.Stats().DeadLetterMessages == 3 })
	dead, err := q.List(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	seq := map[string]int64{}
	for _, d := range dead {
		seq[d.ID] = d.SequenceNumber
	}

	for _, bad := range []queue.ResubmitOptions{{}, {All: true, IDs: []string{"m1"}}} {
		if _, err := q.Resubmit(ctx, bad); err == nil {
			t.Errorf("Resubmit(%+v) succeeded", bad)
		}
	}
	if n, err := q.Resubmit(ctx, queue.ResubmitOptions{IDs: []string{"nope"}}); n != 0 || err != nil {
		t.Errorf("Resubmit of an unknown id = %d, %v", n, err)
	}

	n, err := q.Resubmit(ctx, queue.ResubmitOptions{IDs: []string{"m2"}})
	if err != nil || n != 1 {
		t.Fatalf("Resubmit(m2) = %d, %v; want 1", n, err)
	}
	testenv.WaitFor(t, 10*time.Second, "m2 handled", func() bool { return rec.len() == 1 })
	d := rec.list()[0]
	if d.ID != queue.ResubmitID("m2", seq["m2"]) || d.SessionID != "a" || d.DeliveryCount != 1 ||
		d.Properties[queue.PropertyResubmittedFrom] != "m2" || string(d.Body) != `{"id":"m2"}` {
		t.Errorf("resubmitted delivery = %+v", d)
	}
	if left, _ := q.List(ctx, 0); len(left) != 2 || left[0].ID != "m1" || left[1].ID != "m3" {
		t.Errorf("dead letters left: %+v", left)
	}

	n, err = q.Resubmit(ctx, queue.ResubmitOptions{All: true})
	if err != nil || n != 2 {
		t.Fatalf("Resubmit(all) = %d, %v; want 2", n, err)
	}
	testenv.WaitFor(t, 10*time.Second, "all handled", func() bool { return rec.len() == 3 })
	st := q.Stats()
	if left, _ := q.List(ctx, 0); len(left) != 0 || st.DeadLetterMessages != 0 || st.Resubmitted != 3 {
		t.Errorf("after resubmitting all: %d left, stats %+v", len(left), st)
	}
}

func TestGracefulShutdown(t *testing.T) {
	tests := []struct {
		name  string
		grace time.Duration
		// blocks: the handler waits for its context instead of finishing
		// in 300 ms.
		blocks       bool
		wantCause    error
		wantDone     int64 // completed
		wantReleased int64
	}{
		{name: "in-flight handler finishes within the grace", grace: 5 * time.Second, wantDone: 1},
		{name: "grace runs out: the delivery is released uncounted", grace: 200 * time.Millisecond, blocks: true,
			wantCause: ErrStopping, wantReleased: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := openQueue(t, tempPath(t))
			enqueue(t, q, msg("m1", "a"), msg("m2", "a"), msg("n1", "b"))
			started := make(chan struct{})
			var cause atomic.Value
			var calls atomic.Int64
			r := start(t, q, RunOptions{MaxConcurrentSessions: 1, ShutdownGrace: tt.grace}, func(ctx context.Context, d queue.Delivery) error {
				if calls.Add(1) > 1 {
					t.Errorf("%s delivered after shutdown began", d.ID)
					return nil
				}
				close(started)
				if !tt.blocks {
					time.Sleep(300 * time.Millisecond)
					return nil
				}
				<-ctx.Done()
				cause.Store(context.Cause(ctx))
				return ctx.Err()
			})
			<-started
			t0 := time.Now()
			if err := r.stop(t); err != nil {
				t.Fatalf("Run = %v", err)
			}
			el := time.Since(t0)
			if tt.blocks && el > tt.grace+3*time.Second {
				t.Errorf("Run took %v to stop with a grace of %v", el, tt.grace)
			}
			if c, _ := cause.Load().(error); !errors.Is(c, tt.wantCause) || (tt.wantCause == nil && c != nil) {
				t.Errorf("handler's context cause = %v, want %v", c, tt.wantCause)
			}
			st := q.Stats()
			if st.Delivered != 1 || st.Completed != tt.wantDone || st.Released != tt.wantReleased ||
				st.Abandoned != 0 || st.Locked != 0 || int64(st.VisibleMessages) != 3-tt.wantDone {
				t.Errorf("stats after shutdown: %+v", st)
			}

			// The next consumer sees the released message as never delivered.
			var rec recorder
			start(t, q, RunOptions{}, func(ctx context.Context, d queue.Delivery) error {
				rec.add(d)
				return nil
			})
			testenv.WaitFor(t, 10*time.Second, "the rest delivered", func() bool { return q.Stats().Completed == 3 })
			for _, d := range rec.list() {
				if d.DeliveryCount != 1 {
					t.Errorf("%s delivered with count %d, want 1", d.ID, d.DeliveryCount)
				}
			}
		})
	}
}

func TestSharesTheStoreFile(t *testing.T) {
	// The local runner opens the embedded store and gives its bbolt file to
	// the queue.
	path := tempPath(t)
	for round := range 2 {
		st, err := boltstore.Open(path, &boltstore.Options{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		q, err := Open(st.DB(), &Options{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			enqueue(t, q, msg("m1", "u"))
		} else if got := q.Stats().VisibleMessages; got != 1 {
			t.Errorf("after reopening the store, %d messages, want 1", got)
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
