package main

import (
	"os"
	"strings"
	"testing"
)

// TestGroupCommands: with a groups section, plan shows the group to create
// with its members, reconcile creates it, status counts it, and
// provision --group syncs it on demand.
func TestGroupCommands(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	cfg := configYAML(configOptions{graph: e.sim.URL}) + "    groups: {sync: [" + groupName + "]}\n"
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	flat := func(s string) string { return strings.Join(strings.Fields(s), " ") }

	plan := flat(e.mustRun("plan"))
	for _, want := range []string{"groups: 1 create", "Groups: ACTION GROUP TARGET ID MEMBERS REASON", "create " + groupName + " - 0 → 3"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan)
		}
	}
	if w := e.writes(tgtDomain); w != 0 {
		t.Errorf("plan wrote %d times to the target", w)
	}

	if out := flat(e.mustRun("reconcile", "--full")); !strings.Contains(out, "1 group create") {
		t.Errorf("reconcile does not count the group it created:\n%s", out)
	}
	status := flat(e.mustRun("status"))
	if !strings.Contains(status, "synced groups 1 active") {
		t.Errorf("status lacks the synced group:\n%s", status)
	}

	out := e.mustRun("provision", "--group", groupName)
	if !strings.Contains(out, "Provision on demand: group "+groupName+" → contoso") || !strings.Contains(flat(out), "3 wanted, 3 now: add 0, remove 0") {
		t.Errorf("provision --group:\n%s", out)
	}
	if r := e.run("provision", "--group", groupName, "--user", adeleUPN); !r.failed || !strings.Contains(r.stderr, "not both") {
		t.Errorf("provision with --user and --group: %+v", r)
	}
}
