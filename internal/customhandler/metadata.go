package customhandler

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// metadataString decodes a metadata value the host sends as a string. The
// host serialises strings and numbers to JSON before putting them into the
// payload, so "abc" arrives as "\"abc\"" and 1 as "1"; this undoes the second
// encoding and accepts the single one too. It returns "" for an absent or
// null value.
func metadataString(md map[string]json.RawMessage, key string) (string, error) {
	raw, ok := lookup(md, key)
	if !ok {
		return "", nil
	}
	s, err := unwrapString(raw)
	if err != nil {
		return "", &FieldError{Field: "Metadata." + key, Err: err}
	}
	return s, nil
}

// unwrapString decodes a JSON value that stands for a string, undoing a
// second JSON encoding where there is one.
func unwrapString(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", errors.New("empty value")
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
			var inner string
			if err := json.Unmarshal([]byte(s), &inner); err != nil {
				return "", fmt.Errorf("malformed JSON-encoded string %q: %w", clip(s), err)
			}
			return inner, nil
		}
		return s, nil
	case 'n':
		if string(raw) == "null" {
			return "", nil
		}
	case '{', '[':
		return "", fmt.Errorf("want a string, got %s", kind(raw))
	}
	// A number or boolean that a host sent without quoting it.
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	return string(raw), nil
}

// unwrapObject returns the JSON of a value the host may send as an object
// or, serialised once more, as a string holding the object.
func unwrapObject(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return raw, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	return bytes.TrimSpace([]byte(s)), nil
}

// clip shortens a value quoted in an error, which may be a whole message
// body.
func clip(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}

func kind(raw json.RawMessage) string {
	switch bytes.TrimSpace(raw)[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func metadataInt(md map[string]json.RawMessage, key string, bits int) (int64, error) {
	s, err := metadataString(md, key)
	if err != nil || s == "" {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		return 0, &FieldError{Field: "Metadata." + key, Err: err}
	}
	return n, nil
}

func metadataTime(md map[string]json.RawMessage, key string) (time.Time, error) {
	s, err := metadataString(md, key)
	if err != nil || s == "" {
		return time.Time{}, err
	}
	t, err := parseHostTime(s)
	if err != nil {
		return time.Time{}, &FieldError{Field: "Metadata." + key, Err: err}
	}
	return t, nil
}

// metadataObject decodes a metadata value the host sends as an object, such
// as ApplicationProperties. Numbers stay json.Number so that 64-bit integers
// survive.
func metadataObject(md map[string]json.RawMessage, key string) (map[string]any, error) {
	raw, ok := lookup(md, key)
	if !ok || isNull(raw) {
		return nil, nil
	}
	raw, err := unwrapObject(raw)
	if err != nil {
		return nil, &FieldError{Field: "Metadata." + key, Err: err}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, &FieldError{Field: "Metadata." + key, Err: err}
	}
	return m, nil
}

// hostTimeLayouts are the forms in which the host writes times: ISO 8601
// with a zone for DateTimeOffset values, and without one for DateTime values,
// which the Service Bus extension fills with UTC clock times.
var hostTimeLayouts = [...]string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
}

// parseHostTime parses a time as the host writes it and returns it in UTC.
// A time without a zone is UTC. The year-1 minimum ("0001-01-01T00:00:00", a
// timer that never ran) parses as the zero time.
func parseHostTime(s string) (time.Time, error) {
	var firstErr error
	for _, layout := range hostTimeLayouts {
		t, err := time.Parse(layout, s)
		if err == nil {
			if t.Equal(time.Time{}) {
				return time.Time{}, nil
			}
			return t.UTC(), nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return time.Time{}, firstErr
}

// formatDateTime writes t as the host writes a .NET DateTime of unspecified
// kind: no zone, whole seconds (the host round-trips it through
// DateTime.ToString, which drops the fraction).
func formatDateTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05")
}

// formatDateTimeOffset writes t as the host writes a .NET DateTimeOffset.
func formatDateTimeOffset(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00"
	}
	return t.Format("2006-01-02T15:04:05.9999999-07:00")
}

// newID returns a random GUID for invocation ids the host did not supply.
func newID() string {
	id, err := uuid.NewRandomFromReader(rand.Reader)
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(fmt.Sprintf("customhandler: random id: %v", err))
	}
	return id.String()
}
