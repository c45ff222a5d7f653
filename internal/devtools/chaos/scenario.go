package chaos

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// The tenants of a run.
const (
	sourceDomain = "fabrikam.example"
	// AtlasGroup is a project group outside the scope at first; the
	// workload nests it into the scoping groups and takes it out again.
	atlasGroup = "Project Atlas"
	// OrionGroup is nested in graphsim.NestedScopingGroup: two levels down
	// from the scoping group.
	orionGroup = "Project Orion"
)

// clause is one scoping-filter clause. The oracle evaluates the three
// operators the scenario uses on its own, after docs/scoping.md.
type clause struct {
	Attribute, Operator, Value string
}

// targetSpec is one target of the scenario's configuration.
type targetSpec struct {
	Name, Domain, DisplayName string
	// Nested takes members of groups nested in the scoping group too.
	Nested bool
	// Filters are OR'ed; the clauses of one are AND'ed.
	Filters [][]clause
	// Action is the deprovision action: delete or disable.
	Action string
}

// scenarioTargets are the targets every run syncs into: one with nested
// groups that deletes, one with direct membership and filters that
// disables.
func scenarioTargets() []targetSpec {
	return []targetSpec{
		{Name: "contoso", Domain: "contoso.example", DisplayName: "Contoso", Nested: true, Action: "delete"},
		{Name: "litware", Domain: "litware.example", DisplayName: "Litware", Action: "disable",
			Filters: [][]clause{
				{{Attribute: "department", Operator: "EQUALS", Value: "Sales"}},
				{{Attribute: "jobTitle", Operator: "REGEX MATCH", Value: "Manager"}, {Attribute: "accountEnabled", Operator: "IS TRUE"}},
			}},
	}
}

// configYAML is the tenantsync configuration of a run, against the
// simulator at simURL. The deletion guard's threshold is out of reach: the
// guard is tested elsewhere, and here every deprovision must happen.
func configYAML(simURL string, targets []targetSpec) string {
	var b strings.Builder
	q := strconv.Quote
	tenant := func(indent, domain string) {
		fmt.Fprintf(&b, "%stenant: %s\n%sgraph: %s\n%sauth: {method: none}\n", indent, q(domain), indent, q(simURL+"/"+domain+"/v1.0"), indent)
	}
	b.WriteString("# Written by the chaos suite (internal/chaos).\nsource:\n")
	tenant("  ", sourceDomain)
	b.WriteString("targets:\n")
	for _, t := range targets {
		fmt.Fprintf(&b, "  - name: %s\n", q(t.Name))
		tenant("    ", t.Domain)
		fmt.Fprintf(&b, "    scope:\n      groups: [%s]\n      nested: %t\n", q(graphsim.ScopingGroup), t.Nested)
		if len(t.Filters) > 0 {
			b.WriteString("      filters:\n")
			for _, f := range t.Filters {
				for i, c := range f {
					lead := "          "
					if i == 0 {
						lead = "        - "
					}
					fmt.Fprintf(&b, "%s- {attribute: %s, operator: %s", lead, q(c.Attribute), q(c.Operator))
					if c.Value != "" {
						fmt.Fprintf(&b, ", value: %s", q(c.Value))
					}
					b.WriteString("}\n")
				}
			}
		}
		fmt.Fprintf(&b, "    deprovision: {action: %s, threshold: 1000000, window: 1h}\n", t.Action)
	}
	return b.String()
}

// sourceSeed is the source tenant: graphsim.GenerateTenant's population
// with two more project groups, Atlas (not in scope) and Orion (nested in
// Project Phoenix, itself nested in the scoping group).
func sourceSeed(users int, seed uint64) graphsim.TenantSeed {
	ts := graphsim.GenerateTenant(graphsim.GenerateOptions{
		Domain: sourceDomain, DisplayName: "Fabrikam", CompanyName: "Fabrikam", Users: users, Seed: seed,
	})
	r := rand.New(rand.NewPCG(seed, 0xa71a5))
	var members []string
	for _, u := range ts.Users {
		if u["userType"] != "Guest" {
			members = append(members, u["id"].(string))
		}
	}
	pick := func(n int) []string {
		var out []string
		for _, i := range r.Perm(len(members))[:min(n, len(members))] {
			out = append(out, members[i])
		}
		return out
	}
	for _, g := range ts.Groups {
		if g["displayName"] == graphsim.NestedScopingGroup {
			g["members"] = append(g["members"].([]string), orionGroup)
		}
	}
	ts.Groups = append(ts.Groups,
		graphsim.Object{"displayName": atlasGroup, "mailNickname": "project-atlas", "members": pick(6)},
		graphsim.Object{"displayName": orionGroup, "mailNickname": "project-orion", "members": pick(4)},
	)
	return ts
}

// targetSeed is a target tenant with people of its own that tenantsync
// must never touch: internal members (one the manager of the others) and
// B2B guests from elsewhere, one of them carrying another tool's value in
// the anchor attribute.
func targetSeed(t targetSpec) graphsim.TenantSeed {
	d := t.Domain
	member := func(local, name, title string) graphsim.Object {
		return graphsim.Object{
			"userPrincipalName": local + "@" + d, "mail": local + "@" + d, "mailNickname": local,
			"displayName": name, "jobTitle": title, "department": "Operations", "accountEnabled": true,
			"userType": "Member", "companyName": t.DisplayName, "businessPhones": []string{"+1 425 555 0100"},
		}
	}
	guest := func(addr, name string) graphsim.Object {
		local := strings.ReplaceAll(addr, "@", "_")
		initial := strings.SplitN(d, ".", 2)[0] + ".onmicrosoft.com"
		return graphsim.Object{
			"userPrincipalName": local + "#EXT#@" + initial, "mail": addr, "otherMails": []string{addr},
			"mailNickname": local + "#EXT#", "displayName": name, "accountEnabled": true, "userType": "Guest",
			"creationType": "Invitation", "externalUserState": "Accepted",
		}
	}
	boss := member("it.director", "IT Director", "Director of IT")
	a := member("service.desk", "Service Desk", "Service Desk Analyst")
	a["manager"] = "it.director@" + d
	b := member("facilities", "Facilities", "Facilities Manager")
	b["manager"] = "it.director@" + d
	g1 := guest("auditor@auditfirm.example", "External Auditor")
	g2 := guest("consultant@partner-consulting.example", "Consultant")
	g2["onPremisesExtensionAttributes"] = map[string]any{"extensionAttribute15": "legacy-sync:4711"}
	return graphsim.TenantSeed{
		Domain: d, DisplayName: t.DisplayName,
		Users: []graphsim.Object{boss, a, b, g1, g2},
		Groups: []graphsim.Object{{"displayName": "Local staff", "mailNickname": "local-staff",
			"members": []string{"it.director@" + d, "service.desk@" + d, "facilities@" + d}}},
	}
}

// anchorPrefix is what tenantsync writes into the anchor attribute of the
// users it creates, before the source object id (docs/tenantsync.example.yaml).
func anchorPrefix() string { return "tenantsync:" + sourceDomain + ":" }

// matches evaluates a target's filters the way docs/scoping.md describes,
// for the operators the scenario uses: a null attribute makes every clause
// false.
func (t targetSpec) matches(attrs map[string]any) (bool, error) {
	if len(t.Filters) == 0 {
		return true, nil
	}
	for _, f := range t.Filters {
		all := true
		for _, c := range f {
			ok, err := c.holds(attrs[c.Attribute])
			if err != nil {
				return false, err
			}
			if !ok {
				all = false
				break
			}
		}
		if all {
			return true, nil
		}
	}
	return false, nil
}

func (c clause) holds(v any) (bool, error) {
	switch c.Operator {
	case "EQUALS":
		s, _ := v.(string)
		return s != "" && s == c.Value, nil
	case "REGEX MATCH":
		s, _ := v.(string)
		if s == "" {
			return false, nil
		}
		re, err := regexp.Compile(c.Value)
		if err != nil {
			return false, err
		}
		return re.MatchString(s), nil
	case "IS TRUE":
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			return strings.EqualFold(strings.TrimSpace(x), "true"), nil
		}
		return false, nil
	}
	return false, fmt.Errorf("the oracle does not know operator %q", c.Operator)
}
