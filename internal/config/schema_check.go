package config

import (
	"strings"

	"github.com/tenantsync/tenantsync/internal/expr"
	"github.com/tenantsync/tenantsync/internal/mapping"
	"github.com/tenantsync/tenantsync/internal/scope"
)

// checkMappings checks a target's mappings against Graph's user properties
// (UserProperties), then compiles them (validateMappings). A target
// attribute Graph cannot write, a source attribute it cannot read and an
// argument of the wrong type are found here, with the path, the column
// and a suggestion, rather than in every sync: Graph refuses a $select of
// an unknown property, and Left([jobTitle], "abc") fails for every user.
// Where a rule has a problem found here, what compiling it says about the
// same key is left out: it says the same thing less precisely.
func checkMappings(l *errorList, p string, t *Target) {
	reported := map[string]bool{}
	add := func(path, msg string) {
		l.add(path, "%s", msg)
		reported[path] = true
	}
	for i, r := range t.Mappings {
		rp := indexPath(p+".mappings", i)
		if r.Ignore {
			continue
		}
		if r.Target != "" {
			if msg := checkTarget(r.Target); msg != "" {
				add(rp+".target", msg)
			}
		}
		if r.Source != "" && r.Source != mapping.ManagerAttribute {
			if _, problem, hint := sourceType(r.Source); problem != "" && !strings.ContainsAny(r.Source, "[]() \"") {
				if hint != "" {
					problem += " (" + hint + ")"
				}
				add(rp+".source", problem)
			}
		}
		if r.Expression != "" {
			if e, err := expr.Parse(r.Expression); err == nil {
				if err := e.Check(sourceType); err != nil {
					add(rp+".expression", err.Error())
				}
			}
		}
	}
	compiled := &errorList{lines: l.lines, file: l.file}
	validateMappings(compiled, p, t)
	for _, e := range compiled.errs {
		if !reported[e.Path] {
			l.errs = append(l.errs, e)
		}
	}
}

// checkExpression checks an expression that is not a mapping (the
// invitation address) against Graph's user properties.
func checkExpression(l *errorList, path, src string) {
	e, err := expr.Parse(src)
	if err != nil {
		l.add(path, "%v", err)
		return
	}
	if err := e.Check(sourceType); err != nil {
		l.add(path, "%v", err)
	}
}

// checkScopePatterns finds the .NET-only constructs of a scope's REGEX
// MATCH and NOT REGEX MATCH patterns (expr.DotNetOnly), which RE2 either
// rejects with a message that does not say what to write instead or, for
// class subtraction, reads differently. It returns the paths it reported,
// relative to the scope ("filters[0][1].value").
func checkScopePatterns(l *errorList, p string, s *Scope) map[string]bool {
	reported := map[string]bool{}
	for i, f := range s.Filters {
		for j, c := range f {
			op, ok := scope.ParseOperator(string(c.Operator))
			if !ok || (op != scope.RegexMatch && op != scope.NotRegexMatch) {
				continue
			}
			if why := expr.DotNetOnly(c.Value, expr.ForMatch); why != "" {
				rel := (&scope.ClauseError{Filter: i, Clause: j, Field: "value"}).Path()
				l.add(p+"."+rel, "invalid regular expression: %s (docs/scoping.md)", why)
				reported[rel] = true
			}
		}
	}
	return reported
}

// scopeAttributeHint adds a suggestion to scope's "unknown user attribute"
// error for a clause's attribute.
func scopeAttributeHint(ce *scope.ClauseError, s *Scope) string {
	msg := ce.Err.Error()
	if ce.Field != "attribute" || !strings.HasPrefix(msg, "unknown user attribute") ||
		ce.Filter >= len(s.Filters) || ce.Clause < 0 || ce.Clause >= len(s.Filters[ce.Filter]) {
		return msg
	}
	name := strings.TrimSpace(s.Filters[ce.Filter][ce.Clause].Attribute)
	if hint := suggestProperty(name, func(p UserProperty) bool { return p.NotRead == "" && p.Kind != KindRelation }); hint != "" {
		return msg + " (" + hint + ")"
	}
	return msg
}
