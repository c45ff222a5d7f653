// Package bench measures tenantsync against Microsoft Graph's own limits:
// `make bench` (the hidden `handler bench` command) runs it and writes
// .bench/results.json.
//
// Everything runs on this machine. The Graph simulator (internal/graphsim)
// serves a generated source tenant and empty targets with its throttling set
// to Graph's identity and access limits refilled N times as fast (the same
// bucket shapes on a faster clock), and tenantsync runs as `handler local`
// in a child process — the shipped binary, its embedded queue and store, the
// webhook Graph notifies — so that its memory is measured apart from the
// simulator's. The phases:
//
//   - initialSync: every source user into one empty target through the
//     event path (the first reconcile enqueues, ProcessChange invites and
//     writes); wall time, requests by kind, how much of the target's write
//     quota was used, peak and sampled RSS;
//   - initialSync3: the same into three targets at once, each with its own
//     quota;
//   - steady: random attribute changes in the source after the initial sync,
//     mapped and unmapped, arriving as change notifications; latency from the
//     source write to the target write, requests per change;
//   - idle: a full reconcile over the linked users with nothing to do, and a
//     delta reconcile, in process on the child's store;
//   - naive: the published scripts' approach (list every source user, GET
//     and PATCH every target user) against the same simulator;
//   - groups: security groups and their members on a pre-linked world of
//     Users users: Groups source groups of Users/Groups members each synced
//     into an empty target (writes per membership, quota), then random
//     membership changes in the source arriving as change notifications
//     (latency from the source write to the target's membership write);
//   - coldStart: from exec of `handler local` until its HTTP port answers, and
//     the binary's size;
//   - scale (only when asked for): a pre-linked world of Users users seeded
//     directly, and the passes that read all of it (full and delta
//     reconcile, plan, status), each in a child process whose heap is
//     sampled (scale.go, measure.go).
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Phase names, as in results.json.
const (
	PhaseInitialSync  = "initialSync"
	PhaseInitialSync3 = "initialSync3"
	PhaseSteady       = "steady"
	PhaseIdle         = "idle"
	PhaseNaive        = "naive"
	PhaseColdStart    = "coldStart"
	PhaseGroups       = "groups"
	// PhaseScale seeds a pre-linked world of Users users and measures the
	// passes that read all of it; it is not among AllPhases (it needs no
	// initial sync, and measures another thing: size, not quota).
	PhaseScale = "scale"
	// PhaseInitialSlice is a slice of a large initial sync (SliceDuration
	// of it, with SliceCrashes kills and restarts), and the whole run by
	// calculation; not among AllPhases (an hour by default).
	PhaseInitialSlice = "initialSlice"
)

// AllPhases lists every phase in the order they run.
var AllPhases = []string{PhaseInitialSync, PhaseSteady, PhaseIdle, PhaseNaive, PhaseInitialSync3, PhaseGroups, PhaseColdStart}

// Options configure Run. Command is required; the rest have defaults.
type Options struct {
	// Command runs the handler binary: its path and any leading arguments.
	// Run starts `Command local ...` as tenantsync and measures the size of
	// Command[0].
	Command []string
	// Environ is the environment tenantsync's child processes start from,
	// in os.Environ's form (handler/ passes os.Environ()). Every tenantsync
	// setting and Azure credential in it is dropped (settings.ChildEnviron).
	Environ []string
	// Users is the source population, all of it in scope. Default 10,000.
	Users int
	// Throttle is the simulator's throttling: "xN" refills Graph's buckets
	// N times as fast, "real" is Graph's pace. Default DefaultThrottle.
	Throttle string
	// Sessions is how many users tenantsync syncs at once (local
	// --sessions). Default 16.
	Sessions int
	// Changes is the number of steady-state changes (default 1,000, at
	// most Users); ChangeRate how many are made per second (default 20);
	// a fifth of them change an attribute no mapping reads.
	Changes    int
	ChangeRate float64
	// ColdStarts is how many cold starts are timed (default 5).
	ColdStarts int
	// Groups is how many source groups the groups phase syncs (default
	// 50, at most Users), each with Users/Groups distinct members;
	// GroupChanges how many membership changes it makes afterwards
	// (default 200, half additions and half removals, at most Users), and
	// GroupChangeRate how many per second (default 10).
	Groups          int
	GroupChanges    int
	GroupChangeRate float64
	// SliceDuration is how long the initialSlice phase runs (default
	// DefaultSliceDuration), and SliceCrashes how many times it kills
	// tenantsync and restarts it, evenly spaced (default 2; negative:
	// none).
	SliceDuration time.Duration
	SliceCrashes  int
	// Phases selects phases (default AllPhases). steady, idle and naive run
	// after initialSync, on its tenants; asking for them runs it too.
	Phases []string
	// Dir holds the run's state files and tenantsync's logs. Default .bench.
	Dir string
	// Seed makes the tenant and the changes reproducible. Default 1.
	Seed uint64
	// Out receives the table of results; Progress one line every few
	// seconds while a phase runs. Nil discards.
	Out, Progress io.Writer
}

// DefaultThrottle is the simulator's default throttling for benchmarks:
// Graph's limits refilled twice as fast, which this project's 2-core
// reference machine sustains for three targets at once.
const DefaultThrottle = "x2"

func (o *Options) setDefaults() error {
	if len(o.Command) == 0 || o.Command[0] == "" {
		return errors.New("bench: Command (the handler binary) is required")
	}
	if o.Users <= 0 {
		o.Users = 10000
	}
	if o.Throttle == "" {
		o.Throttle = DefaultThrottle
	}
	if o.Sessions <= 0 {
		o.Sessions = 16
	}
	if o.Changes <= 0 {
		o.Changes = 1000
	}
	o.Changes = min(o.Changes, o.Users)
	if o.ChangeRate <= 0 {
		o.ChangeRate = 20
	}
	if o.ColdStarts <= 0 {
		o.ColdStarts = 5
	}
	if o.Groups <= 0 {
		o.Groups = 50
	}
	o.Groups = min(o.Groups, o.Users)
	if o.GroupChanges <= 0 {
		o.GroupChanges = 200
	}
	o.GroupChanges = min(o.GroupChanges, o.Users)
	if o.GroupChangeRate <= 0 {
		o.GroupChangeRate = 10
	}
	if o.SliceDuration <= 0 {
		o.SliceDuration = DefaultSliceDuration
	}
	switch {
	case o.SliceCrashes == 0:
		o.SliceCrashes = 2
	case o.SliceCrashes < 0:
		o.SliceCrashes = 0
	}
	if len(o.Phases) == 0 {
		o.Phases = AllPhases
	}
	for _, p := range o.Phases {
		if !slices.Contains(AllPhases, p) && p != PhaseScale && p != PhaseInitialSlice {
			return fmt.Errorf("bench: unknown phase %q (phases: %s, %s, %s)", p, strings.Join(AllPhases, ", "), PhaseScale, PhaseInitialSlice)
		}
	}
	if o.Dir == "" {
		o.Dir = ".bench"
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return nil
}

func (o *Options) wants(phase string) bool { return slices.Contains(o.Phases, phase) }

// Results is .bench/results.json. The fields DESIGN.md names come first in
// each phase; the others say more about the same run.
type Results struct {
	InitialSync  *SyncResult      `json:"initialSync,omitempty"`
	InitialSync3 *SyncResult      `json:"initialSync3,omitempty"`
	Steady       *SteadyResult    `json:"steady,omitempty"`
	Idle         *IdleResult      `json:"idle,omitempty"`
	Naive        *NaiveResult     `json:"naive,omitempty"`
	ColdStart    *ColdStartResult `json:"coldStart,omitempty"`
	Scale        *ScaleResult     `json:"scale,omitempty"`
	Groups       *GroupsResult    `json:"groups,omitempty"`
	InitialSlice *SliceResult     `json:"initialSlice,omitempty"`
	Run          RunInfo          `json:"run"`
}

// RunInfo describes the run and the machine.
type RunInfo struct {
	Started  time.Time `json:"started"`
	Seconds  float64   `json:"seconds"`
	Users    int       `json:"users"`
	Throttle string    `json:"throttle"`
	// WritesPerSecondAllowed is the sustained write rate of each tenant's
	// throttle, and WriteBurst its bucket: the quota the utilisation is
	// measured against.
	WritesPerSecondAllowed float64 `json:"writesPerSecondAllowed"`
	WriteBurst             int     `json:"writeBurst"`
	Sessions               int     `json:"sessions"`
	CPUs                   int     `json:"cpus"`
	CPUModel               string  `json:"cpuModel,omitempty"`
	// LoadAverage is the 1-minute load average at the start and the end:
	// the machine may be shared.
	LoadAverage [2]float64 `json:"loadAverage"`
	GoVersion   string     `json:"goVersion"`
	OS          string     `json:"os"`
}

// Requests are Graph operations by kind, from the simulator's counters:
// writes include attempts answered 429.
type Requests struct {
	Reads     int64 `json:"reads"`
	Writes    int64 `json:"writes"`
	Throttled int64 `json:"throttled"`
}

// SyncResult is an initial sync.
type SyncResult struct {
	Users   int     `json:"users"`
	Targets int     `json:"targets"`
	Seconds float64 `json:"seconds"`
	// WriteQuotaUtilization is, per target (the lowest of them), the
	// writes the simulator applied ÷ the writes its throttle allowed over
	// the run (a full bucket at the start plus the refill over Seconds).
	WriteQuotaUtilization float64  `json:"writeQuotaUtilization"`
	Requests              Requests `json:"requests"`
	PeakRSSMB             float64  `json:"peakRSSMB"`

	// WritesApplied counts the writes the simulator applied to each
	// target; WritesPerUser is their mean per user and target.
	WritesApplied []int64 `json:"writesApplied"`
	WritesPerUser float64 `json:"writesPerUser"`
	// WritesPerSecond is the applied writes per second and target.
	WritesPerSecond float64 `json:"writesPerSecond"`
	// RSSMB is the resident set when 0, 25, 50, 75 and 100 % of the users
	// had been created: flat memory means these stay close.
	RSSMB []float64 `json:"rssMB"`
	// AnonMB is the anonymous part of RSSMB at the same moments: the
	// rest is the embedded store's file, memory-mapped, which grows with
	// the links and the provisioning log and which the kernel can drop.
	AnonMB []float64 `json:"anonMB"`
	// Rescheduled counts changes put back on the queue for later
	// (throttled, or held back by the write pacer).
	Rescheduled int64 `json:"rescheduled"`
}

// SteadyResult is the steady state: changes in the source arriving as
// change notifications.
type SteadyResult struct {
	Changes         int     `json:"changes"`
	P50ms           float64 `json:"p50ms"`
	P99ms           float64 `json:"p99ms"`
	ReadsPerChange  float64 `json:"readsPerChange"`
	WritesPerChange float64 `json:"writesPerChange"`

	// MappedChanges changed an attribute a mapping reads; their latency is
	// the p50 and p99. UnmappedChanges changed one none reads, and
	// UnmappedWrites counts target writes they caused (goal 0).
	MappedChanges    int     `json:"mappedChanges"`
	UnmappedChanges  int     `json:"unmappedChanges"`
	UnmappedWrites   int     `json:"unmappedWrites"`
	MaxMs            float64 `json:"maxMs"`
	ChangesPerSecond float64 `json:"changesPerSecond"`
	// Notifications counts the change notifications the simulator
	// delivered.
	Notifications int64 `json:"notifications"`
}

// IdleResult is a reconcile with nothing to do.
type IdleResult struct {
	Users    int     `json:"users"`
	Requests int64   `json:"requests"`
	Seconds  float64 `json:"seconds"`

	// Pages is the number of list pages of source and target users (999
	// per page): the full reconcile's requests are O(Pages).
	Pages int `json:"pages"`
	// Changes counts the changes the full reconcile found (goal 0).
	Changes int `json:"changes"`
	// DeltaRequests and DeltaSeconds are the timer's ordinary reconcile,
	// from the delta watermarks.
	DeltaRequests int64   `json:"deltaRequests"`
	DeltaSeconds  float64 `json:"deltaSeconds"`
}

// NaiveResult is one cycle of the published scripts' approach.
type NaiveResult struct {
	Requests int64   `json:"requests"`
	Seconds  float64 `json:"seconds"`

	Reads     int64 `json:"reads"`
	Writes    int64 `json:"writes"`
	Throttled int64 `json:"throttled"`
	// RequestsVsIdle and SecondsVsIdle compare a cycle with tenantsync's
	// full reconcile; RequestsVsSteady compares a cycle (which is what a
	// script needs to carry the steady phase's changes) with what
	// tenantsync spent on them.
	RequestsVsIdle   float64 `json:"requestsVsIdle,omitempty"`
	SecondsVsIdle    float64 `json:"secondsVsIdle,omitempty"`
	RequestsVsSteady float64 `json:"requestsVsSteady,omitempty"`
}

// ColdStartResult is the start of a process.
type ColdStartResult struct {
	Ms       float64 `json:"ms"`
	BinaryMB float64 `json:"binaryMB"`

	// Samples are the individual starts in ms; Ms is their median.
	Samples []float64 `json:"samples"`
}

const mib = 1 << 20

// Run runs the benchmarks the options select, prints the table and writes
// results.json in opts.Dir. It returns what it measured, also when a phase
// failed.
func Run(ctx context.Context, opts Options) (*Results, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	res := &Results{Run: runInfo(opts)}
	start := time.Now()
	var errs []error
	if opts.wants(PhaseInitialSync) || opts.wants(PhaseSteady) || opts.wants(PhaseIdle) || opts.wants(PhaseNaive) {
		if err := runOneTarget(ctx, opts, res); err != nil {
			errs = append(errs, err)
		}
	}
	if opts.wants(PhaseInitialSync3) && ctx.Err() == nil {
		if err := runThreeTargets(ctx, opts, res); err != nil {
			errs = append(errs, err)
		}
	}
	if opts.wants(PhaseGroups) && ctx.Err() == nil {
		if err := runGroups(ctx, opts, res); err != nil {
			errs = append(errs, err)
		}
	}
	if opts.wants(PhaseScale) && ctx.Err() == nil {
		if err := runScale(ctx, opts, res); err != nil {
			errs = append(errs, err)
		}
	}
	if opts.wants(PhaseInitialSlice) && ctx.Err() == nil {
		if err := runSlice(ctx, opts, res); err != nil {
			errs = append(errs, err)
		}
	}
	if opts.wants(PhaseColdStart) && ctx.Err() == nil {
		cs, err := coldStart(ctx, opts)
		if err != nil {
			errs = append(errs, err)
		} else {
			res.ColdStart = cs
		}
	}
	res.Run.Seconds = round(time.Since(start).Seconds(), 1)
	res.Run.LoadAverage[1] = loadAverage()
	if err := writeResults(filepath.Join(opts.Dir, "results.json"), res); err != nil {
		errs = append(errs, err)
	}
	printTable(opts.Out, res)
	return res, errors.Join(errs...)
}

func writeResults(path string, res *Results) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

func runInfo(o Options) RunInfo {
	ri := RunInfo{
		Started:   time.Now().UTC().Truncate(time.Second),
		Users:     o.Users,
		Throttle:  o.Throttle,
		Sessions:  o.Sessions,
		CPUs:      runtime.NumCPU(),
		CPUModel:  cpuModel(),
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS + "/" + runtime.GOARCH,
	}
	ri.LoadAverage[0] = loadAverage()
	return ri
}

// cpuModel reads the CPU's name from /proc/cpuinfo ("" elsewhere).
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAverage reads the 1-minute load average (0 where there is no /proc).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// progress prints a line about a running phase.
func progress(w io.Writer, phase, format string, args ...any) {
	fmt.Fprintf(w, "%s  %-12s %s\n", time.Now().Format("15:04:05"), phase, fmt.Sprintf(format, args...))
}
