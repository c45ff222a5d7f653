// Package records writes once, for both stores, the methods of store.Store
// that only get, put, delete and list single records: watermarks,
// subscriptions, staged deletions, target status, group links, and
// appending events.
//
// Each store supplies a Backend over its own storage (bbolt or Table
// Storage) and embeds Methods. What truly differs between the stores stays
// in each: links with their atomic reverse index, listing and pruning
// events, and transactions.
package records

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/internal/entity"
)

// Backend is what a store keeps single records with. ETags are the
// backend's own: the ones Get and Scan return are the ones Put and Delete
// compare.
type Backend interface {
	// Get reads the entity at k with its ETag, or fails with
	// store.ErrNotFound.
	Get(ctx context.Context, table string, k entity.Key) (entity.Parsed, error)
	// Put writes e at k conditionally on etag: "" creates it and fails with
	// store.ErrConflict if it exists; anything else replaces it only if its
	// ETag is still etag, and fails with store.ErrConflict otherwise
	// (deleted since included). It checks e against the limits
	// (entity.Entity.Check) and returns the new ETag.
	Put(ctx context.Context, table string, k entity.Key, e entity.Entity, etag string) (string, error)
	// Delete removes the entity at k if its ETag is still etag ("" removes
	// it anyway). It fails with store.ErrNotFound if there is none and with
	// store.ErrConflict if it changed.
	Delete(ctx context.Context, table string, k entity.Key, etag string) error
	// Scan calls fn for every entity of partition pk, in row key order, with
	// its key and ETag. fn must not write to the store.
	Scan(ctx context.Context, table, pk string, fn func(entity.Parsed) error) error
}

// Methods implements the single-record methods of store.Store over a
// Backend. A store embeds it to have them.
type Methods struct {
	b Backend
}

// New returns the methods over b.
func New(b Backend) Methods { return Methods{b: b} }

// GetWatermark implements store.Store.
func (m Methods) GetWatermark(ctx context.Context, tenant, resource string) (store.Watermark, error) {
	k, err := entity.WatermarkKey(tenant, resource)
	if err != nil {
		return store.Watermark{}, fmt.Errorf("get watermark %q %q: %w", tenant, resource, err)
	}
	p, err := m.b.Get(ctx, entity.TableWatermarks, k)
	if err != nil {
		return store.Watermark{}, fmt.Errorf("get watermark %q %q: %w", tenant, resource, err)
	}
	w, err := entity.ToWatermark(p.Entity)
	if err != nil {
		return store.Watermark{}, fmt.Errorf("get watermark %q %q: %w", tenant, resource, err)
	}
	w.Tenant, w.Resource, w.ETag = tenant, resource, p.ETag
	return w, nil
}

// PutWatermark implements store.Store.
func (m Methods) PutWatermark(ctx context.Context, w store.Watermark) (store.Watermark, error) {
	k, err := entity.WatermarkKey(w.Tenant, w.Resource)
	if err != nil {
		return store.Watermark{}, fmt.Errorf("put watermark %q %q: %w", w.Tenant, w.Resource, err)
	}
	etag, err := m.b.Put(ctx, entity.TableWatermarks, k, entity.FromWatermark(w), w.ETag)
	if err != nil {
		return store.Watermark{}, fmt.Errorf("put watermark %q %q: %w", w.Tenant, w.Resource, err)
	}
	w.ETag = etag
	return w, nil
}

// DeleteWatermark implements store.Store.
func (m Methods) DeleteWatermark(ctx context.Context, tenant, resource string) error {
	k, err := entity.WatermarkKey(tenant, resource)
	if err == nil {
		err = m.b.Delete(ctx, entity.TableWatermarks, k, "")
	}
	if err != nil {
		return fmt.Errorf("delete watermark %q %q: %w", tenant, resource, err)
	}
	return nil
}

// GetSubscription implements store.Store.
func (m Methods) GetSubscription(ctx context.Context, id string) (store.Subscription, error) {
	k, err := entity.SubscriptionKey(id)
	if err != nil {
		return store.Subscription{}, fmt.Errorf("get subscription %q: %w", id, err)
	}
	p, err := m.b.Get(ctx, entity.TableSubscriptions, k)
	if err != nil {
		return store.Subscription{}, fmt.Errorf("get subscription %q: %w", id, err)
	}
	sub, err := entity.ToSubscription(p.Entity)
	if err != nil {
		return store.Subscription{}, fmt.Errorf("get subscription %q: %w", id, err)
	}
	sub.ID, sub.ETag = id, p.ETag
	return sub, nil
}

// PutSubscription implements store.Store.
func (m Methods) PutSubscription(ctx context.Context, sub store.Subscription) (store.Subscription, error) {
	k, err := entity.SubscriptionKey(sub.ID)
	if err != nil {
		return store.Subscription{}, fmt.Errorf("put subscription %q: %w", sub.ID, err)
	}
	etag, err := m.b.Put(ctx, entity.TableSubscriptions, k, entity.FromSubscription(sub), sub.ETag)
	if err != nil {
		return store.Subscription{}, fmt.Errorf("put subscription %q: %w", sub.ID, err)
	}
	sub.ETag = etag
	return sub, nil
}

// DeleteSubscription implements store.Store.
func (m Methods) DeleteSubscription(ctx context.Context, id string) error {
	k, err := entity.SubscriptionKey(id)
	if err == nil {
		err = m.b.Delete(ctx, entity.TableSubscriptions, k, "")
	}
	if err != nil {
		return fmt.Errorf("delete subscription %q: %w", id, err)
	}
	return nil
}

// ListSubscriptions implements store.Store.
func (m Methods) ListSubscriptions(ctx context.Context) ([]store.Subscription, error) {
	var subs []store.Subscription
	err := m.b.Scan(ctx, entity.TableSubscriptions, entity.SubscriptionsPartition(), func(p entity.Parsed) error {
		sub, err := entity.ToSubscription(p.Entity)
		if err != nil {
			return err
		}
		if sub.ID, err = entity.DecodeKey(p.Key.RK); err != nil {
			return err
		}
		sub.ETag = p.ETag
		subs = append(subs, sub)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	return subs, nil
}

// GetDeletion implements store.Store.
func (m Methods) GetDeletion(ctx context.Context, target, sourceID string) (store.Deletion, error) {
	k, err := entity.DeletionKey(target, sourceID)
	if err != nil {
		return store.Deletion{}, fmt.Errorf("get deletion %q %q: %w", target, sourceID, err)
	}
	p, err := m.b.Get(ctx, entity.TableDeletions, k)
	if err != nil {
		return store.Deletion{}, fmt.Errorf("get deletion %q %q: %w", target, sourceID, err)
	}
	d, err := entity.ToDeletion(p.Entity)
	if err != nil {
		return store.Deletion{}, fmt.Errorf("get deletion %q %q: %w", target, sourceID, err)
	}
	d.Target, d.SourceID, d.ETag = target, sourceID, p.ETag
	return d, nil
}

// PutDeletion implements store.Store.
func (m Methods) PutDeletion(ctx context.Context, d store.Deletion) (store.Deletion, error) {
	k, err := entity.DeletionKey(d.Target, d.SourceID)
	if err != nil {
		return store.Deletion{}, fmt.Errorf("put deletion %q %q: %w", d.Target, d.SourceID, err)
	}
	etag, err := m.b.Put(ctx, entity.TableDeletions, k, entity.FromDeletion(d), d.ETag)
	if err != nil {
		return store.Deletion{}, fmt.Errorf("put deletion %q %q: %w", d.Target, d.SourceID, err)
	}
	d.ETag = etag
	return d, nil
}

// DeleteDeletion implements store.Store.
func (m Methods) DeleteDeletion(ctx context.Context, d store.Deletion) error {
	k, err := entity.DeletionKey(d.Target, d.SourceID)
	if err == nil {
		err = m.b.Delete(ctx, entity.TableDeletions, k, d.ETag)
	}
	if err != nil {
		return fmt.Errorf("delete deletion %q %q: %w", d.Target, d.SourceID, err)
	}
	return nil
}

// ListDeletions implements store.Store.
func (m Methods) ListDeletions(ctx context.Context, target string) ([]store.Deletion, error) {
	pk, err := entity.EncodeKey(target)
	if err != nil {
		return nil, fmt.Errorf("list deletions %q: %w", target, err)
	}
	var ds []store.Deletion
	err = m.b.Scan(ctx, entity.TableDeletions, pk, func(p entity.Parsed) error {
		d, err := entity.ToDeletion(p.Entity)
		if err != nil {
			return err
		}
		if d.SourceID, err = entity.DecodeKey(p.Key.RK); err != nil {
			return err
		}
		d.Target, d.ETag = target, p.ETag
		ds = append(ds, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list deletions %q: %w", target, err)
	}
	return ds, nil
}

// GetStatus implements store.Store.
func (m Methods) GetStatus(ctx context.Context, target string) (store.TargetStatus, error) {
	k, err := entity.StatusKey(target)
	if err != nil {
		return store.TargetStatus{}, fmt.Errorf("get status %q: %w", target, err)
	}
	p, err := m.b.Get(ctx, entity.TableStatus, k)
	if err != nil {
		return store.TargetStatus{}, fmt.Errorf("get status %q: %w", target, err)
	}
	st, err := entity.ToStatus(p.Entity)
	if err != nil {
		return store.TargetStatus{}, fmt.Errorf("get status %q: %w", target, err)
	}
	st.Target, st.ETag = target, p.ETag
	return st, nil
}

// PutStatus implements store.Store.
func (m Methods) PutStatus(ctx context.Context, st store.TargetStatus) (store.TargetStatus, error) {
	wrap := func(err error) error { return fmt.Errorf("put status %q: %w", st.Target, err) }
	k, err := entity.StatusKey(st.Target)
	if err != nil {
		return store.TargetStatus{}, wrap(err)
	}
	e, err := entity.FromStatus(st)
	if err != nil {
		return store.TargetStatus{}, wrap(err)
	}
	etag, err := m.b.Put(ctx, entity.TableStatus, k, e, st.ETag)
	if err != nil {
		return store.TargetStatus{}, wrap(err)
	}
	st.ETag = etag
	return st, nil
}

// GetGuard implements store.Store.
func (m Methods) GetGuard(ctx context.Context, target string) (store.Guard, error) {
	wrap := func(err error) error { return fmt.Errorf("get deletion guard %q: %w", target, err) }
	k, err := entity.GuardKey(target)
	if err != nil {
		return store.Guard{}, wrap(err)
	}
	p, err := m.b.Get(ctx, entity.TableStatus, k)
	if err != nil {
		return store.Guard{}, wrap(err)
	}
	g, err := entity.ToGuard(p.Entity)
	if err != nil {
		return store.Guard{}, wrap(err)
	}
	g.Target, g.ETag = target, p.ETag
	return g, nil
}

// PutGuard implements store.Store.
func (m Methods) PutGuard(ctx context.Context, g store.Guard) (store.Guard, error) {
	wrap := func(err error) error { return fmt.Errorf("put deletion guard %q: %w", g.Target, err) }
	k, err := entity.GuardKey(g.Target)
	if err != nil {
		return store.Guard{}, wrap(err)
	}
	e, err := entity.FromGuard(g)
	if err != nil {
		return store.Guard{}, wrap(err)
	}
	etag, err := m.b.Put(ctx, entity.TableStatus, k, e, g.ETag)
	if err != nil {
		return store.Guard{}, wrap(err)
	}
	g.ETag = etag
	return g, nil
}

// GetGroupLink implements store.Store.
func (m Methods) GetGroupLink(ctx context.Context, target, sourceID string) (store.GroupLink, error) {
	wrap := func(err error) error { return fmt.Errorf("get group link %q %q: %w", target, sourceID, err) }
	k, err := entity.GroupLinkKey(target, sourceID)
	if err != nil {
		return store.GroupLink{}, wrap(err)
	}
	p, err := m.b.Get(ctx, entity.TableGroupLinks, k)
	if err != nil {
		return store.GroupLink{}, wrap(err)
	}
	l, err := entity.ToGroupLink(p.Entity)
	if err != nil {
		return store.GroupLink{}, wrap(err)
	}
	l.Target, l.SourceID, l.ETag = target, sourceID, p.ETag
	return l, nil
}

// PutGroupLink implements store.Store.
func (m Methods) PutGroupLink(ctx context.Context, l store.GroupLink) (store.GroupLink, error) {
	wrap := func(err error) error { return fmt.Errorf("put group link %q %q: %w", l.Target, l.SourceID, err) }
	k, err := entity.GroupLinkKey(l.Target, l.SourceID)
	if err != nil {
		return store.GroupLink{}, wrap(err)
	}
	e, err := entity.FromGroupLink(l)
	if err != nil {
		return store.GroupLink{}, wrap(err)
	}
	etag, err := m.b.Put(ctx, entity.TableGroupLinks, k, e, l.ETag)
	if err != nil {
		return store.GroupLink{}, wrap(err)
	}
	l.ETag = etag
	return l, nil
}

// DeleteGroupLink implements store.Store.
func (m Methods) DeleteGroupLink(ctx context.Context, l store.GroupLink) error {
	k, err := entity.GroupLinkKey(l.Target, l.SourceID)
	if err == nil {
		err = m.b.Delete(ctx, entity.TableGroupLinks, k, l.ETag)
	}
	if err != nil {
		return fmt.Errorf("delete group link %q %q: %w", l.Target, l.SourceID, err)
	}
	return nil
}

// ListGroupLinks implements store.Store.
func (m Methods) ListGroupLinks(ctx context.Context, target string) ([]store.GroupLink, error) {
	pk, err := entity.EncodeKey(target)
	if err != nil {
		return nil, fmt.Errorf("list group links %q: %w", target, err)
	}
	var ls []store.GroupLink
	err = m.b.Scan(ctx, entity.TableGroupLinks, pk, func(p entity.Parsed) error {
		l, err := entity.ToGroupLink(p.Entity)
		if err != nil {
			return err
		}
		if l.SourceID, err = entity.DecodeKey(p.Key.RK); err != nil {
			return err
		}
		l.Target, l.ETag = target, p.ETag
		ls = append(ls, l)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list group links %q: %w", target, err)
	}
	return ls, nil
}

// eventKeyAttempts bounds the keys AppendEvent tries.
const eventKeyAttempts = 3

// AppendEvent implements store.Store. An event without a time is stamped
// with the current time.
func (m Methods) AppendEvent(ctx context.Context, ev store.Event) error {
	wrap := func(err error) error { return fmt.Errorf("append event %q %q: %w", ev.Target, ev.SourceID, err) }
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Time = entity.Time(ev.Time)
	e, err := entity.FromEvent(ev)
	if err != nil {
		return wrap(err)
	}
	// The row key ends in 64 random bits; a collision, however unlikely,
	// only needs another key.
	for attempt := 1; ; attempt++ {
		k, err := entity.EventKey(ev.Target, ev.Time)
		if err != nil {
			return wrap(err)
		}
		_, err = m.b.Put(ctx, entity.TableEvents, k, e, "")
		if err == nil {
			return nil
		}
		if attempt == eventKeyAttempts || !errors.Is(err, store.ErrConflict) {
			return wrap(err)
		}
	}
}
