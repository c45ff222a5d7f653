package tablestore

// The layout of the links table, and the move from the layout before it.
//
// Layout 1 (no layout record) kept all of a target's link rows in one
// partition, EncodeKey(target). Layout 2 spreads them over
// entity.LinkShards partitions (shards.go). Reading layout 1 rows as
// layout 2 would not fail: it would find no links, and sync would invite
// every user again. So the store refuses to open over layout 1 rows, and
// `handler migrate-store` (MigrateLayout) moves them.
//
// Detection, at Open: one point read of the layout record
// (entity.LayoutKey, in a partition no target's key can be). Present, it
// names the layout. Absent, the store is either new or written before the
// record existed; one query for the first row of the links table tells:
// none, and the record is written (a new store); any, and the store is
// refused, naming the target of the row. Every version that writes layout
// 2 rows wrote the record first, so a row without a record is a layout 1
// row (or the record was deleted by hand, which migrate-store also
// repairs). The cost is one point read at each Open, and on a new store a
// query and an insert once.
//
// What it cannot see: a version before layout 2 writing while this one
// runs. The upgrade stops the function app first (docs/deploy.md).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/internal/entity"
)

// LayoutVersion is the layout of the links table this version reads and
// writes: 2, each target's links in entity.LinkShards partitions. Layout 1
// (one partition a target) had no layout record.
const LayoutVersion = 2

// propLayout is the layout record's property holding the layout number.
const propLayout = "Layout"

// ErrOldLayout is the error Open returns over links in the one-partition
// layout (or a links table with rows and no layout record).
var ErrOldLayout = errors.New("links table in the layout before store layout 2")

// migrateHint is what to do about ErrOldLayout.
const migrateHint = "stop the function app and run `handler migrate-store`"

// layoutError is an ErrOldLayout whose message says it all.
type layoutError struct{ msg string }

func (e *layoutError) Error() string        { return e.msg }
func (e *layoutError) Is(target error) bool { return target == ErrOldLayout }

func oldLayoutf(format string, args ...any) error {
	return &layoutError{fmt.Sprintf(format, args...) + ": " + migrateHint}
}

// checkLayout refuses a links table in another layout (see the top of the
// file).
func (s *Store) checkLayout(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		v, found, err := s.readLayout(ctx)
		if err != nil {
			return err
		}
		switch {
		case found && v == LayoutVersion:
			return nil
		case found && v > LayoutVersion:
			return fmt.Errorf("the links table is in store layout %d, which this version (layout %d) does not know: run a newer tenantsync", v, LayoutVersion)
		case found:
			return oldLayoutf("the links table is in store layout %d, before %d", v, LayoutVersion)
		}
		k, any, err := s.firstLinkRow(ctx)
		if err != nil {
			return err
		}
		if any {
			return oldLayoutError(k)
		}
		err = s.writeLayout(ctx, aztables.TransactionTypeAdd)
		switch st := statusOf(err); {
		case err == nil:
			return nil
		case st == http.StatusForbidden:
			// A reader's identity on a new store: nothing to misread, and
			// the next writer records the layout.
			return nil
		case st == http.StatusConflict && attempt == 0:
			continue // another instance opened the new store: read its record
		default:
			return fmt.Errorf("record the layout of a new links table: %w", err)
		}
	}
}

// oldLayoutError names the problem found at row k and the fix.
func oldLayoutError(k entity.Key) error {
	if enc, _, ok := entity.ParseShardPartition(k.PK); ok {
		target, _ := entity.DecodeKey(enc)
		return oldLayoutf("links of target %q are in store layout %d but the links table has no layout record, as a store before layout %d has none", target, LayoutVersion, LayoutVersion)
	}
	target, err := entity.DecodeKey(k.PK)
	if err != nil {
		target = k.PK
	}
	return oldLayoutf("links of target %q are in the layout before store layout %d (one partition a target)", target, LayoutVersion)
}

// readLayout reads the layout record.
func (s *Store) readLayout(ctx context.Context) (version int, found bool, err error) {
	p, err := s.tables.Get(ctx, entity.TableLinks, entity.LayoutKey())
	if errors.Is(err, store.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read the links table's layout record: %w", err)
	}
	v, err := strconv.Atoi(p.Entity.String(propLayout))
	if err != nil {
		return 0, false, fmt.Errorf("the links table's layout record: layout %q: %w", p.Entity.String(propLayout), err)
	}
	return v, true, nil
}

// writeLayout writes the layout record: an Add for a new store (which
// fails if another instance wrote it), an InsertReplace at the end of a
// migration.
func (s *Store) writeLayout(ctx context.Context, kind aztables.TransactionType) error {
	k := entity.LayoutKey()
	body, err := entity.Entity{propLayout: strconv.Itoa(LayoutVersion)}.JSON(k)
	if err != nil {
		return err
	}
	table := s.tables[entity.TableLinks]
	if kind == aztables.TransactionTypeAdd {
		_, err = table.AddEntity(ctx, body, &aztables.AddEntityOptions{Format: to.Ptr(aztables.MetadataFormatNone)})
	} else {
		_, err = table.UpsertEntity(ctx, body, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace})
	}
	return err
}

// firstLinkRow returns the key of some row of the links table other than
// the layout record, if there is any.
func (s *Store) firstLinkRow(ctx context.Context) (entity.Key, bool, error) {
	filter := fmt.Sprintf("PartitionKey ne '%s'", entity.LayoutKey().PK)
	top := int32(1)
	pager := s.tables[entity.TableLinks].NewListEntitiesPager(&aztables.ListEntitiesOptions{
		Filter: &filter, Select: to.Ptr("PartitionKey,RowKey"), Top: &top,
	})
	// A query may return an empty page and a continuation (at a partition
	// boundary, or after 5 s); follow them until a row or the end.
	for pager.More() {
		resp, err := pager.NextPage(ctx)
		if err != nil {
			return entity.Key{}, false, fmt.Errorf("look for rows in the links table: %w", err)
		}
		for _, raw := range resp.Entities {
			p, err := entity.Parse(raw)
			if err != nil {
				return entity.Key{}, false, fmt.Errorf("look for rows in the links table: %w", err)
			}
			return p.Key, true, nil
		}
	}
	return entity.Key{}, false, nil
}
