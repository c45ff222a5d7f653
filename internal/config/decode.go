package config

import (
	"errors"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxNodes bounds the nodes one document may expand to: YAML aliases can
// make a small document huge ("billion laughs").
const maxNodes = 100_000

// decoder fills Go values from yaml.v3 nodes, strictly: an unknown key, a
// duplicate key or a value of the wrong type is recorded as a problem at its
// path, and decoding goes on so that every problem is reported at once.
type decoder struct {
	*errorList
	nodes int
}

// defaulter is implemented by list elements that start from defaults rather
// than from zero before their keys are decoded.
type defaulter interface{ setDefaults() }

func (t *Target) setDefaults() { *t = DefaultTarget() }

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// decode fills v from n. The line of every key is recorded under its path.
func (d *decoder) decode(path string, n *yaml.Node, v reflect.Value) {
	if d.nodes++; d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.addAt(path, n.Line, "the document expands to more than %d values (check its aliases)", maxNodes)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
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
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
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
	fields := structFields(v.Type())
	// YAML merge keys (<<: *defaults) first, so that explicit keys win.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			d.decodeMerge(path, n.Content[i+1], v)
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.addAt(path, k.Line, "keys must be strings")
			continue
		}
		p := joinPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.addAt(p, k.Line, "duplicate key (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		f, ok := fields[k.Value]
		if !ok {
			d.addAt(p, k.Line, "unknown key%s", suggestKey(k.Value, fields))
			continue
		}
		d.lines[p] = k.Line
		d.decode(p, val, v.FieldByIndex(f.index))
	}
}

// decodeMerge applies the value of a merge key: a mapping, or a list of
// mappings of which the earlier win.
func (d *decoder) decodeMerge(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		d.decodeStruct(path, n, v)
	case yaml.SequenceNode:
		for i := len(n.Content) - 1; i >= 0; i-- {
			d.decodeMerge(path, n.Content[i], v)
		}
	default:
		d.addAt(joinPath(path, "<<"), n.Line, "must be a mapping or a list of mappings")
	}
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
