package statuspage

import (
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"
	"unicode"
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

// NewestLink is the link to the newest page of the selected target's
// events, with the same filter.
func (v *pageView) NewestLink() string {
	return v.req.linkFiltered(v.req.target, "", false, v.req.filter)
}

// NextLink is the link to the next (older) page of events, with the same
// filter.
func (v *pageView) NextLink() string {
	if v.Selected == nil || v.Selected.Next == "" {
		return ""
	}
	return v.req.linkFiltered(v.req.target, v.Selected.Next, false, v.req.filter)
}

// JSONLink is the link to this view as JSON.
func (v *pageView) JSONLink() string {
	return v.req.linkFiltered(v.req.target, v.req.page, true, v.req.filter)
}

// FailedLink is the link to the selected target's failures.
func (v *pageView) FailedLink() string {
	return v.req.linkFiltered(v.req.target, "", false, LogFilter{Failed: true})
}

// UserLink is the link to one user's events in the selected target.
func (v *pageView) UserLink(user string) string {
	return v.req.linkFiltered(v.req.target, "", false, LogFilter{User: user})
}

// Filter is the log filter of the request, for the form.
func (v *pageView) Filter() LogFilter { return v.req.filter }

// Key is the Functions key, which the filter form carries on as the links
// do; "" when the page was opened without one.
func (v *pageView) Key() string { return v.req.key }

// ActionChoices are the words the log filter's action takes.
func (v *pageView) ActionChoices() []string { return Outcomes() }

// SinceChoices are the ages the log filter offers.
func (v *pageView) SinceChoices() []string { return []string{"15m", "1h", "6h", "24h", "7d", "30d"} }

// counted is one word of a count by outcome.
type counted struct {
	Name string
	N    int64
}

// inOrder lists counts by outcome in the order of Outcomes, then any
// other words alphabetically.
func inOrder(m map[string]int64) []counted {
	var out []counted
	for _, k := range Outcomes() {
		if n, ok := m[k]; ok {
			out = append(out, counted{k, n})
		}
	}
	var rest []string
	for k := range m {
		if !slices.Contains(Outcomes(), k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		out = append(out, counted{k, m[k]})
	}
	return out
}

// Readable turns a counter's name into words for people:
// "changesProcessed" is "changes processed", "notifications.dropped" is
// "notifications dropped", "followUpsEnqueued" is "follow-ups enqueued".
func Readable(name string) string {
	var b strings.Builder
	for i, r := range name {
		switch {
		case r == '.' || r == '_':
			b.WriteByte(' ')
			continue
		case unicode.IsUpper(r) && i > 0:
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return strings.ReplaceAll(b.String(), "follow ups", "follow-ups")
}

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
	"readable":   Readable,
	"span":       func(now, since time.Time) string { return approx(now.Sub(since)) },
	"inOrder":    inOrder,
	"join":       strings.Join,
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
