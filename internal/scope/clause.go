package scope

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tenantsync/tenantsync/internal/directory"
)

// operators lists every operator in the order the documentation gives them.
var operators = []Operator{
	Equals, NotEquals, IsTrue, IsFalse, IsNull, IsNotNull, RegexMatch, NotRegexMatch,
	Includes, BitAnd, NotBitAnd, EndsWith, GreaterThan, GreaterThanOrEquals,
}

// unary reports whether the operator takes no value.
func (op Operator) unary() bool {
	switch op {
	case IsTrue, IsFalse, IsNull, IsNotNull:
		return true
	}
	return false
}

// normalizeOperator folds the spellings people write ("not_equals",
// "ends with", "greater_than_or_equals") onto one key: upper case, with
// underscores and runs of spaces read as one space.
func normalizeOperator(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(strings.ReplaceAll(s, "_", " ")), " "))
}

// ParseOperator returns the operator spelled s. Case, underscores and spaces
// are not significant: "not_equals" is NOT EQUALS, "ends with" is ENDS_WITH.
func ParseOperator(s string) (Operator, bool) {
	key := normalizeOperator(s)
	for _, op := range operators {
		if normalizeOperator(string(op)) == key {
			return op, true
		}
	}
	return "", false
}

// String returns the clause as Entra's portal shows it, such as
// `department EQUALS "Sales"` or `accountEnabled IS TRUE`.
func (c Clause) String() string {
	if c.Operator.unary() {
		return c.Attribute + " " + string(c.Operator)
	}
	switch c.Operator {
	case GreaterThan, GreaterThanOrEquals, BitAnd, NotBitAnd:
		return c.Attribute + " " + string(c.Operator) + " " + c.Value
	}
	return c.Attribute + " " + string(c.Operator) + " " + strconv.Quote(c.Value)
}

// String returns the filter's clauses joined with "and".
func (f Filter) String() string {
	parts := make([]string, len(f))
	for i, c := range f {
		parts[i] = c.String()
	}
	return strings.Join(parts, " and ")
}

// ClauseError is a scoping filter, or one of its clauses, that does not
// compile. Filter and Clause are 0-based indexes; Clause is -1 when the
// filter as a whole is wrong. Field is "attribute", "operator" or "value",
// or empty.
type ClauseError struct {
	Filter int
	Clause int
	Field  string
	Err    error
}

// Path returns where the error is, relative to the list of filters, as in
// "filters[0][1].value".
func (e *ClauseError) Path() string {
	p := fmt.Sprintf("filters[%d]", e.Filter)
	if e.Clause >= 0 {
		p += fmt.Sprintf("[%d]", e.Clause)
	}
	if e.Field != "" {
		p += "." + e.Field
	}
	return p
}

func (e *ClauseError) Error() string { return e.Path() + ": " + e.Err.Error() }

func (e *ClauseError) Unwrap() error { return e.Err }

// clause is a compiled Clause: the attribute and operator in canonical
// spelling, and the value parsed for the operator.
type clause struct {
	Clause
	kind kind
	re   *regexp.Regexp // REGEX MATCH, NOT REGEX MATCH
	num  int64          // Greater_Than, Greater_Than_OR_EQUALS, &, !&
}

// compileClause checks one clause and returns it compiled, or the errors by
// field.
func compileClause(c Clause) (clause, []*ClauseError) {
	var errs []*ClauseError
	fail := func(field, format string, args ...any) {
		errs = append(errs, &ClauseError{Clause: 0, Field: field, Err: fmt.Errorf(format, args...)})
	}
	out := clause{Clause: c}

	attrOK := false
	switch {
	case strings.TrimSpace(c.Attribute) == "":
		fail("attribute", "required")
	default:
		name, k, ok := resolveAttribute(strings.TrimSpace(c.Attribute))
		if !ok {
			fail("attribute", "unknown user attribute %q", c.Attribute)
		} else {
			out.Attribute, out.kind, attrOK = name, k, true
		}
	}

	op, opOK := ParseOperator(string(c.Operator))
	switch {
	case strings.TrimSpace(string(c.Operator)) == "":
		fail("operator", "required")
	case !opOK:
		names := make([]string, len(operators))
		for i, o := range operators {
			names[i] = string(o)
		}
		fail("operator", "unknown operator %q (want one of %s)", c.Operator, strings.Join(names, ", "))
	default:
		out.Operator = op
	}
	if !opOK {
		return out, errs
	}

	if attrOK {
		if msg := kindMismatch(out.kind, op, out.Attribute); msg != "" {
			fail("operator", "%s", msg)
			return out, errs
		}
	}

	switch {
	case op.unary():
		if c.Value != "" {
			fail("value", "not used by operator %s", op)
		}
	case c.Value == "":
		fail("value", "required by operator %s", op)
	case op == RegexMatch || op == NotRegexMatch:
		re, err := regexp.Compile(c.Value)
		switch {
		case err != nil:
			fail("value", "invalid regular expression: %v%s", err, regexpHint(err))
		case hasClassSubtraction(c.Value):
			fail("value", "invalid regular expression: character class subtraction (as in [a-z-[aeiou]]) is .NET syntax that Go's RE2 reads differently; see docs/scoping.md")
		}
		out.re = re
	case op == GreaterThan || op == GreaterThanOrEquals:
		n, err := strconv.ParseInt(strings.TrimSpace(c.Value), 10, 64)
		if err != nil {
			fail("value", "must be an integer for operator %s, got %q", op, c.Value)
		}
		out.num = n
	case op == BitAnd || op == NotBitAnd:
		n, ok := parseInteger(c.Value)
		switch {
		case !ok:
			fail("value", "must be an integer (decimal or 0x hexadecimal) for operator %s, got %q", op, c.Value)
		case n == 0:
			fail("value", "must not be 0 for operator %s: a mask with no bits set tests nothing", op)
		}
		out.num = n
	case out.kind == kindBool && (op == Equals || op == NotEquals):
		if _, ok := parseBool(c.Value); !ok {
			fail("value", "must be true or false for boolean attribute %s, got %q", out.Attribute, c.Value)
		}
	}
	return out, errs
}

// kindMismatch says why an operator cannot apply to an attribute of a known
// kind, or returns "".
func kindMismatch(k kind, op Operator, attr string) string {
	switch k {
	case kindBool:
		switch op {
		case Equals, NotEquals, IsTrue, IsFalse, IsNull, IsNotNull:
			return ""
		}
		return fmt.Sprintf("operator %s does not apply to boolean attribute %s", op, attr)
	case kindList:
		switch op {
		case Includes, IsNull, IsNotNull:
			return ""
		}
		return fmt.Sprintf("operator %s does not apply to multi-valued attribute %s (use Includes, IS NULL or IS NOT NULL)", op, attr)
	}
	return ""
}

// regexpHint adds a pointer to the documented RE2 differences when a pattern
// fails for a .NET feature RE2 lacks.
func regexpHint(err error) string {
	var se *syntax.Error
	if !errors.As(err, &se) {
		return ""
	}
	switch {
	case se.Code == syntax.ErrInvalidPerlOp,
		se.Code == syntax.ErrInvalidNamedCapture,
		se.Code == syntax.ErrInvalidRepeatOp,
		se.Code == syntax.ErrInvalidEscape && len(se.Expr) >= 2 && strings.ContainsRune("0123456789kGZ", rune(se.Expr[1])):
		return " (Go's RE2 syntax has no lookaround, backreferences, atomic groups or possessive quantifiers; see docs/scoping.md)"
	}
	return ""
}

// hasClassSubtraction reports whether a pattern uses .NET's character class
// subtraction, [a-z-[aeiou]], which RE2 accepts but reads as a class that
// includes '-' and '[' followed by a literal ']'.
func hasClassSubtraction(pattern string) bool {
	inClass := false
	classStart := 0 // index of the first member of the current class
	for i := 0; i < len(pattern); i++ {
		switch ch := pattern[i]; {
		case ch == '\\':
			i++ // skip the escaped character
		case !inClass && ch == '[':
			inClass = true
			if strings.HasPrefix(pattern[i+1:], "^") {
				i++
			}
			classStart = i + 1
			if strings.HasPrefix(pattern[i+1:], "]") {
				i++ // a leading ] is a literal
			}
		case inClass && ch == ']':
			inClass = false
		case inClass && ch == '-' && i > classStart && strings.HasPrefix(pattern[i+1:], "["):
			return true
		}
	}
	return false
}

// parseInteger reads a decimal integer or a 0x-prefixed hexadecimal one. A
// leading 0 does not mean octal.
func parseInteger(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		u, err := strconv.ParseUint(h, 16, 64)
		return int64(u), err == nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// parseBool reads "true" or "false" in any case, as .NET's Boolean.Parse.
func parseBool(s string) (bool, bool) {
	switch {
	case strings.EqualFold(strings.TrimSpace(s), "true"):
		return true, true
	case strings.EqualFold(strings.TrimSpace(s), "false"):
		return false, true
	}
	return false, false
}

// eval evaluates the clause against a user's attributes. When it is false,
// note says what the attribute held, for the decision's reason.
func (c *clause) eval(attrs directory.Attributes) (ok bool, note string) {
	v := attrs[c.Attribute]
	if directory.IsEmpty(v) {
		// Entra: every clause is false on a null or empty value, except IS NULL.
		return c.Operator == IsNull, c.Attribute + " is null"
	}
	observed := c.Attribute + " is " + describe(v)
	if c.Operator == IsNull {
		return false, observed
	}
	if c.Operator == IsNotNull {
		return true, ""
	}
	if s, isString := v.(string); isString && c.kind == kindBool {
		// A boolean property that reached us as text ("true", "True").
		if b, ok := parseBool(s); ok {
			v = b
		}
	}
	switch tv := v.(type) {
	case []string:
		if c.Operator != Includes {
			return false, observed + ", multi-valued"
		}
		for _, s := range tv {
			if strings.Contains(s, c.Value) {
				return true, ""
			}
		}
		return false, observed
	case bool:
		switch c.Operator {
		case IsTrue:
			return tv, observed
		case IsFalse:
			return !tv, observed
		case Equals, NotEquals:
			want, isBool := parseBool(c.Value)
			equal := isBool && want == tv
			return equal == (c.Operator == Equals), observed
		}
		return c.evalString(strconv.FormatBool(tv), observed)
	case int64:
		switch c.Operator {
		case IsTrue, IsFalse:
			return false, observed + ", not a boolean"
		case Equals, NotEquals:
			want, isInt := parseInteger(c.Value)
			equal := isInt && want == tv
			return equal == (c.Operator == Equals), observed
		}
		return c.evalInteger(tv, observed)
	case string:
		return c.evalString(tv, observed)
	default:
		return c.evalString(fmt.Sprint(tv), observed)
	}
}

func (c *clause) evalString(s, observed string) (bool, string) {
	switch c.Operator {
	case Equals:
		return s == c.Value, observed
	case NotEquals:
		return s != c.Value, observed
	case IsTrue, IsFalse:
		b, ok := parseBool(s)
		if !ok {
			return false, observed + ", not a boolean"
		}
		return b == (c.Operator == IsTrue), observed
	case RegexMatch:
		return c.re.MatchString(s), observed
	case NotRegexMatch:
		return !c.re.MatchString(s), observed
	case Includes:
		return strings.Contains(s, c.Value), observed
	case EndsWith:
		return strings.HasSuffix(s, c.Value), observed
	case GreaterThan, GreaterThanOrEquals:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return false, observed + ", not an integer"
		}
		return c.evalInteger(n, observed)
	case BitAnd, NotBitAnd:
		n, ok := parseInteger(s)
		if !ok {
			return false, observed + ", not an integer"
		}
		return c.evalInteger(n, observed)
	}
	return false, observed
}

func (c *clause) evalInteger(n int64, observed string) (bool, string) {
	switch c.Operator {
	case GreaterThan:
		return n > c.num, observed
	case GreaterThanOrEquals:
		return n >= c.num, observed
	case BitAnd:
		return n&c.num == c.num, observed
	case NotBitAnd:
		return n&c.num != c.num, observed
	}
	return c.evalString(strconv.FormatInt(n, 10), observed)
}

// describe renders an attribute value for a reason: strings quoted and cut
// to a readable length, lists by their first elements.
func describe(v any) string {
	const maxRunes, maxItems = 64, 5
	quote := func(s string) string {
		if utf8.RuneCountInString(s) > maxRunes {
			s = string([]rune(s)[:maxRunes]) + "…"
		}
		return strconv.Quote(s)
	}
	switch tv := v.(type) {
	case nil:
		return "null"
	case string:
		return quote(tv)
	case []string:
		parts := make([]string, 0, min(len(tv), maxItems)+1)
		for i, s := range tv {
			if i == maxItems {
				parts = append(parts, fmt.Sprintf("… %d more", len(tv)-maxItems))
				break
			}
			parts = append(parts, quote(s))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	default:
		return fmt.Sprint(tv)
	}
}
