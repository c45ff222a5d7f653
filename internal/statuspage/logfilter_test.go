package statuspage

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/store"
)

// TestLogFilter: the page's log section selects events by user, action,
// failure and age, and pages through what it selects.
func TestLogFilter(t *testing.T) {
	h := seedHandler(t)
	tests := []struct {
		name, query string
		wantIDs     []string // the source ids of the events shown, newest first; nil: check count only
		wantCount   int
	}{
		{"by userPrincipalName, any case", "user=ADELE.VANCE@fabrikam.example", []string{"src-ev-000"}, 1},
		{"by source id", "user=src-ev-005", []string{"src-ev-005"}, 1},
		{"by target id", "user=tgt-ev-004", []string{"src-ev-004"}, 1},
		{"failures only", "failed=1", []string{"src-ev-002"}, 1},
		{"failed as an action", "action=failed", []string{"src-ev-002"}, 1},
		{"creates", "action=create", []string{"src-ev-001"}, 1},
		{"skips, newest first", "action=skip", nil, seedRecent / 7},
		{"the last 2 minutes", "since=2m", []string{"src-ev-000", "src-ev-001", "src-ev-002", "src-ev-003", "src-ev-004"}, 5},
		{"no match", "user=nobody@fabrikam.example", []string{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := getJSON(t, h, "/?format=json&target=contoso&"+tc.query)
			d := s.Selected
			if d == nil || d.Filter == nil {
				t.Fatalf("selected %+v, want a filtered log", d)
			}
			var ids []string
			for _, ev := range d.Events {
				ids = append(ids, ev.SourceID)
			}
			if len(ids) != tc.wantCount || (tc.wantIDs != nil && strings.Join(ids, ",") != strings.Join(tc.wantIDs, ",")) {
				t.Errorf("events %v, want %v (%d)", ids, tc.wantIDs, tc.wantCount)
			}
		})
	}

	// The page keeps the filter in its form, its links and the command
	// that does the same search.
	_, page := get(t, h, http.MethodGet, "/?target=contoso&failed=1&since=1h&code=k")
	for _, want := range []string{
		`<input type="checkbox" name="failed" value="1" checked>`,
		`<option value="1h" selected>1h</option>`,
		`<input type="hidden" name="code" value="k">`,
		`<code>handler log --target contoso --failed --since 1h</code>`,
		`1 event found in 120 read.`,
		`<a class="clear" href="?code=k&amp;target=contoso">Clear</a>`,
		`href="?code=k&amp;target=contoso&amp;user=person002%40fabrikam.example"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("filtered page lacks %q", want)
		}
	}
}

// TestLogFilterPages: a filtered log pages on from where its search
// stopped, with the filter.
func TestLogFilterPages(t *testing.T) {
	h := seedHandler(t)
	s := getJSON(t, h, "/?format=json&target=contoso&action=update")
	first := len(s.Selected.Events)
	if first != eventsPerPage || s.Selected.Next == "" {
		t.Fatalf("first page of updates: %d events, next %q", first, s.Selected.Next)
	}
	seen := map[string]bool{}
	for _, ev := range s.Selected.Events {
		seen[ev.SourceID] = true
	}
	total := first
	for next := s.Selected.Next; next != ""; {
		p := getJSON(t, h, "/?format=json&target=contoso&action=update&page="+next)
		for _, ev := range p.Selected.Events {
			if ev.Action != "update" || seen[ev.SourceID] {
				t.Fatalf("page %s: event %+v is not a new update", next, ev)
			}
			seen[ev.SourceID] = true
		}
		total += len(p.Selected.Events)
		next = p.Selected.Next
	}
	// Every recent event but the create and the skips (the failed update
	// is an update too), and the old ones.
	if want := seedRecent - 1 - seedRecent/7 + seedOld; total != want {
		t.Errorf("%d updates in all, want %d", total, want)
	}
}

func TestLogFilterRequests(t *testing.T) {
	h := seedHandler(t)
	tests := []struct {
		query, want string
	}{
		{"action=destroy", `unknown action "destroy": want one of create, update, disable, deprovision, restore, adopt, pending, held, conflict, skip, drift, failed, cancelled`},
		{"since=yesterday", `bad since: "yesterday" is not a duration: want one such as 30m, 1h or 7d`},
		{"since=-1h", `bad since: "-1h" is not a duration: want one such as 30m, 1h or 7d`},
		{"failed=maybe", `bad failed "maybe": use 1 or leave it out`},
		{"user=a%0Ab", "bad user: give an object id or a userPrincipalName"},
		{"user=" + strings.Repeat("x", maxFilterUser+1), "bad user: give an object id or a userPrincipalName"},
	}
	for _, tc := range tests {
		resp, body := get(t, h, http.MethodGet, "/?"+tc.query)
		if resp.StatusCode != http.StatusBadRequest || strings.TrimSpace(body) != tc.want {
			t.Errorf("?%s: %d %q, want 400 %q", tc.query, resp.StatusCode, body, tc.want)
		}
	}
}

// TestFindEventsBounded: a search reads at most maxScan events and says
// where to go on.
func TestFindEventsBounded(t *testing.T) {
	st := seedStore(t)
	ctx := context.Background()
	found, err := FindEvents(ctx, st, "contoso", EventFilter{User: "nobody"}, "", 50, 300)
	if err != nil {
		t.Fatal(err)
	}
	if len(found.Events) != 0 || found.Scanned > 300 || found.Scanned < 120 || found.Next != "" {
		// 125 events: all read, none found, nothing left.
		t.Errorf("found %d after %d read, next %q", len(found.Events), found.Scanned, found.Next)
	}
	found, err = FindEvents(ctx, st, "contoso", EventFilter{User: "nobody"}, "", 50, 60)
	if err != nil {
		t.Fatal(err)
	}
	if found.Scanned != 60 || found.Next == "" {
		t.Errorf("bounded to 60: read %d, next %q", found.Scanned, found.Next)
	}
	since := EventFilter{Since: seedNow.Add(-time.Minute)}
	found, err = FindEvents(ctx, st, "contoso", since, "", 50, 5000)
	if err != nil {
		t.Fatal(err)
	}
	if len(found.Events) != 3 || found.Next != "" {
		t.Errorf("the last minute: %d events, next %q; want 3 (every 25 s), and no more to read", len(found.Events), found.Next)
	}
}

func TestOutcomeAndAttributes(t *testing.T) {
	for _, tc := range []struct {
		ev   store.Event
		want string
	}{
		{store.Event{Action: "create", Result: "ok"}, "create"},
		{store.Event{Action: "create", Result: "error"}, "failed"},
		{store.Event{Action: "deprovision", Result: "held"}, "held"},
		{store.Event{Action: "deprovision", Result: "pending"}, "pending"},
		{store.Event{Action: "skip", Result: "conflict"}, "conflict"},
		{store.Event{Action: "skip", Result: "skipped"}, "skip"},
		{store.Event{Action: "noop", Result: "cancelled"}, "cancelled"},
		{store.Event{Action: "adopt", Result: "ok"}, "adopt"},
	} {
		if got := Outcome(tc.ev); got != tc.want {
			t.Errorf("Outcome(%s/%s) = %q, want %q", tc.ev.Action, tc.ev.Result, got, tc.want)
		}
	}
	got := ChangedAttributes("department: Sales → Marketing; jobTitle: → Lead; note: a; b: c; onPremisesExtensionAttributes.extensionAttribute3: x → y")
	if want := "department jobTitle note b onPremisesExtensionAttributes.extensionAttribute3"; fmt.Sprint(strings.Join(got, " ")) != want {
		t.Errorf("ChangedAttributes = %v, want %s", got, want)
	}
}
