package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/internal/entity"
)

// GetLink implements store.Store.
func (s *Store) GetLink(ctx context.Context, target, sourceID string) (store.Link, error) {
	k, err := entity.LinkKey(target, sourceID)
	if err != nil {
		return store.Link{}, fmt.Errorf("get link %q %q: %w", target, sourceID, err)
	}
	p, err := rows{s.db, s.commits}.Get(ctx, entity.TableLinks, k)
	if err != nil {
		return store.Link{}, fmt.Errorf("get link %q %q: %w", target, sourceID, err)
	}
	l, err := linkFromRow(target, sourceID, p)
	if err != nil {
		return store.Link{}, fmt.Errorf("get link %q %q: %w", target, sourceID, err)
	}
	return l, nil
}

func linkFromRow(target, sourceID string, p entity.Parsed) (store.Link, error) {
	l, err := entity.ToLink(p.Entity)
	l.Target, l.SourceID, l.ETag = target, sourceID, p.ETag
	return l, err
}

// GetLinkByTargetID implements store.Store.
func (s *Store) GetLinkByTargetID(ctx context.Context, target, targetID string) (store.Link, error) {
	wrap := func(err error) error { return fmt.Errorf("get link %q by target id %q: %w", target, targetID, err) }
	if err := ctx.Err(); err != nil {
		return store.Link{}, wrap(err)
	}
	pk, err := entity.EncodeKey(target)
	if err != nil {
		return store.Link{}, wrap(err)
	}
	lo, hi, err := entity.IndexRange(targetID)
	if err != nil {
		return store.Link{}, wrap(err)
	}
	var l store.Link
	err = s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket(entity.TableLinks))
		c := b.Cursor()
		end := dbKey(entity.Key{PK: pk, RK: hi})
		for k, _ := c.Seek(dbKey(entity.Key{PK: pk, RK: lo})); k != nil && bytes.Compare(k, end) < 0; k, _ = c.Next() {
			sourceID, err := entity.IndexSource(splitKey(k).RK)
			if err != nil {
				return err
			}
			lk, err := entity.LinkKey(target, sourceID)
			if err != nil {
				return err
			}
			r, ok, err := getRow(b, lk)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if l, err = linkFromRow(target, sourceID, r); err != nil {
				return err
			}
			if l.TargetID == targetID {
				return nil
			}
		}
		return store.ErrNotFound
	})
	if err != nil {
		return store.Link{}, wrap(err)
	}
	return l, nil
}

// PutLink implements store.Store.
func (s *Store) PutLink(ctx context.Context, l store.Link) (store.Link, error) {
	wrap := func(err error) error { return fmt.Errorf("put link %q %q: %w", l.Target, l.SourceID, err) }
	if err := ctx.Err(); err != nil {
		return store.Link{}, wrap(err)
	}
	k, err := entity.LinkKey(l.Target, l.SourceID)
	if err != nil {
		return store.Link{}, wrap(err)
	}
	var newIndex entity.Key
	if l.TargetID != "" {
		if newIndex, err = entity.IndexKey(l.Target, l.TargetID, l.SourceID); err != nil {
			return store.Link{}, wrap(err)
		}
	}
	e, err := entity.FromLink(l)
	if err != nil {
		return store.Link{}, wrap(err)
	}
	if err := e.Check(k); err != nil {
		return store.Link{}, wrap(err)
	}
	var etag string
	err = s.commits.Do(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket(entity.TableLinks))
		cur, ok, err := getRow(b, k)
		if err != nil {
			return err
		}
		if err := condition(ok, cur.ETag, l.ETag); err != nil {
			return err
		}
		if oldID := cur.Entity.String("TargetID"); ok && oldID != "" && oldID != l.TargetID {
			old, err := entity.IndexKey(l.Target, oldID, l.SourceID)
			if err != nil {
				return err
			}
			if err := b.Delete(dbKey(old)); err != nil {
				return err
			}
		}
		if l.TargetID != "" {
			if err := b.Put(dbKey(newIndex), []byte("{}")); err != nil {
				return err
			}
		}
		var was *linkFacts
		if ok {
			was = factsOf(cur.Entity)
		}
		if err := adjustLinkCounts(tx, l.Target, was, factsOf(e)); err != nil {
			return err
		}
		etag, err = putRow(b, k, e)
		return err
	})
	if err != nil {
		return store.Link{}, wrap(err)
	}
	l.ETag = etag
	return l, nil
}

// DeleteLink implements store.Store.
func (s *Store) DeleteLink(ctx context.Context, l store.Link) error {
	wrap := func(err error) error { return fmt.Errorf("delete link %q %q: %w", l.Target, l.SourceID, err) }
	if err := ctx.Err(); err != nil {
		return wrap(err)
	}
	k, err := entity.LinkKey(l.Target, l.SourceID)
	if err != nil {
		return wrap(err)
	}
	err = s.commits.Do(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket(entity.TableLinks))
		cur, ok, err := getRow(b, k)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		if l.ETag != "" && cur.ETag != l.ETag {
			return fmt.Errorf("changed since read: %w", store.ErrConflict)
		}
		if oldID := cur.Entity.String("TargetID"); oldID != "" {
			old, err := entity.IndexKey(l.Target, oldID, l.SourceID)
			if err != nil {
				return err
			}
			if err := b.Delete(dbKey(old)); err != nil {
				return err
			}
		}
		if err := adjustLinkCounts(tx, l.Target, factsOf(cur.Entity), nil); err != nil {
			return err
		}
		return b.Delete(dbKey(k))
	})
	if err != nil {
		return wrap(err)
	}
	return nil
}

// ListLinks implements store.Store. fn runs outside any transaction, so it
// may write to the store; links it adds or removes ahead of the listing may
// or may not be seen.
func (s *Store) ListLinks(ctx context.Context, target string, fn func(store.Link) error) error {
	wrap := func(err error) error { return fmt.Errorf("list links %q: %w", target, err) }
	pk, err := entity.EncodeKey(target)
	if err != nil {
		return wrap(err)
	}
	lo, hi := entity.LinkRange()
	from := dbKey(entity.Key{PK: pk, RK: lo})
	end := dbKey(entity.Key{PK: pk, RK: hi})
	for {
		if err := ctx.Err(); err != nil {
			return wrap(err)
		}
		batch := make([]store.Link, 0, listBatch)
		var next []byte
		err := s.db.View(func(tx *bbolt.Tx) error {
			c := tx.Bucket(bucket(entity.TableLinks)).Cursor()
			for k, v := c.Seek(from); k != nil && bytes.Compare(k, end) < 0; k, v = c.Next() {
				if len(batch) == listBatch {
					next = bytes.Clone(k)
					return nil
				}
				key := splitKey(k)
				sourceID, err := entity.LinkSource(key.RK)
				if err != nil {
					return err
				}
				p, err := decodeRow(key, v)
				if err != nil {
					return err
				}
				l, err := linkFromRow(target, sourceID, p)
				if err != nil {
					return err
				}
				batch = append(batch, l)
			}
			return nil
		})
		if err != nil {
			return wrap(err)
		}
		for _, l := range batch {
			if err := fn(l); err != nil {
				return err
			}
		}
		if next == nil {
			return nil
		}
		from = next
	}
}

// ListEvents implements store.Store.
func (s *Store) ListEvents(ctx context.Context, target string, opts store.ListEventsOptions) (store.EventPage, error) {
	wrap := func(err error) error { return fmt.Errorf("list events %q: %w", target, err) }
	if err := ctx.Err(); err != nil {
		return store.EventPage{}, wrap(err)
	}
	pk, err := entity.EncodeKey(target)
	if err != nil {
		return store.EventPage{}, wrap(err)
	}
	limit := entity.PageSize(opts.Limit)
	after := ""
	if opts.Page != "" {
		if after, err = entity.ParsePageToken(opts.Page); err != nil {
			return store.EventPage{}, wrap(err)
		}
	}
	var page store.EventPage
	prefix := []byte(pk + ":")
	err = s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucket(entity.TableEvents)).Cursor()
		k, v := c.Seek(dbKey(entity.Key{PK: pk, RK: after}))
		if after != "" && k != nil && splitKey(k).RK == after {
			k, v = c.Next()
		}
		var last string
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(page.Events) == limit {
				page.Next = entity.PageToken(last)
				return nil
			}
			p, err := decodeRow(splitKey(k), v)
			if err != nil {
				return err
			}
			ev, err := entity.ToEvent(p.Entity)
			if err != nil {
				return err
			}
			ev.Target = target
			page.Events = append(page.Events, ev)
			last = p.Key.RK
		}
		return nil
	})
	if err != nil {
		return store.EventPage{}, wrap(err)
	}
	return page, nil
}

// PruneEvents implements store.Store.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("prune events: %w", err)
	}
	bound := entity.EventsOlderThan(before)
	n := 0
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket(entity.TableEvents))
		var old [][]byte
		err := b.ForEach(func(k, _ []byte) error {
			if splitKey(k).RK >= bound {
				old = append(old, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(old)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune events: %w", err)
	}
	if n > 0 {
		s.log.Debug("events pruned", "count", n, "before", before)
	}
	return n, nil
}
