package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"

	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

// TestLinkCounts checks that the counts kept with every link write are the
// counts of the links, whether the target was counted before the writes
// (kept up to date) or after them (counted once from the links).
func TestLinkCounts(t *testing.T) {
	ctx := context.Background()
	type op struct {
		put    *store.Link // else delete
		delete string
	}
	put := func(id string, state store.LinkState, lastError string) op {
		return op{put: &store.Link{Target: "contoso", SourceID: id, TargetID: "t-" + id, State: state, LastError: lastError}}
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
	}
	for _, tc := range tests {
		for _, countFirst := range []bool{true, false} {
			name := tc.name + "/counted after the writes"
			if countFirst {
				name = tc.name + "/counted before the writes"
			}
			t.Run(name, func(t *testing.T) {
				s, err := boltstore.OpenTemp(nil)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				if countFirst {
					if _, err := s.LinkCounts(ctx, "contoso"); err != nil {
						t.Fatal(err)
					}
				}
				// Another target's links are counted apart.
				if _, err := s.PutLink(ctx, store.Link{Target: "litware", SourceID: "a", TargetID: "x", State: store.LinkActive, LastError: "boom"}); err != nil {
					t.Fatal(err)
				}
				for _, o := range tc.ops {
					if o.put != nil {
						l, err := s.GetLink(ctx, "contoso", o.put.SourceID)
						if err != nil && !errors.Is(err, store.ErrNotFound) {
							t.Fatal(err)
						}
						o.put.ETag = l.ETag
						if _, err := s.PutLink(ctx, *o.put); err != nil {
							t.Fatal(err)
						}
						continue
					}
					if err := s.DeleteLink(ctx, store.Link{Target: "contoso", SourceID: o.delete}); err != nil {
						t.Fatal(err)
					}
				}
				got, err := s.LinkCounts(ctx, "contoso")
				if err != nil {
					t.Fatal(err)
				}
				if len(got.States) == 0 {
					got.States = nil
				}
				if len(got.Failing) == 0 {
					got.Failing = nil
				}
				want := store.LinkCounts{States: tc.wantStates, Failing: tc.wantFailing}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("counts %+v, want %+v", got, want)
				}
				other, err := s.LinkCounts(ctx, "litware")
				if err != nil {
					t.Fatal(err)
				}
				if other.States[store.LinkActive] != 1 || other.Failing[store.LinkActive] != 1 || len(other.States) != 1 {
					t.Errorf("litware's counts %+v, want one active link failing", other)
				}
			})
		}
	}
}

// TestLinkCountsConflict checks that a write that loses its race leaves the
// counts as they were.
func TestLinkCountsConflict(t *testing.T) {
	ctx := context.Background()
	s, err := boltstore.OpenTemp(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.LinkCounts(ctx, "contoso"); err != nil {
		t.Fatal(err)
	}
	l, err := s.PutLink(ctx, store.Link{Target: "contoso", SourceID: "a", TargetID: "t", State: store.LinkActive})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutLink(ctx, store.Link{Target: "contoso", SourceID: "a", State: store.LinkConflict}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("create over an existing link: %v, want a conflict", err)
	}
	stale := l
	stale.ETag = "stale"
	if err := s.DeleteLink(ctx, stale); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale delete: %v, want a conflict", err)
	}
	got, err := s.LinkCounts(ctx, "contoso")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.States, map[store.LinkState]int64{store.LinkActive: 1}) || len(got.Failing) != 0 {
		t.Errorf("counts %+v after lost races, want one active link", got)
	}
}

// TestLinkCountsUnderConcurrentWriters: 16 writers put, re-state and
// delete 60 links in random orders, losing races to each other (ETags),
// over several seeds; the counts kept with the writes must equal a count
// of the links as they end.
func TestLinkCountsUnderConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	states := []store.LinkState{store.LinkActive, store.LinkPending, store.LinkStaged, store.LinkDisabled, store.LinkDeleted, store.LinkConflict}
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			s, err := boltstore.OpenTemp(nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.LinkCounts(ctx, "contoso"); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for w := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(seed, uint64(w)))
					for range 200 {
						id := fmt.Sprintf("u%02d", r.IntN(60))
						l, err := s.GetLink(ctx, "contoso", id)
						if err != nil && !errors.Is(err, store.ErrNotFound) {
							t.Error(err)
							return
						}
						if err == nil && r.IntN(5) == 0 {
							if err := s.DeleteLink(ctx, l); err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
								t.Error(err)
							}
							continue
						}
						l.Target, l.SourceID, l.TargetID = "contoso", id, "t-"+id
						l.State = states[r.IntN(len(states))]
						l.LastError = ""
						if r.IntN(3) == 0 {
							l.LastError = "boom"
						}
						if _, err := s.PutLink(ctx, l); err != nil && !errors.Is(err, store.ErrConflict) {
							t.Error(err)
						}
					}
				}()
			}
			wg.Wait()
			var want store.LinkCounts
			links := 0
			if err := s.ListLinks(ctx, "contoso", func(l store.Link) error {
				want.Add(l.State, l.LastError != "", 1)
				links++
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			got, err := s.LinkCounts(ctx, "contoso")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normal(got), normal(want)) {
				t.Errorf("kept counts %+v, want the count of the %d links %+v", got, links, want)
			}
		})
	}
}

// normal makes empty count maps nil, for comparison.
func normal(c store.LinkCounts) store.LinkCounts {
	if len(c.States) == 0 {
		c.States = nil
	}
	if len(c.Failing) == 0 {
		c.Failing = nil
	}
	return c
}
