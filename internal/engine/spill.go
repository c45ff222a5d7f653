package engine

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/store"
)

// A full pass compares whole directories: every source user, every target
// user and every link. Held in the heap as maps of attributes that is about
// 7 KB a user, 1.8 GB for 250,000 users. The survey instead keeps each
// record encoded in a temporary file (the spill) and only an index from id
// to place in the heap, and decodes a record when the decision asks for
// it: the same records, the same decisions, in a heap that grows by tens
// of bytes a user. The file lives as long as the pass.

// spill is an append-only temporary file of encoded records.
type spill struct {
	mu    sync.Mutex
	f     *os.File
	w     *bufio.Writer
	size  int64
	dirty bool
	// unlinked: the file has no name any more (removed while open), so
	// that a process killed during the pass leaves nothing behind.
	unlinked bool
}

// spillRef is where a record is in the spill.
type spillRef struct {
	off int64
	n   uint32
}

func newSpill() (*spill, error) {
	f, err := os.CreateTemp("", "tenantsync-survey-*")
	if err != nil {
		return nil, fmt.Errorf("create the full pass's temporary file: %w", err)
	}
	// Where an open file can be removed (not on Windows), it is removed at
	// once: the open file stays readable, and the system frees it when the
	// process ends however it ends.
	unlinked := os.Remove(f.Name()) == nil
	return &spill{f: f, w: bufio.NewWriterSize(f, 256<<10), unlinked: unlinked}, nil
}

// close removes the file.
func (s *spill) close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.f.Close()
	if s.unlinked {
		return err
	}
	if rerr := os.Remove(s.f.Name()); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}

func (s *spill) put(b []byte) (spillRef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(b); err != nil {
		return spillRef{}, fmt.Errorf("write the full pass's temporary file: %w", err)
	}
	ref := spillRef{off: s.size, n: uint32(len(b))}
	s.size += int64(len(b))
	s.dirty = true
	return ref, nil
}

func (s *spill) get(ref spillRef) ([]byte, error) {
	s.mu.Lock()
	if s.dirty {
		if err := s.w.Flush(); err != nil {
			s.mu.Unlock()
			return nil, fmt.Errorf("write the full pass's temporary file: %w", err)
		}
		s.dirty = false
	}
	s.mu.Unlock()
	b := make([]byte, ref.n)
	if _, err := s.f.ReadAt(b, ref.off); err != nil {
		return nil, fmt.Errorf("read the full pass's temporary file: %w", err)
	}
	return b, nil
}

// spilled is a map from id to record kept in a spill. A record the codec
// cannot encode (a value of a type the directory does not use) stays in
// the heap, so that nothing is lost whatever the adapters return.
//
// Directory object ids are GUIDs: those in their canonical form are keyed
// by their 16 bytes (guids), a third of the heap of a string key, and any
// other id by itself (refs).
type spilled[T any] struct {
	sp    *spill
	enc   func([]byte, T) ([]byte, error)
	dec   func([]byte) (T, error)
	guids map[guid]spillRef
	refs  map[string]spillRef
	mem   map[string]T
	buf   []byte
}

func newSpilled[T any](sp *spill, enc func([]byte, T) ([]byte, error), dec func([]byte) (T, error)) *spilled[T] {
	return &spilled[T]{sp: sp, enc: enc, dec: dec, guids: map[guid]spillRef{}, refs: map[string]spillRef{}, mem: map[string]T{}}
}

// guid is a GUID's 16 bytes.
type guid [16]byte

// parseGUID reads a GUID in its canonical form (lower-case, with dashes),
// the only form whose String gives back the same id.
func parseGUID(id string) (guid, bool) {
	var g guid
	if len(id) != 36 {
		return g, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if id[i] != '-' {
				return g, false
			}
			i++
			continue
		}
		hi, ok1 := lowerHex(id[i])
		lo, ok2 := lowerHex(id[i+1])
		if !ok1 || !ok2 {
			return g, false
		}
		g[j] = hi<<4 | lo
		j++
		i += 2
	}
	return g, true
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func (g guid) String() string {
	const digits = "0123456789abcdef"
	b := make([]byte, 0, 36)
	for i, v := range g {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, digits[v>>4], digits[v&0xf])
	}
	return string(b)
}

// ref returns where the record of id is in the file.
func (m *spilled[T]) ref(id string) (spillRef, bool) {
	if g, ok := parseGUID(id); ok {
		r, ok := m.guids[g]
		return r, ok
	}
	r, ok := m.refs[id]
	return r, ok
}

func (m *spilled[T]) setRef(id string, r spillRef) {
	if g, ok := parseGUID(id); ok {
		m.guids[g] = r
		return
	}
	m.refs[id] = r
}

func (m *spilled[T]) dropRef(id string) {
	if g, ok := parseGUID(id); ok {
		delete(m.guids, g)
		return
	}
	delete(m.refs, id)
}

func newUserIndex(sp *spill) *spilled[directory.User] {
	return newSpilled(sp, appendUser, decodeUser)
}

func newLinkIndex(sp *spill) *spilled[store.Link] {
	return newSpilled(sp, appendLink, decodeLink)
}

// put adds or replaces the record of id.
func (m *spilled[T]) put(id string, v T) error {
	_, _, err := m.putRef(id, v)
	return err
}

// putRef is put that also says where the record went: spilled is false
// for a record kept in the heap.
func (m *spilled[T]) putRef(id string, v T) (ref spillRef, spilled bool, err error) {
	b, err := m.enc(m.buf[:0], v)
	if errors.Is(err, errUnspillable) {
		m.dropRef(id)
		m.mem[id] = v
		return spillRef{}, false, nil
	}
	if err != nil {
		return spillRef{}, false, err
	}
	m.buf = b
	ref, err = m.sp.put(b)
	if err != nil {
		return spillRef{}, false, err
	}
	delete(m.mem, id)
	m.setRef(id, ref)
	return ref, true, nil
}

// version returns a record as it was put at ref, also when a later put
// replaced it.
func (m *spilled[T]) version(ref spillRef) (T, error) {
	var zero T
	b, err := m.sp.get(ref)
	if err != nil {
		return zero, err
	}
	v, err := m.dec(b)
	if err != nil {
		return zero, fmt.Errorf("decode survey record at %d: %w", ref.off, err)
	}
	return v, nil
}

// get returns the record of id, and whether there is one.
func (m *spilled[T]) get(id string) (T, bool, error) {
	if v, ok := m.mem[id]; ok {
		return v, true, nil
	}
	var zero T
	ref, ok := m.ref(id)
	if !ok {
		return zero, false, nil
	}
	b, err := m.sp.get(ref)
	if err != nil {
		return zero, false, err
	}
	v, err := m.dec(b)
	if err != nil {
		return zero, false, fmt.Errorf("decode survey record %s: %w", id, err)
	}
	return v, true, nil
}

func (m *spilled[T]) has(id string) bool {
	if _, ok := m.ref(id); ok {
		return true
	}
	_, ok := m.mem[id]
	return ok
}

func (m *spilled[T]) len() int { return len(m.guids) + len(m.refs) + len(m.mem) }

// eachID calls fn with every id, in no particular order.
func (m *spilled[T]) eachID(fn func(id string)) {
	for g := range m.guids {
		fn(g.String())
	}
	for id := range m.refs {
		fn(id)
	}
	for id := range m.mem {
		fn(id)
	}
}

// each calls fn with every record, in no particular order.
func (m *spilled[T]) each(fn func(id string, v T) error) error {
	var err error
	m.eachID(func(id string) {
		if err != nil {
			return
		}
		var v T
		if v, _, err = m.get(id); err == nil {
			err = fn(id, v)
		}
	})
	return err
}

// errUnspillable is a value the record codec does not know.
var errUnspillable = errors.New("value of a type the survey codec does not encode")

// The record codec: varint lengths, strings as bytes, attribute values
// tagged with their type (directory.Attributes' nil, string, bool, int64,
// []string), so that a decoded record is equal to the encoded one, nil
// lists and maps included.

const (
	tagNil byte = iota
	tagString
	tagFalse
	tagTrue
	tagInt
	tagStrings
	tagNilStrings
)

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendAttrs(b []byte, a directory.Attributes) ([]byte, error) {
	if a == nil {
		return append(b, 0), nil
	}
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(len(a)))
	for k, v := range a {
		b = appendString(b, k)
		switch t := v.(type) {
		case nil:
			b = append(b, tagNil)
		case string:
			b = appendString(append(b, tagString), t)
		case bool:
			if t {
				b = append(b, tagTrue)
			} else {
				b = append(b, tagFalse)
			}
		case int64:
			b = binary.AppendVarint(append(b, tagInt), t)
		case []string:
			if t == nil {
				b = append(b, tagNilStrings)
				continue
			}
			b = binary.AppendUvarint(append(b, tagStrings), uint64(len(t)))
			for _, s := range t {
				b = appendString(b, s)
			}
		default:
			return b, fmt.Errorf("attribute %s is a %T: %w", k, v, errUnspillable)
		}
	}
	return b, nil
}

func appendTime(b []byte, t time.Time) ([]byte, error) {
	tb, err := t.MarshalBinary()
	if err != nil {
		return b, fmt.Errorf("time %s: %w", t, errUnspillable)
	}
	return appendString(b, string(tb)), nil
}

func appendUser(b []byte, u directory.User) ([]byte, error) {
	b = appendString(b, u.ID)
	if u.Deleted {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return appendAttrs(b, u.Attrs)
}

func appendLink(b []byte, l store.Link) ([]byte, error) {
	for _, s := range []string{l.Target, l.SourceID, l.TargetID, l.SourceUPN, l.Hash, string(l.State), l.LastError, l.ETag} {
		b = appendString(b, s)
	}
	var err error
	if b, err = appendTime(b, l.Created); err != nil {
		return b, err
	}
	if b, err = appendTime(b, l.Updated); err != nil {
		return b, err
	}
	return appendAttrs(b, l.Attributes)
}

// decoder reads what the append functions wrote.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = io.ErrUnexpectedEOF
	}
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) time() time.Time {
	var t time.Time
	s := d.string()
	if d.err == nil {
		if err := t.UnmarshalBinary([]byte(s)); err != nil {
			d.err = err
		}
	}
	return t
}

func (d *decoder) attrs() directory.Attributes {
	if d.byte() == 0 {
		return nil
	}
	n := d.uvarint()
	if n > uint64(len(d.b)) || n > math.MaxInt32 {
		d.fail()
		return nil
	}
	a := make(directory.Attributes, n)
	for range n {
		k := d.string()
		switch tag := d.byte(); tag {
		case tagNil:
			a[k] = nil
		case tagString:
			a[k] = d.string()
		case tagFalse:
			a[k] = false
		case tagTrue:
			a[k] = true
		case tagInt:
			a[k] = d.varint()
		case tagNilStrings:
			a[k] = []string(nil)
		case tagStrings:
			m := d.uvarint()
			if m > uint64(len(d.b)) {
				d.fail()
				return nil
			}
			ss := make([]string, m)
			for i := range ss {
				ss[i] = d.string()
			}
			a[k] = ss
		default:
			if d.err == nil {
				d.err = fmt.Errorf("unknown value tag %d", tag)
			}
		}
		if d.err != nil {
			return nil
		}
	}
	return a
}

func decodeUser(b []byte) (directory.User, error) {
	d := &decoder{b: b}
	u := directory.User{ID: d.string()}
	u.Deleted = d.byte() == 1
	u.Attrs = d.attrs()
	return u, d.end()
}

func decodeLink(b []byte) (store.Link, error) {
	d := &decoder{b: b}
	l := store.Link{Target: d.string(), SourceID: d.string(), TargetID: d.string(), SourceUPN: d.string(),
		Hash: d.string(), State: store.LinkState(d.string()), LastError: d.string(), ETag: d.string()}
	l.Created = d.time()
	l.Updated = d.time()
	l.Attributes = d.attrs()
	return l, d.end()
}

func (d *decoder) end() error {
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d bytes left over", len(d.b))
	}
	return d.err
}
