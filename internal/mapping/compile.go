package mapping

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tenantsync/tenantsync/internal/expr"
)

// Set is a compiled, validated set of mappings for one target. It is
// immutable and safe for concurrent use.
type Set struct {
	rules []compiled // sorted by target
}

type compiled struct {
	rule     Rule // Apply filled in
	typ      attrType
	expr     *expr.Expr
	constant any // normalised constant
	def      any // normalised default
}

// Compile merges rules over Defaults by target attribute (a rule replaces the
// default for its target; Ignore drops it) and validates them. Errors are
// *RuleError, one per invalid rule, joined with errors.Join when there are
// several; Index is the position in rules.
func Compile(rules []Rule) (*Set, error) {
	return compile(rules, Defaults(), targetType)
}

// compile merges rules over defaults; typeOf gives the type of a target
// attribute (a user's, or a group's) or says why it cannot be written.
func compile(rules, defaults []Rule, typeOf func(string) (attrType, error)) (*Set, error) {
	byTarget := make(map[string]compiled)
	for _, r := range defaults {
		c, err := compileRule(r, typeOf)
		if err != nil {
			return nil, fmt.Errorf("default mapping %s: %w", r.Target, err.Err)
		}
		byTarget[r.Target] = c
	}
	var errs []error
	seen := make(map[string]int)
	for i, r := range rules {
		if r.Target != "" {
			if j, dup := seen[r.Target]; dup {
				errs = append(errs, &RuleError{Index: i, Field: "target",
					Err: fmt.Errorf("%s is already mapped by mappings[%d]", r.Target, j)})
				continue
			}
			seen[r.Target] = i
		}
		if r.Ignore {
			if err := checkIgnore(r, byTarget); err != nil {
				err.Index = i
				errs = append(errs, err)
				continue
			}
			delete(byTarget, r.Target)
			continue
		}
		c, err := compileRule(r, typeOf)
		if err != nil {
			err.Index = i
			errs = append(errs, err)
			continue
		}
		byTarget[r.Target] = c
	}
	switch len(errs) {
	case 0:
	case 1:
		return nil, errs[0]
	default:
		return nil, errors.Join(errs...)
	}
	s := &Set{rules: make([]compiled, 0, len(byTarget))}
	for _, c := range byTarget {
		s.rules = append(s.rules, c)
	}
	slices.SortFunc(s.rules, func(a, b compiled) int { return strings.Compare(a.rule.Target, b.rule.Target) })
	return s, nil
}

func checkIgnore(r Rule, current map[string]compiled) *RuleError {
	switch {
	case r.Target == "":
		return &RuleError{Field: "target", Err: errors.New("missing: name the attribute to drop")}
	case r.Source != "" || r.Constant != nil || r.Expression != "" || r.Default != nil || r.Apply != "":
		return &RuleError{Field: "ignore", Err: errors.New("ignore: true drops a default mapping and takes no other keys")}
	}
	if _, ok := current[r.Target]; !ok {
		return &RuleError{Field: "ignore", Err: fmt.Errorf("there is no default mapping for %s to drop", r.Target)}
	}
	return nil
}

// compileRule validates one rule; the caller sets Index.
func compileRule(r Rule, typeOf func(string) (attrType, error)) (compiled, *RuleError) {
	fail := func(field string, format string, args ...any) (compiled, *RuleError) {
		return compiled{}, &RuleError{Field: field, Err: fmt.Errorf(format, args...)}
	}
	if r.Target == "" {
		return fail("target", "missing")
	}
	typ, err := typeOf(r.Target)
	if err != nil {
		return compiled{}, &RuleError{Field: "target", Err: err}
	}
	var kinds []string
	if r.Source != "" {
		kinds = append(kinds, "source")
	}
	if r.Constant != nil {
		kinds = append(kinds, "constant")
	}
	if r.Expression != "" {
		kinds = append(kinds, "expression")
	}
	switch len(kinds) {
	case 0:
		return fail("source", "one of source, constant and expression is required")
	case 1:
	default:
		return fail(kinds[1], "only one of source, constant and expression may be set, not %s", strings.Join(kinds, " and "))
	}
	c := compiled{rule: r, typ: typ}
	switch r.Apply {
	case "":
		c.rule.Apply = Always
	case Always, OnCreate:
	default:
		return fail("apply", "unknown value %q (want %s or %s)", r.Apply, Always, OnCreate)
	}

	if typ == typeReference || r.Source == ManagerAttribute {
		if typ != typeReference || r.Source != ManagerAttribute {
			return fail(kinds[0], "manager is a reference attribute: map it only as {target: manager, source: manager}")
		}
		if r.Default != nil {
			return fail("default", "a reference mapping has no default")
		}
		return c, nil
	}

	switch kinds[0] {
	case "source":
		if err := checkAttributeName(r.Source); err != nil {
			return fail("source", "%v", err)
		}
	case "constant":
		if r.Default != nil {
			return fail("default", "a constant mapping has no use for a default")
		}
		v, err := normalize(typ, *r.Constant)
		if err != nil {
			return fail("constant", "%v", err)
		}
		c.constant = v
	case "expression":
		e, err := expr.Parse(r.Expression)
		if err != nil {
			return compiled{}, &RuleError{Field: "expression", Err: err}
		}
		if slices.Contains(e.Functions(), "SelectUniqueValue") && c.rule.Apply != OnCreate {
			return fail("apply", "SelectUniqueValue is for creation only: set apply: %s", OnCreate)
		}
		c.expr = e
	}
	if r.Default != nil {
		v, err := normalize(typ, *r.Default)
		if err != nil {
			return fail("default", "%v", err)
		}
		c.def = v
	}
	return c, nil
}

// checkAttributeName accepts Graph property names, dotted names of complex
// properties and directory extensions.
func checkAttributeName(name string) error {
	if strings.HasPrefix(name, "[") {
		return fmt.Errorf("%q: write the attribute name without brackets", name)
	}
	for _, r := range name {
		if !(r == '_' || r == '.' || r == '-' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')) {
			return fmt.Errorf("%q is not an attribute name (to compute a value, use expression)", name)
		}
	}
	return nil
}

// normalize converts a mapped value to the target attribute's type, in
// directory.Attributes conventions: nil for no value, "true"/"false" strings
// as booleans for boolean attributes, single values as one-element lists for
// collections.
func normalize(typ attrType, v any) (any, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case []string:
		switch {
		case len(t) == 0:
			return nil, nil
		case typ == typeStrings || typ == typeAny:
			return append([]string(nil), t...), nil
		case len(t) == 1:
			return normalize(typ, t[0])
		}
		return nil, fmt.Errorf("%d values for a single-valued attribute", len(t))
	}
	switch typ {
	case typeBool:
		switch t := v.(type) {
		case bool:
			return t, nil
		case string:
			switch s := strings.TrimSpace(t); {
			case s == "":
				return nil, nil
			case strings.EqualFold(s, "true"):
				return true, nil
			case strings.EqualFold(s, "false"):
				return false, nil
			}
			return nil, fmt.Errorf("%q is not true or false", t)
		}
		return nil, fmt.Errorf("%v is not true or false", v)
	case typeAny:
		if s, ok := v.(string); ok && s == "" {
			return nil, nil
		}
		return v, nil
	case typeUserType:
		s, _ := v.(string)
		switch s = strings.TrimSpace(s); {
		case s == "" && v != nil:
			if _, isString := v.(string); isString {
				return nil, nil
			}
		case strings.EqualFold(s, "Member"):
			return "Member", nil
		case strings.EqualFold(s, "Guest"):
			return "Guest", nil
		}
		return nil, fmt.Errorf("userType must be Member or Guest, got %v", v)
	}
	var s string
	switch t := v.(type) {
	case string:
		s = t
	case bool:
		s = strconv.FormatBool(t)
		s = strings.ToUpper(s[:1]) + s[1:] // "True", as .NET prints it
	case int64:
		s = strconv.FormatInt(t, 10)
	default:
		return nil, fmt.Errorf("unsupported value of type %T", v)
	}
	if s == "" {
		return nil, nil
	}
	if typ == typeStrings {
		return []string{s}, nil
	}
	return s, nil
}
