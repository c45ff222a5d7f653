package customhandler

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkStartup measures what the host waits for: from ListenAndServe to
// the first answer to its GET / probe. Flex Consumption allows 30 s; the
// target is well under 1 s.
func BenchmarkStartup(b *testing.B) {
	var worst time.Duration
	for b.Loop() {
		port := freePort(b)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- ListenAndServe(ctx, port, NewServer(nil)) }()
		waitUp(b, "127.0.0.1:"+port)
		worst = max(worst, time.Since(start))
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
}

// BenchmarkServiceBusInvocation measures one ProcessChange invocation over
// loopback HTTP, as the host makes it: decode the payload and the message,
// run the handler, encode the answer.
func BenchmarkServiceBusInvocation(b *testing.B) {
	s := NewServer(&ServerOptions{Logger: slog.New(slog.DiscardHandler)})
	s.HandleInvocation("ProcessChange", processChange)
	hs := httptest.NewServer(s)
	defer hs.Close()
	payload := fixture(b, "servicebus-session-string.json")
	client := hs.Client()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		resp, err := client.Post(hs.URL+"/ProcessChange", "application/json", bytes.NewReader(payload))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkServiceBusMessage measures decoding alone.
func BenchmarkServiceBusMessage(b *testing.B) {
	inv := readInvocation(b, "servicebus-session-string.json", "ProcessChange")
	for b.Loop() {
		if _, err := ServiceBusMessage(inv, "message"); err != nil {
			b.Fatal(err)
		}
	}
}
