package chaos

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if ran, code := RunChildIfAsked(os.Getenv); ran {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestConvergenceUnderChaos is the short version of `make chaos`: a few
// hundred operations with every kind of fault but one, on users and on the
// synced groups, then the oracle.
// Permissions are not taken away: each such episode costs a quarantine of
// at least 5 minutes (the engine's first backoff), which the long run
// waits out.
func TestConvergenceUnderChaos(t *testing.T) {
	opts := Options{
		Environ:        os.Environ(),
		Users:          120,
		Operations:     300,
		Rate:           30,
		ReconcileEvery: 2 * time.Second,
		SettleTimeout:  90 * time.Second,
		QuietTimeout:   90 * time.Second,
		CrashEvery:     60,
		TrapEvery:      50,
		EpisodeEvery:   40,
		// Three bursts (a mass scope removal, a mass disable, a mass scope
		// removal), the first two recovered, the last still held at the
		// end; three target-administrator disables, two administrators
		// (one leaving the scope), two delta resets (410, then 400).
		BurstEvery:        100,
		AdminDisableEvery: 100,
		PrivilegeEvery:    150,
		DeltaResetEvery:   100,
		// No WorkDir: Run removes its temporary one after a pass and
		// keeps it (config, state, runner.log, workload.log, snapshots)
		// after a failure.
	}
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		if err := json.Unmarshal([]byte(s), &opts.Seed); err != nil {
			t.Fatalf("CHAOS_SEED=%s: %v", s, err)
		}
	}
	rep, err := Run(t.Context(), opts)
	var text strings.Builder
	if rep != nil {
		_ = rep.WriteText(&text)
	}
	if err != nil {
		t.Fatalf("chaos run (seed %d) could not be carried out: %v\n%s", rep.Seed, err, text.String())
	}
	if !rep.Pass {
		if b, err := os.ReadFile(rep.WorkDir + "/runner.log"); err == nil && len(b) > 0 {
			tail := b[max(0, len(b)-4000):]
			t.Logf("runner.log tail:\n%s", tail)
		}
		t.Fatalf("chaos run failed; replay with CHAOS_SEED=%d\n%s", rep.Seed, text.String())
	}
	t.Logf("\n%s", text.String())
	// A run that injected nothing proves nothing.
	f := rep.Faults
	if f["crashes"] == 0 || f["graph503"]+f["graph504"]+f["graph429"] == 0 ||
		f["notificationsDropped"] == 0 || f["deltaTokenExpiries"] == 0 || f["subscriptionsVanished"] == 0 ||
		f["targetAdminDisables"] == 0 || f["privilegedUsers"] < 2 || f["privilegedLeaves"] == 0 ||
		f["deltaResets410"] == 0 || f["deltaResets400"] == 0 || f["replicationLagTenants"] != 4 ||
		f["lookalike_"+lookMicrosoftAccount]+f["lookalike_"+lookEmailOTP]+f["lookalike_"+lookOtherOrg]+f["lookalike_"+lookMember]+f["lookalike_"+lookOtherAnchor] != 5 {
		t.Errorf("the run injected too little to prove anything (seed %d): %v", rep.Seed, f)
	}
	// The guard target saw a burst of each kind, and ends holding the
	// last one whole.
	if a := rep.Operations.Applied; a[OpMassScopeRemoval] == 0 || a[OpMassDisable] == 0 || rep.Guard.Bursts < 3 ||
		rep.Guard.Recovered == 0 || rep.Guard.Held <= rep.Guard.Threshold {
		t.Errorf("the guard target was not put to the test (seed %d): %+v, operations %v", rep.Seed, rep.Guard, a)
	}
	// The synced groups moved, and every target group got its member
	// added by hand (3 targets × 2 groups), which the oracle then held
	// tenantsync to keeping.
	if a := rep.Operations.Applied; f["handMembers"] != 6 || a[OpGroupJoin]+a[OpGroupLeave] == 0 || a[OpSquadJoin]+a[OpSquadLeave] == 0 {
		t.Errorf("the synced groups were not put to the test (seed %d): %d members added by hand, operations %v", rep.Seed, f["handMembers"], a)
	}
	// Notifications carried changes, not reconcile alone: the webhook
	// acknowledged more than it refused (crashes and error episodes
	// refuse some).
	if n := rep.Notifications; n.Delivered == 0 || n.Delivered < n.Failed {
		t.Errorf("the webhook acknowledged %d notifications and refused %d (seed %d): changes reached tenantsync through reconcile alone", n.Delivered, n.Failed, rep.Seed)
	}
	if s := rep.Safety; s.Invitations == 0 {
		t.Errorf("no invitations recorded (seed %d): %+v", rep.Seed, s)
	}
	if rep.Operations.Total != opts.Operations {
		t.Errorf("%d operations applied, want %d", rep.Operations.Total, opts.Operations)
	}
}
