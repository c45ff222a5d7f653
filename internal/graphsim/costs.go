package graphsim

import "strconv"

// listedCosts are the base resource unit costs of the routes that the
// identity and access cost table lists (https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits, the "Base
// Resource Unit Cost" table). Graph charges every route it does not list 1,
// and says "Any request cost that applies to a request path starting with
// me/ also applies to equivalent requests starting with
// users/{id | userPrincipalName}/", so me/memberOf prices
// users/{id}/memberOf. A type cast (members/microsoft.graph.user) reads
// the same relationship and costs the same.
var listedCosts = map[routeID]int{
	routeListUsers:                2, // GET users
	routeMembers:                  3, // GET groups/{id}/members
	routeMembersCast:              3,
	routeTransitiveMembers:        5, // GET groups/{id}/transitiveMembers
	routeTransitiveMembersCast:    5,
	routeCheckMemberGroups:        4, // POST me/checkMemberGroups
	routeMemberOf:                 2, // GET me/memberOf
	routeMemberOfGroups:           2,
	routeTransitiveMemberOf:       2, // GET me/transitiveMemberOf
	routeTransitiveMemberOfGroups: 2,
	routeAppRoleAssignments:       2, // GET servicePrincipals/{id}/appRoleAssignments
}

// baseCost is a route's resource units before query modifiers. A $batch
// envelope costs nothing: its items are charged one by one.
func baseCost(rt routeID) int {
	if rt == routeBatch {
		return 0
	}
	if c, ok := listedCosts[rt]; ok {
		return c
	}
	return 1
}

// requestCost is the resource units a request costs under the identity and
// access limits (https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits, "Other factors that affect a request
// cost"): the base cost, one less with $select, one more with $expand, one
// less with a $top under 20, and never lower than 1. Graph states these
// modifiers for every request, so they apply to writes too.
func requestCost(rt routeID, rq *request) int {
	c := baseCost(rt)
	if c == 0 {
		return 0
	}
	if rq.hasParam("select") {
		c--
	}
	if rq.hasParam("expand") {
		c++
	}
	if top, err := strconv.Atoi(rq.param("top")); err == nil && top < 20 {
		c--
	}
	return max(c, 1)
}

// writeCost is the writes a request takes from the write quotas: 1 for
// POST, PATCH, PUT and DELETE, 0 for reads (the "Write Cost" column of the
// same table). POST actions that only read, such as checkMemberGroups, are
// reads.
func writeCost(rt routeID) int {
	if routes[rt].write {
		return 1
	}
	return 0
}
