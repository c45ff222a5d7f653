package embedded

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// record is a stored message, in the messages bucket or, with its
// dead-letter fields set, in the dead-letters bucket. The key is its
// sequence number.
type record struct {
	ID          string         `json:"id"`
	SessionID   string         `json:"sessionId"`
	Body        []byte         `json:"body,omitempty"`
	ContentType string         `json:"contentType,omitempty"`
	Properties  map[string]any `json:"properties,omitempty"`
	ScheduledAt time.Time      `json:"scheduledAt,omitzero"`
	EnqueuedAt  time.Time      `json:"enqueuedAt"`
	// DeliveryCount counts the deliveries begun. It is written before the
	// handler runs, so that a crash counts as a delivery, as a lapsed lock
	// does in Service Bus.
	DeliveryCount int `json:"deliveryCount"`

	DeadLetterReason      string    `json:"deadLetterReason,omitempty"`
	DeadLetterDescription string    `json:"deadLetterDescription,omitempty"`
	DeadLetteredAt        time.Time `json:"deadLetteredAt,omitzero"`
}

// visibleAt is when the message becomes deliverable.
func (r *record) visibleAt() time.Time {
	if r.ScheduledAt.After(r.EnqueuedAt) {
		return r.ScheduledAt
	}
	return r.EnqueuedAt
}

func (r *record) encode() ([]byte, error) {
	return json.Marshal(r)
}

// decodeRecord decodes a stored record, numbers in properties as
// json.Number. It copies what it keeps, so v may be bbolt's memory.
func decodeRecord(v []byte) (record, error) {
	var r record
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	if err := d.Decode(&r); err != nil {
		return record{}, fmt.Errorf("decode stored message: %w", err)
	}
	return r, nil
}

func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, seq)
}

func keySeq(k []byte) uint64 {
	return binary.BigEndian.Uint64(k)
}

// moveToDeadLetters moves message seq, whose stored record is rec, from the
// messages bucket to the dead letters with a reason, in tx.
func moveToDeadLetters(tx *bbolt.Tx, messages, deadLetters []byte, seq uint64, rec record, reason, description string, now time.Time) error {
	rec.DeadLetterReason = reason
	rec.DeadLetterDescription = description
	rec.DeadLetteredAt = now
	v, err := rec.encode()
	if err != nil {
		return err
	}
	k := seqKey(seq)
	if err := tx.Bucket(deadLetters).Put(k, v); err != nil {
		return err
	}
	return tx.Bucket(messages).Delete(k)
}
