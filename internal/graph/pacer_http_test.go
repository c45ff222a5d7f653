package graph_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/graph"
	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// TestWritePacingAfter429 checks, against the simulator, that a 429 to one
// write holds back the tenant's next write for the Retry-After (instead of
// sending it into the same throttling), or refuses it at once, unsent, when
// the caller may not wait that long; and that reads are never held.
func TestWritePacingAfter429(t *testing.T) {
	tests := []struct {
		name    string
		maxWait time.Duration
		// wantPaced: the second write is refused with a throttling error
		// and never sent; otherwise it waits and succeeds.
		wantPaced bool
	}{
		{name: "the next write waits for the Retry-After", maxWait: 5 * time.Second},
		{name: "the next write is refused when it may not wait that long", maxWait: 100 * time.Millisecond, wantPaced: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := newSim(t, graphsim.Options{})
			c := sim.clientWith(t, graph.Options{BaseURL: sim.tenantURL(target), WritePacing: graph.WritePacing{MaxWait: tt.maxWait}})
			ctx := context.Background()
			if err := sim.SetFaults(graphsim.Faults{FailNext: 1, ErrorStatuses: []int{429}, RetryAfterSeconds: 1}); err != nil {
				t.Fatal(err)
			}
			err := c.UpdateUser(ctx, b2bAliceID, directory.Attributes{"jobTitle": "First"})
			if !errors.Is(err, directory.ErrThrottled) {
				t.Fatalf("first write: err = %v, want the injected 429", err)
			}
			throttledAt := time.Now()

			// A read goes through at once.
			if _, err := c.GetUser(ctx, b2bAliceID, []string{"jobTitle"}); err != nil {
				t.Fatalf("read during the pause: %v", err)
			}
			if d := time.Since(throttledAt); d > 500*time.Millisecond {
				t.Errorf("a read waited %v: only writes are paced", d)
			}

			sim.reset()
			trace := &directory.Trace{}
			err = c.UpdateUser(directory.WithTrace(ctx, trace), b2bAliceID, directory.Attributes{"jobTitle": "Second"})
			elapsed := time.Since(throttledAt)
			if tt.wantPaced {
				if !errors.Is(err, directory.ErrThrottled) {
					t.Fatalf("second write: err = %v, want a throttling error", err)
				}
				de := asError(t, err)
				if de.Code != "WriteQuotaPaced" || de.RetryAfter <= 0 || de.RetryAfter > time.Second {
					t.Errorf("error = %+v, want code WriteQuotaPaced with the rest of the pause as RetryAfter", de)
				}
				if n := len(trace.Requests()); n != 0 {
					t.Errorf("the refused write sent %d requests", n)
				}
				if st := sim.Stats().Tenants[target]; st.Writes != 0 {
					t.Errorf("the simulator saw %d writes, want none", st.Writes)
				}
				return
			}
			if err != nil {
				t.Fatalf("second write: %v", err)
			}
			if elapsed < 900*time.Millisecond {
				t.Errorf("the second write went %v after the 429, want after the 1 s Retry-After", elapsed)
			}
			if st := sim.Stats().Tenants[target]; st.Writes != 1 || st.Throttled != 0 {
				t.Errorf("simulator: %d writes, %d throttled; want 1 and 0", st.Writes, st.Throttled)
			}
		})
	}
}
