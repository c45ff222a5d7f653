package graphsim_test

// These tests drive the simulator through the real msgraph-sdk-go client
// over HTTP, with the base URL set to the simulator, as tenantsync's Graph
// adapter does.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoft/kiota-abstractions-go/authentication"
	msgraph "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

func newClient(t testing.TB, baseURL string) (*msgraph.GraphServiceClient, *msgraph.GraphRequestAdapter) {
	t.Helper()
	adapter, err := msgraph.NewGraphRequestAdapter(&authentication.AnonymousAuthenticationProvider{})
	if err != nil {
		t.Fatalf("new adapter: %v", err)
	}
	adapter.SetBaseUrl(baseURL)
	return msgraph.NewGraphServiceClient(adapter), adapter
}

func ptr[T any](v T) *T { return &v }

// smallSeed is a source tenant with four users, a manager and a group.
func smallSeed() graphsim.Seed {
	return graphsim.Seed{Tenants: []graphsim.TenantSeed{{
		Domain: "fabrikam.example", DisplayName: "Fabrikam",
		Users: []graphsim.Object{
			{"userPrincipalName": "alice@fabrikam.example", "displayName": "Alice Adams", "mail": "alice@fabrikam.example", "jobTitle": "CEO", "department": "Executive"},
			{"userPrincipalName": "bob@fabrikam.example", "displayName": "Bob Brown", "mail": "bob@fabrikam.example", "jobTitle": "Engineer", "department": "Engineering", "manager": "alice@fabrikam.example"},
			{"userPrincipalName": "carol@fabrikam.example", "displayName": "Carol Clark", "mail": "carol@fabrikam.example", "jobTitle": "Analyst", "department": "Finance"},
			{"userPrincipalName": "dave@fabrikam.example", "displayName": "Dave Davies", "jobTitle": "Intern", "department": "Engineering"},
		},
		Groups: []graphsim.Object{
			{"displayName": "Team", "members": []string{"alice@fabrikam.example", "bob@fabrikam.example"}},
		},
	}, {Domain: "contoso.example", DisplayName: "Contoso"}}}
}

func userID(t *testing.T, ts *graphsim.TestServer, tenant, upn string) string {
	t.Helper()
	snap, err := ts.Snapshot(tenant)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range snap.Users {
		if strings.EqualFold(u["userPrincipalName"].(string), upn) {
			return u["id"].(string)
		}
	}
	t.Fatalf("no user %s in %s", upn, tenant)
	return ""
}

func groupID(t *testing.T, ts *graphsim.TestServer, tenant, name string) string {
	t.Helper()
	snap, err := ts.Snapshot(tenant)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range snap.Groups {
		if g["displayName"] == name {
			return g["id"].(string)
		}
	}
	t.Fatalf("no group %s in %s", name, tenant)
	return ""
}

func TestSDKPagingOver2500Users(t *testing.T) {
	seed := graphsim.Seed{Tenants: []graphsim.TenantSeed{
		graphsim.GenerateTenant(graphsim.GenerateOptions{Domain: "big.example", Users: 2500, Seed: 7}),
	}}
	ts := graphsim.NewTestServer(t, seed)
	client, adapter := newClient(t, ts.TenantURL("big.example"))
	ctx := context.Background()
	tests := []struct {
		name  string
		top   *int32
		pages int64
	}{
		{"default page size", nil, 25},
		{"top 500", ptr[int32](500), 5},
		{"top 999", ptr[int32](999), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts.ResetStats()
			resp, err := client.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
				QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Top: tt.top, Select: []string{"id", "userPrincipalName"}},
			})
			if err != nil {
				t.Fatalf("list users: %v", err)
			}
			it, err := msgraphcore.NewPageIterator[models.Userable](resp, adapter, models.CreateUserCollectionResponseFromDiscriminatorValue)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			err = it.Iterate(ctx, func(u models.Userable) bool {
				if u.GetId() == nil || u.GetUserPrincipalName() == nil {
					t.Errorf("user without id or userPrincipalName")
				}
				if u.GetDisplayName() != nil {
					t.Errorf("displayName returned although not selected")
				}
				seen[*u.GetId()] = true
				return true
			})
			if err != nil {
				t.Fatalf("iterate: %v", err)
			}
			if len(seen) != 2500 {
				t.Errorf("saw %d distinct users, want 2500", len(seen))
			}
			if got := ts.Stats().Tenants["big.example"].Routes["GET /users"]; got != tt.pages {
				t.Errorf("GET /users requests = %d, want %d", got, tt.pages)
			}
		})
	}
}

// deltaRound follows a delta round to its deltaLink and returns the users
// it reported by id, with the removal reason ("" if not removed).
func usersDeltaRound(t *testing.T, client *msgraph.GraphServiceClient, link string, sel []string) (map[string]models.Userable, map[string]string, string, int) {
	t.Helper()
	ctx := context.Background()
	headers := abstractions.NewRequestHeaders()
	headers.Add("Prefer", "odata.maxpagesize=2")
	var resp users.DeltaGetResponseable
	var err error
	if link == "" {
		resp, err = client.Users().Delta().GetAsDeltaGetResponse(ctx, &users.DeltaRequestBuilderGetRequestConfiguration{
			Headers:         headers,
			QueryParameters: &users.DeltaRequestBuilderGetQueryParameters{Select: sel},
		})
	} else {
		resp, err = client.Users().Delta().WithUrl(link).GetAsDeltaGetResponse(ctx, &users.DeltaRequestBuilderGetRequestConfiguration{Headers: headers})
	}
	got := map[string]models.Userable{}
	removed := map[string]string{}
	pages := 0
	for {
		if err != nil {
			t.Fatalf("users delta: %v", err)
		}
		pages++
		if len(resp.GetValue()) > 2 {
			t.Errorf("page of %d users, want at most 2 (Prefer: odata.maxpagesize=2)", len(resp.GetValue()))
		}
		for _, u := range resp.GetValue() {
			id := *u.GetId()
			got[id] = u
			removed[id] = ""
			if r, ok := u.GetAdditionalData()["@removed"].(map[string]any); ok {
				if reason, ok := r["reason"].(*string); ok {
					removed[id] = *reason
				}
			}
		}
		if dl := resp.GetOdataDeltaLink(); dl != nil {
			if resp.GetOdataNextLink() != nil {
				t.Errorf("page has both nextLink and deltaLink")
			}
			return got, removed, *dl, pages
		}
		next := resp.GetOdataNextLink()
		if next == nil {
			t.Fatal("delta page with neither nextLink nor deltaLink")
		}
		resp, err = client.Users().Delta().WithUrl(*next).GetAsDeltaGetResponse(ctx, &users.DeltaRequestBuilderGetRequestConfiguration{Headers: headers})
	}
}

type memberChange struct {
	id      string
	removed bool
}

func groupsDeltaRound(t *testing.T, client *msgraph.GraphServiceClient, link string) (map[string][]memberChange, string) {
	t.Helper()
	ctx := context.Background()
	var resp groups.DeltaGetResponseable
	var err error
	if link == "" {
		resp, err = client.Groups().Delta().GetAsDeltaGetResponse(ctx, &groups.DeltaRequestBuilderGetRequestConfiguration{
			QueryParameters: &groups.DeltaRequestBuilderGetQueryParameters{Select: []string{"displayName", "members"}},
		})
	} else {
		resp, err = client.Groups().Delta().WithUrl(link).GetAsDeltaGetResponse(ctx, nil)
	}
	out := map[string][]memberChange{}
	for {
		if err != nil {
			t.Fatalf("groups delta: %v", err)
		}
		for _, g := range resp.GetValue() {
			list, _ := g.GetAdditionalData()["members@delta"].([]any)
			out[*g.GetId()] = append(out[*g.GetId()], nil...)
			for _, e := range list {
				m := e.(map[string]any)
				mc := memberChange{id: *(m["id"].(*string))}
				_, mc.removed = m["@removed"]
				out[*g.GetId()] = append(out[*g.GetId()], mc)
			}
		}
		if dl := resp.GetOdataDeltaLink(); dl != nil {
			return out, *dl
		}
		resp, err = client.Groups().Delta().WithUrl(*resp.GetOdataNextLink()).GetAsDeltaGetResponse(ctx, nil)
	}
}

func TestSDKDeltaRoundTrip(t *testing.T) {
	ts := graphsim.NewTestServer(t, smallSeed())
	client, _ := newClient(t, ts.TenantURL("fabrikam.example"))
	ctx := context.Background()
	sel := []string{"displayName", "jobTitle", "department"}

	initial, removed, link, pages := usersDeltaRound(t, client, "", sel)
	if len(initial) != 4 || pages != 2 {
		t.Fatalf("initial round: %d users in %d pages, want 4 in 2", len(initial), pages)
	}
	for id, reason := range removed {
		if reason != "" {
			t.Errorf("initial round reports %s removed (%s)", id, reason)
		}
	}
	_, glink := groupsDeltaRound(t, client, "")

	alice := userID(t, ts, "fabrikam.example", "alice@fabrikam.example")
	bob := userID(t, ts, "fabrikam.example", "bob@fabrikam.example")
	carol := userID(t, ts, "fabrikam.example", "carol@fabrikam.example")
	dave := userID(t, ts, "fabrikam.example", "dave@fabrikam.example")
	team := groupID(t, ts, "fabrikam.example", "Team")

	// Create erin; update bob (selected) and carol (not selected);
	// soft delete dave; delete and restore alice; create, delete and
	// purge frank; add carol to Team and remove bob.
	newUser := func(upn, name string) string {
		u := models.NewUser()
		u.SetUserPrincipalName(ptr(upn))
		u.SetDisplayName(ptr(name))
		u.SetMailNickname(ptr(strings.Split(upn, "@")[0]))
		u.SetAccountEnabled(ptr(true))
		pp := models.NewPasswordProfile()
		pp.SetPassword(ptr("Sim-Password-1"))
		u.SetPasswordProfile(pp)
		created, err := client.Users().Post(ctx, u, nil)
		if err != nil {
			t.Fatalf("create %s: %v", upn, err)
		}
		return *created.GetId()
	}
	erin := newUser("erin@fabrikam.example", "Erin Evans")
	patch := models.NewUser()
	patch.SetJobTitle(ptr("Staff Engineer"))
	if _, err := client.Users().ByUserId(bob).Patch(ctx, patch, nil); err != nil {
		t.Fatalf("patch bob: %v", err)
	}
	patch = models.NewUser()
	patch.SetMobilePhone(ptr("+1 555 0100"))
	if _, err := client.Users().ByUserId(carol).Patch(ctx, patch, nil); err != nil {
		t.Fatalf("patch carol: %v", err)
	}
	if err := client.Users().ByUserId(dave).Delete(ctx, nil); err != nil {
		t.Fatalf("delete dave: %v", err)
	}
	if err := client.Users().ByUserId(alice).Delete(ctx, nil); err != nil {
		t.Fatalf("delete alice: %v", err)
	}
	if _, err := client.Directory().DeletedItems().ByDirectoryObjectId(alice).Restore().Post(ctx, nil); err != nil {
		t.Fatalf("restore alice: %v", err)
	}
	frank := newUser("frank@fabrikam.example", "Frank Fischer")
	if err := client.Users().ByUserId(frank).Delete(ctx, nil); err != nil {
		t.Fatalf("delete frank: %v", err)
	}
	if err := client.Directory().DeletedItems().ByDirectoryObjectId(frank).Delete(ctx, nil); err != nil {
		t.Fatalf("purge frank: %v", err)
	}
	ref := models.NewReferenceCreate()
	ref.SetOdataId(ptr(ts.TenantURL("fabrikam.example") + "/directoryObjects/" + carol))
	if err := client.Groups().ByGroupId(team).Members().Ref().Post(ctx, ref, nil); err != nil {
		t.Fatalf("add carol to Team: %v", err)
	}
	if err := client.Groups().ByGroupId(team).Members().ByDirectoryObjectId(bob).Ref().Delete(ctx, nil); err != nil {
		t.Fatalf("remove bob from Team: %v", err)
	}

	changed, removed, link2, _ := usersDeltaRound(t, client, link, nil)
	want := map[string]string{erin: "", bob: "", alice: "", dave: "changed", frank: "deleted"}
	if len(changed) != len(want) {
		var ids []string
		for id := range changed {
			ids = append(ids, id)
		}
		t.Errorf("delta reported %d users %v, want %d", len(changed), ids, len(want))
	}
	for id, reason := range want {
		if _, ok := changed[id]; !ok {
			t.Errorf("delta did not report %s", id)
			continue
		}
		if removed[id] != reason {
			t.Errorf("user %s: @removed %q, want %q", id, removed[id], reason)
		}
	}
	if _, ok := changed[carol]; ok {
		t.Errorf("delta reported carol, whose only change (mobilePhone) is not selected")
	}
	if u := changed[bob]; u != nil && (u.GetJobTitle() == nil || *u.GetJobTitle() != "Staff Engineer") {
		t.Errorf("bob's jobTitle in delta = %v, want Staff Engineer", u.GetJobTitle())
	}
	if u := changed[bob]; u != nil && u.GetMobilePhone() != nil {
		t.Errorf("delta returned mobilePhone, which is not selected")
	}

	members, _ := groupsDeltaRound(t, client, glink)
	got := map[string]bool{}
	for _, m := range members[team] {
		got[m.id] = m.removed
	}
	wantMembers := map[string]bool{carol: false, bob: true, alice: false}
	for id, rem := range wantMembers {
		r, ok := got[id]
		if !ok || r != rem {
			t.Errorf("Team members@delta: %s present=%v removed=%v, want removed=%v (all: %+v)", id, ok, r, rem, members[team])
		}
	}

	again, _, _, _ := usersDeltaRound(t, client, link2, nil)
	if len(again) != 0 {
		t.Errorf("delta with no changes reported %d users", len(again))
	}
}

func TestSDKInvitation(t *testing.T) {
	ts := graphsim.NewTestServer(t, smallSeed())
	client, _ := newClient(t, ts.TenantURL("contoso.example"))
	ctx := context.Background()
	inv := models.NewInvitation()
	inv.SetInvitedUserEmailAddress(ptr("Alice@Fabrikam.example"))
	inv.SetInvitedUserDisplayName(ptr("Alice Adams"))
	inv.SetInviteRedirectUrl(ptr("https://myapps.microsoft.com"))
	inv.SetSendInvitationMessage(ptr(false))
	inv.SetInvitedUserType(ptr("Member"))
	got, err := client.Invitations().Post(ctx, inv, nil)
	if err != nil {
		t.Fatalf("invite: %v", err)
	}
	if got.GetStatus() == nil || *got.GetStatus() != "PendingAcceptance" {
		t.Errorf("status = %v, want PendingAcceptance", got.GetStatus())
	}
	if got.GetInvitedUser() == nil || got.GetInvitedUser().GetId() == nil {
		t.Fatal("invitation without invitedUser.id")
	}
	id := *got.GetInvitedUser().GetId()
	u, err := client.Users().ByUserId(id).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: []string{
			"id", "userPrincipalName", "mail", "otherMails", "userType", "creationType", "externalUserState", "displayName"}},
	})
	if err != nil {
		t.Fatalf("get invited user: %v", err)
	}
	checks := []struct{ name, got, want string }{
		{"userPrincipalName", deref(u.GetUserPrincipalName()), "Alice_Fabrikam.example#EXT#@contoso.onmicrosoft.com"},
		{"mail", deref(u.GetMail()), "Alice@Fabrikam.example"},
		{"userType", deref(u.GetUserType()), "Member"},
		{"creationType", deref(u.GetCreationType()), "Invitation"},
		{"externalUserState", deref(u.GetExternalUserState()), "PendingAcceptance"},
		{"displayName", deref(u.GetDisplayName()), "Alice Adams"},
		{"otherMails", strings.Join(u.GetOtherMails(), ","), "Alice@Fabrikam.example"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	// The #EXT# userPrincipalName works as a key, URL-encoded by the SDK.
	if _, err := client.Users().ByUserId("Alice_Fabrikam.example#EXT#@contoso.onmicrosoft.com").Get(ctx, nil); err != nil {
		t.Errorf("get by #EXT# userPrincipalName: %v", err)
	}
	// Inviting the same address again returns the same user.
	again, err := client.Invitations().Post(ctx, inv, nil)
	if err != nil {
		t.Fatalf("second invite: %v", err)
	}
	if *again.GetInvitedUser().GetId() != id {
		t.Errorf("second invitation created user %s, want the existing %s", *again.GetInvitedUser().GetId(), id)
	}
	if n := ts.Stats().Tenants["contoso.example"].Users; n != 1 {
		t.Errorf("contoso has %d users, want 1", n)
	}
	// The user is found the way tenantsync matches: by otherMails.
	found, err := client.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Filter: ptr("otherMails/any(x:x eq 'alice@fabrikam.example')")},
	})
	if err != nil {
		t.Fatalf("filter by otherMails: %v", err)
	}
	if len(found.GetValue()) != 1 || *found.GetValue()[0].GetId() != id {
		t.Errorf("otherMails filter found %d users", len(found.GetValue()))
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestSDKBatch(t *testing.T) {
	ts := graphsim.NewTestServer(t, smallSeed())
	client, adapter := newClient(t, ts.TenantURL("fabrikam.example"))
	ctx := context.Background()
	bob := userID(t, ts, "fabrikam.example", "bob@fabrikam.example")

	batch := msgraphcore.NewBatchRequest(adapter)
	getInfo, err := client.Users().ByUserId(bob).ToGetRequestInformation(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: []string{"id", "displayName", "jobTitle"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	getStep, err := batch.AddBatchRequestStep(*getInfo)
	if err != nil {
		t.Fatal(err)
	}
	patch := models.NewUser()
	patch.SetJobTitle(ptr("Principal Engineer"))
	patchInfo, err := client.Users().ByUserId(bob).ToPatchRequestInformation(ctx, patch, nil)
	if err != nil {
		t.Fatal(err)
	}
	patchStep, err := batch.AddBatchRequestStep(*patchInfo)
	if err != nil {
		t.Fatal(err)
	}
	patchStep.DependsOnItem(getStep)
	missingInfo, err := client.Users().ByUserId("00000000-0000-0000-0000-000000000001").ToGetRequestInformation(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	missingStep, err := batch.AddBatchRequestStep(*missingInfo)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := batch.Send(ctx, adapter)
	if err != nil {
		t.Fatalf("send batch: %v", err)
	}
	statuses := resp.GetStatusCodes()
	want := map[string]int32{*getStep.GetId(): 200, *patchStep.GetId(): 204, *missingStep.GetId(): 404}
	for id, code := range want {
		if statuses[id] != code {
			t.Errorf("batch item %s: status %d, want %d", id, statuses[id], code)
		}
	}
	u, err := msgraphcore.GetBatchResponseById[models.Userable](resp, *getStep.GetId(), models.CreateUserFromDiscriminatorValue)
	if err != nil {
		t.Fatalf("read batch item: %v", err)
	}
	if deref(u.GetDisplayName()) != "Bob Brown" {
		t.Errorf("batch GET displayName = %q", deref(u.GetDisplayName()))
	}
	after, err := client.Users().ByUserId(bob).Get(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if deref(after.GetJobTitle()) != "Principal Engineer" {
		t.Errorf("jobTitle after batch PATCH = %q", deref(after.GetJobTitle()))
	}
	st := ts.Stats().Tenants["fabrikam.example"]
	if st.Routes["POST /$batch"] != 1 || st.Routes["PATCH /users/{id}"] != 1 || st.Routes["GET /users/{id}"] != 3 {
		t.Errorf("routes = %v, want one $batch envelope, one PATCH and three GETs", st.Routes)
	}
	if st.Writes != 1 || st.Reads != 3 {
		t.Errorf("reads/writes = %d/%d, want 3/1", st.Reads, st.Writes)
	}
}

// listener is an httptest notification endpoint that answers validation
// requests and records notifications.
type listener struct {
	*httptest.Server
	mu       sync.Mutex
	received []map[string]any
	posts    int
	fail     int // answer this many notification POSTs with 503
	got      chan struct{}
}

func newListener(t *testing.T) *listener {
	l := &listener{got: make(chan struct{}, 100)}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := r.URL.Query().Get("validationToken"); tok != "" {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, tok)
			return
		}
		var body struct {
			Value []map[string]any `json:"value"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("notification body: %v", err)
		}
		l.mu.Lock()
		l.posts++
		if l.fail > 0 {
			l.fail--
			l.mu.Unlock()
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		l.received = append(l.received, body.Value...)
		l.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		l.got <- struct{}{}
	}))
	t.Cleanup(l.Close)
	return l
}

// waitFor waits until pred holds for the received notifications.
func (l *listener) waitFor(t *testing.T, what string, pred func([]map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		got := append([]map[string]any(nil), l.received...)
		l.mu.Unlock()
		if pred(got) {
			return got
		}
		select {
		case <-l.got:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; received %v", what, got)
		}
	}
}

func TestSDKSubscriptionNotifications(t *testing.T) {
	ts := graphsim.NewTestServerWithOptions(t, smallSeed(), graphsim.Options{NotificationRetry: 20 * time.Millisecond})
	client, _ := newClient(t, ts.TenantURL("fabrikam.example"))
	ctx := context.Background()
	l := newListener(t)
	l.fail = 1 // the first delivery fails and must be retried

	newSub := func(resource, changeType, url string) (models.Subscriptionable, error) {
		s := models.NewSubscription()
		s.SetResource(ptr(resource))
		s.SetChangeType(ptr(changeType))
		s.SetNotificationUrl(ptr(url))
		s.SetLifecycleNotificationUrl(ptr(url + "/lifecycle"))
		s.SetClientState(ptr("s3cret-state"))
		s.SetExpirationDateTime(ptr(time.Now().Add(24 * time.Hour)))
		return client.Subscriptions().Post(ctx, s, nil)
	}
	sub, err := newSub("/users", "updated,deleted", l.URL+"/notify")
	if err != nil {
		t.Fatalf("create subscription: %v", err)
	}
	if _, err := newSub("/groups", "updated", l.URL+"/notify"); err != nil {
		t.Fatalf("create group subscription: %v", err)
	}

	bob := userID(t, ts, "fabrikam.example", "bob@fabrikam.example")
	team := groupID(t, ts, "fabrikam.example", "Team")
	patch := models.NewUser()
	patch.SetDepartment(ptr("Research"))
	if _, err := client.Users().ByUserId(bob).Patch(ctx, patch, nil); err != nil {
		t.Fatal(err)
	}
	if err := client.Groups().ByGroupId(team).Members().ByDirectoryObjectId(bob).Ref().Delete(ctx, nil); err != nil {
		t.Fatal(err)
	}
	got := l.waitFor(t, "user and group notifications", func(ns []map[string]any) bool {
		var user, grp bool
		for _, n := range ns {
			user = user || n["resource"] == "Users/"+bob
			grp = grp || n["resource"] == "Groups/"+team
		}
		return user && grp
	})
	for _, n := range got {
		if n["clientState"] != "s3cret-state" {
			t.Errorf("clientState = %v", n["clientState"])
		}
		if n["tenantId"] != ts.Tenants()[0].ID {
			t.Errorf("tenantId = %v, want %s", n["tenantId"], ts.Tenants()[0].ID)
		}
		if n["changeType"] != "updated" {
			t.Errorf("changeType = %v, want updated", n["changeType"])
		}
		rd, _ := n["resourceData"].(map[string]any)
		if rd == nil || rd["id"] == nil || rd["@odata.type"] == nil || rd["@odata.id"] != n["resource"] {
			t.Errorf("resourceData = %v", rd)
		}
	}
	st := ts.Stats().Tenants["fabrikam.example"].Notifications
	if st.Retried < 1 || st.Failed < 1 {
		t.Errorf("notification stats %+v: want the failed first delivery retried", st)
	}

	// Lifecycle: reauthorizationRequired reaches the lifecycle URL.
	status, err := ts.RequireReauthorization(ctx, *sub.GetId())
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("reauthorization required: status %d, %v", status, err)
	}
	l.waitFor(t, "lifecycle notification", func(ns []map[string]any) bool {
		for _, n := range ns {
			if n["lifecycleEvent"] == "reauthorizationRequired" && n["subscriptionId"] == *sub.GetId() {
				return true
			}
		}
		return false
	})
	if err := client.Subscriptions().BySubscriptionId(*sub.GetId()).Reauthorize().Post(ctx, nil); err != nil {
		t.Errorf("reauthorize: %v", err)
	}
	// Renew, then delete.
	renew := models.NewSubscription()
	renew.SetExpirationDateTime(ptr(time.Now().Add(48 * time.Hour)))
	if _, err := client.Subscriptions().BySubscriptionId(*sub.GetId()).Patch(ctx, renew, nil); err != nil {
		t.Errorf("renew: %v", err)
	}
	if err := client.Subscriptions().BySubscriptionId(*sub.GetId()).Delete(ctx, nil); err != nil {
		t.Errorf("delete subscription: %v", err)
	}
	if _, err := client.Subscriptions().BySubscriptionId(*sub.GetId()).Get(ctx, nil); !isStatus(err, 404) {
		t.Errorf("get deleted subscription: %v, want 404", err)
	}
}

func TestSDKSubscriptionRefused(t *testing.T) {
	ts := graphsim.NewTestServerWithOptions(t, smallSeed(), graphsim.Options{ValidationTimeout: 300 * time.Millisecond})
	client, _ := newClient(t, ts.TenantURL("fabrikam.example"))
	good := newListener(t)
	wrongEcho := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "not the token")
	}))
	defer wrongEcho.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	tests := []struct {
		name, resource, changeType, url string
		lifetime                        time.Duration
		code                            string
	}{
		{"created is not a change type for users", "/users", "created,updated", good.URL, time.Hour, "ExtensionError"},
		{"https required off loopback", "/users", "updated", "http://example.com/notify", time.Hour, "InvalidRequest"},
		{"lifetime over 41760 minutes", "/users", "updated", good.URL, 41761 * time.Minute, "InvalidRequest"},
		{"unsupported resource", "/me/messages", "updated", good.URL, time.Hour, "InvalidRequest"},
		{"echo does not match", "/users", "updated", wrongEcho.URL, time.Hour, "ValidationError"},
		{"validation timeout", "/users", "updated", slow.URL, time.Hour, "ValidationError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := models.NewSubscription()
			s.SetResource(ptr(tt.resource))
			s.SetChangeType(ptr(tt.changeType))
			s.SetNotificationUrl(ptr(tt.url))
			s.SetExpirationDateTime(ptr(time.Now().Add(tt.lifetime)))
			_, err := client.Subscriptions().Post(context.Background(), s, nil)
			var oe *odataerrors.ODataError
			if !errors.As(err, &oe) {
				t.Fatalf("err = %v, want an OData error", err)
			}
			if oe.ResponseStatusCode != 400 || deref(oe.GetErrorEscaped().GetCode()) != tt.code {
				t.Errorf("got %d %s (%s), want 400 %s", oe.ResponseStatusCode, deref(oe.GetErrorEscaped().GetCode()),
					deref(oe.GetErrorEscaped().GetMessage()), tt.code)
			}
		})
	}
	if n := ts.Stats().Tenants["fabrikam.example"].Subscriptions; n != 0 {
		t.Errorf("%d subscriptions exist after refusals", n)
	}
}

func isStatus(err error, status int) bool {
	var oe *odataerrors.ODataError
	return errors.As(err, &oe) && oe.ResponseStatusCode == status
}

func TestSDKRetryHonours429(t *testing.T) {
	ts := graphsim.NewTestServer(t, smallSeed())
	client, _ := newClient(t, ts.TenantURL("fabrikam.example"))
	bob := userID(t, ts, "fabrikam.example", "bob@fabrikam.example")
	if err := ts.SetFaults(graphsim.Faults{FailNext: 1, ErrorStatuses: []int{429}, RetryAfterSeconds: 1}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	u, err := client.Users().ByUserId(bob).Get(context.Background(), nil)
	if err != nil {
		t.Fatalf("get user through a 429: %v", err)
	}
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("the SDK retried after %v, before Retry-After: 1", elapsed)
	}
	if deref(u.GetDisplayName()) != "Bob Brown" {
		t.Errorf("displayName = %q", deref(u.GetDisplayName()))
	}
	st := ts.Stats().Tenants["fabrikam.example"]
	if st.Throttled != 1 || st.Routes["GET /users/{id}"] != 2 {
		t.Errorf("throttled=%d GET /users/{id}=%d, want 1 and 2", st.Throttled, st.Routes["GET /users/{id}"])
	}
}

func TestSDKManagerAndMembership(t *testing.T) {
	ts := graphsim.NewTestServer(t, graphsim.DemoSeed())
	client, _ := newClient(t, ts.TenantURL("fabrikam.example"))
	ctx := context.Background()
	snap, err := ts.Snapshot("fabrikam.example")
	if err != nil {
		t.Fatal(err)
	}
	var withManager graphsim.Object
	for _, u := range snap.Users {
		if u["manager"] != nil {
			withManager = u
			break
		}
	}
	id := withManager["id"].(string)
	u, err := client.Users().ByUserId(id).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: []string{"id", "displayName"}, Expand: []string{"manager($select=id)"}},
	})
	if err != nil {
		t.Fatalf("get with $expand=manager: %v", err)
	}
	if u.GetManager() == nil || deref(u.GetManager().GetId()) != withManager["manager"] {
		t.Fatalf("manager = %v, want %v", u.GetManager(), withManager["manager"])
	}
	// The scoping group holds the nested group; transitive membership
	// reaches its members.
	scoping := groupID(t, ts, "fabrikam.example", graphsim.ScopingGroup)
	phoenix := groupID(t, ts, "fabrikam.example", graphsim.NestedScopingGroup)
	direct, err := client.Groups().ByGroupId(phoenix).Members().Get(ctx, nil)
	if err != nil || len(direct.GetValue()) == 0 {
		t.Fatalf("Project Phoenix members: %v (%d)", err, len(direct.GetValue()))
	}
	nested := *direct.GetValue()[0].GetId()
	body := users.NewItemCheckMemberGroupsPostRequestBody()
	body.SetGroupIds([]string{scoping, phoenix, "00000000-0000-0000-0000-000000000009"})
	res, err := client.Users().ByUserId(nested).CheckMemberGroups().PostAsCheckMemberGroupsPostResponse(ctx, body, nil)
	if err != nil {
		t.Fatalf("checkMemberGroups: %v", err)
	}
	got := res.GetValue()
	sort.Strings(got)
	want := []string{scoping, phoenix}
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("checkMemberGroups = %v, want %v", got, want)
	}
	direct2, err := client.Users().ByUserId(nested).MemberOf().GraphGroup().Get(ctx, nil)
	if err != nil {
		t.Fatalf("memberOf/microsoft.graph.group: %v", err)
	}
	for _, g := range direct2.GetValue() {
		if *g.GetId() == scoping {
			t.Errorf("direct memberOf includes the scoping group, reached only through nesting")
		}
	}
	// Set and clear a manager.
	ref := models.NewReferenceUpdate()
	ref.SetOdataId(ptr(ts.TenantURL("fabrikam.example") + "/users/" + withManager["manager"].(string)))
	if err := client.Users().ByUserId(nested).Manager().Ref().Put(ctx, ref, nil); err != nil {
		t.Fatalf("set manager: %v", err)
	}
	m, err := client.Users().ByUserId(nested).Manager().Get(ctx, nil)
	if err != nil || deref(m.GetId()) != withManager["manager"] {
		t.Fatalf("manager after PUT: %v, %v", m, err)
	}
	if err := client.Users().ByUserId(nested).Manager().Ref().Delete(ctx, nil); err != nil {
		t.Fatalf("clear manager: %v", err)
	}
	if _, err := client.Users().ByUserId(nested).Manager().Get(ctx, nil); !isStatus(err, 404) {
		t.Errorf("manager after DELETE: %v, want 404", err)
	}
}
