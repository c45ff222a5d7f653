package entity

import (
	"fmt"
	"strings"

	"github.com/tenantsync/tenantsync/internal/store"
)

// MaxKeyPart is the longest an encoded key part (an object id, a target
// name, a tenant domain) may be. Table Storage allows 1 KiB of UTF-16 per
// PartitionKey and RowKey, 512 characters; the longest row key joins two
// parts and two marker characters, so each part gets 255.
const MaxKeyPart = 255

// Key encoding.
//
// Table Storage forbids / \ # ? and control characters in keys and compares
// keys as strings; bbolt compares bytes. EncodeKey maps any byte string to
// printable ASCII such that
//
//   - letters, digits and - . _ @ stay as they are, so object ids, UPNs and
//     domains read the same in Storage Explorer;
//   - every other byte b becomes three characters after a lead character:
//     P(b) '~' HEX(b), where P(b) is the largest kept character below b ('!'
//     if there is none). No kept character is '~', '!' or above 'z', so the
//     encoding is unambiguous;
//   - the encoding preserves order: a < b as byte strings exactly when
//     EncodeKey(a) < EncodeKey(b). A byte that sorts between two kept
//     characters encodes as its lower neighbour followed by '~', which sorts
//     after anything else that follows that neighbour;
//   - the empty string encodes as "!", since empty keys are best avoided.
//
// Because the output is ASCII, UTF-16 order (Table Storage) and byte order
// (bbolt) agree, so both stores list in the same order.

// keep reports whether a byte stays as it is.
var keep = func() (k [256]bool) {
	for c := '0'; c <= '9'; c++ {
		k[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		k[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		k[c] = true
	}
	for _, c := range "-._@" {
		k[c] = true
	}
	return k
}()

// lead is P(b) for every escaped byte: the largest kept byte below it, or '!'.
var lead = func() (l [256]byte) {
	prev := byte('!')
	for b := 0; b < 256; b++ {
		if keep[b] {
			prev = byte(b)
			continue
		}
		l[b] = prev
	}
	return l
}()

const hexDigits = "0123456789ABCDEF"

// EncodeKey encodes s for use in a key (see above). It fails with
// store.ErrTooLarge if the result is longer than MaxKeyPart.
func EncodeKey(s string) (string, error) {
	if s == "" {
		return "!", nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keep[c] {
			b.WriteByte(c)
		} else {
			b.WriteByte(lead[c])
			b.WriteByte('~')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xF])
		}
	}
	if b.Len() > MaxKeyPart {
		return "", fmt.Errorf("key %.40q… is %d characters encoded, more than %d: %w", s, b.Len(), MaxKeyPart, store.ErrTooLarge)
	}
	return b.String(), nil
}

// DecodeKey reverses EncodeKey.
func DecodeKey(k string) (string, error) {
	if k == "!" {
		return "", nil
	}
	if k == "" {
		return "", fmt.Errorf("decode key: empty")
	}
	out := make([]byte, 0, len(k))
	for i := 0; i < len(k); {
		c := k[i]
		if i+1 < len(k) && k[i+1] == '~' {
			if i+3 >= len(k) {
				return "", fmt.Errorf("decode key %q: truncated escape at %d", k, i)
			}
			hi, lo := unhex(k[i+2]), unhex(k[i+3])
			if hi < 0 || lo < 0 {
				return "", fmt.Errorf("decode key %q: bad escape at %d", k, i)
			}
			b := byte(hi<<4 | lo)
			if keep[b] || lead[b] != c {
				return "", fmt.Errorf("decode key %q: non-canonical escape at %d", k, i)
			}
			out = append(out, b)
			i += 4
			continue
		}
		if !keep[c] {
			return "", fmt.Errorf("decode key %q: unexpected %q at %d", k, c, i)
		}
		out = append(out, c)
		i++
	}
	return string(out), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}
