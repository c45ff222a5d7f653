package operator

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// WriteJSON writes v as indented JSON followed by a newline. HTML
// characters are left as they are: the output is for scripts, not pages.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// table writes rows as aligned columns, two spaces apart, with free text
// lines (such as an action's attribute changes) between rows that do not
// widen the columns. Width counts runes, which is right for the Latin,
// Greek and Cyrillic names of most directories and merely ragged for wide
// East Asian characters.
type table struct {
	w     io.Writer
	lines []tableLine
	// min are the columns' least widths: a table written a row at a time
	// (a streamed plan) aligns on them instead of on rows not seen yet.
	min []int
}

type tableLine struct {
	cells []string // a row, or nil for text
	text  string
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{w: w}
	if len(header) > 0 {
		t.row(header...)
	}
	return t
}

// row adds a row. Values are cleaned of control characters.
func (t *table) row(cells ...string) {
	cs := make([]string, len(cells))
	for i, c := range cells {
		cs[i] = clean(c)
	}
	t.lines = append(t.lines, tableLine{cells: cs})
}

// text adds a line of free text, printed as it is after cleaning.
func (t *table) text(s string) { t.lines = append(t.lines, tableLine{text: clean(s)}) }

// flush writes the table, the last column unpadded.
func (t *table) flush() error {
	widths := slices.Clone(t.min)
	for _, l := range t.lines {
		for i, c := range l.cells {
			if i == len(l.cells)-1 {
				break
			}
			for len(widths) <= i {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, l := range t.lines {
		if l.cells == nil {
			b.WriteString(l.text)
			b.WriteByte('\n')
			continue
		}
		for i, c := range l.cells {
			b.WriteString(c)
			if i < len(l.cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(t.w, trimLineEnds(b.String()))
	t.lines = nil
	return err
}

// trimLineEnds removes the spaces an empty last cell leaves at line ends.
func trimLineEnds(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// clean makes a value from a tenant or the store safe to print in one
// cell: control characters (tabs and newlines included) and the line and
// paragraph separators become spaces, so that a crafted display name cannot
// break the layout or send the terminal escape sequences; bidirectional
// overrides, embeddings, isolates and marks are dropped, so that it cannot
// make text read in another order than it is (CVE-2021-42574, "Trojan
// Source").
func clean(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return isControl(r) || isBidi(r) }) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case isBidi(r):
			return -1
		case isControl(r):
			return ' '
		}
		return r
	}, s)
}

// Clean is clean for the handler's own output.
func Clean(s string) string { return clean(s) }

func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029'
}

// isBidi reports the Unicode bidirectional formatting characters: the
// marks (U+200E, U+200F, U+061C), the embeddings and overrides (U+202A to
// U+202E) and the isolates (U+2066 to U+2069).
func isBidi(r rune) bool {
	return r == '\u200e' || r == '\u200f' || r == '\u061c' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069')
}

// orDash shows an empty value as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// timestamp renders a time in UTC to the second, or "never".
func timestamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// ago renders how long before now t was, coarsely: "12 s ago", "4 min
// ago", "2 h 5 min ago", "3 d 2 h ago", or "in 5 min" for a time to come.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 0 {
		return "in " + approx(-d)
	}
	return approx(d) + " ago"
}

// approx renders a span coarsely: seconds below a minute, else minutes
// and up (Duration of the span cut to the minute).
func approx(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d s", int(d/time.Second))
	}
	return Duration(d.Truncate(time.Minute))
}

// Duration renders a duration for people, to its two largest units and
// without a zero second one: "45 s", "30 min", "1 h", "2 h 5 min",
// "36 h", "3 d 2 h" (days from two days up); under 10 seconds with a
// tenth ("1.5 s"), under a second in milliseconds ("350 ms"). Go's
// "1h0m0s" is for configs, not for reading.
func Duration(d time.Duration) string {
	if d < 0 {
		return "-" + Duration(-d)
	}
	switch {
	case d == 0:
		return "0 s"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < 10*time.Second:
		s := strings.TrimSuffix(fmt.Sprintf("%.1f", d.Seconds()), ".0")
		return s + " s"
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d/time.Second))
	}
	units := []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "min"}, {time.Second, "s"}}
	for i, u := range units {
		if d < u.size || (u.name == "d" && d < 48*time.Hour) {
			// Hours up to two days: "36 h" reads better than "1 d 12 h".
			continue
		}
		s := fmt.Sprintf("%d %s", int(d/u.size), u.name)
		if i+1 < len(units) {
			if rest := int((d % u.size) / units[i+1].size); rest > 0 {
				s += fmt.Sprintf(" %d %s", rest, units[i+1].name)
			}
		}
		return s
	}
	return "0 s"
}

// plural renders "1 change" or "3 changes".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
