package statuspage

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/internal/store"
)

// Outcomes are the words tenantsync reports what it did (or, in a plan,
// would do) to one user in one target with, in the order they are shown:
// plan, reconcile, the provisioning log and the status page count and
// filter with the same words, one per user per target.
func Outcomes() []string {
	return []string{"create", "update", "disable", "deprovision", "restore", "adopt",
		"pending", "held", "conflict", "skip", "drift", "failed", "cancelled"}
}

// Outcome is what a provisioning event says happened, as one of Outcomes:
// a failure is "failed" whatever it tried, a deprovision the deletion guard
// staged is "held", one still waiting out its settle delay "pending", a
// user kept from a target user in the way "conflict"; otherwise the action.
// A group's event is "group " and the word ("group create", "group
// conflict", "group failed"), as reconcile counts them.
func Outcome(ev store.Event) string {
	o := outcome(ev)
	if strings.HasPrefix(ev.Action, "group ") && !strings.HasPrefix(o, "group ") {
		return "group " + o
	}
	return o
}

// outcome is Outcome's word, for a user's event or a group's.
func outcome(ev store.Event) string {
	switch ev.Result {
	case "error":
		return "failed"
	case "held":
		return "held"
	case "pending":
		return "pending"
	case "conflict":
		return "conflict"
	case "skipped":
		return "skip"
	case "cancelled":
		return "cancelled"
	}
	return ev.Action
}

// EventFilter selects provisioning events, for `handler log` and the
// status page's log section. The zero filter selects every event.
type EventFilter struct {
	// User is a source object id, a target object id or a
	// userPrincipalName (in any case).
	User string
	// Action is an action or one of Outcomes: "create" selects creates
	// whatever their result, "failed" every failure; groups' as well as
	// users' ("group create", "group failed").
	Action string
	// Failed keeps only failures.
	Failed bool
	// Since keeps only events at or after it.
	Since time.Time
}

// IsZero reports whether the filter selects every event.
func (f EventFilter) IsZero() bool { return f == EventFilter{} }

// Match reports whether the filter selects ev.
func (f EventFilter) Match(ev store.Event) bool {
	if f.User != "" && !strings.EqualFold(ev.SourceID, f.User) && !strings.EqualFold(ev.TargetID, f.User) &&
		!strings.EqualFold(ev.SourceUPN, f.User) {
		return false
	}
	if o := Outcome(ev); f.Action != "" && ev.Action != f.Action && o != f.Action && strings.TrimPrefix(o, "group ") != f.Action {
		return false
	}
	if f.Failed && ev.Result != "error" {
		return false
	}
	return f.Since.IsZero() || !ev.Time.Before(f.Since)
}

// CheckAction returns an error naming the words an action filter takes
// when a is none of them.
func CheckAction(a string) error {
	if a == "" || slices.Contains(Outcomes(), a) {
		return nil
	}
	return fmt.Errorf("unknown action %q: want one of %s", a, strings.Join(Outcomes(), ", "))
}

// ParseSince reads how far back to look: a Go duration such as "90m" or
// "1h", or a number of days such as "7d".
func ParseSince(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days > 0 {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("%q is not a duration: want one such as 30m, 1h or 7d", s)
}

// FoundEvents is a page of the events a filter selects, newest first.
type FoundEvents struct {
	Events []store.Event
	// Next continues the search after the last event read; empty when
	// the log, or the time the filter looks back to, is exhausted.
	Next string
	// Scanned is how many events were read to find them.
	Scanned int
}

// eventScanPage is the store page size a filtered search reads at a time.
// It is the same for every page of a search: a continuation token goes on
// from an offset into the store page it names.
const eventScanPage = 200

// FindEvents reads a target's provisioning events newest first, from the
// continuation token page on, and keeps those f selects, until it has
// limit of them or has read maxScan events: a search of a long log for a
// user who is rarely in it costs a bounded read, and Next goes on from
// where it stopped. Without a filter, the tokens are the store's; with
// one, a token is "<offset>-<store token>": where in the store page the
// search stopped.
func FindEvents(ctx context.Context, st store.Store, target string, f EventFilter, page string, limit, maxScan int) (FoundEvents, error) {
	var out FoundEvents
	if f.IsZero() {
		p, err := st.ListEvents(ctx, target, store.ListEventsOptions{Limit: limit, Page: page})
		if err != nil {
			return out, fmt.Errorf("read the events of target %s: %w", target, err)
		}
		return FoundEvents{Events: p.Events, Next: p.Next, Scanned: len(p.Events)}, nil
	}
	token, skip := "", 0
	if page != "" {
		n, rest, ok := strings.Cut(page, "-")
		off, err := strconv.Atoi(n)
		if !ok || err != nil || off < 0 {
			return out, fmt.Errorf("read the events of target %s: bad continuation token for a filtered search", target)
		}
		token, skip = rest, off
	}
	for {
		p, err := st.ListEvents(ctx, target, store.ListEventsOptions{Limit: eventScanPage, Page: token})
		if err != nil {
			return out, fmt.Errorf("read the events of target %s: %w", target, err)
		}
		for i := skip; i < len(p.Events); i++ {
			ev := p.Events[i]
			if !f.Since.IsZero() && ev.Time.Before(f.Since) {
				return out, nil // newest first: everything after is older still
			}
			out.Scanned++
			if f.Match(ev) {
				out.Events = append(out.Events, ev)
			}
			if len(out.Events) >= limit || out.Scanned >= maxScan {
				switch {
				case i+1 < len(p.Events):
					out.Next = strconv.Itoa(i+1) + "-" + token
				case p.Next != "":
					out.Next = "0-" + p.Next
				}
				return out, nil
			}
		}
		if p.Next == "" || len(p.Events) == 0 {
			return out, nil
		}
		token, skip = p.Next, 0
	}
}

// attributeName matches the name part of one change of the engine's diff
// summary ("department: Sales → Marketing").
var attributeName = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.]*): `)

// ChangedAttributes returns the names of the attributes an event's diff
// summary changed, without their values: what the log shows by default,
// as the engine's own log does.
func ChangedAttributes(changes string) []string {
	var names []string
	for _, part := range splitChanges(changes) {
		if m := attributeName.FindStringSubmatch(part); m != nil && !slices.Contains(names, m[1]) {
			names = append(names, m[1])
		}
	}
	return names
}
