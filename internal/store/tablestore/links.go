package tablestore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"golang.org/x/sync/errgroup"

	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/internal/entity"
)

// versionProperty holds a link's version token, which is the link's ETag
// as callers see it.
const versionProperty = "Version"

// maxAttempts bounds the retries of an unconditional delete that keeps
// losing to concurrent writers, and of a write that finds the reverse index
// damaged.
const maxAttempts = 5

func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }

func newVersion() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// currentLink is a link row as read before a write.
type currentLink struct {
	exists   bool
	version  string
	targetID string
	facts    *linkFacts  // for the link counts
	etag     azcore.ETag // the service's, for the conditional write
}

func (s *Store) readLink(ctx context.Context, k entity.Key) (currentLink, error) {
	p, err := s.tables.Get(ctx, entity.TableLinks, k)
	if errors.Is(err, store.ErrNotFound) {
		return currentLink{}, nil
	}
	if err != nil {
		return currentLink{}, err
	}
	return currentLink{
		exists:   true,
		version:  p.Entity.String(versionProperty),
		targetID: p.Entity.String("TargetID"),
		facts:    factsOf(p.Entity),
		etag:     azcore.ETag(p.ETag),
	}, nil
}

// readLinkAndCounts reads a link and its counts row side by side, so that
// the counts cost a write no extra round trip.
func (s *Store) readLinkAndCounts(ctx context.Context, k entity.Key, counts entity.Key) (currentLink, countsRow, error) {
	type result struct {
		row countsRow
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := s.readCounts(ctx, counts)
		done <- result{r, err}
	}()
	cur, err := s.readLink(ctx, k)
	res := <-done
	if err != nil {
		return currentLink{}, countsRow{}, err
	}
	return cur, res.row, res.err
}

// GetLink implements store.Store.
func (s *Store) GetLink(ctx context.Context, target, sourceID string) (store.Link, error) {
	k, _, err := linkKey(target, sourceID)
	if err != nil {
		return store.Link{}, fmt.Errorf("get link %q %q: %w", target, sourceID, err)
	}
	p, err := s.tables.Get(ctx, entity.TableLinks, k)
	if err != nil {
		return store.Link{}, fmt.Errorf("get link %q %q: %w", target, sourceID, err)
	}
	l, err := linkFromEntity(target, sourceID, p.Entity)
	if err != nil {
		return store.Link{}, fmt.Errorf("get link %q %q: %w", target, sourceID, err)
	}
	return l, nil
}

func linkFromEntity(target, sourceID string, e entity.Entity) (store.Link, error) {
	l, err := entity.ToLink(e)
	l.Target, l.SourceID, l.ETag = target, sourceID, e.String(versionProperty)
	return l, err
}

// GetLinkByTargetID implements store.Store. The reverse-index row is in
// the partition of its link's shard, which the target id does not tell: it
// queries the index range of every partition of the target at once, so
// that the lookup takes one round trip's time (and one query a partition,
// nearly always empty).
func (s *Store) GetLinkByTargetID(ctx context.Context, target, targetID string) (store.Link, error) {
	wrap := func(err error) error { return fmt.Errorf("get link %q by target id %q: %w", target, targetID, err) }
	pks, err := partitions(target)
	if err != nil {
		return store.Link{}, wrap(err)
	}
	lo, hi, err := entity.IndexRange(targetID)
	if err != nil {
		return store.Link{}, wrap(err)
	}
	var (
		mu      sync.Mutex
		sources []string
	)
	g, gctx := errgroup.WithContext(ctx)
	for _, pk := range pks {
		g.Go(func() error {
			return s.tables.query(gctx, entity.TableLinks, partitionFilter(pk, lo, hi), to.Ptr("RowKey"), func(p entity.Parsed) error {
				id, err := entity.IndexSource(p.Key.RK)
				if err != nil {
					return err
				}
				mu.Lock()
				sources = append(sources, id)
				mu.Unlock()
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		return store.Link{}, wrap(err)
	}
	// The same answer whichever partition answered first.
	slices.Sort(sources)
	// Between the two reads the link may have moved on to another target
	// id; then this id is no longer its.
	for _, sourceID := range sources {
		l, err := s.GetLink(ctx, target, sourceID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return store.Link{}, err
		}
		if l.TargetID == targetID {
			return l, nil
		}
	}
	return store.Link{}, wrap(store.ErrNotFound)
}

// PutLink implements store.Store. A create adds the link and its index row
// in one transaction. A replace reads the link first, for its service ETag
// and its old target id, then in one transaction replaces it on that ETag
// and moves its index row. Either way the transaction also changes the
// link's counts row (linkcounts.go), read beforehand.
func (s *Store) PutLink(ctx context.Context, l store.Link) (store.Link, error) {
	wrap := func(err error) error { return fmt.Errorf("put link %q %q: %w", l.Target, l.SourceID, err) }
	k, _, err := linkKey(l.Target, l.SourceID)
	if err != nil {
		return store.Link{}, wrap(err)
	}
	var index entity.Key
	if l.TargetID != "" {
		if index, err = indexKey(l.Target, l.TargetID, l.SourceID); err != nil {
			return store.Link{}, wrap(err)
		}
	}
	e, err := entity.FromLink(l)
	if err != nil {
		return store.Link{}, wrap(err)
	}
	version, err := newVersion()
	if err != nil {
		return store.Link{}, wrap(err)
	}
	e[versionProperty] = version
	if err := e.Check(k); err != nil {
		return store.Link{}, wrap(err)
	}
	body, err := e.JSON(k)
	if err != nil {
		return store.Link{}, wrap(err)
	}

	counts, err := newCountsWrite(l.Target, k, nil, factsOf(e))
	if err != nil {
		return store.Link{}, wrap(err)
	}
	var cur currentLink
	if l.ETag == "" {
		if counts.row, err = s.readCounts(ctx, counts.row.key); err != nil {
			return store.Link{}, wrap(err)
		}
	} else {
		if cur, counts.row, err = s.readLinkAndCounts(ctx, k, counts.row.key); err != nil {
			return store.Link{}, wrap(err)
		}
		counts.old = cur.facts
		switch {
		case !cur.exists:
			return store.Link{}, wrap(fmt.Errorf("deleted since read: %w", store.ErrConflict))
		case cur.version != l.ETag:
			return store.Link{}, wrap(fmt.Errorf("changed since read: %w", store.ErrConflict))
		}
	}
	actions := []aztables.TransactionAction{{ActionType: aztables.TransactionTypeAdd, Entity: body}}
	if cur.exists {
		actions[0] = aztables.TransactionAction{ActionType: aztables.TransactionTypeUpdateReplace, Entity: body, IfMatch: to.Ptr(cur.etag)}
		if cur.targetID != "" && cur.targetID != l.TargetID {
			old, err := indexKey(l.Target, cur.targetID, l.SourceID)
			if err != nil {
				return store.Link{}, wrap(err)
			}
			actions = append(actions, deleteAction(old))
		}
	}
	if l.TargetID != "" {
		// Insert-or-replace: a create or a move, and a repair if the row
		// went missing.
		idx, err := entity.Entity{}.JSON(index)
		if err != nil {
			return store.Link{}, wrap(err)
		}
		actions = append(actions, aztables.TransactionAction{ActionType: aztables.TransactionTypeInsertReplace, Entity: idx})
	}
	if err := s.submitLink(ctx, actions, &counts); err != nil {
		return store.Link{}, wrap(err)
	}
	l.ETag = version
	return l, nil
}

func deleteAction(k entity.Key) aztables.TransactionAction {
	body, _ := entity.Entity{}.JSON(k) // keys only: cannot fail
	return aztables.TransactionAction{ActionType: aztables.TransactionTypeDelete, Entity: body}
}

// submitLink runs a link transaction whose first action is on the link row
// and whose delete actions are on index rows, with the action on the
// link's counts row last. A failure on the link row is a lost race; an
// index row already missing is dropped from the transaction, which is
// tried again; so is a counts row that changed since it was read, read
// again (maxCountsAttempts, then reset: see countsWrite.action).
func (s *Store) submitLink(ctx context.Context, actions []aztables.TransactionAction, counts *countsWrite) error {
	repairs, countsRaces := 0, 0
	for {
		ca, err := counts.action(countsRaces >= maxCountsAttempts)
		if err != nil {
			return fmt.Errorf("link counts row %s: %w", counts.row.key.RK, err)
		}
		all := append(actions[:len(actions):len(actions)], ca)
		if s.hooks.linkTxn != nil {
			s.hooks.linkTxn()
		}
		_, err = s.tables[entity.TableLinks].SubmitTransaction(ctx, all, nil)
		if err == nil {
			return nil
		}
		f, ok := parseBatchError(err)
		if !ok {
			return err
		}
		switch {
		case f.index == len(all)-1 && lostRace(f) && countsRaces < maxCountsAttempts:
			// The link's own conditions held (they come first); only its
			// counts row changed.
			countsRaces++
			if countsRaces == maxCountsAttempts {
				s.log.Warn("link counts: a write kept losing races on its counts row; resetting the row, to be counted again", "row", counts.row.key.RK)
			}
			if counts.row, err = s.readCounts(ctx, counts.row.key); err != nil {
				return err
			}
			if s.hooks.reread != nil {
				s.hooks.reread(&counts.row)
			}
		case tooLarge(f.status, f.code):
			return fmt.Errorf("%w (%s)", store.ErrTooLarge, f.code)
		case f.index == 0 && (f.status == http.StatusConflict || f.status == http.StatusPreconditionFailed):
			return fmt.Errorf("%w (%s)", store.ErrConflict, f.code)
		case f.index == 0 && f.status == http.StatusNotFound:
			if actions[0].ActionType == aztables.TransactionTypeDelete {
				return fmt.Errorf("%w (%s)", store.ErrNotFound, f.code)
			}
			return fmt.Errorf("deleted since read: %w", store.ErrConflict)
		case f.index > 0 && f.index < len(actions) && f.status == http.StatusNotFound && actions[f.index].ActionType == aztables.TransactionTypeDelete && repairs < maxAttempts:
			repairs++
			s.log.Warn("reverse index row was missing; writing the link without removing it", "table", entity.TableLinks)
			actions = append(actions[:f.index:f.index], actions[f.index+1:]...)
		default:
			return err
		}
	}
}

// DeleteLink implements store.Store.
func (s *Store) DeleteLink(ctx context.Context, l store.Link) error {
	wrap := func(err error) error { return fmt.Errorf("delete link %q %q: %w", l.Target, l.SourceID, err) }
	k, _, err := linkKey(l.Target, l.SourceID)
	if err != nil {
		return wrap(err)
	}
	for attempt := 0; ; attempt++ {
		counts, err := newCountsWrite(l.Target, k, nil, nil)
		if err != nil {
			return wrap(err)
		}
		cur, row, err := s.readLinkAndCounts(ctx, k, counts.row.key)
		switch {
		case err != nil:
			return wrap(err)
		case !cur.exists:
			return wrap(store.ErrNotFound)
		case l.ETag != "" && cur.version != l.ETag:
			return wrap(fmt.Errorf("changed since read: %w", store.ErrConflict))
		}
		body, err := entity.Entity{}.JSON(k)
		if err != nil {
			return wrap(err)
		}
		actions := []aztables.TransactionAction{{ActionType: aztables.TransactionTypeDelete, Entity: body, IfMatch: to.Ptr(cur.etag)}}
		if cur.targetID != "" {
			idx, err := indexKey(l.Target, cur.targetID, l.SourceID)
			if err != nil {
				return wrap(err)
			}
			actions = append(actions, deleteAction(idx))
		}
		counts.row, counts.old = row, cur.facts
		err = s.submitLink(ctx, actions, &counts)
		// An unconditional delete that lost to a writer reads again.
		if l.ETag == "" && isConflict(err) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return wrap(err)
		}
		return nil
	}
}
