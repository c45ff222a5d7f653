package graphsim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// Application permissions. A tenant may restrict the application
// permissions (app roles of Microsoft Graph) granted to the app; every Graph
// request is then checked, as Graph does, against the permissions its API
// reference page lists in its "Permissions" section: the least privileged
// one or any higher privileged one. A request the grant does not cover is
// answered 403 Authorization_RequestDenied.

// graphAppRoles are the application permissions the simulator knows, by
// name, with the id of the app role that Microsoft Graph's service
// principal defines for each (https://learn.microsoft.com/graph/permissions-reference, "Identifier",
// Application column). A seed or SetPermissions naming any other
// permission is refused, so that a typing mistake cannot silently deny.
var graphAppRoles = map[string]string{
	"Application.Read.All":            "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
	"Application.ReadWrite.All":       "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
	"Application.ReadWrite.OwnedBy":   "18a4783c-866b-4cc7-a460-3d5e5662c884",
	"AppRoleAssignment.ReadWrite.All": "06b708a9-e830-4db3-a914-8e69da51d44f",
	"Directory.Read.All":              "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
	"Directory.ReadWrite.All":         "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
	"Group.Create":                    "bf7b1a76-6e77-406b-b258-bf5c7720e98f",
	"Group.Read.All":                  "5b567255-7703-4780-807c-7be8301ae99b",
	"Group.ReadWrite.All":             "62a82d76-70ea-41e2-9197-370581804d09",
	"GroupMember.Read.All":            "98830695-27a2-44f7-8c18-0c3ebc9698f6",
	"GroupMember.ReadWrite.All":       "dbaae8cf-10b5-4b86-a4a1-f871c94c6695",
	"Organization.Read.All":           "498476ce-e0fe-48b0-b801-37ba7e2685c6",
	"Organization.ReadWrite.All":      "292d869f-3427-49a8-9dab-8c70152b74e9",
	"Policy.Read.All":                 "246dd0d5-5bd0-4def-940b-0421030a5b68",
	"Policy.ReadWrite.Authorization":  "fb221be6-99f2-473f-bd32-01c6a0e9ca3b",
	"User.DeleteRestore.All":          "eccc023d-eccf-4e7b-9683-8813ab36cecc",
	"User.EnableDisableAccount.All":   "3011c876-62b7-4ada-afa2-506cbbecc68c",
	"User.Invite.All":                 "09850681-111b-4a89-9bed-3f2cae46d706",
	"User.ManageIdentities.All":       "c529cfca-c91b-489c-af2b-d92990b66ce6",
	"User.Read.All":                   "df021288-bdef-4463-88db-98f22de89214",
	"User.ReadWrite.All":              "741f803b-c850-494e-b5df-cde7c675a1ca",
}

// permRule is one row of the permission table: the Graph page and section
// it follows, and the permission sets that allow the operation. Any one set
// suffices; a set of several permissions needs all of them (Graph lists
// such pairs as "User.Read.All and GroupMember.Read.All").
type permRule struct {
	doc   string
	anyOf [][]string
}

// oneOf is a rule's permission sets when each permission suffices alone.
func oneOf(names ...string) [][]string {
	sets := make([][]string, len(names))
	for i, n := range names {
		sets[i] = []string{n}
	}
	return sets
}

const graphAPI = "https://learn.microsoft.com/graph/api/"

// permTable is the route → accepted permissions table: the Application
// row of each page's "Permissions" section, least privileged permission
// first, then the higher privileged ones. Permissions that the simulator
// cannot grant (GroupMember.ReadBasic.All, Group.ReadBasic.All and the
// per-property User-*.ReadWrite.All permissions, whose app role ids it does
// not know) are left out, so the table is stricter than Graph there.
var permTable = map[string]permRule{
	"GET /users": {graphAPI + "user-list#permissions",
		oneOf("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")},
	"GET /users/{id}": {graphAPI + "user-get#permissions",
		oneOf("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")},
	"GET /users/delta": {graphAPI + "user-delta#permissions",
		oneOf("User.Read.All", "Directory.Read.All", "Directory.ReadWrite.All", "User.ReadWrite.All")},
	"POST /users": {graphAPI + "user-post-users#permissions",
		oneOf("User.ReadWrite.All", "Directory.ReadWrite.All")},
	// PATCH /users/{id} is checked per property: every property of the body
	// needs its row.
	"PATCH /users/{id}": {graphAPI + "user-update#permissions",
		oneOf("User.ReadWrite.All", "Directory.ReadWrite.All")},
	"PATCH /users/{id} accountEnabled": {graphAPI + "user-update#permissions-for-specific-scenarios (User.EnableDisableAccount.All + User.Read.All for accountEnabled)",
		[][]string{{"User.EnableDisableAccount.All", "User.Read.All"}, {"User.ReadWrite.All"}, {"Directory.ReadWrite.All"}}},
	"PATCH /users/{id} identities": {graphAPI + "user-update#permissions (\"Updating the identities property requires the User.ManageIdentities.All permission\")",
		oneOf("User.ManageIdentities.All")},
	"DELETE /users/{id}": {graphAPI + "user-delete#permissions",
		oneOf("User.DeleteRestore.All", "User.ReadWrite.All")},
	"GET /users/{id}/manager": {graphAPI + "user-list-manager#permissions",
		oneOf("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")},
	"PUT /users/{id}/manager/$ref": {graphAPI + "user-post-manager#permissions",
		oneOf("User.ReadWrite.All", "Directory.ReadWrite.All")},
	"DELETE /users/{id}/manager/$ref": {graphAPI + "user-delete-manager#permissions",
		oneOf("User.ReadWrite.All", "Directory.ReadWrite.All")},
	"GET /users/{id}/directReports": {graphAPI + "user-list-directreports#permissions",
		oneOf("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")},
	"GET /users/{id}/memberOf": {graphAPI + "user-list-memberof#permissions (another user's direct memberships)",
		oneOf("Directory.Read.All", "Directory.ReadWrite.All")},
	"GET /users/{id}/transitiveMemberOf": {graphAPI + "user-list-transitivememberof#permissions",
		oneOf("User.Read.All", "Directory.Read.All", "Directory.ReadWrite.All", "Group.Read.All", "GroupMember.Read.All")},
	"POST /users/{id}/checkMemberGroups": {graphAPI + "user-checkmembergroups#permissions (group memberships for other users)",
		[][]string{{"User.Read.All", "GroupMember.Read.All"}, {"User.Read.All", "Group.Read.All"}, {"Directory.Read.All"}}},
	"GET /groups": {graphAPI + "group-list#permissions",
		oneOf("GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")},
	"GET /groups/{id}": {graphAPI + "group-get#permissions",
		oneOf("GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")},
	"GET /groups/delta": {graphAPI + "group-delta#permissions",
		oneOf("GroupMember.Read.All", "Directory.Read.All", "Directory.ReadWrite.All", "Group.Read.All", "Group.ReadWrite.All")},
	"POST /groups": {graphAPI + "group-post-groups#permissions",
		oneOf("Group.Create", "Group.ReadWrite.All", "Directory.ReadWrite.All")},
	// "In order for an app with Group.Create permission to create a group
	// with owners or members, it must have the privileges to read the
	// object type that it wants to assign ... To create the group with
	// users as owners or members, the app must have at least the
	// User.Read.All permission." Group.ReadWrite.All and
	// Directory.ReadWrite.All need nothing more.
	"POST /groups with members or owners": {graphAPI + "group-post-groups#permissions",
		[][]string{{"Group.Create", "User.Read.All"}, {"Group.Create", "Directory.Read.All"}, {"Group.ReadWrite.All"}, {"Directory.ReadWrite.All"}}},
	"PATCH /groups/{id}": {graphAPI + "group-update#permissions",
		oneOf("Group.ReadWrite.All", "Directory.ReadWrite.All")},
	"DELETE /groups/{id}": {graphAPI + "group-delete#permissions",
		oneOf("Group.ReadWrite.All")},
	"GET /groups/{id}/members": {graphAPI + "group-list-members#permissions",
		oneOf("GroupMember.Read.All", "Directory.Read.All", "Group.Read.All", "Group.ReadWrite.All", "GroupMember.ReadWrite.All")},
	"GET /groups/{id}/transitiveMembers": {graphAPI + "group-list-transitivemembers#permissions",
		oneOf("Directory.Read.All", "Group.Read.All", "Group.ReadWrite.All", "GroupMember.Read.All", "GroupMember.ReadWrite.All")},
	"POST /groups/{id}/members/$ref": {graphAPI + "group-post-members#permissions",
		oneOf("GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All")},
	"DELETE /groups/{id}/members/{id}/$ref": {graphAPI + "group-delete-members#permissions",
		oneOf("GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All")},
	"GET /directory/deletedItems (users)": {graphAPI + "directory-deleteditems-list#permissions",
		oneOf("User.Read.All", "User.DeleteRestore.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")},
	"GET /directory/deletedItems (groups)": {graphAPI + "directory-deleteditems-list#permissions",
		oneOf("Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")},
	"POST /directory/deletedItems/{id}/restore (user)": {graphAPI + "directory-deleteditems-restore#permissions",
		oneOf("User.DeleteRestore.All", "User.ReadWrite.All")},
	"POST /directory/deletedItems/{id}/restore (group)": {graphAPI + "directory-deleteditems-restore#permissions",
		oneOf("Group.ReadWrite.All")},
	"DELETE /directory/deletedItems/{id} (user)": {graphAPI + "directory-deleteditems-delete#permissions",
		oneOf("User.DeleteRestore.All", "User.ReadWrite.All")},
	"DELETE /directory/deletedItems/{id} (group)": {graphAPI + "directory-deleteditems-delete#permissions",
		oneOf("Group.ReadWrite.All")},
	"POST /invitations": {graphAPI + "invitation-post#permissions",
		oneOf("User.Invite.All", "Directory.ReadWrite.All", "User.ReadWrite.All")},
	// Subscriptions: the permission of the resource subscribed to. The
	// table names only the Read.All permission; its ReadWrite.All superset
	// is accepted too. GroupMember.Read.All is not enough for groups.
	"POST /subscriptions (users)": {graphAPI + "subscription-post-subscriptions#permissions (user)",
		oneOf("User.Read.All", "User.ReadWrite.All")},
	"POST /subscriptions (groups)": {graphAPI + "subscription-post-subscriptions#permissions (group)",
		oneOf("Group.Read.All", "Group.ReadWrite.All")},
	"GET /organization": {graphAPI + "organization-get#permissions",
		oneOf("Organization.Read.All", "Directory.Read.All", "Organization.ReadWrite.All", "Directory.ReadWrite.All")},
	"GET /policies/authorizationPolicy": {graphAPI + "authorizationpolicy-get#permissions",
		oneOf("Policy.Read.All", "Policy.ReadWrite.Authorization")},
	"GET /servicePrincipals(appId='{appId}')": {graphAPI + "serviceprincipal-get#permissions",
		oneOf("Application.Read.All", "Application.ReadWrite.All", "Application.ReadWrite.OwnedBy", "Directory.Read.All", "Directory.ReadWrite.All")},
	"GET /servicePrincipals/{id}/appRoleAssignments": {graphAPI + "serviceprincipal-list-approleassignments#permissions",
		oneOf("Application.Read.All", "Application.ReadWrite.All", "Application.ReadWrite.OwnedBy", "Directory.Read.All", "Directory.ReadWrite.All")},
}

// staticRules maps the routes whose permissions do not depend on the
// request to their row of permTable. The other routes are in permKeys.
var staticRules = map[routeID]string{
	routeListUsers:                "GET /users",
	routeGetUser:                  "GET /users/{id}",
	routeUsersDelta:               "GET /users/delta",
	routeCreateUser:               "POST /users",
	routeDeleteUser:               "DELETE /users/{id}",
	routeGetManager:               "GET /users/{id}/manager",
	routePutManager:               "PUT /users/{id}/manager/$ref",
	routeDeleteManager:            "DELETE /users/{id}/manager/$ref",
	routeDirectReports:            "GET /users/{id}/directReports",
	routeMemberOf:                 "GET /users/{id}/memberOf",
	routeMemberOfGroups:           "GET /users/{id}/memberOf",
	routeTransitiveMemberOf:       "GET /users/{id}/transitiveMemberOf",
	routeTransitiveMemberOfGroups: "GET /users/{id}/transitiveMemberOf",
	routeCheckMemberGroups:        "POST /users/{id}/checkMemberGroups",
	routeListGroups:               "GET /groups",
	routeGetGroup:                 "GET /groups/{id}",
	routeGroupsDelta:              "GET /groups/delta",
	routeGetGroupByUniqueName:     "GET /groups/{id}",
	routeDeleteGroup:              "DELETE /groups/{id}",
	routeMembers:                  "GET /groups/{id}/members",
	routeMembersCast:              "GET /groups/{id}/members",
	routeTransitiveMembers:        "GET /groups/{id}/transitiveMembers",
	routeTransitiveMembersCast:    "GET /groups/{id}/transitiveMembers",
	routeAddMember:                "POST /groups/{id}/members/$ref",
	routeRemoveMember:             "DELETE /groups/{id}/members/{id}/$ref",
	routeInvite:                   "POST /invitations",
	routeOrganization:             "GET /organization",
	routeAuthorizationPolicy:      "GET /policies/authorizationPolicy",
	routeGetServicePrincipal:      "GET /servicePrincipals(appId='{appId}')",
	routeAppRoleAssignments:       "GET /servicePrincipals/{id}/appRoleAssignments",
}

// grant is the set of application permissions granted to the app in a
// tenant; a nil *grant grants them all.
type grant struct {
	names []string // canonical names, sorted
	has   map[string]bool
}

// newGrant validates permission names (case-insensitively) and returns the
// grant: nil for nil (all granted), an empty grant for an empty list.
func newGrant(perms []string) (*grant, error) {
	if perms == nil {
		return nil, nil
	}
	g := &grant{names: []string{}, has: map[string]bool{}}
	for _, p := range perms {
		name, ok := canonicalPermission(p)
		if !ok {
			return nil, fmt.Errorf("unknown application permission %q; the simulator knows %s", p, strings.Join(knownPermissions(), ", "))
		}
		if !g.has[name] {
			g.has[name] = true
			g.names = append(g.names, name)
		}
	}
	sort.Strings(g.names)
	return g, nil
}

func canonicalPermission(p string) (string, bool) {
	p = strings.TrimSpace(p)
	for name := range graphAppRoles {
		if strings.EqualFold(name, p) {
			return name, true
		}
	}
	return "", false
}

func knownPermissions() []string {
	names := make([]string, 0, len(graphAppRoles))
	for n := range graphAppRoles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// list returns the granted permission names; nil means all.
func (g *grant) list() []string {
	if g == nil {
		return nil
	}
	return slices.Clone(g.names)
}

// allows reports whether the grant covers a rule.
func (g *grant) allows(r permRule) bool {
	if g == nil {
		return true
	}
	for _, set := range r.anyOf {
		ok := true
		for _, p := range set {
			if !g.has[p] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// errInsufficientPrivileges is Graph's answer to an operation the app's
// permissions or roles do not allow.
func errInsufficientPrivileges() *graphError {
	return newError(http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
}

// SetPermissions replaces the application permissions granted to the app in
// a tenant: nil grants them all (the default), an empty list none. Names
// are Microsoft Graph application permissions such as User.Read.All.
func (s *Server) SetPermissions(tenant string, perms []string) error {
	t := s.lookupTenant(tenant)
	if t == nil {
		return fmt.Errorf("set permissions of %s: %w", tenant, ErrUnknownTenant)
	}
	g, err := newGrant(perms)
	if err != nil {
		return fmt.Errorf("set permissions of %s: %w", tenant, err)
	}
	t.perms.Store(g)
	return nil
}

// Permissions returns the application permissions granted in a tenant; nil
// means all.
func (s *Server) Permissions(tenant string) ([]string, error) {
	t := s.lookupTenant(tenant)
	if t == nil {
		return nil, fmt.Errorf("permissions of %s: %w", tenant, ErrUnknownTenant)
	}
	return t.perms.Load().list(), nil
}

// authorize checks a routed request against the tenant's grant.
func (s *Server) authorize(rq *request, rt routeID) *graphError {
	g := rq.t.perms.Load()
	if g == nil || rq.header.Get(AdminHeader) != "" {
		return nil
	}
	for _, key := range permKeys(rq, rt) {
		rule, ok := permTable[key]
		if !ok {
			panic("graphsim: no permission rule " + key)
		}
		if !g.allows(rule) {
			return errInsufficientPrivileges()
		}
	}
	return nil
}

// AdminHeader marks a request as an administrator's of the tenant, signed
// in as themselves, rather than the app's: the app's application
// permissions do not apply to it. Tests and the chaos suite act as the
// tenant's administrator with it (changing users, groups, memberships)
// while tenantsync's own requests, which never carry it, stay held to the
// permissions the tenant granted. Graph has no such header; it stands for
// another caller.
const AdminHeader = "X-Graphsim-Admin"

// permKeys returns the permTable rows a request needs, all of them.
func permKeys(rq *request, rt routeID) []string {
	if key, ok := staticRules[rt]; ok {
		return []string{key}
	}
	t := rq.t
	switch rt {
	case routePatchUser:
		return patchUserPermKeys(rq)
	case routeCreateGroup:
		if bodyBindsMembers(rq) {
			return []string{"POST /groups", "POST /groups with members or owners"}
		}
		return []string{"POST /groups"}
	case routePatchGroup:
		return patchGroupPermKeys(rq)
	case routeUpsertGroup:
		return upsertPermKeys(rq)
	case routeListDeleted:
		if rq.segs[2] == "microsoft.graph.group" {
			return []string{"GET /directory/deletedItems (groups)"}
		}
		return []string{"GET /directory/deletedItems (users)"}
	case routeGetDeleted:
		switch t.deletedKind(rq.segs[2]) {
		case "user":
			return []string{"GET /directory/deletedItems (users)"}
		case "group":
			return []string{"GET /directory/deletedItems (groups)"}
		}
		// Unknown: reading either kind must be allowed to learn that it
		// is not there.
		if g := t.perms.Load(); g.allows(permTable["GET /directory/deletedItems (groups)"]) {
			return []string{"GET /directory/deletedItems (groups)"}
		}
		return []string{"GET /directory/deletedItems (users)"}
	case routeRestoreDeleted:
		if t.deletedKind(rq.segs[2]) == "group" {
			return []string{"POST /directory/deletedItems/{id}/restore (group)"}
		}
		return []string{"POST /directory/deletedItems/{id}/restore (user)"}
	case routeDeleteDeleted:
		if t.deletedKind(rq.segs[2]) == "group" {
			return []string{"DELETE /directory/deletedItems/{id} (group)"}
		}
		return []string{"DELETE /directory/deletedItems/{id} (user)"}
	case routeCreateSubscription:
		var body struct {
			Resource string `json:"resource"`
		}
		_ = json.Unmarshal(rq.body, &body)
		if kind, _, _, ok := parseResource(body.Resource); ok {
			return []string{subscriptionPermKey(kind)}
		}
	case routeGetSubscription, routePatchSubscription, routeDeleteSubscription, routeReauthorizeSubscription:
		t.subsMu.Lock()
		sub := t.subs[strings.ToLower(rq.segs[1])]
		t.subsMu.Unlock()
		if sub != nil {
			return []string{subscriptionPermKey(sub.kind)}
		}
	}
	// Listing the app's own subscriptions, and requests the handler will
	// refuse anyway (an unknown subscription, a bad resource), need no
	// permission.
	return nil
}

func subscriptionPermKey(kind objKind) string {
	if kind == objGroup {
		return "POST /subscriptions (groups)"
	}
	return "POST /subscriptions (users)"
}

// patchUserPermKeys returns the rows a PATCH of a user needs: the general
// row for ordinary properties, and the property's own row for
// accountEnabled and identities.
func patchUserPermKeys(rq *request) []string {
	var body map[string]json.RawMessage
	if json.Unmarshal(rq.body, &body) != nil {
		return []string{"PATCH /users/{id}"}
	}
	var keys []string
	general := false
	for name := range body {
		switch i, _ := lookupUserProp(name); {
		case strings.Contains(name, "@odata."):
		case i == pAccountEnabled:
			keys = append(keys, "PATCH /users/{id} accountEnabled")
		case i == pIdentities:
			keys = append(keys, "PATCH /users/{id} identities")
		default:
			general = true
		}
	}
	if general || len(keys) == 0 {
		keys = append(keys, "PATCH /users/{id}")
	}
	sort.Strings(keys)
	return keys
}

// deletedKind says whether id is a soft-deleted "user" or "group", or "".
func (t *tenant) deletedKind(id string) string {
	id = strings.ToLower(id)
	t.mu.RLock()
	defer t.mu.RUnlock()
	switch {
	case t.deletedUsers[id] != nil:
		return "user"
	case t.deletedGroups[id] != nil:
		return "group"
	}
	return ""
}

// servicePrincipalAppID reads the alternate key segment
// servicePrincipals(appId='{appId}').
func servicePrincipalAppID(seg string) (string, bool) {
	rest, ok := strings.CutPrefix(seg, "servicePrincipals(")
	if !ok || !strings.HasSuffix(rest, ")") {
		return "", false
	}
	rest = strings.TrimSuffix(rest, ")")
	key, val, ok := strings.Cut(rest, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(key), "appId") {
		return "", false
	}
	return strings.Trim(strings.TrimSpace(val), "'"), true
}

// servicePrincipalID is the object id of the tenantsync app's service
// principal in tenant t, and graphPrincipalID that of Microsoft Graph's.
func (t *tenant) servicePrincipalID() string {
	return stableGUID(t.id + "/servicePrincipal/tenantsync")
}

func (t *tenant) graphPrincipalID() string {
	return stableGUID(t.id + "/servicePrincipal/00000003-0000-0000-c000-000000000000")
}

// getServicePrincipal serves GET /servicePrincipals(appId='{appId}'): any
// appId names the tenantsync app, whose service principal is the one whose
// app role assignments are the tenant's grant.
func getServicePrincipal(s *Server, rq *request) *response {
	appID, _ := servicePrincipalAppID(rq.segs[0])
	t := rq.t
	b := []byte(`{"@odata.context":`)
	b = appendJSONString(b, rq.context("servicePrincipals/$entity"))
	b = append(b, `,"id":`...)
	b = appendJSONString(b, t.servicePrincipalID())
	b = append(b, `,"appId":`...)
	b = appendJSONString(b, appID)
	b = append(b, `,"displayName":"tenantsync","servicePrincipalType":"Application","accountEnabled":true,"appOwnerOrganizationId":`...)
	b = appendJSONString(b, t.id)
	b = append(b, '}')
	return jsonResponse(http.StatusOK, b)
}

// listAppRoleAssignments serves GET /servicePrincipals/{id}/appRoleAssignments
// and GET /servicePrincipals(appId='{appId}')/appRoleAssignments: the
// application permissions granted to the app, as appRoleAssignment objects
// of Microsoft Graph's app roles
// (graphAPI + "serviceprincipal-list-approleassignments").
func listAppRoleAssignments(s *Server, rq *request) *response {
	t := rq.t
	if _, ok := servicePrincipalAppID(rq.segs[0]); !ok && !strings.EqualFold(rq.segs[1], t.servicePrincipalID()) {
		return errorResponse(errNoObject(rq.segs[1]))
	}
	names := t.perms.Load().list()
	if names == nil {
		names = knownPermissions()
	}
	spID, graphID := t.servicePrincipalID(), t.graphPrincipalID()
	created := graphTime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	page := newListPage(rq.context("servicePrincipals('"+spID+"')/appRoleAssignments"), -1)
	for _, name := range names {
		sum := sha256.Sum256([]byte(t.id + "/appRoleAssignment/" + name))
		page.item()
		page.b = append(page.b, `{"id":`...)
		page.b = appendJSONString(page.b, base64.RawURLEncoding.EncodeToString(sum[:]))
		page.b = append(page.b, `,"deletedDateTime":null,"appRoleId":`...)
		page.b = appendJSONString(page.b, graphAppRoles[name])
		page.b = append(page.b, `,"createdDateTime":`...)
		page.b = appendJSONString(page.b, created)
		page.b = append(page.b, `,"principalDisplayName":"tenantsync","principalId":`...)
		page.b = appendJSONString(page.b, spID)
		page.b = append(page.b, `,"principalType":"ServicePrincipal","resourceDisplayName":"Microsoft Graph","resourceId":`...)
		page.b = appendJSONString(page.b, graphID)
		page.b = append(page.b, '}')
	}
	return jsonResponse(http.StatusOK, page.finish(""))
}
