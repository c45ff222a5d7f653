package graphtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/graph"
	"github.com/tenantsync/tenantsync/internal/graphsim"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

const (
	srcDomain = "fabrikam.example"
	dstDomain = "contoso.example"
	group     = "Cross-tenant sync"
)

// person is a source user of the test seed.
func person(upn, given, surname, dept string, extra map[string]any) graphsim.Object {
	o := graphsim.Object{
		"userPrincipalName": upn + "@" + srcDomain,
		"mail":              upn + "@" + srcDomain,
		"displayName":       given + " " + surname,
		"givenName":         given,
		"surname":           surname,
		"department":        dept,
		"jobTitle":          "Engineer",
		"accountEnabled":    true,
		"userType":          "Member",
	}
	for k, v := range extra {
		o[k] = v
	}
	return o
}

// sourceGrant and targetGrant are the application permissions tenantsync
// asks for (docs/deploy.md): the tests run with exactly those, as a tenant
// that follows least privilege grants them.
var (
	sourceGrant = []string{"User.Read.All", "Group.Read.All"}
	targetGrant = []string{"User.Invite.All", "User.ReadWrite.All"}
)

// seed is a small Fabrikam (source) and Contoso (target). Contoso already
// has a B2B user for Frank (an unredeemed invitation: adoptable) and an
// internal member whose mail is Grace's address (never to be taken over).
func seed() graphsim.Seed {
	return graphsim.Seed{Tenants: []graphsim.TenantSeed{
		{
			Domain: srcDomain, DisplayName: "Fabrikam", Permissions: sourceGrant,
			Users: []graphsim.Object{
				person("alice", "Alice", "Archer", "Sales", nil),
				person("bob", "Bob", "Baker", "Sales", graphsim.Object{"manager": "alice@" + srcDomain}),
				person("carol", "Carol", "Cooper", "Finance", nil),
				person("dave", "Dave", "Dyer", "Sales", graphsim.Object{"userType": "Guest"}),
				person("erin", "Erin", "Evans", "Sales", nil),
				person("frank", "Frank", "Fisher", "Sales", nil),
				person("grace", "Grace", "Green", "Sales", nil),
				person("heidi", "Heidi", "Hall", "Sales", graphsim.Object{"mail": nil}),
			},
			Groups: []graphsim.Object{
				{"displayName": group, "members": []any{
					"alice@" + srcDomain, "bob@" + srcDomain, "dave@" + srcDomain, "erin@" + srcDomain,
					"frank@" + srcDomain, "grace@" + srcDomain, "heidi@" + srcDomain,
				}},
			},
		},
		{
			Domain: dstDomain, DisplayName: "Contoso", Permissions: targetGrant,
			Users: []graphsim.Object{
				{"userPrincipalName": "frank_fabrikam.example#EXT#@contoso.onmicrosoft.com", "mail": "frank@" + srcDomain,
					"displayName": "Frank (old)", "userType": "Guest", "creationType": "Invitation", "accountEnabled": true,
					"externalUserState": "PendingAcceptance"},
				{"userPrincipalName": "grace@contoso.example", "mail": "grace@" + srcDomain,
					"displayName": "Grace Green", "userType": "Member", "accountEnabled": true},
				{"userPrincipalName": "zoe@contoso.example", "mail": "zoe@contoso.example",
					"displayName": "Zoe Zimmer", "userType": "Member", "accountEnabled": true},
			},
		},
	}}
}

// testConfig is a config for the simulator's two tenants.
func testConfig(simURL string) *config.Config {
	tenant := func(domain string) config.Tenant {
		return config.Tenant{Tenant: domain, Graph: simURL + "/" + domain + "/v1.0", Auth: config.Auth{Method: config.AuthNone}}
	}
	cfg := &config.Config{
		Source: tenant(srcDomain),
		Targets: []config.Target{{
			Name:   "contoso",
			Tenant: tenant(dstDomain),
			Scope:  config.Scope{Groups: []string{group}},
			// ApplyDefaults keeps a zero threshold (stage every deprovision).
			// No settle delay: the guard decides at once (the tests of the
			// delay set one).
			Deprovision: config.Deprovision{Threshold: config.DefaultThreshold, Delay: new(config.Duration(0))},
		}},
	}
	cfg.ApplyDefaults()
	return cfg
}

// env is a simulator with the two tenants, Graph clients through the real
// SDK, an embedded store and an engine over them.
type env struct {
	t     testing.TB
	sim   *graphsim.TestServer
	cfg   *config.Config
	src   *graph.Client
	dst   *graph.Client
	store store.Store
	eng   *engine.Engine
	// now is the engine's clock. Tests that sync from several goroutines
	// move it with advance, between rounds.
	now   time.Time
	clock sync.Mutex
}

// advance moves the engine's clock.
func (e *env) advance(d time.Duration) {
	e.clock.Lock()
	defer e.clock.Unlock()
	e.now = e.now.Add(d)
}

func (e *env) time() time.Time {
	e.clock.Lock()
	defer e.clock.Unlock()
	return e.now
}

type envOption func(*graphsim.Seed, *config.Config)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	sd := seed()
	sim := graphsim.NewTestServer(t, graphsim.Seed{})
	cfg := testConfig(sim.URL)
	for _, o := range opts {
		o(&sd, cfg)
	}
	if err := sim.LoadSeed(sd); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	st, err := boltstore.OpenTemp(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, sim: sim, cfg: cfg, store: st, now: time.Now()}
	e.src = e.client(srcDomain)
	e.dst = e.client(dstDomain)
	e.eng = e.engine(nil)
	return e
}

func (e *env) client(domain string) *graph.Client {
	e.t.Helper()
	c, err := graph.New(e.t.Context(), graph.Options{BaseURL: e.sim.TenantURL(domain)})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// engine builds an engine over the env; targets replaces the target client.
func (e *env) engine(target engine.Target) *engine.Engine {
	e.t.Helper()
	return e.engineWith(e.store, target)
}

// engineWith builds an engine over the env with its own store: another
// instance.
func (e *env) engineWith(st store.Store, target engine.Target) *engine.Engine {
	e.t.Helper()
	if target == nil {
		target = e.dst
	}
	eng, err := engine.New(engine.Options{
		Config:  e.cfg,
		Source:  e.src,
		Targets: map[string]engine.Target{"contoso": target},
		Store:   st,
		Now:     e.time,
		// The Graph adapter's choice of group anchor (group provisioning).
		GroupAnchorAttr: graph.GroupAnchorAttr,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return eng
}

// graphCall sends a request to a tenant of the simulator as an admin of
// that tenant would, and decodes the answer into out.
func (e *env) graphCall(domain, method, path string, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(e.t.Context(), method, e.sim.TenantURL(domain)+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ConsistencyLevel", "eventual")
	req.Header.Set(graphsim.AdminHeader, "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 && out != nil {
		e.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

// sourceID returns the object id of a source user by UPN prefix.
func (e *env) sourceID(name string) string {
	e.t.Helper()
	var u struct{ ID string }
	e.graphCall(srcDomain, "GET", "/users/"+url.PathEscape(name+"@"+srcDomain)+"?$select=id", nil, &u)
	return u.ID
}

func (e *env) groupID() string {
	e.t.Helper()
	var page struct{ Value []struct{ ID string } }
	e.graphCall(srcDomain, "GET", "/groups?$filter="+url.QueryEscape("displayName eq '"+group+"'"), nil, &page)
	if len(page.Value) != 1 {
		e.t.Fatalf("group %q: %d found", group, len(page.Value))
	}
	return page.Value[0].ID
}

func (e *env) patchSource(name string, attrs map[string]any) {
	e.t.Helper()
	if code := e.graphCall(srcDomain, "PATCH", "/users/"+e.sourceID(name), attrs, nil); code != 204 {
		e.t.Fatalf("patch %s: %d", name, code)
	}
}

func (e *env) removeMember(name string) {
	e.t.Helper()
	if code := e.graphCall(srcDomain, "DELETE", "/groups/"+e.groupID()+"/members/"+e.sourceID(name)+"/$ref", nil, nil); code != 204 {
		e.t.Fatalf("remove %s from group: %d", name, code)
	}
}

func (e *env) addMember(id string) {
	e.t.Helper()
	ref := map[string]any{"@odata.id": e.sim.TenantURL(srcDomain) + "/directoryObjects/" + id}
	if code := e.graphCall(srcDomain, "POST", "/groups/"+e.groupID()+"/members/$ref", ref, nil); code != 204 {
		e.t.Fatalf("add %s to group: %d", id, code)
	}
}

// targetUsers returns the target users whose mail is addr.
func (e *env) targetUsers(addr string) []map[string]any {
	e.t.Helper()
	var page struct{ Value []map[string]any }
	q := url.Values{
		"$filter": {fmt.Sprintf("mail eq '%s'", addr)},
		"$select": {"id,displayName,department,jobTitle,accountEnabled,userType,mail,companyName,creationType,onPremisesExtensionAttributes,showInAddressList"},
	}
	e.graphCall(dstDomain, "GET", "/users?"+q.Encode(), nil, &page)
	return page.Value
}

// targetUser returns the one target user with mail addr.
func (e *env) targetUser(addr string) map[string]any {
	e.t.Helper()
	us := e.targetUsers(addr)
	if len(us) != 1 {
		e.t.Fatalf("target users with mail %s: %d, want 1", addr, len(us))
	}
	return us[0]
}

// stats returns the simulator's counters for a tenant.
func (e *env) stats(domain string) graphsim.TenantStats {
	return e.sim.Stats().Tenants[domain]
}

func (e *env) sync(name string) engine.Result {
	e.t.Helper()
	res, err := e.eng.Sync(e.t.Context(), engine.Change{Kind: engine.KindUser, ID: e.sourceID(name)})
	if err != nil {
		e.t.Fatalf("sync %s: %v", name, err)
	}
	return res
}

// only returns the single action of a result.
func only(t testing.TB, res engine.Result) engine.Action {
	t.Helper()
	if len(res.Actions) != 1 {
		t.Fatalf("actions: %+v, want one", res.Actions)
	}
	return res.Actions[0]
}

func (e *env) link(name string) store.Link {
	e.t.Helper()
	l, err := e.store.GetLink(e.t.Context(), "contoso", e.sourceID(name))
	if err != nil {
		e.t.Fatalf("link of %s: %v", name, err)
	}
	return l
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// collect returns an Emit func that appends to into.
func collect(into *[]engine.Change) func(context.Context, []engine.Change) error {
	return func(_ context.Context, cs []engine.Change) error {
		*into = append(*into, cs...)
		return nil
	}
}
