package tablestore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/internal/entity"
)

// linkReadsInFlight bounds GetLinks' concurrent point reads. A point read
// is the cheapest Table Storage transaction, and reads of one partition
// are served up to 2,000 entities a second (Azure Storage scalability
// targets), far above what 16 in flight ask for; a query with one
// comparison per link would be capped at 15 comparisons a filter.
const linkReadsInFlight = 16

// GetLinks implements store.Store with point reads, up to
// linkReadsInFlight at a time: a group of 200 members costs 200 reads of
// one or two round trips' latency each, not 200 in a row.
func (s *Store) GetLinks(ctx context.Context, target string, sourceIDs []string) (map[string]store.Link, error) {
	var mu sync.Mutex
	out := make(map[string]store.Link, len(sourceIDs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(linkReadsInFlight)
	for _, id := range sourceIDs {
		g.Go(func() error {
			k, _, err := linkKey(target, id)
			if err != nil {
				return fmt.Errorf("link %q: %w", id, err)
			}
			p, err := s.tables.Get(gctx, entity.TableLinks, k)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("link %q: %w", id, err)
			}
			l, err := linkFromEntity(target, id, p.Entity)
			if err != nil {
				return fmt.Errorf("link %q: %w", id, err)
			}
			mu.Lock()
			out[id] = l
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("get %d links of %q: %w", len(sourceIDs), target, err)
	}
	return out, nil
}
