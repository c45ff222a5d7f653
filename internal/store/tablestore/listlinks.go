package tablestore

import (
	"context"
	"fmt"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/internal/entity"
)

// linkPage is a page of one partition's links, or the error that ended its
// listing.
type linkPage struct {
	rows []entity.Parsed
	err  error
}

// ListLinks implements store.Store. It lists the target's partitions at
// once and merges them by row key, which is source id order (EncodeKey
// keeps order, and a link's row key is its encoded source id after a
// common prefix). Each partition is read a page (at most 1,000 entities)
// ahead of the merge, so the listing holds at most two pages a partition
// however many links there are, and takes about as long as the largest
// partition's listing rather than the sum: a partition serves up to 2,000
// entities a second ("Scalability and performance targets for Table
// storage"), so 250,000 links take at least 125 s from one partition and
// about 8 s from 16.
//
// fn runs on the caller's goroutine, never during a page request's
// handling, so it may write to the store. A link written while the listing
// runs is listed as it was or as it is, or, if it is new, may or may not be
// listed, as with one partition's pages.
func (s *Store) ListLinks(ctx context.Context, target string, fn func(store.Link) error) error {
	wrap := func(err error) error { return fmt.Errorf("list links %q: %w", target, err) }
	pks, err := partitions(target)
	if err != nil {
		return wrap(err)
	}
	lo, hi := entity.LinkRange()

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		// The readers stop at their next send or request.
		cancel()
		wg.Wait()
	}()
	var feeds [countShards]chan linkPage
	for i, pk := range pks {
		feeds[i] = make(chan linkPage, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.readPages(ctx, partitionFilter(pk, lo, hi), feeds[i])
		}()
	}

	// heads[i] is what is left of partition i's current page; done[i] says
	// its listing is over.
	var (
		heads [countShards][]entity.Parsed
		done  [countShards]bool
	)
	refill := func(i int) error {
		for len(heads[i]) == 0 && !done[i] {
			page, ok := <-feeds[i]
			switch {
			case !ok:
				done[i] = true
			case page.err != nil:
				return page.err
			default:
				heads[i] = page.rows // an empty page may come with a continuation
			}
		}
		return nil
	}
	for i := range feeds {
		if err := refill(i); err != nil {
			return wrap(err)
		}
	}
	for {
		first := -1
		for i := range heads {
			if len(heads[i]) > 0 && (first < 0 || heads[i][0].Key.RK < heads[first][0].Key.RK) {
				first = i
			}
		}
		if first < 0 {
			return nil
		}
		p := heads[first][0]
		heads[first] = heads[first][1:]
		sourceID, err := entity.LinkSource(p.Key.RK)
		if err != nil {
			return wrap(err)
		}
		l, err := linkFromEntity(target, sourceID, p.Entity)
		if err != nil {
			return wrap(err)
		}
		if err := fn(l); err != nil {
			return err
		}
		if err := refill(first); err != nil {
			return wrap(err)
		}
	}
}

// readPages sends the pages of a query of the links table to out, and
// closes it when the query is done, fails, or ctx ends.
func (s *Store) readPages(ctx context.Context, filter string, out chan<- linkPage) {
	defer close(out)
	pager := s.tables[entity.TableLinks].NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter})
	for pager.More() {
		var page linkPage
		resp, err := pager.NextPage(ctx)
		if err != nil {
			page.err = mapError(err, store.ErrNotFound)
		} else {
			page.rows = make([]entity.Parsed, 0, len(resp.Entities))
			for _, raw := range resp.Entities {
				p, err := entity.Parse(raw)
				if err != nil {
					page.err = err
					break
				}
				page.rows = append(page.rows, p)
			}
		}
		select {
		case out <- page:
		case <-ctx.Done():
			return
		}
		if page.err != nil {
			return
		}
	}
}
