package embedded

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/tenantsync/tenantsync/internal/queue"
)

// quiet is the logger of tests: the queue logs lost locks and dead letters
// at warn level, which tests provoke on purpose.
var quiet = slog.New(slog.DiscardHandler)

// openDB opens (creating) a bbolt file; the test closes it at the end unless
// it was closed before.
func openDB(t testing.TB, path string) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// openQueue opens the queue in the file at path.
func openQueue(t testing.TB, path string) (*Queue, *bbolt.DB) {
	t.Helper()
	db := openDB(t, path)
	q, err := Open(db, &Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q, db
}

func tempPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "state.db")
}

// running is a Run in the background.
type running struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// start runs q with h until stop is called (or the test ends).
func start(t testing.TB, q *Queue, opts RunOptions, h queue.Handler) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = q.Run(ctx, opts, h)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the Run and waits for it to return, failing the test if it
// takes longer than a bound.
func (r *running) stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return 30 s after its context was cancelled")
	}
	return r.err
}

// recorder collects deliveries.
type recorder struct {
	mu sync.Mutex
	ds []queue.Delivery
	at []time.Time
}

func (r *recorder) add(d queue.Delivery) {
	r.mu.Lock()
	r.ds = append(r.ds, d)
	r.at = append(r.at, time.Now())
	r.mu.Unlock()
}

func (r *recorder) list() []queue.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]queue.Delivery(nil), r.ds...)
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ds)
}

func (r *recorder) ids() []string {
	var out []string
	for _, d := range r.list() {
		out = append(out, d.ID)
	}
	return out
}

var errBoom = errors.New("boom")

func msg(id, session string) queue.Message {
	return queue.Message{ID: id, SessionID: session, Body: []byte(`{"id":"` + id + `"}`), ContentType: "application/json"}
}

func enqueue(t testing.TB, q *Queue, msgs ...queue.Message) {
	t.Helper()
	if err := q.Enqueue(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}
