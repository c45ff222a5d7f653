//go:build storecallcheck

package engine

import (
	"context"
	"time"
)

// pruneDuringSync is a store call added to the sync path that the dry run's
// overlay does not implement. Built with -tags storecallcheck, the engine
// must not compile: TestDryRunStoreIsClosed proves it, so that no store call
// can reach the real store during a dry run unnoticed.
func (d *decision) pruneDuringSync(ctx context.Context) (int, error) {
	return d.e.store.PruneEvents(ctx, time.Now())
}
