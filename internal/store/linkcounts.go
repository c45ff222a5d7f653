package store

import "context"

// LinkCounts are a target's links counted by state; Failing counts, by
// state, those whose last attempt left an error (LastError set).
type LinkCounts struct {
	States  map[LinkState]int64 `json:"states"`
	Failing map[LinkState]int64 `json:"failing"`
}

// Add counts n links (n may be negative) in a state, failing or not.
// Counts that reach zero are dropped.
func (c *LinkCounts) Add(state LinkState, failing bool, n int64) {
	add := func(m *map[LinkState]int64) {
		if *m == nil {
			*m = map[LinkState]int64{}
		}
		(*m)[state] += n
		if (*m)[state] == 0 {
			delete(*m, state)
		}
	}
	add(&c.States)
	if failing {
		add(&c.Failing)
	}
}

// LinkCounter is a store that keeps its LinkCounts up to date with every
// link write, in the same transaction, so that reading them costs one
// record instead of a scan of the target's links: what the status page and
// `status` show for 250,000 users. A store that does not implement it is
// counted with ListLinks.
type LinkCounter interface {
	LinkCounts(ctx context.Context, target string) (LinkCounts, error)
}

// CountLinks returns a target's link counts: those st keeps when it is a
// LinkCounter (one record at any size), else a count of its links as
// ListLinks gives them (a scan, in proportion to them).
func CountLinks(ctx context.Context, st Store, target string) (LinkCounts, error) {
	if lc, ok := st.(LinkCounter); ok {
		return lc.LinkCounts(ctx, target)
	}
	var c LinkCounts
	err := st.ListLinks(ctx, target, func(l Link) error {
		c.Add(l.State, l.LastError != "", 1)
		return nil
	})
	if err != nil {
		return LinkCounts{}, err // the caller says what it counted
	}
	return c, nil
}
