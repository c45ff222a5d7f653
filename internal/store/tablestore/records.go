package tablestore

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/internal/entity"
)

// get reads one entity and its service ETag.
func (s *Store) get(ctx context.Context, table string, k entity.Key) (entity.Parsed, error) {
	resp, err := s.tables[table].GetEntity(ctx, k.PK, k.RK, nil)
	if err != nil {
		return entity.Parsed{}, mapError(err, store.ErrNotFound)
	}
	p, err := entity.Parse(resp.Value)
	if err != nil {
		return entity.Parsed{}, err
	}
	p.ETag = string(resp.ETag)
	return p, nil
}

// put writes one entity conditionally on etag: "" adds it, anything else
// replaces it if its service ETag is still etag. It returns the new ETag.
func (s *Store) put(ctx context.Context, table string, k entity.Key, e entity.Entity, etag string) (string, error) {
	if err := e.Check(k); err != nil {
		return "", err
	}
	body, err := e.JSON(k)
	if err != nil {
		return "", err
	}
	if etag == "" {
		resp, err := s.tables[table].AddEntity(ctx, body, &aztables.AddEntityOptions{Format: to.Ptr(aztables.MetadataFormatNone)})
		if err != nil {
			return "", mapError(err, store.ErrNotFound)
		}
		return string(resp.ETag), nil
	}
	if !serviceETag(etag) {
		// Not an ETag the service gave: it cannot match the record.
		return "", fmt.Errorf("ETag %q is not this store's: %w", etag, store.ErrConflict)
	}
	resp, err := s.tables[table].UpdateEntity(ctx, body, &aztables.UpdateEntityOptions{
		IfMatch:    to.Ptr(azcore.ETag(etag)),
		UpdateMode: aztables.UpdateModeReplace,
	})
	if err != nil {
		// Replacing a record deleted since it was read lost a race too.
		return "", mapError(err, store.ErrConflict)
	}
	return string(resp.ETag), nil
}

// serviceETag reports whether etag has the form of a Table service ETag
// (W/"datetime'…'"); the service answers anything else with 400.
func serviceETag(etag string) bool {
	return strings.HasPrefix(etag, `W/"`) && strings.HasSuffix(etag, `"`)
}

// del removes one entity if its service ETag is still etag ("" removes it
// anyway).
func (s *Store) del(ctx context.Context, table string, k entity.Key, etag string) error {
	var opts *aztables.DeleteEntityOptions
	if etag != "" && !serviceETag(etag) {
		return fmt.Errorf("ETag %q is not this store's: %w", etag, store.ErrConflict)
	}
	if etag != "" {
		opts = &aztables.DeleteEntityOptions{IfMatch: to.Ptr(azcore.ETag(etag))}
	}
	if _, err := s.tables[table].DeleteEntity(ctx, k.PK, k.RK, opts); err != nil {
		return mapError(err, store.ErrNotFound)
	}
	return nil
}

// query calls fn for every entity the filter selects, page by page (the
// service returns at most 1,000 per page). fn runs between requests.
func (s *Store) query(ctx context.Context, table, filter string, sel *string, fn func(entity.Parsed) error) error {
	pager := s.tables[table].NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter, Select: sel})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return mapError(err, store.ErrNotFound)
		}
		for _, raw := range page.Entities {
			p, err := entity.Parse(raw)
			if err != nil {
				return err
			}
			if err := fn(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// partitionFilter selects one partition, optionally a row key range
// [lo, hi). Encoded keys hold no quote, so they need no escaping.
func partitionFilter(pk, lo, hi string) string {
	f := fmt.Sprintf("PartitionKey eq '%s'", pk)
	if lo != "" {
		f += fmt.Sprintf(" and RowKey ge '%s'", lo)
	}
	if hi != "" {
		f += fmt.Sprintf(" and RowKey lt '%s'", hi)
	}
	return f
}

// GetWatermark implements store.Store.
func (s *Store) GetWatermark(ctx context.Context, tenant, resource string) (store.Watermark, error) {
	k, err := entity.WatermarkKey(tenant, resource)
	if err != nil {
		return store.Watermark{}, fmt.Errorf("get watermark %q %q: %w", tenant, resource, err)
	}
	p, err := s.get(ctx, entity.TableWatermarks, k)
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

// GetSubscription implements store.Store.
func (s *Store) GetSubscription(ctx context.Context, id string) (store.Subscription, error) {
	k, err := entity.SubscriptionKey(id)
	if err != nil {
		return store.Subscription{}, fmt.Errorf("get subscription %q: %w", id, err)
	}
	p, err := s.get(ctx, entity.TableSubscriptions, k)
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
	err := s.query(ctx, entity.TableSubscriptions, partitionFilter(entity.SubscriptionsPartition(), "", ""), nil, func(p entity.Parsed) error {
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
func (s *Store) GetDeletion(ctx context.Context, target, sourceID string) (store.Deletion, error) {
	k, err := entity.DeletionKey(target, sourceID)
	if err != nil {
		return store.Deletion{}, fmt.Errorf("get deletion %q %q: %w", target, sourceID, err)
	}
	p, err := s.get(ctx, entity.TableDeletions, k)
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
	err = s.query(ctx, entity.TableDeletions, partitionFilter(pk, "", ""), nil, func(p entity.Parsed) error {
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
func (s *Store) GetStatus(ctx context.Context, target string) (store.TargetStatus, error) {
	k, err := entity.StatusKey(target)
	if err != nil {
		return store.TargetStatus{}, fmt.Errorf("get status %q: %w", target, err)
	}
	p, err := s.get(ctx, entity.TableStatus, k)
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

// AppendEvent implements store.Store. An event without a time is stamped
// with the current time.
func (s *Store) AppendEvent(ctx context.Context, ev store.Event) error {
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
	for attempt := 0; ; attempt++ {
		k, err := entity.EventKey(ev.Target, ev.Time)
		if err != nil {
			return wrap(err)
		}
		_, err = s.put(ctx, entity.TableEvents, k, e, "")
		if err == nil {
			return nil
		}
		if attempt == 2 || !isConflict(err) {
			return wrap(err)
		}
	}
}

// ListEvents implements store.Store.
func (s *Store) ListEvents(ctx context.Context, target string, opts store.ListEventsOptions) (store.EventPage, error) {
	wrap := func(err error) error { return fmt.Errorf("list events %q: %w", target, err) }
	pk, err := entity.EncodeKey(target)
	if err != nil {
		return store.EventPage{}, wrap(err)
	}
	limit := pageSize(opts.Limit)
	filter := partitionFilter(pk, "", "")
	if opts.Page != "" {
		after, err := entity.ParsePageToken(opts.Page)
		if err != nil {
			return store.EventPage{}, wrap(err)
		}
		filter += fmt.Sprintf(" and RowKey gt '%s'", after)
	}
	// One more than a page says whether another page follows. Top caps a
	// response, not the listing, so stop reading once there are enough.
	top := int32(limit + 1)
	pager := s.tables[entity.TableEvents].NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter, Top: &top})
	var (
		page store.EventPage
		keys []string
	)
	for pager.More() && len(page.Events) <= limit {
		resp, err := pager.NextPage(ctx)
		if err != nil {
			return store.EventPage{}, wrap(mapError(err, store.ErrNotFound))
		}
		for _, raw := range resp.Entities {
			if len(page.Events) > limit {
				break
			}
			p, err := entity.Parse(raw)
			if err != nil {
				return store.EventPage{}, wrap(err)
			}
			ev, err := entity.ToEvent(p.Entity)
			if err != nil {
				return store.EventPage{}, wrap(err)
			}
			ev.Target = target
			page.Events = append(page.Events, ev)
			keys = append(keys, p.Key.RK)
		}
	}
	if len(page.Events) > limit {
		page.Events = page.Events[:limit]
		page.Next = entity.PageToken(keys[limit-1])
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

// maxBatch is the most operations an entity-group transaction may hold.
const maxBatch = 100

// PruneEvents implements store.Store. It scans every target's events (the
// older ones are at the end of each partition) and deletes them in
// transactions of up to 100, one partition at a time.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	bound := entity.EventsOlderThan(before)
	filter := fmt.Sprintf("RowKey ge '%s'", bound)
	sel := "PartitionKey,RowKey"
	table := s.tables[entity.TableEvents]
	pager := table.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter, Select: &sel})
	n := 0
	for pager.More() {
		resp, err := pager.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("prune events: %w", mapError(err, store.ErrNotFound))
		}
		byPartition := map[string][]string{}
		var order []string
		for _, raw := range resp.Entities {
			p, err := entity.Parse(raw)
			if err != nil {
				return n, fmt.Errorf("prune events: %w", err)
			}
			if _, ok := byPartition[p.Key.PK]; !ok {
				order = append(order, p.Key.PK)
			}
			byPartition[p.Key.PK] = append(byPartition[p.Key.PK], p.Key.RK)
		}
		for _, pk := range order {
			rks := byPartition[pk]
			for len(rks) > 0 {
				chunk := rks[:min(len(rks), maxBatch)]
				rks = rks[len(chunk):]
				deleted, err := s.deleteRows(ctx, table, pk, chunk)
				n += deleted
				if err != nil {
					return n, fmt.Errorf("prune events: %w", err)
				}
			}
		}
	}
	if n > 0 {
		s.log.Debug("events pruned", "count", n, "before", before)
	}
	return n, nil
}

// deleteRows deletes rows of one partition in one transaction. If some are
// gone already (another pruner), it deletes the rest one by one.
func (s *Store) deleteRows(ctx context.Context, table *aztables.Client, pk string, rks []string) (int, error) {
	actions := make([]aztables.TransactionAction, len(rks))
	for i, rk := range rks {
		body, err := entity.Entity{}.JSON(entity.Key{PK: pk, RK: rk})
		if err != nil {
			return 0, err
		}
		actions[i] = aztables.TransactionAction{ActionType: aztables.TransactionTypeDelete, Entity: body}
	}
	_, err := table.SubmitTransaction(ctx, actions, nil)
	if err == nil {
		return len(rks), nil
	}
	if f, ok := parseBatchError(err); !ok || f.status != http.StatusNotFound {
		return 0, err
	}
	n := 0
	for _, rk := range rks {
		_, err := table.DeleteEntity(ctx, pk, rk, nil)
		switch {
		case err == nil:
			n++
		case statusOf(err) != http.StatusNotFound:
			return n, err
		}
	}
	return n, nil
}
