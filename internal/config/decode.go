package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxNodes bounds the nodes one document may expand to: YAML aliases and
// merge keys can make a small document huge ("billion laughs"). Every node
// the decoder visits counts, however it was reached: through an alias, or
// merged into a mapping by a merge key (<<).
const maxNodes = 100_000

// maxDepth bounds how deeply aliases and merge keys nest: each level is a
// frame of the decoder's recursion, and a chain of merges (a merges b, which
// merges c, ...) is the one way a document nests deeper than the schema.
const maxDepth = 32

// decoder fills Go values from yaml.v3 nodes, strictly: an unknown key, a
// duplicate key or a value of the wrong type is recorded as a problem at its
// path, and decoding goes on so that every problem is reported at once.
//
// Aliases and merge keys make the document a graph rather than a tree: the
// decoder charges every node it visits to maxNodes, refuses an alias or a
// merge that leads back into a value being decoded (a cycle, which would
// recurse without end), and refuses aliases and merges nested deeper than
// maxDepth.
type decoder struct {
	*errorList
	nodes int
	// depth is the number of aliases and merges being followed.
	depth int
	// active holds the mappings and lists being decoded, to tell a cycle.
	active map[*yaml.Node]bool
	// fields caches structFields.
	fields map[reflect.Type]map[string]field
	// reported holds the problems recorded, so that a problem in a value
	// merged or aliased many times is reported once.
	reported map[problem]bool
}

type problem struct {
	path string
	line int
	msg  string
}

// addAt records a problem once: a mapping merged in many places reports
// each of its problems once for each path it is merged into.
func (d *decoder) addAt(path string, line int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p := problem{path, line, msg}
	if d.reported[p] {
		return
	}
	if d.reported == nil {
		d.reported = map[problem]bool{}
	}
	d.reported[p] = true
	d.errorList.addAt(path, line, "%s", msg)
}

// charge counts one node visited against maxNodes. It reports false once the
// budget is spent, recording the problem the first time.
func (d *decoder) charge(path string, n *yaml.Node) bool {
	if d.nodes++; d.nodes == maxNodes+1 {
		d.addAt(path, n.Line, "the document expands to more than %d values (check its aliases and merge keys)", maxNodes)
	}
	return d.nodes <= maxNodes
}

// spent reports whether the node budget is spent: decoding stops.
func (d *decoder) spent() bool { return d.nodes > maxNodes }

// follow goes one level deeper, into an alias (returning the value it
// refers to) or into a mapping merged in place (returning it); the caller
// calls d.leave when done with the value. It refuses, recording why at
// errPath and returning nil, an alias to a value being decoded (cycle says
// what that alias does) and a level deeper than maxDepth.
func (d *decoder) follow(errPath string, n *yaml.Node, cycle string) *yaml.Node {
	if n.Kind == yaml.AliasNode && d.active[n.Alias] {
		d.addAt(errPath, n.Line, "*%s %s (a cycle)", n.Value, cycle)
		return nil
	}
	if d.depth >= maxDepth {
		d.addAt(errPath, n.Line, "merge keys and aliases nest more than %d deep", maxDepth)
		return nil
	}
	d.depth++
	if n.Kind == yaml.AliasNode {
		return n.Alias
	}
	return n
}

func (d *decoder) leave() { d.depth-- }

// enter marks a mapping or list as being decoded, until the returned
// function is called.
func (d *decoder) enter(n *yaml.Node) func() {
	if d.active == nil {
		d.active = map[*yaml.Node]bool{}
	}
	if d.active[n] {
		// Reached again without an alias: cannot happen in a parsed
		// document, but nothing is marked twice.
		return func() {}
	}
	d.active[n] = true
	return func() { delete(d.active, n) }
}

// defaulter is implemented by list elements that start from defaults rather
// than from zero before their keys are decoded.
type defaulter interface{ setDefaults() }

func (t *Target) setDefaults() { *t = DefaultTarget() }

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// decode fills v from n. The line of every key is recorded under its path.
func (d *decoder) decode(path string, n *yaml.Node, v reflect.Value) {
	if !d.charge(path, n) {
		return
	}
	if n.Kind == yaml.AliasNode {
		if n = d.follow(path, n, "refers to a value that contains it"); n == nil {
			return
		}
		defer d.leave()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // a key with no value: keep the default
	}
	if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.addAt(path, n.Line, "%s", unmarshalMessage(err))
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		elem := reflect.New(v.Type().Elem())
		d.decode(path, n, elem.Elem())
		v.Set(elem)
	case reflect.Struct:
		d.decodeStruct(path, n, v)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.addAt(path, n.Line, "must be a list")
			return
		}
		defer d.enter(n)()
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if d.spent() {
				return
			}
			p := indexPath(path, i)
			d.lines[p] = item.Line
			elem := s.Index(i)
			if def, ok := elem.Addr().Interface().(defaulter); ok {
				def.setDefaults()
			}
			d.decode(p, item, elem)
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.addAt(path, n.Line, "must be a string")
			return
		}
		// Any scalar reads as its text: `value: 0x2` is "0x2", `constant: true` is "true".
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
			d.addAt(path, n.Line, "must be true or false")
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil || v.OverflowInt(i) {
			d.addAt(path, n.Line, "must be an integer")
			return
		}
		v.SetInt(i)
	default:
		// The schema has no other kinds; a field of another kind added
		// later must be taught here.
		d.addAt(path, n.Line, "cannot decode a value of type %s", v.Type())
	}
}

// unmarshalMessage strips yaml.v3's decoration from an UnmarshalYAML error.
func unmarshalMessage(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return te.Errors[0]
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// field is a struct field reachable by a YAML key, through inline structs.
type field struct {
	index []int
}

// structFields maps the YAML keys of a struct type to its fields.
func structFields(t reflect.Type) map[string]field {
	fields := map[string]field{}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("yaml")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			index := append(append([]int(nil), prefix...), i)
			if strings.Contains(","+opts+",", ",inline,") && f.Type.Kind() == reflect.Struct {
				walk(f.Type, index)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			fields[name] = field{index: index}
		}
	}
	walk(t, nil)
	return fields
}

func (d *decoder) decodeStruct(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.addAt(path, n.Line, "must be a mapping")
		return
	}
	defer d.enter(n)()
	fields := d.structFields(v.Type())
	// YAML merge keys (<<: *defaults) first, so that explicit keys win.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			d.decodeMerge(path, n.Content[i+1], v)
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content) && !d.spent(); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.charge(path, k)
			d.addAt(path, k.Line, "keys must be strings")
			continue
		}
		p := joinPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.charge(p, k)
			d.addAt(p, k.Line, "duplicate key (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		f, ok := fields[k.Value]
		if !ok {
			d.charge(p, k)
			d.addAt(p, k.Line, "unknown key%s", suggestKey(k.Value, fields))
			continue
		}
		d.lines[p] = k.Line
		d.decode(p, val, v.FieldByIndex(f.index))
	}
}

// decodeMerge applies the value of a merge key: a mapping, or a list of
// mappings of which the earlier win (either may be an alias). Every node it
// visits is charged to the budget, and each mapping merged is a level of
// depth.
func (d *decoder) decodeMerge(path string, n *yaml.Node, v reflect.Value) {
	if !d.charge(path, n) {
		return
	}
	list := n
	if n.Kind == yaml.AliasNode && n.Alias.Kind == yaml.SequenceNode {
		list = n.Alias
	}
	if list.Kind != yaml.SequenceNode {
		d.mergeMapping(path, n, v)
		return
	}
	for i := len(list.Content) - 1; i >= 0 && !d.spent(); i-- {
		if d.charge(path, list.Content[i]) {
			d.mergeMapping(path, list.Content[i], v)
		}
	}
}

// mergeMapping merges n, a mapping or an alias of one, into v.
func (d *decoder) mergeMapping(path string, n *yaml.Node, v reflect.Value) {
	mergePath := joinPath(path, "<<")
	m := d.follow(mergePath, n, "merges a mapping into itself")
	if m == nil {
		return
	}
	defer d.leave()
	if m.Kind != yaml.MappingNode {
		d.addAt(mergePath, n.Line, "must be a mapping or a list of mappings")
		return
	}
	d.decodeStruct(path, m, v)
}

// structFields is structFields(t), cached.
func (d *decoder) structFields(t reflect.Type) map[string]field {
	if f, ok := d.fields[t]; ok {
		return f
	}
	if d.fields == nil {
		d.fields = map[reflect.Type]map[string]field{}
	}
	f := structFields(t)
	d.fields[t] = f
	return f
}

// suggestKey names the known key that a wrongly cased one means.
func suggestKey(key string, fields map[string]field) string {
	for name := range fields {
		if strings.EqualFold(name, key) {
			return ` (did you mean "` + name + `"?)`
		}
	}
	return ""
}
