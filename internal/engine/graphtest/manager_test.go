package graphtest_test

import (
	"slices"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/store"
)

// targetManager returns the id of a target user's manager, "" for none.
func (e *env) targetManager(targetID string) string {
	e.t.Helper()
	path := "/users/" + targetID + "/manager?$select=id"
	if code := e.graphCall(dstDomain, "GET", path, nil, nil); code == 404 {
		return ""
	}
	var mgr struct{ ID string }
	e.graphCall(dstDomain, "GET", path, nil, &mgr)
	return mgr.ID
}

func followUpIDs(res engine.Result) []string {
	var ids []string
	for _, f := range res.FollowUps {
		ids = append(ids, f.ID)
	}
	return ids
}

// Found by the chaos suite: a report whose source manager changed to
// someone outside the target's scope kept the old manager in the target.
func TestManagerClearedWhenTheNewManagerIsNotInTheTarget(t *testing.T) {
	e := newEnv(t)
	e.sync("alice")
	bob := only(t, e.sync("bob"))
	alice := e.link("alice")
	if got := e.targetManager(*bob.TargetID); got != alice.TargetID {
		t.Fatalf("bob's target manager = %q, want alice's %s", got, alice.TargetID)
	}
	// Carol (Finance) is not in the scoping group: she has no target user.
	ref := map[string]any{"@odata.id": e.sim.TenantURL(srcDomain) + "/users/" + e.sourceID("carol")}
	if code := e.graphCall(srcDomain, "PUT", "/users/"+e.sourceID("bob")+"/manager/$ref", ref, nil); code != 204 {
		t.Fatalf("set bob's manager: %d", code)
	}
	act := only(t, e.sync("bob"))
	if got := e.targetManager(*bob.TargetID); got != "" {
		t.Errorf("bob's target manager = %s after his manager became carol, who is not in the target; want none (%s: %v)",
			got, act.Op, act.Changes)
	}
	// Syncing again changes nothing.
	if act := only(t, e.sync("bob")); act.Op != engine.OpNoop {
		t.Errorf("second sync: %s %v", act.Op, act.Changes)
	}
}

// Found by the chaos suite: the direct reports of a manager whose target
// user became available other than by a plain create never got their
// manager: after a crash between the invitation and the link write (the
// retry adopts the invited user), after a restore, after a redelivery.
func TestReportsFollowUpWhenTheManagerBecomesAvailable(t *testing.T) {
	tests := []struct {
		name string
		// prepare runs after bob's sync (alice not in the target yet) and
		// returns the change whose sync must send bob again.
		prepare func(e *env) engine.Change
	}{
		{"adopted after a crash between invitation and link", func(e *env) engine.Change {
			// What the crashed sync left: alice invited, no link, no anchor.
			inv := map[string]any{"invitedUserEmailAddress": "alice@" + srcDomain, "inviteRedirectUrl": "https://myapps.microsoft.com",
				"invitedUserType": "Member", "sendInvitationMessage": false}
			if code := e.graphCall(dstDomain, "POST", "/invitations", inv, nil); code != 201 {
				t.Fatalf("invite: %d", code)
			}
			return engine.Change{Kind: engine.KindUser, ID: e.sourceID("alice")}
		}},
		{"restored", func(e *env) engine.Change {
			e.sync("alice")
			e.removeMember("alice")
			if act := only(t, e.sync("alice")); act.Op != engine.OpDeprovision {
				t.Fatalf("alice out of scope: %s (%s)", act.Op, act.Reason)
			}
			e.sync("bob") // bob's manager is now out of the target
			e.addMember(e.sourceID("alice"))
			return engine.Change{Kind: engine.KindUser, ID: e.sourceID("alice")}
		}},
		{"redelivered after a crash that lost the follow-ups", func(e *env) engine.Change {
			e.sync("alice") // created, follow-ups lost in the crash
			return engine.Change{Kind: engine.KindUser, ID: e.sourceID("alice"), Force: true}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			bob := only(t, e.sync("bob"))
			ch := tt.prepare(e)
			res, err := e.eng.Sync(t.Context(), ch)
			if err != nil {
				t.Fatalf("sync alice: %v", err)
			}
			if ids := followUpIDs(res); !slices.Contains(ids, e.sourceID("bob")) {
				t.Fatalf("follow-ups of alice's sync (%s) = %v, want bob", only(t, res).Op, ids)
			}
			e.sync("bob")
			if got, want := e.targetManager(*bob.TargetID), e.link("alice").TargetID; got != want {
				t.Errorf("bob's target manager = %q, want alice's %s", got, want)
			}
		})
	}
	t.Run("no follow-ups for a plain update", func(t *testing.T) {
		e := newEnv(t)
		e.sync("bob")
		e.sync("alice")
		e.patchSource("alice", map[string]any{"jobTitle": "Director"})
		if res := e.sync("alice"); len(res.FollowUps) != 0 {
			t.Errorf("follow-ups of an update = %v, want none", followUpIDs(res))
		}
	})
}

// Found by the chaos suite: a target user adopted while its manager's
// target user was soft deleted (so it showed no manager) kept the hidden
// reference, which came back with the manager's restore although the source
// user no longer had that manager.
func TestAdoptedUserDropsAHiddenManager(t *testing.T) {
	e := newEnv(t)
	e.sync("alice")
	bob := only(t, e.sync("bob"))
	e.removeMember("alice")
	if act := only(t, e.sync("alice")); act.Op != engine.OpDeprovision {
		t.Fatalf("alice out of scope: %s (%s)", act.Op, act.Reason)
	}
	// Bob loses his manager in the source, and his link is lost (a crash,
	// a store restored from backup): his sync adopts the target user by
	// its anchor, which shows no manager while alice's user is deleted.
	e.graphCall(srcDomain, "DELETE", "/users/"+e.sourceID("bob")+"/manager/$ref", nil, nil)
	if err := e.store.DeleteLink(t.Context(), e.link("bob")); err != nil {
		t.Fatal(err)
	}
	if act := only(t, e.sync("bob")); !contains(act.Reason, "by anchor") {
		t.Fatalf("bob: %s (%s), want a match by anchor", act.Op, act.Reason)
	}
	e.addMember(e.sourceID("alice"))
	if act := only(t, e.sync("alice")); act.Op != engine.OpRestore {
		t.Fatalf("alice back in scope: %s (%s)", act.Op, act.Reason)
	}
	if got := e.targetManager(*bob.TargetID); got != "" {
		t.Errorf("bob's target manager = %s after alice's restore; bob has no manager in the source", got)
	}
}

// Found by the chaos suite: a forced sync (a retry) of a user whose
// manager's target user was soft deleted saw no manager in the target and
// left the hidden reference, which came back with the manager's restore
// although the source user no longer had that manager.
func TestForcedSyncDropsAHiddenManager(t *testing.T) {
	e := newEnv(t)
	e.sync("alice")
	bob := only(t, e.sync("bob"))
	e.removeMember("alice")
	if act := only(t, e.sync("alice")); act.Op != engine.OpDeprovision {
		t.Fatalf("alice out of scope: %s (%s)", act.Op, act.Reason)
	}
	e.graphCall(srcDomain, "DELETE", "/users/"+e.sourceID("bob")+"/manager/$ref", nil, nil)
	if _, err := e.eng.Sync(t.Context(), engine.Change{Kind: engine.KindUser, ID: e.sourceID("bob"), Force: true}); err != nil {
		t.Fatal(err)
	}
	e.addMember(e.sourceID("alice"))
	if act := only(t, e.sync("alice")); act.Op != engine.OpRestore {
		t.Fatalf("alice back in scope: %s (%s)", act.Op, act.Reason)
	}
	if got := e.targetManager(*bob.TargetID); got != "" {
		t.Errorf("bob's target manager = %s after alice's restore; bob has no manager in the source", got)
	}
}

// Found by the chaos suite: while a manager's deprovision waited out the
// settle delay or was held by the deletion guard, her reports' syncs
// cleared their managers in the target: a held burst changed the target
// after all.
func TestReportsKeepAManagerWhoseDeprovisionIsNotCarriedOut(t *testing.T) {
	tests := []struct {
		name  string
		leave func(e *env)
	}{
		{"removed from the scoping group", func(e *env) { e.removeMember("alice") }},
		{"disabled in the source", func(e *env) { e.patchSource("alice", map[string]any{"accountEnabled": false}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, guardOf(5, time.Hour))
			e.sync("alice")
			bob := only(t, e.sync("bob"))
			alice := e.link("alice")
			tt.leave(e)
			e.sync("alice")
			if got := e.link("alice").State; got != store.LinkPending {
				t.Fatalf("alice's link is %s, want %s (the settle delay)", got, store.LinkPending)
			}
			if _, err := e.eng.Sync(t.Context(), engine.Change{Kind: engine.KindUser, ID: e.sourceID("bob"), Force: true}); err != nil {
				t.Fatal(err)
			}
			if got := e.targetManager(*bob.TargetID); got != alice.TargetID {
				t.Errorf("bob's target manager = %q while alice's deprovision is pending, want alice's %s", got, alice.TargetID)
			}
		})
	}
}
