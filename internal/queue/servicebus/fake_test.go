package servicebus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// fakeBatch is a message batch with the contract of *azservicebus.MessageBatch:
// AddMessage refuses, with azservicebus.ErrMessageTooLarge, a message that
// would take it over its size limit. A message's size is its body plus a
// fixed overhead for its properties.
type fakeBatch struct {
	maxBytes int
	size     int
	msgs     []*azservicebus.Message
}

const fakeOverhead = 100

func (b *fakeBatch) AddMessage(m *azservicebus.Message, _ *azservicebus.AddMessageOptions) error {
	n := len(m.Body) + fakeOverhead
	if b.size+n > b.maxBytes {
		return azservicebus.ErrMessageTooLarge
	}
	b.size += n
	b.msgs = append(b.msgs, m)
	return nil
}

func (b *fakeBatch) NumMessages() int32 { return int32(len(b.msgs)) }

// journal records the calls made to the fakes, in order, across sender and
// receiver, so that tests can check what happened before what.
type journal struct {
	mu     sync.Mutex
	events []string
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	j.events = append(j.events, fmt.Sprintf(format, args...))
	j.mu.Unlock()
}

func (j *journal) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.events...)
}

// fakeSender stands in for *azservicebus.Sender.
type fakeSender struct {
	j        *journal
	maxBytes int

	mu        sync.Mutex
	sent      [][]*azservicebus.Message // one slice per batch sent
	scheduled []scheduledCall
	sends     int
	// failSend, when > 0, makes the failSend-th SendMessageBatch fail.
	failSend int
	sendErr  error
	// onSend, when set, is called with each message sent.
	onSend func(*azservicebus.Message)
	closed bool
}

type scheduledCall struct {
	at   time.Time
	msgs []*azservicebus.Message
}

var _ sender[*fakeBatch] = (*fakeSender)(nil)

func (s *fakeSender) NewMessageBatch(context.Context, *azservicebus.MessageBatchOptions) (*fakeBatch, error) {
	return &fakeBatch{maxBytes: s.maxBytes}, nil
}

func (s *fakeSender) SendMessageBatch(_ context.Context, b *fakeBatch, _ *azservicebus.SendMessageBatchOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sends++
	if s.failSend > 0 && s.sends == s.failSend {
		return s.sendErr
	}
	s.sent = append(s.sent, b.msgs)
	for _, m := range b.msgs {
		s.j.add("send %s", *m.MessageID)
		if s.onSend != nil {
			s.onSend(m)
		}
	}
	return nil
}

func (s *fakeSender) ScheduleMessages(_ context.Context, msgs []*azservicebus.Message, at time.Time, _ *azservicebus.ScheduleMessagesOptions) ([]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scheduled = append(s.scheduled, scheduledCall{at: at, msgs: msgs})
	seqs := make([]int64, len(msgs))
	for i := range msgs {
		seqs[i] = int64(i + 1)
	}
	return seqs, nil
}

func (s *fakeSender) Close(context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

func (s *fakeSender) allSent() []*azservicebus.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*azservicebus.Message
	for _, b := range s.sent {
		out = append(out, b...)
	}
	return out
}

// fakeDeadLetters stands in for a *azservicebus.Receiver on a dead-letter
// sub-queue, with peek-lock semantics: a received message is locked until
// completed or abandoned; abandoning raises its delivery count.
type fakeDeadLetters struct {
	j *journal

	mu       sync.Mutex
	msgs     []*fakeDL // in sequence order
	locked   map[*azservicebus.ReceivedMessage]*fakeDL
	receives int
	// failComplete, when set, fails CompleteMessage for this message id.
	failComplete string
	closed       bool
}

type fakeDL struct {
	m         *azservicebus.ReceivedMessage
	locked    bool
	completed bool
}

func newFakeDeadLetters(j *journal, msgs ...*azservicebus.ReceivedMessage) *fakeDeadLetters {
	d := &fakeDeadLetters{j: j, locked: map[*azservicebus.ReceivedMessage]*fakeDL{}}
	for _, m := range msgs {
		d.msgs = append(d.msgs, &fakeDL{m: m})
	}
	return d
}

var _ deadLetterReceiver = (*fakeDeadLetters)(nil)

// add dead-letters m.
func (d *fakeDeadLetters) add(m *azservicebus.ReceivedMessage) {
	d.mu.Lock()
	d.msgs = append(d.msgs, &fakeDL{m: m})
	d.mu.Unlock()
}

func (d *fakeDeadLetters) PeekMessages(_ context.Context, n int, opts *azservicebus.PeekMessagesOptions) ([]*azservicebus.ReceivedMessage, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	from := int64(0)
	if opts != nil && opts.FromSequenceNumber != nil {
		from = *opts.FromSequenceNumber
	}
	var out []*azservicebus.ReceivedMessage
	for _, x := range d.msgs {
		if !x.completed && *x.m.SequenceNumber >= from && len(out) < n {
			c := *x.m
			out = append(out, &c)
		}
	}
	return out, nil
}

// ReceiveMessages blocks, as the SDK does, until a message is available or
// ctx is done.
func (d *fakeDeadLetters) ReceiveMessages(ctx context.Context, n int, _ *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error) {
	for {
		d.mu.Lock()
		d.receives++
		var out []*azservicebus.ReceivedMessage
		for _, x := range d.msgs {
			if !x.completed && !x.locked && len(out) < n {
				x.locked = true
				c := *x.m
				d.locked[&c] = x
				out = append(out, &c)
			}
		}
		d.mu.Unlock()
		if len(out) > 0 {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (d *fakeDeadLetters) CompleteMessage(_ context.Context, m *azservicebus.ReceivedMessage, _ *azservicebus.CompleteMessageOptions) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	x, ok := d.locked[m]
	if !ok || !x.locked {
		return errors.New("fake: message lock lost")
	}
	if d.failComplete == m.MessageID {
		return errors.New("fake: complete failed")
	}
	delete(d.locked, m)
	x.locked, x.completed = false, true
	d.j.add("complete %s", m.MessageID)
	return nil
}

func (d *fakeDeadLetters) AbandonMessage(_ context.Context, m *azservicebus.ReceivedMessage, _ *azservicebus.AbandonMessageOptions) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	x, ok := d.locked[m]
	if !ok || !x.locked {
		return errors.New("fake: message lock lost")
	}
	delete(d.locked, m)
	x.locked = false
	x.m.DeliveryCount++
	d.j.add("abandon %s", m.MessageID)
	return nil
}

func (d *fakeDeadLetters) Close(context.Context) error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	return nil
}

// remaining returns the ids of the dead letters not completed, and how many
// are still locked.
func (d *fakeDeadLetters) remaining() (ids []string, locked int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, x := range d.msgs {
		if !x.completed {
			ids = append(ids, x.m.MessageID)
			if x.locked {
				locked++
			}
		}
	}
	return ids, locked
}
