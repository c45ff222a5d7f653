package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/internal/operator"
)

func TestStatus(t *testing.T) {
	e := newTestEnv(t, configOptions{})

	// Before anything ran, status reads an empty store and creates none.
	out := e.mustRun("status")
	want := "Health: not reconciled yet\nState: embedded store in " + e.state + ` (not created yet: nothing has run with it)
Source: fabrikam.example
  users delta   none yet: the first reconcile runs a full pass
  groups delta  none yet: the first reconcile runs a full pass
Subscriptions:
  none (change notifications are off, or the subscription manager has not run)

Target contoso
  last reconcile    never
  linked users      0: 0 active, 0 disabled, 0 deleted, 0 pending, 0 staged, 0 in conflict, 0 quarantined
  health            not reconciled yet
  quarantine        none
  staged deletions  0 waiting, 0 approved
  recent errors     none
`
	if out != want {
		t.Errorf("status before any run:\n%s\nwant:\n%s", out, want)
	}

	e.mustRun("reconcile")
	e.sim.ResetStats()
	out = e.mustRun("status")
	re := `^Health: healthy
State: embedded store in ` + regexp.QuoteMeta(e.state) + `
Source: fabrikam\.example
  users delta   taken \S+ \S+ \(\d+ s ago\); last full pass \S+ \S+ \(\d+ s ago\)
  groups delta  taken \S+ \S+ \(\d+ s ago\); last full pass \S+ \S+ \(\d+ s ago\)
Subscriptions:
  none \(change notifications are off, or the subscription manager has not run\)

Target contoso
  last reconcile    \S+ \S+ \(\d+ s ago\); last full \S+ \S+ \(\d+ s ago\)
  linked users      3: 3 active, 0 disabled, 0 deleted, 0 pending, 0 staged, 0 in conflict, 0 quarantined
  health            healthy
  last sync         \S+ \S+ \(\d+ s ago\): ok
  quarantine        none
  staged deletions  0 waiting, 0 approved
  actions           3 create in the last 24 h
  recent errors     none
$`
	if !regexp.MustCompile(re).MatchString(out) {
		t.Errorf("status after a reconcile:\n%s\nwant (regexp):\n%s", out, re)
	}
	if n := e.sim.Stats().Tenants[srcDomain].Requests + e.sim.Stats().Tenants[tgtDomain].Requests; n != 0 {
		t.Errorf("status sent %d requests to the tenants; it reads the store only", n)
	}

	var s operator.Status
	decodeJSON(t, e.mustRun("status", "--json"), &s)
	if len(s.Targets) != 1 || s.Targets[0].Name != "contoso" || s.Targets[0].Links.Active != 3 || s.Targets[0].RecentErrors == nil ||
		len(s.Source.Watermarks) != 2 || !s.Source.Watermarks[0].Present || s.Targets[0].LastFullReconcile.IsZero() {
		t.Errorf("status --json = %+v", s)
	}
}

// TestStatusStoreUnreadable points the store at Table Storage that is not
// there: status fails in one line and names the store it tried.
func TestStatusStoreUnreadable(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	addr := closedPort(t)
	e.vars["TENANTSYNC_TABLES"] = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Zm9vYmFy;TableEndpoint=http://" + addr + "/devstoreaccount1"
	r := e.run("status")
	r.wantError(t, "error: open the store (Table Storage at http://"+addr+"/devstoreaccount1 (connection string)): open table storage at devstoreaccount1: "+
		"create table tenantsyncwatermarks: Post \"http://"+addr+"/devstoreaccount1/Tables\": dial tcp "+addr+": connect: connection refused")
	if strings.Contains(r.stderr+r.stdout, "Zm9vYmFy") {
		t.Errorf("the output shows the account key: %s %s", r.stderr, r.stdout)
	}
}
