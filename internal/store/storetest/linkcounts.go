package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"

	"github.com/tenantsync/tenantsync/internal/store"
)

// The link counts of a store.LinkCounter, whatever way it keeps them, must
// equal a count of its links: whether the target was counted before the
// writes (counts kept up to date), only after them (counted once from the
// links), or while they ran. Stores that do not implement it are counted
// by their callers with ListLinks, and skip these tests.

func linkCounter(t *testing.T, s store.Store) store.LinkCounter {
	t.Helper()
	c, ok := s.(store.LinkCounter)
	if !ok {
		t.Skipf("%T does not keep link counts", s)
	}
	return c
}

// normalCounts makes empty count maps nil, for comparison.
func normalCounts(c store.LinkCounts) store.LinkCounts {
	if len(c.States) == 0 {
		c.States = nil
	}
	if len(c.Failing) == 0 {
		c.Failing = nil
	}
	return c
}

// recount counts a target's links by listing them.
func recount(t *testing.T, s store.Store, target string) (store.LinkCounts, int) {
	t.Helper()
	var c store.LinkCounts
	n := 0
	if err := s.ListLinks(t.Context(), target, func(l store.Link) error {
		c.Add(l.State, l.LastError != "", 1)
		n++
		return nil
	}); err != nil {
		t.Fatalf("ListLinks: %v", err)
	}
	return normalCounts(c), n
}

// checkCounts compares a target's kept counts with a recount.
func checkCounts(t *testing.T, s store.Store, target string) {
	t.Helper()
	got, err := linkCounter(t, s).LinkCounts(t.Context(), target)
	if err != nil {
		t.Fatalf("LinkCounts: %v", err)
	}
	want, n := recount(t, s, target)
	if !reflect.DeepEqual(normalCounts(got), want) {
		t.Errorf("%s: kept counts %+v, want the count of the %d links %+v", target, normalCounts(got), n, want)
	}
}

func testLinkCounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	counter := linkCounter(t, s)
	type op struct {
		put    *store.Link // else delete
		delete string
	}
	put := func(id string, state store.LinkState, lastError string) op {
		return op{put: &store.Link{SourceID: id, TargetID: "t-" + id, State: state, LastError: lastError}}
	}
	del := func(id string) op { return op{delete: id} }
	tests := []struct {
		name        string
		ops         []op
		wantStates  map[store.LinkState]int64
		wantFailing map[store.LinkState]int64
	}{
		{name: "no links"},
		{name: "creates", ops: []op{put("a", store.LinkActive, ""), put("b", store.LinkActive, ""), put("c", store.LinkConflict, "taken")},
			wantStates: map[store.LinkState]int64{store.LinkActive: 2, store.LinkConflict: 1}, wantFailing: map[store.LinkState]int64{store.LinkConflict: 1}},
		{name: "a state changes", ops: []op{put("a", store.LinkActive, ""), put("a", store.LinkPending, ""), put("a", store.LinkDeleted, "")},
			wantStates: map[store.LinkState]int64{store.LinkDeleted: 1}},
		{name: "an error comes and goes", ops: []op{put("a", store.LinkActive, "boom"), put("b", store.LinkActive, "boom"), put("a", store.LinkActive, "")},
			wantStates: map[store.LinkState]int64{store.LinkActive: 2}, wantFailing: map[store.LinkState]int64{store.LinkActive: 1}},
		{name: "deletes", ops: []op{put("a", store.LinkActive, "boom"), put("b", store.LinkInviting, ""), del("a"), del("b"), put("c", store.LinkStaged, "")},
			wantStates: map[store.LinkState]int64{store.LinkStaged: 1}},
		{name: "no state", ops: []op{put("a", "", ""), put("b", "", "boom"), put("", store.LinkActive, "")},
			wantStates: map[store.LinkState]int64{"": 2, store.LinkActive: 1}, wantFailing: map[store.LinkState]int64{"": 1}},
	}
	for i, tc := range tests {
		for _, countFirst := range []bool{true, false} {
			name := tc.name + "/counted after the writes"
			if countFirst {
				name = tc.name + "/counted before the writes"
			}
			t.Run(name, func(t *testing.T) {
				// One store for all: each case has its own targets.
				target := fmt.Sprintf("contoso%d-%v", i, countFirst)
				other := fmt.Sprintf("litware%d-%v", i, countFirst)
				if countFirst {
					if _, err := counter.LinkCounts(ctx, target); err != nil {
						t.Fatal(err)
					}
				}
				// Another target's links are counted apart.
				if _, err := s.PutLink(ctx, store.Link{Target: other, SourceID: "a", TargetID: "x", State: store.LinkActive, LastError: "boom"}); err != nil {
					t.Fatal(err)
				}
				for _, o := range tc.ops {
					if o.put != nil {
						l, err := s.GetLink(ctx, target, o.put.SourceID)
						if err != nil && !errors.Is(err, store.ErrNotFound) {
							t.Fatal(err)
						}
						o.put.Target, o.put.ETag = target, l.ETag
						if _, err := s.PutLink(ctx, *o.put); err != nil {
							t.Fatal(err)
						}
						continue
					}
					if err := s.DeleteLink(ctx, store.Link{Target: target, SourceID: o.delete}); err != nil {
						t.Fatal(err)
					}
				}
				got, err := counter.LinkCounts(ctx, target)
				if err != nil {
					t.Fatal(err)
				}
				want := store.LinkCounts{States: tc.wantStates, Failing: tc.wantFailing}
				if !reflect.DeepEqual(normalCounts(got), want) {
					t.Errorf("counts %+v, want %+v", got, want)
				}
				o, err := counter.LinkCounts(ctx, other)
				if err != nil {
					t.Fatal(err)
				}
				if o.States[store.LinkActive] != 1 || o.Failing[store.LinkActive] != 1 || len(o.States) != 1 {
					t.Errorf("%s's counts %+v, want one active link failing", other, o)
				}
			})
		}
	}
}

// testLinkCountsConflict checks that a write that loses its race leaves the
// counts as they were.
func testLinkCountsConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	counter := linkCounter(t, s)
	if _, err := counter.LinkCounts(ctx, "contoso"); err != nil {
		t.Fatal(err)
	}
	l, err := s.PutLink(ctx, store.Link{Target: "contoso", SourceID: "a", TargetID: "t", State: store.LinkActive})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutLink(ctx, store.Link{Target: "contoso", SourceID: "a", State: store.LinkConflict}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("create over an existing link: %v, want a conflict", err)
	}
	stale, err := s.PutLink(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	stale.ETag = l.ETag
	stale.State = store.LinkDeleted
	if _, err := s.PutLink(ctx, stale); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update: %v, want a conflict", err)
	}
	if err := s.DeleteLink(ctx, stale); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale delete: %v, want a conflict", err)
	}
	if err := s.DeleteLink(ctx, store.Link{Target: "contoso", SourceID: "gone"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete of a missing link: %v, want not found", err)
	}
	got, err := counter.LinkCounts(ctx, "contoso")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.States, map[store.LinkState]int64{store.LinkActive: 1}) || len(got.Failing) != 0 {
		t.Errorf("counts %+v after lost races, want one active link", got)
	}
}

// testLinkCountsUnderConcurrentWriters: 16 writers put, re-state, move and
// delete 40 links of a target, 20 writes each, in random orders, losing
// races to each other (ETags), over 6 seeds; the target is counted before
// the writes, after them, or while they run (a reader asks for the counts
// throughout). The counts must equal a count of the links as they end, and
// stay equal through more writes. (Small, as Table Storage runs it twice,
// against Azurite, in about 10 s.)
func testLinkCountsUnderConcurrentWriters(t *testing.T, s store.Store) {
	ctx := t.Context()
	counter := linkCounter(t, s)
	states := []store.LinkState{store.LinkActive, store.LinkPending, store.LinkStaged, store.LinkDisabled, store.LinkDeleted, store.LinkConflict}
	const writers, rounds, links = 16, 20, 40
	modes := []string{"counted before", "counted after", "counted during"}
	for seed := uint64(1); seed <= 6; seed++ {
		mode := modes[seed%uint64(len(modes))]
		target := fmt.Sprintf("contoso%d", seed)
		t.Run(fmt.Sprintf("%d %s", seed, mode), func(t *testing.T) {
			if mode == "counted before" {
				if _, err := counter.LinkCounts(ctx, target); err != nil {
					t.Fatal(err)
				}
			}
			write := func(r *rand.Rand) {
				id := fmt.Sprintf("u%02d", r.IntN(links))
				l, err := s.GetLink(ctx, target, id)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					t.Error(err)
					return
				}
				if err == nil && r.IntN(5) == 0 {
					if err := s.DeleteLink(ctx, l); err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
						t.Error(err)
					}
					return
				}
				l.Target, l.SourceID = target, id
				// The target id moves now and then: the index rows share
				// the transaction with the counts.
				l.TargetID = fmt.Sprintf("t-%s-%d", id, r.IntN(2))
				l.State = states[r.IntN(len(states))]
				l.LastError = ""
				if r.IntN(3) == 0 {
					l.LastError = "boom"
				}
				if _, err := s.PutLink(ctx, l); err != nil && !errors.Is(err, store.ErrConflict) {
					t.Error(err)
				}
			}
			var wg sync.WaitGroup
			stop := make(chan struct{})
			var reader sync.WaitGroup
			if mode == "counted during" {
				reader.Add(1)
				go func() {
					defer reader.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						if _, err := counter.LinkCounts(ctx, target); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(seed, uint64(w)))
					for range rounds {
						write(r)
					}
				}()
			}
			wg.Wait()
			close(stop)
			reader.Wait()
			checkCounts(t, s, target)
			// Kept, not counted once and forgotten.
			r := rand.New(rand.NewPCG(seed, 99))
			for range 20 {
				write(r)
			}
			checkCounts(t, s, target)
		})
	}
}
