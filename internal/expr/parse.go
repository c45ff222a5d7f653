package expr

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 100

// node is one element of a parsed expression.
type node interface{ pos() int }

type (
	attrNode struct {
		off  int
		name string
	}
	strNode struct {
		off int
		val string
	}
	numNode struct {
		off int
		val int64
		hex bool // written as &H…
	}
	boolNode struct {
		off int
		val bool
	}
	// constNode is a named constant: vbBinaryCompare or vbTextCompare.
	constNode struct {
		off  int
		name string
		val  int64
	}
	// absentNode is an argument left empty, as in Replace([x], , "re", , "", , ).
	absentNode struct{ off int }
	callNode   struct {
		off  int
		fn   *function
		args []node
		// Prepared at parse time from literal arguments.
		mode      replaceMode
		re        *regexpArg
		styles    *dateStyles
		inFormat  []fmtToken
		outFormat []fmtToken
	}
	cmpNode struct {
		off         int
		op          string
		left, right node
	}
)

func (n *attrNode) pos() int   { return n.off }
func (n *strNode) pos() int    { return n.off }
func (n *numNode) pos() int    { return n.off }
func (n *boolNode) pos() int   { return n.off }
func (n *constNode) pos() int  { return n.off }
func (n *absentNode) pos() int { return n.off }
func (n *callNode) pos() int   { return n.off }
func (n *cmpNode) pos() int    { return n.off }

// constants are the bare names the language knows besides function names.
var constants = []struct {
	name string
	val  any
}{
	{"True", true},
	{"False", false},
	{"vbBinaryCompare", int64(0)},
	{"vbTextCompare", int64(1)},
}

// Parse parses an expression. Errors are *SyntaxError.
func Parse(src string) (*Expr, error) {
	p := &parser{src: src}
	p.next()
	if p.err != nil {
		return nil, p.err
	}
	if p.tok.kind == tEOF {
		return nil, p.errorf(0, "empty expression")
	}
	root := p.expr(0)
	if p.err == nil && p.tok.kind != tEOF {
		p.fail(p.tok.off, "unexpected %s after the end of the expression", p.tok.describe())
	}
	if p.err != nil {
		return nil, p.err
	}
	e := &Expr{src: src, root: root}
	walk(root, func(n node) {
		switch n := n.(type) {
		case *attrNode:
			e.attrs = append(e.attrs, n.name)
		case *callNode:
			e.funcs = append(e.funcs, n.fn.name)
			if n.fn.name == "Redact" {
				e.sensitive = true
			}
		}
	})
	slices.Sort(e.attrs)
	e.attrs = slices.Compact(e.attrs)
	slices.Sort(e.funcs)
	e.funcs = slices.Compact(e.funcs)
	return e, nil
}

func walk(n node, f func(node)) {
	f(n)
	switch n := n.(type) {
	case *callNode:
		for _, a := range n.args {
			walk(a, f)
		}
	case *cmpNode:
		walk(n.left, f)
		walk(n.right, f)
	}
}

type tokKind int

const (
	tEOF tokKind = iota
	tAttr
	tString
	tNumber
	tIdent
	tLParen
	tRParen
	tComma
	tOp
)

type token struct {
	kind tokKind
	off  int
	text string // attribute name, string value, identifier, operator, or number source
	num  int64
	hex  bool
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tAttr:
		return "attribute [" + t.text + "]"
	case tString:
		return "string " + quote(t.text)
	case tNumber:
		return "number " + t.text
	case tIdent:
		return "name " + t.text
	case tLParen:
		return `"("`
	case tRParen:
		return `")"`
	case tComma:
		return `","`
	case tOp:
		return "operator " + t.text
	}
	return "token"
}

type parser struct {
	src string
	off int // next byte to scan
	tok token
	err *SyntaxError
}

func (p *parser) column(off int) int {
	if off > len(p.src) {
		off = len(p.src)
	}
	return utf8.RuneCountInString(p.src[:off]) + 1
}

func (p *parser) errorf(off int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Offset: off, Column: p.column(off), Msg: fmt.Sprintf(format, args...)}
}

// fail records the first error; parsing unwinds by checking p.err.
func (p *parser) fail(off int, format string, args ...any) {
	if p.err == nil {
		p.err = p.errorf(off, format, args...)
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isIdentStart(r rune) bool {
	return r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
}

func isIdentPart(r rune) bool { return isIdentStart(r) || ('0' <= r && r <= '9') }

// next scans the next token into p.tok.
func (p *parser) next() {
	if p.err != nil {
		p.tok = token{kind: tEOF, off: len(p.src)}
		return
	}
	for p.off < len(p.src) && isSpace(p.src[p.off]) {
		p.off++
	}
	start := p.off
	if start >= len(p.src) {
		p.tok = token{kind: tEOF, off: start}
		return
	}
	c := p.src[start]
	switch {
	case c == '(':
		p.off++
		p.tok = token{kind: tLParen, off: start}
	case c == ')':
		p.off++
		p.tok = token{kind: tRParen, off: start}
	case c == ',':
		p.off++
		p.tok = token{kind: tComma, off: start}
	case c == '=':
		p.off++
		p.tok = token{kind: tOp, off: start, text: "="}
	case c == '<' || c == '>':
		op := string(c)
		p.off++
		if p.off < len(p.src) {
			n := p.src[p.off]
			if n == '=' || (c == '<' && n == '>') {
				op += string(n)
				p.off++
			}
		}
		p.tok = token{kind: tOp, off: start, text: op}
	case c == '[':
		p.scanAttr(start)
	case c == '"':
		p.scanString(start)
	case c == '-' || ('0' <= c && c <= '9') || c == '&':
		p.scanNumber(start)
	default:
		r, size := utf8.DecodeRuneInString(p.src[start:])
		if !isIdentStart(r) {
			p.fail(start, "unexpected character %q", r)
			p.tok = token{kind: tEOF, off: start}
			return
		}
		end := start + size
		for end < len(p.src) {
			r, size := utf8.DecodeRuneInString(p.src[end:])
			if !isIdentPart(r) {
				break
			}
			end += size
		}
		p.off = end
		p.tok = token{kind: tIdent, off: start, text: p.src[start:end]}
	}
}

// isAttrNameChar accepts what Graph property names, directory extension names
// (extension_<appId>_<name>) and flattened complex properties use.
func isAttrNameChar(r rune) bool {
	return isIdentPart(r) || r == '.' || r == '-' || r == '@' || r == '$' || r == '#'
}

func (p *parser) scanAttr(start int) {
	i := start + 1
	for i < len(p.src) && p.src[i] != ']' {
		r, size := utf8.DecodeRuneInString(p.src[i:])
		if !isAttrNameChar(r) {
			if r == '"' || r == '(' || r == ')' || r == ',' || r == '[' {
				p.fail(start, "unterminated attribute reference")
			} else {
				p.fail(i, "invalid character %q in attribute name", r)
			}
			p.tok = token{kind: tEOF, off: start}
			return
		}
		i += size
	}
	if i >= len(p.src) {
		p.fail(start, "unterminated attribute reference")
		p.tok = token{kind: tEOF, off: start}
		return
	}
	name := p.src[start+1 : i]
	if name == "" {
		p.fail(start, "empty attribute reference []")
		p.tok = token{kind: tEOF, off: start}
		return
	}
	p.off = i + 1
	p.tok = token{kind: tAttr, off: start, text: name}
}

// scanString reads a double-quoted string. \" and \\ are escapes, as
// Microsoft documents; a backslash before any other character is kept
// literally, so "\d" is the two characters \d.
func (p *parser) scanString(start int) {
	var b strings.Builder
	i := start + 1
	for i < len(p.src) {
		c := p.src[i]
		switch {
		case c == '"':
			p.off = i + 1
			p.tok = token{kind: tString, off: start, text: b.String()}
			return
		case c == '\\' && i+1 < len(p.src) && (p.src[i+1] == '"' || p.src[i+1] == '\\'):
			b.WriteByte(p.src[i+1])
			i += 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	p.fail(start, "unterminated string")
	p.tok = token{kind: tEOF, off: start}
}

func (p *parser) scanNumber(start int) {
	i := start
	if p.src[i] == '&' {
		if i+1 >= len(p.src) || (p.src[i+1] != 'H' && p.src[i+1] != 'h') {
			p.fail(start, `unexpected character '&' (hexadecimal numbers are written &HFF)`)
			p.tok = token{kind: tEOF, off: start}
			return
		}
		i += 2
		digits := i
		for i < len(p.src) && isHexDigit(p.src[i]) {
			i++
		}
		if i == digits {
			p.fail(start, "hexadecimal number without digits")
			p.tok = token{kind: tEOF, off: start}
			return
		}
		v, err := strconv.ParseInt(p.src[digits:i], 16, 64)
		if err != nil {
			p.fail(start, "number %s out of range", p.src[start:i])
			p.tok = token{kind: tEOF, off: start}
			return
		}
		p.off = i
		p.tok = token{kind: tNumber, off: start, text: p.src[start:i], num: v, hex: true}
		return
	}
	if p.src[i] == '-' {
		i++
	}
	digits := i
	for i < len(p.src) && '0' <= p.src[i] && p.src[i] <= '9' {
		i++
	}
	if i == digits {
		p.fail(start, "unexpected character '-'")
		p.tok = token{kind: tEOF, off: start}
		return
	}
	v, err := strconv.ParseInt(p.src[start:i], 10, 64)
	if err != nil {
		p.fail(start, "number %s out of range", p.src[start:i])
		p.tok = token{kind: tEOF, off: start}
		return
	}
	p.off = i
	p.tok = token{kind: tNumber, off: start, text: p.src[start:i], num: v}
}

func isHexDigit(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// expr parses an operand, optionally followed by one comparison.
func (p *parser) expr(depth int) node {
	left := p.operand(depth)
	if p.err != nil || p.tok.kind != tOp {
		return left
	}
	op := p.tok
	p.next()
	right := p.operand(depth)
	if p.err != nil {
		return nil
	}
	if p.tok.kind == tOp {
		p.fail(p.tok.off, "unexpected %s: comparisons cannot be chained", p.tok.describe())
		return nil
	}
	return &cmpNode{off: left.pos(), op: op.text, left: left, right: right}
}

func (p *parser) operand(depth int) node {
	if p.err != nil {
		return nil
	}
	if depth > maxDepth {
		p.fail(p.tok.off, "expression nested too deeply (more than %d levels)", maxDepth)
		return nil
	}
	t := p.tok
	switch t.kind {
	case tAttr:
		p.next()
		return &attrNode{off: t.off, name: t.text}
	case tString:
		p.next()
		return &strNode{off: t.off, val: t.text}
	case tNumber:
		p.next()
		return &numNode{off: t.off, val: t.num, hex: t.hex}
	case tIdent:
		p.next()
		if p.tok.kind == tLParen {
			return p.call(t, depth)
		}
		for _, c := range constants {
			if c.name == t.text {
				if b, ok := c.val.(bool); ok {
					return &boolNode{off: t.off, val: b}
				}
				return &constNode{off: t.off, name: c.name, val: c.val.(int64)}
			}
		}
		for _, c := range constants {
			if strings.EqualFold(c.name, t.text) {
				p.fail(t.off, "unknown name %q (names are case-sensitive: did you mean %q?)", t.text, c.name)
				return nil
			}
		}
		if lookupFunction(t.text) != nil {
			p.fail(t.off, "function %s needs parentheses: %s(…)", t.text, t.text)
			return nil
		}
		p.fail(t.off, "unknown name %q (attribute references are written in brackets: [%s])", t.text, t.text)
		return nil
	case tEOF:
		p.fail(t.off, "unexpected end of expression")
		return nil
	default:
		p.fail(t.off, "unexpected %s", t.describe())
		return nil
	}
}

// call parses the argument list of a function whose name was just read.
func (p *parser) call(name token, depth int) node {
	fn := lookupFunction(name.text)
	if fn == nil {
		if alt := lookupFunctionFold(name.text); alt != nil {
			p.fail(name.off, "unknown function %q (function names are case-sensitive: did you mean %q?)", name.text, alt.name)
		} else {
			p.fail(name.off, "unknown function %q", name.text)
		}
		return nil
	}
	c := &callNode{off: name.off, fn: fn}
	p.next() // (
	if p.tok.kind == tRParen {
		p.next()
	} else {
		for p.err == nil {
			switch p.tok.kind {
			case tComma, tRParen:
				c.args = append(c.args, &absentNode{off: p.tok.off})
			default:
				c.args = append(c.args, p.expr(depth+1))
			}
			if p.err != nil {
				return nil
			}
			if p.tok.kind == tComma {
				p.next()
				continue
			}
			if p.tok.kind == tRParen {
				p.next()
				break
			}
			if p.tok.kind == tEOF {
				p.fail(name.off, "missing ) to close %s(", fn.name)
			} else {
				p.fail(p.tok.off, "unexpected %s in the arguments of %s: expected \",\" or \")\"", p.tok.describe(), fn.name)
			}
			return nil
		}
	}
	if p.err != nil {
		return nil
	}
	if msg := fn.checkCount(len(c.args)); msg != "" {
		p.fail(name.off, "%s", msg)
		return nil
	}
	for i, a := range c.args {
		if _, ok := a.(*absentNode); ok && !fn.mayBeAbsent(i, len(c.args)) {
			p.fail(a.pos(), "%s: argument %d (%s) is required", fn.name, i+1, fn.argName(i))
			return nil
		}
	}
	if fn.name == "SelectUniqueValue" && depth > 0 {
		p.fail(name.off, "SelectUniqueValue must be the whole expression: it cannot be nested")
		return nil
	}
	if fn.check != nil {
		if err := fn.check(c); err != nil {
			off := name.off
			if ae, ok := err.(*argError); ok {
				off = c.args[ae.arg].pos()
				err = ae.err
			}
			p.fail(off, "%s: %v", fn.name, err)
			return nil
		}
	}
	return c
}

// argError is a static check failure about one argument.
type argError struct {
	arg int
	err error
}

func (e *argError) Error() string { return e.err.Error() }

func argErrorf(arg int, format string, args ...any) error {
	return &argError{arg: arg, err: fmt.Errorf(format, args...)}
}

// format prints a node in canonical form.
func format(n node) string {
	var b strings.Builder
	writeNode(&b, n)
	return b.String()
}

func writeNode(b *strings.Builder, n node) {
	switch n := n.(type) {
	case *attrNode:
		b.WriteString("[" + n.name + "]")
	case *strNode:
		b.WriteString(quote(n.val))
	case *numNode:
		if n.hex {
			b.WriteString("&H" + strings.ToUpper(strconv.FormatInt(n.val, 16)))
		} else {
			b.WriteString(strconv.FormatInt(n.val, 10))
		}
	case *boolNode:
		if n.val {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case *constNode:
		b.WriteString(n.name)
	case *absentNode:
	case *callNode:
		b.WriteString(n.fn.name)
		b.WriteByte('(')
		for i, a := range n.args {
			if i > 0 {
				b.WriteString(", ")
			}
			writeNode(b, a)
		}
		b.WriteByte(')')
	case *cmpNode:
		writeNode(b, n.left)
		b.WriteString(" " + n.op + " ")
		writeNode(b, n.right)
	}
}

// quote writes s as a string literal of the language.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}
