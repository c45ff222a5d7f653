package entity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/internal/store"
)

// The conversions below leave out the key fields (they live in the key, see
// layout.go) and the ETag (each store keeps its own).

// FromWatermark returns the properties of w.
func FromWatermark(w store.Watermark) Entity {
	e := Entity{}
	e.SetString("DeltaLink", w.DeltaLink)
	e.SetTime("TakenAt", w.TakenAt)
	e.SetTime("FullSyncAt", w.FullSyncAt)
	return e
}

// ToWatermark reads a watermark's properties.
func ToWatermark(e Entity) (store.Watermark, error) {
	w := store.Watermark{DeltaLink: e.String("DeltaLink")}
	r := reader{e: e}
	w.TakenAt = r.time("TakenAt")
	w.FullSyncAt = r.time("FullSyncAt")
	return w, r.err
}

// FromLink returns the properties of l. It fails if an attribute value is
// not of a type directory.Attributes allows.
func FromLink(l store.Link) (Entity, error) {
	e := Entity{}
	e.SetString("TargetID", l.TargetID)
	e.SetString("SourceUPN", l.SourceUPN)
	e.SetString("Hash", l.Hash)
	e.SetString("State", string(l.State))
	e.SetString("LastError", l.LastError)
	e.SetTime("Created", l.Created)
	e.SetTime("Updated", l.Updated)
	e.SetTime("Restored", l.Restored)
	if l.Attributes != nil {
		s, err := encodeAttributes(l.Attributes)
		if err != nil {
			return nil, err
		}
		e.SetBlob("Attributes", s)
	}
	return e, nil
}

// ToLink reads a link's properties.
func ToLink(e Entity) (store.Link, error) {
	l := store.Link{
		TargetID:  e.String("TargetID"),
		SourceUPN: e.String("SourceUPN"),
		Hash:      e.String("Hash"),
		State:     store.LinkState(e.String("State")),
		LastError: e.String("LastError"),
	}
	r := reader{e: e}
	l.Created = r.time("Created")
	l.Updated = r.time("Updated")
	l.Restored = r.time("Restored")
	if s := e.Blob("Attributes"); s != "" {
		l.Attributes = r.attributes(s)
	}
	return l, r.err
}

// FromGroupLink returns the properties of l. Members go in a blob (a JSON
// list), which may span several properties: a large group's ids exceed
// one property's 64 KiB.
func FromGroupLink(l store.GroupLink) (Entity, error) {
	e := Entity{}
	e.SetString("TargetID", l.TargetID)
	e.SetString("SourceName", l.SourceName)
	e.SetString("SyncedAs", l.SyncedAs)
	e.SetBool("Adopted", l.Adopted)
	e.SetString("State", string(l.State))
	e.SetString("LastError", l.LastError)
	e.SetTime("Created", l.Created)
	e.SetTime("Updated", l.Updated)
	if l.Attributes != nil {
		s, err := encodeAttributes(l.Attributes)
		if err != nil {
			return nil, err
		}
		e.SetBlob("Attributes", s)
	}
	if len(l.Members) > 0 {
		b, err := json.Marshal(l.Members)
		if err != nil {
			return nil, fmt.Errorf("encode members: %w", err)
		}
		e.SetBlob("Members", string(b))
	}
	return e, nil
}

// ToGroupLink reads a group link's properties.
func ToGroupLink(e Entity) (store.GroupLink, error) {
	l := store.GroupLink{
		TargetID:   e.String("TargetID"),
		SourceName: e.String("SourceName"),
		SyncedAs:   e.String("SyncedAs"),
		Adopted:    e.Bool("Adopted"),
		State:      store.GroupLinkState(e.String("State")),
		LastError:  e.String("LastError"),
	}
	r := reader{e: e}
	l.Created = r.time("Created")
	l.Updated = r.time("Updated")
	if s := e.Blob("Attributes"); s != "" {
		l.Attributes = r.attributes(s)
	}
	if s := e.Blob("Members"); s != "" {
		if err := json.Unmarshal([]byte(s), &l.Members); err != nil {
			r.fail(fmt.Errorf("decode members: %w", err))
		}
	}
	return l, r.err
}

// FromSubscription returns the properties of s. The client state is kept:
// the webhook needs it to tell Graph's notifications from forgeries.
func FromSubscription(s store.Subscription) Entity {
	e := Entity{}
	e.SetString("Tenant", s.Tenant)
	e.SetString("Resource", s.Resource)
	e.SetTime("Expiry", s.Expiry)
	e.SetString("ClientStateID", s.ClientStateID)
	e.SetString("ClientState", s.ClientState)
	e.SetTime("Created", s.Created)
	return e
}

// ToSubscription reads a subscription's properties.
func ToSubscription(e Entity) (store.Subscription, error) {
	s := store.Subscription{
		Tenant:        e.String("Tenant"),
		Resource:      e.String("Resource"),
		ClientStateID: e.String("ClientStateID"),
		ClientState:   e.String("ClientState"),
	}
	r := reader{e: e}
	s.Expiry = r.time("Expiry")
	s.Created = r.time("Created")
	return s, r.err
}

// FromDeletion returns the properties of d.
func FromDeletion(d store.Deletion) Entity {
	e := Entity{}
	e.SetString("TargetID", d.TargetID)
	e.SetString("SourceUPN", d.SourceUPN)
	e.SetString("Action", d.Action)
	e.SetString("Reason", d.Reason)
	e.SetTime("StagedAt", d.StagedAt)
	e.SetTime("ExpiresAt", d.ExpiresAt)
	e.SetBool("Approved", d.Approved)
	return e
}

// ToDeletion reads a staged deletion's properties.
func ToDeletion(e Entity) (store.Deletion, error) {
	d := store.Deletion{
		TargetID:  e.String("TargetID"),
		SourceUPN: e.String("SourceUPN"),
		Action:    e.String("Action"),
		Reason:    e.String("Reason"),
		Approved:  e.Bool("Approved"),
	}
	r := reader{e: e}
	d.StagedAt = r.time("StagedAt")
	d.ExpiresAt = r.time("ExpiresAt")
	return d, r.err
}

// FromEvent returns the properties of ev.
func FromEvent(ev store.Event) (Entity, error) {
	e := Entity{}
	e.SetTime("Time", ev.Time)
	e.SetString("SourceID", ev.SourceID)
	e.SetString("TargetID", ev.TargetID)
	e.SetString("SourceUPN", ev.SourceUPN)
	e.SetString("Action", ev.Action)
	e.SetString("Result", ev.Result)
	e.SetString("Reason", ev.Reason)
	e.SetString("Changes", ev.Changes)
	e.SetString("Error", ev.Error)
	e.SetInt64("Latency", int64(ev.Latency))
	e.SetString("Trigger", ev.Trigger)
	if ev.RequestIDs != nil {
		b, err := json.Marshal(ev.RequestIDs)
		if err != nil {
			return nil, fmt.Errorf("encode request ids: %w", err)
		}
		e.SetBlob("RequestIDs", string(b))
	}
	return e, nil
}

// ToEvent reads an event's properties.
func ToEvent(e Entity) (store.Event, error) {
	ev := store.Event{
		SourceID:  e.String("SourceID"),
		TargetID:  e.String("TargetID"),
		SourceUPN: e.String("SourceUPN"),
		Action:    e.String("Action"),
		Result:    e.String("Result"),
		Reason:    e.String("Reason"),
		Changes:   e.String("Changes"),
		Error:     e.String("Error"),
		Trigger:   e.String("Trigger"),
	}
	r := reader{e: e}
	ev.Time = r.time("Time")
	ev.Latency = time.Duration(r.int64("Latency"))
	if s := e.Blob("RequestIDs"); s != "" {
		if err := json.Unmarshal([]byte(s), &ev.RequestIDs); err != nil {
			r.fail(fmt.Errorf("decode request ids: %w", err))
		}
	}
	return ev, r.err
}

// FromStatus returns the properties of s.
func FromStatus(s store.TargetStatus) (Entity, error) {
	e := Entity{}
	e.SetTime("QuarantinedUntil", s.QuarantinedUntil)
	e.SetString("QuarantineReason", s.QuarantineReason)
	e.SetInt64("Quarantines", int64(s.Quarantines))
	e.SetBool("FullPassNeeded", s.FullPassNeeded)
	e.SetTime("LastReconcile", s.LastReconcile)
	e.SetTime("LastFullReconcile", s.LastFullReconcile)
	if s.Counters != nil {
		b, err := json.Marshal(s.Counters)
		if err != nil {
			return nil, fmt.Errorf("encode counters: %w", err)
		}
		e.SetBlob("Counters", string(b))
	}
	return e, nil
}

// ToStatus reads a target status's properties.
func ToStatus(e Entity) (store.TargetStatus, error) {
	s := store.TargetStatus{QuarantineReason: e.String("QuarantineReason"), FullPassNeeded: e.Bool("FullPassNeeded")}
	r := reader{e: e}
	s.QuarantinedUntil = r.time("QuarantinedUntil")
	s.Quarantines = int(r.int64("Quarantines"))
	s.LastReconcile = r.time("LastReconcile")
	s.LastFullReconcile = r.time("LastFullReconcile")
	if b := e.Blob("Counters"); b != "" {
		if err := json.Unmarshal([]byte(b), &s.Counters); err != nil {
			r.fail(fmt.Errorf("decode counters: %w", err))
		}
	}
	return s, r.err
}

// FromGuard returns the properties of g. The pending and executed sets are
// JSON objects of source id to time, in blobs: a burst is cut off at the
// threshold, so they stay small, and a blob may span several properties.
func FromGuard(g store.Guard) (Entity, error) {
	e := Entity{}
	e.SetTime("HoldUntil", g.HoldUntil)
	for name, set := range map[string]map[string]time.Time{"Pending": g.Pending, "Executed": g.Executed} {
		if len(set) == 0 {
			continue
		}
		canon := make(map[string]time.Time, len(set))
		for id, t := range set {
			canon[id] = Time(t)
		}
		b, err := json.Marshal(canon)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", strings.ToLower(name), err)
		}
		e.SetBlob(name, string(b))
	}
	return e, nil
}

// ToGuard reads a deletion guard's properties.
func ToGuard(e Entity) (store.Guard, error) {
	r := reader{e: e}
	g := store.Guard{HoldUntil: r.time("HoldUntil")}
	for name, set := range map[string]*map[string]time.Time{"Pending": &g.Pending, "Executed": &g.Executed} {
		b := e.Blob(name)
		if b == "" {
			continue
		}
		if err := json.Unmarshal([]byte(b), set); err != nil {
			r.fail(fmt.Errorf("decode %s: %w", strings.ToLower(name), err))
			continue
		}
		for id, t := range *set {
			(*set)[id] = t.UTC()
		}
	}
	return g, r.err
}

// reader reads typed properties, keeping the first error.
type reader struct {
	e   Entity
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil && err != nil {
		r.err = err
	}
}

func (r *reader) time(name string) time.Time {
	t, err := r.e.Time(name)
	r.fail(err)
	return t
}

func (r *reader) int64(name string) int64 {
	n, err := r.e.Int64(name)
	r.fail(err)
	return n
}

func (r *reader) attributes(s string) map[string]any {
	attrs, err := decodeAttributes(s)
	r.fail(err)
	return attrs
}

// encodeAttributes writes attribute values (nil, string, bool, int64,
// []string, as directory.Attributes holds them) as a JSON object.
func encodeAttributes(attrs map[string]any) (string, error) {
	m := make(map[string]any, len(attrs))
	for n, v := range attrs {
		switch v := v.(type) {
		case nil, string, bool, int64, []string:
			m[n] = v
		case int:
			m[n] = int64(v)
		case int32:
			m[n] = int64(v)
		default:
			return "", fmt.Errorf("encode attribute %q: unsupported type %T (want string, bool, int64 or []string)", n, v)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode attributes: %w", err)
	}
	return string(b), nil
}

// decodeAttributes reads what encodeAttributes wrote, restoring int64 and
// []string.
func decodeAttributes(s string) (map[string]any, error) {
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("decode attributes: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("decode attributes: trailing data")
	}
	attrs := make(map[string]any, len(raw))
	for n, v := range raw {
		switch v := v.(type) {
		case json.Number:
			i, err := v.Int64()
			if err != nil {
				return nil, fmt.Errorf("decode attribute %q: %w", n, err)
			}
			attrs[n] = i
		case []any:
			list := make([]string, len(v))
			for i, item := range v {
				s, ok := item.(string)
				if !ok {
					return nil, fmt.Errorf("decode attribute %q: list item %T", n, item)
				}
				list[i] = s
			}
			attrs[n] = list
		case nil, string, bool:
			attrs[n] = v
		default:
			return nil, fmt.Errorf("decode attribute %q: unexpected %T", n, v)
		}
	}
	return attrs, nil
}
