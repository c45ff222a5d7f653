package graphsim

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// resource describes a directory object type for $filter and $select.
type resource struct {
	name      string // as in error messages: "User", "Group"
	odataName string // microsoft.graph.user
	index     map[string]int
	props     []propDef
}

var (
	userResource  = &resource{name: "User", odataName: "microsoft.graph.user", index: userPropIndex, props: userProps[:]}
	groupResource = &resource{name: "Group", odataName: "microsoft.graph.group", index: groupPropIndex, props: groupProps[:]}
)

// getter reads a property for filter evaluation: prop is an index (pID for
// id), ext an extension attribute index or -1.
type getter func(prop, ext int) any

// filter is a parsed $filter.
type filter struct {
	root fnode
	// advanced is set when the filter needs the advanced query
	// parameters; advReason is the error to answer without them.
	advanced  bool
	advReason *graphError
}

// fnode is a node of a parsed filter.
type fnode interface {
	eval(get getter, elem any) bool
}

type fpath struct {
	prop  int
	ext   int
	isVar bool // the range variable of an any() lambda
	name  string
}

func (p fpath) get(get getter, elem any) any {
	if p.isVar {
		return elem
	}
	return get(p.prop, p.ext)
}

type fvalue struct {
	null bool
	b    *bool
	s    string // strings, numbers and other literals, as written
}

type fOr struct{ l, r fnode }

func (n fOr) eval(g getter, e any) bool { return n.l.eval(g, e) || n.r.eval(g, e) }

type fAnd struct{ l, r fnode }

func (n fAnd) eval(g getter, e any) bool { return n.l.eval(g, e) && n.r.eval(g, e) }

type fNot struct{ x fnode }

func (n fNot) eval(g getter, e any) bool { return !n.x.eval(g, e) }

type fCmp struct {
	path fpath
	op   string // eq ne gt ge lt le
	val  fvalue
}

func (n fCmp) eval(g getter, e any) bool {
	v := n.path.get(g, e)
	if n.val.null {
		empty := isEmptyValue(v)
		if n.op == "ne" {
			return !empty
		}
		return empty
	}
	switch n.op {
	case "eq":
		return valueEquals(v, n.val)
	case "ne":
		return !valueEquals(v, n.val)
	}
	s, ok := v.(string)
	if !ok {
		return false
	}
	c := strings.Compare(strings.ToLower(s), strings.ToLower(n.val.s))
	switch n.op {
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

type fIn struct {
	path fpath
	vals []fvalue
}

func (n fIn) eval(g getter, e any) bool {
	v := n.path.get(g, e)
	for _, x := range n.vals {
		if valueEquals(v, x) {
			return true
		}
	}
	return false
}

type fFunc struct {
	name string // startswith, endswith
	path fpath
	val  string
}

func (n fFunc) eval(g getter, e any) bool {
	s, ok := n.path.get(g, e).(string)
	if !ok {
		return false
	}
	s, want := strings.ToLower(s), strings.ToLower(n.val)
	if n.name == "endswith" {
		return strings.HasSuffix(s, want)
	}
	return strings.HasPrefix(s, want)
}

type fAny struct {
	path fpath
	body fnode
}

func (n fAny) eval(g getter, _ any) bool {
	list, _ := n.path.get(g, nil).([]string)
	for _, e := range list {
		if n.body.eval(g, e) {
			return true
		}
	}
	return false
}

func isEmptyValue(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case []string:
		return len(t) == 0
	}
	return false
}

// valueEquals compares a stored value with a literal as Graph does for
// directory objects: strings case-insensitively.
func valueEquals(v any, lit fvalue) bool {
	switch t := v.(type) {
	case string:
		return lit.b == nil && strings.EqualFold(t, lit.s)
	case bool:
		return lit.b != nil && *lit.b == t
	}
	return false
}

// parseFilter parses a $filter expression for res.
func parseFilter(expr string, res *resource) (*filter, *graphError) {
	p := &filterParser{src: expr, res: res, f: &filter{}}
	if err := p.lex(); err != nil {
		return nil, errFilterSyntax(err.Error())
	}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tEOF {
		return nil, errFilterSyntax(fmt.Sprintf("unexpected '%s' at position %d", p.peek().text, p.peek().pos))
	}
	p.f.root = root
	return p.f, nil
}

func errFilterSyntax(detail string) *graphError {
	return newError(400, "BadRequest", "Invalid filter clause: %s", detail)
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tString
	tLiteral
	tLParen
	tRParen
	tComma
	tColon
)

type token struct {
	kind tokKind
	text string
	pos  int
}

type filterParser struct {
	src  string
	toks []token
	i    int
	res  *resource
	f    *filter
	// lambda is the range variable and collection of the any() being
	// parsed.
	lambdaVar  string
	lambdaProp int
}

func (p *filterParser) lex() error {
	s := p.src
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			p.toks = append(p.toks, token{tLParen, "(", i})
			i++
		case c == ')':
			p.toks = append(p.toks, token{tRParen, ")", i})
			i++
		case c == ',':
			p.toks = append(p.toks, token{tComma, ",", i})
			i++
		case c == ':':
			p.toks = append(p.toks, token{tColon, ":", i})
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return fmt.Errorf("unterminated string literal at position %d", i)
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			p.toks = append(p.toks, token{tString, b.String(), i})
			i = j + 1
		case c >= '0' && c <= '9' || c == '-':
			j := i + 1
			for j < len(s) && (isIdentByte(s[j]) || s[j] == ':' || s[j] == '-' || s[j] == '+') {
				j++
			}
			p.toks = append(p.toks, token{tLiteral, s[i:j], i})
			i = j
		case isIdentByte(c) || c == '$':
			j := i + 1
			for j < len(s) && (isIdentByte(s[j]) || s[j] == '/' || s[j] == '$') {
				j++
			}
			p.toks = append(p.toks, token{tIdent, s[i:j], i})
			i = j
		default:
			return fmt.Errorf("character '%c' is not valid at position %d", c, i)
		}
	}
	p.toks = append(p.toks, token{tEOF, "end of input", len(s)})
	return nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '.' || c < 0x80 && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)))
}

func (p *filterParser) peek() token { return p.toks[p.i] }

func (p *filterParser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *filterParser) keyword(word string) bool {
	t := p.peek()
	if t.kind == tIdent && strings.EqualFold(t.text, word) {
		p.i++
		return true
	}
	return false
}

func (p *filterParser) expect(k tokKind, what string) (token, *graphError) {
	t := p.next()
	if t.kind != k {
		return t, errFilterSyntax(fmt.Sprintf("expected %s at position %d, found '%s'", what, t.pos, t.text))
	}
	return t, nil
}

func (p *filterParser) parseOr() (fnode, *graphError) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = fOr{l, r}
	}
	return l, nil
}

func (p *filterParser) parseAnd() (fnode, *graphError) {
	l, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		r, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		l = fAnd{l, r}
	}
	return l, nil
}

func (p *filterParser) parseUnary() (fnode, *graphError) {
	if p.keyword("not") {
		p.needAdvanced(errOperatorNeedsAdvanced("not"))
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return fNot{x}, nil
	}
	return p.parsePrimary()
}

func (p *filterParser) parsePrimary() (fnode, *graphError) {
	t := p.peek()
	if t.kind == tLParen {
		p.next()
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, "')'"); err != nil {
			return nil, err
		}
		return x, nil
	}
	if t.kind != tIdent {
		return nil, errFilterSyntax(fmt.Sprintf("expected a property or function at position %d, found '%s'", t.pos, t.text))
	}
	p.next()
	name := strings.ToLower(t.text)
	if p.peek().kind == tLParen && (name == "startswith" || name == "endswith") {
		return p.parseFunc(name)
	}
	if slash := strings.LastIndexByte(t.text, '/'); slash > 0 && p.peek().kind == tLParen {
		fn := strings.ToLower(t.text[slash+1:])
		if fn == "any" || fn == "all" {
			return p.parseLambda(t.text[:slash], fn)
		}
	}
	path, err := p.resolvePath(t.text)
	if err != nil {
		return nil, err
	}
	opTok := p.next()
	op := strings.ToLower(opTok.text)
	if opTok.kind != tIdent {
		return nil, errFilterSyntax(fmt.Sprintf("expected an operator at position %d, found '%s'", opTok.pos, opTok.text))
	}
	switch op {
	case "in":
		if _, err := p.expect(tLParen, "'('"); err != nil {
			return nil, err
		}
		var vals []fvalue
		for {
			v, err := p.parseValue()
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
			if p.peek().kind == tComma {
				p.next()
				continue
			}
			break
		}
		if _, err := p.expect(tRParen, "')'"); err != nil {
			return nil, err
		}
		if err := p.check(path, "in", false); err != nil {
			return nil, err
		}
		return fIn{path: path, vals: vals}, nil
	case "eq", "ne", "gt", "ge", "lt", "le":
		v, err := p.parseValue()
		if err != nil {
			return nil, err
		}
		if err := p.check(path, op, v.null); err != nil {
			return nil, err
		}
		if d, ok := p.propKind(path); ok && d == kDateTime && !v.null {
			if tm, perr := time.Parse(time.RFC3339Nano, v.s); perr == nil {
				v.s = graphTime(tm)
			}
		}
		return fCmp{path: path, op: op, val: v}, nil
	}
	return nil, errFilterSyntax(fmt.Sprintf("unknown operator '%s' at position %d", opTok.text, opTok.pos))
}

func (p *filterParser) parseFunc(name string) (fnode, *graphError) {
	p.next() // (
	pt, err := p.expect(tIdent, "a property")
	if err != nil {
		return nil, err
	}
	path, err := p.resolvePath(pt.text)
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tComma, "','"); err != nil {
		return nil, err
	}
	v, err := p.expect(tString, "a string")
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tRParen, "')'"); err != nil {
		return nil, err
	}
	if err := p.check(path, name, false); err != nil {
		return nil, err
	}
	return fFunc{name: name, path: path, val: v.text}, nil
}

func (p *filterParser) parseLambda(collection, fn string) (fnode, *graphError) {
	if p.lambdaVar != "" {
		return nil, errUnsupportedQuery("Nested lambda expressions are not supported.")
	}
	i, ok := p.res.index[strings.ToLower(collection)]
	if !ok || i == pID {
		return nil, errUnsupportedQuery("Property '%s' does not exist as a declared property or extension property.", collection)
	}
	def := &p.res.props[i]
	if !def.collection || fn == "all" {
		return nil, p.unsupported(def.name)
	}
	p.next() // (
	v, err := p.expect(tIdent, "a range variable")
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tColon, "':'"); err != nil {
		return nil, err
	}
	p.lambdaVar, p.lambdaProp = v.text, i
	body, err := p.parseOr()
	p.lambdaVar = ""
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tRParen, "')'"); err != nil {
		return nil, err
	}
	return fAny{path: fpath{prop: i, ext: -1, name: def.name}, body: body}, nil
}

func (p *filterParser) parseValue() (fvalue, *graphError) {
	t := p.next()
	switch t.kind {
	case tString:
		return fvalue{s: t.text}, nil
	case tLiteral:
		return fvalue{s: t.text}, nil
	case tIdent:
		switch strings.ToLower(t.text) {
		case "null":
			return fvalue{null: true}, nil
		case "true", "false":
			b := strings.EqualFold(t.text, "true")
			return fvalue{b: &b}, nil
		}
	}
	return fvalue{}, errFilterSyntax(fmt.Sprintf("expected a value at position %d, found '%s'", t.pos, t.text))
}

// resolvePath resolves a property path: a property, the lambda variable, or
// onPremisesExtensionAttributes/extensionAttributeN.
func (p *filterParser) resolvePath(text string) (fpath, *graphError) {
	if p.lambdaVar != "" && text == p.lambdaVar {
		return fpath{isVar: true, prop: p.lambdaProp, ext: -1, name: p.res.props[p.lambdaProp].name}, nil
	}
	head, tail, nested := strings.Cut(text, "/")
	i, ok := p.res.index[strings.ToLower(head)]
	if !ok {
		return fpath{}, newError(400, "BadRequest", "Could not find a property named '%s' on type '%s'.", head, p.res.odataName)
	}
	if !nested {
		return fpath{prop: i, ext: -1, name: propName(p.res, i)}, nil
	}
	if i != pID && p.res.props[i].kind == kExt {
		if e, ok := extAttrIndex(tail); ok {
			return fpath{prop: i, ext: e, name: p.res.props[i].name + "/" + tail}, nil
		}
	}
	return fpath{}, newError(400, "BadRequest", "Could not find a property named '%s' on type '%s'.", tail, p.res.odataName)
}

func propName(res *resource, i int) string {
	if i == pID {
		return "id"
	}
	return res.props[i].name
}

func (p *filterParser) propKind(path fpath) (propKind, bool) {
	if path.prop == pID || path.isVar {
		return kString, false
	}
	return p.res.props[path.prop].kind, true
}

// check validates operator op on path against the property's filter
// support and records whether the advanced query parameters are needed.
func (p *filterParser) check(path fpath, op string, null bool) *graphError {
	var fs filterSupport
	name := path.name
	switch {
	case path.prop == pID && !path.isVar:
		fs = idFilter
	default:
		def := &p.res.props[path.prop]
		fs = def.filter
		if def.collection && !path.isVar {
			// A collection is filtered through any().
			return p.unsupported(def.name)
		}
		if def.kind == kExt && path.ext < 0 {
			return p.unsupported(def.name)
		}
		if path.ext >= 0 {
			name = def.name
		}
	}
	var lv level
	switch op {
	case "eq":
		lv = fs.eq
		if null {
			lv = fs.null
		}
	case "ne":
		lv = fs.eq
		if null {
			lv = fs.null
		}
		if lv != no {
			p.needAdvanced(errOperatorNeedsAdvanced("ne"))
		}
	case "gt", "ge", "lt", "le":
		lv = fs.rng
	case "in":
		lv = fs.in
		if lv == no {
			lv = fs.eq
		}
	case "startswith":
		lv = fs.startsWith
	case "endswith":
		lv = fs.endsWith
		if lv != no {
			p.needAdvanced(errOperatorNeedsAdvanced("endsWith"))
		}
	}
	switch lv {
	case no:
		return p.unsupported(name)
	case adv:
		p.needAdvanced(p.unsupported(name))
	}
	return nil
}

func (p *filterParser) unsupported(prop string) *graphError {
	return errUnsupportedQuery("Unsupported or invalid query filter clause specified for property '%s' of resource '%s'.", prop, p.res.name)
}

func (p *filterParser) needAdvanced(reason *graphError) {
	if !p.f.advanced {
		p.f.advanced = true
		p.f.advReason = reason
	}
}

func errOperatorNeedsAdvanced(op string) *graphError {
	return errUnsupportedQuery("Operator '%s' is not supported because the required parameters might be missing. "+
		"Try adding $count=true query parameter and ConsistencyLevel:eventual header. "+
		"Refer to https://aka.ms/graph-docs/advanced-queries for more information", op)
}

// userGetter reads user properties for filters.
func userGetter(u *user) getter {
	return func(prop, ext int) any {
		if prop == pID {
			return u.id
		}
		if ext >= 0 {
			e, _ := u.v[prop].(*extAttrs)
			if e == nil || e[ext] == nil {
				return nil
			}
			return *e[ext]
		}
		return u.v[prop]
	}
}

// groupGetter reads group properties for filters.
func groupGetter(g *group) getter {
	return func(prop, _ int) any {
		if prop == pID {
			return g.id
		}
		return g.v[prop]
	}
}

// requestFilter parses the request's $filter for res and enforces the
// advanced query parameters. It returns nil without a $filter.
func requestFilter(rq *request, res *resource) (*filter, *graphError) {
	expr := rq.param("filter")
	if strings.TrimSpace(expr) == "" {
		return nil, nil
	}
	f, err := parseFilter(expr, res)
	if err != nil {
		return nil, err
	}
	if f.advanced && !rq.advanced() {
		return nil, f.advReason
	}
	return f, nil
}
