package webhook

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/store"
)

// maxCacheEntries bounds the cache: tenantsync owns a handful of
// subscriptions, but notifications naming random ids must not grow it.
const maxCacheEntries = 1024

// subscription is what the Handler checks a notification against: its
// subscription's secret and the kind of object it watches.
type subscription struct {
	secret string
	// kind is what the subscription's resource (/users, /groups) watches;
	// "" for a resource tenantsync does not subscribe to, which matches no
	// notification.
	kind engine.Kind
}

// kindOfResource reads a subscription's resource, "/users" or "/groups".
func kindOfResource(resource string) engine.Kind {
	switch strings.ToLower(strings.Trim(resource, "/")) {
	case "users":
		return engine.KindUser
	case "groups":
		return engine.KindGroup
	}
	return ""
}

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
	sub     subscription
	found   bool
	err     error
	expires time.Time
}

func newSecretCache(s SubscriptionStore, ttl, missTTL time.Duration) *secretCache {
	return &secretCache{store: s, ttl: ttl, missTTL: missTTL, entries: map[string]*cacheEntry{}}
}

// get returns the subscription id and whether it exists.
func (c *secretCache) get(ctx context.Context, id string) (sub subscription, found bool, err error) {
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
		return subscription{}, false, ctx.Err()
	}
	return e.sub, e.found, e.err
}

// lookup reads the subscription and completes e. It runs with its owner's
// context; waiters that outlive a cancelled owner see its error and retry on
// their next request.
func (c *secretCache) lookup(ctx context.Context, id string, e *cacheEntry) {
	sub, err := c.store.GetSubscription(ctx, id)
	now := time.Now()
	switch {
	case err == nil:
		e.sub = subscription{secret: sub.ClientState, kind: kindOfResource(sub.Resource)}
		e.found, e.expires = true, now.Add(c.ttl)
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
