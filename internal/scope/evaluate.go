package scope

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tenantsync/tenantsync/internal/directory"
)

// Spec is everything that decides a target's scope, with the scoping groups
// already resolved to object ids.
type Spec struct {
	// All puts every source user in scope, whatever their groups; the filters
	// still apply. When All is false and GroupIDs is empty, the filters alone
	// decide, over all users; with no filters either, the scope selects no
	// one.
	All bool
	// GroupIDs are the object ids of the scoping groups: a user must be a
	// member of at least one of them (ignored when All is true).
	GroupIDs []string
	// GroupNames maps group ids to display names, for reasons. Optional.
	GroupNames map[string]string
	// IncludeGuests admits source users whose userType is Guest; by default
	// only members are in scope, as in Cross-Tenant Synchronization.
	IncludeGuests bool
	// IncludeExternal admits source users who are external (B2B) users of
	// the source tenant themselves; by default only internal users are in
	// scope, as in Cross-Tenant Synchronization, which thereby prevents
	// loops between tenants that sync each other.
	IncludeExternal bool
	// Filters are OR'ed; the clauses of each filter are AND'ed.
	Filters []Filter
}

// Scope is a compiled Spec. It is immutable and safe for concurrent use.
type Scope struct {
	all             bool
	groupIDs        []string          // as given, for reasons
	groups          map[string]string // lower-cased id → id as given
	names           map[string]string
	includeGuests   bool
	includeExternal bool
	filters         [][]clause
}

// Decision is whether a user is in scope, and why in words that `plan` and
// `provision` print.
type Decision struct {
	InScope bool
	Reason  string
}

func (d Decision) String() string { return d.Reason }

// Compile checks a Spec and compiles its filters. Every bad clause is
// reported: the error joins one *ClauseError per problem.
func Compile(spec Spec) (*Scope, error) {
	s := &Scope{
		all:             spec.All,
		groupIDs:        slices.Clone(spec.GroupIDs),
		groups:          make(map[string]string, len(spec.GroupIDs)),
		names:           spec.GroupNames,
		includeGuests:   spec.IncludeGuests,
		includeExternal: spec.IncludeExternal,
	}
	for _, id := range spec.GroupIDs {
		s.groups[strings.ToLower(id)] = id
	}
	var errs []error
	for fi, f := range spec.Filters {
		if len(f) == 0 {
			errs = append(errs, &ClauseError{Filter: fi, Clause: -1, Err: errors.New("must have at least one clause")})
			continue
		}
		compiled := make([]clause, 0, len(f))
		for ci, c := range f {
			cc, cerrs := compileClause(c)
			for _, e := range cerrs {
				e.Filter, e.Clause = fi, ci
				errs = append(errs, e)
			}
			compiled = append(compiled, cc)
		}
		s.filters = append(s.filters, compiled)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// New is Compile under the name internal/engine calls it by.
func New(spec Spec) (*Scope, error) { return Compile(spec) }

// Evaluate decides whether u is in scope. memberOf are the ids of the
// scoping groups u is a member of (the engine asks Graph); other ids are
// ignored.
//
// The conditions are checked in this order, and the reason names the first
// that fails: userType (guests are out unless IncludeGuests), external
// users (out unless IncludeExternal), group membership, then the filters.
func (s *Scope) Evaluate(u directory.User, memberOf []string) Decision {
	out := func(format string, args ...any) Decision {
		return Decision{Reason: "out of scope: " + fmt.Sprintf(format, args...)}
	}
	if s.empty() {
		return out("the scope selects no users (all is false, with no groups and no filters)")
	}
	if !s.includeGuests {
		// A null userType is read as Member: such users predate userType.
		if t, _ := u.Attrs["userType"].(string); strings.EqualFold(t, "Guest") {
			return out("userType is %s", t)
		}
	}
	if !s.includeExternal {
		if why := External(u); why != "" {
			return out("%s: an external user of the source tenant (includeExternal is false)", why)
		}
	}

	var why []string
	switch {
	case len(s.groups) > 0 && !s.all:
		group := ""
		for _, id := range memberOf {
			if g, ok := s.groups[strings.ToLower(id)]; ok {
				group = g
				break
			}
		}
		if group == "" {
			if len(s.groupIDs) == 1 {
				return out("not a member of group %s", s.groupLabel(s.groupIDs[0]))
			}
			labels := make([]string, len(s.groupIDs))
			for i, id := range s.groupIDs {
				labels[i] = s.groupLabel(id)
			}
			return out("not a member of any scoping group: %s", strings.Join(labels, ", "))
		}
		why = append(why, "member of group "+s.groupLabel(group))
	case s.all:
		why = append(why, "all users")
	}

	if len(s.filters) > 0 {
		var failed []string
		matched := 0
		for fi, f := range s.filters {
			ok, note := evalFilter(f, u.Attrs)
			if ok {
				matched = fi + 1
				break
			}
			failed = append(failed, fmt.Sprintf("filter %d: %s", fi+1, note))
		}
		if matched == 0 {
			return out("no filter matched: %s", strings.Join(failed, "; "))
		}
		why = append(why, fmt.Sprintf("filter %d matched (%s)", matched, filterString(s.filters[matched-1])))
	}
	return Decision{InScope: true, Reason: "in scope: " + strings.Join(why, " and ")}
}

// evalFilter is true when every clause holds; otherwise note says which
// clause failed and what the attribute held.
func evalFilter(f []clause, attrs directory.Attributes) (bool, string) {
	for _, c := range f {
		if ok, note := c.eval(attrs); !ok {
			return false, fmt.Sprintf("%s is false (%s)", c.Clause, note)
		}
	}
	return true, ""
}

func filterString(f []clause) string {
	parts := make([]string, len(f))
	for i, c := range f {
		parts[i] = c.Clause.String()
	}
	return strings.Join(parts, " and ")
}

func (s *Scope) groupLabel(id string) string {
	if name := s.names[id]; name != "" {
		return strconv.Quote(name) + " (id " + id + ")"
	}
	return id
}

func (s *Scope) empty() bool {
	return !s.all && len(s.groups) == 0 && len(s.filters) == 0
}

// Attributes returns the source user attributes Evaluate reads, sorted: those
// the filters test, and userType unless guests are included. The engine
// adds them to its $select.
func (s *Scope) Attributes() []string {
	var attrs []string
	if !s.includeGuests {
		attrs = append(attrs, "userType")
	}
	if !s.includeExternal {
		attrs = append(attrs, externalAttributes...)
	}
	for _, f := range s.filters {
		for _, c := range f {
			attrs = append(attrs, c.Attribute)
		}
	}
	slices.Sort(attrs)
	return slices.Compact(attrs)
}

// UsesGroups reports whether Evaluate needs the user's scoping-group
// memberships at all.
func (s *Scope) UsesGroups() bool { return !s.all && len(s.groups) > 0 }

// SelectsNothing reports whether no user can ever be in scope, and why: the
// scope has no groups, no filters and all is false, or every filter
// contradicts itself. A target with such a scope would deprovision every user
// it has.
func (s *Scope) SelectsNothing() (string, bool) {
	if s.empty() {
		return "all is false, with no groups and no filters", true
	}
	if len(s.filters) == 0 {
		return "", false
	}
	var reasons []string
	for fi, f := range s.filters {
		why := s.contradiction(f)
		if why == "" {
			return "", false
		}
		reasons = append(reasons, fmt.Sprintf("filter %d: %s", fi+1, why))
	}
	return "no filter can match: " + strings.Join(reasons, "; "), true
}

// contradiction returns why no user can satisfy every clause of f, or "".
// It finds the plain cases: two clauses on one attribute that exclude each
// other, and a userType clause that only guests pass when guests are out.
func (s *Scope) contradiction(f []clause) string {
	for i, a := range f {
		if !s.includeGuests && a.Attribute == "userType" &&
			(a.Operator == Equals && a.Value == "Guest" || a.Operator == NotEquals && a.Value == "Member") {
			return fmt.Sprintf("%s, but guests are out of scope (includeGuests is false)", a.Clause)
		}
		for _, b := range f[i+1:] {
			if a.Attribute != b.Attribute {
				continue
			}
			if excludes(a, b) || excludes(b, a) {
				return fmt.Sprintf("%s contradicts %s", a.Clause, b.Clause)
			}
		}
	}
	return ""
}

// excludes reports whether clauses a and b, on the same attribute, can never
// both hold.
func excludes(a, b clause) bool {
	switch a.Operator {
	case IsNull:
		// Every other operator is false on a null value.
		return b.Operator != IsNull
	case IsTrue:
		return b.Operator == IsFalse
	case Equals:
		switch b.Operator {
		case Equals:
			return !sameValue(a, a.Value, b.Value)
		case NotEquals:
			return sameValue(a, a.Value, b.Value)
		case RegexMatch:
			return a.kind == kindString && !b.re.MatchString(a.Value)
		case NotRegexMatch:
			return a.kind == kindString && b.re.MatchString(a.Value)
		case EndsWith:
			return a.kind == kindString && !strings.HasSuffix(a.Value, b.Value)
		case Includes:
			return a.kind == kindString && !strings.Contains(a.Value, b.Value)
		}
	case RegexMatch:
		return b.Operator == NotRegexMatch && a.Value == b.Value
	case BitAnd:
		return b.Operator == NotBitAnd && a.num == b.num
	}
	return false
}

func sameValue(c clause, x, y string) bool {
	if c.kind == kindBool {
		bx, okx := parseBool(x)
		by, oky := parseBool(y)
		return okx && oky && bx == by
	}
	return x == y
}

// String describes the scope in one line, for logs and `plan` headers.
func (s *Scope) String() string {
	var parts []string
	switch {
	case s.empty():
		return "no users"
	case s.all:
		parts = append(parts, "all users")
	case len(s.groups) > 0:
		labels := make([]string, len(s.groupIDs))
		for i, id := range s.groupIDs {
			labels[i] = s.groupLabel(id)
		}
		parts = append(parts, "members of "+strings.Join(labels, ", "))
	default:
		parts = append(parts, "all users")
	}
	if !s.includeGuests {
		parts = append(parts, "members only (no guests)")
	}
	if !s.includeExternal {
		parts = append(parts, "internal users only (no external users)")
	}
	if len(s.filters) > 0 {
		fs := make([]string, len(s.filters))
		for i, f := range s.filters {
			fs[i] = "(" + filterString(f) + ")"
		}
		parts = append(parts, "where "+strings.Join(fs, " or "))
	}
	return strings.Join(parts, ", ")
}

// externalAttributes are the user properties External reads.
var externalAttributes = []string{"creationType", "externalUserState", "userPrincipalName"}

// External says why u is an external (B2B) user of its tenant, or "" for an
// internal user: a userPrincipalName with #EXT#, creationType Invitation,
// or an externalUserState (set only on invited users). userType says
// nothing here: B2B users may be members.
func External(u directory.User) string {
	switch {
	case strings.Contains(strings.ToUpper(u.UPN()), "#EXT#"):
		return "userPrincipalName " + u.UPN() + " has #EXT#"
	case strings.EqualFold(stringAttr(u, "creationType"), "Invitation"):
		return "creationType is Invitation"
	case stringAttr(u, "externalUserState") != "":
		return "externalUserState is " + stringAttr(u, "externalUserState")
	}
	return ""
}

func stringAttr(u directory.User, name string) string {
	s, _ := u.Attrs[name].(string)
	return s
}
