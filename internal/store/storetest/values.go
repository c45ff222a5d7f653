package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tenantsync/tenantsync/internal/store"
)

// hostileKeys are strings that Table Storage would refuse or misread as
// keys, and strings that only an encoding could confuse with each other.
var hostileKeys = []string{
	"", " ", "/", "\\", "#", "?", "a/b\\c#d?e", "../..", "%", "%2F", "+", "'", "''", "\"",
	"\x00", "nul\x00inside", "\t\n\r", "\x1f", "\x7f", "\u0080", "\u009f",
	"é", "日本語", "😀", "\ufeff", "\xff\xfe", // the last is not UTF-8
	"!", "~", "!~", "z~41", ":", ";", "a:b", "PartitionKey eq 'x'",
	"ADA.LOVELACE@fabrikam.example", "ada.lovelace@fabrikam.example", "contoso.onmicrosoft.com",
	"#EXT#_user_fabrikam.example#EXT#@contoso.onmicrosoft.com",
}

func testHostileKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, k := range hostileKeys {
		t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
			// Keys take any bytes; values must be UTF-8 (see testInvalidUTF8).
			v := k
			if !utf8.ValidString(k) {
				v = "not UTF-8"
			}
			w := must[store.Watermark](t, "put watermark")(s.PutWatermark(ctx, store.Watermark{Tenant: k, Resource: k, DeltaLink: v}))
			got := must[store.Watermark](t, "get watermark")(s.GetWatermark(ctx, k, k))
			sameRecord(t, "watermark", got, w)

			l := must[store.Link](t, "put link")(s.PutLink(ctx, store.Link{Target: k, SourceID: k, TargetID: "t" + v, SourceUPN: v, Hash: "h"}))
			sameRecord(t, "link", must[store.Link](t, "get link")(s.GetLink(ctx, k, k)), l)
			sameRecord(t, "link by target id", must[store.Link](t, "get link by id")(s.GetLinkByTargetID(ctx, k, "t"+v)), l)
			var listed []store.Link
			if err := s.ListLinks(ctx, k, func(l store.Link) error { listed = append(listed, l); return nil }); err != nil {
				t.Fatalf("ListLinks: %v", err)
			}
			if len(listed) != 1 || listed[0].SourceID != k {
				t.Errorf("ListLinks(%q) = %+v", k, listed)
			}

			sub := must[store.Subscription](t, "put subscription")(s.PutSubscription(ctx, store.Subscription{ID: k, Resource: v}))
			sameRecord(t, "subscription", must[store.Subscription](t, "get subscription")(s.GetSubscription(ctx, k)), sub)

			d := must[store.Deletion](t, "put deletion")(s.PutDeletion(ctx, store.Deletion{Target: k, SourceID: k, Reason: v}))
			sameRecord(t, "deletion", must[store.Deletion](t, "get deletion")(s.GetDeletion(ctx, k, k)), d)
			ds := must[[]store.Deletion](t, "list deletions")(s.ListDeletions(ctx, k))
			if len(ds) != 1 || ds[0].SourceID != k || ds[0].Target != k {
				t.Errorf("ListDeletions(%q) = %+v", k, ds)
			}

			if err := s.AppendEvent(ctx, store.Event{Time: at(i), Target: k, SourceID: v, Action: "create"}); err != nil {
				t.Fatalf("AppendEvent: %v", err)
			}
			page := must[store.EventPage](t, "list events")(s.ListEvents(ctx, k, store.ListEventsOptions{}))
			if len(page.Events) != 1 || page.Events[0].Target != k || page.Events[0].SourceID != v {
				t.Errorf("ListEvents(%q) = %+v", k, page)
			}

			st := must[store.TargetStatus](t, "put status")(s.PutStatus(ctx, store.TargetStatus{Target: k, QuarantineReason: v}))
			sameRecord(t, "status", must[store.TargetStatus](t, "get status")(s.GetStatus(ctx, k)), st)
		})
	}
	subs := must[[]store.Subscription](t, "list subscriptions")(s.ListSubscriptions(ctx))
	var ids []string
	for _, sub := range subs {
		ids = append(ids, sub.ID)
	}
	want := slices.Clone(hostileKeys)
	slices.Sort(want)
	slices.Sort(ids)
	if !slices.Equal(ids, want) {
		t.Errorf("ListSubscriptions ids:\n got %q\nwant %q", ids, want)
	}
}

// testKeysDoNotCollide puts records whose keys differ only where an encoding
// or a separator could blur them, and checks each is its own.
func testKeysDoNotCollide(t *testing.T, s store.Store) {
	ctx := t.Context()
	pairs := [][2]string{
		{"a", "b:c"}, {"a:b", "c"}, {"a", ":b:c"}, {"a:", "b:c"}, {"", "a"}, {"a", ""}, {"!", ""}, {"", "!"},
		{"a~", "1"}, {"a", "~1"}, {"a.", "~2F"}, {"a/", ""},
	}
	for i, p := range pairs {
		must[store.Watermark](t, "put")(s.PutWatermark(ctx, store.Watermark{Tenant: p[0], Resource: p[1], DeltaLink: fmt.Sprint(i)}))
		must[store.Link](t, "put")(s.PutLink(ctx, store.Link{Target: p[0], SourceID: p[1], TargetID: "t" + p[1], Hash: fmt.Sprint(i)}))
		must[store.Deletion](t, "put")(s.PutDeletion(ctx, store.Deletion{Target: p[0], SourceID: p[1], Reason: fmt.Sprint(i)}))
	}
	for i, p := range pairs {
		if w, err := s.GetWatermark(ctx, p[0], p[1]); err != nil || w.DeltaLink != fmt.Sprint(i) {
			t.Errorf("watermark %q: %+v, %v", p, w, err)
		}
		if l, err := s.GetLink(ctx, p[0], p[1]); err != nil || l.Hash != fmt.Sprint(i) {
			t.Errorf("link %q: %+v, %v", p, l, err)
		}
		if l, err := s.GetLinkByTargetID(ctx, p[0], "t"+p[1]); err != nil || l.Hash != fmt.Sprint(i) {
			t.Errorf("link %q by target id: %+v, %v", p, l, err)
		}
		if d, err := s.GetDeletion(ctx, p[0], p[1]); err != nil || d.Reason != fmt.Sprint(i) {
			t.Errorf("deletion %q: %+v, %v", p, d, err)
		}
	}
	// Each target lists only its own links.
	targets := map[string][]string{}
	for _, p := range pairs {
		targets[p[0]] = append(targets[p[0]], p[1])
	}
	for target, want := range targets {
		var got []string
		if err := s.ListLinks(ctx, target, func(l store.Link) error { got = append(got, l.SourceID); return nil }); err != nil {
			t.Fatalf("ListLinks(%q): %v", target, err)
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("ListLinks(%q) = %q, want %q", target, got, want)
		}
	}
}

// testInvalidUTF8 checks that a value that is not UTF-8, which neither
// store could keep as it is, is refused rather than silently changed.
func testInvalidUTF8(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.PutLink(ctx, store.Link{Target: "t", SourceID: "a", SourceUPN: "bad\xff"}); err == nil {
		t.Error("PutLink took a SourceUPN that is not UTF-8")
	}
	if _, err := s.GetLink(ctx, "t", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("link after the refused write: %v", err)
	}
	if err := s.AppendEvent(ctx, store.Event{Target: "t", Changes: "x: \xc3 → y"}); err == nil {
		t.Error("AppendEvent took Changes that are not UTF-8")
	}
}

func testTooLarge(t *testing.T, s store.Store) {
	ctx := t.Context()
	ascii := func(n int) string { return strings.Repeat("x", n) }
	attrs := func(n, size int) map[string]any {
		m := map[string]any{}
		for i := range n {
			m[fmt.Sprintf("extension_%03d", i)] = ascii(size)
		}
		return m
	}
	tests := []struct {
		name  string
		write func() error
		// read, if set, reads the record back after a successful write.
		read  func() error
		large bool
	}{
		{
			name: "link error of 40,000 characters",
			write: func() error {
				_, err := s.PutLink(ctx, store.Link{Target: "t", SourceID: "a", LastError: ascii(40000)})
				return err
			},
			large: true,
		},
		{
			name: "link error of 30,000 characters",
			write: func() error {
				_, err := s.PutLink(ctx, store.Link{Target: "t", SourceID: "b", LastError: ascii(30000)})
				return err
			},
			read: func() error {
				l, err := s.GetLink(ctx, "t", "b")
				if err == nil && l.LastError != ascii(30000) {
					err = errors.New("LastError changed")
				}
				return err
			},
		},
		{
			name: "link attributes of 200 KiB",
			write: func() error {
				_, err := s.PutLink(ctx, store.Link{Target: "t", SourceID: "c", Attributes: attrs(50, 4000)})
				return err
			},
			read: func() error {
				l, err := s.GetLink(ctx, "t", "c")
				if err == nil && (len(l.Attributes) != 50 || l.Attributes["extension_049"] != ascii(4000)) {
					err = fmt.Errorf("attributes changed: %d of them", len(l.Attributes))
				}
				return err
			},
		},
		{
			name: "link attributes of 2 MiB",
			write: func() error {
				_, err := s.PutLink(ctx, store.Link{Target: "t", SourceID: "d", Attributes: attrs(200, 5000)})
				return err
			},
			large: true,
		},
		{
			name:  "source id of 300 characters",
			write: func() error { _, err := s.PutLink(ctx, store.Link{Target: "t", SourceID: ascii(300)}); return err },
			large: true,
		},
		{
			name: "delta link of 40,000 characters",
			write: func() error {
				_, err := s.PutWatermark(ctx, store.Watermark{Tenant: "t", Resource: "users", DeltaLink: ascii(40000)})
				return err
			},
			large: true,
		},
		{
			name:  "event changes of 40,000 characters",
			write: func() error { return s.AppendEvent(ctx, store.Event{Target: "t", Changes: ascii(40000)}) },
			large: true,
		},
		{
			name: "deletion reason of 100,000 characters",
			write: func() error {
				_, err := s.PutDeletion(ctx, store.Deletion{Target: "t", SourceID: "e", Reason: ascii(100000)})
				return err
			},
			large: true,
		},
		{
			name: "status counters of 2 MiB",
			write: func() error {
				c := map[string]int64{}
				for i := range 40000 {
					c[fmt.Sprintf("action-%s-%d", ascii(20), i)] = 1
				}
				_, err := s.PutStatus(ctx, store.TargetStatus{Target: "t", Counters: c})
				return err
			},
			large: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.write()
			if tt.large {
				wantErr(t, "write", err, store.ErrTooLarge)
				return
			}
			if err != nil {
				t.Fatalf("write: %v", err)
			}
			if tt.read != nil {
				if err := tt.read(); err != nil {
					t.Errorf("read back: %v", err)
				}
			}
		})
	}
	// Nothing of a refused write was stored.
	for _, id := range []string{"a", "d", ascii(300)} {
		if _, err := s.GetLink(ctx, "t", id); !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrTooLarge) {
			t.Errorf("link %.10q after a refused write: %v", id, err)
		}
	}
	if _, err := s.GetWatermark(ctx, "t", "users"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("watermark after a refused write: %v", err)
	}
	if page, err := s.ListEvents(ctx, "t", store.ListEventsOptions{}); err != nil || len(page.Events) != 0 {
		t.Errorf("events after a refused write: %+v, %v", page, err)
	}
}

func testEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 23
	var want []store.Event
	for i := range n {
		want = append(want, store.Event{
			Time: at(i), Target: "contoso", SourceID: fmt.Sprintf("src-%02d", i), TargetID: fmt.Sprintf("tid-%02d", i),
			SourceUPN: fmt.Sprintf("u%d@fabrikam.example", i), Action: "update", Result: "ok",
			Reason: "attributes changed", Changes: "department: Sales → Marketing; jobTitle: → Lead",
			RequestIDs: []string{fmt.Sprintf("req-%d-a", i), fmt.Sprintf("req-%d-b", i)},
			Error:      "", Latency: time.Duration(i) * 1500 * time.Microsecond,
			Trigger: []string{"notification", "delta", "approve"}[i%3],
		})
	}
	for _, i := range rand.Perm(n) {
		if err := s.AppendEvent(ctx, want[i]); err != nil {
			t.Fatalf("AppendEvent: %v", err)
		}
	}
	for i := range 3 {
		if err := s.AppendEvent(ctx, store.Event{Time: at(100 + i), Target: "contoso-eu", Action: "create"}); err != nil {
			t.Fatalf("AppendEvent: %v", err)
		}
	}
	slices.Reverse(want) // newest first

	var got []store.Event
	var sizes []int
	opts := store.ListEventsOptions{Limit: 5}
	for pages := 0; ; pages++ {
		if pages > n {
			t.Fatal("paging does not end")
		}
		page, err := s.ListEvents(ctx, "contoso", opts)
		if err != nil {
			t.Fatalf("ListEvents page %d: %v", pages, err)
		}
		got = append(got, page.Events...)
		sizes = append(sizes, len(page.Events))
		if page.Next == "" {
			break
		}
		opts.Page = page.Next
		if pages == 1 {
			// A newer event appended while paging does not disturb the pages
			// still to come.
			if err := s.AppendEvent(ctx, store.Event{Time: at(1000), Target: "contoso", Action: "create"}); err != nil {
				t.Fatalf("AppendEvent: %v", err)
			}
		}
	}
	if !slices.Equal(sizes, []int{5, 5, 5, 5, 3}) {
		t.Errorf("page sizes %v, want [5 5 5 5 3]", sizes)
	}
	if len(got) != len(want) {
		t.Fatalf("paged %d events, want %d", len(got), len(want))
	}
	for i := range got {
		sameRecord(t, fmt.Sprintf("event %d", i), got[i], want[i])
	}

	all := must[store.EventPage](t, "default page")(s.ListEvents(ctx, "contoso", store.ListEventsOptions{}))
	if len(all.Events) != n+1 || all.Next != "" || !all.Events[0].Time.Equal(at(1000)) {
		t.Errorf("default page: %d events, next %q; want %d, no next, newest first", len(all.Events), all.Next, n+1)
	}
	exact := must[store.EventPage](t, "exact page")(s.ListEvents(ctx, "contoso-eu", store.ListEventsOptions{Limit: 3}))
	if len(exact.Events) != 3 || exact.Next != "" {
		t.Errorf("a page that holds exactly the rest: %d events, next %q; want 3 and no next", len(exact.Events), exact.Next)
	}
	if _, err := s.ListEvents(ctx, "contoso", store.ListEventsOptions{Page: "not a token"}); err == nil {
		t.Error("ListEvents accepted a malformed page token")
	}

	// An event without a time is stamped with the current time.
	before := time.Now()
	if err := s.AppendEvent(ctx, store.Event{Target: "untimed", Action: "noop"}); err != nil {
		t.Fatalf("AppendEvent: %v", err)
	}
	page := must[store.EventPage](t, "untimed")(s.ListEvents(ctx, "untimed", store.ListEventsOptions{}))
	if len(page.Events) != 1 || page.Events[0].Time.Before(before.Add(-time.Second)) || page.Events[0].Time.After(time.Now().Add(time.Second)) {
		t.Errorf("untimed event: %+v", page.Events)
	}

	// Times keep 100 ns and come back in UTC.
	precise := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("CET", 3600))
	if err := s.AppendEvent(ctx, store.Event{Time: precise, Target: "precise"}); err != nil {
		t.Fatalf("AppendEvent: %v", err)
	}
	page = must[store.EventPage](t, "precise")(s.ListEvents(ctx, "precise", store.ListEventsOptions{}))
	if len(page.Events) != 1 {
		t.Fatalf("precise: %+v", page)
	}
	if got := page.Events[0].Time; got.Location() != time.UTC || precise.Sub(got) < 0 || precise.Sub(got) >= 100*time.Nanosecond {
		t.Errorf("time %v came back as %v", precise, got)
	}
}

func testEventRetention(t *testing.T, s store.Store) {
	ctx := t.Context()
	cutoff := at(10)
	// Events either side of the cutoff, in two targets, the one exactly at
	// the cutoff kept.
	times := map[string][]time.Time{
		"contoso":    {at(-86400), at(0), at(9), cutoff.Add(-100 * time.Nanosecond), cutoff, at(11), at(3600)},
		"contoso-eu": {at(-1), cutoff, at(20)},
	}
	for target, ts := range times {
		for _, tm := range ts {
			if err := s.AppendEvent(ctx, store.Event{Time: tm, Target: target, Action: "update"}); err != nil {
				t.Fatalf("AppendEvent: %v", err)
			}
		}
	}
	n, err := s.PruneEvents(ctx, cutoff)
	if err != nil {
		t.Fatalf("PruneEvents: %v", err)
	}
	if n != 5 {
		t.Errorf("PruneEvents removed %d events, want 5", n)
	}
	for target, want := range map[string][]time.Time{
		"contoso":    {at(3600), at(11), cutoff},
		"contoso-eu": {at(20), cutoff},
	} {
		page := must[store.EventPage](t, "list")(s.ListEvents(ctx, target, store.ListEventsOptions{}))
		var got []time.Time
		for _, e := range page.Events {
			got = append(got, e.Time)
		}
		if !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("%s after pruning: %v, want %v", target, got, want)
		}
	}
	if n, err := s.PruneEvents(ctx, cutoff); err != nil || n != 0 {
		t.Errorf("second PruneEvents: %d, %v; want 0", n, err)
	}
}

// testSubscriptionSecret checks that the client state is stored (the webhook
// needs it) but never appears in what slog writes about a subscription, nor
// in errors about one.
func testSubscriptionSecret(t *testing.T, s store.Store) {
	ctx := t.Context()
	const secret = "cs-SECRET-5f0e2a7d9c"
	sub := must[store.Subscription](t, "put")(s.PutSubscription(ctx, store.Subscription{
		ID: "sub-1", Tenant: "fabrikam.example", Resource: "/users", Expiry: at(3600),
		ClientStateID: "cs-1", ClientState: secret,
	}))
	got := must[store.Subscription](t, "get")(s.GetSubscription(ctx, "sub-1"))
	if got.ClientState != secret {
		t.Fatalf("client state not kept: %q", got.ClientState)
	}
	listed := must[[]store.Subscription](t, "list")(s.ListSubscriptions(ctx))

	logs := []struct {
		name string
		log  func(*slog.Logger)
	}{
		{"attr", func(l *slog.Logger) { l.Info("renewed", "subscription", got) }},
		{"pointer", func(l *slog.Logger) { l.Info("renewed", "subscription", &got) }},
		{"slog.Any", func(l *slog.Logger) { l.Info("renewed", slog.Any("subscription", listed[0])) }},
		{"group", func(l *slog.Logger) { l.Info("renewed", slog.Group("graph", "subscription", got)) }},
		{"With", func(l *slog.Logger) { l.With("subscription", got).Warn("expiring") }},
		{"put result", func(l *slog.Logger) { l.Error("stored", "subscription", sub) }},
	}
	for _, lg := range logs {
		for _, h := range []struct {
			name string
			new  func(*bytes.Buffer) slog.Handler
		}{
			{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
			{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
		} {
			var buf bytes.Buffer
			lg.log(slog.New(h.new(&buf)))
			out := buf.String()
			if strings.Contains(out, secret) {
				t.Errorf("%s via %s handler logs the client state: %s", lg.name, h.name, out)
			}
			if !strings.Contains(out, "sub-1") || !strings.Contains(out, "cs-1") {
				t.Errorf("%s via %s handler lost the id or client state id: %s", lg.name, h.name, out)
			}
		}
	}

	// Neither do fmt and encoding/json, nor slog's handling of a slice.
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("listed", "subscriptions", listed)
	js, err := json.Marshal(listed)
	if err != nil {
		t.Fatalf("marshal subscriptions: %v", err)
	}
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", got), "%+v": fmt.Sprintf("%+v", got), "%#v": fmt.Sprintf("%#v", got),
		//lint:ignore S1025 the test checks what each verb prints, %s included
		"%s": fmt.Sprintf("%s", &got), "json": string(js), "slog slice": buf.String(),
	} {
		if strings.Contains(out, secret) {
			t.Errorf("%s reveals the client state: %s", name, out)
		}
		if !strings.Contains(out, "sub-1") {
			t.Errorf("%s lost the subscription id: %s", name, out)
		}
	}

	// Errors about a subscription name it, never its secret.
	_, err = s.PutSubscription(ctx, store.Subscription{ID: "sub-1", ClientState: secret})
	wantErr(t, "create again", err, store.ErrConflict)
	stale := got
	stale.ETag = "stale"
	_, err2 := s.PutSubscription(ctx, stale)
	wantErr(t, "stale write", err2, store.ErrConflict)
	_, err3 := s.PutSubscription(ctx, store.Subscription{ID: "sub-2", ClientState: secret + strings.Repeat("x", 40000)})
	wantErr(t, "oversized", err3, store.ErrTooLarge)
	for _, err := range []error{err, err2, err3} {
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("error reveals the client state: %v", err)
		}
	}
}

func testCancelled(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := []struct {
		name string
		err  error
	}{
		{"GetLink", second(s.GetLink(ctx, "t", "s"))},
		{"PutLink", second(s.PutLink(ctx, store.Link{Target: "t", SourceID: "s"}))},
		{"GetWatermark", second(s.GetWatermark(ctx, "t", "users"))},
		{"AppendEvent", s.AppendEvent(ctx, store.Event{Target: "t"})},
		{"ListLinks", s.ListLinks(ctx, "t", func(store.Link) error { return nil })},
	}
	for _, c := range calls {
		if !errors.Is(c.err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", c.name, c.err)
		}
	}
	if _, err := s.GetLink(t.Context(), "t", "s"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a cancelled PutLink stored the link: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }
