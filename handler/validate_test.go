package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	out := e.mustRun("validate")
	if want := e.config + " is valid: source fabrikam.example, 1 target (contoso).\n"; out != want {
		t.Fatalf("stdout = %q, want %q", out, want)
	}

	var rep configReport
	decodeJSON(t, e.mustRun("validate", "--json"), &rep)
	if !rep.Valid || rep.Config != e.config || len(rep.Problems) != 0 || rep.Checks != nil {
		t.Errorf("validate --json = %+v", rep)
	}
}

func TestValidateInvalidConfig(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	bad := strings.Replace(configYAML(configOptions{graph: e.sim.URL}), "name: contoso", "name: Contoso", 1)
	bad = strings.Replace(bad, "action: delete", "action: remove", 1)
	if err := os.WriteFile(e.config, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	first := fmt.Sprintf(`targets[0].name: must contain only a-z, 0-9 and -, got "Contoso" (%s:6)`, e.config)
	second := fmt.Sprintf(`targets[0].deprovision.action: must be delete, disable or none, got "remove" (%s:11)`, e.config)

	r := e.run("validate")
	r.wantError(t, "error: invalid config: 2 problems; first: "+first)
	if want := e.config + " is not valid:\n  " + first + "\n  " + second + "\n"; r.stdout != want {
		t.Errorf("stdout = %q\nwant     %q", r.stdout, want)
	}

	r = e.run("validate", "--json")
	r.wantError(t, "error: invalid config: 2 problems; first: "+first)
	var rep configReport
	decodeJSON(t, r.stdout, &rep)
	if rep.Valid || len(rep.Problems) != 2 || rep.Problems[0].Path != "targets[0].name" || rep.Problems[0].Line != 6 ||
		rep.Problems[1].Path != "targets[0].deprovision.action" {
		t.Errorf("validate --json = %+v", rep)
	}

	// Every command that reads the config says the same in one line.
	for _, args := range [][]string{{"plan"}, {"status"}, {"reconcile"}, {"provision", "--user", adeleUPN}, {"consent-url", "--target", "contoso"}} {
		r := e.run(args...)
		r.wantError(t, "error: invalid config: 2 problems; first: "+first)
	}
}

func TestValidateOnline(t *testing.T) {
	tests := []struct {
		name    string
		opts    configOptions
		webhook string
		want    [][3]string // tenant, check, result
		err     string
	}{{
		name: "every check passes",
		opts: configOptions{},
		// The simulator grants every permission by default: more than
		// tenantsync needs, which is a warning.
		want: [][3]string{
			{"source", "read users", "ok"}, {"source", "permissions", "ok"}, {"source", "extra permissions", "warn"},
			{"source", "read groups", "ok"}, {"source", "scoping groups", "ok"},
			{"source", "list subscriptions", "ok"}, {"source", "notification URL", "skip"},
			{"contoso", "read users", "ok"}, {"contoso", "permissions", "ok"}, {"contoso", "extra permissions", "warn"},
			{"contoso", "guest invitations", "ok"},
		},
	}, {
		name:    "a target refuses invitations",
		opts:    configOptions{closed: true},
		webhook: "https://tenantsync.example/api/GraphWebhook",
		want: [][3]string{
			{"source", "read users", "ok"}, {"source", "permissions", "ok"}, {"source", "extra permissions", "warn"},
			{"source", "read groups", "ok"}, {"source", "scoping groups", "ok"},
			{"source", "list subscriptions", "ok"}, {"source", "notification URL", "skip"},
			{"contoso", "read users", "ok"}, {"contoso", "permissions", "ok"}, {"contoso", "extra permissions", "warn"},
			{"contoso", "guest invitations", "ok"},
			{"closed", "read users", "ok"}, {"closed", "permissions", "ok"}, {"closed", "extra permissions", "warn"},
			{"closed", "guest invitations", "fail"},
		},
		err: "error: 1 of 15 checks failed; first: closed guest invitations: refused: the authorization policy's allowInvitesFrom is none, so every invitation fails",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t, tt.opts)
			if tt.webhook != "" {
				e.vars["TENANTSYNC_WEBHOOK_URL"] = tt.webhook
			}
			r := e.run("validate", "--online", "--json")
			if tt.err != "" {
				r.wantError(t, tt.err)
			} else if r.failed {
				t.Fatalf("failed: %s", r.stderr)
			}
			var rep configReport
			decodeJSON(t, r.stdout, &rep)
			if len(rep.Checks) != len(tt.want) {
				t.Fatalf("%d checks, want %d: %+v", len(rep.Checks), len(tt.want), rep.Checks)
			}
			for i, c := range rep.Checks {
				if got := [3]string{c.Tenant, c.Check, c.Result}; got != tt.want[i] {
					t.Errorf("check %d = %v (%s), want %v", i, got, c.Detail, tt.want[i])
				}
			}
			if w := e.writes(srcDomain) + e.writes(tgtDomain) + e.writes(closedDomain); w != 0 {
				t.Errorf("validate --online wrote %d times to the tenants", w)
			}
		})
	}
}

func TestValidateOnlineText(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	// Exactly what tenantsync needs, and Application.Read.All so that the
	// check can list the grant without a token.
	e.setPermissions(srcDomain, "User.Read.All", "Group.Read.All", "Application.Read.All")
	e.setPermissions(tgtDomain, "User.Invite.All", "User.ReadWrite.All", "Application.Read.All", "Policy.Read.All")
	out := e.mustRun("validate", "--online")
	want := e.config + ` is valid: source fabrikam.example, 1 target (contoso).

TENANT   CHECK               RESULT  DETAIL
source   read users          ok      can read users
source   permissions         ok      granted: User.Read.All, Group.Read.All (read from the app's appRoleAssignments)
source   extra permissions   warn    granted beyond what tenantsync needs in source: Application.Read.All; least privilege: revoke them
source   read groups         ok      can read groups
source   scoping groups      ok      1 of 1 resolve
source   list subscriptions  ok      can list subscriptions (0 now)
source   notification URL    skip    not set (TENANTSYNC_WEBHOOK_URL): the reconcile timer alone keeps targets in step
contoso  read users          ok      can read users
contoso  permissions         ok      granted: User.Invite.All, User.ReadWrite.All (read from the app's appRoleAssignments)
contoso  extra permissions   warn    granted beyond what tenantsync needs in contoso: Application.Read.All, Policy.Read.All; least privilege: revoke them
contoso  guest invitations   ok      allowed: allowInvitesFrom is everyone (the app needs User.Invite.All)
`
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
}

func TestValidateOnlineUnknownGroup(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	cfg := strings.Replace(configYAML(configOptions{graph: e.sim.URL}), "groups: ["+groupName+"]", "groups: [Sales team]", 1)
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.run("validate", "--online")
	r.wantError(t, `error: 1 of 11 checks failed; first: source scoping groups: 0 of 1 resolve; "Sales team": no group with this id or display name`)
}

// TestValidateOnlineMissingSecret configures contoso with a client secret
// whose variable is unset: its credential check fails, naming the variable
// and never a value, and the other tenants are still checked.
func TestValidateOnlineMissingSecret(t *testing.T) {
	e := newTestEnv(t, configOptions{clientID: appID})
	r := e.run("validate", "--online", "--json")
	var rep configReport
	decodeJSON(t, r.stdout, &rep)
	var got []string
	for _, c := range rep.Checks {
		got = append(got, c.Tenant+" "+c.Check+" "+c.Result)
	}
	want := []string{"source read users ok", "source permissions ok", "source extra permissions warn", "source read groups ok",
		"source scoping groups ok", "source list subscriptions ok", "source notification URL skip", "contoso credential fail"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("checks:\n%v\nwant\n%v", got, want)
	}
	const detail = "credential (clientSecret) for tenant contoso.example: environment variable TENANTSYNC_TEST_SECRET is not set"
	if rep.Checks[7].Detail != detail {
		t.Errorf("credential check detail = %q, want %q", rep.Checks[7].Detail, detail)
	}
	r.wantError(t, "error: 1 of 8 checks failed; first: contoso credential: "+detail)

	// The commands that sync fail the same way, in one line.
	e.run("plan").wantError(t, "error: target contoso: "+detail)
}

// TestAzureCLIOverride checks that --azure-cli replaces the configured auth
// (none, here) by the Azure CLI's sign-in: with no az on the PATH, every
// tenant fails to get a token, and no request reaches Graph.
func TestAzureCLIOverride(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	e := newTestEnv(t, configOptions{})
	const noCLI = "read users: 401 CredentialUnavailable: acquire token: AzureCLICredential: executable not found on path"
	e.run("validate", "--online", "--azure-cli").wantError(t, "error: 2 of 7 checks failed; first: source read users: "+noCLI)
	e.run("plan", "--azure-cli").wantError(t, "error: list source users: list users: 401 CredentialUnavailable: acquire token: AzureCLICredential: executable not found on path")
	if n := e.sim.Stats().Tenants[srcDomain].Requests; n != 0 {
		t.Errorf("%d requests reached Graph without a token", n)
	}
	e.run("validate", "--online").wantErrorFree(t)
}

// setPermissions grants the app exactly perms in a tenant of the simulator.
func (e *testEnv) setPermissions(tenant string, perms ...string) {
	e.t.Helper()
	if perms == nil {
		perms = []string{}
	}
	if err := e.sim.SetPermissions(tenant, perms); err != nil {
		e.t.Fatal(err)
	}
}

// TestValidateOnlinePermissions grants the app permissions in the
// simulator and checks that validate --online fails, naming the permission
// and what fails without it, exactly when one tenantsync needs is missing.
// Without a token the grant is listed from appRoleAssignments, which needs
// Application.Read.All.
func TestValidateOnlinePermissions(t *testing.T) {
	tests := []struct {
		name          string
		source, targt []string
		want          [][3]string // tenant, check, result
		details       []string    // in the text output
		err           string
	}{{
		name:   "the source lacks Group.Read.All",
		source: []string{"User.Read.All", "GroupMember.Read.All", "Application.Read.All"},
		targt:  []string{"User.Invite.All", "User.ReadWrite.All", "Application.Read.All"},
		want: [][3]string{
			{"source", "read users", "ok"}, {"source", "permission Group.Read.All", "fail"}, {"source", "extra permissions", "warn"},
			{"source", "read groups", "ok"}, {"source", "scoping groups", "ok"},
			{"source", "list subscriptions", "ok"}, {"source", "notification URL", "skip"},
			{"contoso", "read users", "ok"}, {"contoso", "permissions", "ok"}, {"contoso", "extra permissions", "warn"},
			{"contoso", "guest invitations", "warn"},
		},
		details: []string{"granted beyond what tenantsync needs in source: Application.Read.All, GroupMember.Read.All"},
		err: "error: 1 of 11 checks failed; first: source permission Group.Read.All: Group.Read.All missing in source: " +
			"subscribing to /groups change notifications fails; group changes then arrive only with the reconcile timer",
	}, {
		name:   "a target lacks User.Invite.All",
		source: []string{"User.Read.All", "Group.Read.All", "Application.Read.All"},
		targt:  []string{"User.ReadWrite.All", "Application.Read.All"},
		want: [][3]string{
			{"source", "read users", "ok"}, {"source", "permissions", "ok"}, {"source", "extra permissions", "warn"},
			{"source", "read groups", "ok"}, {"source", "scoping groups", "ok"},
			{"source", "list subscriptions", "ok"}, {"source", "notification URL", "skip"},
			{"contoso", "read users", "ok"}, {"contoso", "permission User.Invite.All", "fail"}, {"contoso", "extra permissions", "warn"},
			{"contoso", "guest invitations", "warn"},
		},
		err: "error: 1 of 11 checks failed; first: contoso permission User.Invite.All: User.Invite.All missing in contoso: " +
			"invitations (POST /invitations) then work only through User.ReadWrite.All, which Graph lists as the higher privileged " +
			"permission for them; grant User.Invite.All, which the consent URL asks for",
	}, {
		name:   "a target lacks User.ReadWrite.All, so it cannot even be read",
		source: []string{"User.Read.All", "Group.Read.All", "Application.Read.All"},
		targt:  []string{"User.Invite.All", "Application.Read.All"},
		want: [][3]string{
			{"source", "read users", "ok"}, {"source", "permissions", "ok"}, {"source", "extra permissions", "warn"},
			{"source", "read groups", "ok"}, {"source", "scoping groups", "ok"},
			{"source", "list subscriptions", "ok"}, {"source", "notification URL", "skip"},
			{"contoso", "permission User.ReadWrite.All", "fail"}, {"contoso", "extra permissions", "warn"}, {"contoso", "read users", "fail"},
			{"contoso", "guest invitations", "skip"},
		},
		details: []string{"read users: 403 Authorization_RequestDenied"},
		err: "error: 2 of 11 checks failed; first: contoso permission User.ReadWrite.All: User.ReadWrite.All missing in contoso: " +
			"reading target users to match them fails (GET /users), and so does every update, disable, delete and restore " +
			"(PATCH and DELETE /users/{id}, restoring deleted users): synced users are never kept in step",
	}, {
		name:   "exactly the needed permissions, and Application.Read.All to list them",
		source: []string{"User.Read.All", "Group.Read.All", "Application.Read.All"},
		targt:  []string{"User.Invite.All", "User.ReadWrite.All", "Application.Read.All"},
		want: [][3]string{
			{"source", "read users", "ok"}, {"source", "permissions", "ok"}, {"source", "extra permissions", "warn"},
			{"source", "read groups", "ok"}, {"source", "scoping groups", "ok"},
			{"source", "list subscriptions", "ok"}, {"source", "notification URL", "skip"},
			{"contoso", "read users", "ok"}, {"contoso", "permissions", "ok"}, {"contoso", "extra permissions", "warn"},
			{"contoso", "guest invitations", "warn"},
		},
		details: []string{"granted: User.Read.All, Group.Read.All (read from the app's appRoleAssignments)",
			"granted: User.Invite.All, User.ReadWrite.All (read from the app's appRoleAssignments)"},
	}, {
		name:   "exactly the needed permissions, and nothing to list them with",
		source: []string{"User.Read.All", "Group.Read.All"},
		targt:  []string{"User.Invite.All", "User.ReadWrite.All"},
		want: [][3]string{
			{"source", "read users", "ok"}, {"source", "permissions", "warn"},
			{"source", "read groups", "ok"}, {"source", "scoping groups", "ok"},
			{"source", "list subscriptions", "ok"}, {"source", "notification URL", "skip"},
			{"contoso", "read users", "ok"}, {"contoso", "permissions", "warn"},
			{"contoso", "guest invitations", "warn"},
		},
		details: []string{"needs Application.Read.All, which syncing does not"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t, configOptions{})
			e.setPermissions(srcDomain, tt.source...)
			e.setPermissions(tgtDomain, tt.targt...)

			r := e.run("validate", "--online", "--json")
			var rep configReport
			decodeJSON(t, r.stdout, &rep)
			var got [][3]string
			for _, c := range rep.Checks {
				got = append(got, [3]string{c.Tenant, c.Check, c.Result})
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("checks\n%v\nwant\n%v", got, tt.want)
			}

			text := e.run("validate", "--online")
			if tt.err != "" {
				r.wantError(t, tt.err)
				text.wantError(t, tt.err)
			} else {
				r.wantErrorFree(t)
				text.wantErrorFree(t)
			}
			for _, d := range tt.details {
				if !strings.Contains(text.stdout, d) {
					t.Errorf("the output does not say %q:\n%s", d, text.stdout)
				}
			}
			if w := e.writes(srcDomain) + e.writes(tgtDomain); w != 0 {
				t.Errorf("validate --online wrote %d times to the tenants", w)
			}
		})
	}
}

// fakeAzureCLI puts on the PATH an az that answers `az account
// get-access-token` with an app-only access token whose roles claim is
// roles[tenant] (the token of the --tenant it is asked for), the way Entra
// shapes one (access-token-claims-reference). The signature is not checked
// by anyone.
func fakeAzureCLI(t *testing.T, roles map[string][]string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake az is a shell script")
	}
	var cases strings.Builder
	for tenant, rs := range roles {
		claims, err := json.Marshal(map[string]any{"tid": "0a1b2c3d-0000-4000-8000-00000000000f", "idtyp": "app", "roles": rs})
		if err != nil {
			t.Fatal(err)
		}
		enc := base64.RawURLEncoding.EncodeToString
		token := enc([]byte(`{"typ":"JWT","alg":"RS256"}`)) + "." + enc(claims) + "." + enc([]byte("sig"))
		fmt.Fprintf(&cases, "*'--tenant %s'*) t=%s ;;\n", tenant, token)
	}
	script := "#!/bin/sh\ncase \"$*\" in\n" + cases.String() + "*) echo 'no such tenant' >&2; exit 1 ;;\nesac\n" +
		`printf '{"accessToken":"%s","expires_on":4102444800,"tokenType":"Bearer"}\n' "$t"` + "\n"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "az"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
}

// TestValidateOnlinePermissionsFromToken signs in with (a fake) Azure CLI
// whose tokens carry the app's roles: the grant is read from them, so the
// check needs no Application.Read.All and asks Graph nothing for it.
func TestValidateOnlinePermissionsFromToken(t *testing.T) {
	tests := []struct {
		name   string
		target []string
		want   [][3]string
		err    string
	}{{
		name:   "exactly the needed permissions",
		target: []string{"User.Invite.All", "User.ReadWrite.All"},
		want: [][3]string{
			{"source", "read users", "ok"}, {"source", "permissions", "ok"},
			{"source", "read groups", "ok"}, {"source", "scoping groups", "ok"},
			{"source", "list subscriptions", "ok"}, {"source", "notification URL", "skip"},
			{"contoso", "read users", "ok"}, {"contoso", "permissions", "ok"}, {"contoso", "guest invitations", "warn"},
		},
	}, {
		name:   "the target lacks User.Invite.All and has a read scope more",
		target: []string{"User.ReadWrite.All", "User.Read.All"},
		want: [][3]string{
			{"source", "read users", "ok"}, {"source", "permissions", "ok"},
			{"source", "read groups", "ok"}, {"source", "scoping groups", "ok"},
			{"source", "list subscriptions", "ok"}, {"source", "notification URL", "skip"},
			{"contoso", "read users", "ok"}, {"contoso", "permission User.Invite.All", "fail"}, {"contoso", "extra permissions", "warn"},
			{"contoso", "guest invitations", "warn"},
		},
		err: "error: 1 of 10 checks failed; first: contoso permission User.Invite.All: User.Invite.All missing in contoso: " +
			"invitations (POST /invitations) then work only through User.ReadWrite.All, which Graph lists as the higher privileged " +
			"permission for them; grant User.Invite.All, which the consent URL asks for",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			source := []string{"User.Read.All", "Group.Read.All"}
			fakeAzureCLI(t, map[string][]string{srcDomain: source, tgtDomain: tt.target})
			e := newTestEnv(t, configOptions{})
			// The simulator enforces the same grant as the tokens carry.
			e.setPermissions(srcDomain, source...)
			e.setPermissions(tgtDomain, tt.target...)

			r := e.run("validate", "--online", "--json", "--azure-cli")
			if tt.err != "" {
				r.wantError(t, tt.err)
			} else {
				r.wantErrorFree(t)
			}
			var rep configReport
			decodeJSON(t, r.stdout, &rep)
			var got [][3]string
			for _, c := range rep.Checks {
				got = append(got, [3]string{c.Tenant, c.Check, c.Result})
				if c.Check == "permissions" && c.Result == "ok" && !strings.HasSuffix(c.Detail, "(read from the access token's roles claim)") {
					t.Errorf("%s: the grant was not read from the token: %s", c.Tenant, c.Detail)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("checks\n%v\nwant\n%v", got, tt.want)
			}
			for _, tenant := range []string{srcDomain, tgtDomain} {
				if n := e.sim.Stats().Tenants[tenant].Routes["GET /servicePrincipals/{id}/appRoleAssignments"]; n != 0 {
					t.Errorf("%s: the grant was listed %d times although the token carries it", tenant, n)
				}
			}
		})
	}
}
