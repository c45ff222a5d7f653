package statuspage_test

import (
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/internal/statuspage"
)

const operatorAppID = "6d1b3c2a-5f4e-4a8b-9c0d-1e2f3a4b5c6d"

// principalPayload is an X-MS-CLIENT-PRINCIPAL payload in the shape App
// Service authentication sends for a Microsoft Entra sign-in: the object
// {auth_typ, claims: [{typ, val}], name_typ, role_typ} of "Decode the client
// principal header"
// (https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities),
// with the claims of a v2.0 ID token after App Service's default claim
// mapping, in the order public recordings of App Service's /.auth/me for a
// Microsoft Entra sign-in list them (user_claims there are these claims):
// aud (the app's client id), iss (…/v2.0), iat, nbf, exp, aio, c_hash, then
// name, the object id and tenant id under their schemas.microsoft.com URIs,
// preferred_username, roles. It is written from that documentation and
// those recordings, not captured from this app: no Azure subscription is
// reachable from the tests. Ids and hashes are made up.
const principalPayload = `{"auth_typ":"aad","claims":[` +
	`{"typ":"aud","val":"` + operatorAppID + `"},` +
	`{"typ":"iss","val":"https://login.microsoftonline.com/0b6f4b2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b/v2.0"},` +
	`{"typ":"iat","val":"1764640000"},{"typ":"nbf","val":"1764640000"},{"typ":"exp","val":"1764643900"},` +
	`{"typ":"aio","val":"AXQAi/8WAAAAmadeupmadeupmadeup=="},{"typ":"c_hash","val":"SJrYQ7FANUNtmadeupZUg"},` +
	`{"typ":"name","val":"Olivia Operator"},` +
	`{"typ":"http://schemas.microsoft.com/identity/claims/objectidentifier","val":"3f2e1d0c-9b8a-4766-8554-433221100fff"},` +
	`{"typ":"preferred_username","val":"olivia@fabrikam.example"},` +
	`{"typ":"roles","val":"` + statuspage.OperatorRole + `"},` +
	`{"typ":"http://schemas.microsoft.com/identity/claims/tenantid","val":"0b6f4b2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b"},` +
	`{"typ":"ver","val":"2.0"}],` +
	`"name_typ":"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",` +
	`"role_typ":"http://schemas.microsoft.com/ws/2008/06/identity/claims/role"}`

func encodePrincipal(payload string) string {
	return base64.StdEncoding.EncodeToString([]byte(payload))
}

func TestParseAppServicePrincipal(t *testing.T) {
	h := http.Header{}
	h.Set(statuspage.PrincipalHeader, encodePrincipal(principalPayload))
	p, ok, err := statuspage.ParseAppServicePrincipal(h)
	if err != nil || !ok {
		t.Fatalf("ParseAppServicePrincipal = %v, %v", ok, err)
	}
	if p.AuthType != "aad" || len(p.Claims) != 13 {
		t.Errorf("principal = %+v", p)
	}
	if roles := p.Roles(); len(roles) != 1 || roles[0] != statuspage.OperatorRole {
		t.Errorf("Roles() = %q", roles)
	}
	// A role under role_typ counts as well as one under "roles".
	uri := strings.Replace(principalPayload, `"typ":"roles"`, `"typ":"http://schemas.microsoft.com/ws/2008/06/identity/claims/role"`, 1)
	h.Set(statuspage.PrincipalHeader, encodePrincipal(uri))
	if p, _, _ := statuspage.ParseAppServicePrincipal(h); len(p.Roles()) != 1 {
		t.Errorf("role under role_typ not found: %q", p.Roles())
	}
}

func TestRequireOperator(t *testing.T) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "the page") })
	withoutRole := strings.Replace(principalPayload, `{"typ":"roles","val":"`+statuspage.OperatorRole+`"},`, "", 1)
	otherApp := strings.Replace(principalPayload, operatorAppID, "99999999-9999-4999-8999-999999999999", 1)
	otherRole := strings.Replace(principalPayload, `"val":"`+statuspage.OperatorRole+`"`, `"val":"tenantsync.reader"`, 1)
	tests := []struct {
		name      string
		appID     string
		principal string // encoded header value; "" for none
		idp       string
		want      int
	}{
		{"operator", operatorAppID, encodePrincipal(principalPayload), "aad", http.StatusOK},
		{"operator, app id in another case", strings.ToUpper(operatorAppID), encodePrincipal(principalPayload), "aad", http.StatusOK},
		{"no principal: not signed in", operatorAppID, "", "", http.StatusUnauthorized},
		{"signed in without the role", operatorAppID, encodePrincipal(withoutRole), "aad", http.StatusForbidden},
		{"another role", operatorAppID, encodePrincipal(otherRole), "aad", http.StatusForbidden},
		{"signed in for another app", operatorAppID, encodePrincipal(otherApp), "aad", http.StatusForbidden},
		{"another identity provider", operatorAppID, encodePrincipal(principalPayload), "github", http.StatusForbidden},
		{"not Base64", operatorAppID, "%%%", "aad", http.StatusBadRequest},
		{"not JSON", operatorAppID, encodePrincipal("{roles"), "aad", http.StatusBadRequest},
		{"no sign-in configured: closed even to an operator", "", encodePrincipal(principalPayload), "aad", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := statuspage.RequireOperator(page, statuspage.OperatorAuth{AppClientID: tt.appID, Logger: slog.New(slog.DiscardHandler)})
			r := httptest.NewRequest(http.MethodGet, "/api/status", nil)
			if tt.principal != "" {
				r.Header.Set(statuspage.PrincipalHeader, tt.principal)
			}
			if tt.idp != "" {
				r.Header.Set(statuspage.PrincipalIDPHeader, tt.idp)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("status %d (%s); want %d", w.Code, strings.TrimSpace(w.Body.String()), tt.want)
			}
			if tt.want == http.StatusOK && w.Body.String() != "the page" {
				t.Errorf("body %q; want the page", w.Body.String())
			}
			if tt.want != http.StatusOK && strings.Contains(w.Body.String(), "olivia") {
				t.Errorf("a refusal echoes the principal: %q", w.Body.String())
			}
		})
	}
}
