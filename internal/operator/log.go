package operator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/internal/statuspage"
	"github.com/tenantsync/tenantsync/internal/store"
)

// DefaultLogLimit is how many events `handler log` shows.
const DefaultLogLimit = 50

// MaxLogScan bounds how many events one `handler log` reads per target to
// find those it shows.
const MaxLogScan = 20000

// LogOptions configure ReadLog.
type LogOptions struct {
	Store   store.Store
	Targets []string
	Filter  statuspage.EventFilter
	// Limit is how many events to show; 0 means DefaultLogLimit.
	Limit int
	// Page continues a search of one target from its Next.
	Page string
	// MaxScan bounds the events read per target; 0 means MaxLogScan.
	MaxScan int
}

// LogEntry is one provisioning event as `handler log` shows it: the
// attributes it changed by name, not their values, as the engine's own
// log names them.
type LogEntry struct {
	Time              time.Time `json:"time"`
	Target            string    `json:"target"`
	SourceID          string    `json:"sourceId"`
	UserPrincipalName string    `json:"userPrincipalName,omitempty"`
	TargetID          string    `json:"targetId,omitempty"`
	Action            string    `json:"action"`
	Result            string    `json:"result"`
	// Outcome is the event in the words plan and reconcile count with.
	Outcome    string   `json:"outcome"`
	Reason     string   `json:"reason,omitempty"`
	Attributes []string `json:"attributes,omitempty"`
	RequestIDs []string `json:"requestIds,omitempty"`
	Error      string   `json:"error,omitempty"`
	// Trigger is why the sync ran: notification, delta, full, group,
	// manager, guard, approve, ondemand, adopt.
	Trigger string `json:"trigger,omitempty"`
}

// Log is what `handler log` prints.
type Log struct {
	Events []LogEntry `json:"events"`
	// Next continues the search (--page) when one target was searched and
	// more may match; empty otherwise.
	Next string `json:"next,omitempty"`
	// More is true when more events matched than were shown, or the
	// search stopped at its bound before the log's end.
	More bool `json:"more,omitempty"`
	// Scanned is how many events were read.
	Scanned int `json:"scanned"`
}

// ReadLog reads the provisioning log of the targets, newest first, keeping
// the events the filter selects: up to Limit, across the targets merged by
// time.
func ReadLog(ctx context.Context, opts LogOptions) (*Log, error) {
	if opts.Limit <= 0 {
		opts.Limit = DefaultLogLimit
	}
	if opts.MaxScan <= 0 {
		opts.MaxScan = MaxLogScan
	}
	if opts.Page != "" && len(opts.Targets) != 1 {
		return nil, errors.New("read the log: --page continues the search of one target: give --target")
	}
	out := &Log{Events: []LogEntry{}}
	type found struct {
		target string
		ev     store.Event
	}
	var all []found
	for _, target := range opts.Targets {
		f, err := statuspage.FindEvents(ctx, opts.Store, target, opts.Filter, opts.Page, opts.Limit, opts.MaxScan)
		if err != nil {
			return nil, fmt.Errorf("read the log: %w", err)
		}
		out.Scanned += f.Scanned
		for _, ev := range f.Events {
			all = append(all, found{target, ev})
		}
		if f.Next != "" {
			out.More = true
			if len(opts.Targets) == 1 {
				out.Next = f.Next
			}
		}
	}
	slices.SortStableFunc(all, func(a, b found) int { return b.ev.Time.Compare(a.ev.Time) })
	if len(all) > opts.Limit {
		// Several targets: each gave up to Limit, the newest are shown.
		all, out.More = all[:opts.Limit], true
	}
	for _, f := range all {
		ev := f.ev
		out.Events = append(out.Events, LogEntry{
			Time: ev.Time.UTC(), Target: f.target, SourceID: ev.SourceID, UserPrincipalName: ev.SourceUPN, TargetID: ev.TargetID,
			Action: ev.Action, Result: ev.Result, Outcome: statuspage.Outcome(ev), Reason: ev.Reason,
			Attributes: statuspage.ChangedAttributes(ev.Changes), RequestIDs: ev.RequestIDs, Error: ev.Error,
			Trigger: ev.Trigger,
		})
	}
	return out, nil
}

// WriteLog writes the log for people: one row per event (time, target,
// user, action, result) with its reason, the attributes it changed, its
// error and its Graph request ids beneath. again is the command line that
// shows the next page, "" when there is none to give.
func WriteLog(w io.Writer, now time.Time, l *Log, again string) error {
	if len(l.Events) == 0 {
		fmt.Fprintf(w, "No events match (%s read).\n", plural(l.Scanned, "event", "events"))
		return nil
	}
	t := newTable(w, "TIME", "TARGET", "USER", "ACTION", "RESULT", "WHEN")
	for _, e := range l.Events {
		t.row(timestamp(e.Time), e.Target, userOf(e.UserPrincipalName, e.SourceID), e.Action, e.Result, ago(now, e.Time))
		if e.Reason != "" {
			t.text("    reason: " + e.Reason)
		}
		if e.Trigger != "" {
			t.text("    trigger: " + e.Trigger)
		}
		if len(e.Attributes) > 0 {
			t.text("    attributes: " + strings.Join(e.Attributes, ", "))
		}
		if e.Error != "" {
			t.text("    error: " + e.Error)
		}
		if len(e.RequestIDs) > 0 {
			t.text("    Graph request ids: " + strings.Join(e.RequestIDs, ", "))
		}
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%s shown, newest first (%s read).", plural(len(l.Events), "event", "events"), plural(l.Scanned, "event", "events"))
	switch {
	case l.Next != "" && again != "":
		fmt.Fprintf(w, " Older: %s --page %s", again, l.Next)
	case l.More:
		fmt.Fprint(w, " More may match: narrow the search, or give --limit or --target.")
	}
	_, err := fmt.Fprintln(w)
	return err
}
