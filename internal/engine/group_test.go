package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/engine/enginetest"
	"github.com/tenantsync/tenantsync/internal/mapping"
	"github.com/tenantsync/tenantsync/internal/store"
)

// TestGroupMembership: the target group's members are the target users
// linked to the source group's members that are in the target's user scope:
// direct members, or flattened through nested groups when scope.nested is
// true; users only.
func TestGroupMembership(t *testing.T) {
	tests := []struct {
		name   string
		nested bool
		want   []string
	}{
		// carol is in the group but out of user scope; dave only in the
		// nested group; the nested group itself is no member.
		{"direct members", false, []string{"alice", "bob"}},
		{"nested flattened", true, []string{"alice", "bob", "dave"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newGroupWorld(t, []string{"alice", "bob", "dave", "erin"},
				map[string][]string{"Tailspin": {"alice", "bob", "Inner"}, "Inner": {"dave"}}, []string{"Tailspin"})
			w.addUser("carol", false)
			w.src.SetGroupMember(w.groups["Tailspin"], w.users["carol"], true)
			w.target().Scope.Nested = tt.nested
			w.syncAll(w.engine())

			g, ok := w.targetGroup("Tailspin")
			if !ok {
				t.Fatal("no target group Tailspin")
			}
			if got := w.memberNames(g); !slices.Equal(got, tt.want) {
				t.Errorf("members = %v, want %v", got, tt.want)
			}
			want := directory.Attributes{"description": "The Tailspin group", "mailNickname": "tailspin",
				groupAnchor: "tenantsync." + srcDomain + "." + w.groups["Tailspin"], "securityEnabled": true, "mailEnabled": false}
			if !reflect.DeepEqual(g.Group.Attrs, want) {
				t.Errorf("target group properties = %v, want %v", g.Group.Attrs, want)
			}
			if _, ok := w.targetGroup("Inner"); ok {
				t.Error("the nested group, not synced, was created in the target")
			}
		})
	}
}

// TestGroupWrites: additions go 20 to a request, a rename is one PATCH,
// nothing is written when nothing changed.
func TestGroupWrites(t *testing.T) {
	var names []string
	for i := range 45 {
		names = append(names, fmt.Sprintf("u%02d", i))
	}
	w := newGroupWorld(t, names, map[string][]string{"Tailspin": names}, []string{"Tailspin"})
	e := w.engine()
	for _, n := range names {
		w.drain(e, nil, w.userChange(n)) // users first: each follow-up adds one
	}
	w.src.SetGroupMember(w.groups["Tailspin"], w.users["u00"], false) // nothing to add for u00 yet
	// A fresh group: its 44 linked members are added in 3 requests.
	w2 := newGroupWorld(t, names, map[string][]string{"Tailspin": names}, []string{"Tailspin"})
	e2 := w2.engine()
	for _, n := range names {
		if _, err := e2.Sync(t.Context(), w2.userChange(n)); err != nil { // follow-ups dropped
			t.Fatal(err)
		}
	}
	before := w2.dst.GroupWrites
	w2.drain(e2, nil, w2.groupChange("Tailspin"))
	if got := w2.dst.GroupWrites - before; got != 1+3 { // create + ceil(45/20)
		t.Errorf("group writes for a create with 45 members = %d, want 4 (one create, three adds of ≤20)", got)
	}
	g, _ := w2.targetGroup("Tailspin")
	if len(g.Members) != 45 {
		t.Errorf("%d members, want 45", len(g.Members))
	}

	before = w2.dst.GroupWrites
	w2.drain(e2, nil, w2.groupChange("Tailspin"))
	if got := w2.dst.GroupWrites - before; got != 0 {
		t.Errorf("an unchanged group cost %d writes, want 0", got)
	}

	w2.src.PatchGroup(w2.groups["Tailspin"], directory.Attributes{"displayName": "Tailspin Toys", "description": "Toys"})
	before = w2.dst.GroupWrites
	res := w2.drain(e2, nil, w2.groupChange("Tailspin"))
	if got := w2.dst.GroupWrites - before; got != 1 {
		t.Errorf("a rename cost %d writes, want one PATCH", got)
	}
	if g, ok := w2.targetGroup("Tailspin Toys"); !ok || g.Group.Attrs["description"] != "Toys" {
		t.Errorf("renamed group = %+v, %v", g, ok)
	}
	if a := res[0].Groups[0]; a.Op != engine.OpUpdate || !slices.Equal(a.Changes.Keys(), []string{"description", "displayName"}) {
		t.Errorf("rename action = %s %v", a.Op, a.Changes.Keys())
	}
	_ = w
}

// TestGroupSyncReadsMemberLinksInOneCall: a group's members are looked up
// in one batched store read, not one read per member (a store on the
// network pays a round trip for each).
func TestGroupSyncReadsMemberLinksInOneCall(t *testing.T) {
	var names []string
	for i := range 45 {
		names = append(names, fmt.Sprintf("u%02d", i))
	}
	w := newGroupWorld(t, names, map[string][]string{"Tailspin": names}, []string{"Tailspin"})
	e := w.engine()
	for _, n := range names {
		if _, err := e.Sync(t.Context(), w.userChange(n)); err != nil { // follow-ups dropped
			t.Fatal(err)
		}
	}
	counting := &linkReadCounter{Store: w.st}
	w.drain(w.engineOn(counting), nil, w.groupChange("Tailspin"))
	if g, _ := w.targetGroup("Tailspin"); len(g.Members) != 45 {
		t.Fatalf("%d members, want 45", len(g.Members))
	}
	if counting.getLink.Load() != 0 || counting.getLinks.Load() != 1 {
		t.Errorf("a group sync of 45 members read links with %d GetLink and %d GetLinks calls, want 0 and 1",
			counting.getLink.Load(), counting.getLinks.Load())
	}
}

// linkReadCounter counts the link reads that reach the store.
type linkReadCounter struct {
	store.Store
	getLink, getLinks atomic.Int64
}

func (c *linkReadCounter) GetLink(ctx context.Context, target, sourceID string) (store.Link, error) {
	c.getLink.Add(1)
	return c.Store.GetLink(ctx, target, sourceID)
}

func (c *linkReadCounter) GetLinks(ctx context.Context, target string, sourceIDs []string) (map[string]store.Link, error) {
	c.getLinks.Add(1)
	return c.Store.GetLinks(ctx, target, sourceIDs)
}

// TestGroupMappings: a displayName mapping names the target group; an
// ignored default is not written.
func TestGroupMappings(t *testing.T) {
	w := newGroupWorld(t, []string{"alice"}, map[string][]string{"Tailspin": {"alice"}}, []string{"Tailspin"})
	w.target().Groups.Mappings = []mapping.Rule{
		{Target: "displayName", Expression: `Append([displayName], " (Fabrikam)")`},
		{Target: "description", Ignore: true},
	}
	w.syncAll(w.engine())
	g, ok := w.targetGroup("Tailspin (Fabrikam)")
	if !ok {
		t.Fatal("no target group Tailspin (Fabrikam)")
	}
	if _, has := g.Group.Attrs["description"]; has {
		t.Errorf("description written though ignored: %v", g.Group.Attrs)
	}
	if got := w.memberNames(g); !slices.Equal(got, []string{"alice"}) {
		t.Errorf("members = %v", got)
	}
}

// TestGroupMembersConverge: after random sequences of user and group
// changes, processed with their follow-ups in random orders, every target
// group has exactly the members it should, and the member a target
// administrator added by hand is still there.
func TestGroupMembersConverge(t *testing.T) {
	seeds := 60
	if testing.Short() {
		seeds = 20
	}
	names := []string{"ann", "ben", "cat", "dan", "eve", "fay", "gus", "hal"}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 15))
			w := newGroupWorld(t, names, map[string][]string{"Red": {"ann", "ben"}, "Blue": {"cat"}}, []string{"Red", "Blue"})
			nested := seed%2 == 1
			w.target().Scope.Nested = nested
			if nested {
				w.groups["Inner"] = w.src.AddGroup("Inner", directory.Attributes{"mailNickname": "inner"})
				w.src.NestGroup(w.groups["Blue"], w.groups["Inner"], true)
			}
			e := w.engine()
			w.syncAll(e)
			hand := w.addLocalUser("local-admin-pick")
			red, _ := w.targetGroup("Red")
			if err := w.dst.AddGroupMembers(t.Context(), red.Group.ID, []string{hand}); err != nil {
				t.Fatal(err)
			}

			var queue []engine.Change
			for range 30 {
				u := names[rng.IntN(len(names))]
				switch op := rng.IntN(6); op {
				case 0, 1: // in or out of a synced (or nested) group
					gs := []string{"Red", "Blue"}
					if nested {
						gs = append(gs, "Inner")
					}
					g := gs[rng.IntN(len(gs))]
					w.src.SetGroupMember(w.groups[g], w.users[u], rng.IntN(2) == 0)
					parent := g
					if g == "Inner" {
						parent = "Blue" // the delta reports the synced group it is nested in
					}
					queue = append(queue, w.groupChange(parent))
				case 2: // out of the user scope
					w.src.SetMember(w.users[u], false)
					queue = append(queue, w.userChange(u))
				case 3: // back in the user scope
					w.src.SetMember(w.users[u], true)
					queue = append(queue, w.userChange(u))
				case 4: // a new user, in scope and in Blue
					n := fmt.Sprintf("new%d", len(w.users))
					w.addUser(n, true)
					w.src.SetGroupMember(w.groups["Blue"], w.users[n], true)
					queue = append(queue, w.userChange(n))
				case 5: // some of the queue is processed meanwhile
					for range rng.IntN(len(queue) + 1) {
						i := rng.IntN(len(queue))
						ch := queue[i]
						queue = slices.Delete(queue, i, i+1)
						queue = append(queue, w.drainOne(e, ch)...)
					}
				}
			}
			w.drain(e, rng, queue...)

			for _, g := range []string{"Red", "Blue"} {
				tg, ok := w.targetGroup(g)
				if !ok {
					t.Fatalf("no target group %s", g)
				}
				m, err := w.src.GroupMembers(t.Context(), w.groups[g], nested)
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				for n, id := range w.users {
					in, _ := w.src.MemberOf(t.Context(), id, []string{enginetest.GroupID}, false)
					if slices.Contains(m.Users, id) && len(in) == 1 {
						want = append(want, n)
					}
				}
				if g == "Red" {
					want = append(want, "local-admin-pick")
				}
				slices.Sort(want)
				if got := w.memberNames(tg); !slices.Equal(got, want) {
					t.Errorf("%s members = %v, want %v", g, got, want)
				}
			}
		})
	}
}

// drainOne processes one change and returns its follow-ups.
func (w *groupWorld) drainOne(e *engine.Engine, ch engine.Change) []engine.Change {
	w.t.Helper()
	res, err := e.Sync(context.Background(), ch)
	if err != nil {
		w.t.Fatalf("sync %s %s: %v", ch.Kind, ch.ID, err)
	}
	return res.FollowUps
}

// TestGroupHandAddedMembersStay: tenantsync removes only the members it
// added; members a target administrator added stay, even when they are
// synced users who are not in the source group.
func TestGroupHandAddedMembersStay(t *testing.T) {
	w := newGroupWorld(t, []string{"alice", "bob", "carol"}, map[string][]string{"Tailspin": {"alice", "bob"}}, []string{"Tailspin"})
	e := w.engine()
	w.syncAll(e)
	g, _ := w.targetGroup("Tailspin")
	local := w.addLocalUser("contoso-own")
	carol := w.targetUserOf("carol")
	if err := w.dst.AddGroupMembers(t.Context(), g.Group.ID, []string{local, carol}); err != nil {
		t.Fatal(err)
	}
	w.src.SetGroupMember(w.groups["Tailspin"], w.users["alice"], false)
	w.src.SetGroupMember(w.groups["Tailspin"], w.users["bob"], false)
	res := w.drain(e, nil, w.groupChange("Tailspin"))
	g, _ = w.targetGroup("Tailspin")
	if got, want := w.memberNames(g), []string{"carol", "contoso-own"}; !slices.Equal(got, want) {
		t.Errorf("members = %v, want the hand-added %v", got, want)
	}
	a := res[0].Groups[0]
	if a.MembersBefore != 4 || a.MembersAfter != 2 || len(a.Removed) != 2 {
		t.Errorf("action: before %d after %d removed %v, want 4 → 2, two removed", a.MembersBefore, a.MembersAfter, a.Removed)
	}
	// A hand-added member who joins the source group is not taken over:
	// when she leaves it again, she stays.
	w.src.SetGroupMember(w.groups["Tailspin"], w.users["carol"], true)
	w.drain(e, nil, w.groupChange("Tailspin"))
	w.src.SetGroupMember(w.groups["Tailspin"], w.users["carol"], false)
	w.drain(e, nil, w.groupChange("Tailspin"))
	g, _ = w.targetGroup("Tailspin")
	if got := w.memberNames(g); !slices.Contains(got, "carol") {
		t.Errorf("members = %v: the hand-added carol was removed", got)
	}
}

// TestGroupUserLifecycle: a user's create adds them to their synced groups
// and their deprovision takes them out, in the same change's follow-ups.
func TestGroupUserLifecycle(t *testing.T) {
	w := newGroupWorld(t, []string{"alice"}, map[string][]string{"Tailspin": {"alice"}}, []string{"Tailspin"})
	e := w.engine()
	w.syncAll(e)
	bob := w.addUser("bob", true)
	w.src.SetGroupMember(w.groups["Tailspin"], bob, true)
	res := w.drain(e, nil, w.userChange("bob"))
	if len(res) != 2 || res[1].Change.Kind != engine.KindGroup {
		t.Fatalf("bob's create led to %d syncs (%+v), want his own and his group's", len(res), res)
	}
	g, _ := w.targetGroup("Tailspin")
	if got := w.memberNames(g); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Errorf("after bob's create: members = %v", got)
	}
	w.target().Deprovision.Action = config.DeprovisionDisable
	e = w.engine()
	w.src.SetMember(w.users["alice"], false)
	w.drain(e, nil, w.userChange("alice"))
	g, _ = w.targetGroup("Tailspin")
	if got := w.memberNames(g); !slices.Equal(got, []string{"bob"}) {
		t.Errorf("after alice's deprovision (disabled, still in the target): members = %v, want [bob]", got)
	}
	if _, ok := w.dst.User(w.targetUserOf("alice")); !ok {
		t.Error("alice's target user is gone: a group sync deleted a user")
	}
}

// TestGroupNameConflict: an existing target group with the mapped name that
// tenantsync does not own is a conflict: never written to, never adopted
// but by an operator; plan shows it.
func TestGroupNameConflict(t *testing.T) {
	tests := []struct {
		name      string
		anchor    any
		adoptable bool
	}{
		{"no anchor", nil, true},
		{"another sync's anchor", "othersync:42", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newGroupWorld(t, []string{"alice", "bob"}, map[string][]string{"Tailspin": {"alice", "bob"}}, []string{"Tailspin"})
			existing := w.dst.AddGroup("Tailspin", directory.Attributes{"description": "theirs", "mailNickname": "theirs", groupAnchor: tt.anchor})
			own := w.addLocalUser("their-member")
			if err := w.dst.AddGroupMembers(t.Context(), existing, []string{own}); err != nil {
				t.Fatal(err)
			}
			before, _ := w.dst.Group(existing)
			e := w.engine()
			w.syncAll(e)
			writes := w.dst.GroupWrites
			res := w.drain(e, nil, w.groupChange("Tailspin"))

			after, _ := w.dst.Group(existing)
			if !reflect.DeepEqual(after, before) {
				t.Errorf("the existing group was changed:\n got %+v\nwant %+v", after, before)
			}
			if ids := w.dst.GroupsNamed("Tailspin"); len(ids) != 1 {
				t.Errorf("target groups named Tailspin: %v, want only the existing one", ids)
			}
			if w.dst.GroupWrites != writes {
				t.Errorf("%d group writes, want none", w.dst.GroupWrites-writes)
			}
			a := res[0].Groups[0]
			if a.Conflict == nil || a.Conflict.TargetID != existing || a.Op != engine.OpSkip {
				t.Errorf("action = %+v, want a conflict naming %s", a, existing)
			}
			plan, err := e.Plan(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if gs := plan.Targets[0].Groups; len(gs) != 1 || gs[0].Conflict == nil {
				t.Errorf("plan groups = %+v, want the conflict", gs)
			}

			act, err := e.AdoptGroup(t.Context(), "contoso", "Tailspin", existing)
			if !tt.adoptable {
				if err == nil || !strings.Contains(err.Error(), "another anchor") {
					t.Errorf("adopt of a group with another anchor: %v, want a refusal", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("adopt: %v", err)
			}
			g, _ := w.dst.Group(existing)
			if g.Group.Attrs[groupAnchor] != "tenantsync."+srcDomain+"."+w.groups["Tailspin"] {
				t.Errorf("adopted group's anchor = %v", g.Group.Attrs[groupAnchor])
			}
			if got := w.memberNames(g); !slices.Equal(got, []string{"alice", "bob", "their-member"}) {
				t.Errorf("adopted group's members = %v (action %+v)", got, act)
			}
			// Its own member was not added by tenantsync: it stays when the
			// source group empties.
			w.src.SetGroupMember(w.groups["Tailspin"], w.users["alice"], false)
			w.src.SetGroupMember(w.groups["Tailspin"], w.users["bob"], false)
			w.drain(e, nil, w.groupChange("Tailspin"))
			g, _ = w.dst.Group(existing)
			if got := w.memberNames(g); !slices.Equal(got, []string{"their-member"}) {
				t.Errorf("after the source group emptied: members = %v", got)
			}
		})
	}
}

// TestGroupDeprovision: a group deleted in the source, or taken out of
// groups.sync, is deleted in the target (delete) or left alone (none);
// its members, users, stay.
func TestGroupDeprovision(t *testing.T) {
	tests := []struct {
		name        string
		action      config.GroupDeprovision
		how         string // "source" deletes the source group, "config" stops syncing it
		wantDeleted bool
	}{
		{"deleted in the source", config.GroupDeprovisionDelete, "source", true},
		{"no longer synced", config.GroupDeprovisionDelete, "config", true},
		{"none leaves it", config.GroupDeprovisionNone, "config", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newGroupWorld(t, []string{"alice"}, map[string][]string{"Tailspin": {"alice"}, "Other": {"alice"}}, []string{"Tailspin", "Other"})
			w.target().Groups.Deprovision = tt.action
			w.syncAll(w.engine())
			g, _ := w.targetGroup("Tailspin")
			switch tt.how {
			case "source":
				w.src.RemoveGroup(w.groups["Tailspin"])
			case "config":
				w.target().Groups.Sync = []string{"Other"}
			}
			res := w.drain(w.engine(), nil, w.groupChange("Tailspin"))
			after, _ := w.dst.Group(g.Group.ID)
			if after.Deleted != tt.wantDeleted {
				t.Errorf("target group deleted = %v, want %v (action %+v)", after.Deleted, tt.wantDeleted, res[0].Groups)
			}
			if _, ok := w.dst.User(w.targetUserOf("alice")); !ok {
				t.Error("a member's target user was deleted with the group")
			}
			_, err := w.st.GetGroupLink(t.Context(), "contoso", w.groups["Tailspin"])
			if tt.action == config.GroupDeprovisionNone && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("with none the link stays (%v): tenantsync still manages the group", err)
			}
			if other, ok := w.targetGroup("Other"); !ok || other.Deleted {
				t.Error("the other synced group was touched")
			}
		})
	}
}

// TestGroupDeletionGuard: group deletions count and are held like user
// deprovisions; a burst over the threshold deletes none without approval,
// and an approval deletes exactly the approved group.
func TestGroupDeletionGuard(t *testing.T) {
	groups := map[string][]string{}
	var sync []string
	for i := range 5 {
		n := fmt.Sprintf("G%d", i)
		groups[n] = []string{"alice"}
		sync = append(sync, n)
	}
	w := newGroupWorld(t, []string{"alice"}, groups, sync)
	delay := config.Duration(time.Minute)
	w.target().Deprovision.Delay = &delay
	w.target().Deprovision.Threshold = 3
	w.syncAll(w.engine())
	ids := map[string]string{}
	for _, n := range sync {
		g, _ := w.targetGroup(n)
		ids[n] = g.Group.ID
	}
	// Four groups leave at once, with one user.
	w.target().Groups.Sync = []string{"G4"}
	w.src.SetMember(w.users["alice"], false)
	e := w.engine()
	var queue []engine.Change
	for _, n := range sync[:4] {
		queue = append(queue, w.groupChange(n))
	}
	queue = append(queue, w.userChange("alice"))
	for _, r := range w.drain(e, nil, queue...) {
		for _, a := range r.Groups {
			if a.PendingUntil == nil && a.SourceID != w.groups["G4"] {
				t.Errorf("group %s: %s %s, want pending", a.DisplayName, a.Op, a.Reason)
			}
		}
	}
	w.advance(2 * time.Minute)
	queue = queue[:0]
	for _, n := range sync[:4] {
		queue = append(queue, engine.Change{Kind: engine.KindGroup, ID: w.groups[n], Cause: "guard"})
	}
	queue = append(queue, engine.Change{Kind: engine.KindUser, ID: w.users["alice"], Cause: "guard"})
	w.drain(e, rand.New(rand.NewPCG(1, 2)), queue...)
	for _, n := range sync {
		if g, _ := w.dst.Group(ids[n]); g.Deleted {
			t.Errorf("group %s was deleted without approval", n)
		}
	}
	if _, ok := w.dst.User(w.targetUserOf("alice")); !ok {
		t.Error("alice was deprovisioned without approval")
	}
	staged, err := w.st.ListDeletions(t.Context(), "contoso")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, d := range staged {
		keys = append(keys, d.SourceID)
	}
	slices.Sort(keys)
	var want []string
	for _, n := range sync[:4] {
		want = append(want, "group:"+w.groups[n])
	}
	want = append(want, w.users["alice"])
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("staged = %v, want the four groups and alice %v", keys, want)
	}

	acts, err := e.ApproveDeletions(t.Context(), "contoso", []string{"group:" + w.groups["G1"]})
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 1 || acts[0].Op != engine.OpDeprovision {
		t.Errorf("approve: %+v", acts)
	}
	for _, n := range sync {
		g, _ := w.dst.Group(ids[n])
		if g.Deleted != (n == "G1") {
			t.Errorf("group %s deleted = %v after approving only G1", n, g.Deleted)
		}
	}
	if g, _ := w.dst.Group(ids["G1"]); len(g.Members) != 1 {
		t.Errorf("the deleted group lost its members: %v", g.Members)
	}
}

// TestGroupPlanWritesNothing: plan shows the group actions (create, member
// changes with before/after counts, delete) and writes nothing to the
// target or the store.
func TestGroupPlanWritesNothing(t *testing.T) {
	w := newGroupWorld(t, []string{"alice", "bob"}, map[string][]string{"Red": {"alice"}, "Blue": {"alice"}, "Green": {"bob"}}, []string{"Red", "Blue"})
	e := w.engine()
	w.syncAll(e)
	// Red gains bob and a user not yet created; Blue leaves sync; Green joins.
	w.src.SetGroupMember(w.groups["Red"], w.users["bob"], true)
	carol := w.addUser("carol", true)
	w.src.SetGroupMember(w.groups["Red"], carol, true)
	w.target().Groups.Sync = []string{"Red", "Green"}
	e = w.engine()

	snapshot := func() string {
		links, _ := w.st.ListGroupLinks(t.Context(), "contoso")
		dels, _ := w.st.ListDeletions(t.Context(), "contoso")
		guard, _ := w.st.GetGuard(t.Context(), "contoso")
		events, _ := w.st.ListEvents(t.Context(), "contoso", store.ListEventsOptions{Limit: 1000})
		return fmt.Sprintf("%+v|%+v|%+v|%d|%d|%d", links, dels, guard, len(events.Events), w.dst.GroupWrites, w.dst.Writes)
	}
	before := snapshot()
	plan, err := e.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if after := snapshot(); after != before {
		t.Errorf("plan wrote:\nbefore %s\nafter  %s", before, after)
	}
	got := map[string]engine.GroupAction{}
	for _, a := range plan.Targets[0].Groups {
		got[a.DisplayName] = a
	}
	if a := got["Red"]; a.Op != engine.OpUpdate || a.MembersBefore != 1 || a.MembersAfter != 3 {
		t.Errorf("Red: %s %d → %d, want update 1 → 3 (bob, and carol whom the plan creates)", a.Op, a.MembersBefore, a.MembersAfter)
	}
	if a := got["Green"]; a.Op != engine.OpCreate || a.MembersAfter != 1 {
		t.Errorf("Green: %s → %d members, want create with 1", a.Op, a.MembersAfter)
	}
	if a := got["Blue"]; a.Op != engine.OpDeprovision {
		t.Errorf("Blue: %s, want deprovision (%s)", a.Op, a.Reason)
	}
	if len(got) != 3 {
		t.Errorf("plan groups = %+v", plan.Targets[0].Groups)
	}
}

// TestGroupCrashBetweenCreateAndLink: a crash after the group is created
// and before its link is written does not create a second group: the next
// sync finds it by the name it was created with and tenantsync's anchor,
// even when the source group was renamed in between.
func TestGroupCrashBetweenCreateAndLink(t *testing.T) {
	for _, rename := range []bool{false, true} {
		t.Run(fmt.Sprintf("renamed %v", rename), func(t *testing.T) {
			w := newGroupWorld(t, []string{"alice"}, map[string][]string{"Tailspin": {"alice"}}, []string{"Tailspin"})
			if _, err := w.engine().Sync(t.Context(), w.userChange("alice")); err != nil { // its group follow-up is dropped
				t.Fatal(err)
			}
			crashing := &crashingStore{Store: w.st}
			if _, err := w.engineOn(crashing).Sync(t.Context(), w.groupChange("Tailspin")); !errors.Is(err, errCrash) {
				t.Fatalf("first sync: %v, want the crash", err)
			}
			if n := len(w.dst.GroupsNamed("Tailspin")); n != 1 {
				t.Fatalf("%d groups after the crash, want the one created", n)
			}
			name := "Tailspin"
			if rename {
				name = "Tailspin Toys"
				w.src.PatchGroup(w.groups["Tailspin"], directory.Attributes{"displayName": name})
			}
			w.drain(w.engine(), nil, w.groupChange("Tailspin"))
			all := append(w.dst.GroupsNamed("Tailspin"), w.dst.GroupsNamed("Tailspin Toys")...)
			if len(all) != 1 {
				t.Fatalf("target groups %v, want one", all)
			}
			g, _ := w.dst.Group(all[0])
			if g.Group.DisplayName != name || !slices.Equal(w.memberNames(g), []string{"alice"}) {
				t.Errorf("group %q with %v, want %q with alice", g.Group.DisplayName, w.memberNames(g), name)
			}
			l, err := w.st.GetGroupLink(t.Context(), "contoso", w.groups["Tailspin"])
			if err != nil || l.TargetID != all[0] || l.State != store.GroupActive {
				t.Errorf("link = %+v, %v", l, err)
			}
		})
	}
}

// TestGroupNotOursIsNotWritten: a linked target group whose anchor was
// changed (the link points to a group that is not provably ours) is
// neither updated nor deleted.
func TestGroupNotOursIsNotWritten(t *testing.T) {
	w := newGroupWorld(t, []string{"alice"}, map[string][]string{"Tailspin": {"alice"}}, []string{"Tailspin"})
	e := w.engine()
	w.syncAll(e)
	g, _ := w.targetGroup("Tailspin")
	w.dst.PatchGroup(g.Group.ID, directory.Attributes{groupAnchor: "someone-else"})
	w.src.PatchGroup(w.groups["Tailspin"], directory.Attributes{"description": "changed"})
	writes := w.dst.GroupWrites
	res := w.drain(e, nil, w.groupChange("Tailspin"))
	if w.dst.GroupWrites != writes || !strings.Contains(res[0].Groups[0].Error, "not provably") {
		t.Errorf("writes %d, action %+v: want none, refused", w.dst.GroupWrites-writes, res[0].Groups[0])
	}
	w.target().Groups.Sync = nil
	w.target().Groups.ScopeGroups = true // still a groups section: Cross-tenant sync alone
	w.drain(w.engine(), nil, w.groupChange("Tailspin"))
	if after, _ := w.dst.Group(g.Group.ID); after.Deleted {
		t.Error("a group that is not provably ours was deleted")
	}
}

// TestGroupAdoptedWithoutAnchor: where the anchor cannot be written after
// a group is created (Graph's uniqueName), an adopted group is tenantsync's
// by the link's record of the adoption: it is synced, and when it leaves
// sync it is let go, never deleted.
func TestGroupAdoptedWithoutAnchor(t *testing.T) {
	w := newGroupWorld(t, []string{"alice"}, map[string][]string{"Tailspin": {"alice"}}, []string{"Tailspin"})
	w.dst.ImmutableGroupAttr = groupAnchor
	existing := w.dst.AddGroup("Tailspin", directory.Attributes{"mailNickname": "theirs"})
	e := w.engine()
	w.syncAll(e)
	if _, err := e.AdoptGroup(t.Context(), "contoso", w.groups["Tailspin"], existing); err != nil {
		t.Fatalf("adopt: %v", err)
	}
	w.src.PatchGroup(w.groups["Tailspin"], directory.Attributes{"description": "now synced"})
	res := w.drain(e, nil, w.groupChange("Tailspin"))
	g, _ := w.dst.Group(existing)
	if g.Group.Attrs["description"] != "now synced" || !slices.Equal(w.memberNames(g), []string{"alice"}) || res[0].Groups[0].Error != "" {
		t.Errorf("adopted group not synced: %+v, members %v, action %+v", g.Group.Attrs, w.memberNames(g), res[0].Groups[0])
	}
	w.src.RemoveGroup(w.groups["Tailspin"])
	w.drain(w.engine(), nil, w.groupChange("Tailspin"))
	if g, _ := w.dst.Group(existing); g.Deleted {
		t.Error("an adopted group was deleted")
	}
}

// TestGroupReconcileRepairsDrift: the full pass finds a target group a
// target administrator changed (a member tenantsync added removed, the
// name changed) and a group not yet created, and its changes repair them.
func TestGroupReconcileRepairsDrift(t *testing.T) {
	w := newGroupWorld(t, []string{"alice", "bob"}, map[string][]string{"Red": {"alice", "bob"}, "Blue": {"bob"}}, []string{"Red"})
	e := w.engine()
	w.syncAll(e)
	red, _ := w.targetGroup("Red")
	if err := w.dst.RemoveGroupMember(t.Context(), red.Group.ID, w.targetUserOf("alice")); err != nil {
		t.Fatal(err)
	}
	w.dst.PatchGroup(red.Group.ID, directory.Attributes{"displayName": "Red (renamed by hand)"})
	w.target().Groups.Sync = []string{"Red", "Blue"}
	e = w.engine()

	var emitted []engine.Change
	res, err := e.Reconcile(t.Context(), engine.ReconcileOptions{Full: true, Emit: func(_ context.Context, cs []engine.Change) error {
		emitted = append(emitted, cs...)
		return nil
	}})
	if err != nil || !res.Full {
		t.Fatalf("reconcile: %+v, %v", res, err)
	}
	var groups []string
	for _, c := range emitted {
		if c.Kind == engine.KindGroup {
			groups = append(groups, c.ID)
		}
	}
	slices.Sort(groups)
	want := []string{w.groups["Blue"], w.groups["Red"]}
	slices.Sort(want)
	if !slices.Equal(groups, want) {
		t.Fatalf("full pass emitted group changes %v, want Red and Blue %v", groups, want)
	}
	w.drain(e, nil, emitted...)
	red, _ = w.dst.Group(red.Group.ID)
	if red.Group.DisplayName != "Red" || !slices.Equal(w.memberNames(red), []string{"alice", "bob"}) {
		t.Errorf("Red after the full pass: %q %v", red.Group.DisplayName, w.memberNames(red))
	}
	if blue, ok := w.targetGroup("Blue"); !ok || !slices.Equal(w.memberNames(blue), []string{"bob"}) {
		t.Errorf("Blue after the full pass: %+v", blue)
	}
}

// TestGroupProvisionOnDemandAndApproval: a user provisioned on demand joins
// their synced groups at once; a user whose held deprovision (a disable)
// is approved leaves them at once.
func TestGroupProvisionOnDemandAndApproval(t *testing.T) {
	w := newGroupWorld(t, []string{"alice", "bob"}, map[string][]string{"Tailspin": {"alice", "bob"}}, []string{"Tailspin"})
	w.target().Deprovision.Action = config.DeprovisionDisable
	e := w.engine()
	w.drain(e, nil, w.userChange("alice"), w.groupChange("Tailspin"))
	reps, err := e.Provision(t.Context(), w.users["bob"], "contoso")
	if err != nil {
		t.Fatal(err)
	}
	g, _ := w.targetGroup("Tailspin")
	if got := w.memberNames(g); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Errorf("after provisioning bob on demand: members %v (steps %+v)", got, reps[0].Steps)
	}
	w.target().Deprovision.Threshold = 0 // every deprovision is held
	e = w.engine()
	w.src.SetMember(w.users["bob"], false)
	w.drain(e, nil, w.userChange("bob"), w.groupChange("Tailspin"))
	if g, _ := w.targetGroup("Tailspin"); len(g.Members) != 2 {
		t.Fatalf("members %v while bob's deprovision is held, want both still: a held burst changes nothing", w.memberNames(g))
	}
	if _, err := e.ApproveDeletions(t.Context(), "contoso", []string{w.users["bob"]}); err != nil {
		t.Fatal(err)
	}
	g, _ = w.targetGroup("Tailspin")
	if got := w.memberNames(g); !slices.Equal(got, []string{"alice"}) {
		t.Errorf("after bob's approved disable: members %v, want [alice]", got)
	}
}

// TestGroupMemberLeavesWhenDeprovisionIsCarriedOut: a user whose
// deprovision waits out the settle delay stays a member (a user who comes
// back meanwhile never left); once it is carried out, the user leaves.
func TestGroupMemberLeavesWhenDeprovisionIsCarriedOut(t *testing.T) {
	w := newGroupWorld(t, []string{"alice", "bob"}, map[string][]string{"Tailspin": {"alice", "bob"}}, []string{"Tailspin"})
	delay := config.Duration(time.Minute)
	w.target().Deprovision.Delay = &delay
	w.target().Deprovision.Action = config.DeprovisionDisable
	e := w.engine()
	w.syncAll(e)
	w.src.SetMember(w.users["bob"], false)
	res := w.drain(e, nil, w.userChange("bob"), w.groupChange("Tailspin"))
	if res[0].RecheckAt.IsZero() {
		t.Fatalf("bob's deprovision is not pending: %+v", res[0].Actions)
	}
	g, _ := w.targetGroup("Tailspin")
	if got := w.memberNames(g); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Errorf("while bob's deprovision is pending: members %v, want both", got)
	}
	w.advance(2 * time.Minute)
	w.drain(e, nil, engine.Change{Kind: engine.KindUser, ID: w.users["bob"], Cause: "guard"})
	g, _ = w.targetGroup("Tailspin")
	if got := w.memberNames(g); !slices.Equal(got, []string{"alice"}) {
		t.Errorf("after bob's disable: members %v, want [alice]", got)
	}
}
