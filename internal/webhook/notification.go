package webhook

import (
	"context"
	"strings"

	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/store"
)

// A notification, and what is checked of it before anything is enqueued:
// its subscription's clientState, its tenant, and the object it names.

// notification is one element of a notification POST's value array; only
// the fields tenantsync reads.
type notification struct {
	SubscriptionID string `json:"subscriptionId"`
	ClientState    string `json:"clientState"`
	ChangeType     string `json:"changeType"`
	Resource       string `json:"resource"`
	ResourceData   *struct {
		ODataType string `json:"@odata.type"`
		ID        string `json:"id"`
	} `json:"resourceData"`
	TenantID       string `json:"tenantId"`
	LifecycleEvent string `json:"lifecycleEvent"`
}

// collection is the body of a notification POST.
type collection struct {
	Value *[]notification `json:"value"`
}

// verify checks n's clientState against its subscription's secret. It
// returns the subscription and a drop reason, or an error when the store
// failed.
func (h *Handler) verify(ctx context.Context, n notification) (subscription, string, error) {
	if !isGUID(n.SubscriptionID) {
		// Graph's subscription ids are GUIDs: anything else is dropped
		// before a lookup, and never logged in full.
		return subscription{}, DropMalformed, nil
	}
	sub, found, err := h.secrets.get(ctx, n.SubscriptionID)
	if err != nil {
		return subscription{}, "", err
	}
	if !found {
		return subscription{}, DropUnknownSubscription, nil
	}
	// A subscription without a secret would accept anything: never.
	if !store.ClientStateMatches(sub.secret, n.ClientState) {
		return subscription{}, DropClientState, nil
	}
	return sub, "", nil
}

// fromSource checks that an authentic notification comes from the source
// tenant. It returns a drop reason, or an error when the source tenant's
// id could not be learnt.
func (h *Handler) fromSource(ctx context.Context, n notification) (string, error) {
	want, err := h.tenant.get(ctx)
	if err != nil {
		return "", err
	}
	if !strings.EqualFold(strings.TrimSpace(n.TenantID), want) {
		return DropTenant, nil
	}
	return "", nil
}

func (h *Handler) drop(n notification, reason string) {
	switch reason {
	case DropUnknownSubscription:
		h.c.droppedUnknown.Add(1)
	case DropClientState:
		h.c.droppedClientState.Add(1)
	case DropTenant:
		h.c.droppedTenant.Add(1)
	case DropResource:
		h.c.droppedResource.Add(1)
	default:
		h.c.droppedMalformed.Add(1)
	}
	// Never the clientState: a mismatch may be a probe with a guess. The
	// tenant ids are not secret, and say where a stray notification came
	// from.
	attrs := []any{"reason", reason, "subscription", truncate(n.SubscriptionID, 64),
		"resource", truncate(n.Resource, 200), "lifecycleEvent", truncate(n.LifecycleEvent, 64)}
	if reason == DropTenant {
		attrs = append(attrs, "tenantId", truncate(n.TenantID, 64), "sourceTenantId", h.tenant.known())
	}
	h.log.Warn("change notification dropped", attrs...)
}

// changeOf reads the object a change notification is about, from
// resourceData (@odata.type and id) and resource ("Users/{id}",
// "Groups/{id}"), which must agree where both are present.
func changeOf(n notification) (engine.Change, bool) {
	var kind engine.Kind
	var id string
	if rk, rid, ok := parseResource(n.Resource); ok {
		kind, id = rk, rid
	} else if n.Resource != "" {
		return engine.Change{}, false
	}
	if d := n.ResourceData; d != nil {
		if d.ODataType != "" {
			k, ok := kindOfType(d.ODataType)
			if !ok || kind != "" && k != kind {
				return engine.Change{}, false
			}
			kind = k
		}
		if d.ID != "" {
			if id != "" && !strings.EqualFold(d.ID, id) {
				return engine.Change{}, false
			}
			id = d.ID
		}
	}
	if kind == "" || !validID(id) {
		return engine.Change{}, false
	}
	return engine.Change{Kind: kind, ID: strings.ToLower(id)}, true
}

// parseResource reads "Users/{id}" or "Groups/{id}" (any case, an optional
// leading slash).
func parseResource(resource string) (engine.Kind, string, bool) {
	coll, id, ok := strings.Cut(strings.TrimPrefix(resource, "/"), "/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", "", false
	}
	switch strings.ToLower(coll) {
	case "users":
		return engine.KindUser, id, true
	case "groups":
		return engine.KindGroup, id, true
	}
	return "", "", false
}

// kindOfType reads "#Microsoft.Graph.User" or "#microsoft.graph.group".
func kindOfType(t string) (engine.Kind, bool) {
	switch strings.ToLower(strings.TrimPrefix(t, "#")) {
	case "microsoft.graph.user":
		return engine.KindUser, true
	case "microsoft.graph.group":
		return engine.KindGroup, true
	}
	return "", false
}

// validID accepts directory object ids: GUIDs, or at least nothing but
// letters, digits and hyphens, as the id becomes a queue session id.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
