package operator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/engine"

	"github.com/tenantsync/tenantsync/internal/devtools/testenv"
)

// scriptedSyncer emits batches as Reconcile and answers Sync from a
// script, recording what was synced and how many ran at once. It stands in
// for the engine to pin down the worker pool's rules; the handler's tests
// run the same code on the real engine and simulator.
type scriptedSyncer struct {
	batches [][]engine.Change
	// outcome returns the result of syncing a change the n-th time (from 1).
	outcome func(ch engine.Change, n int) (engine.Result, error)
	delay   time.Duration

	mu      sync.Mutex
	synced  []string
	counts  map[string]int
	running atomic.Int32
	maxSeen atomic.Int32
	// moved is set when the reconcile got past every batch: it would have
	// moved the watermark.
	moved bool
}

func (s *scriptedSyncer) Reconcile(ctx context.Context, opts engine.ReconcileOptions) (engine.ReconcileResult, error) {
	n := 0
	for _, b := range s.batches {
		n += len(b)
		if err := opts.Emit(ctx, b); err != nil {
			return engine.ReconcileResult{Changes: n}, fmt.Errorf("users delta: %w", err)
		}
	}
	s.moved = true
	return engine.ReconcileResult{Changes: n, Full: true, Why: "requested"}, nil
}

func (s *scriptedSyncer) Sync(ctx context.Context, ch engine.Change) (engine.Result, error) {
	cur := s.running.Add(1)
	defer s.running.Add(-1)
	for {
		m := s.maxSeen.Load()
		if cur <= m || s.maxSeen.CompareAndSwap(m, cur) {
			break
		}
	}
	time.Sleep(s.delay)
	s.mu.Lock()
	if s.counts == nil {
		s.counts = map[string]int{}
	}
	s.counts[ch.ID]++
	n := s.counts[ch.ID]
	s.synced = append(s.synced, ch.ID)
	s.mu.Unlock()
	if s.outcome == nil {
		return engine.Result{Change: ch, Actions: []engine.Action{{Op: engine.OpUpdate, SourceID: ch.ID}}}, nil
	}
	return s.outcome(ch, n)
}

func users(ids ...string) []engine.Change {
	out := make([]engine.Change, len(ids))
	for i, id := range ids {
		out[i] = engine.Change{Kind: engine.KindUser, ID: id}
	}
	return out
}

func TestReconcileWorkerPool(t *testing.T) {
	var ids []string
	for i := range 40 {
		ids = append(ids, fmt.Sprintf("u%02d", i))
	}
	tests := []struct {
		name    string
		workers int
		want    int32
	}{
		{"one worker", 1, 1},
		{"four workers", 4, 4},
		{"more workers than changes", 64, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scriptedSyncer{batches: [][]engine.Change{users(ids...)}, delay: 5 * time.Millisecond}
			sum, err := Reconcile(context.Background(), s, ReconcileOptions{Workers: tt.workers})
			if err != nil {
				t.Fatal(err)
			}
			if got := s.maxSeen.Load(); got != tt.want {
				t.Errorf("%d syncs ran at once, want %d", got, tt.want)
			}
			if sum.Synced != 40 || sum.Changes != 40 || sum.Actions["update"] != 40 || sum.Failed != 0 || !s.moved {
				t.Errorf("summary = %+v, watermark moved %v", sum, s.moved)
			}
		})
	}
}

func TestReconcileFollowUpsAndFailures(t *testing.T) {
	throttled := &directory.Error{Op: "patch user b", Status: 429, RetryAfter: time.Second}
	tests := []struct {
		name     string
		batches  [][]engine.Change
		outcome  func(engine.Change, int) (engine.Result, error)
		wantSync []string // sorted ids synced, repeats included
		wantErr  string
		moved    bool
		failed   int
	}{{
		name:    "follow-ups are synced, even for a user synced before",
		batches: [][]engine.Change{users("a", "b")},
		outcome: func(ch engine.Change, n int) (engine.Result, error) {
			res := engine.Result{Change: ch}
			if ch.ID == "a" && n == 1 {
				// a became b's manager: b is synced again, c too (twice
				// named, synced once).
				res.FollowUps = users("b", "c", "c")
			}
			return res, nil
		},
		wantSync: []string{"a", "b", "b", "c"},
		moved:    true,
	}, {
		name:    "a permanent failure is counted and the reconcile goes on",
		batches: [][]engine.Change{users("a"), users("b")},
		outcome: func(ch engine.Change, n int) (engine.Result, error) {
			if ch.ID == "a" {
				return engine.Result{Change: ch}, fmt.Errorf("bad mapping: %w", engine.ErrPermanent)
			}
			return engine.Result{Change: ch}, nil
		},
		wantSync: []string{"a", "b"},
		moved:    true,
		failed:   1,
	}, {
		name:    "a failure worth retrying stops the reconcile after its batch",
		batches: [][]engine.Change{users("a", "b"), users("c")},
		outcome: func(ch engine.Change, n int) (engine.Result, error) {
			if ch.ID == "b" {
				return engine.Result{Change: ch}, throttled
			}
			return engine.Result{Change: ch}, nil
		},
		wantSync: []string{"a", "b"},
		wantErr:  "users delta: 1 change failed; the watermark was not moved: run reconcile again; first: user b: patch user b: 429 ",
		failed:   1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scriptedSyncer{batches: tt.batches, outcome: tt.outcome}
			var progress bytes.Buffer
			sum, err := Reconcile(context.Background(), s, ReconcileOptions{Workers: 2, Progress: NewProgress(&progress, false, time.Hour)})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			got := append([]string(nil), s.synced...)
			slices.Sort(got)
			if strings.Join(got, ",") != strings.Join(tt.wantSync, ",") {
				t.Errorf("synced %v, want %v", got, tt.wantSync)
			}
			if s.moved != tt.moved || sum.Failed != tt.failed || len(sum.Errors) != tt.failed || sum.Synced != len(tt.wantSync) {
				t.Errorf("moved %v, summary %+v", s.moved, sum)
			}
			wantLine := fmt.Sprintf("reconcile: %d synced of %d found", len(tt.wantSync), len(tt.wantSync))
			if tt.failed > 0 {
				wantLine += fmt.Sprintf(", %d failed", tt.failed)
			}
			if !strings.HasPrefix(progress.String(), wantLine+" (") || strings.Count(progress.String(), "\n") != 1 {
				t.Errorf("progress = %q, want one final line %q", progress.String(), wantLine)
			}
		})
	}
}

func TestReconcileCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &scriptedSyncer{batches: [][]engine.Change{users("a", "b", "c", "d")}, outcome: func(ch engine.Change, n int) (engine.Result, error) {
		cancel()
		return engine.Result{Change: ch}, context.Canceled
	}}
	_, err := Reconcile(ctx, s, ReconcileOptions{Workers: 1})
	if !errors.Is(err, context.Canceled) || s.moved {
		t.Fatalf("err = %v, watermark moved %v", err, s.moved)
	}
	if len(s.synced) != 1 {
		t.Errorf("synced %v after the cancellation", s.synced)
	}
}

func TestLineProgress(t *testing.T) {
	var buf testenv.Buffer
	p := NewProgress(&buf, false, 20*time.Millisecond)
	waitFor(t, &buf, "reconcile: reading the tenants (0 s)\n")
	p.Grow(10)
	p.Done(4, 1)
	waitFor(t, &buf, "reconcile: 4 synced of 10 found so far, 1 failed (0 s)\n")
	p.Grow(2)
	p.Done(8, 0)
	p.Finish()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if last := lines[len(lines)-1]; last != "reconcile: 12 synced of 12 found, 1 failed (0 s)" {
		t.Errorf("last line %q", last)
	}
	// A line is written only when something moved, and the counts only
	// grow: nothing goes backwards when more work is found.
	seen := map[string]bool{}
	for _, l := range lines[:len(lines)-1] {
		k := l[:strings.LastIndex(l, " (")]
		if seen[k] {
			t.Errorf("line %q written twice:\n%s", k, buf.String())
		}
		seen[k] = true
	}
}

// TestProgressRate: one rate unit, changes per second, from the first
// second on.
func TestProgressRate(t *testing.T) {
	var buf bytes.Buffer
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := start
	p := &progress{w: &buf, start: start, now: func() time.Time { return now }}
	p.Grow(300)
	p.Done(120, 0)
	now = start.Add(4 * time.Minute)
	p.write(false)
	p.Done(1, 0) // 121 in 4 minutes: still changes per second
	now = start.Add(5*time.Minute + 30*time.Second)
	p.write(false)
	want := "reconcile: 120 synced of 300 found so far, 0.5 changes/s (4 min)\n" +
		"reconcile: 121 synced of 300 found so far, 0.4 changes/s (5 min 30 s)\n"
	if buf.String() != want {
		t.Errorf("lines\n%q\nwant\n%q", buf.String(), want)
	}
}

// TestSpinnerProgress: on a terminal, a spinner with counts redrawn in
// place, with no total and no percentage, and a final line.
func TestSpinnerProgress(t *testing.T) {
	var buf bytes.Buffer
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := start
	p := &progress{w: &buf, terminal: true, start: start, now: func() time.Time { return now }}
	p.write(false)
	p.Grow(3)
	p.Done(2, 0)
	now = start.Add(2 * time.Second)
	p.write(false)
	p.Grow(2) // more found: nothing goes backwards
	p.Done(3, 1)
	now = start.Add(5 * time.Second)
	p.write(true)
	want := "\r\x1b[K⠋ syncing: reading the tenants · 0 s" +
		"\r\x1b[K⠙ syncing: 2 synced of 3 found so far · 1.0 changes/s · 2 s" +
		"\r\x1b[K✗ syncing: 5 synced of 5 found, 1 failed · 1.0 changes/s · 5 s\n"
	if buf.String() != want {
		t.Errorf("spinner\n%q\nwant\n%q", buf.String(), want)
	}
	if strings.Contains(buf.String(), "%") {
		t.Error("the spinner shows a percentage")
	}
}

// TestNothingFoundLeavesNoSpinner: a run that found nothing leaves no
// progress line behind its summary.
func TestNothingFoundLeavesNoSpinner(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, true, 0)
	p.Finish()
	if !strings.HasSuffix(buf.String(), "\r\x1b[K") {
		t.Errorf("output %q does not end by clearing the line", buf.String())
	}
}

func waitFor(t *testing.T, b *testenv.Buffer, s string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(b.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in %q", s, b.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
