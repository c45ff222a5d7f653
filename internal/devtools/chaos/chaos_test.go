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
// hundred operations with every kind of fault, then the oracle.
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
	if rep.Faults["crashes"] == 0 || rep.Faults["graph503"]+rep.Faults["graph504"]+rep.Faults["graph429"] == 0 ||
		rep.Faults["notificationsDropped"] == 0 || rep.Faults["deltaTokenExpiries"] == 0 || rep.Faults["subscriptionsVanished"] == 0 {
		t.Errorf("the run injected too little to prove anything (seed %d): %v", rep.Seed, rep.Faults)
	}
	if rep.Operations.Total != opts.Operations {
		t.Errorf("%d operations applied, want %d", rep.Operations.Total, opts.Operations)
	}
}
