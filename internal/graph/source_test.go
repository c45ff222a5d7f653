package graph_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/graph"
	"github.com/tenantsync/tenantsync/internal/graphsim"
)

func TestGetUser(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.client(t, source)
	ctx := context.Background()
	tests := []struct {
		name       string
		id         string
		attrs      []string
		wantSelect string
		wantExpand string
		want       directory.Attributes
	}{{
		name:       "scalars, collection, extension attribute and manager",
		id:         bobID,
		attrs:      []string{"displayName", "mail", "accountEnabled", "businessPhones", "jobTitle", "onPremisesExtensionAttributes.extensionAttribute1", "manager"},
		wantSelect: "id,displayName,mail,accountEnabled,businessPhones,jobTitle,onPremisesExtensionAttributes",
		wantExpand: "manager($select=id)",
		want: directory.Attributes{"displayName": "Bob Brown", "mail": "bob@fabrikam.example", "accountEnabled": true,
			"businessPhones": []string{}, "jobTitle": "Engineer", "onPremisesExtensionAttributes.extensionAttribute1": nil, "manager": aliceID},
	}, {
		name:       "by userPrincipalName, without a manager, unset properties are nil",
		id:         "alice@fabrikam.example",
		attrs:      []string{"manager", "businessPhones", "employeeHireDate", "mobilePhone", "onPremisesExtensionAttributes.extensionAttribute1", "onPremisesExtensionAttributes.extensionAttribute2"},
		wantSelect: "id,businessPhones,employeeHireDate,mobilePhone,onPremisesExtensionAttributes",
		wantExpand: "manager($select=id)",
		want: directory.Attributes{"manager": nil, "businessPhones": []string{"+1 555 0001"}, "employeeHireDate": "2019-04-01T09:00:00Z",
			"mobilePhone": nil, "onPremisesExtensionAttributes.extensionAttribute1": "A1", "onPremisesExtensionAttributes.extensionAttribute2": nil},
	}, {
		name:       "a whole complex property by its name gives all its parts",
		id:         aliceID,
		attrs:      []string{"onPremisesExtensionAttributes"},
		wantSelect: "id,onPremisesExtensionAttributes",
		want: func() directory.Attributes {
			a := directory.Attributes{}
			for i := 1; i <= 15; i++ {
				a[fmt.Sprintf("onPremisesExtensionAttributes.extensionAttribute%d", i)] = nil
			}
			a["onPremisesExtensionAttributes.extensionAttribute1"] = "A1"
			a["onPremisesExtensionAttributes.extensionAttribute3"] = "A3"
			return a
		}(),
	}, {
		name:       "no attributes selects the id only",
		id:         carolID,
		wantSelect: "id",
		want:       directory.Attributes{},
	}, {
		name:       "duplicates are asked once",
		id:         carolID,
		attrs:      []string{"mail", "mail", "otherMails", "accountEnabled"},
		wantSelect: "id,mail,otherMails,accountEnabled",
		want:       directory.Attributes{"mail": carolMail, "otherMails": []string{"c.oneil@fabrikam.example"}, "accountEnabled": false},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim.reset()
			u, err := c.GetUser(ctx, tt.id, tt.attrs)
			if err != nil {
				t.Fatalf("GetUser: %v", err)
			}
			if u.Deleted || u.ID == "" || strings.Contains(u.ID, "@") {
				t.Errorf("user id %q deleted %v: want an object id, not deleted", u.ID, u.Deleted)
			}
			if !reflect.DeepEqual(u.Attrs, tt.want) {
				t.Errorf("attrs:\n got %#v\nwant %#v", u.Attrs, tt.want)
			}
			reqs := sim.recorded()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			if got := reqs[0].Query.Get("$select"); got != tt.wantSelect {
				t.Errorf("$select = %q, want %q", got, tt.wantSelect)
			}
			if got := reqs[0].Query.Get("$expand"); got != tt.wantExpand {
				t.Errorf("$expand = %q, want %q", got, tt.wantExpand)
			}
		})
	}
}

func TestGetUserMissing(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.client(t, source)
	ctx := context.Background()
	const missing = "00000000-0000-4000-8000-00000000dead"
	if err := c.DeleteUser(ctx, daveID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{missing, "nobody@fabrikam.example", daveID} {
		_, err := c.GetUser(ctx, id, []string{"displayName"})
		if !errors.Is(err, directory.ErrNotFound) {
			t.Fatalf("GetUser(%s) = %v, want ErrNotFound", id, err)
		}
		de := asError(t, err)
		if de.Op != "get user "+id || de.Status != 404 || de.Code != "Request_ResourceNotFound" || de.RequestID == "" {
			t.Errorf("error = %+v, want op, status 404, code and request id", de)
		}
	}
}

func TestListUsersPaging(t *testing.T) {
	gen := graphsim.GenerateTenant(graphsim.GenerateOptions{Domain: "big.example", Users: 1203, Seed: 3})
	s := graphsim.NewTestServer(t, graphsim.Seed{Tenants: []graphsim.TenantSeed{gen}})
	tests := []struct {
		pageSize int
		pages    int64
	}{{0, 2}, {500, 3}, {100, 13}}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("page size %d", tt.pageSize), func(t *testing.T) {
			c, err := graph.New(context.Background(), graph.Options{BaseURL: s.TenantURL("big.example"), PageSize: tt.pageSize})
			if err != nil {
				t.Fatal(err)
			}
			s.ResetStats()
			seen := map[string]bool{}
			calls := 0
			err = c.ListUsers(context.Background(), []string{"userPrincipalName", "manager"}, func(page []directory.User) error {
				calls++
				for _, u := range page {
					if seen[u.ID] {
						t.Errorf("user %s listed twice", u.ID)
					}
					seen[u.ID] = true
					if upn, _ := u.Attrs.String("userPrincipalName"); upn == "" {
						t.Errorf("user %s without userPrincipalName", u.ID)
					}
					if _, ok := u.Attrs["manager"]; !ok {
						t.Errorf("user %s without the manager attribute", u.ID)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("ListUsers: %v", err)
			}
			if len(seen) != 1203 {
				t.Errorf("saw %d users, want 1203", len(seen))
			}
			got := s.Stats().Tenants["big.example"].Routes["GET /users"]
			if got != tt.pages || int64(calls) != tt.pages {
				t.Errorf("GET /users = %d, fn calls = %d, want %d pages", got, calls, tt.pages)
			}
		})
	}
}

func TestListUsersStopsOnCallbackError(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.clientWith(t, graph.Options{BaseURL: sim.tenantURL(source), PageSize: 1})
	stop := errors.New("stop")
	calls := 0
	err := c.ListUsers(context.Background(), nil, func([]directory.User) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("ListUsers = %v after %d calls, want the callback's error after 1", err, calls)
	}
}

// TestMemberOf runs with the least privilege tenantsync asks of the source
// (User.Read.All and Group.Read.All): direct membership cannot be read from
// GET /users/{id}/memberOf, which needs Directory.Read.All for an app
// (learn.microsoft.com/graph/api/user-list-memberof#permissions), so it is
// the transitive check narrowed by the group's direct members.
func TestMemberOf(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	if err := sim.SetPermissions(source, []string{"User.Read.All", "Group.Read.All"}); err != nil {
		t.Fatal(err)
	}
	c := sim.client(t, source)
	ctx := context.Background()
	const unknownGroup = "00000000-0000-4000-8000-0000000000ff"
	many := []string{salesID}
	for i := 0; i < 44; i++ {
		many = append(many, fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
	}
	many = append(many, parentID)
	const check, members = "POST /users/{id}/checkMemberGroups", "GET /groups/{id}/members"
	tests := []struct {
		name       string
		user       string
		groups     []string
		transitive bool
		want       []string
		routes     map[string]int64
	}{
		{"direct member", aliceID, []string{parentID, salesID, quoteID}, false, []string{salesID}, map[string]int64{check: 1, members: 2}},
		{"direct again: the groups' members are cached", aliceID, []string{salesID}, false, []string{salesID}, map[string]int64{check: 1}},
		{"direct, nested group does not count", aliceID, []string{parentID}, false, nil, map[string]int64{check: 1, members: 1}},
		{"transitive through a nested group", aliceID, []string{parentID, unknownGroup, salesID}, true, []string{parentID, salesID}, map[string]int64{check: 1}},
		{"transitive keeps the caller's spelling", aliceID, []string{strings.ToUpper(parentID)}, true, []string{strings.ToUpper(parentID)}, map[string]int64{check: 1}},
		{"more than 20 groups are checked in chunks of 20", bobID, many, true, []string{salesID, parentID}, map[string]int64{check: 3}},
		{"not a member", daveID, []string{salesID, parentID}, true, nil, map[string]int64{check: 1}},
		{"not a member, direct: no listing", daveID, []string{salesID, parentID}, false, nil, map[string]int64{check: 1}},
		{"no groups, no request", daveID, nil, true, nil, map[string]int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim.reset()
			got, err := c.MemberOf(ctx, tt.user, tt.groups, tt.transitive)
			if err != nil {
				t.Fatalf("MemberOf: %v", err)
			}
			if !equalStrings(got, tt.want) {
				t.Errorf("MemberOf = %v, want %v", got, tt.want)
			}
			st := sim.Stats().Tenants[source]
			total := int64(0)
			for route, n := range tt.routes {
				total += n
				if st.Routes[route] != n {
					t.Errorf("%s: %d requests, want %d", route, st.Routes[route], n)
				}
			}
			if st.Requests != total {
				t.Errorf("%d requests, want %d (%v)", st.Requests, total, st.Routes)
			}
		})
	}
	// A user added to the group a moment after its members were listed is
	// a direct member at once: a cached listing without them is listed again.
	// (an administrator's change: with every permission for the moment)
	if err := sim.SetPermissions(source, nil); err != nil {
		t.Fatal(err)
	}
	ref := strings.NewReader(`{"@odata.id":"` + sim.tenantURL(source) + `/directoryObjects/` + daveID + `"}`)
	resp, err := http.Post(sim.tenantURL(source)+"/groups/"+salesID+"/members/$ref", "application/json", ref)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("add dave to sales: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := sim.SetPermissions(source, []string{"User.Read.All", "Group.Read.All"}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.MemberOf(ctx, daveID, []string{salesID}, false); err != nil || !equalStrings(got, []string{salesID}) {
		t.Errorf("MemberOf of a just-added member = %v, %v; want the group", got, err)
	}
	_, err = c.MemberOf(ctx, "00000000-0000-4000-8000-00000000dead", []string{salesID}, true)
	if !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("MemberOf of a missing user = %v, want ErrNotFound", err)
	}
}

func TestGroupMembers(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.client(t, source)
	tests := []struct {
		group      string
		transitive bool
		users      []string
		groups     []string
	}{
		{parentID, false, []string{carolID}, []string{salesID}},
		{parentID, true, []string{aliceID, bobID, carolID}, []string{salesID}},
		{salesID, false, []string{aliceID, bobID}, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s transitive %v", tt.group, tt.transitive), func(t *testing.T) {
			m, err := c.GroupMembers(context.Background(), tt.group, tt.transitive)
			if err != nil {
				t.Fatalf("GroupMembers: %v", err)
			}
			if !equalStrings(sorted(m.Users), sorted(tt.users)) || !equalStrings(sorted(m.Groups), sorted(tt.groups)) {
				t.Errorf("members = %+v, want users %v groups %v", m, tt.users, tt.groups)
			}
		})
	}
}

func TestGroupMembersPaging(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.clientWith(t, graph.Options{BaseURL: sim.tenantURL(source), PageSize: 1})
	sim.reset()
	m, err := c.GroupMembers(context.Background(), parentID, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Users)+len(m.Groups) != 4 {
		t.Errorf("members = %+v, want 4", m)
	}
	if got := sim.Stats().Tenants[source].Routes["GET /groups/{id}/transitiveMembers"]; got != 4 {
		t.Errorf("%d pages, want 4 of one member", got)
	}
}

func TestDirectReports(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.client(t, source)
	tests := []struct {
		id   string
		want []string
	}{{aliceID, []string{bobID, daveID}}, {bobID, nil}}
	for _, tt := range tests {
		got, err := c.DirectReports(context.Background(), tt.id)
		if err != nil {
			t.Fatalf("DirectReports(%s): %v", tt.id, err)
		}
		if !equalStrings(sorted(got), sorted(tt.want)) {
			t.Errorf("DirectReports(%s) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestFindGroups(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.client(t, source)
	tests := []struct {
		query string
		want  []directory.Group
		route string
	}{
		{salesID, []directory.Group{{ID: salesID, DisplayName: "Sales"}}, "GET /groups/{id}"},
		{"Sales", []directory.Group{{ID: salesID, DisplayName: "Sales"}}, "GET /groups"},
		{"O'Brien's team", []directory.Group{{ID: quoteID, DisplayName: "O'Brien's team"}}, "GET /groups"},
		{"Nobody's group", nil, "GET /groups"},
		{"00000000-0000-4000-8000-0000000000ff", nil, "GET /groups"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			sim.reset()
			got, err := c.FindGroups(context.Background(), tt.query)
			if err != nil {
				t.Fatalf("FindGroups: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FindGroups = %+v, want %+v", got, tt.want)
			}
			if sim.Stats().Tenants[source].Routes[tt.route] != 1 {
				t.Errorf("no request to %s: %v", tt.route, sim.Stats().Tenants[source].Routes)
			}
		})
	}
}
