package graphsim

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"time"
	"unicode/utf8"
)

// The simulator writes its hot responses (users, pages, delta) by appending
// to a byte slice instead of going through encoding/json: a GET of one user
// is then a map lookup and a few hundred bytes of appends.

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendKey appends "key": after a comma when the object already has members.
func appendKey(b []byte, first *bool, key string) []byte {
	if !*first {
		b = append(b, ',')
	}
	*first = false
	b = appendJSONString(b, key)
	return append(b, ':')
}

// appendStrings appends a JSON array of strings.
func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendAny appends v, one of the simulator's stored value types, as JSON.
func appendAny(b []byte, v any) []byte {
	switch t := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendJSONString(b, t)
	case bool:
		return strconv.AppendBool(b, t)
	case []string:
		return appendStrings(b, t)
	case json.RawMessage:
		return append(b, t...)
	case *extAttrs:
		return appendExtAttrs(b, t)
	case int:
		return strconv.AppendInt(b, int64(t), 10)
	case int64:
		return strconv.AppendInt(b, t, 10)
	default:
		raw, err := json.Marshal(t)
		if err != nil {
			return append(b, "null"...)
		}
		return append(b, raw...)
	}
}

// appendExtAttrs writes onPremisesExtensionAttributes with all fifteen
// members, null where unset, as Graph does.
func appendExtAttrs(b []byte, e *extAttrs) []byte {
	b = append(b, '{')
	for i := 0; i < numExtAttrs; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `"extensionAttribute`...)
		b = strconv.AppendInt(b, int64(i+1), 10)
		b = append(b, `":`...)
		if e == nil || e[i] == nil {
			b = append(b, "null"...)
		} else {
			b = appendJSONString(b, *e[i])
		}
	}
	return append(b, '}')
}

// newGUID returns a random version 4 GUID in lower case. Object ids need to
// be unique, not unpredictable, so the fast non-cryptographic generator is
// enough.
func newGUID() string {
	var u [16]byte
	hi, lo := rand.Uint64(), rand.Uint64()
	for i := 0; i < 8; i++ {
		u[i] = byte(hi >> (56 - 8*i))
		u[8+i] = byte(lo >> (56 - 8*i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return formatGUID(u)
}

func formatGUID(u [16]byte) string {
	var s [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j] = hexDigits[c>>4]
		s[j+1] = hexDigits[c&0xf]
		j += 2
	}
	return string(s[:])
}

// isGUID reports whether s has the 8-4-4-4-12 hex form of an object id.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// graphTime formats t as Graph writes directory timestamps.
func graphTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// graphTimePrecise formats t with the 7 fractional digits Graph uses for
// subscriptions.
func graphTimePrecise(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.0000000Z")
}
