package servicebus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/tenantsync/tenantsync/internal/queue"
)

const (
	// peekPage is how many dead letters List asks for per request.
	peekPage = 250
	// receivePage is how many dead letters Resubmit locks per request.
	receivePage = 100
	// maxEmptyReceives is how many times in a row Resubmit accepts an empty
	// answer without a timeout (the SDK's answer while it recovers a link)
	// before it gives up.
	maxEmptyReceives = 3
)

// Service Bus application properties that carry the dead-letter reason;
// a resubmitted copy leaves them behind.
const (
	propDeadLetterReason      = "DeadLetterReason"
	propDeadLetterDescription = "DeadLetterErrorDescription"
)

// List peeks at up to max dead letters (all when max <= 0), oldest first,
// without locking them.
func (q *Queue) List(ctx context.Context, max int) ([]queue.DeadLetter, error) {
	q.dlqMu.Lock()
	defer q.dlqMu.Unlock()
	var out []queue.DeadLetter
	from := int64(0)
	for max <= 0 || len(out) < max {
		n := peekPage
		if max > 0 && max-len(out) < n {
			n = max - len(out)
		}
		start := from
		msgs, err := q.dlq.PeekMessages(ctx, n, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &start})
		if err != nil {
			return out, fmt.Errorf("peek dead letters of %s from sequence number %d: %w", q.name, start, err)
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			out = append(out, fromReceived(m))
			if m.SequenceNumber != nil && *m.SequenceNumber >= from {
				from = *m.SequenceNumber + 1
			}
		}
		if from == start {
			// No sequence numbers to page on: stop rather than loop.
			break
		}
	}
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out, nil
}

// Resubmit receives the chosen dead letters under a peek-lock, sends a copy
// of each to the main queue, and then completes the dead letter. Dead letters
// it locked but did not choose are abandoned at the end (which raises their
// delivery count, harmlessly, in the dead-letter sub-queue).
//
// It stops when the sub-queue gives nothing for Options.ReceiveWait, when it
// meets a message it has already seen (a lock that lapsed, or a copy it sent
// that was dead-lettered again), or, with IDs, when it has found each id.
func (q *Queue) Resubmit(ctx context.Context, opts queue.ResubmitOptions) (int, error) {
	if opts.All == (len(opts.IDs) > 0) {
		return 0, errors.New("resubmit: give either message ids or All")
	}
	want := make(map[string]bool, len(opts.IDs))
	for _, id := range opts.IDs {
		want[id] = false
	}
	found := 0

	q.dlqMu.Lock()
	defer q.dlqMu.Unlock()

	var held []*azservicebus.ReceivedMessage
	defer func() { q.release(ctx, held) }()

	seen := map[int64]bool{}
	sent := map[string]bool{}
	n, empty := 0, 0
	for {
		rctx, cancel := context.WithTimeout(ctx, q.receiveWait)
		msgs, err := q.dlq.ReceiveMessages(rctx, receivePage, nil)
		cancel()
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				return n, nil // drained
			}
			return n, fmt.Errorf("resubmit: receive dead letters of %s (%d resubmitted): %w", q.name, n, err)
		}
		if len(msgs) == 0 {
			if empty++; empty >= maxEmptyReceives {
				return n, nil
			}
			continue
		}
		empty = 0

		var pick []*azservicebus.ReceivedMessage
		stop := false
		for _, m := range msgs {
			seq := int64(-1)
			if m.SequenceNumber != nil {
				seq = *m.SequenceNumber
			}
			if seen[seq] || sent[m.MessageID] {
				held = append(held, m)
				stop = true
				continue
			}
			seen[seq] = true
			if opts.All {
				pick = append(pick, m)
				continue
			}
			if done, ok := want[m.MessageID]; ok {
				if !done {
					want[m.MessageID] = true
					found++
				}
				pick = append(pick, m)
				continue
			}
			held = append(held, m)
		}

		if len(pick) > 0 {
			copies := make([]*azservicebus.Message, len(pick))
			for i, m := range pick {
				copies[i] = resubmitCopy(m)
				sent[*copies[i].MessageID] = true
			}
			// Send first, complete after: a failure in between leaves the
			// dead letter in place and a copy in the queue (a duplicate,
			// which tenantsync tolerates), never neither.
			if err := q.send(ctx, copies); err != nil {
				held = append(held, pick...)
				return n, fmt.Errorf("resubmit: send copies of %d dead letters to %s (%d resubmitted before): %w", len(pick), q.name, n, err)
			}
			for i, m := range pick {
				if err := q.dlq.CompleteMessage(ctx, m, nil); err != nil {
					held = append(held, pick[i:]...)
					return n, fmt.Errorf("resubmit: complete dead letter %s after sending its copy (%d resubmitted): %w", m.MessageID, n, err)
				}
				n++
				q.resubmitted.Add(1)
				q.log.DebugContext(ctx, "dead letter resubmitted", "queue", q.name, "messageId", m.MessageID, "copyId", *copies[i].MessageID, "sessionId", deref(m.SessionID))
			}
		}
		if stop || (!opts.All && found == len(want)) {
			return n, nil
		}
	}
}

// release abandons the dead letters Resubmit locked but did not resubmit, so
// that they are visible again at once rather than when their lock lapses.
func (q *Queue) release(ctx context.Context, msgs []*azservicebus.ReceivedMessage) {
	if len(msgs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for _, m := range msgs {
		if err := q.dlq.AbandonMessage(ctx, m, nil); err != nil {
			// The lock lapses by itself; nothing is lost.
			q.log.DebugContext(ctx, "abandon dead letter", "queue", q.name, "messageId", m.MessageID, "err", err)
		}
	}
}

// resubmitCopy returns the message to send back for a dead letter: the same
// body, session and properties, without the dead-letter reason, under a new
// id derived from the old one and its sequence number.
func resubmitCopy(m *azservicebus.ReceivedMessage) *azservicebus.Message {
	seq := int64(0)
	if m.SequenceNumber != nil {
		seq = *m.SequenceNumber
	}
	id := queue.ResubmitID(m.MessageID, seq)
	props := make(map[string]any, len(m.ApplicationProperties)+1)
	for k, v := range m.ApplicationProperties {
		if k == propDeadLetterReason || k == propDeadLetterDescription {
			continue
		}
		props[k] = v
	}
	props[queue.PropertyResubmittedFrom] = m.MessageID
	return &azservicebus.Message{
		MessageID:             &id,
		SessionID:             m.SessionID,
		Body:                  m.Body,
		ContentType:           m.ContentType,
		CorrelationID:         m.CorrelationID,
		Subject:               m.Subject,
		ApplicationProperties: props,
	}
}

// fromReceived converts a peeked dead letter.
func fromReceived(m *azservicebus.ReceivedMessage) queue.DeadLetter {
	d := queue.DeadLetter{
		ID:            m.MessageID,
		SessionID:     deref(m.SessionID),
		Reason:        deref(m.DeadLetterReason),
		Description:   deref(m.DeadLetterErrorDescription),
		DeliveryCount: int(m.DeliveryCount),
		Body:          m.Body,
		ContentType:   deref(m.ContentType),
	}
	if m.SequenceNumber != nil {
		d.SequenceNumber = *m.SequenceNumber
	}
	if m.EnqueuedTime != nil {
		d.EnqueuedAt = *m.EnqueuedTime
	}
	if len(m.ApplicationProperties) > 0 {
		d.Properties = make(map[string]any, len(m.ApplicationProperties))
		for k, v := range m.ApplicationProperties {
			if k == propDeadLetterReason || k == propDeadLetterDescription {
				continue
			}
			d.Properties[k] = v
		}
	}
	return d
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
