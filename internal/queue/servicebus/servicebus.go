// Package servicebus is the change queue on Azure Service Bus: it sends
// messages in size-limited batches, schedules them, and lists and resubmits
// the dead letters, through the azservicebus SDK.
//
// The consumer side runs in the Functions host (a serviceBusTrigger with
// sessions), not here. The package codes against the few methods of
// *azservicebus.Sender and *azservicebus.Receiver it calls, asserted at
// compile time, so that batching and resubmission are tested without a
// namespace.
package servicebus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/internal/queue"
)

// DefaultQueueName is the queue's name when none is given, as the
// ServiceBusQueueName setting defaults.
const DefaultQueueName = "changes"

// maxBatchMessages is the most messages Service Bus accepts in one batch,
// whatever their size. The SDK does not enforce it; the service answers a
// larger batch with a generic error (Azure/azure-service-bus#397).
const maxBatchMessages = 4500

// messageBatch is the part of *azservicebus.MessageBatch that batching uses.
type messageBatch interface {
	AddMessage(m *azservicebus.Message, options *azservicebus.AddMessageOptions) error
	NumMessages() int32
}

// sender is the part of *azservicebus.Sender the queue uses. It is generic in
// the batch type because an *azservicebus.MessageBatch can only be made by a
// connected Sender; tests use a batch of their own with the same contract.
type sender[B messageBatch] interface {
	NewMessageBatch(ctx context.Context, options *azservicebus.MessageBatchOptions) (B, error)
	SendMessageBatch(ctx context.Context, batch B, options *azservicebus.SendMessageBatchOptions) error
	ScheduleMessages(ctx context.Context, messages []*azservicebus.Message, scheduledEnqueueTime time.Time, options *azservicebus.ScheduleMessagesOptions) ([]int64, error)
	Close(ctx context.Context) error
}

// deadLetterReceiver is the part of *azservicebus.Receiver, opened on the
// dead-letter sub-queue, that List and Resubmit use.
type deadLetterReceiver interface {
	PeekMessages(ctx context.Context, maxMessageCount int, options *azservicebus.PeekMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
	ReceiveMessages(ctx context.Context, maxMessages int, options *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
	CompleteMessage(ctx context.Context, message *azservicebus.ReceivedMessage, options *azservicebus.CompleteMessageOptions) error
	AbandonMessage(ctx context.Context, message *azservicebus.ReceivedMessage, options *azservicebus.AbandonMessageOptions) error
	Close(ctx context.Context) error
}

var (
	_ sender[*azservicebus.MessageBatch] = (*azservicebus.Sender)(nil)
	_ deadLetterReceiver                 = (*azservicebus.Receiver)(nil)
)

// Options tune New and NewFromConnectionString. The zero value is usable.
type Options struct {
	// ClientOptions are passed to the azservicebus client (retries,
	// WebSockets, ...).
	ClientOptions *azservicebus.ClientOptions
	// OneSessionPerBatch sends the messages of each session in batches of
	// their own. A partitioned queue requires it (Service Bus refuses a
	// batch whose messages have different session ids there); tenantsync's
	// queue is not partitioned, so it is off by default.
	OneSessionPerBatch bool
	// ReceiveWait is how long Resubmit waits for a dead letter before it
	// takes the sub-queue as drained. Zero means 5 seconds.
	ReceiveWait time.Duration
	// Logger receives debug records; nil means slog.Default().
	Logger *slog.Logger
}

// Queue sends to one Service Bus queue and manages its dead letters. It is
// safe for concurrent use.
type Queue struct {
	name        string
	log         *slog.Logger
	receiveWait time.Duration

	// send and schedule are the batching functions bound to the sender.
	send     func(ctx context.Context, msgs []*azservicebus.Message) error
	schedule func(ctx context.Context, at time.Time, msgs []*azservicebus.Message) error
	closers  []func(context.Context) error

	// dlqMu serialises the use of dlq: a Receiver refuses concurrent
	// ReceiveMessages calls.
	dlqMu sync.Mutex
	dlq   deadLetterReceiver

	enqueued, scheduled, resubmitted atomic.Int64
}

var (
	_ queue.Enqueuer    = (*Queue)(nil)
	_ queue.DeadLetters = (*Queue)(nil)
)

// New returns the queue queueName (DefaultQueueName when empty) in the
// namespace fullyQualifiedNamespace (the ServiceBusConnection__fullyQualifiedNamespace
// setting, such as "tenantsync.servicebus.windows.net"), authenticated with
// credential, such as a managed identity. It connects lazily.
func New(fullyQualifiedNamespace string, credential azcore.TokenCredential, queueName string, opts *Options) (*Queue, error) {
	if fullyQualifiedNamespace == "" {
		return nil, errors.New("service bus: no namespace")
	}
	if credential == nil {
		return nil, fmt.Errorf("service bus %s: no credential", fullyQualifiedNamespace)
	}
	var copts *azservicebus.ClientOptions
	if opts != nil {
		copts = opts.ClientOptions
	}
	client, err := azservicebus.NewClient(fullyQualifiedNamespace, credential, copts)
	if err != nil {
		return nil, fmt.Errorf("service bus %s: %w", fullyQualifiedNamespace, err)
	}
	return fromClient(client, queueName, opts)
}

// NewFromConnectionString returns the queue queueName (DefaultQueueName when
// empty) in the namespace of a connection string (the ServiceBusConnection
// setting). It connects lazily.
func NewFromConnectionString(connectionString, queueName string, opts *Options) (*Queue, error) {
	if connectionString == "" {
		return nil, errors.New("service bus: empty connection string")
	}
	var copts *azservicebus.ClientOptions
	if opts != nil {
		copts = opts.ClientOptions
	}
	client, err := azservicebus.NewClientFromConnectionString(connectionString, copts)
	if err != nil {
		// The SDK's parse errors name a missing key or the endpoint, never
		// the key itself.
		return nil, fmt.Errorf("service bus connection string: %w", err)
	}
	return fromClient(client, queueName, opts)
}

func fromClient(client *azservicebus.Client, queueName string, opts *Options) (*Queue, error) {
	if queueName == "" {
		queueName = DefaultQueueName
	}
	s, err := client.NewSender(queueName, nil)
	if err != nil {
		_ = client.Close(context.Background())
		return nil, fmt.Errorf("service bus queue %s: sender: %w", queueName, err)
	}
	// The dead-letter sub-queue of a session-enabled queue is not itself
	// session-enabled: it is read with an ordinary receiver.
	r, err := client.NewReceiverForQueue(queueName, &azservicebus.ReceiverOptions{
		ReceiveMode: azservicebus.ReceiveModePeekLock,
		SubQueue:    azservicebus.SubQueueDeadLetter,
	})
	if err != nil {
		_ = s.Close(context.Background())
		_ = client.Close(context.Background())
		return nil, fmt.Errorf("service bus queue %s: dead-letter receiver: %w", queueName, err)
	}
	q := newQueue[*azservicebus.MessageBatch](queueName, s, r, opts)
	q.closers = append(q.closers, client.Close)
	return q, nil
}

// newQueue assembles a Queue from its parts; tests call it with fakes.
func newQueue[B messageBatch](name string, s sender[B], dlq deadLetterReceiver, opts *Options) *Queue {
	if opts == nil {
		opts = &Options{}
	}
	q := &Queue{
		name:        name,
		log:         opts.Logger,
		receiveWait: opts.ReceiveWait,
		dlq:         dlq,
		closers:     []func(context.Context) error{dlq.Close, s.Close},
	}
	if q.log == nil {
		q.log = slog.Default()
	}
	if q.receiveWait <= 0 {
		q.receiveWait = 5 * time.Second
	}
	oneSession := opts.OneSessionPerBatch
	group := func(msgs []*azservicebus.Message) []*azservicebus.Message {
		if !oneSession {
			return msgs
		}
		return bySession(msgs)
	}
	q.send = func(ctx context.Context, msgs []*azservicebus.Message) error {
		return inBatches(ctx, s, group(msgs), oneSession, func(ctx context.Context, b B, _ []*azservicebus.Message) error {
			return s.SendMessageBatch(ctx, b, nil)
		})
	}
	q.schedule = func(ctx context.Context, at time.Time, msgs []*azservicebus.Message) error {
		// ScheduleMessages sends its messages in one management request,
		// which has the size limit of a batch: a batch measures the chunks.
		return inBatches(ctx, s, group(msgs), oneSession, func(ctx context.Context, _ B, chunk []*azservicebus.Message) error {
			_, err := s.ScheduleMessages(ctx, chunk, at, nil)
			return err
		})
	}
	return q
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// Enqueue sends msgs in as few batches as the queue's size limit and
// Service Bus's 4,500 messages a batch allow. A message with a ScheduledAt
// is sent with that scheduled enqueue time.
func (q *Queue) Enqueue(ctx context.Context, msgs ...queue.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	out := make([]*azservicebus.Message, len(msgs))
	scheduled := int64(0)
	for i, m := range msgs {
		out[i] = toSDK(m)
		if !m.ScheduledAt.IsZero() {
			out[i].ScheduledEnqueueTime = &msgs[i].ScheduledAt
			scheduled++
		}
	}
	if err := q.send(ctx, out); err != nil {
		return fmt.Errorf("enqueue to %s: %w", q.name, err)
	}
	q.enqueued.Add(int64(len(msgs)))
	q.scheduled.Add(scheduled)
	return nil
}

// Schedule sends msgs with ScheduleMessages to become visible at at.
func (q *Queue) Schedule(ctx context.Context, at time.Time, msgs ...queue.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	out := make([]*azservicebus.Message, len(msgs))
	for i, m := range msgs {
		out[i] = toSDK(m)
	}
	if err := q.schedule(ctx, at, out); err != nil {
		return fmt.Errorf("schedule on %s at %s: %w", q.name, at.UTC().Format(time.RFC3339), err)
	}
	q.enqueued.Add(int64(len(msgs)))
	q.scheduled.Add(int64(len(msgs)))
	return nil
}

// Counters returns what the queue sent since it was made. Only Enqueued,
// Scheduled and Resubmitted apply to a sender.
func (q *Queue) Counters() queue.Counters {
	return queue.Counters{
		Enqueued:    q.enqueued.Load(),
		Scheduled:   q.scheduled.Load(),
		Resubmitted: q.resubmitted.Load(),
	}
}

// Close closes the dead-letter receiver, the sender and the client.
func (q *Queue) Close(ctx context.Context) error {
	var errs []error
	for _, c := range q.closers {
		if err := c(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close service bus queue %s: %w", q.name, err)
	}
	return nil
}

// toSDK converts a message, giving it a random id when it has none, so that
// the id is known before sending (and the same if the caller retries).
func toSDK(m queue.Message) *azservicebus.Message {
	id := m.ID
	if id == "" {
		id = uuid.NewString()
	}
	out := &azservicebus.Message{
		MessageID: &id,
		Body:      m.Body,
	}
	if m.SessionID != "" {
		sid := m.SessionID
		out.SessionID = &sid
	}
	if m.ContentType != "" {
		ct := m.ContentType
		out.ContentType = &ct
	}
	if len(m.Properties) > 0 {
		out.ApplicationProperties = make(map[string]any, len(m.Properties))
		for k, v := range m.Properties {
			out.ApplicationProperties[k] = v
		}
	}
	return out
}

// bySession returns msgs grouped by session, keeping the order of each
// session's messages.
func bySession(msgs []*azservicebus.Message) []*azservicebus.Message {
	out := slices.Clone(msgs)
	slices.SortStableFunc(out, func(a, b *azservicebus.Message) int {
		return strings.Compare(sessionOf(a), sessionOf(b))
	})
	return out
}

func sessionOf(m *azservicebus.Message) string {
	if m.SessionID == nil {
		return ""
	}
	return *m.SessionID
}

// inBatches adds msgs to batches from s, calling flush with each full batch
// and the messages in it, and a last time with the rest. A batch is full
// when the next message does not fit in its size limit, when it holds
// maxBatchMessages, or, with oneSession, when the next message is of another
// session. A message that does not fit in an empty batch is an error
// wrapping queue.ErrMessageTooLarge; nothing after it is sent.
func inBatches[B messageBatch](ctx context.Context, s sender[B], msgs []*azservicebus.Message, oneSession bool, flush func(context.Context, B, []*azservicebus.Message) error) error {
	var (
		batch   B
		open    bool
		inBatch []*azservicebus.Message
		done    int
	)
	newBatch := func() error {
		b, err := s.NewMessageBatch(ctx, nil)
		if err != nil {
			return fmt.Errorf("new message batch (%d of %d messages sent): %w", done, len(msgs), err)
		}
		batch, open, inBatch = b, true, nil
		return nil
	}
	send := func() error {
		if err := flush(ctx, batch, inBatch); err != nil {
			return fmt.Errorf("send batch of %d messages (%d of %d sent before): %w", len(inBatch), done, len(msgs), err)
		}
		done += len(inBatch)
		open = false
		return nil
	}
	for _, m := range msgs {
		if open && (len(inBatch) >= maxBatchMessages ||
			(oneSession && len(inBatch) > 0 && sessionOf(m) != sessionOf(inBatch[0]))) {
			if err := send(); err != nil {
				return err
			}
		}
		if !open {
			if err := newBatch(); err != nil {
				return err
			}
		}
		err := batch.AddMessage(m, nil)
		if errors.Is(err, azservicebus.ErrMessageTooLarge) && len(inBatch) > 0 {
			if err := send(); err != nil {
				return err
			}
			if err := newBatch(); err != nil {
				return err
			}
			err = batch.AddMessage(m, nil)
		}
		if errors.Is(err, azservicebus.ErrMessageTooLarge) {
			return fmt.Errorf("message %s of %d bytes (%d of %d messages sent): %w", *m.MessageID, len(m.Body), done, len(msgs), queue.ErrMessageTooLarge)
		}
		if err != nil {
			return fmt.Errorf("add message %s to batch: %w", *m.MessageID, err)
		}
		inBatch = append(inBatch, m)
	}
	if open && len(inBatch) > 0 {
		return send()
	}
	return nil
}
