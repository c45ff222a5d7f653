package config

import (
	"errors"
	"strconv"
	"strings"

	"github.com/tenantsync/tenantsync/internal/expr"
	"github.com/tenantsync/tenantsync/internal/mapping"
)

// GroupDeprovision is what happens to a target group tenantsync created
// when its source group leaves groups.sync or is deleted in the source.
type GroupDeprovision string

const (
	// GroupDeprovisionDelete soft deletes the target group (restorable for
	// 30 days), through the deletion guard. Its members are users and stay.
	GroupDeprovisionDelete GroupDeprovision = "delete"
	// GroupDeprovisionNone leaves the target group as it is; tenantsync
	// stops managing it.
	GroupDeprovisionNone GroupDeprovision = "none"
	// DefaultGroupDeprovision is the action when groups.deprovision is left out.
	DefaultGroupDeprovision = GroupDeprovisionDelete
)

// Groups configures the security groups tenantsync provisions into a
// target, with their memberships (docs/groups.md).
type Groups struct {
	// Sync lists source groups by object id or displayName.
	Sync []string `json:"sync,omitempty" yaml:"sync,omitempty"`
	// ScopeGroups adds every group of the target's scope.groups to Sync.
	ScopeGroups bool `json:"scopeGroups,omitempty" yaml:"scopeGroups,omitempty"`
	// Mappings are group attribute mappings over the defaults (displayName,
	// description and mailNickname from the source group), in the forms of
	// user mappings.
	Mappings    []mapping.Rule   `json:"mappings,omitempty" yaml:"mappings,omitempty"`
	Deprovision GroupDeprovision `json:"deprovision,omitempty" yaml:"deprovision,omitempty"`
}

// Enabled reports whether the target syncs any group.
func (g Groups) Enabled() bool { return len(g.Sync) > 0 || g.ScopeGroups }

// Action is the configured deprovision action, or the default.
func (g Groups) Action() GroupDeprovision {
	if g.Deprovision == "" {
		return DefaultGroupDeprovision
	}
	return g.Deprovision
}

// GroupNames returns the configured source groups (ids or display names): Sync,
// then those of scope.groups when ScopeGroups is set, without duplicates
// (compared without case).
func (t *Target) GroupNames() []string {
	var out []string
	seen := map[string]bool{}
	add := func(names []string) {
		for _, n := range names {
			k := strings.ToLower(strings.TrimSpace(n))
			if k == "" || seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, strings.TrimSpace(n))
		}
	}
	add(t.Groups.Sync)
	if t.Groups.ScopeGroups {
		add(t.Scope.Groups)
	}
	return out
}

// groupProperties are the properties of a source group that a group
// mapping may read (Graph's group resource, those a security group has).
var groupProperties = map[string]expr.Type{
	"id": expr.TypeString, "displayName": expr.TypeString, "description": expr.TypeString,
	"mailNickname": expr.TypeString, "mail": expr.TypeString, "classification": expr.TypeString,
	"visibility": expr.TypeString, "createdDateTime": expr.TypeString, "securityIdentifier": expr.TypeString,
	"onPremisesSamAccountName": expr.TypeString, "onPremisesDomainName": expr.TypeString,
	"onPremisesNetBiosName": expr.TypeString, "securityEnabled": expr.TypeBool, "mailEnabled": expr.TypeBool,
}

// groupSourceType is sourceType for a group mapping's source and expression.
func groupSourceType(name string) (expr.Type, string, string) {
	if extensionProperty.MatchString(name) {
		return expr.TypeAny, "", ""
	}
	if t, ok := groupProperties[name]; ok {
		return t, "", ""
	}
	for p := range groupProperties {
		if strings.EqualFold(p, name) {
			return expr.TypeAny, "unknown group attribute " + strconv.Quote(name), "did you mean " + strconv.Quote(p) + "?"
		}
	}
	return expr.TypeAny, "unknown group attribute " + strconv.Quote(name), "a group mapping reads the source group's displayName, description, mailNickname, mail, id and the like"
}

// validateGroups checks a target's groups section, naming each key path.
func validateGroups(l *errorList, target string, t *Target) {
	p := target + ".groups"
	g := &t.Groups
	seen := map[string]int{}
	for i, name := range g.Sync {
		gp := indexPath(p+".sync", i)
		key := strings.ToLower(strings.TrimSpace(name))
		switch j, dup := seen[key]; {
		case key == "":
			l.add(gp, "must be a group id or display name, not empty")
		case dup:
			l.add(gp, "%q is already groups.sync[%d]", name, j)
		default:
			seen[key] = i
		}
	}
	if g.ScopeGroups && len(t.Scope.Groups) == 0 {
		l.add(p+".scopeGroups", "true, but scope.groups lists no groups: list them there, or the groups to sync in groups.sync")
	}
	if !g.Enabled() && (len(g.Mappings) > 0 || g.Deprovision != "") {
		l.add(p+".sync", "required when groups has mappings or deprovision: list the source groups to sync (ids or display names), or set scopeGroups: true")
	}
	switch g.Deprovision {
	case "", GroupDeprovisionDelete, GroupDeprovisionNone:
	default:
		l.add(p+".deprovision", "must be delete or none, got %q", g.Deprovision)
	}
	checkGroupMappings(l, p, g)
}

// checkGroupMappings checks group mappings as checkMappings checks user
// ones: sources and expressions against a group's properties, then
// compiled over the group defaults, each problem at its path.
func checkGroupMappings(l *errorList, p string, g *Groups) {
	reported := map[string]bool{}
	for i, r := range g.Mappings {
		rp := indexPath(p+".mappings", i)
		if r.Ignore {
			continue
		}
		if r.Source != "" && !strings.ContainsAny(r.Source, "[]() \"") {
			if _, problem, hint := groupSourceType(r.Source); problem != "" {
				if hint != "" {
					problem += " (" + hint + ")"
				}
				l.add(rp+".source", "%s", problem)
				reported[rp+".source"] = true
			}
		}
		if r.Expression != "" {
			if e, err := expr.Parse(r.Expression); err == nil {
				if err := e.Check(groupSourceType); err != nil {
					l.add(rp+".expression", "%s", err.Error())
					reported[rp+".expression"] = true
				}
			}
		}
	}
	if _, err := mapping.CompileGroup(g.Mappings); err != nil {
		for _, e := range unwrapAll(err) {
			var re *mapping.RuleError
			if errors.As(e, &re) {
				path := indexPath(p+".mappings", re.Index) + "." + re.Field
				if !reported[path] {
					l.add(path, "%v", re.Err)
				}
			} else {
				l.add(p+".mappings", "%v", e)
			}
		}
	}
}
