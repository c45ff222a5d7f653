package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// directAttributes are the attributes Cross-Tenant Synchronization's
// default mappings copy as they are (internal/mapping's Defaults, written
// out again here so that the oracle shares no code with the engine).
var directAttributes = []string{
	"displayName", "givenName", "surname", "jobTitle", "department", "companyName", "employeeId",
	"officeLocation", "city", "state", "country", "streetAddress", "postalCode", "mobilePhone", "businessPhones",
	"usageLocation", "accountEnabled",
}

// anchorAttribute is the default anchor, where tenantsync records the
// source user of every target user it creates.
const anchorAttribute = "extensionAttribute15"

// allUserProperties are the readable user properties: the fingerprint of a
// user tenantsync must not touch selects them all.
const allUserProperties = "id,accountEnabled,ageGroup,businessPhones,city,companyName,consentProvidedForMinor,country," +
	"createdDateTime,creationType,deletedDateTime,department,displayName,employeeHireDate,employeeId,employeeOrgData," +
	"employeeType,externalUserState,externalUserStateChangeDateTime,faxNumber,givenName,identities,imAddresses," +
	"isResourceAccount,jobTitle,lastPasswordChangeDateTime,legalAgeGroupClassification,mail,mailNickname,mobilePhone," +
	"officeLocation,onPremisesDistinguishedName,onPremisesDomainName,onPremisesExtensionAttributes,onPremisesImmutableId," +
	"onPremisesLastSyncDateTime,onPremisesSamAccountName,onPremisesSecurityIdentifier,onPremisesSyncEnabled," +
	"onPremisesUserPrincipalName,otherMails,passwordPolicies,postalCode,preferredDataLocation,preferredLanguage," +
	"proxyAddresses,securityIdentifier,showInAddressList,signInSessionsValidFromDateTime,state,streetAddress,surname," +
	"usageLocation,userPrincipalName,userType"

// Difference is one way the targets differ from what the configuration
// says they must be.
type Difference struct {
	Target   string `json:"target,omitempty"`
	Kind     string `json:"kind"`
	SourceID string `json:"sourceId,omitempty"`
	UPN      string `json:"userPrincipalName,omitempty"`
	TargetID string `json:"targetId,omitempty"`
	Detail   string `json:"detail"`
}

func (d Difference) String() string {
	var who []string
	if d.UPN != "" {
		who = append(who, d.UPN)
	}
	if d.SourceID != "" {
		who = append(who, "source "+d.SourceID)
	}
	if d.TargetID != "" {
		who = append(who, "target "+d.TargetID)
	}
	s := d.Kind
	if d.Target != "" {
		s = d.Target + ": " + s
	}
	if len(who) > 0 {
		s += " (" + strings.Join(who, ", ") + ")"
	}
	return s + ": " + d.Detail
}

// Kinds of Difference.
const (
	DiffMissing       = "missing"           // an in-scope user has no live target user
	DiffDuplicate     = "duplicate"         // two live target users for one source user
	DiffAttribute     = "attribute"         // a mapped attribute differs
	DiffManager       = "manager"           // the manager is not the manager's target user
	DiffNotDeprovised = "not-deprovisioned" // a live (or enabled) target user for an out-of-scope user
	DiffUnanchored    = "unanchored"        // a target user created during the run that names no source user
	DiffDuplicateMail = "duplicate-mail"    // two live target users with one mail
	DiffTouched       = "touched"           // a user tenantsync did not create changed
)

// user is a user as Graph returned it, decoded.
type user map[string]any

func (u user) str(k string) string { s, _ := u[k].(string); return s }

func (u user) managerID() string {
	m, _ := u["manager"].(map[string]any)
	id, _ := m["id"].(string)
	return id
}

func (u user) anchor() string {
	ext, _ := u["onPremisesExtensionAttributes"].(map[string]any)
	s, _ := ext[anchorAttribute].(string)
	return s
}

// oracle decides, from the source tenant and the configuration alone,
// what each target must hold, and compares it with what each target holds.
// It reads both tenants through plain Graph HTTP: nothing of tenantsync's
// engine, mappings, scope or Graph adapter is on its path.
type oracle struct {
	g       *graphHTTP
	targets []targetSpec
	// untouched are the fingerprints of the users each target had before
	// tenantsync ran, by target domain and user id.
	untouched map[string]map[string]string
}

func newOracle(g *graphHTTP, targets []targetSpec) *oracle {
	return &oracle{g: g, targets: targets, untouched: map[string]map[string]string{}}
}

// Remember fingerprints every user the targets hold now: before the first
// sync, those are the people tenantsync did not create.
func (o *oracle) Remember(ctx context.Context) error {
	for _, t := range o.targets {
		users, err := o.g.All(ctx, t.Domain, "/users?$select=id&$top=999")
		if err != nil {
			return fmt.Errorf("oracle: list %s: %w", t.Domain, err)
		}
		o.untouched[t.Domain] = map[string]string{}
		for _, raw := range users {
			var u struct{ ID string }
			if err := json.Unmarshal(raw, &u); err != nil {
				return fmt.Errorf("oracle: decode: %w", err)
			}
			fp, err := o.fingerprint(ctx, t.Domain, u.ID)
			if err != nil {
				return err
			}
			o.untouched[t.Domain][u.ID] = fp
		}
	}
	return nil
}

// fingerprint is a user's every property, manager, direct reports and group
// memberships, byte for byte as Graph answers them.
func (o *oracle) fingerprint(ctx context.Context, tenant, id string) (string, error) {
	var b strings.Builder
	for _, path := range []string{
		"/users/" + id + "?$select=" + allUserProperties,
		"/users/" + id + "/manager?$select=id,userPrincipalName",
		"/users/" + id + "/directReports?$select=id,userPrincipalName",
		"/users/" + id + "/memberOf?$select=id,displayName",
	} {
		data, err := o.g.Do(ctx, tenant, http.MethodGet, path, nil, nil)
		switch {
		case statusOf(err) == http.StatusNotFound:
			fmt.Fprintf(&b, "%s: 404\n", path)
		case err != nil:
			return "", fmt.Errorf("oracle: fingerprint %s in %s: %w", id, tenant, err)
		default:
			fmt.Fprintf(&b, "%s: %s\n", path, data)
		}
	}
	return b.String(), nil
}

// sourceState is the source tenant as the oracle reads it.
type sourceState struct {
	users map[string]user // live users by id
	// direct and nested are the users in the scoping group directly and
	// through nested groups.
	direct, nested map[string]bool
}

func (o *oracle) readSource(ctx context.Context) (*sourceState, error) {
	sel := "id,userPrincipalName,userType,mail," + strings.Join(directAttributes, ",")
	raw, err := o.g.All(ctx, sourceDomain, "/users?$select="+sel+"&$expand=manager($select=id)&$top=999")
	if err != nil {
		return nil, fmt.Errorf("oracle: list source users: %w", err)
	}
	s := &sourceState{users: map[string]user{}, direct: map[string]bool{}, nested: map[string]bool{}}
	for _, r := range raw {
		var u user
		if err := json.Unmarshal(r, &u); err != nil {
			return nil, fmt.Errorf("oracle: decode source user: %w", err)
		}
		s.users[u.str("id")] = u
	}
	groups, err := o.g.All(ctx, sourceDomain, "/groups?$filter="+url.QueryEscape("displayName eq '"+graphsim.ScopingGroup+"'")+"&$select=id")
	if err != nil {
		return nil, fmt.Errorf("oracle: find the scoping group: %w", err)
	}
	if len(groups) != 1 {
		return nil, fmt.Errorf("oracle: %d groups named %q", len(groups), graphsim.ScopingGroup)
	}
	var scoping struct{ ID string }
	if err := json.Unmarshal(groups[0], &scoping); err != nil {
		return nil, fmt.Errorf("oracle: decode group: %w", err)
	}
	// Membership closure from direct memberships, group by group.
	seen := map[string]bool{scoping.ID: true}
	queue := []string{scoping.ID}
	for len(queue) > 0 {
		gid := queue[0]
		queue = queue[1:]
		members, err := o.g.All(ctx, sourceDomain, "/groups/"+gid+"/members?$select=id&$top=999")
		if err != nil {
			return nil, fmt.Errorf("oracle: members of %s: %w", gid, err)
		}
		for _, r := range members {
			var m struct {
				Type string `json:"@odata.type"`
				ID   string `json:"id"`
			}
			if err := json.Unmarshal(r, &m); err != nil {
				return nil, fmt.Errorf("oracle: decode member: %w", err)
			}
			switch m.Type {
			case "#microsoft.graph.user":
				s.nested[m.ID] = true
				if gid == scoping.ID {
					s.direct[m.ID] = true
				}
			case "#microsoft.graph.group":
				if !seen[m.ID] {
					seen[m.ID] = true
					queue = append(queue, m.ID)
				}
			}
		}
	}
	return s, nil
}

// inScope decides a user's scope in a target as docs/scoping.md says:
// members only (not guests), in the scoping group (directly, or through
// nested groups for a nested scope), and matching a filter.
func (s *sourceState) inScope(t targetSpec, id string) (bool, error) {
	u, live := s.users[id]
	if !live || strings.EqualFold(u.str("userType"), "Guest") {
		return false, nil
	}
	if t.Nested && !s.nested[id] || !t.Nested && !s.direct[id] {
		return false, nil
	}
	return t.matches(u)
}

// expected are the attributes a source user's target user must have.
func expected(u user) map[string]any {
	want := map[string]any{}
	for _, a := range directAttributes {
		want[a] = u[a]
	}
	want["mail"] = u.str("mail")
	if want["mail"] == "" {
		want["mail"] = u.str("userPrincipalName")
	}
	want["showInAddressList"] = true
	want["userType"] = "Member"
	return want
}

// Check compares every target with what the source and the configuration
// say it must hold, and returns the differences, in a stable order.
func (o *oracle) Check(ctx context.Context) ([]Difference, error) {
	src, err := o.readSource(ctx)
	if err != nil {
		return nil, err
	}
	var diffs []Difference
	for _, t := range o.targets {
		d, err := o.checkTarget(ctx, t, src)
		if err != nil {
			return nil, err
		}
		diffs = append(diffs, d...)
	}
	return diffs, nil
}

func (o *oracle) checkTarget(ctx context.Context, t targetSpec, src *sourceState) ([]Difference, error) {
	sel := "id,userPrincipalName,userType,mail,otherMails,creationType,showInAddressList,onPremisesExtensionAttributes," +
		strings.Join(directAttributes, ",")
	raw, err := o.g.All(ctx, t.Domain, "/users?$select="+sel+"&$expand=manager($select=id)&$top=999")
	if err != nil {
		return nil, fmt.Errorf("oracle: list %s users: %w", t.Domain, err)
	}
	var diffs []Difference
	add := func(d Difference) {
		d.Target = t.Name
		diffs = append(diffs, d)
	}
	byAnchor := map[string][]user{} // source id → live target users
	byMail := map[string][]string{}
	live := map[string]user{}
	for _, r := range raw {
		var u user
		if err := json.Unmarshal(r, &u); err != nil {
			return nil, fmt.Errorf("oracle: decode %s user: %w", t.Domain, err)
		}
		id := u.str("id")
		live[id] = u
		if m := strings.ToLower(u.str("mail")); m != "" {
			byMail[m] = append(byMail[m], id)
		}
		if _, before := o.untouched[t.Domain][id]; before {
			continue
		}
		sid, ok := strings.CutPrefix(u.anchor(), anchorPrefix())
		if !ok || sid == "" {
			add(Difference{Kind: DiffUnanchored, TargetID: id, UPN: u.str("userPrincipalName"),
				Detail: fmt.Sprintf("created during the run without the anchor %q (mail %q)", u.anchor(), u.str("mail"))})
			continue
		}
		byAnchor[sid] = append(byAnchor[sid], u)
	}

	// The target user of every in-scope source user, for managers.
	targetOf := map[string]string{}
	inScope := map[string]bool{}
	ids := make([]string, 0, len(src.users))
	for id := range src.users {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		in, err := src.inScope(t, id)
		if err != nil {
			return nil, err
		}
		inScope[id] = in
		if in && len(byAnchor[id]) == 1 {
			targetOf[id] = byAnchor[id][0].str("id")
		}
	}

	for _, id := range ids {
		if !inScope[id] {
			continue
		}
		su := src.users[id]
		upn := su.str("userPrincipalName")
		got := byAnchor[id]
		switch {
		case len(got) == 0:
			add(Difference{Kind: DiffMissing, SourceID: id, UPN: upn, Detail: "in scope, but no live target user carries its anchor"})
			continue
		case len(got) > 1:
			var tids []string
			for _, u := range got {
				tids = append(tids, u.str("id"))
			}
			add(Difference{Kind: DiffDuplicate, SourceID: id, UPN: upn, Detail: "live target users " + strings.Join(tids, ", ")})
			continue
		}
		tu := got[0]
		want := expected(su)
		for _, k := range sortedKeys(want) {
			if !same(want[k], tu[k]) {
				add(Difference{Kind: DiffAttribute, SourceID: id, UPN: upn, TargetID: tu.str("id"),
					Detail: fmt.Sprintf("%s is %s, want %s", k, show(tu[k]), show(want[k]))})
			}
		}
		if d, ok := checkManager(inScope, targetOf, live, su, tu); !ok {
			d.SourceID, d.UPN, d.TargetID = id, upn, tu.str("id")
			add(d)
		}
	}

	// Users out of scope, soft deleted or gone: deprovisioned as configured.
	sids := make([]string, 0, len(byAnchor))
	for sid := range byAnchor {
		sids = append(sids, sid)
	}
	slices.Sort(sids)
	for _, sid := range sids {
		if inScope[sid] {
			continue
		}
		why := "out of scope"
		if _, isLive := src.users[sid]; !isLive {
			why = "deleted in the source"
		}
		for _, u := range byAnchor[sid] {
			switch t.Action {
			case "delete":
				add(Difference{Kind: DiffNotDeprovised, SourceID: sid, TargetID: u.str("id"), UPN: src.users[sid].str("userPrincipalName"),
					Detail: why + ", but its target user is live (deprovision action delete)"})
			case "disable":
				if u["accountEnabled"] != false {
					add(Difference{Kind: DiffNotDeprovised, SourceID: sid, TargetID: u.str("id"), UPN: src.users[sid].str("userPrincipalName"),
						Detail: why + ", but its target user is enabled (deprovision action disable)"})
				}
			}
		}
	}

	for _, m := range sortedKeys(byMail) {
		if tids := byMail[m]; len(tids) > 1 {
			slices.Sort(tids)
			add(Difference{Kind: DiffDuplicateMail, Detail: fmt.Sprintf("%s is the mail of %s", m, strings.Join(tids, ", "))})
		}
	}

	for _, id := range sortedKeys(o.untouched[t.Domain]) {
		fp, err := o.fingerprint(ctx, t.Domain, id)
		if err != nil {
			return nil, err
		}
		if fp != o.untouched[t.Domain][id] {
			add(Difference{Kind: DiffTouched, TargetID: id, Detail: "a user tenantsync did not create changed: " +
				fingerprintDiff(o.untouched[t.Domain][id], fp)})
		}
	}
	return diffs, nil
}

// fingerprintDiff describes where two fingerprints differ: the request and
// a window around the first differing byte.
func fingerprintDiff(before, after string) string {
	b, a := strings.Split(before, "\n"), strings.Split(after, "\n")
	var out []string
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(b) {
			x = b[i]
		}
		if i < len(a) {
			y = a[i]
		}
		if x == y {
			continue
		}
		path, _, _ := strings.Cut(x+y, ": ")
		j := 0
		for j < len(x) && j < len(y) && x[j] == y[j] {
			j++
		}
		from := max(0, j-60)
		out = append(out, fmt.Sprintf("%s: before …%s… after …%s…", path, x[from:min(len(x), j+60)], y[from:min(len(y), j+60)]))
	}
	return strings.Join(out, "; ")
}

// checkManager: the target user's manager must be the target user of the
// source user's manager when that manager is in scope. Otherwise the engine
// leaves the manager as it was (as Cross-Tenant Synchronization does), so
// the oracle accepts none, or a manager tenantsync has deprovisioned — but
// never an active synced user other than the right one, nor someone
// tenantsync did not create.
func checkManager(inScope map[string]bool, targetOf map[string]string, live map[string]user, su, tu user) (Difference, bool) {
	got := tu.managerID()
	srcMgr := su.managerID()
	if srcMgr != "" && inScope[srcMgr] {
		want := targetOf[srcMgr]
		if want == "" {
			return Difference{}, true // the manager's own problem is reported on its own
		}
		if got != want {
			return Difference{Kind: DiffManager, Detail: fmt.Sprintf("manager is %s, want %s (the target user of source manager %s)",
				show(got), want, srcMgr)}, false
		}
		return Difference{}, true
	}
	if got == "" {
		return Difference{}, true
	}
	m, isLive := live[got]
	if !isLive {
		return Difference{}, true
	}
	sid, ours := strings.CutPrefix(m.anchor(), anchorPrefix())
	if !ours {
		return Difference{Kind: DiffManager, Detail: fmt.Sprintf("manager is %s, a target user tenantsync did not create", got)}, false
	}
	if inScope[sid] {
		return Difference{Kind: DiffManager, Detail: fmt.Sprintf("manager is %s (the target user of source user %s), but the source manager is %s",
			got, sid, show(srcMgr))}, false
	}
	return Difference{}, true
}

// same compares attribute values as Graph means them: null, "" and [] are
// all "no value".
func same(want, got any) bool {
	want, got = normalize(want), normalize(got)
	switch w := want.(type) {
	case nil:
		return got == nil
	case []string:
		g, ok := got.([]string)
		return ok && slices.Equal(w, g)
	default:
		return want == got
	}
}

func normalize(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		if x == "" {
			return nil
		}
	case []any:
		if len(x) == 0 {
			return nil
		}
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, _ := e.(string)
			out = append(out, s)
		}
		return out
	case []string:
		if len(x) == 0 {
			return nil
		}
	}
	return v
}

func show(v any) string {
	v = normalize(v)
	if v == nil {
		return "∅"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
