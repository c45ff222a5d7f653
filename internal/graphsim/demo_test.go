package graphsim_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

func TestDemoSeed(t *testing.T) {
	seed := graphsim.DemoSeed()
	if len(seed.Tenants) != 2 || seed.Tenants[0].Domain != "fabrikam.example" || seed.Tenants[1].Domain != "contoso.example" {
		t.Fatalf("demo tenants: %+v", seed.Tenants)
	}
	if len(seed.Tenants[1].Users) != 0 {
		t.Errorf("Contoso is not empty")
	}
	if again := graphsim.DemoSeed(); !reflect.DeepEqual(seed, again) {
		t.Errorf("DemoSeed is not deterministic")
	}
	ts := graphsim.NewTestServer(t, seed)
	snap, err := ts.Snapshot("fabrikam.example")
	if err != nil {
		t.Fatal(err)
	}
	var disabled, guests, noMail, noManager int
	depts := map[string]bool{}
	for _, u := range snap.Users {
		if u["accountEnabled"] == false {
			disabled++
		}
		if u["userType"] == "Guest" {
			guests++
			continue
		}
		if u["mail"] == nil {
			noMail++
		}
		if u["manager"] == nil {
			noManager++
		}
		depts[u["department"].(string)] = true
	}
	checks := []struct {
		what     string
		got, min int
		max      int
	}{
		{"users", len(snap.Users), 300, 300},
		{"disabled users", disabled, 3, 20},
		{"guests", guests, 3, 20},
		{"members without mail", noMail, 2, 20},
		{"members without a manager (the CEO)", noManager, 1, 1},
		{"departments", len(depts), 8, 12},
	}
	for _, c := range checks {
		if c.got < c.min || c.got > c.max {
			t.Errorf("%s = %d, want %d..%d", c.what, c.got, c.min, c.max)
		}
	}
	// The scoping group nests Project Phoenix, whose members are reached
	// only transitively.
	base := ts.TenantURL("fabrikam.example")
	scoping := groupID(t, ts, "fabrikam.example", graphsim.ScopingGroup)
	phoenix := groupID(t, ts, "fabrikam.example", graphsim.NestedScopingGroup)
	_, direct := call(t, "GET", base+"/groups/"+scoping+"/members?$select=id&$top=999", nil, "")
	_, transitive := call(t, "GET", base+"/groups/"+scoping+"/transitiveMembers?$select=id&$top=999", nil, "")
	ids := func(page map[string]any) map[string]string {
		out := map[string]string{}
		for _, v := range page["value"].([]any) {
			m := v.(map[string]any)
			out[m["id"].(string)] = m["@odata.type"].(string)
		}
		return out
	}
	d, tr := ids(direct), ids(transitive)
	if d[phoenix] != "#microsoft.graph.group" {
		t.Errorf("%s is not a direct member of %s", graphsim.NestedScopingGroup, graphsim.ScopingGroup)
	}
	if len(tr) <= len(d) {
		t.Errorf("transitive members %d, direct %d: nesting adds nobody", len(tr), len(d))
	}
	var scopedGuest, scopedDisabled bool
	byID := map[string]graphsim.Object{}
	for _, u := range snap.Users {
		byID[u["id"].(string)] = u
	}
	for id := range d {
		if u := byID[id]; u != nil {
			scopedGuest = scopedGuest || u["userType"] == "Guest"
			scopedDisabled = scopedDisabled || u["accountEnabled"] == false
		}
	}
	if !scopedGuest || !scopedDisabled {
		t.Errorf("the scoping group lacks a guest (%v) or a disabled user (%v)", scopedGuest, scopedDisabled)
	}
	// The seed survives a JSON round trip through the streaming loader.
	raw, err := json.Marshal(seed)
	if err != nil {
		t.Fatal(err)
	}
	s2 := graphsim.New(graphsim.Options{})
	defer s2.Close()
	if err := s2.LoadSeedJSON(bytes.NewReader(raw)); err != nil {
		t.Fatalf("load demo seed from JSON: %v", err)
	}
	snap2, _ := s2.Snapshot("fabrikam.example")
	if len(snap2.Users) != 300 || len(snap2.Groups) != len(snap.Groups) {
		t.Errorf("JSON round trip: %d users, %d groups", len(snap2.Users), len(snap2.Groups))
	}
}
