package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/store"
)

// Watermark resource names.
const (
	resourceUsers  = "users"
	resourceGroups = "groups"
)

// ReconcileOptions control a reconcile.
type ReconcileOptions struct {
	// Full forces a full pass; otherwise one runs when there is no
	// watermark, a delta token expired, or the last full pass is older than
	// FullEvery.
	Full bool
	// FullEvery is the period of the full pass; 0 means 24 h.
	FullEvery time.Duration
	// Emit receives the changes to process, a batch at a time. The event
	// pipeline enqueues them; the CLI processes them at once.
	Emit func(ctx context.Context, changes []Change) error
	// AllPending makes a delta reconcile emit every deprovision pending
	// with the deletion guard, due or not: the CLI, which waits for them.
	// Otherwise only those whose re-check is overdue are emitted (the
	// event pipeline schedules a re-check for each).
	AllPending bool
}

// ReconcileResult says what a reconcile found.
type ReconcileResult struct {
	Full bool
	// Why explains why a full pass ran.
	Why     string
	Changes int // changes emitted
	// Planned counts the full pass's decisions by operation.
	Planned map[Op]int
}

// Reconcile catches up with the source: from the stored delta watermarks it
// emits a change for every user that changed and for every user whose scope a
// group change may have moved; a full pass instead compares everything with
// the targets and emits exactly what needs work (including drift made in a
// target and users left behind by a crash). Changes are emitted before the
// watermark moves, so a crash never loses one.
func (e *Engine) Reconcile(ctx context.Context, opts ReconcileOptions) (ReconcileResult, error) {
	if opts.Emit == nil {
		return ReconcileResult{}, errors.New("reconcile: Emit is required")
	}
	if opts.FullEvery <= 0 {
		opts.FullEvery = 24 * time.Hour
	}
	res := ReconcileResult{}
	users, err := e.getWatermark(ctx, resourceUsers)
	if err != nil {
		return res, err
	}
	switch {
	case opts.Full:
		res.Why = "requested"
	case users.DeltaLink == "":
		res.Why = "no watermark yet"
	case e.now().Sub(users.FullSyncAt) > opts.FullEvery:
		res.Why = fmt.Sprintf("last full pass over %s ago", opts.FullEvery)
	default:
		if why, err := e.fullPassNeeded(ctx); err != nil {
			return res, err
		} else if why != "" {
			res.Why = why
		}
	}
	if res.Why == "" {
		// First the deprovisions recorded before and not re-checked: what
		// the deltas find next is recorded anew.
		grace := overdueGrace
		if opts.AllPending {
			grace = -24 * time.Hour // anything recorded, due or not
		}
		n, err := e.emitOverdue(ctx, grace, opts.Emit)
		res.Changes += n
		if err != nil {
			return res, err
		}
	}
	if res.Why == "" {
		n, err := e.deltaUsers(ctx, users, opts.Emit)
		res.Changes += n
		if errors.Is(err, directory.ErrDeltaExpired) {
			res.Why = "users delta token expired"
		} else if err != nil {
			return res, err
		}
	}
	if res.Why == "" {
		n, err := e.deltaGroups(ctx, opts.Emit)
		res.Changes += n
		switch {
		case errors.Is(err, directory.ErrDeltaExpired):
			res.Why = "groups delta token expired"
		case errors.Is(err, errScopeGroupGone):
			res.Why = err.Error()
		case err != nil:
			return res, err
		}
	}
	if res.Why == "" {
		now := e.now()
		for _, t := range e.targets {
			if err := e.updateStatus(ctx, t.name, func(st *store.TargetStatus) { st.LastReconcile = now }); err != nil {
				return res, err
			}
		}
		return res, nil
	}
	res.Full = true
	n, planned, err := e.fullPass(ctx, opts.Emit)
	res.Changes += n
	res.Planned = planned
	return res, err
}

var errScopeGroupGone = errors.New("a scoping group was deleted")

func (e *Engine) getWatermark(ctx context.Context, resource string) (store.Watermark, error) {
	w, err := e.store.GetWatermark(ctx, e.sourceTenant, resource)
	if errors.Is(err, store.ErrNotFound) {
		return store.Watermark{Tenant: e.sourceTenant, Resource: resource}, nil
	}
	if err != nil {
		return w, fmt.Errorf("read %s watermark: %w", resource, err)
	}
	return w, nil
}

// saveWatermark stores a new delta link. Losing the race to another
// reconciler is fine: both emitted the changes they saw, and the other's
// link is as good as ours.
func (e *Engine) saveWatermark(ctx context.Context, w store.Watermark) error {
	_, err := e.store.PutWatermark(ctx, w)
	if errors.Is(err, store.ErrConflict) {
		e.log.InfoContext(ctx, "another reconcile moved the watermark first", "resource", w.Resource)
		return nil
	}
	if err != nil {
		return fmt.Errorf("write %s watermark: %w", w.Resource, err)
	}
	return nil
}

// fullPassNeeded reports a target that needs a full pass: work was skipped
// for it (a quarantine) and its quarantine is over, ended by time or by an
// operator.
func (e *Engine) fullPassNeeded(ctx context.Context) (string, error) {
	for _, t := range e.targets {
		st, err := e.readStatus(ctx, t.name, true)
		if err != nil {
			return "", err
		}
		if st.FullPassNeeded && !e.now().Before(st.QuarantinedUntil) {
			return "work for " + t.name + " was skipped while it was quarantined", nil
		}
	}
	return "", nil
}

// overdueGrace is how long after its settle delay a pending deprovision may
// wait for its re-check before a reconcile sends it again.
const overdueGrace = time.Minute

// emitOverdue emits a change for every pending deprovision whose re-check
// is overdue by grace.
func (e *Engine) emitOverdue(ctx context.Context, grace time.Duration, emit func(context.Context, []Change) error) (int, error) {
	var changes []Change
	for _, t := range e.targets {
		ids, err := e.overdue(ctx, t, grace)
		if err != nil {
			return 0, err
		}
		for _, id := range ids {
			changes = append(changes, guardChange(id, "guard", e.now()))
		}
	}
	changes = dedupeChanges(changes)
	if len(changes) == 0 {
		return 0, nil
	}
	return len(changes), emit(ctx, changes)
}

func (e *Engine) deltaUsers(ctx context.Context, w store.Watermark, emit func(context.Context, []Change) error) (int, error) {
	n := 0
	seen := e.now()
	next, err := e.source.UsersDelta(ctx, w.DeltaLink, e.userAttrs, func(page []directory.UserDelta) error {
		changes := make([]Change, 0, len(page))
		for _, d := range page {
			changes = append(changes, Change{Kind: KindUser, ID: d.User.ID, Cause: "delta", Observed: seen})
		}
		n += len(changes)
		if len(changes) == 0 {
			return nil
		}
		return emit(ctx, changes)
	})
	if err != nil {
		return n, fmt.Errorf("users delta: %w", err)
	}
	w.DeltaLink, w.TakenAt = next, e.now()
	return n, e.saveWatermark(ctx, w)
}

func (e *Engine) deltaGroups(ctx context.Context, emit func(context.Context, []Change) error) (int, error) {
	w, err := e.getWatermark(ctx, resourceGroups)
	if err != nil {
		return 0, err
	}
	if w.DeltaLink == "" {
		return 0, directory.ErrDeltaExpired // no groups watermark: only a full pass can start one
	}
	n, next, err := e.groupChanges(ctx, w.DeltaLink, emit)
	if err != nil {
		return n, err
	}
	w.DeltaLink, w.TakenAt = next, e.now()
	return n, e.saveWatermark(ctx, w)
}

// groupChanges runs a groups delta from link and emits a change for every
// user whose membership of a scoping group (or, for nested scopes, of a group
// inside one) changed.
func (e *Engine) groupChanges(ctx context.Context, link string, emit func(context.Context, []Change) error) (int, string, error) {
	direct, nested, err := e.scopeGroups(ctx)
	if err != nil {
		return 0, "", err
	}
	synced, err := e.groupsOfMember(ctx) // group provisioning (group.go)
	if err != nil {
		return 0, "", err
	}
	n := 0
	seen := e.now()
	// A group taken out of a nested scope, and the users removed from it in
	// the same window, are only known once the whole delta is read: the
	// users' removals may come first, while the group no longer counts as
	// nested (nested is the membership as it is now).
	unnested := map[string]bool{}            // groups removed from a nested scope group
	removedFrom := map[string][]string{}     // group → users removed from it, for groups not (or no longer) nested
	childrenRemoved := map[string][]string{} // group → groups removed from it
	next, err := e.source.GroupsDelta(ctx, link, func(page []directory.GroupDelta) error {
		var changes []Change
		for _, g := range page {
			id := g.Group.ID
			for _, s := range synced[id] {
				// A synced group, or a group nested in one, changed: the
				// synced group is provisioned again.
				changes = append(changes, Change{Kind: KindGroup, ID: s, Cause: CauseGroupSync, Observed: seen})
			}
			if len(nested) > 0 && !direct[id] && !nested[id] {
				removedFrom[id] = append(removedFrom[id], g.MembersRemoved...)
				childrenRemoved[id] = append(childrenRemoved[id], g.GroupsRemoved...)
			}
			if !direct[id] && !nested[id] {
				continue
			}
			if g.Removed != directory.NotRemoved {
				return fmt.Errorf("%w: %s", errScopeGroupGone, id)
			}
			users := append(append([]string(nil), g.MembersAdded...), g.MembersRemoved...)
			for _, u := range users {
				changes = append(changes, Change{Kind: KindUser, ID: u, Cause: "group", Observed: seen})
			}
			if !nested[id] {
				continue
			}
			for _, sub := range g.GroupsRemoved {
				unnested[sub] = true
			}
			// A group joining or leaving a nested scope moves all its users.
			for _, sub := range g.GroupsChanged() {
				m, err := e.source.GroupMembers(ctx, sub, true)
				if err != nil {
					return fmt.Errorf("list members of nested group %s: %w", sub, err)
				}
				for _, u := range m.Users {
					changes = append(changes, Change{Kind: KindUser, ID: u, Cause: "group", Observed: seen})
				}
			}
		}
		changes = dedupeChanges(changes)
		n += len(changes)
		if len(changes) == 0 {
			return nil
		}
		return emit(ctx, changes)
	})
	if err != nil {
		return n, "", fmt.Errorf("groups delta: %w", err)
	}
	changes, err := e.formerlyNested(ctx, unnested, removedFrom, childrenRemoved, seen)
	if err != nil {
		return n, "", err
	}
	if len(changes) > 0 {
		if err := emit(ctx, changes); err != nil {
			return n, "", err
		}
		n += len(changes)
	}
	return n, next, nil
}

// formerlyNested returns a change for every user who may have left a nested
// scope with a group taken out of it: the group's users now, those of every
// group inside it now or removed from it in the same delta window, and the
// users removed from any of those groups in the window.
func (e *Engine) formerlyNested(ctx context.Context, unnested map[string]bool, removedFrom, childrenRemoved map[string][]string, seen time.Time) ([]Change, error) {
	queue := make([]string, 0, len(unnested))
	for g := range unnested {
		queue = append(queue, g)
	}
	sort.Strings(queue)
	visited := map[string]bool{}
	var changes []Change
	for len(queue) > 0 {
		g := queue[0]
		queue = queue[1:]
		if visited[g] {
			continue
		}
		visited[g] = true
		m, err := e.source.GroupMembers(ctx, g, true)
		if err != nil && !errors.Is(err, directory.ErrNotFound) {
			return nil, fmt.Errorf("list members of group %s, taken out of a nested scope: %w", g, err)
		}
		for _, u := range append(m.Users, removedFrom[g]...) {
			changes = append(changes, Change{Kind: KindUser, ID: u, Cause: "group", Observed: seen})
		}
		queue = append(queue, m.Groups...)
		queue = append(queue, childrenRemoved[g]...)
	}
	return dedupeChanges(changes), nil
}

// scopeGroups returns the groups whose membership matters: the scoping
// groups of direct scopes, and the scoping groups of nested scopes with every
// group inside them.
func (e *Engine) scopeGroups(ctx context.Context) (direct, nested map[string]bool, err error) {
	direct, nested = map[string]bool{}, map[string]bool{}
	for _, t := range e.targets {
		ids, err := e.groupIDs(ctx, t)
		if err != nil {
			return nil, nil, err
		}
		for _, g := range ids {
			if !t.cfg.Scope.Nested {
				direct[g] = true
				continue
			}
			if nested[g] {
				continue
			}
			nested[g] = true
			m, err := e.source.GroupMembers(ctx, g, true)
			if err != nil {
				return nil, nil, fmt.Errorf("list nested groups of %s: %w", g, err)
			}
			for _, sub := range m.Groups {
				nested[sub] = true
			}
		}
	}
	return direct, nested, nil
}

func dedupeChanges(cs []Change) []Change {
	seen := map[string]bool{}
	out := cs[:0]
	for _, c := range cs {
		if !seen[c.ID] {
			seen[c.ID] = true
			out = append(out, c)
		}
	}
	return out
}

// syncGroup handles a change notification on a group: it catches up the
// groups delta (shared with Reconcile) and returns the users it moved.
func (e *Engine) syncGroup(ctx context.Context, ch Change) (Result, error) {
	res := Result{Change: ch}
	w, err := e.getWatermark(ctx, resourceGroups)
	if err != nil {
		return res, err
	}
	if w.DeltaLink == "" {
		// Nothing to diff against until the first reconcile has run; it
		// will see the group as it is then.
		return res, nil
	}
	collect := func(_ context.Context, cs []Change) error {
		for _, c := range cs {
			c.Observed = ch.Observed
			res.FollowUps = append(res.FollowUps, c)
		}
		return nil
	}
	_, next, err := e.groupChanges(ctx, w.DeltaLink, collect)
	if errors.Is(err, errScopeGroupGone) || errors.Is(err, directory.ErrDeltaExpired) {
		// The next reconcile sees the same and runs a full pass.
		e.log.WarnContext(ctx, "group change needs a full reconcile", "groupId", ch.ID, "err", err)
		return res, nil
	}
	if err != nil {
		return res, err
	}
	w.DeltaLink, w.TakenAt = next, e.now()
	res.Commit = func(ctx context.Context) error { return e.saveWatermark(ctx, w) }
	return res, nil
}

// fullPass surveys everything, decides with the dry engine, and emits a
// change for every user that needs work.
func (e *Engine) fullPass(ctx context.Context, emit func(context.Context, []Change) error) (int, map[Op]int, error) {
	// Take the delta links first: whatever changes while the pass runs is
	// seen by the next delta.
	usersLink, err := e.source.UsersDelta(ctx, directory.LatestDelta, e.userAttrs, func([]directory.UserDelta) error { return nil })
	if err != nil {
		return 0, nil, fmt.Errorf("users delta (latest): %w", err)
	}
	groupsLink, err := e.source.GroupsDelta(ctx, directory.LatestDelta, func([]directory.GroupDelta) error { return nil })
	if err != nil {
		return 0, nil, fmt.Errorf("groups delta (latest): %w", err)
	}
	started := e.now()
	e.expireStaged(ctx)
	plan, err := e.plan(ctx, e.targets, false, PlanOptions{})
	if err != nil {
		return 0, nil, err
	}
	planned := map[Op]int{}
	byUser := map[string]Change{}
	var order []string
	for _, tp := range plan.Targets {
		for _, a := range append(tp.Actions, tp.Held...) {
			planned[a.Op]++
			if a.heldAlone || a.Op == OpNoop || a.Op == OpSkip || a.Error != "" {
				// Errors the dry run met (an internal member in the way, a
				// bad mapping) would fail the same way for real; they are in
				// the plan and the log, not worth a message that cannot
				// succeed.
				continue
			}
			c, ok := byUser[a.SourceID]
			if !ok {
				order = append(order, a.SourceID)
				c = Change{Kind: KindUser, ID: a.SourceID, Cause: "full", Observed: e.now()}
			}
			c.Force = c.Force || plan.forced[a.SourceID]
			byUser[a.SourceID] = c
		}
	}
	for _, tp := range plan.Targets {
		// Group provisioning (group_plan.go): the groups that need work.
		for _, id := range tp.groupWork() {
			if _, ok := byUser[id]; !ok {
				order = append(order, id)
				byUser[id] = Change{Kind: KindGroup, ID: id, Cause: "full", Observed: e.now()}
			}
		}
	}
	n := 0
	for start := 0; start < len(order); start += 100 {
		batch := make([]Change, 0, 100)
		for _, id := range order[start:min(start+100, len(order))] {
			batch = append(batch, byUser[id])
		}
		if err := emit(ctx, batch); err != nil {
			return n, planned, err
		}
		n += len(batch)
	}
	// A target in quarantine was not covered: its users were skipped. The
	// pass is then not recorded and moves no watermark, so that the work
	// is done once the quarantine ends.
	var skipped []string
	for _, t := range e.targets {
		if reason, until := e.quarantined(ctx, t); reason != "" {
			skipped = append(skipped, fmt.Sprintf("%s (quarantined until %s: %s)", t.name, until.UTC().Format(time.RFC3339), reason))
		}
	}
	if len(skipped) > 0 {
		return n, planned, fmt.Errorf("the full pass could not cover %s: it is not recorded, and runs again when the quarantine ends or after `resume`: %w",
			strings.Join(skipped, "; "), ErrQuarantined)
	}
	now := e.now()
	for _, w := range []store.Watermark{
		{Resource: resourceUsers, DeltaLink: usersLink},
		{Resource: resourceGroups, DeltaLink: groupsLink},
	} {
		cur, err := e.getWatermark(ctx, w.Resource)
		if err != nil {
			return n, planned, err
		}
		cur.DeltaLink, cur.TakenAt, cur.FullSyncAt = w.DeltaLink, now, now
		if err := e.saveWatermark(ctx, cur); err != nil {
			return n, planned, err
		}
	}
	for _, t := range e.targets {
		err := e.updateStatus(ctx, t.name, func(st *store.TargetStatus) {
			st.LastReconcile, st.LastFullReconcile = now, now
			if st.QuarantinedUntil.Before(started) {
				// Not quarantined since the pass began: it covered the target.
				st.FullPassNeeded = false
			}
		})
		if err != nil {
			return n, planned, err
		}
	}
	return n, planned, nil
}
