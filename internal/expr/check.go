package expr

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Type is what an attribute or a subexpression holds, as far as it is
// known before any user is read.
type Type int

const (
	// TypeAny is a value whose type is not known before it is read: a
	// directory extension, Coalesce, IIF, Switch.
	TypeAny Type = iota
	TypeString
	TypeBool
	TypeNumber
	// TypeStrings is a multi-valued attribute (a string collection).
	TypeStrings
	TypeDate
)

func (t Type) String() string {
	switch t {
	case TypeString:
		return "a string"
	case TypeBool:
		return "a Boolean"
	case TypeNumber:
		return "a number"
	case TypeStrings:
		return "a string collection"
	case TypeDate:
		return "a date"
	}
	return "a value"
}

// AttributeCheck says what a source attribute holds. problem is empty for
// an attribute that can be read; otherwise it says what is wrong, as in
// `unknown source attribute "departmnt"`, and hint, when set, how to fix
// it, as in `did you mean "department"?`.
type AttributeCheck func(name string) (t Type, problem, hint string)

// CheckError is a problem Check found at a position of the expression.
type CheckError struct {
	Offset int // byte offset, 0-based
	Column int // 1-based column (in runes)
	Msg    string
	// Hint, when set, says how to fix it.
	Hint string
}

func (e *CheckError) Error() string {
	s := fmt.Sprintf("%s at column %d", e.Msg, e.Column)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Check finds what would make the expression fail for every user, or for
// every user with a value, before any user is read: a reference to an
// attribute that attrs does not know (Graph would refuse to $select it, or
// the value would always be null), and a literal or an attribute of the
// wrong type where a function needs a number, a date or a Boolean, as in
// Left([jobTitle], "abc"). It reports the first problem, at its column.
// What depends on a user's values (a string attribute that may or may not
// hold a number) is left to evaluation.
func (e *Expr) Check(attrs AttributeCheck) error {
	c := checker{src: e.src, attrs: attrs}
	c.typeOf(e.root)
	if c.err != nil {
		return c.err
	}
	return nil
}

type checker struct {
	src   string
	attrs AttributeCheck
	err   *CheckError
}

func (c *checker) fail(off int, hint, format string, args ...any) {
	if c.err != nil {
		return
	}
	col := utf8.RuneCountInString(c.src[:min(off, len(c.src))]) + 1
	c.err = &CheckError{Offset: off, Column: col, Msg: fmt.Sprintf(format, args...), Hint: hint}
}

// typeOf checks n and the nodes beneath it and returns the type of its value.
func (c *checker) typeOf(n node) Type {
	switch n := n.(type) {
	case *attrNode:
		t, problem, hint := c.attrs(n.name)
		if problem != "" {
			c.fail(n.off+1, hint, "%s", problem) // the name, after "["
		}
		return t
	case *strNode:
		return TypeString
	case *numNode, *constNode:
		return TypeNumber
	case *boolNode, *cmpNode:
		if n, ok := n.(*cmpNode); ok {
			c.typeOf(n.left)
			c.typeOf(n.right)
		}
		return TypeBool
	case *callNode:
		for i, a := range n.args {
			t := c.typeOf(a)
			if _, absent := a.(*absentNode); !absent {
				c.checkArg(n, i, a, t)
			}
		}
		return resultType(n)
	}
	return TypeAny
}

// checkArg checks argument i of call n, of type t, against what the
// function converts it to.
func (c *checker) checkArg(n *callNode, i int, a node, t Type) {
	want := paramType(n.fn.name, i)
	if want == TypeAny || want == TypeString {
		return
	}
	fail := func(got string) {
		c.fail(a.pos(), "", "%s: argument %d (%s) must be %s, got %s", n.fn.name, i+1, n.fn.argName(i), want, got)
	}
	if s, ok := a.(*strNode); ok {
		var err error
		switch want {
		case TypeNumber:
			_, err = toInt(s.val)
		case TypeDate:
			if s.val != "" { // an empty date is null: the function gives null
				_, err = toDate(s.val)
			}
		case TypeBool:
			_, err = toBool(s.val)
		}
		if err != nil {
			fail("the string " + quote(s.val))
		}
		return
	}
	got := t
	switch {
	case got == TypeAny || got == TypeString || got == TypeStrings || got == want:
		// A string attribute may hold a number or a date; a collection
		// with one value converts as that value. Evaluation decides.
		return
	case want == TypeBool && got == TypeNumber:
		return // CBool and IIF take non-zero as True
	}
	what := got.String()
	switch a := a.(type) {
	case *attrNode:
		what = fmt.Sprintf("[%s], %s", a.name, got)
	case *callNode:
		what = fmt.Sprintf("%s(…), %s", a.fn.name, got)
	case *numNode:
		what = "the number " + format(a)
	case *boolNode:
		what = "the Boolean " + format(a)
	}
	fail(what)
}

// paramType is the type function fn converts its argument i to, or
// TypeAny when it takes any value (or converts it to a string, which every
// value can be).
func paramType(fn string, i int) Type {
	switch fn {
	case "BitAnd", "DateFromNum":
		return TypeNumber
	case "RandomString":
		if i < 5 {
			return TypeNumber
		}
	case "Left", "Word", "Item":
		if i == 1 {
			return TypeNumber
		}
	case "Mid":
		if i >= 1 {
			return TypeNumber
		}
	case "InStr":
		if i == 2 {
			return TypeNumber
		}
	case "DateAdd":
		switch i {
		case 1:
			return TypeNumber
		case 2:
			return TypeDate
		}
	case "DateDiff":
		if i >= 1 {
			return TypeDate
		}
	case "CDate", "NumFromDate":
		return TypeDate
	case "CBool":
		return TypeBool
	case "IIF":
		if i == 0 {
			return TypeBool
		}
	}
	return TypeAny
}

// resultType is the type of what a call returns.
func resultType(n *callNode) Type {
	switch n.fn.name {
	case "BitAnd", "Count", "DateDiff", "InStr", "NumFromDate":
		return TypeNumber
	case "CBool", "IsNull", "IsNullOrEmpty", "IsPresent", "IsString", "Not":
		return TypeBool
	case "CDate", "DateAdd", "DateFromNum", "Now":
		return TypeDate
	case "RemoveDuplicates", "Split":
		return TypeStrings
	case "Coalesce", "IgnoreFlowIfNullOrEmpty", "IIF", "Redact", "Switch":
		return TypeAny
	}
	return TypeString
}

// Suggest returns the candidate closest to name, for "did you mean", or ""
// when none is close: one that differs only in case, else the nearest by
// edit distance (adjacent swaps count once) within a third of the name's
// length.
func Suggest(name string, candidates []string) string {
	for _, c := range candidates {
		if strings.EqualFold(c, name) {
			return c
		}
	}
	best, bestDist := "", max(2, utf8.RuneCountInString(name)/3)+1
	lower := strings.ToLower(name)
	for _, c := range candidates {
		if d := editDistance(lower, strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of adjacent runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
