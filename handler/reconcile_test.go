package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/operator"
)

// progressTail matches the end of the final progress line: the rate, from
// the first second on, and the time taken.
const progressTail = `(, [\d.]+ changes/s)? \(\d+ (s|min)( \d+ s)?\)`

// took matches how long a reconcile took, as its summary says it.
const took = `[\d.]+ (ms|s|min)( \d+ s)?`

func TestReconcile(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	tests := []struct {
		name   string
		change func()
		args   []string
		// want matches the whole output; the duration is \S+.
		want string
	}{{
		name: "first run is a full pass",
		want: `reconcile: 3 synced of 3 found` + progressTail + `
Full reconcile \(no watermark yet\): 3 changes found, 3 synced in ` + took + `
  by action: 3 create
  errors:    0
`,
	}, {
		name: "nothing changed",
		want: `reconcile: 0 synced of 0 found` + progressTail + `
Delta reconcile: 0 changes found, 0 synced in ` + took + `
  by action: nothing to do
  errors:    0
`,
	}, {
		name:   "a change in the source",
		change: func() { e.graphCall(srcDomain, "PATCH", "/users/"+adeleID, `{"department":"Marketing"}`) },
		want: `reconcile: 1 synced of 1 found` + progressTail + `
Delta reconcile: 1 change found, 1 synced in ` + took + `
  by action: 1 update
  errors:    0
`,
	}, {
		name:   "a user leaves the scoping group",
		change: func() { e.graphCall(srcDomain, "DELETE", "/groups/"+groupID+"/members/"+danID+"/$ref", "") },
		args:   []string{"--workers", "1"},
		want: `waiting 1 s for the deletion guard's settle delay: 1 deprovision pending
reconcile: 1 synced of 1 found` + progressTail + `
Delta reconcile: 1 change found, 1 synced in ` + took + `
  by action: 1 deprovision
  errors:    0
`,
	}, {
		name:   "another leaves, and the command does not wait",
		change: func() { e.graphCall(srcDomain, "DELETE", "/groups/"+groupID+"/members/"+benID+"/$ref", "") },
		args:   []string{"--no-wait"},
		want: `reconcile: 1 synced of 1 found` + progressTail + `
Delta reconcile: 1 change found, 1 synced in ` + took + `
  by action: 1 pending
  errors:    0
`,
	}, {
		name:   "the next run carries out what was left pending",
		change: func() { time.Sleep(time.Second + 100*time.Millisecond) },
		want: `reconcile: 1 synced of 1 found` + progressTail + `
Delta reconcile: 1 change found, 1 synced in ` + took + `
  by action: 1 deprovision
  errors:    0
`,
	}, {
		name: "a full pass on request finds nothing to do",
		args: []string{"--full"},
		want: `reconcile: 0 synced of 0 found` + progressTail + `
Full reconcile \(requested\): 0 changes found, 0 synced in ` + took + `
  by action: nothing to do
  errors:    0
`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.change != nil {
				tt.change()
			}
			out := e.mustRun(append([]string{"reconcile"}, tt.args...)...)
			if !regexp.MustCompile(`^` + tt.want + `$`).MatchString(out) {
				t.Errorf("output:\n%s\nwant (regexp):\n%s", out, tt.want)
			}
		})
	}
	users := e.targetUsers(tgtDomain)
	if len(users) != 1 || users[adeleUPN]["department"] != "Marketing" {
		t.Errorf("target users after the runs: %v, want adele alone", users)
	}
}

func TestReconcileJSON(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	r := e.run("reconcile", "--json")
	if r.failed || r.stderr != "" {
		t.Fatalf("failed: %s", r.stderr)
	}
	var sum operator.ReconcileSummary
	decodeJSON(t, r.stdout, &sum)
	if !sum.Full || sum.Why != "no watermark yet" || sum.Changes != 3 || sum.Synced != 3 || sum.Actions["create"] != 3 ||
		sum.Failed != 0 || len(sum.Errors) != 0 || sum.Seconds <= 0 {
		t.Errorf("summary = %+v", sum)
	}
	if strings.Contains(r.stdout, "reconcile:") {
		t.Errorf("--json output carries progress lines:\n%s", r.stdout)
	}
}

// TestReconcileTargetRefuses runs a reconcile where one target refuses
// every invitation: the command fails, keeps the watermark, and the target
// ends in quarantine, which status shows and resume ends.
func TestReconcileTargetRefuses(t *testing.T) {
	e := newTestEnv(t, configOptions{closed: true})
	r := e.run("reconcile", "--workers", "1")
	re := regexp.MustCompile(`^error: reconcile: 1 change failed; the watermark was not moved: run reconcile again; first: user ` + adeleID +
		`: invite adele@fabrikam\.example into closed: invite adele@fabrikam\.example: 403 Authorization_RequestDenied: Guest invitations not allowed for your company\. ` +
		`Contact your company administrator for more details\. \(request-id [0-9a-f-]{36}\)\n$`)
	if !r.failed || !re.MatchString(r.stderr) {
		t.Fatalf("failed=%v stderr=%q", r.failed, r.stderr)
	}
	for _, want := range []string{"  by action: 3 create, 2 skip, 1 failed\n", "  errors:    1\n", "    user " + adeleID + "  retryable  invite adele@fabrikam.example into closed: invite adele@fabrikam.example: 403"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	if n := len(e.targetUsers(tgtDomain)); n != 3 {
		t.Errorf("contoso has %d users, want 3: one target's refusal must not stop the other", n)
	}

	status := e.mustRun("status")
	for _, want := range []string{
		"  users delta   none yet: the first reconcile runs a full pass\n",
		"\nTarget closed\n",
		"  quarantine        until ",
		"quarantine 1 in a row: invite ",
		"  recent errors     1 newest:\n",
		"    TIME                  USER                    ACTION  ERROR\n",
	} {
		if !strings.Contains(status, want) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}

	out := e.mustRun("resume", "--target", "closed")
	if !strings.HasPrefix(out, "Quarantine of closed ended (it was: invite ") {
		t.Errorf("resume printed %q", out)
	}
	out = e.mustRun("resume", "--target", "closed")
	if out != "closed was not quarantined.\n" {
		t.Errorf("second resume printed %q", out)
	}
	status = e.mustRun("status")
	_, closed, _ := strings.Cut(status, "\nTarget closed\n")
	if !strings.Contains(closed, "\n  quarantine        none\n") || !strings.HasPrefix(closed, "  last reconcile    never\n") {
		t.Errorf("status after resume:\n%s", status)
	}
}
