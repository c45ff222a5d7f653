package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/internal/engine"
)

// TestAdoptGroupCommand: a target group that already has a synced group's
// name is a conflict plan and status show; `adopt --group NAME
// --target-group ID` links it (no second group is made) and syncs its
// members, and plan then shows no conflict.
func TestAdoptGroupCommand(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	cfg := configYAML(configOptions{graph: e.sim.URL}) + "    groups: {sync: [" + groupName + "]}\n"
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// A target administrator made a group with the same name.
	e.graphCall(tgtDomain, "POST", "/groups", `{"displayName":"`+groupName+`","mailNickname":"cts","securityEnabled":true,"mailEnabled":false}`)
	existing := e.targetGroupsNamed(groupName)
	if len(existing) != 1 {
		t.Fatalf("target groups named %q: %v", groupName, existing)
	}
	targetGroupID, _ := existing[0]["id"].(string)
	e.mustRun("reconcile", "--full")

	a := e.planGroup(groupID)
	if a.Conflict == nil || a.Conflict.TargetID != targetGroupID {
		t.Fatalf("plan before adopt: %+v, want a conflict with target group %s", a, targetGroupID)
	}
	status := strings.Join(strings.Fields(e.mustRun("status")), " ")
	for _, want := range []string{
		"handler adopt --target contoso --group " + groupID + " --target-group " + targetGroupID,
		`attention group "` + groupName + `" in conflict with target group ` + targetGroupID + ", which has its name and is not tenantsync's",
	} {
		if !strings.Contains(status, want) {
			t.Errorf("status does not say %q:\n%s", want, status)
		}
	}

	out := e.mustRun("adopt", "--target", "contoso", "--group", groupName, "--target-group", targetGroupID)
	if !strings.Contains(out, "group "+groupName) {
		t.Errorf("adopt output does not name the group:\n%s", out)
	}
	a = e.planGroup(groupID)
	if a.Conflict != nil || a.Error != "" {
		t.Errorf("plan after adopt: %+v, want no conflict", a)
	}
	if plan := e.mustRun("plan"); strings.Contains(plan, "conflict") {
		t.Errorf("plan after adopt still shows a conflict:\n%s", plan)
	}
	groups := e.targetGroupsNamed(groupName)
	if len(groups) != 1 {
		t.Fatalf("target groups named %q after adopt: %v, want the adopted one only", groupName, groups)
	}
	if members, _ := groups[0]["members"].([]string); len(members) != 3 {
		t.Errorf("adopted group members = %v, want the 3 synced users", members)
	}
	if status := strings.Join(strings.Fields(e.mustRun("status")), " "); !strings.Contains(status, "synced groups 1 active") || !strings.Contains(status, "health healthy") {
		t.Errorf("status after adopt, want the group synced and no conflict:\n%s", status)
	}
}

// TestAdoptUsageErrors: adopt's flags are checked before anything is read:
// a missing flag, or a user's and a group's flags together, exit 2 with the
// reason.
func TestAdoptUsageErrors(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	both := "error: --group and --target-group adopt a group; --source-user and --target-user a user: give one pair"
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"group without target group", []string{"--target", "contoso", "--group", groupName}, "error: --target-group is required with --group"},
		{"target group without group", []string{"--target", "contoso", "--target-group", "g1"}, "error: --group is required with --target-group"},
		{"group without target", []string{"--group", groupName, "--target-group", "g1"}, "error: --target is required"},
		{"group and source user", []string{"--target", "contoso", "--group", groupName, "--target-group", "g1", "--source-user", adeleUPN}, both},
		{"group and target user", []string{"--target", "contoso", "--group", groupName, "--target-user", "u1"}, both},
		{"user without target user", []string{"--target", "contoso", "--source-user", adeleUPN}, "error: --target-user is required"},
		{"nothing to adopt", []string{"--target", "contoso"}, "error: --source-user is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.dumpStore()
			r := runMain(t, e.vars, append([]string{"adopt"}, tt.args...)...)
			if r.code != exitUsage {
				t.Errorf("exit code %d, want %d (stderr %q)", r.code, exitUsage, r.stderr)
			}
			if got := strings.TrimSuffix(r.stderr, "\n"); got != tt.stderr {
				t.Errorf("stderr %q\nwant   %q", got, tt.stderr)
			}
			if after := e.dumpStore(); after != before {
				t.Error("a usage error wrote to the store")
			}
		})
	}
}

// targetGroupsNamed returns the live groups of the target with this name.
func (e *testEnv) targetGroupsNamed(name string) []map[string]any {
	e.t.Helper()
	snap, err := e.sim.Snapshot(tgtDomain)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []map[string]any
	for _, g := range snap.Groups {
		if g["displayName"] == name {
			out = append(out, g)
		}
	}
	return out
}

// planGroup returns `plan --json`'s action for a source group in contoso.
func (e *testEnv) planGroup(sourceID string) engine.GroupAction {
	e.t.Helper()
	var plan engine.Plan
	if err := json.Unmarshal([]byte(e.mustRun("plan", "--json")), &plan); err != nil {
		e.t.Fatal(err)
	}
	for _, tp := range plan.Targets {
		for _, a := range tp.Groups {
			if tp.Name == "contoso" && a.SourceID == sourceID {
				return a
			}
		}
	}
	return engine.GroupAction{}
}
