package storetest

import (
	"fmt"
	"testing"

	"github.com/tenantsync/tenantsync/internal/store"
)

// testListLinksWhileWriting checks ListLinks' order and completeness while
// its callback creates, updates and deletes links of the same target (the
// engine writes links as it walks them; the Table Storage store merges
// several partitions' listings, each read ahead of the callback): the
// listing is in strictly increasing source id order, lists each link at
// most once, lists every link that was there before it began and is
// neither deleted nor created during it, and the writes all land.
func testListLinksWhileWriting(t *testing.T, s store.Store) {
	const n = 1200 // more than a Table Storage page
	ctx := t.Context()
	id := func(i int) string { return fmt.Sprintf("u%05d", i) }
	for i := 0; i < n; i += 2 { // the even ones; the odd ones are created during the listing
		must[store.Link](t, "put")(s.PutLink(ctx, link("merge", id(i), "t"+id(i))))
	}
	deleted := map[string]bool{}
	var got []string
	err := s.ListLinks(ctx, "merge", func(l store.Link) error {
		if len(got) > 0 && l.SourceID <= got[len(got)-1] {
			return fmt.Errorf("listed %q after %q", l.SourceID, got[len(got)-1])
		}
		got = append(got, l.SourceID)
		var i int
		if _, err := fmt.Sscanf(l.SourceID, "u%05d", &i); err != nil {
			return err
		}
		// Update the link listed, unless it was deleted after it was read
		// (listed as it was).
		l.Hash = "h1"
		if _, err := s.PutLink(ctx, l); err != nil && !deleted[l.SourceID] {
			return fmt.Errorf("update %q: %w", l.SourceID, err)
		}
		// Create one behind and one ahead.
		for _, j := range []int{i - 1, i + 1} {
			if j < 0 || j >= n || j%2 == 0 {
				continue
			}
			if _, err := s.GetLink(ctx, "merge", id(j)); err == nil {
				continue
			}
			if _, err := s.PutLink(ctx, link("merge", id(j), "t"+id(j))); err != nil {
				return fmt.Errorf("create %q: %w", id(j), err)
			}
		}
		// Delete one ahead, every 100.
		if j := i + 10; i%100 == 0 && j < n {
			if err := s.DeleteLink(ctx, store.Link{Target: "merge", SourceID: id(j)}); err != nil {
				return fmt.Errorf("delete %q: %w", id(j), err)
			}
			deleted[id(j)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ListLinks writing as it lists: %v", err)
	}
	listed := map[string]bool{}
	for _, sid := range got {
		listed[sid] = true
	}
	for i := 0; i < n; i += 2 {
		if sid := id(i); !deleted[sid] && !listed[sid] {
			t.Errorf("link %q, there before the listing and not deleted, was not listed", sid)
		}
	}
	// Every write landed.
	total := 0
	err = s.ListLinks(ctx, "merge", func(l store.Link) error {
		total++
		var i int
		fmt.Sscanf(l.SourceID, "u%05d", &i)
		if deleted[l.SourceID] {
			t.Errorf("deleted link %q listed", l.SourceID)
		}
		if i%2 == 0 && listed[l.SourceID] && l.Hash != "h1" {
			t.Errorf("link %q listed but not updated: hash %q", l.SourceID, l.Hash)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ListLinks after: %v", err)
	}
	if want := n - len(deleted); total != want {
		t.Errorf("%d links after the listing, want %d (%d deleted)", total, want, len(deleted))
	}
}
