package statuspage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/queue"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

// world is what one health test puts in an empty store for target "t".
type world struct {
	lastReconcile time.Duration // before seedNow; 0: never
	events        []store.Event // Time is an offset before seedNow, in seconds
	links         []store.Link
	deletions     int
	quarantine    string
}

func (w world) store(t *testing.T) store.Store {
	t.Helper()
	st, err := boltstore.OpenTemp(&boltstore.Options{Logger: slogTo(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	status := store.TargetStatus{Target: "t"}
	if w.lastReconcile > 0 {
		status.LastReconcile = seedNow.Add(-w.lastReconcile)
	}
	if w.quarantine != "" {
		status.QuarantinedUntil, status.QuarantineReason, status.Quarantines = seedNow.Add(5*time.Minute), w.quarantine, 1
	}
	if _, err := st.PutStatus(ctx, status); err != nil {
		t.Fatal(err)
	}
	for _, ev := range w.events {
		ev.Target = "t"
		if err := st.AppendEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range w.links {
		l.Target = "t"
		if _, err := st.PutLink(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	for i := range w.deletions {
		if _, err := st.PutDeletion(ctx, store.Deletion{Target: "t", SourceID: fmt.Sprintf("gone-%d", i), Action: "delete",
			Reason: "left the scoping group", StagedAt: seedNow.Add(-time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func at(ago time.Duration, ev store.Event) store.Event {
	ev.Time = seedNow.Add(-ago)
	return ev
}

// TestHealth: each target's health is computed from the facts, each reason
// with the command that resolves it; a failure is never "not reconciled yet".
func TestHealth(t *testing.T) {
	const refused = `invite adele@fabrikam.example: Post "https://graph.microsoft.com/v1.0/invitations": dial tcp: lookup graph.microsoft.com: no such host`
	failed := store.Event{SourceID: "src-1", SourceUPN: "adele@fabrikam.example", Action: "create", Result: "error", Reason: "failed", Error: refused}
	ok := store.Event{SourceID: "src-2", SourceUPN: "ben@fabrikam.example", Action: "update", Result: "ok"}
	tests := []struct {
		name       string
		world      world
		reconcile  error // Options.ReconcileFailure, 2 minutes ago
		wantHealth string
		want       []Attention
	}{
		{"nothing ran yet", world{}, nil, HealthNotYet, nil},
		{"never reconciled, and the last sync failed: Graph unreachable", world{events: []store.Event{at(time.Minute, failed)}}, nil,
			HealthAttention, []Attention{{What: "the last sync failed 1 min ago (create adele@fabrikam.example): " + refused, Count: 1,
				Command: "handler log --target t --failed lists the failures; handler validate --online checks the tenant's access"}}},
		{"never reconciled, and the reconcile failed", world{}, errors.New("list users delta: 401 InvalidAuthenticationToken: token expired"),
			HealthAttention, []Attention{{What: "the last reconcile failed 2 min ago: list users delta: 401 InvalidAuthenticationToken: token expired", Count: 1,
				Command: "handler validate --online checks each tenant's access; handler reconcile runs one now"}}},
		{"a reconcile failure before the last reconcile is over", world{lastReconcile: time.Minute}, errors.New("old trouble"), HealthHealthy, nil},
		{"reconciled, a failure since recovered", world{lastReconcile: 5 * time.Minute, events: []store.Event{at(3*time.Minute, failed), at(time.Minute, ok)}}, nil,
			HealthHealthy, nil},
		{"reconcile overdue", world{lastReconcile: 47 * time.Minute}, nil, HealthAttention, []Attention{{
			What: "reconcile overdue: none for 47 min, and the schedule runs one every 15 min", Count: 1,
			Command: "handler reconcile runs one now; check that the Reconcile timer runs (the Function App, or handler local)"}}},
		{"not overdue within twice the schedule", world{lastReconcile: 29 * time.Minute}, nil, HealthHealthy, nil},
		{"held deletions and conflicts", world{lastReconcile: time.Minute, deletions: 2,
			links: []store.Link{{SourceID: "c1", State: store.LinkConflict, LastError: "held by another identity"}}}, nil,
			HealthAttention, []Attention{
				{What: "2 deprovisions held by the deletion guard, awaiting approval", Count: 2,
					Command: "handler deletions list --target t, then handler deletions approve --target t SOURCE-ID… (or --all)"},
				{What: "1 user in conflict with a target user that is not provably theirs", Count: 1,
					Command: "handler plan lists them; handler adopt --target t --source-user ID --target-user ID if one is"}}},
		{"a user failing", world{lastReconcile: time.Minute, links: []store.Link{{SourceID: "f1", State: store.LinkActive, LastError: "400"}}}, nil,
			HealthAttention, []Attention{{What: "1 user whose last attempt failed", Count: 1,
				Command: "handler status shows the recent errors; handler status --user USER shows one"}}},
		{"quarantined", world{lastReconcile: time.Minute, quarantine: "403 on every write"}, nil, HealthQuarantined, []Attention{{
			What: "quarantined until 2026-03-01T12:05:00Z: 403 on every write", Count: 1, Command: "handler resume --target t"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Store: tc.world.store(t), Targets: []string{"t"}, Now: func() time.Time { return seedNow }, Logger: slogTo(io.Discard)}
			if tc.reconcile != nil {
				opts.ReconcileFailure = func() (time.Time, error) { return seedNow.Add(-2 * time.Minute), tc.reconcile }
			}
			h, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			s := h.Overview(context.Background())
			got := s.Targets[0]
			if got.Health != tc.wantHealth || s.Health != tc.wantHealth {
				t.Errorf("health = %q (page %q), want %q", got.Health, s.Health, tc.wantHealth)
			}
			if fmt.Sprint(got.Attention) != fmt.Sprint(tc.want) {
				t.Errorf("attention\n got: %+v\nwant: %+v", got.Attention, tc.want)
			}
		})
	}
}

// TestLastErrorAndRecentActions: the summary counts every kind of action of
// the last day, one per event, and names the newest failure.
func TestLastErrorAndRecentActions(t *testing.T) {
	w := world{lastReconcile: time.Minute, events: []store.Event{
		at(25*time.Hour, store.Event{SourceID: "old", Action: "create", Result: "ok"}), // more than a day ago
		at(50*time.Minute, store.Event{SourceID: "a", Action: "create", Result: "ok"}),
		at(40*time.Minute, store.Event{SourceID: "b", Action: "update", Result: "ok"}),
		at(30*time.Minute, store.Event{SourceID: "c", Action: "deprovision", Result: "held"}),
		at(20*time.Minute, store.Event{SourceID: "d", Action: "create", Result: "error", Error: "400 bad mail"}),
		at(10*time.Minute, store.Event{SourceID: "e", Action: "skip", Result: "conflict"}),
		at(9*time.Minute, store.Event{SourceID: "f", Action: "adopt", Result: "ok"}),
		at(8*time.Minute, store.Event{SourceID: "g", Action: "deprovision", Result: "pending"}),
		at(7*time.Minute, store.Event{SourceID: "h", Action: "skip", Result: "skipped"}),
		at(6*time.Minute, store.Event{SourceID: "i", Action: "restore", Result: "ok"}),
		at(5*time.Minute, store.Event{SourceID: "j", Action: "disable", Result: "ok"}),
	}}
	h, err := New(Options{Store: w.store(t), Targets: []string{"t"}, Now: func() time.Time { return seedNow }, Logger: slogTo(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	got := h.Overview(context.Background()).Targets[0]
	want := map[string]int64{"create": 1, "update": 1, "held": 1, "failed": 1, "conflict": 1, "adopt": 1, "pending": 1, "skip": 1, "restore": 1, "disable": 1}
	if fmt.Sprint(got.RecentActions) != fmt.Sprint(want) {
		t.Errorf("recent actions = %v, want %v", got.RecentActions, want)
	}
	if got.LastError == nil || got.LastError.SourceID != "d" || got.LastError.Error != "400 bad mail" || got.LastSyncFailed {
		t.Errorf("last error %+v, last sync failed %v; want d's, and the last sync ok", got.LastError, got.LastSyncFailed)
	}
	if !got.LastSync.Equal(seedNow.Add(-5 * time.Minute)) {
		t.Errorf("last sync %v", got.LastSync)
	}

	// With fewer events read than the day holds, the count says from when.
	h, err = New(Options{Store: w.store(t), Targets: []string{"t"}, Now: func() time.Time { return seedNow }, Logger: slogTo(io.Discard), MaxActionEvents: 3})
	if err != nil {
		t.Fatal(err)
	}
	got = h.Overview(context.Background()).Targets[0]
	if n := len(got.RecentActions); n != 3 || !got.RecentSince.Equal(seedNow.Add(-7*time.Minute)) {
		t.Errorf("with 3 events read: %v since %v, want 3 kinds since 7 min ago", got.RecentActions, got.RecentSince)
	}
}

// TestSubscriptionHealth: with notifications configured, a resource
// without a live subscription, and a failed set-up, are problems; with
// notifications off, no subscriptions is how it should be.
func TestSubscriptionHealth(t *testing.T) {
	live := store.Subscription{ID: "s-users", Tenant: "fabrikam.example", Resource: "/users", Expiry: seedNow.Add(time.Hour), ClientState: "x"}
	expired := store.Subscription{ID: "s-groups", Tenant: "fabrikam.example", Resource: "/groups", Expiry: seedNow.Add(-time.Hour), ClientState: "x"}
	const fix = "handler validate --online checks that the source can list subscriptions; the SubscriptionManager function creates them"
	tests := []struct {
		name          string
		subs          []store.Subscription
		notifications bool
		failure       error
		want          []string
	}{
		{"off, none", nil, false, nil, nil},
		{"on, none", nil, true, nil, []string{
			"no live change-notification subscription for /users: its changes wait for the reconcile timer — " + fix,
			"no live change-notification subscription for /groups: its changes wait for the reconcile timer — " + fix}},
		{"on, one expired", []store.Subscription{live, expired}, true, nil, []string{
			"no live change-notification subscription for /groups: its changes wait for the reconcile timer — " + fix}},
		{"on, set-up failed", []store.Subscription{live}, true, errors.New("create /groups subscription: 400 ValidationError: Subscription validation request failed"), []string{
			"change-notification subscription set-up failed 3 min ago: create /groups subscription: 400 ValidationError: Subscription validation request failed — " +
				"handler validate --online checks that the source can list subscriptions; the SubscriptionManager function's log has the details",
			"no live change-notification subscription for /groups: its changes wait for the reconcile timer — " + fix}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := world{lastReconcile: time.Minute}.store(t)
			for _, s := range tc.subs {
				if _, err := st.PutSubscription(context.Background(), s); err != nil {
					t.Fatal(err)
				}
			}
			opts := Options{Store: st, Targets: []string{"t"}, Now: func() time.Time { return seedNow }, Logger: slogTo(io.Discard), Notifications: tc.notifications}
			if tc.failure != nil {
				opts.SubscriptionFailure = func() (time.Time, error) { return seedNow.Add(-3 * time.Minute), tc.failure }
			}
			h, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			s := h.Overview(context.Background())
			var got []string
			for _, a := range s.Attention {
				got = append(got, a.What+" — "+a.Command)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("attention\n got: %q\nwant: %q", got, tc.want)
			}
			wantHealth := HealthHealthy
			if len(tc.want) > 0 {
				wantHealth = HealthAttention
			}
			if s.Health != wantHealth {
				t.Errorf("health = %q, want %q", s.Health, wantHealth)
			}
			_, page := get(t, mustNew(t, opts), http.MethodGet, "/")
			noSubs := strings.Contains(page, "None, though change notifications are configured")
			if noSubs != (tc.notifications && len(tc.subs) == 0) {
				t.Errorf("the page says no subscriptions are a problem: %v", noSubs)
			}
		})
	}
}

func mustNew(t *testing.T, opts Options) *Handler {
	t.Helper()
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestDeadLettersListed: with a lister, the page lists the dead letters
// with the change each carried, the command beside them.
func TestDeadLettersListed(t *testing.T) {
	opts := seedOptions(seedStore(t))
	opts.DeadLetters = func(context.Context) (int, error) { return 2, nil }
	opts.ListDeadLetters = func(_ context.Context, max int) ([]DeadLetter, error) {
		if max != maxDeadLettersListed {
			t.Errorf("listed up to %d, want %d", max, maxDeadLettersListed)
		}
		return []DeadLetter{
			DeadLetterOf(queue.DeadLetter{ID: "m-1", Reason: "MaxDeliveryCountExceeded", Description: "get user: 400\nbad", DeliveryCount: 10,
				EnqueuedAt: seedNow.Add(-time.Hour), Body: []byte(`{"v":1,"kind":"user","id":"src-07"}`)}),
			DeadLetterOf(queue.DeadLetter{ID: "m-2", Reason: "Poison", Body: []byte("not json")}),
		}, nil
	}
	h := mustNew(t, opts)
	s := getJSON(t, h, "/status.json")
	if len(s.DeadLetterList) != 2 || s.DeadLetterList[0].Change != "user src-07" || s.DeadLetterList[0].Description != "get user: 400; bad" || s.DeadLetterList[1].Change != "" {
		t.Errorf("dead letters = %+v", s.DeadLetterList)
	}
	_, page := get(t, h, http.MethodGet, "/")
	for _, want := range []string{`<tr data-dead-letter="m-1">`, `<td class="mono small">user src-07</td>`, "(not a change message)",
		"<code>handler dlq resubmit</code>", "2 changes dead-lettered"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestReadable(t *testing.T) {
	for name, want := range map[string]string{
		"changesProcessed":                "changes processed",
		"notificationsDroppedClientState": "notifications dropped client state",
		"followUpsEnqueued":               "follow-ups enqueued",
		"notifications.received":          "notifications received",
		"reconciles":                      "reconciles",
	} {
		if got := Readable(name); got != want {
			t.Errorf("Readable(%q) = %q, want %q", name, got, want)
		}
	}
}
