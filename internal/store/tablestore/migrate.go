package tablestore

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/tenantsync/tenantsync/internal/store/internal/entity"
)

// MigrateResult says what MigrateLayout did.
type MigrateResult struct {
	// Targets is how many targets had rows in the one-partition layout.
	Targets int
	// Moved is how many rows (links, reverse-index rows, link counts rows)
	// were written to their shard's partition.
	Moved int
	// Deleted is how many one-partition rows were deleted after their copy
	// was written (fewer than Moved after a run that was interrupted).
	Deleted int
	// Skipped is how many rows of one-partition partitions were none of a
	// link's rows, and were left where they are.
	Skipped int
}

// MigrateLayout moves every link, reverse-index row and link counts row of
// the links table from the one-partition layout into the partitions of
// their shards (store layout 2), then records the layout, so that Open
// accepts the store. Nothing may write to the store meanwhile: stop the
// function app first.
//
// It reads the table page by page and, for each page, copies its
// one-partition rows (entity-group transactions of insert-or-replace, at
// most 100 entities of one partition each: "Performing entity group
// transactions",
// https://learn.microsoft.com/en-us/rest/api/storageservices/performing-entity-group-transactions),
// then deletes them (transactions of the same limits). A row is deleted
// only once its copy is written, and a copy replaces whatever is at its
// key with the row as it is, so a run interrupted anywhere, and run again,
// ends in the same state as one that was not; so does a second run after a
// complete one (it finds nothing to move). Memory is a page (1,000 rows).
//
// A link keeps its version token (the ETag callers hold), which is a
// property of the row; the counts rows move as they are: in the
// one-partition layout, shard i's counts row counted exactly the links
// that move to shard i's partition.
func MigrateLayout(ctx context.Context, opts Options) (MigrateResult, error) {
	s, err := open(ctx, opts)
	if err != nil {
		return MigrateResult{}, err
	}
	return s.migrateLayout(ctx)
}

func (s *Store) migrateLayout(ctx context.Context) (MigrateResult, error) {
	var res MigrateResult
	wrap := func(err error) error {
		return fmt.Errorf("migrate the links table to store layout %d: %w", LayoutVersion, err)
	}
	if v, found, err := s.readLayout(ctx); err != nil {
		return res, wrap(err)
	} else if found && v > LayoutVersion {
		return res, wrap(fmt.Errorf("it is in store layout %d, which this version does not know: run a newer tenantsync", v))
	}
	table := s.tables[entity.TableLinks]
	targets := map[string]bool{}
	// The whole table: no filter selects "a partition key without ':'".
	// Rows already in the new layout are read and passed over; at 250,000
	// links (500,000 rows) a target, reading its one partition takes at
	// least about 250 s at a partition's 2,000 entities a second.
	pager := table.NewListEntitiesPager(nil)
	for pager.More() {
		resp, err := pager.NextPage(ctx)
		if err != nil {
			return res, wrap(fmt.Errorf("list the links table: %w", err))
		}
		var old []entity.Parsed
		for _, raw := range resp.Entities {
			p, err := entity.Parse(raw)
			if err != nil {
				return res, wrap(err)
			}
			if _, _, ok := entity.ParseShardPartition(p.Key.PK); ok || p.Key == entity.LayoutKey() {
				continue
			}
			old = append(old, p)
		}
		if err := s.moveRows(ctx, old, targets, &res); err != nil {
			return res, wrap(err)
		}
		if len(old) > 0 {
			s.log.Info("migrate store: moving links", "targets", len(targets), "moved", res.Moved, "deleted", res.Deleted)
		}
	}
	if err := s.migrateTxn(); err != nil {
		return res, wrap(err)
	}
	if err := s.writeLayout(ctx, aztables.TransactionTypeInsertReplace); err != nil {
		return res, wrap(fmt.Errorf("record the layout: %w", err))
	}
	res.Targets = len(targets)
	return res, nil
}

// moveRows copies one-partition rows into their shards' partitions, then
// deletes them.
func (s *Store) moveRows(ctx context.Context, rows []entity.Parsed, targets map[string]bool, res *MigrateResult) error {
	table := s.tables[entity.TableLinks]
	var (
		copies = map[string][]aztables.TransactionAction{} // new partition → its rows
		order  []string
		moved  = map[string][]string{} // old partition → row keys copied
		olds   []string
	)
	for _, p := range rows {
		shard, err := entity.RowShard(p.Key.RK)
		if err != nil {
			s.log.Warn("migrate store: a row of a one-partition links partition is none of a link's; left as it is", "partition", p.Key.PK, "row", p.Key.RK, "err", err)
			res.Skipped++
			continue
		}
		k := entity.ShardKey(p.Key, shard)
		body, err := p.Entity.JSON(k)
		if err != nil {
			return fmt.Errorf("row %q of partition %q: %w", p.Key.RK, p.Key.PK, err)
		}
		if _, ok := copies[k.PK]; !ok {
			order = append(order, k.PK)
		}
		copies[k.PK] = append(copies[k.PK], aztables.TransactionAction{ActionType: aztables.TransactionTypeInsertReplace, Entity: body})
		if _, ok := moved[p.Key.PK]; !ok {
			olds = append(olds, p.Key.PK)
		}
		moved[p.Key.PK] = append(moved[p.Key.PK], p.Key.RK)
		targets[p.Key.PK] = true
	}
	for _, pk := range order {
		for actions := copies[pk]; len(actions) > 0; {
			chunk := actions[:min(len(actions), maxBatch)]
			actions = actions[len(chunk):]
			if err := s.migrateTxn(); err != nil {
				return err
			}
			if _, err := table.SubmitTransaction(ctx, chunk, nil); err != nil {
				return fmt.Errorf("copy %d rows to partition %q: %w", len(chunk), pk, err)
			}
			res.Moved += len(chunk)
		}
	}
	for _, pk := range olds {
		for rks := moved[pk]; len(rks) > 0; {
			chunk := rks[:min(len(rks), maxBatch)]
			rks = rks[len(chunk):]
			if err := s.migrateTxn(); err != nil {
				return err
			}
			n, err := s.deleteRows(ctx, table, pk, chunk)
			res.Deleted += n
			if err != nil {
				return fmt.Errorf("delete %d moved rows of partition %q: %w", len(chunk), pk, err)
			}
		}
	}
	return nil
}

// migrateTxn runs the test hook before each transaction of a migration.
func (s *Store) migrateTxn() error {
	if s.hooks.migrateTxn != nil {
		return s.hooks.migrateTxn()
	}
	return nil
}
