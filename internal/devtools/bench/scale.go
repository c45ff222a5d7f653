package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/graphsim"
	"github.com/tenantsync/tenantsync/internal/mapping"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

// ScaleResult is the scale phase: a pre-linked world of Users users (every
// source user already in the target, linked and anchored as tenantsync
// writes them), seeded directly instead of synced, and what the passes
// that read all of it cost there. Each pass runs in a child process of its
// own, so that the heap measured is the pass's alone.
type ScaleResult struct {
	Users                   int     `json:"users"`
	FullReconcileSeconds    float64 `json:"fullReconcileSeconds"`
	FullReconcileRequests   int64   `json:"fullReconcileRequests"`
	FullReconcilePeakHeapMB float64 `json:"fullReconcilePeakHeapMB"`
	DeltaRequests           int64   `json:"deltaRequests"`
	PlanSeconds             float64 `json:"planSeconds"`
	PlanPeakHeapMB          float64 `json:"planPeakHeapMB"`
	StatusP99ms             float64 `json:"statusP99ms"`

	// SeedSeconds is how long seeding the simulator and the store took.
	SeedSeconds float64 `json:"seedSeconds"`
	// Pages is the list pages of source and target users (999 per page).
	Pages int `json:"pages"`
	// FullReconcileChanges counts what the full pass found to do (goal 0:
	// the world is in step).
	FullReconcileChanges int `json:"fullReconcileChanges"`
	// ...LiveHeapMB are the most heap that survived a collection, and
	// ...PeakRSSMB the child's resident high-water mark.
	FullReconcileLiveHeapMB float64 `json:"fullReconcileLiveHeapMB"`
	FullReconcilePeakRSSMB  float64 `json:"fullReconcilePeakRSSMB"`
	DeltaSeconds            float64 `json:"deltaSeconds"`
	PlanFirstOutputSeconds  float64 `json:"planFirstOutputSeconds"`
	// PlanFirstResultSeconds is when the plan wrote its first decision
	// (an action, or the summary of a target with nothing to do): after
	// reading both tenants, which each decision compares.
	PlanFirstResultSeconds float64 `json:"planFirstResultSeconds"`
	PlanActions            int     `json:"planActions"`
	PlanLiveHeapMB         float64 `json:"planLiveHeapMB"`
	PlanPeakRSSMB          float64 `json:"planPeakRSSMB"`
	StatusP50ms            float64 `json:"statusP50ms"`
	// StatusFirstReadMs is the first status read, which counts the links
	// once (the seeded store has no counts yet); the p50 and p99 are of
	// the reads after it.
	StatusFirstReadMs float64 `json:"statusFirstReadMs"`
	StatusPeakHeapMB  float64 `json:"statusPeakHeapMB"`
}

// runScale seeds a pre-linked world of o.Users users into one target and
// measures, each in a child process: a full reconcile with nothing to do,
// then a delta reconcile, a plan, and status reads.
func runScale(ctx context.Context, o Options, res *Results) error {
	src := sourceSeed(o)
	targets := benchTargets[:1]
	sim, err := startSimulator(seedWith(src, targets), o.Throttle)
	if err != nil {
		return err
	}
	defer sim.close()
	dir := filepath.Join(o.Dir, "scale")
	cfgPath, err := phaseDir(dir, sim.URL, targets)
	if err != nil {
		return err
	}
	state := filepath.Join(dir, "state.db")
	progress(o.Progress, PhaseScale, "seeding %d linked users into %s", o.Users, targets[0].name)
	start := time.Now()
	if err := seedLinked(ctx, sim, cfgPath, state, targets[0]); err != nil {
		return fmt.Errorf("%s: seed: %w", PhaseScale, err)
	}
	sc := &ScaleResult{Users: o.Users, SeedSeconds: round(time.Since(start).Seconds(), 1),
		Pages: (o.Users + 998) / 999 * (1 + len(targets))}
	res.Scale = sc
	progress(o.Progress, PhaseScale, "seeded in %.1f s", sc.SeedSeconds)

	logPath := filepath.Join(dir, "passes.log")
	pass := func(name string) (PassResult, int64, error) {
		sim.reset()
		r, err := measureInChild(ctx, o, name, cfgPath, state, logPath)
		n := totalRequests(sim.Stats())
		if err != nil {
			return r, n, fmt.Errorf("%s: %s pass: %w", PhaseScale, name, err)
		}
		return r, n, nil
	}

	full, n, err := pass(PassFull)
	if err != nil {
		return err
	}
	sc.FullReconcileSeconds, sc.FullReconcileRequests, sc.FullReconcileChanges = full.Seconds, n, full.Changes
	sc.FullReconcilePeakHeapMB, sc.FullReconcileLiveHeapMB, sc.FullReconcilePeakRSSMB = full.PeakHeapMB, full.PeakLiveHeapMB, full.PeakRSSMB
	progress(o.Progress, PhaseScale, "full reconcile: %.1f s, %d requests (%d pages), heap %.0f MB (live %.0f MB), RSS %.0f MB, %d changes",
		full.Seconds, n, sc.Pages, full.PeakHeapMB, full.PeakLiveHeapMB, full.PeakRSSMB, full.Changes)
	if full.Changes > 0 {
		return fmt.Errorf("%s: the full pass over the seeded world found %d changes: the seed is not what tenantsync writes", PhaseScale, full.Changes)
	}

	delta, n, err := pass(PassDelta)
	if err != nil {
		return err
	}
	sc.DeltaRequests, sc.DeltaSeconds = n, delta.Seconds
	progress(o.Progress, PhaseScale, "delta reconcile: %d requests in %.2f s, %d changes", n, delta.Seconds, delta.Changes)

	plan, _, err := pass(PassPlan)
	if err != nil {
		return err
	}
	sc.PlanSeconds, sc.PlanFirstOutputSeconds, sc.PlanActions = plan.Seconds, plan.FirstOutputSeconds, plan.Changes
	sc.PlanFirstResultSeconds = plan.FirstResultSeconds
	sc.PlanPeakHeapMB, sc.PlanLiveHeapMB, sc.PlanPeakRSSMB = plan.PeakHeapMB, plan.PeakLiveHeapMB, plan.PeakRSSMB
	progress(o.Progress, PhaseScale, "plan: %.1f s (first line at %.2f s, first decision at %.1f s), heap %.0f MB (live %.0f MB), %d actions",
		plan.Seconds, plan.FirstOutputSeconds, plan.FirstResultSeconds, plan.PeakHeapMB, plan.PeakLiveHeapMB, plan.Changes)

	status, _, err := pass(PassStatus)
	if err != nil {
		return err
	}
	sc.StatusP50ms, sc.StatusP99ms, sc.StatusPeakHeapMB, sc.StatusFirstReadMs = status.P50ms, status.P99ms, status.PeakHeapMB, status.FirstReadMs
	progress(o.Progress, PhaseScale, "status: p50 %.1f ms, p99 %.1f ms (the first read, which counted the links once: %.0f ms)",
		status.P50ms, status.P99ms, status.FirstReadMs)
	return nil
}

// measureInChild runs `handler bench measure` for one pass and returns what
// it measured; the child's log goes to logPath.
func measureInChild(ctx context.Context, o Options, pass, cfgPath, state, logPath string) (PassResult, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return PassResult{}, fmt.Errorf("child log: %w", err)
	}
	defer logFile.Close()
	args := append(append([]string(nil), o.Command[1:]...), "bench", "measure",
		"--pass", pass, "--config", cfgPath, "--state", state)
	cmd := exec.CommandContext(ctx, o.Command[0], args...)
	cmd.Env = settings.ChildEnviron(o.Environ)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, logFile
	fmt.Fprintf(logFile, "--- %s pass\n", pass)
	if err := cmd.Run(); err != nil {
		return PassResult{}, fmt.Errorf("%w (see %s)", err, logPath)
	}
	return parsePassResult(out.Bytes())
}

// seedLinked fills the target tenant and the store with what tenantsync
// would have written after syncing every source user: a B2B user per
// source user with the mapped attributes, the anchor and the manager, and
// an active link holding the attributes written and their hash. It reads
// the source through tenantsync's own Graph client and maps it with the
// configured mappings, so that the seed is what the engine would decide;
// the full pass that follows checks it (it must find nothing to do).
func seedLinked(ctx context.Context, sim *simulator, cfgPath, state string, tgt target) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	st, err := boltstore.Open(state, &boltstore.Options{NoSync: true})
	if err != nil {
		return err
	}
	defer st.Close()
	a, err := app.Open(ctx, app.Options{Env: settings.FromMap(nil), Config: cfg, Store: st, MaxRetries: new(int)})
	if err != nil {
		return err
	}
	defer a.Close()
	var tc config.Target
	for _, t := range cfg.Targets {
		if t.Name == tgt.name {
			tc = t
		}
	}
	set, err := mapping.Compile(tc.Mappings)
	if err != nil {
		return fmt.Errorf("compile the mappings: %w", err)
	}
	var users []directory.User
	err = a.Source.ListUsers(ctx, a.Engine.SourceAttributes(), func(page []directory.User) error {
		users = append(users, page...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("list the source users: %w", err)
	}
	initial := strings.SplitN(tgt.domain, ".", 2)[0] + ".onmicrosoft.com"
	now := time.Now().UTC()
	objects := make([]graphsim.Object, 0, len(users))
	links := make([]store.Link, 0, len(users))
	never := mapping.Options{Exists: func(string, string) (bool, error) { return false, nil }}
	for _, u := range users {
		anchor := "tenantsync:" + cfg.Source.Tenant + ":" + u.ID
		create, err := set.Map(u, mapping.Create, never)
		if err != nil {
			return fmt.Errorf("map user %s: %w", u.ID, err)
		}
		update, err := set.Map(u, mapping.Update, never)
		if err != nil {
			return fmt.Errorf("map user %s: %w", u.ID, err)
		}
		written := create.Attrs
		written[tc.Anchor] = anchor
		if v, _ := written.String("userType"); v == "" {
			written["userType"] = string(config.Member)
		}
		want := update.Attrs
		want[tc.Anchor] = anchor
		if v, _ := want.String("userType"); v == "" {
			delete(want, "userType")
		}
		tid := benchTargetID(u.ID)
		obj := graphObject(written)
		upn, _ := u.Attrs.String("userPrincipalName")
		obj["id"] = tid
		obj["userPrincipalName"] = strings.ReplaceAll(upn, "@", "_") + "#EXT#@" + initial
		attrs := written.Clone()
		if create.ManagerApplies && create.Manager != "" {
			obj["manager"] = benchTargetID(create.Manager)
			attrs["manager"] = benchTargetID(create.Manager)
		}
		objects = append(objects, obj)
		links = append(links, store.Link{Target: tgt.name, SourceID: u.ID, TargetID: tid, SourceUPN: upn,
			Hash: mapping.Hash(want), Attributes: attrs, State: store.LinkActive, Created: now, Updated: now})
	}
	if err := sim.PutTenant(graphsim.TenantSeed{Domain: tgt.domain, DisplayName: tgt.name, Users: objects}); err != nil {
		return fmt.Errorf("seed the target: %w", err)
	}
	for _, l := range links {
		if _, err := st.PutLink(ctx, l); err != nil {
			return err
		}
	}
	return nil
}

// benchTargetID is the target object id of a source user in a seeded
// world: a GUID derived from the source id.
func benchTargetID(sourceID string) string {
	h := sha256.Sum256([]byte("bench target user:" + sourceID))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// graphObject is a user object as Graph's JSON has it, from flattened
// attributes ("a.b" inside "a"); null values and the manager are left out.
func graphObject(attrs directory.Attributes) graphsim.Object {
	obj := graphsim.Object{}
	for k, v := range attrs {
		if v == nil || k == mapping.ManagerAttribute {
			continue
		}
		top, sub, nested := strings.Cut(k, ".")
		if !nested {
			obj[k] = v
			continue
		}
		m, _ := obj[top].(map[string]any)
		if m == nil {
			m = map[string]any{}
			obj[top] = m
		}
		m[sub] = v
	}
	return obj
}
