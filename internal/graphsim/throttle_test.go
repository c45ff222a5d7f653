package graphsim

import (
	"testing"
	"time"
)

func TestThrottleBuckets(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		mode       string
		users      int
		cost       int
		write      bool
		wantOK     int // operations allowed before the first 429
		wantWait   int // Retry-After of that 429
		refill     time.Duration
		wantRefill int // operations allowed after refill
	}{
		{"off never throttles", "off", 10, 2, true, 100000, 0, 0, 0},
		{"small tenant reads (3500 RU, GET users costs 2)", "real", 10, 2, false, 1750, 1, 10 * time.Second, 1750},
		{"medium tenant reads (5000 RU)", "real", 200, 1, false, 5000, 1, time.Second, 500},
		{"large tenant reads (8000 RU)", "real", 5000, 2, false, 4000, 1, time.Second, 400},
		{"writes: 3000 per 150 s", "real", 5000, 1, true, 3000, 1, 15 * time.Second, 300},
		{"x10 refills writes ten times as fast", "x10", 5000, 1, true, 3000, 1, 15 * time.Second, 3000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseFaults(Faults{Throttle: tt.mode})
			if err != nil {
				t.Fatal(err)
			}
			var th throttle
			count := func(now time.Time, limit int) (int, int) {
				for i := 0; i < limit; i++ {
					if wait, ok := th.take(f, now, tt.cost, tt.write, tt.users); !ok {
						return i, wait
					}
				}
				return limit, 0
			}
			n, wait := count(start, tt.wantOK+10)
			if tt.mode == "off" {
				if n != tt.wantOK+10 {
					t.Fatalf("throttled after %d with throttling off", n)
				}
				return
			}
			if n != tt.wantOK || wait != tt.wantWait {
				t.Fatalf("allowed %d, then Retry-After %d; want %d and %d", n, wait, tt.wantOK, tt.wantWait)
			}
			n, _ = count(start.Add(tt.refill), tt.wantRefill+10)
			if n != tt.wantRefill {
				t.Errorf("after %v allowed %d, want %d", tt.refill, n, tt.wantRefill)
			}
		})
	}
}

func TestParseFaults(t *testing.T) {
	tests := []struct {
		f     Faults
		ok    bool
		scale float64
	}{
		{Faults{}, true, 0},
		{Faults{Throttle: "real"}, true, 1},
		{Faults{Throttle: "x10"}, true, 10},
		{Faults{Throttle: "X2.5"}, true, 2.5},
		{Faults{Throttle: "x0"}, false, 0},
		{Faults{Throttle: "fast"}, false, 0},
		{Faults{ErrorRate: 1.5}, false, 0},
		{Faults{ErrorStatuses: []int{200}}, false, 0},
		{Faults{Notifications: NotificationFaults{Drop: -0.1}}, false, 0},
		{Faults{LatencyMs: -1}, false, 0},
	}
	for _, tt := range tests {
		st, err := parseFaults(tt.f)
		if (err == nil) != tt.ok {
			t.Errorf("parseFaults(%+v): err %v, want ok=%v", tt.f, err, tt.ok)
			continue
		}
		if err == nil && st.scale != tt.scale {
			t.Errorf("parseFaults(%+v): scale %v, want %v", tt.f, st.scale, tt.scale)
		}
	}
}

func TestFailNextCyclesStatuses(t *testing.T) {
	f, err := parseFaults(Faults{FailNext: 3, ErrorStatuses: []int{429, 503}})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for i := 0; i < 5; i++ {
		if s, ok := f.injectError(); ok {
			got = append(got, s)
		}
	}
	if len(got) != 3 || got[0] != 429 || got[1] != 503 || got[2] != 429 {
		t.Errorf("injected %v, want [429 503 429]", got)
	}
}
