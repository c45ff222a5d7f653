package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// The oracle's check of the synced groups (docs/groups.md): in every
// target, one live security group per synced source group carrying
// tenantsync's anchor, named as the target's group mapping says, whose
// members are exactly the target users linked to the source group's
// members in the target's scope — flattened through nested groups where
// the scope is nested — plus those whose deprovision the deletion guard
// holds and those a target administrator added by hand. It works from the
// source, the targets and the rules alone, as the user check does.

// Kinds of Difference for the synced groups.
const (
	DiffGroupMissing    = "group-missing"    // no live target group carries a synced group's anchor
	DiffGroupDuplicate  = "group-duplicate"  // more than one does
	DiffGroupName       = "group-name"       // its displayName is not the mapped name of the source group's
	DiffGroupType       = "group-type"       // it is not a security group
	DiffGroupMembers    = "group-members"    // its members are not exactly the expected ones
	DiffGroupUnanchored = "group-unanchored" // a group created during the run that is no synced group's
	DiffGroupStatus     = "group-status"     // tenantsync's status page says otherwise of its group links
)

// targetGroupSelect are the properties the oracle reads of target groups.
const targetGroupSelect = "id,displayName,uniqueName,securityEnabled,mailEnabled,groupTypes"

// targetGroup is a live target group as the oracle reads it.
type targetGroup struct {
	ID              string   `json:"id"`
	DisplayName     string   `json:"displayName"`
	UniqueName      string   `json:"uniqueName"`
	SecurityEnabled *bool    `json:"securityEnabled"`
	MailEnabled     *bool    `json:"mailEnabled"`
	GroupTypes      []string `json:"groupTypes"`
	// members are its direct members.
	members []groupMember
}

// groupMember is a direct member of a target group.
type groupMember struct {
	Type string `json:"@odata.type"`
	ID   string `json:"id"`
}

// groupFacts are what the user check of a target learned, which the
// group check builds on: the target's live users by id, those carrying an
// anchor by source user, and the source users' scope in the target.
type groupFacts struct {
	live     map[string]user
	byAnchor map[string][]user
	inScope  map[string]bool
}

// memberFacts decide the members of one target's groups.
type memberFacts struct {
	// targetOf is the live target user of a source user whose membership
	// the oracle decides; sourceOf is the source user a live target user's
	// anchor names.
	targetOf, sourceOf map[string]string
	inScope            map[string]bool
	// held are source users out of scope whose deprovision the deletion
	// guard holds: their target users stay members until it is carried out.
	held map[string]bool
	// open are target users that may be members or not: those
	// the user check reports already (a source user with several live
	// target users, a look-alike's source user provisioned), and those out
	// of scope that the target refuses to deprovision (an administrator),
	// whom tenantsync may still count or not.
	open map[string]bool
	// hand are the live target users an administrator added to this
	// group by hand: tenantsync did not add them, so they stay.
	hand map[string]bool
}

// wantMembers returns the target users that must be members of a synced
// group's target group, each with why, and those that may be.
func wantMembers(t targetSpec, g sourceGroup, f memberFacts) (must map[string]string, may map[string]bool) {
	must, may = map[string]string{}, map[string]bool{}
	for _, sid := range sortedKeys(g.users(t)) {
		tid := f.targetOf[sid]
		switch {
		case tid == "":
		case f.inScope[sid]:
			must[tid] = "source user " + sid
		case f.held[sid]:
			must[tid] = "source user " + sid + ", out of scope but its deprovision is held"
		}
	}
	for tid := range f.open {
		may[tid] = true
	}
	for tid := range f.hand {
		must[tid] = "added by hand"
	}
	return must, may
}

// judgeGroup compares the live target groups that carry a synced group's
// anchor with what the one such group must be.
func judgeGroup(t targetSpec, g sourceGroup, found []targetGroup, f memberFacts) []Difference {
	diff := func(kind, targetID, format string, args ...any) Difference {
		return Difference{Target: t.Name, Kind: kind, SourceID: g.ID, Group: g.DisplayName, TargetID: targetID,
			Detail: fmt.Sprintf(format, args...)}
	}
	switch len(found) {
	case 0:
		return []Difference{diff(DiffGroupMissing, "", "no live target group carries its anchor %q", groupAnchor(g.ID))}
	case 1:
	default:
		ids := make([]string, len(found))
		for i, tg := range found {
			ids[i] = tg.ID
		}
		return []Difference{diff(DiffGroupDuplicate, "", "%d live target groups carry its anchor: %s", len(found), strings.Join(ids, ", "))}
	}
	tg := found[0]
	var diffs []Difference
	if want := g.DisplayName + t.GroupSuffix; tg.DisplayName != want {
		diffs = append(diffs, diff(DiffGroupName, tg.ID, "displayName is %q, want %q (the source group's name through the target's mapping)",
			tg.DisplayName, want))
	}
	if tg.SecurityEnabled == nil || !*tg.SecurityEnabled || tg.MailEnabled == nil || *tg.MailEnabled || len(tg.GroupTypes) > 0 {
		diffs = append(diffs, diff(DiffGroupType, tg.ID, "securityEnabled %s, mailEnabled %s, groupTypes %s; want a security group (true, false, none)",
			showBool(tg.SecurityEnabled), showBool(tg.MailEnabled), show(tg.GroupTypes)))
	}
	must, may := wantMembers(t, g, f)
	present := map[string]bool{}
	var extra, missing []string
	for _, m := range tg.members {
		if m.Type != "#microsoft.graph.user" {
			extra = append(extra, fmt.Sprintf("%s (a %s: the group holds users only)", m.ID, strings.TrimPrefix(m.Type, "#microsoft.graph.")))
			continue
		}
		present[m.ID] = true
	}
	for _, tid := range sortedKeys(present) {
		if must[tid] == "" && !may[tid] {
			extra = append(extra, tid+" ("+whyNotMember(t, g, f, tid)+")")
		}
	}
	for _, tid := range sortedKeys(must) {
		if !present[tid] {
			missing = append(missing, tid+" ("+must[tid]+")")
		}
	}
	if len(extra)+len(missing) > 0 {
		var parts []string
		if len(missing) > 0 {
			parts = append(parts, "missing "+strings.Join(missing, ", "))
		}
		if len(extra) > 0 {
			slices.Sort(extra)
			parts = append(parts, "extra "+strings.Join(extra, ", "))
		}
		diffs = append(diffs, diff(DiffGroupMembers, tg.ID, "%d members, %d expected: %s", len(tg.members), len(must), strings.Join(parts, "; ")))
	}
	return diffs
}

// whyNotMember says why a target user that is a member of a synced
// group's target group must not be.
func whyNotMember(t targetSpec, g sourceGroup, f memberFacts, tid string) string {
	sid := f.sourceOf[tid]
	switch {
	case sid == "":
		return "no source user's: tenantsync did not create it, nor did an administrator add it by hand here"
	case g.users(t)[sid]:
		return "source user " + sid + ", a member but out of scope"
	case g.nested[sid]:
		return "source user " + sid + ", a member through a nested group only, and the scope is not nested"
	}
	return "source user " + sid + ", not a member of the source group"
}

func showBool(b *bool) string {
	if b == nil {
		return "∅"
	}
	return fmt.Sprint(*b)
}

// checkGroups checks one target's groups: every synced group's target
// group, the groups created during the run, the groups tenantsync did not
// create, and tenantsync's claims about its group links.
func (o *oracle) checkGroups(ctx context.Context, t targetSpec, src *sourceState, v view, cl *claims, gf groupFacts) ([]Difference, error) {
	raw, err := o.g.All(ctx, t.Domain, "/groups?$select="+targetGroupSelect+"&$top=999")
	if err != nil {
		return nil, fmt.Errorf("oracle: list %s groups: %w", t.Domain, err)
	}
	var diffs []Difference
	synced := map[string]bool{}
	for _, g := range src.groups {
		synced[strings.ToLower(groupAnchor(g.ID))] = true
	}
	byAnchor := map[string][]targetGroup{}
	for _, r := range raw {
		var tg targetGroup
		if err := json.Unmarshal(r, &tg); err != nil {
			return nil, fmt.Errorf("oracle: decode %s group: %w", t.Domain, err)
		}
		key := strings.ToLower(tg.UniqueName)
		if synced[key] {
			byAnchor[key] = append(byAnchor[key], tg)
			continue
		}
		if _, before := o.untouchedGroups[t.Domain][tg.ID]; !before {
			diffs = append(diffs, Difference{Target: t.Name, Kind: DiffGroupUnanchored, TargetID: tg.ID, Group: tg.DisplayName,
				Detail: fmt.Sprintf("created during the run, with uniqueName %s: not the anchor of a synced group", show(tg.UniqueName))})
		}
	}

	f := memberFacts{targetOf: map[string]string{}, sourceOf: map[string]string{}, inScope: gf.inScope,
		held: map[string]bool{}, open: map[string]bool{}}
	for sid, users := range gf.byAnchor {
		for _, u := range users {
			f.sourceOf[u.str("id")] = sid
		}
		tid := users[0].str("id")
		_, looks := v.lookalikes[t.Domain][sid]
		switch {
		case len(users) > 1:
			for _, u := range users {
				f.open[u.str("id")] = true
			}
			continue
		case looks:
			f.open[tid] = true
			continue
		}
		f.targetOf[sid] = tid
		switch {
		case gf.inScope[sid]:
		case t.Guarded && v.bursts[sid]:
			f.held[sid] = true
		case v.privileged[t.Domain][tid]:
			f.open[tid] = true
		}
	}
	for _, g := range src.groups {
		found := byAnchor[strings.ToLower(groupAnchor(g.ID))]
		for i := range found {
			items, err := o.g.All(ctx, t.Domain, "/groups/"+found[i].ID+"/members?$select=id&$top=999")
			if err != nil {
				return nil, fmt.Errorf("oracle: members of %s group %s: %w", t.Domain, found[i].ID, err)
			}
			for _, r := range items {
				var m groupMember
				if err := json.Unmarshal(r, &m); err != nil {
					return nil, fmt.Errorf("oracle: decode %s group member: %w", t.Domain, err)
				}
				found[i].members = append(found[i].members, m)
			}
		}
		f.hand = map[string]bool{}
		for tid := range v.hand[t.Domain][g.ID] {
			if _, isLive := gf.live[tid]; isLive {
				f.hand[tid] = true
			}
		}
		diffs = append(diffs, judgeGroup(t, g, found, f)...)
	}

	if cl != nil {
		if d, ok := judgeGroupClaims(t, len(src.groups), cl.Groups[t.Name]); !ok {
			diffs = append(diffs, d)
		}
	}
	for _, id := range sortedKeys(o.untouchedGroups[t.Domain]) {
		fp, err := o.groupFingerprint(ctx, t.Domain, id)
		if err != nil {
			return nil, err
		}
		if fp != o.untouchedGroups[t.Domain][id] {
			diffs = append(diffs, Difference{Target: t.Name, Kind: DiffTouched, TargetID: id, Detail: "a group tenantsync did not create changed: " +
				fingerprintDiff(o.untouchedGroups[t.Domain][id], fp)})
		}
	}
	return diffs, nil
}

// judgeGroupClaims holds the group links tenantsync's status page counts
// for a target (by state) against the synced groups: every one active,
// nothing in any other state (no conflict, creation or deletion).
func judgeGroupClaims(t targetSpec, synced int, links map[string]int) (Difference, bool) {
	ok := links["active"] == synced
	for state, n := range links {
		if state != "active" && n != 0 {
			ok = false
		}
	}
	if ok {
		return Difference{}, true
	}
	var parts []string
	for _, state := range sortedKeys(links) {
		parts = append(parts, fmt.Sprintf("%s %d", state, links[state]))
	}
	if len(parts) == 0 {
		parts = []string{"none"}
	}
	return Difference{Target: t.Name, Kind: DiffGroupStatus,
		Detail: fmt.Sprintf("tenantsync's status page counts the group links %s, want active %d and nothing else", strings.Join(parts, ", "), synced)}, false
}

// groupFingerprint is a group's properties and members, byte for byte as
// Graph answers them.
func (o *oracle) groupFingerprint(ctx context.Context, tenant, id string) (string, error) {
	var b strings.Builder
	for _, path := range []string{
		"/groups/" + id + "?$select=id,displayName,description,mailNickname,securityEnabled,mailEnabled,groupTypes,visibility,uniqueName",
		"/groups/" + id + "/members?$select=id",
	} {
		data, err := o.g.Do(ctx, tenant, http.MethodGet, path, nil, nil)
		switch {
		case statusOf(err) == http.StatusNotFound:
			fmt.Fprintf(&b, "%s: 404\n", path)
		case err != nil:
			return "", fmt.Errorf("oracle: fingerprint group %s in %s: %w", id, tenant, err)
		default:
			fmt.Fprintf(&b, "%s: %s\n", path, data)
		}
	}
	return b.String(), nil
}
