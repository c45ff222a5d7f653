package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/internal/statuspage"
)

// TestDeletions has two users leave at once with the deletion guard's
// threshold at 1: the guard holds both. It lists them, refuses bad
// approvals, approves exactly one and checks that only it happened.
func TestDeletions(t *testing.T) {
	e := newTestEnv(t, configOptions{threshold: 1})
	if out := e.mustRun("deletions", "list"); out != "No staged deletions.\n" {
		t.Errorf("deletions list on a fresh store = %q", out)
	}
	e.mustRun("reconcile")
	e.graphCall(srcDomain, "DELETE", "/groups/"+groupID+"/members/"+benID+"/$ref", "")
	e.graphCall(srcDomain, "DELETE", "/groups/"+groupID+"/members/"+danID+"/$ref", "")
	out := e.mustRun("reconcile", "--workers", "1")
	if !strings.Contains(out, "  by action: 2 held\n") {
		t.Fatalf("reconcile did not hold the burst of two:\n%s", out)
	}

	var list struct {
		Deletions []statuspage.Deletion `json:"deletions"`
	}
	decodeJSON(t, e.mustRun("deletions", "list", "--target", "contoso", "--json"), &list)
	if len(list.Deletions) != 2 {
		t.Fatalf("deletions list --json = %+v", list)
	}
	d, other := list.Deletions[0], list.Deletions[1]
	staged := map[string]string{benID: benUPN, danID: danUPN}
	if d.Target != "contoso" || staged[d.SourceID] != d.SourceUPN || d.TargetID == "" || d.Action != "delete" || d.Approved ||
		d.StagedAt.IsZero() || !d.ExpiresAt.After(d.StagedAt) {
		t.Fatalf("staged deletion = %+v", d)
	}
	text := e.mustRun("deletions", "list")
	re := `^Target contoso: 2 staged deletions
  SOURCE ID +USER +ACTION  STAGED +EXPIRES +APPROVED  REASON
  ` + d.SourceID + `  ` + regexp.QuoteMeta(d.SourceUPN) + ` +delete  \d+ s ago +in 6 d 23 h  no        out of scope: .*held by the deletion guard .*
  ` + other.SourceID + `  ` + regexp.QuoteMeta(other.SourceUPN) + ` +delete  \d+ s ago +in 6 d 23 h  no        out of scope: .*held by the deletion guard .*

2 staged deletions\. Approve with ` + "`deletions approve --target NAME \\(--all \\| SOURCE-ID…\\)`" + `\.
$`
	if !regexp.MustCompile(re).MatchString(text) {
		t.Errorf("deletions list:\n%s\nwant (regexp):\n%s", text, re)
	}

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"deletions", "approve", "--all"}, "error: --target is required"},
		{[]string{"deletions", "approve", "--target", "contoso"}, "error: give --all or the source ids of the deletions to approve (see deletions list)"},
		{[]string{"deletions", "approve", "--target", "contoso", "--all", d.SourceID}, "error: give either --all or source ids, not both"},
		{[]string{"deletions", "approve", "--target", "nope", "--all"}, `error: unknown target "nope" (configured: contoso)`},
		{[]string{"deletions", "list", "--target", "nope"}, `error: unknown target "nope" (configured: contoso)`},
		{[]string{"deletions", "approve", "--target", "contoso", carlaID}, "error: approve deletions in contoso: no staged deletion for source user " + carlaID + " in contoso: nothing approved"},
		{[]string{"deletions", "approve", "--target", "contoso", d.SourceID, carlaID}, "error: approve deletions in contoso: no staged deletion for source user " + carlaID + " in contoso: nothing approved"},
		{[]string{"deletions"}, "error: give a subcommand: deletions list or deletions approve"},
	}
	for _, tt := range tests {
		e.run(tt.args...).wantError(t, tt.want)
	}
	if n := len(e.targetUsers(tgtDomain)); n != 3 {
		t.Fatalf("a refused approval changed the target: %d users, want 3", n)
	}

	out = e.mustRun("deletions", "approve", "--target", "contoso", d.SourceID)
	re = `^ACTION +USER +TARGET ID +REASON
deprovision  ` + regexp.QuoteMeta(d.SourceUPN) + `  ` + d.TargetID + `  out of scope: not a member of group .*
      Graph request ids: [0-9a-f-]{36}`
	if !regexp.MustCompile(re).MatchString(out) {
		t.Errorf("deletions approve:\n%s\nwant (regexp):\n%s", out, re)
	}
	if users := e.targetUsers(tgtDomain); len(users) != 2 || users[adeleUPN] == nil || users[other.SourceUPN] == nil {
		t.Errorf("target users after approving one: %v, want adele and %s: exactly the approved one goes", users, other.SourceUPN)
	}
	decodeJSON(t, e.mustRun("deletions", "list", "--target", "contoso", "--json"), &list)
	if len(list.Deletions) != 1 || list.Deletions[0].SourceID != other.SourceID {
		t.Errorf("deletions after approving one = %+v, want %s still staged", list.Deletions, other.SourceID)
	}
	e.mustRun("deletions", "approve", "--target", "contoso", "--all")
	if users := e.targetUsers(tgtDomain); len(users) != 1 || users[adeleUPN] == nil {
		t.Errorf("target users after approving all: %v, want adele only", users)
	}
	if out := e.mustRun("deletions", "list"); out != "No staged deletions.\n" {
		t.Errorf("deletions list after the approval = %q", out)
	}
	if out := e.mustRun("deletions", "approve", "--target", "contoso", "--all"); out != "No staged deletions in contoso.\n" {
		t.Errorf("approving nothing = %q", out)
	}
}
