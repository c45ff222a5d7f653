package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/expr"
	"github.com/tenantsync/tenantsync/internal/mapping"
	"github.com/tenantsync/tenantsync/internal/store"
)

// maxRaces bounds how often one sync is redone after losing an optimistic
// concurrency race on its link.
const maxRaces = 4

// Sync makes every target right for one source object. For a user, it reads
// the user's current state and creates, updates, disables, deprovisions or
// restores the target users; for a group, it works out which users' scope the
// group's change may have changed and returns them as FollowUps.
//
// The returned error says whether to retry: a throttling error carries its
// delay (directory.RetryAfter), errors wrapping ErrPermanent will fail the
// same way again, anything else is worth retrying. Per-target outcomes are in
// the Result either way.
func (e *Engine) Sync(ctx context.Context, ch Change) (Result, error) {
	switch ch.Kind {
	case KindUser:
		return e.syncUser(ctx, ch, nil, nil)
	case KindGroup:
		return e.syncGroupChange(ctx, ch)
	}
	return Result{Change: ch}, fmt.Errorf("sync %s %s: unknown kind: %w", ch.Kind, ch.ID, ErrPermanent)
}

// source is one source user as read for a sync.
type sourceUser struct {
	id   string
	user directory.User
	// gone is true when the user is neither live nor in deleted items.
	gone bool
	// memberOf caches scoping-group membership by nesting mode; nil until read.
	direct, nested map[string]bool
}

func (s *sourceUser) upn() string {
	if s.user.Attrs == nil {
		return ""
	}
	return s.user.UPN()
}

// readSource reads a user's current state: live, soft deleted or gone.
func (e *Engine) readSource(ctx context.Context, id string) (*sourceUser, error) {
	u, err := e.source.GetUser(ctx, id, e.userAttrs)
	if err == nil {
		return &sourceUser{id: u.ID, user: u}, nil
	}
	if !errors.Is(err, directory.ErrNotFound) {
		return nil, fmt.Errorf("read source user %s: %w", id, err)
	}
	u, err = e.source.GetDeletedUser(ctx, id, e.userAttrs)
	if err == nil {
		u.Deleted = true
		return &sourceUser{id: u.ID, user: u}, nil
	}
	if errors.Is(err, directory.ErrNotFound) {
		return &sourceUser{id: id, gone: true}, nil
	}
	return nil, fmt.Errorf("read deleted source user %s: %w", id, err)
}

// syncUser syncs one user into every target (or only into only, when set).
// src may be given when the caller already read the user.
func (e *Engine) syncUser(ctx context.Context, ch Change, src *sourceUser, only *target) (Result, error) {
	res := Result{Change: ch}
	if src == nil {
		var err error
		src, err = e.readSource(ctx, ch.ID)
		if err != nil {
			return res, err
		}
	}
	var errs []error
	for _, t := range e.targets {
		if only != nil && t != only {
			continue
		}
		act, err := e.syncTargetRetrying(ctx, t, src, ch, nil)
		res.Actions = append(res.Actions, act)
		if err != nil {
			errs = append(errs, err)
		}
		if act.PendingUntil != nil && (res.RecheckAt.IsZero() || act.PendingUntil.Before(res.RecheckAt)) {
			res.RecheckAt = *act.PendingUntil
		}
		for _, id := range act.burst {
			// The burst this deprovision tripped: each is staged by its own
			// sync too, whatever became of its re-check.
			res.FollowUps = append(res.FollowUps, guardChange(id, "guard", ch.Observed))
		}
		// The synced groups this user joins or leaves (group.go).
		groups, err := e.memberFollowUps(ctx, t, src, ch, act)
		if err != nil {
			errs = append(errs, err)
		}
		res.FollowUps = append(res.FollowUps, groups...)
		if t.mappings.HasManager() && (act.activated || ch.Force && act.linked) {
			// Reports synced while their manager had no active target user
			// could not have their manager set; now they can. A forced
			// change (delivered again after a crash) may have activated the
			// link before the crash lost these follow-ups: it sends them
			// again.
			reports, err := e.source.DirectReports(ctx, src.id)
			if err != nil {
				errs = append(errs, fmt.Errorf("read direct reports of %s: %w", src.id, err))
			}
			for _, r := range reports {
				res.FollowUps = append(res.FollowUps, Change{Kind: KindUser, ID: r, Cause: "manager", Observed: ch.Observed})
			}
		}
	}
	return res, joinSyncErrors(errs)
}

// joinSyncErrors returns the error that decides what the caller does with
// the change: a throttling error first (retry after its delay), else the
// errors worth retrying (the others were recorded in the log and on the
// links already), else all of them marked ErrPermanent. It never lets a
// permanent failure in one target stop the retry another target needs.
func joinSyncErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	for _, err := range errs {
		if _, ok := directory.RetryAfter(err); ok {
			return err
		}
	}
	var retry []error
	for _, err := range errs {
		if !permanent(err) {
			retry = append(retry, err)
		}
	}
	if len(retry) > 0 {
		return errors.Join(retry...)
	}
	return fmt.Errorf("%w: %w", ErrPermanent, errors.Join(errs...))
}

// permanent reports whether retrying the same change cannot help.
func permanent(err error) bool {
	return errors.Is(err, ErrPermanent) || (errors.Is(err, directory.ErrBadRequest) && !directory.Retryable(err))
}

func (e *Engine) syncTargetRetrying(ctx context.Context, t *target, src *sourceUser, ch Change, rep *Report) (Action, error) {
	if directory.TraceFrom(ctx) == nil {
		// Every decision names the Graph requests behind it in the
		// provisioning log, whoever asked for it.
		ctx = directory.WithTrace(ctx, &directory.Trace{})
	}
	var act Action
	var err error
	for range maxRaces {
		act, err = e.syncTarget(ctx, t, src, ch, rep)
		if !errors.Is(err, store.ErrConflict) {
			break
		}
		e.log.DebugContext(ctx, "lost a race on a link, syncing again", "target", t.name, "sourceId", src.id)
	}
	wide := false
	if errors.Is(err, errNotOurs) {
		// A destructive write refused for this user: the error is theirs,
		// on their link and in the log; retrying cannot help.
		act.Error, err = err.Error(), nil
		act.Reason += "; refused"
	}
	if err != nil && errors.Is(err, directory.ErrForbidden) {
		// Refused: the whole target (token, consent, a policy), or only
		// this user (an administrator in the target)? A probe tells.
		var perr error
		wide, perr = e.targetWide(ctx, t, err)
		if perr == nil && !wide {
			// This user's refusal: recorded on the action, the link and the
			// log; retrying the change cannot help, and a dead letter per
			// change would help no one either.
			act.Error = err.Error()
			if act.Reason == "" {
				act.Reason = "failed"
			}
			act.Reason += "; the target refuses this user alone (its probe read succeeds)"
			err = nil
		}
	}
	e.finish(ctx, t, &act, ch, err, wide)
	return act, err
}

// outcome is what an event's result is made of, as a user's and a group's
// decisions both have it.
type outcome struct {
	err       string
	held      bool
	pending   bool
	conflict  *Conflict
	op        Op
	cancelled string
}

// appendEvent gives ev its result (and, for a success, its latency from
// the change's observation) and writes it to the provisioning log; a
// failed write is logged, as the decision was carried out regardless.
func (e *Engine) appendEvent(ctx context.Context, ev *store.Event, o outcome, observed time.Time) {
	switch {
	case o.err != "":
		ev.Result = "error"
	case o.held:
		ev.Result = "held"
	case o.pending:
		ev.Result = "pending"
	case o.conflict != nil:
		ev.Result = "conflict"
		ev.TargetID = o.conflict.TargetID
	case o.op == OpSkip:
		ev.Result = "skipped"
	case o.cancelled != "" && o.op == OpNoop:
		ev.Result = "cancelled"
	}
	if !observed.IsZero() && ev.Result == "ok" {
		ev.Latency = e.now().Sub(observed)
	}
	if err := e.store.AppendEvent(ctx, *ev); err != nil {
		e.log.WarnContext(ctx, "could not write provisioning event", "target", ev.Target, "sourceId", ev.SourceID, "action", ev.Action, "err", err)
	}
}

// requestIDs returns the Graph request ids of the calls traced in ctx
// (nil without a trace): what the log records with each decision.
func requestIDs(ctx context.Context) []string {
	tr := directory.TraceFrom(ctx)
	if tr == nil {
		return nil
	}
	var ids []string
	for _, r := range tr.Requests() {
		if r.RequestID != "" {
			ids = append(ids, r.RequestID)
		}
	}
	return ids
}

// finish records the outcome of one decision: the provisioning log, and
// the target's quarantine (wide: the target as a whole refused us).
func (e *Engine) finish(ctx context.Context, t *target, act *Action, ch Change, err error, wide bool) {
	if err != nil {
		act.Error = err.Error()
		if act.Reason == "" {
			act.Reason = "failed"
		}
	}
	if act.RequestIDs == nil {
		act.RequestIDs = requestIDs(ctx)
	}
	e.noteOutcome(ctx, t, err, wide)
	switch {
	case act.known && act.Error == "":
		return // a conflict logged when it was found
	case act.Op == OpNoop && act.Error == "" && act.cancelled == "":
		return
	}
	ev := store.Event{
		Time:       e.now(),
		Target:     t.name,
		SourceID:   act.SourceID,
		SourceUPN:  act.UserPrincipalName,
		Action:     string(act.Op),
		Result:     "ok",
		Reason:     act.Reason,
		Changes:    summarize(act.Changes),
		RequestIDs: act.RequestIDs,
		Error:      act.Error,
		Trigger:    ch.Cause,
	}
	if act.TargetID != nil {
		ev.TargetID = *act.TargetID
	}
	e.appendEvent(ctx, &ev, outcome{err: act.Error, held: act.Held, pending: act.PendingUntil != nil,
		conflict: act.Conflict, op: act.Op, cancelled: act.cancelled}, ch.Observed)
	level := slog.LevelInfo
	if act.Error != "" {
		level = slog.LevelWarn
	}
	// The log names the attributes that changed, never their values: in
	// Azure it is Application Insights and Log Analytics, for every synced
	// person. The values (phone numbers, employee ids, addresses) are
	// logged only at Debug, which an operator turns on to investigate.
	e.log.Log(ctx, level, "provisioning", "target", t.name, "sourceId", act.SourceID, "upn", act.UserPrincipalName,
		"action", act.Op, "result", ev.Result, "reason", act.Reason, "attributes", act.Changes.Keys(),
		"requestIds", act.RequestIDs, "err", err)
	if len(act.Changes) > 0 && e.log.Enabled(ctx, slog.LevelDebug) {
		e.log.DebugContext(ctx, "provisioning values", "target", t.name, "sourceId", act.SourceID, "changes", ev.Changes)
	}
}

// summarize renders a diff for the log: "department: Sales → Marketing".
func summarize(changes mapping.Changes) string {
	parts := make([]string, 0, len(changes))
	for _, k := range changes.Keys() {
		d := changes[k]
		parts = append(parts, fmt.Sprintf("%s: %s → %s", k, directory.Format(d.Old), directory.Format(d.New)))
	}
	return strings.Join(parts, "; ")
}

// decision is one source user's sync into one target, from the reads to
// the writes: the state of one call held in one struct, as log/slog's
// handleState holds one Handle's, so that each step (provision, update,
// matchOrCreate, deprovision, …) is a method that takes only what it varies.
type decision struct {
	e   *Engine
	t   *target
	src *sourceUser
	ch  Change
	rep *Report // nil but for on-demand provisioning
	// link is the user's link in the target; linked says whether one was
	// stored (otherwise link holds only its keys).
	link   store.Link
	linked bool
	// scope is why the user is in or out of the target's scope.
	scope string
	// act is the decision as it stands: what was done, or is to be.
	act Action
}

// syncTarget decides and carries out what one target needs for one user.
// A store.ErrConflict means another worker changed the link meanwhile: the
// caller runs it again, and the second run sees the other's work.
func (e *Engine) syncTarget(ctx context.Context, t *target, src *sourceUser, ch Change, rep *Report) (Action, error) {
	d := &decision{e: e, t: t, src: src, ch: ch, rep: rep,
		act: Action{Target: t.name, SourceID: src.id, UserPrincipalName: src.upn()}}
	if q, until := e.quarantined(ctx, t); q != "" {
		d.act.Op, d.act.Reason = OpSkip, fmt.Sprintf("target %s is quarantined until %s: %s", t.name, until.Format(time.RFC3339), q)
		return d.act, nil
	}
	var err error
	d.link, d.linked, err = e.getLink(ctx, t.name, src.id)
	if err != nil {
		return d.act, err
	}
	if d.linked {
		d.act.setTargetID(d.link.TargetID)
		rep.step("match", "linked to target user %s (state %s)", d.link.TargetID, d.link.State)
	}
	in, reason, err := e.inScope(ctx, t, src)
	if err != nil {
		return d.act, err
	}
	d.scope = reason
	rep.step("scope", "%s", reason)
	if in {
		return d.provision(ctx)
	}
	return d.deprovision(ctx)
}

// fresh drops the user's link from the decision: what follows starts over,
// as for a user never linked.
func (d *decision) fresh() {
	d.link, d.linked = store.Link{Target: d.t.name, SourceID: d.src.id}, false
}

func (e *Engine) getLink(ctx context.Context, target, sourceID string) (store.Link, bool, error) {
	l, err := e.store.GetLink(ctx, target, sourceID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Link{Target: target, SourceID: sourceID}, false, nil
	}
	if err != nil {
		return l, false, fmt.Errorf("read link %s/%s: %w", target, sourceID, err)
	}
	return l, true, nil
}

// inScope evaluates a target's scope for a source user, reading group
// membership only when the cheaper conditions leave it open.
func (e *Engine) inScope(ctx context.Context, t *target, src *sourceUser) (bool, string, error) {
	switch {
	case src.gone:
		return false, "out of scope: deleted in the source tenant", nil
	case src.user.Deleted:
		return false, "out of scope: soft-deleted in the source tenant", nil
	}
	sc, err := e.scopeFor(ctx, t)
	if err != nil {
		return false, "", err
	}
	groups, err := e.memberOf(ctx, t, src)
	if err != nil {
		return false, "", err
	}
	d := sc.Evaluate(src.user, groups)
	return d.InScope, d.Reason, nil
}

// memberOf returns which of the target's scoping groups the user is in,
// asking the source once per nesting mode for all targets' groups together.
func (e *Engine) memberOf(ctx context.Context, t *target, src *sourceUser) ([]string, error) {
	if len(t.cfg.Scope.Groups) == 0 {
		return nil, nil
	}
	cache := &src.direct
	if t.cfg.Scope.Nested {
		cache = &src.nested
	}
	if *cache == nil {
		var all []string
		for _, o := range e.targets {
			if o.cfg.Scope.Nested != t.cfg.Scope.Nested {
				continue
			}
			ids, err := e.groupIDs(ctx, o)
			if err != nil {
				return nil, err
			}
			all = append(all, ids...)
		}
		in, err := e.source.MemberOf(ctx, src.id, dedupe(all), t.cfg.Scope.Nested)
		if err != nil {
			return nil, fmt.Errorf("read group membership of %s: %w", src.id, err)
		}
		*cache = map[string]bool{}
		for _, g := range in {
			(*cache)[g] = true
		}
	}
	ids, err := e.groupIDs(ctx, t)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, g := range ids {
		if (*cache)[g] {
			out = append(out, g)
		}
	}
	return out, nil
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// desired is what a target user should look like for a source user.
type desired struct {
	attrs directory.Attributes // mapped attributes incl. anchor and userType
	// manager is the source manager's id ("" for none); managerApplies is
	// false when the manager mapping does not apply to this operation.
	manager        string
	managerApplies bool
	address        string   // invitation address
	redacted       []string // attributes whose values must not be shown
}

func (e *Engine) desiredFor(ctx context.Context, t *target, src *sourceUser, op mapping.Op) (desired, error) {
	anchor := e.anchorValue(src.id)
	res, err := t.mappings.Map(src.user, op, mapping.Options{
		Now: e.now,
		// SelectUniqueValue: a value is taken when a target user other than
		// this user's own carries it.
		Exists: func(attr, value string) (bool, error) {
			users, err := t.api.FindUsers(ctx, []Cond{{Attr: attr, Value: value}}, []string{t.anchorAttr})
			if err != nil {
				return false, err
			}
			for _, u := range users {
				if a, _ := u.Attrs.String(t.anchorAttr); a != anchor {
					return true, nil
				}
			}
			return false, nil
		},
	})
	if err != nil {
		if directory.Retryable(err) {
			return desired{}, fmt.Errorf("map attributes of %s for %s: %w", src.id, t.name, err)
		}
		return desired{}, fmt.Errorf("map attributes of %s for %s: %w: %w", src.id, t.name, err, ErrPermanent)
	}
	attrs := res.Attrs
	if attrs == nil {
		attrs = directory.Attributes{}
	}
	attrs[t.anchorAttr] = anchor
	if v, _ := attrs.String("userType"); v == "" {
		// Without a userType mapping (or with one that gives no value), the
		// target's setting applies on create only, as Cross-Tenant
		// Synchronization does: an adopted guest stays a guest, and a
		// target user's userType is never cleared.
		delete(attrs, "userType")
		if op == mapping.Create {
			attrs["userType"] = string(userType(t.cfg))
		}
	}
	addr, err := t.inviteAddress.Eval(&expr.Env{Attrs: src.user.Attrs, Now: e.now})
	if err != nil && !errors.Is(err, expr.ErrIgnoreFlow) {
		return desired{}, fmt.Errorf("evaluate inviteAddress of %s for %s: %w: %w", src.id, t.name, err, ErrPermanent)
	}
	s, _ := addr.(string)
	return desired{
		attrs:          attrs,
		manager:        res.Manager,
		managerApplies: res.ManagerApplies,
		address:        strings.TrimSpace(s),
		redacted:       res.Redacted,
	}, nil
}

func userType(t config.Target) config.UserType {
	if t.UserType == "" {
		return config.Member
	}
	return t.UserType
}
