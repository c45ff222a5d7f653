package statuspage

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

// pageView is what the HTML template renders: the snapshot plus what only
// the HTML needs.
type pageView struct {
	*Snapshot
	CSS     template.CSS
	Refresh int // seconds; 0 or less: no automatic reload
	req     request
}

// TargetLink is the relative link to a target's section.
func (v *pageView) TargetLink(name string) string { return v.req.link(name, "", false) }

// NewestLink is the link to the newest page of the selected target's events.
func (v *pageView) NewestLink() string { return v.req.link(v.req.target, "", false) }

// NextLink is the link to the next (older) page of events.
func (v *pageView) NextLink() string {
	if v.Selected == nil || v.Selected.Next == "" {
		return ""
	}
	return v.req.link(v.req.target, v.Selected.Next, false)
}

// JSONLink is the link to this view as JSON.
func (v *pageView) JSONLink() string { return v.req.link(v.req.target, v.req.page, true) }

// Quarantined lists the targets in quarantine, for the banners.
func (v *pageView) Quarantined() []TargetSummary {
	var q []TargetSummary
	for _, t := range v.Targets {
		if t.Quarantine != nil {
			q = append(q, t)
		}
	}
	return q
}

var templateFuncs = template.FuncMap{
	"timestamp":  timestamp,
	"shortstamp": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") + " UTC" },
	"ago":        ago,
	"latency":    func(ms int64) string { return formatLatency(time.Duration(ms) * time.Millisecond) },
	"changes":    splitChanges,
}

// timestamp renders a time in UTC to the second, or "never".
func timestamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// ago renders t relative to now: "3 min ago", "in 2 h", "never".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 0 {
		return "in " + approx(-d)
	}
	if d < time.Second {
		return "just now"
	}
	return approx(d) + " ago"
}

// approx renders a duration to its largest unit: "42 s", "5 min", "3 h", "2 d".
func approx(d time.Duration) string {
	if d < 0 {
		return "−" + approx(-d)
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d/time.Hour))
	}
	return fmt.Sprintf("%d d", int(d/(24*time.Hour)))
}

// splitChanges splits the engine's diff summary ("a: x → y; b: → z") into
// one line per attribute. It is for display only: a value that itself
// contains "; " is shown over two lines, never lost.
func splitChanges(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "; ")
}

// stateSegment is one state's share of the stacked bar in the targets table.
type stateSegment struct {
	State string
	X, W  string
	Count int
}

// stateBarWidth is the width of the stacked bar, in SVG user units.
const stateBarWidth = 120

// Segments divides the stacked state bar among the states, in table order.
func (c LinkCounts) Segments() []stateSegment {
	if c.Total == 0 {
		return nil
	}
	var segs []stateSegment
	x := 0.0
	for _, s := range []struct {
		state string
		n     int
	}{
		{"active", c.Active}, {"disabled", c.Disabled}, {"deleted", c.Deleted},
		{"staged", c.Staged}, {"quarantined", c.Quarantined}, {"other", c.Other},
	} {
		if s.n == 0 {
			continue
		}
		w := float64(s.n) / float64(c.Total) * stateBarWidth
		segs = append(segs, stateSegment{State: s.state, X: num(x), W: num(w), Count: s.n})
		x += w
	}
	return segs
}
