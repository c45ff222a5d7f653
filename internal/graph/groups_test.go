package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/graph"
	"github.com/tenantsync/tenantsync/internal/graphsim"
)

const (
	groupsTenant = "groups.example"
	salesAnchor  = "tenantsync_fabrikam.example_" + salesID
)

// newGroupsSim is the simulator with a target tenant of 45 users (m00…m44)
// and their ids.
func newGroupsSim(t *testing.T) (*simServer, []string) {
	t.Helper()
	sim := newSim(t, graphsim.Options{})
	ts := graphsim.TenantSeed{Domain: groupsTenant, DisplayName: "Groups"}
	var ids []string
	for i := range 45 {
		id := fmt.Sprintf("e0000000-0000-4000-8000-0000000000%02d", i)
		ids = append(ids, id)
		ts.Users = append(ts.Users, graphsim.Object{"id": id,
			"userPrincipalName": fmt.Sprintf("m%02d@groups.example", i), "displayName": fmt.Sprintf("Member %02d", i)})
	}
	if err := sim.PutTenant(ts); err != nil {
		t.Fatal(err)
	}
	return sim, ids
}

// salesAttrs are the properties of a target group made from Sales.
func salesAttrs(name string) directory.Attributes {
	return directory.Attributes{"displayName": name, "description": "Synced from Fabrikam",
		"mailNickname": "sales", graph.GroupAnchorAttr: salesAnchor}
}

// routeCount is how often the simulator served a route in a tenant.
func routeCount(sim *simServer, tenant, route string) int64 {
	return sim.Stats().Tenants[tenant].Routes[route]
}

// adminCall makes a Graph request as the tenant's administrator.
func adminCall(t *testing.T, sim *simServer, tenant, method, path, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, sim.tenantURL(tenant)+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(graphsim.AdminHeader, "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestCreateFindUpdateGroup creates a security group with its anchor in one
// upsert, finds it by name with the anchor (telling it from a group of the
// same name without one), creates it again without a second group, and
// updates it.
func TestCreateFindUpdateGroup(t *testing.T) {
	ctx := context.Background()
	sim, _ := newGroupsSim(t)
	c := sim.client(t, groupsTenant)

	sim.reset()
	g, err := c.CreateGroup(ctx, salesAttrs("Sales (Fabrikam)"))
	if err != nil {
		t.Fatal(err)
	}
	if g.ID == "" || g.DisplayName != "Sales (Fabrikam)" || g.Attrs[graph.GroupAnchorAttr] != salesAnchor || g.Attrs["mailNickname"] != "sales" {
		t.Fatalf("created %+v", g)
	}
	reqs := sim.recorded()
	if len(reqs) != 1 {
		t.Fatalf("create sent %d requests, want 1 upsert", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPatch || !strings.HasSuffix(r.Path, "/groups(uniqueName='"+salesAnchor+"')") || r.Header.Get("Prefer") != "create-if-missing" {
		t.Errorf("create sent %s %s Prefer %q", r.Method, r.Path, r.Header.Get("Prefer"))
	}
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body["securityEnabled"] != true || body["mailEnabled"] != false || fmt.Sprint(body["groupTypes"]) != "[]" || body[graph.GroupAnchorAttr] != nil {
		t.Errorf("create body %v, want a security group without uniqueName in the body", body)
	}

	// A group of the same name made by a target admin carries no anchor.
	if code := adminCall(t, sim, groupsTenant, "POST", "/groups",
		`{"displayName":"Sales (Fabrikam)","mailEnabled":false,"mailNickname":"other","securityEnabled":true}`); code != http.StatusCreated {
		t.Fatalf("admin create: %d", code)
	}
	found, err := c.FindGroupsByName(ctx, "Sales (Fabrikam)", []string{graph.GroupAnchorAttr, "description"})
	if err != nil {
		t.Fatal(err)
	}
	var anchored []string
	for _, f := range found {
		if f.Attrs[graph.GroupAnchorAttr] == salesAnchor {
			anchored = append(anchored, f.ID)
		} else if f.Attrs[graph.GroupAnchorAttr] != nil {
			t.Errorf("the admin's group reads anchor %v", f.Attrs[graph.GroupAnchorAttr])
		}
	}
	if len(found) != 2 || len(anchored) != 1 || anchored[0] != g.ID {
		t.Errorf("found %+v, want two groups of which only %s is anchored", found, g.ID)
	}

	// Created again (a retry after a crash): the same group, updated.
	sim.reset()
	again, err := c.CreateGroup(ctx, salesAttrs("Sales (Northwind)"))
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != g.ID || again.DisplayName != "Sales (Northwind)" || again.Attrs[graph.GroupAnchorAttr] != salesAnchor {
		t.Errorf("created again %+v, want group %s renamed", again, g.ID)
	}
	if got := sim.Stats().Tenants[groupsTenant]; got.Groups != 2 || got.Writes != 1 || got.Reads != 1 {
		t.Errorf("create again: %d groups, %d writes, %d reads; want 2 groups, one upsert and one read", got.Groups, got.Writes, got.Reads)
	}

	if err := c.UpdateGroup(ctx, g.ID, directory.Attributes{"displayName": "Sales", "description": nil}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetGroup(ctx, g.ID, []string{"description", graph.GroupAnchorAttr})
	if err != nil {
		t.Fatal(err)
	}
	if got.DisplayName != "Sales" || got.Attrs["description"] != nil || got.Attrs[graph.GroupAnchorAttr] != salesAnchor {
		t.Errorf("after update %+v", got)
	}

	sim.reset()
	for name, call := range map[string]func() error{
		"create without an anchor": func() error {
			_, err := c.CreateGroup(ctx, directory.Attributes{"displayName": "X", "mailNickname": "x"})
			return err
		},
		"create with an anchor Graph cannot key": func() error {
			_, err := c.CreateGroup(ctx, directory.Attributes{"displayName": "X", "mailNickname": "x", graph.GroupAnchorAttr: "a'b"})
			return err
		},
		"update the anchor": func() error {
			return c.UpdateGroup(ctx, g.ID, directory.Attributes{graph.GroupAnchorAttr: "other"})
		},
	} {
		if err := call(); !errors.Is(err, directory.ErrBadRequest) {
			t.Errorf("%s: %v, want a bad request", name, err)
		}
	}
	if n := len(sim.recorded()); n != 0 {
		t.Errorf("refused calls sent %d requests", n)
	}
	if _, err := c.GetGroup(ctx, "00000000-0000-4000-8000-00000000dead", nil); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("get an unknown group: %v, want not found", err)
	}
}

// TestSourceGetGroup reads a source group's properties, and finds a name
// with a quote.
func TestSourceGetGroup(t *testing.T) {
	ctx := context.Background()
	sim := newSim(t, graphsim.Options{})
	c := sim.client(t, source)
	g, err := c.GetGroup(ctx, salesID, []string{"description", "mailNickname"})
	if err != nil {
		t.Fatal(err)
	}
	if g.ID != salesID || g.DisplayName != "Sales" || len(g.Attrs) != 2 {
		t.Errorf("got %+v", g)
	}
	found, err := c.FindGroupsByName(ctx, "O'Brien's team", nil)
	if err != nil || len(found) != 1 || found[0].ID != quoteID {
		t.Errorf("find a name with quotes: %+v %v", found, err)
	}
}

// TestAddGroupMembers adds 45 members in three PATCHes, then again after a
// crash that left the first 20 in: the first chunk is refused as a whole
// and added one user at a time, the others in one PATCH each, and the group
// ends with each member once.
func TestAddGroupMembers(t *testing.T) {
	ctx := context.Background()
	sim, users := newGroupsSim(t)
	c := sim.client(t, groupsTenant)
	g, err := c.CreateGroup(ctx, salesAttrs("Sales"))
	if err != nil {
		t.Fatal(err)
	}

	const patch, post = "PATCH /groups/{id}", "POST /groups/{id}/members/$ref"
	tests := []struct {
		name        string
		before      []string // members already there
		add         []string
		patches     int64
		posts       int64
		wantMembers int
	}{
		{"45 new members", nil, users, 3, 0, 45},
		{"the same 45 again", nil, users, 3, 45, 45},
		{"after a crash with 20 in", users[:20], users, 3, 20, 45},
		{"one new member among four old ones", users[:44], users[40:], 1, 5, 45},
		{"nothing", nil, nil, 0, 0, 45},
		{"duplicates in the list", users[:44], []string{users[44], strings.ToUpper(users[44]), users[44]}, 1, 0, 45},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				for _, u := range users {
					if err := c.RemoveGroupMember(ctx, g.ID, u); err != nil {
						t.Fatal(err)
					}
				}
				if err := c.AddGroupMembers(ctx, g.ID, tt.before); err != nil {
					t.Fatal(err)
				}
			}
			sim.reset()
			if err := c.AddGroupMembers(ctx, g.ID, tt.add); err != nil {
				t.Fatal(err)
			}
			if p, q := routeCount(sim, groupsTenant, patch), routeCount(sim, groupsTenant, post); p != tt.patches || q != tt.posts {
				t.Errorf("sent %d PATCHes and %d POST $refs, want %d and %d", p, q, tt.patches, tt.posts)
			}
			members, err := c.ListGroupMembers(ctx, g.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(members) != tt.wantMembers || !equalStrings(sorted(members), sorted(users[:tt.wantMembers])) {
				t.Errorf("%d members, want %d", len(members), tt.wantMembers)
			}
		})
	}

	// A user who does not exist fails the call, with Graph's 404.
	err = c.AddGroupMembers(ctx, g.ID, []string{"00000000-0000-4000-8000-00000000dead"})
	if !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("add an unknown user: %v, want not found", err)
	}
}

// TestRemoveGroupMember removes a member, and again: Graph's 404 for a user
// who is not a member is done, not a failure.
func TestRemoveGroupMember(t *testing.T) {
	ctx := context.Background()
	sim, users := newGroupsSim(t)
	c := sim.client(t, groupsTenant)
	g, err := c.CreateGroup(ctx, salesAttrs("Sales"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddGroupMembers(ctx, g.ID, users[:2]); err != nil {
		t.Fatal(err)
	}
	sim.reset()
	for range 2 {
		if err := c.RemoveGroupMember(ctx, g.ID, users[0]); err != nil {
			t.Fatalf("remove: %v", err)
		}
	}
	if n := routeCount(sim, groupsTenant, "DELETE /groups/{id}/members/{id}/$ref"); n != 2 {
		t.Errorf("sent %d DELETE $refs, want 2", n)
	}
	members, err := c.ListGroupMembers(ctx, g.ID)
	if err != nil || !equalStrings(members, users[1:2]) {
		t.Errorf("members %v %v, want %v", members, err, users[1:2])
	}
}

// TestDeleteAndRestoreGroup soft deletes a group, which keeps its members
// (they stay users) and its anchor (no new group takes it), and restores it.
func TestDeleteAndRestoreGroup(t *testing.T) {
	ctx := context.Background()
	sim, users := newGroupsSim(t)
	c := sim.client(t, groupsTenant)
	g, err := c.CreateGroup(ctx, salesAttrs("Sales"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddGroupMembers(ctx, g.ID, users[:3]); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteGroup(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetGroup(ctx, g.ID, nil); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("get a deleted group: %v, want not found", err)
	}
	for _, u := range users[:3] {
		if _, err := c.GetUser(ctx, u, []string{"displayName"}); err != nil {
			t.Errorf("member %s after the group's deletion: %v", u, err)
		}
	}
	if _, err := c.CreateGroup(ctx, salesAttrs("Sales")); !errors.Is(err, directory.ErrBadRequest) {
		t.Errorf("create with a deleted group's anchor: %v, want a bad request (restore it instead)", err)
	}
	if err := c.DeleteGroup(ctx, g.ID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("delete again: %v, want not found", err)
	}
	if err := c.RestoreGroup(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	back, err := c.GetGroup(ctx, g.ID, []string{graph.GroupAnchorAttr})
	if err != nil || back.Attrs[graph.GroupAnchorAttr] != salesAnchor {
		t.Errorf("after restore %+v %v", back, err)
	}
	members, err := c.ListGroupMembers(ctx, g.ID)
	if err != nil || !equalStrings(sorted(members), sorted(users[:3])) {
		t.Errorf("members after restore %v %v, want %v", members, err, users[:3])
	}
	if err := c.RestoreGroup(ctx, g.ID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("restore a live group: %v, want not found", err)
	}
}

// TestGroupPermissionRefusals holds each group call to the permission its
// Graph page lists: with less, it fails with Graph's 403 and message, and
// RemoveGroupMember does not mistake the refusal for "not a member".
func TestGroupPermissionRefusals(t *testing.T) {
	ctx := context.Background()
	type call func(c *graph.Client, group string, users []string) error
	calls := map[string]call{
		"create": func(c *graph.Client, _ string, _ []string) error {
			_, err := c.CreateGroup(ctx, directory.Attributes{"displayName": "New", "mailNickname": "new", graph.GroupAnchorAttr: "tenantsync_new"})
			return err
		},
		"update": func(c *graph.Client, g string, _ []string) error {
			return c.UpdateGroup(ctx, g, directory.Attributes{"displayName": "Renamed"})
		},
		"add members":   func(c *graph.Client, g string, u []string) error { return c.AddGroupMembers(ctx, g, u[1:3]) },
		"remove member": func(c *graph.Client, g string, u []string) error { return c.RemoveGroupMember(ctx, g, u[0]) },
		"list members": func(c *graph.Client, g string, _ []string) error {
			_, err := c.ListGroupMembers(ctx, g)
			return err
		},
		"find by name": func(c *graph.Client, _ string, _ []string) error {
			_, err := c.FindGroupsByName(ctx, "Sales", []string{graph.GroupAnchorAttr})
			return err
		},
		"delete": func(c *graph.Client, g string, _ []string) error { return c.DeleteGroup(ctx, g) },
	}
	tests := []struct {
		grant   []string
		refused []string // the calls answered 403; the others succeed
	}{
		{[]string{"Group.ReadWrite.All"}, nil},
		// group-list does not list GroupMember.ReadWrite.All.
		{[]string{"GroupMember.ReadWrite.All"}, []string{"create", "update", "find by name", "delete"}},
		{[]string{"Group.Create", "GroupMember.Read.All"}, []string{"update", "add members", "remove member", "delete"}},
		{[]string{"User.ReadWrite.All"}, []string{"create", "update", "add members", "remove member", "list members", "find by name", "delete"}},
	}
	for _, tt := range tests {
		for name, fn := range calls {
			t.Run(strings.Join(tt.grant, "+")+"/"+name, func(t *testing.T) {
				sim, users := newGroupsSim(t)
				c := sim.client(t, groupsTenant)
				g, err := c.CreateGroup(ctx, salesAttrs("Sales"))
				if err != nil {
					t.Fatal(err)
				}
				if err := c.AddGroupMembers(ctx, g.ID, users[:1]); err != nil {
					t.Fatal(err)
				}
				if err := sim.SetPermissions(groupsTenant, tt.grant); err != nil {
					t.Fatal(err)
				}
				err = fn(c, g.ID, users)
				refused := false
				for _, r := range tt.refused {
					refused = refused || r == name
				}
				if !refused {
					if err != nil {
						t.Fatalf("%v", err)
					}
					return
				}
				de := asError(t, err)
				if !errors.Is(err, directory.ErrForbidden) || de.Code != "Authorization_RequestDenied" ||
					de.Message != "Insufficient privileges to complete the operation." {
					t.Errorf("%v, want Graph's 403", err)
				}
			})
		}
	}
}
