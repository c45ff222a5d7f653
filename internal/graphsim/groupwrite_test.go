package graphsim_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// groupSeed is a target tenant with 45 users (u00…u44) and no group.
func groupSeed() graphsim.Seed {
	ts := graphsim.TenantSeed{Domain: "contoso.example", DisplayName: "Contoso"}
	for i := range 45 {
		ts.Users = append(ts.Users, graphsim.Object{
			"userPrincipalName": fmt.Sprintf("u%02d@contoso.example", i), "displayName": fmt.Sprintf("User %02d", i),
		})
	}
	return graphsim.Seed{Tenants: []graphsim.TenantSeed{ts}}
}

// userIDs returns the ids of users u00…u{n-1} of groupSeed.
func seededUserIDs(t *testing.T, ts *graphsim.TestServer, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		ids[i] = userID(t, ts, "contoso.example", fmt.Sprintf("u%02d@contoso.example", i))
	}
	return ids
}

// bindBody is a JSON body with members@odata.bind for ids and the given
// properties (a JSON object's members, or "").
func bindBody(props string, ids ...string) string {
	refs := make([]string, len(ids))
	for i, id := range ids {
		refs[i] = `"https://graph.microsoft.com/v1.0/directoryObjects/` + id + `"`
	}
	b := `{"members@odata.bind":[` + strings.Join(refs, ",") + `]`
	if props != "" {
		b += "," + props
	}
	return b + "}"
}

const securityGroup = `"displayName":"Northwind","mailEnabled":false,"mailNickname":"northwind","securityEnabled":true`

// errMessage returns the error message of a Graph error body.
func errMessage(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// memberIDs lists the direct members of a group.
func memberIDs(t *testing.T, base, group string) []string {
	t.Helper()
	ids, _ := listAll(t, base+"/groups/"+group+"/members?$select=id", nil)
	slices.Sort(ids)
	return ids
}

// TestCreateGroupRules checks POST /groups against group-post-groups: the
// required properties, mailNickname's characters and length, displayName's
// length, the kinds of group Graph creates, the read-only uniqueName, and
// the references it binds (at most 20, existing, each once).
func TestCreateGroupRules(t *testing.T) {
	ts := graphsim.NewTestServer(t, groupSeed())
	base := ts.TenantURL("contoso.example")
	users := seededUserIDs(t, ts, 21)
	tests := []struct {
		name, body string
		status     int
		message    string // a part of the error message
	}{
		{"security group", `{` + securityGroup + `}`, 201, ""},
		{"security group with 20 members", bindBody(securityGroup, users[:20]...), 201, ""},
		{"21 members", bindBody(securityGroup, users...), 400, "more than 20 link changes"},
		{"no mailNickname", `{"displayName":"X","mailEnabled":false,"securityEnabled":true}`, 400, "A value is required for property 'mailNickname'"},
		{"no securityEnabled", `{"displayName":"X","mailEnabled":false,"mailNickname":"x"}`, 400, "A value is required for property 'securityEnabled'"},
		{"mailNickname with a space", `{"displayName":"X","mailEnabled":false,"mailNickname":"a b","securityEnabled":true}`, 400, "'mailNickname'"},
		{"mailNickname with a period", `{"displayName":"X","mailEnabled":false,"mailNickname":"a.b","securityEnabled":true}`, 400, "'mailNickname'"},
		{"mailNickname of 65 characters", `{"displayName":"X","mailEnabled":false,"mailNickname":"` + strings.Repeat("a", 65) + `","securityEnabled":true}`, 400, "'mailNickname'"},
		{"mailNickname of 64 characters", `{"displayName":"X","mailEnabled":false,"mailNickname":"` + strings.Repeat("a", 64) + `","securityEnabled":true}`, 201, ""},
		{"displayName of 257 characters", `{"displayName":"` + strings.Repeat("d", 257) + `","mailEnabled":false,"mailNickname":"x","securityEnabled":true}`, 400, "'displayName'"},
		{"distribution group", `{"displayName":"X","mailEnabled":true,"mailNickname":"x","securityEnabled":false}`, 400, "Microsoft 365 groups and security groups"},
		{"uniqueName in the body", `{` + securityGroup + `,"uniqueName":"a"}`, 400, "read-only"},
		{"an unknown member", bindBody(securityGroup, "00000000-0000-0000-0000-0000000000aa"), 404, "does not exist"},
		{"a member twice", bindBody(securityGroup, users[0], users[0]), 400, "only be present once"},
		{"a bind that is not a URL of an object", `{` + securityGroup + `,"members@odata.bind":["https://graph.microsoft.com/v1.0/users"]}`, 400, "Invalid URL format specified in @odata.bind for members"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ts.Stats().Tenants["contoso.example"].Groups
			resp, body := call(t, http.MethodPost, base+"/groups", nil, tt.body)
			if resp.StatusCode != tt.status || !strings.Contains(errMessage(body), tt.message) {
				t.Fatalf("status %d %v, want %d with %q", resp.StatusCode, body, tt.status, tt.message)
			}
			after := ts.Stats().Tenants["contoso.example"].Groups
			if tt.status != 201 {
				if after != before {
					t.Errorf("a refused create changed the groups: %d → %d", before, after)
				}
				return
			}
			if body["securityEnabled"] != true || body["mailEnabled"] != false || fmt.Sprint(body["groupTypes"]) != "[]" {
				t.Errorf("created %v, want a security group", body)
			}
			id, _ := body["id"].(string)
			want := 0
			if strings.Contains(tt.body, "members@odata.bind") {
				want = 20
			}
			if got := memberIDs(t, base, id); len(got) != want {
				t.Errorf("the new group has %d members, want %d", len(got), want)
			}
		})
	}
}

// TestPatchMembersBind checks PATCH /groups/{id} with members@odata.bind
// (group-post-members, example 2): up to 20 members in one request, all or
// nothing, the documented 400 when one of them is a member already, 404 for
// an object that does not exist, properties and members in one write, and
// the members reported by the groups delta and in one change notification.
func TestPatchMembersBind(t *testing.T) {
	ts := graphsim.NewTestServer(t, groupSeed())
	base := ts.TenantURL("contoso.example")
	users := seededUserIDs(t, ts, 45)
	_, g := call(t, http.MethodPost, base+"/groups", nil, `{`+securityGroup+`}`)
	group, _ := g["id"].(string)
	_, deltaLink := deltaRound(t, base+"/groups/delta")

	l := newListener(t)
	sub := `{"changeType":"updated","notificationUrl":"` + l.URL + `/notify","resource":"/groups/` + group + `/members",` +
		`"expirationDateTime":"` + time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339) + `","clientState":"s"}`
	if resp, body := call(t, http.MethodPost, base+"/subscriptions", nil, sub); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create subscription: %d %v", resp.StatusCode, body)
	}

	steps := []struct {
		name, body string
		status     int
		message    string
		members    int // direct members afterwards
	}{
		{"20 members", bindBody("", users[:20]...), 204, "", 20},
		{"21 members", bindBody("", users[20:41]...), 400, "A resource cannot contain more than 20 link changes.", 20},
		{"one member already there", bindBody("", users[20], users[0]), 400,
			"One or more added object references already exist for the following modified properties: 'members'.", 20},
		{"an unknown object", bindBody("", users[20], "00000000-0000-0000-0000-0000000000aa"), 404, "does not exist", 20},
		{"the group itself", bindBody("", group), 400, "cannot be a member of itself", 20},
		{"members and a new name", bindBody(`"displayName":"Northwind (Contoso)"`, users[20:25]...), 204, "", 25},
		{"a bad mailNickname with members", bindBody(`"mailNickname":"a b"`, users[25]), 400, "'mailNickname'", 25},
	}
	for _, s := range steps {
		resp, body := call(t, http.MethodPatch, base+"/groups/"+group, nil, s.body)
		if resp.StatusCode != s.status || !strings.Contains(errMessage(body), s.message) {
			t.Fatalf("%s: %d %v, want %d with %q", s.name, resp.StatusCode, body, s.status, s.message)
		}
		if got := memberIDs(t, base, group); len(got) != s.members {
			t.Fatalf("%s: %d members afterwards, want %d", s.name, len(got), s.members)
		}
	}
	if _, g := call(t, http.MethodGet, base+"/groups/"+group+"?$select=displayName", nil, ""); g["displayName"] != "Northwind (Contoso)" {
		t.Errorf("after PATCH with members and displayName: %v", g)
	}
	if got, want := memberIDs(t, base, group), sorted(users[:25]...); !slices.Equal(got, want) {
		t.Errorf("members %v, want %v", got, want)
	}

	changes, _ := deltaRound(t, deltaLink)
	o := find(changes, group)
	if o == nil {
		t.Fatalf("the groups delta does not report the group: %v", changes)
	}
	if mc := memberChanges(t, o); len(mc) != 25 {
		t.Errorf("members@delta has %d changes, want the 25 members added", len(mc))
	}

	// One notification per successful PATCH, with its members.
	perNotification := func(ns []map[string]any) []int {
		var out []int
		for _, n := range ns {
			rd, _ := n["resourceData"].(map[string]any)
			list, _ := rd["members@delta"].([]any)
			out = append(out, len(list))
		}
		return out
	}
	got := l.waitFor(t, "two membership notifications", func(ns []map[string]any) bool { return len(ns) >= 2 })
	if counts := perNotification(got); !slices.Equal(counts, []int{20, 5}) {
		t.Errorf("members per notification %v, want [20 5]", counts)
	}
}

// TestGroupUpsertByUniqueName checks the upsert of group-upsert: 201 the
// first time, 204 and the same group after, 404 without Prefer:
// create-if-missing, the alternate key for reads, the read-only uniqueName
// elsewhere, and a soft-deleted group holding its uniqueName.
func TestGroupUpsertByUniqueName(t *testing.T) {
	ts := graphsim.NewTestServer(t, groupSeed())
	base := ts.TenantURL("contoso.example")
	const name = "tenantsync_fabrikam_42"
	upsert := base + "/groups(uniqueName='" + name + "')"
	create := map[string]string{"Prefer": "create-if-missing"}

	resp, body := call(t, http.MethodPatch, base+"/groups(uniqueName='other')", nil, `{`+securityGroup+`}`)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("upsert without create-if-missing of a missing group: %d %v, want 404", resp.StatusCode, body)
	}
	resp, body = call(t, http.MethodPatch, upsert, create, `{`+securityGroup+`}`)
	if resp.StatusCode != http.StatusCreated || body["uniqueName"] != name || body["securityEnabled"] != true {
		t.Fatalf("upsert create: %d %v", resp.StatusCode, body)
	}
	id, _ := body["id"].(string)
	resp, body = call(t, http.MethodPatch, upsert, create, `{"displayName":"Renamed","mailEnabled":false,"mailNickname":"northwind","securityEnabled":true}`)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("upsert of an existing group: %d %v, want 204", resp.StatusCode, body)
	}
	if n := ts.Stats().Tenants["contoso.example"].Groups; n != 1 {
		t.Errorf("%d groups after two upserts, want 1", n)
	}
	resp, body = call(t, http.MethodGet, upsert+"?$select=id,displayName,uniqueName", nil, "")
	if resp.StatusCode != http.StatusOK || body["id"] != id || body["displayName"] != "Renamed" || body["uniqueName"] != name {
		t.Errorf("GET by uniqueName: %d %v", resp.StatusCode, body)
	}
	for _, tt := range []struct {
		name, method, url, body string
		header                  map[string]string
		status                  int
	}{
		{"PATCH uniqueName by id", "PATCH", base + "/groups/" + id, `{"uniqueName":"x"}`, nil, 400},
		{"a uniqueName with a space", "PATCH", base + "/groups(uniqueName='a%20b')", `{` + securityGroup + `}`, create, 400},
		{"a uniqueName of 129 characters", "PATCH", base + "/groups(uniqueName='" + strings.Repeat("a", 129) + "')", `{` + securityGroup + `}`, create, 400},
		{"GET an unknown uniqueName", "GET", base + "/groups(uniqueName='nobody')", "", nil, 404},
	} {
		if resp, body := call(t, tt.method, tt.url, tt.header, tt.body); resp.StatusCode != tt.status {
			t.Errorf("%s: %d %v, want %d", tt.name, resp.StatusCode, body, tt.status)
		}
	}

	// Soft deleted, the group keeps its uniqueName: no second group takes it.
	if resp, body := call(t, http.MethodDelete, base+"/groups/"+id, nil, ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d %v", resp.StatusCode, body)
	}
	if resp, _ := call(t, http.MethodGet, upsert, nil, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET by uniqueName of a deleted group: %d, want 404", resp.StatusCode)
	}
	resp, body = call(t, http.MethodPatch, upsert, create, `{`+securityGroup+`}`)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(errMessage(body), "uniqueName already exists") {
		t.Errorf("upsert of a deleted group's uniqueName: %d %v, want 400", resp.StatusCode, body)
	}
	if resp, body := call(t, http.MethodPost, base+"/directory/deletedItems/"+id+"/restore", nil, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("restore: %d %v", resp.StatusCode, body)
	}
	if resp, body := call(t, http.MethodGet, upsert+"?$select=id", nil, ""); resp.StatusCode != http.StatusOK || body["id"] != id {
		t.Errorf("GET by uniqueName after restore: %d %v", resp.StatusCode, body)
	}
}

// TestSecurityGroupSoftDelete checks that a deleted security group goes to
// deleted items with its members, which stay users, and comes back with
// them on restore (group-delete, directory-deleteditems-restore).
func TestSecurityGroupSoftDelete(t *testing.T) {
	ts := graphsim.NewTestServer(t, groupSeed())
	base := ts.TenantURL("contoso.example")
	users := seededUserIDs(t, ts, 3)
	_, g := call(t, http.MethodPost, base+"/groups", nil, bindBody(securityGroup, users...))
	group, _ := g["id"].(string)
	_, deltaLink := deltaRound(t, base+"/groups/delta")

	if resp, body := call(t, http.MethodDelete, base+"/groups/"+group, nil, ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d %v", resp.StatusCode, body)
	}
	if resp, _ := call(t, http.MethodGet, base+"/groups/"+group, nil, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET a deleted group: %d, want 404", resp.StatusCode)
	}
	resp, body := call(t, http.MethodGet, base+"/directory/deletedItems/"+group, nil, "")
	if resp.StatusCode != http.StatusOK || body["deletedDateTime"] == nil {
		t.Errorf("deleted item: %d %v", resp.StatusCode, body)
	}
	for _, u := range users {
		if resp, _ := call(t, http.MethodGet, base+"/users/"+u, nil, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("member %s after the group's deletion: %d, want 200", u, resp.StatusCode)
		}
	}
	changes, deltaLink := deltaRound(t, deltaLink)
	if o := find(changes, group); o == nil || fmt.Sprint(o["@removed"]) != "map[reason:changed]" {
		t.Errorf("delta after the delete: %v, want the group removed (changed)", o)
	}
	if resp, body := call(t, http.MethodPost, base+"/directory/deletedItems/"+group+"/restore", nil, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("restore: %d %v", resp.StatusCode, body)
	}
	if got := memberIDs(t, base, group); !slices.Equal(got, sorted(users...)) {
		t.Errorf("members after restore %v, want %v", got, sorted(users...))
	}
	changes, _ = deltaRound(t, deltaLink)
	if o := find(changes, group); o == nil || o["@removed"] != nil {
		t.Errorf("delta after the restore: %v, want the group back", o)
	}
}

// TestMembersBindBeforeReplication checks the note of group-post-members:
// adding members to a group that has not replicated yet answers 400 "The
// source resource object or one of the objects being referenced do not
// exist.", and succeeds once it has.
func TestMembersBindBeforeReplication(t *testing.T) {
	ts := graphsim.NewTestServer(t, groupSeed())
	base := ts.TenantURL("contoso.example")
	users := seededUserIDs(t, ts, 2)
	if err := ts.SetReplicationLag("contoso.example", time.Hour, 0); err != nil {
		t.Fatal(err)
	}
	resp, g := call(t, http.MethodPatch, base+"/groups(uniqueName='lagging')", map[string]string{"Prefer": "create-if-missing"}, `{`+securityGroup+`}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upsert: %d %v", resp.StatusCode, g)
	}
	group, _ := g["id"].(string)
	resp, body := call(t, http.MethodPatch, base+"/groups/"+group, nil, bindBody("", users...))
	if resp.StatusCode != http.StatusBadRequest || errMessage(body) != "The source resource object or one of the objects being referenced do not exist." {
		t.Fatalf("members of an unreplicated group: %d %v", resp.StatusCode, body)
	}
	ts.AdvanceClock(2 * time.Hour)
	if resp, body := call(t, http.MethodPatch, base+"/groups/"+group, nil, bindBody("", users...)); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("members once replicated: %d %v", resp.StatusCode, body)
	}
}

// TestGroupWritePermissions checks each group write against the
// application permissions of its page: the least privileged one is enough,
// anything less answers 403 with Graph's message.
func TestGroupWritePermissions(t *testing.T) {
	tests := []struct {
		name   string
		grant  []string
		method string
		path   func(group string) string
		header map[string]string
		body   func(users []string) string
		status int
	}{
		{"create with Group.Create", []string{"Group.Create"}, "POST", func(string) string { return "/groups" }, nil,
			func([]string) string { return `{` + securityGroup + `}` }, 201},
		{"create with GroupMember.ReadWrite.All", []string{"GroupMember.ReadWrite.All"}, "POST", func(string) string { return "/groups" }, nil,
			func([]string) string { return `{` + securityGroup + `}` }, 403},
		{"create with members and Group.Create alone", []string{"Group.Create"}, "POST", func(string) string { return "/groups" }, nil,
			func(u []string) string { return bindBody(securityGroup, u...) }, 403},
		{"create with members, Group.Create and User.Read.All", []string{"Group.Create", "User.Read.All"}, "POST", func(string) string { return "/groups" }, nil,
			func(u []string) string { return bindBody(securityGroup, u...) }, 201},
		{"upsert create with Group.Create", []string{"Group.Create"}, "PATCH", func(string) string { return "/groups(uniqueName='new')" },
			map[string]string{"Prefer": "create-if-missing"}, func([]string) string { return `{` + securityGroup + `}` }, 201},
		{"upsert update with Group.Create", []string{"Group.Create"}, "PATCH", func(string) string { return "/groups(uniqueName='existing')" },
			map[string]string{"Prefer": "create-if-missing"}, func([]string) string { return `{` + securityGroup + `}` }, 403},
		{"upsert update with Group.ReadWrite.All", []string{"Group.ReadWrite.All"}, "PATCH", func(string) string { return "/groups(uniqueName='existing')" },
			map[string]string{"Prefer": "create-if-missing"}, func([]string) string { return `{` + securityGroup + `}` }, 204},
		{"add members with GroupMember.ReadWrite.All", []string{"GroupMember.ReadWrite.All"}, "PATCH", func(g string) string { return "/groups/" + g }, nil,
			func(u []string) string { return bindBody("", u...) }, 204},
		{"add members with Group.Create", []string{"Group.Create", "User.Read.All"}, "PATCH", func(g string) string { return "/groups/" + g }, nil,
			func(u []string) string { return bindBody("", u...) }, 403},
		{"add a member by $ref with GroupMember.ReadWrite.All", []string{"GroupMember.ReadWrite.All"}, "POST", func(g string) string { return "/groups/" + g + "/members/$ref" }, nil,
			func(u []string) string { return refBody(u[0]) }, 204},
		{"rename with GroupMember.ReadWrite.All", []string{"GroupMember.ReadWrite.All"}, "PATCH", func(g string) string { return "/groups/" + g }, nil,
			func([]string) string { return `{"displayName":"New"}` }, 403},
		{"rename and add with GroupMember.ReadWrite.All", []string{"GroupMember.ReadWrite.All"}, "PATCH", func(g string) string { return "/groups/" + g }, nil,
			func(u []string) string { return bindBody(`"displayName":"New"`, u...) }, 403},
		{"rename with Group.ReadWrite.All", []string{"Group.ReadWrite.All"}, "PATCH", func(g string) string { return "/groups/" + g }, nil,
			func([]string) string { return `{"displayName":"New"}` }, 204},
		{"remove a member with GroupMember.ReadWrite.All", []string{"GroupMember.ReadWrite.All"}, "DELETE", func(g string) string { return "/groups/" + g + "/members/" + "MEMBER" + "/$ref" }, nil,
			func([]string) string { return "" }, 204},
		{"remove a member with GroupMember.Read.All", []string{"GroupMember.Read.All"}, "DELETE", func(g string) string { return "/groups/" + g + "/members/" + "MEMBER" + "/$ref" }, nil,
			func([]string) string { return "" }, 403},
		{"delete with GroupMember.ReadWrite.All", []string{"GroupMember.ReadWrite.All"}, "DELETE", func(g string) string { return "/groups/" + g }, nil,
			func([]string) string { return "" }, 403},
		{"delete with Directory.ReadWrite.All", []string{"Directory.ReadWrite.All"}, "DELETE", func(g string) string { return "/groups/" + g }, nil,
			func([]string) string { return "" }, 403},
		{"delete with Group.ReadWrite.All", []string{"Group.ReadWrite.All"}, "DELETE", func(g string) string { return "/groups/" + g }, nil,
			func([]string) string { return "" }, 204},
		{"read by uniqueName with GroupMember.Read.All", []string{"GroupMember.Read.All"}, "GET", func(string) string { return "/groups(uniqueName='existing')" }, nil,
			func([]string) string { return "" }, 200},
		{"read by uniqueName with User.Read.All", []string{"User.Read.All"}, "GET", func(string) string { return "/groups(uniqueName='existing')" }, nil,
			func([]string) string { return "" }, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := graphsim.NewTestServer(t, groupSeed())
			base := ts.TenantURL("contoso.example")
			users := seededUserIDs(t, ts, 3)
			resp, g := call(t, http.MethodPatch, base+"/groups(uniqueName='existing')", map[string]string{"Prefer": "create-if-missing"}, bindBody(securityGroup, users[2]))
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("seed group: %d %v", resp.StatusCode, g)
			}
			group, _ := g["id"].(string)
			if err := ts.SetPermissions("contoso.example", tt.grant); err != nil {
				t.Fatal(err)
			}
			path := strings.ReplaceAll(tt.path(group), "MEMBER", users[2])
			resp, body := call(t, tt.method, base+path, tt.header, tt.body(users[:2]))
			if resp.StatusCode != tt.status {
				t.Fatalf("%s %s: %d %v, want %d", tt.method, path, resp.StatusCode, body, tt.status)
			}
			if tt.status == http.StatusForbidden && errMessage(body) != "Insufficient privileges to complete the operation." {
				t.Errorf("403 message %q", errMessage(body))
			}
		})
	}
}
