package tablestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/internal/entity"
)

func openAt(t testing.TB, prefix string) (*Store, error) {
	t.Helper()
	return Open(t.Context(), Options{ConnectionString: tables.ConnectionString(t), TablePrefix: prefix})
}

// rawAt is the store at prefix without the layout check, as MigrateLayout
// opens it.
func rawAt(t testing.TB, prefix string) *Store {
	t.Helper()
	s, err := open(t.Context(), Options{ConnectionString: tables.ConnectionString(t), TablePrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// oldLinks are the links of the one-partition store the tests migrate:
// targets whose names extend each other or hold the separator.
func oldLinks() []store.Link {
	var ls []store.Link
	for _, tc := range []struct {
		target string
		n      int
	}{{"contoso", 260}, {"contoso-x", 40}, {"contoso:0a", 20}, {"a:b", 5}} {
		for i := range tc.n {
			l := store.Link{
				Target: tc.target, SourceID: fmt.Sprintf("%08d-0000-0000-0000-%012d", i*7919%1000, i),
				TargetID: fmt.Sprintf("t-%s-%d", tc.target, i), State: store.LinkActive, Hash: fmt.Sprintf("h%d", i),
				SourceUPN: fmt.Sprintf("user%d@fabrikam.example", i),
			}
			if i%5 == 0 {
				l.State, l.LastError = store.LinkConflict, "taken"
			}
			if i%7 == 0 {
				l.TargetID = "" // no reverse-index row
			}
			l.ETag = "v" + l.SourceID
			ls = append(ls, l)
		}
	}
	return ls
}

// writeOldLayout writes links as the one-partition layout kept them: the
// link at entity.LinkKey, its reverse-index row at entity.IndexKey, and
// counted counts rows at entity.CountsKey, all in the partition
// EncodeKey(target), 100 rows a transaction; and no layout record. Shard 3
// of "contoso" has no counts row (a store written before the counts).
func writeOldLayout(t testing.TB, s *Store, links []store.Link) {
	t.Helper()
	ctx := t.Context()
	byPK := map[string][]aztables.TransactionAction{}
	add := func(k entity.Key, e entity.Entity) {
		body, err := e.JSON(k)
		if err != nil {
			t.Fatal(err)
		}
		byPK[k.PK] = append(byPK[k.PK], aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: body})
	}
	counts := map[string]*[countShards]store.LinkCounts{}
	for _, l := range links {
		e, err := entity.FromLink(l)
		if err != nil {
			t.Fatal(err)
		}
		e[versionProperty] = l.ETag
		k, _ := entity.LinkKey(l.Target, l.SourceID)
		add(k, e)
		if l.TargetID != "" {
			ik, _ := entity.IndexKey(l.Target, l.TargetID, l.SourceID)
			add(ik, entity.Entity{})
		}
		if counts[l.Target] == nil {
			counts[l.Target] = &[countShards]store.LinkCounts{}
		}
		shard, _ := entity.SourceShard(l.SourceID)
		counts[l.Target][shard].Add(l.State, l.LastError != "", 1)
	}
	for target, c := range counts {
		for i := range c {
			if target == "contoso" && i == 3 {
				continue
			}
			e, err := countsEntity(phaseCounted, "", &c[i], nil)
			if err != nil {
				t.Fatal(err)
			}
			k, _ := entity.CountsKey(target, i)
			add(k, e)
		}
	}
	for pk, actions := range byPK {
		for len(actions) > 0 {
			chunk := actions[:min(len(actions), maxBatch)]
			actions = actions[len(chunk):]
			if _, err := s.tables[entity.TableLinks].SubmitTransaction(ctx, chunk, nil); err != nil {
				t.Fatalf("write partition %q: %v", pk, err)
			}
		}
	}
	if _, err := s.tables[entity.TableLinks].DeleteEntity(ctx, entity.LayoutKey().PK, entity.LayoutKey().RK, nil); err != nil && statusOf(err) != 404 {
		t.Fatal(err)
	}
}

// dumpLinksTable returns every row of the links table: key → properties.
func dumpLinksTable(t testing.TB, s *Store) map[entity.Key]string {
	t.Helper()
	m := map[entity.Key]string{}
	err := s.tables.query(t.Context(), entity.TableLinks, "PartitionKey ne ''", nil, func(p entity.Parsed) error {
		b, err := json.Marshal(p.Entity)
		m[p.Key] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestOldLayoutIsRefused: a store whose links are in the one-partition
// layout is not opened, with an error that names a target and the fix.
func TestOldLayoutIsRefused(t *testing.T) {
	prefix := uniquePrefix(t)
	s, err := openAt(t, prefix)
	if err != nil {
		t.Fatal(err)
	}
	writeOldLayout(t, s, oldLinks())
	_, err = openAt(t, prefix)
	if !errors.Is(err, ErrOldLayout) {
		t.Fatalf("Open over the one-partition layout: %v, want ErrOldLayout", err)
	}
	for _, want := range []string{`links of target "a:b"`, "layout before store layout 2", "stop the function app and run `handler migrate-store`"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	// Rows of this layout without the record (deleted by hand) are refused
	// too: nothing tells them from a store that wrote before the record.
	prefix = uniquePrefix(t)
	s, err = openAt(t, prefix)
	if err != nil {
		t.Fatal(err)
	}
	putLinks(t, s, "contoso", 3)
	if _, err := s.tables[entity.TableLinks].DeleteEntity(t.Context(), entity.LayoutKey().PK, entity.LayoutKey().RK, nil); err != nil {
		t.Fatal(err)
	}
	if _, err = openAt(t, prefix); !errors.Is(err, ErrOldLayout) || !strings.Contains(err.Error(), "no layout record") {
		t.Errorf("Open without the layout record: %v, want ErrOldLayout saying there is no record", err)
	}
	if _, err := rawAt(t, prefix).migrateLayout(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err = openAt(t, prefix); err != nil {
		t.Errorf("Open after migrate-store wrote the record: %v", err)
	}
}

// TestMigrateLayout: migrate-store moves a one-partition store, after
// which every link, the reverse index and the counts read back the same,
// and a second run changes nothing.
func TestMigrateLayout(t *testing.T) {
	ctx := t.Context()
	prefix := uniquePrefix(t)
	links := oldLinks()
	writeOldLayout(t, rawAt(t, prefix), links)

	raw := rawAt(t, prefix)
	res, err := raw.migrateLayout(ctx)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	wantRows := 0
	for _, l := range links {
		wantRows++
		if l.TargetID != "" {
			wantRows++
		}
	}
	wantRows += 4*countShards - 1
	if res.Targets != 4 || res.Moved != wantRows || res.Deleted != wantRows || res.Skipped != 0 {
		t.Errorf("migrate: %+v, want 4 targets, %d rows moved and deleted", res, wantRows)
	}
	s, err := openAt(t, prefix)
	if err != nil {
		t.Fatalf("Open after the migration: %v", err)
	}
	checkMigrated(t, s, links)

	// No row is left in a one-partition partition.
	before := dumpLinksTable(t, s)
	for k := range before {
		if _, _, ok := entity.ParseShardPartition(k.PK); !ok && k != entity.LayoutKey() {
			t.Errorf("row %q %q left behind", k.PK, k.RK)
		}
	}
	res, err = raw.migrateLayout(ctx)
	if err != nil || res != (MigrateResult{}) {
		t.Errorf("second migration: %+v, %v; want nothing done", res, err)
	}
	if after := dumpLinksTable(t, s); !maps.Equal(before, after) {
		t.Errorf("the second migration changed the table")
	}
}

// checkMigrated reads every link back every way.
func checkMigrated(t *testing.T, s *Store, links []store.Link) {
	t.Helper()
	ctx := t.Context()
	byTarget := map[string][]store.Link{}
	for _, l := range links {
		byTarget[l.Target] = append(byTarget[l.Target], l)
		got, err := s.GetLink(ctx, l.Target, l.SourceID)
		if err != nil {
			t.Fatalf("GetLink %q %q: %v", l.Target, l.SourceID, err)
		}
		if got.ETag != l.ETag || got.TargetID != l.TargetID || got.State != l.State || got.LastError != l.LastError || got.Hash != l.Hash || got.SourceUPN != l.SourceUPN {
			t.Errorf("link %q %q read back as %+v, want %+v", l.Target, l.SourceID, got, l)
		}
		if l.TargetID != "" {
			if got, err := s.GetLinkByTargetID(ctx, l.Target, l.TargetID); err != nil || got.SourceID != l.SourceID {
				t.Errorf("GetLinkByTargetID %q %q: %+v, %v", l.Target, l.TargetID, got, err)
			}
		}
	}
	listings := 0
	s.hooks.counted = func() { listings++ }
	defer func() { s.hooks.counted = nil }()
	for target, ls := range byTarget {
		var want []string
		var counts store.LinkCounts
		for _, l := range ls {
			want = append(want, l.SourceID)
			counts.Add(l.State, l.LastError != "", 1)
		}
		slices.Sort(want)
		var got []string
		if err := s.ListLinks(ctx, target, func(l store.Link) error { got = append(got, l.SourceID); return nil }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("ListLinks(%q) = %d links, want %d in order", target, len(got), len(want))
		}
		before := listings
		c, err := s.LinkCounts(ctx, target)
		if err != nil || !sameCounts(c, counts) {
			t.Errorf("LinkCounts(%q) = %+v, %v; want %+v", target, c, err, counts)
		}
		// The moved counts rows are used as they are: only "contoso"'s
		// shard 3, which had none, is counted by a listing.
		if wantListings := map[bool]int{true: 1, false: 0}[target == "contoso"]; listings-before != wantListings {
			t.Errorf("LinkCounts(%q) listed %d times, want %d", target, listings-before, wantListings)
		}
	}
}

// TestMigrateLayoutInterrupted: a migration that stops after N
// transactions, as a crash would, and is run again ends in the same state
// as one that ran through.
func TestMigrateLayoutInterrupted(t *testing.T) {
	ctx := t.Context()
	links := oldLinks()
	ref := rawAt(t, uniquePrefix(t))
	writeOldLayout(t, ref, links)
	if _, err := ref.migrateLayout(ctx); err != nil {
		t.Fatal(err)
	}
	want := dumpLinksTable(t, ref)

	crash := errors.New("crash")
	// The transactions: 6 copies and 2 deletions for the first page,
	// then those of the next; 0 crashes before the first.
	for _, n := range []int{0, 1, 7, 9, 40} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			prefix := uniquePrefix(t)
			s := rawAt(t, prefix)
			writeOldLayout(t, s, links)
			txns := 0
			s.hooks.migrateTxn = func() error {
				if txns++; txns > n {
					return crash
				}
				return nil
			}
			if _, err := s.migrateLayout(ctx); !errors.Is(err, crash) {
				t.Fatalf("migration stopped after %d transactions: %v, want the crash", n, err)
			}
			if _, err := openAt(t, prefix); !errors.Is(err, ErrOldLayout) {
				t.Errorf("Open after an interrupted migration: %v, want ErrOldLayout", err)
			}
			s.hooks.migrateTxn = nil
			if _, err := s.migrateLayout(ctx); err != nil {
				t.Fatalf("migration run again: %v", err)
			}
			got := dumpLinksTable(t, s)
			if !maps.Equal(got, want) {
				t.Errorf("after an interrupted migration and another: %d rows, want %d as after one migration", len(got), len(want))
				for k, v := range want {
					if got[k] != v {
						t.Errorf("row %q %q: %s, want %s", k.PK, k.RK, got[k], v)
						break
					}
				}
			}
			// The same rows as TestMigrateLayout's, which reads them back.
			if _, err := openAt(t, prefix); err != nil {
				t.Fatal(err)
			}
		})
	}
}
