package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// oracleWorld is the simulator with a small source tenant, the scenario's
// targets, and the target users a perfect sync would have made, built by
// hand over plain HTTP; with the claims tenantsync would make of it.
type oracleWorld struct {
	t      *testing.T
	sim    *graphsim.TestServer
	g      *graphHTTP
	o      *oracle
	rules  *rules
	claims *claims
	source map[string]string            // source UPN local part → id
	byUser map[string]user              // source UPN local part → user
	target map[string]map[string]string // target domain → source local part → target id
	// groups are the target groups of the synced groups, by target domain
	// and group key.
	groups map[string]map[string]string
}

// The synced groups of the oracle's world: ids chosen, so that the target
// groups can carry their anchors from the seed.
var worldGroups = []syncedGroup{
	{Key: teamGroup, ID: "10000000-0000-4000-8000-000000000001"},
	{Key: programGroup, ID: "10000000-0000-4000-8000-000000000002", ByID: true},
}

const worldSquadID = "10000000-0000-4000-8000-000000000003"

// worldMembers are the synced groups' members a perfect sync gives each
// target (source UPN local parts). Merger steering has alice, bob, dave,
// erin (a guest) and gina (external); Integration program has frank, hana
// (a look-alike's in contoso), bob and the squad (carol, dave, alice):
// contoso flattens it, litware and adatum take its direct users.
var worldMembers = map[string]map[string][]string{
	"contoso.example": {teamGroup: {"alice", "bob"}, programGroup: {"alice", "bob", "carol", "frank"}},
	"litware.example": {teamGroup: {"alice"}, programGroup: {"frank", "hana"}},
	"adatum.example":  {teamGroup: {"bob", "dave"}, programGroup: {"bob"}},
}

func person(local, dept, title string, extra graphsim.Object) graphsim.Object {
	o := graphsim.Object{
		"userPrincipalName": local + "@" + sourceDomain, "mail": local + "@" + sourceDomain, "mailNickname": local,
		"displayName": strings.ToUpper(local[:1]) + local[1:], "givenName": local, "surname": "Example",
		"department": dept, "jobTitle": title, "accountEnabled": true, "city": "Seattle",
		"businessPhones": []string{"+1 206 555 0100"},
	}
	for k, v := range extra {
		o[k] = v
	}
	return o
}

func newOracleWorld(t *testing.T) *oracleWorld {
	t.Helper()
	src := graphsim.TenantSeed{Domain: sourceDomain, Users: []graphsim.Object{
		person("alice", "Sales", "Sales Manager", nil),
		person("bob", "Engineering", "Software Engineer", graphsim.Object{"manager": "alice@" + sourceDomain}),
		person("carol", "Marketing", "Content Strategist", graphsim.Object{"manager": "dave@" + sourceDomain}),
		person("dave", "Sales", "Account Executive", nil),
		person("erin", "Sales", "Consultant", graphsim.Object{"userType": "Guest"}),
		person("frank", "Engineering", "Engineering Manager", graphsim.Object{"mail": nil, "manager": "alice@" + sourceDomain}),
		// Gina is a B2B member of the source tenant: internal members only.
		person("gina_northwind.example#EXT#", "Sales", "Sales Manager", graphsim.Object{"userType": "Member",
			"creationType": "Invitation", "externalUserState": "Accepted", "mail": "gina@northwind.example"}),
		// Hana's address is held by a look-alike in contoso.
		person("hana", "Sales", "Account Executive", nil),
	}, Groups: []graphsim.Object{
		{"displayName": graphsim.NestedScopingGroup, "mailNickname": "phoenix", "members": []string{"carol@" + sourceDomain}},
		{"displayName": graphsim.ScopingGroup, "mailNickname": "cts", "members": []string{
			"alice@" + sourceDomain, "bob@" + sourceDomain, "erin@" + sourceDomain, "frank@" + sourceDomain,
			"gina_northwind.example#EXT#@" + sourceDomain, "hana@" + sourceDomain, graphsim.NestedScopingGroup}},
		{"displayName": pilotGroup, "mailNickname": "pilot", "members": []string{"bob@" + sourceDomain, "dave@" + sourceDomain}},
		{"id": worldGroups[0].ID, "displayName": teamGroup, "members": []string{"alice@" + sourceDomain, "bob@" + sourceDomain,
			"dave@" + sourceDomain, "erin@" + sourceDomain, "gina_northwind.example#EXT#@" + sourceDomain}},
		{"id": worldSquadID, "displayName": squadGroup, "members": []string{"carol@" + sourceDomain, "dave@" + sourceDomain, "alice@" + sourceDomain}},
		{"id": worldGroups[1].ID, "displayName": programGroup, "members": []string{"frank@" + sourceDomain, "hana@" + sourceDomain,
			"bob@" + sourceDomain, squadGroup}},
	}}
	targets := scenarioTargets(time.Second)
	look := lookalike{Target: "contoso.example", Address: "hana@" + sourceDomain, Kind: lookMicrosoftAccount,
		UPN: "hana_fabrikam.example#EXT#@contoso.onmicrosoft.com"}
	seed := graphsim.Seed{Tenants: []graphsim.TenantSeed{src}}
	groups := map[string]map[string]string{}
	for i, ts := range targets {
		tseed := targetSeed(ts, []lookalike{look})
		// The groups a perfect sync creates, with their anchors (which only
		// a seed or an upsert can write); members come once the users do.
		groups[ts.Domain] = map[string]string{}
		for j, g := range worldGroups {
			id := fmt.Sprintf("20000000-0000-4000-8000-0000000000%d%d", i, j)
			groups[ts.Domain][g.Key] = id
			tseed.Groups = append(tseed.Groups, graphsim.Object{"id": id, "displayName": g.Key + ts.GroupSuffix,
				"mailNickname": fmt.Sprintf("synced-%d", j), "uniqueName": groupAnchor(g.ID)})
		}
		seed.Tenants = append(seed.Tenants, tseed)
	}
	sim := graphsim.NewTestServer(t, seed)
	if err := sim.Redeem(look.Target, look.UPN, graphsim.Redemption{With: look.Kind}); err != nil {
		t.Fatal(err)
	}
	w := &oracleWorld{t: t, sim: sim, g: newGraphHTTP(sim.URL), source: map[string]string{}, byUser: map[string]user{},
		target: map[string]map[string]string{}, groups: groups}
	var users struct{ Value []user }
	w.call(sourceDomain, http.MethodGet, "/users?$select=id,userPrincipalName,userType,mail,"+strings.Join(directAttributes, ",")+"&$expand=manager($select=id)", nil, &users)
	for _, u := range users.Value {
		local, _, _ := strings.Cut(u.str("userPrincipalName"), "@")
		w.source[local] = u.str("id")
		w.byUser[local] = u
	}
	look.SourceID = w.source["hana"]
	w.rules = newRules(cast{pool: []string{w.source["alice"], w.source["bob"]}, lookalikes: []lookalike{look}})
	w.o = newOracle(w.g, targets, worldGroups, w.rules)
	if err := w.o.Remember(t.Context()); err != nil {
		t.Fatal(err)
	}
	// What a perfect sync makes: contoso (nested, delete) gets alice, bob,
	// carol and frank (hana is a conflict there, gina external); litware
	// (direct, filters, disable) gets alice and hana (Sales) and frank (a
	// Manager, enabled); adatum (the pilots) gets bob and dave.
	want := map[string][]string{"contoso.example": {"alice", "bob", "carol", "frank"}, "litware.example": {"alice", "frank", "hana"},
		"adatum.example": {"bob", "dave"}}
	for _, ts := range targets {
		w.target[ts.Domain] = map[string]string{}
		for _, local := range want[ts.Domain] {
			w.target[ts.Domain][local] = w.create(ts, w.byUser[local], "_ext")
		}
		for _, local := range want[ts.Domain] {
			mgr := w.byUser[local].managerID()
			for l, id := range w.source {
				if id == mgr && w.target[ts.Domain][l] != "" {
					w.call(ts.Domain, http.MethodPut, "/users/"+w.target[ts.Domain][local]+"/manager/$ref", ref("users", w.target[ts.Domain][l]), nil)
				}
			}
		}
	}
	for _, ts := range targets {
		for _, g := range worldGroups {
			for _, local := range worldMembers[ts.Domain][g.Key] {
				w.call(ts.Domain, http.MethodPost, "/groups/"+groups[ts.Domain][g.Key]+"/members/$ref", ref("directoryObjects", w.target[ts.Domain][local]), nil)
			}
		}
	}
	active := map[string]int{"active": len(worldGroups)}
	w.claims = &claims{Staged: map[string][]string{}, Conflicts: map[string]int{"contoso": 1},
		Groups: map[string]map[string]int{"contoso": active, "litware": active, "adatum": active}}
	return w
}

func (w *oracleWorld) call(tenant, method, path string, body, out any) {
	w.t.Helper()
	if _, err := w.g.Do(context.Background(), tenant, method, path, body, out); err != nil {
		w.t.Fatal(err)
	}
}

// create makes the target user a sync would, by hand.
func (w *oracleWorld) create(t targetSpec, su user, suffix string) string {
	w.t.Helper()
	return w.createWith(t, su, suffix, nil)
}

// createWith makes a target user as create does, with some attributes
// overridden (Graph refuses a second user with the same mail).
func (w *oracleWorld) createWith(t targetSpec, su user, suffix string, override map[string]any) string {
	w.t.Helper()
	local, _, _ := strings.Cut(su.str("userPrincipalName"), "@")
	local = strings.ReplaceAll(local, "#", "")
	body := map[string]any{
		"userPrincipalName": local + suffix + "@" + t.Domain, "mailNickname": local + suffix,
		"passwordProfile":               map[string]any{"password": "Oracle-Test-1!"},
		"onPremisesExtensionAttributes": map[string]any{anchorAttribute: anchorPrefix() + su.str("id")},
	}
	for k, v := range expected(su, t) {
		if v != nil {
			body[k] = v
		}
	}
	for k, v := range override {
		body[k] = v
	}
	var out struct{ ID string }
	w.call(t.Domain, http.MethodPost, "/users", body, &out)
	return out.ID
}

func (w *oracleWorld) spec(name string) targetSpec {
	for _, t := range w.o.targets {
		if t.Name == name {
			return t
		}
	}
	w.t.Fatalf("no target %s", name)
	return targetSpec{}
}

func kinds(diffs []Difference) []string {
	var out []string
	for _, d := range diffs {
		out = append(out, d.Target+"/"+d.Kind)
	}
	slices.Sort(out)
	return out
}

// TestOracleFindsEveryKindOfDifference shows that the oracle passes a
// perfect sync and catches each way a sync can go wrong.
func TestOracleFindsEveryKindOfDifference(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(w *oracleWorld)
		want   []string
	}{
		{"perfect", func(*oracleWorld) {}, nil},
		{"missing user", func(w *oracleWorld) {
			w.call("contoso.example", http.MethodDelete, "/users/"+w.target["contoso.example"]["carol"], nil, nil)
		}, []string{"contoso/missing"}},
		{"second target user for one source user", func(w *oracleWorld) {
			w.createWith(w.spec("litware"), w.byUser["alice"], "_again", map[string]any{"mail": "alice.again@" + sourceDomain})
		}, []string{"litware/duplicate"}},
		{"attribute drift", func(w *oracleWorld) {
			w.call("contoso.example", http.MethodPatch, "/users/"+w.target["contoso.example"]["bob"], map[string]any{"department": "Legal"}, nil)
		}, []string{"contoso/attribute"}},
		{"userType is not the one created", func(w *oracleWorld) {
			w.call("litware.example", http.MethodPatch, "/users/"+w.target["litware.example"]["alice"], map[string]any{"userType": "Member"}, nil)
		}, []string{"litware/attribute"}},
		{"showInAddressList is never compared (Graph reads it back null)", func(w *oracleWorld) {
			w.call("contoso.example", http.MethodPatch, "/users/"+w.target["contoso.example"]["bob"], map[string]any{"showInAddressList": false}, nil)
		}, nil},
		{"mail not following a rename", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodPatch, "/users/"+w.source["alice"], map[string]any{"mail": "alice.new@" + sourceDomain}, nil)
		}, []string{"contoso/attribute", "litware/attribute"}},
		{"source change not synced", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodPatch, "/users/"+w.source["frank"], map[string]any{"accountEnabled": false}, nil)
		}, []string{"contoso/attribute", "litware/group-members", "litware/not-deprovisioned"}}, // frank is out of litware's scope, and still in its program group
		{"manager missing", func(w *oracleWorld) {
			w.call("contoso.example", http.MethodDelete, "/users/"+w.target["contoso.example"]["bob"]+"/manager/$ref", nil, nil)
		}, []string{"contoso/manager"}},
		{"stale manager pointing at another synced user", func(w *oracleWorld) {
			// Frank's source manager becomes dave, who is in neither
			// target: his target manager may not stay alice.
			w.call(sourceDomain, http.MethodPut, "/users/"+w.source["frank"]+"/manager/$ref", ref("users", w.source["dave"]), nil)
		}, []string{"contoso/manager", "litware/manager"}},
		{"manager pointing at a user tenantsync did not create", func(w *oracleWorld) {
			var boss struct{ Value []struct{ ID string } }
			w.call("contoso.example", http.MethodGet, "/users?$filter=userPrincipalName+eq+'it.director@contoso.example'&$select=id", nil, &boss)
			w.call("contoso.example", http.MethodPut, "/users/"+w.target["contoso.example"]["carol"]+"/manager/$ref", ref("users", boss.Value[0].ID), nil)
		}, []string{"contoso/manager", "contoso/touched"}},
		{"out of scope but live (delete) and enabled (disable)", func(w *oracleWorld) {
			// Bob and Frank may keep alice as their manager: she is out of
			// scope, and the engine leaves a manager it cannot resolve.
			w.call(sourceDomain, http.MethodDelete, "/groups/"+w.groupID(graphsim.ScopingGroup)+"/members/"+w.source["alice"]+"/$ref", nil, nil)
		}, []string{"contoso/group-members", "contoso/group-members", "contoso/not-deprovisioned", "litware/group-members", "litware/not-deprovisioned"}},
		{"deleted in the source, deprovisioned as configured", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodDelete, "/users/"+w.source["frank"], nil, nil)
			w.call("contoso.example", http.MethodDelete, "/users/"+w.target["contoso.example"]["frank"], nil, nil)
			w.call("litware.example", http.MethodPatch, "/users/"+w.target["litware.example"]["frank"], map[string]any{"accountEnabled": false}, nil)
			// Deleted, he left contoso's groups; disabled, litware's
			// program group must let him go.
			w.call("litware.example", http.MethodDelete, "/groups/"+w.groups["litware.example"][programGroup]+"/members/"+w.target["litware.example"]["frank"]+"/$ref", nil, nil)
		}, nil},
		{"B2B user left without an anchor", func(w *oracleWorld) {
			w.call("contoso.example", http.MethodPatch, "/users/"+w.target["contoso.example"]["carol"],
				map[string]any{"onPremisesExtensionAttributes": map[string]any{anchorAttribute: nil}}, nil)
		}, []string{"contoso/group-members", "contoso/missing", "contoso/unanchored"}}, // carol's user is no source user's now
		{"pre-existing guest touched", func(w *oracleWorld) {
			var g struct{ Value []struct{ ID string } }
			w.call("litware.example", http.MethodGet, "/users?$filter=mail+eq+'auditor@auditfirm.example'&$select=id", nil, &g)
			w.call("litware.example", http.MethodPatch, "/users/"+g.Value[0].ID, map[string]any{"jobTitle": "Partner"}, nil)
		}, []string{"litware/touched"}},
		{"pre-existing member's manager removed", func(w *oracleWorld) {
			var u struct{ Value []struct{ ID string } }
			w.call("contoso.example", http.MethodGet, "/users?$filter=userPrincipalName+eq+'facilities@contoso.example'&$select=id", nil, &u)
			w.call("contoso.example", http.MethodDelete, "/users/"+u.Value[0].ID+"/manager/$ref", nil, nil)
		}, []string{"contoso/touched", "contoso/touched"}}, // the member and the manager's direct reports
		{"external source user provisioned", func(w *oracleWorld) {
			w.create(w.spec("contoso"), w.byUser["gina_northwind.example#EXT#"], "_ext")
		}, []string{"contoso/not-deprovisioned"}},
		{"look-alike's source user provisioned", func(w *oracleWorld) {
			w.createWith(w.spec("contoso"), w.byUser["hana"], "_ext", map[string]any{"mail": "hana.elsewhere@" + sourceDomain})
		}, []string{"contoso/conflict"}},
		{"look-alike's conflict not reported", func(w *oracleWorld) {
			w.claims.Conflicts["contoso"] = 0
		}, []string{"contoso/conflict"}},
		{"look-alike touched", func(w *oracleWorld) {
			var g struct{ Value []struct{ ID string } }
			w.call("contoso.example", http.MethodGet, "/users?$filter=mail+eq+'hana@fabrikam.example'&$select=id", nil, &g)
			w.call("contoso.example", http.MethodPatch, "/users/"+g.Value[0].ID, map[string]any{"onPremisesExtensionAttributes": map[string]any{
				anchorAttribute: anchorPrefix() + w.source["hana"]}}, nil)
		}, []string{"contoso/touched"}},
		{"target administrator's disable kept", func(w *oracleWorld) {
			w.call("contoso.example", http.MethodPatch, "/users/"+w.target["contoso.example"]["bob"], map[string]any{"accountEnabled": false}, nil)
			w.rules.AdminDisabled("contoso.example", w.source["bob"])
		}, nil},
		{"target administrator's disable undone", func(w *oracleWorld) {
			w.rules.AdminDisabled("contoso.example", w.source["bob"])
		}, []string{"contoso/attribute"}},
		{"administrator's phones lag", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodPatch, "/users/"+w.source["carol"], map[string]any{"mobilePhone": "+1 206 555 0199", "officeLocation": "B7"}, nil)
			w.call("contoso.example", http.MethodPatch, "/users/"+w.target["contoso.example"]["carol"], map[string]any{"officeLocation": "B7"}, nil)
			w.rules.Privileged("contoso.example", w.target["contoso.example"]["carol"])
		}, nil},
		{"administrator's other attributes do not lag", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodPatch, "/users/"+w.source["carol"], map[string]any{"officeLocation": "B7"}, nil)
			w.rules.Privileged("contoso.example", w.target["contoso.example"]["carol"])
		}, []string{"contoso/attribute"}},
		{"administrator out of scope stays", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodDelete, "/groups/"+w.groupID(graphsim.ScopingGroup)+"/members/"+w.source["frank"]+"/$ref", nil, nil)
			w.rules.Privileged("contoso.example", w.target["contoso.example"]["frank"])
			w.rules.Privileged("litware.example", w.target["litware.example"]["frank"])
		}, nil},
		{"burst held", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodDelete, "/groups/"+w.groupID(pilotGroup)+"/members/"+w.source["dave"]+"/$ref", nil, nil)
			w.call(sourceDomain, http.MethodPatch, "/users/"+w.source["bob"], map[string]any{"accountEnabled": false}, nil)
			w.call("contoso.example", http.MethodPatch, "/users/"+w.target["contoso.example"]["bob"], map[string]any{"accountEnabled": false}, nil)
			w.rules.Burst([]string{w.source["dave"], w.source["bob"]})
			w.claims.Staged["adatum"] = []string{w.source["bob"], w.source["dave"]}
		}, nil},
		{"burst not staged", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodDelete, "/groups/"+w.groupID(pilotGroup)+"/members/"+w.source["dave"]+"/$ref", nil, nil)
			w.rules.Burst([]string{w.source["dave"]})
		}, []string{"adatum/not-held"}},
		{"burst carried out: deleted", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodDelete, "/groups/"+w.groupID(pilotGroup)+"/members/"+w.source["dave"]+"/$ref", nil, nil)
			w.call("adatum.example", http.MethodDelete, "/users/"+w.target["adatum.example"]["dave"], nil, nil)
			w.rules.Burst([]string{w.source["dave"]})
			w.claims.Staged["adatum"] = []string{w.source["dave"]}
		}, []string{"adatum/held-executed"}},
		{"burst carried out: disabled", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodPatch, "/users/"+w.source["dave"], map[string]any{"accountEnabled": false}, nil)
			w.call("adatum.example", http.MethodPatch, "/users/"+w.target["adatum.example"]["dave"], map[string]any{"accountEnabled": false}, nil)
			w.rules.Burst([]string{w.source["dave"]})
			w.claims.Staged["adatum"] = []string{w.source["dave"]}
		}, []string{"adatum/held-executed"}},
		{"held where the threshold is out of reach", func(w *oracleWorld) {
			w.claims.Staged["litware"] = []string{w.source["alice"]}
		}, []string{"litware/not-held"}},
		{"held without a burst", func(w *oracleWorld) {
			w.claims.Staged["adatum"] = []string{w.source["bob"]}
		}, []string{"adatum/not-held"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newOracleWorld(t)
			tt.break_(w)
			diffs, err := w.o.Check(t.Context(), w.claims)
			if err != nil {
				t.Fatal(err)
			}
			if got := kinds(diffs); !slices.Equal(got, tt.want) {
				var lines []string
				for _, d := range diffs {
					lines = append(lines, d.String())
				}
				t.Fatalf("differences %v, want %v:\n%s", got, tt.want, strings.Join(lines, "\n"))
			}
		})
	}
}

// TestSafety shows that the oracle holds tenantsync's recorded writes and
// invitations against its promises.
func TestSafety(t *testing.T) {
	at := time.Now()
	tests := []struct {
		name    string
		writes  func(w *oracleWorld) ([]targetWrite, []invitation)
		release bool
		want    []string
		counts  SafetyCounts
	}{
		{"ordinary writes", func(w *oracleWorld) ([]targetWrite, []invitation) {
			return []targetWrite{{Tenant: "contoso.example", ID: w.target["contoso.example"]["carol"], Kind: writeDelete, At: at},
					{Tenant: "litware.example", ID: w.target["litware.example"]["alice"], Kind: writeOther, At: at}},
				[]invitation{{Tenant: "contoso.example", Address: "carol@fabrikam.example", UserID: w.target["contoso.example"]["carol"], At: at},
					{Tenant: "contoso.example", Address: "Carol@fabrikam.example", UserID: w.target["contoso.example"]["carol"], At: at}}
		}, false, nil, SafetyCounts{Invitations: 2, Reinvitations: 1}},
		{"deprovision of a user kept in scope", func(w *oracleWorld) ([]targetWrite, []invitation) {
			return []targetWrite{{Tenant: "litware.example", ID: w.target["litware.example"]["alice"], Kind: writeDisable, At: at}}, nil
		}, false, []string{"litware/wrongful"}, SafetyCounts{Wrongful: 1}},
		{"deprovision after the user was released", func(w *oracleWorld) ([]targetWrite, []invitation) {
			return []targetWrite{{Tenant: "litware.example", ID: w.target["litware.example"]["alice"], Kind: writeDisable, At: time.Now().Add(time.Minute)}}, nil
		}, true, nil, SafetyCounts{}},
		{"deprovision in the guard target", func(w *oracleWorld) ([]targetWrite, []invitation) {
			return []targetWrite{{Tenant: "adatum.example", ID: w.target["adatum.example"]["dave"], Kind: writeDelete, At: at}}, nil
		}, false, []string{"adatum/held-executed"}, SafetyCounts{HeldExecuted: 1}},
		{"write to a user tenantsync did not create", func(w *oracleWorld) ([]targetWrite, []invitation) {
			var g struct{ Value []struct{ ID string } }
			w.call("contoso.example", http.MethodGet, "/users?$filter=mail+eq+'hana@fabrikam.example'&$select=id", nil, &g)
			return []targetWrite{{Tenant: "contoso.example", ID: g.Value[0].ID, Kind: writeOther, At: at}}, nil
		}, false, []string{"contoso/touched"}, SafetyCounts{Touched: 1}},
		{"an address invited into two users", func(w *oracleWorld) ([]targetWrite, []invitation) {
			return nil, []invitation{{Tenant: "contoso.example", Address: "bob@fabrikam.example", UserID: w.target["contoso.example"]["bob"], At: at},
				{Tenant: "contoso.example", Address: "bob@fabrikam.example", UserID: "00000000-0000-4000-8000-000000000001", At: at}}
		}, false, []string{"contoso/duplicate-invitation"}, SafetyCounts{Invitations: 2, DuplicateInvitations: 1}},
		{"a source user invited into two users", func(w *oracleWorld) ([]targetWrite, []invitation) {
			second := w.createWith(w.spec("contoso"), w.byUser["bob"], "_again", map[string]any{"mail": "bob.renamed@" + sourceDomain})
			if _, err := w.o.Check(t.Context(), w.claims); err != nil { // learn the anchors
				t.Fatal(err)
			}
			return nil, []invitation{{Tenant: "contoso.example", Address: "bob@fabrikam.example", UserID: w.target["contoso.example"]["bob"], At: at},
				{Tenant: "contoso.example", Address: "bob.renamed@fabrikam.example", UserID: second, At: at}}
		}, false, []string{"contoso/duplicate-invitation"}, SafetyCounts{Invitations: 2, DuplicateInvitations: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newOracleWorld(t)
			if _, err := w.o.Check(t.Context(), w.claims); err != nil {
				t.Fatal(err)
			}
			if tt.release {
				w.rules.Release(w.source["alice"])
			}
			writes, invites := tt.writes(w)
			diffs, counts := w.o.Safety(writes, invites)
			if got := kinds(diffs); !slices.Equal(got, tt.want) {
				t.Errorf("differences %v, want %v: %v", got, tt.want, diffs)
			}
			if counts != tt.counts {
				t.Errorf("counts %+v, want %+v", counts, tt.counts)
			}
		})
	}
}

func (w *oracleWorld) groupID(name string) string {
	w.t.Helper()
	var out struct{ Value []struct{ ID string } }
	w.call(sourceDomain, http.MethodGet, "/groups?$filter=displayName+eq+'"+strings.ReplaceAll(name, " ", "+")+"'&$select=id", nil, &out)
	if len(out.Value) != 1 {
		w.t.Fatalf("group %q: %d found", name, len(out.Value))
	}
	return out.Value[0].ID
}

// TestScopeFilters checks the oracle's own reading of the scenario's
// filters against docs/scoping.md.
func TestScopeFilters(t *testing.T) {
	litware := scenarioTargets(time.Second)[1]
	tests := []struct {
		name  string
		attrs string
		want  bool
	}{
		{"Sales", `{"department":"Sales","accountEnabled":false}`, true},
		{"sales in lower case is not Sales", `{"department":"sales","accountEnabled":true}`, false},
		{"a Manager, enabled", `{"department":"IT","jobTitle":"IT Manager","accountEnabled":true}`, true},
		{"a Manager, disabled", `{"department":"IT","jobTitle":"IT Manager","accountEnabled":false}`, false},
		{"no department, no title", `{"accountEnabled":true}`, false},
		{"null department", `{"department":null,"jobTitle":"Engineer","accountEnabled":true}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var attrs map[string]any
			if err := json.Unmarshal([]byte(tt.attrs), &attrs); err != nil {
				t.Fatal(err)
			}
			got, err := litware.matches(attrs)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("matches(%s) = %v, want %v", tt.attrs, got, tt.want)
			}
		})
	}
}

// TestExternalSourceUsers checks the oracle's reading of "internal members
// only": #EXT#, creationType Invitation or an externalUserState make a
// source user external, whatever its userType.
func TestExternalSourceUsers(t *testing.T) {
	tests := []struct {
		name string
		u    user
		want bool
	}{
		{"internal member", user{"userPrincipalName": "ann@fabrikam.example", "userType": "Member"}, false},
		{"#EXT# member", user{"userPrincipalName": "ann_northwind.example#EXT#@fabrikam.onmicrosoft.com", "userType": "Member"}, true},
		{"invited", user{"userPrincipalName": "ann@fabrikam.example", "creationType": "Invitation"}, true},
		{"redeemed, UPN changed", user{"userPrincipalName": "ann@fabrikam.example", "externalUserState": "Accepted"}, true},
	}
	for _, tt := range tests {
		if got := external(tt.u) != ""; got != tt.want {
			t.Errorf("%s: external = %v, want %v", tt.name, got, tt.want)
		}
	}
}
