package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestNoConfig runs every command that reads the config without one: each
// fails with the same line, naming the file it looked for.
func TestNoConfig(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	missing := filepath.Join(e.dir, "missing.yaml")
	e.vars["TENANTSYNC_CONFIG"] = missing
	want := "error: no config: " + missing + " does not exist (pass --config FILE, or set TENANTSYNC_CONFIG or TENANTSYNC_CONFIG_JSON; docs/tenantsync.example.yaml is a start)"
	for _, args := range [][]string{
		{"validate"}, {"validate", "--online"}, {"plan"}, {"reconcile"}, {"provision", "--user", adeleUPN}, {"status"},
		{"deletions", "list"}, {"deletions", "approve", "--target", "contoso", "--all"}, {"resume", "--target", "contoso"},
		{"consent-url", "--target", "contoso"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := e.run(args...)
			r.wantError(t, want)
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
		})
	}
	// --config wins over TENANTSYNC_CONFIG.
	other := filepath.Join(e.dir, "other.yaml")
	e.run("--config", other, "plan").wantError(t, strings.Replace(want, missing, other, 1))
	e.run("plan", "--config", e.config, "--json").wantErrorFree(t)

	// The dead letters do not need a config.
	if out := e.mustRun("dlq", "list"); !strings.HasPrefix(out, "No dead letters in the embedded queue changes") {
		t.Errorf("dlq list without a config = %q", out)
	}
}

// wantErrorFree checks that a command succeeded with nothing on stderr.
func (r result) wantErrorFree(t *testing.T) {
	t.Helper()
	if r.failed || r.stderr != "" {
		t.Fatalf("failed=%v stderr=%q", r.failed, r.stderr)
	}
}

func TestUnknownTargetAndUser(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	unknownTarget := `error: unknown target "nope" (configured: contoso)`
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "--target", "nope"}, unknownTarget},
		{[]string{"provision", "--user", adeleUPN, "--target", "nope"}, unknownTarget},
		{[]string{"deletions", "list", "--target", "nope"}, unknownTarget},
		{[]string{"deletions", "approve", "--target", "nope", "--all"}, unknownTarget},
		{[]string{"resume", "--target", "nope"}, unknownTarget},
		{[]string{"consent-url", "--target", "nope"}, unknownTarget},
		{[]string{"provision", "--user", "nobody@fabrikam.example"},
			`error: provision nobody@fabrikam.example: source user "nobody@fabrikam.example": not found in the source tenant fabrikam.example (neither live nor in deleted items)`},
		{[]string{"provision", "--user", "00000000-0000-4000-8000-00000000dead", "--json"},
			`error: provision 00000000-0000-4000-8000-00000000dead: source user "00000000-0000-4000-8000-00000000dead": not found in the source tenant fabrikam.example (neither live nor in deleted items)`},
		{[]string{"provision"}, "error: --user is required: a source user's object id or userPrincipalName (or --group: a source group's object id or display name)"},
		{[]string{"provision", "--user", " "}, "error: --user is required: a source user's object id or userPrincipalName (or --group: a source group's object id or display name)"},
		{[]string{"reconcile", "--workers", "0"}, "error: --workers 0: want 1 to 64"},
		{[]string{"reconcile", "--workers", "65"}, "error: --workers 65: want 1 to 64"},
		{[]string{"resume"}, "error: --target is required"},
		{[]string{"plan", "extra"}, `error: unknown command "extra" for "handler plan"`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := e.run(tt.args...)
			r.wantError(t, tt.want)
		})
	}
	if w := e.writes(tgtDomain); w != 0 {
		t.Errorf("bad input wrote %d times to the target", w)
	}
}

// TestUnreachableTenants points the config at a closed port: the commands
// that need Graph fail in one line naming the request that failed; those
// that read only the store still work.
func TestUnreachableTenants(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	addr := closedPort(t)
	e.writeConfig(configOptions{graph: "http://" + addr})
	q := regexp.QuoteMeta
	refused := `": dial tcp ` + q(addr) + `: connect: connection refused`
	src := q("http://" + addr + "/fabrikam.example/v1.0")
	for _, tt := range []struct {
		args []string
		want string // a regexp of the whole stderr line
	}{
		{[]string{"validate", "--online"}, `error: 2 of 7 checks failed; first: source read users: read users: Get "` + src + q("/users?$select=id&$top=1") + refused},
		{[]string{"plan"}, `error: list source users: list users: Get "` + src + `/users\?[^"]+` + refused},
		{[]string{"reconcile"}, `error: reconcile: users delta \(latest\): users delta: Get "` + src + `/users/delta\(\)\?[^"]+` + refused},
		{[]string{"provision", "--user", adeleUPN}, `error: provision adele@fabrikam\.example: read source user adele@fabrikam\.example: get user adele@fabrikam\.example: Get "` +
			src + `/users/adele%40fabrikam\.example\?[^"]+` + refused},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := e.run(tt.args...)
			if !r.failed || !regexp.MustCompile(`^`+tt.want+"\n$").MatchString(r.stderr) {
				t.Fatalf("failed=%v\nstderr %q\nwant   %q", r.failed, r.stderr, tt.want)
			}
		})
	}
	for _, args := range [][]string{{"status"}, {"deletions", "list"}, {"resume", "--target", "contoso"}} {
		e.run(args...).wantErrorFree(t)
	}
}
