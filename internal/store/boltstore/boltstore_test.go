package boltstore_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
	"github.com/tenantsync/tenantsync/internal/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := boltstore.OpenTemp(nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestContractOnDisk runs the contract on a synced file, as `local` uses it.
func TestContractOnDisk(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := boltstore.Open(filepath.Join(t.TempDir(), "state", "state.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store {
		s, err := boltstore.Open(filepath.Join(b.TempDir(), "state.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}

func TestReopenKeepsRecordsAndETags(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.PutLink(ctx, store.Link{Target: "contoso", SourceID: "a", TargetID: "t-a", Hash: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode: %v, %v; want 0600", fi.Mode(), err)
	}

	s, err = boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.GetLinkByTargetID(ctx, "contoso", "t-a")
	if err != nil || got.ETag != l.ETag || got.Hash != "1" {
		t.Fatalf("after reopen: %+v, %v; want ETag %q", got, err, l.ETag)
	}
	// ETags keep increasing across opens: an ETag from before cannot match
	// a later write.
	l2, err := s.PutLink(ctx, got)
	if err != nil || l2.ETag == l.ETag {
		t.Fatalf("write after reopen: %+v, %v", l2, err)
	}
	if _, err := s.PutLink(ctx, l); !errors.Is(err, store.ErrConflict) {
		t.Errorf("write with the pre-reopen ETag: %v, want conflict", err)
	}
}

func TestOpenTempRemovesItsFile(t *testing.T) {
	s, err := boltstore.OpenTemp(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Path()); err != nil {
		t.Fatalf("temp file: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := os.Stat(s.Path()); !os.IsNotExist(err) {
		t.Errorf("temp file after Close: %v", err)
	}
}

func TestOpenLockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = boltstore.Open(path, &boltstore.Options{Timeout: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("second Open of a held file: %v", err)
	}
}

// TestDBSharesTheFile checks that another component can keep its buckets
// beside the store's, durably, through DB.
func TestDBSharesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.DB().Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("queue.changes"))
		if err != nil {
			return err
		}
		return b.Put([]byte("m1"), []byte("payload"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutWatermark(t.Context(), store.Watermark{Tenant: "f", Resource: "users"}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got string
	err = s.DB().View(func(tx *bbolt.Tx) error {
		got = string(tx.Bucket([]byte("queue.changes")).Get([]byte("m1")))
		return tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
			if n := string(name); n != "queue.changes" && !strings.HasPrefix(n, boltstore.BucketPrefix) {
				t.Errorf("unexpected bucket %q", n)
			}
			return nil
		})
	})
	if err != nil || got != "payload" {
		t.Errorf("queue bucket after reopen: %q, %v", got, err)
	}
	if _, err := s.GetWatermark(t.Context(), "f", "users"); err != nil {
		t.Errorf("watermark after reopen: %v", err)
	}
}
