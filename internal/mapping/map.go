package mapping

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/expr"
)

// Result is the outcome of mapping one source user.
type Result struct {
	// Attrs are the target attributes to write, by Graph name. A nil value
	// means "no value" (clear it); an attribute left out is not written.
	Attrs directory.Attributes
	// Manager is the *source* object id of the user's manager, for the engine
	// to resolve through its links; "" when the source user has none, or when
	// the manager mapping does not apply (see ManagerApplies).
	Manager string
	// ManagerApplies reports whether the manager mapping applies to this
	// operation: false when it was dropped (ignore: true), or when it applies
	// on create only and the operation is an update. When false, the target's
	// manager must be left alone, not cleared.
	ManagerApplies bool
	// Ignored are the target attributes IgnoreFlowIfNullOrEmpty left out.
	Ignored []string
	// Redacted are the target attributes whose expression calls Redact: their
	// values must not be logged or shown ("[Redact]" stands in).
	Redacted []string
}

// Rules returns the effective rules, defaults merged with the target's own,
// sorted by target attribute, with Apply filled in.
func (s *Set) Rules() []Rule {
	out := make([]Rule, len(s.rules))
	for i, c := range s.rules {
		out[i] = c.rule
	}
	return out
}

// TargetAttributes returns the target attributes the mappings write, on
// create or update, sorted; the manager reference is not among them (see
// HasManager).
func (s *Set) TargetAttributes() []string { return s.targets(false) }

// UpdateAttributes returns the target attributes an update writes: those of
// TargetAttributes not applied on create only.
func (s *Set) UpdateAttributes() []string { return s.targets(true) }

func (s *Set) targets(updateOnly bool) []string {
	var names []string
	for _, c := range s.rules { // sorted by target
		if c.typ == typeReference || (updateOnly && c.rule.Apply == OnCreate) {
			continue
		}
		names = append(names, c.rule.Target)
	}
	return names
}

// writeOnly are the user properties Graph accepts in a write but does not
// read back as written: showInAddressList, "Do not use in Microsoft Graph",
// reads null (learn.microsoft.com/graph/api/resources/user, Properties).
var writeOnly = map[string]bool{"showInAddressList": true}

// ReadBack reports whether Graph reads a target attribute back as written.
// Only such attributes can be compared with a target user to find drift;
// for the others, what tenantsync wrote is all that is known.
func ReadBack(attr string) bool { return !writeOnly[attr] }

// HasManager reports whether the manager mapping is on.
func (s *Set) HasManager() bool {
	for _, c := range s.rules {
		if c.typ == typeReference {
			return true
		}
	}
	return false
}

// SourceAttributes returns what to $select on the source user: every source
// attribute and every attribute an expression references, plus "manager"
// when the manager mapping is on (the Graph adapter expands it to the
// manager's id). Sorted, without duplicates.
func (s *Set) SourceAttributes() []string {
	var names []string
	for _, c := range s.rules {
		if c.rule.Source != "" {
			names = append(names, c.rule.Source)
		}
		if c.expr != nil {
			names = append(names, c.expr.Attributes()...)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Map computes the target attributes of src for op. Rules applied on create
// only are skipped on Update. The source user's manager is read from
// src.Attrs["manager"], the manager's object id as the Graph adapter puts it.
// An error names the rule that failed.
func (s *Set) Map(src directory.User, op Op, opts Options) (Result, error) {
	if op != Create && op != Update {
		return Result{}, fmt.Errorf("map user %s: unknown operation %v", src.ID, op)
	}
	res := Result{Attrs: make(directory.Attributes, len(s.rules))}
	for _, c := range s.rules {
		if c.rule.Apply == OnCreate && op != Create {
			continue
		}
		if c.typ == typeReference {
			id, err := normalize(typeString, lookup(src.Attrs, c.rule.Source))
			if err != nil {
				return Result{}, fmt.Errorf("map user %s: %s: %w", src.ID, describe(c.rule), err)
			}
			res.Manager, _ = id.(string)
			res.ManagerApplies = true
			continue
		}
		var v any
		switch {
		case c.rule.Constant != nil:
			v = c.constant
		case c.rule.Source != "":
			v = lookup(src.Attrs, c.rule.Source)
		default:
			env := &expr.Env{Attrs: src.Attrs, Now: opts.Now, Random: opts.Random}
			if opts.Exists != nil {
				target := c.rule.Target
				env.Exists = func(value string) (bool, error) { return opts.Exists(target, value) }
			}
			var err error
			v, err = c.expr.Eval(env)
			if errors.Is(err, expr.ErrIgnoreFlow) {
				res.Ignored = append(res.Ignored, c.rule.Target)
				continue
			}
			if err != nil {
				return Result{}, fmt.Errorf("map user %s: %s: %w", src.ID, describe(c.rule), err)
			}
			if c.expr.Sensitive() {
				res.Redacted = append(res.Redacted, c.rule.Target)
			}
		}
		nv, err := normalize(c.typ, v)
		if err != nil {
			return Result{}, fmt.Errorf("map user %s: %s: %w", src.ID, describe(c.rule), err)
		}
		if nv == nil && c.def != nil {
			nv = c.def
		}
		res.Attrs[c.rule.Target] = nv
	}
	return res, nil
}

// describe names a rule in errors: "mapping jobTitle (source jobTitle)".
func describe(r Rule) string {
	switch {
	case r.Constant != nil:
		return fmt.Sprintf("mapping %s (constant %q)", r.Target, *r.Constant)
	case r.Source != "":
		return fmt.Sprintf("mapping %s (source %s)", r.Target, r.Source)
	}
	return fmt.Sprintf("mapping %s (expression %s)", r.Target, r.Expression)
}

// lookup reads a source attribute; Graph names are case-insensitive.
func lookup(attrs directory.Attributes, name string) any {
	if v, ok := attrs[name]; ok {
		return v
	}
	for k, v := range attrs {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}
