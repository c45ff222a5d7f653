// Package changes is the wire format of a change message: the body of every
// message on the change queue, written by the producers (the webhook,
// reconciliation, ProcessChange's follow-ups) and read by ProcessChange.
//
// A message body is versioned JSON carrying the fields of engine.Change:
//
//	{"v":1,"kind":"user","id":"…","observed":"2026-01-02T03:04:05.123456789Z","cause":"notification"}
//
// "force" is added when true. Decoding rejects versions it does not know, so
// that an old consumer never half-understands a newer producer's message; it
// ignores fields it does not know within a known version, so that version 1
// can grow optional fields without a new version.
package changes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/queue"
)

// Version is the version of the format Encode writes.
const Version = 1

// ContentType is the content type of a change message body.
const ContentType = "application/json"

// MaxBodyBytes bounds a change message body Decode accepts; a real one is
// well under 300 bytes.
const MaxBodyBytes = 4 << 10

// ErrUnknownVersion is returned by Decode for a body of a version this
// build does not know.
var ErrUnknownVersion = errors.New("unknown change message version")

// ErrInvalid is returned by Decode for a body that is not a valid change
// message.
var ErrInvalid = errors.New("invalid change message")

// wire is the JSON form of version 1.
type wire struct {
	V        int         `json:"v"`
	Kind     engine.Kind `json:"kind"`
	ID       string      `json:"id"`
	Observed string      `json:"observed,omitempty"`
	Cause    string      `json:"cause,omitempty"`
	Force    bool        `json:"force,omitempty"`
}

// Encode returns the message body of c.
func Encode(c engine.Change) ([]byte, error) {
	if err := check(c); err != nil {
		return nil, fmt.Errorf("encode change: %w", err)
	}
	w := wire{V: Version, Kind: c.Kind, ID: c.ID, Cause: c.Cause, Force: c.Force}
	if !c.Observed.IsZero() {
		w.Observed = c.Observed.UTC().Format(time.RFC3339Nano)
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode change %s %s: %w", c.Kind, c.ID, err)
	}
	return b, nil
}

// Decode reads a message body written by Encode. It fails with an error
// wrapping ErrUnknownVersion for a version it does not know and ErrInvalid
// for anything else it cannot accept; neither is worth retrying.
func Decode(body []byte) (engine.Change, error) {
	if len(body) > MaxBodyBytes {
		return engine.Change{}, fmt.Errorf("decode change: %w: body of %d bytes exceeds %d", ErrInvalid, len(body), MaxBodyBytes)
	}
	// Read the version first, on its own, so that a future version with a
	// different shape is reported as such rather than as a type error.
	var head struct {
		V *json.RawMessage `json:"v"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return engine.Change{}, fmt.Errorf("decode change: %w: %v", ErrInvalid, err)
	}
	if head.V == nil {
		return engine.Change{}, fmt.Errorf("decode change: %w: no version field \"v\"", ErrUnknownVersion)
	}
	var v int
	if err := json.Unmarshal(*head.V, &v); err != nil {
		return engine.Change{}, fmt.Errorf("decode change: %w: version %s is not an integer", ErrUnknownVersion, bytes.TrimSpace(*head.V))
	}
	if v != Version {
		return engine.Change{}, fmt.Errorf("decode change: %w: version %d (this build reads version %d)", ErrUnknownVersion, v, Version)
	}
	var w wire
	if err := json.Unmarshal(body, &w); err != nil {
		return engine.Change{}, fmt.Errorf("decode change: %w: %v", ErrInvalid, err)
	}
	c := engine.Change{Kind: w.Kind, ID: w.ID, Cause: w.Cause, Force: w.Force}
	if w.Observed != "" {
		t, err := time.Parse(time.RFC3339Nano, w.Observed)
		if err != nil {
			return engine.Change{}, fmt.Errorf("decode change: %w: observed %q is not an RFC 3339 time", ErrInvalid, w.Observed)
		}
		c.Observed = t
	}
	if err := check(c); err != nil {
		return engine.Change{}, fmt.Errorf("decode change: %w", err)
	}
	return c, nil
}

// maxIDLen bounds an object id: Entra object ids are GUIDs (36 characters);
// the bound leaves room for other directories while keeping a session id
// within Service Bus's 128 characters.
const maxIDLen = 128

func check(c engine.Change) error {
	switch c.Kind {
	case engine.KindUser, engine.KindGroup:
	default:
		return fmt.Errorf("%w: kind %q is neither %q nor %q", ErrInvalid, c.Kind, engine.KindUser, engine.KindGroup)
	}
	if c.ID == "" {
		return fmt.Errorf("%w: empty object id", ErrInvalid)
	}
	if len(c.ID) > maxIDLen {
		return fmt.Errorf("%w: object id of %d bytes exceeds %d", ErrInvalid, len(c.ID), maxIDLen)
	}
	return nil
}

// Message returns the queue message for c: the encoded change as body and
// c.Session() as session id (the object id, so that changes to one object
// are handled one at a time and in order; one session for the changes that
// catch up the groups delta). The message id is left empty for the queue to
// choose a new one: two notifications about one object are two messages.
func Message(c engine.Change) (queue.Message, error) {
	body, err := Encode(c)
	if err != nil {
		return queue.Message{}, err
	}
	return queue.Message{SessionID: c.Session(), Body: body, ContentType: ContentType}, nil
}

// Messages returns the queue messages for cs, in order.
func Messages(cs []engine.Change) ([]queue.Message, error) {
	msgs := make([]queue.Message, 0, len(cs))
	for _, c := range cs {
		m, err := Message(c)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}
