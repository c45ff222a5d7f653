package operator

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tenantsync/tenantsync/internal/queue"
)

// maxBodyShown bounds how much of a message body the text listing shows.
const maxBodyShown = 200

// DeadLetter is a dead-lettered change message, as `dlq list --json`
// prints it. Body is the message body as JSON when it is JSON (the
// pipeline's change messages are), else as a string.
type DeadLetter struct {
	ID             string          `json:"id"`
	SessionID      string          `json:"sessionId,omitempty"`
	SequenceNumber int64           `json:"sequenceNumber"`
	Reason         string          `json:"reason"`
	Description    string          `json:"description,omitempty"`
	DeliveryCount  int             `json:"deliveryCount"`
	EnqueuedAt     time.Time       `json:"enqueuedAt,omitzero"`
	ContentType    string          `json:"contentType,omitempty"`
	Body           json.RawMessage `json:"body"`
}

// DeadLetterOf converts a dead letter for output.
func DeadLetterOf(d queue.DeadLetter) DeadLetter {
	out := DeadLetter{
		ID: d.ID, SessionID: d.SessionID, SequenceNumber: d.SequenceNumber, Reason: d.Reason,
		Description: d.Description, DeliveryCount: d.DeliveryCount, EnqueuedAt: d.EnqueuedAt.UTC(), ContentType: d.ContentType,
	}
	if json.Valid(d.Body) && len(d.Body) > 0 {
		out.Body = json.RawMessage(d.Body)
	} else {
		s := strings.ToValidUTF8(string(d.Body), "\uFFFD")
		out.Body, _ = json.Marshal(s)
	}
	return out
}

// WriteDeadLetters writes dead letters as a table, each with its body
// (cut short) and the description of why it was dead-lettered beneath.
func WriteDeadLetters(w io.Writer, queueName string, now time.Time, ds []DeadLetter) error {
	if len(ds) == 0 {
		_, err := fmt.Fprintf(w, "No dead letters in %s.\n", queueName)
		return err
	}
	fmt.Fprintf(w, "Dead letters in %s:\n\n", queueName)
	t := newTable(w, "  ID", "SESSION", "DELIVERIES", "ENQUEUED", "REASON")
	for _, d := range ds {
		enq := "-"
		if !d.EnqueuedAt.IsZero() {
			enq = ago(now, d.EnqueuedAt)
		}
		t.row("  "+d.ID, orDash(d.SessionID), fmt.Sprint(d.DeliveryCount), enq, d.Reason)
		if d.Description != "" {
			t.text("      " + cut(d.Description, maxBodyShown))
		}
		t.text("      body: " + cut(compactBody(d.Body), maxBodyShown))
	}
	if err := t.flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s. Resubmit with `dlq resubmit (--all | ID…)`.\n", plural(len(ds), "dead letter", "dead letters"))
	return err
}

func compactBody(b json.RawMessage) string {
	var s string
	if json.Unmarshal(b, &s) == nil {
		return s
	}
	return string(b)
}

// cut shortens s to n runes, marking the cut with "…".
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
