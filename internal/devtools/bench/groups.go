package bench

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// GroupsResult is the groups phase: security groups and their members
// synced into a target whose users are already there (a pre-linked world,
// seeded as the scale phase seeds it), then membership changes in the
// source as they happen.
type GroupsResult struct {
	Groups          int `json:"groups"`
	MembersPerGroup int `json:"membersPerGroup"`
	// InitialSeconds runs from the start of `handler local` (whose first
	// full reconcile finds the groups to create) to the last group write
	// of the initial sync.
	InitialSeconds      float64 `json:"initialSeconds"`
	MembershipAdditions int64   `json:"membershipAdditions"`
	// AddWrites are the writes that added members (PATCHes with
	// members@odata.bind, and any POST members/$ref), CreateWrites the
	// group creates, Writes every group write the target applied.
	AddWrites    int64 `json:"addWrites"`
	CreateWrites int64 `json:"createWrites"`
	Writes       int64 `json:"writes"`
	// WritesPer20Additions is Writes per 20 members added (goal ≤ 1.1 at
	// 200 members a group: one PATCH per 20 members, and the group's
	// create, one per 200).
	WritesPer20Additions float64 `json:"writesPer20Additions"`
	// QuotaUse is the writes applied to the target ÷ the writes its
	// throttle allowed over InitialSeconds (see SyncResult).
	QuotaUse float64 `json:"quotaUse"`
	// LiveChanges are membership changes made in the source after the
	// initial sync (a user added to a group or removed from it); their
	// latency runs from the source write to the target write that makes
	// the same change.
	LiveChanges       int     `json:"liveChanges"`
	LiveP50ms         float64 `json:"liveP50ms"`
	LiveP99ms         float64 `json:"liveP99ms"`
	WritesPerRemoval  float64 `json:"writesPerRemoval"`
	WritesPerAddition float64 `json:"writesPerAddition"`

	// SeedSeconds is how long seeding the linked users took.
	SeedSeconds float64 `json:"seedSeconds"`
	// InitialFirstWriteSeconds is when the first group write came, from
	// the start of `handler local`: its start and first full reconcile.
	InitialFirstWriteSeconds float64 `json:"initialFirstWriteSeconds"`
	// InitialRequests are the initial sync's Graph operations in both
	// tenants; InitialOtherWrites the target writes that were not group
	// writes (goal 0: the users are in step), InitialRejected the group
	// writes the target refused.
	InitialRequests    Requests `json:"initialRequests"`
	InitialOtherWrites int64    `json:"initialOtherWrites"`
	InitialRejected    int64    `json:"initialRejected"`
	// MemberWritesPer20Additions is AddWrites per 20 members added: 1 when
	// every PATCH carries 20.
	MemberWritesPer20Additions float64 `json:"memberWritesPer20Additions"`

	LiveAdditions        int     `json:"liveAdditions"`
	LiveRemovals         int     `json:"liveRemovals"`
	LiveMaxMs            float64 `json:"liveMaxMs"`
	LiveChangesPerSecond float64 `json:"liveChangesPerSecond"`
	// LiveReadsPerChange and LiveWritesPerChange count tenantsync's Graph
	// operations in both tenants (the source's writes are the bench's own
	// changes and are not counted).
	LiveReadsPerChange  float64 `json:"liveReadsPerChange"`
	LiveWritesPerChange float64 `json:"liveWritesPerChange"`
	LiveThrottled       int64   `json:"liveThrottled"`
	// Notifications counts the change notifications the simulator
	// delivered during the live changes.
	Notifications int64   `json:"notifications"`
	PeakRSSMB     float64 `json:"peakRSSMB"`
	// InitialRoutes and LiveRoutes count Graph operations by tenant,
	// method and route ("source GET /groups/{id}/members"): where the
	// reads and writes per change go.
	InitialRoutes map[string]int64 `json:"initialRoutes,omitempty"`
	LiveRoutes    map[string]int64 `json:"liveRoutes,omitempty"`
}

// routes counts the operations of the source and the target by route.
func routes(s graphsim.Stats, tgt target) map[string]int64 {
	out := map[string]int64{}
	for _, t := range []struct{ name, domain string }{{"source", sourceDomain}, {"target", tgt.domain}} {
		for r, n := range s.Tenants[t.domain].Routes {
			out[t.name+" "+r] += n
		}
	}
	return out
}

// benchGroup is a source group of the groups phase.
type benchGroup struct {
	id, name string
	members  []string // source user ids, as seeded
}

// benchGroups makes n source groups of m distinct members each from the
// source's users: group k holds users k·m to (k+1)·m − 1, so that no user
// is in two groups and every membership is a user of its own.
func benchGroups(users []graphsim.Object, n, m int) []benchGroup {
	gs := make([]benchGroup, n)
	for k := range gs {
		g := benchGroup{id: benchGroupID(k), name: fmt.Sprintf("Bench group %03d", k+1)}
		for _, u := range users[k*m : (k+1)*m] {
			g.members = append(g.members, u["id"].(string))
		}
		gs[k] = g
	}
	return gs
}

// benchGroupID is the object id of the k-th source group: a GUID derived
// from k, the same in every run.
func benchGroupID(k int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "bench source group:%d", k))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// perTwenty is writes per 20 additions (0 for no additions).
func perTwenty(writes, additions int64) float64 {
	if additions <= 0 {
		return 0
	}
	return float64(writes) / (float64(additions) / 20)
}

// runGroups seeds a pre-linked world of o.Users users and o.Groups source
// groups, starts tenantsync with the groups to sync, waits until every
// group is in the target with exactly its members, then makes membership
// changes in the source and times each to the target's write.
func runGroups(ctx context.Context, o Options, res *Results) error {
	src := sourceSeed(o)
	m := o.Users / o.Groups
	groups := benchGroups(src.Users, o.Groups, m)
	ids := make([]string, len(groups))
	for i, g := range groups {
		ids[i] = g.id
		src.Groups = append(src.Groups, graphsim.Object{"id": g.id, "displayName": g.name,
			"description": "Benchmark group " + g.name, "mailNickname": fmt.Sprintf("bench-group-%03d", i+1),
			"members": slices.Clone(g.members)})
	}
	targets := benchTargets[:1]
	tgt := targets[0]
	sim, err := startSimulator(seedWith(src, targets), o.Throttle)
	if err != nil {
		return err
	}
	defer sim.close()
	lim := sim.limits(tgt.domain)
	if res.Run.WritesPerSecondAllowed == 0 {
		res.Run.WritesPerSecondAllowed, res.Run.WriteBurst = round(lim.WritesPerSecond, 2), lim.WritesPer150s
	}
	dir := filepath.Join(o.Dir, "groups")
	cfgPath, err := phaseDir(dir, sim.URL, targets)
	if err != nil {
		return err
	}
	if err := syncGroupsConfig(cfgPath, tgt.name, ids); err != nil {
		return fmt.Errorf("%s: %w", PhaseGroups, err)
	}
	state := filepath.Join(dir, "state.db")
	progress(o.Progress, PhaseGroups, "seeding %d linked users into %s, and %d source groups of %d members", o.Users, tgt.name, len(groups), m)
	start := time.Now()
	if err := seedLinked(ctx, sim, cfgPath, state, tgt); err != nil {
		return fmt.Errorf("%s: seed: %w", PhaseGroups, err)
	}
	gr := &GroupsResult{Groups: len(groups), MembersPerGroup: m, SeedSeconds: round(time.Since(start).Seconds(), 1)}
	res.Groups = gr

	want := make(map[string]map[string]bool, len(groups)) // source group id → source user ids
	for _, g := range groups {
		want[g.id] = map[string]bool{}
		for _, u := range g.members {
			want[g.id][u] = true
		}
	}
	logPath := filepath.Join(dir, "local.log")
	sim.reset()
	ch, err := startChild(ctx, childOptions{command: o.Command, environ: o.Environ, config: cfgPath, state: state,
		sessions: o.Sessions, log: logPath, notify: true})
	if err != nil {
		return fmt.Errorf("%s: %w", PhaseGroups, err)
	}
	progress(o.Progress, PhaseGroups, "seeded in %.1f s; syncing %d groups × %d members into %s, throttle %s; tenantsync's log: %s",
		gr.SeedSeconds, len(groups), m, tgt.name, o.Throttle, logPath)
	targetIDs, err := initialGroupSync(ctx, o, sim, ch, tgt, want, gr, lim)
	if err != nil {
		ch.kill()
		return fmt.Errorf("%s: initial sync: %w", PhaseGroups, err)
	}
	lerr := liveGroupChanges(ctx, o, sim, ch, src.Users, tgt, groups, want, targetIDs, gr)
	gr.PeakRSSMB = round(float64(ch.memory().peak)/mib, 1)
	serr := ch.stop(30 * time.Second)
	if lerr != nil {
		return fmt.Errorf("%s: live changes: %w", PhaseGroups, lerr)
	}
	return serr
}

// syncGroupsConfig adds groups.sync (the source group ids) to a target of
// the config the bench wrote.
func syncGroupsConfig(path, target string, ids []string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	ts, _ := cfg["targets"].([]any)
	found := false
	for _, t := range ts {
		if m, ok := t.(map[string]any); ok && m["name"] == target {
			m["groups"] = map[string]any{"sync": ids}
			found = true
		}
	}
	if !found {
		return fmt.Errorf("config has no target %q", target)
	}
	if b, err = json.MarshalIndent(cfg, "", "  "); err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

// initialGroupSync waits until every group is in the target with exactly
// its members and tenantsync's queue is empty, and fills in the initial
// sync's numbers. It returns the target group of each source group.
func initialGroupSync(ctx context.Context, o Options, sim *simulator, ch *child, tgt target,
	want map[string]map[string]bool, gr *GroupsResult, lim graphsim.Limits) (map[string]string, error) {
	var wantAdds int64
	for _, ms := range want {
		wantAdds += int64(len(ms))
	}
	deadline := time.Now().Add(10 * time.Minute)
	lastLine := time.Now()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var verr error
	var targetIDs map[string]string
	for targetIDs == nil {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch.done:
			return nil, fmt.Errorf("tenantsync exited: %v (see %s)", ch.waitErr, ch.logFile.Name())
		case <-tick.C:
		}
		gw := sim.rec.groupWrites(tgt.domain)
		if time.Since(lastLine) >= 10*time.Second {
			progress(o.Progress, PhaseGroups, "%d/%d groups created, %d/%d members added in %d writes, %d throttled, %.0f s",
				gw.Creates, len(want), gw.Additions(), wantAdds, gw.Total(), sim.rec.throttled(tgt.domain), time.Since(ch.started).Seconds())
			lastLine = time.Now()
		}
		if gw.Creates >= int64(len(want)) && gw.Additions() >= wantAdds {
			// The counters say enough was written; the target's groups
			// say whether it was the right members, once the queue is
			// empty (a write may still be on its way).
			if st, err := ch.status(ctx); err == nil && drained(st) {
				targetIDs, verr = verifyGroups(sim, tgt, want)
				continue
			}
		}
		if time.Now().After(deadline) {
			if verr != nil {
				return nil, verr
			}
			return nil, fmt.Errorf("%d of %d groups created, %d of %d members added after 10 minutes: %w (see %s)",
				gw.Creates, len(want), gw.Additions(), wantAdds, errNotConverged, ch.logFile.Name())
		}
	}

	gw := sim.rec.groupWrites(tgt.domain)
	applied, _ := sim.rec.applied(tgt.domain)
	seconds := gw.Last.Sub(ch.started).Seconds()
	gr.InitialSeconds = round(seconds, 1)
	gr.InitialFirstWriteSeconds = round(gw.First.Sub(ch.started).Seconds(), 1)
	gr.MembershipAdditions = gw.Additions()
	gr.AddWrites, gr.CreateWrites, gr.Writes = gw.AddWrites(), gw.Creates, gw.Total()
	gr.WritesPer20Additions = round(perTwenty(gw.Total(), gw.Additions()), 3)
	gr.MemberWritesPer20Additions = round(perTwenty(gw.AddWrites(), gw.Additions()), 3)
	gr.InitialOtherWrites = applied - gw.Total()
	gr.InitialRejected = gw.Rejected
	if lim.WritesPerSecond > 0 {
		gr.QuotaUse = round(utilisation(applied, lim, seconds), 3)
	}
	stats := sim.Stats()
	gr.InitialRequests = requests(stats)
	gr.InitialRoutes = routes(stats, tgt)
	progress(o.Progress, PhaseGroups, "initial sync in %.1f s (first write at %.1f s): %d creates + %d membership writes for %d members = %.3f writes per 20 additions, %d other writes, quota used %.3f",
		gr.InitialSeconds, gr.InitialFirstWriteSeconds, gr.CreateWrites, gr.AddWrites, gr.MembershipAdditions, gr.WritesPer20Additions,
		gr.InitialOtherWrites, gr.QuotaUse)
	return targetIDs, nil
}

// verifyGroups checks the target's groups against want: each source group
// exactly once (by the anchor tenantsync writes into uniqueName, which ends
// in the source group id), holding exactly the target users of its source
// members. It returns the target group of each source group.
func verifyGroups(sim *simulator, tgt target, want map[string]map[string]bool) (map[string]string, error) {
	snap, err := sim.Snapshot(tgt.domain)
	if err != nil {
		return nil, err
	}
	found := map[string]string{}
	var problems []string
	for _, g := range snap.Groups {
		anchor, _ := g["uniqueName"].(string)
		_, sid, ok := strings.Cut(strings.ToLower(anchor), "."+strings.ToLower(sourceDomain)+".")
		if !ok || want[sid] == nil {
			continue
		}
		gid := fmt.Sprint(g["id"])
		if prev, dup := found[sid]; dup {
			problems = append(problems, fmt.Sprintf("source group %s has two target groups, %s and %s", sid, prev, gid))
			continue
		}
		found[sid] = gid
		have := map[string]bool{}
		members, _ := g["members"].([]string)
		for _, id := range members {
			have[strings.ToLower(id)] = true
		}
		missing, extra := 0, 0
		for u := range want[sid] {
			if !have[benchTargetID(u)] {
				missing++
			}
		}
		extra = len(have) - (len(want[sid]) - missing)
		if missing > 0 || extra > 0 {
			problems = append(problems, fmt.Sprintf("target group %s (source %s): %d members missing, %d members too many", gid, sid, missing, extra))
		}
	}
	for sid := range want {
		if _, ok := found[sid]; !ok {
			problems = append(problems, "source group "+sid+" has no target group")
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, fmt.Errorf("the groups of %s are not in step with the source (%d problems): %s", tgt.name, len(problems),
			strings.Join(problems[:min(5, len(problems))], "; "))
	}
	return found, nil
}

// memberChange is one membership change in the source: a user added to a
// group or removed from it.
type memberChange struct {
	group    string // source group id
	user     string // source user id
	add      bool
	accepted time.Time
}

// planMemberChanges picks n membership changes, additions and removals in
// turn, each to a random group: a removal takes out one of its seeded
// members, an addition puts in a user who is not a member. No (group,
// user) pair changes twice, so that each target write answers one change.
// It updates want to the memberships after the changes.
func planMemberChanges(rng *rand.Rand, n int, users []graphsim.Object, groups []benchGroup, want map[string]map[string]bool) []*memberChange {
	touched := map[[2]string]bool{}
	var out []*memberChange
	for i := 0; len(out) < n && i < 100*n; i++ {
		g := groups[rng.IntN(len(groups))]
		c := &memberChange{group: g.id, add: len(out)%2 == 0}
		if c.add {
			c.user = users[rng.IntN(len(users))]["id"].(string)
			if want[g.id][c.user] {
				continue
			}
		} else {
			c.user = g.members[rng.IntN(len(g.members))]
			if !want[g.id][c.user] {
				continue
			}
		}
		if touched[[2]string{g.id, c.user}] {
			continue
		}
		touched[[2]string{g.id, c.user}] = true
		if c.add {
			want[g.id][c.user] = true
		} else {
			delete(want[g.id], c.user)
		}
		out = append(out, c)
	}
	return out
}

// liveGroupChanges makes o.GroupChanges membership changes in the source at
// o.GroupChangeRate per second and times each from the source write to the
// target write that makes it; then checks the target's groups.
func liveGroupChanges(ctx context.Context, o Options, sim *simulator, ch *child, users []graphsim.Object, tgt target,
	groups []benchGroup, want map[string]map[string]bool, targetIDs map[string]string, gr *GroupsResult) error {
	changes := planMemberChanges(rand.New(rand.NewPCG(o.Seed, 0x67)), o.GroupChanges, users, groups, want)
	if len(changes) == 0 {
		return errors.New("no membership change to make: too few users")
	}
	// Let the initial sync's last requests settle first.
	if err := waitQuiet(ctx, ch, sim, 2*time.Second, time.Minute); err != nil {
		return err
	}
	sim.reset()
	progress(o.Progress, PhaseGroups, "%d membership changes at %.0f/s", len(changes), o.GroupChangeRate)
	client := &http.Client{Timeout: 30 * time.Second}
	base := sim.tenantURL(sourceDomain)
	start := time.Now()
	interval := time.Duration(float64(time.Second) / o.GroupChangeRate)
	for i, c := range changes {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
			}
		}
		var err error
		if c.add {
			body, _ := json.Marshal(map[string]string{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + c.user})
			err = send(ctx, client, http.MethodPost, base+"/groups/"+c.group+"/members/$ref", body, nil)
		} else {
			err = send(ctx, client, http.MethodDelete, base+"/groups/"+c.group+"/members/"+c.user+"/$ref", nil, nil)
		}
		if err != nil {
			return fmt.Errorf("change %d: %w", i, err)
		}
		c.accepted = time.Now()
	}
	sent := time.Since(start)

	// Wait for every change to reach the target.
	deadline := time.Now().Add(2 * time.Minute)
	latencies := make([]float64, 0, len(changes))
	for {
		latencies = latencies[:0]
		missing := 0
		for _, c := range changes {
			if at, ok := memberWriteAfter(sim.rec.memberWrites(tgt.domain, targetIDs[c.group], benchTargetID(c.user)), c.add, c.accepted); ok {
				latencies = append(latencies, float64(at.Sub(c.accepted))/float64(time.Millisecond))
			} else {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d membership changes did not reach %s: %w (see %s)", missing, len(changes), tgt.name,
				errNotConverged, ch.logFile.Name())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := waitQuiet(ctx, ch, sim, 2*time.Second, time.Minute); err != nil {
		return err
	}

	stats := sim.Stats()
	s, t := stats.Tenants[sourceDomain], stats.Tenants[tgt.domain]
	gw := sim.rec.groupWrites(tgt.domain)
	gr.LiveChanges = len(changes)
	for _, c := range changes {
		if c.add {
			gr.LiveAdditions++
		} else {
			gr.LiveRemovals++
		}
	}
	slices.Sort(latencies)
	gr.LiveP50ms = round(percentile(latencies, 50), 1)
	gr.LiveP99ms = round(percentile(latencies, 99), 1)
	gr.LiveMaxMs = round(latencies[len(latencies)-1], 1)
	gr.LiveChangesPerSecond = round(float64(len(changes))/sent.Seconds(), 1)
	if gr.LiveRemovals > 0 {
		gr.WritesPerRemoval = round(float64(gw.MemberRemoves)/float64(gr.LiveRemovals), 2)
	}
	if gr.LiveAdditions > 0 {
		gr.WritesPerAddition = round(float64(gw.AddWrites())/float64(gr.LiveAdditions), 2)
	}
	gr.LiveReadsPerChange = round(float64(s.Reads+t.Reads)/float64(len(changes)), 2)
	gr.LiveWritesPerChange = round(float64(t.Writes)/float64(len(changes)), 2)
	gr.LiveThrottled = s.Throttled + t.Throttled
	gr.Notifications = s.Notifications.Delivered
	gr.LiveRoutes = routes(stats, tgt)
	progress(o.Progress, PhaseGroups, "live: p50 %.0f ms, p99 %.0f ms, max %.0f ms; %.2f writes per removal, %.2f per addition, %.2f reads per change",
		gr.LiveP50ms, gr.LiveP99ms, gr.LiveMaxMs, gr.WritesPerRemoval, gr.WritesPerAddition, gr.LiveReadsPerChange)
	if _, err := verifyGroups(sim, tgt, want); err != nil {
		return fmt.Errorf("after the changes: %w", err)
	}
	return nil
}

// memberWriteAfter returns when the first write of the given kind (an
// addition or a removal) not before t was applied.
func memberWriteAfter(ws []memberWrite, add bool, t time.Time) (time.Time, bool) {
	for _, w := range ws {
		if w.add == add && !w.at.Before(t) {
			return w.at, true
		}
	}
	return time.Time{}, false
}
