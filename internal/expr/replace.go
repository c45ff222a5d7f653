package expr

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// replaceMode is which of Replace's documented forms a call uses, decided by
// which arguments are present.
type replaceMode int

const (
	replaceText          replaceMode = iota + 1 // oldValue, replacementValue
	replaceTemplate                             // oldValue, template
	replaceRegex                                // regexPattern, replacementValue
	replaceRegexGroup                           // regexPattern, regexGroupName, replacementValue
	replaceFromAttribute                        // regexPattern, regexGroupName, replacementAttributeName
)

// Replace's argument positions.
const (
	rSource = iota
	rOldValue
	rPattern
	rGroup
	rReplacement
	rReplacementAttr
	rTemplate
)

// regexpArg is a regexPattern compiled at parse time, with the index of
// regexGroupName when that was literal too (-1 otherwise).
type regexpArg struct {
	re    *regexp.Regexp
	group int
}

func isPresent(n node) bool {
	_, absent := n.(*absentNode)
	return !absent
}

func checkReplace(c *callNode) error {
	has := func(i int) bool { return isPresent(c.args[i]) }
	old, pat, grp, repl, attr, tmpl := has(rOldValue), has(rPattern), has(rGroup), has(rReplacement), has(rReplacementAttr), has(rTemplate)
	switch {
	case old && !pat && !grp && !attr && repl && !tmpl:
		c.mode = replaceText
	case old && !pat && !grp && !attr && !repl && tmpl:
		c.mode = replaceTemplate
	case pat && !old && !tmpl && !grp && repl && !attr:
		c.mode = replaceRegex
	case pat && !old && !tmpl && grp && repl && !attr:
		c.mode = replaceRegexGroup
	case pat && !old && !tmpl && grp && !repl && attr:
		c.mode = replaceFromAttribute
	default:
		return errors.New("give oldValue with replacementValue or template, or regexPattern with " +
			"replacementValue, regexGroupName and replacementValue, or regexGroupName and replacementAttributeName " +
			"(leave the others empty: Replace(source, oldValue, regexPattern, regexGroupName, replacementValue, replacementAttributeName, template))")
	}
	lit, ok := c.args[rPattern].(*strNode)
	if !ok {
		return nil
	}
	re, err := compileRegex(lit.val)
	if err != nil {
		return &argError{arg: rPattern, err: err}
	}
	c.re = &regexpArg{re: re, group: -1}
	if g, ok := c.args[rGroup].(*strNode); ok {
		idx := groupIndex(re, g.val)
		if idx < 0 {
			return argErrorf(rGroup, "regexPattern has no group %q", g.val)
		}
		c.re.group = idx
	}
	return nil
}

// compileRegex compiles a .NET-style pattern with Go's RE2 engine. A
// construct only .NET has is named with its rewrite (DotNetOnly), whether
// RE2 rejects it or, as with class subtraction, reads it differently.
func compileRegex(pattern string) (*regexp.Regexp, error) {
	if why := DotNetOnly(pattern, ForReplace); why != "" {
		return nil, fmt.Errorf("invalid regular expression: %s", why)
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "invalid or unsupported Perl syntax") || strings.Contains(msg, "invalid escape sequence") ||
			strings.Contains(msg, "invalid nested repetition") {
			msg += " (lookarounds, backreferences, atomic groups and possessive quantifiers are .NET features that Go's RE2 does not have)"
		}
		return nil, fmt.Errorf("invalid regular expression: %s", msg)
	}
	return re, nil
}

// groupIndex finds a group by name, or by number when the name is digits.
func groupIndex(re *regexp.Regexp, name string) int {
	if i := re.SubexpIndex(name); i >= 0 {
		return i
	}
	if n, err := strconv.Atoi(name); err == nil && n >= 0 && n <= re.NumSubexp() {
		return n
	}
	return -1
}

func fnReplace(ev *evaluator, c *callNode, args []any) (any, error) {
	source := args[rSource]
	if c.mode == replaceFromAttribute {
		if !isEmpty(source) {
			return source, nil
		}
	} else if isNull(source) {
		return nil, nil
	}
	src, err := toStr(source)
	if err != nil {
		return nil, fmt.Errorf("source %w", err)
	}
	str := func(i int) (string, error) {
		s, err := toStr(args[i])
		if err != nil {
			return "", fmt.Errorf("argument %d %w", i+1, err)
		}
		return s, nil
	}
	switch c.mode {
	case replaceText, replaceTemplate:
		old, err := str(rOldValue)
		if err != nil {
			return nil, err
		}
		if old == "" {
			return nil, errors.New("oldValue is empty")
		}
		if c.mode == replaceTemplate {
			tmpl, err := str(rTemplate)
			if err != nil {
				return nil, err
			}
			return strings.ReplaceAll(tmpl, old, src), nil
		}
		repl, err := str(rReplacement)
		if err != nil {
			return nil, err
		}
		return strings.ReplaceAll(src, old, repl), nil
	}

	re, group := (*regexp.Regexp)(nil), -1
	if c.re != nil {
		re, group = c.re.re, c.re.group
	} else {
		pattern, err := str(rPattern)
		if err != nil {
			return nil, err
		}
		if re, err = compileRegex(pattern); err != nil {
			return nil, err
		}
	}
	if c.mode != replaceRegex && group < 0 {
		name, err := str(rGroup)
		if err != nil {
			return nil, err
		}
		if group = groupIndex(re, name); group < 0 {
			return nil, fmt.Errorf("regexPattern has no group %q", name)
		}
	}
	switch c.mode {
	case replaceRegex:
		repl, err := str(rReplacement)
		if err != nil {
			return nil, err
		}
		return replaceDotNet(re, src, repl), nil
	case replaceRegexGroup:
		repl, err := str(rReplacement)
		if err != nil {
			return nil, err
		}
		return replaceGroup(re, src, group, repl), nil
	default: // replaceFromAttribute: source was empty
		from, err := str(rReplacementAttr)
		if err != nil {
			return nil, err
		}
		m := re.FindStringSubmatchIndex(from)
		if m == nil || m[2*group] < 0 {
			return nil, nil
		}
		return from[m[2*group]:m[2*group+1]], nil
	}
}

// replaceGroup replaces, in every match, the text of one group.
func replaceGroup(re *regexp.Regexp, src string, group int, repl string) string {
	var b strings.Builder
	last := 0
	for _, m := range re.FindAllStringSubmatchIndex(src, -1) {
		start, end := m[2*group], m[2*group+1]
		if start < 0 {
			continue
		}
		b.WriteString(src[last:start])
		b.WriteString(repl)
		last = end
	}
	b.WriteString(src[last:])
	return b.String()
}

// replaceDotNet is Regex.Replace: every match is replaced by repl, in which
// $n, ${n}, ${name}, $$, $&, $`, $', $+ and $_ are substituted as .NET does.
func replaceDotNet(re *regexp.Regexp, src, repl string) string {
	var b strings.Builder
	last := 0
	for _, m := range re.FindAllStringSubmatchIndex(src, -1) {
		b.WriteString(src[last:m[0]])
		expandDotNet(&b, re, src, repl, m)
		last = m[1]
	}
	b.WriteString(src[last:])
	return b.String()
}

func expandDotNet(b *strings.Builder, re *regexp.Regexp, src, repl string, m []int) {
	group := func(i int) string {
		if m[2*i] < 0 {
			return ""
		}
		return src[m[2*i]:m[2*i+1]]
	}
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '$' || i+1 >= len(repl) {
			b.WriteByte(c)
			continue
		}
		next := repl[i+1]
		switch {
		case next == '$':
			b.WriteByte('$')
			i++
		case next == '&':
			b.WriteString(group(0))
			i++
		case next == '`':
			b.WriteString(src[:m[0]])
			i++
		case next == '\'':
			b.WriteString(src[m[1]:])
			i++
		case next == '_':
			b.WriteString(src)
			i++
		case next == '+':
			if n := re.NumSubexp(); n > 0 {
				b.WriteString(group(n))
			}
			i++
		case next == '{':
			end := strings.IndexByte(repl[i+2:], '}')
			if end < 0 {
				b.WriteByte(c)
				continue
			}
			name := repl[i+2 : i+2+end]
			idx := groupIndex(re, name)
			if idx < 0 {
				b.WriteByte(c) // not a group: literal, as .NET does
				continue
			}
			b.WriteString(group(idx))
			i += end + 2
		case isDigit(next):
			// The longest run of digits that names an existing group.
			j := i + 1
			for j < len(repl) && isDigit(repl[j]) {
				j++
			}
			matched := false
			for k := j; k > i+1; k-- {
				n, err := strconv.Atoi(repl[i+1 : k])
				if err == nil && n <= re.NumSubexp() {
					b.WriteString(group(n))
					i = k - 1
					matched = true
					break
				}
			}
			if !matched {
				b.WriteByte(c)
			}
		default:
			b.WriteByte(c)
		}
	}
}
