package operator

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tenantsync/tenantsync/internal/statuspage"
	"github.com/tenantsync/tenantsync/internal/store"
)

// DefaultRecentErrors is how many failed events status shows per target.
const DefaultRecentErrors = 10

// maxErrorScan bounds how many events status reads per target looking for
// failures, so that a long healthy log costs a bounded read.
const maxErrorScan = 2000

// Status is what `handler status` shows: the status page's overview (delta
// watermarks, subscriptions, per-target summaries) and each target's
// recent failures.
type Status struct {
	GeneratedAt time.Time `json:"generatedAt"`
	// Store names where the state was read, without keys.
	Store string `json:"store"`
	// Health is the worst of the targets', or attention for dead letters.
	Health string `json:"health"`
	// DeadLetters counts dead-lettered changes (-1: could not be counted).
	DeadLetters int `json:"deadLetters"`
	// DeadLetterList are the oldest of them, when they could be listed.
	DeadLetterList []statuspage.DeadLetter `json:"deadLetterList,omitempty"`
	// Notifications says whether change notifications are configured.
	Notifications bool `json:"notifications"`
	// Attention lists what needs an operator outside any one target.
	Attention     []statuspage.Attention    `json:"attention,omitempty"`
	Source        statuspage.Source         `json:"source"`
	Subscriptions []statuspage.Subscription `json:"subscriptions"`
	Targets       []TargetStatus            `json:"targets"`
	// Problems name what could not be read, with the reason.
	Problems []string `json:"problems,omitempty"`
}

// TargetStatus is one target's summary and its recent failures.
type TargetStatus struct {
	statuspage.TargetSummary
	// RecentErrors are the newest failed provisioning events, newest first.
	RecentErrors []FailedEvent `json:"recentErrors"`
	// Groups summarises the synced groups (groups.go); nil when none.
	Groups *GroupStatus `json:"groups,omitempty"`
}

// FailedEvent is a provisioning event that failed.
type FailedEvent struct {
	Time       time.Time `json:"time"`
	SourceID   string    `json:"sourceId"`
	SourceUPN  string    `json:"userPrincipalName,omitempty"`
	TargetID   string    `json:"targetId,omitempty"`
	Action     string    `json:"action"`
	Error      string    `json:"error"`
	RequestIDs []string  `json:"requestIds,omitempty"`
}

// StatusOptions configure ReadStatus.
type StatusOptions struct {
	Store store.Store
	// StoreName describes the store for people (storeopen.Settings.String).
	StoreName    string
	SourceTenant string
	Targets      []string
	// RecentErrors is how many failed events to show per target; 0 means
	// DefaultRecentErrors.
	RecentErrors int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// DeadLetters, when set, counts the dead-lettered changes, and
	// ListDeadLetters lists the oldest.
	DeadLetters     func(ctx context.Context) (int, error)
	ListDeadLetters func(ctx context.Context, max int) ([]statuspage.DeadLetter, error)
	// Notifications says that change notifications are configured
	// (TENANTSYNC_WEBHOOK_URL is set): no live subscription is then a
	// problem.
	Notifications bool
	// ReconcileEvery is how often the Reconcile timer runs (its schedule);
	// 0 means statuspage.DefaultReconcileEvery.
	ReconcileEvery time.Duration
}

// ReadStatus reads the status from the store. What cannot be read is named
// in Problems and the rest is still returned, as on the status page.
func ReadStatus(ctx context.Context, opts StatusOptions) (*Status, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RecentErrors <= 0 {
		opts.RecentErrors = DefaultRecentErrors
	}
	problems := &problemLog{}
	page, err := statuspage.New(statuspage.Options{
		Store:           opts.Store,
		SourceTenant:    opts.SourceTenant,
		Targets:         opts.Targets,
		Now:             opts.Now,
		DeadLetters:     opts.DeadLetters,
		ListDeadLetters: opts.ListDeadLetters,
		Notifications:   opts.Notifications,
		ReconcileEvery:  opts.ReconcileEvery,
		Logger:          slog.New(problems),
	})
	if err != nil {
		return nil, err
	}
	snap := page.Overview(ctx)
	s := &Status{
		GeneratedAt:    snap.GeneratedAt,
		Store:          opts.StoreName,
		Health:         snap.Health,
		DeadLetters:    snap.DeadLetters,
		DeadLetterList: snap.DeadLetterList,
		Notifications:  snap.Notifications,
		Attention:      snap.Attention,
		Source:         snap.Source,
		Subscriptions:  snap.Subscriptions,
		Targets:        make([]TargetStatus, 0, len(snap.Targets)),
	}
	s.Problems = problems.list()
	if len(s.Problems) == 0 {
		s.Problems = snap.Problems
	}
	for _, t := range snap.Targets {
		ts := TargetStatus{TargetSummary: t, RecentErrors: []FailedEvent{}}
		if ts.Groups, err = readGroupStatus(ctx, opts.Store, t.Name); err != nil {
			s.Problems = append(s.Problems, err.Error())
		}
		evs, err := RecentErrors(ctx, opts.Store, t.Name, opts.RecentErrors)
		if err != nil {
			s.Problems = append(s.Problems, err.Error())
		}
		for _, ev := range evs {
			ts.RecentErrors = append(ts.RecentErrors, FailedEvent{
				Time: ev.Time.UTC(), SourceID: ev.SourceID, SourceUPN: ev.SourceUPN, TargetID: ev.TargetID,
				Action: ev.Action, Error: ev.Error, RequestIDs: ev.RequestIDs,
			})
		}
		s.Targets = append(s.Targets, ts)
	}
	return s, nil
}

// RecentErrors returns up to n of a target's newest failed events, newest
// first, reading at most a bounded number of events.
func RecentErrors(ctx context.Context, st store.Store, target string, n int) ([]store.Event, error) {
	var out []store.Event
	token := ""
	for scanned := 0; scanned < maxErrorScan; {
		page, err := st.ListEvents(ctx, target, store.ListEventsOptions{Limit: 200, Page: token})
		if err != nil {
			return out, fmt.Errorf("read the events of target %s: %w", target, err)
		}
		for _, ev := range page.Events {
			if ev.Result == "error" {
				out = append(out, ev)
				if len(out) == n {
					return out, nil
				}
			}
		}
		scanned += len(page.Events)
		if page.Next == "" || len(page.Events) == 0 {
			break
		}
		token = page.Next
	}
	return out, nil
}

// problemLog is a slog.Handler that keeps the warnings of the status page
// as "could not …: reason" lines, for a command that must show them rather
// than log them.
type problemLog struct {
	mu    sync.Mutex
	lines []string
}

func (p *problemLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (p *problemLog) Handle(_ context.Context, r slog.Record) error {
	msg := strings.TrimPrefix(r.Message, "status page: ")
	var reason string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			reason = a.Value.String()
		}
		return true
	})
	line := "could not " + msg
	if reason != "" {
		line += ": " + reason
	}
	p.mu.Lock()
	p.lines = append(p.lines, line)
	p.mu.Unlock()
	return nil
}

func (p *problemLog) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *problemLog) WithGroup(string) slog.Handler      { return p }

func (p *problemLog) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lines)
}

// WriteStatus writes the status for people: the health and what needs
// attention, each with its command; the source's delta queries and
// subscriptions; the dead letters; and per target its reconciles, links,
// last sync and last error, quarantine, staged deletions, the actions of
// the last day and the newest failures.
func WriteStatus(w io.Writer, s *Status) error {
	now := s.GeneratedAt
	fmt.Fprintf(w, "Health: %s\n", s.Health)
	for _, a := range s.Attention {
		fmt.Fprintf(w, "  attention: %s: %s\n", clean(a.What), a.Command)
	}
	fmt.Fprintf(w, "State: %s\n", clean(s.Store))
	fmt.Fprintf(w, "Source: %s\n", clean(s.Source.Tenant))
	t := newTable(w)
	for _, wm := range s.Source.Watermarks {
		if !wm.Present {
			t.row("  "+wm.Resource+" delta", "none yet: the first reconcile runs a full pass")
			continue
		}
		t.row("  "+wm.Resource+" delta", fmt.Sprintf("taken %s (%s); last full pass %s", timestamp(wm.TakenAt), ago(now, wm.TakenAt), fullPass(now, wm.FullSyncAt)))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "Subscriptions:")
	switch {
	case len(s.Subscriptions) > 0:
		t = newTable(w)
		for _, sub := range s.Subscriptions {
			t.row("  "+sub.Resource, sub.ID, "expires "+timestamp(sub.Expiry)+" ("+ago(now, sub.Expiry)+")", sub.Health)
		}
		if err := t.flush(); err != nil {
			return err
		}
	case s.Notifications:
		fmt.Fprintln(w, "  none, though change notifications are configured: subscription set-up has not succeeded, so changes wait for the reconcile timer")
	default:
		fmt.Fprintln(w, "  none (change notifications are off, or the subscription manager has not run)")
	}
	if err := writeDeadLetterSummary(w, now, s); err != nil {
		return err
	}
	for _, ts := range s.Targets {
		fmt.Fprintf(w, "\nTarget %s\n", ts.Name)
		t = newTable(w)
		if ts.LastReconcile.IsZero() {
			t.row("  last reconcile", "never")
		} else {
			t.row("  last reconcile", fmt.Sprintf("%s (%s); last full %s", timestamp(ts.LastReconcile), ago(now, ts.LastReconcile), fullPass(now, ts.LastFullReconcile)))
		}
		t.row("  linked users", linkCounts(ts.Links))
		t.row("  health", ts.Health)
		for _, a := range ts.Attention {
			t.row("    attention", a.What+": "+a.Command)
		}
		if !ts.LastSync.IsZero() {
			result := "ok"
			if ts.LastSyncFailed {
				result = "failed"
			}
			t.row("  last sync", fmt.Sprintf("%s (%s): %s", timestamp(ts.LastSync), ago(now, ts.LastSync), result))
		}
		if e := ts.LastError; e != nil {
			t.row("  last error", fmt.Sprintf("%s (%s) %s %s: %s", timestamp(e.Time), ago(now, e.Time), e.Action, userOf(e.SourceUPN, e.SourceID), e.Error))
		}
		switch q := ts.Quarantine; {
		case q != nil:
			t.row("  quarantine", fmt.Sprintf("until %s (%s), quarantine %d in a row: %s", timestamp(q.Until), ago(now, q.Until),
				q.Quarantines, q.Reason))
		default:
			t.row("  quarantine", "none")
		}
		t.row("  staged deletions", fmt.Sprintf("%d waiting, %d approved", ts.StagedDeletions, ts.ApprovedDeletions))
		if len(ts.RecentActions) > 0 {
			t.row("  actions", fmt.Sprintf("%s in the last %s", actionCounts(ts.RecentActions), approx(now.Sub(ts.RecentSince))))
		}
		if len(ts.Actions) > 0 {
			t.row("  counters", actionCounts(ts.Actions)+" since the status record was created")
		}
		if len(ts.RecentErrors) == 0 {
			t.row("  recent errors", "none")
		} else {
			t.row("  recent errors", fmt.Sprintf("%d newest:", len(ts.RecentErrors)))
		}
		if err := t.flush(); err != nil {
			return err
		}
		if err := writeGroupStatus(w, ts.Groups); err != nil {
			return err
		}
		if len(ts.RecentErrors) > 0 {
			t = newTable(w, "    TIME", "USER", "ACTION", "ERROR")
			for _, ev := range ts.RecentErrors {
				t.row("    "+timestamp(ev.Time), userOf(ev.SourceUPN, ev.SourceID), ev.Action, ev.Error)
			}
			if err := t.flush(); err != nil {
				return err
			}
		}
	}
	if len(s.Problems) > 0 {
		fmt.Fprintln(w, "\nProblems:")
		for _, p := range s.Problems {
			fmt.Fprintf(w, "  %s\n", clean(p))
		}
	}
	return nil
}

// writeDeadLetterSummary writes how many changes were dead-lettered, and
// the oldest when they were listed.
func writeDeadLetterSummary(w io.Writer, now time.Time, s *Status) error {
	switch {
	case s.DeadLetters < 0:
		fmt.Fprintln(w, "Dead letters: could not be counted (see the problems below)")
		return nil
	case s.DeadLetters == 0:
		return nil
	}
	fmt.Fprintf(w, "Dead letters: %s (handler dlq list shows them; handler dlq resubmit sends them again)\n", plural(s.DeadLetters, "change", "changes"))
	if len(s.DeadLetterList) == 0 {
		return nil
	}
	t := newTable(w)
	for _, d := range s.DeadLetterList {
		enq := "-"
		if !d.EnqueuedAt.IsZero() {
			enq = ago(now, d.EnqueuedAt)
		}
		t.row("  "+orDash(d.Change), d.ID, enq, plural(d.DeliveryCount, "delivery", "deliveries"), d.Reason)
	}
	return t.flush()
}

// userOf names a user by userPrincipalName, else by object id.
func userOf(upn, id string) string {
	if upn != "" {
		return upn
	}
	return id
}

func fullPass(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return timestamp(t) + " (" + ago(now, t) + ")"
}

func linkCounts(c statuspage.LinkCounts) string {
	s := fmt.Sprintf("%d: %d active, %d disabled, %d deleted, %d pending, %d staged, %d in conflict, %d quarantined",
		c.Total, c.Active, c.Disabled, c.Deleted, c.Pending, c.Staged, c.Conflict, c.Quarantined)
	if c.Other > 0 {
		s += fmt.Sprintf(", %d other", c.Other)
	}
	if c.Failing > 0 {
		s += fmt.Sprintf(" (%d failing)", c.Failing)
	}
	return s
}

// actionCounts renders counts by outcome in the order of
// statuspage.Outcomes, then any other names.
func actionCounts(m map[string]int64) string {
	c := Counts{}
	for k, n := range m {
		c[k] = int(n)
	}
	return c.String()
}
