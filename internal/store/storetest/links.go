package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tenantsync/tenantsync/internal/store"
)

func link(target, sourceID, targetID string) store.Link {
	return store.Link{Target: target, SourceID: sourceID, TargetID: targetID, State: store.LinkActive, Hash: "h0", Created: at(0)}
}

// testGetLinks checks that a batched read answers what GetLink answers
// for each id: the links of this target only, none for an id without one.
func testGetLinks(t *testing.T, s store.Store) {
	ctx := t.Context()
	ids := []string{"6f1c8a4e-2f0b-4c8e-9d2b-5a0f3e1d7c9b", "a/b", "a b", "é", "~", "a@b"}
	for i := range 300 {
		ids = append(ids, fmt.Sprintf("00000000-0000-0000-0000-%012d", i))
	}
	for i, id := range ids {
		l := link("contoso", id, "t"+strconv.Itoa(i))
		if i%3 == 1 {
			l.State, l.LastError = store.LinkPending, "refused"
		}
		must[store.Link](t, "put")(s.PutLink(ctx, l))
	}
	must[store.Link](t, "put other")(s.PutLink(ctx, link("contoso2", "only-in-contoso2", "tx")))

	ask := append(slices.Clone(ids), "missing", "only-in-contoso2", ids[0]) // a duplicate too
	rand.Shuffle(len(ask), func(i, j int) { ask[i], ask[j] = ask[j], ask[i] })
	got, err := s.GetLinks(ctx, "contoso", ask)
	if err != nil {
		t.Fatalf("GetLinks: %v", err)
	}
	if len(got) != len(ids) {
		t.Errorf("GetLinks returned %d links, want %d", len(got), len(ids))
	}
	for _, id := range ids {
		want := must[store.Link](t, "get")(s.GetLink(ctx, "contoso", id))
		l, ok := got[id]
		if !ok {
			t.Errorf("GetLinks: no link for %q", id)
			continue
		}
		sameRecord(t, "GetLinks "+id, l, want)
	}
	for _, id := range []string{"missing", "only-in-contoso2"} {
		if l, ok := got[id]; ok {
			t.Errorf("GetLinks returned %+v for %q, which has no link in contoso", l, id)
		}
	}
	if got, err := s.GetLinks(ctx, "contoso", nil); err != nil || len(got) != 0 {
		t.Errorf("GetLinks of no ids = %v, %v; want an empty map", got, err)
	}
}

func testListLinks(t *testing.T, s store.Store) {
	ctx := t.Context()
	ids := []string{
		"6f1c8a4e-2f0b-4c8e-9d2b-5a0f3e1d7c9b", "00000000-0000-0000-0000-000000000001", "ffffffff-ffff-ffff-ffff-ffffffffffff",
		"a", "A", "a/b", "a b", "a~", "é", "", "~", "Z", "0", "a.b", "a-b", "a_b", "a@b",
	}
	for _, i := range rand.Perm(len(ids)) {
		must[store.Link](t, "put")(s.PutLink(ctx, link("contoso", ids[i], "t"+strconv.Itoa(i))))
	}
	// Links of other targets must not show up, including targets whose
	// names extend "contoso".
	for _, other := range []string{"contoso2", "contoso-", "contos", "Contoso"} {
		must[store.Link](t, "put other")(s.PutLink(ctx, link(other, "x", "tx")))
	}

	var got []string
	err := s.ListLinks(ctx, "contoso", func(l store.Link) error {
		if l.Target != "contoso" || l.ETag == "" || l.Hash != "h0" {
			t.Errorf("listed link %+v", l)
		}
		got = append(got, l.SourceID)
		return nil
	})
	if err != nil {
		t.Fatalf("ListLinks: %v", err)
	}
	want := slices.Clone(ids)
	sort.Strings(want) // byte order of the source ids
	if !slices.Equal(got, want) {
		t.Errorf("ListLinks order:\n got %q\nwant %q", got, want)
	}

	// The callback's error stops the listing and comes back.
	stop := errors.New("stop")
	n := 0
	err = s.ListLinks(ctx, "contoso", func(store.Link) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("ListLinks with failing callback: err %v after %d calls, want %v after 1", err, n, stop)
	}

	// The callback may write to the store (the engine updates links as it
	// walks them).
	err = s.ListLinks(ctx, "contoso", func(l store.Link) error {
		l.Hash = "h1"
		_, err := s.PutLink(ctx, l)
		return err
	})
	if err != nil {
		t.Fatalf("ListLinks updating each link: %v", err)
	}
	for _, id := range ids {
		if l := must[store.Link](t, "get")(s.GetLink(ctx, "contoso", id)); l.Hash != "h1" {
			t.Errorf("link %q has hash %q after the update pass", id, l.Hash)
		}
	}

	calls := 0
	if err := s.ListLinks(ctx, "nobody", func(store.Link) error { calls++; return nil }); err != nil || calls != 0 {
		t.Errorf("ListLinks of an empty target: %d calls, %v", calls, err)
	}
}

// testListLinksMany checks a listing longer than any batch of the embedded
// store (256) and any page of Table Storage (1,000).
func testListLinksMany(t *testing.T, s store.Store) {
	const n = 1005
	ctx := t.Context()
	for i := range n {
		must[store.Link](t, "put")(s.PutLink(ctx, link("big", fmt.Sprintf("u%05d", i), "")))
	}
	i := 0
	err := s.ListLinks(ctx, "big", func(l store.Link) error {
		if want := fmt.Sprintf("u%05d", i); l.SourceID != want {
			return fmt.Errorf("link %d is %q, want %q", i, l.SourceID, want)
		}
		i++
		return nil
	})
	if err != nil || i != n {
		t.Errorf("ListLinks: %d links, %v; want %d", i, err, n)
	}
}

func testReverseIndex(t *testing.T, s store.Store) {
	ctx := t.Context()
	lookup := func(target, targetID string) (store.Link, error) { return s.GetLinkByTargetID(ctx, target, targetID) }
	wantLink := func(what, target, targetID, sourceID, etag string) {
		t.Helper()
		l, err := lookup(target, targetID)
		if err != nil {
			t.Fatalf("%s: GetLinkByTargetID(%q, %q): %v", what, target, targetID, err)
		}
		if l.SourceID != sourceID || l.TargetID != targetID || l.Target != target || l.ETag != etag {
			t.Errorf("%s: GetLinkByTargetID(%q, %q) = %+v, want source %q, ETag %q", what, target, targetID, l, sourceID, etag)
		}
	}
	wantNone := func(what, target, targetID string) {
		t.Helper()
		l, err := lookup(target, targetID)
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: GetLinkByTargetID(%q, %q) = %+v, %v; want not found", what, target, targetID, l, err)
		}
	}

	l := must[store.Link](t, "create")(s.PutLink(ctx, link("contoso", "src-1", "tid-A")))
	wantLink("after create", "contoso", "tid-A", "src-1", l.ETag)
	wantNone("other target", "fabrikam", "tid-A")
	wantNone("unknown id", "contoso", "tid-B")
	wantNone("prefix of an id", "contoso", "tid-")
	wantNone("empty id", "contoso", "")

	// The same target object id in another target is another link.
	other := must[store.Link](t, "create in other target")(s.PutLink(ctx, link("fabrikam2", "src-9", "tid-A")))
	wantLink("other target's own link", "fabrikam2", "tid-A", "src-9", other.ETag)

	// The ETag a lookup returns is good for a write.
	byID := must[store.Link](t, "lookup")(lookup("contoso", "tid-A"))
	byID.TargetID = "tid-B"
	l = must[store.Link](t, "change target id")(s.PutLink(ctx, byID))
	wantNone("old id after change", "contoso", "tid-A")
	wantLink("new id after change", "contoso", "tid-B", "src-1", l.ETag)
	wantLink("other target untouched", "fabrikam2", "tid-A", "src-9", other.ETag)

	// A lost race changes nothing, in the link or in the index.
	stale := l
	stale.ETag = "stale"
	stale.TargetID = "tid-C"
	if _, err := s.PutLink(ctx, stale); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale write: %v, want conflict", err)
	}
	wantNone("id of a lost write", "contoso", "tid-C")
	wantLink("id kept after a lost write", "contoso", "tid-B", "src-1", l.ETag)

	l.TargetID = ""
	l = must[store.Link](t, "clear target id")(s.PutLink(ctx, l))
	wantNone("cleared id", "contoso", "tid-B")

	l.TargetID = "tid-C"
	l = must[store.Link](t, "set target id")(s.PutLink(ctx, l))
	wantLink("set id", "contoso", "tid-C", "src-1", l.ETag)

	// A conditional delete that loses keeps the index.
	stale = l
	stale.ETag = "stale"
	if err := s.DeleteLink(ctx, stale); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale delete: %v, want conflict", err)
	}
	wantLink("after lost delete", "contoso", "tid-C", "src-1", l.ETag)

	if err := s.DeleteLink(ctx, l); err != nil {
		t.Fatalf("delete: %v", err)
	}
	wantNone("after delete", "contoso", "tid-C")

	// An unconditional delete removes the index row too.
	l = must[store.Link](t, "recreate")(s.PutLink(ctx, link("contoso", "src-1", "tid-D")))
	l.ETag = ""
	if err := s.DeleteLink(ctx, l); err != nil {
		t.Fatalf("unconditional delete: %v", err)
	}
	wantNone("after unconditional delete", "contoso", "tid-D")
	wantLink("other target after deletes", "fabrikam2", "tid-A", "src-9", other.ETag)
}

// testLinkRace has many writers update one link from the same read, round
// after round: exactly one wins each round, the others get ErrConflict, and
// the winner's write is what is stored, index included.
func testLinkRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	const writers, rounds = 8, 5
	cur := must[store.Link](t, "create")(s.PutLink(ctx, link("contoso", "racer", "tid-start")))
	for round := range rounds {
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []store.Link
			others  []error
		)
		start := make(chan struct{})
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l := cur
				l.Hash = fmt.Sprintf("round %d writer %d", round, w)
				l.TargetID = fmt.Sprintf("tid-%d-%d", round, w)
				<-start
				got, err := s.PutLink(ctx, l)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					winners = append(winners, got)
				} else if !errors.Is(err, store.ErrConflict) {
					others = append(others, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(others) > 0 {
			t.Fatalf("round %d: errors other than conflict: %v", round, others)
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d writers won, want exactly 1", round, len(winners))
		}
		stored := must[store.Link](t, "get")(s.GetLink(ctx, "contoso", "racer"))
		if stored.Hash != winners[0].Hash || stored.ETag != winners[0].ETag || stored.TargetID != winners[0].TargetID {
			t.Fatalf("round %d: stored %+v, winner wrote %+v", round, stored, winners[0])
		}
		// Only the winner's target id is indexed.
		for w := range writers {
			id := fmt.Sprintf("tid-%d-%d", round, w)
			l, err := s.GetLinkByTargetID(ctx, "contoso", id)
			if id == stored.TargetID {
				if err != nil || l.SourceID != "racer" {
					t.Errorf("round %d: winner's id %q: %+v, %v", round, id, l, err)
				}
			} else if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("round %d: loser's id %q found: %+v, %v", round, id, l, err)
			}
		}
		if _, err := s.GetLinkByTargetID(ctx, "contoso", cur.TargetID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("round %d: previous id %q still indexed: %v", round, cur.TargetID, err)
		}
		cur = stored
	}
}

// testLinkNoLostUpdates has writers increment a counter kept in a link with
// read-modify-write and retry on conflict: no increment may be lost.
func testLinkNoLostUpdates(t *testing.T, s store.Store) {
	ctx := t.Context()
	const writers, increments = 6, 5
	must[store.Link](t, "create")(s.PutLink(ctx, store.Link{Target: "contoso", SourceID: "counter", Hash: "0"}))
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < increments; {
				l, err := s.GetLink(ctx, "contoso", "counter")
				if err != nil {
					errs <- err
					return
				}
				n, _ := strconv.Atoi(l.Hash)
				l.Hash = strconv.Itoa(n + 1)
				l.TargetID = "tid-" + l.Hash
				_, err = s.PutLink(ctx, l)
				switch {
				case err == nil:
					done++
				case !errors.Is(err, store.ErrConflict):
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v", err)
	}
	l := must[store.Link](t, "get")(s.GetLink(ctx, "contoso", "counter"))
	if want := strconv.Itoa(writers * increments); l.Hash != want {
		t.Errorf("counter = %s, want %s: updates were lost", l.Hash, want)
	}
	byID, err := s.GetLinkByTargetID(ctx, "contoso", l.TargetID)
	if err != nil || byID.ETag != l.ETag {
		t.Errorf("final target id %q: %+v, %v", l.TargetID, byID, err)
	}
	for i := 1; i < writers*increments; i++ {
		if _, err := s.GetLinkByTargetID(ctx, "contoso", "tid-"+strconv.Itoa(i)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("superseded target id tid-%d still indexed: %v", i, err)
		}
	}
}

func testLists(t *testing.T, s store.Store) {
	ctx := t.Context()
	subs, err := s.ListSubscriptions(ctx)
	if err != nil || len(subs) != 0 {
		t.Fatalf("ListSubscriptions of an empty store: %v, %v", subs, err)
	}
	want := map[string]store.Subscription{}
	for i := range 5 {
		sub := subscriptionOps.make(fmt.Sprintf("sub-%d", i), i)
		want[sub.ID] = must[store.Subscription](t, "put")(s.PutSubscription(ctx, sub))
	}
	if err := s.DeleteSubscription(ctx, "sub-3"); err != nil {
		t.Fatalf("DeleteSubscription: %v", err)
	}
	delete(want, "sub-3")
	subs = must[[]store.Subscription](t, "list")(s.ListSubscriptions(ctx))
	if len(subs) != len(want) {
		t.Errorf("ListSubscriptions: %d, want %d", len(subs), len(want))
	}
	for _, sub := range subs {
		sameRecord(t, "listed subscription "+sub.ID, sub, want[sub.ID])
	}

	wantDel := map[string]store.Deletion{}
	for i := range 4 {
		d := deletionOps.make(fmt.Sprintf("src-%d", i), i)
		wantDel[d.SourceID] = must[store.Deletion](t, "put")(s.PutDeletion(ctx, d))
	}
	d := deletionOps.make("src-x", 1)
	d.Target = "contoso-2"
	must[store.Deletion](t, "put other target")(s.PutDeletion(ctx, d))
	ds := must[[]store.Deletion](t, "list")(s.ListDeletions(ctx, "contoso"))
	if len(ds) != len(wantDel) {
		t.Errorf("ListDeletions: %d, want %d", len(ds), len(wantDel))
	}
	for _, d := range ds {
		sameRecord(t, "listed deletion "+d.SourceID, d, wantDel[d.SourceID])
	}
	if ds := must[[]store.Deletion](t, "list empty")(s.ListDeletions(ctx, "nobody")); len(ds) != 0 {
		t.Errorf("ListDeletions of an unknown target: %v", ds)
	}

	// Group links: listed per target, in source id order, and apart from
	// the user links of the same target.
	must[store.Link](t, "put user link")(s.PutLink(ctx, linkOps.make("user-1", 1)))
	var wantGroups []store.GroupLink
	for _, i := range []int{3, 0, 2} {
		l := groupLinkOps.make(fmt.Sprintf("grp-%d", i), i)
		wantGroups = append(wantGroups, must[store.GroupLink](t, "put group link")(s.PutGroupLink(ctx, l)))
	}
	slices.SortFunc(wantGroups, func(a, b store.GroupLink) int { return strings.Compare(a.SourceID, b.SourceID) })
	gl := groupLinkOps.make("grp-x", 1)
	gl.Target = "contoso-2"
	must[store.GroupLink](t, "put group link of another target")(s.PutGroupLink(ctx, gl))
	gls := must[[]store.GroupLink](t, "list group links")(s.ListGroupLinks(ctx, "contoso"))
	if len(gls) != len(wantGroups) {
		t.Fatalf("ListGroupLinks: %d, want %d", len(gls), len(wantGroups))
	}
	for i := range gls {
		sameRecord(t, "listed group link "+gls[i].SourceID, gls[i], wantGroups[i])
	}
	var users []string
	if err := s.ListLinks(ctx, "contoso", func(l store.Link) error { users = append(users, l.SourceID); return nil }); err != nil {
		t.Fatalf("ListLinks: %v", err)
	}
	if !slices.Equal(users, []string{"user-1"}) {
		t.Errorf("ListLinks lists %v beside group links, want only [user-1]", users)
	}
	if gls := must[[]store.GroupLink](t, "list group links empty")(s.ListGroupLinks(ctx, "nobody")); len(gls) != 0 {
		t.Errorf("ListGroupLinks of an unknown target: %v", gls)
	}
}
