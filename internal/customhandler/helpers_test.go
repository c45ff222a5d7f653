package customhandler

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
)

// readInvocation decodes a fixture from testdata as the server would.
func readInvocation(t testing.TB, name, function string) *Invocation {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	inv := &Invocation{Function: function}
	if err := json.Unmarshal(b, inv); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return inv
}

// invocationFrom decodes an inline payload.
func invocationFrom(t testing.TB, payload string) *Invocation {
	t.Helper()
	inv := &Invocation{Function: "F"}
	if err := json.Unmarshal([]byte(payload), inv); err != nil {
		t.Fatalf("decode payload: %v\n%s", err, payload)
	}
	return inv
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// jsonEqual reports whether two JSON documents have the same value.
func jsonEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("decode %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// wantFieldError checks that err is a *FieldError for field.
func wantFieldError(t *testing.T, err error, field string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v (%T), want a *FieldError for %s", err, err, field)
	}
	if fe.Field != field {
		t.Fatalf("error names field %q, want %q (%v)", fe.Field, field, err)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines to write
// and the test to read.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// records returns the JSON log records written so far.
func (s *syncBuffer) records(t testing.TB) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(s.b.Bytes()))
	for dec.More() {
		var r map[string]any
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("decode log record: %v", err)
		}
		out = append(out, r)
	}
	return out
}
