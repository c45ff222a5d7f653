package webhook

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tenantsync/tenantsync/internal/store"
)

// maxCacheEntries bounds the cache: tenantsync owns a handful of
// subscriptions, but notifications naming random ids must not grow it.
const maxCacheEntries = 1024

// secretCache remembers subscriptions' secrets for a short time, so that a
// burst of notifications costs one store read per subscription, and
// concurrent requests for one id share that read.
type secretCache struct {
	store   SubscriptionStore
	ttl     time.Duration
	missTTL time.Duration

	mu      sync.Mutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	ready   chan struct{} // closed when the lookup finished
	secret  string
	found   bool
	err     error
	expires time.Time
}

func newSecretCache(s SubscriptionStore, ttl, missTTL time.Duration) *secretCache {
	return &secretCache{store: s, ttl: ttl, missTTL: missTTL, entries: map[string]*cacheEntry{}}
}

// get returns the secret of the subscription id and whether it exists.
func (c *secretCache) get(ctx context.Context, id string) (secret string, found bool, err error) {
	now := time.Now()
	c.mu.Lock()
	e := c.entries[id]
	if e != nil {
		select {
		case <-e.ready:
			if e.err != nil || now.After(e.expires) {
				e = nil // failed or stale: look it up again
			}
		default: // in flight: wait for it below
		}
	}
	owner := false
	if e == nil {
		if len(c.entries) >= maxCacheEntries {
			c.evictLocked(now)
		}
		e = &cacheEntry{ready: make(chan struct{})}
		c.entries[id] = e
		owner = true
	}
	c.mu.Unlock()

	if owner {
		c.lookup(ctx, id, e)
	}
	select {
	case <-e.ready:
	case <-ctx.Done():
		return "", false, ctx.Err()
	}
	return e.secret, e.found, e.err
}

// lookup reads the subscription and completes e. It runs with its owner's
// context; waiters that outlive a cancelled owner see its error and retry on
// their next request.
func (c *secretCache) lookup(ctx context.Context, id string, e *cacheEntry) {
	sub, err := c.store.GetSubscription(ctx, id)
	now := time.Now()
	switch {
	case err == nil:
		e.secret, e.found, e.expires = sub.ClientState, true, now.Add(c.ttl)
	case errors.Is(err, store.ErrNotFound):
		e.expires = now.Add(c.missTTL)
	default:
		e.err = fmt.Errorf("get subscription %s: %w", id, err)
	}
	close(e.ready)
}

// evictLocked drops expired and failed entries, and everything when that is
// not enough.
func (c *secretCache) evictLocked(now time.Time) {
	for id, e := range c.entries {
		select {
		case <-e.ready:
			if e.err != nil || now.After(e.expires) {
				delete(c.entries, id)
			}
		default:
		}
	}
	if len(c.entries) >= maxCacheEntries {
		for id, e := range c.entries {
			select {
			case <-e.ready:
				delete(c.entries, id)
			default:
			}
		}
	}
}
