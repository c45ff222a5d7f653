// Package deploycheck holds the deployment to the code: it reads the Bicep in
// infra/, azure.yaml, the hooks and the function folders, and its tests check
// that they agree with each other and with internal/settings, and that
// `make package` stages what the Functions host needs.
//
// Neither the Bicep compiler nor azd can run where the tests run, so the
// Bicep is read textually. The reader is small but not naive: it blanks
// comments and the literal text of strings (keeping interpolations as code)
// before it matches declarations and counts brackets, so commented-out code,
// strings that look like code and multi-line objects do not fool it.
package deploycheck

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Bicep is a Bicep file as deploycheck reads it.
type Bicep struct {
	// Src is the file as written; Blank is the same text with comments and
	// string literal text replaced by spaces, at the same byte offsets.
	Src, Blank string
}

// Param is a parameter declaration.
type Param struct {
	Name string
	// Type is the declared type as written, e.g. "string" or "object?".
	Type string
	// Default is the default value expression as written, or "".
	Default string
	// Optional is true when the parameter has a default or a nullable type.
	Optional bool
}

// Module is a module declaration.
type Module struct {
	// Symbol is the module's symbolic name.
	Symbol string
	// Path is the module reference: a relative file path or a registry
	// reference such as br/public:avm/res/web/site:0.16.0.
	Path string
	// Params are the names of the parameters passed in its params object.
	Params []string
}

// OutputRef is a use of a module's output, symbol.outputs.name.
type OutputRef struct {
	Symbol, Output string
}

// ParseBicep blanks src for matching. It fails on unterminated comments,
// strings or interpolations.
func ParseBicep(src string) (*Bicep, error) {
	b := []byte(src)
	out := make([]byte, len(b))
	copy(out, b)
	s := &blanker{src: b, out: out}
	if err := s.code(0, false); err != nil {
		return nil, err
	}
	return &Bicep{Src: src, Blank: string(out)}, nil
}

type blanker struct {
	src, out []byte
	pos      int
}

func (s *blanker) blank(i int) {
	if s.out[i] != '\n' {
		s.out[i] = ' '
	}
}

func (s *blanker) line(i int) int {
	return strings.Count(string(s.src[:i]), "\n") + 1
}

func (s *blanker) has(i int, prefix string) bool {
	return strings.HasPrefix(string(s.src[i:min(len(s.src), i+len(prefix))]), prefix)
}

// code scans code from i; inInterpolation stops at the '}' that closes an
// interpolation.
func (s *blanker) code(i int, inInterpolation bool) error {
	depth := 0
	for i < len(s.src) {
		switch {
		case s.has(i, "//"):
			for i < len(s.src) && s.src[i] != '\n' {
				s.blank(i)
				i++
			}
		case s.has(i, "/*"):
			start := i
			for !s.has(i, "*/") {
				if i >= len(s.src) {
					return fmt.Errorf("line %d: unterminated /* comment", s.line(start))
				}
				s.blank(i)
				i++
			}
			s.blank(i)
			s.blank(i + 1)
			i += 2
		case s.has(i, "'''"):
			start := i
			i += 3
			for !s.has(i, "'''") {
				if i >= len(s.src) {
					return fmt.Errorf("line %d: unterminated ''' string", s.line(start))
				}
				s.blank(i)
				i++
			}
			i += 3
		case s.src[i] == '\'':
			end, err := s.str(i)
			if err != nil {
				return err
			}
			i = end
		case s.src[i] == '{':
			depth++
			i++
		case s.src[i] == '}':
			if inInterpolation && depth == 0 {
				s.pos = i
				return nil
			}
			depth--
			i++
		default:
			i++
		}
	}
	if inInterpolation {
		return errors.New("unterminated ${ interpolation")
	}
	return nil
}

// str scans the single-quoted string starting at i and returns the offset
// after its closing quote.
func (s *blanker) str(i int) (int, error) {
	start := i
	i++
	for {
		if i >= len(s.src) || s.src[i] == '\n' {
			return 0, fmt.Errorf("line %d: unterminated string", s.line(start))
		}
		switch {
		case s.src[i] == '\\':
			s.blank(i)
			if i+1 < len(s.src) {
				s.blank(i + 1)
			}
			i += 2
		case s.has(i, "${"):
			if err := s.code(i+2, true); err != nil {
				return 0, fmt.Errorf("line %d: %w", s.line(start), err)
			}
			i = s.pos + 1
		case s.src[i] == '\'':
			return i + 1, nil
		default:
			s.blank(i)
			i++
		}
	}
}

var (
	paramRe  = regexp.MustCompile(`(?m)^[ \t]*param[ \t]+([A-Za-z_]\w*)[ \t]+([^\n]*)$`)
	outputRe = regexp.MustCompile(`(?m)^[ \t]*output[ \t]+([A-Za-z_]\w*)[ \t]`)
	moduleRe = regexp.MustCompile(`(?m)^[ \t]*module[ \t]+([A-Za-z_]\w*)[ \t]+'`)
	varRe    = regexp.MustCompile(`(?m)^[ \t]*var[ \t]+([A-Za-z_]\w*)[ \t]*=`)
	refRe    = regexp.MustCompile(`\b([A-Za-z_]\w*)!?\.\??outputs\.\??([A-Za-z_]\w*)`)
	keyRe    = regexp.MustCompile(`^[ \t]*([A-Za-z_]\w*|'[^'\n]*')[ \t]*:`)
	extRe    = regexp.MustCompile(`(?m)^[ \t]*extension[ \t]+([A-Za-z_]\w*)`)
)

// Params returns the parameter declarations in order.
func (b *Bicep) Params() []Param {
	var ps []Param
	for _, m := range paramRe.FindAllStringSubmatchIndex(b.Blank, -1) {
		rest := b.Src[m[4]:m[5]]
		blankRest := b.Blank[m[4]:m[5]]
		p := Param{Name: b.Src[m[2]:m[3]]}
		// The blanked text ends where the code ends: a trailing comment is blank.
		code := len(strings.TrimRight(blankRest, " \t\r"))
		if eq := strings.Index(blankRest, "="); eq >= 0 {
			p.Type = strings.TrimSpace(rest[:eq])
			p.Default = strings.TrimSpace(rest[eq+1 : code])
			p.Optional = true
		} else {
			p.Type = strings.TrimSpace(rest[:code])
		}
		if strings.HasSuffix(p.Type, "?") {
			p.Optional = true
		}
		ps = append(ps, p)
	}
	return ps
}

// Param returns the named parameter.
func (b *Bicep) Param(name string) (Param, bool) {
	for _, p := range b.Params() {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// Outputs returns the names of the output declarations, sorted.
func (b *Bicep) Outputs() []string {
	var os []string
	for _, m := range outputRe.FindAllStringSubmatch(b.Blank, -1) {
		os = append(os, m[1])
	}
	sort.Strings(os)
	return os
}

// OutputExpr returns the value expression of the named output as written.
func (b *Bicep) OutputExpr(name string) (string, bool) {
	for _, m := range outputRe.FindAllStringSubmatchIndex(b.Blank, -1) {
		if b.Src[m[2]:m[3]] != name {
			continue
		}
		eq := strings.Index(b.Blank[m[1]:], "=")
		if eq < 0 {
			return "", false
		}
		start := m[1] + eq + 1
		return strings.TrimSpace(b.Src[start:b.exprEnd(start)]), true
	}
	return "", false
}

// Extensions returns the names of the extensions the file imports.
func (b *Bicep) Extensions() []string {
	var es []string
	for _, m := range extRe.FindAllStringSubmatch(b.Blank, -1) {
		es = append(es, m[1])
	}
	return es
}

// declaration is a module or resource declaration: kind symbol 'ref' …
// = { body }, the body between the braces at open and close.
type declaration struct {
	symbol, ref string
	open, close int
}

// declarations returns the declarations re finds (a line's start up to the
// opening quote of the reference), in order; kind names them in errors.
func (b *Bicep) declarations(re *regexp.Regexp, kind string) ([]declaration, error) {
	var ds []declaration
	for _, m := range re.FindAllStringSubmatchIndex(b.Blank, -1) {
		d := declaration{symbol: b.Src[m[2]:m[3]]}
		open := m[1] - 1 // the opening quote
		closeQ := strings.IndexByte(b.Blank[open+1:], '\'')
		if closeQ < 0 {
			return nil, fmt.Errorf("%s %s: unterminated reference", kind, d.symbol)
		}
		d.ref = b.Src[open+1 : open+1+closeQ]
		after := open + 1 + closeQ + 1
		eq := strings.IndexByte(b.Blank[after:], '=')
		if eq < 0 {
			return nil, fmt.Errorf("%s %s: no '='", kind, d.symbol)
		}
		body := strings.IndexByte(b.Blank[after+eq:], '{')
		if body < 0 {
			return nil, fmt.Errorf("%s %s: no body", kind, d.symbol)
		}
		d.open = after + eq + body
		end, err := b.matching(d.open)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", kind, d.symbol, err)
		}
		d.close = end
		ds = append(ds, d)
	}
	return ds, nil
}

// Modules returns the module declarations in order.
func (b *Bicep) Modules() ([]Module, error) {
	ds, err := b.declarations(moduleRe, "module")
	if err != nil {
		return nil, err
	}
	var ms []Module
	for _, d := range ds {
		mod := Module{Symbol: d.symbol, Path: d.ref}
		for _, k := range b.keys(d.open, d.close) {
			if k.name != "params" {
				continue
			}
			ps := strings.IndexByte(b.Blank[k.value:d.close], '{')
			if ps < 0 {
				return nil, fmt.Errorf("module %s: params is not an object literal", mod.Symbol)
			}
			pend, err := b.matching(k.value + ps)
			if err != nil {
				return nil, fmt.Errorf("module %s params: %w", mod.Symbol, err)
			}
			for _, pk := range b.keys(k.value+ps, pend) {
				mod.Params = append(mod.Params, pk.name)
			}
		}
		ms = append(ms, mod)
	}
	return ms, nil
}

// OutputRefs returns every symbol.outputs.name in the code, not in strings'
// literal text or comments.
func (b *Bicep) OutputRefs() []OutputRef {
	var rs []OutputRef
	for _, m := range refRe.FindAllStringSubmatch(b.Blank, -1) {
		rs = append(rs, OutputRef{Symbol: m[1], Output: m[2]})
	}
	return rs
}

// VarObjectKeys returns the keys of the object literals at the top of the
// value of every variable whose name ends in suffix (both branches of a
// conditional included), keyed by variable name.
func (b *Bicep) VarObjectKeys(suffix string) map[string][]string {
	out := map[string][]string{}
	for _, m := range varRe.FindAllStringSubmatchIndex(b.Blank, -1) {
		name := b.Src[m[2]:m[3]]
		if !strings.HasSuffix(name, suffix) {
			continue
		}
		start, end := m[1], b.exprEnd(m[1])
		depth := 0
		for i := start; i < end; i++ {
			switch b.Blank[i] {
			case '(', '[':
				depth++
			case ')', ']':
				depth--
			case '{':
				if depth == 0 {
					close, err := b.matching(i)
					if err != nil {
						continue
					}
					for _, k := range b.keys(i, close) {
						out[name] = append(out[name], k.name)
					}
					i = close
				}
			}
		}
	}
	return out
}

// exprEnd returns the end of the expression that starts at start: the first
// newline outside brackets whose next non-blank line does not continue it
// (with ?, : or .).
func (b *Bicep) exprEnd(start int) int {
	depth := 0
	for i := start; i < len(b.Blank); i++ {
		switch b.Blank[i] {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		case '\n':
			if depth > 0 {
				continue
			}
			next := strings.TrimLeft(b.Blank[i+1:], " \t\r\n")
			if strings.HasPrefix(next, "?") || strings.HasPrefix(next, ":") || strings.HasPrefix(next, ".") {
				continue
			}
			return i
		}
	}
	return len(b.Blank)
}

// matching returns the offset of the bracket that closes the one at open.
func (b *Bicep) matching(open int) (int, error) {
	depth := 0
	for i := open; i < len(b.Blank); i++ {
		switch b.Blank[i] {
		case '{', '[', '(':
			depth++
		case '}', ']', ')':
			depth--
			if depth == 0 {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("unbalanced bracket at line %d", strings.Count(b.Src[:open], "\n")+1)
}

type key struct {
	name  string
	value int // offset just after the colon
}

// keys returns the keys of the object literal between the braces at open and
// close, at its own level only.
func (b *Bicep) keys(open, close int) []key {
	var ks []key
	depth := 0
	atItem := true // at the start of an item: after '{', a newline or a comma
	for i := open + 1; i < close; i++ {
		c := b.Blank[i]
		if depth == 0 && atItem && c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			if loc := keyRe.FindStringSubmatchIndex(b.Blank[i:close]); loc != nil && loc[0] == 0 {
				name := b.Src[i+loc[2] : i+loc[3]]
				name = strings.Trim(name, "'")
				ks = append(ks, key{name: name, value: i + loc[1]})
			}
			atItem = false
		}
		switch c {
		case '{', '[', '(':
			depth++
		case '}', ']', ')':
			depth--
		case '\n', ',':
			if depth == 0 {
				atItem = true
			}
		}
	}
	return ks
}

// Resource is a resource declaration: its symbol, its type reference and
// the offsets of the braces of its body (of the loop body for a loop).
type Resource struct {
	Symbol string
	// Type is the type reference as written, e.g.
	// Microsoft.Web/sites/config@2024-04-01.
	Type        string
	open, close int
}

var resourceRe = regexp.MustCompile(`(?m)^[ \t]*resource[ \t]+([A-Za-z_]\w*)[ \t]+'`)

// Resources returns the resource declarations in order.
func (b *Bicep) Resources() ([]Resource, error) {
	ds, err := b.declarations(resourceRe, "resource")
	if err != nil {
		return nil, err
	}
	rs := make([]Resource, len(ds))
	for i, d := range ds {
		rs[i] = Resource{Symbol: d.symbol, Type: d.ref, open: d.open, close: d.close}
	}
	return rs, nil
}

// Resource returns the resource declared as symbol.
func (b *Bicep) Resource(symbol string) (Resource, bool) {
	rs, err := b.Resources()
	if err != nil {
		return Resource{}, false
	}
	for _, r := range rs {
		if r.Symbol == symbol {
			return r, true
		}
	}
	return Resource{}, false
}

// Value returns the expression at the key path inside the resource's body,
// as written: a scalar on its line, an object or a list with its brackets,
// a conditional over the lines it continues on. ok is false when a key is
// missing or a step of the path is not an object literal.
func (b *Bicep) Value(r Resource, path ...string) (string, bool) {
	return b.valueIn(r.open, r.close, path)
}

// ModuleParam returns the expression passed for param to the module
// declared as symbol.
func (b *Bicep) ModuleParam(symbol, param string) (string, bool) {
	ds, err := b.declarations(moduleRe, "module")
	if err != nil {
		return "", false
	}
	for _, d := range ds {
		if d.symbol == symbol {
			return b.valueIn(d.open, d.close, []string{"params", param})
		}
	}
	return "", false
}

func (b *Bicep) valueIn(open, close int, path []string) (string, bool) {
	for i, name := range path {
		var k *key
		for _, kk := range b.keys(open, close) {
			if kk.name == name {
				k = &kk
				break
			}
		}
		if k == nil {
			return "", false
		}
		from := k.value
		for from < close && (b.Blank[from] == ' ' || b.Blank[from] == '\t') {
			from++
		}
		if i < len(path)-1 {
			if b.Blank[from] != '{' {
				return "", false
			}
			end, err := b.matching(from)
			if err != nil {
				return "", false
			}
			open, close = from, end
			continue
		}
		if c := b.Blank[from]; c == '{' || c == '[' {
			end, err := b.matching(from)
			if err != nil {
				return "", false
			}
			return b.Src[from : end+1], true
		}
		// A trailing comment is blank in Blank: cut the text where the code ends.
		end := min(b.exprEnd(from), close)
		code := len(strings.TrimRight(b.Blank[from:end], " \t\r\n"))
		return b.Src[from : from+code], true
	}
	return "", false
}
