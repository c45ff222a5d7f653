package expr

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// pcase is PCase. Without separators it behaves as .NET's
// TextInfo.ToTitleCase applied to the lower-cased string (so words in
// capitals are converted too, as Microsoft's examples show): a word starts
// at a letter and runs over letters, digits, marks and apostrophes; any
// other character (space, punctuation, symbol, control) separates words.
// With separators, only those characters separate words.
func pcase(s string, seps *string) string {
	rs := []rune(strings.ToLower(s))
	out := make([]rune, 0, len(rs))
	if seps != nil {
		start := true
		for _, r := range rs {
			switch {
			case strings.ContainsRune(*seps, r):
				start = true
			case start:
				r = unicode.ToTitle(r)
				start = false
			}
			out = append(out, r)
		}
		return string(out)
	}
	for i := 0; i < len(rs); {
		if !unicode.IsLetter(rs[i]) {
			out = append(out, rs[i])
			i++
			continue
		}
		out = append(out, unicode.ToTitle(rs[i]))
		i++
		for i < len(rs) && (rs[i] == '\'' || !isWordSeparator(rs[i])) {
			out = append(out, rs[i])
			i++
		}
	}
	return string(out)
}

// isWordSeparator is .NET ToTitleCase's separator test: spaces, line and
// paragraph separators, control and format characters, punctuation and
// symbols. Letters, marks, numbers and everything else belong to a word.
func isWordSeparator(r rune) bool {
	return unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp, unicode.Cc, unicode.Cf, unicode.P, unicode.S)
}

// diacritics is Microsoft's NormalizeDiacritics table, precomposed
// characters to their replacements. Sequences of a letter and combining marks
// (such as a̱ or ā́) are handled by dropping marks after a letter.
var diacritics = func() map[rune]string {
	table := []struct{ from, to string }{
		{"äàâãåáąăāǟǡ", "a"}, {"ÄÀÂÃÅÁĄĂĀǞǠ", "A"},
		{"æǣ", "ae"}, {"ÆǢ", "AE"},
		{"çčć", "c"}, {"ÇČĆ", "C"},
		{"ďḏ", "d"}, {"ĎḎ", "D"},
		{"ëèéêęěėēḗḕ", "e"}, {"ËÈÉÊĘĚĖĒḖḔ", "E"},
		{"ğḡ", "g"}, {"ĞḠ", "G"},
		{"ïîìíıī", "i"}, {"ÏÎÌÍİĪ", "I"},
		{"ľłḹḻ", "l"}, {"ŁĽḸḺ", "L"},
		{"ñńňṉ", "n"}, {"ÑŃŇṈ", "N"},
		{"öòőõôóōṓṑȫǭȭȱ", "o"}, {"ÖÒŐÕÔÓŌṒṐȪǬȬȰ", "O"},
		{"ø", "oe"}, {"Ø", "OE"},
		{"řṟṝ", "r"}, {"ŘṞṜ", "R"},
		{"ß", "ss"},
		{"šśșş", "s"}, {"ŠŚȘŞ", "S"},
		{"ťțṯ", "t"}, {"ŤȚṮ", "T"},
		{"üùûúůűūǖṻ", "u"}, {"ÜÙÛÚŮŰŪǕṺ", "U"},
		{"ÿýȳ", "y"}, {"ŸÝȲ", "Y"},
		{"źžżẕ", "z"}, {"ŹŽŻẔ", "Z"},
	}
	m := make(map[rune]string)
	for _, row := range table {
		for _, r := range row.from {
			m[r] = row.to
		}
	}
	return m
}()

// combiningMacron follows œ and Œ in the table's œ̄ and Œ̄, the only rows
// whose base letter is not itself in the table.
const combiningMacron = '\u0304'

func normalizeDiacritics(s string) string {
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		rep, mapped := diacritics[r]
		switch {
		case mapped:
		case (r == 'œ' || r == 'Œ') && i+1 < len(rs) && rs[i+1] == combiningMacron:
			rep, mapped = "oe", true
			if r == 'Œ' {
				rep = "OE"
			}
		case r < unicode.MaxASCII && unicode.IsLetter(r):
			rep, mapped = string(r), true
		}
		if !mapped {
			b.WriteRune(r)
			continue
		}
		b.WriteString(rep)
		// Drop the combining diacritical marks (U+0300–U+036F) that follow.
		for i+1 < len(rs) && rs[i+1] >= 0x300 && rs[i+1] <= 0x36F {
			i++
		}
	}
	return b.String()
}

// word is Word: the n-th (1-based) word of s, words being the non-empty runs
// between any of the delimiter characters.
func word(s string, n int64, delims string) string {
	if n < 1 {
		return ""
	}
	words := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(delims, r) })
	if delims == "" {
		words = []string{s}
	}
	if n > int64(len(words)) {
		return ""
	}
	return words[n-1]
}

// instr is InStr: the 1-based position (in characters) of the first
// occurrence of needle in s at or after start, 0 when there is none.
func instr(s, needle string, start int64, text bool) int64 {
	hs, ns := []rune(s), []rune(needle)
	if start > int64(len(hs)) {
		return 0
	}
	if len(ns) == 0 {
		return start
	}
	eq := func(a, b rune) bool { return a == b }
	if text {
		eq = func(a, b rune) bool {
			return a == b || unicode.ToLower(a) == unicode.ToLower(b) || unicode.ToUpper(a) == unicode.ToUpper(b)
		}
	}
	for i := int(start - 1); i+len(ns) <= len(hs); i++ {
		found := true
		for j, r := range ns {
			if !eq(hs[i+j], r) {
				found = false
				break
			}
		}
		if found {
			return int64(i + 1)
		}
	}
	return 0
}

// caseFold applies ToLower or ToUpper with the culture's rules: Turkish and
// Azerbaijani have their own dotted and dotless i, every other culture the
// invariant mapping.
func caseFold(s, culture string, upper bool) string {
	lang := strings.ToLower(culture)
	if i := strings.IndexAny(lang, "-_"); i >= 0 {
		lang = lang[:i]
	}
	if lang == "tr" || lang == "az" {
		if upper {
			return strings.ToUpperSpecial(unicode.TurkishCase, s)
		}
		return strings.ToLowerSpecial(unicode.TurkishCase, s)
	}
	if upper {
		return strings.ToUpper(s)
	}
	return strings.ToLower(s)
}

// The character classes of RandomString, those of Windows' password
// complexity rules.
const (
	randDigits  = "0123456789"
	randUpper   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	randLower   = "abcdefghijklmnopqrstuvwxyz"
	randSpecial = "~!@#$%^&*_-+=`|\\(){}[]:;\"'<>,.?/"
	maxRandom   = 256
)

type randomSpec struct {
	length, digits, special, upper, lower int64
}

func (s randomSpec) validate() error {
	for _, v := range []int64{s.length, s.digits, s.special, s.upper, s.lower} {
		if v < 0 {
			return errors.New("lengths must not be negative")
		}
	}
	if s.length > maxRandom {
		return fmt.Errorf("length %d is more than %d", s.length, maxRandom)
	}
	if sum := s.digits + s.special + s.upper + s.lower; sum > s.length {
		return fmt.Errorf("the minimums add up to %d, more than the length %d", sum, s.length)
	}
	return nil
}

// randomString draws each required character from its class, fills the rest
// from all classes, and shuffles, without modulo bias.
func randomString(spec randomSpec, avoid string, random func([]byte)) (string, error) {
	if err := spec.validate(); err != nil {
		return "", err
	}
	keep := func(set string) []byte {
		var out []byte
		for i := 0; i < len(set); i++ {
			if !strings.ContainsRune(avoid, rune(set[i])) {
				out = append(out, set[i])
			}
		}
		return out
	}
	classes := []struct {
		chars []byte
		n     int64
		name  string
	}{
		{keep(randDigits), spec.digits, "numbers"},
		{keep(randSpecial), spec.special, "special characters"},
		{keep(randUpper), spec.upper, "capital letters"},
		{keep(randLower), spec.lower, "lower case letters"},
	}
	var all []byte
	for _, c := range classes {
		if c.n > 0 && len(c.chars) == 0 {
			return "", fmt.Errorf("CharactersToAvoid leaves no %s", c.name)
		}
		all = append(all, c.chars...)
	}
	if len(all) == 0 && spec.length > 0 {
		return "", errors.New("CharactersToAvoid leaves no characters")
	}
	var buf [1]byte
	pick := func(n int) int {
		// rejection sampling: accept bytes below the largest multiple of n
		limit := 256 - 256%n
		for {
			random(buf[:])
			if int(buf[0]) < limit {
				return int(buf[0]) % n
			}
		}
	}
	out := make([]byte, 0, spec.length)
	for _, c := range classes {
		for range c.n {
			out = append(out, c.chars[pick(len(c.chars))])
		}
	}
	for int64(len(out)) < spec.length {
		out = append(out, all[pick(len(all))])
	}
	for i := len(out) - 1; i > 0; i-- {
		j := pick(i + 1)
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}

// removeDuplicates keeps the first of each value, in order.
func removeDuplicates(vs []string) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
