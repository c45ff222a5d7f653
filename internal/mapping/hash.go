package mapping

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/tenantsync/tenantsync/internal/directory"
)

// hashVersion prefixes every digest, so that a change of encoding is seen as
// a change of every user rather than silently compared.
const hashVersion = "v1:"

// Hash returns a stable digest of mapped attribute values for the link row:
// equal attribute sets (by directory.Equal: nil, "" and an empty list are the
// same) give the same digest, whatever the map's order; values of different
// types ("true" and true, "1" and 1) give different digests. Callers that
// also write the manager put its resolved id into attrs under "manager"
// before hashing.
func Hash(attrs directory.Attributes) string {
	buf := make([]byte, 0, 64*len(attrs))
	for _, k := range attrs.Keys() {
		buf = appendField(buf, 'k', k)
		buf = appendValue(buf, attrs[k])
	}
	sum := sha256.Sum256(buf)
	return hashVersion + hex.EncodeToString(sum[:])
}

// appendField appends a tag and a length-prefixed string, so that no two
// different sequences of fields encode alike.
func appendField(buf []byte, tag byte, s string) []byte {
	buf = append(buf, tag)
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func appendValue(buf []byte, v any) []byte {
	if directory.IsEmpty(v) {
		return append(buf, 'n')
	}
	switch t := v.(type) {
	case string:
		return appendField(buf, 's', t)
	case bool:
		if t {
			return append(buf, 't')
		}
		return append(buf, 'f')
	case int64:
		return binary.BigEndian.AppendUint64(append(buf, 'i'), uint64(t))
	case []string:
		buf = binary.AppendUvarint(append(buf, 'l'), uint64(len(t)))
		for _, s := range t {
			buf = appendField(buf, 's', s)
		}
		return buf
	}
	return appendField(buf, 'x', fmt.Sprintf("%T:%v", v, v))
}

// Change is one attribute's old and new value.
type Change struct {
	Old any `json:"old"`
	New any `json:"new"`
}

// Changes are attribute-level changes by attribute name, as `plan` prints
// them and an update PATCHes them.
type Changes map[string]Change

// Diff returns the attributes of desired whose value differs from current,
// with old and new values. Nil, "" and an empty list are equal
// (directory.Equal); attributes only in current are not changes, as
// tenantsync does not manage them.
func Diff(current, desired directory.Attributes) Changes {
	c := Changes{}
	for k, v := range desired {
		if !directory.Equal(current[k], v) {
			c[k] = Change{Old: current[k], New: v}
		}
	}
	return c
}

// Keys returns the changed attribute names, sorted.
func (c Changes) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Patch returns the new values: the body of an update.
func (c Changes) Patch() directory.Attributes {
	p := make(directory.Attributes, len(c))
	for k, ch := range c {
		p[k] = ch.New
	}
	return p
}

// Redact returns a copy of c in which the values of the named attributes
// read "[Redact]", for logs and plans (see Result.Redacted).
func (c Changes) Redact(names []string) Changes {
	out := make(Changes, len(c))
	for k, ch := range c {
		for _, n := range names {
			if n == k {
				ch = Change{Old: "[Redact]", New: "[Redact]"}
				break
			}
		}
		out[k] = ch
	}
	return out
}
