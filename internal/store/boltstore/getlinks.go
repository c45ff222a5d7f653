package boltstore

import (
	"context"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/internal/entity"
)

// GetLinks implements store.Store: every link in one read transaction.
func (s *Store) GetLinks(ctx context.Context, target string, sourceIDs []string) (map[string]store.Link, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get %d links of %q: %w", len(sourceIDs), target, err)
	}
	out := make(map[string]store.Link, len(sourceIDs))
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket(entity.TableLinks))
		for _, id := range sourceIDs {
			k, err := entity.LinkKey(target, id)
			if err != nil {
				return fmt.Errorf("link %q: %w", id, err)
			}
			p, ok, err := getRow(b, k)
			if err != nil {
				return fmt.Errorf("link %q: %w", id, err)
			}
			if !ok {
				continue
			}
			l, err := linkFromRow(target, id, p)
			if err != nil {
				return fmt.Errorf("link %q: %w", id, err)
			}
			out[id] = l
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get %d links of %q: %w", len(sourceIDs), target, err)
	}
	return out, nil
}
