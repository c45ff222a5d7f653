package statuspage

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

// The seeded world every test of this package looks at.
var (
	seedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	// seedCounts are contoso's links by state.
	seedCounts = LinkCounts{Total: 12, Active: 7, Disabled: 2, Deleted: 1, Staged: 1, Quarantined: 1, Failing: 1}
	// northwind has three active links.
	seedNorthwindActive = 3

	// seedEvents is how many events contoso has: seedRecent in the last
	// hour, every 25 s back from now, and seedOld more than an hour ago.
	seedRecent = 120
	seedOld    = 5
	seedEvents = seedRecent + seedOld
	// seedChartBuckets is how many 5-minute buckets the recent events with
	// a latency fall into: from now back 49 min 35 s, buckets 2 to 11.
	seedChartBuckets = 10

	hostileScript = `<script>alert(1)</script>`
	hostileUPN    = `"><img src=x onerror=alert(2)>@fabrikam.example`
	knownUPN      = "adele.vance@fabrikam.example"
	knownChanges  = "department: Sales → Marketing; jobTitle: → Lead"
	knownRequest  = "9b2f6c1e-0d5a-4c6b-8f7e-1a2b3c4d5e6f"
	clientSecret  = "cs-SECRET-do-not-show-8d1f"
	usersSubID    = "5f0c2d9e-7b1a-4e3f-9c8d-2a6b4e1f0c3a"
	quarantineWhy = "Graph answered 403 Authorization_RequestDenied to 5 invitations in a row"
	// unreachable is northwind's last sync's error: Graph out of reach.
	unreachable = `get user src-nw-2: Get "https://graph.microsoft.com/v1.0/users/src-nw-2": dial tcp: lookup graph.microsoft.com: no such host`
)

// seedLatency is the latency of the recent event k: 0 for every 7th (a
// skip, no latency), else between 0.4 s and 4.3 s.
func seedLatency(k int) time.Duration {
	if k%7 == 6 {
		return 0
	}
	return time.Duration(400+(k*137)%3900) * time.Millisecond
}

// seedStore returns a temporary embedded store holding the seeded world.
func seedStore(t testing.TB) store.Store {
	t.Helper()
	st, err := boltstore.OpenTemp(&boltstore.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	states := []store.LinkState{
		store.LinkActive, store.LinkActive, store.LinkActive, store.LinkActive, store.LinkActive,
		store.LinkActive, store.LinkActive, store.LinkDisabled, store.LinkDisabled, store.LinkDeleted,
		store.LinkStaged, store.LinkQuarantined,
	}
	for i, state := range states {
		l := store.Link{
			Target: "contoso", SourceID: fmt.Sprintf("src-%02d", i), TargetID: fmt.Sprintf("tgt-%02d", i),
			SourceUPN: fmt.Sprintf("user%02d@fabrikam.example", i), State: state,
			Created: seedNow.Add(-48 * time.Hour), Updated: seedNow.Add(-time.Hour),
		}
		if i == 3 {
			l.LastError = "patch user tgt-03: 400 Request_BadRequest"
		}
		_, err := st.PutLink(ctx, l)
		must(err)
	}
	for i := range seedNorthwindActive {
		_, err := st.PutLink(ctx, store.Link{Target: "northwind", SourceID: fmt.Sprintf("src-%02d", i), TargetID: fmt.Sprintf("nw-%02d", i), State: store.LinkActive})
		must(err)
	}

	_, err = st.PutStatus(ctx, store.TargetStatus{
		Target: "contoso", LastReconcile: seedNow.Add(-2 * time.Minute), LastFullReconcile: seedNow.Add(-5 * time.Hour),
		QuarantinedUntil: seedNow.Add(25 * time.Minute), QuarantineReason: quarantineWhy, Quarantines: 5,
		Counters: map[string]int64{"create": 9, "update": 30},
	})
	must(err)
	// northwind's quarantine is over: no banner. Its last reconcile is 50
	// minutes old, overdue on the 15-minute schedule.
	_, err = st.PutStatus(ctx, store.TargetStatus{
		Target: "northwind", LastReconcile: seedNow.Add(-50 * time.Minute), LastFullReconcile: seedNow.Add(-3 * time.Hour),
		QuarantinedUntil: seedNow.Add(-time.Hour), QuarantineReason: "old trouble",
	})
	must(err)

	_, err = st.PutWatermark(ctx, store.Watermark{Tenant: "fabrikam.example", Resource: "users",
		DeltaLink: "http://127.0.0.1/delta?token=x", TakenAt: seedNow.Add(-90 * time.Second), FullSyncAt: seedNow.Add(-5 * time.Hour)})
	must(err)

	for _, s := range []store.Subscription{
		{ID: usersSubID, Tenant: "fabrikam.example", Resource: "/users", Expiry: seedNow.Add(48 * time.Hour), ClientStateID: "cs-1", ClientState: clientSecret},
		{ID: "sub-groups", Tenant: "fabrikam.example", Resource: "/groups", Expiry: seedNow.Add(3 * time.Hour), ClientStateID: "cs-2", ClientState: clientSecret},
		{ID: "sub-gone", Tenant: "fabrikam.example", Resource: "/groups", Expiry: seedNow.Add(-time.Hour), ClientStateID: "cs-3", ClientState: clientSecret},
	} {
		_, err := st.PutSubscription(ctx, s)
		must(err)
	}

	for _, d := range []store.Deletion{
		{Target: "contoso", SourceID: "src-10", TargetID: "tgt-10", SourceUPN: "leaver@fabrikam.example", Action: "delete",
			Reason: "left the scoping group", StagedAt: seedNow.Add(-20 * time.Minute), ExpiresAt: seedNow.Add(40 * time.Minute)},
		{Target: "contoso", SourceID: "src-20", TargetID: "tgt-20", SourceUPN: "former@fabrikam.example", Action: "disable",
			Reason: "deleted in the source", StagedAt: seedNow.Add(-50 * time.Minute), ExpiresAt: seedNow.Add(10 * time.Minute), Approved: true},
	} {
		_, err := st.PutDeletion(ctx, d)
		must(err)
	}

	for k := range seedRecent {
		ev := store.Event{
			Time: seedNow.Add(-time.Duration(k) * 25 * time.Second), Target: "contoso",
			SourceID: fmt.Sprintf("src-ev-%03d", k), TargetID: fmt.Sprintf("tgt-ev-%03d", k),
			SourceUPN: fmt.Sprintf("person%03d@fabrikam.example", k), Action: "update", Result: "ok",
			Changes: "jobTitle: Engineer → Senior Engineer", RequestIDs: []string{fmt.Sprintf("req-%03d", k)},
			Latency: seedLatency(k),
		}
		switch k {
		case 0:
			ev.SourceUPN, ev.Changes, ev.RequestIDs = knownUPN, knownChanges, []string{knownRequest, "req-000-second"}
			ev.Trigger = "notification"
		case 1:
			ev.SourceUPN, ev.Action, ev.Changes = hostileUPN, "create", "displayName: → "+hostileScript
		case 2:
			ev.Result, ev.Error, ev.Reason = "error", "invite x@fabrikam.example: 403 Authorization_RequestDenied", "failed"
		}
		if seedLatency(k) == 0 {
			ev.Action, ev.Result, ev.Reason, ev.Changes = "skip", "skipped", "out of scope", ""
		}
		must(st.AppendEvent(ctx, ev))
	}
	for k := range seedOld {
		must(st.AppendEvent(ctx, store.Event{
			Time: seedNow.Add(-61*time.Minute - time.Duration(k)*time.Minute), Target: "contoso",
			SourceID: fmt.Sprintf("src-old-%d", k), Action: "update", Result: "ok", Latency: 9 * time.Second,
		}))
	}
	must(st.AppendEvent(ctx, store.Event{Time: seedNow.Add(-time.Minute), Target: "northwind",
		SourceID: "src-nw-1", SourceUPN: "nw.only@fabrikam.example", Action: "create", Result: "ok", Latency: 800 * time.Millisecond}))
	// northwind's last sync failed: Graph could not be reached.
	must(st.AppendEvent(ctx, store.Event{Time: seedNow.Add(-30 * time.Second), Target: "northwind",
		SourceID: "src-nw-2", SourceUPN: "nw.second@fabrikam.example", Action: "update", Result: "error", Reason: "failed", Error: unreachable}))
	return st
}

// seedOptions are the handler options for the seeded world.
func seedOptions(st store.Store) Options {
	return Options{
		Store:        st,
		SourceTenant: "fabrikam.example",
		Targets:      []string{"contoso", "northwind"},
		Title:        "Fabrikam → partners",
		Now:          func() time.Time { return seedNow },
		Counters: func() map[string]int64 {
			return map[string]int64{"notifications.received": 1042, "notifications.dropped": 3, "messages.deadLettered": 1}
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// seedHandler is a handler over a freshly seeded store.
func seedHandler(t testing.TB) *Handler {
	t.Helper()
	h, err := New(seedOptions(seedStore(t)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// slogTo returns a logger writing text records to w.
func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
