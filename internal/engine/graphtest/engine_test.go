package graphtest_test

import (
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/devtools/testenv"
	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/graphsim"
	"github.com/tenantsync/tenantsync/internal/scope"
	"github.com/tenantsync/tenantsync/internal/store"
)

func TestCreate(t *testing.T) {
	e := newEnv(t)
	before := e.stats(dstDomain)
	act := only(t, e.sync("alice"))
	if act.Op != engine.OpCreate || act.TargetID == nil {
		t.Fatalf("action = %+v, want create with a target id", act)
	}
	if !contains(act.Reason, `member of group "Cross-tenant sync"`) {
		t.Errorf("reason %q does not say which group put alice in scope", act.Reason)
	}
	u := e.targetUser("alice@" + srcDomain)
	want := map[string]any{
		"id": *act.TargetID, "displayName": "Alice Archer", "department": "Sales", "jobTitle": "Engineer",
		"userType": "Member", "accountEnabled": true, "creationType": "Invitation",
	}
	for k, v := range want {
		if u[k] != v {
			t.Errorf("target %s = %v, want %v", k, u[k], v)
		}
	}
	ext, _ := u["onPremisesExtensionAttributes"].(map[string]any)
	if got := ext["extensionAttribute15"]; got != "tenantsync:"+srcDomain+":"+e.sourceID("alice") {
		t.Errorf("anchor = %v", got)
	}
	after := e.stats(dstDomain)
	if w := after.Writes - before.Writes; w > 2 {
		t.Errorf("create took %d target writes, want at most 2 (invite + one PATCH)", w)
	}
	l := e.link("alice")
	if l.TargetID != *act.TargetID || l.State != store.LinkActive || l.Hash == "" {
		t.Errorf("link = %+v", l)
	}
}

func TestNoopCostsTwoReadsAndNoWrite(t *testing.T) {
	e := newEnv(t)
	e.sync("alice")
	id := e.sourceID("alice")
	src0, dst0 := e.stats(srcDomain), e.stats(dstDomain)
	act := only(t, mustSync(t, e, id))
	if act.Op != engine.OpNoop {
		t.Fatalf("second sync = %s (%s), want noop", act.Op, act.Reason)
	}
	src1, dst1 := e.stats(srcDomain), e.stats(dstDomain)
	reads := (src1.Reads - src0.Reads) + (dst1.Reads - dst0.Reads)
	writes := (src1.Writes - src0.Writes) + (dst1.Writes - dst0.Writes)
	if reads > 2 || writes != 0 {
		for r, n := range src1.Routes {
			if d := n - src0.Routes[r]; d > 0 {
				t.Logf("source %s: %d", r, d)
			}
		}
		t.Errorf("no-op sync: %d reads, %d writes; want ≤ 2 reads and 0 writes", reads, writes)
	}
}

func TestUpdateWritesOnlyTheDifference(t *testing.T) {
	e := newEnv(t)
	e.sync("alice")
	e.patchSource("alice", map[string]any{"department": "Marketing"})
	id := e.sourceID("alice")
	before := e.stats(dstDomain)
	act := only(t, mustSync(t, e, id))
	if act.Op != engine.OpUpdate {
		t.Fatalf("action = %s, want update", act.Op)
	}
	if len(act.Changes) != 1 || act.Changes["department"].Old != "Sales" || act.Changes["department"].New != "Marketing" {
		t.Errorf("changes = %+v, want only department Sales → Marketing", act.Changes)
	}
	if w := e.stats(dstDomain).Writes - before.Writes; w != 1 {
		t.Errorf("update took %d writes, want 1", w)
	}
	if got := e.targetUser("alice@" + srcDomain)["department"]; got != "Marketing" {
		t.Errorf("target department = %v", got)
	}
	// A change to an attribute no mapping reads costs no write.
	e.patchSource("alice", map[string]any{"preferredLanguage": "de-DE"})
	before = e.stats(dstDomain)
	if act := only(t, e.sync("alice")); act.Op != engine.OpNoop {
		t.Errorf("unmapped change: action %s, want noop", act.Op)
	}
	if w := e.stats(dstDomain).Writes - before.Writes; w != 0 {
		t.Errorf("unmapped change took %d writes", w)
	}
}

func TestDisableFollowsSource(t *testing.T) {
	e := newEnv(t)
	e.sync("alice")
	e.patchSource("alice", map[string]any{"accountEnabled": false})
	act := only(t, e.sync("alice"))
	if act.Op != engine.OpDisable {
		t.Fatalf("action = %s, want disable", act.Op)
	}
	if got := e.targetUser("alice@" + srcDomain)["accountEnabled"]; got != false {
		t.Errorf("target accountEnabled = %v", got)
	}
	e.patchSource("alice", map[string]any{"accountEnabled": true})
	if act := only(t, e.sync("alice")); act.Op != engine.OpUpdate {
		t.Errorf("re-enable: action %s", act.Op)
	}
	if got := e.targetUser("alice@" + srcDomain)["accountEnabled"]; got != true {
		t.Errorf("target accountEnabled after re-enable = %v", got)
	}
}

func TestOutOfScopeDeprovisionsAndReturningRestores(t *testing.T) {
	for _, action := range []config.DeprovisionAction{config.DeprovisionDelete, config.DeprovisionDisable} {
		t.Run(string(action), func(t *testing.T) {
			e := newEnv(t, func(_ *graphsim.Seed, c *config.Config) { c.Targets[0].Deprovision.Action = action })
			created := only(t, e.sync("bob"))
			e.removeMember("bob")
			act := only(t, e.sync("bob"))
			wantOp := engine.OpDeprovision
			if action == config.DeprovisionDisable {
				wantOp = engine.OpDisable
			}
			if act.Op != wantOp || !contains(act.Reason, "out of scope") {
				t.Fatalf("action = %s (%s), want %s", act.Op, act.Reason, wantOp)
			}
			switch action {
			case config.DeprovisionDelete:
				if n := len(e.targetUsers("bob@" + srcDomain)); n != 0 {
					t.Errorf("%d live target users after delete", n)
				}
				if code := e.graphCall(dstDomain, "GET", "/directory/deletedItems/"+*created.TargetID, nil, nil); code != 200 {
					t.Errorf("deleted target user not in deleted items: %d", code)
				}
			case config.DeprovisionDisable:
				if got := e.targetUser("bob@" + srcDomain)["accountEnabled"]; got != false {
					t.Errorf("accountEnabled = %v", got)
				}
			}
			if again := only(t, e.sync("bob")); again.Op != engine.OpNoop {
				t.Errorf("second deprovision = %s, want noop", again.Op)
			}
			// Back in scope: the same target user returns.
			e.addMember(e.sourceID("bob"))
			back := only(t, e.sync("bob"))
			if back.TargetID == nil || *back.TargetID != *created.TargetID {
				t.Fatalf("back in scope: %+v, want the original target user %s", back, *created.TargetID)
			}
			u := e.targetUser("bob@" + srcDomain)
			if u["accountEnabled"] != true {
				t.Errorf("restored user accountEnabled = %v", u["accountEnabled"])
			}
		})
	}
}

func TestSourceSoftDeleteAndRestore(t *testing.T) {
	e := newEnv(t)
	id := e.sourceID("erin")
	created := only(t, e.sync("erin"))
	if code := e.graphCall(srcDomain, "DELETE", "/users/"+id, nil, nil); code != 204 {
		t.Fatalf("delete source user: %d", code)
	}
	act := only(t, mustSync(t, e, id))
	if act.Op != engine.OpDeprovision || !contains(act.Reason, "soft-deleted") {
		t.Fatalf("after source delete: %s (%s)", act.Op, act.Reason)
	}
	if code := e.graphCall(srcDomain, "POST", "/directory/deletedItems/"+id+"/restore", nil, nil); code != 200 {
		t.Fatalf("restore source user: %d", code)
	}
	act = only(t, mustSync(t, e, id))
	if act.Op != engine.OpRestore || *act.TargetID != *created.TargetID {
		t.Fatalf("after source restore: %+v, want restore of %s", act, *created.TargetID)
	}
	if got := e.targetUser("erin@" + srcDomain)["id"]; got != *created.TargetID {
		t.Errorf("live target user = %v", got)
	}
	// Permanently deleted: deprovisioned, and nothing more to do.
	e.graphCall(srcDomain, "DELETE", "/users/"+id, nil, nil)
	e.graphCall(srcDomain, "DELETE", "/directory/deletedItems/"+id, nil, nil)
	act = only(t, mustSync(t, e, id))
	if act.Op != engine.OpDeprovision || !contains(act.Reason, "deleted in the source") {
		t.Errorf("after permanent delete: %s (%s)", act.Op, act.Reason)
	}
}

func mustSync(t testing.TB, e *env, id string) engine.Result {
	t.Helper()
	res, err := e.eng.Sync(t.Context(), engine.Change{Kind: engine.KindUser, ID: id})
	if err != nil {
		t.Fatalf("sync %s: %v", id, err)
	}
	return res
}

func TestScopeSkips(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		user, op, reason string
	}{
		{"carol", "skip", "not a member of group"},
		{"dave", "skip", "userType is Guest"},
		{"heidi", "create", ""}, // no mail: invited at her UPN (Coalesce)
	}
	for _, tt := range tests {
		act := only(t, e.sync(tt.user))
		if string(act.Op) != tt.op || !contains(act.Reason, tt.reason) {
			t.Errorf("%s: %s (%s), want %s (%s)", tt.user, act.Op, act.Reason, tt.op, tt.reason)
		}
	}
	if n := len(e.targetUsers("carol@" + srcDomain)); n != 0 {
		t.Errorf("out-of-scope carol has %d target users", n)
	}
}

// TestAdoptsExistingB2BUser: Frank's unredeemed invitation is provably his
// and is adopted; as in Cross-Tenant Synchronization, userType is set on
// create only, so the adopted guest stays a guest (issue 19, defect 5).
func TestAdoptsExistingB2BUser(t *testing.T) {
	e := newEnv(t)
	existing := e.targetUser("frank@" + srcDomain)
	before := e.stats(dstDomain)
	act := only(t, e.sync("frank"))
	if act.Op != engine.OpUpdate || *act.TargetID != existing["id"] || !contains(act.Reason, "adopted") {
		t.Fatalf("action = %+v, want adoption of %v", act, existing["id"])
	}
	if n := e.stats(dstDomain).Routes["POST /invitations"] - before.Routes["POST /invitations"]; n != 0 {
		t.Errorf("%d invitations sent for an existing user", n)
	}
	u := e.targetUser("frank@" + srcDomain)
	if u["displayName"] != "Frank Fisher" || u["userType"] != "Guest" {
		t.Errorf("adopted user = %v, want Frank Fisher still a Guest", u)
	}
}

// TestNeverTakesOverAnInternalMember: an internal member with the address
// is a conflict, recorded once: no error (so no dead letter per change), no
// write to the member, and the same conflict found again is not logged again
// (issue 19, defect 10).
func TestNeverTakesOverAnInternalMember(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		before := e.stats(dstDomain)
		res, err := e.eng.Sync(t.Context(), engine.Change{Kind: engine.KindUser, ID: e.sourceID("grace")})
		if err != nil {
			t.Fatalf("sync %d: %v, want no error: a conflict is not a failure of the change", i, err)
		}
		a := only(t, res)
		if a.Op != engine.OpSkip || a.Conflict == nil || !contains(a.Conflict.Reason, "internal member") || a.TargetID != nil {
			t.Fatalf("sync %d: %+v, want a skip with a conflict about an internal member", i, a)
		}
		if w := e.stats(dstDomain).Writes - before.Writes; w != 0 {
			t.Errorf("sync %d wrote %d times to the target", i, w)
		}
	}
	u := e.targetUser("grace@" + srcDomain)
	if u["displayName"] != "Grace Green" || u["creationType"] != nil {
		t.Errorf("internal member was touched: %v", u)
	}
	l := e.link("grace")
	if l.State != store.LinkConflict || l.TargetID != u["id"] || !contains(l.LastError, "internal member") {
		t.Errorf("link = %+v, want a conflict naming the member", l)
	}
	page, err := e.store.ListEvents(t.Context(), "contoso", store.ListEventsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 1 || page.Events[0].Result != "conflict" {
		t.Errorf("events = %+v, want the one conflict, logged once", page.Events)
	}
}

func TestCrashBetweenInvitationAndLink(t *testing.T) {
	e := newEnv(t)
	// A previous run invited Alice and died before writing anything else.
	if _, err := e.dst.Invite(t.Context(), engine.Invitation{Email: "alice@" + srcDomain, DisplayName: "Alice Archer",
		RedirectURL: "https://myapps.microsoft.com", UserType: "Member"}); err != nil {
		t.Fatal(err)
	}
	act := only(t, e.sync("alice"))
	if act.Op != engine.OpUpdate || !contains(act.Reason, "adopted") {
		t.Errorf("after crash: %s (%s), want adoption", act.Op, act.Reason)
	}
	if n := len(e.targetUsers("alice@" + srcDomain)); n != 1 {
		t.Fatalf("%d target users for alice, want 1", n)
	}
	// The link is lost (a store restored from backup): the anchor finds the user.
	l := e.link("alice")
	if err := e.store.DeleteLink(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	act = only(t, e.sync("alice"))
	if !contains(act.Reason, "by anchor") || *act.TargetID != l.TargetID {
		t.Errorf("after losing the link: %+v", act)
	}
	if n := len(e.targetUsers("alice@" + srcDomain)); n != 1 {
		t.Errorf("%d target users for alice, want 1", n)
	}
}

func TestConcurrentAndDuplicateSyncsCreateOneUser(t *testing.T) {
	e := newEnv(t)
	id := e.sourceID("alice")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.eng.Sync(t.Context(), engine.Change{Kind: engine.KindUser, ID: id})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent sync: %v", err)
		}
	}
	if n := len(e.targetUsers("alice@" + srcDomain)); n != 1 {
		t.Fatalf("%d target users after 8 concurrent syncs, want 1", n)
	}
	if act := only(t, e.sync("alice")); act.Op != engine.OpNoop {
		t.Errorf("sync after the storm = %s, want noop", act.Op)
	}
}

func TestDeletionGuard(t *testing.T) {
	e := newEnv(t, func(_ *graphsim.Seed, c *config.Config) {
		c.Targets[0].Deprovision.Threshold = 2
		c.Targets[0].Deprovision.Window = config.Duration(time.Hour)
	})
	names := []string{"alice", "bob", "erin", "frank"}
	for _, n := range names {
		e.sync(n)
	}
	var held []string
	deprovisioned := 0
	for _, n := range names {
		e.removeMember(n)
		act := only(t, e.sync(n))
		switch {
		case act.Held:
			held = append(held, n)
		case act.Op == engine.OpDeprovision:
			deprovisioned++
		default:
			t.Errorf("%s: %s (%s)", n, act.Op, act.Reason)
		}
	}
	if deprovisioned != 2 || len(held) != 2 {
		t.Fatalf("deprovisioned %d, held %v; want 2 and 2", deprovisioned, held)
	}
	staged, err := e.store.ListDeletions(t.Context(), "contoso")
	if err != nil || len(staged) != 2 {
		t.Fatalf("staged deletions: %v, %v", staged, err)
	}
	for _, n := range held {
		if len(e.targetUsers(n+"@"+srcDomain)) != 1 {
			t.Errorf("held %s was deleted", n)
		}
		if again := only(t, e.sync(n)); !again.Held {
			t.Errorf("held %s not held on the next sync: %+v", n, again)
		}
	}
	// A held user who comes back is no longer staged.
	e.addMember(e.sourceID(held[0]))
	if act := only(t, e.sync(held[0])); act.Op != engine.OpNoop && act.Op != engine.OpUpdate {
		t.Errorf("returning held user: %s", act.Op)
	}
	acts, err := e.eng.ApproveAllDeletions(t.Context(), "contoso")
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	if len(acts) != 1 || acts[0].Op != engine.OpDeprovision || acts[0].Held {
		t.Fatalf("approved actions = %+v, want one deprovision", acts)
	}
	if len(e.targetUsers(held[1]+"@"+srcDomain)) != 0 {
		t.Errorf("approved deletion of %s not carried out", held[1])
	}
	if staged, _ := e.store.ListDeletions(t.Context(), "contoso"); len(staged) != 0 {
		t.Errorf("staged deletions left: %+v", staged)
	}
	if _, err := e.eng.ApproveDeletions(t.Context(), "contoso", []string{"nobody"}); err == nil || !contains(err.Error(), "no staged deletion") {
		t.Errorf("approving an unknown id: %v", err)
	}
}

// TestQuarantine: a refusal the probe confirms as the whole target's (the
// invitation policy refuses every invitation) quarantines the target at
// once; work is then skipped without a request, until an operator resumes
// it or the quarantine runs out.
func TestQuarantine(t *testing.T) {
	e := newEnv(t, func(s *graphsim.Seed, _ *config.Config) { s.Tenants[1].BlockInvitations = true })
	_, err := e.eng.Sync(t.Context(), engine.Change{Kind: engine.KindUser, ID: e.sourceID("alice")})
	if !errors.Is(err, directory.ErrForbidden) {
		t.Fatalf("sync alice with invitations blocked: %v", err)
	}
	st, err := e.store.GetStatus(t.Context(), "contoso")
	if err != nil || st.QuarantineReason == "" || st.QuarantinedUntil.Sub(e.now.Add(5*time.Minute)).Abs() > time.Microsecond || !st.FullPassNeeded {
		t.Fatalf("status after a confirmed refusal = %+v, %v; want a 5-minute quarantine that needs a full pass", st, err)
	}
	before := e.stats(dstDomain)
	act := only(t, e.sync("heidi"))
	if act.Op != engine.OpSkip || !contains(act.Reason, "quarantined") {
		t.Errorf("sync in quarantine = %s (%s)", act.Op, act.Reason)
	}
	if n := e.stats(dstDomain).Requests - before.Requests; n != 0 {
		t.Errorf("%d requests to a quarantined target", n)
	}
	// The admin unblocks invitations and resumes the target.
	snap, _ := e.sim.Snapshot(dstDomain)
	snap.BlockInvitations = false
	if err := e.sim.PutTenant(snap); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Resume(t.Context(), "contoso"); err != nil {
		t.Fatal(err)
	}
	if act := only(t, e.sync("alice")); act.Op != engine.OpCreate {
		t.Errorf("after resume: %s (%s)", act.Op, act.Reason)
	}
	// Without an operator, the quarantine ends on its own once it runs out.
	snap, _ = e.sim.Snapshot(dstDomain)
	snap.BlockInvitations = true
	if err := e.sim.PutTenant(snap); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(time.Minute) // past the probe's cache
	if _, err := e.eng.Sync(t.Context(), engine.Change{Kind: engine.KindUser, ID: e.sourceID("bob")}); !errors.Is(err, directory.ErrForbidden) {
		t.Fatalf("sync bob with invitations blocked again: %v", err)
	}
	snap, _ = e.sim.Snapshot(dstDomain)
	snap.BlockInvitations = false
	if err := e.sim.PutTenant(snap); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(24 * time.Hour)
	if act := only(t, e.sync("bob")); act.Op != engine.OpCreate {
		t.Errorf("after the quarantine ran out: %s (%s)", act.Op, act.Reason)
	}
	if st, _ := e.store.GetStatus(t.Context(), "contoso"); st.QuarantineReason != "" || st.Quarantines != 0 {
		t.Errorf("status after a success = %+v, want the quarantine cleared", st)
	}
}

func TestManagerResolvedThroughLinks(t *testing.T) {
	e := newEnv(t)
	// Bob first: his manager Alice is not in the target yet.
	bob := only(t, e.sync("bob"))
	res := e.sync("alice")
	alice := only(t, res)
	if len(res.FollowUps) != 1 || res.FollowUps[0].ID != e.sourceID("bob") {
		t.Fatalf("follow-ups after creating alice = %+v, want bob", res.FollowUps)
	}
	act := only(t, e.sync("bob"))
	if act.Changes["manager"].New != *alice.TargetID {
		t.Fatalf("bob's manager change = %+v, want %s", act.Changes, *alice.TargetID)
	}
	var mgr struct{ ID string }
	e.graphCall(dstDomain, "GET", "/users/"+*bob.TargetID+"/manager", nil, &mgr)
	if mgr.ID != *alice.TargetID {
		t.Errorf("target manager of bob = %s, want %s", mgr.ID, *alice.TargetID)
	}
}

func TestProvisionOnDemandReportsSteps(t *testing.T) {
	e := newEnv(t)
	reps, err := e.eng.Provision(t.Context(), "alice@"+srcDomain, "contoso")
	if err != nil || len(reps) != 1 {
		t.Fatalf("provision: %v, %d reports", err, len(reps))
	}
	var steps []string
	for _, s := range reps[0].Steps {
		steps = append(steps, s.Name)
	}
	if got := strings.Join(steps, ","); got != "import,scope,match,action" {
		t.Errorf("steps = %s", got)
	}
	if reps[0].Action.Op != engine.OpCreate || len(reps[0].Action.RequestIDs) < 3 {
		t.Errorf("result = %+v, want a create with its Graph request ids", reps[0].Action)
	}
	if _, err := e.eng.Provision(t.Context(), "nobody@"+srcDomain, ""); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	if _, err := e.eng.Provision(t.Context(), "alice@"+srcDomain, "nowhere"); !errors.Is(err, engine.ErrUnknownTarget) {
		t.Errorf("unknown target: %v", err)
	}
}

func TestFilters(t *testing.T) {
	e := newEnv(t, func(_ *graphsim.Seed, c *config.Config) {
		c.Targets[0].Scope = config.Scope{All: true, Filters: []scope.Filter{
			{{Attribute: "department", Operator: scope.Equals, Value: "Finance"}},
		}}
	})
	if act := only(t, e.sync("carol")); act.Op != engine.OpCreate {
		t.Errorf("carol (Finance) = %s (%s)", act.Op, act.Reason)
	}
	if act := only(t, e.sync("alice")); act.Op != engine.OpSkip || !contains(act.Reason, "department") {
		t.Errorf("alice (Sales) = %s (%s)", act.Op, act.Reason)
	}
}

// TestLogsNameAttributesNotValues (issue 18, finding 1): at Info the
// provisioning log names the attributes that changed, never their values;
// the values appear only at Debug.
func TestLogsNameAttributesNotValues(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		t.Run(level.String(), func(t *testing.T) {
			e := newEnv(t)
			var buf testenv.Buffer
			eng, err := engine.New(engine.Options{Config: e.cfg, Source: e.src, Targets: map[string]engine.Target{"contoso": e.dst},
				Store: e.store, Now: e.time, Logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level}))})
			if err != nil {
				t.Fatal(err)
			}
			e.eng = eng
			e.sync("alice")
			e.patchSource("alice", map[string]any{"department": "Skunkworks", "mobilePhone": "+1 555 0199"})
			e.sync("alice")
			out := buf.String()
			if !contains(out, `"attributes":["department","mobilePhone"]`) {
				t.Errorf("the log does not name the changed attributes:\n%s", out)
			}
			leaks := contains(out, "Skunkworks") || contains(out, "555 0199")
			if leaks != (level == slog.LevelDebug) {
				t.Errorf("at %s, values in the log: %v, want %v:\n%s", level, leaks, level == slog.LevelDebug, out)
			}
		})
	}
}
