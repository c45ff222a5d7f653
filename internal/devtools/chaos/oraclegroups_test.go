package chaos

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// userID returns the id of a target's own user (targetSeed's).
func (w *oracleWorld) userID(domain, local string) string {
	w.t.Helper()
	var u struct{ ID string }
	w.call(domain, http.MethodGet, "/users/"+local+"@"+domain+"?$select=id", nil, &u)
	return u.ID
}

// handAdd adds a target user to a synced group's target group as a target
// administrator would, and records it as the harness does.
func (w *oracleWorld) handAdd(domain, key, targetUserID string) {
	w.t.Helper()
	w.call(domain, http.MethodPost, "/groups/"+w.groups[domain][key]+"/members/$ref", ref("directoryObjects", targetUserID), nil)
	w.rules.HandMember(domain, groupIDOf(key), targetUserID)
	if err := w.o.Refingerprint(w.t.Context(), domain, targetUserID); err != nil {
		w.t.Fatal(err)
	}
}

func groupIDOf(key string) string {
	for _, g := range worldGroups {
		if g.Key == key {
			return g.ID
		}
	}
	return ""
}

// removeFrom takes a target user out of a synced group's target group.
func (w *oracleWorld) removeFrom(domain, key, targetUserID string) {
	w.t.Helper()
	w.call(domain, http.MethodDelete, "/groups/"+w.groups[domain][key]+"/members/"+targetUserID+"/$ref", nil, nil)
}

// TestOracleGroups shows that the oracle passes the synced groups of a
// perfect sync and catches each way their sync can go wrong.
func TestOracleGroups(t *testing.T) {
	const contoso, litware, adatum = "contoso.example", "litware.example", "adatum.example"
	tests := []struct {
		name   string
		break_ func(w *oracleWorld)
		want   []string
	}{
		{"target group deleted", func(w *oracleWorld) {
			w.call(contoso, http.MethodDelete, "/groups/"+w.groups[contoso][teamGroup], nil, nil)
		}, []string{"contoso/group-missing"}},
		{"source rename not followed", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodPatch, "/groups/"+groupIDOf(teamGroup), map[string]any{"displayName": teamGroup + " 2"}, nil)
		}, []string{"adatum/group-name", "contoso/group-name", "litware/group-name"}},
		{"source rename followed through each mapping", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodPatch, "/groups/"+groupIDOf(teamGroup), map[string]any{"displayName": teamGroup + " 2"}, nil)
			for _, ts := range w.o.targets {
				w.call(ts.Domain, http.MethodPatch, "/groups/"+w.groups[ts.Domain][teamGroup], map[string]any{"displayName": teamGroup + " 2" + ts.GroupSuffix}, nil)
			}
		}, nil},
		{"mapping not applied", func(w *oracleWorld) {
			w.call(litware, http.MethodPatch, "/groups/"+w.groups[litware][programGroup], map[string]any{"displayName": programGroup}, nil)
		}, []string{"litware/group-name"}},
		{"not a security group", func(w *oracleWorld) {
			w.call(contoso, http.MethodPatch, "/groups/"+w.groups[contoso][programGroup], map[string]any{"securityEnabled": false}, nil)
		}, []string{"contoso/group-type"}},
		{"member missing", func(w *oracleWorld) {
			w.removeFrom(contoso, teamGroup, w.target[contoso]["alice"])
		}, []string{"contoso/group-members"}},
		{"nested member missing where the scope is nested", func(w *oracleWorld) {
			w.removeFrom(contoso, programGroup, w.target[contoso]["carol"])
		}, []string{"contoso/group-members"}},
		{"nested member flattened where the scope is direct", func(w *oracleWorld) {
			// Alice is in litware's scope, and in the program only through
			// the squad.
			w.call(litware, http.MethodPost, "/groups/"+w.groups[litware][programGroup]+"/members/$ref", ref("directoryObjects", w.target[litware]["alice"]), nil)
		}, []string{"litware/group-members"}},
		{"source member added, not synced", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodPost, "/groups/"+groupIDOf(teamGroup)+"/members/$ref", ref("directoryObjects", w.source["frank"]), nil)
		}, []string{"contoso/group-members", "litware/group-members"}}, // frank is in no pilot: nothing in adatum
		{"source member removed, not synced", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodDelete, "/groups/"+groupIDOf(teamGroup)+"/members/"+w.source["bob"]+"/$ref", nil, nil)
		}, []string{"adatum/group-members", "contoso/group-members"}},
		{"member of the nested group added, flattened where nested only", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodPost, "/groups/"+worldSquadID+"/members/$ref", ref("directoryObjects", w.source["bob"]), nil)
			w.call(sourceDomain, http.MethodDelete, "/groups/"+groupIDOf(programGroup)+"/members/"+w.source["bob"]+"/$ref", nil, nil)
			// Contoso keeps bob through the squad; adatum, direct, loses him.
			w.removeFrom(adatum, programGroup, w.target[adatum]["bob"])
		}, nil},
		{"a synced group nested in another, flattened where nested", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodPost, "/groups/"+groupIDOf(programGroup)+"/members/$ref", ref("directoryObjects", groupIDOf(teamGroup)), nil)
			w.call(sourceDomain, http.MethodDelete, "/groups/"+worldSquadID+"/members/"+w.source["alice"]+"/$ref", nil, nil)
			// Alice is still in contoso's program group through the team.
		}, nil},
		{"a group as a member", func(w *oracleWorld) {
			var g struct{ Value []struct{ ID string } }
			w.call(contoso, http.MethodGet, "/groups?$filter=displayName+eq+'Local+staff'&$select=id", nil, &g)
			w.call(contoso, http.MethodPost, "/groups/"+w.groups[contoso][teamGroup]+"/members/$ref", ref("directoryObjects", g.Value[0].ID), nil)
		}, []string{"contoso/group-members"}},
		{"member added by hand stays", func(w *oracleWorld) {
			w.handAdd(contoso, teamGroup, w.userID(contoso, "service.desk"))
			w.handAdd(litware, programGroup, w.target[litware]["alice"]) // a synced user, no direct member of the source group
		}, nil},
		{"member added by hand removed", func(w *oracleWorld) {
			desk := w.userID(contoso, "service.desk")
			w.handAdd(contoso, teamGroup, desk)
			w.removeFrom(contoso, teamGroup, desk)
		}, []string{"contoso/group-members", "contoso/touched"}}, // and the user's memberships changed since
		{"synced user added by hand removed when it left the source group", func(w *oracleWorld) {
			w.handAdd(litware, teamGroup, w.target[litware]["frank"])
			w.call(sourceDomain, http.MethodPost, "/groups/"+groupIDOf(teamGroup)+"/members/$ref", ref("directoryObjects", w.source["frank"]), nil)
			w.call(sourceDomain, http.MethodDelete, "/groups/"+groupIDOf(teamGroup)+"/members/"+w.source["frank"]+"/$ref", nil, nil)
			w.removeFrom(litware, teamGroup, w.target[litware]["frank"])
		}, []string{"litware/group-members"}},
		{"user of the target's own added by no one the suite knows", func(w *oracleWorld) {
			w.call(contoso, http.MethodPost, "/groups/"+w.groups[contoso][teamGroup]+"/members/$ref", ref("directoryObjects", w.userID(contoso, "facilities")), nil)
		}, []string{"contoso/group-members", "contoso/touched"}},
		{"held deprovision keeps the member", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodDelete, "/groups/"+w.groupID(pilotGroup)+"/members/"+w.source["dave"]+"/$ref", nil, nil)
			w.rules.Burst([]string{w.source["dave"]})
			w.claims.Staged["adatum"] = []string{w.source["dave"]}
		}, nil},
		{"held deprovision taken out of the group", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodDelete, "/groups/"+w.groupID(pilotGroup)+"/members/"+w.source["dave"]+"/$ref", nil, nil)
			w.rules.Burst([]string{w.source["dave"]})
			w.claims.Staged["adatum"] = []string{w.source["dave"]}
			w.removeFrom(adatum, teamGroup, w.target[adatum]["dave"])
		}, []string{"adatum/group-members"}},
		{"deprovisioned by disabling, taken out of the groups", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodDelete, "/groups/"+w.groupID(graphsim.ScopingGroup)+"/members/"+w.source["alice"]+"/$ref", nil, nil)
			w.call(contoso, http.MethodDelete, "/users/"+w.target[contoso]["alice"], nil, nil)
			w.call(litware, http.MethodPatch, "/users/"+w.target[litware]["alice"], map[string]any{"accountEnabled": false}, nil)
			w.removeFrom(litware, teamGroup, w.target[litware]["alice"])
		}, nil},
		{"administrator out of scope: member or not", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodDelete, "/groups/"+w.groupID(graphsim.ScopingGroup)+"/members/"+w.source["frank"]+"/$ref", nil, nil)
			w.rules.Privileged(contoso, w.target[contoso]["frank"])
			w.rules.Privileged(litware, w.target[litware]["frank"])
			w.removeFrom(litware, programGroup, w.target[litware]["frank"]) // and contoso's stays
		}, nil},
		{"group created during the run without the anchor", func(w *oracleWorld) {
			w.call(contoso, http.MethodPost, "/groups", map[string]any{"displayName": teamGroup, "mailEnabled": false,
				"mailNickname": "merger-steering-2", "securityEnabled": true}, nil)
		}, []string{"contoso/group-unanchored"}},
		{"group tenantsync did not create renamed", func(w *oracleWorld) {
			var g struct{ Value []struct{ ID string } }
			w.call(adatum, http.MethodGet, "/groups?$filter=displayName+eq+'Local+staff'&$select=id", nil, &g)
			w.call(adatum, http.MethodPatch, "/groups/"+g.Value[0].ID, map[string]any{"displayName": "Local staff (old)"}, nil)
		}, []string{"adatum/touched"}},
		{"status page counts a group conflict", func(w *oracleWorld) {
			w.claims.Groups["litware"] = map[string]int{"active": 1, "conflict": 1}
		}, []string{"litware/group-status"}},
		{"status page counts no group", func(w *oracleWorld) {
			delete(w.claims.Groups, "adatum")
		}, []string{"adatum/group-status"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newOracleWorld(t)
			tt.break_(w)
			diffs, err := w.o.Check(t.Context(), w.claims)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, d := range diffs {
				lines = append(lines, d.String())
			}
			if got := kinds(diffs); !slices.Equal(got, tt.want) {
				t.Fatalf("differences %v, want %v:\n%s", got, tt.want, strings.Join(lines, "\n"))
			}
			t.Logf("%s", strings.Join(lines, "\n"))
		})
	}
}

// TestWantMembers checks whom the oracle expects in a synced group's
// target group, from facts alone.
func TestWantMembers(t *testing.T) {
	targets := scenarioTargets(0)
	contoso, litware, adatum := targets[0], targets[1], targets[2]
	// s1 is a direct member, s2 in a nested group only, s3 a direct
	// member out of scope; s4 a direct member whose user has no target
	// user.
	g := sourceGroup{ID: "g", DisplayName: "G", direct: map[string]bool{"s1": true, "s3": true, "s4": true},
		nested: map[string]bool{"s1": true, "s2": true, "s3": true, "s4": true}}
	base := func() memberFacts {
		return memberFacts{
			targetOf: map[string]string{"s1": "t1", "s2": "t2", "s3": "t3"},
			sourceOf: map[string]string{"t1": "s1", "t2": "s2", "t3": "s3"},
			inScope:  map[string]bool{"s1": true, "s2": true, "s4": true},
			held:     map[string]bool{}, open: map[string]bool{}, hand: map[string]bool{},
		}
	}
	tests := []struct {
		name      string
		t         targetSpec
		facts     func(f *memberFacts)
		must, may []string
	}{
		{"nested scope flattens", contoso, nil, []string{"t1", "t2"}, nil},
		{"direct scope does not", litware, nil, []string{"t1"}, nil},
		{"held deprovision stays", adatum, func(f *memberFacts) { f.held["s3"] = true }, []string{"t1", "t3"}, nil},
		{"held, but no member", adatum, func(f *memberFacts) { f.held["s2"] = true }, []string{"t1"}, nil},
		{"open is either", contoso, func(f *memberFacts) { f.open["t3"] = true }, []string{"t1", "t2"}, []string{"t3"}},
		{"by hand, whoever it is", litware, func(f *memberFacts) { f.hand["t9"] = true; f.hand["t3"] = true }, []string{"t1", "t3", "t9"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := base()
			if tt.facts != nil {
				tt.facts(&f)
			}
			must, may := wantMembers(tt.t, g, f)
			if got := slices.Sorted(maps.Keys(must)); !slices.Equal(got, tt.must) {
				t.Errorf("must %v, want %v", got, tt.must)
			}
			if got := slices.Sorted(maps.Keys(may)); !slices.Equal(got, tt.may) {
				t.Errorf("may %v, want %v", got, tt.may)
			}
		})
	}
}

// TestJudgeGroupDetail shows that a membership difference names each
// extra and missing member, and why.
func TestJudgeGroupDetail(t *testing.T) {
	litware := scenarioTargets(0)[1]
	g := sourceGroup{ID: "g", DisplayName: "G", direct: map[string]bool{"s1": true, "s3": true},
		nested: map[string]bool{"s1": true, "s2": true, "s3": true}}
	f := memberFacts{
		targetOf: map[string]string{"s1": "t1", "s2": "t2", "s3": "t3"},
		sourceOf: map[string]string{"t1": "s1", "t2": "s2", "t3": "s3"},
		inScope:  map[string]bool{"s1": true, "s2": true},
		held:     map[string]bool{}, open: map[string]bool{}, hand: map[string]bool{"t8": true},
	}
	yes, no := true, false
	tg := targetGroup{ID: "tg", DisplayName: "G (Fabrikam)", SecurityEnabled: &yes, MailEnabled: &no,
		members: []groupMember{{Type: "#microsoft.graph.user", ID: "t2"}, {Type: "#microsoft.graph.user", ID: "t3"},
			{Type: "#microsoft.graph.user", ID: "t7"}, {Type: "#microsoft.graph.group", ID: "g9"}}}
	diffs := judgeGroup(litware, g, []targetGroup{tg}, f)
	if len(diffs) != 1 || diffs[0].Kind != DiffGroupMembers {
		t.Fatalf("differences %v, want one %s", diffs, DiffGroupMembers)
	}
	for _, want := range []string{
		"missing t1 (source user s1), t8 (added by hand)",
		"g9 (a group: the group holds users only)",
		"t2 (source user s2, a member through a nested group only, and the scope is not nested)",
		"t3 (source user s3, a member but out of scope)",
		"t7 (no source user's",
	} {
		if !strings.Contains(diffs[0].Detail, want) {
			t.Errorf("detail %q does not say %q", diffs[0].Detail, want)
		}
	}
	if diffs[0].TargetID != "tg" || diffs[0].SourceID != "g" || diffs[0].Group != "G" {
		t.Errorf("difference names %+v, want target group tg of source group g (G)", diffs[0])
	}
}
