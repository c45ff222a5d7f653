// Package storetest is the contract of store.Store written as tests. Every
// implementation runs Run against itself, so that what one store does the
// other does too:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openEmptyStore(t) })
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/store"
)

// NewStore returns an empty store for one test. The suite closes it when the
// test ends.
type NewStore func(t *testing.T) store.Store

// Run runs the whole contract, each part on a fresh store.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"Records", testRecords},
		{"ListLinks", testListLinks},
		{"ListLinksMany", testListLinksMany},
		{"ListLinksWhileWriting", testListLinksWhileWriting},
		{"GetLinks", testGetLinks},
		{"ReverseIndex", testReverseIndex},
		{"LinkRace", testLinkRace},
		{"LinkNoLostUpdates", testLinkNoLostUpdates},
		{"Lists", testLists},
		{"HostileKeys", testHostileKeys},
		{"KeysDoNotCollide", testKeysDoNotCollide},
		{"InvalidUTF8", testInvalidUTF8},
		{"TooLarge", testTooLarge},
		{"Events", testEvents},
		{"EventRetention", testEventRetention},
		{"SubscriptionSecret", testSubscriptionSecret},
		{"Cancelled", testCancelled},
		{"GuardNoLostUpdates", testGuardNoLostUpdates},
		{"LinkCounts", testLinkCounts},
		{"LinkCountsConflict", testLinkCountsConflict},
		{"LinkCountsUnderConcurrentWriters", testLinkCountsUnderConcurrentWriters},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// base is the time records in the suite start from: whole microseconds, so
// that it survives any store's time resolution exactly.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

func at(seconds int) time.Time { return base.Add(time.Duration(seconds) * time.Second) }

// canon returns v with every time.Time field (and []time.Time element) in
// UTC without a monotonic reading, so that records compare with DeepEqual.
func canon[T any](v T) T {
	rv := reflect.ValueOf(&v).Elem()
	if rv.Kind() != reflect.Struct {
		return v
	}
	timeType := reflect.TypeFor[time.Time]()
	for i := range rv.NumField() {
		f := rv.Field(i)
		switch {
		case f.Type() == timeType:
			f.Set(reflect.ValueOf(f.Interface().(time.Time).UTC()))
		case f.Kind() == reflect.Slice && f.Type().Elem() == timeType && !f.IsNil():
			out := reflect.MakeSlice(f.Type(), f.Len(), f.Len())
			for j := range f.Len() {
				out.Index(j).Set(reflect.ValueOf(f.Index(j).Interface().(time.Time).UTC()))
			}
			f.Set(out)
		}
	}
	return v
}

func sameRecord[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if g, w := canon(got), canon(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func wantErr(t *testing.T, what string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Errorf("%s: err = %v, want %v", what, err, kind)
	}
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

// ops are one record kind's operations, for the checks every kind shares.
type ops[R any] struct {
	// make returns a record with the key derived from key and content
	// derived from version.
	make     func(key string, version int) R
	etag     func(R) string
	withETag func(R, string) R
	put      func(context.Context, store.Store, R) (R, error)
	get      func(context.Context, store.Store, R) (R, error)
	// del deletes the record; nil if the kind cannot be deleted.
	del func(context.Context, store.Store, R) error
	// delConditional says del honours the record's ETag.
	delConditional bool
}

// checkRecordKind runs create, read, conditional replace and delete on one
// record kind.
func checkRecordKind[R any](t *testing.T, s store.Store, o ops[R]) {
	ctx := t.Context()
	v1 := o.make("k1", 1)

	_, err := o.get(ctx, s, v1)
	wantErr(t, "get before create", err, store.ErrNotFound)

	created, err := o.put(ctx, s, v1)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	e1 := o.etag(created)
	if e1 == "" {
		t.Fatal("create returned no ETag")
	}
	got := must[R](t, "get")(o.get(ctx, s, v1))
	sameRecord(t, "read after create", got, o.withETag(v1, e1))

	_, err = o.put(ctx, s, v1)
	wantErr(t, "create again", err, store.ErrConflict)

	v2 := o.withETag(o.make("k1", 2), e1)
	updated, err := o.put(ctx, s, v2)
	if err != nil {
		t.Fatalf("replace with current ETag: %v", err)
	}
	e2 := o.etag(updated)
	if e2 == "" || e2 == e1 {
		t.Fatalf("replace returned ETag %q after %q", e2, e1)
	}
	sameRecord(t, "read after replace", must[R](t, "get")(o.get(ctx, s, v1)), o.withETag(o.make("k1", 2), e2))

	_, err = o.put(ctx, s, o.withETag(o.make("k1", 3), e1))
	wantErr(t, "replace with stale ETag", err, store.ErrConflict)
	sameRecord(t, "read after lost replace", must[R](t, "get")(o.get(ctx, s, v1)), o.withETag(o.make("k1", 2), e2))

	// A second record with another key is independent.
	other := must[R](t, "create other")(o.put(ctx, s, o.make("k2", 7)))
	sameRecord(t, "other record", must[R](t, "get other")(o.get(ctx, s, other)), other)

	if o.del == nil {
		return
	}
	if o.delConditional {
		wantErr(t, "delete with stale ETag", o.del(ctx, s, o.withETag(v1, e1)), store.ErrConflict)
		if _, err := o.get(ctx, s, v1); err != nil {
			t.Fatalf("get after lost delete: %v", err)
		}
		if err := o.del(ctx, s, o.withETag(v1, e2)); err != nil {
			t.Fatalf("delete with current ETag: %v", err)
		}
	} else if err := o.del(ctx, s, v1); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err = o.get(ctx, s, v1)
	wantErr(t, "get after delete", err, store.ErrNotFound)
	wantErr(t, "delete again", o.del(ctx, s, o.withETag(v1, "")), store.ErrNotFound)
	_, err = o.put(ctx, s, o.withETag(o.make("k1", 4), e2))
	wantErr(t, "replace after delete", err, store.ErrConflict)
	if _, err := o.get(ctx, s, other); err != nil {
		t.Errorf("other record after delete: %v", err)
	}
	// Created again after delete.
	if _, err := o.put(ctx, s, o.make("k1", 5)); err != nil {
		t.Errorf("create after delete: %v", err)
	}
}

func testRecords(t *testing.T, s store.Store) {
	tests := []struct {
		name string
		run  func(*testing.T, store.Store)
	}{
		{"Watermark", func(t *testing.T, s store.Store) { checkRecordKind(t, s, watermarkOps) }},
		{"Link", func(t *testing.T, s store.Store) { checkRecordKind(t, s, linkOps) }},
		{"Subscription", func(t *testing.T, s store.Store) { checkRecordKind(t, s, subscriptionOps) }},
		{"Deletion", func(t *testing.T, s store.Store) { checkRecordKind(t, s, deletionOps) }},
		{"Status", func(t *testing.T, s store.Store) { checkRecordKind(t, s, statusOps) }},
		{"Guard", func(t *testing.T, s store.Store) { checkRecordKind(t, s, guardOps) }},
		{"GroupLink", func(t *testing.T, s store.Store) { checkRecordKind(t, s, groupLinkOps) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, s) })
	}
}

var watermarkOps = ops[store.Watermark]{
	make: func(key string, v int) store.Watermark {
		return store.Watermark{
			Tenant: "fabrikam.example", Resource: key,
			DeltaLink:  fmt.Sprintf("https://graph.microsoft.com/v1.0/users/delta()?$deltatoken=%d-%s", v, strings.Repeat("x", 2000)),
			TakenAt:    at(v),
			FullSyncAt: at(-v),
		}
	},
	etag:     func(w store.Watermark) string { return w.ETag },
	withETag: func(w store.Watermark, e string) store.Watermark { w.ETag = e; return w },
	put: func(ctx context.Context, s store.Store, w store.Watermark) (store.Watermark, error) {
		return s.PutWatermark(ctx, w)
	},
	get: func(ctx context.Context, s store.Store, w store.Watermark) (store.Watermark, error) {
		return s.GetWatermark(ctx, w.Tenant, w.Resource)
	},
	del: func(ctx context.Context, s store.Store, w store.Watermark) error {
		return s.DeleteWatermark(ctx, w.Tenant, w.Resource)
	},
}

var linkOps = ops[store.Link]{
	make: func(key string, v int) store.Link {
		return store.Link{
			Target: "contoso", SourceID: key,
			TargetID:  fmt.Sprintf("target-of-%s-%d", key, v),
			SourceUPN: key + "@fabrikam.example",
			Hash:      fmt.Sprintf("hash-%d", v),
			Attributes: map[string]any{
				"displayName":           fmt.Sprintf("Ada %d", v),
				"accountEnabled":        v%2 == 0,
				"employeeOrgData.count": int64(v) << 40,
				"otherMails":            []string{"a@x.example", fmt.Sprint(v)},
				"mobilePhone":           nil,
			},
			State:     store.LinkActive,
			LastError: fmt.Sprintf("error %d", v),
			Created:   at(0),
			Updated:   at(v),
		}
	},
	etag:     func(l store.Link) string { return l.ETag },
	withETag: func(l store.Link, e string) store.Link { l.ETag = e; return l },
	put:      func(ctx context.Context, s store.Store, l store.Link) (store.Link, error) { return s.PutLink(ctx, l) },
	get: func(ctx context.Context, s store.Store, l store.Link) (store.Link, error) {
		return s.GetLink(ctx, l.Target, l.SourceID)
	},
	del:            func(ctx context.Context, s store.Store, l store.Link) error { return s.DeleteLink(ctx, l) },
	delConditional: true,
}

var subscriptionOps = ops[store.Subscription]{
	make: func(key string, v int) store.Subscription {
		return store.Subscription{
			ID: key, Tenant: "fabrikam.example", Resource: "/users",
			Expiry:        at(3600 * v),
			ClientStateID: fmt.Sprintf("cs-%d", v),
			ClientState:   fmt.Sprintf("secret-%d", v),
			Created:       at(0),
		}
	},
	etag:     func(s store.Subscription) string { return s.ETag },
	withETag: func(s store.Subscription, e string) store.Subscription { s.ETag = e; return s },
	put: func(ctx context.Context, s store.Store, sub store.Subscription) (store.Subscription, error) {
		return s.PutSubscription(ctx, sub)
	},
	get: func(ctx context.Context, s store.Store, sub store.Subscription) (store.Subscription, error) {
		return s.GetSubscription(ctx, sub.ID)
	},
	del: func(ctx context.Context, s store.Store, sub store.Subscription) error {
		return s.DeleteSubscription(ctx, sub.ID)
	},
}

var deletionOps = ops[store.Deletion]{
	make: func(key string, v int) store.Deletion {
		return store.Deletion{
			Target: "contoso", SourceID: key, TargetID: "t-" + key, SourceUPN: key + "@fabrikam.example",
			Action: "delete", Reason: fmt.Sprintf("left scope %d", v),
			StagedAt: at(v), ExpiresAt: at(v + 3600), Approved: v%2 == 0,
		}
	},
	etag:     func(d store.Deletion) string { return d.ETag },
	withETag: func(d store.Deletion, e string) store.Deletion { d.ETag = e; return d },
	put: func(ctx context.Context, s store.Store, d store.Deletion) (store.Deletion, error) {
		return s.PutDeletion(ctx, d)
	},
	get: func(ctx context.Context, s store.Store, d store.Deletion) (store.Deletion, error) {
		return s.GetDeletion(ctx, d.Target, d.SourceID)
	},
	del:            func(ctx context.Context, s store.Store, d store.Deletion) error { return s.DeleteDeletion(ctx, d) },
	delConditional: true,
}

var groupLinkOps = ops[store.GroupLink]{
	make: func(key string, v int) store.GroupLink {
		l := store.GroupLink{
			Target: "contoso", SourceID: key,
			TargetID:   fmt.Sprintf("group-of-%s-%d", key, v),
			SourceName: fmt.Sprintf("Tailspin collaboration %d", v),
			SyncedAs:   "Tailspin collaboration",
			Adopted:    v%2 == 0,
			Attributes: map[string]any{
				"displayName":  fmt.Sprintf("Tailspin %d", v),
				"description":  nil,
				"mailNickname": "tailspin",
			},
			State:     store.GroupActive,
			LastError: fmt.Sprintf("error %d", v),
			Created:   at(0),
			Updated:   at(v),
		}
		if v%2 == 1 {
			// Enough members to span several properties of a Table
			// Storage entity (64 KiB each).
			for i := range 1500 + 100*v {
				l.Members = append(l.Members, fmt.Sprintf("%08d-0000-4000-8000-%012d", i, v))
			}
		}
		return l
	},
	etag:     func(l store.GroupLink) string { return l.ETag },
	withETag: func(l store.GroupLink, e string) store.GroupLink { l.ETag = e; return l },
	put: func(ctx context.Context, s store.Store, l store.GroupLink) (store.GroupLink, error) {
		return s.PutGroupLink(ctx, l)
	},
	get: func(ctx context.Context, s store.Store, l store.GroupLink) (store.GroupLink, error) {
		return s.GetGroupLink(ctx, l.Target, l.SourceID)
	},
	del:            func(ctx context.Context, s store.Store, l store.GroupLink) error { return s.DeleteGroupLink(ctx, l) },
	delConditional: true,
}

var statusOps = ops[store.TargetStatus]{
	make: func(key string, v int) store.TargetStatus {
		return store.TargetStatus{
			Target: key, QuarantinedUntil: at(v), QuarantineReason: fmt.Sprintf("429 storm %d", v),
			Quarantines: v, FullPassNeeded: v%2 == 1, LastReconcile: at(-v), LastFullReconcile: at(-2 * v),
			Counters: map[string]int64{"create": int64(v), "update": 1 << 40},
		}
	},
	etag:     func(s store.TargetStatus) string { return s.ETag },
	withETag: func(s store.TargetStatus, e string) store.TargetStatus { s.ETag = e; return s },
	put: func(ctx context.Context, s store.Store, st store.TargetStatus) (store.TargetStatus, error) {
		return s.PutStatus(ctx, st)
	},
	get: func(ctx context.Context, s store.Store, st store.TargetStatus) (store.TargetStatus, error) {
		return s.GetStatus(ctx, st.Target)
	},
}

var guardOps = ops[store.Guard]{
	make: func(key string, v int) store.Guard {
		g := store.Guard{Target: key, HoldUntil: at(60 * v)}
		if v%2 == 1 {
			g.Pending = map[string]time.Time{"p1": at(v), fmt.Sprintf("p-%d", v): at(v + 1)}
		}
		if v > 1 {
			g.Executed = map[string]time.Time{fmt.Sprintf("e-%d", v): at(-v)}
		}
		return g
	},
	etag:     func(g store.Guard) string { return g.ETag },
	withETag: func(g store.Guard, e string) store.Guard { g.ETag = e; return g },
	put: func(ctx context.Context, s store.Store, g store.Guard) (store.Guard, error) {
		return s.PutGuard(ctx, g)
	},
	get: func(ctx context.Context, s store.Store, g store.Guard) (store.Guard, error) {
		return s.GetGuard(ctx, g.Target)
	},
}
