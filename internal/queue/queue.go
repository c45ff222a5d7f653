// Package queue is the contract of the change queue between the event
// pipeline's producers (the webhook, reconciliation, ProcessChange's
// follow-ups) and its consumer (ProcessChange): the message, the producer
// and dead-letter interfaces, and what a consumer's handler returns.
//
// Two implementations follow the semantics of an Azure Service Bus queue with
// sessions: package servicebus sends to a real queue, and package embedded
// keeps a durable queue in the local runner's bbolt file. This package imports
// neither, so that any package may depend on it.
package queue

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Message is one message to enqueue.
type Message struct {
	// ID identifies the message. Service Bus uses it for duplicate
	// detection when the queue has it enabled. Empty means a new random id.
	ID string
	// SessionID groups messages that must be handled one at a time and in
	// order; tenantsync uses the source object id. On a session-enabled
	// Service Bus queue it is required.
	SessionID string
	// Body is the payload; the pipeline puts a versioned JSON change here.
	Body []byte
	// ContentType describes Body, such as "application/json".
	ContentType string
	// ScheduledAt, when set, keeps the message invisible until then.
	ScheduledAt time.Time
	// Properties are application properties: strings, booleans, numbers and
	// times. The embedded queue keeps them as JSON and gives numbers back as
	// json.Number, as the Functions host does for Service Bus.
	Properties map[string]any
}

// Enqueuer puts messages on the queue. Implementations are safe for
// concurrent use.
type Enqueuer interface {
	// Enqueue sends msgs, in as few round trips as the queue's batch limits
	// allow. When it fails part way, some messages may have been sent: the
	// caller may send them all again, as duplicates are harmless to
	// tenantsync (a message is a hint that an object changed).
	Enqueue(ctx context.Context, msgs ...Message) error
	// Schedule sends msgs to become visible at at, such as a throttled
	// change again at its Retry-After. It overrides their ScheduledAt.
	Schedule(ctx context.Context, at time.Time, msgs ...Message) error
}

// Delivery is a message as a consumer receives it under a peek-lock.
type Delivery struct {
	Message
	// DeliveryCount counts deliveries including this one: 1 on the first.
	DeliveryCount int
	// SequenceNumber is the number the queue gave the message.
	SequenceNumber int64
	// EnqueuedAt is when the queue accepted the message.
	EnqueuedAt time.Time
	// LockedUntil is when the lock lapses unless the message is settled.
	LockedUntil time.Time
}

// Handler handles one delivery. Returning nil completes the message; an
// error abandons it, so that it is delivered again until the maximum
// delivery count sends it to the dead letters; an error that wraps
// ErrDeadLetter (such as a *DeadLetterError) dead-letters it at once.
//
// The context is cancelled when the lock is lost (its cause is ErrLockLost)
// or when the consumer stops and the grace period is over.
type Handler func(ctx context.Context, d Delivery) error

// DeadLetter is a message in the dead-letter sub-queue.
type DeadLetter struct {
	ID             string
	SessionID      string
	SequenceNumber int64
	// Reason and Description say why it was dead-lettered, such as
	// "MaxDeliveryCountExceeded".
	Reason      string
	Description string
	// DeliveryCount is how many times it was delivered before.
	DeliveryCount int
	EnqueuedAt    time.Time
	Body          []byte
	ContentType   string
	Properties    map[string]any
}

// ResubmitOptions choose the dead letters Resubmit sends back.
type ResubmitOptions struct {
	// IDs are the message ids to resubmit.
	IDs []string
	// All resubmits every dead letter; IDs must then be empty.
	All bool
}

// DeadLetters reads and resubmits the dead-letter sub-queue. It backs the
// `dlq list|resubmit` commands.
type DeadLetters interface {
	// List returns up to max dead letters (all when max <= 0) without
	// removing or locking them, oldest first.
	List(ctx context.Context, max int) ([]DeadLetter, error)
	// Resubmit sends a copy of the chosen dead letters to the main queue and
	// then removes them from the dead letters, in that order, so that a crash
	// in between duplicates a message rather than losing it. The copy has a
	// new message id (see ResubmitID) and a delivery count of zero. It
	// returns how many it resubmitted.
	Resubmit(ctx context.Context, opts ResubmitOptions) (int, error)
}

// Properties set on a resubmitted copy.
const (
	// PropertyResubmittedFrom holds the message id of the dead letter a
	// message was resubmitted from.
	PropertyResubmittedFrom = "ResubmittedFrom"
)

// Dead-letter reasons set by the queue itself, as Service Bus sets them.
const (
	ReasonMaxDeliveryCountExceeded = "MaxDeliveryCountExceeded"
)

// Errors.
var (
	// ErrDeadLetter, wrapped in a handler's error, dead-letters the message
	// at once instead of abandoning it.
	ErrDeadLetter = errors.New("dead-letter the message")
	// ErrLockLost is the cancellation cause of a handler's context whose
	// lock lapsed: the message will be, or has been, delivered again.
	ErrLockLost = errors.New("message lock lost")
	// ErrMessageTooLarge: one message does not fit in the queue's size limit.
	ErrMessageTooLarge = errors.New("message too large")
	// ErrClosed: the queue was closed.
	ErrClosed = errors.New("queue closed")
)

// DeadLetterError is a handler's error that dead-letters the message with a
// reason and description of its choosing.
type DeadLetterError struct {
	Reason      string
	Description string
}

func (e *DeadLetterError) Error() string {
	if e.Description == "" {
		return "dead letter: " + e.Reason
	}
	return "dead letter: " + e.Reason + ": " + e.Description
}

// Is makes a *DeadLetterError match ErrDeadLetter.
func (e *DeadLetterError) Is(target error) bool { return target == ErrDeadLetter }

// maxReasonLen bounds a dead-letter reason or description taken from an
// error message, so that a handler cannot bloat the dead letters.
const maxReasonLen = 1024

// DeadLetterReason returns the reason and description to dead-letter a
// message with when a handler returned err, which wraps ErrDeadLetter: those
// of a *DeadLetterError in its chain, or else the error's message as the
// reason. Both are cut to a bounded length.
func DeadLetterReason(err error) (reason, description string) {
	var dl *DeadLetterError
	if errors.As(err, &dl) {
		reason, description = dl.Reason, dl.Description
	} else {
		reason = err.Error()
	}
	if reason == "" {
		reason = "DeadLetteredByHandler"
	}
	return Truncate(reason), Truncate(description)
}

// Truncate cuts s to the bounded length of a dead-letter reason or
// description, on a rune boundary.
func Truncate(s string) string { return cut(s, maxReasonLen) }

// cut returns s cut to at most n bytes, on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// maxMessageIDLen is Service Bus's limit on a message id.
const maxMessageIDLen = 128

// ResubmitID returns the message id of the copy of a dead letter with the
// given message id and sequence number. It differs from the original, so
// that a queue with duplicate detection does not drop the copy, and is the
// same for the same dead letter, so that it does drop a second copy sent
// after a crash.
func ResubmitID(id string, seq int64) string {
	suffix := "+dlq" + strconv.FormatInt(seq, 10)
	return cut(id, maxMessageIDLen-len(suffix)) + suffix
}

// Counters count what a queue did since it was opened.
type Counters struct {
	Enqueued     int64 // messages accepted, scheduled ones included
	Scheduled    int64 // messages accepted with a future ScheduledAt
	Delivered    int64 // deliveries to a handler
	Completed    int64
	Abandoned    int64 // handler errors and panics
	DeadLettered int64 // by the handler or after the maximum delivery count
	LockLost     int64 // deliveries whose lock lapsed before they were settled
	Released     int64 // deliveries given back unsettled at shutdown
	Resubmitted  int64 // dead letters sent back to the queue
}
