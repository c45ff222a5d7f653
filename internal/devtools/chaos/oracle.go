package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
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
	Target string `json:"target,omitempty"`
	Kind   string `json:"kind"`
	// SourceID and TargetID are a user's, or for the kinds group-… a
	// group's, whose source display name Group then holds.
	SourceID string `json:"sourceId,omitempty"`
	UPN      string `json:"userPrincipalName,omitempty"`
	Group    string `json:"group,omitempty"`
	TargetID string `json:"targetId,omitempty"`
	Detail   string `json:"detail"`
}

func (d Difference) String() string {
	var who []string
	if d.UPN != "" {
		who = append(who, d.UPN)
	}
	if d.Group != "" {
		who = append(who, "group "+strconv.Quote(d.Group))
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
	DiffTouched       = "touched"           // a user tenantsync did not create changed, or was written to
	DiffConflict      = "conflict"          // a look-alike's source user was provisioned, or its conflict not reported
	DiffHeldExecuted  = "held-executed"     // a deprovision in the guard target was carried out: a burst trickled through
	DiffNotHeld       = "not-held"          // a burst's deprovision is not staged, or something else is
	DiffWrongful      = "wrongful"          // tenantsync deleted or disabled the target user of a user kept in scope
	DiffDuplicateInv  = "duplicate-invitation"
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

// sourceOf returns the source user id a target user's anchor names.
func (u user) sourceOf() (string, bool) {
	sid, ok := strings.CutPrefix(u.anchor(), anchorPrefix())
	return sid, ok && sid != ""
}

// sensitiveAttributes are the mapped attributes Graph refuses to change on
// a user who holds an administrator role (docs/simulator.md, "Privileged
// users"): for such a user they may lag behind the source.
var sensitiveAttributes = map[string]bool{"accountEnabled": true, "businessPhones": true, "mobilePhone": true}

// rules are what the suite itself did, which changes what the targets must
// hold: the fault plan writes them as it acts, the oracle reads them.
// Nothing in them comes from tenantsync.
type rules struct {
	mu sync.Mutex
	// adminDisabled: a target administrator disabled the target user of a
	// source user (target domain → source id) whose accountEnabled the
	// workload then leaves alone: it must stay disabled.
	adminDisabled map[string]map[string]bool
	// privileged are target users (target domain → target id) that hold an
	// administrator role: their sensitive attributes may lag, and they
	// cannot be deprovisioned.
	privileged map[string]map[string]bool
	// lookalikes hold source users' addresses in the targets.
	lookalikes []lookalike
	// bursts are the source users the fault plan took out of the guard
	// target's scope or disabled, in bursts over its threshold.
	bursts map[string]bool
	// kept are the source users the workload keeps in the scope of every
	// target but the guard target (the pool, the look-alikes' users), with
	// the time the fault plan released one (zero: kept still).
	kept map[string]time.Time
	// hand are the members a target administrator added by hand to
	// tenantsync's groups (target domain → source group id → target user
	// ids): tenantsync did not add them, so they must stay.
	hand map[string]map[string]map[string]bool
}

func newRules(c cast) *rules {
	r := &rules{adminDisabled: map[string]map[string]bool{}, privileged: map[string]map[string]bool{},
		lookalikes: c.lookalikes, bursts: map[string]bool{}, kept: map[string]time.Time{},
		hand: map[string]map[string]map[string]bool{}}
	for _, id := range c.pool {
		r.kept[id] = time.Time{}
	}
	for _, l := range c.lookalikes {
		r.kept[l.SourceID] = time.Time{}
	}
	return r
}

func (r *rules) set(m map[string]map[string]bool, domain, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m[domain] == nil {
		m[domain] = map[string]bool{}
	}
	m[domain][id] = true
}

func (r *rules) AdminDisabled(domain, sourceID string) { r.set(r.adminDisabled, domain, sourceID) }
func (r *rules) Privileged(domain, targetID string)    { r.set(r.privileged, domain, targetID) }

// HandMember records that a target administrator added a target user to
// the target group of a synced source group.
func (r *rules) HandMember(domain, sourceGroupID, targetUserID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hand[domain] == nil {
		r.hand[domain] = map[string]map[string]bool{}
	}
	if r.hand[domain][sourceGroupID] == nil {
		r.hand[domain][sourceGroupID] = map[string]bool{}
	}
	r.hand[domain][sourceGroupID][targetUserID] = true
}

// Burst records the users of a burst.
func (r *rules) Burst(ids []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		r.bursts[id] = true
	}
}

// Release ends keeping a user in scope, as of now.
func (r *rules) Release(sourceID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if at, ok := r.kept[sourceID]; ok && at.IsZero() {
		r.kept[sourceID] = time.Now()
	}
}

// keptAt reports whether a source user was kept in scope at a time.
func (r *rules) keptAt(sourceID string, at time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	released, ok := r.kept[sourceID]
	return ok && (released.IsZero() || at.Before(released))
}

// view is a consistent copy of the rules for one check.
type view struct {
	adminDisabled, privileged map[string]map[string]bool
	lookalikes                map[string]map[string]lookalike // target domain → source id
	bursts                    map[string]bool
	hand                      map[string]map[string]map[string]bool // target domain → source group id → target user ids
}

func (r *rules) view() view {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := view{adminDisabled: map[string]map[string]bool{}, privileged: map[string]map[string]bool{},
		lookalikes: map[string]map[string]lookalike{}, bursts: maps.Clone(r.bursts), hand: map[string]map[string]map[string]bool{}}
	for d, m := range r.adminDisabled {
		v.adminDisabled[d] = maps.Clone(m)
	}
	for d, m := range r.privileged {
		v.privileged[d] = maps.Clone(m)
	}
	for d, byGroup := range r.hand {
		v.hand[d] = map[string]map[string]bool{}
		for g, ids := range byGroup {
			v.hand[d][g] = maps.Clone(ids)
		}
	}
	for _, l := range r.lookalikes {
		if v.lookalikes[l.Target] == nil {
			v.lookalikes[l.Target] = map[string]lookalike{}
		}
		v.lookalikes[l.Target][l.SourceID] = l
	}
	return v
}

// claims are what tenantsync's status page says of the targets, by target
// name: the oracle holds them against what it computes on its own.
type claims struct {
	// Staged are the source users whose deprovision the deletion guard
	// holds for approval.
	Staged map[string][]string
	// Conflicts count the source users in conflict with a target user that
	// is not provably theirs.
	Conflicts map[string]int
	// Groups are the target's group links by state ("active", "conflict",
	// …, the status page's groupLinks); none when it lists none.
	Groups map[string]map[string]int
}

// oracle decides, from the source tenant, the configuration and what the
// suite did (rules) alone, what each target must hold, and compares it
// with what each target holds. It reads both tenants through plain Graph
// HTTP: nothing of tenantsync's engine, mappings, scope or Graph adapter is
// on its path.
type oracle struct {
	g       *graphHTTP
	targets []targetSpec
	// groups are the source groups every target syncs.
	groups []syncedGroup
	rules  *rules
	// untouched are the fingerprints of the users each target had before
	// tenantsync ran, by target domain and user id; untouchedGroups those
	// of its groups (but tenantsync's own: a test world may hold them).
	untouched, untouchedGroups map[string]map[string]string
	// anchors are the source users the target users carry the anchor of,
	// live or soft deleted, by target domain and target user id, as of the
	// last Check.
	anchors map[string]map[string]string
}

func newOracle(g *graphHTTP, targets []targetSpec, groups []syncedGroup, r *rules) *oracle {
	return &oracle{g: g, targets: targets, groups: groups, rules: r, untouched: map[string]map[string]string{},
		untouchedGroups: map[string]map[string]string{}, anchors: map[string]map[string]string{}}
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
		groups, err := o.g.All(ctx, t.Domain, "/groups?$select=id,uniqueName&$top=999")
		if err != nil {
			return fmt.Errorf("oracle: list %s groups: %w", t.Domain, err)
		}
		o.untouchedGroups[t.Domain] = map[string]string{}
		for _, raw := range groups {
			var g struct{ ID, UniqueName string }
			if err := json.Unmarshal(raw, &g); err != nil {
				return fmt.Errorf("oracle: decode %s group: %w", t.Domain, err)
			}
			if strings.HasPrefix(g.UniqueName, groupAnchorPrefix()) {
				continue
			}
			fp, err := o.groupFingerprint(ctx, t.Domain, g.ID)
			if err != nil {
				return err
			}
			o.untouchedGroups[t.Domain][g.ID] = fp
		}
	}
	return nil
}

// Refingerprint takes a new fingerprint of a user tenantsync did not
// create, after the suite itself changed it (a target administrator added
// it to a group by hand). The caller waits for Graph to replicate the
// change first.
func (o *oracle) Refingerprint(ctx context.Context, domain, id string) error {
	if _, ok := o.untouched[domain][id]; !ok {
		return nil
	}
	fp, err := o.fingerprint(ctx, domain, id)
	if err != nil {
		return err
	}
	o.untouched[domain][id] = fp
	return nil
}

// fingerprint is a user's every property, manager, direct reports and group
// memberships, byte for byte as Graph answers them. The groups are named
// by id alone: a group of tenantsync's that a target administrator added
// the user to is renamed with its source group, which touches no user.
func (o *oracle) fingerprint(ctx context.Context, tenant, id string) (string, error) {
	var b strings.Builder
	for _, path := range []string{
		"/users/" + id + "?$select=" + allUserProperties,
		"/users/" + id + "/manager?$select=id,userPrincipalName",
		"/users/" + id + "/directReports?$select=id,userPrincipalName",
		"/users/" + id + "/memberOf?$select=id",
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
	// direct and nested are the users in each scoping group (by display
	// name) directly and through nested groups.
	direct, nested map[string]map[string]bool
	// groups are the synced groups, in the order of the oracle's.
	groups []sourceGroup
}

// sourceGroup is a synced source group as the oracle reads it.
type sourceGroup struct {
	ID, DisplayName string
	// direct are its user members; nested its users through nested groups
	// too.
	direct, nested map[string]bool
}

// users are the source group's users that a target's group takes: through
// nested groups too when the target's scope is nested (docs/groups.md).
func (g sourceGroup) users(t targetSpec) map[string]bool {
	if t.Nested {
		return g.nested
	}
	return g.direct
}

func (o *oracle) readSource(ctx context.Context) (*sourceState, error) {
	sel := "id,userPrincipalName,userType,mail,creationType,externalUserState," + strings.Join(directAttributes, ",")
	raw, err := o.g.All(ctx, sourceDomain, "/users?$select="+sel+"&$expand=manager($select=id)&$top=999")
	if err != nil {
		return nil, fmt.Errorf("oracle: list source users: %w", err)
	}
	s := &sourceState{users: map[string]user{}, direct: map[string]map[string]bool{}, nested: map[string]map[string]bool{}}
	for _, r := range raw {
		var u user
		if err := json.Unmarshal(r, &u); err != nil {
			return nil, fmt.Errorf("oracle: decode source user: %w", err)
		}
		s.users[u.str("id")] = u
	}
	for _, t := range o.targets {
		if _, done := s.direct[t.Group]; done {
			continue
		}
		if err := s.readGroup(ctx, o.g, t.Group); err != nil {
			return nil, err
		}
	}
	for _, sg := range o.groups {
		var g struct{ ID, DisplayName string }
		if _, err := o.g.Do(ctx, sourceDomain, http.MethodGet, "/groups/"+sg.ID+"?$select=id,displayName", nil, &g); err != nil {
			return nil, fmt.Errorf("oracle: read the synced group %s (%s): %w", sg.ID, sg.Key, err)
		}
		direct, nested, err := closure(ctx, o.g, g.ID)
		if err != nil {
			return nil, err
		}
		s.groups = append(s.groups, sourceGroup{ID: g.ID, DisplayName: g.DisplayName, direct: direct, nested: nested})
	}
	return s, nil
}

// readGroup computes a scoping group's direct members and its membership
// closure.
func (s *sourceState) readGroup(ctx context.Context, g *graphHTTP, name string) error {
	groups, err := g.All(ctx, sourceDomain, "/groups?$filter="+url.QueryEscape("displayName eq '"+name+"'")+"&$select=id")
	if err != nil {
		return fmt.Errorf("oracle: find the scoping group %q: %w", name, err)
	}
	if len(groups) != 1 {
		return fmt.Errorf("oracle: %d groups named %q", len(groups), name)
	}
	var scoping struct{ ID string }
	if err := json.Unmarshal(groups[0], &scoping); err != nil {
		return fmt.Errorf("oracle: decode group: %w", err)
	}
	direct, nested, err := closure(ctx, g, scoping.ID)
	if err != nil {
		return err
	}
	s.direct[name], s.nested[name] = direct, nested
	return nil
}

// closure returns a group's direct user members and the users in it
// through nested groups too, computed from direct memberships group by
// group (not from Graph's transitiveMembers, which the engine reads).
func closure(ctx context.Context, g *graphHTTP, id string) (direct, nested map[string]bool, err error) {
	direct, nested = map[string]bool{}, map[string]bool{}
	seen := map[string]bool{id: true}
	queue := []string{id}
	for len(queue) > 0 {
		gid := queue[0]
		queue = queue[1:]
		members, err := g.All(ctx, sourceDomain, "/groups/"+gid+"/members?$select=id&$top=999")
		if err != nil {
			return nil, nil, fmt.Errorf("oracle: members of %s: %w", gid, err)
		}
		for _, r := range members {
			var m struct {
				Type string `json:"@odata.type"`
				ID   string `json:"id"`
			}
			if err := json.Unmarshal(r, &m); err != nil {
				return nil, nil, fmt.Errorf("oracle: decode member: %w", err)
			}
			switch m.Type {
			case "#microsoft.graph.user":
				nested[m.ID] = true
				if gid == id {
					direct[m.ID] = true
				}
			case "#microsoft.graph.group":
				if !seen[m.ID] {
					seen[m.ID] = true
					queue = append(queue, m.ID)
				}
			}
		}
	}
	return direct, nested, nil
}

// external says why a source user is an external (B2B) user of the source
// tenant, or "": a userPrincipalName with #EXT#, creationType Invitation, or
// an externalUserState. userType says nothing here (B2B users may be
// members).
func external(u user) string {
	switch {
	case strings.Contains(strings.ToUpper(u.str("userPrincipalName")), "#EXT#"):
		return "#EXT# userPrincipalName"
	case strings.EqualFold(u.str("creationType"), "Invitation"):
		return "creationType Invitation"
	case u.str("externalUserState") != "":
		return "externalUserState " + u.str("externalUserState")
	}
	return ""
}

// inScope decides a user's scope in a target as docs/scoping.md says:
// internal members only (not guests, not external users), in the scoping
// group (directly, or through nested groups for a nested scope), and
// matching a filter.
func (s *sourceState) inScope(t targetSpec, id string) (bool, error) {
	u, live := s.users[id]
	if !live || strings.EqualFold(u.str("userType"), "Guest") || external(u) != "" {
		return false, nil
	}
	if t.Nested && !s.nested[t.Group][id] || !t.Nested && !s.direct[t.Group][id] {
		return false, nil
	}
	return t.matches(u)
}

// expected are the attributes a source user's target user must have: the
// default mappings, and the target's userType, which tenantsync writes on
// create only — every target user with an anchor in this scenario was
// created by tenantsync (a look-alike is never adopted), so it is the
// configured one.
func expected(u user, t targetSpec) map[string]any {
	want := map[string]any{}
	for _, a := range directAttributes {
		want[a] = u[a]
	}
	want["mail"] = u.str("mail")
	if want["mail"] == "" {
		want["mail"] = u.str("userPrincipalName")
	}
	want["userType"] = t.UserType
	return want
}

// Check compares every target with what the source, the configuration and
// the rules say it must hold, and holds tenantsync's claims (nil: none
// read) against it. It returns the differences, in a stable order.
func (o *oracle) Check(ctx context.Context, cl *claims) ([]Difference, error) {
	src, err := o.readSource(ctx)
	if err != nil {
		return nil, err
	}
	v := o.rules.view()
	var diffs []Difference
	for _, t := range o.targets {
		d, err := o.checkTarget(ctx, t, src, v, cl)
		if err != nil {
			return nil, err
		}
		diffs = append(diffs, d...)
	}
	return diffs, nil
}

func (o *oracle) checkTarget(ctx context.Context, t targetSpec, src *sourceState, v view, cl *claims) ([]Difference, error) {
	sel := "id,userPrincipalName,userType,mail,otherMails,creationType,onPremisesExtensionAttributes," +
		strings.Join(directAttributes, ",")
	raw, err := o.g.All(ctx, t.Domain, "/users?$select="+sel+"&$expand=manager($select=id)&$top=999")
	if err != nil {
		return nil, fmt.Errorf("oracle: list %s users: %w", t.Domain, err)
	}
	rawDeleted, err := o.g.All(ctx, t.Domain, "/directory/deletedItems/microsoft.graph.user?$select=id,onPremisesExtensionAttributes&$top=999")
	if err != nil {
		return nil, fmt.Errorf("oracle: list %s deleted users: %w", t.Domain, err)
	}
	var diffs []Difference
	add := func(d Difference) {
		d.Target = t.Name
		diffs = append(diffs, d)
	}
	anchors := map[string]string{}
	byAnchor := map[string][]user{} // source id → live target users
	live := map[string]user{}
	for _, r := range raw {
		var u user
		if err := json.Unmarshal(r, &u); err != nil {
			return nil, fmt.Errorf("oracle: decode %s user: %w", t.Domain, err)
		}
		id := u.str("id")
		live[id] = u
		if _, before := o.untouched[t.Domain][id]; before {
			continue
		}
		sid, ok := u.sourceOf()
		if !ok {
			add(Difference{Kind: DiffUnanchored, TargetID: id, UPN: u.str("userPrincipalName"),
				Detail: fmt.Sprintf("created during the run without the anchor %q (mail %q)", u.anchor(), u.str("mail"))})
			continue
		}
		anchors[id] = sid
		byAnchor[sid] = append(byAnchor[sid], u)
	}
	deletedOf := map[string][]string{} // source id → soft-deleted target users
	for _, r := range rawDeleted {
		var u user
		if err := json.Unmarshal(r, &u); err != nil {
			return nil, fmt.Errorf("oracle: decode %s deleted user: %w", t.Domain, err)
		}
		if sid, ok := u.sourceOf(); ok {
			anchors[u.str("id")] = sid
			deletedOf[sid] = append(deletedOf[sid], u.str("id"))
		}
	}
	o.anchors[t.Domain] = anchors

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
	staged := map[string]bool{}
	if cl != nil {
		for _, id := range cl.Staged[t.Name] {
			staged[id] = true
		}
	}
	// held is a burst user's deprovision in the guard target: the guard
	// must hold it, so the target user stays live and enabled, and
	// tenantsync must say it is staged.
	held := func(sid string, u user, what string) {
		if u["accountEnabled"] == false {
			add(Difference{Kind: DiffHeldExecuted, SourceID: sid, TargetID: u.str("id"), UPN: src.users[sid].str("userPrincipalName"),
				Detail: what + " in a burst over the threshold, but its target user was disabled: the guard let it through"})
		}
		if cl != nil && !staged[sid] {
			add(Difference{Kind: DiffNotHeld, SourceID: sid, TargetID: u.str("id"), UPN: src.users[sid].str("userPrincipalName"),
				Detail: what + " in a burst over the threshold, but tenantsync does not list its deprovision as staged"})
		}
	}

	conflicts := 0
	for _, id := range ids {
		if !inScope[id] {
			continue
		}
		su := src.users[id]
		upn := su.str("userPrincipalName")
		got := byAnchor[id]
		if l, ok := v.lookalikes[t.Domain][id]; ok {
			// Its address is held by someone who is not provably this user:
			// a conflict, never provisioned.
			conflicts++
			for _, u := range got {
				add(Difference{Kind: DiffConflict, SourceID: id, UPN: upn, TargetID: u.str("id"),
					Detail: fmt.Sprintf("provisioned, although %s (a look-alike: %s) holds its address %s", l.UPN, l.Kind, l.Address)})
			}
			continue
		}
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
		tid := tu.str("id")
		want := expected(su, t)
		switch {
		case v.adminDisabled[t.Domain][id]:
			// A target administrator disabled it while the source user was
			// enabled, and the source's accountEnabled has not changed since.
			want["accountEnabled"] = false
		case t.Guarded && v.bursts[id] && su["accountEnabled"] == false:
			held(id, tu, "disabled in the source")
			want["accountEnabled"] = tu["accountEnabled"]
		}
		for _, k := range sortedKeys(want) {
			if sensitiveAttributes[k] && v.privileged[t.Domain][tid] {
				continue // the target refuses to write it: it may lag
			}
			if !same(want[k], tu[k]) {
				add(Difference{Kind: DiffAttribute, SourceID: id, UPN: upn, TargetID: tid,
					Detail: fmt.Sprintf("%s is %s, want %s", k, show(tu[k]), show(want[k]))})
			}
		}
		if d, ok := checkManager(inScope, targetOf, live, su, tu); !ok {
			d.SourceID, d.UPN, d.TargetID = id, upn, tid
			add(d)
		}
	}

	// Users out of scope, soft deleted or gone: deprovisioned as configured,
	// unless the guard holds them or the target refuses.
	sids := make([]string, 0, len(byAnchor)+len(deletedOf))
	for sid := range byAnchor {
		sids = append(sids, sid)
	}
	for sid := range deletedOf {
		if _, ok := byAnchor[sid]; !ok {
			sids = append(sids, sid)
		}
	}
	slices.Sort(sids)
	for _, sid := range sids {
		upn := src.users[sid].str("userPrincipalName")
		if t.Guarded && v.bursts[sid] && len(byAnchor[sid]) == 0 {
			for _, tid := range deletedOf[sid] {
				add(Difference{Kind: DiffHeldExecuted, SourceID: sid, TargetID: tid, UPN: upn,
					Detail: "in a burst over the threshold, but its target user was deleted: the guard let it through"})
			}
		}
		if inScope[sid] {
			continue
		}
		why := "out of scope"
		if _, isLive := src.users[sid]; !isLive {
			why = "deleted in the source"
		}
		for _, u := range byAnchor[sid] {
			switch {
			case t.Guarded && v.bursts[sid]:
				held(sid, u, "out of scope")
			case v.privileged[t.Domain][u.str("id")]:
				// An administrator: the target refuses to delete or disable
				// it, and tenantsync records the error on this user alone.
			case t.Action == "delete":
				add(Difference{Kind: DiffNotDeprovised, SourceID: sid, TargetID: u.str("id"), UPN: upn,
					Detail: why + ", but its target user is live (deprovision action delete)"})
			case t.Action == "disable" && u["accountEnabled"] != false:
				add(Difference{Kind: DiffNotDeprovised, SourceID: sid, TargetID: u.str("id"), UPN: upn,
					Detail: why + ", but its target user is enabled (deprovision action disable)"})
			}
		}
	}

	if cl != nil {
		if n := cl.Conflicts[t.Name]; n != conflicts {
			add(Difference{Kind: DiffConflict, Detail: fmt.Sprintf("tenantsync reports %d users in conflict, want %d (the in-scope users whose address a look-alike holds)",
				n, conflicts)})
		}
		for _, sid := range sortedKeys(staged) {
			switch {
			case !t.Guarded:
				add(Difference{Kind: DiffNotHeld, SourceID: sid, UPN: src.users[sid].str("userPrincipalName"),
					Detail: fmt.Sprintf("staged for approval, but the threshold (%d) is out of the workload's reach", t.Threshold)})
			case !v.bursts[sid]:
				add(Difference{Kind: DiffNotHeld, SourceID: sid, UPN: src.users[sid].str("userPrincipalName"),
					Detail: "staged for approval, but no burst ever took this user out"})
			}
		}
	}

	gd, err := o.checkGroups(ctx, t, src, v, cl, groupFacts{live: live, byAnchor: byAnchor, inScope: inScope})
	if err != nil {
		return nil, err
	}
	for _, d := range gd {
		add(d)
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

// Safety holds what tenantsync wrote to the targets (the interceptor's
// record) against three promises: an address is invited into one target
// user only, the guard target carries out no deprovision (each one there
// belongs to a burst over its threshold), and no target user of a user
// kept in scope, nor any user tenantsync did not create, is deleted,
// disabled or written to. It uses the anchors of the last Check.
func (o *oracle) Safety(writes []targetWrite, invites []invitation) ([]Difference, SafetyCounts) {
	var diffs []Difference
	var n SafetyCounts
	name := map[string]targetSpec{}
	for _, t := range o.targets {
		name[t.Domain] = t
	}
	for _, w := range writes {
		t := name[w.Tenant]
		sid := o.anchors[w.Tenant][w.ID]
		deprovision := w.Kind == writeDelete || w.Kind == writeDisable
		switch {
		case o.untouched[w.Tenant][w.ID] != "":
			n.Touched++
			diffs = append(diffs, Difference{Target: t.Name, Kind: DiffTouched, TargetID: w.ID,
				Detail: fmt.Sprintf("tenantsync wrote to a user it did not create (%s at %s)", w.Kind, w.At.Format(time.TimeOnly))})
		case deprovision && t.Guarded:
			n.HeldExecuted++
			diffs = append(diffs, Difference{Target: t.Name, Kind: DiffHeldExecuted, TargetID: w.ID, SourceID: sid,
				Detail: fmt.Sprintf("tenantsync carried out a deprovision (%s at %s) in the guard target, where every one belongs to a burst over the threshold",
					w.Kind, w.At.Format(time.TimeOnly))})
		case deprovision && sid != "" && o.rules.keptAt(sid, w.At):
			n.Wrongful++
			diffs = append(diffs, Difference{Target: t.Name, Kind: DiffWrongful, TargetID: w.ID, SourceID: sid,
				Detail: fmt.Sprintf("tenantsync deprovisioned (%s at %s) the target user of a source user kept in scope and enabled", w.Kind, w.At.Format(time.TimeOnly))})
		}
	}
	type key struct{ tenant, who string }
	byAddress := map[key]map[string]bool{}
	bySource := map[key]map[string]bool{}
	for _, inv := range invites {
		n.Invitations++
		k := key{inv.Tenant, strings.ToLower(inv.Address)}
		if byAddress[k] == nil {
			byAddress[k] = map[string]bool{}
		}
		if byAddress[k][inv.UserID] {
			n.Reinvitations++
		}
		byAddress[k][inv.UserID] = true
		if sid := o.anchors[inv.Tenant][inv.UserID]; sid != "" {
			k := key{inv.Tenant, sid}
			if bySource[k] == nil {
				bySource[k] = map[string]bool{}
			}
			bySource[k][inv.UserID] = true
		}
	}
	report := func(m map[key]map[string]bool, what string) {
		keys := make([]key, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b key) int { return strings.Compare(a.tenant+" "+a.who, b.tenant+" "+b.who) })
		for _, k := range keys {
			if ids := m[k]; len(ids) > 1 {
				n.DuplicateInvitations += len(ids) - 1
				diffs = append(diffs, Difference{Target: name[k.tenant].Name, Kind: DiffDuplicateInv,
					Detail: fmt.Sprintf("%s %s was invited into %d target users: %s", what, k.who, len(ids), strings.Join(sortedKeys(ids), ", "))})
			}
		}
	}
	report(byAddress, "the address")
	report(bySource, "source user")
	return diffs, n
}

// SafetyCounts count what Safety found.
type SafetyCounts struct {
	// Invitations are tenantsync's successful POST /invitations;
	// Reinvitations those that returned a user an earlier one to the same
	// address had returned (a retry while Graph replicates: harmless).
	Invitations   int `json:"invitations"`
	Reinvitations int `json:"reinvitations"`
	// DuplicateInvitations count target users an address or a source user
	// was invited into beyond the first.
	DuplicateInvitations int `json:"duplicateInvitations"`
	// Wrongful counts deletes and disables of target users whose source
	// users were kept in scope; Touched, writes to users tenantsync did not
	// create; HeldExecuted, deprovisions carried out in the guard target.
	Wrongful     int `json:"wrongfulDeprovisions"`
	Touched      int `json:"touchedWrites"`
	HeldExecuted int `json:"heldExecuted"`
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
