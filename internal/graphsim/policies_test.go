package graphsim_test

import (
	"net/http"
	"testing"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

func TestAuthorizationPolicy(t *testing.T) {
	ts := graphsim.NewTestServer(t, graphsim.Seed{Tenants: []graphsim.TenantSeed{
		{Domain: "open.example"},
		{Domain: "closed.example", BlockInvitations: true},
	}})
	tests := []struct {
		tenant, method string
		status         int
		allow          string
	}{
		{"open.example", http.MethodGet, http.StatusOK, "everyone"},
		{"closed.example", http.MethodGet, http.StatusOK, "none"},
		{"open.example", http.MethodPatch, http.StatusMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.tenant+" "+tt.method, func(t *testing.T) {
			resp, body := call(t, tt.method, ts.TenantURL(tt.tenant)+"/policies/authorizationPolicy?$select=allowInvitesFrom", nil, "")
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tt.status, body)
			}
			if tt.allow != "" && body["allowInvitesFrom"] != tt.allow {
				t.Errorf("allowInvitesFrom = %v, want %q", body["allowInvitesFrom"], tt.allow)
			}
		})
	}
	if got := ts.Stats().Tenants["open.example"].Writes; got != 0 {
		t.Errorf("reading the policy counted %d writes", got)
	}
}
