package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
)

// checkPlanShape holds `plan --json` output to the shape in DESIGN.md:
// {"targets":[{"name","actions":[A…],"held":[A…]}]} with each A
// {"action","sourceId","userPrincipalName","targetId"(string|null),"reason",
// "changes"?:{"<attr>":{"old","new"}}}. Besides those keys, an action may
// carry "error" (the failure a dry run foresaw); nothing else. Beside
// "targets", "counts" counts the users by outcome as reconcile --json's
// "actions" does.
func checkPlanShape(t *testing.T, out string) map[string]any {
	t.Helper()
	var doc map[string]any
	decodeJSON(t, out, &doc)
	if keys := sortedKeys(doc); !slices.Equal(keys, []string{"counts", "targets"}) {
		t.Fatalf("top-level keys %v, want [counts targets]", keys)
	}
	targets, ok := doc["targets"].([]any)
	if !ok {
		t.Fatalf("targets is %T, want an array", doc["targets"])
	}
	ops := []string{"create", "update", "disable", "deprovision", "restore", "noop", "skip"}
	for i, tv := range targets {
		tp, ok := tv.(map[string]any)
		if !ok {
			t.Fatalf("targets[%d] is %T", i, tv)
		}
		if keys := sortedKeys(tp); !slices.Equal(keys, []string{"actions", "held", "name"}) {
			t.Fatalf("targets[%d] keys %v, want [actions held name]", i, keys)
		}
		if _, ok := tp["name"].(string); !ok {
			t.Errorf("targets[%d].name is %T", i, tp["name"])
		}
		for _, list := range []string{"actions", "held"} {
			acts, ok := tp[list].([]any)
			if !ok {
				t.Fatalf("targets[%d].%s is %T, want an array (never null)", i, list, tp[list])
			}
			for j, av := range acts {
				where := fmt.Sprintf("targets[%d].%s[%d]", i, list, j)
				a, ok := av.(map[string]any)
				if !ok {
					t.Fatalf("%s is %T", where, av)
				}
				for _, k := range []string{"action", "sourceId", "userPrincipalName", "targetId", "reason"} {
					if _, ok := a[k]; !ok {
						t.Errorf("%s has no %q", where, k)
					}
				}
				for k := range a {
					if !slices.Contains([]string{"action", "sourceId", "userPrincipalName", "targetId", "reason", "changes", "error",
						"pendingUntil", "conflict", "drift"}, k) {
						t.Errorf("%s has the key %q, which the plan shape does not have", where, k)
					}
				}
				if op, _ := a["action"].(string); !slices.Contains(ops, op) {
					t.Errorf("%s.action = %v", where, a["action"])
				}
				for _, k := range []string{"sourceId", "userPrincipalName", "reason"} {
					if _, ok := a[k].(string); !ok {
						t.Errorf("%s.%s is %T, want a string", where, k, a[k])
					}
				}
				switch a["targetId"].(type) {
				case nil, string:
				default:
					t.Errorf("%s.targetId is %T, want a string or null", where, a["targetId"])
				}
				if ch, ok := a["changes"]; ok {
					m, ok := ch.(map[string]any)
					if !ok {
						t.Fatalf("%s.changes is %T", where, ch)
					}
					for attr, dv := range m {
						d, ok := dv.(map[string]any)
						if !ok || !slices.Equal(sortedKeys(d), []string{"new", "old"}) {
							t.Errorf("%s.changes.%s = %v, want {old,new}", where, attr, dv)
						}
					}
				}
			}
		}
	}
	return doc
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestPlanFreshWritesNothing(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	out := e.mustRun("plan")
	if _, err := os.Stat(e.state); !os.IsNotExist(err) {
		t.Errorf("plan created the state file (stat: %v)", err)
	}
	if w := e.writes(srcDomain) + e.writes(tgtDomain); w != 0 {
		t.Errorf("plan wrote %d times to the tenants", w)
	}
	for _, want := range []string{
		"contoso: 3 create, 1 skip\n",
		"\n  ACTION            USER                              TARGET ID                             REASON\n",
		"  create            adele@fabrikam.example            -                                     in scope: member of group \"Cross-tenant sync\" (id " + groupID + "); invited adele@fabrikam.example\n",
		"      department: ∅ → Sales\n",
		"      displayName: ∅ → Adele Vance\n",
		"\n  Skipped:\n    skip  carla@fabrikam.example  -  out of scope: not a member of group \"Cross-tenant sync\" (id " + groupID + "); no target user to deprovision\n",
		"\nThis is a dry run: nothing was written. `reconcile` carries it out.\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}

	doc := checkPlanShape(t, e.mustRun("plan", "--json"))
	tp := doc["targets"].([]any)[0].(map[string]any)
	if tp["name"] != "contoso" || len(tp["actions"].([]any)) != 4 || len(tp["held"].([]any)) != 0 {
		t.Fatalf("plan --json target = %v", tp)
	}
	for _, av := range tp["actions"].([]any) {
		a := av.(map[string]any)
		if a["targetId"] != nil {
			t.Errorf("action %v: targetId %v, want null before anything exists", a["userPrincipalName"], a["targetId"])
		}
	}
}

// TestPlanAfterChanges plans updates and a held deprovision on a synced
// target, and proves that planning wrote to neither tenant nor the store.
func TestPlanAfterChanges(t *testing.T) {
	e := newTestEnv(t, configOptions{threshold: 1})
	e.mustRun("reconcile")
	users := e.targetUsers(tgtDomain)
	if len(users) != 3 {
		t.Fatalf("reconcile made %d target users, want 3", len(users))
	}
	e.graphCall(srcDomain, "PATCH", "/users/"+adeleID, `{"department":"Marketing","jobTitle":"Lead"}`)
	e.graphCall(srcDomain, "DELETE", "/groups/"+groupID+"/members/"+benID+"/$ref", "")
	e.graphCall(srcDomain, "DELETE", "/groups/"+groupID+"/members/"+danID+"/$ref", "")

	before := e.dumpStore()
	e.sim.ResetStats()
	out := e.mustRun("plan", "--target", "contoso")
	jsonOut := e.mustRun("plan", "--json")
	if w := e.writes(srcDomain) + e.writes(tgtDomain); w != 0 {
		t.Errorf("plan wrote %d times to the tenants", w)
	}
	if after := e.dumpStore(); after != before {
		t.Errorf("plan changed the store:\nbefore %s\nafter  %s", before, after)
	}

	adeleTarget, _ := users[adeleUPN]["id"].(string)
	for _, want := range []string{
		"contoso: 1 update, 2 held, 1 skip\n",
		fmt.Sprintf("  update            adele@fabrikam.example            %s  in scope: member of group \"Cross-tenant sync\" (id %s)", adeleTarget, groupID),
		"      department: Sales → Marketing\n      jobTitle: Staff → Lead\n",
		"  held deprovision  ",
		"the deletion guard will hold it: 2 deprovisions pending or carried out within 1h, over the threshold of 1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}

	doc := checkPlanShape(t, jsonOut)
	tp := doc["targets"].([]any)[0].(map[string]any)
	held := tp["held"].([]any)
	if len(held) != 2 || held[0].(map[string]any)["action"] != "deprovision" || held[0].(map[string]any)["targetId"] == nil {
		t.Fatalf("held = %v, want the two deprovisions of existing target users", held)
	}
	var update map[string]any
	for _, av := range tp["actions"].([]any) {
		if a := av.(map[string]any); a["action"] == "update" {
			update = a
		}
	}
	got, _ := json.Marshal(update["changes"])
	if want := `{"department":{"new":"Marketing","old":"Sales"},"jobTitle":{"new":"Lead","old":"Staff"}}`; string(got) != want {
		t.Errorf("update changes = %s, want %s", got, want)
	}
	if update["targetId"] != adeleTarget {
		t.Errorf("update targetId = %v, want %s", update["targetId"], adeleTarget)
	}
}

func TestPlanTwoTargetsAndFilter(t *testing.T) {
	e := newTestEnv(t, configOptions{closed: true})
	out := e.mustRun("plan")
	for _, want := range []string{
		"contoso: 3 create, 1 skip\n",
		"\nclosed: 3 create, 1 skip\n",
		"\nTotal: 6 create, 2 skip (2 targets)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	var p struct {
		Targets []struct{ Name string } `json:"targets"`
	}
	decodeJSON(t, e.mustRun("plan", "--target", "closed", "--json"), &p)
	if len(p.Targets) != 1 || p.Targets[0].Name != "closed" {
		t.Errorf("plan --target closed planned %+v", p.Targets)
	}
}
