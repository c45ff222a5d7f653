package entity

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/store"
)

var hostile = []string{
	"", "a", "A", "0", "-", ".", "_", "@", "!", "~", "!~", "z~41", "a~", ":", ";",
	"/", "\\", "#", "?", "a/b\\c#d?e", "\x00", "\x1f", "\x7f", "\u0080", "\u009f",
	"'", "''", "\"", "%", "%2F", "+", " ", " lead", "trail ", "é", "日本", "😀",
	"\xff\xfe", "PartitionKey eq 'x'", "6f1c8a4e-2f0b-4c8e-9d2b-5a0f3e1d7c9b",
	"ada.lovelace@fabrikam.example", "contoso.onmicrosoft.com",
}

func TestEncodeKeyRoundTrip(t *testing.T) {
	for _, s := range hostile {
		k, err := EncodeKey(s)
		if err != nil {
			t.Fatalf("EncodeKey(%q): %v", s, err)
		}
		for i := 0; i < len(k); i++ {
			c := k[i]
			if c < 0x20 || c >= 0x7f || strings.IndexByte(`/\#?:;'`, c) >= 0 {
				t.Errorf("EncodeKey(%q) = %q holds %q", s, k, c)
			}
		}
		got, err := DecodeKey(k)
		if err != nil || got != s {
			t.Errorf("DecodeKey(EncodeKey(%q)=%q) = %q, %v", s, k, got, err)
		}
	}
}

func TestEncodeKeyKeepsReadableIDs(t *testing.T) {
	for _, s := range []string{"6f1c8a4e-2f0b-4c8e-9d2b-5a0f3e1d7c9b", "ada.lovelace@fabrikam.example", "contoso", "users"} {
		if k, _ := EncodeKey(s); k != s {
			t.Errorf("EncodeKey(%q) = %q, want it unchanged", s, k)
		}
	}
}

func TestEncodeKeyPreservesOrder(t *testing.T) {
	alphabet := []byte("\x00\x01 !#%-./09:;?@AZ[\\]_`az{~\x7f\x80\x9f\xc3\xa9\xff")
	rnd := rand.New(rand.NewPCG(1, 2))
	randomString := func() string {
		b := make([]byte, rnd.IntN(6))
		for i := range b {
			b[i] = alphabet[rnd.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 200000 {
		a, b := randomString(), randomString()
		ka, _ := EncodeKey(a)
		kb, _ := EncodeKey(b)
		if (a < b) != (ka < kb) || (a == b) != (ka == kb) {
			t.Fatalf("order of %q, %q is not kept by %q, %q", a, b, ka, kb)
		}
	}
}

func FuzzKey(f *testing.F) {
	for _, s := range hostile {
		f.Add(s, "x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ka, errA := EncodeKey(a)
		kb, errB := EncodeKey(b)
		if errA != nil || errB != nil {
			return // too long
		}
		if got, err := DecodeKey(ka); err != nil || got != a {
			t.Fatalf("round trip %q: %q, %v", a, got, err)
		}
		if (a < b) != (ka < kb) {
			t.Fatalf("order of %q, %q not kept by %q, %q", a, b, ka, kb)
		}
	})
}

func TestDecodeKeyRejects(t *testing.T) {
	for _, k := range []string{"", "a~", "a~4", "a~GG", "/", "a:b", "~41", "A~41" /* 'A' kept: not canonical */, "!~", "!x"} {
		if s, err := DecodeKey(k); err == nil {
			t.Errorf("DecodeKey(%q) = %q, want an error", k, s)
		}
	}
}

func TestEncodeKeyTooLong(t *testing.T) {
	tests := []struct {
		s     string
		large bool
	}{
		{strings.Repeat("a", MaxKeyPart), false},
		{strings.Repeat("a", MaxKeyPart+1), true},
		{strings.Repeat("/", MaxKeyPart/4), false},
		{strings.Repeat("/", MaxKeyPart/4+1), true},
	}
	for _, tt := range tests {
		_, err := EncodeKey(tt.s)
		if got := errors.Is(err, store.ErrTooLarge); got != tt.large {
			t.Errorf("EncodeKey(%d×%q): err = %v, want too large %v", len(tt.s), tt.s[:1], err, tt.large)
		}
	}
}

func TestEventKeysSortNewestFirst(t *testing.T) {
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	times := []time.Time{
		time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, 0), base.Add(-time.Nanosecond), base, base.Add(100 * time.Nanosecond), base.Add(time.Hour),
	}
	var prev string
	for i, tm := range times {
		k, err := EventKey("t", tm)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && k.RK >= prev {
			t.Errorf("event at %v has key %q, not before the older %q", tm, k.RK, prev)
		}
		prev = k.RK
		got, err := EventTime(k.RK)
		if err != nil || !got.Equal(tm) {
			t.Errorf("EventTime(%q) = %v, %v; want %v", k.RK, got, err, tm)
		}
	}
}

func TestEventsOlderThan(t *testing.T) {
	before := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	bound := EventsOlderThan(before)
	tests := []struct {
		at    time.Time
		older bool
	}{
		{before.Add(-time.Hour), true},
		{before.Add(-100 * time.Nanosecond), true},
		{before.Add(-time.Nanosecond), true},
		{before, false},
		{before.Add(time.Nanosecond), false},
	}
	for _, tt := range tests {
		k, _ := EventKey("t", tt.at)
		if got := k.RK >= bound; got != tt.older {
			t.Errorf("event at %v: key %q ≥ bound %q is %v, want %v", tt.at, k.RK, bound, got, tt.older)
		}
	}
}

func TestPageSize(t *testing.T) {
	tests := []struct{ limit, want int }{
		{-1, DefaultEventPage},
		{0, DefaultEventPage},
		{1, 1},
		{MaxEventPage - 1, MaxEventPage - 1},
		{MaxEventPage, MaxEventPage},
		{MaxEventPage + 1, MaxEventPage},
	}
	for _, tt := range tests {
		if got := PageSize(tt.limit); got != tt.want {
			t.Errorf("PageSize(%d) = %d, want %d", tt.limit, got, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	key := Key{"p", "r"}
	tests := []struct {
		name  string
		e     Entity
		large bool
	}{
		{"small", Entity{"S": "x", "N": int64(1), "T": time.Now(), "B": true}, false},
		{"string at the limit", Entity{"S": strings.Repeat("a", MaxStringBytes/2)}, false},
		{"string over the limit", Entity{"S": strings.Repeat("a", MaxStringBytes/2+1)}, true},
		// 3 UTF-8 bytes but one UTF-16 unit each: counted as the service does.
		{"CJK within the limit", Entity{"S": strings.Repeat("日", MaxStringBytes/2)}, false},
		// Outside the BMP: two UTF-16 units each.
		{"emoji over the limit", Entity{"S": strings.Repeat("😀", MaxStringBytes/4+1)}, true},
		{"entity over 1 MiB", manyStrings(17, MaxStringBytes/2-100), true},
		{"entity under 1 MiB", manyStrings(15, MaxStringBytes/2-100), false},
		{"too many properties", manyStrings(MaxProperties+1, 1), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.e.Check(key)
			if got := errors.Is(err, store.ErrTooLarge); got != tt.large {
				t.Errorf("Check: %v, want too large %v", err, tt.large)
			}
		})
	}
}

func manyStrings(n, size int) Entity {
	e := Entity{}
	for i := range n {
		e["P"+strings.Repeat("x", i%5)+string(rune('a'+i%26))+string(rune('a'+i/26))] = strings.Repeat("v", size)
	}
	return e
}

func TestBlobChunks(t *testing.T) {
	for _, s := range []string{
		"", "short",
		strings.Repeat("a", maxChunkUnits), strings.Repeat("a", maxChunkUnits+1),
		strings.Repeat("😀", maxChunkUnits), // surrogate pairs must not be split
		strings.Repeat("日", 3*maxChunkUnits+7),
	} {
		e := Entity{}
		e.SetBlob("B", s)
		if err := e.Check(Key{"p", "r"}); err != nil && len(s) < 500000 {
			t.Errorf("blob of %d bytes: %v", len(s), err)
		}
		if got := e.Blob("B"); got != s {
			t.Errorf("blob of %d bytes came back as %d bytes", len(s), len(got))
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	now := Time(time.Now())
	e := Entity{"S": "x'\"/\\", "N": int64(-1 << 62), "I": int32(7), "T": now, "B": true}
	key := Key{"pk", "rk"}
	b, err := e.JSON(key)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.Key != key || !reflect.DeepEqual(p.Entity, e) {
		t.Errorf("round trip: %#v %#v, want %#v %#v", p.Key, p.Entity, key, e)
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	now := Time(time.Now())
	l := store.Link{
		TargetID: "t", SourceUPN: "u", Hash: "h", State: store.LinkActive, LastError: "e",
		Attributes: map[string]any{"s": "v", "b": false, "n": int64(1) << 60, "l": []string{"a", "b"}, "empty": []string{}, "nil": nil},
		Created:    now, Updated: now,
	}
	e, err := FromLink(l)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ToLink(e)
	if err != nil || !reflect.DeepEqual(got, l) {
		t.Errorf("link round trip: %#v, %v\nwant %#v", got, err, l)
	}
	if _, err := FromLink(store.Link{Attributes: map[string]any{"f": 1.5}}); err == nil {
		t.Error("a float attribute was accepted")
	}
	st := store.TargetStatus{
		QuarantinedUntil: now, Quarantines: 3, FullPassNeeded: true, Counters: map[string]int64{"create": 1 << 40},
	}
	e, err = FromStatus(st)
	if err != nil {
		t.Fatal(err)
	}
	gotSt, err := ToStatus(e)
	if err != nil || !reflect.DeepEqual(gotSt, st) {
		t.Errorf("status round trip: %#v, %v\nwant %#v", gotSt, err, st)
	}
	g := store.Guard{
		Pending:   map[string]time.Time{"a": now, "b": now.Add(-time.Minute)},
		Executed:  map[string]time.Time{"c": now.Add(-time.Hour)},
		HoldUntil: now.Add(time.Hour),
	}
	e, err = FromGuard(g)
	if err != nil {
		t.Fatal(err)
	}
	gotG, err := ToGuard(e)
	if err != nil || !reflect.DeepEqual(gotG, g) {
		t.Errorf("guard round trip: %#v, %v\nwant %#v", gotG, err, g)
	}
}
