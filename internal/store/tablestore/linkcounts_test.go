package tablestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/internal/entity"
)

// The shared tests (storetest: LinkCounts…) check the counts against a
// recount under concurrent writers; these check what is particular to
// Table Storage: the rows, a store written before them, writes during a
// count, and that the rows stay out of the links' listings.

func recountLinks(t testing.TB, s *Store, target string) store.LinkCounts {
	t.Helper()
	var c store.LinkCounts
	if err := s.ListLinks(t.Context(), target, func(l store.Link) error {
		c.Add(l.State, l.LastError != "", 1)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

func sameCounts(a, b store.LinkCounts) bool {
	norm := func(m map[store.LinkState]int64) map[store.LinkState]int64 {
		if len(m) == 0 {
			return nil
		}
		return m
	}
	return reflect.DeepEqual(norm(a.States), norm(b.States)) && reflect.DeepEqual(norm(a.Failing), norm(b.Failing))
}

// checkKept checks that the target's counts equal a recount, and that
// LinkCounts listed the links want times to answer (listings counts them,
// through s.hooks).
func checkKept(t *testing.T, s *Store, target string, listings *int, want int) {
	t.Helper()
	before := *listings
	got, err := s.LinkCounts(t.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	if want := recountLinks(t, s, target); !sameCounts(got, want) {
		t.Errorf("counts %+v, want %+v (a recount)", got, want)
	}
	if n := *listings - before; n != want {
		t.Errorf("LinkCounts listed the links %d times, want %d", n, want)
	}
}

// phases returns the phase of each of the target's counts rows, by shard.
func phases(t *testing.T, s *Store, target string) map[int]string {
	t.Helper()
	rows, err := s.readAllCounts(t.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	m := map[int]string{}
	for i, r := range rows {
		if r.exists {
			m[i] = r.phase
		}
	}
	return m
}

func allCounted(t *testing.T, s *Store, target string) {
	t.Helper()
	p := phases(t, s, target)
	for i := range countShards {
		if p[i] != phaseCounted {
			t.Errorf("shard %d is %q, want counted", i, p[i])
		}
	}
}

// putLinks writes n links, some failing, through the store.
func putLinks(t testing.TB, s *Store, target string, n int) {
	t.Helper()
	for i := range n {
		l := store.Link{Target: target, SourceID: fmt.Sprintf("u%03d", i), TargetID: fmt.Sprintf("t%03d", i), State: store.LinkActive}
		if i%3 == 0 {
			l.State, l.LastError = store.LinkConflict, "taken"
		}
		if _, err := s.PutLink(t.Context(), l); err != nil {
			t.Fatal(err)
		}
	}
}

// deleteCountsRows removes a target's counts rows, as in a store written
// before they existed.
func deleteCountsRows(t *testing.T, s *Store, target string) {
	t.Helper()
	for i := range countShards {
		k, _ := countsKey(target, i)
		if _, err := s.tables[entity.TableLinks].DeleteEntity(t.Context(), k.PK, k.RK, nil); err != nil && statusOf(err) != 404 {
			t.Fatal(err)
		}
	}
}

// TestLinkCountsOfAnOlderStore: links written before the counts existed
// (no counts rows) are counted once, by a listing, and then kept by the
// writes without another.
func TestLinkCountsOfAnOlderStore(t *testing.T) {
	s := openTest(t, nil)
	listings := 0
	s.hooks.counted = func() { listings++ }
	putLinks(t, s, "contoso", 50)
	deleteCountsRows(t, s, "contoso")
	if p := phases(t, s, "contoso"); len(p) != 0 {
		t.Fatalf("rows left: %v", p)
	}
	checkKept(t, s, "contoso", &listings, 1)
	allCounted(t, s, "contoso")

	// Writes after: updates, a delete, creates; no further listing.
	ctx := t.Context()
	for i := range 10 {
		l, err := s.GetLink(ctx, "contoso", fmt.Sprintf("u%03d", i))
		if err != nil {
			t.Fatal(err)
		}
		l.State, l.LastError = store.LinkDisabled, ""
		if _, err := s.PutLink(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteLink(ctx, store.Link{Target: "contoso", SourceID: "u020"}); err != nil {
		t.Fatal(err)
	}
	putLinks(t, s, "contoso-new", 5)
	if _, err := s.PutLink(ctx, store.Link{Target: "contoso", SourceID: "new", State: store.LinkPending, LastError: "x"}); err != nil {
		t.Fatal(err)
	}
	checkKept(t, s, "contoso", &listings, 0)
}

// TestLinkCountsWritesWhileCounting writes, between the listing and the
// count being kept, links the listing saw and links it did not: creates,
// changes of state and of failing, deletes, in every shard. The count kept
// must be the links as they are after those writes.
func TestLinkCountsWritesWhileCounting(t *testing.T) {
	s := openTest(t, nil)
	ctx := t.Context()
	putLinks(t, s, "contoso", 60)
	deleteCountsRows(t, s, "contoso")
	listings := 0
	s.hooks.counted = func() {
		listings++
		if listings > 1 {
			return
		}
		for i := range 60 {
			id := fmt.Sprintf("u%03d", i)
			switch i % 4 {
			case 0:
				if err := s.DeleteLink(ctx, store.Link{Target: "contoso", SourceID: id}); err != nil {
					t.Error(err)
				}
			case 1:
				l, err := s.GetLink(ctx, "contoso", id)
				if err != nil {
					t.Error(err)
					continue
				}
				l.State, l.LastError = store.LinkStaged, "boom"
				if _, err := s.PutLink(ctx, l); err != nil {
					t.Error(err)
				}
			}
		}
		for i := range 20 {
			if _, err := s.PutLink(ctx, store.Link{Target: "contoso", SourceID: fmt.Sprintf("n%03d", i), State: store.LinkInviting}); err != nil {
				t.Error(err)
			}
		}
	}
	checkKept(t, s, "contoso", &listings, 1)
	allCounted(t, s, "contoso")
	checkKept(t, s, "contoso", &listings, 0)
}

// TestLinkCountsStartDuringAWrite: a LinkCounts counts the shard of a
// write, start to finish, after the write read the row uncounted and
// before its transaction. The listing did not see the write; the write
// must then fail on the row, read it counted, and count itself.
func TestLinkCountsStartDuringAWrite(t *testing.T) {
	s := openTest(t, nil)
	ctx := t.Context()
	putLinks(t, s, "contoso", 10)
	ops := []struct {
		name string
		l    store.Link
	}{
		{"create", store.Link{Target: "contoso", SourceID: "new", State: store.LinkPending, LastError: "x"}},
		{"change", store.Link{Target: "contoso", SourceID: "u001", State: store.LinkDisabled}},
		{"delete", store.Link{Target: "contoso", SourceID: "u002"}},
	}
	for _, op := range ops {
		for _, rowExists := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, row exists %v", op.name, rowExists), func(t *testing.T) {
				l := op.l
				if rowExists && op.name != "change" {
					l.SourceID = map[string]string{"create": "new2", "delete": "u003"}[op.name]
				}
				deleteCountsRows(t, s, "contoso")
				if rowExists {
					// As the writes of a store without counts leave it.
					k, _, _ := linkKey("contoso", l.SourceID)
					w, _ := newCountsWrite("contoso", k, nil, nil)
					e, _ := countsEntity(phaseUncounted, "", nil, nil)
					body, _ := e.JSON(w.row.key)
					if _, err := s.tables[entity.TableLinks].UpsertEntity(ctx, body, nil); err != nil {
						t.Fatal(err)
					}
				}
				listings, txns := 0, 0
				s.hooks.counted = func() { listings++ }
				s.hooks.linkTxn = func() {
					if txns++; txns == 1 {
						if _, err := s.LinkCounts(ctx, "contoso"); err != nil {
							t.Error(err)
						}
					}
				}
				var err error
				switch op.name {
				case "create":
					_, err = s.PutLink(ctx, l)
				case "change":
					cur, gerr := s.GetLink(ctx, "contoso", l.SourceID)
					if gerr != nil {
						t.Fatal(gerr)
					}
					l.ETag = cur.ETag
					_, err = s.PutLink(ctx, l)
				case "delete":
					err = s.DeleteLink(ctx, l)
				}
				s.hooks.linkTxn = nil
				if err != nil {
					t.Fatal(err)
				}
				if txns != 2 || listings != 1 {
					t.Errorf("%d transactions and %d listings, want 2 (one lost on the counts row) and 1", txns, listings)
				}
				checkKept(t, s, "contoso", &listings, 0)
			})
		}
	}
}

// TestLinkCountsGeneration: while a LinkCounts lists, a shard is reset and
// another count of it begins. The first must not keep its count: the new
// generation's Touched misses the writes between the reset and its start.
func TestLinkCountsGeneration(t *testing.T) {
	s := openTest(t, nil)
	ctx := t.Context()
	putLinks(t, s, "contoso", 10)
	deleteCountsRows(t, s, "contoso")
	// Two new links in one shard.
	var ids []string
	for i := 0; len(ids) < 2; i++ {
		id := fmt.Sprintf("gen%d", i)
		if enc, _ := entity.EncodeKey(id); shardOf(enc) == 5 {
			ids = append(ids, id)
		}
	}
	listings := 0
	s.hooks.counted = func() {
		if listings++; listings > 1 {
			return
		}
		k, _ := countsKey("contoso", 5)
		e, _ := countsEntity(phaseUncounted, "", nil, nil)
		body, _ := e.JSON(k)
		if _, err := s.tables[entity.TableLinks].UpsertEntity(ctx, body, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutLink(ctx, store.Link{Target: "contoso", SourceID: ids[0], State: store.LinkActive}); err != nil {
			t.Fatal(err)
		}
		r, err := s.readCounts(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.startCounting(ctx, r); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutLink(ctx, store.Link{Target: "contoso", SourceID: ids[1], State: store.LinkActive}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.LinkCounts(ctx, "contoso"); err != nil {
		t.Fatal(err)
	}
	if p := phases(t, s, "contoso")[5]; p != phaseCounting {
		t.Errorf("shard 5 is %q, want still counting under the second generation", p)
	}
	checkKept(t, s, "contoso", &listings, 1)
	allCounted(t, s, "contoso")
}

// TestLinkCountsReset: a shard whose Touched grows past its bound while it
// is counted is reset to uncounted; that LinkCounts answers from its
// listing, and the next counts the shard again, exactly.
func TestLinkCountsReset(t *testing.T) {
	var logs bytes.Buffer
	s := openTest(t, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := t.Context()
	putLinks(t, s, "contoso", 30)
	deleteCountsRows(t, s, "contoso")
	listings := 0
	var listed store.LinkCounts
	s.hooks.counted = func() {
		listings++
		if listings > 1 {
			return
		}
		listed = recountLinks(t, s, "contoso")
		// Enough writes to one shard to overflow Touched: each records a
		// source id of 200 characters.
		long := strings.Repeat("x", 200)
		n := 0
		for i := 0; n < maxTouchedBytes/200+10; i++ {
			id := fmt.Sprintf("%s%05d", long, i)
			enc, _ := entity.EncodeKey(id)
			if shardOf(enc) != 3 {
				continue
			}
			n++
			if _, err := s.PutLink(ctx, store.Link{Target: "contoso", SourceID: id, State: store.LinkActive}); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := s.LinkCounts(ctx, "contoso")
	if err != nil {
		t.Fatal(err)
	}
	if !sameCounts(got, listed) {
		t.Errorf("counts during the reset %+v, want the listing's %+v", got, listed)
	}
	if p := phases(t, s, "contoso"); p[3] != phaseUncounted || p[4] != phaseCounted {
		t.Errorf("phases after the reset: %v, want shard 3 uncounted and the others counted", p)
	}
	if !strings.Contains(logs.String(), "reset while it was being counted") {
		t.Errorf("the reset was not logged: %q", logs.String())
	}
	checkKept(t, s, "contoso", &listings, 1) // the reset shard, counted again
	allCounted(t, s, "contoso")
}

// TestLinkCountsGiveUp: a write that keeps losing races on its counts row
// resets the row unconditionally rather than fail, and the shard is
// counted again later.
func TestLinkCountsGiveUp(t *testing.T) {
	var logs bytes.Buffer
	s := openTest(t, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := t.Context()
	if _, err := s.LinkCounts(ctx, "contoso"); err != nil {
		t.Fatal(err)
	}
	k, _, _ := linkKey("contoso", "a")
	w, err := newCountsWrite("contoso", k, nil, &linkFacts{state: store.LinkActive})
	if err != nil {
		t.Fatal(err)
	}
	// Every read of the row comes too late: another writer has changed
	// it since.
	stale := func(r *countsRow) { r.etag = `W/"datetime'2000-01-01T00%3A00%3A00.0000000Z'"` }
	s.hooks.reread = stale
	w.row, err = s.readCounts(ctx, w.row.key)
	if err != nil {
		t.Fatal(err)
	}
	stale(&w.row)
	body, _ := entity.Entity{"State": string(store.LinkActive)}.JSON(k)
	if err := s.submitLink(ctx, []aztables.TransactionAction{{ActionType: aztables.TransactionTypeAdd, Entity: body}}, &w); err != nil {
		t.Fatalf("a write losing every race on its counts row: %v", err)
	}
	s.hooks.reread = nil
	shard, _ := entity.CountsShard(w.row.key.RK)
	if p := phases(t, s, "contoso")[shard]; p != phaseUncounted {
		t.Errorf("shard %d is %q after the write gave up, want uncounted", shard, p)
	}
	if !strings.Contains(logs.String(), "kept losing races on its counts row") {
		t.Errorf("giving up was not logged: %q", logs.String())
	}
	listings := 0
	s.hooks.counted = func() { listings++ }
	checkKept(t, s, "contoso", &listings, 1)
	allCounted(t, s, "contoso")
}

// TestCountsRowsStayOutOfListings: the counts rows share the links'
// partition, but no read of links or of the reverse index returns them.
func TestCountsRowsStayOutOfListings(t *testing.T) {
	s := openTest(t, nil)
	ctx := t.Context()
	// Source ids around the counts rows' keys once encoded ("c00"…).
	ids := []string{"c", "c00", "c0f", "b", "d", "", "~"}
	for i, id := range ids {
		if _, err := s.PutLink(ctx, store.Link{Target: "contoso", SourceID: id, TargetID: "c" + fmt.Sprint(i), State: store.LinkActive}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.LinkCounts(ctx, "contoso"); err != nil {
		t.Fatal(err)
	}
	if p := phases(t, s, "contoso"); len(p) != countShards {
		t.Fatalf("%d counts rows, want %d", len(p), countShards)
	}
	var got []string
	if err := s.ListLinks(ctx, "contoso", func(l store.Link) error {
		got = append(got, l.SourceID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ids) {
		t.Errorf("ListLinks returned %q, want the %d links", got, len(ids))
	}
	for i, id := range ids {
		l, err := s.GetLinkByTargetID(ctx, "contoso", "c"+fmt.Sprint(i))
		if err != nil || l.SourceID != id {
			t.Errorf("GetLinkByTargetID(c%d): %+v, %v", i, l, err)
		}
	}
	// Counts row keys as target ids: no reverse-index row matches.
	for i := range countShards {
		k, _ := entity.CountsKey("contoso", i)
		if _, err := s.GetLinkByTargetID(ctx, "contoso", k.RK); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetLinkByTargetID(%s): %v, want not found", k.RK, err)
		}
		if _, err := s.GetLinkByTargetID(ctx, "contoso", k.RK[1:]); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetLinkByTargetID(%s): %v, want not found", k.RK[1:], err)
		}
	}
	// Every row of the partitions is a link, an index row or a counts row.
	pks, _ := partitions("contoso")
	rows := 0
	for _, pk := range pks {
		if err := s.tables.query(ctx, entity.TableLinks, partitionFilter(pk, "", ""), nil, func(p entity.Parsed) error {
			rows++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if want := 2*len(ids) + countShards; rows != want {
		t.Errorf("%d rows in the partitions, want %d", rows, want)
	}
}

// BenchmarkLinkCounts measures LinkCounts of a target of 10,000 links:
// kept (one query of the counts rows) against a count by listing (what
// status did before), and the first LinkCounts of a store written before
// the counts. The links are written in transactions of 50 (with their index
// rows), without counts rows, as an older store would have them.
func BenchmarkLinkCounts(b *testing.B) {
	const n = 10_000
	s := openTest(b, nil)
	ctx := b.Context()
	seedLinks(b, s, "bench", n)
	b.Run("first (count by listing, once)", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			for i := range countShards {
				k, _ := countsKey("bench", i)
				if _, err := s.tables[entity.TableLinks].DeleteEntity(ctx, k.PK, k.RK, nil); err != nil && statusOf(err) != 404 {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			c, err := s.LinkCounts(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			if c.States[store.LinkActive] != n {
				b.Fatalf("counts %+v", c)
			}
		}
		reportMS(b)
	})
	b.Run("kept", func(b *testing.B) {
		var took []time.Duration
		for b.Loop() {
			start := time.Now()
			if _, err := s.LinkCounts(ctx, "bench"); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(start))
		}
		reportMS(b)
		// The goal is on the p99 (issue 16: 200 ms).
		slices.Sort(took)
		b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
	})
	b.Run("listing", func(b *testing.B) {
		for b.Loop() {
			recountLinks(b, s, "bench")
		}
		reportMS(b)
	})
}

func reportMS(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
}

// seedLinks writes n active links and their index rows straight to the
// table, up to 50 links a transaction (one partition each), with no counts
// rows.
func seedLinks(b testing.TB, s *Store, target string, n int) {
	ctx := context.Background()
	var actions [countShards][]aztables.TransactionAction
	flush := func(shard int) {
		if len(actions[shard]) == 0 {
			return
		}
		if _, err := s.tables[entity.TableLinks].SubmitTransaction(ctx, actions[shard], nil); err != nil {
			b.Fatal(err)
		}
		actions[shard] = actions[shard][:0]
	}
	for i := range n {
		l := store.Link{Target: target, SourceID: fmt.Sprintf("%08d-0000-0000-0000-000000000000", i), TargetID: fmt.Sprintf("t%08d", i), State: store.LinkActive}
		e, err := entity.FromLink(l)
		if err != nil {
			b.Fatal(err)
		}
		e[versionProperty] = "v"
		k, shard, _ := linkKey(target, l.SourceID)
		body, _ := e.JSON(k)
		ik, _ := indexKey(target, l.TargetID, l.SourceID)
		idx, _ := entity.Entity{}.JSON(ik)
		actions[shard] = append(actions[shard],
			aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: body},
			aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: idx})
		if len(actions[shard]) == maxBatch {
			flush(shard)
		}
	}
	for shard := range actions {
		flush(shard)
	}
}

// refuseWrites answers every request but reads with 403, as the service
// does an identity with only Storage Table Data Reader.
type refuseWrites struct{}

func (refuseWrites) Do(req *policy.Request) (*http.Response, error) {
	if req.Raw().Method == http.MethodGet {
		return req.Next()
	}
	const code = "AuthorizationPermissionMismatch"
	return &http.Response{
		StatusCode: http.StatusForbidden,
		Status:     "403 This request is not authorized to perform this operation using this permission.",
		Header:     http.Header{"X-Ms-Error-Code": {code}, "Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(`{"odata.error":{"code":"` + code + `","message":{"value":"no"}}}`)),
		Request:    req.Raw(),
	}, nil
}

// TestLinkCountsReadOnly: an identity that may read but not write (an
// operator running `status`) gets the counts of a target not yet counted
// from a listing, and leaves the rows as they were.
func TestLinkCountsReadOnly(t *testing.T) {
	var logs bytes.Buffer
	prefix := uniquePrefix(t)
	conn := tables.ConnectionString(t)
	w, err := Open(t.Context(), Options{ConnectionString: conn, TablePrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	putLinks(t, w, "contoso", 20)
	r, err := Open(t.Context(), Options{
		ConnectionString: conn,
		TablePrefix:      prefix,
		ExistingTables:   true,
		Logger:           slog.New(slog.NewTextHandler(&logs, nil)),
		ClientOptions:    &aztables.ClientOptions{ClientOptions: policy.ClientOptions{PerCallPolicies: []policy.Policy{refuseWrites{}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.LinkCounts(t.Context(), "contoso")
	if err != nil {
		t.Fatalf("LinkCounts without the right to write: %v", err)
	}
	if want := recountLinks(t, w, "contoso"); !sameCounts(got, want) {
		t.Errorf("counts %+v, want %+v", got, want)
	}
	for i, p := range phases(t, w, "contoso") {
		if p != phaseUncounted {
			t.Errorf("shard %d is %q, want uncounted as the writes left it", i, p)
		}
	}
	if n := strings.Count(logs.String(), "not allowed to keep the counts"); n != 1 {
		t.Errorf("logged %d times that it could not keep the counts, want once: %q", n, logs.String())
	}
}
