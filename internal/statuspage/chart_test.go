package statuspage

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestBuildChartBuckets(t *testing.T) {
	now := seedNow
	from := now.Add(-time.Hour)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name    string
		samples []sample
		// want maps bucket index to count, p50 and p99 in ms; other buckets are empty.
		want     map[int][3]int64
		samples2 int
	}{
		{
			name:    "no samples",
			samples: nil,
			want:    map[int][3]int64{},
		},
		{
			name: "bucket edges",
			samples: []sample{
				{from, ms(100)}, // the first instant of the hour: bucket 0
				{from.Add(5*time.Minute - time.Nanosecond), ms(300)}, // still bucket 0
				{from.Add(5 * time.Minute), ms(200)},                 // bucket 1
				{now, ms(700)},                                       // now: the last bucket
				{now.Add(30 * time.Second), ms(900)},                 // clock skew: the last bucket
			},
			want:     map[int][3]int64{0: {2, 100, 300}, 1: {1, 200, 200}, 11: {2, 700, 900}},
			samples2: 5,
		},
		{
			name: "left out",
			samples: []sample{
				{from.Add(-time.Nanosecond), ms(100)}, // older than the hour
				{now.Add(-time.Minute), 0},            // latency unknown
				{now.Add(-time.Minute), ms(50)},
			},
			want:     map[int][3]int64{11: {1, 50, 50}},
			samples2: 1,
		},
		{
			name:     "percentiles by nearest rank",
			samples:  hundred(now.Add(-12*time.Minute), ms(1)),
			want:     map[int][3]int64{9: {100, 50, 99}},
			samples2: 100,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := buildChart(now, tt.samples, false)
			if len(c.Buckets) != 12 || c.BucketSeconds != 300 || !c.From.Equal(from) || !c.To.Equal(now) {
				t.Fatalf("chart frame = %d buckets of %d s from %v to %v", len(c.Buckets), c.BucketSeconds, c.From, c.To)
			}
			if c.Samples != tt.samples2 {
				t.Errorf("samples = %d, want %d", c.Samples, tt.samples2)
			}
			for i, b := range c.Buckets {
				if !b.Start.Equal(from.Add(time.Duration(i) * 5 * time.Minute)) {
					t.Errorf("bucket %d starts %v", i, b.Start)
				}
				w := tt.want[i]
				if got := [3]int64{int64(b.Count), b.P50Ms, b.P99Ms}; got != w {
					t.Errorf("bucket %d = count %d p50 %d p99 %d, want %v", i, b.Count, b.P50Ms, b.P99Ms, w)
				}
			}
			// Two points (p50, p99) per bucket with data.
			if got, want := len(c.SVG.Points), 2*len(tt.want); got != want {
				t.Errorf("%d points drawn, want %d", got, want)
			}
		})
	}
}

// hundred returns 100 samples at t with latencies step, 2·step, … 100·step,
// in a scrambled order.
func hundred(t time.Time, step time.Duration) []sample {
	s := make([]sample, 100)
	for i := range s {
		s[i] = sample{t, time.Duration((i*37)%100+1) * step}
	}
	return s
}

func TestChartGeometry(t *testing.T) {
	// Buckets 3 and 4 have data, 5 none, 6 has data: the lines break at 5.
	at := func(i int) time.Time { return seedNow.Add(-time.Hour + time.Duration(i)*5*time.Minute + time.Minute) }
	c := buildChart(seedNow, []sample{
		{at(3), time.Second}, {at(4), 2 * time.Second}, {at(6), 4 * time.Second},
	}, false)
	g := c.SVG
	var lines []string
	for _, l := range g.Lines {
		lines = append(lines, l.Class+":"+strconv.Itoa(strings.Count(l.Points, ",")))
	}
	if got, want := strings.Join(lines, " "), "p99:2 p50:2"; got != want {
		t.Errorf("lines = %s, want %s (a single point makes no line)", got, want)
	}
	if len(g.Bars) != 3 {
		t.Errorf("%d volume bars, want 3", len(g.Bars))
	}
	// The highest point, p99 = 4 s, sits on the axis ceiling (4 s, step 1 s): the top of the plot.
	var top string
	for _, p := range g.Points {
		if p.Bucket == 6 && p.Class == "p99" {
			top = p.Y
		}
	}
	if top != num(float64(g.Top)) {
		t.Errorf("4 s is drawn at y=%s, want the top of the plot %d", top, g.Top)
	}
	var labels []string
	for _, tk := range g.YTicks {
		labels = append(labels, tk.Label)
	}
	if got, want := strings.Join(labels, ", "), "0 ms, 1.0 s, 2.0 s, 3.0 s, 4.0 s"; got != want {
		t.Errorf("y axis = %s, want %s", got, want)
	}
}

func TestAxis(t *testing.T) {
	tests := []struct {
		top, step, ceiling time.Duration
	}{
		{0, 250 * time.Millisecond, time.Second},
		{900 * time.Millisecond, 500 * time.Millisecond, time.Second},
		{4 * time.Second, time.Second, 4 * time.Second},
		{4300 * time.Millisecond, 2 * time.Second, 6 * time.Second},
		{37 * time.Second, 10 * time.Second, 40 * time.Second},
		{time.Microsecond, time.Millisecond, time.Millisecond},
	}
	for _, tt := range tests {
		step, ceiling := axis(tt.top)
		if step != tt.step || ceiling != tt.ceiling {
			t.Errorf("axis(%v) = %v, %v; want %v, %v", tt.top, step, ceiling, tt.step, tt.ceiling)
		}
		if ceiling < tt.top || ceiling/step > 5 {
			t.Errorf("axis(%v): ceiling %v in %d steps", tt.top, ceiling, ceiling/step)
		}
	}
}

func TestFormats(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{formatLatency(850 * time.Millisecond), "850 ms"},
		{formatLatency(1250 * time.Millisecond), "1.2 s"},
		{formatLatency(42 * time.Second), "42 s"},
		{formatLatency(125 * time.Second), "2 min 5 s"},
		{ago(seedNow, seedNow.Add(-90*time.Second)), "1 min ago"},
		{ago(seedNow, seedNow.Add(3*time.Hour)), "in 3 h"},
		{ago(seedNow, seedNow), "just now"},
		{ago(seedNow, time.Time{}), "never"},
		{ago(seedNow, seedNow.Add(-72*time.Hour)), "3 d ago"},
		{timestamp(seedNow), "2026-03-01 12:00:00 UTC"},
		{timestamp(time.Time{}), "never"},
		{strings.Join(splitChanges(knownChanges), "|"), "department: Sales → Marketing|jobTitle: → Lead"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
