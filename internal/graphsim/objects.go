package graphsim

import (
	"encoding/json"
	"strings"
	"time"
)

// objKind says whether a directory object is a user or a group.
type objKind uint8

const (
	objUser objKind = iota
	objGroup
)

func (k objKind) odataType() string {
	if k == objGroup {
		return "#microsoft.graph.group"
	}
	return "#microsoft.graph.user"
}

// user is a user object. Properties live in v, indexed by the p* constants;
// nil means unset (Graph's null).
type user struct {
	id      string
	v       [numUserProps]any
	manager string    // id of the manager, "" for none
	deleted time.Time // when soft deleted; zero while live
	// groups the user was a direct member of when soft deleted, restored
	// with the user.
	deletedFrom []string
	// privileged marks a user who holds an administrator role: the app
	// may not change sensitive properties of, delete or restore such a
	// user (privileged.go). Never returned by Graph reads.
	privileged bool
}

func (u *user) str(p int) string {
	s, _ := u.v[p].(string)
	return s
}

func (u *user) upn() string { return u.str(pUserPrincipalName) }

func (u *user) objectID() string { return u.id }

// member is one direct member of a group.
type member struct {
	id   string
	kind objKind
}

// group is a group object.
type group struct {
	id      string
	v       [numGroupProps]any
	members []member
	index   map[string]int // member id → position in members
	deleted time.Time
}

func (g *group) str(p int) string {
	s, _ := g.v[p].(string)
	return s
}

func (g *group) objectID() string { return g.id }

// identified is a user or a group: what the tenant keeps sorted by id.
type identified interface {
	comparable
	objectID() string
}

func (g *group) hasMember(id string) bool {
	_, ok := g.index[id]
	return ok
}

func (g *group) addMember(m member) bool {
	if g.index == nil {
		g.index = make(map[string]int)
	}
	if _, ok := g.index[m.id]; ok {
		return false
	}
	g.index[m.id] = len(g.members)
	g.members = append(g.members, m)
	return true
}

// removeMember removes a member in constant time by moving the last member
// into its place: Graph lists members in no particular order.
func (g *group) removeMember(id string) bool {
	i, ok := g.index[id]
	if !ok {
		return false
	}
	last := len(g.members) - 1
	if i != last {
		g.members[i] = g.members[last]
		g.index[g.members[i].id] = i
	}
	g.members = g.members[:last]
	delete(g.index, id)
	return true
}

// isUnified reports whether g is a Microsoft 365 group, which Entra soft
// deletes; security groups are deleted permanently.
func (g *group) isUnified() bool {
	types, _ := g.v[gGroupTypes].([]string)
	for _, t := range types {
		if strings.EqualFold(t, "Unified") {
			return true
		}
	}
	return false
}

// applyMode says who is setting properties: a seed may set read-only
// properties and is lenient with empty strings.
type applyMode uint8

const (
	modeCreate applyMode = iota
	modePatch
	modeSeed
)

// parseValue converts a JSON value (or a Go value from a seed) to the
// stored form of a property of kind k. ok is false for a value of the
// wrong type.
func parseValue(k propKind, raw any, mode applyMode) (v any, ok bool) {
	if raw == nil {
		return nil, true
	}
	switch k {
	case kString:
		s, isStr := raw.(string)
		if !isStr {
			return nil, false
		}
		if s == "" {
			// Graph refuses empty strings; a seed may use them for "unset".
			return nil, mode == modeSeed
		}
		return s, true
	case kBool:
		b, isBool := raw.(bool)
		return b, isBool
	case kStrings:
		switch t := raw.(type) {
		case []string:
			if len(t) == 0 {
				return nil, true
			}
			return append([]string(nil), t...), true
		case []any:
			if len(t) == 0 {
				return nil, true
			}
			out := make([]string, 0, len(t))
			for _, e := range t {
				s, isStr := e.(string)
				if !isStr {
					return nil, false
				}
				out = append(out, s)
			}
			return out, true
		}
		return nil, false
	case kDateTime:
		s, isStr := raw.(string)
		if !isStr {
			if t, isTime := raw.(time.Time); isTime {
				return graphTime(t), true
			}
			return nil, false
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, false
		}
		return graphTime(t), true
	case kRaw:
		b, err := json.Marshal(raw)
		if err != nil {
			return nil, false
		}
		return json.RawMessage(b), true
	}
	return nil, false
}

// sameValue reports whether two stored values are equal.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case []string:
		y, ok := b.([]string)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	case json.RawMessage:
		y, ok := b.(json.RawMessage)
		return ok && string(x) == string(y)
	case *extAttrs:
		y, ok := b.(*extAttrs)
		if !ok {
			return false
		}
		for i := range x {
			if (x[i] == nil) != (y[i] == nil) || x[i] != nil && *x[i] != *y[i] {
				return false
			}
		}
		return true
	}
	return false
}

// applyExt merges an onPremisesExtensionAttributes value into cur, as a
// PATCH does: attributes not named keep their values.
func applyExt(cur *extAttrs, raw any, mode applyMode) (*extAttrs, *graphError) {
	const prop = "onPremisesExtensionAttributes"
	if raw == nil {
		return nil, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		if o, isObj := raw.(Object); isObj {
			m = o
		} else {
			return nil, errInvalidValue(prop, "User")
		}
	}
	next := new(extAttrs)
	if cur != nil {
		*next = *cur
	}
	for k, v := range m {
		if strings.HasPrefix(k, "@odata.") {
			continue
		}
		i, ok := extAttrIndex(k)
		if !ok {
			return nil, errUnknownProperty(k)
		}
		switch t := v.(type) {
		case nil:
			next[i] = nil
		case string:
			if t == "" {
				if mode != modeSeed {
					return nil, errInvalidValue(k, "User")
				}
				next[i] = nil
				continue
			}
			s := t
			next[i] = &s
		default:
			return nil, errInvalidValue(k, "User")
		}
	}
	for _, p := range next {
		if p != nil {
			return next, nil
		}
	}
	return nil, nil
}

// applyUserProps sets the given properties on u and returns the bit mask of
// the properties whose value changed. Annotations (@odata.*) and, outside
// seeds, "id" are ignored; navigation properties are the caller's.
func applyUserProps(u *user, props map[string]any, mode applyMode) (uint64, *graphError) {
	var mask uint64
	for k, raw := range props {
		if strings.Contains(k, "@odata.") || k == "id" || k == "manager" || k == seedPrivilegedKey && mode == modeSeed {
			continue
		}
		i, ok := lookupUserProp(k)
		if !ok || i == pID {
			return 0, errUnknownProperty(k)
		}
		def := &userProps[i]
		if !def.writable && !(def.seedOnly && mode == modeSeed) {
			return 0, errReadOnly(def.name)
		}
		if def.ignored {
			// Accepted, checked and dropped: Graph reads it back as null.
			if _, ok := parseValue(def.kind, raw, mode); !ok {
				return 0, errInvalidValue(def.name, "User")
			}
			continue
		}
		var v any
		if def.kind == kExt {
			cur, _ := u.v[i].(*extAttrs)
			e, gerr := applyExt(cur, raw, mode)
			if gerr != nil {
				return 0, gerr
			}
			if e != nil {
				v = e
			}
		} else {
			var ok bool
			v, ok = parseValue(def.kind, raw, mode)
			if !ok {
				return 0, errInvalidValue(def.name, "User")
			}
		}
		if i == pBusinessPhones {
			if phones, _ := v.([]string); len(phones) > 1 && mode != modeSeed {
				return 0, errBadRequest("Invalid value specified for property 'businessPhones' of resource 'User': only one number can be set.")
			}
		}
		if v == nil && mode != modeSeed {
			switch i {
			case pDisplayName, pUserPrincipalName, pMailNickname, pAccountEnabled:
				return 0, errInvalidValue(def.name, "User")
			}
		}
		if !sameValue(u.v[i], v) {
			u.v[i] = v
			mask |= 1 << uint(i)
		}
	}
	return mask, nil
}

// applyGroupProps is applyUserProps for groups.
func applyGroupProps(g *group, props map[string]any, mode applyMode) (uint64, *graphError) {
	var mask uint64
	for k, raw := range props {
		if strings.Contains(k, "@odata.") || k == "id" || k == "members" || k == "owners" {
			continue
		}
		i, ok := groupPropIndex[strings.ToLower(k)]
		if !ok || i == pID {
			return 0, errUnknownProperty(k)
		}
		def := &groupProps[i]
		if !def.writable && !(def.seedOnly && mode == modeSeed) {
			return 0, errReadOnly(def.name)
		}
		v, ok := parseValue(def.kind, raw, mode)
		if !ok {
			return 0, errInvalidValue(def.name, "Group")
		}
		if v == nil && mode != modeSeed && i == gDisplayName {
			return 0, errInvalidValue(def.name, "Group")
		}
		if !sameValue(g.v[i], v) {
			g.v[i] = v
			mask |= 1 << uint(i)
		}
	}
	return mask, nil
}

// selection is a parsed $select (and $expand=manager) for users or groups.
type selection struct {
	props []int  // property indices in output order; pID is id
	mask  uint64 // bits of the selected properties
	// expandManager adds "manager" with managerSel (nil: default set).
	expandManager bool
	managerSel    *selection
	// members is set for groups when "members" is selected or expanded
	// (groups delta only).
	members bool
}

func newSelection(props []int) *selection {
	s := &selection{props: props}
	for _, p := range props {
		if p >= 0 {
			s.mask |= 1 << uint(p)
		}
	}
	return s
}

// parseSelect parses a $select value against a property index. An empty
// value gives def.
func parseSelect(value string, index map[string]int, def []int, allowMembers bool) (*selection, *graphError) {
	if strings.TrimSpace(value) == "" {
		return newSelection(def), nil
	}
	var props []int
	seen := make(map[int]bool)
	members := false
	for _, name := range strings.Split(value, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if allowMembers && strings.EqualFold(name, "members") {
			members = true
			continue
		}
		if name == "*" {
			for _, p := range def {
				if !seen[p] {
					seen[p] = true
					props = append(props, p)
				}
			}
			continue
		}
		i, ok := index[strings.ToLower(name)]
		if !ok {
			return nil, errUnsupportedQuery("Property '%s' does not exist as a declared property or extension property.", name)
		}
		if !seen[i] {
			seen[i] = true
			props = append(props, i)
		}
	}
	s := newSelection(props)
	s.members = members
	return s, nil
}

// parseUserQuery parses $select and $expand for a user request.
func parseUserQuery(rq *request) (*selection, *graphError) {
	sel, gerr := parseSelect(rq.param("select"), userPropIndex, defaultUserSelect, false)
	if gerr != nil {
		return nil, gerr
	}
	if exp := strings.TrimSpace(rq.param("expand")); exp != "" {
		name, inner, _ := strings.Cut(exp, "(")
		if !strings.EqualFold(strings.TrimSpace(name), "manager") {
			return nil, errBadRequest("Could not find a navigation property named '%s' on type 'microsoft.graph.user'; the simulator expands only manager.", strings.TrimSpace(name))
		}
		sel.expandManager = true
		inner = strings.TrimSuffix(strings.TrimSpace(inner), ")")
		if inner != "" {
			key, val, ok := strings.Cut(inner, "=")
			if !ok || !strings.EqualFold(strings.TrimPrefix(strings.TrimSpace(key), "$"), "select") {
				return nil, errBadRequest("Invalid $expand option '%s'; the simulator supports manager($select=...).", inner)
			}
			ms, gerr := parseSelect(val, userPropIndex, defaultUserSelect, false)
			if gerr != nil {
				return nil, gerr
			}
			sel.managerSel = ms
		}
	}
	return sel, nil
}

// appendUser writes u as a JSON object with the selected properties.
// odataType adds "@odata.type" (for directoryObject collections).
func (t *tenant) appendUser(b []byte, u *user, sel *selection, odataType bool) []byte {
	b = append(b, '{')
	first := true
	if odataType {
		b = appendKey(b, &first, "@odata.type")
		b = append(b, `"#microsoft.graph.user"`...)
	}
	b = appendProps(b, &first, u.id, u.v[:], userProps[:], sel)
	if sel.expandManager && u.manager != "" {
		if m := t.users[u.manager]; m != nil {
			ms := sel.managerSel
			if ms == nil {
				ms = defaultUserSelection
			}
			b = appendKey(b, &first, "manager")
			b = t.appendUser(b, m, ms, true)
		}
	}
	return append(b, '}')
}

// appendGroup writes g as a JSON object with the selected properties.
func (t *tenant) appendGroup(b []byte, g *group, sel *selection, odataType bool) []byte {
	b = append(b, '{')
	first := true
	if odataType {
		b = appendKey(b, &first, "@odata.type")
		b = append(b, `"#microsoft.graph.group"`...)
	}
	b = appendProps(b, &first, g.id, g.v[:], groupProps[:], sel)
	return append(b, '}')
}

// appendProps writes the selected properties of the user or group with id
// and values v (described by defs) into a JSON object b has opened; first
// says whether the object is still empty. An unset collection is [], a
// write-only property null.
func appendProps(b []byte, first *bool, id string, v []any, defs []propDef, sel *selection) []byte {
	for _, p := range sel.props {
		if p == pID {
			b = appendKey(b, first, "id")
			b = appendJSONString(b, id)
			continue
		}
		def := &defs[p]
		b = appendKey(b, first, def.name)
		switch {
		case def.hidden:
			b = append(b, "null"...)
		case (def.kind == kStrings || def.array) && v[p] == nil:
			b = append(b, "[]"...)
		case def.kind == kExt:
			e, _ := v[p].(*extAttrs)
			b = appendExtAttrs(b, e)
		default:
			b = appendAny(b, v[p])
		}
	}
	return b
}

var (
	defaultUserSelection  = newSelection(defaultUserSelect)
	defaultGroupSelection = newSelection(defaultGroupSelect)
)
