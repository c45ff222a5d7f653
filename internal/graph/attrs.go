package graph

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tenantsync/tenantsync/internal/directory"
)

// managerAttr is the pseudo-attribute that holds the id of a user's manager.
const managerAttr = "manager"

// selection is how a list of flattened attribute names is asked of Graph:
// the top-level properties to $select and whether to fetch the manager.
type selection struct {
	attrs   []string // as asked, without duplicates
	props   []string // $select: "id" and the top-level properties
	manager bool
}

func newSelection(attrs []string) selection {
	s := selection{props: []string{"id"}}
	seenAttr := map[string]bool{}
	seenProp := map[string]bool{"id": true}
	for _, a := range attrs {
		a = strings.TrimSpace(a)
		if a == "" || seenAttr[a] {
			continue
		}
		seenAttr[a] = true
		s.attrs = append(s.attrs, a)
		if a == managerAttr {
			s.manager = true
			continue
		}
		top, _, _ := strings.Cut(a, ".")
		if !seenProp[top] {
			seenProp[top] = true
			s.props = append(s.props, top)
		}
	}
	return s
}

// userFrom converts a user object as Graph sent it. With complete, every
// asked attribute is in the result, nil when Graph left it out (a GET
// returns every selected property); without, only those Graph sent (a delta
// leaves out what never had a value).
func (s selection) userFrom(obj map[string]any, complete bool) directory.User {
	u := directory.User{ID: stringOf(obj["id"]), Attrs: make(directory.Attributes, len(s.attrs))}
	for _, a := range s.attrs {
		if a == managerAttr {
			if id, ok := managerOf(obj); ok {
				u.Attrs[managerAttr] = id
			} else if complete {
				u.Attrs[managerAttr] = nil
			}
			continue
		}
		v, ok := lookup(obj, a)
		switch {
		case !ok:
			if complete {
				u.Attrs[a] = nil
			}
		case isObject(v):
			// A whole complex property asked by its name: all its parts.
			flatten(u.Attrs, a, v)
		default:
			u.Attrs[a] = scalar(v)
		}
	}
	return u
}

// lookup walks a dotted path through nested objects. A null on the way
// is the value of the whole path: Graph cleared the complex property.
func lookup(obj map[string]any, path string) (any, bool) {
	var cur any = obj
	for path != "" {
		var part string
		part, path, _ = strings.Cut(path, ".")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, cur == nil
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func isObject(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}

// managerOf reads the manager's id from an expanded "manager" object or a
// delta's "manager@delta" annotation, and whether the object says anything
// about the manager at all. An expanded manager absent from a GET means
// none; a manager@delta entry marked @removed means it was removed.
func managerOf(obj map[string]any) (any, bool) {
	if m, ok := obj["manager"]; ok {
		if mo, ok := m.(map[string]any); ok {
			return nilIfEmpty(stringOf(mo["id"])), true
		}
		return nil, true
	}
	if d, ok := obj["manager@delta"]; ok {
		list, _ := d.([]any)
		for _, item := range list {
			mo, ok := item.(map[string]any)
			if !ok {
				continue
			}
			if _, removed := mo["@removed"]; removed {
				continue
			}
			return nilIfEmpty(stringOf(mo["id"])), true
		}
		return nil, true
	}
	return nil, false
}

// flatten stores v under key in dst following the directory.Attributes
// conventions: objects are flattened with a dot (annotations dropped),
// arrays become []string (elements that are not strings as their compact
// JSON), integers int64, other numbers their decimal text.
func flatten(dst directory.Attributes, key string, v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, vv := range t {
			if strings.HasPrefix(k, "@") || strings.Contains(k, "@odata.") {
				continue
			}
			flatten(dst, key+"."+k, vv)
		}
	default:
		dst[key] = scalar(v)
	}
}

func scalar(v any) any {
	switch t := v.(type) {
	case nil, string, bool:
		return t
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		return t.String()
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
				continue
			}
			b, err := json.Marshal(e)
			if err != nil {
				b = []byte(fmt.Sprint(e))
			}
			out = append(out, string(b))
		}
		return out
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return fmt.Sprint(t)
		}
		return string(b)
	}
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// collectionProps are the user properties that are string collections: a
// nil value clears them with [], as Graph refuses null for a collection.
var collectionProps = map[string]bool{
	"businessPhones":   true,
	"otherMails":       true,
	"imAddresses":      true,
	"proxyAddresses":   true,
	"schools":          true,
	"skills":           true,
	"interests":        true,
	"pastProjects":     true,
	"responsibilities": true,
}

// patchBody builds the JSON body of a PATCH from flattened attributes:
// "a.b" becomes {"a":{"b":…}}. Nil and the empty string become null, which
// clears the property (Graph refuses "" for many properties, and
// directory.Equal holds them equal), except that a string collection is
// cleared with []. "manager" is not a property; use SetManager.
func patchBody(attrs directory.Attributes) ([]byte, error) {
	root := map[string]any{}
	for _, k := range attrs.Keys() { // sorted: "a" comes before "a.b"
		if k == managerAttr {
			return nil, fmt.Errorf("attribute %q cannot be patched: set it with SetManager", k)
		}
		parts := strings.Split(k, ".")
		for _, p := range parts {
			if p == "" {
				return nil, fmt.Errorf("attribute %q: empty path segment", k)
			}
		}
		v := attrs[k]
		if s, ok := v.(string); ok && s == "" {
			v = nil
		}
		if v == nil && len(parts) == 1 && collectionProps[k] {
			v = []string{}
		}
		node := root
		for i, p := range parts[:len(parts)-1] {
			child, exists := node[p]
			if !exists {
				m := map[string]any{}
				node[p] = m
				node = m
				continue
			}
			m, ok := child.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("attribute %q conflicts with %q", k, strings.Join(parts[:i+1], "."))
			}
			node = m
		}
		last := parts[len(parts)-1]
		if _, exists := node[last]; exists {
			return nil, fmt.Errorf("attribute %q conflicts with one of its parts", k)
		}
		node[last] = v
	}
	return json.Marshal(root)
}
