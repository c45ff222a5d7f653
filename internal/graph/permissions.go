package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/organization"

	"github.com/tenantsync/tenantsync/internal/directory"
)

// What the app may do in a tenant, and which tenant it is.
//
// `handler validate --online` compares the Microsoft Graph application
// permissions granted to the app in each tenant with those tenantsync needs
// there, and the webhook compares every notification's tenantId with the
// source tenant's id. Both are read the cheapest trustworthy way:
//
//   - With a token (real Graph), from the access token itself: its roles
//     claim lists the application permissions granted to the app in the
//     tenant the token was issued for, and its tid claim is that tenant's id
//     (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference).
//     The token is the one the client sends anyway, from the credential
//     tenantsync configured, so it is trusted without checking its signature;
//     reading it needs no permission at all.
//   - Without a token (the simulator, auth method none), from Graph: the
//     app's appRoleAssignments
//     (https://learn.microsoft.com/graph/api/serviceprincipal-list-approleassignments,
//     which needs Application.Read.All) and GET /organization
//     (https://learn.microsoft.com/graph/api/organization-get, which needs
//     Organization.Read.All).
//
// Microsoft documents tokens for its own APIs as opaque to clients ("Tokens
// for Microsoft services can use a special format that will not validate as
// a JWT"): a token that does not decode falls back to the Graph reads above
// for the permissions, and is an error for the tenant id.

// PermissionsReferenceURL is Microsoft Graph's permissions reference, which
// lists every permission's name and the id of its app role (the
// "Application" identifier).
const PermissionsReferenceURL = "https://learn.microsoft.com/graph/permissions-reference"

// The Microsoft Graph application permissions tenantsync asks for or warns
// about, by name.
const (
	UserReadAll        = "User.Read.All"
	UserReadWriteAll   = "User.ReadWrite.All"
	UserInviteAll      = "User.Invite.All"
	GroupReadAll       = "Group.Read.All"
	GroupMemberReadAll = "GroupMember.Read.All"
	ApplicationReadAll = "Application.Read.All"
	// GroupReadWriteAll is needed in a target only when group provisioning
	// is configured: it is the least privileged permission that covers
	// every group write tenantsync makes there (groups.go).
	GroupReadWriteAll = "Group.ReadWrite.All"
)

// AppRole is one Microsoft Graph application permission: its name, and the
// id of the app role Microsoft Graph's service principal defines for it,
// which is what an appRoleAssignment's appRoleId holds.
type AppRole struct {
	Name string
	ID   string
}

// AppRoles returns the Microsoft Graph application permissions tenantsync
// can name, sorted by name: the ids are the "Application" identifiers of
// PermissionsReferenceURL. It is the one table of them: the Graph client
// maps appRoleAssignments with it, and the deployment checks hold the Bicep
// to it. It is a function, not a variable, so that nothing can change it.
func AppRoles() []AppRole {
	return []AppRole{
		{"Application.Read.All", "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30"},
		{"Application.ReadWrite.All", "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9"},
		{"Application.ReadWrite.OwnedBy", "18a4783c-866b-4cc7-a460-3d5e5662c884"},
		{"AppRoleAssignment.ReadWrite.All", "06b708a9-e830-4db3-a914-8e69da51d44f"},
		{"Directory.Read.All", "7ab1d382-f21e-4acd-a863-ba3e13f7da61"},
		{"Directory.ReadWrite.All", "19dbc75e-c2e2-444c-a770-ec69d8559fc7"},
		{"Group.Create", "bf7b1a76-6e77-406b-b258-bf5c7720e98f"},
		{"Group.Read.All", "5b567255-7703-4780-807c-7be8301ae99b"},
		{"Group.ReadWrite.All", "62a82d76-70ea-41e2-9197-370581804d09"},
		{"GroupMember.Read.All", "98830695-27a2-44f7-8c18-0c3ebc9698f6"},
		{"GroupMember.ReadWrite.All", "dbaae8cf-10b5-4b86-a4a1-f871c94c6695"},
		{"Organization.Read.All", "498476ce-e0fe-48b0-b801-37ba7e2685c6"},
		{"Organization.ReadWrite.All", "292d869f-3427-49a8-9dab-8c70152b74e9"},
		{"Policy.Read.All", "246dd0d5-5bd0-4def-940b-0421030a5b68"},
		{"Policy.ReadWrite.Authorization", "fb221be6-99f2-473f-bd32-01c6a0e9ca3b"},
		{"User.DeleteRestore.All", "eccc023d-eccf-4e7b-9683-8813ab36cecc"},
		{"User.EnableDisableAccount.All", "3011c876-62b7-4ada-afa2-506cbbecc68c"},
		{"User.Invite.All", "09850681-111b-4a89-9bed-3f2cae46d706"},
		{"User.ManageIdentities.All", "c529cfca-c91b-489c-af2b-d92990b66ce6"},
		{"User.Read.All", "df021288-bdef-4463-88db-98f22de89214"},
		{"User.ReadWrite.All", "741f803b-c850-494e-b5df-cde7c675a1ca"},
	}
}

// AppRoleByID returns the permission whose app role id is id.
func AppRoleByID(id string) (AppRole, bool) {
	for _, r := range AppRoles() {
		if strings.EqualFold(r.ID, id) {
			return r, true
		}
	}
	return AppRole{}, false
}

// AppRoleByName returns the permission named name (any case).
func AppRoleByName(name string) (AppRole, bool) {
	for _, r := range AppRoles() {
		if strings.EqualFold(r.Name, name) {
			return r, true
		}
	}
	return AppRole{}, false
}

// Where a Grant was read from.
const (
	// GrantFromToken: the access token's roles claim.
	GrantFromToken = "the access token's roles claim"
	// GrantFromAssignments: the app's appRoleAssignments in the tenant.
	GrantFromAssignments = "the app's appRoleAssignments"
)

// Grant is the set of Microsoft Graph application permissions granted to
// the app in one tenant.
type Grant struct {
	// Permissions are the names of the granted permissions, sorted.
	Permissions []string
	// Unknown are app role assignments AppRoles does not name, as
	// "<appRoleId> (<resource>)": permissions of another API, or of
	// Microsoft Graph that tenantsync has no use for.
	Unknown []string
	// From says where the grant was read: GrantFromToken or
	// GrantFromAssignments.
	From string
}

// Has reports whether the permission named name is granted.
func (g Grant) Has(name string) bool {
	return slices.ContainsFunc(g.Permissions, func(p string) bool { return strings.EqualFold(p, name) })
}

// GrantUnreadableError says why the grant could not be read, when that is
// not a failure of Graph: the token is a user's (Azure CLI) and no app id
// names the app whose grant to list.
type GrantUnreadableError struct{ Reason string }

func (e *GrantUnreadableError) Error() string {
	return "cannot tell which application permissions are granted: " + e.Reason
}

// IsGUID reports whether s is a GUID (8-4-4-4-12 hexadecimal digits), the
// form of tenant and app ids; a tenant configured by a verified domain is
// not one.
func IsGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if r != '-' {
				return false
			}
		case !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F'):
			return false
		}
	}
	return true
}

// GrantedPermissions returns the application permissions granted to the app
// in the Client's tenant. With an app-only token they are its roles claim;
// otherwise they are listed with
// GET /servicePrincipals(appId='{appID}')/appRoleAssignments, which needs
// Application.Read.All (a 403 is returned as a *directory.Error that
// matches directory.ErrForbidden). A user's token (the Azure CLI) without an
// appID is a *GrantUnreadableError.
func (c *Client) GrantedPermissions(ctx context.Context, appID string) (Grant, error) {
	const op = "read the granted application permissions"
	claims, _, err := c.tokenClaims(ctx, op)
	if err != nil {
		return Grant{}, err
	}
	if claims != nil && claims.appOnly() {
		// The roles claim of an app-only token: "the set of permissions
		// exposed by the application that the requesting application ...
		// has been given permission to call"; Entra leaves it out when
		// there are none (access-token-claims-reference).
		g := Grant{Permissions: []string{}, From: GrantFromToken}
		for _, r := range claims.Roles {
			name := r
			if known, ok := AppRoleByName(r); ok {
				name = known.Name
			}
			if !g.Has(name) {
				g.Permissions = append(g.Permissions, name)
			}
		}
		slices.Sort(g.Permissions)
		return g, nil
	}
	if appID == "" {
		reason := "no application (client) id to look the app up by"
		if claims != nil {
			reason = "the access token is a user's (Azure CLI), carrying the user's delegated scopes, not the app's application permissions, and no application (client) id names the app"
		}
		return Grant{}, &GrantUnreadableError{Reason: reason}
	}
	return c.listAppRoleAssignments(ctx, appID)
}

// listAppRoleAssignments reads the app's grant from Graph, following
// https://learn.microsoft.com/graph/api/serviceprincipal-list-approleassignments:
// one appRoleAssignment per granted app role, appRoleId naming it.
func (c *Client) listAppRoleAssignments(ctx context.Context, appID string) (Grant, error) {
	op := "list the app role assignments of app " + appID
	if !IsGUID(appID) {
		return Grant{}, &directory.Error{Op: op, Status: http.StatusBadRequest, Message: "the application (client) id must be a GUID"}
	}
	raw := c.baseURL + "/servicePrincipals(appId='" + strings.ToLower(appID) + "')/appRoleAssignments"
	info, err := c.sdk.ServicePrincipals().ByServicePrincipalId(appID).AppRoleAssignments().WithUrl(raw).ToGetRequestInformation(ctx, nil)
	if err != nil {
		return Grant{}, &directory.Error{Op: op, Err: err}
	}
	g := Grant{Permissions: []string{}, From: GrantFromAssignments}
	_, err = c.pages(ctx, op, info, func(p *page) error {
		for _, obj := range p.Value {
			id := stringOf(obj["appRoleId"])
			if r, ok := AppRoleByID(id); ok {
				if !g.Has(r.Name) {
					g.Permissions = append(g.Permissions, r.Name)
				}
				continue
			}
			resource := stringOf(obj["resourceDisplayName"])
			if resource == "" {
				resource = "resource " + stringOf(obj["resourceId"])
			}
			g.Unknown = append(g.Unknown, fmt.Sprintf("%s (%s)", id, resource))
		}
		return nil
	})
	if err != nil {
		return Grant{}, err
	}
	slices.Sort(g.Permissions)
	slices.Sort(g.Unknown)
	return g, nil
}

// TenantID returns the id of the Client's tenant: the tid claim of its
// access token, or without a token (the simulator) the id GET /organization
// returns. The webhook compares it with the tenantId of every notification
// when the source tenant is configured by a domain.
func (c *Client) TenantID(ctx context.Context) (string, error) {
	const op = "learn the tenant id"
	claims, hasToken, err := c.tokenClaims(ctx, op)
	switch {
	case err != nil:
		return "", err
	case claims != nil && IsGUID(claims.TenantID):
		return strings.ToLower(claims.TenantID), nil
	case claims != nil:
		return "", &directory.Error{Op: op, Message: "the access token carries no tenant id (tid claim)"}
	case hasToken:
		// Not a JWT. GET /organization would need Organization.Read.All,
		// which tenantsync is not granted.
		return "", &directory.Error{Op: op, Message: "the access token does not decode as a JWT, so its tenant id (tid claim) cannot be read"}
	}
	info, err := c.sdk.Organization().ToGetRequestInformation(ctx, &organization.OrganizationRequestBuilderGetRequestConfiguration{
		QueryParameters: &organization.OrganizationRequestBuilderGetQueryParameters{Select: []string{"id"}},
	})
	if err != nil {
		return "", &directory.Error{Op: op, Err: err}
	}
	var p page
	if err := c.getJSON(ctx, op, info, &p); err != nil {
		return "", err
	}
	if len(p.Value) != 1 || !IsGUID(stringOf(p.Value[0]["id"])) {
		return "", &directory.Error{Op: op, Message: fmt.Sprintf("GET /organization returned %d organizations, want one with a GUID id", len(p.Value))}
	}
	return strings.ToLower(stringOf(p.Value[0]["id"])), nil
}

// accessClaims are the claims of an access token tenantsync reads
// (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference).
type accessClaims struct {
	// TenantID (tid): "the tenant that the user is signing in to", for an
	// app the tenant the token was issued in.
	TenantID string `json:"tid"`
	// Roles: the application permissions of an app-only token.
	Roles []string `json:"roles"`
	// Scope (scp): the delegated scopes of a user's token.
	Scope string `json:"scp"`
	// IDType (idtyp): "app" for app-only tokens, "user" for users'.
	IDType string `json:"idtyp"`
}

// appOnly reports whether the token is the app's own (client credentials),
// whose roles are the app's grant, rather than a user's.
func (a *accessClaims) appOnly() bool {
	switch a.IDType {
	case "app":
		return true
	case "user":
		return false
	}
	return a.Scope == ""
}

// tokenClaims returns the claims of the access token the Client sends to
// its tenant: nil claims when it sends none (no credential) or when the
// token is not a JWT, which hasToken tells apart. The token is obtained the
// way every request obtains it (the same credential and cache), and never
// leaves this function.
func (c *Client) tokenClaims(ctx context.Context, op string) (claims *accessClaims, hasToken bool, err error) {
	token, err := c.bearerToken(ctx, op)
	if err != nil || token == "" {
		return nil, false, err
	}
	claims, ok := decodeClaims(token)
	if !ok {
		return nil, true, nil
	}
	return claims, true, nil
}

// bearerToken returns the token the Client's authentication provider puts
// on a request to its tenant, "" when it puts none. Nothing is sent.
func (c *Client) bearerToken(ctx context.Context, op string) (string, error) {
	info, err := c.sdk.Organization().ToGetRequestInformation(ctx, nil)
	if err != nil {
		return "", &directory.Error{Op: op, Err: err}
	}
	native, err := c.adapter.ConvertToNativeRequest(ctx, info)
	if err != nil {
		return "", mapError(op, err, nil)
	}
	req, ok := native.(*http.Request)
	if !ok {
		return "", &directory.Error{Op: op, Err: errors.New("the request adapter did not build an HTTP request")}
	}
	token, found := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	if !found {
		return "", nil
	}
	return token, nil
}

// decodeClaims reads the payload of a JWT without checking its signature:
// the token came from tenantsync's own credential over TLS.
func decodeClaims(token string) (*accessClaims, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, false
	}
	var claims accessClaims
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, false
	}
	return &claims, true
}
