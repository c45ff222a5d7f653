package statuspage

import "context"

// Overview returns what the page's overview shows (the source's delta
// watermarks, the subscriptions and every target's summary) without a
// selected target's details, for callers that want the data rather than
// the page, such as the `handler status` command. Like the page, it
// names what it could not read in Problems and logs why.
func (h *Handler) Overview(ctx context.Context) *Snapshot {
	return h.snapshot(ctx, request{})
}
