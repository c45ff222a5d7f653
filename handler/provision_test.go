package main

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestProvision(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	out := e.mustRun("provision", "--user", adeleUPN)
	users := e.targetUsers(tgtDomain)
	adele, ok := users[adeleUPN]
	if !ok || len(users) != 1 {
		t.Fatalf("provision made target users %v, want adele only", users)
	}
	targetID, _ := adele["id"].(string)
	want := `^Provision on demand: adele@fabrikam\.example → contoso

  1\. Import user
     read live user ` + adeleID + ` \(adele@fabrikam\.example\) with \d+ attributes

  2\. Determine if user is in scope
     in scope: member of group "Cross-tenant sync" \(id ` + groupID + `\)

  3\. Match user between source and target
(     .+\n)+
  4\. Perform action: create
(     .+\n)+
  Attribute changes:
(    .+\n)*    department +∅  →  Sales
(    .+\n)*
  Result: create \(in scope: member of group "Cross-tenant sync" \(id ` + groupID + `\); invited adele@fabrikam\.example\)
  Target user: ` + targetID + `
  Graph request ids: [0-9a-f-]{36}(, [0-9a-f-]{36})+
$`
	if !regexp.MustCompile(want).MatchString(out) {
		t.Errorf("output:\n%s\nwant (regexp):\n%s", out, want)
	}

	// The second time, by object id, the user is linked and up to date.
	var res struct {
		User    string `json:"user"`
		Reports []struct {
			Target string `json:"target"`
			Steps  []struct {
				Step   string `json:"step"`
				Detail string `json:"detail"`
			} `json:"steps"`
			Result map[string]any `json:"result"`
		} `json:"reports"`
	}
	decodeJSON(t, e.mustRun("provision", "--user", adeleID, "--target", "contoso", "--json"), &res)
	if res.User != adeleID || len(res.Reports) != 1 || res.Reports[0].Target != "contoso" {
		t.Fatalf("provision --json = %+v", res)
	}
	r := res.Reports[0]
	var steps []string
	for _, s := range r.Steps {
		steps = append(steps, s.Step)
	}
	if !slices.Equal(steps, []string{"import", "match", "scope", "action"}) {
		t.Errorf("steps = %v", steps)
	}
	if r.Result["action"] != "noop" || r.Result["targetId"] != targetID || r.Result["sourceId"] != adeleID ||
		r.Result["userPrincipalName"] != adeleUPN {
		t.Errorf("result = %v", r.Result)
	}
	// The per-user part has the plan's action shape (plus the request ids).
	for k := range r.Result {
		if !slices.Contains([]string{"action", "sourceId", "userPrincipalName", "targetId", "reason", "changes", "error", "requestIds"}, k) {
			t.Errorf("result has the key %q", k)
		}
	}
	if ids, _ := r.Result["requestIds"].([]any); len(ids) == 0 {
		t.Errorf("result has no Graph request ids: %v", r.Result)
	}
	if b, _ := json.Marshal(r.Result); strings.Contains(string(b), `"changes"`) {
		t.Errorf("an up-to-date user reports changes: %s", b)
	}
}

func TestProvisionOutOfScope(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	out := e.mustRun("provision", "--user", carlaUPN)
	for _, want := range []string{
		"  2. Determine if user is in scope\n     out of scope: not a member of group \"Cross-tenant sync\" (id " + groupID + ")\n",
		"  3. Perform action: skip\n     nothing to do\n",
		"  Result: skip (out of scope: not a member of group \"Cross-tenant sync\" (id " + groupID + "); no target user to deprovision)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if w := e.writes(tgtDomain); w != 0 {
		t.Errorf("provisioning an out-of-scope user wrote %d times to the target", w)
	}
}

func TestProvisionRefused(t *testing.T) {
	e := newTestEnv(t, configOptions{closed: true})
	r := e.run("provision", "--user", benUPN)
	re := regexp.MustCompile(`^error: provision ben@fabrikam\.example: closed: invite ben@fabrikam\.example into closed: invite ben@fabrikam\.example: ` +
		`403 Authorization_RequestDenied: Guest invitations not allowed for your company\. Contact your company administrator for more details\. \(request-id [0-9a-f-]{36}\)\n$`)
	if !r.failed || !re.MatchString(r.stderr) {
		t.Fatalf("failed=%v stderr=%q", r.failed, r.stderr)
	}
	// Both reports are printed: contoso's success and closed's failure.
	for _, want := range []string{
		"Provision on demand: ben@fabrikam.example → contoso\n",
		"  Result: create (",
		"Provision on demand: ben@fabrikam.example → closed\n",
		"  4. Error\n     invite ben@fabrikam.example into closed: invite ben@fabrikam.example: 403 Authorization_RequestDenied",
		"  Result: failed: invite ben@fabrikam.example into closed: invite ben@fabrikam.example: 403 Authorization_RequestDenied",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}
