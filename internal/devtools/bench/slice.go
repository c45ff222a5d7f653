package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// SliceResult is a slice of a large initial sync: Users source users into
// one empty target for Seconds at the simulator's throttle, with tenantsync
// killed (SIGKILL) and restarted Crashes times on the way, and what the
// whole run would take by calculation. A slice of one hour at x10 is ten
// hours of Graph's own pace: about a 250,000-user initial sync.
type SliceResult struct {
	Users    int     `json:"users"`
	Throttle string  `json:"throttle"`
	Seconds  float64 `json:"seconds"`
	// UsersCreated are the target users at the end of the slice, and
	// UsersPerSecond their rate over it.
	UsersCreated   int     `json:"usersCreated"`
	UsersPerSecond float64 `json:"usersPerSecond"`
	// WriteQuotaUtilization is the writes applied ÷ the writes the
	// throttle allowed over the slice (restarts included);
	// MinuteUtilization the same per minute: its lowest and median.
	WriteQuotaUtilization float64 `json:"writeQuotaUtilization"`
	MinuteUtilizationMin  float64 `json:"minuteUtilizationMin"`
	MinuteUtilizationP50  float64 `json:"minuteUtilizationP50"`
	WritesApplied         int64   `json:"writesApplied"`
	WritesPerUser         float64 `json:"writesPerUser"`
	// FullRunSeconds is how long all Users would take at the slice's rate
	// (on this machine, at this throttle). FullRunHoursAtGraphQuota is how
	// long their writes take at Graph's own pace (the throttle's writes a
	// second ÷ its speed-up) using all of the quota, with the slice's writes
	// per user: the floor any tool has. At Graph's pace the quota, not the
	// CPU, is the bound: divide by the utilisation measured where it is
	// (the initialSync phase at x2) for the expected time.
	FullRunSeconds           float64 `json:"fullRunSeconds"`
	FullRunHoursAtGraphQuota float64 `json:"fullRunHoursAtGraphQuota"`

	// Crashes are the SIGKILLs; ResumeSeconds, per crash, the time from
	// the restart to the first write applied after it.
	Crashes       int       `json:"crashes"`
	ResumeSeconds []float64 `json:"resumeSeconds"`
	// Invitations are the successful POST /invitations; Reinvitations
	// those to an address invited before (Graph answers with the same
	// user); DuplicateUsers target users beyond the first for one source
	// user or one address (goal 0); Unanchored target users that name no
	// source user at the end (an invitation whose anchor write was cut
	// off by the end of the slice).
	Invitations    int `json:"invitations"`
	Reinvitations  int `json:"reinvitations"`
	DuplicateUsers int `json:"duplicateUsers"`
	Unanchored     int `json:"unanchored"`
	// CPUSecondsPerUser is tenantsync's CPU time (user and system, all its
	// processes) per user created; PeakRSSMB its largest resident set.
	CPUSecondsPerUser float64 `json:"cpuSecondsPerUser"`
	PeakRSSMB         float64 `json:"peakRSSMB"`
}

// DefaultSliceDuration is how long the initialSlice phase runs.
const DefaultSliceDuration = time.Hour

// runSlice runs the initialSlice phase.
func runSlice(ctx context.Context, o Options, res *Results) error {
	src := sourceSeed(o)
	targets := benchTargets[:1]
	tgt := targets[0]
	invites := newInvitationLog()
	sim, err := startSimulator(seedWith(src, targets), o.Throttle, invites.wrap)
	if err != nil {
		return err
	}
	defer sim.close()
	dir := filepath.Join(o.Dir, PhaseInitialSlice)
	cfgPath, err := phaseDir(dir, sim.URL, targets)
	if err != nil {
		return err
	}
	state := filepath.Join(dir, "state.db")
	lim := sim.limits(tgt.domain)
	sim.reset()

	r := &SliceResult{Users: o.Users, Throttle: o.Throttle}
	crashAt := make([]time.Duration, o.SliceCrashes)
	for i := range crashAt {
		crashAt[i] = o.SliceDuration * time.Duration(i+1) / time.Duration(o.SliceCrashes+1)
	}
	start := time.Now()
	end := start.Add(o.SliceDuration)
	run := 0
	startRun := func() (*child, error) {
		run++
		return startChild(ctx, childOptions{command: o.Command, environ: o.Environ, config: cfgPath, state: state,
			sessions: o.Sessions, log: filepath.Join(dir, fmt.Sprintf("local-%d.log", run)), notify: true})
	}
	ch, err := startRun()
	if err != nil {
		return err
	}
	progress(o.Progress, PhaseInitialSlice, "%d users into %s for %s, throttle %s (%.0f writes/s), %d crashes; logs in %s",
		o.Users, tgt.name, o.SliceDuration, o.Throttle, lim.WritesPerSecond, o.SliceCrashes, dir)

	var (
		cpu       float64 // CPU seconds of the children stopped so far
		peakRSS   int64
		minute    []float64 // utilisation of each whole minute
		lastMin   = start
		lastApply int64
		restarted time.Time // the last restart whose first write is awaited
	)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastLine := time.Now()
	for now := time.Now(); now.Before(end); now = time.Now() {
		select {
		case <-ctx.Done():
			ch.kill()
			return ctx.Err()
		case <-ch.done:
			ch.kill()
			return fmt.Errorf("tenantsync exited: %v (see %s)", ch.waitErr, ch.logFile.Name())
		case <-tick.C:
		}
		applied, last := sim.rec.applied(tgt.domain)
		if !restarted.IsZero() && last.After(restarted) {
			r.ResumeSeconds = append(r.ResumeSeconds, round(last.Sub(restarted).Seconds(), 1))
			restarted = time.Time{}
		}
		if sim.Stats().Tenants[tgt.domain].Users >= o.Users {
			progress(o.Progress, PhaseInitialSlice, "every user created after %.0f s: the slice ends early", now.Sub(start).Seconds())
			waitWritesQuiet(ctx, sim, tgt.domain, 5*time.Second, 2*time.Minute)
			break
		}
		if now.Sub(lastMin) >= time.Minute {
			minute = append(minute, utilisation(applied-lastApply, graphsim.Limits{WritesPerSecond: lim.WritesPerSecond}, now.Sub(lastMin).Seconds()))
			lastMin, lastApply = now, applied
		}
		if m := ch.memory(); m.peak > peakRSS {
			peakRSS = m.peak
		}
		if len(crashAt) > 0 && now.Sub(start) >= crashAt[0] {
			crashAt = crashAt[1:]
			r.Crashes++
			cpu += childCPUSeconds(ch.cmd.Process.Pid)
			ch.kill()
			if !restarted.IsZero() {
				r.ResumeSeconds = append(r.ResumeSeconds, -1) // no write since the last restart
			}
			created := sim.Stats().Tenants[tgt.domain].Users
			if ch, err = startRun(); err != nil {
				return err
			}
			restarted = ch.started
			progress(o.Progress, PhaseInitialSlice, "killed tenantsync (SIGKILL) at %.0f s with %d users created; restarted", now.Sub(start).Seconds(), created)
		}
		if time.Since(lastLine) >= 30*time.Second {
			created := sim.Stats().Tenants[tgt.domain].Users
			progress(o.Progress, PhaseInitialSlice, "%7d/%d users, %8d writes applied, quota used %.3f, %.0f s",
				created, o.Users, applied, utilisation(applied, lim, now.Sub(start).Seconds()), now.Sub(start).Seconds())
			lastLine = time.Now()
		}
	}
	cpu += childCPUSeconds(ch.cmd.Process.Pid)
	if err := ch.stop(30 * time.Second); err != nil {
		return err
	}
	// The slice ends at its end, or at the last write of a run that
	// finished before it.
	applied, last := sim.rec.applied(tgt.domain)
	seconds := min(time.Since(start), last.Sub(start)).Seconds()

	snap, err := sim.Snapshot(tgt.domain)
	if err != nil {
		return err
	}
	r.UsersCreated = len(snap.Users)
	r.DuplicateUsers, r.Unanchored = duplicateUsers(snap.Users)
	r.Invitations, r.Reinvitations, r.DuplicateUsers = invites.counts(r.DuplicateUsers)
	r.Seconds = round(seconds, 1)
	r.WritesApplied = applied
	r.WriteQuotaUtilization = round(utilisation(applied, lim, seconds), 3)
	if len(minute) > 0 {
		sorted := slices.Sorted(slices.Values(minute))
		r.MinuteUtilizationMin = round(sorted[0], 3)
		r.MinuteUtilizationP50 = round(percentile(sorted, 50), 3)
	}
	if r.UsersCreated > 0 {
		r.UsersPerSecond = round(float64(r.UsersCreated)/seconds, 2)
		r.WritesPerUser = round(float64(applied)/float64(r.UsersCreated), 2)
		r.FullRunSeconds = round(float64(o.Users)/(float64(r.UsersCreated)/seconds), 0)
		r.CPUSecondsPerUser = round(cpu/float64(r.UsersCreated), 4)
		if lim.WritesPerSecond > 0 && lim.RefillScale > 0 {
			graphPace := lim.WritesPerSecond / lim.RefillScale
			r.FullRunHoursAtGraphQuota = round(float64(o.Users)*r.WritesPerUser/graphPace/3600, 2)
		}
	}
	r.PeakRSSMB = round(float64(peakRSS)/mib, 1)
	res.InitialSlice = r
	progress(o.Progress, PhaseInitialSlice, "%d users in %.0f s (%.1f/s), %.2f writes/user, quota used %.3f; full run %.0f s here, %.2f h of writes at Graph's quota; %d invitations, %d to an address invited before, %d duplicate users",
		r.UsersCreated, r.Seconds, r.UsersPerSecond, r.WritesPerUser, r.WriteQuotaUtilization, r.FullRunSeconds, r.FullRunHoursAtGraphQuota,
		r.Invitations, r.Reinvitations, r.DuplicateUsers)
	if r.DuplicateUsers > 0 {
		return fmt.Errorf("initialSlice: %d duplicate target users after %d crashes", r.DuplicateUsers, r.Crashes)
	}
	return nil
}

// waitWritesQuiet waits until no write has been applied to a tenant for
// quiet, at most timeout: the last anchors and managers of a run that
// created every user. (The child's queue counters start again at each
// restart, so they cannot say when it is drained.)
func waitWritesQuiet(ctx context.Context, sim *simulator, domain string, quiet, timeout time.Duration) {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(time.Second) {
		if _, last := sim.rec.applied(domain); time.Since(last) >= quiet {
			return
		}
	}
}

// duplicateUsers counts target users beyond the first per anchored source
// user and per address, and the users that carry no anchor.
func duplicateUsers(users []graphsim.Object) (duplicates, unanchored int) {
	bySource := map[string]int{}
	byMail := map[string]int{}
	for _, u := range users {
		ext, _ := u["onPremisesExtensionAttributes"].(map[string]any)
		a, _ := ext["extensionAttribute15"].(string)
		if id, ok := strings.CutPrefix(a, anchorPrefix); ok {
			bySource[id]++
		} else {
			unanchored++
		}
		if m, _ := u["mail"].(string); m != "" {
			byMail[strings.ToLower(m)]++
		}
	}
	for _, n := range bySource {
		duplicates += n - 1
	}
	for _, n := range byMail {
		duplicates += n - 1
	}
	return duplicates, unanchored
}

// childCPUSeconds is a process's CPU time, user and system, with that of
// its waited-for children, from /proc (0 where there is none).
func childCPUSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: utime, stime, cutime, cstime are fields 14 to 17.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return 0
	}
	var ticks float64
	for _, s := range f[11:15] {
		n, _ := strconv.ParseFloat(s, 64)
		ticks += n
	}
	return ticks / 100 // USER_HZ, 100 on Linux
}

// invitationLog notes every invitation the simulator accepted: the
// address, and the user Graph answered with.
type invitationLog struct {
	mu    sync.Mutex
	users map[string][]string // lower-cased address → user ids answered, in order
}

func newInvitationLog() *invitationLog { return &invitationLog{users: map[string][]string{}} }

// wrap is the simulator middleware that notes each POST …/invitations
// answered 2xx.
func (l *invitationLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/invitations") {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &capture{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status/100 != 2 && rec.status != 0 {
			return
		}
		var req struct {
			Address string `json:"invitedUserEmailAddress"`
		}
		var resp struct {
			User struct {
				ID string `json:"id"`
			} `json:"invitedUser"`
		}
		if json.Unmarshal(plainBody(r.Header, body), &req) != nil || json.Unmarshal(plainBody(rec.Header(), rec.body.Bytes()), &resp) != nil {
			return
		}
		l.mu.Lock()
		k := strings.ToLower(req.Address)
		l.users[k] = append(l.users[k], resp.User.ID)
		l.mu.Unlock()
	})
}

// counts returns the invitations, those to an address invited before, and
// the duplicate users: the larger of dup (counted in the target) and the
// addresses invited into more than one user.
func (l *invitationLog) counts(dup int) (invitations, reinvitations, duplicates int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	byInvitation := 0
	for _, ids := range l.users {
		invitations += len(ids)
		reinvitations += len(ids) - 1
		byInvitation += len(slices.Compact(slices.Sorted(slices.Values(ids)))) - 1
	}
	return invitations, reinvitations, max(dup, byInvitation)
}

// capture keeps a response's status and body on their way to the client.
type capture struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *capture) WriteHeader(code int) {
	c.status = code
	c.ResponseWriter.WriteHeader(code)
}

func (c *capture) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body.Write(p)
	return c.ResponseWriter.Write(p)
}
