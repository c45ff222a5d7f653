package boltcommit_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/tenantsync/tenantsync/internal/boltcommit"
)

var bucket = []byte("b")

func openDB(t *testing.T) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "t.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket(bucket); return err }); err != nil {
		t.Fatal(err)
	}
	return db
}

func put(key string) func(*bbolt.Tx) error {
	return func(tx *bbolt.Tx) error { return tx.Bucket(bucket).Put([]byte(key), []byte("v")) }
}

func keys(t *testing.T, db *bbolt.DB) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	err := db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, _ []byte) error { got[string(k)] = true; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestWritesArrivingTogetherShareATransaction holds the first write's
// transaction open until the others wait, and expects them committed
// together in the next one.
func TestWritesArrivingTogetherShareATransaction(t *testing.T) {
	const writers = 64
	db := openDB(t)
	c := boltcommit.New(db)
	defer c.Close()

	var (
		mu      sync.Mutex
		txs     = map[*bbolt.Tx]bool{}
		waiting atomic.Int32
		release = make(chan struct{})
	)
	record := func(tx *bbolt.Tx) {
		mu.Lock()
		txs[tx] = true
		mu.Unlock()
	}
	first := make(chan error, 1)
	go func() {
		first <- c.Do(context.Background(), func(tx *bbolt.Tx) error {
			record(tx)
			<-release
			return put("first")(tx)
		})
	}()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			waiting.Add(1)
			errs <- c.Do(context.Background(), func(tx *bbolt.Tx) error {
				record(tx)
				return put(fmt.Sprint(i))(tx)
			})
		}()
	}
	for waiting.Load() < writers {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // each is now blocked handing its write over
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if got := len(keys(t, db)); got != writers+1 {
		t.Errorf("%d keys committed, want %d", got, writers+1)
	}
	// One transaction for the first write, one (rarely two or three, if a
	// writer was slow to hand over) for the rest; one each would be 65.
	if n := len(txs); n > 4 {
		t.Errorf("%d writes took %d transactions, want them grouped (at most 4)", writers+1, n)
	}
}

// TestAFailedWriteFailsOnlyItsCaller puts a failing write in the middle of
// a group: its caller gets its error and none of its effects, the others
// are committed.
func TestAFailedWriteFailsOnlyItsCaller(t *testing.T) {
	for _, seed := range []int{0, 1, 2, 3, 4} {
		t.Run(fmt.Sprint("round", seed), func(t *testing.T) {
			db := openDB(t)
			c := boltcommit.New(db)
			defer c.Close()
			bad := errors.New("this write cannot be made")
			const writers = 32
			hold := make(chan struct{})
			go c.Do(context.Background(), func(*bbolt.Tx) error { <-hold; return nil })
			var wg sync.WaitGroup
			results := make([]error, writers)
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i] = c.Do(context.Background(), func(tx *bbolt.Tx) error {
						if err := put(fmt.Sprint(i))(tx); err != nil {
							return err
						}
						if i == (seed*7)%writers {
							return bad // after writing: the write must be undone
						}
						return nil
					})
				}()
			}
			time.Sleep(20 * time.Millisecond)
			close(hold)
			wg.Wait()
			got := keys(t, db)
			for i, err := range results {
				failing := i == (seed*7)%writers
				switch {
				case failing && !errors.Is(err, bad):
					t.Errorf("the failing write returned %v, want its own error", err)
				case failing && got[fmt.Sprint(i)]:
					t.Errorf("the failing write's key %d was committed", i)
				case !failing && err != nil:
					t.Errorf("write %d returned %v, want nil", i, err)
				case !failing && !got[fmt.Sprint(i)]:
					t.Errorf("write %d's key was not committed", i)
				}
			}
		})
	}
}

// TestAWriteSeesTheWritesBeforeItInItsGroup: a conditional write grouped
// after another to the same key sees it, as it would had they been
// committed one by one.
func TestAWriteSeesTheWritesBeforeItInItsGroup(t *testing.T) {
	db := openDB(t)
	c := boltcommit.New(db)
	defer c.Close()
	errExists := errors.New("exists")
	create := func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket)
		if b.Get([]byte("k")) != nil {
			return errExists
		}
		return b.Put([]byte("k"), []byte("v"))
	}
	hold := make(chan struct{})
	go c.Do(context.Background(), func(*bbolt.Tx) error { <-hold; return nil })
	const writers = 16
	var wg sync.WaitGroup
	var created, refused atomic.Int32
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := c.Do(context.Background(), create); {
			case err == nil:
				created.Add(1)
			case errors.Is(err, errExists):
				refused.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	close(hold)
	wg.Wait()
	if created.Load() != 1 || refused.Load() != writers-1 {
		t.Errorf("%d creates succeeded and %d were refused, want 1 and %d", created.Load(), refused.Load(), writers-1)
	}
}

func TestDoAfterClose(t *testing.T) {
	db := openDB(t)
	c := boltcommit.New(db)
	if err := c.Do(context.Background(), put("a")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close() // twice is fine
	if err := c.Do(context.Background(), put("b")); !errors.Is(err, boltcommit.ErrClosed) {
		t.Errorf("Do after Close = %v, want ErrClosed", err)
	}
	if got := keys(t, db); !got["a"] || got["b"] {
		t.Errorf("keys = %v, want a only", got)
	}
}
