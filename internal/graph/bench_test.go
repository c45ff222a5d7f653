package graph_test

import (
	"context"
	"testing"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/graph"
	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// benchAttrs is what the engine reads of a source user with the default
// mappings: CTS's attributes, the anchor and the manager.
var benchAttrs = []string{
	"accountEnabled", "businessPhones", "city", "companyName", "country", "department", "displayName",
	"employeeId", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation", "postalCode", "state",
	"streetAddress", "surname", "usageLocation", "userPrincipalName", "userType", "manager",
	"onPremisesExtensionAttributes.extensionAttribute15",
}

// BenchmarkGetUser reports the Graph requests one GetUser costs (the
// manager comes with $expand: one request) and its latency against the
// simulator over loopback HTTP.
func BenchmarkGetUser(b *testing.B) {
	gen := graphsim.GenerateTenant(graphsim.GenerateOptions{Domain: "bench.example", Users: 1000, Seed: 1})
	s := graphsim.NewTestServer(b, graphsim.Seed{Tenants: []graphsim.TenantSeed{gen}})
	c, err := graph.New(context.Background(), graph.Options{BaseURL: s.TenantURL("bench.example")})
	if err != nil {
		b.Fatal(err)
	}
	var ids []string
	if err := c.ListUsers(context.Background(), nil, func(p []directory.User) error {
		for _, u := range p {
			ids = append(ids, u.ID)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	s.ResetStats()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.GetUser(ctx, ids[i%len(ids)], benchAttrs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st := s.Stats().Tenants["bench.example"]
	b.ReportMetric(float64(st.Requests)/float64(b.N), "requests/op")
	b.ReportMetric(float64(st.Reads)/float64(b.N), "reads/op")
}

// BenchmarkListUsersPage reports the requests and time of one full page of
// ListUsers (999 users, the most Graph returns per page).
func BenchmarkListUsersPage(b *testing.B) {
	gen := graphsim.GenerateTenant(graphsim.GenerateOptions{Domain: "bench.example", Users: graph.DefaultPageSize, Seed: 1})
	s := graphsim.NewTestServer(b, graphsim.Seed{Tenants: []graphsim.TenantSeed{gen}})
	c, err := graph.New(context.Background(), graph.Options{BaseURL: s.TenantURL("bench.example")})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	s.ResetStats()
	users := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.ListUsers(ctx, benchAttrs, func(p []directory.User) error { users += len(p); return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st := s.Stats().Tenants["bench.example"]
	b.ReportMetric(float64(st.Requests)/float64(b.N), "requests/op")
	b.ReportMetric(float64(users)/float64(b.N), "users/op")
}
