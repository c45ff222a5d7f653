package statuspage

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/internal/store"
)

// Snapshot is everything the page shows, read in one request. It is also
// the document the JSON variant returns.
type Snapshot struct {
	Title       string    `json:"title"`
	GeneratedAt time.Time `json:"generatedAt"`
	Source      Source    `json:"source"`
	// Health is the worst of the targets' health, and "attention" when
	// changes were dead-lettered.
	Health string `json:"health"`
	// DeadLetters counts the dead-lettered changes (Options.DeadLetters),
	// -1 when they could not be counted.
	DeadLetters int `json:"deadLetters"`
	// DeadLetterList are the oldest dead letters (Options.ListDeadLetters),
	// up to maxDeadLettersListed.
	DeadLetterList []DeadLetter `json:"deadLetterList,omitempty"`
	// Notifications says whether change notifications are configured
	// (Options.Notifications): then no live subscription is a problem.
	Notifications bool `json:"notifications"`
	// SubscriptionFailure is the subscription manager's last failure, if
	// its last run failed (Options.SubscriptionFailure).
	SubscriptionFailure *RunFailure `json:"subscriptionFailure,omitempty"`
	// ReconcileFailure is the last reconcile's failure, if it failed
	// (Options.ReconcileFailure).
	ReconcileFailure *RunFailure `json:"reconcileFailure,omitempty"`
	// Attention lists what needs an operator outside any one target.
	Attention []Attention `json:"attention,omitempty"`
	// Pipeline holds the pipeline's counters (Options.Counters), if any.
	Pipeline      map[string]int64 `json:"pipeline,omitempty"`
	Subscriptions []Subscription   `json:"subscriptions"`
	Targets       []TargetSummary  `json:"targets"`
	// Selected is the target whose events, deletions and latency the page
	// details: the one asked for with ?target=, else the first.
	Selected *TargetDetail `json:"selected,omitempty"`
	// Problems name what could not be read; the details are in the log.
	Problems []string `json:"problems,omitempty"`
}

// Source is the state of the source tenant's delta queries.
type Source struct {
	Tenant     string      `json:"tenant"`
	Watermarks []Watermark `json:"watermarks"`
}

// Watermark is where the delta query of one source resource stands.
type Watermark struct {
	Resource string `json:"resource"`
	// Present is false when no delta query has completed yet.
	Present    bool      `json:"present"`
	TakenAt    time.Time `json:"takenAt,omitzero"`
	AgeSeconds int64     `json:"ageSeconds,omitempty"`
	FullSyncAt time.Time `json:"fullSyncAt,omitzero"`
}

// Subscription is a Graph subscription, without its client state.
type Subscription struct {
	ID            string    `json:"id"`
	Tenant        string    `json:"tenant"`
	Resource      string    `json:"resource"`
	Expiry        time.Time `json:"expiry"`
	ExpiresIn     int64     `json:"expiresInSeconds"`
	ClientStateID string    `json:"clientStateId,omitempty"`
	Created       time.Time `json:"created,omitzero"`
	// Health is "ok", "expiring" (within a day) or "expired".
	Health string `json:"health"`
}

// RunFailure is a failed run of a timer function: when, and why.
type RunFailure struct {
	Time  time.Time `json:"time"`
	Error string    `json:"error"`
}

// runFailure calls a failure source: nil when it is not set or reports
// no failure.
func runFailure(f func() (time.Time, error)) *RunFailure {
	if f == nil {
		return nil
	}
	at, err := f()
	if err == nil {
		return nil
	}
	return &RunFailure{Time: at.UTC(), Error: oneLine(err.Error())}
}

// oneLine folds the lines of a joined error into one.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), "; ")
}

// subscriptionExpiring is how close to its expiry a subscription is shown
// as expiring. The subscription manager renews them every 6 hours by default.
const subscriptionExpiring = 24 * time.Hour

// LinkCounts count a target's links by state.
type LinkCounts struct {
	Total       int `json:"total"`
	Active      int `json:"active"`
	Disabled    int `json:"disabled"`
	Deleted     int `json:"deleted"`
	Staged      int `json:"staged"`
	Pending     int `json:"pending"`
	Conflict    int `json:"conflict"`
	Quarantined int `json:"quarantined"`
	// Other counts links in a state this page does not know.
	Other int `json:"other,omitempty"`
	// Failing counts links that carry an error from their last attempt.
	Failing int `json:"failing"`
}

// addState counts n links in a state.
func (c *LinkCounts) addState(state store.LinkState, n int) {
	c.Total += n
	switch state {
	case store.LinkActive:
		c.Active += n
	case store.LinkDisabled:
		c.Disabled += n
	case store.LinkDeleted:
		c.Deleted += n
	case store.LinkStaged:
		c.Staged += n
	case store.LinkPending:
		c.Pending += n
	case store.LinkConflict:
		c.Conflict += n
	case store.LinkQuarantined:
		c.Quarantined += n
	default:
		c.Other += n
	}
}

// addFailing counts n links in a state that carry an error; a conflict's
// error is the conflict, counted as such.
func (c *LinkCounts) addFailing(state store.LinkState, n int) {
	if state != store.LinkConflict {
		c.Failing += n
	}
}

// Quarantine says that work on a target is paused.
type Quarantine struct {
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
	// Quarantines counts the quarantines in a row, this one included.
	Quarantines int `json:"quarantines"`
}

// Attention is something that needs an operator: what, how many, and the
// command that resolves it.
type Attention struct {
	What    string `json:"what"`
	Count   int    `json:"count"`
	Command string `json:"command"`
}

// Health values, worst first.
const (
	HealthQuarantined = "quarantined"
	HealthAttention   = "attention"
	HealthNotYet      = "not reconciled yet"
	HealthHealthy     = "healthy"
)

// healthRank orders health values, worst first.
var healthRank = map[string]int{HealthQuarantined: 0, HealthAttention: 1, HealthNotYet: 2, HealthHealthy: 3}

// worse returns the worse of two health values.
func worse(a, b string) string {
	if healthRank[b] < healthRank[a] {
		return b
	}
	return a
}

// TargetSummary is the state of one target, as the overview shows it.
type TargetSummary struct {
	Name              string     `json:"name"`
	Links             LinkCounts `json:"links"`
	LastReconcile     time.Time  `json:"lastReconcile,omitzero"`
	LastFullReconcile time.Time  `json:"lastFullReconcile,omitzero"`
	// Health is computed from the facts below: quarantined, attention
	// (the last sync or reconcile failed, held deletions, conflicts, users
	// failing, reconcile overdue), not reconciled yet, or healthy.
	Health string `json:"health"`
	// Attention says what needs an operator, each with its command.
	Attention []Attention `json:"attention,omitempty"`
	// Quarantine is set while the target is quarantined.
	Quarantine *Quarantine `json:"quarantine,omitempty"`
	// Actions are the engine's counters from the target's status record,
	// since it was created: deprovisions and quarantines.
	Actions map[string]int64 `json:"actions,omitempty"`
	// RecentActions count what the provisioning log says was done in the
	// last day, one per event, by the words of Outcomes: every kind, not
	// only the deprovisions the status record counts.
	RecentActions map[string]int64 `json:"recentActions,omitempty"`
	// RecentSince is where RecentActions start: a day ago, or the oldest
	// event read when the day holds more than a page reads
	// (Options.MaxActionEvents).
	RecentSince time.Time `json:"recentSince,omitzero"`
	// LastSync is the time of the target's newest provisioning event.
	LastSync time.Time `json:"lastSync,omitzero"`
	// LastSyncFailed is true when that newest event is a failure: the
	// target, or Graph on the way to it, failed the last sync.
	LastSyncFailed bool `json:"lastSyncFailed,omitempty"`
	// LastError is the newest failed event among those read, with its
	// reason.
	LastError         *Event `json:"lastError,omitempty"`
	StagedDeletions   int    `json:"stagedDeletions"`
	ApprovedDeletions int    `json:"approvedDeletions"`
	// GroupLinks count the target's group links by state (groups.go); nil
	// for a target with none.
	GroupLinks *GroupCounts `json:"groupLinks,omitempty"`
}

// TargetDetail is the selected target's events, deletions and latency.
type TargetDetail struct {
	Name      string     `json:"name"`
	Deletions []Deletion `json:"deletions"`
	// Filter is the log filter asked for (?user=, ?action=, ?failed=1,
	// ?since=); Events are those it selects.
	Filter *LogFilter `json:"filter,omitempty"`
	// Events are one page of the provisioning log, newest first.
	Events []Event `json:"events"`
	// Scanned is how many events were read to find this page's, when a
	// filter is set.
	Scanned int `json:"scanned,omitempty"`
	// Page is the continuation token of this page (empty: the newest).
	Page string `json:"page,omitempty"`
	// Next is the continuation token of the next (older) page, empty on the
	// last one.
	Next    string       `json:"next,omitempty"`
	Latency LatencyChart `json:"latency"`
}

// Deletion is a deprovision held back by the deletion guard, as the status
// page and `deletions list --json` show it.
type Deletion struct {
	Target    string    `json:"target"`
	SourceID  string    `json:"sourceId"`
	TargetID  string    `json:"targetId"`
	SourceUPN string    `json:"userPrincipalName"`
	Action    string    `json:"action"`
	Reason    string    `json:"reason"`
	StagedAt  time.Time `json:"stagedAt"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	Approved  bool      `json:"approved"`
}

// Event is one provisioning event.
type Event struct {
	Time      time.Time `json:"time"`
	SourceID  string    `json:"sourceId"`
	TargetID  string    `json:"targetId,omitempty"`
	SourceUPN string    `json:"userPrincipalName,omitempty"`
	Action    string    `json:"action"`
	Result    string    `json:"result"`
	// Outcome is the event in the words of Outcomes.
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	Changes string `json:"changes,omitempty"`
	// Attributes are the names of the attributes Changes changed.
	Attributes []string `json:"attributes,omitempty"`
	RequestIDs []string `json:"requestIds,omitempty"`
	Error      string   `json:"error,omitempty"`
	// LatencyMs is the time from the source change to the write, when known.
	LatencyMs int64 `json:"latencyMs,omitempty"`
	// Trigger is why the sync ran (store.Event.Trigger).
	Trigger string `json:"trigger,omitempty"`
}

// snapshot reads everything the page shows. What cannot be read is logged
// and named in Problems, and the rest of the page is still shown: an
// operator looking at a failing system needs what can be had.
func (h *Handler) snapshot(ctx context.Context, req request) *Snapshot {
	now := h.opts.Now().UTC()
	s := &Snapshot{
		Title:         h.opts.Title,
		GeneratedAt:   now,
		Source:        Source{Tenant: h.opts.SourceTenant},
		Subscriptions: []Subscription{},
		Targets:       []TargetSummary{},
	}
	problem := func(what string, err error, attrs ...any) {
		h.log.WarnContext(ctx, "status page: "+what, append(attrs, "err", err)...)
		s.Problems = append(s.Problems, "Could not "+what+"; the log has the details.")
	}

	if h.opts.Counters != nil {
		s.Pipeline = maps.Clone(h.opts.Counters())
	}

	s.Notifications = h.opts.Notifications
	s.SubscriptionFailure = runFailure(h.opts.SubscriptionFailure)
	s.ReconcileFailure = runFailure(h.opts.ReconcileFailure)

	if h.opts.SourceTenant != "" {
		for _, res := range []string{"users", "groups"} {
			w := Watermark{Resource: res}
			wm, err := h.opts.Store.GetWatermark(ctx, h.opts.SourceTenant, res)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				problem("read the "+res+" watermark", err, "tenant", h.opts.SourceTenant)
			default:
				w.Present = !wm.TakenAt.IsZero() || wm.DeltaLink != ""
				w.TakenAt, w.FullSyncAt = wm.TakenAt.UTC(), wm.FullSyncAt.UTC()
				if !wm.TakenAt.IsZero() {
					w.AgeSeconds = int64(now.Sub(wm.TakenAt) / time.Second)
				}
			}
			s.Source.Watermarks = append(s.Source.Watermarks, w)
		}
	}

	subs, err := h.opts.Store.ListSubscriptions(ctx)
	if err != nil {
		problem("list the subscriptions", err)
	}
	for _, sub := range subs {
		v := Subscription{
			ID:            sub.ID,
			Tenant:        sub.Tenant,
			Resource:      sub.Resource,
			Expiry:        sub.Expiry.UTC(),
			ExpiresIn:     int64(sub.Expiry.Sub(now) / time.Second),
			ClientStateID: sub.ClientStateID,
			Created:       sub.Created.UTC(),
			Health:        "ok",
		}
		switch {
		case !sub.Expiry.After(now):
			v.Health = "expired"
		case sub.Expiry.Sub(now) < subscriptionExpiring:
			v.Health = "expiring"
		}
		s.Subscriptions = append(s.Subscriptions, v)
	}
	slices.SortFunc(s.Subscriptions, func(a, b Subscription) int { return a.Expiry.Compare(b.Expiry) })

	var selectedDeletions []store.Deletion
	s.Health = HealthHealthy
	for _, name := range h.opts.Targets {
		t, dels := h.summary(ctx, now, name, s.ReconcileFailure, problem)
		s.Targets = append(s.Targets, t)
		s.Health = worse(s.Health, t.Health)
		if name == req.target {
			selectedDeletions = dels
		}
	}
	if h.opts.DeadLetters != nil {
		n, err := h.opts.DeadLetters(ctx)
		switch {
		case err != nil:
			s.DeadLetters = -1
			problem("count the dead-lettered changes", err)
		case n > 0:
			s.DeadLetters = n
			s.Attention = append(s.Attention, Attention{What: count(n, "change", "changes") + " dead-lettered", Count: n,
				Command: "handler dlq list, then handler dlq resubmit once the cause is fixed"})
			s.Health = worse(s.Health, HealthAttention)
		}
	}
	if h.opts.ListDeadLetters != nil && s.DeadLetters != 0 {
		list, err := h.opts.ListDeadLetters(ctx, maxDeadLettersListed)
		if err != nil {
			problem("list the dead-lettered changes", err)
		}
		s.DeadLetterList = list
	}
	for _, a := range s.judgeSubscriptions(now) {
		s.Attention = append(s.Attention, a)
		s.Health = worse(s.Health, HealthAttention)
	}

	if req.target != "" {
		s.Selected = h.detail(ctx, now, req, selectedDeletions, problem)
	}
	return s
}

// summary reads one target's state; it also returns the target's staged
// deletions, which the detail section lists when the target is selected.
func (h *Handler) summary(ctx context.Context, now time.Time, name string, reconcile *RunFailure, problem func(string, error, ...any)) (TargetSummary, []store.Deletion) {
	t := TargetSummary{Name: name}
	err := h.countLinks(ctx, name, &t.Links)
	if err != nil {
		problem(fmt.Sprintf("count the links of target %s", name), err, "target", name)
	}

	st, err := h.opts.Store.GetStatus(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		problem(fmt.Sprintf("read the status of target %s", name), err, "target", name)
	default:
		t.LastReconcile = st.LastReconcile.UTC()
		t.LastFullReconcile = st.LastFullReconcile.UTC()
		if st.QuarantinedUntil.After(now) {
			t.Quarantine = &Quarantine{
				Until:       st.QuarantinedUntil.UTC(),
				Reason:      st.QuarantineReason,
				Quarantines: st.Quarantines,
			}
		}
		if len(st.Counters) > 0 {
			t.Actions = maps.Clone(st.Counters)
		}
	}

	dels, err := h.opts.Store.ListDeletions(ctx, name)
	if err != nil {
		problem(fmt.Sprintf("list the staged deletions of target %s", name), err, "target", name)
	}
	for _, d := range dels {
		if d.Approved {
			t.ApprovedDeletions++
		} else {
			t.StagedDeletions++
		}
	}
	if err := h.recent(ctx, now, &t); err != nil {
		problem(fmt.Sprintf("read the recent events of target %s", name), err, "target", name)
	}
	if t.GroupLinks, err = h.groupCounts(ctx, name, dels); err != nil {
		problem(fmt.Sprintf("read the group links of target %s", name), err, "target", name)
	}
	t.judge(now, h.opts.ReconcileEvery, reconcile)
	return t, dels
}

// recentWindow is how far back the actions a target summary counts go.
const recentWindow = 24 * time.Hour

// recent reads a target's events of the last day, newest first, up to
// Options.MaxActionEvents, for its counts by outcome, its newest event and
// its newest failure.
func (h *Handler) recent(ctx context.Context, now time.Time, t *TargetSummary) error {
	from := now.Add(-recentWindow)
	t.RecentSince = from
	read := 0
	token := ""
	for {
		page, err := h.opts.Store.ListEvents(ctx, t.Name, store.ListEventsOptions{Limit: min(chartPage, h.opts.MaxActionEvents-read), Page: token})
		if err != nil {
			return err
		}
		for _, ev := range page.Events {
			if ev.Time.Before(from) {
				return nil
			}
			if read == 0 {
				t.LastSync = ev.Time.UTC()
				t.LastSyncFailed = ev.Result == "error"
			}
			read++
			if ev.Result == "error" && t.LastError == nil {
				e := h.eventView(ev)
				t.LastError = &e
			}
			if t.RecentActions == nil {
				t.RecentActions = map[string]int64{}
			}
			t.RecentActions[Outcome(ev)]++
		}
		if page.Next == "" || len(page.Events) == 0 {
			return nil
		}
		if read >= h.opts.MaxActionEvents {
			t.RecentSince = page.Events[len(page.Events)-1].Time.UTC()
			return nil
		}
		token = page.Next
	}
}

// judge computes a target's health and what needs attention from the facts
// read: every is how often the reconcile timer runs, reconcile the last
// reconcile's failure, if any. A target whose last sync or reconcile failed
// needs attention even if it was never reconciled: Graph out of reach, or
// refusing, must not look like a system that has not started yet.
func (t *TargetSummary) judge(now time.Time, every time.Duration, reconcile *RunFailure) {
	add := func(what string, n int, command string) {
		t.Attention = append(t.Attention, Attention{What: what, Count: n, Command: command})
	}
	if q := t.Quarantine; q != nil {
		add("quarantined until "+q.Until.Format(time.RFC3339)+": "+q.Reason, 1, "handler resume --target "+t.Name)
	}
	if e := t.LastError; t.LastSyncFailed && e != nil {
		user := e.SourceUPN
		if user == "" {
			user = e.SourceID
		}
		add(fmt.Sprintf("the last sync failed %s (%s %s): %s", ago(now, e.Time), e.Action, user, e.Error), 1,
			"handler log --target "+t.Name+" --failed lists the failures; handler validate --online checks the tenant's access")
	}
	if r := reconcile; r != nil && r.Time.After(t.LastReconcile) {
		add(fmt.Sprintf("the last reconcile failed %s: %s", ago(now, r.Time), r.Error), 1,
			"handler validate --online checks each tenant's access; handler reconcile runs one now")
	}
	if n := t.StagedDeletions - t.GroupLinks.heldDeletions(); n > 0 {
		add(count(n, "deprovision held", "deprovisions held")+" by the deletion guard, awaiting approval", n,
			"handler deletions list --target "+t.Name+", then handler deletions approve --target "+t.Name+" SOURCE-ID… (or --all)")
	}
	if n := t.Links.Conflict; n > 0 {
		add(count(n, "user", "users")+" in conflict with a target user that is not provably theirs", n,
			"handler plan lists them; handler adopt --target "+t.Name+" --source-user ID --target-user ID if one is")
	}
	t.Attention = append(t.Attention, t.GroupLinks.attention(t.Name)...)
	if n := t.Links.Failing; n > 0 {
		add(count(n, "user", "users")+" whose last attempt failed", n, "handler status shows the recent errors; handler status --user USER shows one")
	}
	if every <= 0 {
		every = DefaultReconcileEvery
	}
	if since := now.Sub(t.LastReconcile); !t.LastReconcile.IsZero() && since > 2*every {
		add(fmt.Sprintf("reconcile overdue: none for %s, and the schedule runs one every %s", approx(since), approx(every)), 1,
			"handler reconcile runs one now; check that the Reconcile timer runs (the Function App, or handler local)")
	}
	switch {
	case t.Quarantine != nil:
		t.Health = HealthQuarantined
	case len(t.Attention) > 0:
		t.Health = HealthAttention
	case t.LastReconcile.IsZero():
		t.Health = HealthNotYet
	default:
		t.Health = HealthHealthy
	}
}

// judgeSubscriptions says what is wrong with change notifications: with
// notifications configured, a resource without a live subscription (set-up
// failed, or nothing renewed it) leaves its changes to the reconcile
// timer, and the subscription manager's failure says why.
func (s *Snapshot) judgeSubscriptions(now time.Time) []Attention {
	var out []Attention
	if f := s.SubscriptionFailure; f != nil {
		out = append(out, Attention{What: fmt.Sprintf("change-notification subscription set-up failed %s: %s", ago(now, f.Time), f.Error), Count: 1,
			Command: "handler validate --online checks that the source can list subscriptions; the SubscriptionManager function's log has the details"})
	}
	if !s.Notifications {
		return out
	}
	for _, res := range []string{"/users", "/groups"} {
		live := false
		for _, sub := range s.Subscriptions {
			live = live || (sub.Resource == res && sub.Health != "expired")
		}
		if !live {
			out = append(out, Attention{What: "no live change-notification subscription for " + res + ": its changes wait for the reconcile timer", Count: 1,
				Command: "handler validate --online checks that the source can list subscriptions; the SubscriptionManager function creates them"})
		}
	}
	return out
}

// count writes "1 user", "2 users".
func count(n int, one, many string) string { return fmt.Sprintf("%d %s", n, plural(n, one, many)) }

// DeletionOf converts a stored deletion.
func DeletionOf(d store.Deletion) Deletion {
	return Deletion{
		Target: d.Target, SourceID: d.SourceID, TargetID: d.TargetID, SourceUPN: d.SourceUPN,
		Action: d.Action, Reason: d.Reason, StagedAt: d.StagedAt.UTC(), ExpiresAt: d.ExpiresAt.UTC(), Approved: d.Approved,
	}
}

func (h *Handler) detail(ctx context.Context, now time.Time, req request, dels []store.Deletion, problem func(string, error, ...any)) *TargetDetail {
	d := &TargetDetail{Name: req.target, Page: req.page, Deletions: []Deletion{}, Events: []Event{}}
	for _, del := range dels {
		d.Deletions = append(d.Deletions, DeletionOf(del))
	}
	// Oldest first: the one that expires first is the one to decide on first.
	slices.SortStableFunc(d.Deletions, func(a, b Deletion) int { return a.StagedAt.Compare(b.StagedAt) })

	f := req.filter.eventFilter(now)
	if !f.IsZero() {
		lf := req.filter
		d.Filter = &lf
	}
	found, err := FindEvents(ctx, h.opts.Store, req.target, f, req.page, eventsPerPage, maxFilterScan)
	if err != nil {
		problem(fmt.Sprintf("read this page of events of target %s", req.target), err, "target", req.target)
	}
	for _, ev := range found.Events {
		d.Events = append(d.Events, h.eventView(ev))
	}
	d.Next = found.Next
	if !f.IsZero() {
		d.Scanned = found.Scanned
	}

	d.Latency, err = h.latency(ctx, now, req.target)
	if err != nil {
		problem(fmt.Sprintf("read the events of the last hour of target %s", req.target), err, "target", req.target)
	}
	return d
}

// eventView is the event as the page shows it: with Options.AttributeNamesOnly
// a user's diff values are left out and only the attributes' names are
// shown. A group's are kept: its name, description and member counts are
// not personal data, and without the counts the page could not say what a
// membership change did.
func (h *Handler) eventView(ev store.Event) Event {
	e := eventView(ev)
	if h.opts.AttributeNamesOnly && !strings.HasPrefix(ev.Action, "group ") {
		e.Changes = ""
	}
	return e
}

func eventView(ev store.Event) Event {
	return Event{
		Time:       ev.Time.UTC(),
		SourceID:   ev.SourceID,
		TargetID:   ev.TargetID,
		SourceUPN:  ev.SourceUPN,
		Action:     ev.Action,
		Result:     ev.Result,
		Outcome:    Outcome(ev),
		Reason:     ev.Reason,
		Changes:    ev.Changes,
		Attributes: ChangedAttributes(ev.Changes),
		RequestIDs: ev.RequestIDs,
		Error:      ev.Error,
		LatencyMs:  ev.Latency.Milliseconds(),
		Trigger:    ev.Trigger,
	}
}

// latency reads the events of the last hour, newest first, up to
// MaxChartEvents, and buckets their latencies.
func (h *Handler) latency(ctx context.Context, now time.Time, target string) (LatencyChart, error) {
	from := now.Add(-chartWindow)
	var (
		samples   []sample
		scanned   int
		truncated bool
		token     string
	)
scan:
	for {
		limit := min(chartPage, h.opts.MaxChartEvents-scanned)
		page, err := h.opts.Store.ListEvents(ctx, target, store.ListEventsOptions{Limit: limit, Page: token})
		if err != nil {
			return buildChart(now, samples, truncated), err
		}
		for _, ev := range page.Events {
			if ev.Time.Before(from) {
				break scan
			}
			scanned++
			if ev.Latency > 0 {
				samples = append(samples, sample{at: ev.Time, latency: ev.Latency})
			}
		}
		if page.Next == "" || len(page.Events) == 0 {
			break
		}
		if scanned >= h.opts.MaxChartEvents {
			truncated = true
			break
		}
		token = page.Next
	}
	return buildChart(now, samples, truncated), nil
}
