package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/internal/entity"
)

// The link counts of each target are one record in a bucket of their own,
// keyed by target name, changed in the transaction of every link write.
// A target has no record until the first LinkCounts counts its links (a
// scan, once, in a write transaction, so that no link write slips between
// the scan and the record); until then link writes leave the counts alone.
// A state file written before the counts existed is counted that way too.

var linkCountsBucket = bucket("linkcounts")

var _ store.LinkCounter = (*Store)(nil)

// linkFacts is what the counts keep of a link row: its state and whether it
// carries an error.
type linkFacts struct {
	state   store.LinkState
	failing bool
}

func factsOf(e entity.Entity) *linkFacts {
	return &linkFacts{state: store.LinkState(e.String("State")), failing: e.String("LastError") != ""}
}

// adjustLinkCounts moves one link from old to new (nil: none) in the
// target's counts, if the target has been counted.
func adjustLinkCounts(tx *bbolt.Tx, target string, old, new *linkFacts) error {
	b := tx.Bucket(linkCountsBucket)
	if b == nil {
		return nil
	}
	v := b.Get([]byte(target))
	if v == nil {
		return nil
	}
	var c store.LinkCounts
	if err := json.Unmarshal(v, &c); err != nil {
		return fmt.Errorf("decode the link counts of %q: %w", target, err)
	}
	if old != nil {
		c.Add(old.state, old.failing, -1)
	}
	if new != nil {
		c.Add(new.state, new.failing, 1)
	}
	return putLinkCounts(b, target, c)
}

func putLinkCounts(b *bbolt.Bucket, target string, c store.LinkCounts) error {
	v, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode the link counts of %q: %w", target, err)
	}
	return b.Put([]byte(target), v)
}

// LinkCounts implements store.LinkCounter.
func (s *Store) LinkCounts(ctx context.Context, target string) (store.LinkCounts, error) {
	wrap := func(err error) error { return fmt.Errorf("count the links of %q: %w", target, err) }
	if err := ctx.Err(); err != nil {
		return store.LinkCounts{}, wrap(err)
	}
	var c store.LinkCounts
	found := false
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(linkCountsBucket)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(target))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &c)
	})
	if err != nil {
		return store.LinkCounts{}, wrap(err)
	}
	if found {
		return c, nil
	}
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(linkCountsBucket)
		if err != nil {
			return err
		}
		if v := b.Get([]byte(target)); v != nil {
			return json.Unmarshal(v, &c) // counted meanwhile
		}
		c, err = countLinks(tx, target)
		if err != nil {
			return err
		}
		return putLinkCounts(b, target, c)
	})
	if err != nil {
		return store.LinkCounts{}, wrap(err)
	}
	return c, nil
}

// countLinks counts a target's link rows.
func countLinks(tx *bbolt.Tx, target string) (store.LinkCounts, error) {
	c := store.LinkCounts{States: map[store.LinkState]int64{}, Failing: map[store.LinkState]int64{}}
	pk, err := entity.EncodeKey(target)
	if err != nil {
		return c, err
	}
	lo, hi := entity.LinkRange()
	end := dbKey(entity.Key{PK: pk, RK: hi})
	cur := tx.Bucket(bucket(entity.TableLinks)).Cursor()
	for k, v := cur.Seek(dbKey(entity.Key{PK: pk, RK: lo})); k != nil && bytes.Compare(k, end) < 0; k, v = cur.Next() {
		p, err := decodeRow(splitKey(k), v)
		if err != nil {
			return c, err
		}
		f := factsOf(p.Entity)
		c.Add(f.state, f.failing, 1)
	}
	return c, nil
}
