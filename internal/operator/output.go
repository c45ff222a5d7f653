package operator

import (
	"encoding/json"
	"fmt"
	"io"
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
	var widths []int
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
// cell: control characters (tabs and newlines included) become spaces, so
// that a crafted display name cannot break the layout or the terminal.
func clean(s string) string {
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

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

// ago renders how long before now t was, coarsely: "3s", "4m", "2h5m",
// "3d2h".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	suffix := " ago"
	if d < 0 {
		d, suffix = -d, " from now"
	}
	return approx(d) + suffix
}

func approx(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		h := int(d / time.Hour)
		m := int((d % time.Hour) / time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	days := int(d / (24 * time.Hour))
	h := int((d % (24 * time.Hour)) / time.Hour)
	if h == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%dh", days, h)
}

// plural renders "1 change" or "3 changes".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
