// Package boltstore is the embedded tenantsync store: every record in one
// bbolt file, for `handler local` and for tests, with the same contract as
// Table Storage (see package store).
//
// It keeps the very entities the Table Storage store would send, under the
// same keys, one bucket per table, so that keys, ordering and size limits
// behave the same in both. Each record carries an ETag drawn from its
// bucket's sequence; conditional writes compare it inside a bbolt write
// transaction, which makes them atomic.
//
// Buckets whose names start with "store." belong to this package. The local
// runner's queue may keep its own buckets in the same file through DB.
package boltstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/tenantsync/tenantsync/internal/boltcommit"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/internal/entity"
	"github.com/tenantsync/tenantsync/internal/store/internal/records"
)

// BucketPrefix starts the name of every bucket this package owns.
const BucketPrefix = "store."

// etagProperty holds a record's ETag in the stored entity.
const etagProperty = "ETag"

// listBatch is how many links ListLinks reads per read transaction. The
// callback runs outside the transaction, so it may write to the store
// (bbolt can deadlock when one goroutine holds a read transaction while it
// writes).
const listBatch = 256

// Options tune Open. The zero value is usable.
type Options struct {
	// Timeout bounds the wait for the file lock when another process has the
	// file open. Zero means 5 seconds.
	Timeout time.Duration
	// NoSync skips the fsync after each write: much faster, but a power loss
	// may lose the last writes. OpenTemp sets it.
	NoSync bool
	// Logger receives debug records; nil means slog.Default().
	Logger *slog.Logger
}

// Store is the embedded store. It is safe for concurrent use. It implements
// all of store.Store: the single-record methods (watermarks, subscriptions,
// deletions, status, AppendEvent), which go doc does not list, are written
// once for both stores in internal/records and embedded.
type Store struct {
	// recordMethods are the single-record methods of store.Store, over rows.
	recordMethods

	db      *bbolt.DB
	commits *boltcommit.Committer // the writes of PutLink, DeleteLink and rows
	path    string
	temp    bool
	log     *slog.Logger

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// recordMethods is embedded under an unexported name, so that Store has the
// methods but no exported field.
type recordMethods = records.Methods

// Open opens (creating if needed) the store in the file at path, creating
// its directory too. The file is readable by its owner only: it holds the
// subscriptions' client states.
func Open(path string, opts *Options) (*Store, error) {
	if opts == nil {
		opts = &Options{}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout, NoSync: opts.NoSync, FreelistType: bbolt.FreelistMapType})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open state file %s: another process holds it (waited %s)", path, timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, t := range entity.Tables {
			if _, err := tx.CreateBucketIfNotExists(bucket(t)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open state file %s: create buckets: %w", path, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log.Debug("state store opened", "path", path)
	commits := boltcommit.New(db)
	return &Store{recordMethods: records.New(rows{db, commits}), db: db, commits: commits, path: path, log: log}, nil
}

// OpenTemp opens a store in a new temporary file that Close removes: the
// "in-memory" store for tests (bbolt needs a file). Writes are not synced.
func OpenTemp(opts *Options) (*Store, error) {
	f, err := os.CreateTemp("", "tenantsync-state-*.db")
	if err != nil {
		return nil, fmt.Errorf("create temporary state file: %w", err)
	}
	path := f.Name()
	f.Close()
	o := Options{}
	if opts != nil {
		o = *opts
	}
	o.NoSync = true
	s, err := Open(path, &o)
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	s.temp = true
	return s, nil
}

// DB returns the bbolt database, for components that keep their own
// buckets in the same file (names not starting with BucketPrefix).
func (s *Store) DB() *bbolt.DB { return s.db }

// Path returns the file the store lives in.
func (s *Store) Path() string { return s.path }

// Close closes the file, and removes it if OpenTemp created it. It may be
// called more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.commits.Close()
		s.closeErr = s.db.Close()
		if s.temp {
			if err := os.Remove(s.path); err != nil && s.closeErr == nil {
				s.closeErr = err
			}
		}
	})
	return s.closeErr
}

func bucket(table string) []byte { return []byte(BucketPrefix + table) }

// dbKey is the bbolt key of an entity: its partition and row keys joined by
// ':', which never occurs in an encoded partition key.
func dbKey(k entity.Key) []byte { return []byte(k.PK + ":" + k.RK) }

// splitKey reverses dbKey.
func splitKey(b []byte) entity.Key {
	pk, rk, _ := strings.Cut(string(b), ":")
	return entity.Key{PK: pk, RK: rk}
}

// getRow reads the entity at k with its ETag; ok is false if there is none.
func getRow(b *bbolt.Bucket, k entity.Key) (entity.Parsed, bool, error) {
	v := b.Get(dbKey(k))
	if v == nil {
		return entity.Parsed{}, false, nil
	}
	p, err := decodeRow(k, v)
	return p, true, err
}

// decodeRow reads the entity stored at k, moving its ETag property to the
// ETag field.
func decodeRow(k entity.Key, v []byte) (entity.Parsed, error) {
	p, err := entity.Parse(v)
	if err != nil {
		return entity.Parsed{}, err
	}
	p.Key = k
	p.ETag = p.Entity.String(etagProperty)
	delete(p.Entity, etagProperty)
	return p, nil
}

// putRow writes e at k with a new ETag and returns it. The caller has
// checked the limits.
func putRow(b *bbolt.Bucket, k entity.Key, e entity.Entity) (string, error) {
	seq, err := b.NextSequence()
	if err != nil {
		return "", err
	}
	etag := strconv.FormatUint(seq, 10)
	stored := make(entity.Entity, len(e)+1)
	for n, v := range e {
		stored[n] = v
	}
	stored[etagProperty] = etag
	v, err := stored.JSON(entity.Key{})
	if err != nil {
		return "", err
	}
	return etag, b.Put(dbKey(k), v)
}

// rows is the store's records.Backend: each operation one bbolt
// transaction, which makes the conditional ones atomic. Writes go through
// the Store's Committer, which may commit them with others (one sync for
// the writes of many sessions), each still all or nothing.
type rows struct {
	db      *bbolt.DB
	commits *boltcommit.Committer
}

var _ records.Backend = rows{}

// Get implements records.Backend.
func (r rows) Get(ctx context.Context, table string, k entity.Key) (entity.Parsed, error) {
	if err := ctx.Err(); err != nil {
		return entity.Parsed{}, err
	}
	var p entity.Parsed
	err := r.db.View(func(tx *bbolt.Tx) error {
		var ok bool
		var err error
		p, ok, err = getRow(tx.Bucket(bucket(table)), k)
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		return err
	})
	return p, err
}

// Put implements records.Backend.
func (r rows) Put(ctx context.Context, table string, k entity.Key, e entity.Entity, etag string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := e.Check(k); err != nil {
		return "", err
	}
	var newETag string
	err := r.commits.Do(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket(table))
		cur, ok, err := getRow(b, k)
		if err != nil {
			return err
		}
		if err := condition(ok, cur.ETag, etag); err != nil {
			return err
		}
		newETag, err = putRow(b, k, e)
		return err
	})
	return newETag, err
}

// condition checks a write's precondition: a create (etag "") needs the
// record absent, a replace needs it present with that ETag.
func condition(exists bool, current, etag string) error {
	switch {
	case etag == "" && exists:
		return fmt.Errorf("already exists: %w", store.ErrConflict)
	case etag != "" && !exists:
		return fmt.Errorf("deleted since read: %w", store.ErrConflict)
	case etag != "" && current != etag:
		return fmt.Errorf("changed since read: %w", store.ErrConflict)
	}
	return nil
}

// Delete implements records.Backend.
func (r rows) Delete(ctx context.Context, table string, k entity.Key, etag string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return r.commits.Do(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket(table))
		cur, ok, err := getRow(b, k)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		if etag != "" && cur.ETag != etag {
			return fmt.Errorf("changed since read: %w", store.ErrConflict)
		}
		return b.Delete(dbKey(k))
	})
}

// Scan implements records.Backend, within one read transaction.
func (r rows) Scan(ctx context.Context, table, pk string, fn func(entity.Parsed) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	prefix := []byte(pk + ":")
	return r.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucket(table)).Cursor()
		for k, v := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, v = c.Next() {
			p, err := decodeRow(splitKey(k), v)
			if err != nil {
				return fmt.Errorf("read %s: %w", k, err)
			}
			if err := fn(p); err != nil {
				return err
			}
		}
		return nil
	})
}
