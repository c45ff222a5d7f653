package main

import (
	"fmt"
	"os"
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
		want: [][3]string{
			{"source", "read users", "ok"}, {"source", "read groups", "ok"}, {"source", "scoping groups", "ok"},
			{"source", "list subscriptions", "ok"}, {"source", "notification URL", "skip"},
			{"contoso", "read users", "ok"}, {"contoso", "guest invitations", "ok"},
		},
	}, {
		name:    "a target refuses invitations",
		opts:    configOptions{closed: true},
		webhook: "https://tenantsync.example/api/GraphWebhook",
		want: [][3]string{
			{"source", "read users", "ok"}, {"source", "read groups", "ok"}, {"source", "scoping groups", "ok"},
			{"source", "list subscriptions", "ok"}, {"source", "notification URL", "skip"},
			{"contoso", "read users", "ok"}, {"contoso", "guest invitations", "ok"},
			{"closed", "read users", "ok"}, {"closed", "guest invitations", "fail"},
		},
		err: "error: 1 of 9 checks failed; first: closed guest invitations: refused: the authorization policy's allowInvitesFrom is none, so every invitation fails",
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
	out := e.mustRun("validate", "--online")
	want := e.config + ` is valid: source fabrikam.example, 1 target (contoso).

TENANT   CHECK               RESULT  DETAIL
source   read users          ok      can read users
source   read groups         ok      can read groups
source   scoping groups      ok      1 of 1 resolve
source   list subscriptions  ok      can list subscriptions (0 now)
source   notification URL    skip    not set (TENANTSYNC_WEBHOOK_URL): the reconcile timer alone keeps targets in step
contoso  read users          ok      can read users
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
	r.wantError(t, `error: 1 of 7 checks failed; first: source scoping groups: 0 of 1 resolve; "Sales team": no group with this id or display name`)
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
	want := []string{"source read users ok", "source read groups ok", "source scoping groups ok", "source list subscriptions ok",
		"source notification URL skip", "contoso credential fail"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("checks:\n%v\nwant\n%v", got, want)
	}
	const detail = "credential (clientSecret) for tenant contoso.example: environment variable TENANTSYNC_TEST_SECRET is not set"
	if rep.Checks[5].Detail != detail {
		t.Errorf("credential check detail = %q, want %q", rep.Checks[5].Detail, detail)
	}
	r.wantError(t, "error: 1 of 6 checks failed; first: contoso credential: "+detail)

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
