package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/graphsim"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/statuspage"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

// The tenants of a run.
const (
	sourceDomain = "fabrikam.example"
	anchorPrefix = "tenantsync:" + sourceDomain + ":"
)

// target is a target tenant: its config name and its domain.
type target struct{ name, domain string }

// benchTargets are the target tenants; none may be a domain of the
// generated guests (graphsim's partner domains), whose invitations it would
// refuse as members of the target.
var benchTargets = []target{
	{"contoso", "contoso.example"},
	{"litware", "litware.example"},
	{"woodgrove", "woodgrove.example"},
}

func sourceSeed(o Options) graphsim.TenantSeed {
	return graphsim.GenerateTenant(graphsim.GenerateOptions{
		Domain: sourceDomain, DisplayName: "Fabrikam", Users: o.Users, Seed: o.Seed,
	})
}

func seedWith(source graphsim.TenantSeed, targets []target) graphsim.Seed {
	seed := graphsim.Seed{Tenants: []graphsim.TenantSeed{source}}
	for _, t := range targets {
		seed.Tenants = append(seed.Tenants, graphsim.TenantSeed{Domain: t.domain, DisplayName: t.name})
	}
	return seed
}

// writeConfig writes tenantsync's config for the simulator: every source
// user, guests and external users included, into each target, with the
// default mappings.
func writeConfig(path, simURL, source string, targets []target) error {
	tenant := func(domain string) map[string]any {
		return map[string]any{"tenant": domain, "graph": simURL + "/" + domain + "/v1.0", "auth": map[string]any{"method": "none"}}
	}
	var ts []map[string]any
	for _, t := range targets {
		m := tenant(t.domain)
		m["name"] = t.name
		m["scope"] = map[string]any{"all": true, "includeGuests": true, "includeExternal": true}
		ts = append(ts, m)
	}
	b, err := json.MarshalIndent(map[string]any{"source": tenant(source), "targets": ts}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

// runOneTarget runs initialSync and, on its tenants, steady, idle and naive.
func runOneTarget(ctx context.Context, o Options, res *Results) error {
	src := sourceSeed(o)
	targets := benchTargets[:1]
	sim, err := startSimulator(seedWith(src, targets), o.Throttle)
	if err != nil {
		return err
	}
	defer sim.close()
	lim := sim.limits(targets[0].domain)
	res.Run.WritesPerSecondAllowed, res.Run.WriteBurst = round(lim.WritesPerSecond, 2), lim.WritesPer150s

	dir := filepath.Join(o.Dir, "one-target")
	cfgPath, err := phaseDir(dir, sim.URL, targets)
	if err != nil {
		return err
	}
	state := filepath.Join(dir, "state.db")
	sync, ch, err := initialSync(ctx, o, sim, targets, cfgPath, state, filepath.Join(dir, "local.log"), PhaseInitialSync)
	if err != nil {
		return fmt.Errorf("%s: %w", PhaseInitialSync, err)
	}
	res.InitialSync = sync
	links, err := verifySync(sim, src, targets)
	if err != nil {
		ch.kill()
		return fmt.Errorf("%s: %w", PhaseInitialSync, err)
	}
	var errs []error
	if o.wants(PhaseSteady) {
		st, err := steady(ctx, o, sim, ch, src, targets[0], links[targets[0].domain])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", PhaseSteady, err))
		}
		res.Steady = st
	}
	if err := ch.stop(30 * time.Second); err != nil {
		errs = append(errs, err)
	}
	if o.wants(PhaseIdle) && ctx.Err() == nil {
		idle, err := idleReconcile(ctx, o, sim, cfgPath, state, targets)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", PhaseIdle, err))
		}
		res.Idle = idle
	}
	if o.wants(PhaseNaive) && ctx.Err() == nil {
		nv, err := naive(ctx, o, sim, targets[0])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", PhaseNaive, err))
		}
		res.Naive = nv
		compareNaive(res)
	}
	return errors.Join(errs...)
}

// runThreeTargets runs initialSync3.
func runThreeTargets(ctx context.Context, o Options, res *Results) error {
	src := sourceSeed(o)
	sim, err := startSimulator(seedWith(src, benchTargets), o.Throttle)
	if err != nil {
		return err
	}
	defer sim.close()
	dir := filepath.Join(o.Dir, "three-targets")
	cfgPath, err := phaseDir(dir, sim.URL, benchTargets)
	if err != nil {
		return err
	}
	sync, ch, err := initialSync(ctx, o, sim, benchTargets, cfgPath, filepath.Join(dir, "state.db"), filepath.Join(dir, "local.log"), PhaseInitialSync3)
	if err != nil {
		return fmt.Errorf("%s: %w", PhaseInitialSync3, err)
	}
	res.InitialSync3 = sync
	_, verr := verifySync(sim, src, benchTargets)
	serr := ch.stop(30 * time.Second)
	if verr != nil {
		return fmt.Errorf("%s: %w", PhaseInitialSync3, verr)
	}
	return serr
}

// phaseDir makes dir a phase's fresh working directory (emptied if it
// exists) holding the tenantsync config for the simulator at simURL and
// targets, and returns the config's path.
func phaseDir(dir, simURL string, targets []target) (string, error) {
	if err := freshDir(dir); err != nil {
		return "", err
	}
	cfgPath := filepath.Join(dir, "tenantsync.json")
	if err := writeConfig(cfgPath, simURL, sourceDomain, targets); err != nil {
		return "", err
	}
	return cfgPath, nil
}

// freshDir empties dir of a previous run's state.
func freshDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clear %s: %w", dir, err)
	}
	return os.MkdirAll(dir, 0o755)
}

// initialSync starts tenantsync on empty targets and waits until every
// source user is in each of them and its queue is empty. It returns
// tenantsync still running.
func initialSync(ctx context.Context, o Options, sim *simulator, targets []target, cfgPath, state, logPath, phase string) (*SyncResult, *child, error) {
	sim.reset()
	lim := sim.limits(targets[0].domain)
	// Time enough for three writes per user at the throttle's pace, and
	// then some, before calling it stuck.
	timeout := 10 * time.Minute
	if lim.WritesPerSecond > 0 {
		timeout += time.Duration(3 * 3 * float64(o.Users) / lim.WritesPerSecond * float64(time.Second))
	}
	ch, err := startChild(ctx, childOptions{command: o.Command, environ: o.Environ, config: cfgPath, state: state,
		sessions: o.Sessions, log: logPath, notify: true})
	if err != nil {
		return nil, nil, err
	}
	progress(o.Progress, phase, "%d users into %d target(s), throttle %s (%.0f writes/s per target); tenantsync's log: %s",
		o.Users, len(targets), o.Throttle, lim.WritesPerSecond, logPath)

	marks := []float64{0, 0.25, 0.5, 0.75, 1}
	rss := make([]float64, 0, len(marks))
	anon := make([]float64, 0, len(marks))
	deadline := time.Now().Add(timeout)
	lastLine := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var status statuspage.Snapshot
	for done := false; !done; {
		select {
		case <-ctx.Done():
			ch.kill()
			return nil, nil, ctx.Err()
		case <-ch.done:
			ch.kill()
			return nil, nil, fmt.Errorf("tenantsync exited: %v (see %s)", ch.waitErr, logPath)
		case <-tick.C:
		}
		stats := sim.Stats()
		created := o.Users
		for _, t := range targets {
			created = min(created, stats.Tenants[t.domain].Users)
		}
		mem := ch.memory()
		for len(rss) < len(marks) && created >= max(1, int(marks[len(rss)]*float64(o.Users))) {
			rss = append(rss, round(float64(mem.rss)/mib, 1))
			anon = append(anon, round(float64(mem.anon)/mib, 1))
		}
		if time.Since(lastLine) >= 10*time.Second {
			// A change that can never succeed would leave the sync short
			// for good: say so now rather than at the timeout.
			if st, err := ch.status(ctx); err == nil && st.Pipeline["queueDeadLettered"] > 0 {
				ch.kill()
				return nil, nil, fmt.Errorf("%d changes were dead-lettered (see %s)", st.Pipeline["queueDeadLettered"], logPath)
			}
			applied, _ := sim.rec.applied(targets[0].domain)
			progress(o.Progress, phase, "%5d/%d users, %6d writes applied to %s, %d throttled, %.0f s, RSS %.0f MB",
				created, o.Users, applied, targets[0].name, sim.rec.throttled(targets[0].domain),
				time.Since(ch.started).Seconds(), float64(mem.rss)/mib)
			lastLine = time.Now()
		}
		if created >= o.Users {
			if st, err := ch.status(ctx); err == nil && drained(st) && linksActive(st, targets, o.Users) {
				status, done = st, true
				continue
			}
		}
		if time.Now().After(deadline) {
			ch.kill()
			return nil, nil, fmt.Errorf("%d of %d users after %s: %w (see %s)", created, o.Users, timeout, errNotConverged, logPath)
		}
	}

	res := &SyncResult{Users: o.Users, Targets: len(targets), RSSMB: rss, AnonMB: anon, Rescheduled: status.Pipeline["changesRescheduled"]}
	var end time.Time
	var applied int64
	for _, t := range targets {
		n, last := sim.rec.applied(t.domain)
		res.WritesApplied = append(res.WritesApplied, n)
		applied += n
		if last.After(end) {
			end = last
		}
	}
	seconds := end.Sub(ch.started).Seconds()
	res.Seconds = round(seconds, 1)
	res.WriteQuotaUtilization = 1
	for _, n := range res.WritesApplied {
		res.WriteQuotaUtilization = min(res.WriteQuotaUtilization, utilisation(n, lim, seconds))
	}
	res.WriteQuotaUtilization = round(res.WriteQuotaUtilization, 3)
	if lim.WritesPerSecond == 0 {
		res.WriteQuotaUtilization = 0 // nothing to measure against
	}
	perTarget := float64(applied) / float64(len(targets))
	res.WritesPerUser = round(perTarget/float64(o.Users), 2)
	res.WritesPerSecond = round(perTarget/seconds, 1)
	res.Requests = requests(sim.Stats())
	res.PeakRSSMB = round(float64(ch.memory().peak)/mib, 1)
	progress(o.Progress, phase, "done in %.1f s: %.2f writes/user, %.1f writes/s per target, quota used %.3f, %d throttled, peak RSS %.0f MB",
		res.Seconds, res.WritesPerUser, res.WritesPerSecond, res.WriteQuotaUtilization, res.Requests.Throttled, res.PeakRSSMB)
	return res, ch, nil
}

// utilisation is the writes applied to a tenant ÷ the writes its throttle
// allowed in seconds: a full bucket at the start plus its refill.
func utilisation(applied int64, lim graphsim.Limits, seconds float64) float64 {
	allowed := float64(lim.WritesPer150s) + lim.WritesPerSecond*seconds
	if allowed <= 0 {
		return 0
	}
	return float64(applied) / allowed
}

func linksActive(st statuspage.Snapshot, targets []target, want int) bool {
	for _, t := range targets {
		found := false
		for _, s := range st.Targets {
			if s.Name == t.name {
				found = s.Links.Active >= want
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// requests sums the simulator's counters over its tenants.
func requests(s graphsim.Stats) Requests {
	var r Requests
	for _, t := range s.Tenants {
		r.Reads += t.Reads
		r.Writes += t.Writes
		r.Throttled += t.Throttled
	}
	return r
}

// verifySync checks every target against the source: each source user
// exactly once (by the anchor tenantsync writes), with its display name,
// job title and department. It returns, per target domain, the target
// user of each source user.
func verifySync(sim *simulator, src graphsim.TenantSeed, targets []target) (map[string]map[string]string, error) {
	want := map[string]graphsim.Object{}
	for _, u := range src.Users {
		want[u["id"].(string)] = u
	}
	out := map[string]map[string]string{}
	for _, t := range targets {
		snap, err := sim.Snapshot(t.domain)
		if err != nil {
			return nil, err
		}
		links := map[string]string{}
		var problems []string
		for _, u := range snap.Users {
			ext, _ := u["onPremisesExtensionAttributes"].(map[string]any)
			a, _ := ext["extensionAttribute15"].(string)
			id, ok := strings.CutPrefix(a, anchorPrefix)
			if !ok {
				continue
			}
			if prev, dup := links[id]; dup {
				problems = append(problems, fmt.Sprintf("source user %s has two target users, %s and %s", id, prev, u["id"]))
				continue
			}
			links[id] = fmt.Sprint(u["id"])
			s, ok := want[id]
			if !ok {
				problems = append(problems, fmt.Sprintf("target user %s carries an unknown anchor %s", u["id"], a))
				continue
			}
			for _, k := range []string{"displayName", "jobTitle", "department"} {
				if fmt.Sprint(u[k]) != fmt.Sprint(s[k]) {
					problems = append(problems, fmt.Sprintf("target user %s: %s %v, want %v", u["id"], k, u[k], s[k]))
				}
			}
		}
		for id := range want {
			if _, ok := links[id]; !ok {
				problems = append(problems, "source user "+id+" is missing")
			}
		}
		if len(problems) > 0 {
			slices.Sort(problems)
			return nil, fmt.Errorf("target %s is not in step with the source (%d problems): %s", t.name, len(problems),
				strings.Join(problems[:min(5, len(problems))], "; "))
		}
		out[t.domain] = links
	}
	return out, nil
}

// change is one steady-state change to a source user.
type change struct {
	sourceID, targetID string
	attr, value        string
	mapped             bool
	accepted           time.Time
}

var (
	mappedAttrs   = []string{"jobTitle", "department", "officeLocation", "mobilePhone", "city"}
	unmappedAttrs = []string{"faxNumber", "employeeType"}
)

// steady makes o.Changes changes to distinct source users at o.ChangeRate
// per second, one in five to an attribute no mapping reads, and measures
// each mapped change from the source write to the target write.
func steady(ctx context.Context, o Options, sim *simulator, ch *child, src graphsim.TenantSeed, tgt target, links map[string]string) (*SteadyResult, error) {
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	perm := rng.Perm(len(src.Users))
	changes := make([]*change, 0, o.Changes)
	for i, p := range perm[:o.Changes] {
		id := src.Users[p]["id"].(string)
		c := &change{sourceID: id, targetID: links[id], mapped: i%5 != 4}
		if c.mapped {
			c.attr = mappedAttrs[i%len(mappedAttrs)]
			c.value = fmt.Sprintf("Bench %s %d", c.attr, i)
			if c.attr == "mobilePhone" {
				c.value = fmt.Sprintf("+1 555 %04d", i)
			}
		} else {
			c.attr = unmappedAttrs[i%len(unmappedAttrs)]
			c.value = fmt.Sprintf("Bench %s %d", c.attr, i)
		}
		changes = append(changes, c)
	}

	// Let the initial sync's last notifications and queue settle first.
	if err := waitQuiet(ctx, ch, sim, 2*time.Second, time.Minute); err != nil {
		return nil, err
	}
	sim.reset()
	sim.rec.trace(true)
	defer sim.rec.trace(false)
	progress(o.Progress, PhaseSteady, "%d changes at %.0f/s (%d to unmapped attributes)", len(changes), o.ChangeRate, len(changes)/5)

	client := &http.Client{Timeout: 30 * time.Second}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / o.ChangeRate)
	for i, c := range changes {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(d):
			}
		}
		body, _ := json.Marshal(map[string]string{c.attr: c.value})
		if err := send(ctx, client, http.MethodPatch, sim.tenantURL(sourceDomain)+"/users/"+c.sourceID, body, nil); err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
		c.accepted = time.Now()
	}
	sent := time.Since(start)

	// Wait for every mapped change to reach the target and for the queue
	// to empty.
	deadline := time.Now().Add(2 * time.Minute)
	latencies := make([]float64, 0, len(changes))
	for {
		latencies = latencies[:0]
		missing := 0
		for _, c := range changes {
			if !c.mapped {
				continue
			}
			if at, ok := firstAfter(sim.rec.patches(tgt.domain, c.targetID), c.accepted); ok {
				latencies = append(latencies, float64(at.Sub(c.accepted))/float64(time.Millisecond))
			} else {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d mapped changes did not reach %s: %w", missing, tgt.name, errNotConverged)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := waitQuiet(ctx, ch, sim, 2*time.Second, time.Minute); err != nil {
		return nil, err
	}

	stats := sim.Stats()
	s, t := stats.Tenants[sourceDomain], stats.Tenants[tgt.domain]
	res := &SteadyResult{Changes: len(changes), ChangesPerSecond: round(float64(len(changes))/sent.Seconds(), 1),
		Notifications: s.Notifications.Delivered}
	for _, c := range changes {
		if c.mapped {
			res.MappedChanges++
		} else {
			res.UnmappedChanges++
			res.UnmappedWrites += len(sim.rec.patches(tgt.domain, c.targetID))
		}
	}
	slices.Sort(latencies)
	res.P50ms = round(percentile(latencies, 50), 1)
	res.P99ms = round(percentile(latencies, 99), 1)
	res.MaxMs = round(latencies[len(latencies)-1], 1)
	// The source's writes are the bench's own changes, not tenantsync's.
	res.ReadsPerChange = round(float64(s.Reads+t.Reads)/float64(len(changes)), 2)
	res.WritesPerChange = round(float64(t.Writes)/float64(len(changes)), 2)

	// The target has what the source has.
	snap, err := sim.Snapshot(tgt.domain)
	if err != nil {
		return res, err
	}
	byID := map[string]graphsim.Object{}
	for _, u := range snap.Users {
		byID[fmt.Sprint(u["id"])] = u
	}
	for _, c := range changes {
		if c.mapped && fmt.Sprint(byID[c.targetID][c.attr]) != c.value {
			return res, fmt.Errorf("target user %s: %s is %v, want %q", c.targetID, c.attr, byID[c.targetID][c.attr], c.value)
		}
	}
	progress(o.Progress, PhaseSteady, "p50 %.0f ms, p99 %.0f ms, %.2f reads and %.2f writes per change, %d writes for unmapped changes",
		res.P50ms, res.P99ms, res.ReadsPerChange, res.WritesPerChange, res.UnmappedWrites)
	return res, nil
}

// firstAfter returns the first time in ts not before t.
func firstAfter(ts []time.Time, t time.Time) (time.Time, bool) {
	for _, x := range ts {
		if !x.Before(t) {
			return x, true
		}
	}
	return time.Time{}, false
}

// waitQuiet waits until tenantsync's queue is empty and the simulator has
// seen no request for quiet.
func waitQuiet(ctx context.Context, ch *child, sim *simulator, quiet, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last, lastChange := int64(-1), time.Now()
	for {
		var n int64
		for _, t := range sim.Stats().Tenants {
			n += t.Requests
		}
		if n != last {
			last, lastChange = n, time.Now()
		}
		if time.Since(lastChange) >= quiet {
			if st, err := ch.status(ctx); err == nil && (drained(st) || st.Pipeline["queueEnqueued"] == 0) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("tenantsync did not settle within %s: %w", timeout, errNotConverged)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// send sends one request with a JSON body, waiting out 429s and 503s as
// their Retry-After says, and decodes a JSON answer into out.
func send(ctx context.Context, client *http.Client, method, url string, body []byte, out any) error {
	for {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, url, rd)
		if err != nil {
			return err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, url, err)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, url, err)
		}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			wait := retryAfter(resp.Header.Get("Retry-After"))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			continue
		}
		if resp.StatusCode >= 300 {
			return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(data))
		}
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				return fmt.Errorf("%s %s: decode: %w", method, url, err)
			}
		}
		return nil
	}
}

func retryAfter(v string) time.Duration {
	var secs float64
	if _, err := fmt.Sscan(strings.TrimSpace(v), &secs); err != nil || secs <= 0 {
		return time.Second
	}
	return time.Duration(secs * float64(time.Second))
}

// idleReconcile runs, in process on tenantsync's store, a full reconcile
// (the daily pass) and then a delta reconcile (the timer's), both with
// nothing to do.
func idleReconcile(ctx context.Context, o Options, sim *simulator, cfgPath, state string, targets []target) (*IdleResult, error) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	st, err := boltstore.Open(state, nil)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	a, err := app.Open(ctx, app.Options{Env: settings.FromMap(nil), Config: cfg, Store: st, MaxRetries: new(int)})
	if err != nil {
		return nil, err
	}
	defer a.Close()
	found := 0
	emit := func(_ context.Context, cs []engine.Change) error { found += len(cs); return nil }

	sim.reset()
	start := time.Now()
	if _, err := a.Engine.Reconcile(ctx, engine.ReconcileOptions{Full: true, Emit: emit}); err != nil {
		return nil, fmt.Errorf("full reconcile: %w", err)
	}
	res := &IdleResult{Users: o.Users, Seconds: round(time.Since(start).Seconds(), 2), Changes: found}
	res.Requests = totalRequests(sim.Stats())
	perPage := 999
	res.Pages = (o.Users + perPage - 1) / perPage * (1 + len(targets))

	sim.reset()
	start = time.Now()
	if _, err := a.Engine.Reconcile(ctx, engine.ReconcileOptions{Emit: emit}); err != nil {
		return res, fmt.Errorf("delta reconcile: %w", err)
	}
	res.DeltaSeconds = round(time.Since(start).Seconds(), 3)
	res.DeltaRequests = totalRequests(sim.Stats())
	res.Changes = found
	progress(o.Progress, PhaseIdle, "full reconcile: %d requests (%d pages of users) in %.2f s, %d changes; delta reconcile: %d requests in %.3f s",
		res.Requests, res.Pages, res.Seconds, res.Changes, res.DeltaRequests, res.DeltaSeconds)
	if found > 0 {
		return res, fmt.Errorf("a reconcile with nothing to do found %d changes", found)
	}
	return res, nil
}

func totalRequests(s graphsim.Stats) int64 {
	var n int64
	for _, t := range s.Tenants {
		n += t.Requests
	}
	return n
}

// naiveAttrs are the attributes the naive cycle copies.
var naiveAttrs = []string{"displayName", "givenName", "surname", "jobTitle", "department", "companyName", "employeeId",
	"officeLocation", "city", "state", "country", "streetAddress", "postalCode", "mobilePhone", "businessPhones",
	"usageLocation", "accountEnabled"}

// naive runs one cycle of the published scripts' approach: list every
// source user, and for each find the target user by mail and PATCH it
// unconditionally, with as many workers as tenantsync has sessions, waiting
// out 429s as the SDKs' retry handlers do.
func naive(ctx context.Context, o Options, sim *simulator, tgt target) (*NaiveResult, error) {
	sim.reset()
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * o.Sessions}}
	start := time.Now()
	progress(o.Progress, PhaseNaive, "one cycle over %d users: list the source, GET and PATCH every target user", o.Users)

	var users []map[string]any
	next := sim.tenantURL(sourceDomain) + "/users?$top=999&$select=id,userPrincipalName,mail," + strings.Join(naiveAttrs, ",")
	for next != "" {
		var page struct {
			Value []map[string]any `json:"value"`
			Next  string           `json:"@odata.nextLink"`
		}
		if err := send(ctx, client, http.MethodGet, next, nil, &page); err != nil {
			return nil, err
		}
		users = append(users, page.Value...)
		next = page.Next
	}

	work := make(chan map[string]any)
	errc := make(chan error, o.Sessions)
	for range o.Sessions {
		go func() {
			var err error
			for u := range work {
				if err == nil {
					err = naiveUser(ctx, client, sim, tgt, u)
				}
			}
			errc <- err
		}()
	}
	lastLine := time.Now()
	for i, u := range users {
		select {
		case work <- u:
		case <-ctx.Done():
		}
		if time.Since(lastLine) >= 10*time.Second {
			progress(o.Progress, PhaseNaive, "%5d/%d users, %d throttled, %.0f s", i, len(users), sim.rec.throttled(tgt.domain), time.Since(start).Seconds())
			lastLine = time.Now()
		}
	}
	close(work)
	var errs []error
	for range o.Sessions {
		errs = append(errs, <-errc)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	stats := sim.Stats()
	r := requests(stats)
	res := &NaiveResult{Requests: totalRequests(stats), Seconds: round(time.Since(start).Seconds(), 2),
		Reads: r.Reads, Writes: r.Writes, Throttled: r.Throttled}
	progress(o.Progress, PhaseNaive, "done: %d requests (%d throttled) in %.1f s", res.Requests, res.Throttled, res.Seconds)
	return res, nil
}

func naiveUser(ctx context.Context, client *http.Client, sim *simulator, tgt target, u map[string]any) error {
	addr, _ := u["mail"].(string)
	if addr == "" {
		addr, _ = u["userPrincipalName"].(string)
	}
	filter := "mail eq '" + strings.ReplaceAll(addr, "'", "''") + "'"
	var found struct {
		Value []struct {
			ID string `json:"id"`
		} `json:"value"`
	}
	q := "/users?$select=id&$filter=" + url.QueryEscape(filter)
	if err := send(ctx, client, http.MethodGet, sim.tenantURL(tgt.domain)+q, nil, &found); err != nil {
		return err
	}
	if len(found.Value) == 0 {
		return nil // a script would invite here; after the initial sync everyone is there
	}
	patch := map[string]any{}
	for _, k := range naiveAttrs {
		if v, ok := u[k]; ok && v != nil {
			patch[k] = v
		}
	}
	body, _ := json.Marshal(patch)
	return send(ctx, client, http.MethodPatch, sim.tenantURL(tgt.domain)+"/users/"+found.Value[0].ID, body, nil)
}

// compareNaive fills in the naive cycle's ratios to tenantsync's numbers.
func compareNaive(res *Results) {
	n := res.Naive
	if n == nil {
		return
	}
	if i := res.Idle; i != nil && i.Requests > 0 && i.Seconds > 0 {
		n.RequestsVsIdle = round(float64(n.Requests)/float64(i.Requests), 1)
		n.SecondsVsIdle = round(n.Seconds/i.Seconds, 1)
	}
	if s := res.Steady; s != nil && s.Changes > 0 {
		if perChange := s.ReadsPerChange + s.WritesPerChange; perChange > 0 {
			n.RequestsVsSteady = round(float64(n.Requests)/(perChange*float64(s.Changes)), 1)
		}
	}
}

// coldStart times `handler local` from exec until its HTTP port answers,
// on a fresh store each time, against a small tenant.
func coldStart(ctx context.Context, o Options) (*ColdStartResult, error) {
	src := graphsim.GenerateTenant(graphsim.GenerateOptions{Domain: sourceDomain, Users: 20, Seed: o.Seed})
	targets := benchTargets[:1]
	sim, err := startSimulator(seedWith(src, targets), "off")
	if err != nil {
		return nil, err
	}
	defer sim.close()
	dir := filepath.Join(o.Dir, "cold-start")
	cfgPath, err := phaseDir(dir, sim.URL, targets)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(o.Command[0])
	if err != nil {
		return nil, fmt.Errorf("binary: %w", err)
	}
	res := &ColdStartResult{BinaryMB: round(float64(fi.Size())/mib, 1)}
	for i := range o.ColdStarts {
		ch, err := startChild(ctx, childOptions{command: o.Command, environ: o.Environ, config: cfgPath, sessions: o.Sessions,
			state: filepath.Join(dir, fmt.Sprintf("state-%d.db", i)), log: filepath.Join(dir, fmt.Sprintf("local-%d.log", i))})
		if err != nil {
			return nil, err
		}
		d, err := ch.answered(ctx, 30*time.Second)
		ch.kill()
		if err != nil {
			return nil, err
		}
		res.Samples = append(res.Samples, round(float64(d)/float64(time.Millisecond), 1))
	}
	sorted := slices.Clone(res.Samples)
	slices.Sort(sorted)
	res.Ms = round(percentile(sorted, 50), 1)
	progress(o.Progress, PhaseColdStart, "median %.0f ms over %d starts (%v), binary %.1f MB", res.Ms, len(res.Samples), res.Samples, res.BinaryMB)
	return res, nil
}
