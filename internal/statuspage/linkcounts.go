package statuspage

import (
	"context"

	"github.com/tenantsync/tenantsync/internal/store"
)

// countLinks counts a target's links: from the counts the store keeps with
// every link write when it keeps them (store.LinkCounter: one record, at
// any size), else by listing the links (a scan, in proportion to them).
func (h *Handler) countLinks(ctx context.Context, target string, c *LinkCounts) error {
	counts, err := store.CountLinks(ctx, h.opts.Store, target)
	if err != nil {
		return err
	}
	for state, n := range counts.States {
		c.addState(state, int(n))
	}
	for state, n := range counts.Failing {
		c.addFailing(state, int(n))
	}
	return nil
}
