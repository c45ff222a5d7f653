// Package entity is the one place that decides how store records are laid
// out as Table Storage entities: the tables, the key encoding, the
// conversion of each record to typed properties and back, and the service's
// size limits. The Table Storage store sends these entities to the service;
// the embedded store keeps the very same entities, under the same keys, in
// bbolt. Both therefore order, limit and round-trip values alike.
package entity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/tenantsync/tenantsync/internal/store"
)

// Size limits of Table Storage.
const (
	// MaxStringBytes is the largest string property, in UTF-16 bytes.
	MaxStringBytes = 64 << 10
	// MaxEntityBytes is the largest entity, as the service counts it.
	MaxEntityBytes = 1 << 20
	// MaxProperties is the number of properties an entity may have besides
	// PartitionKey, RowKey and Timestamp.
	MaxProperties = 252
)

// TimeResolution is the precision of a stored time: Table Storage keeps
// DateTime values in ticks of 100 ns.
const TimeResolution = 100 * time.Nanosecond

// Time returns t as the stores keep it: UTC, in ticks of 100 ns, without a
// monotonic reading.
func Time(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(TimeResolution)
}

// Entity is a record as Table Storage properties. Values are string, bool,
// int32, int64 or time.Time; zero values are left out when the entity is
// built, and read back as zero.
type Entity map[string]any

// SetString sets a string property unless v is empty.
func (e Entity) SetString(name, v string) {
	if v != "" {
		e[name] = v
	}
}

// SetTime sets a DateTime property unless t is zero.
func (e Entity) SetTime(name string, t time.Time) {
	if !t.IsZero() {
		e[name] = Time(t)
	}
}

// SetInt64 sets an Int64 property unless v is 0.
func (e Entity) SetInt64(name string, v int64) {
	if v != 0 {
		e[name] = v
	}
}

// SetBool sets a Boolean property unless v is false.
func (e Entity) SetBool(name string, v bool) {
	if v {
		e[name] = true
	}
}

// String returns a string property, "" if absent.
func (e Entity) String(name string) string {
	s, _ := e[name].(string)
	return s
}

// Time returns a DateTime property, zero if absent.
func (e Entity) Time(name string) (time.Time, error) {
	switch v := e[name].(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return v, nil
	case string:
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, fmt.Errorf("property %s: %w", name, err)
		}
		return t.UTC(), nil
	default:
		return time.Time{}, fmt.Errorf("property %s: %T is not a time", name, v)
	}
}

// Int64 returns an integer property, 0 if absent.
func (e Entity) Int64(name string) (int64, error) {
	switch v := e[name].(type) {
	case nil:
		return 0, nil
	case int64:
		return v, nil
	case int32:
		return int64(v), nil
	case json.Number:
		return v.Int64()
	case string:
		return strconv.ParseInt(v, 10, 64)
	default:
		return 0, fmt.Errorf("property %s: %T is not an integer", name, v)
	}
}

// Bool returns a Boolean property, false if absent.
func (e Entity) Bool(name string) bool {
	b, _ := e[name].(bool)
	return b
}

// Blobs: a JSON document kept in string properties name, name2, name3, …,
// each within MaxStringBytes, so that collections (attributes, counters) are
// bounded by the entity size rather than by one property.

// maxChunkUnits is the number of UTF-16 code units a chunk may hold.
const maxChunkUnits = MaxStringBytes / 2

// SetBlob stores s, which may be longer than one string property allows.
func (e Entity) SetBlob(name, s string) {
	for i := 1; s != ""; i++ {
		n, units := 0, 0
		for n < len(s) {
			r, size := utf8.DecodeRuneInString(s[n:])
			u := utf16.RuneLen(r)
			if u < 0 { // invalid UTF-8 becomes U+FFFD: one unit
				u = 1
			}
			if units+u > maxChunkUnits {
				break
			}
			units += u
			n += size
		}
		e[chunkName(name, i)] = s[:n]
		s = s[n:]
	}
}

// Blob returns what SetBlob stored, "" if absent.
func (e Entity) Blob(name string) string {
	var b strings.Builder
	for i := 1; ; i++ {
		s, ok := e[chunkName(name, i)].(string)
		if !ok {
			return b.String()
		}
		b.WriteString(s)
	}
}

func chunkName(name string, i int) string {
	if i == 1 {
		return name
	}
	return name + strconv.Itoa(i)
}

// Check reports, as an error wrapping store.ErrTooLarge, whether the entity
// with its keys exceeds a Table Storage limit, and refuses string values
// that are not UTF-8 (keys may hold any bytes: they are encoded). It counts as the service
// does: strings in UTF-16, an entity as 4 bytes plus its keys plus, per
// property, 8 bytes, its name and its value.
func (e Entity) Check(k Key) error {
	if len(e) > MaxProperties {
		return fmt.Errorf("%d properties, more than %d: %w", len(e), MaxProperties, store.ErrTooLarge)
	}
	size := 4 + 2*(utf16Len(k.PK)+utf16Len(k.RK))
	for _, name := range e.names() {
		size += 8 + 2*utf16Len(name)
		switch v := e[name].(type) {
		case string:
			if !utf8.ValidString(v) {
				// JSON would turn the bad bytes into U+FFFD: refuse rather
				// than store something else.
				return fmt.Errorf("property %s is not valid UTF-8", name)
			}
			n := 2 * utf16Len(v)
			if n > MaxStringBytes {
				return fmt.Errorf("property %s is %d bytes, more than %d: %w", name, n, MaxStringBytes, store.ErrTooLarge)
			}
			size += 4 + n
		case time.Time, int64:
			size += 8
		case int32:
			size += 4
		case bool:
			size++
		}
	}
	if size > MaxEntityBytes {
		return fmt.Errorf("entity is %d bytes, more than %d: %w", size, MaxEntityBytes, store.ErrTooLarge)
	}
	return nil
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func (e Entity) names() []string {
	names := make([]string, 0, len(e))
	for n := range e {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// OData type annotations.
const (
	annotation   = "@odata.type"
	edmInt64     = "Edm.Int64"
	edmDateTime  = "Edm.DateTime"
	dateTimeWire = "2006-01-02T15:04:05.0000000Z"
)

// JSON encodes the entity as the Table service's JSON, with the type
// annotations that Int64 and DateTime values need. The keys are added when
// k is not zero.
func (e Entity) JSON(k Key) ([]byte, error) {
	m := make(map[string]any, len(e)*2+2)
	if k != (Key{}) {
		m["PartitionKey"] = k.PK
		m["RowKey"] = k.RK
	}
	for name, v := range e {
		switch v := v.(type) {
		case int64:
			m[name] = strconv.FormatInt(v, 10)
			m[name+annotation] = edmInt64
		case time.Time:
			m[name] = v.UTC().Format(dateTimeWire)
			m[name+annotation] = edmDateTime
		case string, bool, int32:
			m[name] = v
		default:
			return nil, fmt.Errorf("entity property %s: unsupported type %T", name, v)
		}
	}
	return json.Marshal(m)
}

// Parsed is an entity read back, with its keys and ETag when the source
// carried them.
type Parsed struct {
	Entity Entity
	Key    Key
	ETag   string
}

// Parse decodes the Table service's JSON (any metadata level) into typed
// properties, dropping the system and OData ones.
func Parse(data []byte) (Parsed, error) {
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return Parsed{}, fmt.Errorf("decode entity: %w", err)
	}
	p := Parsed{Entity: make(Entity, len(raw))}
	p.Key.PK, _ = raw["PartitionKey"].(string)
	p.Key.RK, _ = raw["RowKey"].(string)
	p.ETag, _ = raw["odata.etag"].(string)
	for name, v := range raw {
		switch {
		case name == "PartitionKey", name == "RowKey", name == "Timestamp",
			strings.HasPrefix(name, "odata."), strings.HasSuffix(name, annotation):
			continue
		}
		typ, _ := raw[name+annotation].(string)
		switch typ {
		case edmInt64:
			s, _ := v.(string)
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return Parsed{}, fmt.Errorf("decode entity property %s: %w", name, err)
			}
			p.Entity[name] = n
		case edmDateTime:
			s, _ := v.(string)
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return Parsed{}, fmt.Errorf("decode entity property %s: %w", name, err)
			}
			p.Entity[name] = t.UTC()
		default:
			if n, ok := v.(json.Number); ok {
				i, err := strconv.ParseInt(string(n), 10, 32)
				if err != nil {
					return Parsed{}, fmt.Errorf("decode entity property %s: %w", name, err)
				}
				v = int32(i)
			}
			p.Entity[name] = v
		}
	}
	return p, nil
}
