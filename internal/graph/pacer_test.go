package graph

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// fakeClock is a clock that only moves when a write sleeps or a test
// advances it.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.t = c.t.Add(d)
	return nil
}

func newFakePacer(opts WritePacing) (*pacer, *fakeClock) {
	c := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := newPacer(opts)
	p.now, p.sleep = c.now, c.sleep
	return p, c
}

func TestIsWrite(t *testing.T) {
	tests := []struct {
		method, path string
		want         bool
	}{
		{"GET", "/v1.0/users", false},
		{"HEAD", "/v1.0/users", false},
		{"POST", "/v1.0/invitations", true},
		{"PATCH", "/v1.0/users/1", true},
		{"PUT", "/v1.0/users/1/manager/$ref", true},
		{"DELETE", "/v1.0/users/1", true},
		{"POST", "/v1.0/directory/deletedItems/1/restore", true},
		{"POST", "/v1.0/subscriptions", true},
		{"POST", "/v1.0/users/1/checkMemberGroups", false},
		{"POST", "/v1.0/users/1/microsoft.graph.getMemberGroups", false},
		{"POST", "/v1.0/$batch", false},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req := &http.Request{Method: tt.method, URL: &url.URL{Path: tt.path}}
			if got := isWrite(req); got != tt.want {
				t.Errorf("isWrite = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestPacerTurns checks the spacing of writes, the pause after a 429, the
// cut of the rate once per episode, and the refusal of a turn further away
// than MaxWait.
func TestPacerTurns(t *testing.T) {
	tests := []struct {
		name string
		// throttle, when > 0, reports a 429 with this Retry-After after the
		// first write.
		throttle  time.Duration
		extra429s int // further 429s in the same episode
		writes    int
		maxWait   time.Duration
		wantSpan  time.Duration // from the first write to the last
		wantRate  float64
		wantPaced bool
	}{
		{name: "spaced at the initial rate", writes: 11, wantSpan: time.Second, wantRate: 10},
		{name: "a 429 pauses every write and cuts the rate", throttle: 3 * time.Second, writes: 2,
			wantSpan: 3 * time.Second, wantRate: 10 * pacerDecrease},
		{name: "the 429s of one episode cut once", throttle: 3 * time.Second, extra429s: 5, writes: 2,
			wantSpan: 3 * time.Second, wantRate: 10 * pacerDecrease},
		{name: "a pause beyond MaxWait refuses the write", throttle: 30 * time.Second, writes: 2,
			maxWait: 5 * time.Second, wantPaced: true, wantRate: 10 * pacerDecrease},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, clock := newFakePacer(WritePacing{InitialRate: 10, MaxWait: tt.maxWait})
			ctx := context.Background()
			var first time.Time
			for i := range tt.writes {
				err := p.acquire(ctx)
				if tt.wantPaced && i > 0 {
					var pe *pacedError
					if !errors.As(err, &pe) {
						t.Fatalf("write %d: err = %v, want a pacedError", i, err)
					}
					if pe.wait < tt.throttle-time.Second {
						t.Errorf("paced wait = %v, want about %v", pe.wait, tt.throttle)
					}
					break
				}
				if err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
				if i == 0 {
					first = clock.now()
					if tt.throttle > 0 {
						for range 1 + tt.extra429s {
							p.throttled(tt.throttle)
						}
					}
				}
			}
			if !tt.wantPaced {
				if span := clock.now().Sub(first); math.Abs(float64(span-tt.wantSpan)) > float64(10*time.Millisecond) {
					t.Errorf("writes spanned %v, want %v", span, tt.wantSpan)
				}
			}
			if got := p.currentRate(); math.Abs(got-tt.wantRate) > 1e-9 {
				t.Errorf("rate = %v, want %v", got, tt.wantRate)
			}
		})
	}
}

// TestPacerWaitsThroughA429 checks that a write already waiting for its
// turn when a 429 comes back takes a new turn behind the pause.
func TestPacerWaitsThroughA429(t *testing.T) {
	p, clock := newFakePacer(WritePacing{InitialRate: 1})
	ctx := context.Background()
	if err := p.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	start := clock.now()
	// The second write's turn is 1 s away; while it waits, a 429 with
	// Retry-After 3 s comes back.
	throttledOnce := false
	p.sleep = func(ctx context.Context, d time.Duration) error {
		if !throttledOnce {
			throttledOnce = true
			clock.t = clock.t.Add(d / 2)
			p.throttled(3 * time.Second)
			clock.t = clock.t.Add(d / 2)
			return nil
		}
		return clock.sleep(ctx, d)
	}
	if err := p.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := clock.now().Sub(start), 3500*time.Millisecond; got != want {
		t.Errorf("the write went %v after the first, want %v (half a second into its wait plus the 3 s pause)", got, want)
	}
}

func TestPacerCancel(t *testing.T) {
	p, _ := newFakePacer(WritePacing{InitialRate: 1})
	if err := p.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// bucket is Graph's write limit as the simulator models it: a token bucket
// that starts full.
type bucket struct {
	tokens, capacity, rate float64
	last                   time.Time
}

func (b *bucket) take(now time.Time) (time.Duration, bool) {
	b.tokens = math.Min(b.capacity, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return time.Duration(math.Ceil((1-b.tokens)/b.rate)) * time.Second, false
	}
	b.tokens--
	return 0, true
}

// TestPacerLearnsTheQuota runs a writer with more work than the quota
// allows against quotas the pacer is not told, and checks that it uses the
// quota (writes accepted ÷ writes the bucket allowed over the run) with few
// 429s, starting from a rate far below or far above it; and that a writer
// slower than the quota is never throttled.
func TestPacerLearnsTheQuota(t *testing.T) {
	tests := []struct {
		name            string
		initial         float64
		capacity, quota float64 // the bucket's size and refill per second
		writes          int
		// think is the writer's own time between writes: with it, the
		// writer asks for less than the quota.
		think          time.Duration
		minUtilisation float64
		max429s        int
	}{
		{"Graph's quota", 0, 3000, 20, 20000, 0, 0.98, 100},
		{"a simulator throttling twice as fast", 0, 3000, 40, 30000, 0, 0.98, 100},
		{"ten times as fast", 0, 3000, 200, 100000, 0, 0.98, 100},
		{"a share of the quota, from far above", 500, 3000, 5, 10000, 0, 0.98, 150},
		{"a writer slower than the quota is never throttled", 0, 3000, 20, 5000, 100 * time.Millisecond, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, clock := newFakePacer(WritePacing{InitialRate: tt.initial, MaxWait: time.Hour})
			start := clock.now()
			b := &bucket{tokens: tt.capacity, capacity: tt.capacity, rate: tt.quota, last: start}
			ctx := context.Background()
			accepted, throttled := 0, 0
			for accepted < tt.writes {
				if err := p.acquire(ctx); err != nil {
					t.Fatal(err)
				}
				if wait, ok := b.take(clock.now()); !ok {
					throttled++
					p.throttled(wait)
					continue
				}
				accepted++
				clock.t = clock.t.Add(time.Millisecond + tt.think) // the request itself
			}
			elapsed := clock.now().Sub(start).Seconds()
			utilisation := float64(accepted) / (tt.capacity + tt.quota*elapsed)
			t.Logf("%d writes in %.0f s, %d throttled, utilisation %.3f, final rate %.1f/s (quota %v/s)",
				accepted, elapsed, throttled, utilisation, p.currentRate(), tt.quota)
			if utilisation < tt.minUtilisation {
				t.Errorf("utilisation %.3f, want at least %.2f", utilisation, tt.minUtilisation)
			}
			if throttled > tt.max429s {
				t.Errorf("%d writes throttled, want at most %d", throttled, tt.max429s)
			}
		})
	}
}
