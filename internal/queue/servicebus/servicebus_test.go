package servicebus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/tenantsync/tenantsync/internal/queue"
)

func newTestQueue(s *fakeSender, d *fakeDeadLetters) *Queue {
	return newQueue[*fakeBatch]("changes", s, d, &Options{ReceiveWait: 100 * time.Millisecond})
}

func messages(bodySizes ...int) []queue.Message {
	out := make([]queue.Message, len(bodySizes))
	for i, n := range bodySizes {
		out[i] = queue.Message{ID: fmt.Sprintf("m%d", i), SessionID: fmt.Sprintf("s%d", i%3), Body: make([]byte, n)}
	}
	return out
}

func repeat(n, size int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = size
	}
	return out
}

func TestEnqueueSplitsIntoBatches(t *testing.T) {
	tests := []struct {
		name     string
		maxBytes int
		bodies   []int
		batches  []int // messages per batch sent
		tooLarge bool
	}{
		{name: "nothing", maxBytes: 1000, bodies: nil, batches: nil},
		{name: "one batch", maxBytes: 10000, bodies: repeat(10, 100), batches: []int{10}},
		{name: "split by size", maxBytes: 3000, bodies: repeat(10, 900), batches: []int{3, 3, 3, 1}},
		{name: "exactly full", maxBytes: 2000, bodies: repeat(4, 900), batches: []int{2, 2}},
		{name: "split by count", maxBytes: 1 << 30, bodies: repeat(maxBatchMessages+1, 0), batches: []int{maxBatchMessages, 1}},
		{name: "mixed sizes", maxBytes: 3000, bodies: []int{2900, 10, 10, 2900}, batches: []int{1, 2, 1}},
		{name: "one too large", maxBytes: 3000, bodies: []int{5000}, batches: nil, tooLarge: true},
		{name: "too large after others", maxBytes: 3000, bodies: []int{10, 10, 5000, 10}, batches: []int{2}, tooLarge: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &fakeSender{j: &journal{}, maxBytes: tt.maxBytes}
			q := newTestQueue(s, newFakeDeadLetters(s.j))
			err := q.Enqueue(context.Background(), messages(tt.bodies...)...)
			if tt.tooLarge {
				if !errors.Is(err, queue.ErrMessageTooLarge) {
					t.Fatalf("Enqueue error = %v, want ErrMessageTooLarge", err)
				}
				if !strings.Contains(err.Error(), "changes") {
					t.Errorf("error %q does not name the queue", err)
				}
			} else if err != nil {
				t.Fatalf("Enqueue: %v", err)
			}
			var got []int
			for _, b := range s.sent {
				got = append(got, len(b))
			}
			if !slices.Equal(got, tt.batches) {
				t.Errorf("batches = %v, want %v", got, tt.batches)
			}
			// Order is kept across batches.
			for i, m := range s.allSent() {
				if want := fmt.Sprintf("m%d", i); *m.MessageID != want {
					t.Fatalf("message %d sent is %s, want %s", i, *m.MessageID, want)
				}
			}
			wantCount := int64(0)
			if !tt.tooLarge {
				wantCount = int64(len(tt.bodies))
			}
			if c := q.Counters(); c.Enqueued != wantCount {
				t.Errorf("Counters().Enqueued = %d, want %d", c.Enqueued, wantCount)
			}
		})
	}
}

func TestOneSessionPerBatch(t *testing.T) {
	s := &fakeSender{j: &journal{}, maxBytes: 3000}
	q := newQueue[*fakeBatch]("changes", s, newFakeDeadLetters(s.j), &Options{OneSessionPerBatch: true})
	// Sessions s0, s1, s2, s0, s1, s2, s0 (messages() cycles three sessions).
	if err := q.Enqueue(context.Background(), messages(repeat(7, 900)...)...); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range s.sent {
		var ids []string
		for _, m := range b {
			if *m.SessionID != *b[0].SessionID {
				t.Errorf("batch mixes sessions %s and %s", *b[0].SessionID, *m.SessionID)
			}
			ids = append(ids, *m.MessageID)
		}
		got = append(got, strings.Join(ids, ","))
	}
	// Each session's messages keep their order; s0's three fill one batch.
	if want := []string{"m0,m3,m6", "m1,m4", "m2,m5"}; !slices.Equal(got, want) {
		t.Errorf("batches %v, want %v", got, want)
	}
}

func TestEnqueueBuildsSDKMessages(t *testing.T) {
	s := &fakeSender{j: &journal{}, maxBytes: 1 << 20}
	q := newTestQueue(s, newFakeDeadLetters(s.j))
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	err := q.Enqueue(context.Background(),
		queue.Message{ID: "id-1", SessionID: "user-1", Body: []byte(`{"v":1}`), ContentType: "application/json",
			Properties: map[string]any{"kind": "user", "attempt": 2}},
		queue.Message{SessionID: "user-2", Body: []byte("x"), ScheduledAt: at},
	)
	if err != nil {
		t.Fatal(err)
	}
	got := s.allSent()
	if len(got) != 2 {
		t.Fatalf("sent %d messages, want 2", len(got))
	}
	m := got[0]
	if *m.MessageID != "id-1" || *m.SessionID != "user-1" || string(m.Body) != `{"v":1}` || *m.ContentType != "application/json" {
		t.Errorf("message 0 = id %q session %q body %q type %q", *m.MessageID, *m.SessionID, m.Body, *m.ContentType)
	}
	if m.ApplicationProperties["kind"] != "user" || m.ApplicationProperties["attempt"] != 2 {
		t.Errorf("properties = %v", m.ApplicationProperties)
	}
	if m.ScheduledEnqueueTime != nil {
		t.Errorf("message 0 has a scheduled enqueue time %v", *m.ScheduledEnqueueTime)
	}
	m = got[1]
	if m.MessageID == nil || len(*m.MessageID) != 36 {
		t.Errorf("message without id got id %v, want a UUID", m.MessageID)
	}
	if m.ContentType != nil {
		t.Errorf("empty content type sent as %q", *m.ContentType)
	}
	if m.ScheduledEnqueueTime == nil || !m.ScheduledEnqueueTime.Equal(at) {
		t.Errorf("ScheduledEnqueueTime = %v, want %v", m.ScheduledEnqueueTime, at)
	}
	if c := q.Counters(); c.Enqueued != 2 || c.Scheduled != 1 {
		t.Errorf("counters = %+v", c)
	}
}

func TestEnqueueWithoutSessionSendsNoSessionID(t *testing.T) {
	s := &fakeSender{j: &journal{}, maxBytes: 1 << 20}
	q := newTestQueue(s, newFakeDeadLetters(s.j))
	if err := q.Enqueue(context.Background(), queue.Message{ID: "a", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if sid := s.allSent()[0].SessionID; sid != nil {
		t.Errorf("SessionID = %q, want nil", *sid)
	}
}

func TestEnqueueSendFailureSaysWhatWasSent(t *testing.T) {
	boom := errors.New("link detached")
	s := &fakeSender{j: &journal{}, maxBytes: 3000, failSend: 2, sendErr: boom}
	q := newTestQueue(s, newFakeDeadLetters(s.j))
	err := q.Enqueue(context.Background(), messages(repeat(7, 900)...)...)
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want it to wrap %v", err, boom)
	}
	if !strings.Contains(err.Error(), "3 of 7 sent before") {
		t.Errorf("error %q does not say how many were sent", err)
	}
	if n := len(s.allSent()); n != 3 {
		t.Errorf("%d messages sent, want 3 (the first batch)", n)
	}
}

func TestScheduleUsesScheduleMessages(t *testing.T) {
	at := time.Now().Add(37 * time.Second).UTC()
	tests := []struct {
		name     string
		maxBytes int
		bodies   []int
		chunks   []int
		tooLarge bool
	}{
		{name: "one", maxBytes: 1 << 20, bodies: []int{10}, chunks: []int{1}},
		{name: "chunked by size", maxBytes: 2000, bodies: repeat(5, 900), chunks: []int{2, 2, 1}},
		{name: "too large", maxBytes: 2000, bodies: []int{10, 4000}, chunks: []int{1}, tooLarge: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &fakeSender{j: &journal{}, maxBytes: tt.maxBytes}
			q := newTestQueue(s, newFakeDeadLetters(s.j))
			msgs := messages(tt.bodies...)
			msgs[0].ScheduledAt = time.Unix(1, 0) // overridden by at
			err := q.Schedule(context.Background(), at, msgs...)
			if tt.tooLarge != errors.Is(err, queue.ErrMessageTooLarge) || (!tt.tooLarge && err != nil) {
				t.Fatalf("Schedule error = %v, too large expected: %v", err, tt.tooLarge)
			}
			if len(s.sent) != 0 {
				t.Errorf("Schedule sent %d batches through SendMessageBatch", len(s.sent))
			}
			var got []int
			for _, c := range s.scheduled {
				got = append(got, len(c.msgs))
				if !c.at.Equal(at) {
					t.Errorf("scheduled at %v, want %v", c.at, at)
				}
				for _, m := range c.msgs {
					if m.ScheduledEnqueueTime != nil {
						t.Errorf("message %s carries ScheduledEnqueueTime %v besides the call's time", *m.MessageID, *m.ScheduledEnqueueTime)
					}
				}
			}
			if !slices.Equal(got, tt.chunks) {
				t.Errorf("ScheduleMessages chunks = %v, want %v", got, tt.chunks)
			}
		})
	}
}

func deadLetter(seq int64, id, session string) *azservicebus.ReceivedMessage {
	reason, desc := "MaxDeliveryCountExceeded", "Message could not be consumed after 10 delivery attempts."
	enq := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(seq) * time.Minute)
	ct := "application/json"
	return &azservicebus.ReceivedMessage{
		MessageID:                  id,
		SessionID:                  &session,
		SequenceNumber:             &seq,
		Body:                       []byte(`{"id":"` + id + `"}`),
		ContentType:                &ct,
		DeliveryCount:              10,
		EnqueuedTime:               &enq,
		DeadLetterReason:           &reason,
		DeadLetterErrorDescription: &desc,
		ApplicationProperties: map[string]any{
			"kind":                       "user",
			"DeadLetterReason":           reason,
			"DeadLetterErrorDescription": desc,
		},
	}
}

func TestListPeeksDeadLetters(t *testing.T) {
	j := &journal{}
	var dls []*azservicebus.ReceivedMessage
	for i := int64(1); i <= 600; i++ {
		dls = append(dls, deadLetter(i, fmt.Sprintf("m%d", i), fmt.Sprintf("user-%d", i%7)))
	}
	tests := []struct {
		max, want int
	}{
		{max: 0, want: 600},
		{max: -1, want: 600},
		{max: 2, want: 2},
		{max: 251, want: 251},
		{max: 1000, want: 600},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.max), func(t *testing.T) {
			d := newFakeDeadLetters(j, dls...)
			q := newTestQueue(&fakeSender{j: j, maxBytes: 1 << 20}, d)
			got, err := q.List(context.Background(), tt.max)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("List(%d) returned %d, want %d", tt.max, len(got), tt.want)
			}
			for i, dl := range got {
				if dl.SequenceNumber != int64(i+1) {
					t.Fatalf("item %d has sequence number %d: not in order", i, dl.SequenceNumber)
				}
			}
			first := got[0]
			if first.ID != "m1" || first.SessionID != "user-1" || first.Reason != "MaxDeliveryCountExceeded" ||
				!strings.HasPrefix(first.Description, "Message could not") || first.DeliveryCount != 10 ||
				first.ContentType != "application/json" || string(first.Body) != `{"id":"m1"}` ||
				!first.EnqueuedAt.Equal(time.Date(2026, 1, 2, 3, 5, 5, 0, time.UTC)) {
				t.Errorf("first dead letter = %+v", first)
			}
			if _, ok := first.Properties["DeadLetterReason"]; ok || first.Properties["kind"] != "user" {
				t.Errorf("properties = %v, want kind without the dead-letter reason", first.Properties)
			}
			if _, locked := d.remaining(); locked != 0 {
				t.Errorf("List locked %d messages", locked)
			}
		})
	}
}

func TestResubmit(t *testing.T) {
	boom := errors.New("send failed")
	tests := []struct {
		name         string
		opts         queue.ResubmitOptions
		failSend     int
		failComplete string
		want         int
		wantErr      error
		remaining    []string
	}{
		{name: "all", opts: queue.ResubmitOptions{All: true}, want: 4},
		{name: "by id", opts: queue.ResubmitOptions{IDs: []string{"m2", "m4"}}, want: 2, remaining: []string{"m1", "m3"}},
		{name: "unknown id", opts: queue.ResubmitOptions{IDs: []string{"nope"}}, want: 0, remaining: []string{"m1", "m2", "m3", "m4"}},
		{name: "send fails", opts: queue.ResubmitOptions{All: true}, failSend: 1, wantErr: boom, want: 0, remaining: []string{"m1", "m2", "m3", "m4"}},
		{name: "complete fails", opts: queue.ResubmitOptions{All: true}, failComplete: "m3", wantErr: errors.New("any"), want: 2, remaining: []string{"m3", "m4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &journal{}
			d := newFakeDeadLetters(j,
				deadLetter(11, "m1", "user-a"), deadLetter(12, "m2", "user-b"),
				deadLetter(13, "m3", "user-a"), deadLetter(14, "m4", "user-c"))
			d.failComplete = tt.failComplete
			s := &fakeSender{j: j, maxBytes: 1 << 20, failSend: tt.failSend, sendErr: boom}
			q := newTestQueue(s, d)

			n, err := q.Resubmit(context.Background(), tt.opts)
			if (err != nil) != (tt.wantErr != nil) || (tt.wantErr == boom && !errors.Is(err, boom)) {
				t.Fatalf("Resubmit error = %v, want %v", err, tt.wantErr)
			}
			if n != tt.want {
				t.Errorf("Resubmit = %d, want %d", n, tt.want)
			}
			rem, locked := d.remaining()
			if !slices.Equal(rem, tt.remaining) {
				t.Errorf("dead letters left = %v, want %v", rem, tt.remaining)
			}
			if locked != 0 {
				t.Errorf("%d dead letters left locked, want all released", locked)
			}
			if c := q.Counters(); c.Resubmitted != int64(tt.want) {
				t.Errorf("Counters().Resubmitted = %d, want %d", c.Resubmitted, tt.want)
			}

			// Every completion comes after the send of its copy.
			events := j.list()
			for i, e := range events {
				id, ok := strings.CutPrefix(e, "complete ")
				if !ok {
					continue
				}
				seq := map[string]int64{"m1": 11, "m2": 12, "m3": 13, "m4": 14}[id]
				if !slices.Contains(events[:i], "send "+queue.ResubmitID(id, seq)) {
					t.Errorf("dead letter %s completed before its copy was sent: %v", id, events)
				}
			}
		})
	}
}

func TestResubmitCopies(t *testing.T) {
	j := &journal{}
	d := newFakeDeadLetters(j, deadLetter(42, "orig", "user-9"))
	s := &fakeSender{j: j, maxBytes: 1 << 20}
	q := newTestQueue(s, d)
	if _, err := q.Resubmit(context.Background(), queue.ResubmitOptions{IDs: []string{"orig"}}); err != nil {
		t.Fatal(err)
	}
	sent := s.allSent()
	if len(sent) != 1 {
		t.Fatalf("sent %d copies, want 1", len(sent))
	}
	c := sent[0]
	if *c.MessageID != "orig+dlq42" || *c.SessionID != "user-9" || string(c.Body) != `{"id":"orig"}` || *c.ContentType != "application/json" {
		t.Errorf("copy = id %q session %q body %q", *c.MessageID, *c.SessionID, c.Body)
	}
	if c.ApplicationProperties["kind"] != "user" || c.ApplicationProperties[queue.PropertyResubmittedFrom] != "orig" {
		t.Errorf("copy properties = %v", c.ApplicationProperties)
	}
	for _, k := range []string{"DeadLetterReason", "DeadLetterErrorDescription"} {
		if _, ok := c.ApplicationProperties[k]; ok {
			t.Errorf("copy keeps %s", k)
		}
	}
}

func TestResubmitStopsAtItsOwnCopies(t *testing.T) {
	// A copy that is dead-lettered again while Resubmit runs must not be
	// resubmitted in a loop.
	j := &journal{}
	d := newFakeDeadLetters(j, deadLetter(1, "m1", "u"))
	s := &fakeSender{j: j, maxBytes: 1 << 20}
	s.onSend = func(m *azservicebus.Message) { d.add(deadLetter(2, *m.MessageID, "u")) }
	q := newTestQueue(s, d)
	n, err := q.Resubmit(context.Background(), queue.ResubmitOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("Resubmit = %d, want 1", n)
	}
	if rem, locked := d.remaining(); !slices.Equal(rem, []string{"m1+dlq1"}) || locked != 0 {
		t.Errorf("left %v (%d locked), want the copy, unlocked", rem, locked)
	}
}

func TestResubmitEmptyReturnsAfterWait(t *testing.T) {
	j := &journal{}
	q := newTestQueue(&fakeSender{j: j, maxBytes: 1 << 20}, newFakeDeadLetters(j))
	start := time.Now()
	n, err := q.Resubmit(context.Background(), queue.ResubmitOptions{All: true})
	if err != nil || n != 0 {
		t.Fatalf("Resubmit = %d, %v; want 0, nil", n, err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Resubmit on an empty sub-queue took %v", el)
	}
}

func TestResubmitCancelled(t *testing.T) {
	j := &journal{}
	q := newQueue[*fakeBatch]("changes", &fakeSender{j: j, maxBytes: 1 << 20}, newFakeDeadLetters(j), &Options{ReceiveWait: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := q.Resubmit(ctx, queue.ResubmitOptions{All: true}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Resubmit error = %v, want the caller's deadline", err)
	}
}

func TestResubmitNeedsAChoice(t *testing.T) {
	j := &journal{}
	q := newTestQueue(&fakeSender{j: j, maxBytes: 1 << 20}, newFakeDeadLetters(j, deadLetter(1, "m1", "u")))
	for _, opts := range []queue.ResubmitOptions{{}, {All: true, IDs: []string{"m1"}}} {
		if _, err := q.Resubmit(context.Background(), opts); err == nil {
			t.Errorf("Resubmit(%+v) succeeded", opts)
		}
	}
}

func TestCloseClosesParts(t *testing.T) {
	j := &journal{}
	s := &fakeSender{j: j}
	d := newFakeDeadLetters(j)
	if err := newTestQueue(s, d).Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !s.closed || !d.closed {
		t.Errorf("sender closed %v, receiver closed %v", s.closed, d.closed)
	}
}

type staticCredential struct{}

func (staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "t", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestConstructors(t *testing.T) {
	const key = "c2VjcmV0LWtleS12YWx1ZQ=="
	tests := []struct {
		name    string
		open    func() (*Queue, error)
		wantErr bool
	}{
		{name: "namespace", open: func() (*Queue, error) {
			return New("tenantsync.servicebus.windows.net", staticCredential{}, "", nil)
		}},
		{name: "connection string", open: func() (*Queue, error) {
			return NewFromConnectionString("Endpoint=sb://tenantsync.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey="+key, "q2", nil)
		}},
		{name: "no namespace", open: func() (*Queue, error) { return New("", staticCredential{}, "", nil) }, wantErr: true},
		{name: "no credential", open: func() (*Queue, error) { return New("ns.servicebus.windows.net", nil, "", nil) }, wantErr: true},
		{name: "empty connection string", open: func() (*Queue, error) { return NewFromConnectionString("", "", nil) }, wantErr: true},
		{name: "bad connection string", open: func() (*Queue, error) {
			return NewFromConnectionString("SharedAccessKeyName=send;SharedAccessKey="+key, "", nil)
		}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := tt.open()
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				if strings.Contains(err.Error(), key) {
					t.Errorf("error %q repeats the key", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.name == "namespace" && q.Name() != DefaultQueueName {
				t.Errorf("Name() = %q, want the default", q.Name())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := q.Close(ctx); err != nil {
				t.Errorf("Close of a queue that never connected: %v", err)
			}
		})
	}
}
