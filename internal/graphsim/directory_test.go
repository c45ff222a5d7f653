package graphsim_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// deltaRound follows a delta round from url to its deltaLink and returns
// every object it reported.
func deltaRound(t *testing.T, url string) (objs []map[string]any, deltaLink string) {
	t.Helper()
	for pages := 0; ; pages++ {
		if pages == 100 {
			t.Fatalf("delta round from %s does not end", url)
		}
		resp, body := call(t, http.MethodGet, url, nil, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d: %v", url, resp.StatusCode, body)
		}
		for _, v := range body["value"].([]any) {
			objs = append(objs, v.(map[string]any))
		}
		if next, ok := body["@odata.nextLink"].(string); ok {
			url = next
			continue
		}
		return objs, body["@odata.deltaLink"].(string)
	}
}

// listAll follows a collection's nextLinks and returns the ids it listed
// and the size of each page.
func listAll(t *testing.T, url string, header map[string]string) (ids []string, pages []int) {
	t.Helper()
	for len(pages) < 100 {
		resp, body := call(t, http.MethodGet, url, header, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d: %v", url, resp.StatusCode, body)
		}
		values := body["value"].([]any)
		for _, v := range values {
			ids = append(ids, v.(map[string]any)["id"].(string))
		}
		pages = append(pages, len(values))
		next, ok := body["@odata.nextLink"].(string)
		if !ok {
			return ids, pages
		}
		url = next
	}
	t.Fatalf("listing from %s does not end", url)
	return nil, nil
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// find returns the object with id among objs, nil if none.
func find(objs []map[string]any, id string) map[string]any {
	for _, o := range objs {
		if o["id"] == id {
			return o
		}
	}
	return nil
}

// memberChanges returns a delta group's members@delta as id → removed.
func memberChanges(t *testing.T, g map[string]any) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	list, _ := g["members@delta"].([]any)
	for _, m := range list {
		m := m.(map[string]any)
		_, removed := m["@removed"]
		out[m["id"].(string)] = removed
	}
	return out
}

func refBody(id string) string {
	return `{"@odata.id":"https://graph.microsoft.com/v1.0/directoryObjects/` + id + `"}`
}

const (
	unknownID  = "00000000-0000-0000-0000-0000000000aa"
	unknownID2 = "00000000-0000-0000-0000-0000000000bb"
)

// TestGroupLifecycle drives groups through the API: create, membership
// with its errors, paging by id and by offset, and deletion, soft for
// Microsoft 365 and security groups alike (group-delete: "both Microsoft 365
// and security groups are moved to a temporary container"), each taking the
// group out of its parents as a groups delta then reports.
func TestGroupLifecycle(t *testing.T) {
	ts := graphsim.NewTestServer(t, smallSeed())
	base := ts.TenantURL("fabrikam.example")
	team := groupID(t, ts, "fabrikam.example", "Team")
	bob := userID(t, ts, "fabrikam.example", "bob@fabrikam.example")

	create := func(body string) string {
		t.Helper()
		resp, obj := call(t, http.MethodPost, base+"/groups", nil, body)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create group: status %d: %v", resp.StatusCode, obj)
		}
		if ctx, _ := obj["@odata.context"].(string); !strings.HasSuffix(ctx, "/$metadata#groups/$entity") {
			t.Errorf("create group: @odata.context %q", ctx)
		}
		id, _ := obj["id"].(string)
		if id == "" || obj["displayName"] == nil {
			t.Fatalf("create group answered %v", obj)
		}
		return id
	}
	parent := create(`{"displayName":"Parent","mailEnabled":false,"mailNickname":"parent","securityEnabled":true}`)
	m365 := create(`{"displayName":"M365","groupTypes":["Unified"],"mailEnabled":true,"mailNickname":"m365","securityEnabled":false}`)
	sec := create(`{"displayName":"Sec","mailEnabled":false,"mailNickname":"sec","securityEnabled":true}`)

	members := base + "/groups/" + parent + "/members"
	steps := []struct {
		name, method, path, body string
		status                   int
	}{
		{"add a Microsoft 365 group", "POST", members + "/$ref", refBody(m365), 204},
		{"add a security group", "POST", members + "/$ref", refBody(sec), 204},
		{"add a user", "POST", members + "/$ref", refBody(bob), 204},
		{"add the group to itself", "POST", members + "/$ref", refBody(parent), 400},
		{"add a member again", "POST", members + "/$ref", refBody(sec), 400},
		{"add an unknown object", "POST", members + "/$ref", refBody(unknownID), 404},
		{"add to an unknown group", "POST", base + "/groups/" + unknownID2 + "/members/$ref", refBody(bob), 404},
		{"remove a user by path", "DELETE", members + "/" + bob + "/$ref", "", 204},
		{"remove a user who is not a member", "DELETE", members + "/" + bob + "/$ref", "", 404},
		{"remove from an unknown group", "DELETE", base + "/groups/" + unknownID2 + "/members/" + bob + "/$ref", "", 404},
		{"add the user back", "POST", members + "/$ref", refBody(bob), 204},
		{"remove a user by $id", "DELETE", members + "/$ref?$id=https://graph.microsoft.com/v1.0/directoryObjects/" + bob, "", 204},
		{"remove by $id again", "DELETE", members + "/$ref?$id=https://graph.microsoft.com/v1.0/directoryObjects/" + bob, "", 404},
		{"patch a group", "PATCH", base + "/groups/" + sec, `{"description":"Security"}`, 204},
		{"patch an unknown group", "PATCH", base + "/groups/" + unknownID, `{"description":"x"}`, 404},
		{"patch a group with a bad body", "PATCH", base + "/groups/" + sec, `{"description":`, 400},
	}
	for _, s := range steps {
		resp, body := call(t, s.method, s.path, nil, s.body)
		if resp.StatusCode != s.status {
			t.Fatalf("%s: status %d, want %d: %v", s.name, resp.StatusCode, s.status, body)
		}
	}
	if _, g := call(t, http.MethodGet, base+"/groups/"+sec, nil, ""); g["description"] != "Security" {
		t.Errorf("after PATCH: %v", g)
	}

	// Members page by offset.
	got, pages := listAll(t, members+"?$top=1", nil)
	if !slices.Equal(sorted(got...), sorted(m365, sec)) || !slices.Equal(pages, []int{1, 1}) {
		t.Errorf("members: %v in pages %v, want %v in two pages of 1", got, pages, sorted(m365, sec))
	}

	// Groups page by id.
	all := sorted(team, parent, m365, sec)
	got, pages = listAll(t, base+"/groups?$top=3", nil)
	if !slices.Equal(got, all) || !slices.Equal(pages, []int{3, 1}) {
		t.Errorf("groups: %v in pages %v, want %v in pages of 3 and 1", got, pages, all)
	}
	eventual := map[string]string{"ConsistencyLevel": "eventual"}
	resp, body := call(t, http.MethodGet, base+"/groups?$top=1&$count=true", eventual, "")
	if resp.StatusCode != http.StatusOK || body["@odata.count"] != float64(4) || body["@odata.nextLink"] == nil {
		t.Errorf("groups with $count: %d %v", resp.StatusCode, body)
	}
	if _, body := call(t, http.MethodGet, base+"/groups?$top=1", nil, ""); body["@odata.count"] != nil {
		t.Errorf("groups without ConsistencyLevel carry a count: %v", body)
	}
	got, pages = listAll(t, base+"/groups?$top=1&$filter=displayName%20eq%20'Sec'", nil)
	if !slices.Equal(got, []string{sec}) || len(pages) != 1 {
		t.Errorf("groups filtered: %v in pages %v, want [%s] in one page", got, pages, sec)
	}
	if resp, body := call(t, http.MethodGet, base+"/groups?$skiptoken=garbage", nil, ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("groups with a bad skip token: %d %v", resp.StatusCode, body)
	}

	_, deltaLink := deltaRound(t, base+"/groups/delta")
	for _, id := range []string{m365, sec} {
		if resp, body := call(t, http.MethodDelete, base+"/groups/"+id, nil, ""); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("delete group %s: %d %v", id, resp.StatusCode, body)
		}
	}
	if resp, _ := call(t, http.MethodDelete, base+"/groups/"+sec, nil, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("delete a deleted group: %d, want 404", resp.StatusCode)
	}

	changes, _ := deltaRound(t, deltaLink)
	p := find(changes, parent)
	if p == nil {
		t.Fatalf("delta after deletes does not report the parent: %v", changes)
	}
	if mc := memberChanges(t, p); len(mc) != 2 || !mc[m365] || !mc[sec] {
		t.Errorf("parent's members@delta: %v, want both groups removed", mc)
	}
	for id, reason := range map[string]string{m365: "changed", sec: "changed"} {
		o := find(changes, id)
		removed, _ := o["@removed"].(map[string]any)
		if removed["reason"] != reason {
			t.Errorf("delta reports group %s as %v, want removed (%s)", id, o, reason)
		}
	}
	if got, _ := listAll(t, base+"/directory/deletedItems/microsoft.graph.group", nil); !slices.Equal(got, sorted(m365, sec)) {
		t.Errorf("deleted groups: %v, want %v", got, sorted(m365, sec))
	}
	if got, _ := listAll(t, base+"/groups", nil); !slices.Equal(got, sorted(team, parent)) {
		t.Errorf("groups after deletes: %v", got)
	}
}

// TestDeletedUserLeavesAndRejoinsGroups checks that a soft-deleted user
// leaves its groups, is listed among deleted items page by page, and
// rejoins its groups when restored.
func TestDeletedUserLeavesAndRejoinsGroups(t *testing.T) {
	ts := graphsim.NewTestServer(t, smallSeed())
	base := ts.TenantURL("fabrikam.example")
	team := groupID(t, ts, "fabrikam.example", "Team")
	alice := userID(t, ts, "fabrikam.example", "alice@fabrikam.example")
	bob := userID(t, ts, "fabrikam.example", "bob@fabrikam.example")
	carol := userID(t, ts, "fabrikam.example", "carol@fabrikam.example")
	dave := userID(t, ts, "fabrikam.example", "dave@fabrikam.example")

	_, deltaLink := deltaRound(t, base+"/groups/delta")
	for _, id := range []string{bob, carol, dave} {
		if resp, body := call(t, http.MethodDelete, base+"/users/"+id, nil, ""); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("delete user %s: %d %v", id, resp.StatusCode, body)
		}
	}
	if resp, _ := call(t, http.MethodDelete, base+"/users/"+unknownID, nil, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("delete an unknown user: %d, want 404", resp.StatusCode)
	}
	if got, _ := listAll(t, base+"/groups/"+team+"/members", nil); !slices.Equal(got, []string{alice}) {
		t.Errorf("team after delete: %v, want [%s]", got, alice)
	}
	changes, _ := deltaRound(t, deltaLink)
	if mc := memberChanges(t, find(changes, team)); len(mc) != 1 || !mc[bob] {
		t.Errorf("team's members@delta after delete: %v, want %s removed", mc, bob)
	}

	got, pages := listAll(t, base+"/directory/deletedItems/microsoft.graph.user?$top=2", nil)
	if !slices.Equal(got, sorted(bob, carol, dave)) || !slices.Equal(pages, []int{2, 1}) {
		t.Errorf("deleted users: %v in pages %v, want %v in pages of 2 and 1", got, pages, sorted(bob, carol, dave))
	}

	resp, body := call(t, http.MethodPost, base+"/directory/deletedItems/"+bob+"/restore", nil, "")
	if resp.StatusCode != http.StatusOK || body["id"] != bob {
		t.Fatalf("restore: %d %v", resp.StatusCode, body)
	}
	if got, _ := listAll(t, base+"/groups/"+team+"/members", nil); !slices.Equal(sorted(got...), sorted(alice, bob)) {
		t.Errorf("team after restore: %v, want %v", got, sorted(alice, bob))
	}
	changes, _ = deltaRound(t, deltaLink)
	if mc := memberChanges(t, find(changes, team)); len(mc) != 1 || mc[bob] {
		t.Errorf("team's members@delta over delete and restore: %v, want %s added", mc, bob)
	}
	if got, _ := listAll(t, base+"/directory/deletedItems/microsoft.graph.user", nil); !slices.Equal(got, sorted(carol, dave)) {
		t.Errorf("deleted users after restore: %v", got)
	}
}

// TestSubscriptionsInIDOrder checks that the API and the admin view list a
// tenant's subscriptions in id order.
func TestSubscriptionsInIDOrder(t *testing.T) {
	seed := smallSeed()
	ids := []string{
		"c0000000-0000-0000-0000-000000000003",
		"a0000000-0000-0000-0000-000000000001",
		"b0000000-0000-0000-0000-000000000002",
	}
	for _, id := range ids {
		seed.Tenants[0].Subscriptions = append(seed.Tenants[0].Subscriptions, graphsim.SubscriptionSeed{
			ID: id, Resource: "/users", ChangeType: "updated,deleted",
			NotificationURL: "https://example.invalid/notify", ExpirationDateTime: time.Now().Add(24 * time.Hour),
		})
	}
	ts := graphsim.NewTestServer(t, seed)
	got, pages := listAll(t, ts.TenantURL("fabrikam.example")+"/subscriptions", nil)
	if !slices.Equal(got, sorted(ids...)) || len(pages) != 1 {
		t.Errorf("GET /subscriptions: %v in pages %v, want %v", got, pages, sorted(ids...))
	}
	var admin []string
	for _, s := range ts.Subscriptions()["fabrikam.example"] {
		admin = append(admin, s.ID)
	}
	if !slices.Equal(admin, sorted(ids...)) {
		t.Errorf("Subscriptions(): %v, want %v", admin, sorted(ids...))
	}
}

// TestMembershipNotifications checks the members@delta of the notifications
// a group's members subscription receives when a member is removed and
// added back, and when a member user is deleted and restored.
func TestMembershipNotifications(t *testing.T) {
	ts := graphsim.NewTestServer(t, smallSeed())
	base := ts.TenantURL("fabrikam.example")
	team := groupID(t, ts, "fabrikam.example", "Team")
	alice := userID(t, ts, "fabrikam.example", "alice@fabrikam.example")
	bob := userID(t, ts, "fabrikam.example", "bob@fabrikam.example")
	l := newListener(t)
	sub := `{"changeType":"updated","notificationUrl":"` + l.URL + `/notify","resource":"/groups/` + team + `/members",` +
		`"expirationDateTime":"` + time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339) + `","clientState":"s"}`
	if resp, body := call(t, http.MethodPost, base+"/subscriptions", nil, sub); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create subscription: %d %v", resp.StatusCode, body)
	}
	steps := []struct{ method, path, body string }{
		{"DELETE", "/groups/" + team + "/members/" + bob + "/$ref", ""},
		{"POST", "/groups/" + team + "/members/$ref", refBody(bob)},
		{"DELETE", "/users/" + alice, ""},
		{"POST", "/directory/deletedItems/" + alice + "/restore", ""},
	}
	for _, s := range steps {
		if resp, body := call(t, s.method, base+s.path, nil, s.body); resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %v", s.method, s.path, resp.StatusCode, body)
		}
	}
	// Each step sends one member change: id and whether it was removed.
	type memberChange struct {
		id      string
		removed bool
	}
	want := []memberChange{{bob, true}, {bob, false}, {alice, true}, {alice, false}}
	changes := func(ns []map[string]any) []memberChange {
		var out []memberChange
		for _, n := range ns {
			rd, _ := n["resourceData"].(map[string]any)
			list, _ := rd["members@delta"].([]any)
			for _, m := range list {
				m := m.(map[string]any)
				_, removed := m["@removed"]
				id, _ := m["id"].(string)
				out = append(out, memberChange{id, removed})
			}
		}
		return out
	}
	got := l.waitFor(t, "four membership notifications", func(ns []map[string]any) bool { return len(changes(ns)) >= len(want) })
	have := changes(got)
	for _, w := range want {
		if !slices.Contains(have, w) {
			t.Errorf("no notification of %+v in %+v", w, have)
		}
	}
	if len(have) != len(want) {
		t.Errorf("member changes notified: %+v, want %+v", have, want)
	}
}

// TestPasswordProfileIsNeverReturned checks that the write-only
// passwordProfile, once set, reads as null and stays out of delta pages.
func TestPasswordProfileIsNeverReturned(t *testing.T) {
	ts := graphsim.NewTestServer(t, smallSeed())
	base := ts.TenantURL("fabrikam.example")
	bob := userID(t, ts, "fabrikam.example", "bob@fabrikam.example")
	patch := `{"passwordProfile":{"password":"n0t-r3turned","forceChangePasswordNextSignIn":true}}`
	if resp, body := call(t, http.MethodPatch, base+"/users/"+bob, nil, patch); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH passwordProfile: %d %v", resp.StatusCode, body)
	}
	resp, u := call(t, http.MethodGet, base+"/users/"+bob+"?$select=displayName,passwordProfile", nil, "")
	if v, ok := u["passwordProfile"]; resp.StatusCode != http.StatusOK || !ok || v != nil {
		t.Errorf("GET with $select=passwordProfile: %d %v, want passwordProfile null", resp.StatusCode, u)
	}
	objs, _ := deltaRound(t, base+"/users/delta?$select=displayName,passwordProfile")
	b := find(objs, bob)
	if b == nil || b["displayName"] != "Bob Brown" {
		t.Fatalf("delta does not report bob: %v", objs)
	}
	if _, ok := b["passwordProfile"]; ok {
		t.Errorf("delta reports passwordProfile: %v", b)
	}
}
