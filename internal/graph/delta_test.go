package graph_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/microsoft/kiota-abstractions-go/authentication"
	msgraph "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/graph"
	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// admin is a plain msgraph-sdk-go client for changes the adapter does not
// make (creating users, changing group membership, purging).
func admin(t *testing.T, baseURL string) *msgraph.GraphServiceClient {
	t.Helper()
	adapter, err := msgraph.NewGraphRequestAdapter(&authentication.AnonymousAuthenticationProvider{})
	if err != nil {
		t.Fatal(err)
	}
	adapter.SetBaseUrl(baseURL)
	return msgraph.NewGraphServiceClient(adapter)
}

func createUser(t *testing.T, gc *msgraph.GraphServiceClient, upn, name string) string {
	t.Helper()
	u := models.NewUser()
	u.SetUserPrincipalName(&upn)
	u.SetDisplayName(&name)
	nick := strings.Split(upn, "@")[0]
	u.SetMailNickname(&nick)
	enabled := true
	u.SetAccountEnabled(&enabled)
	pp := models.NewPasswordProfile()
	pw := "Sim-Password-1"
	pp.SetPassword(&pw)
	u.SetPasswordProfile(pp)
	created, err := gc.Users().Post(context.Background(), u, nil)
	if err != nil {
		t.Fatalf("create %s: %v", upn, err)
	}
	return *created.GetId()
}

// usersRound runs a users delta round and returns what it reported by id.
func usersRound(t *testing.T, c *graph.Client, link string, attrs []string) (map[string]directory.UserDelta, string, int) {
	t.Helper()
	got := map[string]directory.UserDelta{}
	pages := 0
	next, err := c.UsersDelta(context.Background(), link, attrs, func(page []directory.UserDelta) error {
		pages++
		for _, d := range page {
			got[d.User.ID] = d
		}
		return nil
	})
	if err != nil {
		t.Fatalf("UsersDelta: %v", err)
	}
	if next == "" {
		t.Fatal("UsersDelta returned no delta link")
	}
	return got, next, pages
}

func TestUsersDelta(t *testing.T) {
	sim := newSim(t, graphsim.Options{DeltaPageSize: 2})
	c := sim.client(t, source)
	gc := admin(t, sim.tenantURL(source))
	ctx := context.Background()
	attrs := []string{"displayName", "jobTitle", "onPremisesExtensionAttributes.extensionAttribute1"}

	sim.reset()
	initial, link, pages := usersRound(t, c, "", attrs)
	if len(initial) != 4 || pages != 2 {
		t.Fatalf("initial round: %d users in %d pages, want 4 in 2", len(initial), pages)
	}
	first := sim.recorded()[0]
	if got := first.Query.Get("$select"); got != "id,displayName,jobTitle,onPremisesExtensionAttributes" {
		t.Errorf("initial $select = %q", got)
	}
	for _, r := range sim.recorded()[1:] {
		if r.Query.Get("$select") != "" {
			t.Errorf("a nextLink request repeats $select: %v", r.Query)
		}
	}
	alice := initial[aliceID]
	if alice.Removed != directory.NotRemoved || alice.User.Attrs["displayName"] != "Alice Adams" ||
		alice.User.Attrs["onPremisesExtensionAttributes.extensionAttribute1"] != "A1" {
		t.Errorf("alice in the initial round = %+v", alice)
	}
	if _, ok := initial[carolID].User.Attrs["jobTitle"]; ok {
		t.Errorf("carol has no job title, but the delta reports one: %+v", initial[carolID])
	}

	// Update bob (a selected property) and carol (an unselected one), soft
	// delete dave, delete and restore alice, create and purge frank.
	if err := c.UpdateUser(ctx, bobID, directory.Attributes{"jobTitle": "Staff Engineer"}); err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateUser(ctx, carolID, directory.Attributes{"mobilePhone": "+1 555 0100"}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteUser(ctx, daveID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteUser(ctx, aliceID); err != nil {
		t.Fatal(err)
	}
	if err := c.RestoreUser(ctx, aliceID); err != nil {
		t.Fatal(err)
	}
	frank := createUser(t, gc, "frank@fabrikam.example", "Frank Fischer")
	if err := c.DeleteUser(ctx, frank); err != nil {
		t.Fatal(err)
	}
	if err := gc.Directory().DeletedItems().ByDirectoryObjectId(frank).Delete(ctx, nil); err != nil {
		t.Fatalf("purge frank: %v", err)
	}

	changed, link2, _ := usersRound(t, c, link, attrs)
	want := map[string]directory.Removal{
		bobID:   directory.NotRemoved,
		daveID:  directory.RemovedChanged,
		aliceID: directory.NotRemoved,
		frank:   directory.RemovedDeleted,
	}
	if len(changed) != len(want) {
		t.Errorf("second round reported %d users, want %d: %+v", len(changed), len(want), changed)
	}
	for id, removal := range want {
		d, ok := changed[id]
		if !ok {
			t.Errorf("second round misses %s", id)
			continue
		}
		if d.Removed != removal {
			t.Errorf("%s removed %q, want %q", id, d.Removed, removal)
		}
	}
	if got := changed[bobID].User.Attrs["jobTitle"]; got != "Staff Engineer" {
		t.Errorf("bob's job title in the delta = %v", got)
	}
	if _, ok := changed[carolID]; ok {
		t.Error("a change of an unselected property surfaced")
	}

	// Nothing changed: an empty round with a new link.
	calls := 0
	link3, err := c.UsersDelta(ctx, link2, attrs, func([]directory.UserDelta) error { calls++; return nil })
	if err != nil || link3 == "" || calls != 0 {
		t.Errorf("quiet round: link %q, %d calls, err %v", link3, calls, err)
	}
}

func TestUsersDeltaLatest(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.client(t, source)
	ctx := context.Background()
	attrs := []string{"displayName"}
	sim.reset()
	calls := 0
	link, err := c.UsersDelta(ctx, directory.LatestDelta, attrs, func([]directory.UserDelta) error { calls++; return nil })
	if err != nil || link == "" {
		t.Fatalf("latest: %q, %v", link, err)
	}
	if calls != 0 {
		t.Errorf("$deltatoken=latest reported users")
	}
	r := sim.recorded()[0]
	if r.Query.Get("$deltatoken") != "latest" || r.Query.Get("$select") != "id,displayName" {
		t.Errorf("latest request query = %v", r.Query)
	}
	if err := c.UpdateUser(ctx, carolID, directory.Attributes{"displayName": "Carol Clark"}); err != nil {
		t.Fatal(err)
	}
	got, _, _ := usersRound(t, c, link, attrs)
	if len(got) != 1 || got[carolID].User.Attrs["displayName"] != "Carol Clark" {
		t.Errorf("round after latest = %+v, want only carol's change", got)
	}
}

func TestUsersDeltaExpired(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.client(t, source)
	_, link, _ := usersRound(t, c, "", []string{"displayName"})
	sim.AdvanceClock(8 * 24 * time.Hour)
	_, err := c.UsersDelta(context.Background(), link, []string{"displayName"}, func([]directory.UserDelta) error { return nil })
	if !errors.Is(err, directory.ErrDeltaExpired) {
		t.Fatalf("expired link: %v, want ErrDeltaExpired", err)
	}
	if errors.Is(err, directory.ErrBadRequest) {
		t.Error("an expired token also reads as a bad request")
	}
}

// TestDeltaResets: a delta token Graph no longer honours, whether it answers
// 400 with a sync-state code in any of the casings Graph's services use or
// 410 Gone with a Location (learn.microsoft.com/graph/delta-query-overview,
// "Synchronization reset"), reads as ErrDeltaExpired: start a full pass,
// never a permanent error.
func TestDeltaResets(t *testing.T) {
	for _, r := range []graphsim.DeltaReset{
		{Status: 410},
		{Status: 400, Code: "syncStateNotFound"},
		{Status: 400, Code: "SyncStateNotFound"},
		{Status: 400, Code: "resyncRequired"},
	} {
		t.Run(fmt.Sprintf("%d %s", r.Status, r.Code), func(t *testing.T) {
			sim := newSim(t, graphsim.Options{})
			c := sim.client(t, source)
			_, users, _ := usersRound(t, c, "", []string{"displayName"})
			_, groups, _ := groupsRound(t, c, "")
			if err := sim.ResetDelta(source, r); err != nil {
				t.Fatal(err)
			}
			_, err := c.UsersDelta(t.Context(), users, []string{"displayName"}, func([]directory.UserDelta) error { return nil })
			if !errors.Is(err, directory.ErrDeltaExpired) || errors.Is(err, directory.ErrBadRequest) {
				t.Errorf("users delta after a reset: %v, want ErrDeltaExpired and not a bad request", err)
			}
			_, err = c.GroupsDelta(t.Context(), groups, func([]directory.GroupDelta) error { return nil })
			if !errors.Is(err, directory.ErrDeltaExpired) || errors.Is(err, directory.ErrBadRequest) {
				t.Errorf("groups delta after a reset: %v, want ErrDeltaExpired and not a bad request", err)
			}
		})
	}
}

func TestDeltaRefusesForeignLinks(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.client(t, source)
	sim.reset()
	for _, link := range []string{
		"https://graph.evil.example/v1.0/users/delta?$deltatoken=x",
		sim.tenantURL(target) + "/users/delta?$deltatoken=x",
		"::not a url",
	} {
		_, err := c.UsersDelta(context.Background(), link, nil, func([]directory.UserDelta) error { return nil })
		if err == nil {
			t.Errorf("UsersDelta(%s) followed the link", link)
		}
		_, err = c.GroupsDelta(context.Background(), link, func([]directory.GroupDelta) error { return nil })
		if err == nil {
			t.Errorf("GroupsDelta(%s) followed the link", link)
		}
	}
	if n := len(sim.recorded()); n != 0 {
		t.Errorf("%d requests sent for foreign links", n)
	}
}

// groupsRound runs a groups delta round and merges the pages per group.
func groupsRound(t *testing.T, c *graph.Client, link string) (map[string]*directory.GroupDelta, string, int) {
	t.Helper()
	got := map[string]*directory.GroupDelta{}
	entries := 0
	next, err := c.GroupsDelta(context.Background(), link, func(page []directory.GroupDelta) error {
		for _, g := range page {
			entries++
			m := got[g.Group.ID]
			if m == nil {
				m = &directory.GroupDelta{Group: g.Group, Removed: g.Removed}
				got[g.Group.ID] = m
			}
			if g.Group.DisplayName != "" {
				m.Group.DisplayName = g.Group.DisplayName
			}
			m.MembersAdded = append(m.MembersAdded, g.MembersAdded...)
			m.MembersRemoved = append(m.MembersRemoved, g.MembersRemoved...)
			m.GroupsAdded = append(m.GroupsAdded, g.GroupsAdded...)
			m.GroupsRemoved = append(m.GroupsRemoved, g.GroupsRemoved...)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("GroupsDelta: %v", err)
	}
	return got, next, entries
}

func TestGroupsDelta(t *testing.T) {
	// Two member links per page: a group with more members continues on
	// the next page, as a large group does in Graph.
	sim := newSim(t, graphsim.Options{DeltaMemberLinks: 2, DeltaPageSize: 2})
	c := sim.client(t, source)
	gc := admin(t, sim.tenantURL(source))
	ctx := context.Background()

	sim.reset()
	initial, link, _ := groupsRound(t, c, "")
	if got := sim.recorded()[0].Query.Get("$select"); got != "id,displayName,members" {
		t.Errorf("initial $select = %q", got)
	}
	sales, parent := initial[salesID], initial[parentID]
	if sales == nil || parent == nil || initial[quoteID] == nil {
		t.Fatalf("initial round = %+v", initial)
	}
	if sales.Group.DisplayName != "Sales" || !equalStrings(sorted(sales.MembersAdded), sorted([]string{aliceID, bobID})) {
		t.Errorf("sales = %+v", sales)
	}
	if !equalStrings(parent.MembersAdded, []string{carolID}) || !equalStrings(parent.GroupsAdded, []string{salesID}) {
		t.Errorf("parent = %+v, want user carol and group sales", parent)
	}

	// Add carol and dave to Sales, remove bob: three changes, more than
	// fit on one page.
	for _, id := range []string{carolID, daveID} {
		ref := models.NewReferenceCreate()
		odataID := sim.tenantURL(source) + "/directoryObjects/" + id
		ref.SetOdataId(&odataID)
		if err := gc.Groups().ByGroupId(salesID).Members().Ref().Post(ctx, ref, nil); err != nil {
			t.Fatalf("add member: %v", err)
		}
	}
	if err := gc.Groups().ByGroupId(salesID).Members().ByDirectoryObjectId(bobID).Ref().Delete(ctx, nil); err != nil {
		t.Fatalf("remove member: %v", err)
	}
	changed, _, entries := groupsRound(t, c, link)
	s := changed[salesID]
	if s == nil {
		t.Fatalf("second round = %+v, want sales", changed)
	}
	if entries < 2 {
		t.Errorf("sales came on %d page entries, want it split over at least 2", entries)
	}
	if !equalStrings(sorted(s.MembersAdded), sorted([]string{carolID, daveID})) || !equalStrings(s.MembersRemoved, []string{bobID}) {
		t.Errorf("sales changes = %+v", s)
	}
	if _, ok := changed[parentID]; ok {
		t.Error("parent reported without a change")
	}

	// A deleted group is reported removed.
	latest, err := c.GroupsDelta(ctx, directory.LatestDelta, func([]directory.GroupDelta) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := gc.Groups().ByGroupId(quoteID).Delete(ctx, nil); err != nil {
		t.Fatalf("delete group: %v", err)
	}
	gone, _, _ := groupsRound(t, c, latest)
	if g := gone[quoteID]; g == nil || g.Removed == directory.NotRemoved {
		t.Errorf("deleted group = %+v, want removed", g)
	}
}

// TestUsersDeltaManager tracks manager changes: "manager" is selected as
// the relationship ($select=…,manager), which Graph reports as
// manager@delta (learn.microsoft.com/graph/delta-query-overview: "$select
// also supports manager and members navigation properties").
func TestUsersDeltaManager(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.client(t, source)
	ctx := context.Background()
	attrs := []string{"displayName", "manager"}
	sim.reset()
	initial, link, _ := usersRound(t, c, "", attrs)
	if got := sim.recorded()[0].Query.Get("$select"); got != "id,displayName,manager" {
		t.Errorf("$select = %q", got)
	}
	if got := initial[bobID].User.Attrs["manager"]; got != aliceID {
		t.Errorf("bob's manager in the initial round = %v, want %s", got, aliceID)
	}
	if err := c.SetManager(ctx, carolID, bobID); err != nil {
		t.Fatal(err)
	}
	changed, _, _ := usersRound(t, c, link, attrs)
	if len(changed) != 1 || changed[carolID].User.Attrs["manager"] != bobID {
		t.Errorf("round after a manager change = %+v, want carol with manager bob", changed)
	}
}
