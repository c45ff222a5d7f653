package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/operator"
	"github.com/tenantsync/tenantsync/internal/settings"
)

// mainResult is what main would print and exit with.
type mainResult struct {
	stdout, stderr string
	code           int
}

// runMain runs the command tree as main does: the error on stderr (as
// JSON with --json) and the exit code.
func runMain(t *testing.T, vars map[string]string, args ...string) mainResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	root := newRootCmdWithEnv(settings.FromMap(vars))
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	code := run(ctx, root, args, &errb)
	return mainResult{stdout: out.String(), stderr: errb.String(), code: code}
}

// TestExitCodes: each kind of failure exits with its own code, as
// `handler --help` documents, with the one-line reason.
func TestExitCodes(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	down := newTestEnv(t, configOptions{graph: "http://" + closedPort(t)})
	badConfig := newTestEnv(t, configOptions{})
	bad := strings.Replace(configYAML(configOptions{graph: badConfig.sim.URL}), "action: delete", "action: remove", 1)
	if err := os.WriteFile(badConfig.config, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	partial := newTestEnv(t, configOptions{})
	partial.graphCall(srcDomain, "PATCH", "/users/"+adeleID, `{"mail":"adele at fabrikam"}`)
	badConfigLine := fmt.Sprintf(`error: invalid config: targets[0].deprovision.action: must be delete, disable or none, got "remove" (%s:11)`, badConfig.config)

	tests := []struct {
		name   string
		env    *testEnv
		args   []string
		code   int
		stderr string // exact; a regexp when it starts with ^
	}{
		{"success", e, []string{"validate"}, 0, ""},
		{"unknown flag", e, []string{"status", "--nope"}, exitUsage, "error: unknown flag: --nope"},
		{"unknown command", e, []string{"stauts"}, exitUsage, `error: unknown command "stauts" for "handler"`},
		{"unexpected argument", e, []string{"status", "contoso"}, exitUsage, `error: unknown command "contoso" for "handler status"`},
		{"missing flag", e, []string{"deletions", "approve", "--all"}, exitUsage, "error: --target is required"},
		{"bad flag value", e, []string{"reconcile", "--workers", "0"}, exitUsage, "error: --workers 0: want 1 to 64"},
		{"unknown target", e, []string{"log", "--target", "nope"}, exitUsage, `error: unknown target "nope" (configured: contoso)`},
		{"bad action", e, []string{"log", "--action", "destroy"}, exitUsage,
			`error: --action: unknown action "destroy": want one of create, update, disable, deprovision, restore, adopt, pending, held, conflict, skip, drift, failed, cancelled`},
		{"bad since", e, []string{"log", "--since", "yesterday"}, exitUsage, `error: --since: "yesterday" is not a duration: want one such as 30m, 1h or 7d`},
		{"invalid config", badConfig, []string{"status"}, exitUsage, badConfigLine},
		{"invalid config, command that opens the tenants", badConfig, []string{"plan"}, exitUsage, badConfigLine},
		{"no config", newTestEnv(t, configOptions{}), []string{"validate", "--config", "/nonexistent/tenantsync.yaml"}, exitUsage,
			"error: no config: /nonexistent/tenantsync.yaml does not exist (pass --config FILE, or set TENANTSYNC_CONFIG or TENANTSYNC_CONFIG_JSON; docs/tenantsync.example.yaml is a start)"},
		{"tenant unreachable", down, []string{"reconcile"}, exitTenant,
			`^error: reconcile: users delta \(latest\): users delta: Get "http://127\.0\.0\.1:\d+/fabrikam\.example/v1\.0/users/delta\(\)\?\$select=[^"]+": dial tcp 127\.0\.0\.1:\d+: connect: connection refused$`},
		{"tenant refuses", newTestEnv(t, configOptions{closed: true}), []string{"reconcile", "--workers", "1"}, exitTenant,
			`^error: reconcile: 1 change failed; the watermark was not moved: run reconcile again; first: user ` + adeleID + `: invite adele@fabrikam\.example into closed: .*403 Authorization_RequestDenied.*$`},
		{"online checks fail", down, []string{"validate", "--online"}, exitTenant, `^error: 2 of 7 checks failed; first: source read users: read users: Get "http://127\.0\.0\.1:\d+/fabrikam\.example/v1\.0/users\?\$select=id&\$top=1": dial tcp 127\.0\.0\.1:\d+: connect: connection refused$`},
		{"partial failure", partial, []string{"reconcile"}, exitPartial,
			"error: reconcile: 1 of 3 changes failed for good (see above; handler log --failed lists them too)"},
		{"other failure", e, []string{"status", "--user", "nobody@fabrikam.example"}, exitFailure,
			"error: unknown user: no link, staged deletion or provisioning event of any target names nobody@fabrikam.example; " +
				"tenantsync has not synced this user (handler provision --user nobody@fabrikam.example shows why, reading the tenants)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runMain(t, tc.env.vars, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", r.code, tc.code, r.stderr)
			}
			got := strings.TrimSuffix(r.stderr, "\n")
			if strings.HasPrefix(tc.stderr, "^") {
				if !regexp.MustCompile(tc.stderr).MatchString(got) {
					t.Errorf("stderr %q\nwant (regexp) %s", got, tc.stderr)
				}
			} else if got != tc.stderr {
				t.Errorf("stderr %q\nwant          %q", got, tc.stderr)
			}
			if tc.code != 0 && strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("stderr is not one line: %q", r.stderr)
			}
		})
	}
}

// TestErrorsAsJSON: under --json, a failure is JSON on stderr too, with
// the exit code.
func TestErrorsAsJSON(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	tests := []struct {
		args []string
		want string
		code int
	}{
		{[]string{"status", "--json", "--nope"}, `{"error":"unknown flag: --nope","exitCode":2}`, exitUsage},
		{[]string{"log", "--json", "--action", "destroy"}, `{"error":"--action: unknown action \"destroy\": want one of create, update, disable, deprovision, restore, adopt, pending, held, conflict, skip, drift, failed, cancelled","exitCode":2}`, exitUsage},
		{[]string{"status", "--json", "--user", "x@fabrikam.example"}, `{"error":"unknown user: no link, staged deletion or provisioning event of any target names x@fabrikam.example; ` +
			`tenantsync has not synced this user (handler provision --user x@fabrikam.example shows why, reading the tenants)","exitCode":1}`, exitFailure},
		{[]string{"deletions", "approve", "--all", "--json"}, `{"error":"--target is required","exitCode":2}`, exitUsage},
	}
	for _, tc := range tests {
		r := runMain(t, e.vars, tc.args...)
		if r.code != tc.code || r.stderr != tc.want+"\n" {
			t.Errorf("%s: exit %d, stderr %q\nwant exit %d, %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.want)
		}
		var v struct {
			Error    string `json:"error"`
			ExitCode int    `json:"exitCode"`
		}
		if err := json.Unmarshal([]byte(r.stderr), &v); err != nil || v.ExitCode != tc.code {
			t.Errorf("%s: stderr is not the JSON error: %v", strings.Join(tc.args, " "), err)
		}
	}
}

func TestHelpDocumentsExitCodesAndSeeds(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	help := runMain(t, e.vars, "--help").stdout
	for _, want := range []string{
		"Exit codes:\n  0  success\n  1  failure",
		"  2  usage or config error",
		"  3  a tenant could not be reached, or refused tenantsync (401, 403, a\n     quarantine)",
		"  4  partial failure: some changes failed, the others were carried out",
		`With --json, a failure is also JSON, on stderr: {"error":"…","exitCode":N}.`,
	} {
		if !strings.Contains(help, want) {
			t.Errorf("handler --help lacks %q:\n%s", want, help)
		}
	}
	// Commands are listed with their short help; cobra pads the names to
	// the longest.
	for _, want := range []string{`\n  log +Search the provisioning log`, `\n  migrate-store +Move the links of a Table Storage store`} {
		if !regexp.MustCompile(want).MatchString(help) {
			t.Errorf("handler --help does not match %q:\n%s", want, help)
		}
	}
	sim := runMain(t, e.vars, "sim", "--help").stdout
	for _, want := range []string{`"tenants": [{`, `"permissions": ["User.Read.All", …]`, `"replicationLag": "2s"`, `"manager": "<id or userPrincipalName>"`,
		`"privileged": true}],`, `"members": ["<user id or userPrincipalName, or group name>"]`, "docs/simulator.md"} {
		if !strings.Contains(sim, want) {
			t.Errorf("sim --help lacks %q:\n%s", want, sim)
		}
	}
}

func TestVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/tenantsync/tenantsync", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "860c0966e1f1b7a3d3c8e1a0c2b9d4e5f6a7b8c9"},
			{Key: "vcs.time", Value: "2026-02-28T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	platform := runtime.GOOS + "/" + runtime.GOARCH
	tests := []struct {
		name    string
		bi      *debug.BuildInfo
		ok      bool
		release string
		want    versionInfo
	}{
		{"a release build", bi, true, "v1.4.0-rc1", versionInfo{Version: "v1.4.0-rc1", Module: "github.com/tenantsync/tenantsync", ModuleVersion: "v1.4.0",
			Commit: "860c0966e1f1b7a3d3c8e1a0c2b9d4e5f6a7b8c9", CommitTime: "2026-02-28T10:00:00Z", Modified: true, GoVersion: "go1.26.8", Platform: platform}},
		{"no -X: the module version", bi, true, "dev", versionInfo{Version: "v1.4.0", Module: "github.com/tenantsync/tenantsync", ModuleVersion: "v1.4.0",
			Commit: "860c0966e1f1b7a3d3c8e1a0c2b9d4e5f6a7b8c9", CommitTime: "2026-02-28T10:00:00Z", Modified: true, GoVersion: "go1.26.8", Platform: platform}},
		{"a work tree build without VCS information", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/tenantsync/tenantsync", Version: "(devel)"}},
			true, "dev", versionInfo{Version: "(devel)", Module: "github.com/tenantsync/tenantsync", ModuleVersion: "(devel)", GoVersion: "go1.26.8", Platform: platform}},
		{"no build information", nil, false, "dev", versionInfo{Version: "dev", GoVersion: runtime.Version(), Platform: platform}},
	}
	for _, tc := range tests {
		if got := versionOf(tc.bi, tc.ok, tc.release); got != tc.want {
			t.Errorf("%s: versionOf = %+v\nwant %+v", tc.name, got, tc.want)
		}
	}

	cmd := newVersionCmd(func() (*debug.BuildInfo, bool) { return bi, true })
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := "tenantsync v1.4.0\n  module  github.com/tenantsync/tenantsync v1.4.0\n" +
		"  commit  860c0966e1f1b7a3d3c8e1a0c2b9d4e5f6a7b8c9 (2026-02-28T10:00:00Z), with uncommitted changes\n" +
		"  go      go1.26.8 " + platform + "\n"
	if out.String() != want {
		t.Errorf("version\n%s\nwant\n%s", out.String(), want)
	}
	out.Reset()
	cmd.SetArgs([]string{"--json"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	var v versionInfo
	decodeJSON(t, out.String(), &v)
	if v.Version != "v1.4.0" || v.Commit == "" || v.GoVersion != "go1.26.8" {
		t.Errorf("version --json = %+v", v)
	}

	// The real binary's own build information, as built by these tests
	// (-buildvcs=false): the commit is said to be unknown, not left out.
	r := runMain(t, nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "tenantsync ") || !strings.Contains(r.stdout, "\n  go      "+runtime.Version()) {
		t.Errorf("handler version: exit %d\n%s", r.code, r.stdout)
	}
}

// TestLog: the provisioning log, searched by user, action and failure,
// from the store alone.
func TestLog(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	e.mustRun("reconcile")
	e.graphCall(srcDomain, "PATCH", "/users/"+adeleID, `{"department":"Marketing"}`)
	e.mustRun("reconcile")
	e.sim.ResetStats()

	out := e.mustRun("log", "--user", "ADELE@fabrikam.example")
	re := `^TIME +TARGET +USER +ACTION +RESULT +WHEN
\S+ \S+  contoso  adele@fabrikam\.example  update  ok +\d+ s ago
    reason: in scope: member of group "Cross-tenant sync" \(id ` + groupID + `\)
    trigger: delta
    attributes: department
    Graph request ids: .+
\S+ \S+  contoso  adele@fabrikam\.example  create  ok +\d+ s ago
    reason: in scope: member of group "Cross-tenant sync" \(id ` + groupID + `\); invited adele@fabrikam\.example
    trigger: full
    attributes: accountEnabled, department, displayName, jobTitle, mail, onPremisesExtensionAttributes\.extensionAttribute15, showInAddressList, userType
    Graph request ids: .+

2 events shown, newest first \(\d+ events read\)\.
$`
	if !regexp.MustCompile(re).MatchString(out) {
		t.Errorf("log --user:\n%s\nwant (regexp):\n%s", out, re)
	}
	if strings.Contains(out, "Marketing") {
		t.Errorf("the log shows attribute values:\n%s", out)
	}
	if n := e.sim.Stats().Tenants[srcDomain].Requests + e.sim.Stats().Tenants[tgtDomain].Requests; n != 0 {
		t.Errorf("log sent %d requests to the tenants; it reads the store only", n)
	}

	if out := e.mustRun("log", "--failed"); !strings.HasPrefix(out, "No events match (") {
		t.Errorf("log --failed = %q", out)
	}
	var l operator.Log
	decodeJSON(t, e.mustRun("log", "--action", "create", "--since", "1h", "--json"), &l)
	if len(l.Events) != 3 || l.Events[0].Outcome != "create" || l.Events[0].Target != "contoso" || len(l.Events[0].Attributes) == 0 {
		t.Errorf("log --action create --json = %+v", l)
	}
	out = e.mustRun("log", "--target", "contoso", "--limit", "1")
	if !regexp.MustCompile(`\n1 event shown, newest first \(1 event read\)\. Older: handler log --target contoso --limit 1 --page \S+\n$`).MatchString(out) {
		t.Errorf("log --limit 1 does not say how to see older events:\n%s", out)
	}
}

// TestStatusUser: one user in every target, from the store alone.
func TestStatusUser(t *testing.T) {
	e := newTestEnv(t, configOptions{threshold: 1})
	e.mustRun("reconcile")
	e.graphCall(srcDomain, "DELETE", "/groups/"+groupID+"/members/"+benID+"/$ref", "")
	e.graphCall(srcDomain, "DELETE", "/groups/"+groupID+"/members/"+danID+"/$ref", "")
	e.mustRun("reconcile")
	e.sim.ResetStats()

	out := e.mustRun("status", "--user", benUPN)
	re := `^User ben@fabrikam\.example \(source id ` + benID + `\)

Target contoso
  link        staged, target user \S+, updated \S+ \S+ \(\d+ s ago\)
  last error  none
  deletion    held by the deletion guard: delete, staged \d+ s ago, expires in 6 d 23 h, awaiting approval: handler deletions approve --target contoso ` + benID + ` \(out of scope: .*\)
  conflict    none
  events      \d newest:
    TIME +ACTION +RESULT +DETAIL
(    .*\n)+$`
	if !regexp.MustCompile(re).MatchString(out) {
		t.Errorf("status --user:\n%s\nwant (regexp):\n%s", out, re)
	}
	if n := e.sim.Stats().Tenants[srcDomain].Requests + e.sim.Stats().Tenants[tgtDomain].Requests; n != 0 {
		t.Errorf("status --user sent %d requests to the tenants; it reads the store only", n)
	}
	var u operator.UserStatus
	decodeJSON(t, e.mustRun("status", "--user", adeleID, "--json"), &u)
	if u.UserPrincipalName != adeleUPN || len(u.Targets) != 1 || u.Targets[0].Link == nil || u.Targets[0].Link.State != "active" ||
		u.Targets[0].Deletion != nil || len(u.Targets[0].Events) != 1 {
		t.Errorf("status --user --json = %+v", u)
	}
}

// TestValidateFindsWhatSyncsWouldFailOn: validate, offline, names the key,
// the column and the likely meant attribute, and exits with code 2.
func TestValidateFindsWhatSyncsWouldFailOn(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	cfg := strings.Replace(configYAML(configOptions{graph: e.sim.URL}), "    deprovision:",
		"    mappings:\n"+
			"      - {target: displayName, source: displayName}\n"+
			"      - {target: jobTitle, expression: 'Left([jobTitle], \"abc\")'}\n"+
			"      - {target: department, expression: 'Coalesce([departmnt], \"Unknown\")'}\n"+
			"      - {target: departmnt, source: department}\n"+
			"    deprovision:", 1)
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runMain(t, e.vars, "validate")
	problems := []string{
		fmt.Sprintf(`targets[0].mappings[1].expression: Left: argument 2 (numChars) must be a number, got the string "abc" at column 18 (%s:13)`, e.config),
		fmt.Sprintf(`targets[0].mappings[2].expression: unknown source attribute "departmnt" at column 11 (did you mean "department"?) (%s:14)`, e.config),
		fmt.Sprintf(`targets[0].mappings[3].target: unknown target attribute "departmnt" (did you mean "department"?) (%s:15)`, e.config),
	}
	if r.code != exitUsage || r.stderr != "error: invalid config: 3 problems; first: "+problems[0]+"\n" {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if want := e.config + " is not valid:\n  " + strings.Join(problems, "\n  ") + "\n"; r.stdout != want {
		t.Errorf("stdout\n%s\nwant\n%s", r.stdout, want)
	}
}
