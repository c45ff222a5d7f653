package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/store"
)

// testGuardNoLostUpdates has 16 writers add themselves to one target's
// deletion guard at once, each reading, adding and writing conditionally
// until its write wins, as the engine does. Every one of them must be in
// the record afterwards, and the status row of the same target must be
// untouched: the guard's count is only as good as this.
func testGuardNoLostUpdates(t *testing.T, s store.Store) {
	ctx := t.Context()
	st := must[store.TargetStatus](t, "put status")(s.PutStatus(ctx, store.TargetStatus{Target: "contoso", QuarantineReason: "kept"}))
	const writers = 16
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- addPending(ctx, s, "contoso", fmt.Sprintf("user-%02d", i))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	g := must[store.Guard](t, "get guard")(s.GetGuard(ctx, "contoso"))
	if len(g.Pending) != writers {
		t.Errorf("guard has %d pending after %d concurrent writers: %v", len(g.Pending), writers, g.Pending)
	}
	sameRecord(t, "status beside the guard", must[store.TargetStatus](t, "get status")(s.GetStatus(ctx, "contoso")), st)
	if _, err := s.GetGuard(ctx, "fabrikam"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("guard of another target: %v, want ErrNotFound", err)
	}
}

func addPending(ctx context.Context, s store.Store, target, id string) error {
	for range 1000 {
		g, err := s.GetGuard(ctx, target)
		switch {
		case errors.Is(err, store.ErrNotFound):
			g = store.Guard{Target: target}
		case err != nil:
			return err
		}
		if g.Pending == nil {
			g.Pending = map[string]time.Time{}
		}
		g.Pending[id] = base
		if _, err := s.PutGuard(ctx, g); !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("%s: lost 1000 races in a row", id)
}
