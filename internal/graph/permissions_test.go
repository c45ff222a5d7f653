package graph_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/graph"
	"github.com/tenantsync/tenantsync/internal/graphsim"
)

const tsAppID = "2f5c9d1e-8a4b-4c3d-9e7f-1a2b3c4d5e6f"

// jwt builds an unsigned token with claims, the shape Entra issues
// (header.payload.signature, base64url without padding).
func jwt(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"typ":"JWT","alg":"RS256"}`)) + "." + enc(payload) + "." + enc([]byte("not-checked"))
}

// tokenCredential hands out one fixed token.
type tokenCredential struct{ token string }

func (c tokenCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// tenantIDOf returns the simulator's id of a tenant.
func tenantIDOf(t *testing.T, sim *simServer, domain string) string {
	t.Helper()
	for _, ti := range sim.Tenants() {
		if ti.Domain == domain {
			return ti.ID
		}
	}
	t.Fatalf("no tenant %s", domain)
	return ""
}

// TestAppRolesAgreeWithTheSimulator grants each permission of the table
// alone in the simulator, whose ids are Microsoft Graph's, and lists it
// back through appRoleAssignments: a wrong id in either table names the
// wrong permission or none.
func TestAppRolesAgreeWithTheSimulator(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.client(t, source)
	seen := map[string]bool{}
	for _, r := range graph.AppRoles() {
		t.Run(r.Name, func(t *testing.T) {
			if !graph.IsGUID(r.ID) || seen[strings.ToLower(r.ID)] || seen[r.Name] {
				t.Fatalf("%s: id %q is not a GUID, or the name or id is in the table twice", r.Name, r.ID)
			}
			seen[strings.ToLower(r.ID)], seen[r.Name] = true, true
			// Application.Read.All as well, to be allowed to list.
			if err := sim.SetPermissions(source, []string{r.Name, graph.ApplicationReadAll}); err != nil {
				t.Fatalf("the simulator does not know %s: %v", r.Name, err)
			}
			g, err := c.GrantedPermissions(context.Background(), tsAppID)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{graph.ApplicationReadAll}
			if r.Name != graph.ApplicationReadAll {
				want = sorted([]string{r.Name, graph.ApplicationReadAll})
			}
			if !equalStrings(g.Permissions, want) || len(g.Unknown) != 0 || g.From != graph.GrantFromAssignments {
				t.Errorf("grant %+v, want %v from appRoleAssignments", g, want)
			}
			if byID, ok := graph.AppRoleByID(strings.ToUpper(r.ID)); !ok || byID != r {
				t.Errorf("AppRoleByID(%s) = %+v, %v", r.ID, byID, ok)
			}
			if byName, ok := graph.AppRoleByName(strings.ToLower(r.Name)); !ok || byName != r {
				t.Errorf("AppRoleByName(%s) = %+v, %v", r.Name, byName, ok)
			}
		})
	}
}

func TestGrantedPermissions(t *testing.T) {
	appToken := func(roles ...string) string {
		return jwt(t, map[string]any{"tid": "0a1b2c3d-0000-4000-8000-00000000000f", "idtyp": "app", "roles": roles})
	}
	tests := []struct {
		name  string
		perms []string // the simulator's grant; nil = all
		token string   // "" = no credential
		appID string
		want  []string
		from  string
		// requests to the appRoleAssignments route
		listed int
		err    func(error) bool
	}{{
		name: "no token: listed", perms: []string{"User.Read.All", "Group.Read.All", "Application.Read.All"}, appID: tsAppID,
		want: []string{"Application.Read.All", "Group.Read.All", "User.Read.All"}, from: graph.GrantFromAssignments, listed: 1,
	}, {
		name: "no token, everything granted: all the simulator knows", appID: tsAppID,
		want: func() []string {
			var all []string
			for _, r := range graph.AppRoles() {
				all = append(all, r.Name)
			}
			return sorted(all)
		}(), from: graph.GrantFromAssignments, listed: 1,
	}, {
		name: "no token, listing not allowed: forbidden", perms: []string{"User.Read.All", "Group.Read.All"}, appID: tsAppID, listed: 1,
		err: func(err error) bool { return errors.Is(err, directory.ErrForbidden) },
	}, {
		name: "no token, no app id", appID: "",
		err: func(err error) bool { var u *graph.GrantUnreadableError; return errors.As(err, &u) },
	}, {
		name: "no token, app id not a GUID", appID: "tenantsync",
		err: func(err error) bool { return errors.Is(err, directory.ErrBadRequest) },
	}, {
		name: "app token: its roles, nothing asked of Graph", perms: []string{}, token: appToken("user.read.all", "Group.Read.All"),
		want: []string{"Group.Read.All", "User.Read.All"}, from: graph.GrantFromToken,
	}, {
		name: "app token without roles: nothing granted", perms: []string{}, token: jwt(t, map[string]any{"tid": "0a1b2c3d-0000-4000-8000-00000000000f", "idtyp": "app"}),
		want: []string{}, from: graph.GrantFromToken,
	}, {
		name: "user token (Azure CLI) without an app id", token: jwt(t, map[string]any{"tid": "0a1b2c3d-0000-4000-8000-00000000000f", "scp": "Directory.AccessAsUser.All", "idtyp": "user"}),
		err: func(err error) bool {
			var u *graph.GrantUnreadableError
			return errors.As(err, &u) && strings.Contains(u.Reason, "user")
		},
	}, {
		name: "user token with an app id: listed", perms: []string{"User.Invite.All", "Application.Read.All"}, appID: tsAppID,
		token: jwt(t, map[string]any{"tid": "0a1b2c3d-0000-4000-8000-00000000000f", "scp": "User.Read"}),
		want:  []string{"Application.Read.All", "User.Invite.All"}, from: graph.GrantFromAssignments, listed: 1,
	}, {
		name: "a token that is not a JWT: listed", perms: []string{"User.ReadWrite.All", "Application.Read.All"}, appID: tsAppID, token: "opaque-token",
		want: []string{"Application.Read.All", "User.ReadWrite.All"}, from: graph.GrantFromAssignments, listed: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := newSim(t, graphsim.Options{})
			if err := sim.SetPermissions(target, tt.perms); err != nil {
				t.Fatal(err)
			}
			opts := graph.Options{BaseURL: sim.tenantURL(target)}
			if tt.token != "" {
				opts.Credential = tokenCredential{tt.token}
			}
			g, err := sim.clientWith(t, opts).GrantedPermissions(context.Background(), tt.appID)
			if tt.err != nil {
				if err == nil || !tt.err(err) {
					t.Fatalf("error %v (%T), want the other kind; grant %+v", err, err, g)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if !equalStrings(g.Permissions, tt.want) || g.From != tt.from {
				t.Errorf("grant %v from %q, want %v from %q", g.Permissions, g.From, tt.want, tt.from)
			}
			listed := 0
			for _, r := range sim.recorded() {
				if strings.HasSuffix(r.Path, "/appRoleAssignments") {
					listed++
					if want := "/" + target + "/v1.0/servicePrincipals(appId='" + tsAppID + "')/appRoleAssignments"; r.Path != want || r.Method != http.MethodGet {
						t.Errorf("listed with %s %s, want GET %s", r.Method, r.Path, want)
					}
				}
				if tt.token != "" && r.Header.Get("Authorization") != "Bearer "+tt.token {
					t.Errorf("a request went without the client's token")
				}
			}
			if listed != tt.listed {
				t.Errorf("%d appRoleAssignments requests, want %d", listed, tt.listed)
			}
			if w := sim.Stats().Tenants[target].Writes; w != 0 {
				t.Errorf("reading the grant wrote %d times", w)
			}
		})
	}
}

// TestGrantedPermissionsOfAnotherAPI lists, next to Graph's, an app role
// of another API: it is reported, not dropped and not mistaken for Graph's.
func TestGrantedPermissionsOfAnotherAPI(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	if err := sim.SetPermissions(target, []string{"User.Invite.All", "Application.Read.All"}); err != nil {
		t.Fatal(err)
	}
	hs := newWrapped(t, sim, func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/appRoleAssignments") {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"value":[` +
			`{"appRoleId":"09850681-111b-4a89-9bed-3f2cae46d706","resourceDisplayName":"Microsoft Graph"},` +
			`{"appRoleId":"dc50a0fb-09a3-484d-be87-e023b12c6440","resourceDisplayName":"Office 365 Exchange Online"}]}`))
		return true
	})
	c := sim.clientWith(t, graph.Options{BaseURL: hs + "/" + target + "/v1.0"})
	g, err := c.GrantedPermissions(context.Background(), tsAppID)
	if err != nil {
		t.Fatal(err)
	}
	if !equalStrings(g.Permissions, []string{"User.Invite.All"}) ||
		!equalStrings(g.Unknown, []string{"dc50a0fb-09a3-484d-be87-e023b12c6440 (Office 365 Exchange Online)"}) {
		t.Errorf("grant %+v", g)
	}
}

func TestTenantID(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	want := tenantIDOf(t, sim, source)
	tests := []struct {
		name  string
		perms []string
		token string
		want  string
		// organization requests
		asked int64
		err   func(error) bool
	}{
		{name: "no token: GET /organization", want: want, asked: 1},
		{name: "no token, Organization.Read.All not granted", perms: []string{"User.Read.All", "Group.Read.All"}, asked: 1,
			err: func(err error) bool { return errors.Is(err, directory.ErrForbidden) }},
		{name: "token: its tid, nothing asked of Graph", perms: []string{},
			token: jwt(t, map[string]any{"tid": "0A1B2C3D-0000-4000-8000-00000000000F", "idtyp": "app"}), want: "0a1b2c3d-0000-4000-8000-00000000000f"},
		{name: "token without tid", token: jwt(t, map[string]any{"idtyp": "app"}),
			err: func(err error) bool { return strings.Contains(err.Error(), "tid") }},
		{name: "token that is not a JWT", token: "opaque",
			err: func(err error) bool { return strings.Contains(err.Error(), "does not decode") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim.reset()
			if err := sim.SetPermissions(source, tt.perms); err != nil {
				t.Fatal(err)
			}
			opts := graph.Options{BaseURL: sim.tenantURL(source)}
			if tt.token != "" {
				opts.Credential = tokenCredential{tt.token}
			}
			got, err := sim.clientWith(t, opts).TenantID(context.Background())
			switch {
			case tt.err != nil:
				if err == nil || !tt.err(err) {
					t.Fatalf("TenantID = %q, %v; want the other error", got, err)
				}
			case err != nil:
				t.Fatal(err)
			case got != tt.want:
				t.Errorf("TenantID = %q, want %q", got, tt.want)
			}
			if n := sim.Stats().Tenants[source].Routes["GET /organization"]; n != tt.asked {
				t.Errorf("%d GET /organization, want %d", n, tt.asked)
			}
		})
	}
}

func TestIsGUID(t *testing.T) {
	for s, want := range map[string]bool{
		"0a1b2c3d-0000-4000-8000-00000000000f": true,
		"0A1B2C3D-0000-4000-8000-00000000000F": true,
		"0a1b2c3d-0000-4000-8000-00000000000":  false,
		"0a1b2c3d00000-4000-8000-00000000000f": false,
		"0a1b2c3d-0000-4000-8000-00000000000g": false,
		"fabrikam.example":                     false,
		"":                                     false,
	} {
		if got := graph.IsGUID(s); got != want {
			t.Errorf("IsGUID(%q) = %v, want %v", s, got, want)
		}
	}
}

// newWrapped serves the simulator behind override, which answers the
// requests it returns true for; it returns the server's URL.
func newWrapped(t *testing.T, sim *simServer, override func(http.ResponseWriter, *http.Request) bool) string {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !override(w, r) {
			sim.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(hs.Close)
	return hs.URL
}
