package graphsim

import (
	"net/url"
	"testing"
	"time"
)

// TestPermissionTable checks that the permission table is whole: every
// route has its row (https://learn.microsoft.com/graph/api/<page>#permissions
// per row), every permission a row names has a Microsoft Graph app role id
// (https://learn.microsoft.com/graph/permissions-reference), and every
// row cites its page.
func TestPermissionTable(t *testing.T) {
	dynamic := map[routeID]bool{
		routeUnknown: true, routeBatch: true, routePatchUser: true, routeListDeleted: true,
		routeGetDeleted: true, routeRestoreDeleted: true, routeDeleteDeleted: true,
		routeListSubscriptions: true, routeCreateSubscription: true, routeGetSubscription: true,
		routePatchSubscription: true, routeDeleteSubscription: true, routeReauthorizeSubscription: true,
		routeCreateGroup: true, routePatchGroup: true, routeUpsertGroup: true,
	}
	for rt := routeID(0); rt < numRoutes; rt++ {
		key, ok := staticRules[rt]
		if !ok && !dynamic[rt] {
			t.Errorf("route %s has no permission rule", routes[rt].name)
		}
		if ok {
			if _, ok := permTable[key]; !ok {
				t.Errorf("route %s names missing rule %q", routes[rt].name, key)
			}
		}
	}
	for key, rule := range permTable {
		if len(rule.anyOf) == 0 || len(rule.doc) < len("https://learn.microsoft.com/") {
			t.Errorf("rule %q has no permissions or no doc URL", key)
		}
		for _, set := range rule.anyOf {
			for _, p := range set {
				if graphAppRoles[p] == "" {
					t.Errorf("rule %q names %s, which has no app role id", key, p)
				}
			}
		}
	}
}

// TestRequestCost follows the identity and access cost table and its
// modifiers (https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits):
// GET users 2, a path not listed 1, groups/{id}/members 3, transitiveMembers
// 5, me/checkMemberGroups 4 (which "also applies to ... users/{id}/"),
// "$select decreases cost by 1", "$expand increases cost by 1", "$top with
// a value of less than 20 decreases cost by 1", "A request cost can never be
// lower than 1".
func TestRequestCost(t *testing.T) {
	tests := []struct {
		name  string
		rt    routeID
		query string
		want  int
	}{
		{"list users", routeListUsers, "", 2},
		{"list users with $select", routeListUsers, "$select=id", 1},
		{"list users with $select and $top 10", routeListUsers, "$select=id&$top=10", 1},
		{"list users with $top 10", routeListUsers, "$top=10", 1},
		{"list users with $top 20", routeListUsers, "$top=20", 2},
		{"list users with $expand", routeListUsers, "$expand=manager", 3},
		{"get user", routeGetUser, "", 1},
		{"get user with $expand", routeGetUser, "$expand=manager", 2},
		{"get user with $select", routeGetUser, "$select=id", 1},
		{"users delta", routeUsersDelta, "", 1},
		{"groups delta", routeGroupsDelta, "", 1},
		{"group members", routeMembers, "", 3},
		{"group members cast", routeMembersCast, "$select=id", 2},
		{"transitive members", routeTransitiveMembers, "", 5},
		{"checkMemberGroups", routeCheckMemberGroups, "", 4},
		{"memberOf", routeMemberOf, "", 2},
		{"transitiveMemberOf", routeTransitiveMemberOf, "", 2},
		{"appRoleAssignments", routeAppRoleAssignments, "", 2},
		{"patch user", routePatchUser, "", 1},
		{"patch group, members@odata.bind included", routePatchGroup, "", 1},
		{"upsert group", routeUpsertGroup, "", 1},
		{"get group by uniqueName with $select", routeGetGroupByUniqueName, "$select=id", 1},
		{"batch envelope", routeBatch, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			if got := requestCost(tt.rt, &request{query: q}); got != tt.want {
				t.Errorf("cost = %d, want %d", got, tt.want)
			}
		})
	}
	if writeCost(routeCheckMemberGroups) != 0 || writeCost(routePatchUser) != 1 || writeCost(routeListUsers) != 0 ||
		writeCost(routeUpsertGroup) != 1 || writeCost(routeGetGroupByUniqueName) != 0 {
		t.Error("write costs: reads (checkMemberGroups included) cost 0 writes, writes 1")
	}
}

// TestTenantWriteBucket: besides the app+tenant write quota of 3,000 per
// 2 minutes 30 seconds, a tenant takes 18,000 writes per 5 minutes from all
// apps together (the "tenant" row of the limits table at
// https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits).
// With one app the app bucket binds first; emptying the tenant bucket by
// hand shows it is charged and refilled on its own.
func TestTenantWriteBucket(t *testing.T) {
	f, err := parseFaults(Faults{Throttle: "real"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var th throttle
	if _, ok := th.take(f, start, 1, true, 10); !ok {
		t.Fatal("first write throttled")
	}
	if th.tw != tenantWriteCapacity-1 || th.wr != writeCapacity-1 {
		t.Fatalf("buckets after one write: tenant %v app %v", th.tw, th.wr)
	}
	th.tw = 0 // other apps used the tenant's writes
	wait, ok := th.take(f, start, 1, true, 10)
	if ok || wait != 1 {
		t.Fatalf("write with the tenant bucket empty: ok=%v wait=%d, want a 429 with Retry-After 1", ok, wait)
	}
	if _, ok := th.take(f, start, 1, false, 10); !ok {
		t.Error("a read was throttled by the write quota")
	}
	// 18,000 per 300 s refill 60 per second.
	if _, ok := th.take(f, start.Add(time.Second), 1, true, 10); !ok {
		t.Error("write still throttled after the tenant bucket refilled")
	}
	if l := limitsFor(f, 10); l.TenantWritesPer5Min != 18000 || l.WritesPer150s != 3000 {
		t.Errorf("limits = %+v", l)
	}
}
