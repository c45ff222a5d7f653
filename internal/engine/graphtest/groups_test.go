package graphtest_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/graph"
	"github.com/tenantsync/tenantsync/internal/graphsim"
	"github.com/tenantsync/tenantsync/internal/store"
)

// Group provisioning through the real Graph adapter and SDK on the
// simulator: the rules of internal/engine's group tests, against a Graph
// as strict as the simulator's.

// withGroups adds source groups (name → members, by UPN prefix) and syncs
// those named in sync; the target grants what group provisioning needs.
func withGroups(groups map[string][]string, sync ...string) envOption {
	return func(sd *graphsim.Seed, cfg *config.Config) {
		names := make([]string, 0, len(groups))
		for n := range groups {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			var members []any
			for _, m := range groups[n] {
				members = append(members, m+"@"+srcDomain)
			}
			sd.Tenants[0].Groups = append(sd.Tenants[0].Groups, graphsim.Object{
				"displayName": n, "mailNickname": strings.ToLower(n), "description": "The " + n + " group",
				"securityEnabled": true, "mailEnabled": false, "members": members,
			})
		}
		sd.Tenants[1].Permissions = append(sd.Tenants[1].Permissions, graph.GroupReadWriteAll)
		cfg.Targets[0].Groups = config.Groups{Sync: sync}
	}
}

// groupIDOf returns the object id of the one group named name in a tenant.
func (e *env) groupIDOf(domain, name string) string {
	e.t.Helper()
	ids := e.groupsNamed(domain, name)
	if len(ids) != 1 {
		e.t.Fatalf("groups named %q in %s: %v, want one", name, domain, ids)
	}
	return ids[0]
}

func (e *env) groupsNamed(domain, name string) []string {
	e.t.Helper()
	var page struct{ Value []struct{ ID string } }
	e.graphCall(domain, "GET", "/groups?$filter="+url.QueryEscape("displayName eq '"+name+"'"), nil, &page)
	var ids []string
	for _, g := range page.Value {
		ids = append(ids, g.ID)
	}
	return ids
}

// targetGroupMembers returns the mail of the users in a target group.
func (e *env) targetGroupMembers(id string) []string {
	e.t.Helper()
	var page struct {
		Value []struct{ Mail string }
	}
	e.graphCall(dstDomain, "GET", "/groups/"+id+"/members/microsoft.graph.user?$select=id,mail", nil, &page)
	var out []string
	for _, u := range page.Value {
		out = append(out, strings.TrimSuffix(u.Mail, "@"+srcDomain))
	}
	sort.Strings(out)
	return out
}

// syncGroup syncs a source group by name, as a groups delta's follow-up,
// and processes its follow-ups.
func (e *env) syncGroup(name string) engine.Result {
	e.t.Helper()
	res, err := e.eng.Sync(e.t.Context(), engine.Change{Kind: engine.KindGroup, ID: e.groupIDOf(srcDomain, name), Cause: engine.CauseGroupSync})
	if err != nil {
		e.t.Fatalf("sync group %s: %v", name, err)
	}
	return res
}

// syncUsers syncs users, dropping their follow-ups.
func (e *env) syncUsers(names ...string) {
	e.t.Helper()
	for _, n := range names {
		e.sync(n)
	}
}

func TestGroupProvisioning(t *testing.T) {
	e := newEnv(t, withGroups(map[string][]string{"Tailspin": {"alice", "bob", "carol"}}, "Tailspin"))
	e.syncUsers("alice", "bob", "carol") // carol is out of the user scope
	before := e.stats(dstDomain)
	res := e.syncGroup("Tailspin")
	if len(res.Groups) != 1 || res.Groups[0].Op != engine.OpCreate {
		t.Fatalf("groups = %+v, want a create", res.Groups)
	}
	id := e.groupIDOf(dstDomain, "Tailspin")
	if got := e.targetGroupMembers(id); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Errorf("members = %v, want alice and bob (carol is out of scope)", got)
	}
	var g map[string]any
	e.graphCall(dstDomain, "GET", "/groups/"+id+"?$select=securityEnabled,mailEnabled,groupTypes,description,mailNickname,uniqueName", nil, &g)
	if g["securityEnabled"] != true || g["mailEnabled"] != false || g["description"] != "The Tailspin group" || g["mailNickname"] != "tailspin" {
		t.Errorf("target group = %v", g)
	}
	if a, _ := g["uniqueName"].(string); !strings.HasPrefix(a, "tenantsync.") {
		t.Errorf("anchor (uniqueName) = %v", g["uniqueName"])
	}
	if w := e.stats(dstDomain).Writes - before.Writes; w > 2 {
		t.Errorf("create with 2 members: %d writes, want 2 (the upsert, one PATCH of members)", w)
	}

	before = e.stats(dstDomain)
	if a := e.syncGroup("Tailspin").Groups[0]; a.Op != engine.OpNoop {
		t.Errorf("second sync: %s (%s), want noop", a.Op, a.Reason)
	}
	if w := e.stats(dstDomain).Writes - before.Writes; w != 0 {
		t.Errorf("an unchanged group cost %d writes", w)
	}

	e.graphCall(srcDomain, "PATCH", "/groups/"+e.groupIDOf(srcDomain, "Tailspin"), map[string]any{"displayName": "Tailspin Toys"}, nil)
	before = e.stats(dstDomain)
	e.syncGroup("Tailspin Toys")
	if w := e.stats(dstDomain).Writes - before.Writes; w != 1 {
		t.Errorf("a rename cost %d writes, want one PATCH", w)
	}
	if ids := e.groupsNamed(dstDomain, "Tailspin Toys"); !slices.Equal(ids, []string{id}) {
		t.Errorf("renamed group: %v, want %s", ids, id)
	}

	// A hand-added member stays when the source group empties.
	zoe := e.targetUser("zoe@contoso.example")["id"].(string)
	e.graphCall(dstDomain, "POST", "/groups/"+id+"/members/$ref", map[string]any{"@odata.id": e.sim.TenantURL(dstDomain) + "/directoryObjects/" + zoe}, nil)
	src := e.groupIDOf(srcDomain, "Tailspin Toys")
	for _, n := range []string{"alice", "bob"} {
		e.graphCall(srcDomain, "DELETE", "/groups/"+src+"/members/"+e.sourceID(n)+"/$ref", nil, nil)
	}
	before = e.stats(dstDomain)
	a := e.syncGroup("Tailspin Toys").Groups[0]
	if got := e.targetGroupMembers(id); !slices.Equal(got, []string{"zoe@contoso.example"}) {
		t.Errorf("members = %v, want the hand-added zoe only", got)
	}
	if w := e.stats(dstDomain).Writes - before.Writes; w != 2 || a.MembersBefore != 3 || a.MembersAfter != 1 {
		t.Errorf("two removals: %d writes, %d → %d members; want 2 writes, 3 → 1", w, a.MembersBefore, a.MembersAfter)
	}
}

// TestGroupAdditionsBatched: 45 members are added in 3 PATCHes.
func TestGroupAdditionsBatched(t *testing.T) {
	var members []string
	for i := range 45 {
		members = append(members, fmt.Sprintf("user%02d", i))
	}
	e := newEnv(t, func(sd *graphsim.Seed, cfg *config.Config) {
		for _, n := range members {
			sd.Tenants[0].Users = append(sd.Tenants[0].Users, person(n, "User", n, "Sales", nil))
			sd.Tenants[0].Groups[0]["members"] = append(sd.Tenants[0].Groups[0]["members"].([]any), n+"@"+srcDomain)
		}
	}, withGroups(map[string][]string{"Big": members}, "Big"))
	e.syncUsers(members...)
	before := e.stats(dstDomain)
	a := e.syncGroup("Big").Groups[0]
	if len(a.Added) != 45 {
		t.Fatalf("added %d, want 45 (%+v)", len(a.Added), a)
	}
	if w := e.stats(dstDomain).Writes - before.Writes; w != 1+3 {
		t.Errorf("create with 45 members: %d writes, want 4 (the create, three PATCHes of ≤20)", w)
	}
}

// TestGroupSameNameIsAConflict: an existing target group with the mapped
// name is never written to, and plan shows the conflict.
func TestGroupSameNameIsAConflict(t *testing.T) {
	e := newEnv(t, withGroups(map[string][]string{"Tailspin": {"alice"}}, "Tailspin"), func(sd *graphsim.Seed, _ *config.Config) {
		sd.Tenants[1].Groups = append(sd.Tenants[1].Groups, graphsim.Object{"displayName": "Tailspin", "mailNickname": "theirs",
			"securityEnabled": true, "mailEnabled": false, "members": []any{"zoe@contoso.example"}})
	})
	e.syncUsers("alice")
	theirs := e.groupIDOf(dstDomain, "Tailspin")
	before := e.stats(dstDomain)
	a := e.syncGroup("Tailspin").Groups[0]
	if a.Conflict == nil || a.Conflict.TargetID != theirs {
		t.Errorf("action = %+v, want a conflict with %s", a, theirs)
	}
	if w := e.stats(dstDomain).Writes - before.Writes; w != 0 {
		t.Errorf("%d writes to the target, want none", w)
	}
	if got := e.targetGroupMembers(theirs); !slices.Equal(got, []string{"zoe@contoso.example"}) {
		t.Errorf("their group's members = %v", got)
	}
	plan, err := e.eng.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if gs := plan.Targets[0].Groups; len(gs) != 1 || gs[0].Conflict == nil {
		t.Errorf("plan groups = %+v, want the conflict", gs)
	}
	// The operator adopts it: uniqueName cannot be stamped afterwards, the
	// link records the adoption; their member stays.
	if _, err := e.eng.AdoptGroup(t.Context(), "contoso", "Tailspin", theirs); err != nil {
		t.Fatalf("adopt: %v", err)
	}
	if got := e.targetGroupMembers(theirs); !slices.Equal(got, []string{"alice", "zoe@contoso.example"}) {
		t.Errorf("adopted group's members = %v", got)
	}
}

// crashAfterCreate fails the group link write that records a created group.
type crashAfterCreate struct {
	store.Store
	mu      sync.Mutex
	crashed bool
}

var errCrashed = errors.New("crashed")

func (c *crashAfterCreate) PutGroupLink(ctx context.Context, l store.GroupLink) (store.GroupLink, error) {
	c.mu.Lock()
	crash := !c.crashed && l.State == store.GroupActive && l.TargetID != ""
	c.crashed = c.crashed || crash
	c.mu.Unlock()
	if crash {
		return store.GroupLink{}, errCrashed
	}
	return c.Store.PutGroupLink(ctx, l)
}

// TestGroupCrashAfterCreate: a crash between the create and the link write
// makes no second group.
func TestGroupCrashAfterCreate(t *testing.T) {
	e := newEnv(t, withGroups(map[string][]string{"Tailspin": {"alice"}}, "Tailspin"))
	e.syncUsers("alice")
	crashing := e.engineWith(&crashAfterCreate{Store: e.store}, nil)
	id := e.groupIDOf(srcDomain, "Tailspin")
	if _, err := crashing.Sync(t.Context(), engine.Change{Kind: engine.KindGroup, ID: id, Cause: engine.CauseGroupSync}); !errors.Is(err, errCrashed) {
		t.Fatalf("first sync: %v, want the crash", err)
	}
	e.syncGroup("Tailspin")
	ids := e.groupsNamed(dstDomain, "Tailspin")
	if len(ids) != 1 {
		t.Fatalf("target groups: %v, want one", ids)
	}
	if got := e.targetGroupMembers(ids[0]); !slices.Equal(got, []string{"alice"}) {
		t.Errorf("members = %v", got)
	}
}

// TestGroupDeletionsHeld: a burst of group deletions over the threshold is
// held whole; plan writes nothing meanwhile; an approval deletes exactly
// the approved group, and its members stay.
func TestGroupDeletionsHeld(t *testing.T) {
	groups := map[string][]string{}
	var names []string
	for i := range 4 {
		n := fmt.Sprintf("Team%d", i)
		groups[n] = []string{"alice"}
		names = append(names, n)
	}
	e := newEnv(t, withGroups(groups, names...))
	e.syncUsers("alice")
	for _, n := range names {
		e.syncGroup(n)
	}
	e.cfg.Targets[0].Deprovision.Threshold = 2
	e.cfg.Targets[0].Groups.Sync = []string{"Team3"}
	e.eng = e.engine(nil)

	before := e.stats(dstDomain)
	if _, err := e.eng.Plan(t.Context()); err != nil {
		t.Fatal(err)
	}
	if w := e.stats(dstDomain).Writes - before.Writes; w != 0 {
		t.Errorf("plan wrote %d times", w)
	}
	for _, n := range names[:3] {
		e.syncGroup(n)
	}
	deleted := 0
	for _, n := range names {
		if len(e.groupsNamed(dstDomain, n)) == 0 {
			deleted++
		}
	}
	// With no settle delay the guard lets the first two through and holds
	// the third (docs/safety.md).
	if deleted != 2 {
		t.Errorf("%d groups deleted, want the threshold's 2", deleted)
	}
	staged, err := e.store.ListDeletions(t.Context(), "contoso")
	if err != nil || len(staged) != 1 || !strings.HasPrefix(staged[0].SourceID, "group:") {
		t.Fatalf("staged = %+v, %v; want one group deletion", staged, err)
	}
	if _, err := e.eng.ApproveDeletions(t.Context(), "contoso", []string{staged[0].SourceID}); err != nil {
		t.Fatal(err)
	}
	for _, n := range names[:3] {
		if ids := e.groupsNamed(dstDomain, n); len(ids) != 0 {
			t.Errorf("group %s is still there after its approval", n)
		}
	}
	if len(e.targetUsers("alice@"+srcDomain)) != 1 {
		t.Error("a member was deleted with the groups")
	}
}

// TestGroupEventDriven: after the first full pass, a member added to a
// synced source group reaches the target group through the group's change
// notification: the groups delta names the synced group as a follow-up,
// whose sync adds the member. A user created later joins their group in
// the follow-ups of their own sync.
func TestGroupEventDriven(t *testing.T) {
	e := newEnv(t, withGroups(map[string][]string{"Tailspin": {"alice"}}, "Tailspin"))
	_, cs := e.reconcile(true)
	e.process(cs)
	tg := e.groupIDOf(dstDomain, "Tailspin")
	if got := e.targetGroupMembers(tg); !slices.Equal(got, []string{"alice"}) {
		t.Fatalf("after the full pass: members %v", got)
	}
	src := e.groupIDOf(srcDomain, "Tailspin")
	e.graphCall(srcDomain, "POST", "/groups/"+src+"/members/$ref", map[string]any{"@odata.id": e.sim.TenantURL(srcDomain) + "/directoryObjects/" + e.sourceID("bob")}, nil)
	res, err := e.eng.Sync(t.Context(), engine.Change{Kind: engine.KindGroup, ID: src, Cause: "notification"})
	if err != nil {
		t.Fatal(err)
	}
	var follow []engine.Change
	for _, c := range res.FollowUps {
		if c.Kind == engine.KindGroup && c.ID == src {
			follow = append(follow, c)
		}
	}
	if len(follow) != 1 {
		t.Fatalf("follow-ups %+v, want the synced group once", res.FollowUps)
	}
	if res.Commit != nil {
		if err := res.Commit(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	e.process(res.FollowUps)
	if got := e.targetGroupMembers(tg); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Errorf("after the notification: members %v, want alice and bob", got)
	}
}
