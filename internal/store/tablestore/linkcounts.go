package tablestore

// Link counts.
//
// A target's link counts are spread over countShards rows, one in each of
// the target's partitions of the links table (shards.go), at
// entity.CountsKey's row key ("c00"…), below both the links ("s"…) and
// their reverse index ("t"…), so that no listing of either reaches them. A
// link belongs to the shard of a hash of its encoded source id, which is
// also the partition it is in. Every link write changes its shard's row in
// the link's own entity-group transaction, conditional on the row's ETag:
// either the link and its counts change together or neither does. Sharding
// is for the writers: the engine's concurrent workers on one target contend
// on one row in countShards, not all on one; LinkCounts reads the shards
// with countShards point reads at once (readAllCounts says why not one
// query), and counts a shard by listing its partition alone.
//
// The limits relied on, from "Performing entity group transactions"
// (https://learn.microsoft.com/en-us/rest/api/storageservices/performing-entity-group-transactions):
// every entity of a transaction has the same PartitionKey (the link, its
// index rows and its counts row are all in the partition of the link's
// shard); an
// entity appears at most once (the counts row key is neither a link's nor
// an index row's); at most 100 entities (a link write has at most four: the
// link, two index rows, the counts row). A failed transaction changes
// nothing and names the index of the operation that failed, which is how a
// write tells its counts row's lost race from its link's. Entities are
// bounded by "Understanding the Table service data model": 64 KiB a string
// property, 1 MiB an entity (entity.Check), which bounds maxTouchedBytes.
//
// Each row is in one of three phases (property Phase):
//
//   - counted: Counts holds the shard's counts, and a link write moves its
//     link from its old facts (state, failing) to its new ones.
//   - uncounted: nothing is known. A store written before the counts
//     existed has no rows at all; the first write of a shard inserts it
//     uncounted. A write of an uncounted shard rewrites the row unchanged,
//     only so that its ETag changes: a LinkCounts that starts counting the
//     shard meanwhile then makes the write fail and read the row again.
//   - counting, under a generation Gen: a LinkCounts is listing the links.
//     A write records its link's new facts (or its deletion) in Touched, by
//     encoded source id.
//
// Counting once (LinkCounts of a shard that is not counted): turn the row
// from absent or uncounted into counting under a fresh generation, on its
// ETag; list the target's links; read the row again and, if it is still
// counting under that generation, count the listed links that are not in
// Touched and the facts Touched holds for the others, and write the result
// as counted on the ETag just read. This is exact: a link that is not in
// Touched has not been written since the row began counting, which was
// before the listing began, so the listing saw it as it is; a link that is
// in Touched was written since, and Touched holds its latest facts, as of
// the ETag the result is written on. If a write got in between that read
// and the result, read and compute again; the listing need not be repeated.
//
// Why not the simpler "list, then write the count on the ETag read before
// the listing": listing a shard's 15,600 links (of 250,000) takes at least
// 8 s at a partition's 2,000 entities a second, and a sync writing 20 links
// a second would touch most shards meanwhile, so the count would rarely
// land.
// Here a write during the listing costs a few bytes in Touched instead.
//
// Why the generation: if the row stopped counting during the listing (a
// writer found Touched full, or gave up on the row, and made it uncounted)
// and counting began again after the listing had begun, Touched would no
// longer cover the whole listing. The count is written only under the
// generation the listing began in; otherwise that shard is answered from
// the listing this time and counted by a later LinkCounts.
//
// A LinkCounts that finds a shard already counting (another one listing, or
// one that died) lists under that generation rather than starting its own,
// which would only spoil the other's work: its listing too begins after
// the generation did. Whichever writes its result first wins; the other
// reads it. An identity that may not write (403) gets the listing's count
// and leaves the rows as they are.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"golang.org/x/sync/errgroup"

	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/internal/entity"
)

var _ store.LinkCounter = (*Store)(nil)

// countShards is how many rows a target's counts are spread over: one in
// each of its partitions.
const countShards = entity.LinkShards

// maxCountsAttempts bounds how often a link write reads its counts row
// again after losing a race on that row alone. Then it overwrites the row,
// unconditionally, as uncounted: the link write must not fail for the
// counts' sake, and the next LinkCounts counts the shard again.
const maxCountsAttempts = 10

// maxTouchedBytes bounds a counting shard's Touched (encoded ids and
// states, about 50 bytes a link): 1,300 writes a shard, 20,000 a target,
// while a listing runs; a sync writes about 20 a second, and listing
// 250,000 links takes about two minutes. Past it, the write makes the row
// uncounted instead. Small, because each write during counting reads and
// writes the whole row.
const maxTouchedBytes = 64 << 10

// Phases of a counts row.
const (
	phaseCounted   = "counted"
	phaseUncounted = "uncounted"
	phaseCounting  = "counting"
)

// Properties of a counts row.
const (
	propPhase   = "Phase"
	propGen     = "Gen"
	propCounts  = "Counts"  // JSON store.LinkCounts, when counted
	propTouched = "Touched" // JSON map[encoded source id]facts, a blob, when counting
)

// linkFacts is what the counts keep of a link: its state and whether it
// carries an error.
type linkFacts struct {
	state   store.LinkState
	failing bool
}

func factsOf(e entity.Entity) *linkFacts {
	return &linkFacts{state: store.LinkState(e.String("State")), failing: e.String("LastError") != ""}
}

// Facts in Touched: "+" or "!" (failing) before the state; "" for a link
// deleted since counting began. The mark keeps an empty state apart from a
// deletion.
func encodeFacts(f *linkFacts) string {
	switch {
	case f == nil:
		return ""
	case f.failing:
		return "!" + string(f.state)
	default:
		return "+" + string(f.state)
	}
}

func decodeFacts(s string) (*linkFacts, error) {
	if s == "" {
		return nil, nil
	}
	switch s[0] {
	case '!':
		return &linkFacts{state: store.LinkState(s[1:]), failing: true}, nil
	case '+':
		return &linkFacts{state: store.LinkState(s[1:])}, nil
	}
	return nil, fmt.Errorf("bad link facts %q", s)
}

// shardOf is the counts shard of a link, by its encoded source id: the
// shard of its partition.
func shardOf(encodedSourceID string) int { return entity.LinkShard(encodedSourceID) }

// countsRow is a counts row as read.
type countsRow struct {
	key     entity.Key
	exists  bool
	etag    azcore.ETag
	phase   string
	gen     string
	counts  store.LinkCounts  // counted
	touched map[string]string // counting: encoded source id → encodeFacts
}

func parseCountsRow(k entity.Key, p entity.Parsed) (countsRow, error) {
	r := countsRow{
		key:    k,
		exists: true,
		etag:   azcore.ETag(p.ETag),
		phase:  p.Entity.String(propPhase),
		gen:    p.Entity.String(propGen),
	}
	switch r.phase {
	case phaseCounted:
		if err := json.Unmarshal([]byte(p.Entity.String(propCounts)), &r.counts); err != nil {
			return countsRow{}, fmt.Errorf("decode link counts row %s: %w", k.RK, err)
		}
	case phaseCounting:
		if t := p.Entity.Blob(propTouched); t != "" {
			if err := json.Unmarshal([]byte(t), &r.touched); err != nil {
				return countsRow{}, fmt.Errorf("decode link counts row %s: %w", k.RK, err)
			}
		}
	}
	return r, nil
}

// readCounts reads one counts row; a missing row is a countsRow that does
// not exist.
func (s *Store) readCounts(ctx context.Context, k entity.Key) (countsRow, error) {
	p, err := s.tables.Get(ctx, entity.TableLinks, k)
	if errors.Is(err, store.ErrNotFound) {
		return countsRow{key: k}, nil
	}
	if err != nil {
		return countsRow{}, fmt.Errorf("read link counts row %s: %w", k.RK, err)
	}
	return parseCountsRow(k, p)
}

// readAllCounts reads a target's counts rows, one point read a partition,
// all at once. Not one query over the partitions' range: a query that
// crosses partitions may stop at each partition boundary with a
// continuation token ("Query timeout and pagination",
// https://learn.microsoft.com/en-us/rest/api/storageservices/query-timeout-and-pagination),
// up to 16 requests one after the other, while 16 point reads (the
// cheapest transaction) in flight together take one round trip's time.
func (s *Store) readAllCounts(ctx context.Context, target string) ([countShards]countsRow, error) {
	var rows [countShards]countsRow
	g, gctx := errgroup.WithContext(ctx)
	for i := range rows {
		k, err := countsKey(target, i)
		if err != nil {
			return rows, err
		}
		g.Go(func() error {
			r, err := s.readCounts(gctx, k)
			rows[i] = r
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return rows, fmt.Errorf("read link counts rows: %w", err)
	}
	return rows, nil
}

// entity builds a counts row's properties for a phase.
func countsEntity(phase, gen string, counts *store.LinkCounts, touched map[string]string) (entity.Entity, error) {
	e := entity.Entity{propPhase: phase}
	e.SetString(propGen, gen)
	if counts != nil {
		b, err := json.Marshal(counts)
		if err != nil {
			return nil, err
		}
		e[propCounts] = string(b)
	}
	if touched != nil {
		b, err := json.Marshal(touched)
		if err != nil {
			return nil, err
		}
		e.SetBlob(propTouched, string(b))
	}
	return e, nil
}

func countsAction(kind aztables.TransactionType, k entity.Key, e entity.Entity, etag azcore.ETag) (aztables.TransactionAction, error) {
	if err := e.Check(k); err != nil {
		return aztables.TransactionAction{}, err
	}
	body, err := e.JSON(k)
	if err != nil {
		return aztables.TransactionAction{}, err
	}
	a := aztables.TransactionAction{ActionType: kind, Entity: body}
	if etag != "" {
		a.IfMatch = to.Ptr(etag)
	}
	return a, nil
}

// countsWrite is the counts side of one link write: the link's shard row
// as last read, and the link's facts before and after (nil: no link).
type countsWrite struct {
	row      countsRow
	sourceID string // encoded
	old, new *linkFacts
}

// newCountsWrite prepares the counts side of a write of the link at k.
func newCountsWrite(target string, k entity.Key, old, new *linkFacts) (countsWrite, error) {
	lo, _ := entity.LinkRange()
	id, _ := strings.CutPrefix(k.RK, lo)
	ck, err := countsKey(target, shardOf(id))
	if err != nil {
		return countsWrite{}, err
	}
	return countsWrite{row: countsRow{key: ck}, sourceID: id, old: old, new: new}, nil
}

// action is the transaction action that changes the row, as last read,
// for this write. giveUp makes it an unconditional reset to uncounted.
func (w *countsWrite) action(giveUp bool) (aztables.TransactionAction, error) {
	r := w.row
	uncounted := func(kind aztables.TransactionType, etag azcore.ETag) (aztables.TransactionAction, error) {
		e, err := countsEntity(phaseUncounted, "", nil, nil)
		if err != nil {
			return aztables.TransactionAction{}, err
		}
		return countsAction(kind, r.key, e, etag)
	}
	switch {
	case giveUp:
		return uncounted(aztables.TransactionTypeInsertReplace, "")
	case !r.exists:
		return uncounted(aztables.TransactionTypeAdd, "")
	case r.phase == phaseCounted:
		// A copy: the action may be built again from the same row (a
		// missing index row dropped from the transaction).
		c := store.LinkCounts{States: maps.Clone(r.counts.States), Failing: maps.Clone(r.counts.Failing)}
		if w.old != nil {
			c.Add(w.old.state, w.old.failing, -1)
		}
		if w.new != nil {
			c.Add(w.new.state, w.new.failing, 1)
		}
		e, err := countsEntity(phaseCounted, "", &c, nil)
		if err != nil {
			return aztables.TransactionAction{}, err
		}
		return countsAction(aztables.TransactionTypeUpdateReplace, r.key, e, r.etag)
	case r.phase == phaseCounting:
		touched := maps.Clone(r.touched)
		if touched == nil {
			touched = map[string]string{}
		}
		touched[w.sourceID] = encodeFacts(w.new)
		e, err := countsEntity(phaseCounting, r.gen, nil, touched)
		if err != nil {
			return aztables.TransactionAction{}, err
		}
		if len(e.Blob(propTouched)) > maxTouchedBytes {
			return uncounted(aztables.TransactionTypeUpdateReplace, r.etag)
		}
		return countsAction(aztables.TransactionTypeUpdateReplace, r.key, e, r.etag)
	default: // uncounted, or a phase this version does not know
		return uncounted(aztables.TransactionTypeUpdateReplace, r.etag)
	}
}

// lostRace reports whether a transaction failure on the counts row is a
// lost race (the row was inserted, changed or removed since it was read).
func lostRace(f batchFailure) bool {
	switch f.status {
	case http.StatusConflict, http.StatusPreconditionFailed, http.StatusNotFound:
		return true
	}
	return false
}

// LinkCounts implements store.LinkCounter: one query of the target's
// counts rows, and once per target (or after a shard was reset) a listing
// of its links.
func (s *Store) LinkCounts(ctx context.Context, target string) (store.LinkCounts, error) {
	wrap := func(err error) error { return fmt.Errorf("count the links of %q: %w", target, err) }
	rows, err := s.readAllCounts(ctx, target)
	if err != nil {
		return store.LinkCounts{}, wrap(err)
	}
	total := store.LinkCounts{States: map[store.LinkState]int64{}, Failing: map[store.LinkState]int64{}}
	var pending []int
	for i, r := range rows {
		if r.phase == phaseCounted {
			addCounts(&total, r.counts)
			continue
		}
		pending = append(pending, i)
	}
	if len(pending) == 0 {
		return total, nil
	}
	counted, err := s.countShards(ctx, target, rows, pending)
	if err != nil {
		return store.LinkCounts{}, wrap(err)
	}
	for _, c := range counted {
		addCounts(&total, c)
	}
	return total, nil
}

func addCounts(total *store.LinkCounts, c store.LinkCounts) {
	add := func(into, from map[store.LinkState]int64) {
		for state, n := range from {
			if into[state] += n; into[state] == 0 {
				delete(into, state)
			}
		}
	}
	add(total.States, c.States)
	add(total.Failing, c.Failing)
}

// countShards counts the shards named, which are not counted, by listing
// the target's links (see the comment at the top of the file), and returns
// their counts.
func (s *Store) countShards(ctx context.Context, target string, rows [countShards]countsRow, shards []int) ([]store.LinkCounts, error) {
	result := make([]store.LinkCounts, 0, len(shards))
	gens := map[int]string{} // shard → the generation the listing runs under
	readOnly := false
	for _, i := range shards {
		if readOnly {
			gens[i] = ""
			continue
		}
		gen, counted, err := s.startCounting(ctx, rows[i])
		if errors.Is(err, errReadOnly) {
			// A reader's identity (Storage Table Data Reader: an operator
			// running `status`) may count the links, not keep the count.
			s.log.Warn("link counts: not allowed to keep the counts; counting from a listing", "target", target)
			readOnly = true
			gens[i] = ""
			continue
		}
		if err != nil {
			return nil, err
		}
		if counted != nil {
			result = append(result, *counted)
			continue
		}
		gens[i] = gen // "" when it could not begin: answered from the listing alone
	}
	if len(gens) == 0 {
		return result, nil
	}

	// Each shard's links are its partition's: list those of the shards
	// being counted, at once.
	listed := make(map[int]map[string]*linkFacts, len(gens))
	for i := range gens {
		listed[i] = map[string]*linkFacts{}
	}
	lo, hi := entity.LinkRange()
	g, gctx := errgroup.WithContext(ctx)
	for i := range gens {
		m := listed[i]
		pk := rows[i].key.PK
		g.Go(func() error {
			return s.tables.query(gctx, entity.TableLinks, partitionFilter(pk, lo, hi), to.Ptr("RowKey,State,LastError"), func(p entity.Parsed) error {
				id, _ := strings.CutPrefix(p.Key.RK, lo)
				m[id] = factsOf(p.Entity)
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("list the links: %w", err)
	}
	if s.hooks.counted != nil {
		s.hooks.counted()
	}

	for i, gen := range gens {
		c, err := s.finishCounting(ctx, rows[i].key, gen, listed[i])
		if err != nil {
			return nil, err
		}
		result = append(result, c)
	}
	return result, nil
}

// errReadOnly is startCounting's answer when the store may not be written.
var errReadOnly = errors.New("not allowed to write")

// startCounting makes a shard's row counting, unless it is counting
// already, and returns the generation; or the counts, if the row turned
// out counted. It returns "" if writers kept it from starting: the shard is
// then answered from the listing alone, this time.
func (s *Store) startCounting(ctx context.Context, r countsRow) (gen string, counted *store.LinkCounts, err error) {
	table := s.tables[entity.TableLinks]
	for attempt := 0; attempt < maxCountsAttempts; attempt++ {
		if attempt > 0 {
			if r, err = s.readCounts(ctx, r.key); err != nil {
				return "", nil, err
			}
		}
		switch r.phase {
		case phaseCounted:
			return "", &r.counts, nil
		case phaseCounting:
			return r.gen, nil, nil
		}
		gen, err := newVersion()
		if err != nil {
			return "", nil, err
		}
		e, err := countsEntity(phaseCounting, gen, nil, nil)
		if err != nil {
			return "", nil, err
		}
		body, err := e.JSON(r.key)
		if err != nil {
			return "", nil, err
		}
		if !r.exists {
			_, err = table.AddEntity(ctx, body, &aztables.AddEntityOptions{Format: to.Ptr(aztables.MetadataFormatNone)})
		} else {
			_, err = table.UpdateEntity(ctx, body, &aztables.UpdateEntityOptions{IfMatch: to.Ptr(r.etag), UpdateMode: aztables.UpdateModeReplace})
		}
		switch st := statusOf(err); {
		case err == nil:
			return gen, nil, nil
		case st == http.StatusConflict, st == http.StatusPreconditionFailed, st == http.StatusNotFound:
			continue // a writer got there first
		case st == http.StatusForbidden:
			return "", nil, errReadOnly
		default:
			return "", nil, fmt.Errorf("start counting shard %s: %w", r.key.RK, err)
		}
	}
	s.log.Warn("link counts: writers kept a shard from being counted; counting it from a listing this time", "shard", r.key.RK)
	return "", nil, nil
}

// finishCounting computes a shard's counts from the listing and the row's
// Touched, and writes them as counted if the row is still counting under
// gen. Otherwise, or if writers keep changing the row, the shard's counts
// are still returned, as listed or as last computed, but not kept.
func (s *Store) finishCounting(ctx context.Context, k entity.Key, gen string, listed map[string]*linkFacts) (store.LinkCounts, error) {
	table := s.tables[entity.TableLinks]
	var c store.LinkCounts
	for _, f := range listed {
		c.Add(f.state, f.failing, 1)
	}
	if gen == "" {
		return c, nil
	}
	for attempt := 0; attempt < maxCountsAttempts; attempt++ {
		r, err := s.readCounts(ctx, k)
		if err != nil {
			return store.LinkCounts{}, err
		}
		switch {
		case r.phase == phaseCounted:
			return r.counts, nil // another LinkCounts finished first
		case r.phase != phaseCounting || r.gen != gen:
			s.log.Warn("link counts: a shard was reset while it was being counted; counting it from a listing this time", "shard", k.RK)
			return c, nil
		}
		c = store.LinkCounts{}
		for id, f := range listed {
			if _, ok := r.touched[id]; !ok {
				c.Add(f.state, f.failing, 1)
			}
		}
		for id, enc := range r.touched {
			f, err := decodeFacts(enc)
			if err != nil {
				return store.LinkCounts{}, fmt.Errorf("link counts row %s, link %s: %w", k.RK, id, err)
			}
			if f != nil {
				c.Add(f.state, f.failing, 1)
			}
		}
		e, err := countsEntity(phaseCounted, "", &c, nil)
		if err != nil {
			return store.LinkCounts{}, err
		}
		body, err := e.JSON(k)
		if err != nil {
			return store.LinkCounts{}, err
		}
		_, err = table.UpdateEntity(ctx, body, &aztables.UpdateEntityOptions{IfMatch: to.Ptr(r.etag), UpdateMode: aztables.UpdateModeReplace})
		switch st := statusOf(err); {
		case err == nil:
			return c, nil
		case st == http.StatusPreconditionFailed, st == http.StatusNotFound:
			continue // a write got in between: compute again
		default:
			return store.LinkCounts{}, fmt.Errorf("write the counts of shard %s: %w", k.RK, err)
		}
	}
	s.log.Warn("link counts: writers kept a shard's count from being kept; answering from the listing", "shard", k.RK)
	return c, nil
}
