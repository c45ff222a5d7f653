// Package chaos is tenantsync's convergence and chaos suite. It runs the
// local runner (`handler local`) as a child process against the Graph
// simulator, drives the source tenant with a random, seeded workload while
// injecting faults — lost, duplicated, reordered and delayed notifications,
// Graph 429/503/504 and latency, replication lag, SIGKILLs of the runner
// (also right between an invitation and the link write), expired and reset
// delta tokens, a vanished subscription, permissions taken away — and
// changes the targets as their administrators would (disabling synced
// users, making some of them administrators, adding members by hand to the
// security groups tenantsync syncs), while bursts of removals and disables
// exceed one target's deletion guard and look-alike guests hold source
// users' addresses. Then it lets the runner settle and checks the targets
// with an oracle that shares no code with the engine: what each must hold,
// users and synced groups with their exact members, that the guard held
// every burst whole, that no one was invited twice or deprovisioned
// wrongly, and that no one tenantsync did not create was touched.
//
// `make chaos` runs the long version (`handler chaos`); a short one runs in `make
// test`. docs/reliability.md describes what it injects and its results.
package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/tenantsync/tenantsync/internal/graphsim"
	"github.com/tenantsync/tenantsync/internal/queue/embedded"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/statuspage"
)

// Options configure Run. The zero value runs the short suite.
type Options struct {
	// Seed fixes the workload and the fault plan; 0 picks one (the report
	// names it, so that a failure replays).
	Seed uint64
	// Users is the size of the generated source tenant (default 150).
	Users int
	// Operations is the number of workload operations in all (default 300).
	Operations int
	// Rounds splits the operations into rounds of chaos, each followed by
	// settling and the oracle (default 1).
	Rounds int
	// Rate is the workload's pace in operations per second (default 25).
	Rate float64
	// Handler is a built handler binary, run as `handler local`. Empty runs
	// this executable again, which must call RunChildIfAsked first thing.
	Handler string
	// Environ is the environment the runner starts from, in os.Environ's
	// form (handler/ and the tests pass os.Environ()). Every tenantsync
	// setting and Azure credential in it is dropped (settings.ChildEnviron).
	Environ []string
	// WorkDir holds the runner's config, state file and log. Empty uses a
	// temporary directory, removed afterwards unless Keep is set or the run
	// fails.
	WorkDir string
	Keep    bool
	// ReconcileEvery is the runner's reconcile period (default 5 s).
	ReconcileEvery time.Duration
	// SettleTimeout bounds each round's wait for convergence (default
	// 3 min).
	SettleTimeout time.Duration
	// QuietTimeout bounds the wait, after convergence, for the retries
	// still scheduled in the queue, after which the oracle checks again
	// (default 6 min: the pipeline's longest backoff is 5 min 20 s).
	QuietTimeout time.Duration
	// CrashEvery, TrapEvery, EpisodeEvery, ClockEvery and VanishEvery are
	// the fault plan's periods in operations: on average one SIGKILL per
	// CrashEvery (default 100), one trap between a target write and the
	// link write per TrapEvery (default 120), new fault settings every
	// EpisodeEvery (default 60), an 8-day clock jump (expiring delta
	// tokens) every ClockEvery (default: once, half-way), a vanished
	// subscription every VanishEvery (default: once, a third of the way).
	CrashEvery, TrapEvery, EpisodeEvery, ClockEvery, VanishEvery int
	// BurstEvery is the period of the bursts over the guard target's
	// threshold, mass scope removals and mass disables in turn, each
	// followed a third of a period later by a recovery (default 100).
	// AdminDisableEvery and PrivilegeEvery are the periods of a target
	// administrator disabling a synced user and making one an
	// administrator (default 100 and 150); DeltaResetEvery that of delta
	// token resets, 410 and 400 in turn (default 100).
	BurstEvery, AdminDisableEvery, PrivilegeEvery, DeltaResetEvery int
	// PermissionEvery is the period of episodes in which a target loses
	// permissions for PermissionOps operations (default 100), of the kinds
	// in Revocations in turn (default: all of them, see revocations). 0
	// means never: the engine's quarantine lasts at least 5 minutes, far
	// longer than a short run.
	PermissionEvery, PermissionOps int
	Revocations                    []string
	// GuardDelay is the guard target's settle delay (default 30 s): a
	// burst is held whole when tenantsync sees all of it within the delay,
	// and the workload's bursts reach it over up to a reconcile period, a
	// crash and a few retries.
	GuardDelay time.Duration
	// MaxLag bounds the replication lag of each tenant, which the fault
	// plan draws from 300 ms up to it for the whole run (default 2 s;
	// negative turns the lag off).
	MaxLag time.Duration
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Seed == 0 {
		o.Seed = rand.Uint64()%1_000_000_000 + 1
	}
	if o.Users <= 0 {
		o.Users = 150
	}
	if o.Operations <= 0 {
		o.Operations = 300
	}
	if o.Rounds <= 0 {
		o.Rounds = 1
	}
	if o.Rate <= 0 {
		o.Rate = 25
	}
	if o.ReconcileEvery <= 0 {
		o.ReconcileEvery = 5 * time.Second
	}
	if o.SettleTimeout <= 0 {
		o.SettleTimeout = 3 * time.Minute
	}
	if o.QuietTimeout <= 0 {
		o.QuietTimeout = 6 * time.Minute
	}
	if o.CrashEvery <= 0 {
		o.CrashEvery = 100
	}
	if o.TrapEvery <= 0 {
		o.TrapEvery = 120
	}
	if o.EpisodeEvery <= 0 {
		o.EpisodeEvery = 60
	}
	if o.ClockEvery <= 0 {
		o.ClockEvery = max(1, o.Operations/2)
	}
	if o.VanishEvery <= 0 {
		o.VanishEvery = max(1, o.Operations/3)
	}
	if o.BurstEvery <= 0 {
		o.BurstEvery = 100
	}
	if o.AdminDisableEvery <= 0 {
		o.AdminDisableEvery = 100
	}
	if o.PrivilegeEvery <= 0 {
		o.PrivilegeEvery = 150
	}
	if o.DeltaResetEvery <= 0 {
		o.DeltaResetEvery = 100
	}
	if o.PermissionOps <= 0 {
		o.PermissionOps = 100
	}
	if len(o.Revocations) == 0 {
		for _, r := range revocations {
			o.Revocations = append(o.Revocations, r.name)
		}
	}
	if o.GuardDelay <= 0 {
		o.GuardDelay = 30 * time.Second
	}
	if o.MaxLag == 0 {
		o.MaxLag = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Report is what a run did and found.
type Report struct {
	Seed   uint64 `json:"seed"`
	Pass   bool   `json:"pass"`
	Runner string `json:"runner"`
	Users  int    `json:"users"`
	// Settings are the options that shaped the run.
	Settings Settings `json:"settings"`
	// Operations counts the workload's operations by kind: applied, and
	// rejected by Graph (a membership already there, a user the retention
	// clock purged).
	Operations struct {
		Total    int            `json:"total"`
		Applied  map[string]int `json:"applied"`
		Rejected map[string]int `json:"rejected"`
	} `json:"operations"`
	// Faults counts the faults injected, by kind.
	Faults map[string]int64 `json:"faults"`
	// Crashes counts the runner's deaths: random SIGKILLs, traps right
	// after an invitation or a PATCH, and exits nobody asked for.
	Crashes struct {
		Random          int      `json:"random"`
		AfterInvitation int      `json:"afterInvitation"`
		AfterPatch      int      `json:"afterPatch"`
		Unexpected      []string `json:"unexpected,omitempty"`
		Starts          int      `json:"starts"`
	} `json:"crashes"`
	InitialSyncSeconds float64 `json:"initialSyncSeconds"`
	Rounds             []Round `json:"rounds"`
	// Graph counts Graph operations by tenant, from the simulator's
	// /_sim/stats after the initial sync: everything, the suite's own
	// (workload and oracle), and so tenantsync's.
	Graph map[string]GraphUse `json:"graph"`
	// Notifications counts the simulator's change notifications after the
	// initial sync: those tenantsync's webhook acknowledged, and the POSTs
	// it refused or never answered (a crashed runner). A run whose webhook
	// refuses them all tests reconcile alone.
	Notifications struct {
		Delivered int64 `json:"delivered"`
		Failed    int64 `json:"failed"`
	} `json:"notifications"`
	// Queue is what the runner's embedded queue held at the end.
	Queue struct {
		Visible     int `json:"visible"`
		Scheduled   int `json:"scheduled"`
		DeadLetters int `json:"deadLetters"`
	} `json:"queue"`
	// Guard is what the bursts did to the guard target.
	Guard GuardReport `json:"guard"`
	// Safety counts what the oracle made of tenantsync's writes to the
	// targets (the interceptor's record): duplicate invitations,
	// deprovisions of users kept in scope, writes to users tenantsync did
	// not create and deprovisions the guard target carried out must all
	// be 0.
	Safety SafetyCounts `json:"safety"`
	// ReplicationLag is each tenant's replication lag for the whole run.
	ReplicationLag map[string]string `json:"replicationLag"`
	Differences    []Difference      `json:"differences"`
	Problems       []string          `json:"problems,omitempty"`
	Seconds        float64           `json:"seconds"`
	WorkDir        string            `json:"workDir,omitempty"`
}

// GuardReport is what the bursts did to the guard target.
type GuardReport struct {
	Target    string `json:"target"`
	Threshold int    `json:"threshold"`
	Window    string `json:"window"`
	Delay     string `json:"delay"`
	// Bursts count the mass scope removals and mass disables, BurstUsers
	// the users they took out; Aborted, bursts that came out no larger
	// than the threshold (a user Graph refused) and were undone at once.
	Bursts     int `json:"bursts"`
	BurstUsers int `json:"burstUsers"`
	Aborted    int `json:"aborted,omitempty"`
	// Recovered counts the burst users brought back, Joined the users the
	// fault plan added to the guard target's scoping group.
	Recovered int `json:"recovered"`
	Joined    int `json:"joined"`
	// Held is how many deprovisions the guard held for approval at the end.
	Held int `json:"held"`
}

// Settings are the options of a run, as the report records them.
type Settings struct {
	Operations     int      `json:"operations"`
	Rounds         int      `json:"rounds"`
	Rate           float64  `json:"rate"`
	ReconcileEvery string   `json:"reconcileEvery"`
	CrashEvery     int      `json:"crashEvery"`
	TrapEvery      int      `json:"trapEvery"`
	EpisodeEvery   int      `json:"episodeEvery"`
	ClockEvery     int      `json:"clockEvery"`
	VanishEvery    int      `json:"vanishEvery"`
	BurstEvery     int      `json:"burstEvery"`
	AdminDisable   int      `json:"adminDisableEvery"`
	PrivilegeEvery int      `json:"privilegeEvery"`
	DeltaReset     int      `json:"deltaResetEvery"`
	Permission     int      `json:"permissionEvery"`
	PermissionOps  int      `json:"permissionOps"`
	Revocations    []string `json:"revocations"`
	GuardDelay     string   `json:"guardDelay"`
	MaxLag         string   `json:"maxLag"`
}

// Round is one round of chaos and settling.
type Round struct {
	Operations   int     `json:"operations"`
	ChaosSeconds float64 `json:"chaosSeconds"`
	Converged    bool    `json:"converged"`
	// ConvergeSeconds is the time from faults off to the oracle's pass.
	ConvergeSeconds float64 `json:"convergeSeconds"`
	// PendingRetries were still scheduled in the queue at convergence;
	// QuietSeconds is how long they took to run out, after which the
	// oracle checked again (Stable).
	PendingRetries int64        `json:"pendingRetries"`
	QuietSeconds   float64      `json:"quietSeconds"`
	Stable         bool         `json:"stable"`
	Differences    []Difference `json:"differences,omitempty"`
}

// GraphUse is one tenant's Graph operations.
type GraphUse struct {
	All        RequestCounts    `json:"all"`
	Suite      RequestCounts    `json:"suite"`
	Tenantsync RequestCounts    `json:"tenantsync"`
	Routes     map[string]int64 `json:"routes"`
}

// harness is one run's moving parts.
type harness struct {
	opts    Options
	log     *slog.Logger
	sim     *graphsim.Server
	simURL  string
	g       *graphHTTP
	ic      *interceptor
	run     *runner
	oracle  *oracle
	plan    *rand.Rand
	rep     *Report
	dir     string
	state   string
	targets []targetSpec
	cast    cast
	rules   *rules
	w       *workload
	// maxLag is the longest replication lag of any tenant.
	maxLag time.Duration
	// faults is the state of the fault plan's episodes (faults.go).
	faults faultState
}

// Run runs the suite. The error reports a run that could not be carried
// out; whether the targets converged is the report's Pass.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts.setDefaults()
	for _, name := range opts.Revocations {
		if !slices.ContainsFunc(revocations, func(r revocation) bool { return r.name == name }) {
			return &Report{Seed: opts.Seed}, fmt.Errorf("unknown permission episode %q", name)
		}
	}
	start := time.Now()
	rep := &Report{Seed: opts.Seed, Users: opts.Users, Faults: map[string]int64{}, Graph: map[string]GraphUse{}, ReplicationLag: map[string]string{},
		Settings: Settings{Operations: opts.Operations, Rounds: opts.Rounds, Rate: opts.Rate, ReconcileEvery: opts.ReconcileEvery.String(),
			CrashEvery: opts.CrashEvery, TrapEvery: opts.TrapEvery, EpisodeEvery: opts.EpisodeEvery, ClockEvery: opts.ClockEvery, VanishEvery: opts.VanishEvery,
			BurstEvery: opts.BurstEvery, AdminDisable: opts.AdminDisableEvery, PrivilegeEvery: opts.PrivilegeEvery, DeltaReset: opts.DeltaResetEvery,
			Permission: opts.PermissionEvery, PermissionOps: opts.PermissionOps, Revocations: opts.Revocations, GuardDelay: opts.GuardDelay.String(), MaxLag: opts.MaxLag.String()}}
	h := &harness{opts: opts, log: opts.Logger, rep: rep, plan: rand.New(rand.NewPCG(opts.Seed, 0xfa17))}
	h.log.Info("chaos run", "seed", opts.Seed, "users", opts.Users, "operations", opts.Operations, "rounds", opts.Rounds)
	err := h.runAll(ctx)
	rep.Seconds = time.Since(start).Seconds()
	sf := rep.Safety
	rep.Pass = err == nil && len(rep.Problems) == 0 && len(rep.Differences) == 0 && len(rep.Crashes.Unexpected) == 0 &&
		len(rep.Rounds) == opts.Rounds && !slices.ContainsFunc(rep.Rounds, func(r Round) bool { return !r.Converged || !r.Stable }) &&
		sf.DuplicateInvitations == 0 && sf.Wrongful == 0 && sf.Touched == 0 && sf.HeldExecuted == 0
	if h.dir != "" && opts.WorkDir == "" && !opts.Keep && rep.Pass {
		_ = os.RemoveAll(h.dir)
	} else if h.dir != "" {
		rep.WorkDir = h.dir
	}
	return rep, err
}

func (h *harness) runAll(ctx context.Context) error {
	targets := scenarioTargets(h.opts.GuardDelay)
	h.targets = targets
	if g, ok := guardTarget(targets); ok {
		h.rep.Guard.Target, h.rep.Guard.Threshold = g.Name, g.Threshold
		h.rep.Guard.Window, h.rep.Guard.Delay = g.Window.String(), g.Delay.String()
	}
	h.sim = graphsim.New(graphsim.Options{LagSeed: h.opts.Seed})
	defer h.sim.Close()
	src, c := sourceSeed(h.opts.Users, h.opts.Seed)
	h.cast, h.rules = c, newRules(c)
	seed := graphsim.Seed{Tenants: []graphsim.TenantSeed{src}}
	for _, t := range targets {
		seed.Tenants = append(seed.Tenants, targetSeed(t, c.lookalikes))
	}
	if err := h.sim.LoadSeed(seed); err != nil {
		return fmt.Errorf("load the simulator: %w", err)
	}
	// The look-alike guests redeem their invitations, as their people
	// would, before anyone fingerprints them.
	for _, l := range c.lookalikes {
		if r, ok := l.redemption(); ok {
			if err := h.sim.Redeem(l.Target, l.UPN, r); err != nil {
				return fmt.Errorf("redeem look-alike %s: %w", l.UPN, err)
			}
		}
		h.rep.Faults["lookalike_"+l.Kind]++
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	h.simURL = "http://" + ln.Addr().String()
	h.ic = newInterceptor(h.sim, targets, h.opts.Seed, func(string) bool { return h.run.Crash(trapDowntime) })
	srv := &http.Server{Handler: h.ic, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	h.g = newGraphHTTP(h.simURL)
	h.oracle = newOracle(h.g, targets, c.groups, h.rules)
	if err := h.oracle.Remember(ctx); err != nil {
		return err
	}
	if err := h.setLag(); err != nil {
		return err
	}
	if err := h.setGrants(); err != nil {
		return err
	}

	if err := h.startRunner(targets); err != nil {
		return err
	}
	defer h.run.Close()
	stopped := false
	defer func() {
		if !stopped {
			_ = h.run.Stop(30 * time.Second)
		}
	}()

	// The initial sync, with no faults, must converge first.
	h.log.Info("initial sync")
	t0 := time.Now()
	first, err := h.settle(ctx, t0)
	if err != nil {
		return err
	}
	h.rep.InitialSyncSeconds = first.ConvergeSeconds
	if !first.Converged {
		h.rep.Differences = first.Differences
		h.rep.Problems = append(h.rep.Problems, "the initial sync did not converge")
		h.saveSnapshots(ctx, targets)
		return nil
	}
	h.log.Info("initial sync converged", "seconds", first.ConvergeSeconds)
	if err := h.addHandMembers(ctx); err != nil {
		return err
	}
	before, err := h.stats(ctx)
	if err != nil {
		return err
	}
	suiteBefore := map[string]RequestCounts{}
	for tenant := range before.Tenants {
		suiteBefore[tenant] = h.g.Counts(tenant)
	}

	srcLag, _, err := h.sim.ReplicationLag(sourceDomain)
	if err != nil {
		return err
	}
	w, err := newWorkload(ctx, h.g, h.opts.Seed, h.cast, srcLag)
	if err != nil {
		return err
	}
	h.w = w
	journal, err := os.Create(filepath.Join(h.dir, "workload.log"))
	if err != nil {
		return fmt.Errorf("workload journal: %w", err)
	}
	defer journal.Close()
	w.journal = journal
	done := 0
	for round := range h.opts.Rounds {
		n := h.opts.Operations / h.opts.Rounds
		if round == h.opts.Rounds-1 {
			n = h.opts.Operations - done
		}
		r, err := h.round(ctx, w, done, n)
		done += n
		if err != nil {
			return err
		}
		h.rep.Rounds = append(h.rep.Rounds, r)
		h.log.Info("round done", "round", round+1, "operations", done, "converged", r.Converged,
			"convergeSeconds", r.ConvergeSeconds, "stable", r.Stable, "differences", len(r.Differences))
		if !r.Converged || !r.Stable {
			h.rep.Differences = r.Differences
			h.saveSnapshots(ctx, targets)
			break
		}
	}
	h.rep.Operations.Total = done
	h.rep.Operations.Applied = w.applied
	h.rep.Operations.Rejected = w.rejected

	after, err := h.stats(ctx)
	if err != nil {
		return err
	}
	for tenant, st := range after.Tenants {
		b := before.Tenants[tenant]
		all := RequestCounts{Requests: st.Requests - b.Requests, Reads: st.Reads - b.Reads, Writes: st.Writes - b.Writes,
			Throttled: st.Throttled - b.Throttled, Failed: st.Failed - b.Failed}
		suite := h.g.Counts(tenant).minus(suiteBefore[tenant])
		routes := map[string]int64{}
		for k, v := range st.Routes {
			if d := v - b.Routes[k]; d > 0 {
				routes[k] = d
			}
		}
		h.rep.Graph[tenant] = GraphUse{All: all, Suite: suite, Tenantsync: all.minus(suite), Routes: routes}
		n, bn := st.Notifications, b.Notifications
		h.rep.Faults["notificationsDropped"] += n.Dropped - bn.Dropped
		h.rep.Faults["notificationsDuplicated"] += n.Duplicated - bn.Duplicated
		h.rep.Faults["notificationsReordered"] += n.Reordered - bn.Reordered
		h.rep.Notifications.Delivered += n.Delivered - bn.Delivered
		h.rep.Notifications.Failed += n.Failed - bn.Failed
	}
	h.rep.Faults["lostAnswers"] = h.ic.Lost()
	for status, n := range h.ic.Statuses() {
		h.rep.Faults[fmt.Sprintf("graph%d", status)] = n
	}
	if st, err := h.run.Status(ctx); err == nil {
		for _, t := range st.Targets {
			h.rep.Faults["quarantines"] += t.Actions["quarantine"]
		}
	}
	sprung := h.ic.Sprung()
	h.rep.Crashes.AfterInvitation = sprung[trapInvite]
	h.rep.Crashes.AfterPatch = sprung[trapPatch]
	h.rep.Faults["crashes"] = int64(h.rep.Crashes.Random + h.rep.Crashes.AfterInvitation + h.rep.Crashes.AfterPatch)

	stopped = true
	if err := h.run.Stop(30 * time.Second); err != nil {
		h.rep.Problems = append(h.rep.Problems, err.Error())
	}
	h.rep.Crashes.Unexpected = h.run.Unexpected()
	h.rep.Crashes.Starts = h.run.Starts()
	return h.inspectQueue()
}

func (h *harness) startRunner(targets []targetSpec) error {
	dir := h.opts.WorkDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "tenantsync-chaos-*"); err != nil {
			return fmt.Errorf("work dir: %w", err)
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	h.dir = dir
	cfg := filepath.Join(dir, "tenantsync.yaml")
	if !slices.ContainsFunc(h.sim.Tenants(), func(t graphsim.TenantInfo) bool { return t.ID == sourceTenantID() }) {
		return fmt.Errorf("the simulator's tenant %s does not have the id %s", sourceDomain, sourceTenantID())
	}
	if err := os.WriteFile(cfg, []byte(configYAML(h.simURL, sourceTenantID(), targets, h.cast.groups)), 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	h.state = filepath.Join(dir, "state.db")
	listen, err := freeAddr()
	if err != nil {
		return fmt.Errorf("pick the runner's address: %w", err)
	}
	env := settings.ChildEnviron(h.opts.Environ)
	env = append(env,
		"TENANTSYNC_STATE="+h.state,
		"ReconcileSchedule="+everySeconds(h.opts.ReconcileEvery),
		"SubscriptionSchedule="+everySeconds(20*time.Second),
	)
	spec := childSpec{dir: dir, log: filepath.Join(dir, "runner.log"), state: h.state, listen: listen}
	if h.opts.Handler != "" {
		exe, err := filepath.Abs(h.opts.Handler)
		if err != nil {
			return fmt.Errorf("handler binary: %w", err)
		}
		spec.exe, spec.args, spec.env = exe, []string{"local", "--config", cfg, "--listen", listen}, env
		h.rep.Runner = "handler local (" + h.opts.Handler + ")"
	} else {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("re-execute: %w", err)
		}
		spec.exe, spec.env = exe, append(env, childEnv+"=1", childListenEnv+"="+listen, "TENANTSYNC_CONFIG="+cfg)
		h.rep.Runner = "local runner, re-executed (" + filepath.Base(exe) + ")"
	}
	h.run, err = newRunner(spec)
	if err != nil {
		return err
	}
	if err := h.run.Start(); err != nil {
		return err
	}
	if err := h.run.WaitReady(context.Background(), time.Minute); err != nil {
		// Never leave the runner behind: it would live on, orphaned.
		_ = h.run.Stop(30 * time.Second)
		h.run.Close()
		return err
	}
	return nil
}

// everySeconds is a 6-field NCRONTAB schedule firing every d (whole
// seconds, at most a minute).
func everySeconds(d time.Duration) string {
	s := max(1, min(59, int(d/time.Second)))
	return fmt.Sprintf("*/%d * * * * *", s)
}

// trapDowntime is how long the runner stays dead after a trap.
const trapDowntime = 300 * time.Millisecond

// crash kills the runner now and restarts it after up to two seconds.
func (h *harness) crash() bool {
	down := time.Duration(h.plan.IntN(2000)) * time.Millisecond
	return h.run.Crash(down)
}

// round runs n operations with faults on, then settles.
func (h *harness) round(ctx context.Context, w *workload, offset, n int) (Round, error) {
	r := Round{Operations: n}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / h.opts.Rate)
	next := time.Now()
	for i := range n {
		if err := h.inject(ctx, offset+i); err != nil {
			return r, err
		}
		if _, err := w.Step(ctx); err != nil {
			return r, err
		}
		// Keep the pace without bursts: time lost to a slow operation is
		// not made up for.
		next = next.Add(interval)
		if floor := time.Now().Add(-interval); next.Before(floor) {
			next = floor
		}
		if d := time.Until(next); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return r, ctx.Err()
			}
		}
		if (offset+i+1)%500 == 0 {
			h.log.Info("workload", "operations", offset+i+1, "crashes", h.rep.Crashes.Random, "traps", h.ic.Sprung())
		}
	}
	r.ChaosSeconds = time.Since(start).Seconds()
	s, err := h.settle(ctx, time.Now())
	if err != nil {
		return r, err
	}
	s.Operations, s.ChaosSeconds = r.Operations, r.ChaosSeconds
	return s, nil
}

// maxClockJumps bounds the simulator's clock jumps to 3 × 8 days. The
// runner's own clock does not jump: past about 28 days, the subscriptions it
// creates (29 days ahead of its clock) would already be expired on the
// simulator's, an artefact no real deployment meets.
const maxClockJumps = 3

// Fault settings an episode picks from.
var (
	errorRates = []float64{0, 0.02, 0.05, 0.1}
	latencies  = []int{0, 0, 10, 40}
	drops      = []float64{0, 0.1, 0.3, 1}
	duplicates = []float64{0, 0.1, 0.3}
	reorders   = []float64{0, 0.2, 0.5}
	delays     = []int{0, 0, 300, 1500}
	lostRates  = []float64{0, 0, 0.02, 0.05}
)

// inject applies the fault plan before operation i.
func (h *harness) inject(ctx context.Context, i int) error {
	if i%h.opts.EpisodeEvery == 0 {
		f := graphsim.Faults{
			ErrorRate: errorRates[h.plan.IntN(len(errorRates))],
			LatencyMs: latencies[h.plan.IntN(len(latencies))],
			Notifications: graphsim.NotificationFaults{
				Drop:      drops[h.plan.IntN(len(drops))],
				Duplicate: duplicates[h.plan.IntN(len(duplicates))],
				Reorder:   reorders[h.plan.IntN(len(reorders))],
				DelayMs:   delays[h.plan.IntN(len(delays))],
			},
		}
		if err := h.g.Admin(ctx, http.MethodPost, "/_sim/faults", f, nil); err != nil {
			return err
		}
		h.ic.LoseAnswers(lostRates[h.plan.IntN(len(lostRates))])
		h.rep.Faults["episodes"]++
		if f.ErrorRate > 0 {
			h.rep.Faults["errorEpisodes"]++
		}
		if f.LatencyMs > 0 {
			h.rep.Faults["latencyEpisodes"]++
		}
		if f.Notifications.Drop == 1 {
			h.rep.Faults["notificationBlackouts"]++
		}
		if f.Notifications.DelayMs > 0 {
			h.rep.Faults["notificationDelayEpisodes"]++
		}
	}
	if i > 0 && i%h.opts.ClockEvery == 0 && h.rep.Faults["deltaTokenExpiries"] < maxClockJumps {
		// Past the 7-day life of delta tokens: the next reconcile must
		// notice and do a full pass.
		if err := h.g.Admin(ctx, http.MethodPost, "/_sim/clock", map[string]string{"advance": "193h"}, nil); err != nil {
			return err
		}
		h.rep.Faults["deltaTokenExpiries"]++
	}
	if i > 0 && i%h.opts.VanishEvery == 0 {
		var subs map[string][]struct {
			ID string `json:"id"`
		}
		if err := h.g.Admin(ctx, http.MethodGet, "/_sim/subscriptions", nil, &subs); err != nil {
			return err
		}
		var ids []string
		for _, list := range subs {
			for _, s := range list {
				ids = append(ids, s.ID)
			}
		}
		slices.Sort(ids)
		if len(ids) > 0 {
			id := ids[h.plan.IntN(len(ids))]
			if err := h.g.Admin(ctx, http.MethodDelete, "/_sim/subscriptions/"+id, nil, nil); err != nil {
				return err
			}
			h.rep.Faults["subscriptionsVanished"]++
		}
	}
	if err := h.injectTargets(ctx, i); err != nil {
		return err
	}
	if h.plan.IntN(h.opts.CrashEvery) == 0 && h.crash() {
		h.rep.Crashes.Random++
	}
	if h.plan.IntN(h.opts.TrapEvery) == 0 && h.ic.Armed() == "" {
		kind := trapInvite
		if h.plan.IntN(3) == 0 {
			kind = trapPatch
		}
		h.ic.Arm(kind)
	}
	return nil
}

// settle turns the faults off and waits until the targets converge: a
// reconcile that started after the faults went off has run, the queue has
// nothing to deliver, and the oracle finds no difference. Then it waits
// for the retries still scheduled and asks the oracle again.
func (h *harness) settle(ctx context.Context, start time.Time) (Round, error) {
	var r Round
	if err := h.g.Admin(ctx, http.MethodPost, "/_sim/faults", graphsim.Faults{}, nil); err != nil {
		return r, err
	}
	h.ic.Arm("")
	h.ic.LoseAnswers(0)
	if err := h.endEpisodes(ctx); err != nil {
		return r, err
	}
	deadline := start.Add(h.opts.SettleTimeout)
	var last time.Time
	reconciles := 0
	for {
		if time.Now().After(deadline) {
			r.ConvergeSeconds = time.Since(start).Seconds()
			diffs, err := h.check(ctx)
			if err != nil {
				return r, err
			}
			r.Differences = diffs
			return r, nil
		}
		st, err := h.run.Status(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return r, ctx.Err()
			}
			time.Sleep(250 * time.Millisecond)
			continue
		}
		if rec := oldestReconcile(st); rec.After(last) {
			if rec.After(start) {
				reconciles++
			}
			last = rec
		}
		busy := st.Pipeline["queueVisibleMessages"] + st.Pipeline["queueLockedMessages"]
		if _, ok := st.Pipeline["queueVisibleMessages"]; !ok {
			return r, errors.New("the runner's status page has no queue gauges (queueVisibleMessages): is the handler binary current?")
		}
		// Two reconciles: the second surely started after the faults went off.
		if reconciles >= 2 && busy == 0 {
			diffs, err := h.check(ctx)
			if err != nil {
				return r, err
			}
			if len(diffs) == 0 {
				r.Converged = true
				r.ConvergeSeconds = time.Since(start).Seconds()
				r.PendingRetries = st.Pipeline["queueScheduledMessages"]
				return h.quiet(ctx, r)
			}
			h.log.Info("not converged yet", "differences", len(diffs), "first", diffs[0].String())
			reconciles = 1
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// quiet waits until the retries scheduled at convergence have run, and
// checks that they did not undo anything.
func (h *harness) quiet(ctx context.Context, r Round) (Round, error) {
	start := time.Now()
	for {
		st, err := h.run.Status(ctx)
		if err == nil {
			p := st.Pipeline
			if p["queueVisibleMessages"]+p["queueLockedMessages"]+p["queueScheduledMessages"] == 0 {
				break
			}
		}
		if time.Since(start) > h.opts.QuietTimeout {
			r.Differences = append(r.Differences, Difference{Kind: "not-quiet",
				Detail: fmt.Sprintf("the queue still held work %s after convergence", h.opts.QuietTimeout)})
			return r, nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	r.QuietSeconds = time.Since(start).Seconds()
	diffs, err := h.check(ctx)
	if err != nil {
		return r, err
	}
	r.Differences = diffs
	r.Stable = len(diffs) == 0
	return r, nil
}

func oldestReconcile(st statuspage.Snapshot) time.Time {
	var oldest time.Time
	for i, t := range st.Targets {
		if i == 0 || t.LastReconcile.Before(oldest) {
			oldest = t.LastReconcile
		}
	}
	return oldest
}

func (h *harness) stats(ctx context.Context) (graphsim.Stats, error) {
	var st graphsim.Stats
	err := h.g.Admin(ctx, http.MethodGet, "/_sim/stats", nil, &st)
	return st, err
}

// saveSnapshots writes every tenant as seed JSON into the work directory,
// for reading a failed run.
func (h *harness) saveSnapshots(ctx context.Context, targets []targetSpec) {
	domains := []string{sourceDomain}
	for _, t := range targets {
		domains = append(domains, t.Domain)
	}
	for _, d := range domains {
		var snap json.RawMessage
		if err := h.g.Admin(ctx, http.MethodGet, "/_sim/tenants/"+d+"/snapshot", nil, &snap); err != nil {
			h.rep.Problems = append(h.rep.Problems, "snapshot: "+err.Error())
			continue
		}
		if err := os.WriteFile(filepath.Join(h.dir, d+".json"), snap, 0o600); err != nil {
			h.rep.Problems = append(h.rep.Problems, "snapshot: "+err.Error())
		}
	}
}

// inspectQueue opens the stopped runner's state file and reads what its
// queue still holds.
func (h *harness) inspectQueue() error {
	db, err := bbolt.Open(h.state, 0o600, &bbolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		return fmt.Errorf("open the runner's state: %w", err)
	}
	defer db.Close()
	q, err := embedded.Open(db, &embedded.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("open the runner's queue: %w", err)
	}
	defer q.Close()
	st := q.Stats()
	h.rep.Queue.Visible, h.rep.Queue.Scheduled, h.rep.Queue.DeadLetters = st.VisibleMessages, st.ScheduledMessages, st.DeadLetterMessages
	return nil
}
