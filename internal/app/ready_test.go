package app

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestReadyGate opens with an opener that fails a number of times first: a
// waiter with a deadline of its own waits within it, one without waits at
// most maxWait, and both either get the value or the last failure.
func TestReadyGate(t *testing.T) {
	errStore := errors.New("open the store (Table Storage at acct): 403 AuthorizationPermissionMismatch")
	tests := []struct {
		name         string
		failures     int           // attempts that fail before one succeeds; -1 for all
		waitDeadline time.Duration // the waiter's own deadline; 0 for none
		wantErr      []string      // substrings of the waiter's error; none for success
		maxTook      time.Duration
	}{
		{"opens at once", 0, 0, nil, time.Second},
		{"opens after two failures, within the waiter's deadline", 2, 5 * time.Second, nil, 2 * time.Second},
		{"never opens, waiter without deadline", -1, 0, []string{"tenantsync is not ready after waiting", "failed: " + errStore.Error()}, 2 * time.Second},
		{"never opens, waiter with a short deadline", -1, 200 * time.Millisecond, []string{"not ready", errStore.Error()}, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var attempts atomic.Int32
			g := newReadyGate(func(ctx context.Context) (string, error) {
				n := int(attempts.Add(1))
				if tt.failures < 0 || n <= tt.failures {
					return "", errStore
				}
				return "runtime", nil
			}, time.Second, 500*time.Millisecond, slog.New(slog.DiscardHandler))
			g.retryMin, g.retryMax = 10*time.Millisecond, 40*time.Millisecond
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan bool, 1)
			go func() { done <- g.run(ctx) }()

			wctx := t.Context()
			if tt.waitDeadline > 0 {
				var wcancel context.CancelFunc
				wctx, wcancel = context.WithTimeout(wctx, tt.waitDeadline)
				defer wcancel()
			}
			start := time.Now()
			err := g.wait(wctx)
			if took := time.Since(start); took > tt.maxTook {
				t.Errorf("wait took %s, want at most %s", took, tt.maxTook)
			}
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("wait = %v", err)
				}
				if v := g.value(); v != "runtime" {
					t.Errorf("value = %q", v)
				}
				if !<-done {
					t.Error("run reported nothing open")
				}
				if got := int(attempts.Load()); got != tt.failures+1 {
					t.Errorf("%d attempts, want %d", got, tt.failures+1)
				}
				return
			}
			if err == nil {
				t.Fatal("wait succeeded with nothing open")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if !errors.Is(err, errStore) {
				t.Errorf("error %v does not wrap the opener's", err)
			}
			if attempts.Load() < 2 {
				t.Errorf("%d attempts: a failed open is not tried again", attempts.Load())
			}
			cancel()
			if <-done {
				t.Error("run reported open after failing throughout")
			}
		})
	}
}

// An attempt that hangs is abandoned at openTimeout and tried again.
func TestReadyGateBoundsEachAttempt(t *testing.T) {
	var attempts atomic.Int32
	g := newReadyGate(func(ctx context.Context) (int, error) {
		if attempts.Add(1) == 1 {
			<-ctx.Done()
			return 0, ctx.Err()
		}
		return 7, nil
	}, 100*time.Millisecond, time.Second, slog.New(slog.DiscardHandler))
	g.retryMin = 10 * time.Millisecond
	go g.run(t.Context())
	start := time.Now()
	if err := g.wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 100*time.Millisecond || took > time.Second {
		t.Errorf("opened after %s, want just past the 100 ms bound of the first attempt", took)
	}
	if g.value() != 7 || attempts.Load() != 2 {
		t.Errorf("value %d after %d attempts, want 7 after 2", g.value(), attempts.Load())
	}
}
