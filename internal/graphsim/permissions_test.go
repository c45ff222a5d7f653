package graphsim_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	msgraph "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// isForbidden reports whether err is Graph's answer to missing privileges:
// 403 Authorization_RequestDenied, "Insufficient privileges to complete the
// operation."
func isForbidden(err error) bool {
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) || oe.ResponseStatusCode != 403 || oe.GetErrorEscaped() == nil {
		return false
	}
	e := oe.GetErrorEscaped()
	return deref(e.GetCode()) == "Authorization_RequestDenied" &&
		deref(e.GetMessage()) == "Insufficient privileges to complete the operation."
}

// TestSDKApplicationPermissions follows the "Permissions" section of each
// API reference page, Application row (least privileged permission or any
// higher privileged one):
//   - https://learn.microsoft.com/graph/api/user-list#permissions
//   - https://learn.microsoft.com/graph/api/user-delta#permissions
//   - https://learn.microsoft.com/graph/api/user-update#permissions
//   - https://learn.microsoft.com/graph/api/user-delete#permissions
//   - https://learn.microsoft.com/graph/api/user-post-manager#permissions
//   - https://learn.microsoft.com/graph/api/user-list-memberof#permissions
//   - https://learn.microsoft.com/graph/api/user-checkmembergroups#permissions
//   - https://learn.microsoft.com/graph/api/group-list#permissions
//   - https://learn.microsoft.com/graph/api/group-list-members#permissions
//   - https://learn.microsoft.com/graph/api/group-delta#permissions
//   - https://learn.microsoft.com/graph/api/directory-deleteditems-restore#permissions
//   - https://learn.microsoft.com/graph/api/invitation-post#permissions
//   - https://learn.microsoft.com/graph/api/subscription-post-subscriptions#permissions
//   - https://learn.microsoft.com/graph/api/organization-get#permissions
//   - https://learn.microsoft.com/graph/api/authorizationpolicy-get#permissions
func TestSDKApplicationPermissions(t *testing.T) {
	ctx := context.Background()
	l := newListener(t)
	type env struct {
		client                 *msgraph.GraphServiceClient
		bob, carol, dave, team string
	}
	newUserPatch := func(set func(models.Userable)) models.Userable {
		u := models.NewUser()
		set(u)
		return u
	}
	subscribe := func(e env, resource string) error {
		s := models.NewSubscription()
		s.SetResource(ptr(resource))
		s.SetChangeType(ptr("updated"))
		s.SetNotificationUrl(ptr(l.URL + "/notify"))
		s.SetExpirationDateTime(ptr(time.Now().Add(time.Hour)))
		_, err := e.client.Subscriptions().Post(ctx, s, nil)
		return err
	}
	ops := map[string]func(e env) error{
		"list users": func(e env) error { _, err := e.client.Users().Get(ctx, nil); return err },
		"get user":   func(e env) error { _, err := e.client.Users().ByUserId(e.bob).Get(ctx, nil); return err },
		"users delta": func(e env) error {
			_, err := e.client.Users().Delta().GetAsDeltaGetResponse(ctx, nil)
			return err
		},
		"list groups": func(e env) error { _, err := e.client.Groups().Get(ctx, nil); return err },
		"group members": func(e env) error {
			_, err := e.client.Groups().ByGroupId(e.team).Members().Get(ctx, nil)
			return err
		},
		"groups delta": func(e env) error {
			_, err := e.client.Groups().Delta().GetAsDeltaGetResponse(ctx, nil)
			return err
		},
		"memberOf": func(e env) error { _, err := e.client.Users().ByUserId(e.bob).MemberOf().Get(ctx, nil); return err },
		"checkMemberGroups": func(e env) error {
			body := users.NewItemCheckMemberGroupsPostRequestBody()
			body.SetGroupIds([]string{e.team})
			_, err := e.client.Users().ByUserId(e.bob).CheckMemberGroups().PostAsCheckMemberGroupsPostResponse(ctx, body, nil)
			return err
		},
		"subscribe to groups": func(e env) error { return subscribe(e, "/groups") },
		"subscribe to users":  func(e env) error { return subscribe(e, "/users") },
		"invite": func(e env) error {
			inv := models.NewInvitation()
			inv.SetInvitedUserEmailAddress(ptr("guest@northwind.example"))
			inv.SetInviteRedirectUrl(ptr("https://myapps.microsoft.com"))
			_, err := e.client.Invitations().Post(ctx, inv, nil)
			return err
		},
		"patch jobTitle": func(e env) error {
			_, err := e.client.Users().ByUserId(e.bob).Patch(ctx, newUserPatch(func(u models.Userable) { u.SetJobTitle(ptr("Lead")) }), nil)
			return err
		},
		"patch accountEnabled": func(e env) error {
			_, err := e.client.Users().ByUserId(e.bob).Patch(ctx, newUserPatch(func(u models.Userable) { u.SetAccountEnabled(ptr(false)) }), nil)
			return err
		},
		"delete user": func(e env) error { return e.client.Users().ByUserId(e.bob).Delete(ctx, nil) },
		"restore user": func(e env) error {
			_, err := e.client.Directory().DeletedItems().ByDirectoryObjectId(e.dave).Restore().Post(ctx, nil)
			return err
		},
		"set manager": func(e env) error {
			ref := models.NewReferenceUpdate()
			ref.SetOdataId(ptr("https://graph.microsoft.com/v1.0/users/" + e.carol))
			return e.client.Users().ByUserId(e.bob).Manager().Ref().Put(ctx, ref, nil)
		},
		"organization": func(e env) error { _, err := e.client.Organization().Get(ctx, nil); return err },
		"authorizationPolicy": func(e env) error {
			_, err := e.client.Policies().AuthorizationPolicy().Get(ctx, nil)
			return err
		},
	}
	tests := []struct {
		op      string
		perms   []string
		allowed bool
	}{
		{"list users", []string{"User.Read.All"}, true},
		{"list users", []string{"Directory.Read.All"}, true},
		{"list users", []string{"GroupMember.Read.All"}, false},
		{"list users", []string{}, false},
		{"get user", []string{"User.ReadWrite.All"}, true},
		{"users delta", []string{"User.Read.All"}, true},
		{"users delta", []string{"Group.Read.All"}, false},
		{"list groups", []string{"GroupMember.Read.All"}, true},
		{"list groups", []string{"User.Read.All"}, false},
		{"group members", []string{"GroupMember.Read.All"}, true},
		{"group members", []string{"Group.Read.All"}, true},
		{"group members", []string{"User.Read.All"}, false},
		{"groups delta", []string{"GroupMember.Read.All"}, true},
		{"groups delta", []string{"User.ReadWrite.All"}, false},
		{"memberOf", []string{"Directory.Read.All"}, true},
		{"memberOf", []string{"User.Read.All", "GroupMember.Read.All"}, false},
		{"checkMemberGroups", []string{"User.Read.All", "GroupMember.Read.All"}, true},
		{"checkMemberGroups", []string{"User.Read.All"}, false},
		{"checkMemberGroups", []string{"Directory.Read.All"}, true},
		{"subscribe to groups", []string{"Group.Read.All"}, true},
		{"subscribe to groups", []string{"GroupMember.Read.All"}, false},
		{"subscribe to users", []string{"User.Read.All"}, true},
		{"subscribe to users", []string{"Group.Read.All"}, false},
		{"invite", []string{"User.Invite.All"}, true},
		{"invite", []string{"Directory.ReadWrite.All"}, true},
		{"invite", []string{"User.Read.All"}, false},
		{"patch jobTitle", []string{"User.ReadWrite.All"}, true},
		{"patch jobTitle", []string{"User.Read.All"}, false},
		{"patch jobTitle", []string{"User.EnableDisableAccount.All", "User.Read.All"}, false},
		{"patch accountEnabled", []string{"User.EnableDisableAccount.All", "User.Read.All"}, true},
		{"patch accountEnabled", []string{"User.EnableDisableAccount.All"}, false},
		{"delete user", []string{"User.DeleteRestore.All"}, true},
		{"delete user", []string{"Directory.ReadWrite.All"}, false},
		{"restore user", []string{"User.DeleteRestore.All"}, true},
		{"restore user", []string{"User.Read.All"}, false},
		{"set manager", []string{"User.ReadWrite.All"}, true},
		{"set manager", []string{"User.Read.All"}, false},
		{"organization", []string{"Organization.Read.All"}, true},
		{"organization", []string{"User.Read.All"}, false},
		{"authorizationPolicy", []string{"Policy.Read.All"}, true},
		{"authorizationPolicy", []string{"Directory.Read.All"}, false},
	}
	for _, tt := range tests {
		name := tt.op + " with [" + strings.Join(tt.perms, " ") + "]"
		t.Run(name, func(t *testing.T) {
			ts := graphsim.NewTestServer(t, smallSeed())
			client, _ := newClient(t, ts.TenantURL("fabrikam.example"))
			e := env{client: client, bob: userID(t, ts, "fabrikam.example", "bob@fabrikam.example"),
				carol: userID(t, ts, "fabrikam.example", "carol@fabrikam.example"),
				dave:  userID(t, ts, "fabrikam.example", "dave@fabrikam.example"),
				team:  groupID(t, ts, "fabrikam.example", "Team")}
			// Dave is in deleted items for the restore.
			if err := client.Users().ByUserId(e.dave).Delete(ctx, nil); err != nil {
				t.Fatal(err)
			}
			if err := ts.SetPermissions("fabrikam.example", tt.perms); err != nil {
				t.Fatal(err)
			}
			err := ops[tt.op](e)
			switch {
			case tt.allowed && err != nil:
				t.Errorf("refused: %v", err)
			case !tt.allowed && !isForbidden(err):
				t.Errorf("err = %v, want 403 Authorization_RequestDenied", err)
			}
		})
	}
}

// TestSDKPermissionsInBatch: each request of a $batch is authorized on its
// own, with its own status in the batch response
// (https://learn.microsoft.com/graph/json-batching, "Response format"),
// against the permissions of
// https://learn.microsoft.com/graph/api/user-get#permissions and
// https://learn.microsoft.com/graph/api/user-update#permissions.
func TestSDKPermissionsInBatch(t *testing.T) {
	ctx := context.Background()
	ts := graphsim.NewTestServer(t, smallSeed())
	client, adapter := newClient(t, ts.TenantURL("fabrikam.example"))
	bob := userID(t, ts, "fabrikam.example", "bob@fabrikam.example")
	if err := ts.SetPermissions("fabrikam.example", []string{"User.Read.All"}); err != nil {
		t.Fatal(err)
	}
	batch := msgraphcore.NewBatchRequest(adapter)
	getInfo, err := client.Users().ByUserId(bob).ToGetRequestInformation(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	getStep, err := batch.AddBatchRequestStep(*getInfo)
	if err != nil {
		t.Fatal(err)
	}
	patch := models.NewUser()
	patch.SetJobTitle(ptr("Lead"))
	patchInfo, err := client.Users().ByUserId(bob).ToPatchRequestInformation(ctx, patch, nil)
	if err != nil {
		t.Fatal(err)
	}
	patchStep, err := batch.AddBatchRequestStep(*patchInfo)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := batch.Send(ctx, adapter)
	if err != nil {
		t.Fatalf("send batch: %v", err)
	}
	st := resp.GetStatusCodes()
	if st[*getStep.GetId()] != 200 || st[*patchStep.GetId()] != 403 {
		t.Errorf("statuses = %v, want the GET 200 and the PATCH 403", st)
	}
	snap, _ := ts.Snapshot("fabrikam.example")
	for _, u := range snap.Users {
		if u["id"] == bob && u["jobTitle"] == "Lead" {
			t.Error("the refused PATCH changed bob")
		}
	}
}

// TestSDKAppRoleAssignments lists the app's granted application permissions
// as Graph does: GET /servicePrincipals(appId='{appId}')/appRoleAssignments
// and GET /servicePrincipals/{id}/appRoleAssignments return appRoleAssignment
// objects whose appRoleId is Microsoft Graph's app role id
// (https://learn.microsoft.com/graph/api/serviceprincipal-list-approleassignments,
// "Permissions": Application.Read.All least privileged; ids from
// https://learn.microsoft.com/graph/permissions-reference).
func TestSDKAppRoleAssignments(t *testing.T) {
	ctx := context.Background()
	ts := graphsim.NewTestServer(t, smallSeed())
	base := ts.TenantURL("fabrikam.example")
	client, _ := newClient(t, base)
	appID := "11111111-2222-3333-4444-555555555555"
	byAppID := base + "/servicePrincipals(appId='" + appID + "')/appRoleAssignments"
	list := func() (models.AppRoleAssignmentCollectionResponseable, error) {
		return client.ServicePrincipals().ByServicePrincipalId("unused").AppRoleAssignments().WithUrl(byAppID).Get(ctx, nil)
	}
	if err := ts.SetPermissions("fabrikam.example", []string{"User.Read.All", "GroupMember.Read.All"}); err != nil {
		t.Fatal(err)
	}
	if _, err := list(); !isForbidden(err) {
		t.Fatalf("without Application.Read.All: %v, want 403", err)
	}
	if err := ts.SetPermissions("fabrikam.example", []string{"user.read.all", "GroupMember.Read.All", "Application.Read.All"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"df021288-bdef-4463-88db-98f22de89214": true, // User.Read.All
		"98830695-27a2-44f7-8c18-0c3ebc9698f6": true, // GroupMember.Read.All
		"9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30": true, // Application.Read.All
	}
	check := func(t *testing.T, resp models.AppRoleAssignmentCollectionResponseable) {
		t.Helper()
		got := map[string]bool{}
		for _, a := range resp.GetValue() {
			if a.GetAppRoleId() != nil {
				got[a.GetAppRoleId().String()] = true
			}
			if deref(a.GetResourceDisplayName()) != "Microsoft Graph" || deref(a.GetPrincipalType()) != "ServicePrincipal" {
				t.Errorf("assignment %v / %v", deref(a.GetResourceDisplayName()), deref(a.GetPrincipalType()))
			}
		}
		if len(got) != len(want) {
			t.Errorf("appRoleIds %v, want %v", got, want)
		}
		for id := range want {
			if !got[id] {
				t.Errorf("missing appRoleId %s", id)
			}
		}
	}
	resp, err := list()
	if err != nil {
		t.Fatalf("list by appId: %v", err)
	}
	check(t, resp)
	// The service principal's object id works too.
	sp, err := client.ServicePrincipalsWithAppId(ptr(appID)).Get(ctx, nil)
	if err != nil || sp.GetId() == nil || deref(sp.GetAppId()) != appID {
		t.Fatalf("get service principal by appId: %v %v", sp, err)
	}
	resp, err = client.ServicePrincipals().ByServicePrincipalId(*sp.GetId()).AppRoleAssignments().Get(ctx, nil)
	if err != nil {
		t.Fatalf("list by id: %v", err)
	}
	check(t, resp)
	if _, err := client.ServicePrincipals().ByServicePrincipalId("00000000-0000-0000-0000-000000000009").AppRoleAssignments().Get(ctx, nil); !isStatus(err, 404) {
		t.Errorf("another service principal: %v, want 404", err)
	}
	// All permissions granted (the default) lists every permission the
	// simulator knows.
	if err := ts.SetPermissions("fabrikam.example", nil); err != nil {
		t.Fatal(err)
	}
	resp, err = list()
	if err != nil || len(resp.GetValue()) < 20 {
		t.Errorf("all granted: %d assignments, %v", len(resp.GetValue()), err)
	}
}

// TestPermissionsSeedAndAdmin: the seed key "permissions" (omitted = all,
// [] = none), the admin route PUT /_sim/tenants/<tenant>/permissions, and
// snapshots keep the grant, including an empty one. Names are Microsoft
// Graph application permissions as the permissions reference lists them
// (https://learn.microsoft.com/graph/permissions-reference, "All
// permissions"); any other name is refused.
func TestPermissionsSeedAndAdmin(t *testing.T) {
	seed := smallSeed()
	seed.Tenants[1].Permissions = []string{}
	ts := graphsim.NewTestServer(t, seed)
	admin := ts.URL + "/_sim/tenants/"
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     []string
	}{
		{"omitted grants all", "GET", "fabrikam.example/permissions", "", 200, nil},
		{"empty grants none", "GET", "contoso.example/permissions", "", 200, []string{}},
		{"set two", "PUT", "fabrikam.example/permissions", `{"permissions":["User.Read.All","group.read.all"]}`, 200, []string{"Group.Read.All", "User.Read.All"}},
		{"unknown permission", "PUT", "fabrikam.example/permissions", `{"permissions":["User.Read.Al"]}`, 400, nil},
		{"null grants all again", "PUT", "contoso.example/permissions", `{"permissions":null}`, 200, nil},
		{"unknown tenant", "PUT", "nowhere.example/permissions", `{"permissions":[]}`, 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := call(t, tt.method, admin+tt.path, nil, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tt.status, body)
			}
			if tt.status != 200 {
				return
			}
			raw, _ := json.Marshal(body["permissions"])
			var got []string
			_ = json.Unmarshal(raw, &got)
			if (got == nil) != (tt.want == nil) || !slices.Equal(got, tt.want) {
				t.Errorf("permissions = %s, want %v", raw, tt.want)
			}
		})
	}
	// A snapshot keeps an empty grant and reloads it.
	if err := ts.SetPermissions("contoso.example", []string{}); err != nil {
		t.Fatal(err)
	}
	snap, _ := ts.Snapshot("contoso.example")
	raw, _ := json.Marshal(snap)
	if !strings.Contains(string(raw), `"permissions":[]`) {
		t.Errorf("snapshot %s lacks the empty grant", raw)
	}
	fab, _ := ts.Snapshot("fabrikam.example")
	raw, _ = json.Marshal(fab)
	if !strings.Contains(string(raw), `"permissions":["Group.Read.All","User.Read.All"]`) {
		t.Errorf("snapshot %s lacks the grant", raw)
	}
	if err := ts.PutTenant(snap); err != nil {
		t.Fatal(err)
	}
	if got, _ := ts.Permissions("contoso.example"); got == nil || len(got) != 0 {
		t.Errorf("reloaded grant %v, want none", got)
	}
	if err := ts.PutTenant(graphsim.TenantSeed{Domain: "bad.example", Permissions: []string{"Mail.Sendd"}}); err == nil {
		t.Error("a seed with an unknown permission loaded")
	}
}
