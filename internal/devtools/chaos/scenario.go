package chaos

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

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
	// pilotGroup is the guard target's scoping group. Only the fault plan
	// changes its members (joins, bursts of removals, recoveries), so that
	// every deprovision the guard target sees belongs to a burst.
	pilotGroup = "Early adopters"
)

// The source groups every target syncs into a security group of its own
// (docs/groups.md). They are nested in no scoping group, so that their
// members change the groups alone, never a user's scope.
const (
	// teamGroup has users as direct members only. The configuration names
	// it by its display name, which the workload changes now and then: the
	// group must stay synced (its link remembers the name it was
	// configured by), also across the runner's restarts.
	teamGroup = "Merger steering"
	// programGroup has users and squadGroup as members, so that its target
	// groups hold squadGroup's users too where the scope is nested, and
	// only its direct users elsewhere. The configuration names it by id.
	programGroup = "Integration program"
	squadGroup   = "Integration squad"
)

// syncedGroup is a source group the targets sync.
type syncedGroup struct {
	// Key is its display name at the start, by which the suite knows it
	// whatever the workload renames it to.
	Key string
	ID  string
	// ByID names it by id in the configuration, rather than by Key.
	ByID bool
}

// configEntry is how the configuration's groups.sync names the group.
func (g syncedGroup) configEntry() string {
	if g.ByID {
		return g.ID
	}
	return g.Key
}

// The deletion guard's settings. The guard target's threshold is within
// reach of a burst; the others' is out of reach of the workload (at 25
// operations a second, a minute holds about 1,500 operations), so that every
// deprovision there must be carried out.
const (
	guardThreshold = 5
	guardWindow    = 2 * time.Minute
	openThreshold  = 5000 // config.MaxThreshold
	openWindow     = time.Minute
	// openDelay is the settle delay of the targets that deprovision
	// normally: short, so that a round converges soon after the faults stop.
	openDelay = time.Second
)

// clause is one scoping-filter clause. The oracle evaluates the three
// operators the scenario uses on its own, after docs/scoping.md.
type clause struct {
	Attribute, Operator, Value string
}

// targetSpec is one target of the scenario's configuration.
type targetSpec struct {
	Name, Domain, DisplayName string
	// Group is the scoping group (by display name).
	Group string
	// Nested takes members of groups nested in the scoping group too.
	Nested bool
	// Filters are OR'ed; the clauses of one are AND'ed.
	Filters [][]clause
	// Action is the deprovision action: delete or disable.
	Action string
	// UserType is the userType of the users tenantsync creates; it is
	// written on create only.
	UserType string
	// The deletion guard: threshold, window and settle delay.
	Threshold     int
	Window, Delay time.Duration
	// Guarded marks the guard target, whose small threshold the fault
	// plan's bursts exceed: every deprovision there must be held.
	Guarded bool
	// GroupSuffix is appended to the source group's displayName by the
	// target's group mapping (Append); "" leaves the default mapping.
	GroupSuffix string
}

// scenarioTargets are the targets every run syncs into: one with nested
// groups that deletes, one with direct membership and filters that
// disables (and creates guests), and the guard target, whose own scoping
// group only the fault plan changes, with a threshold of 5 and the given
// settle delay. Each syncs the scenario's groups (cast.groups); two name
// them through a displayName mapping.
func scenarioTargets(guardDelay time.Duration) []targetSpec {
	return []targetSpec{
		{Name: "contoso", Domain: "contoso.example", DisplayName: "Contoso", Group: graphsim.ScopingGroup, Nested: true,
			Action: "delete", UserType: "Member", Threshold: openThreshold, Window: openWindow, Delay: openDelay},
		{Name: "litware", Domain: "litware.example", DisplayName: "Litware", Group: graphsim.ScopingGroup,
			Action: "disable", UserType: "Guest", Threshold: openThreshold, Window: openWindow, Delay: openDelay,
			GroupSuffix: " (Fabrikam)",
			Filters: [][]clause{
				{{Attribute: "department", Operator: "EQUALS", Value: "Sales"}},
				{{Attribute: "jobTitle", Operator: "REGEX MATCH", Value: "Manager"}, {Attribute: "accountEnabled", Operator: "IS TRUE"}},
			}},
		{Name: "adatum", Domain: "adatum.example", DisplayName: "Adatum", Group: pilotGroup,
			Action: "delete", UserType: "Member", Threshold: guardThreshold, Window: guardWindow, Delay: guardDelay, Guarded: true,
			GroupSuffix: " [pilot]"},
	}
}

// guardTarget returns the guard target of a scenario.
func guardTarget(targets []targetSpec) (targetSpec, bool) {
	for _, t := range targets {
		if t.Guarded {
			return t, true
		}
	}
	return targetSpec{}, false
}

// configYAML is the tenantsync configuration of a run, against the
// simulator at simURL; every target syncs the groups. The source tenant is
// named by its id (sourceID): with a domain, the webhook would learn the id
// to check notifications against from GET /organization, as tenantsync
// reads it from its access token only when it has one, and the simulator
// sends none; the deployed grant does not include Organization.Read.All, so
// every notification would be refused and only reconcile would carry
// changes.
func configYAML(simURL, sourceID string, targets []targetSpec, groups []syncedGroup) string {
	var b strings.Builder
	q := strconv.Quote
	tenant := func(indent, name, domain string) {
		fmt.Fprintf(&b, "%stenant: %s\n%sgraph: %s\n%sauth: {method: none}\n", indent, q(name), indent, q(simURL+"/"+domain+"/v1.0"), indent)
	}
	b.WriteString("# Written by the chaos suite (internal/devtools/chaos).\nsource:\n")
	tenant("  ", sourceID, sourceDomain)
	b.WriteString("targets:\n")
	for _, t := range targets {
		fmt.Fprintf(&b, "  - name: %s\n", q(t.Name))
		tenant("    ", t.Domain, t.Domain)
		fmt.Fprintf(&b, "    userType: %s\n", t.UserType)
		fmt.Fprintf(&b, "    scope:\n      groups: [%s]\n      nested: %t\n", q(t.Group), t.Nested)
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
		fmt.Fprintf(&b, "    deprovision: {action: %s, threshold: %d, window: %s, delay: %s}\n", t.Action, t.Threshold, t.Window, t.Delay)
		if len(groups) == 0 {
			continue
		}
		entries := make([]string, len(groups))
		for i, g := range groups {
			entries[i] = q(g.configEntry())
		}
		fmt.Fprintf(&b, "    groups:\n      sync: [%s]\n", strings.Join(entries, ", "))
		if t.GroupSuffix != "" {
			expr := fmt.Sprintf("Append([displayName], %s)", q(t.GroupSuffix))
			fmt.Fprintf(&b, "      mappings:\n        - {target: displayName, expression: %s}\n", q(expr))
		}
	}
	return b.String()
}

// Kinds of look-alike: a target user that holds a source user's address
// without being provably theirs (the engine's identity-safe matching must
// call each a conflict and never touch it).
const (
	lookMicrosoftAccount = "microsoftAccount" // a guest who redeemed with a personal Microsoft account
	lookEmailOTP         = "emailOtp"         // a guest who redeemed with a one-time passcode
	lookOtherOrg         = "entra"            // a guest who redeemed with another organization
	lookMember           = "member"           // an internal member of the target
	lookOtherAnchor      = "anchor"           // an unredeemed invitation that carries another tool's anchor
)

// otherOrg is the organization a look-alike guest redeemed with.
const otherOrg = "northwind.example"

// lookalike is a target user that holds a source user's address.
type lookalike struct {
	Target   string // target domain
	SourceID string
	Address  string
	Kind     string
	UPN      string // the look-alike's userPrincipalName
}

// lookalikeKinds says which target holds which kind of look-alike.
var lookalikeKinds = []struct{ target, kind string }{
	{"contoso.example", lookMicrosoftAccount},
	{"contoso.example", lookMember},
	{"contoso.example", lookOtherAnchor},
	{"litware.example", lookOtherOrg},
	{"litware.example", lookEmailOTP},
}

// cast names the source users the fault plan has roles for, chosen from
// the seed when the source tenant is generated. The workload leaves their
// scope alone (reserved), so that what the fault plan does to them has one
// right outcome.
type cast struct {
	// pool are direct members of the scoping group in department Sales,
	// enabled and with a mail: in the scope of contoso and litware for the
	// whole run. The fault plan draws the users whose target users a
	// target administrator disables or makes privileged from it, and a
	// deprovision of one of theirs is wrongful.
	pool []string
	// lookalikes are pool-like users whose address a look-alike holds in
	// one target.
	lookalikes []lookalike
	// external are B2B users of the source tenant itself (userType Member):
	// in the scoping groups, out of every scope (internal members only).
	external []string
	// pilot are the first members of the guard target's scoping group.
	pilot []string
	// groups are the source groups every target syncs.
	groups []syncedGroup
	// handUser is a pool user whom a target administrator adds by hand to
	// programGroup's target group in contoso and litware (where the pool
	// is in scope), while it is no member of the source group: tenantsync
	// must leave it there, also after the workload makes it a member of
	// the source group and takes it out again.
	handUser string
}

// reserved returns the source users the random workload must leave in (or
// out of) scope: the pool, the look-alikes' source users and the
// externals.
func (c cast) reserved() map[string]bool {
	out := map[string]bool{}
	for _, id := range c.pool {
		out[id] = true
	}
	for _, l := range c.lookalikes {
		out[l.SourceID] = true
	}
	for _, id := range c.external {
		out[id] = true
	}
	return out
}

// castSizes are the sizes of the pool and the pilot group for a tenant of
// n users: enough victims for the fault plan, and a pilot group that holds
// two bursts.
func castSizes(n int) (pool, pilot int) {
	return min(30, max(8, n/15)), min(60, max(20, n/6))
}

// sourceSeed is the source tenant: graphsim.GenerateTenant's population
// with two more project groups, Atlas (not in scope) and Orion (nested in
// Project Phoenix, itself nested in the scoping group), the guard target's
// pilot group, two external users in the scoping groups, and the cast.
func sourceSeed(users int, seed uint64) (graphsim.TenantSeed, cast) {
	ts := graphsim.GenerateTenant(graphsim.GenerateOptions{
		Domain: sourceDomain, DisplayName: "Fabrikam", CompanyName: "Fabrikam", Users: users, Seed: seed,
	})
	r := rand.New(rand.NewPCG(seed, 0xa71a5))
	byID := map[string]graphsim.Object{}
	var members []string
	for _, u := range ts.Users {
		byID[u["id"].(string)] = u
		if u["userType"] != "Guest" {
			members = append(members, u["id"].(string))
		}
	}
	var scoping graphsim.Object
	for _, g := range ts.Groups {
		if g["displayName"] == graphsim.ScopingGroup {
			scoping = g
		}
	}
	// Direct members of the scoping group who can play a role: members,
	// enabled.
	var direct []string
	for _, m := range scoping["members"].([]string) {
		if u, ok := byID[m]; ok && u["userType"] != "Guest" && u["accountEnabled"] == true {
			direct = append(direct, m)
		}
	}
	var c cast
	poolN, pilotN := castSizes(users)
	roles := r.Perm(len(direct))
	taken := map[string]bool{}
	next := func() (string, bool) {
		for len(roles) > 0 {
			id := direct[roles[0]]
			roles = roles[1:]
			if !taken[id] {
				taken[id] = true
				u := byID[id]
				u["department"] = "Sales" // in litware's scope too
				if u["mail"] == nil {
					u["mail"] = u["userPrincipalName"]
				}
				return id, true
			}
		}
		return "", false
	}
	for _, k := range lookalikeKinds {
		id, ok := next()
		if !ok {
			break
		}
		l := lookalike{Target: k.target, SourceID: id, Address: byID[id]["mail"].(string), Kind: k.kind}
		l.UPN = strings.ReplaceAll(l.Address, "@", "_") + "#EXT#@" + initialDomain(l.Target)
		if l.Kind == lookMember {
			l.UPN = fmt.Sprintf("lookalike.%d@%s", len(c.lookalikes), l.Target)
		}
		c.lookalikes = append(c.lookalikes, l)
	}
	for range poolN {
		id, ok := next()
		if !ok {
			break
		}
		c.pool = append(c.pool, id)
	}

	// External users of the source tenant: a B2B member, and a B2B user
	// whose userPrincipalName was changed to the tenant's domain.
	external := []graphsim.Object{
		{"userPrincipalName": "ravi_northwind.example#EXT#@fabrikam.onmicrosoft.com", "displayName": "Ravi (Northwind)",
			"mail": "ravi@northwind.example", "mailNickname": "ravi_northwind.example#EXT#", "userType": "Member",
			"creationType": "Invitation", "externalUserState": "Accepted", "accountEnabled": true, "department": "Sales",
			"jobTitle": "Sales Manager"},
		{"userPrincipalName": "mei.partner@" + sourceDomain, "displayName": "Mei (partner)", "mail": "mei@northwind.example",
			"mailNickname": "mei.partner", "userType": "Member", "externalUserState": "Accepted", "accountEnabled": true,
			"department": "Sales", "jobTitle": "Account Executive"},
	}
	for _, u := range external {
		id := objectID(r)
		u["id"] = id
		ts.Users = append(ts.Users, u)
		byID[id] = u
		c.external = append(c.external, id)
		taken[id] = true
	}
	scoping["members"] = append(scoping["members"].([]string), c.external...)

	// The pilot group: enabled members of no role, and the externals.
	var free []string
	for _, id := range members {
		if !taken[id] && byID[id]["accountEnabled"] == true {
			free = append(free, id)
		}
	}
	for _, i := range r.Perm(len(free))[:min(pilotN, len(free))] {
		c.pilot = append(c.pilot, free[i])
	}
	slices.Sort(c.pilot)

	var movable []string
	for _, id := range members {
		if !taken[id] {
			movable = append(movable, id)
		}
	}
	pick := func(n int) []string {
		var out []string
		for _, i := range r.Perm(len(movable))[:min(n, len(movable))] {
			out = append(out, movable[i])
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
		graphsim.Object{"displayName": pilotGroup, "mailNickname": "early-adopters",
			"members": append(slices.Clone(c.pilot), c.external...)},
	)

	// The synced groups. Their members are of every kind, so that each
	// target's group holds some and not others: pilots (the guard target's
	// scope, bursts among them), pool users (in contoso's and litware's
	// scope for good), users the workload moves, a guest, an external user
	// and a look-alike's source user (never members anywhere). The hand
	// user is the first of the pool, a member of none at first.
	var guests []string
	for _, u := range ts.Users {
		if u["userType"] == "Guest" {
			guests = append(guests, u["id"].(string))
		}
	}
	some := func(from []string, n int) []string {
		var out []string
		for _, i := range r.Perm(len(from))[:min(n, len(from))] {
			out = append(out, from[i])
		}
		return out
	}
	var pool []string
	if len(c.pool) > 0 {
		c.handUser, pool = c.pool[0], c.pool[1:]
	}
	team := slices.Concat(some(c.pilot, 3), some(pool, 2), pick(3), some(guests, 1), c.external[:1])
	if len(c.lookalikes) > 0 {
		team = append(team, c.lookalikes[0].SourceID)
	}
	squad := slices.Concat(some(c.pilot, 2), some(pool, 1), pick(2))
	program := slices.Concat(some(c.pilot, 2), some(pool, 2), pick(2))
	c.groups = []syncedGroup{{Key: teamGroup, ID: objectID(r)}, {Key: programGroup, ID: objectID(r), ByID: true}}
	ts.Groups = append(ts.Groups,
		graphsim.Object{"id": c.groups[0].ID, "displayName": teamGroup, "mailNickname": "merger-steering", "members": dedupe(team)},
		graphsim.Object{"id": objectID(r), "displayName": squadGroup, "mailNickname": "integration-squad", "members": dedupe(squad)},
		graphsim.Object{"id": c.groups[1].ID, "displayName": programGroup, "mailNickname": "integration-program",
			"members": append(dedupe(program), squadGroup)},
	)
	return ts, c
}

// objectID draws an object id in Graph's form (a version 4 UUID).
func objectID(r *rand.Rand) string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xfff, r.Uint64()&0xffffffffffff)
}

// dedupe returns ids without repeats, in their first order: the sets a
// group's members are drawn from overlap (a pilot may also be movable).
func dedupe(ids []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// targetSeed is a target tenant with people of its own that tenantsync
// must never touch: internal members (one the manager of the others), B2B
// guests from elsewhere (one of them carrying another tool's value in the
// anchor attribute), and the look-alikes of source users.
func targetSeed(t targetSpec, looks []lookalike) graphsim.TenantSeed {
	d := t.Domain
	initial := initialDomain(d)
	member := func(local, name, title string) graphsim.Object {
		return graphsim.Object{
			"userPrincipalName": local + "@" + d, "mail": local + "@" + d, "mailNickname": local,
			"displayName": name, "jobTitle": title, "department": "Operations", "accountEnabled": true,
			"userType": "Member", "companyName": t.DisplayName, "businessPhones": []string{"+1 425 555 0100"},
		}
	}
	guest := func(addr, name, state string) graphsim.Object {
		local := strings.ReplaceAll(addr, "@", "_")
		return graphsim.Object{
			"userPrincipalName": local + "#EXT#@" + initial, "mail": addr, "otherMails": []string{addr},
			"mailNickname": local + "#EXT#", "displayName": name, "accountEnabled": true, "userType": "Guest",
			"creationType": "Invitation", "externalUserState": state,
		}
	}
	boss := member("it.director", "IT Director", "Director of IT")
	a := member("service.desk", "Service Desk", "Service Desk Analyst")
	a["manager"] = "it.director@" + d
	b := member("facilities", "Facilities", "Facilities Manager")
	b["manager"] = "it.director@" + d
	g1 := guest("auditor@auditfirm.example", "External Auditor", "Accepted")
	g2 := guest("consultant@partner-consulting.example", "Consultant", "Accepted")
	g2["onPremisesExtensionAttributes"] = map[string]any{"extensionAttribute15": "legacy-sync:4711"}
	users := []graphsim.Object{boss, a, b, g1, g2}
	for i, l := range looks {
		if l.Target != d {
			continue
		}
		var u graphsim.Object
		switch l.Kind {
		case lookMember:
			// Someone of the target's own who happens to hold the address.
			local, _, _ := strings.Cut(l.UPN, "@")
			u = member(local, "Look-alike member", "Analyst")
			u["mail"] = l.Address
		case lookOtherAnchor:
			u = guest(l.Address, "Look-alike (another sync)", "PendingAcceptance")
			u["onPremisesExtensionAttributes"] = map[string]any{"extensionAttribute15": fmt.Sprintf("legacy-sync:%d", 5000+i)}
		default:
			// Invited, then redeemed (Run redeems it with l.Kind).
			u = guest(l.Address, "Look-alike ("+l.Kind+")", "PendingAcceptance")
		}
		users = append(users, u)
	}
	return graphsim.TenantSeed{
		Domain: d, DisplayName: t.DisplayName, Users: users,
		Groups: []graphsim.Object{{"displayName": "Local staff", "mailNickname": "local-staff",
			"members": []string{"it.director@" + d, "service.desk@" + d, "facilities@" + d}}},
	}
}

// initialDomain is a tenant's <name>.onmicrosoft.com domain, which the
// userPrincipalName of its B2B users ends in (graphsim's default).
func initialDomain(domain string) string {
	return strings.SplitN(domain, ".", 2)[0] + ".onmicrosoft.com"
}

// redemption reports whether a look-alike is a redeemed guest, and how it
// redeemed.
func (l lookalike) redemption() (graphsim.Redemption, bool) {
	switch l.Kind {
	case lookMicrosoftAccount, lookEmailOTP:
		return graphsim.Redemption{With: l.Kind}, true
	case lookOtherOrg:
		return graphsim.Redemption{With: l.Kind, Issuer: otherOrg}, true
	}
	return graphsim.Redemption{}, false
}

// anchorPrefix is what tenantsync writes into the anchor attribute of the
// users it creates, before the source object id (docs/tenantsync.example.yaml).
func anchorPrefix() string { return "tenantsync:" + sourceTenantID() + ":" }

// sourceTenantID is the source tenant's id in the simulator, by which the
// configuration names it (configYAML says why).
func sourceTenantID() string { return graphsim.TenantIDOf(sourceDomain) }

// groupAnchorPrefix starts the anchor tenantsync writes into the uniqueName
// of every group it creates, before the source group's id (docs/groups.md:
// tenantsync.<source tenant>.<source group id>; the tenant is named by its
// id here, in lower case).
func groupAnchorPrefix() string { return "tenantsync." + strings.ToLower(sourceTenantID()) + "." }

// groupAnchor is the anchor of the target groups of a source group.
func groupAnchor(sourceGroupID string) string { return groupAnchorPrefix() + sourceGroupID }

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
