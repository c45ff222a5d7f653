package queue

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDeadLetterReason(t *testing.T) {
	long := strings.Repeat("x", 3000)
	tests := []struct {
		name            string
		err             error
		reason, descrip string
	}{
		{name: "typed", err: &DeadLetterError{Reason: "BadPayload", Description: "no id"}, reason: "BadPayload", descrip: "no id"},
		{name: "typed, wrapped", err: fmt.Errorf("handle: %w", &DeadLetterError{Reason: "R"}), reason: "R"},
		{name: "sentinel", err: fmt.Errorf("parse: %w", ErrDeadLetter), reason: "parse: dead-letter the message"},
		{name: "empty reason", err: &DeadLetterError{}, reason: "DeadLetteredByHandler"},
		{name: "long", err: &DeadLetterError{Reason: long, Description: long}, reason: long[:maxReasonLen], descrip: long[:maxReasonLen]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, ErrDeadLetter) {
				t.Fatalf("%v does not match ErrDeadLetter", tt.err)
			}
			r, d := DeadLetterReason(tt.err)
			if r != tt.reason || d != tt.descrip {
				t.Errorf("DeadLetterReason = %q, %q; want %q, %q", r, d, tt.reason, tt.descrip)
			}
		})
	}
	if errors.Is(errors.New("other"), ErrDeadLetter) {
		t.Error("a plain error matches ErrDeadLetter")
	}
}

func TestTruncateKeepsRunes(t *testing.T) {
	for _, s := range []string{strings.Repeat("é", 1000), "a" + strings.Repeat("€", 500), strings.Repeat("z", 1024)} {
		got := Truncate(s)
		if len(got) > maxReasonLen || !utf8.ValidString(got) || !strings.HasPrefix(s, got) {
			t.Errorf("Truncate of %d bytes gave %d bytes, valid %v", len(s), len(got), utf8.ValidString(got))
		}
		if len(s) <= maxReasonLen && got != s {
			t.Errorf("Truncate changed a short string")
		}
	}
}

func TestResubmitID(t *testing.T) {
	tests := []struct {
		id   string
		seq  int64
		want string
	}{
		{id: "abc", seq: 7, want: "abc+dlq7"},
		{id: "abc+dlq7", seq: 12, want: "abc+dlq7+dlq12"},
		{id: strings.Repeat("a", 200), seq: 99, want: strings.Repeat("a", 128-len("+dlq99")) + "+dlq99"},
	}
	for _, tt := range tests {
		got := ResubmitID(tt.id, tt.seq)
		if got != tt.want {
			t.Errorf("ResubmitID(%q, %d) = %q, want %q", tt.id, tt.seq, got, tt.want)
		}
		if len(got) > maxMessageIDLen {
			t.Errorf("ResubmitID gave %d bytes, over Service Bus's %d", len(got), maxMessageIDLen)
		}
		if ResubmitID(tt.id, tt.seq) != got {
			t.Error("ResubmitID is not deterministic")
		}
	}
}
