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

// GetWatermark implements store.Store.
func (s *Store) GetWatermark(ctx context.Context, tenant, resource string) (store.Watermark, error) {
	k, err := entity.WatermarkKey(tenant, resource)
	if err != nil {
		return store.Watermark{}, fmt.Errorf("get watermark %q %q: %w", tenant, resource, err)
	}
	r, err := s.get(ctx, entity.TableWatermarks, k)
	if err != nil {
		return store.Watermark{}, fmt.Errorf("get watermark %q %q: %w", tenant, resource, err)
	}
	w, err := entity.ToWatermark(r.e)
	if err != nil {
		return store.Watermark{}, fmt.Errorf("get watermark %q %q: %w", tenant, resource, err)
	}
	w.Tenant, w.Resource, w.ETag = tenant, resource, r.etag
	return w, nil
}

// PutWatermark implements store.Store.
func (s *Store) PutWatermark(ctx context.Context, w store.Watermark) (store.Watermark, error) {
	k, err := entity.WatermarkKey(w.Tenant, w.Resource)
	if err != nil {
		return store.Watermark{}, fmt.Errorf("put watermark %q %q: %w", w.Tenant, w.Resource, err)
	}
	etag, err := s.put(ctx, entity.TableWatermarks, k, entity.FromWatermark(w), w.ETag)
	if err != nil {
		return store.Watermark{}, fmt.Errorf("put watermark %q %q: %w", w.Tenant, w.Resource, err)
	}
	w.ETag = etag
	return w, nil
}

// DeleteWatermark implements store.Store.
func (s *Store) DeleteWatermark(ctx context.Context, tenant, resource string) error {
	k, err := entity.WatermarkKey(tenant, resource)
	if err == nil {
		err = s.del(ctx, entity.TableWatermarks, k, "")
	}
	if err != nil {
		return fmt.Errorf("delete watermark %q %q: %w", tenant, resource, err)
	}
	return nil
}

// GetLink implements store.Store.
func (s *Store) GetLink(ctx context.Context, target, sourceID string) (store.Link, error) {
	k, err := entity.LinkKey(target, sourceID)
	if err != nil {
		return store.Link{}, fmt.Errorf("get link %q %q: %w", target, sourceID, err)
	}
	r, err := s.get(ctx, entity.TableLinks, k)
	if err != nil {
		return store.Link{}, fmt.Errorf("get link %q %q: %w", target, sourceID, err)
	}
	l, err := linkFromRow(target, sourceID, r)
	if err != nil {
		return store.Link{}, fmt.Errorf("get link %q %q: %w", target, sourceID, err)
	}
	return l, nil
}

func linkFromRow(target, sourceID string, r row) (store.Link, error) {
	l, err := entity.ToLink(r.e)
	l.Target, l.SourceID, l.ETag = target, sourceID, r.etag
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
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket(entity.TableLinks))
		cur, ok, err := getRow(b, k)
		if err != nil {
			return err
		}
		if err := condition(ok, cur.etag, l.ETag); err != nil {
			return err
		}
		if oldID := cur.e.String("TargetID"); ok && oldID != "" && oldID != l.TargetID {
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
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket(entity.TableLinks))
		cur, ok, err := getRow(b, k)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		if l.ETag != "" && cur.etag != l.ETag {
			return fmt.Errorf("changed since read: %w", store.ErrConflict)
		}
		if oldID := cur.e.String("TargetID"); oldID != "" {
			old, err := entity.IndexKey(l.Target, oldID, l.SourceID)
			if err != nil {
				return err
			}
			if err := b.Delete(dbKey(old)); err != nil {
				return err
			}
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
				sourceID, err := entity.LinkSource(splitKey(k).RK)
				if err != nil {
					return err
				}
				r, err := decodeRow(v)
				if err != nil {
					return err
				}
				l, err := linkFromRow(target, sourceID, r)
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

// GetSubscription implements store.Store.
func (s *Store) GetSubscription(ctx context.Context, id string) (store.Subscription, error) {
	k, err := entity.SubscriptionKey(id)
	if err != nil {
		return store.Subscription{}, fmt.Errorf("get subscription %q: %w", id, err)
	}
	r, err := s.get(ctx, entity.TableSubscriptions, k)
	if err != nil {
		return store.Subscription{}, fmt.Errorf("get subscription %q: %w", id, err)
	}
	sub, err := entity.ToSubscription(r.e)
	if err != nil {
		return store.Subscription{}, fmt.Errorf("get subscription %q: %w", id, err)
	}
	sub.ID, sub.ETag = id, r.etag
	return sub, nil
}

// PutSubscription implements store.Store.
func (s *Store) PutSubscription(ctx context.Context, sub store.Subscription) (store.Subscription, error) {
	k, err := entity.SubscriptionKey(sub.ID)
	if err != nil {
		return store.Subscription{}, fmt.Errorf("put subscription %q: %w", sub.ID, err)
	}
	etag, err := s.put(ctx, entity.TableSubscriptions, k, entity.FromSubscription(sub), sub.ETag)
	if err != nil {
		return store.Subscription{}, fmt.Errorf("put subscription %q: %w", sub.ID, err)
	}
	sub.ETag = etag
	return sub, nil
}

// DeleteSubscription implements store.Store.
func (s *Store) DeleteSubscription(ctx context.Context, id string) error {
	k, err := entity.SubscriptionKey(id)
	if err == nil {
		err = s.del(ctx, entity.TableSubscriptions, k, "")
	}
	if err != nil {
		return fmt.Errorf("delete subscription %q: %w", id, err)
	}
	return nil
}

// ListSubscriptions implements store.Store.
func (s *Store) ListSubscriptions(ctx context.Context) ([]store.Subscription, error) {
	var subs []store.Subscription
	err := s.scan(ctx, entity.TableSubscriptions, entity.SubscriptionsPartition(), func(k entity.Key, r row) error {
		sub, err := entity.ToSubscription(r.e)
		if err != nil {
			return err
		}
		if sub.ID, err = entity.DecodeKey(k.RK); err != nil {
			return err
		}
		sub.ETag = r.etag
		subs = append(subs, sub)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	return subs, nil
}

// GetDeletion implements store.Store.
func (s *Store) GetDeletion(ctx context.Context, target, sourceID string) (store.Deletion, error) {
	k, err := entity.DeletionKey(target, sourceID)
	if err != nil {
		return store.Deletion{}, fmt.Errorf("get deletion %q %q: %w", target, sourceID, err)
	}
	r, err := s.get(ctx, entity.TableDeletions, k)
	if err != nil {
		return store.Deletion{}, fmt.Errorf("get deletion %q %q: %w", target, sourceID, err)
	}
	d, err := entity.ToDeletion(r.e)
	if err != nil {
		return store.Deletion{}, fmt.Errorf("get deletion %q %q: %w", target, sourceID, err)
	}
	d.Target, d.SourceID, d.ETag = target, sourceID, r.etag
	return d, nil
}

// PutDeletion implements store.Store.
func (s *Store) PutDeletion(ctx context.Context, d store.Deletion) (store.Deletion, error) {
	k, err := entity.DeletionKey(d.Target, d.SourceID)
	if err != nil {
		return store.Deletion{}, fmt.Errorf("put deletion %q %q: %w", d.Target, d.SourceID, err)
	}
	etag, err := s.put(ctx, entity.TableDeletions, k, entity.FromDeletion(d), d.ETag)
	if err != nil {
		return store.Deletion{}, fmt.Errorf("put deletion %q %q: %w", d.Target, d.SourceID, err)
	}
	d.ETag = etag
	return d, nil
}

// DeleteDeletion implements store.Store.
func (s *Store) DeleteDeletion(ctx context.Context, d store.Deletion) error {
	k, err := entity.DeletionKey(d.Target, d.SourceID)
	if err == nil {
		err = s.del(ctx, entity.TableDeletions, k, d.ETag)
	}
	if err != nil {
		return fmt.Errorf("delete deletion %q %q: %w", d.Target, d.SourceID, err)
	}
	return nil
}

// ListDeletions implements store.Store.
func (s *Store) ListDeletions(ctx context.Context, target string) ([]store.Deletion, error) {
	pk, err := entity.EncodeKey(target)
	if err != nil {
		return nil, fmt.Errorf("list deletions %q: %w", target, err)
	}
	var ds []store.Deletion
	err = s.scan(ctx, entity.TableDeletions, pk, func(k entity.Key, r row) error {
		d, err := entity.ToDeletion(r.e)
		if err != nil {
			return err
		}
		if d.SourceID, err = entity.DecodeKey(k.RK); err != nil {
			return err
		}
		d.Target, d.ETag = target, r.etag
		ds = append(ds, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list deletions %q: %w", target, err)
	}
	return ds, nil
}

// AppendEvent implements store.Store. An event without a time is stamped
// with the current time.
func (s *Store) AppendEvent(ctx context.Context, ev store.Event) error {
	wrap := func(err error) error { return fmt.Errorf("append event %q %q: %w", ev.Target, ev.SourceID, err) }
	if err := ctx.Err(); err != nil {
		return wrap(err)
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Time = entity.Time(ev.Time)
	k, err := entity.EventKey(ev.Target, ev.Time)
	if err != nil {
		return wrap(err)
	}
	e, err := entity.FromEvent(ev)
	if err != nil {
		return wrap(err)
	}
	if err := e.Check(k); err != nil {
		return wrap(err)
	}
	err = s.db.Update(func(tx *bbolt.Tx) error {
		_, err := putRow(tx.Bucket(bucket(entity.TableEvents)), k, e)
		return err
	})
	if err != nil {
		return wrap(err)
	}
	return nil
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
	limit := pageSize(opts.Limit)
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
			r, err := decodeRow(v)
			if err != nil {
				return err
			}
			ev, err := entity.ToEvent(r.e)
			if err != nil {
				return err
			}
			ev.Target = target
			page.Events = append(page.Events, ev)
			last = splitKey(k).RK
		}
		return nil
	})
	if err != nil {
		return store.EventPage{}, wrap(err)
	}
	return page, nil
}

func pageSize(limit int) int {
	switch {
	case limit <= 0:
		return entity.DefaultEventPage
	case limit > entity.MaxEventPage:
		return entity.MaxEventPage
	}
	return limit
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

// GetStatus implements store.Store.
func (s *Store) GetStatus(ctx context.Context, target string) (store.TargetStatus, error) {
	k, err := entity.StatusKey(target)
	if err != nil {
		return store.TargetStatus{}, fmt.Errorf("get status %q: %w", target, err)
	}
	r, err := s.get(ctx, entity.TableStatus, k)
	if err != nil {
		return store.TargetStatus{}, fmt.Errorf("get status %q: %w", target, err)
	}
	st, err := entity.ToStatus(r.e)
	if err != nil {
		return store.TargetStatus{}, fmt.Errorf("get status %q: %w", target, err)
	}
	st.Target, st.ETag = target, r.etag
	return st, nil
}

// PutStatus implements store.Store.
func (s *Store) PutStatus(ctx context.Context, st store.TargetStatus) (store.TargetStatus, error) {
	wrap := func(err error) error { return fmt.Errorf("put status %q: %w", st.Target, err) }
	k, err := entity.StatusKey(st.Target)
	if err != nil {
		return store.TargetStatus{}, wrap(err)
	}
	e, err := entity.FromStatus(st)
	if err != nil {
		return store.TargetStatus{}, wrap(err)
	}
	etag, err := s.put(ctx, entity.TableStatus, k, e, st.ETag)
	if err != nil {
		return store.TargetStatus{}, wrap(err)
	}
	st.ETag = etag
	return st, nil
}
