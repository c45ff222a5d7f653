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

	"github.com/tenantsync/tenantsync/internal/testenv"
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
			wantLine := fmt.Sprintf("reconcile: %d/%d changes synced", len(tt.wantSync), len(tt.wantSync))
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
	waitFor(t, &buf, "reconcile: reading the tenants (")
	p.Grow(10)
	p.Done(4, 1)
	waitFor(t, &buf, "reconcile: 4/10 changes synced, 1 failed (")
	p.Done(6, 0)
	p.Finish()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "reconcile: 10/10 changes synced, 1 failed (") {
		t.Errorf("last line %q", last)
	}
	// A line is written only when something moved.
	seen := map[string]bool{}
	for _, l := range lines[:len(lines)-1] {
		k := l[:strings.LastIndex(l, " (")]
		if seen[k] {
			t.Errorf("line %q written twice:\n%s", k, buf.String())
		}
		seen[k] = true
	}
}

func TestBarProgress(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, true, 0)
	p.Grow(3)
	p.Grow(2)
	p.Done(5, 0)
	p.Finish()
	if out := buf.String(); !strings.Contains(out, "5/5") || !strings.Contains(out, "100%") {
		t.Errorf("bar output %q lacks 5/5 at 100%%", out)
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
