package chaos

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// oracleWorld is the simulator with a small source tenant, the scenario's
// targets, and the target users a perfect sync would have made, built by
// hand over plain HTTP.
type oracleWorld struct {
	t      *testing.T
	g      *graphHTTP
	o      *oracle
	source map[string]string            // source UPN local part → id
	target map[string]map[string]string // target domain → source local part → target id
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
	}, Groups: []graphsim.Object{
		{"displayName": graphsim.NestedScopingGroup, "mailNickname": "phoenix", "members": []string{"carol@" + sourceDomain}},
		{"displayName": graphsim.ScopingGroup, "mailNickname": "cts", "members": []string{
			"alice@" + sourceDomain, "bob@" + sourceDomain, "erin@" + sourceDomain, "frank@" + sourceDomain, graphsim.NestedScopingGroup}},
	}}
	seed := graphsim.Seed{Tenants: []graphsim.TenantSeed{src}}
	targets := scenarioTargets()
	for _, ts := range targets {
		seed.Tenants = append(seed.Tenants, targetSeed(ts))
	}
	sim := graphsim.NewTestServer(t, seed)
	w := &oracleWorld{t: t, g: newGraphHTTP(sim.URL), source: map[string]string{}, target: map[string]map[string]string{}}
	w.o = newOracle(w.g, targets)
	ctx := t.Context()
	if err := w.o.Remember(ctx); err != nil {
		t.Fatal(err)
	}
	var users struct{ Value []user }
	w.call(sourceDomain, http.MethodGet, "/users?$select=id,userPrincipalName,userType,mail,"+strings.Join(directAttributes, ",")+"&$expand=manager($select=id)", nil, &users)
	byLocal := map[string]user{}
	for _, u := range users.Value {
		local, _, _ := strings.Cut(u.str("userPrincipalName"), "@")
		w.source[local] = u.str("id")
		byLocal[local] = u
	}
	// What a perfect sync makes: contoso (nested, delete) gets alice, bob,
	// carol and frank; litware (direct, filters, disable) gets alice (Sales)
	// and frank (a Manager, enabled).
	want := map[string][]string{"contoso.example": {"alice", "bob", "carol", "frank"}, "litware.example": {"alice", "frank"}}
	for _, ts := range targets {
		w.target[ts.Domain] = map[string]string{}
		for _, local := range want[ts.Domain] {
			w.target[ts.Domain][local] = w.create(ts.Domain, byLocal[local], "_ext")
		}
		for _, local := range want[ts.Domain] {
			mgr := byLocal[local].managerID()
			for l, id := range w.source {
				if id == mgr && w.target[ts.Domain][l] != "" {
					w.call(ts.Domain, http.MethodPut, "/users/"+w.target[ts.Domain][local]+"/manager/$ref", ref("users", w.target[ts.Domain][l]), nil)
				}
			}
		}
	}
	return w
}

func (w *oracleWorld) call(tenant, method, path string, body, out any) {
	w.t.Helper()
	if _, err := w.g.Do(context.Background(), tenant, method, path, body, out); err != nil {
		w.t.Fatal(err)
	}
}

// create makes the target user a sync would, by hand.
func (w *oracleWorld) create(tenant string, su user, suffix string) string {
	w.t.Helper()
	local, _, _ := strings.Cut(su.str("userPrincipalName"), "@")
	body := map[string]any{
		"userPrincipalName": local + suffix + "@" + tenant, "mailNickname": local + suffix,
		"passwordProfile":               map[string]any{"password": "Oracle-Test-1!"},
		"onPremisesExtensionAttributes": map[string]any{anchorAttribute: anchorPrefix() + su.str("id")},
	}
	for k, v := range expected(su) {
		if v != nil {
			body[k] = v
		}
	}
	var out struct{ ID string }
	w.call(tenant, http.MethodPost, "/users", body, &out)
	return out.ID
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
			var su user
			w.call(sourceDomain, http.MethodGet, "/users/"+w.source["alice"]+"?$select=id,userPrincipalName,mail,userType,"+strings.Join(directAttributes, ","), nil, &su)
			w.create("litware.example", su, "_again")
		}, []string{"litware/duplicate", "litware/duplicate-mail"}},
		{"attribute drift", func(w *oracleWorld) {
			w.call("contoso.example", http.MethodPatch, "/users/"+w.target["contoso.example"]["bob"], map[string]any{"department": "Legal"}, nil)
		}, []string{"contoso/attribute"}},
		{"mail not following a rename", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodPatch, "/users/"+w.source["alice"], map[string]any{"mail": "alice.new@" + sourceDomain}, nil)
		}, []string{"contoso/attribute", "litware/attribute"}},
		{"source change not synced", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodPatch, "/users/"+w.source["frank"], map[string]any{"accountEnabled": false}, nil)
		}, []string{"contoso/attribute", "litware/not-deprovisioned"}},
		{"manager missing", func(w *oracleWorld) {
			w.call("contoso.example", http.MethodDelete, "/users/"+w.target["contoso.example"]["bob"]+"/manager/$ref", nil, nil)
		}, []string{"contoso/manager"}},
		{"stale manager pointing at another synced user", func(w *oracleWorld) {
			// Frank's source manager becomes dave, who is in no target:
			// his target manager may not stay alice.
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
		}, []string{"contoso/not-deprovisioned", "litware/not-deprovisioned"}},
		{"deleted in the source, deprovisioned as configured", func(w *oracleWorld) {
			w.call(sourceDomain, http.MethodDelete, "/users/"+w.source["frank"], nil, nil)
			w.call("contoso.example", http.MethodDelete, "/users/"+w.target["contoso.example"]["frank"], nil, nil)
			w.call("litware.example", http.MethodPatch, "/users/"+w.target["litware.example"]["frank"], map[string]any{"accountEnabled": false}, nil)
		}, nil},
		{"B2B user left without an anchor", func(w *oracleWorld) {
			w.call("contoso.example", http.MethodPatch, "/users/"+w.target["contoso.example"]["carol"],
				map[string]any{"onPremisesExtensionAttributes": map[string]any{anchorAttribute: nil}}, nil)
		}, []string{"contoso/missing", "contoso/unanchored"}},
		{"pre-existing guest touched", func(w *oracleWorld) {
			var g struct{ Value []struct{ ID string } }
			w.call("litware.example", http.MethodGet, "/users?$filter=mail+eq+'auditor@auditfirm.example'&$select=id", nil, &g)
			w.call("litware.example", http.MethodPatch, "/users/"+g.Value[0].ID, map[string]any{"showInAddressList": false}, nil)
		}, []string{"litware/touched"}},
		{"pre-existing member's manager removed", func(w *oracleWorld) {
			var u struct{ Value []struct{ ID string } }
			w.call("contoso.example", http.MethodGet, "/users?$filter=userPrincipalName+eq+'facilities@contoso.example'&$select=id", nil, &u)
			w.call("contoso.example", http.MethodDelete, "/users/"+u.Value[0].ID+"/manager/$ref", nil, nil)
		}, []string{"contoso/touched", "contoso/touched"}}, // the member and the manager's direct reports
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newOracleWorld(t)
			tt.break_(w)
			diffs, err := w.o.Check(t.Context())
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
	litware := scenarioTargets()[1]
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
