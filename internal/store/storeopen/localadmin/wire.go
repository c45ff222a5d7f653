package localadmin

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"time"

	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/internal/entity"
)

// The store travels as gob frames of the stores' own entities (package
// entity): both stores keep exactly these, so a record comes back through
// the endpoint as it would from the store itself (nil and empty
// collections, int64 and []string attributes, times in UTC at 100 ns), and
// gob carries strings as bytes, so keys that are not UTF-8 keep every byte
// while values that are not reach the store and are refused there as they
// would be locally. Only the key fields and the ETag, which the entity
// conversions leave out, are carried beside the entity.

func init() {
	// Entity values are string, bool, int32, int64 or time.Time; gob knows
	// the first four in an interface, time.Time must be registered.
	gob.Register(time.Time{})
}

// op names a store.Store method on the wire.
type op string

const (
	opGetWatermark       op = "GetWatermark"
	opPutWatermark       op = "PutWatermark"
	opDeleteWatermark    op = "DeleteWatermark"
	opGetLink            op = "GetLink"
	opGetLinkByTargetID  op = "GetLinkByTargetID"
	opPutLink            op = "PutLink"
	opDeleteLink         op = "DeleteLink"
	opListLinks          op = "ListLinks"
	opGetLinks           op = "GetLinks"
	opLinkCounts         op = "LinkCounts"
	opGetSubscription    op = "GetSubscription"
	opPutSubscription    op = "PutSubscription"
	opDeleteSubscription op = "DeleteSubscription"
	opListSubscriptions  op = "ListSubscriptions"
	opGetDeletion        op = "GetDeletion"
	opPutDeletion        op = "PutDeletion"
	opDeleteDeletion     op = "DeleteDeletion"
	opListDeletions      op = "ListDeletions"
	opAppendEvent        op = "AppendEvent"
	opListEvents         op = "ListEvents"
	opPruneEvents        op = "PruneEvents"
	opGetStatus          op = "GetStatus"
	opPutStatus          op = "PutStatus"
	opGetGuard           op = "GetGuard"
	opPutGuard           op = "PutGuard"
	opGetGroupLink       op = "GetGroupLink"
	opPutGroupLink       op = "PutGroupLink"
	opDeleteGroupLink    op = "DeleteGroupLink"
	opListGroupLinks     op = "ListGroupLinks"
)

// request is one store call.
type request struct {
	Op op
	// Args are the method's string arguments (tenant and resource, target
	// and source id, …), in the method's order.
	Args []string
	// Record is the record a Put, Delete or AppendEvent passes.
	Record *record
	// ListEvents' options and PruneEvents' bound.
	Limit  int
	Page   string
	Before time.Time
}

// response is one frame of an answer. A call answers with one frame, except
// ListLinks: one frame per link with More set, then a last frame.
type response struct {
	Err     *wireError
	More    bool
	ETag    string
	Record  *record
	Records []record
	Next    string
	Count   int
	// Counts answers LinkCounts.
	Counts *store.LinkCounts
}

// record is a store record as its entity, with what the entity leaves out.
type record struct {
	// Keys are the record's key fields, in the order of its codec.
	Keys  []string
	ETag  string
	Props entity.Entity
}

// wireError is an error of the store, with the sentinel errors it wraps so
// that errors.Is keeps working on the client.
type wireError struct {
	Msg   string
	Kinds []string
}

// kinds are the sentinel errors that survive the trip.
var kinds = []struct {
	name string
	err  error
}{
	{"notfound", store.ErrNotFound},
	{"conflict", store.ErrConflict},
	{"toolarge", store.ErrTooLarge},
	{"canceled", context.Canceled},
	{"deadline", context.DeadlineExceeded},
}

func errorToWire(err error) *wireError {
	if err == nil {
		return nil
	}
	w := &wireError{Msg: err.Error()}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			w.Kinds = append(w.Kinds, k.name)
		}
	}
	return w
}

// remoteError is a store error that happened in the running local.
type remoteError struct {
	msg  string
	errs []error
}

func (e *remoteError) Error() string   { return e.msg }
func (e *remoteError) Unwrap() []error { return e.errs }

func (w *wireError) err() error {
	if w == nil {
		return nil
	}
	e := &remoteError{msg: w.Msg}
	for _, name := range w.Kinds {
		for _, k := range kinds {
			if k.name == name {
				e.errs = append(e.errs, k.err)
			}
		}
	}
	return e
}

// codec converts one record kind to and from its wire form.
type codec[R any] struct {
	name string
	keys func(R) []string
	// setKeys sets the key fields and the ETag.
	setKeys func(r *R, keys []string, etag string)
	etag    func(R) string
	from    func(R) (entity.Entity, error)
	to      func(entity.Entity) (R, error)
}

func (c codec[R]) encode(r R) (*record, error) {
	e, err := c.from(r)
	if err != nil {
		return nil, err
	}
	return &record{Keys: c.keys(r), ETag: c.etag(r), Props: e}, nil
}

func (c codec[R]) decode(w *record, nkeys int) (R, error) {
	var zero R
	if w == nil {
		return zero, fmt.Errorf("decode %s: no record", c.name)
	}
	if len(w.Keys) != nkeys {
		return zero, fmt.Errorf("decode %s: %d key fields, want %d", c.name, len(w.Keys), nkeys)
	}
	r, err := c.to(w.Props)
	if err != nil {
		return zero, fmt.Errorf("decode %s: %w", c.name, err)
	}
	c.setKeys(&r, w.Keys, w.ETag)
	return r, nil
}

func noErr[R any](f func(R) entity.Entity) func(R) (entity.Entity, error) {
	return func(r R) (entity.Entity, error) { return f(r), nil }
}

var watermarkCodec = codec[store.Watermark]{
	name: "watermark",
	keys: func(w store.Watermark) []string { return []string{w.Tenant, w.Resource} },
	setKeys: func(w *store.Watermark, k []string, etag string) {
		w.Tenant, w.Resource, w.ETag = k[0], k[1], etag
	},
	etag: func(w store.Watermark) string { return w.ETag },
	from: noErr(entity.FromWatermark),
	to:   entity.ToWatermark,
}

var linkCodec = codec[store.Link]{
	name:    "link",
	keys:    func(l store.Link) []string { return []string{l.Target, l.SourceID} },
	setKeys: func(l *store.Link, k []string, etag string) { l.Target, l.SourceID, l.ETag = k[0], k[1], etag },
	etag:    func(l store.Link) string { return l.ETag },
	from:    entity.FromLink,
	to:      entity.ToLink,
}

var subscriptionCodec = codec[store.Subscription]{
	name:    "subscription",
	keys:    func(s store.Subscription) []string { return []string{s.ID} },
	setKeys: func(s *store.Subscription, k []string, etag string) { s.ID, s.ETag = k[0], etag },
	etag:    func(s store.Subscription) string { return s.ETag },
	from:    noErr(entity.FromSubscription),
	to:      entity.ToSubscription,
}

var deletionCodec = codec[store.Deletion]{
	name:    "deletion",
	keys:    func(d store.Deletion) []string { return []string{d.Target, d.SourceID} },
	setKeys: func(d *store.Deletion, k []string, etag string) { d.Target, d.SourceID, d.ETag = k[0], k[1], etag },
	etag:    func(d store.Deletion) string { return d.ETag },
	from:    noErr(entity.FromDeletion),
	to:      entity.ToDeletion,
}

var statusCodec = codec[store.TargetStatus]{
	name:    "status",
	keys:    func(s store.TargetStatus) []string { return []string{s.Target} },
	setKeys: func(s *store.TargetStatus, k []string, etag string) { s.Target, s.ETag = k[0], etag },
	etag:    func(s store.TargetStatus) string { return s.ETag },
	from:    entity.FromStatus,
	to:      entity.ToStatus,
}

var guardCodec = codec[store.Guard]{
	name:    "deletion guard",
	keys:    func(g store.Guard) []string { return []string{g.Target} },
	setKeys: func(g *store.Guard, k []string, etag string) { g.Target, g.ETag = k[0], etag },
	etag:    func(g store.Guard) string { return g.ETag },
	from:    entity.FromGuard,
	to:      entity.ToGuard,
}

var groupLinkCodec = codec[store.GroupLink]{
	name:    "group link",
	keys:    func(l store.GroupLink) []string { return []string{l.Target, l.SourceID} },
	setKeys: func(l *store.GroupLink, k []string, etag string) { l.Target, l.SourceID, l.ETag = k[0], k[1], etag },
	etag:    func(l store.GroupLink) string { return l.ETag },
	from:    entity.FromGroupLink,
	to:      entity.ToGroupLink,
}

// eventCodec: an event without a time travels without one, so that the
// store in the running local stamps it, as it would locally.
var eventCodec = codec[store.Event]{
	name:    "event",
	keys:    func(e store.Event) []string { return []string{e.Target} },
	setKeys: func(e *store.Event, k []string, _ string) { e.Target = k[0] },
	etag:    func(store.Event) string { return "" },
	from:    entity.FromEvent,
	to:      entity.ToEvent,
}
