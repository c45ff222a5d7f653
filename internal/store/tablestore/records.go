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
	"github.com/tenantsync/tenantsync/internal/store/internal/records"
)

// tableClients are the store's tables by name (without the prefix). They
// are its records.Backend, whose ETags are the service's.
type tableClients map[string]*aztables.Client

var _ records.Backend = tableClients{}

// Get implements records.Backend.
func (c tableClients) Get(ctx context.Context, table string, k entity.Key) (entity.Parsed, error) {
	resp, err := c[table].GetEntity(ctx, k.PK, k.RK, nil)
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

// Put implements records.Backend.
func (c tableClients) Put(ctx context.Context, table string, k entity.Key, e entity.Entity, etag string) (string, error) {
	if err := e.Check(k); err != nil {
		return "", err
	}
	body, err := e.JSON(k)
	if err != nil {
		return "", err
	}
	if etag == "" {
		resp, err := c[table].AddEntity(ctx, body, &aztables.AddEntityOptions{Format: to.Ptr(aztables.MetadataFormatNone)})
		if err != nil {
			return "", mapError(err, store.ErrNotFound)
		}
		return string(resp.ETag), nil
	}
	if !serviceETag(etag) {
		// Not an ETag the service gave: it cannot match the record.
		return "", fmt.Errorf("ETag %q is not this store's: %w", etag, store.ErrConflict)
	}
	resp, err := c[table].UpdateEntity(ctx, body, &aztables.UpdateEntityOptions{
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

// Delete implements records.Backend.
func (c tableClients) Delete(ctx context.Context, table string, k entity.Key, etag string) error {
	var opts *aztables.DeleteEntityOptions
	if etag != "" && !serviceETag(etag) {
		return fmt.Errorf("ETag %q is not this store's: %w", etag, store.ErrConflict)
	}
	if etag != "" {
		opts = &aztables.DeleteEntityOptions{IfMatch: to.Ptr(azcore.ETag(etag))}
	}
	if _, err := c[table].DeleteEntity(ctx, k.PK, k.RK, opts); err != nil {
		return mapError(err, store.ErrNotFound)
	}
	return nil
}

// query calls fn for every entity the filter selects, page by page (the
// service returns at most 1,000 per page). fn runs between requests.
func (c tableClients) query(ctx context.Context, table, filter string, sel *string, fn func(entity.Parsed) error) error {
	pager := c[table].NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter, Select: sel})
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

// Scan implements records.Backend. fn runs between requests.
func (c tableClients) Scan(ctx context.Context, table, pk string, fn func(entity.Parsed) error) error {
	return c.query(ctx, table, partitionFilter(pk, "", ""), nil, fn)
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

// ListEvents implements store.Store.
func (s *Store) ListEvents(ctx context.Context, target string, opts store.ListEventsOptions) (store.EventPage, error) {
	wrap := func(err error) error { return fmt.Errorf("list events %q: %w", target, err) }
	pk, err := entity.EncodeKey(target)
	if err != nil {
		return store.EventPage{}, wrap(err)
	}
	limit := entity.PageSize(opts.Limit)
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
