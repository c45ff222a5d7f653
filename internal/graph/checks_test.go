package graph_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/graph"
	"github.com/tenantsync/tenantsync/internal/graphsim"
)

func TestReadOnlyChecks(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	ctx := context.Background()
	tests := []struct {
		tenant    string
		allow     string
		blocked   bool
		wantPaths []string
	}{
		{source, "everyone", false, []string{"/" + source + "/v1.0/users", "/" + source + "/v1.0/groups", "/" + source + "/v1.0/policies/authorizationPolicy"}},
		{closed, "none", true, []string{"/" + closed + "/v1.0/users", "/" + closed + "/v1.0/groups", "/" + closed + "/v1.0/policies/authorizationPolicy"}},
	}
	for _, tt := range tests {
		t.Run(tt.tenant, func(t *testing.T) {
			sim.reset()
			c := sim.client(t, tt.tenant)
			if err := c.CanReadUsers(ctx); err != nil {
				t.Fatalf("CanReadUsers: %v", err)
			}
			if err := c.CanReadGroups(ctx); err != nil {
				t.Fatalf("CanReadGroups: %v", err)
			}
			p, err := c.AuthorizationPolicy(ctx)
			if err != nil {
				t.Fatalf("AuthorizationPolicy: %v", err)
			}
			if p.AllowInvitesFrom != tt.allow || p.InvitationsBlocked() != tt.blocked {
				t.Errorf("policy %+v (blocked %v), want %q (blocked %v)", p, p.InvitationsBlocked(), tt.allow, tt.blocked)
			}
			reqs := sim.recorded()
			if len(reqs) != len(tt.wantPaths) {
				t.Fatalf("%d requests, want %d: %+v", len(reqs), len(tt.wantPaths), reqs)
			}
			for i, r := range reqs {
				if r.Method != "GET" || r.Path != tt.wantPaths[i] {
					t.Errorf("request %d: %s %s, want GET %s", i, r.Method, r.Path, tt.wantPaths[i])
				}
				if got := r.Query.Get("$select"); got == "" {
					t.Errorf("request %d: no $select", i)
				}
			}
			if top := reqs[0].Query.Get("$top"); top != "1" {
				t.Errorf("users $top = %q, want 1", top)
			}
			if w := sim.Stats().Tenants[tt.tenant].Writes; w != 0 {
				t.Errorf("the checks wrote %d times", w)
			}
		})
	}
}

func TestReadOnlyChecksUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := graph.New(context.Background(), graph.Options{BaseURL: "http://" + addr + "/t.example/v1.0"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.CanReadUsers(context.Background())
	if !errors.Is(err, directory.ErrTransient) {
		t.Fatalf("err = %v, want a transient failure", err)
	}
}

func TestAuthorityFor(t *testing.T) {
	tests := []struct{ graph, want string }{
		{"https://graph.microsoft.com/v1.0", "https://login.microsoftonline.com/"},
		{"https://graph.microsoft.us/v1.0", "https://login.microsoftonline.us/"},
		{"https://microsoftgraph.chinacloudapi.cn/v1.0", "https://login.chinacloudapi.cn/"},
		{"http://127.0.0.1:8765/contoso.example/v1.0", "https://login.microsoftonline.com/"},
	}
	for _, tt := range tests {
		if got := graph.AuthorityFor(tt.graph); got != tt.want {
			t.Errorf("AuthorityFor(%q) = %q, want %q", tt.graph, got, tt.want)
		}
	}
}
