package webhook

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkAcknowledgement measures how long Graph waits for the 202: each
// iteration sends 200 notification POSTs at once (over real HTTP, to the
// real store, with an in-memory queue) and the latencies of all of them
// give p50 and p99. The target is p99 < 50 ms.
func BenchmarkAcknowledgement(b *testing.B) {
	const concurrent = 200
	f := newFixture(b, func(o *Options) { o.Logger = slog.New(slog.DiscardHandler) })
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrent, MaxConnsPerHost: concurrent}}
	bodies := make([][]byte, concurrent)
	for i := range bodies {
		bodies[i] = collectionOf(userNote(subID, secret, fmt.Sprintf("00000000-0000-0000-0000-%012d", i)))
	}
	post := func(body []byte) (time.Duration, error) {
		began := time.Now()
		resp, err := client.Post(f.srv.URL+"/api/GraphWebhook", "application/json", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(began), nil
	}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		failed    error
	)
	round := func() {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range concurrent {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				d, err := post(bodies[i])
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed = err
					return
				}
				latencies = append(latencies, d)
			}()
		}
		close(start)
		wg.Wait()
	}
	// Warm the connections and the secret cache, as a running endpoint is.
	round()
	warm := len(latencies)
	latencies = latencies[:0]
	b.ResetTimer()
	for b.Loop() {
		round()
	}
	b.StopTimer()
	if failed != nil {
		b.Fatal(failed)
	}
	slices.Sort(latencies)
	p := func(q float64) float64 {
		return float64(latencies[int(q*float64(len(latencies)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(p(0.50), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
	b.ReportMetric(float64(concurrent), "concurrent")
	b.Logf("acknowledgement latency over %d POSTs, %d at a time: p50 %.2f ms, p99 %.2f ms, max %.2f ms (target p99 < 50 ms)",
		len(latencies), concurrent, p(0.50), p(0.99), p(1))
	if got := f.h.Counters().Enqueued; got != int64(len(latencies)+warm) {
		b.Fatalf("enqueued %d, want %d", got, len(latencies)+warm)
	}
}
