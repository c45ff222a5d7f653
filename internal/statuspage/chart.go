package statuspage

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The latency chart covers the last hour in 5-minute buckets.
const (
	chartWindow  = time.Hour
	chartBucket  = 5 * time.Minute
	chartBuckets = int(chartWindow / chartBucket)
	// chartPage is the page size used to read the events of the last hour.
	chartPage = 1000
)

// LatencyChart summarises the sync latency of the last hour: for each
// 5-minute bucket, how many changes were written and their 50th and 99th
// percentile latency (nearest rank).
type LatencyChart struct {
	From          time.Time       `json:"from"`
	To            time.Time       `json:"to"`
	BucketSeconds int             `json:"bucketSeconds"`
	Buckets       []LatencyBucket `json:"buckets"`
	// Samples is how many events with a known latency the chart is drawn from.
	Samples int `json:"samples"`
	// Truncated is true when the last hour held more events than the page
	// reads (Options.MaxChartEvents): the chart shows the newest ones.
	Truncated bool `json:"truncated,omitempty"`
	// SVG is the drawing, for the HTML page only.
	SVG *chartSVG `json:"-"`
}

// LatencyBucket is one 5-minute slice of the chart.
type LatencyBucket struct {
	Start time.Time `json:"start"`
	Count int       `json:"count"`
	P50Ms int64     `json:"p50Ms,omitempty"`
	P99Ms int64     `json:"p99Ms,omitempty"`
	// p50 and p99 keep full precision for drawing.
	p50, p99 time.Duration
}

type sample struct {
	at      time.Time
	latency time.Duration
}

// buildChart buckets samples into the hour that ends at now. Samples older
// than the hour are left out; samples stamped after now (clock skew between
// instances) count in the last bucket.
func buildChart(now time.Time, samples []sample, truncated bool) LatencyChart {
	from := now.Add(-chartWindow)
	c := LatencyChart{
		From:          from,
		To:            now,
		BucketSeconds: int(chartBucket / time.Second),
		Buckets:       make([]LatencyBucket, chartBuckets),
		Truncated:     truncated,
	}
	per := make([][]time.Duration, chartBuckets)
	for _, s := range samples {
		if s.at.Before(from) || s.latency <= 0 {
			continue
		}
		i := min(int(s.at.Sub(from)/chartBucket), chartBuckets-1)
		per[i] = append(per[i], s.latency)
		c.Samples++
	}
	for i := range c.Buckets {
		b := &c.Buckets[i]
		b.Start = from.Add(time.Duration(i) * chartBucket)
		b.Count = len(per[i])
		if b.Count == 0 {
			continue
		}
		slices.Sort(per[i])
		b.p50, b.p99 = percentile(per[i], 50), percentile(per[i], 99)
		b.P50Ms, b.P99Ms = b.p50.Milliseconds(), b.p99.Milliseconds()
	}
	c.SVG = drawChart(c)
	return c
}

// percentile returns the nearest-rank p-th percentile of sorted values.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := int(math.Ceil(float64(p) / 100 * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

// chartSVG is the chart's geometry, computed here so that the template
// only places it. Every number is in SVG user units.
type chartSVG struct {
	Width, Height          int
	Left, Top, Right, Base int // the plot area: x from Left to Right, y from Top to Base
	YLabelX, XLabelY       int // where the axis labels stand
	CenterX, CenterY       int // the middle of the plot, for the "no data" note
	Bars                   []svgBar
	Lines                  []svgLine
	Points                 []svgPoint
	YTicks                 []svgTick
	XTicks                 []svgTick
}

type svgBar struct {
	X, Y, W, H string
	Title      string
}

type svgLine struct {
	Class  string
	Points string // "x,y x,y …"
}

type svgPoint struct {
	Class  string
	X, Y   string
	Bucket int
	Title  string
}

type svgTick struct {
	Pos   string
	Label string
}

func drawChart(c LatencyChart) *chartSVG {
	g := &chartSVG{Width: 760, Height: 240, Left: 64, Top: 14, Right: 744, Base: 206}
	g.YLabelX, g.XLabelY = g.Left-8, g.Base+20
	g.CenterX, g.CenterY = (g.Left+g.Right)/2, (g.Top+g.Base)/2
	plotW, plotH := float64(g.Right-g.Left), float64(g.Base-g.Top)
	slot := plotW / float64(len(c.Buckets))

	var top time.Duration
	maxCount := 0
	for _, b := range c.Buckets {
		top = max(top, b.p99)
		maxCount = max(maxCount, b.Count)
	}
	step, ceiling := axis(top)
	x := func(i int) float64 { return float64(g.Left) + (float64(i)+0.5)*slot }
	y := func(d time.Duration) float64 { return float64(g.Base) - float64(d)/float64(ceiling)*plotH }

	for v := time.Duration(0); v <= ceiling; v += step {
		g.YTicks = append(g.YTicks, svgTick{Pos: num(y(v)), Label: formatLatency(v)})
	}
	for i := 0; i <= len(c.Buckets); i += 3 {
		mins := int(chartWindow/time.Minute) - i*int(chartBucket/time.Minute)
		label := "now"
		if mins > 0 {
			label = fmt.Sprintf("−%d min", mins)
		}
		g.XTicks = append(g.XTicks, svgTick{Pos: num(float64(g.Left) + float64(i)*slot), Label: label})
	}

	// Volume bars fill at most a third of the plot height, behind the lines.
	for i, b := range c.Buckets {
		if b.Count == 0 {
			continue
		}
		h := float64(b.Count) / float64(maxCount) * plotH / 3
		g.Bars = append(g.Bars, svgBar{
			X: num(x(i) - slot*0.35), Y: num(float64(g.Base) - h), W: num(slot * 0.7), H: num(h),
			Title: fmt.Sprintf("%s: %d %s", bucketLabel(b), b.Count, plural(b.Count, "change", "changes")),
		})
	}

	for _, series := range []struct {
		class string
		value func(LatencyBucket) time.Duration
	}{
		{"p99", func(b LatencyBucket) time.Duration { return b.p99 }},
		{"p50", func(b LatencyBucket) time.Duration { return b.p50 }},
	} {
		// A bucket without events breaks the line rather than drawing
		// through it as if latency were known there.
		var run []string
		flush := func() {
			if len(run) > 1 {
				g.Lines = append(g.Lines, svgLine{Class: series.class, Points: strings.Join(run, " ")})
			}
			run = nil
		}
		for i, b := range c.Buckets {
			if b.Count == 0 {
				flush()
				continue
			}
			px, py := num(x(i)), num(y(series.value(b)))
			run = append(run, px+","+py)
			g.Points = append(g.Points, svgPoint{
				Class: series.class, X: px, Y: py, Bucket: i,
				Title: fmt.Sprintf("%s: %s %s over %d %s", bucketLabel(b), series.class,
					formatLatency(series.value(b)), b.Count, plural(b.Count, "change", "changes")),
			})
		}
		flush()
	}
	return g
}

// axis picks a round tick step (1, 2 or 5 times a power of ten) giving at
// most five intervals up to top, and the ceiling of the axis.
func axis(top time.Duration) (step, ceiling time.Duration) {
	if top <= 0 {
		return 250 * time.Millisecond, time.Second
	}
	raw := float64(top) / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	nice := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			nice = m * mag
			break
		}
	}
	step = max(time.Duration(nice), time.Millisecond)
	ceiling = step * ((top + step - 1) / step)
	return step, ceiling
}

func bucketLabel(b LatencyBucket) string {
	return b.Start.Format("15:04") + "–" + b.Start.Add(chartBucket).Format("15:04") + " UTC"
}

// formatLatency renders a latency for people: "850 ms", "1.2 s", "2 min 5 s".
func formatLatency(d time.Duration) string {
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	case d < 10*time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	case d < time.Minute:
		return strconv.FormatInt(int64(d.Round(time.Second)/time.Second), 10) + " s"
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%d min %d s", int(d/time.Minute), int(d%time.Minute/time.Second))
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
