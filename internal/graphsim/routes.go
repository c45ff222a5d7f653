package graphsim

import (
	"net/http"
	"strings"
)

// routeID identifies a route template, for stats and throttling costs.
type routeID int

const (
	routeUnknown routeID = iota
	routeListUsers
	routeCreateUser
	routeGetUser
	routePatchUser
	routeDeleteUser
	routeUsersDelta
	routeGetManager
	routePutManager
	routeDeleteManager
	routeDirectReports
	routeMemberOf
	routeMemberOfGroups
	routeTransitiveMemberOf
	routeTransitiveMemberOfGroups
	routeCheckMemberGroups
	routeListGroups
	routeCreateGroup
	routeGetGroup
	routePatchGroup
	routeDeleteGroup
	routeGroupsDelta
	routeMembers
	routeMembersCast
	routeTransitiveMembers
	routeTransitiveMembersCast
	routeAddMember
	routeRemoveMember
	routeListDeleted
	routeGetDeleted
	routeRestoreDeleted
	routeDeleteDeleted
	routeInvite
	routeBatch
	routeListSubscriptions
	routeCreateSubscription
	routeGetSubscription
	routePatchSubscription
	routeDeleteSubscription
	routeReauthorizeSubscription
	routeOrganization
	routeAuthorizationPolicy
	routeGetServicePrincipal
	routeAppRoleAssignments
	routeGetGroupByUniqueName
	routeUpsertGroup
	numRoutes
)

type handlerFunc func(s *Server, rq *request) *response

// routeDef is a route template: its name in stats and whether it writes.
// Its resource unit cost is in costs.go, its permissions in permissions.go.
type routeDef struct {
	name  string
	write bool
}

var routes = [numRoutes]routeDef{
	routeUnknown:                  {name: "unrouted"},
	routeListUsers:                {name: "GET /users"},
	routeCreateUser:               {name: "POST /users", write: true},
	routeGetUser:                  {name: "GET /users/{id}"},
	routePatchUser:                {name: "PATCH /users/{id}", write: true},
	routeDeleteUser:               {name: "DELETE /users/{id}", write: true},
	routeUsersDelta:               {name: "GET /users/delta"},
	routeGetManager:               {name: "GET /users/{id}/manager"},
	routePutManager:               {name: "PUT /users/{id}/manager/$ref", write: true},
	routeDeleteManager:            {name: "DELETE /users/{id}/manager/$ref", write: true},
	routeDirectReports:            {name: "GET /users/{id}/directReports"},
	routeMemberOf:                 {name: "GET /users/{id}/memberOf"},
	routeMemberOfGroups:           {name: "GET /users/{id}/memberOf/microsoft.graph.group"},
	routeTransitiveMemberOf:       {name: "GET /users/{id}/transitiveMemberOf"},
	routeTransitiveMemberOfGroups: {name: "GET /users/{id}/transitiveMemberOf/microsoft.graph.group"},
	routeCheckMemberGroups:        {name: "POST /users/{id}/checkMemberGroups"},
	routeListGroups:               {name: "GET /groups"},
	routeCreateGroup:              {name: "POST /groups", write: true},
	routeGetGroup:                 {name: "GET /groups/{id}"},
	routePatchGroup:               {name: "PATCH /groups/{id}", write: true},
	routeDeleteGroup:              {name: "DELETE /groups/{id}", write: true},
	routeGroupsDelta:              {name: "GET /groups/delta"},
	routeMembers:                  {name: "GET /groups/{id}/members"},
	routeMembersCast:              {name: "GET /groups/{id}/members/{type}"},
	routeTransitiveMembers:        {name: "GET /groups/{id}/transitiveMembers"},
	routeTransitiveMembersCast:    {name: "GET /groups/{id}/transitiveMembers/{type}"},
	routeAddMember:                {name: "POST /groups/{id}/members/$ref", write: true},
	routeRemoveMember:             {name: "DELETE /groups/{id}/members/{id}/$ref", write: true},
	routeListDeleted:              {name: "GET /directory/deletedItems/{type}"},
	routeGetDeleted:               {name: "GET /directory/deletedItems/{id}"},
	routeRestoreDeleted:           {name: "POST /directory/deletedItems/{id}/restore", write: true},
	routeDeleteDeleted:            {name: "DELETE /directory/deletedItems/{id}", write: true},
	routeInvite:                   {name: "POST /invitations", write: true},
	routeBatch:                    {name: "POST /$batch"},
	routeListSubscriptions:        {name: "GET /subscriptions"},
	routeCreateSubscription:       {name: "POST /subscriptions", write: true},
	routeGetSubscription:          {name: "GET /subscriptions/{id}"},
	routePatchSubscription:        {name: "PATCH /subscriptions/{id}", write: true},
	routeDeleteSubscription:       {name: "DELETE /subscriptions/{id}", write: true},
	routeReauthorizeSubscription:  {name: "POST /subscriptions/{id}/reauthorize", write: true},
	routeOrganization:             {name: "GET /organization"},
	routeAuthorizationPolicy:      {name: "GET /policies/authorizationPolicy"},
	routeGetServicePrincipal:      {name: "GET /servicePrincipals(appId='{appId}')"},
	routeAppRoleAssignments:       {name: "GET /servicePrincipals/{id}/appRoleAssignments"},
	routeGetGroupByUniqueName:     {name: "GET /groups(uniqueName='{uniqueName}')"},
	routeUpsertGroup:              {name: "PATCH /groups(uniqueName='{uniqueName}')", write: true},
}

// isDelta reports whether seg names the delta function.
func isDelta(seg string) bool {
	switch seg {
	case "delta", "delta()", "microsoft.graph.delta", "microsoft.graph.delta()":
		return true
	}
	return false
}

// route finds the route of rq.
func route(rq *request) (routeID, handlerFunc, *graphError) {
	segs, m := rq.segs, rq.method
	if len(segs) == 0 {
		return 0, nil, errSegment("v1.0")
	}
	// Casts and functions may use the short namespace alias: msgraph-sdk-go
	// requests memberOf/graph.group.
	for i, s := range segs {
		if strings.HasPrefix(s, "graph.") {
			segs[i] = "microsoft." + s
		}
	}
	// servicePrincipals(appId='{appId}') is one segment: the alternate key.
	if _, ok := servicePrincipalAppID(segs[0]); ok {
		switch {
		case len(segs) == 1:
			return pick(m, alt{http.MethodGet, routeGetServicePrincipal, getServicePrincipal})
		case len(segs) == 2 && segs[1] == "appRoleAssignments":
			return pick(m, alt{http.MethodGet, routeAppRoleAssignments, listAppRoleAssignments})
		}
		return 0, nil, errSegment(segs[len(segs)-1])
	}
	// groups(uniqueName='{uniqueName}') is one segment: the alternate key
	// (groupupsert.go).
	if _, ok := groupUniqueName(segs[0]); ok {
		if len(segs) == 1 {
			return pick(m, alt{http.MethodGet, routeGetGroupByUniqueName, getGroupByUniqueName}, alt{http.MethodPatch, routeUpsertGroup, upsertGroup})
		}
		return 0, nil, errSegment(segs[len(segs)-1])
	}
	switch segs[0] {
	case "users":
		switch {
		case len(segs) == 1:
			return pick(m, alt{http.MethodGet, routeListUsers, listUsers}, alt{http.MethodPost, routeCreateUser, createUser})
		case len(segs) == 2 && isDelta(segs[1]):
			return pick(m, alt{http.MethodGet, routeUsersDelta, usersDelta})
		case len(segs) == 2:
			return pick(m, alt{http.MethodGet, routeGetUser, getUser}, alt{http.MethodPatch, routePatchUser, patchUser}, alt{http.MethodDelete, routeDeleteUser, deleteUser})
		}
		switch sub := segs[2]; {
		case sub == "manager" && len(segs) == 3:
			return pick(m, alt{http.MethodGet, routeGetManager, getManager})
		case sub == "manager" && len(segs) == 4 && segs[3] == "$ref":
			return pick(m, alt{http.MethodPut, routePutManager, putManager}, alt{http.MethodDelete, routeDeleteManager, deleteManager})
		case sub == "directReports" && (len(segs) == 3 || len(segs) == 4 && segs[3] == "microsoft.graph.user"):
			return pick(m, alt{http.MethodGet, routeDirectReports, directReports})
		case sub == "memberOf" && len(segs) == 3:
			return pick(m, alt{http.MethodGet, routeMemberOf, memberOf})
		case sub == "memberOf" && len(segs) == 4 && segs[3] == "microsoft.graph.group":
			return pick(m, alt{http.MethodGet, routeMemberOfGroups, memberOf})
		case sub == "transitiveMemberOf" && len(segs) == 3:
			return pick(m, alt{http.MethodGet, routeTransitiveMemberOf, memberOf})
		case sub == "transitiveMemberOf" && len(segs) == 4 && segs[3] == "microsoft.graph.group":
			return pick(m, alt{http.MethodGet, routeTransitiveMemberOfGroups, memberOf})
		case (sub == "checkMemberGroups" || sub == "microsoft.graph.checkMemberGroups") && len(segs) == 3:
			return pick(m, alt{http.MethodPost, routeCheckMemberGroups, checkMemberGroups})
		}
		return 0, nil, errSegment(segs[len(segs)-1])
	case "groups":
		switch {
		case len(segs) == 1:
			return pick(m, alt{http.MethodGet, routeListGroups, listGroups}, alt{http.MethodPost, routeCreateGroup, createGroup})
		case len(segs) == 2 && isDelta(segs[1]):
			return pick(m, alt{http.MethodGet, routeGroupsDelta, groupsDelta})
		case len(segs) == 2:
			return pick(m, alt{http.MethodGet, routeGetGroup, getGroup}, alt{http.MethodPatch, routePatchGroup, patchGroup}, alt{http.MethodDelete, routeDeleteGroup, deleteGroup})
		}
		switch sub := segs[2]; {
		case sub == "members" && len(segs) == 3:
			return pick(m, alt{http.MethodGet, routeMembers, listMembers})
		case sub == "members" && len(segs) == 4 && segs[3] == "$ref":
			return pick(m, alt{http.MethodPost, routeAddMember, addMember}, alt{http.MethodDelete, routeRemoveMember, removeMember})
		case sub == "members" && len(segs) == 4 && isCast(segs[3]):
			return pick(m, alt{http.MethodGet, routeMembersCast, listMembers})
		case sub == "members" && len(segs) == 5 && segs[4] == "$ref":
			return pick(m, alt{http.MethodDelete, routeRemoveMember, removeMember})
		case sub == "transitiveMembers" && len(segs) == 3:
			return pick(m, alt{http.MethodGet, routeTransitiveMembers, listMembers})
		case sub == "transitiveMembers" && len(segs) == 4 && isCast(segs[3]):
			return pick(m, alt{http.MethodGet, routeTransitiveMembersCast, listMembers})
		}
		return 0, nil, errSegment(segs[len(segs)-1])
	case "directory":
		if len(segs) < 3 || segs[1] != "deletedItems" {
			if len(segs) >= 2 {
				return 0, nil, errSegment(segs[1])
			}
			return 0, nil, errMethod()
		}
		switch {
		case len(segs) == 3 && isCast(segs[2]):
			return pick(m, alt{http.MethodGet, routeListDeleted, listDeleted})
		case len(segs) == 3:
			return pick(m, alt{http.MethodGet, routeGetDeleted, getDeleted}, alt{http.MethodDelete, routeDeleteDeleted, deleteDeleted})
		case len(segs) == 4 && (segs[3] == "restore" || segs[3] == "microsoft.graph.restore"):
			return pick(m, alt{http.MethodPost, routeRestoreDeleted, restoreDeleted})
		}
		return 0, nil, errSegment(segs[len(segs)-1])
	case "invitations":
		if len(segs) == 1 {
			return pick(m, alt{http.MethodPost, routeInvite, invite})
		}
	case "$batch":
		if len(segs) == 1 {
			if rq.inBatch {
				return 0, nil, errBadRequest("A $batch request cannot contain another $batch request.")
			}
			return pick(m, alt{http.MethodPost, routeBatch, batch})
		}
	case "subscriptions":
		switch len(segs) {
		case 1:
			return pick(m, alt{http.MethodGet, routeListSubscriptions, listSubscriptions}, alt{http.MethodPost, routeCreateSubscription, createSubscription})
		case 2:
			return pick(m, alt{http.MethodGet, routeGetSubscription, getSubscription}, alt{http.MethodPatch, routePatchSubscription, patchSubscription}, alt{http.MethodDelete, routeDeleteSubscription, deleteSubscription})
		case 3:
			if segs[2] == "reauthorize" || segs[2] == "microsoft.graph.reauthorize" {
				return pick(m, alt{http.MethodPost, routeReauthorizeSubscription, reauthorizeSubscription})
			}
		}
	case "organization":
		if len(segs) == 1 {
			return pick(m, alt{http.MethodGet, routeOrganization, getOrganization})
		}
	case "policies":
		if len(segs) == 2 && segs[1] == "authorizationPolicy" {
			return pick(m, alt{http.MethodGet, routeAuthorizationPolicy, getAuthorizationPolicy})
		}
	case "servicePrincipals":
		// servicePrincipals/{id}/appRoleAssignments
		if len(segs) == 3 && segs[2] == "appRoleAssignments" {
			return pick(m, alt{http.MethodGet, routeAppRoleAssignments, listAppRoleAssignments})
		}
	case "me":
		return 0, nil, newError(http.StatusBadRequest, "BadRequest",
			"/me request is only valid with delegated authentication flow.")
	}
	return 0, nil, errSegment(segs[len(segs)-1])
}

// alt is one method a route template answers.
type alt struct {
	method string
	id     routeID
	h      handlerFunc
}

// pick returns the alternative for method, or 405.
func pick(method string, alts ...alt) (routeID, handlerFunc, *graphError) {
	for _, a := range alts {
		if a.method == method {
			return a.id, a.h, nil
		}
	}
	return 0, nil, errMethod()
}

// isCast reports whether seg is an OData type cast such as
// microsoft.graph.user.
func isCast(seg string) bool {
	return strings.HasPrefix(seg, "microsoft.graph.")
}
