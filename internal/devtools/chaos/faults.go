package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/internal/graphsim"
	"github.com/tenantsync/tenantsync/internal/statuspage"
)

// The fault plan's actions on the targets and on the guard target's scope:
// what target administrators do (disable a synced user, make one an
// administrator, take the app's permissions away for a while), what Graph
// does (lag, reset delta tokens), and bursts over the deletion guard's
// threshold with their recoveries. Each is counted in the report's Faults
// or Guard, and each that changes what a target must hold is written into
// the rules the oracle reads.

// faultState is the state of the fault plan's episodes.
type faultState struct {
	// used are the pool users the fault plan gave a role already.
	used map[string]bool
	// burst is the last burst, until its recovery.
	burst struct {
		kind string
		ids  []string
	}
	bursts int
	// revoked is the target whose permissions are taken away, and the
	// operation at which they come back.
	revoked   string
	restoreAt int
	// episode is the permission episode under way: its kind, start, and
	// the target's quarantines before it.
	episode struct {
		kind        revocation
		from        time.Time
		quarantines int64
	}
	permissionN int
	adminN      int
	privilegeN  int
	deltaResetN int
}

// The Microsoft Graph application permissions tenantsync is granted, as
// infra/modules/graph-app.bicep asks for them with groupProvisioning (every
// target of the scenario syncs groups; internal/devtools/deploycheck holds
// the Bicep to exactly these): the runner works with these and no more for
// the whole run.
var (
	deployedSourceGrant = []string{"User.Read.All", "Group.Read.All"}
	deployedTargetGrant = []string{"User.Invite.All", "User.ReadWrite.All", "Group.ReadWrite.All"}
)

// revocation is a kind of permission episode: the grant the target is left
// with meanwhile, and whether tenantsync must quarantine the target.
type revocation struct {
	name       string
	grant      []string
	quarantine bool
}

// revocations are the kinds of permission episode.
var revocations = []revocation{
	// The deployed grant without User.ReadWrite.All: no reading either. The
	// probe read fails, the target is quarantined, and a full pass catches
	// up once the quarantine ends.
	{"readWriteRevoked", without(deployedTargetGrant, "User.ReadWrite.All"), true},
	// The deployed grant without User.Invite.All: User.ReadWrite.All still
	// allows invitations, and nothing may change.
	{"inviteRevoked", without(deployedTargetGrant, "User.Invite.All"), false},
	// A target whose administrator had granted User.Read.All on top takes
	// the permissions to invite and write (users and groups) away: the
	// probe read succeeds, yet the target refuses tenantsync as a whole.
	{"writeRevoked", []string{"User.Read.All"}, true},
}

// setGrants grants every tenant the deployed permissions.
func (h *harness) setGrants() error {
	if err := h.sim.SetPermissions(sourceDomain, deployedSourceGrant); err != nil {
		return err
	}
	for _, t := range h.targets {
		if err := h.sim.SetPermissions(t.Domain, deployedTargetGrant); err != nil {
			return err
		}
	}
	return nil
}

func without(grant []string, names ...string) []string {
	return slices.DeleteFunc(slices.Clone(grant), func(p string) bool { return slices.Contains(names, p) })
}

// setLag turns on replication lag in every tenant for the whole run, each
// tenant's drawn from 300 ms up to MaxLag.
func (h *harness) setLag() error {
	if h.opts.MaxLag < 0 {
		return nil
	}
	const least = 300 * time.Millisecond
	domains := []string{sourceDomain}
	for _, t := range h.targets {
		domains = append(domains, t.Domain)
	}
	for _, d := range domains {
		lag := least
		if h.opts.MaxLag > least {
			lag += time.Duration(h.plan.Int64N(int64(h.opts.MaxLag - least)))
		}
		lag = lag.Round(time.Millisecond)
		if err := h.sim.SetReplicationLag(d, lag, 0); err != nil {
			return err
		}
		h.maxLag = max(h.maxLag, lag)
		h.rep.ReplicationLag[d] = lag.String()
		h.rep.Faults["replicationLagTenants"]++
	}
	return nil
}

// waitReplicated waits until the last write anyone made is visible to
// every read: twice the longest lag (advanced queries lag twice as long),
// at most half a minute when writes keep coming.
func (h *harness) waitReplicated(ctx context.Context) {
	need := 2 * h.maxLag
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		wait := need - time.Since(h.ic.LastWrite())
		if wait <= 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// check asks the oracle: the targets against the source, the rules and
// tenantsync's claims, then tenantsync's writes against the promises.
func (h *harness) check(ctx context.Context) ([]Difference, error) {
	h.waitReplicated(ctx)
	cl, err := h.claims(ctx)
	if err != nil {
		return nil, err
	}
	diffs, err := h.oracle.Check(ctx, cl)
	if err != nil {
		return nil, err
	}
	writes, invites := h.ic.Writes()
	sd, counts := h.oracle.Safety(writes, invites)
	h.rep.Safety = counts
	if g, ok := guardTarget(h.targets); ok {
		h.rep.Guard.Held = len(cl.Staged[g.Name])
	}
	return append(diffs, sd...), nil
}

// claims reads what tenantsync says of each target on its status page:
// the deprovisions it holds for approval and the conflicts it found. The
// runner may be restarting: it is asked again for up to a minute.
func (h *harness) claims(ctx context.Context) (*claims, error) {
	cl := &claims{Staged: map[string][]string{}, Conflicts: map[string]int{}, Groups: map[string]map[string]int{}}
	deadline := time.Now().Add(time.Minute)
	for _, t := range h.targets {
		for {
			st, err := h.run.StatusOf(ctx, t.Name)
			if err == nil && st.Selected != nil && st.Selected.Name == t.Name {
				for _, d := range st.Selected.Deletions {
					if !d.Approved {
						cl.Staged[t.Name] = append(cl.Staged[t.Name], d.SourceID)
					}
				}
				for _, s := range st.Targets {
					if s.Name != t.Name {
						continue
					}
					cl.Conflicts[t.Name] = s.Links.Conflict
					if g := s.GroupLinks; g != nil {
						cl.Groups[t.Name] = map[string]int{"active": g.Active, "creating": g.Creating, "pending": g.Pending,
							"staged": g.Staged, "conflict": g.Conflict, "deleted": g.Deleted, "other": g.Other, "heldDeletions": g.HeldDeletions}
					}
				}
				break
			}
			if err == nil {
				err = fmt.Errorf("the status page did not select target %s", t.Name)
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return nil, fmt.Errorf("read tenantsync's claims: %w", err)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	return cl, nil
}

// injectTargets applies the fault plan's actions on the targets and the
// guard target's scope before operation i.
func (h *harness) injectTargets(ctx context.Context, i int) error {
	o := h.opts
	if h.faults.used == nil {
		h.faults.used = map[string]bool{}
	}
	if i%o.BurstEvery == o.BurstEvery/3 {
		if err := h.burst(ctx); err != nil {
			return err
		}
	}
	// The last period's burst is not recovered: the run ends with a burst
	// held, which tenantsync must list as staged.
	if i%o.BurstEvery == 2*o.BurstEvery/3 && i < o.Operations-o.BurstEvery {
		if err := h.recoverBurst(ctx); err != nil {
			return err
		}
	}
	if i%o.AdminDisableEvery == o.AdminDisableEvery/2 {
		if err := h.adminDisable(ctx); err != nil {
			return err
		}
	}
	if i%o.PrivilegeEvery == o.PrivilegeEvery/4 {
		if err := h.privilege(ctx); err != nil {
			return err
		}
	}
	if i > 0 && i%o.DeltaResetEvery == 0 {
		if err := h.resetDelta(); err != nil {
			return err
		}
	}
	if h.faults.revoked != "" && i >= h.faults.restoreAt {
		if err := h.endEpisodes(ctx); err != nil {
			return err
		}
	}
	if o.PermissionEvery > 0 && i%o.PermissionEvery == o.PermissionEvery/5 && h.faults.revoked == "" {
		if err := h.revoke(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

// endEpisodes ends what must not outlast the chaos: permissions taken away
// come back.
func (h *harness) endEpisodes(ctx context.Context) error {
	if h.faults.revoked == "" {
		return nil
	}
	if err := h.sim.SetPermissions(h.faults.revoked, deployedTargetGrant); err != nil {
		return err
	}
	h.log.Info("permissions restored", "target", h.faults.revoked)
	d, ep := h.faults.revoked, h.faults.episode
	h.faults.revoked = ""
	// A target that refused tenantsync as a whole must have been
	// quarantined, if tenantsync met the refusal early enough to probe.
	refused := h.ic.Refused(d, ep.from, time.Now().Add(-5*time.Second))
	q, err := h.quarantines(ctx, d)
	if err != nil {
		return err
	}
	switch {
	case ep.kind.quarantine && refused >= 5 && q == ep.quarantines:
		h.rep.Problems = append(h.rep.Problems, fmt.Sprintf("%s: %s refused tenantsync %d times during the episode, yet it was not quarantined",
			ep.kind.name, d, refused))
	case !ep.kind.quarantine && q != ep.quarantines:
		h.rep.Problems = append(h.rep.Problems, fmt.Sprintf("%s: %s was quarantined, although its grant still allows all tenantsync does", ep.kind.name, d))
	}
	if q != ep.quarantines {
		h.rep.Faults["quarantinesObserved"]++
	}
	return nil
}

// quarantines reads how often a target was quarantined, from the status
// page (the runner may be restarting: it is asked again for a minute).
func (h *harness) quarantines(ctx context.Context, domain string) (int64, error) {
	name := ""
	for _, t := range h.targets {
		if t.Domain == domain {
			name = t.Name
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := h.run.Status(ctx)
		if err == nil {
			for _, t := range st.Targets {
				if t.Name == name {
					return t.Actions["quarantine"], nil
				}
			}
			return 0, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, fmt.Errorf("read quarantines: %w", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// revoke takes permissions away from contoso or litware in turn, for
// PermissionOps operations: where the target refuses tenantsync as a whole,
// tenantsync must stop (a quarantine) and catch up with a full pass when the
// quarantine ends (5 minutes later: the round waits it out).
func (h *harness) revoke(ctx context.Context, i int) error {
	name := h.opts.Revocations[h.faults.permissionN%len(h.opts.Revocations)]
	r := revocations[slices.IndexFunc(revocations, func(r revocation) bool { return r.name == name })]
	t := h.targets[h.faults.permissionN%2] // contoso, litware: not the guard target, whose bursts must not wait
	h.faults.permissionN++
	q, err := h.quarantines(ctx, t.Domain)
	if err != nil {
		return err
	}
	if err := h.sim.SetPermissions(t.Domain, r.grant); err != nil {
		return err
	}
	h.faults.revoked, h.faults.restoreAt = t.Domain, i+h.opts.PermissionOps
	h.faults.episode.kind, h.faults.episode.from, h.faults.episode.quarantines = r, time.Now(), q
	h.rep.Faults[r.name]++
	h.log.Info("permissions taken away", "target", t.Name, "episode", r.name, "operations", h.opts.PermissionOps)
	return nil
}

// resetDelta invalidates the source's delta tokens, answering 410 Gone and
// 400 syncStateNotFound (in Graph's two casings) in turn: the next
// reconcile must run a full pass.
func (h *harness) resetDelta() error {
	resets := []graphsim.DeltaReset{{Status: http.StatusGone}, {Status: http.StatusBadRequest, Code: "syncStateNotFound"},
		{Status: http.StatusGone}, {Status: http.StatusBadRequest, Code: "SyncStateNotFound"}}
	r := resets[h.faults.deltaResetN%len(resets)]
	h.faults.deltaResetN++
	if err := h.sim.ResetDelta(sourceDomain, r); err != nil {
		return err
	}
	h.rep.Faults[fmt.Sprintf("deltaResets%d", r.Status)]++
	return nil
}

// targetUser is a target user as the fault plan reads it.
type targetUser struct {
	ID             string `json:"id"`
	AccountEnabled *bool  `json:"accountEnabled"`
	Ext            struct {
		Anchor string `json:"extensionAttribute15"`
	} `json:"onPremisesExtensionAttributes"`
}

// syncedUsers returns a target's live, enabled users that carry an anchor,
// by source user id.
func (h *harness) syncedUsers(ctx context.Context, domain string) (map[string]string, error) {
	raw, err := h.g.All(ctx, domain, "/users?$select=id,accountEnabled,onPremisesExtensionAttributes&$top=999")
	if err != nil {
		return nil, fmt.Errorf("fault plan: list %s users: %w", domain, err)
	}
	out := map[string]string{}
	for _, r := range raw {
		var u targetUser
		if err := json.Unmarshal(r, &u); err != nil {
			return nil, fmt.Errorf("fault plan: decode %s user: %w", domain, err)
		}
		sid, ok := strings.CutPrefix(u.Ext.Anchor, anchorPrefix())
		if ok && sid != "" && (u.AccountEnabled == nil || *u.AccountEnabled) {
			out[sid] = u.ID
		}
	}
	return out, nil
}

// victim picks an unused pool user who has a live, enabled user in a
// target, and marks it used.
func (h *harness) victim(ctx context.Context, domain string) (*srcUser, string, error) {
	synced, err := h.syncedUsers(ctx, domain)
	if err != nil {
		return nil, "", err
	}
	var free []string
	for _, id := range h.cast.pool {
		if !h.faults.used[id] && synced[id] != "" && h.w.byID(id) != nil {
			free = append(free, id)
		}
	}
	if len(free) == 0 {
		h.rep.Faults["poolExhausted"]++
		return nil, "", nil
	}
	id := free[h.plan.IntN(len(free))]
	h.faults.used[id] = true
	return h.w.byID(id), synced[id], nil
}

// adminDisable disables a synced user in contoso or litware (in turn) as a
// target administrator would, then changes the source user's other
// attributes: they must flow, and the user stay disabled, for tenantsync
// never enables again what a target administrator disabled while the
// source's accountEnabled did not change.
func (h *harness) adminDisable(ctx context.Context) error {
	t := h.targets[h.faults.adminN%2]
	h.faults.adminN++
	u, tid, err := h.victim(ctx, t.Domain)
	if err != nil || u == nil {
		return err
	}
	if _, err := h.g.Do(ctx, t.Domain, http.MethodPatch, "/users/"+tid, map[string]any{"accountEnabled": false}, nil); err != nil {
		return fmt.Errorf("fault plan: disable %s in %s: %w", tid, t.Domain, err)
	}
	h.rules.AdminDisabled(t.Domain, u.id)
	h.rep.Faults["targetAdminDisables"]++
	h.log.Info("a target administrator disabled a synced user", "target", t.Name, "targetId", tid, "sourceId", u.id)
	return h.w.touch(ctx, u, true)
}

// privilege makes a synced user in contoso or litware (in turn) an
// administrator of the target: the target then refuses tenantsync's
// writes of its sensitive attributes (the phones the source then changes)
// and its deprovision. A litware one also leaves the scope then: its
// disable there must fail for this user alone (no quarantine), while
// contoso deletes its user there as usual.
func (h *harness) privilege(ctx context.Context) error {
	t := h.targets[h.faults.privilegeN%2]
	leave := h.faults.privilegeN%2 == 1
	h.faults.privilegeN++
	u, tid, err := h.victim(ctx, t.Domain)
	if err != nil || u == nil {
		return err
	}
	if err := h.sim.SetPrivileged(t.Domain, tid, true); err != nil {
		return fmt.Errorf("fault plan: %w", err)
	}
	h.rules.Privileged(t.Domain, tid)
	h.rep.Faults["privilegedUsers"]++
	h.log.Info("a synced user became an administrator of the target", "target", t.Name, "targetId", tid, "sourceId", u.id, "leaves", leave)
	if err := h.w.touch(ctx, u, true); err != nil {
		return err
	}
	if !leave {
		return nil
	}
	h.rules.Release(u.id)
	if err := h.w.removeMember(ctx, graphsim.ScopingGroup, u.id); err != nil {
		return fmt.Errorf("fault plan: take %s out of the scope: %w", u.id, err)
	}
	h.rep.Faults["privilegedLeaves"]++
	return nil
}

// addHandMembers adds, as a target administrator would, one member by
// hand to tenantsync's group of every synced group in every target, and
// records it in the rules: a user of the target's own to teamGroup's; to
// programGroup's, the cast's hand user's target user where the pool is in
// scope (contoso, litware; the workload then makes that user a member of
// the source group and takes it out again, now and then), else another
// user of the target's own. tenantsync removes only members it added, so
// all of them must stay. Run after the initial sync, which created the
// groups.
func (h *harness) addHandMembers(ctx context.Context) error {
	refingerprint := map[string][]string{}
	for _, t := range h.targets {
		raw, err := h.g.All(ctx, t.Domain, "/groups?$select=id,uniqueName&$top=999")
		if err != nil {
			return fmt.Errorf("fault plan: list %s groups: %w", t.Domain, err)
		}
		groupOf := map[string]string{} // anchor → target group id
		for _, r := range raw {
			var g struct{ ID, UniqueName string }
			if err := json.Unmarshal(r, &g); err != nil {
				return fmt.Errorf("fault plan: decode %s group: %w", t.Domain, err)
			}
			groupOf[strings.ToLower(g.UniqueName)] = g.ID
		}
		synced, err := h.syncedUsers(ctx, t.Domain)
		if err != nil {
			return err
		}
		var native []string // two of the target's own people (targetSeed)
		for _, local := range []string{"service.desk", "facilities"} {
			var u struct{ ID string }
			if _, err := h.g.Do(ctx, t.Domain, http.MethodGet, "/users/"+local+"@"+t.Domain+"?$select=id", nil, &u); err != nil {
				return fmt.Errorf("fault plan: find %s in %s: %w", local, t.Domain, err)
			}
			native = append(native, u.ID)
		}
		refingerprint[t.Domain] = native
		for _, g := range h.cast.groups {
			tgid := groupOf[strings.ToLower(groupAnchor(g.ID))]
			if tgid == "" {
				return fmt.Errorf("fault plan: %s has no group with the anchor of %s (%s) after the initial sync", t.Domain, g.Key, g.ID)
			}
			member := native[0]
			if g.Key == programGroup {
				member = native[1]
				if tid := synced[h.cast.handUser]; tid != "" {
					member = tid
				}
			}
			if _, err := h.g.Do(ctx, t.Domain, http.MethodPost, "/groups/"+tgid+"/members/$ref", ref("directoryObjects", member), nil); err != nil {
				return fmt.Errorf("fault plan: add %s to group %s in %s by hand: %w", member, tgid, t.Domain, err)
			}
			h.rules.HandMember(t.Domain, g.ID, member)
			h.rep.Faults["handMembers"]++
			h.log.Info("a target administrator added a member by hand", "target", t.Name, "group", g.Key, "targetGroupId", tgid, "member", member)
		}
	}
	// The suite changed its own people's memberships: the oracle takes
	// their fingerprints again once Graph shows the change.
	h.waitReplicated(ctx)
	for _, t := range h.targets {
		for _, id := range refingerprint[t.Domain] {
			if err := h.oracle.Refingerprint(ctx, t.Domain, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// burst takes more users than the guard target's threshold out of its
// scope at once, by a mass scope removal or a mass disable in turn,
// choosing among the pilots that have a live, enabled user there.
func (h *harness) burst(ctx context.Context) error {
	g, ok := guardTarget(h.targets)
	if !ok {
		return nil
	}
	synced, err := h.syncedUsers(ctx, g.Domain)
	if err != nil {
		return err
	}
	var cands []*srcUser
	for _, u := range h.w.pilots() {
		if synced[u.id] != "" {
			cands = append(cands, u)
		}
	}
	size := g.Threshold + 2 + h.plan.IntN(4)
	if len(cands) < size {
		h.rep.Faults["burstsSkipped"]++
		h.log.Info("too few pilots for a burst", "pilots", len(cands), "size", size)
		return nil
	}
	h.plan.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	kind := OpMassScopeRemoval
	if h.faults.bursts%2 == 1 {
		kind = OpMassDisable
	}
	h.faults.bursts++
	var ids []string
	if kind == OpMassScopeRemoval {
		ids, err = h.w.massScopeRemoval(ctx, cands[:size])
	} else {
		ids, err = h.w.massDisable(ctx, cands[:size])
	}
	if len(ids) > 0 {
		// Recorded before anything else can fail: these users are out.
		h.rules.Burst(ids)
	}
	if err != nil {
		return err
	}
	if len(ids) <= g.Threshold {
		// Graph refused some: what is left is no burst, and the guard may
		// carry it out. Undone at once, within the settle delay.
		h.rep.Guard.Aborted++
		_, err := h.w.recoverBurst(ctx, kind, ids)
		return err
	}
	h.faults.burst.kind, h.faults.burst.ids = kind, ids
	h.rep.Guard.Bursts++
	h.rep.Guard.BurstUsers += len(ids)
	h.log.Info("burst", "kind", kind, "users", len(ids), "target", g.Name, "threshold", g.Threshold)
	return nil
}

// recoverBurst brings back the last burst's users — all of them, or so few
// that what stays out still exceeds the threshold, so that the guard holds
// the rest whatever it has decided so far — and tops the pilots up for the
// next burst.
func (h *harness) recoverBurst(ctx context.Context) error {
	g, ok := guardTarget(h.targets)
	if !ok {
		return nil
	}
	if b := h.faults.burst; len(b.ids) > 0 {
		n := len(b.ids)
		if h.plan.IntN(2) == 0 {
			n = len(b.ids) - g.Threshold - 1
		}
		back, err := h.w.recoverBurst(ctx, b.kind, b.ids[:n])
		h.rep.Guard.Recovered += len(back)
		if err != nil {
			return err
		}
		h.faults.burst.ids = nil
	}
	need := 2 * (g.Threshold + 6)
	if have := len(h.w.pilots()); have < need {
		joined, err := h.w.pilotJoin(ctx, need-have)
		h.rep.Guard.Joined += len(joined)
		if err != nil {
			return err
		}
	}
	return nil
}

// StatusOf reads the runner's status page with a target selected: its
// staged deletions are listed then.
func (r *runner) StatusOf(ctx context.Context, target string) (statuspage.Snapshot, error) {
	var s statuspage.Snapshot
	u := "http://" + r.spec.listen + "/api/status?" + url.Values{"format": {"json"}, "target": {target}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return s, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return s, fmt.Errorf("read the status page: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("read the status page: %s", resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(&s); err != nil {
		return s, fmt.Errorf("decode the status page: %w", err)
	}
	return s, nil
}
