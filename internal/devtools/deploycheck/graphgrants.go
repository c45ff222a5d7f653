package deploycheck

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/tenantsync/tenantsync/internal/graph"
)

// MicrosoftGraphAppID is Microsoft Graph's application id, the
// resourceAppId of its permissions in requiredResourceAccess
// (https://learn.microsoft.com/graph/permissions-reference).
const MicrosoftGraphAppID = "00000003-0000-0000-c000-000000000000"

// GraphAppGrants is what infra/modules/graph-app.bicep asks Microsoft Graph
// for, read from the Bicep.
type GraphAppGrants struct {
	// Roles is the graphAppRoles variable: key → app role id.
	Roles map[string]string
	// Source are the app role ids assigned to the app in the source tenant
	// (Microsoft.Graph/appRoleAssignedTo resources).
	Source []string
	// Consent are the app role ids (type 'Role') in the app's
	// requiredResourceAccess: what each target's administrator grants
	// through /adminconsent.
	Consent []string
	// Other are requiredResourceAccess entries that are not Microsoft
	// Graph application permissions: delegated scopes, other APIs.
	Other []string
	// GroupConsent are the app role ids (type 'Role') that the targets
	// consent to only when the deployment provisions groups: the entries of
	// resourceAccess in ...(groupProvisioning ? [ … ] : []).
	GroupConsent []string
}

// groupSpreadRe finds the conditional spread of the permissions a target
// needs only when group provisioning is configured.
var groupSpreadRe = regexp.MustCompile(`\.\.\.\([ \t\n]*groupProvisioning[ \t\n]*\?[ \t\n]*\[`)

// ReadGraphAppGrants reads the grants of graph-app.bicep: the graphAppRoles
// variable, every appRoleAssignedTo resource and requiredResourceAccess.
// Role ids are written either as graphAppRoles.<key> or as literals.
func ReadGraphAppGrants(b *Bicep) (GraphAppGrants, error) {
	var (
		assignedToRe = regexp.MustCompile(`(?m)^[ \t]*resource[ \t]+([A-Za-z_]\w*)[ \t]+'Microsoft\.Graph/appRoleAssignedTo@[^']*'`)
		roleRefRe    = regexp.MustCompile(`^graphAppRoles\.([A-Za-z_]\w*)$`)
		literalRe    = regexp.MustCompile(`^'([^'\n]*)'$`)
	)
	g := GraphAppGrants{Roles: map[string]string{}}
	varStart := regexp.MustCompile(`(?m)^[ \t]*var[ \t]+graphAppRoles[ \t]*=[ \t]*\{`).FindStringIndex(b.Blank)
	if varStart == nil {
		return g, fmt.Errorf("no var graphAppRoles = { … }")
	}
	open := varStart[1] - 1
	end, err := b.matching(open)
	if err != nil {
		return g, fmt.Errorf("graphAppRoles: %w", err)
	}
	for _, k := range b.keys(open, end) {
		v := literalRe.FindStringSubmatch(b.valueAt(k.value, end))
		if v == nil {
			return g, fmt.Errorf("graphAppRoles.%s: want a string literal", k.name)
		}
		g.Roles[k.name] = v[1]
	}
	resolve := func(where, expr string) (string, error) {
		if m := roleRefRe.FindStringSubmatch(expr); m != nil {
			id, ok := g.Roles[m[1]]
			if !ok {
				return "", fmt.Errorf("%s: graphAppRoles has no key %s", where, m[1])
			}
			return id, nil
		}
		if m := literalRe.FindStringSubmatch(expr); m != nil {
			return m[1], nil
		}
		return "", fmt.Errorf("%s: cannot resolve %q", where, expr)
	}

	for _, m := range assignedToRe.FindAllStringSubmatchIndex(b.Src, -1) {
		if !strings.HasPrefix(strings.TrimLeft(b.Blank[m[0]:m[1]], " \t\n\r"), "resource") {
			continue // in a comment
		}
		name := b.Src[m[2]:m[3]]
		open := strings.IndexByte(b.Blank[m[1]:], '{')
		if open < 0 {
			return g, fmt.Errorf("resource %s: no body", name)
		}
		open += m[1]
		end, err := b.matching(open)
		if err != nil {
			return g, fmt.Errorf("resource %s: %w", name, err)
		}
		found := false
		for _, k := range b.keys(open, end) {
			if k.name != "appRoleId" {
				continue
			}
			id, err := resolve("resource "+name+" appRoleId", b.valueAt(k.value, end))
			if err != nil {
				return g, err
			}
			g.Source = append(g.Source, id)
			found = true
		}
		if !found {
			return g, fmt.Errorf("resource %s: no appRoleId", name)
		}
	}

	rra := regexp.MustCompile(`\brequiredResourceAccess[ \t]*:[ \t]*\[`).FindAllStringIndex(b.Blank, -1)
	if len(rra) != 1 {
		return g, fmt.Errorf("%d requiredResourceAccess lists, want one", len(rra))
	}
	listOpen := rra[0][1] - 1
	listEnd, err := b.matching(listOpen)
	if err != nil {
		return g, fmt.Errorf("requiredResourceAccess: %w", err)
	}
	for _, res := range b.objects(listOpen, listEnd) {
		var app string
		var access [2]int
		for _, k := range b.keys(res[0], res[1]) {
			switch k.name {
			case "resourceAppId":
				v := b.valueAt(k.value, res[1])
				if v == "microsoftGraphAppId" {
					app = MicrosoftGraphAppID
				} else if m := literalRe.FindStringSubmatch(v); m != nil {
					app = m[1]
				} else {
					return g, fmt.Errorf("requiredResourceAccess: cannot resolve resourceAppId %q", v)
				}
			case "resourceAccess":
				o := strings.IndexByte(b.Blank[k.value:res[1]], '[')
				if o < 0 {
					return g, fmt.Errorf("requiredResourceAccess: resourceAccess is not a list")
				}
				e, err := b.matching(k.value + o)
				if err != nil {
					return g, fmt.Errorf("requiredResourceAccess: %w", err)
				}
				access = [2]int{k.value + o, e}
			}
		}
		// The entries of the groupProvisioning spread, if there is one.
		var group [2]int
		if m := groupSpreadRe.FindStringIndex(b.Blank[access[0]:access[1]]); m != nil {
			open := access[0] + m[1] - 1
			e, err := b.matching(open)
			if err != nil {
				return g, fmt.Errorf("requiredResourceAccess: groupProvisioning: %w", err)
			}
			group = [2]int{open, e}
		}
		for _, entry := range b.objects(access[0], access[1]) {
			var id, typ string
			for _, k := range b.keys(entry[0], entry[1]) {
				v := b.valueAt(k.value, entry[1])
				switch k.name {
				case "id":
					if id, err = resolve("requiredResourceAccess id", v); err != nil {
						return g, err
					}
				case "type":
					typ = strings.Trim(v, "'")
				}
			}
			switch {
			case app == MicrosoftGraphAppID && typ == "Role" && entry[0] > group[0] && entry[1] < group[1]:
				g.GroupConsent = append(g.GroupConsent, id)
			case app == MicrosoftGraphAppID && typ == "Role":
				g.Consent = append(g.Consent, id)
			default:
				g.Other = append(g.Other, fmt.Sprintf("%s of %s (type %s)", id, app, typ))
			}
		}
	}
	return g, nil
}

// valueAt returns the value expression that starts at offset from and ends
// at the end of its line (or at end), as written, without a trailing
// comment.
func (b *Bicep) valueAt(from, end int) string {
	stop := end
	if nl := strings.IndexByte(b.Blank[from:end], '\n'); nl >= 0 {
		stop = from + nl
	}
	code := len(strings.TrimRight(b.Blank[from:stop], " \t\r"))
	return strings.TrimSpace(b.Src[from : from+code])
}

// objects returns the [open, close] offsets of the object literals directly
// inside the list whose brackets are at open and close.
func (b *Bicep) objects(open, close int) [][2]int {
	var out [][2]int
	if close <= open {
		return nil
	}
	for i := open + 1; i < close; i++ {
		if b.Blank[i] != '{' {
			continue
		}
		e, err := b.matching(i)
		if err != nil {
			return out
		}
		out = append(out, [2]int{i, e})
		i = e
	}
	return out
}

// CheckGraphAppGrants holds the grants to least privilege: every
// graphAppRoles id is Microsoft Graph's id of the permission its key names
// (graph.AppRoles, from the permissions reference), the source is assigned
// exactly source, the targets consent to exactly targets (permission
// names) and, only when the deployment provisions groups, to groupTargets
// besides, and nothing else is asked for. It returns the problems, each
// naming the permission by name and id.
func CheckGraphAppGrants(g GraphAppGrants, source, targets, groupTargets []string) []string {
	var problems []string
	describe := func(id string) string {
		if r, ok := graph.AppRoleByID(id); ok {
			return fmt.Sprintf("%s (%s)", r.Name, r.ID)
		}
		return fmt.Sprintf("app role %s, which is not a Microsoft Graph permission tenantsync knows", id)
	}
	keys := make([]string, 0, len(g.Roles))
	for k := range g.Roles {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		id := g.Roles[k]
		r, ok := graph.AppRoleByID(id)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("graphAppRoles.%s is %s", k, describe(id)))
		case camelKey(r.Name) != k:
			problems = append(problems, fmt.Sprintf("graphAppRoles.%s is %s, whose key would be %s", k, describe(id), camelKey(r.Name)))
		}
	}
	compare := func(where string, ids, want []string) {
		var got []string
		for _, id := range ids {
			name := id
			if r, ok := graph.AppRoleByID(id); ok {
				name = r.Name
			}
			if slices.Contains(got, name) {
				problems = append(problems, fmt.Sprintf("%s: %s is listed twice", where, describe(id)))
				continue
			}
			got = append(got, name)
			if !slices.Contains(want, name) {
				kind := "an extra permission"
				if strings.Contains(name, ".Read") && !strings.Contains(name, ".ReadWrite") {
					kind = "an extra read scope"
				}
				problems = append(problems, fmt.Sprintf("%s: %s is %s; tenantsync needs exactly %s there", where, describe(id), kind, strings.Join(want, ", ")))
			}
		}
		for _, name := range want {
			if !slices.Contains(got, name) {
				r, _ := graph.AppRoleByName(name)
				problems = append(problems, fmt.Sprintf("%s: %s is missing", where, describe(r.ID)))
			}
		}
	}
	compare("source (appRoleAssignedTo)", g.Source, source)
	compare("targets (requiredResourceAccess, what admin consent grants)", g.Consent, targets)
	compare("targets provisioning groups (requiredResourceAccess under groupProvisioning)", g.GroupConsent, groupTargets)
	for _, o := range g.Other {
		problems = append(problems, "requiredResourceAccess asks for "+o+": tenantsync needs only Microsoft Graph application permissions")
	}
	return problems
}

// camelKey is the graphAppRoles key of a permission: its name without dots,
// in lower camel case (User.Read.All is userReadAll).
func camelKey(name string) string {
	k := strings.ReplaceAll(name, ".", "")
	if k == "" {
		return k
	}
	return strings.ToLower(k[:1]) + k[1:]
}
