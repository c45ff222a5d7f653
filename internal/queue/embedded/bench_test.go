package embedded

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/tenantsync/tenantsync/internal/queue"
)

// BenchmarkThroughput measures messages per second through the queue, from
// Enqueue to a handler that returns at once to the completion, with the
// messages spread over 1,000 sessions and 32 sessions handled at once (as
// host.json has it). Producers enqueue concurrently, one message per call
// (as the webhook does per notification) or in batches of 100 (as
// reconciliation does).
func BenchmarkThroughput(b *testing.B) {
	const sessions = 1000
	cases := []struct {
		name      string
		noSync    bool
		producers int
		batch     int
	}{
		{name: "fsync/single/16producers", producers: 16, batch: 1},
		{name: "fsync/batch100/4producers", producers: 4, batch: 100},
		{name: "nosync/single/16producers", noSync: true, producers: 16, batch: 1},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			// The options of the embedded store's file (package boltstore).
			db, err := bbolt.Open(tempPath(b), 0o600, &bbolt.Options{NoSync: c.noSync, FreelistType: bbolt.FreelistMapType})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			q, err := Open(db, &Options{Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()

			total := int64(b.N)
			var handled atomic.Int64
			all := make(chan struct{})
			ctx, cancel := context.WithCancel(context.Background())
			runDone := make(chan error, 1)
			go func() {
				runDone <- q.Run(ctx, RunOptions{MaxConcurrentSessions: 32}, func(ctx context.Context, d queue.Delivery) error {
					if handled.Add(1) == total {
						close(all)
					}
					return nil
				})
			}()

			body := []byte(`{"v":1,"kind":"user","sourceTenant":"fabrikam.example","id":"00000000-0000-0000-0000-000000000000"}`)
			var next atomic.Int64
			b.ResetTimer()
			t0 := time.Now()
			var wg sync.WaitGroup
			for range c.producers {
				wg.Go(func() {
					for {
						first := next.Add(int64(c.batch)) - int64(c.batch)
						if first >= total {
							return
						}
						n := min(int64(c.batch), total-first)
						msgs := make([]queue.Message, n)
						for i := range msgs {
							k := first + int64(i)
							msgs[i] = queue.Message{ID: fmt.Sprint(k), SessionID: fmt.Sprintf("user-%04d", k%sessions), Body: body}
						}
						if err := q.Enqueue(context.Background(), msgs...); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			<-all
			elapsed := time.Since(t0)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
			cancel()
			if err := <-runDone; err != nil {
				b.Fatal(err)
			}
			if st := q.Stats(); st.Completed != total {
				b.Fatalf("completed %d of %d", st.Completed, total)
			}
		})
	}
}
