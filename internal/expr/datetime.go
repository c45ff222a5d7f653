package expr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file implements the parts of .NET's DateTime that the expression
// language exposes: custom and standard format strings (en-US names, as the
// provisioning service formats "M/d/yyyy h:mm:ss tt"), ParseExact with
// DateTimeStyles, the liberal parsing behind CDate, Visual Basic's DateAdd and
// DateDiff, and Active Directory's FILETIME numbers.

// fmtToken is one element of a .NET date and time format string.
type fmtToken struct {
	spec byte // format letter (d f F g h H K m M s t y z), or 0 for a literal
	n    int  // how many times the letter repeats
	lit  string
}

// generalFormat is en-US "G": how Entra renders a DateTime as a string.
var generalFormat = mustTokens("M/d/yyyy h:mm:ss tt")

func mustTokens(f string) []fmtToken {
	t, err := parseFormat(f)
	if err != nil {
		panic(err)
	}
	return t
}

// standardFormats are .NET's single-letter standard formats, with the en-US
// patterns. utc marks formats that convert to UTC first.
var standardFormats = map[byte]struct {
	pattern string
	utc     bool
}{
	'd': {"M/d/yyyy", false},
	'D': {"dddd, MMMM d, yyyy", false},
	'f': {"dddd, MMMM d, yyyy h:mm tt", false},
	'F': {"dddd, MMMM d, yyyy h:mm:ss tt", false},
	'g': {"M/d/yyyy h:mm tt", false},
	'G': {"M/d/yyyy h:mm:ss tt", false},
	'm': {"MMMM d", false},
	'M': {"MMMM d", false},
	'o': {"yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK", false},
	'O': {"yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK", false},
	'r': {"ddd, dd MMM yyyy HH':'mm':'ss 'GMT'", true},
	'R': {"ddd, dd MMM yyyy HH':'mm':'ss 'GMT'", true},
	's': {"yyyy'-'MM'-'dd'T'HH':'mm':'ss", false},
	't': {"h:mm tt", false},
	'T': {"h:mm:ss tt", false},
	'u': {"yyyy'-'MM'-'dd HH':'mm':'ss'Z'", true},
	'U': {"dddd, MMMM d, yyyy h:mm:ss tt", true},
	'y': {"MMMM yyyy", false},
	'Y': {"MMMM yyyy", false},
}

// parseFormat splits a .NET format string into tokens. A one-character
// string is a standard format; "%c" is the custom specifier c alone.
func parseFormat(f string) ([]fmtToken, error) {
	if f == "" {
		return nil, errors.New("empty date format")
	}
	if len(f) == 1 {
		std, ok := standardFormats[f[0]]
		if !ok {
			return nil, fmt.Errorf("unknown standard date format %q", f)
		}
		toks, err := parseFormat(std.pattern)
		if err != nil {
			return nil, err
		}
		if std.utc {
			toks = append([]fmtToken{{spec: 'U'}}, toks...) // marker: convert to UTC
		}
		return toks, nil
	}
	var toks []fmtToken
	lit := func(s string) {
		if n := len(toks); n > 0 && toks[n-1].spec == 0 {
			toks[n-1].lit += s
			return
		}
		toks = append(toks, fmtToken{lit: s})
	}
	for i := 0; i < len(f); {
		c := f[i]
		switch c {
		case 'd', 'f', 'F', 'g', 'h', 'H', 'K', 'm', 'M', 's', 't', 'y', 'z':
			n := 1
			for i+n < len(f) && f[i+n] == c {
				n++
			}
			if (c == 'f' || c == 'F') && n > 7 {
				return nil, fmt.Errorf("date format %q: at most 7 %c", f, c)
			}
			toks = append(toks, fmtToken{spec: c, n: n})
			i += n
		case '\'', '"':
			end := strings.IndexByte(f[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("date format %q: unterminated quoted text", f)
			}
			lit(f[i+1 : i+1+end])
			i += end + 2
		case '\\':
			if i+1 >= len(f) {
				return nil, fmt.Errorf("date format %q: \\ at the end", f)
			}
			lit(f[i+1 : i+2])
			i += 2
		case '%':
			if i+1 >= len(f) || f[i+1] == '%' {
				return nil, fmt.Errorf("date format %q: %% must precede a format letter", f)
			}
			i++ // the next character is read as a custom specifier
		default:
			lit(f[i : i+1]) // includes ':' and '/', the invariant separators
			i++
		}
	}
	return toks, nil
}

var (
	monthNames = []string{"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December"}
	dayNames = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
)

func pad(b *strings.Builder, v, width int) {
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		b.WriteByte('0')
	}
	b.WriteString(s)
}

// formatDate renders d with .NET format tokens.
func formatDate(d dateTime, toks []fmtToken) string {
	t := d.t
	var b strings.Builder
	for _, tk := range toks {
		switch tk.spec {
		case 0:
			b.WriteString(tk.lit)
		case 'U':
			// marks a standard format that converts to UTC; times here already are
		case 'd':
			switch tk.n {
			case 1:
				pad(&b, t.Day(), 1)
			case 2:
				pad(&b, t.Day(), 2)
			case 3:
				b.WriteString(dayNames[t.Weekday()][:3])
			default:
				b.WriteString(dayNames[t.Weekday()])
			}
		case 'f', 'F':
			frac := fmt.Sprintf("%09d", t.Nanosecond())[:tk.n]
			if tk.spec == 'F' {
				frac = strings.TrimRight(frac, "0")
				if frac == "" && strings.HasSuffix(b.String(), ".") {
					s := b.String()
					b.Reset()
					b.WriteString(s[:len(s)-1])
				}
			}
			b.WriteString(frac)
		case 'g':
			b.WriteString("A.D.")
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			pad(&b, h, min(tk.n, 2))
		case 'H':
			pad(&b, t.Hour(), min(tk.n, 2))
		case 'K':
			switch d.kind {
			case kindUTC:
				b.WriteByte('Z')
			case kindLocal:
				b.WriteString("+00:00")
			}
		case 'm':
			pad(&b, t.Minute(), min(tk.n, 2))
		case 'M':
			switch tk.n {
			case 1, 2:
				pad(&b, int(t.Month()), tk.n)
			case 3:
				b.WriteString(monthNames[t.Month()-1][:3])
			default:
				b.WriteString(monthNames[t.Month()-1])
			}
		case 's':
			pad(&b, t.Second(), min(tk.n, 2))
		case 't':
			ampm := "AM"
			if t.Hour() >= 12 {
				ampm = "PM"
			}
			if tk.n == 1 {
				ampm = ampm[:1]
			}
			b.WriteString(ampm)
		case 'y':
			switch tk.n {
			case 1:
				pad(&b, t.Year()%100, 1)
			case 2:
				pad(&b, t.Year()%100, 2)
			default:
				pad(&b, t.Year(), tk.n)
			}
		case 'z':
			// Local and unspecified times are on the service's UTC clock.
			switch tk.n {
			case 1:
				b.WriteString("+0")
			case 2:
				b.WriteString("+00")
			default:
				b.WriteString("+00:00")
			}
		}
	}
	return b.String()
}

// dateStyles is the subset of System.Globalization.DateTimeStyles that
// changes results here.
type dateStyles struct {
	assumeUniversal   bool
	assumeLocal       bool
	adjustToUniversal bool
	innerWhite        bool
}

// parseStyles reads a DateTimeStyles argument: names such as
// "AssumeUniversal", optionally prefixed with "DateTimeStyles.", separated by
// commas, | or spaces. Empty means the FormatDateTime default, RoundtripKind
// with leading and trailing white space allowed.
func parseStyles(s string) (dateStyles, error) {
	var st dateStyles
	for _, name := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '|' || r == ' ' }) {
		name = strings.TrimPrefix(strings.TrimPrefix(name, "System.Globalization."), "DateTimeStyles.")
		switch strings.ToLower(name) {
		case "none", "roundtripkind", "allowleadingwhite", "allowtrailingwhite", "nocurrentdatedefault":
		case "allowinnerwhite", "allowwhitespaces":
			st.innerWhite = true
		case "assumeuniversal":
			st.assumeUniversal = true
		case "assumelocal":
			st.assumeLocal = true
		case "adjusttouniversal":
			st.adjustToUniversal = true
		default:
			return st, fmt.Errorf("unknown DateTimeStyles value %q", name)
		}
	}
	return st, nil
}

// parsedDate accumulates the fields ParseExact reads.
type parsedDate struct {
	year, month, day     int
	hour, minute, sec    int
	nsec                 int
	pm, hasAMPM, hasYear bool
	hasMonth, hasDay     bool
	offset               int // seconds east of UTC
	hasOffset, utcMarker bool
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// digits reads between lo and hi digits.
func digits(s string, i, lo, hi int) (int, int, bool) {
	j := i
	for j < len(s) && j-i < hi && isDigit(s[j]) {
		j++
	}
	if j-i < lo {
		return 0, i, false
	}
	v, _ := strconv.Atoi(s[i:j])
	return v, j, true
}

func matchName(s string, i int, names []string, abbrev bool) (int, int, bool) {
	for k, n := range names {
		if abbrev {
			n = n[:3]
		}
		if len(s)-i >= len(n) && strings.EqualFold(s[i:i+len(n)], n) {
			return k, i + len(n), true
		}
	}
	return 0, i, false
}

// parseOffset reads +h, +hh, +hh:mm or +hhmm.
func parseOffset(s string, i int) (int, int, bool) {
	if i >= len(s) || (s[i] != '+' && s[i] != '-') {
		return 0, i, false
	}
	sign := 1
	if s[i] == '-' {
		sign = -1
	}
	h, j, ok := digits(s, i+1, 1, 2)
	if !ok || h > 14 {
		return 0, i, false
	}
	m := 0
	if j < len(s) && s[j] == ':' {
		if m, j, ok = digits(s, j+1, 2, 2); !ok {
			return 0, i, false
		}
	} else if j-i == 3 && j+1 < len(s) && isDigit(s[j]) && isDigit(s[j+1]) {
		m, j, _ = digits(s, j, 2, 2)
	}
	if m > 59 {
		return 0, i, false
	}
	return sign * (h*3600 + m*60), j, true
}

// parseExact is DateTime.ParseExact with the given styles. now supplies the
// date when the format has none, as .NET does.
func parseExact(s string, toks []fmtToken, st dateStyles, now time.Time) (dateTime, error) {
	in := strings.TrimSpace(s)
	fail := func() (dateTime, error) {
		return dateTime{}, fmt.Errorf("%q does not match the date format", s)
	}
	var p parsedDate
	i := 0
	var ok bool
	for k := 0; k < len(toks); k++ {
		tk := toks[k]
		if st.innerWhite {
			for i < len(in) && in[i] == ' ' {
				i++
			}
		}
		switch tk.spec {
		case 0:
			lit := tk.lit
			// ".FFF" matches nothing when the input has no fraction, as in .NET.
			if strings.HasSuffix(lit, ".") && k+1 < len(toks) && toks[k+1].spec == 'F' &&
				!strings.HasPrefix(in[i:], lit) && strings.HasPrefix(in[i:], lit[:len(lit)-1]) {
				i += len(lit) - 1
				k++
				continue
			}
			if st.innerWhite {
				lit = strings.TrimSpace(lit)
			}
			if len(in)-i < len(lit) || !strings.EqualFold(in[i:i+len(lit)], lit) {
				return fail()
			}
			i += len(lit)
		case 'U':
		case 'd':
			switch {
			case tk.n <= 2:
				if p.day, i, ok = digits(in, i, tk.n, 2); !ok {
					return fail()
				}
				p.hasDay = true
			default:
				if _, i, ok = matchName(in, i, dayNames, tk.n == 3); !ok {
					return fail()
				}
			}
		case 'M':
			switch {
			case tk.n <= 2:
				p.month, i, ok = digits(in, i, tk.n, 2)
			default:
				var m int
				m, i, ok = matchName(in, i, monthNames, tk.n == 3)
				p.month = m + 1
			}
			if !ok {
				return fail()
			}
			p.hasMonth = true
		case 'y':
			lo, hi := tk.n, tk.n
			if tk.n == 1 {
				lo, hi = 1, 2
			}
			if tk.n >= 3 {
				lo, hi = tk.n, max(tk.n, 4)
			}
			var y int
			if y, i, ok = digits(in, i, lo, hi); !ok {
				return fail()
			}
			if tk.n <= 2 {
				// Gregorian two-digit years: up to 29 is 20xx, as .NET's default TwoDigitYearMax 2029.
				if y <= 29 {
					y += 2000
				} else {
					y += 1900
				}
			}
			p.year, p.hasYear = y, true
		case 'h', 'H':
			if p.hour, i, ok = digits(in, i, min(tk.n, 2), 2); !ok {
				return fail()
			}
		case 'm':
			if p.minute, i, ok = digits(in, i, min(tk.n, 2), 2); !ok {
				return fail()
			}
		case 's':
			if p.sec, i, ok = digits(in, i, min(tk.n, 2), 2); !ok {
				return fail()
			}
		case 'f', 'F':
			lo := tk.n
			if tk.spec == 'F' {
				lo = 0
			}
			j := i
			for j < len(in) && j-i < tk.n && isDigit(in[j]) {
				j++
			}
			if j-i < lo {
				return fail()
			}
			frac := in[i:j] + strings.Repeat("0", 9-(j-i))
			p.nsec, _ = strconv.Atoi(frac)
			i = j
		case 't':
			want := 2
			if tk.n == 1 {
				want = 1
			}
			if len(in)-i < want {
				return fail()
			}
			word := strings.ToUpper(in[i : i+want])
			switch word[0] {
			case 'A':
			case 'P':
				p.pm = true
			default:
				return fail()
			}
			if want == 2 && word[1] != 'M' {
				return fail()
			}
			p.hasAMPM = true
			i += want
		case 'z':
			if p.offset, i, ok = parseOffset(in, i); !ok {
				return fail()
			}
			p.hasOffset = true
		case 'K':
			if i < len(in) && (in[i] == 'Z' || in[i] == 'z') {
				p.utcMarker = true
				i++
			} else if off, j, ok := parseOffset(in, i); ok {
				p.offset, p.hasOffset, i = off, true, j
			}
		case 'g':
			if _, j, ok := matchName(in, i, []string{"A.D.", "AD"}, false); ok {
				i = j
			}
		}
	}
	if i != len(in) {
		return fail()
	}
	return p.build(st, now, s)
}

func (p parsedDate) build(st dateStyles, now time.Time, src string) (dateTime, error) {
	if !p.hasYear {
		p.year = now.Year()
	}
	if !p.hasMonth {
		p.month = 1
		if !p.hasDay && !p.hasYear {
			p.month = int(now.Month())
		}
	}
	if !p.hasDay {
		p.day = 1
		if !p.hasMonth && !p.hasYear {
			p.day = now.Day()
		}
	}
	if p.hasAMPM {
		if p.hour < 1 || p.hour > 12 {
			return dateTime{}, fmt.Errorf("%q: hour %d with AM/PM", src, p.hour)
		}
		p.hour %= 12
		if p.pm {
			p.hour += 12
		}
	}
	if p.year < 1 || p.year > 9999 || p.month < 1 || p.month > 12 || p.hour > 23 || p.minute > 59 || p.sec > 59 {
		return dateTime{}, fmt.Errorf("%q is not a valid date", src)
	}
	if p.day < 1 || p.day > daysIn(p.year, time.Month(p.month)) {
		return dateTime{}, fmt.Errorf("%q is not a valid date", src)
	}
	t := time.Date(p.year, time.Month(p.month), p.day, p.hour, p.minute, p.sec, p.nsec, time.UTC)
	d := dateTime{t: t}
	switch {
	case p.utcMarker:
		d.kind = kindUTC
	case p.hasOffset:
		d.t = t.Add(-time.Duration(p.offset) * time.Second)
		d.kind = kindLocal // .NET converts an offset to local time, which is UTC here
	case st.assumeUniversal:
		d.kind = kindUTC
	case st.assumeLocal:
		d.kind = kindLocal
	}
	if st.adjustToUniversal && d.kind != kindUnspecified {
		d.kind = kindUTC
	}
	return d, nil
}

func daysIn(year int, m time.Month) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// cdateFormats are the shapes CDate accepts, tried in order: ISO 8601 with
// or without time, fraction and offset (the forms Workday, SuccessFactors and
// Graph send), Active Directory generalized time, en-US dates as Now() and
// CDate themselves print them, and RFC 1123.
var cdateFormats = func() [][]fmtToken {
	var out [][]fmtToken
	for _, f := range []string{
		"yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
		"yyyy-MM-dd'T'HH:mmK",
		"yyyy-MM-dd HH:mm:ss.FFFFFFFK",
		"yyyy-MM-dd HH:mmK",
		"yyyy-MM-ddK",
		"yyyyMMddHHmmss.FFFFFFFK",
		"M/d/yyyy h:mm:ss tt",
		"M/d/yyyy h:mm tt",
		"M/d/yyyy H:mm:ss",
		"M/d/yyyy H:mm",
		"M/d/yyyy",
		"ddd, d MMM yyyy HH:mm:ss 'GMT'",
		"d MMMM yyyy",
		"MMMM d, yyyy",
	} {
		out = append(out, mustTokens(f))
	}
	return out
}()

// parseDate is CDate: a date in one of cdateFormats, returned in UTC. A date
// without an offset is taken to be UTC, the provisioning service's zone.
func parseDate(s string) (dateTime, error) {
	for _, toks := range cdateFormats {
		d, err := parseExact(s, toks, dateStyles{assumeUniversal: true}, time.Time{})
		if err == nil {
			d.kind = kindUTC
			return d, nil
		}
	}
	return dateTime{}, fmt.Errorf("%q is not a date CDate understands", s)
}

// dateInterval is a Visual Basic DateInterval name as DateAdd and DateDiff take it.
func dateInterval(s string) (string, error) {
	switch k := strings.ToLower(strings.TrimSpace(s)); k {
	case "yyyy", "q", "m", "y", "d", "w", "ww", "h", "n", "s":
		return k, nil
	}
	return "", fmt.Errorf("unknown interval %q (want yyyy, q, m, y, d, w, ww, h, n or s)", s)
}

var errDateRange = errors.New("date out of range")

func checkRange(t time.Time) error {
	if t.Year() < 1 || t.Year() > 9999 {
		return errDateRange
	}
	return nil
}

// addMonths is .NET's Calendar.AddMonths: the day is clamped to the end of
// the target month (January 31 plus one month is February 28 or 29).
func addMonths(t time.Time, months int64) (time.Time, error) {
	total := int64(t.Year())*12 + int64(t.Month()) - 1 + months
	y, m := total/12, time.Month(total%12+1)
	if total < 0 || y < 1 || y > 9999 {
		return time.Time{}, errDateRange
	}
	d := min(t.Day(), daysIn(int(y), m))
	return time.Date(int(y), m, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC), nil
}

// dateAdd is Visual Basic's DateAdd.
func dateAdd(interval string, n int64, d dateTime) (dateTime, error) {
	const maxDays = 10000 * 366
	var t time.Time
	var err error
	switch interval {
	case "yyyy", "q", "m":
		months := map[string]int64{"yyyy": 12, "q": 3, "m": 1}[interval]
		if n > 120000/months || n < -120000/months {
			return dateTime{}, errDateRange
		}
		t, err = addMonths(d.t, n*months)
	case "y", "d", "w", "ww":
		if interval == "ww" {
			if n > maxDays/7 || n < -maxDays/7 {
				return dateTime{}, errDateRange
			}
			n *= 7
		}
		if n > maxDays || n < -maxDays {
			return dateTime{}, errDateRange
		}
		t = d.t.AddDate(0, 0, int(n))
	case "h", "n", "s":
		unit := map[string]int64{"h": 3600, "n": 60, "s": 1}[interval]
		if n > maxDays*86400/unit || n < -maxDays*86400/unit {
			return dateTime{}, errDateRange
		}
		t = time.Unix(d.t.Unix()+n*unit, int64(d.t.Nanosecond())).UTC()
	default:
		return dateTime{}, fmt.Errorf("unknown interval %q", interval)
	}
	if err == nil {
		err = checkRange(t)
	}
	if err != nil {
		return dateTime{}, err
	}
	return dateTime{t: t, kind: d.kind}, nil
}

// dateDiff is Visual Basic's DateDiff: calendar differences for years,
// quarters and months, Sunday-based calendar weeks for "ww", and truncated
// elapsed time for the rest.
func dateDiff(interval string, a, b dateTime) int64 {
	t1, t2 := a.t, b.t
	elapsed := t2.Sub(t1) // saturates beyond ±292 years; fall back below
	days := func(x, y time.Time) int64 {
		// whole days between x and y, truncated toward zero, without Duration overflow
		dd := (y.Unix() - x.Unix()) / 86400
		return dd
	}
	switch interval {
	case "yyyy":
		return int64(t2.Year() - t1.Year())
	case "q":
		q := func(t time.Time) int64 { return int64(t.Year())*4 + int64(t.Month()-1)/3 }
		return q(t2) - q(t1)
	case "m":
		return int64(t2.Year()-t1.Year())*12 + int64(t2.Month()-t1.Month())
	case "y", "d":
		return days(t1, t2)
	case "w":
		return days(t1, t2) / 7
	case "ww":
		s1 := t1.AddDate(0, 0, -int(t1.Weekday()))
		s2 := t2.AddDate(0, 0, -int(t2.Weekday()))
		return days(s1, s2) / 7
	case "h":
		if elapsed.Abs() < 100*365*24*time.Hour {
			return int64(elapsed / time.Hour)
		}
		return (t2.Unix() - t1.Unix()) / 3600
	case "n":
		if elapsed.Abs() < 100*365*24*time.Hour {
			return int64(elapsed / time.Minute)
		}
		return (t2.Unix() - t1.Unix()) / 60
	case "s":
		if elapsed.Abs() < 100*365*24*time.Hour {
			return int64(elapsed / time.Second)
		}
		return t2.Unix() - t1.Unix()
	}
	return 0
}

// fileTimeEpoch is the Unix time of 1601-01-01, where Active Directory's
// 100-nanosecond FILETIME counts from.
const fileTimeEpoch = -11644473600

// fromFileTime converts an AD date number (lastLogonTimestamp, accountExpires).
func fromFileTime(n int64) (dateTime, error) {
	if n < 0 {
		return dateTime{}, errDateRange
	}
	t := time.Unix(n/1e7+fileTimeEpoch, (n%1e7)*100).UTC()
	if err := checkRange(t); err != nil {
		return dateTime{}, err
	}
	return dateTime{t: t, kind: kindUTC}, nil
}

// toFileTime converts a date to an AD date number.
func toFileTime(d dateTime) int64 {
	return (d.t.Unix()-fileTimeEpoch)*1e7 + int64(d.t.Nanosecond()/100)
}
