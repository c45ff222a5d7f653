package expr

import (
	"fmt"
	"strings"
)

// RegexpUse is where a pattern is used, which decides how a .NET-only
// construct is best rewritten.
type RegexpUse int

const (
	// ForReplace is Replace's regexPattern: the match is replaced, so what
	// a lookaround kept out of the match must become a group instead.
	ForReplace RegexpUse = iota
	// ForMatch is a scoping filter's REGEX MATCH or NOT REGEX MATCH: only
	// whether the pattern matches anywhere counts, so a positive lookaround
	// can simply become part of the pattern.
	ForMatch
)

// DotNetOnly finds the first construct of pattern that .NET's regular
// expressions have and Go's RE2 does not (lookarounds, atomic groups,
// possessive quantifiers, backreferences, conditionals, balancing groups,
// comments, \G and \Z, (?'name'…) groups, character class subtraction) and
// returns a one-line explanation saying so and how to rewrite it for use,
// or "" when there is none. Entra evaluates these patterns with .NET and
// tenantsync with RE2: RE2's own error ("invalid named capture" for a
// lookbehind) does not tell an administrator what to write instead, and
// class subtraction is not an error in RE2 at all but a different class.
func DotNetOnly(pattern string, use RegexpUse) string {
	c, at := findDotNetOnly(pattern)
	if c == nil {
		return ""
	}
	rewrite := c.forReplace
	if use == ForMatch && c.forMatch != "" {
		rewrite = c.forMatch
	}
	return fmt.Sprintf("%s %s at position %d of the pattern is .NET syntax that Go's RE2 does not support; %s",
		c.name, c.shown, at+1, rewrite)
}

// dotNetConstruct is one construct RE2 lacks, with its rewrites.
type dotNetConstruct struct {
	name, shown          string
	forReplace, forMatch string // forMatch "" means forReplace applies
}

// dotNetGroups are the constructs that start with "(?", by their opening.
// Longer openings come first: "(?<=" before "(?<".
func dotNetGroups() []struct {
	open string
	c    dotNetConstruct
} {
	return []struct {
		open string
		c    dotNetConstruct
	}{
		{"(?<=", dotNetConstruct{name: "the lookbehind", shown: "(?<=…)",
			forReplace: `match the text before as well and capture the part to replace in a named group given as regexGroupName, as in Replace([mail], , "@(?<domain>.+)$", "domain", "contoso.com", , )`,
			forMatch:   "for a match anywhere, (?<=x)y matches where xy does: write the text before as part of the pattern"}},
		{"(?<!", dotNetConstruct{name: "the negative lookbehind", shown: "(?<!…)",
			forReplace: "match the allowed text before explicitly, as in (^|[^x])y, and capture the part to replace in a named group given as regexGroupName",
			forMatch:   "test the text that must not come before with NOT REGEX MATCH in another clause of the same filter (the clauses of a filter must all hold)"}},
		{"(?=", dotNetConstruct{name: "the lookahead", shown: "(?=…)",
			forReplace: "match the text after as well and capture the part to replace in a named group given as regexGroupName",
			forMatch:   "for a match anywhere, x(?=y) matches where xy does: write the text after as part of the pattern"}},
		{"(?!", dotNetConstruct{name: "the negative lookahead", shown: "(?!…)",
			forReplace: "match the allowed text after explicitly, or decide with IIF and InStr around the Replace",
			forMatch:   `test the unwanted text with NOT REGEX MATCH in another clause of the same filter: ^(?!Contractor) becomes {operator: NOT REGEX MATCH, value: "^Contractor"}`}},
		{"(?>", dotNetConstruct{name: "the atomic group", shown: "(?>…)",
			forReplace: "write (?:…) instead: RE2 never backtracks, so the group needs no atomic marker"}},
		{"(?#", dotNetConstruct{name: "the inline comment", shown: "(?#…)",
			forReplace: "remove the comment"}},
		{"(?(", dotNetConstruct{name: "the conditional", shown: "(?(…)…)",
			forReplace: "write the alternatives with | instead"}},
		{"(?'", dotNetConstruct{name: "the named group", shown: "(?'name'…)",
			forReplace: "write it as (?<name>…), which RE2 supports"}},
	}
}

// findDotNetOnly scans a pattern as .NET reads it (escapes, character
// classes, groups, quantifiers) and returns the first construct RE2 lacks
// and its byte offset.
func findDotNetOnly(p string) (*dotNetConstruct, int) {
	quantified := false // the previous token was a quantifier
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			switch n := p[i+1]; {
			case n >= '1' && n <= '9':
				return &dotNetConstruct{name: "the backreference", shown: `\` + string(n),
					forReplace: "RE2 has no backreferences: match the repeated text explicitly"}, i
			case n == 'k' && i+2 < len(p) && (p[i+2] == '<' || p[i+2] == '\''):
				return &dotNetConstruct{name: "the named backreference", shown: `\k<name>`,
					forReplace: "RE2 has no backreferences: match the repeated text explicitly"}, i
			case n == 'Z':
				return &dotNetConstruct{name: "the anchor", shown: `\Z`,
					forReplace: `write $ (the end of the text, as RE2 reads it without (?m)) or \z instead`}, i
			case n == 'G':
				return &dotNetConstruct{name: "the anchor", shown: `\G`,
					forReplace: "RE2 has no equivalent: anchor the pattern with ^ instead"}, i
			}
			i++
			quantified = false
		case c == '[':
			end, subtraction := scanClass(p, i)
			if subtraction >= 0 {
				return &dotNetConstruct{name: "the character class subtraction", shown: "[…-[…]]",
					forReplace: "list the characters wanted instead, as in [b-df-hj-np-tv-z] for [a-z-[aeiou]] (RE2 reads the subtraction as a different class)"}, subtraction
			}
			i = end
			quantified = false
		case c == '(' && strings.HasPrefix(p[i:], "(?"):
			for _, g := range dotNetGroups() {
				if strings.HasPrefix(p[i:], g.open) {
					c := g.c
					return &c, i
				}
			}
			if j := strings.IndexByte(p[i:], '>'); strings.HasPrefix(p[i:], "(?<") && j > 0 && strings.Contains(p[i:i+j], "-") {
				return &dotNetConstruct{name: "the balancing group", shown: "(?<name-other>…)",
					forReplace: "RE2 has no equivalent: match the text without balancing"}, i
			}
			quantified = false
		case c == '*' || c == '+' || c == '?':
			if quantified && c == '+' {
				return &dotNetConstruct{name: "the possessive quantifier", shown: string(p[i-1]) + "+",
					forReplace: "drop the last +: RE2 never backtracks, so a+ does what a++ does"}, i - 1
			}
			// "*?", "+?" and "??" are lazy quantifiers, which RE2 has: the
			// ? ends the quantifier.
			quantified = !(c == '?' && quantified)
			if c == '?' && i > 0 && p[i-1] == '(' {
				quantified = false
			}
		case c == '{':
			if end := quantifierEnd(p, i); end > 0 {
				if end+1 < len(p) && p[end+1] == '+' {
					return &dotNetConstruct{name: "the possessive quantifier", shown: p[i:end+1] + "+",
						forReplace: "drop the last +: RE2 never backtracks, so a{2}+ does what a{2} does"}, i
				}
				i = end
				quantified = true
				continue
			}
			quantified = false
		default:
			quantified = false
		}
	}
	return nil, 0
}

// scanClass returns the offset of the "]" that closes the character class
// opening at p[start], and the offset of a .NET class subtraction ("-[")
// inside it, or -1.
func scanClass(p string, start int) (end, subtraction int) {
	i := start + 1
	if i < len(p) && p[i] == '^' {
		i++
	}
	first := i
	if i < len(p) && p[i] == ']' {
		i++ // a leading ] is a literal
	}
	for ; i < len(p); i++ {
		switch {
		case p[i] == '\\':
			i++
		case p[i] == '-' && i > first && i+1 < len(p) && p[i+1] == '[':
			return len(p), i
		case p[i] == '[' && i+1 < len(p) && p[i+1] == ':':
			// A POSIX class such as [:alpha:] inside the class.
			if j := strings.Index(p[i+2:], ":]"); j >= 0 {
				i += j + 3
			}
		case p[i] == ']':
			return i, -1
		}
	}
	return len(p), -1
}

// quantifierEnd returns the offset of the "}" of a counted repetition
// {n}, {n,} or {n,m} starting at p[start], or 0 when "{" is a literal.
func quantifierEnd(p string, start int) int {
	i := start + 1
	digits := func() int {
		n := 0
		for i < len(p) && p[i] >= '0' && p[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if digits() == 0 {
		return 0
	}
	if i < len(p) && p[i] == ',' {
		i++
		digits()
	}
	if i < len(p) && p[i] == '}' {
		return i
	}
	return 0
}
