// Package directory holds the directory objects tenantsync moves between
// tenants (users and groups as attribute bags), the changes a delta query
// reports, and the error kinds every directory adapter maps its failures to.
//
// It is the vocabulary shared by the domain (engine, scope, mapping) and the
// adapters (the Graph client); it imports nothing from Azure.
package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Attributes are a user's properties keyed by their Microsoft Graph name.
// Properties of complex types are flattened with a dot, as in
// "onPremisesExtensionAttributes.extensionAttribute15". Values are nil (unset),
// string, bool, int64 or []string; adapters normalise to these types so that
// values compare with Equal.
type Attributes map[string]any

// Clone returns a deep copy of a.
func (a Attributes) Clone() Attributes {
	if a == nil {
		return nil
	}
	c := make(Attributes, len(a))
	for k, v := range a {
		if s, ok := v.([]string); ok {
			v = append([]string(nil), s...)
		}
		c[k] = v
	}
	return c
}

// String returns the attribute as a string and whether it is a non-empty string.
func (a Attributes) String(name string) (string, bool) {
	s, ok := a[name].(string)
	return s, ok && s != ""
}

// Bool returns the attribute as a bool and whether it is set to a bool.
func (a Attributes) Bool(name string) (value, ok bool) {
	value, ok = a[name].(bool)
	return value, ok
}

// Keys returns the attribute names in sorted order.
func (a Attributes) Keys() []string {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Equal reports whether two attribute values are the same. Nil, an empty
// string and an empty list are equal, as Graph does not distinguish them.
func Equal(x, y any) bool {
	if IsEmpty(x) || IsEmpty(y) {
		return IsEmpty(x) && IsEmpty(y)
	}
	switch xv := x.(type) {
	case []string:
		yv, ok := y.([]string)
		if !ok || len(xv) != len(yv) {
			return false
		}
		for i := range xv {
			if xv[i] != yv[i] {
				return false
			}
		}
		return true
	default:
		return x == y
	}
}

// IsEmpty reports whether v is nil, an empty string or an empty list.
func IsEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case []string:
		return len(t) == 0
	}
	return false
}

// Format renders an attribute value for people, as plans, reports and logs
// show it: ∅ for nothing, lists in brackets.
func Format(v any) string {
	switch t := v.(type) {
	case nil:
		return "∅"
	case string:
		if t == "" {
			return "∅"
		}
		return t
	case []string:
		return "[" + strings.Join(t, ", ") + "]"
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = fmt.Sprint(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v)
}

// User is a user object as read from a tenant.
type User struct {
	ID    string
	Attrs Attributes
	// Deleted is true for a soft-deleted user read from deleted items.
	Deleted bool
}

// UPN returns the user's userPrincipalName, if it was selected.
func (u User) UPN() string {
	s, _ := u.Attrs.String("userPrincipalName")
	return s
}

// Identity is one of the identities a user signs in with (Graph's
// objectIdentity). For a B2B user who redeemed an invitation, Issuer says
// with what: the domain of their Microsoft Entra organization, or the
// provider of a personal account or a one-time passcode.
type Identity struct {
	SignInType       string `json:"signInType"`
	Issuer           string `json:"issuer"`
	IssuerAssignedID string `json:"issuerAssignedId"`
}

// Identities returns the user's identities, if "identities" was selected.
// Graph adapters keep each identity as its JSON object text; one that does
// not parse is left out.
func (u User) Identities() []Identity {
	var out []Identity
	list, _ := u.Attrs["identities"].([]string)
	for _, s := range list {
		var id Identity
		if json.Unmarshal([]byte(s), &id) == nil {
			out = append(out, id)
		}
	}
	return out
}

// Group is a group object. Attrs holds the other properties read or to
// write (description, mailNickname, the anchor attribute), in Graph's JSON
// names, as User.Attrs does.
type Group struct {
	ID          string
	DisplayName string
	Attrs       Attributes
}

// Removal says why a delta query reports an object as removed.
type Removal string

const (
	// NotRemoved is the zero value: the object was created, changed or restored.
	NotRemoved Removal = ""
	// RemovedChanged means soft deleted: restorable for 30 days.
	RemovedChanged Removal = "changed"
	// RemovedDeleted means permanently deleted.
	RemovedDeleted Removal = "deleted"
)

// UserDelta is one user reported by a users delta query.
type UserDelta struct {
	User    User
	Removed Removal
}

// GroupDelta is one group reported by a groups delta query. A large group
// may appear on several pages, each with a slice of its member changes.
type GroupDelta struct {
	Group   Group
	Removed Removal
	// MembersAdded and MembersRemoved are the user members that changed.
	MembersAdded   []string
	MembersRemoved []string
	// GroupsAdded and GroupsRemoved are the group members (nested groups)
	// that changed.
	GroupsAdded   []string
	GroupsRemoved []string
}

// GroupsChanged returns the nested groups added or removed.
func (g GroupDelta) GroupsChanged() []string {
	return append(append([]string(nil), g.GroupsAdded...), g.GroupsRemoved...)
}

// Request is one HTTP request an adapter made to a directory, as recorded by
// a Trace.
type Request struct {
	Method    string
	Path      string
	Status    int
	RequestID string
}

// Trace collects the directory requests made on behalf of one operation, so
// that a provisioning result can name the Graph request ids behind it. It is
// safe for concurrent use.
type Trace struct {
	mu       sync.Mutex
	requests []Request
}

// Add records a request.
func (t *Trace) Add(r Request) {
	t.mu.Lock()
	t.requests = append(t.requests, r)
	t.mu.Unlock()
}

// Requests returns the requests recorded so far.
func (t *Trace) Requests() []Request {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Request(nil), t.requests...)
}

type traceKey struct{}

// WithTrace returns a context whose directory requests are recorded in t.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// TraceFrom returns the trace attached to ctx, or nil.
func TraceFrom(ctx context.Context) *Trace {
	t, _ := ctx.Value(traceKey{}).(*Trace)
	return t
}

// LatestDelta, passed as the link of a delta query, asks for a delta link
// that reports changes from now on, without returning any objects
// ($deltatoken=latest).
const LatestDelta = "latest"

// Members are the members of a group, split by object type.
type Members struct {
	Users  []string
	Groups []string
}
