package webhook

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// sourceTenant is the source tenant's id, which every notification's tenantId
// must equal: the configured tenant when it is a GUID, else learnt once
// from the source's Graph client (see the package doc). Concurrent first
// requests share one lookup; a failed lookup is not remembered, so the
// next notification (Graph's retry of a 503) tries again.
type sourceTenant struct {
	resolve func(context.Context) (string, error)

	mu       sync.Mutex
	id       string        // lower case; "" until known
	inflight chan struct{} // closed when the running lookup ends
}

// newTenantID checks the configured source tenant and returns its id, known
// at once for a GUID.
func newSourceTenant(configured string, resolve func(context.Context) (string, error)) (*sourceTenant, error) {
	configured = strings.TrimSpace(configured)
	switch {
	case configured == "":
		return nil, errors.New("Options.SourceTenant is required: notifications from any other tenant are dropped")
	case isGUID(configured):
		return &sourceTenant{id: strings.ToLower(configured)}, nil
	case resolve == nil:
		return nil, fmt.Errorf("Options.TenantID is required: the source tenant %q is a domain, and notifications carry its id", configured)
	}
	return &sourceTenant{resolve: resolve}, nil
}

// get returns the source tenant's id, learning it if need be.
func (t *sourceTenant) get(ctx context.Context) (string, error) {
	for {
		t.mu.Lock()
		if t.id != "" {
			id := t.id
			t.mu.Unlock()
			return id, nil
		}
		if wait := t.inflight; wait != nil {
			t.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		done := make(chan struct{})
		t.inflight = done
		t.mu.Unlock()

		id, err := t.resolve(ctx)
		if err == nil && !isGUID(id) {
			err = fmt.Errorf("the source tenant's id %q is not a GUID", id)
		}
		t.mu.Lock()
		if err == nil {
			t.id = strings.ToLower(id)
		}
		t.inflight = nil
		t.mu.Unlock()
		close(done)
		if err != nil {
			return "", fmt.Errorf("learn the source tenant's id: %w", err)
		}
		return strings.ToLower(id), nil
	}
}

// known returns the id if it is known, for logs.
func (t *sourceTenant) known() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.id
}

// isGUID reports whether s is a GUID (8-4-4-4-12 hexadecimal digits), the
// form of tenant ids; a verified domain is not one.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if r != '-' {
				return false
			}
		case !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F'):
			return false
		}
	}
	return true
}
