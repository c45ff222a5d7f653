package graphtest_test

import (
	"encoding/json"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/store"
)

// process syncs every change, as ProcessChange would.
func (e *env) process(cs []engine.Change) {
	e.t.Helper()
	for len(cs) > 0 {
		var next []engine.Change
		for _, c := range cs {
			res, _ := e.eng.Sync(e.t.Context(), c)
			next = append(next, res.FollowUps...)
		}
		cs = next
	}
}

func (e *env) reconcile(full bool) (engine.ReconcileResult, []engine.Change) {
	e.t.Helper()
	var cs []engine.Change
	res, err := e.eng.Reconcile(e.t.Context(), engine.ReconcileOptions{Full: full, Emit: collect(&cs)})
	if err != nil {
		e.t.Fatalf("reconcile: %v", err)
	}
	return res, cs
}

func ids(cs []engine.Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func (e *env) ids(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, e.sourceID(n))
	}
	sort.Strings(out)
	return out
}

func TestPlanIsADryRun(t *testing.T) {
	e := newEnv(t)
	before := e.stats(dstDomain)
	plan, err := e.eng.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if w := e.stats(dstDomain).Writes - before.Writes; w != 0 {
		t.Errorf("plan wrote %d times to the target", w)
	}
	n := 0
	_ = e.store.ListLinks(t.Context(), "contoso", func(_ store.Link) error { n++; return nil })
	if n != 0 {
		t.Errorf("plan wrote %d links", n)
	}
	if len(plan.Targets) != 1 || plan.Targets[0].Name != "contoso" {
		t.Fatalf("plan targets = %+v", plan.Targets)
	}
	got := map[string]string{}
	for _, a := range plan.Targets[0].Actions {
		got[a.UserPrincipalName] = string(a.Op)
		if a.Error != "" {
			got[a.UserPrincipalName] += " error"
		}
		if a.Conflict != nil {
			got[a.UserPrincipalName] += " conflict"
		}
	}
	want := map[string]string{
		"alice@" + srcDomain: "create", "bob@" + srcDomain: "create", "erin@" + srcDomain: "create",
		"heidi@" + srcDomain: "create", "frank@" + srcDomain: "update", "grace@" + srcDomain: "skip conflict",
		"carol@" + srcDomain: "skip", "dave@" + srcDomain: "skip",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("plan for %s = %q, want %q", k, got[k], v)
		}
	}
	// The JSON is the shape DESIGN.md promises.
	b, _ := json.Marshal(plan)
	var doc struct {
		Targets []struct {
			Name    string
			Actions []map[string]any
			Held    []map[string]any
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, a := range doc.Targets[0].Actions {
		for _, k := range []string{"action", "sourceId", "userPrincipalName", "targetId", "reason"} {
			if _, ok := a[k]; !ok {
				t.Errorf("plan action %v lacks %q", a, k)
			}
		}
	}
	if doc.Targets[0].Held == nil {
		t.Errorf("plan JSON has no held list: %s", b)
	}
}

func TestReconcileFullThenDelta(t *testing.T) {
	e := newEnv(t)
	res, cs := e.reconcile(false)
	if !res.Full || res.Why != "no watermark yet" {
		t.Fatalf("first reconcile = %+v", res)
	}
	if got, want := ids(cs), e.ids("alice", "bob", "erin", "frank", "heidi"); !slices.Equal(got, want) {
		t.Fatalf("first reconcile emitted %v, want %v", got, want)
	}
	e.process(cs)
	if n := len(e.targetUsers("alice@" + srcDomain)); n != 1 {
		t.Fatalf("alice not created: %d", n)
	}

	// Nothing changed: the delta costs a request or two and emits nothing.
	src0 := e.stats(srcDomain)
	res, cs = e.reconcile(false)
	if res.Full || len(cs) != 0 {
		t.Fatalf("idle reconcile = %+v, %v", res, cs)
	}
	if r := e.stats(srcDomain).Reads - src0.Reads; r > 4 {
		t.Errorf("idle reconcile took %d source reads", r)
	}

	// A user change and a membership change surface through the deltas.
	e.patchSource("alice", map[string]any{"jobTitle": "Director"})
	e.removeMember("bob")
	res, cs = e.reconcile(false)
	if res.Full {
		t.Fatalf("reconcile after changes ran a full pass: %+v", res)
	}
	if got, want := ids(cs), e.ids("alice", "bob"); !slices.Equal(got, want) {
		t.Fatalf("delta emitted %v, want %v", got, want)
	}
	e.process(cs)
	if got := e.targetUser("alice@" + srcDomain)["jobTitle"]; got != "Director" {
		t.Errorf("alice's jobTitle = %v", got)
	}
	if n := len(e.targetUsers("bob@" + srcDomain)); n != 0 {
		t.Errorf("bob left scope but has %d live target users", n)
	}
}

func TestFullPassRepairsDriftAndOrphans(t *testing.T) {
	e := newEnv(t)
	_, cs := e.reconcile(true)
	e.process(cs)
	alice := e.targetUser("alice@" + srcDomain)

	// Someone edits a synced user in the target.
	e.graphCall(dstDomain, "PATCH", "/users/"+alice["id"].(string), map[string]any{"department": "Hacked"}, nil)
	// A crash left a target user for Carol (out of scope) without a link.
	var inv struct{ InvitedUser struct{ ID string } }
	e.graphCall(dstDomain, "POST", "/invitations", map[string]any{
		"invitedUserEmailAddress": "carol@" + srcDomain, "inviteRedirectUrl": "https://myapps.microsoft.com",
		"sendInvitationMessage": false, "invitedUserType": "Member"}, &inv)
	e.graphCall(dstDomain, "PATCH", "/users/"+inv.InvitedUser.ID, map[string]any{
		"onPremisesExtensionAttributes": map[string]any{"extensionAttribute15": "tenantsync:" + srcDomain + ":" + e.sourceID("carol")}}, nil)

	res, cs := e.reconcile(true)
	if !res.Full {
		t.Fatalf("reconcile = %+v", res)
	}
	if got, want := ids(cs), e.ids("alice", "carol"); !slices.Equal(got, want) {
		t.Fatalf("full pass emitted %v, want %v (drifted alice, orphaned carol)", got, want)
	}
	for _, c := range cs {
		if !c.Force {
			t.Errorf("change %+v is not forced", c)
		}
	}
	e.process(cs)
	if got := e.targetUser("alice@" + srcDomain)["department"]; got != "Sales" {
		t.Errorf("drift not repaired: department %v", got)
	}
	if n := len(e.targetUsers("carol@" + srcDomain)); n != 0 {
		t.Errorf("orphan not deprovisioned: %d live users", n)
	}
	if _, cs := e.reconcile(true); len(cs) != 0 {
		t.Errorf("a full pass after repair still emits %v", ids(cs))
	}
}

func TestExpiredDeltaTokenForcesAFullPass(t *testing.T) {
	e := newEnv(t)
	_, cs := e.reconcile(false)
	e.process(cs)
	e.sim.AdvanceClock(8 * 24 * time.Hour)
	e.now = e.now.Add(time.Hour) // the engine's own full-pass clock has not run out
	res, _ := e.reconcile(false)
	if !res.Full || !contains(res.Why, "expired") {
		t.Errorf("reconcile with an expired token = %+v", res)
	}
}

// A group change reads the shared groups delta. Its watermark may move only
// after the caller has made the follow-ups safe (Result.Commit): a crash in
// between must give the same follow-ups again, not lose them.
func TestGroupChangeMovesTheWatermarkOnlyOnCommit(t *testing.T) {
	e := newEnv(t)
	_, cs := e.reconcile(true)
	e.process(cs)
	before, err := e.store.GetWatermark(t.Context(), e.cfg.Source.Tenant, "groups")
	if err != nil || before.DeltaLink == "" {
		t.Fatalf("groups watermark after the full pass: %+v, %v", before, err)
	}
	e.removeMember("erin")
	group := engine.Change{Kind: engine.KindGroup, ID: e.groupID()}

	first, err := e.eng.Sync(t.Context(), group)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ids(first.FollowUps), e.sourceID("erin")) || first.Commit == nil {
		t.Fatalf("group change: follow-ups %v (commit set: %t), want erin's and a commit", ids(first.FollowUps), first.Commit != nil)
	}
	if w, _ := e.store.GetWatermark(t.Context(), e.cfg.Source.Tenant, "groups"); w.DeltaLink != before.DeltaLink {
		t.Fatalf("the watermark moved before Commit: %q → %q", before.DeltaLink, w.DeltaLink)
	}

	// The process died before enqueuing: the redelivered change finds the
	// same users.
	again, err := e.eng.Sync(t.Context(), group)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(again.FollowUps), ids(first.FollowUps); !slices.Equal(got, want) {
		t.Fatalf("redelivered group change: follow-ups %v, want %v", got, want)
	}
	if err := again.Commit(t.Context()); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if w, _ := e.store.GetWatermark(t.Context(), e.cfg.Source.Tenant, "groups"); w.DeltaLink == before.DeltaLink {
		t.Fatal("the watermark did not move on Commit")
	}
	after, err := e.eng.Sync(t.Context(), group)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(ids(after.FollowUps), e.sourceID("erin")) {
		t.Errorf("after Commit, the same group change still reports erin: %v", ids(after.FollowUps))
	}
}
