package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/graphsim"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

// The tenants of the operator tests: Fabrikam (source) with four people,
// three of them in the scoping group; Contoso, an empty target; and
// Closed, a target that refuses guest invitations.
const (
	srcDomain    = "fabrikam.example"
	tgtDomain    = "contoso.example"
	closedDomain = "closed.example"

	adeleID = "ade1e000-0000-4000-8000-000000000001"
	benID   = "be000000-0000-4000-8000-000000000002"
	carlaID = "ca21a000-0000-4000-8000-000000000003"
	danID   = "da000000-0000-4000-8000-000000000004"
	groupID = "5e1c0000-0000-4000-8000-0000000000a1"

	adeleUPN = "adele@fabrikam.example"
	benUPN   = "ben@fabrikam.example"
	carlaUPN = "carla@fabrikam.example"
	danUPN   = "dan@fabrikam.example"

	groupName = "Cross-tenant sync"
	appID     = "2f5c9d1e-8a4b-4c3d-9e7f-1a2b3c4d5e6f"
)

func testSeed() graphsim.Seed {
	user := func(id, upn, name, dept string) graphsim.Object {
		return graphsim.Object{"id": id, "userPrincipalName": upn, "displayName": name, "mail": upn,
			"department": dept, "jobTitle": "Staff", "accountEnabled": true, "userType": "Member"}
	}
	return graphsim.Seed{Tenants: []graphsim.TenantSeed{{
		Domain: srcDomain, DisplayName: "Fabrikam",
		Users: []graphsim.Object{
			user(adeleID, adeleUPN, "Adele Vance", "Sales"),
			user(benID, benUPN, "Ben Walters", "Engineering"),
			user(carlaID, carlaUPN, "Carla Diaz", "Finance"),
			user(danID, danUPN, "Dan Jump", "Sales"),
		},
		Groups: []graphsim.Object{{"id": groupID, "displayName": groupName, "members": []string{adeleID, benID, danID}}},
	}, {
		Domain: tgtDomain, DisplayName: "Contoso",
	}, {
		Domain: closedDomain, DisplayName: "Closed", BlockInvitations: true,
	}}}
}

// configOptions shape the config file of a test.
type configOptions struct {
	// graph is the simulator's root; "" leaves the tenants unreachable at
	// a closed port.
	graph string
	// closed adds the target "closed" that refuses invitations.
	closed bool
	// threshold is the deletion guard's threshold; 0 means 500.
	threshold int
	// delay is the deletion guard's settle delay; "" means 1s, so that
	// reconcile's wait for it is short.
	delay string
	// clientID gives contoso a multi-tenant app (clientSecret auth) instead
	// of no auth.
	clientID string
}

func configYAML(o configOptions) string {
	tenant := func(domain string) string {
		return fmt.Sprintf("tenant: %s\n    graph: %s/%s/v1.0\n    auth: {method: none}", domain, o.graph, domain)
	}
	threshold := o.threshold
	if threshold == 0 {
		threshold = 500
	}
	delay := o.delay
	if delay == "" {
		delay = "1s"
	}
	contosoAuth := "auth: {method: none}"
	if o.clientID != "" {
		contosoAuth = "auth: {method: clientSecret, clientId: " + o.clientID + ", secretEnv: TENANTSYNC_TEST_SECRET}"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "source:\n  tenant: %s\n  graph: %s/%s/v1.0\n  auth: {method: none}\n", srcDomain, o.graph, srcDomain)
	fmt.Fprintf(&b, "targets:\n  - name: contoso\n    tenant: %s\n    graph: %s/%s/v1.0\n    %s\n", tgtDomain, o.graph, tgtDomain, contosoAuth)
	fmt.Fprintf(&b, "    scope: {groups: [%s]}\n    deprovision: {action: delete, threshold: %d, window: 1h, delay: %s}\n", groupName, threshold, delay)
	if o.closed {
		fmt.Fprintf(&b, "  - name: closed\n    %s\n    scope: {groups: [%s]}\n", tenant(closedDomain), groupName)
	}
	return b.String()
}

// testEnv is a simulator, a config file pointing at it and an embedded
// store file, all in a temporary directory, and the settings the commands
// read.
type testEnv struct {
	t      *testing.T
	sim    *graphsim.TestServer
	dir    string
	config string
	state  string
	vars   map[string]string
}

func newTestEnv(t *testing.T, o configOptions) *testEnv {
	t.Helper()
	e := &testEnv{t: t, sim: graphsim.NewTestServer(t, testSeed()), dir: t.TempDir()}
	if o.graph == "" {
		o.graph = e.sim.URL
	}
	e.config = filepath.Join(e.dir, "tenantsync.yaml")
	e.state = filepath.Join(e.dir, "state", "state.db")
	e.writeConfig(o)
	e.vars = map[string]string{settings.Config: e.config, settings.State: e.state}
	return e
}

func (e *testEnv) writeConfig(o configOptions) {
	e.t.Helper()
	if o.graph == "" {
		o.graph = e.sim.URL
	}
	if err := os.WriteFile(e.config, []byte(configYAML(o)), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// result is what one command printed and whether it failed.
type result struct {
	stdout, stderr string
	failed         bool
}

// run runs the real command tree with args, as main does: a failure
// prints errorLine on stderr.
func (e *testEnv) run(args ...string) result {
	e.t.Helper()
	return runWith(e.t, e.vars, args...)
}

func runWith(t *testing.T, vars map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	root := newRootCmdWithEnv(settings.FromMap(vars))
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(&errb, errorLine(err))
	}
	return result{stdout: out.String(), stderr: errb.String(), failed: err != nil}
}

// mustRun runs a command that must succeed and print nothing on stderr.
func (e *testEnv) mustRun(args ...string) string {
	e.t.Helper()
	r := e.run(args...)
	if r.failed || r.stderr != "" {
		e.t.Fatalf("%s: failed=%v\nstderr: %s\nstdout: %s", strings.Join(args, " "), r.failed, r.stderr, r.stdout)
	}
	return r.stdout
}

// wantError checks that a command failed with exactly want on stderr.
func (r result) wantError(t *testing.T, want string) {
	t.Helper()
	if !r.failed {
		t.Fatalf("the command succeeded; want error %q\nstdout: %s", want, r.stdout)
	}
	if r.stderr != want+"\n" {
		t.Fatalf("stderr = %q\nwant     %q", r.stderr, want+"\n")
	}
}

// graphCall makes a request to a tenant of the simulator, as an admin
// changing the directory would.
func (e *testEnv) graphCall(tenant, method, path, body string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.sim.TenantURL(tenant)+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
}

// targetUsers returns the users of a target tenant by mail.
func (e *testEnv) targetUsers(tenant string) map[string]graphsim.Object {
	e.t.Helper()
	snap, err := e.sim.Snapshot(tenant)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]graphsim.Object{}
	for _, u := range snap.Users {
		mail, _ := u["mail"].(string)
		out[mail] = u
	}
	return out
}

func (e *testEnv) writes(tenant string) int64 { return e.sim.Stats().Tenants[tenant].Writes }

// dumpStore reads everything the store holds about the test's targets, so
// that two dumps differ exactly when something was written.
func (e *testEnv) dumpStore() string {
	e.t.Helper()
	if _, err := os.Stat(e.state); errors.Is(err, os.ErrNotExist) {
		return "(no store)"
	}
	st, err := boltstore.Open(e.state, &boltstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		e.t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	dump := map[string]any{}
	for _, res := range []string{"users", "groups"} {
		w, err := st.GetWatermark(ctx, srcDomain, res)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			e.t.Fatal(err)
		}
		dump["watermark/"+res] = w
	}
	subs, err := st.ListSubscriptions(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	dump["subscriptions"] = subs
	for _, target := range []string{"contoso", "closed"} {
		var links []store.Link
		if err := st.ListLinks(ctx, target, func(l store.Link) error { links = append(links, l); return nil }); err != nil {
			e.t.Fatal(err)
		}
		dels, err := st.ListDeletions(ctx, target)
		if err != nil {
			e.t.Fatal(err)
		}
		status, err := st.GetStatus(ctx, target)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			e.t.Fatal(err)
		}
		var events []store.Event
		for page := ""; ; {
			p, err := st.ListEvents(ctx, target, store.ListEventsOptions{Limit: 500, Page: page})
			if err != nil {
				e.t.Fatal(err)
			}
			events = append(events, p.Events...)
			if page = p.Next; page == "" {
				break
			}
		}
		dump[target] = map[string]any{"links": links, "deletions": dels, "status": status, "events": events}
	}
	b, err := json.Marshal(dump)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// decodeJSON decodes a command's JSON output.
func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, s)
	}
}
