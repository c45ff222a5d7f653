package statuspage

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
)

// App Service authentication ("Easy Auth") signs the caller in before a
// request reaches the app and passes the caller on in request headers it
// sets itself; "External requests aren't allowed to set these headers, so
// they're present only if set by App Service"
// (https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities).
const (
	// PrincipalHeader is the Base64-encoded JSON of the caller's claims.
	PrincipalHeader = "X-MS-CLIENT-PRINCIPAL"
	// PrincipalIDPHeader names the identity provider ("aad").
	PrincipalIDPHeader = "X-MS-CLIENT-PRINCIPAL-IDP"
	// maxPrincipalHeader bounds the header read: a token's claims fit in a
	// few kilobytes, and a header far larger is not the platform's.
	maxPrincipalHeader = 64 << 10
)

// OperatorRole is the value of the app role an operator must hold to see
// the Azure status page; infra/modules/operator-app.bicep declares it and
// internal/devtools/deploycheck holds the two together.
const OperatorRole = "tenantsync.operator"

// Claim types of the principal, as App Service writes them after its
// default claim mapping (the same page, "Decode the client principal
// header"): a role may arrive as "roles" or under the payload's role_typ.
const (
	claimRoles    = "roles"
	claimRoleURI  = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
	claimAudience = "aud"
)

// AppServicePrincipal is the decoded X-MS-CLIENT-PRINCIPAL header: the
// identity provider, the claims (typ, val) and which claim types carry the
// name and the roles.
type AppServicePrincipal struct {
	AuthType string           `json:"auth_typ"`
	Claims   []PrincipalClaim `json:"claims"`
	NameType string           `json:"name_typ"`
	RoleType string           `json:"role_typ"`
}

// PrincipalClaim is one claim of an AppServicePrincipal.
type PrincipalClaim struct {
	Type  string `json:"typ"`
	Value string `json:"val"`
}

// ParseAppServicePrincipal decodes the X-MS-CLIENT-PRINCIPAL header of h.
// ok is false when the header is absent.
func ParseAppServicePrincipal(h http.Header) (p AppServicePrincipal, ok bool, err error) {
	raw := h.Values(PrincipalHeader)
	if len(raw) == 0 {
		return p, false, nil
	}
	if len(raw) != 1 || len(raw[0]) > maxPrincipalHeader {
		return p, true, errors.New("malformed " + PrincipalHeader + " header")
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(raw[0]))
	if err != nil {
		return p, true, fmt.Errorf("%s is not Base64: %w", PrincipalHeader, err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, true, fmt.Errorf("%s is not the principal's JSON: %w", PrincipalHeader, err)
	}
	return p, true, nil
}

// Roles returns the values of the principal's role claims.
func (p AppServicePrincipal) Roles() []string {
	var roles []string
	for _, c := range p.Claims {
		if c.Type == claimRoles || c.Type == claimRoleURI || (p.RoleType != "" && c.Type == p.RoleType) {
			roles = append(roles, c.Value)
		}
	}
	return roles
}

// claim returns the first value of the claim of type typ.
func (p AppServicePrincipal) claim(typ string) string {
	for _, c := range p.Claims {
		if c.Type == typ {
			return c.Value
		}
	}
	return ""
}

// OperatorAuth configures RequireOperator.
type OperatorAuth struct {
	// AppClientID is the client id of the Entra app App Service
	// authentication signs operators in with: the principal's aud claim
	// must be it. Empty closes the page: without it nothing says that the
	// platform, and not the caller, wrote the principal header.
	AppClientID string
	// Role is the app role the principal must hold; empty means
	// OperatorRole.
	Role string
	// Logger receives refusals (the reason only: no claim values, no
	// tokens). Nil means slog.Default().
	Logger *slog.Logger
}

// RequireOperator serves next only to a caller App Service authentication
// signed in for opts.AppClientID with the operator app role; it answers
// 401 without a principal, 403 without the role or for another app, 400
// for a header it cannot read.
//
// It is the app's own check behind the platform's (authsettingsV2 in
// infra/modules/app-auth.bicep requires authentication on every path but
// Graph's webhooks): the platform signs the caller in and strips any
// principal header a client sends, and this makes sure that what reaches
// the page carries the operator role of the right app, whatever the
// platform's settings became. The Functions key is not needed: the
// Status function's authLevel is anonymous.
func RequireOperator(next http.Handler, opts OperatorAuth) http.Handler {
	role := opts.Role
	if role == "" {
		role = OperatorRole
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuse := func(status int, msg string) {
			log.WarnContext(r.Context(), "status page: request refused", "status", status, "reason", msg)
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, msg, status)
		}
		if opts.AppClientID == "" {
			refuse(http.StatusForbidden, "the status page is closed: no Entra sign-in is configured for it (TENANTSYNC_OPERATOR_APP_CLIENT_ID; docs/deploy.md)")
			return
		}
		p, ok, err := ParseAppServicePrincipal(r.Header)
		switch {
		case err != nil:
			refuse(http.StatusBadRequest, "unreadable sign-in: "+err.Error())
			return
		case !ok:
			refuse(http.StatusUnauthorized, "sign in with Microsoft Entra ID to see the status page")
			return
		}
		if idp := r.Header.Get(PrincipalIDPHeader); (idp != "" && idp != "aad") || (p.AuthType != "" && p.AuthType != "aad") {
			refuse(http.StatusForbidden, "the status page accepts Microsoft Entra ID sign-ins only")
			return
		}
		if aud := p.claim(claimAudience); !strings.EqualFold(aud, opts.AppClientID) {
			refuse(http.StatusForbidden, "signed in for another application")
			return
		}
		if !slices.Contains(p.Roles(), role) {
			refuse(http.StatusForbidden, "the status page needs the app role "+role+" (assign it in Enterprise applications; docs/deploy.md)")
			return
		}
		next.ServeHTTP(w, r)
	})
}
