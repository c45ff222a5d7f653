package operator

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantsync/tenantsync/internal/graph"
	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// TestCheckOnline runs the checks with real Graph clients against the
// simulator. In front of it, contoso's authorization policy answers 403,
// as Graph does for an app without Policy.Read.All: that is a warning, not
// a failure, since syncing does not need the permission.
func TestCheckOnline(t *testing.T) {
	sim := graphsim.New(graphsim.Options{})
	err := sim.LoadSeed(graphsim.Seed{Tenants: []graphsim.TenantSeed{
		{Domain: "fabrikam.example", Groups: []graphsim.Object{
			{"displayName": "Sync"}, {"id": "7e000000-0000-4000-8000-000000000001", "displayName": "Twice"},
			{"id": "7e000000-0000-4000-8000-000000000002", "displayName": "Twice"},
		}},
		{Domain: "contoso.example"},
		{Domain: "closed.example", BlockInvitations: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/contoso.example/v1.0/policies/authorizationPolicy" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"request-id":"r-1"}}}`))
			return
		}
		sim.ServeHTTP(w, r)
	}))
	defer hs.Close()
	defer sim.Close()
	client := func(tenant string) *graph.Client {
		c, err := graph.New(context.Background(), graph.Options{BaseURL: hs.URL + "/" + tenant + "/v1.0"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	checks := CheckOnline(context.Background(), OnlineOptions{
		Source:      client("fabrikam.example"),
		SourceAppID: appID,
		Targets: []OnlineTarget{
			{Name: "contoso", Probe: client("contoso.example"), AppID: appID, Groups: []string{"Sync", "Twice"}},
			{Name: "closed", Probe: client("closed.example"), AppID: appID, Groups: []string{"Sync", "Missing"}},
			{Name: "broken", ProbeErr: errors.New("credential (certificate) for tenant b.example: read cert.pem: no such file")},
		},
		NotificationURL: "https://t.example/api/GraphWebhook",
	})
	// Every permission is granted: the ones needed are, and the others are
	// extras.
	extra := func(tenant string, needed ...string) Check {
		var names []string
		for _, r := range graph.AppRoles() {
			if !slices.Contains(needed, r.Name) {
				names = append(names, r.Name)
			}
		}
		slices.Sort(names)
		return Check{tenant, "extra permissions", CheckWarn, "granted beyond what tenantsync needs in " + tenant + ": " +
			strings.Join(names, ", ") + "; least privilege: revoke them"}
	}
	want := []Check{
		{"source", "read users", CheckOK, "can read users"},
		{"source", "permissions", CheckOK, "granted: User.Read.All, Group.Read.All (read from the app's appRoleAssignments)"},
		extra("source", "User.Read.All", "Group.Read.All"),
		{"source", "read groups", CheckOK, "can read groups"},
		{"source", "scoping groups", CheckFail, `1 of 3 resolve; "Twice": 2 groups have this name; configure it by object id; "Missing": no group with this id or display name`},
		{"source", "list subscriptions", CheckOK, "can list subscriptions (0 now)"},
		{"source", "notification URL", CheckSkip, "not checked: whether Graph can reach it is out of scope here; Graph validates it when a subscription is created"},
		{"contoso", "read users", CheckOK, "can read users"},
		{"contoso", "permissions", CheckOK, "granted: User.Invite.All, User.ReadWrite.All (read from the app's appRoleAssignments)"},
		extra("contoso", "User.Invite.All", "User.ReadWrite.All"),
		{"contoso", "guest invitations", CheckWarn, "not checked: reading the authorization policy needs Policy.Read.All, which syncing does not " +
			"(read the authorization policy: 403 Authorization_RequestDenied: Insufficient privileges to complete the operation. (request-id r-1))"},
		{"closed", "read users", CheckOK, "can read users"},
		{"closed", "permissions", CheckOK, "granted: User.Invite.All, User.ReadWrite.All (read from the app's appRoleAssignments)"},
		extra("closed", "User.Invite.All", "User.ReadWrite.All"),
		{"closed", "guest invitations", CheckFail, "refused: the authorization policy's allowInvitesFrom is none, so every invitation fails"},
		{"broken", "credential", CheckFail, "credential (certificate) for tenant b.example: read cert.pem: no such file"},
	}
	if len(checks) != len(want) {
		t.Fatalf("%d checks, want %d:\n%+v", len(checks), len(want), checks)
	}
	for i := range want {
		if checks[i] != want[i] {
			t.Errorf("check %d:\n got %+v\nwant %+v", i, checks[i], want[i])
		}
	}
	if f := FailedChecks(checks); len(f) != 3 || f[0].Check != "scoping groups" {
		t.Errorf("FailedChecks = %+v", f)
	}
	var b strings.Builder
	if err := WriteChecks(&b, []Check{checks[0], checks[3]}); err != nil {
		t.Fatal(err)
	}
	if want := "TENANT  CHECK        RESULT  DETAIL\nsource  read users   ok      can read users\nsource  read groups  ok      can read groups\n"; b.String() != want {
		t.Errorf("WriteChecks:\n%q\nwant\n%q", b.String(), want)
	}
}

// appID is the tenantsync app whose grant the checks list.
const appID = "2f5c9d1e-8a4b-4c3d-9e7f-1a2b3c4d5e6f"

// testToken is an unsigned JWT with claims, the shape of Entra's access
// tokens; the checks read it without checking a signature.
func testToken(t *testing.T, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"typ":"JWT","alg":"RS256"}`)) + "." + enc(payload) + "." + enc([]byte("sig"))
}

// fixedCredential hands out one token.
type fixedCredential struct{ token string }

func (c fixedCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TestPermissionChecks compares grants with what tenantsync needs, through
// real Graph clients against the simulator: read from the token's roles
// claim, or listed from appRoleAssignments when there is no token.
func TestPermissionChecks(t *testing.T) {
	const tid = "0a1b2c3d-0000-4000-8000-00000000000f"
	// requestID matches the request id an error detail ends with.
	requestID := regexp.MustCompile(` \(request-id [^)]*\)`)
	appToken := func(roles ...string) string {
		return testToken(t, map[string]any{"tid": tid, "idtyp": "app", "roles": roles})
	}
	tests := []struct {
		name   string
		source bool // check the source's needs, else a target's
		perms  []string
		token  string
		appID  string
		// notConsented answers 404 for the app's service principal.
		notConsented bool
		want         []Check
	}{{
		name: "source, exactly the needed permissions, from the token", source: true,
		perms: []string{"User.Read.All", "Group.Read.All"}, token: appToken("User.Read.All", "Group.Read.All"),
		want: []Check{{"source", "permissions", CheckOK, "granted: User.Read.All, Group.Read.All (read from the access token's roles claim)"}},
	}, {
		name: "source without Group.Read.All, with GroupMember.Read.All", source: true,
		perms: []string{"User.Read.All", "GroupMember.Read.All", "Application.Read.All"}, appID: appID,
		want: []Check{
			{"source", "permission Group.Read.All", CheckFail, "Group.Read.All missing in source: subscribing to /groups change notifications fails; group changes then arrive only with the reconcile timer"},
			{"source", "extra permissions", CheckWarn, "granted beyond what tenantsync needs in source: Application.Read.All, GroupMember.Read.All; least privilege: revoke them"},
		},
	}, {
		name: "source with no group permission at all, from the token", source: true,
		perms: []string{"User.Read.All"}, token: appToken("User.Read.All"),
		want: []Check{{"source", "permission Group.Read.All", CheckFail, "Group.Read.All missing in source: reading the scoping groups and their members fails " +
			"(groups delta, transitive members, checkMemberGroups), and so does subscribing to /groups change notifications: targets scoped by group are not synced"}},
	}, {
		name: "source with nothing", source: true, perms: []string{}, token: appToken(),
		want: []Check{
			{"source", "permission User.Read.All", CheckFail, "User.Read.All missing in source: reading source users fails (GET /users, users delta), and so does subscribing to /users change notifications: nothing is synced"},
			{"source", "permission Group.Read.All", CheckFail, "Group.Read.All missing in source: reading the scoping groups and their members fails " +
				"(groups delta, transitive members, checkMemberGroups), and so does subscribing to /groups change notifications: targets scoped by group are not synced"},
		},
	}, {
		name:  "target, exactly the needed permissions and Application.Read.All to list them",
		perms: []string{"User.Invite.All", "User.ReadWrite.All", "Application.Read.All"}, appID: appID,
		want: []Check{
			{"contoso", "permissions", CheckOK, "granted: User.Invite.All, User.ReadWrite.All (read from the app's appRoleAssignments)"},
			{"contoso", "extra permissions", CheckWarn, "granted beyond what tenantsync needs in contoso: Application.Read.All; least privilege: revoke them"},
		},
	}, {
		name:  "target without User.Invite.All",
		perms: []string{"User.ReadWrite.All", "User.Read.All"}, token: appToken("User.ReadWrite.All", "User.Read.All"),
		want: []Check{
			{"contoso", "permission User.Invite.All", CheckFail, "User.Invite.All missing in contoso: invitations (POST /invitations) then work only through " +
				"User.ReadWrite.All, which Graph lists as the higher privileged permission for them; grant User.Invite.All, which the consent URL asks for"},
			{"contoso", "extra permissions", CheckWarn, "granted beyond what tenantsync needs in contoso: User.Read.All; least privilege: revoke them"},
		},
	}, {
		name:  "target with only User.Invite.All",
		perms: []string{"User.Invite.All"}, token: appToken("User.Invite.All"),
		want: []Check{{"contoso", "permission User.ReadWrite.All", CheckFail, "User.ReadWrite.All missing in contoso: reading target users to match them fails (GET /users), " +
			"and so does every update, disable, delete and restore (PATCH and DELETE /users/{id}, restoring deleted users): synced users are never kept in step"}},
	}, {
		name:  "no token, and listing the grant is not allowed",
		perms: []string{"User.Invite.All", "User.ReadWrite.All"}, appID: appID,
		want: []Check{{"contoso", "permissions", CheckWarn, "not checked: without an app token to read them from, listing the app's grant " +
			"(GET /servicePrincipals(appId=…)/appRoleAssignments) needs Application.Read.All, which syncing does not " +
			"(list the app role assignments of app " + appID + ": 403 Authorization_RequestDenied: Insufficient privileges to complete the operation.)"}},
	}, {
		name:  "a user's token (Azure CLI)",
		perms: []string{"User.Invite.All", "User.ReadWrite.All"}, token: testToken(t, map[string]any{"tid": tid, "scp": "Directory.AccessAsUser.All", "idtyp": "user"}),
		want: []Check{{"contoso", "permissions", CheckWarn, "not checked: the access token is a user's (Azure CLI), carrying the user's delegated scopes, " +
			"not the app's application permissions, and no application (client) id names the app"}},
	}, {
		name: "the app is not consented in the target", appID: appID, notConsented: true,
		want: []Check{{"contoso", "permissions", CheckFail, "app " + appID + " has no service principal in contoso: it is not consented there " +
			"(list the app role assignments of app " + appID + ": 404 Request_ResourceNotFound: Resource '" + appID + "' does not exist.)"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := graphsim.NewTestServer(t, graphsim.Seed{Tenants: []graphsim.TenantSeed{{Domain: "contoso.example"}}})
			if err := sim.SetPermissions("contoso.example", tt.perms); err != nil {
				t.Fatal(err)
			}
			base := sim.URL
			if tt.notConsented {
				hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if strings.HasSuffix(r.URL.Path, "/appRoleAssignments") {
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(http.StatusNotFound)
						w.Write([]byte(`{"error":{"code":"Request_ResourceNotFound","message":"Resource '` + appID + `' does not exist."}}`))
						return
					}
					sim.ServeHTTP(w, r)
				}))
				defer hs.Close()
				base = hs.URL
			}
			opts := graph.Options{BaseURL: base + "/contoso.example/v1.0"}
			if tt.token != "" {
				opts.Credential = fixedCredential{tt.token}
			}
			c, err := graph.New(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []Check
			if tt.source {
				got = permissionChecks(context.Background(), "source", c, tt.appID, sourceNeeds())
			} else {
				got = permissionChecks(context.Background(), "contoso", c, tt.appID, targetNeeds())
			}
			for i := range got {
				// The simulator's request ids are random.
				got[i].Detail = requestID.ReplaceAllString(got[i].Detail, "")
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("checks:\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// TestGroupProvisioningNeeds checks that a target needs Group.ReadWrite.All
// when group provisioning is configured for it, and only then.
func TestGroupProvisioningNeeds(t *testing.T) {
	names := func(ns []need) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.permission)
		}
		return out
	}
	if got := names(OnlineTarget{}.needs()); slices.Contains(got, graph.GroupReadWriteAll) {
		t.Errorf("a target without groups needs %v", got)
	}
	if got := names(OnlineTarget{ProvisionsGroups: true}.needs()); !slices.Contains(got, graph.GroupReadWriteAll) || !slices.Contains(got, graph.UserInviteAll) {
		t.Errorf("a target with groups needs %v, want the user permissions and Group.ReadWrite.All", got)
	}
	sim := graphsim.NewTestServer(t, graphsim.Seed{Tenants: []graphsim.TenantSeed{{Domain: "contoso.example"}}})
	for _, tt := range []struct {
		groups   bool
		grant    []string
		wantFail bool
	}{
		{true, []string{"User.Invite.All", "User.ReadWrite.All"}, true},
		{true, []string{"User.Invite.All", "User.ReadWrite.All", "Group.ReadWrite.All"}, false},
		{false, []string{"User.Invite.All", "User.ReadWrite.All", "Group.ReadWrite.All"}, false},
	} {
		c, err := graph.New(context.Background(), graph.Options{BaseURL: sim.URL + "/contoso.example/v1.0", Credential: fixedCredential{
			testToken(t, map[string]any{"tid": "0a1b2c3d-0000-4000-8000-00000000000f", "idtyp": "app", "roles": tt.grant})}})
		if err != nil {
			t.Fatal(err)
		}
		got := permissionChecks(context.Background(), "contoso", c, "", OnlineTarget{ProvisionsGroups: tt.groups}.needs())
		failed := slices.ContainsFunc(got, func(c Check) bool {
			return c.Check == "permission "+graph.GroupReadWriteAll && c.Result == CheckFail
		})
		if failed != tt.wantFail {
			t.Errorf("groups %v, grant %v: checks %+v, want Group.ReadWrite.All missing: %v", tt.groups, tt.grant, got, tt.wantFail)
		}
	}
}
