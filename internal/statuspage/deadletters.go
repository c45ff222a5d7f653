package statuspage

import (
	"encoding/json"
	"time"

	"github.com/tenantsync/tenantsync/internal/queue"
)

// DeadLetter is a dead-lettered change, as the page lists it: which
// change, why it was given up on, and when.
type DeadLetter struct {
	ID            string    `json:"id"`
	EnqueuedAt    time.Time `json:"enqueuedAt,omitzero"`
	DeliveryCount int       `json:"deliveryCount"`
	Reason        string    `json:"reason"`
	Description   string    `json:"description,omitempty"`
	// Change names the change the message carried, as "user <id>", when
	// its body is a change message.
	Change string `json:"change,omitempty"`
}

// DeadLetterOf converts a dead letter for the page.
func DeadLetterOf(d queue.DeadLetter) DeadLetter {
	out := DeadLetter{ID: d.ID, EnqueuedAt: d.EnqueuedAt.UTC(), DeliveryCount: d.DeliveryCount, Reason: d.Reason,
		Description: oneLine(d.Description)}
	var body struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	}
	if json.Unmarshal(d.Body, &body) == nil && body.Kind != "" && body.ID != "" {
		out.Change = body.Kind + " " + body.ID
	}
	return out
}
