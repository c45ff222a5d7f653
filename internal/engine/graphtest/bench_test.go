package graphtest_test

import (
	"fmt"
	"testing"
)

// BenchmarkRequestsPerOperation reports the Graph requests one sync costs,
// counted by the simulator, for each kind of operation: the goals are a no-op
// in at most 2 reads and no write, an update in 1 write, a create in at most
// 2 writes (plus one when the user has a manager to set).
//
//	go test -run '^$' -bench RequestsPerOperation ./internal/engine/graphtest/
func BenchmarkRequestsPerOperation(b *testing.B) {
	for _, op := range []string{"create", "update", "noop"} {
		b.Run(op, func(b *testing.B) {
			e := newEnv(b)
			ids := make([]string, b.N)
			for i := range b.N {
				var u struct{ ID string }
				name := fmt.Sprintf("user%06d", i)
				e.graphCall(srcDomain, "POST", "/users", map[string]any{
					"userPrincipalName": name + "@" + srcDomain, "mail": name + "@" + srcDomain,
					"displayName": "User " + name, "department": "Sales", "accountEnabled": true,
					"mailNickname": name, "passwordProfile": map[string]any{"password": "x-Secret-1234"},
				}, &u)
				e.addMember(u.ID)
				ids[i] = u.ID
				if op != "create" {
					mustSync(b, e, u.ID)
				}
				if op == "update" {
					e.graphCall(srcDomain, "PATCH", "/users/"+u.ID, map[string]any{"department": "Marketing"}, nil)
				}
			}
			src0, dst0 := e.stats(srcDomain), e.stats(dstDomain)
			b.ResetTimer()
			for _, id := range ids {
				res := mustSync(b, e, id)
				if a := res.Actions[0]; string(a.Op) != op {
					b.Fatalf("sync of %s = %s (%s), want %s", id, a.Op, a.Reason, op)
				}
			}
			b.StopTimer()
			src1, dst1 := e.stats(srcDomain), e.stats(dstDomain)
			n := float64(b.N)
			b.ReportMetric(float64(src1.Reads-src0.Reads+dst1.Reads-dst0.Reads)/n, "reads/op")
			b.ReportMetric(float64(src1.Writes-src0.Writes+dst1.Writes-dst0.Writes)/n, "writes/op")
		})
	}
}
