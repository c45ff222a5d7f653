package changes

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/engine"
)

func TestRoundTrip(t *testing.T) {
	observed := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		in   engine.Change
		want string
	}{
		{"user from a notification",
			engine.Change{Kind: engine.KindUser, ID: "4a5b", Observed: observed, Cause: "notification"},
			`{"v":1,"kind":"user","id":"4a5b","observed":"2026-03-04T04:06:07.123456789Z","cause":"notification"}`},
		{"group, no time, no cause",
			engine.Change{Kind: engine.KindGroup, ID: "g1"},
			`{"v":1,"kind":"group","id":"g1"}`},
		{"forced",
			engine.Change{Kind: engine.KindUser, ID: "u1", Cause: "full", Force: true},
			`{"v":1,"kind":"user","id":"u1","cause":"full","force":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Encode(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Fatalf("Encode = %s, want %s", b, tt.want)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Observed.Equal(tt.in.Observed) {
				t.Errorf("Observed = %v, want %v", got.Observed, tt.in.Observed)
			}
			got.Observed, tt.in.Observed = time.Time{}, time.Time{}
			if got != tt.in {
				t.Errorf("Decode = %+v, want %+v", got, tt.in)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr error
		wantMsg string
	}{
		{"version 2", `{"v":2,"kind":"user","id":"u"}`, ErrUnknownVersion, "version 2"},
		{"version 0", `{"v":0,"kind":"user","id":"u"}`, ErrUnknownVersion, "version 0"},
		{"no version", `{"kind":"user","id":"u"}`, ErrUnknownVersion, `no version field "v"`},
		{"string version", `{"v":"1","kind":"user","id":"u"}`, ErrUnknownVersion, "not an integer"},
		{"not JSON", `kind=user`, ErrInvalid, ""},
		{"JSON array", `[1]`, ErrInvalid, ""},
		{"unknown kind", `{"v":1,"kind":"device","id":"u"}`, ErrInvalid, `kind "device"`},
		{"empty id", `{"v":1,"kind":"user","id":""}`, ErrInvalid, "empty object id"},
		{"long id", `{"v":1,"kind":"user","id":"` + strings.Repeat("a", 129) + `"}`, ErrInvalid, "exceeds 128"},
		{"bad time", `{"v":1,"kind":"user","id":"u","observed":"yesterday"}`, ErrInvalid, "RFC 3339"},
		{"id of wrong type", `{"v":1,"kind":"user","id":7}`, ErrInvalid, ""},
		{"huge body", `{"v":1,"kind":"user","id":"u","cause":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, ErrInvalid, "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Decode([]byte(tt.body))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decode(%s) = %+v, %v; want error %v", tt.body, c, err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
		})
	}
}

func TestDecodeIgnoresUnknownFieldsOfVersion1(t *testing.T) {
	c, err := Decode([]byte(`{"v":1,"kind":"user","id":"u","priority":"high"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "u" || c.Kind != engine.KindUser {
		t.Fatalf("Decode = %+v", c)
	}
}

func TestEncodeRejectsInvalid(t *testing.T) {
	for _, c := range []engine.Change{
		{Kind: "", ID: "u"},
		{Kind: engine.KindUser},
	} {
		if _, err := Encode(c); !errors.Is(err, ErrInvalid) {
			t.Errorf("Encode(%+v) error = %v, want ErrInvalid", c, err)
		}
	}
}

func TestMessage(t *testing.T) {
	c := engine.Change{Kind: engine.KindUser, ID: "u-1", Cause: "notification"}
	m, err := Message(c)
	if err != nil {
		t.Fatal(err)
	}
	if m.SessionID != "u-1" || m.ContentType != ContentType || m.ID != "" {
		t.Fatalf("Message = %+v", m)
	}
	back, err := Decode(m.Body)
	if err != nil || back != c {
		t.Fatalf("Decode(Message.Body) = %+v, %v", back, err)
	}
	if _, err := Messages([]engine.Change{c, {Kind: "x", ID: "y"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Messages with an invalid change: %v", err)
	}
}

// TestMessageSessions: changes to one object share its session; the group
// notifications, which each catch up the one groups delta, share one, so
// that two of them never read the same window at once.
func TestMessageSessions(t *testing.T) {
	tests := []struct {
		c    engine.Change
		want string
	}{
		{engine.Change{Kind: engine.KindUser, ID: "u-1", Cause: "notification"}, "u-1"},
		{engine.Change{Kind: engine.KindUser, ID: "u-1", Cause: "delta"}, "u-1"},
		{engine.Change{Kind: engine.KindGroup, ID: "g-1", Cause: "notification"}, engine.GroupsDeltaSession},
		{engine.Change{Kind: engine.KindGroup, ID: "g-2", Cause: "notification"}, engine.GroupsDeltaSession},
		{engine.Change{Kind: engine.KindGroup, ID: "g-1", Cause: engine.CauseGroupSync}, "g-1"},
		{engine.Change{Kind: engine.KindGroup, ID: "g-1", Cause: "full"}, "g-1"},
		{engine.Change{Kind: engine.KindGroup, ID: "g-1", Cause: "guard"}, "g-1"},
	}
	for _, tt := range tests {
		m, err := Message(tt.c)
		if err != nil {
			t.Fatal(err)
		}
		if m.SessionID != tt.want {
			t.Errorf("Message(%s %s, cause %s).SessionID = %q, want %q", tt.c.Kind, tt.c.ID, tt.c.Cause, m.SessionID, tt.want)
		}
	}
}
