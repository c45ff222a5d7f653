package embedded

import (
	"container/heap"
	"slices"
	"time"
)

// entry is what the in-memory index keeps of a stored message; the record
// itself stays in bbolt and is read at delivery.
type entry struct {
	seq       uint64
	session   string
	visibleAt time.Time
}

// before orders messages for delivery within a session: by the time they
// became visible (enqueued, or scheduled for), then by sequence number. The
// same order is rebuilt from the file after a restart.
func (e entry) before(o entry) bool {
	if !e.visibleAt.Equal(o.visibleAt) {
		return e.visibleAt.Before(o.visibleAt)
	}
	return e.seq < o.seq
}

// session is the visible messages of one session and the lease, if any, of
// the consumer that holds it.
type session struct {
	id      string
	msgs    []entry // in delivery order; the leased message is among them
	lease   *lease
	inReady bool
}

// index is the queue's in-memory view: sessions with their visible messages,
// the sessions ready to be taken, and the scheduled messages not visible yet.
// The Queue's mutex guards it.
type index struct {
	sessions  map[string]*session
	ready     []*session // FIFO of sessions with a visible message and no lease
	scheduled entryHeap
	visible   int
}

func newIndex() index {
	return index{sessions: map[string]*session{}}
}

// add puts e in the index: visible now, or scheduled.
func (x *index) add(e entry, now time.Time) {
	if e.visibleAt.After(now) {
		heap.Push(&x.scheduled, e)
		return
	}
	x.addVisible(e)
}

func (x *index) addVisible(e entry) {
	s := x.sessions[e.session]
	if s == nil {
		s = &session{id: e.session}
		x.sessions[e.session] = s
	}
	i := len(s.msgs)
	for i > 0 && e.before(s.msgs[i-1]) {
		i--
	}
	s.msgs = slices.Insert(s.msgs, i, e)
	x.visible++
	x.markReady(s)
}

// markReady queues s to be taken if it has a visible message and no lease.
func (x *index) markReady(s *session) {
	if s.lease == nil && !s.inReady && len(s.msgs) > 0 && x.sessions[s.id] == s {
		s.inReady = true
		x.ready = append(x.ready, s)
	}
}

// take returns the session that has waited longest with a visible message
// and no lease, or nil.
func (x *index) take() *session {
	for len(x.ready) > 0 {
		s := x.ready[0]
		x.ready[0] = nil
		x.ready = x.ready[1:]
		s.inReady = false
		if s.lease == nil && len(s.msgs) > 0 && x.sessions[s.id] == s {
			return s
		}
	}
	return nil
}

// remove drops message seq of session id, if the index has it.
func (x *index) remove(id string, seq uint64) {
	s := x.sessions[id]
	if s == nil {
		return
	}
	for i, e := range s.msgs {
		if e.seq == seq {
			s.msgs = slices.Delete(s.msgs, i, i+1)
			x.visible--
			break
		}
	}
	x.dropIfIdle(s)
}

// unlease ends l's hold on its session, if it still has it, and makes the
// session ready again.
func (x *index) unlease(l *lease) {
	s := x.sessions[l.session]
	if s == nil || s.lease != l {
		return
	}
	s.lease = nil
	x.markReady(s)
	x.dropIfIdle(s)
}

func (x *index) dropIfIdle(s *session) {
	if len(s.msgs) == 0 && s.lease == nil && x.sessions[s.id] == s {
		delete(x.sessions, s.id)
	}
}

// promote makes visible the scheduled messages due at now.
func (x *index) promote(now time.Time) {
	for len(x.scheduled) > 0 && !x.scheduled[0].visibleAt.After(now) {
		x.addVisible(heap.Pop(&x.scheduled).(entry))
	}
}

// nextDue returns when the next scheduled message becomes visible.
func (x *index) nextDue() (time.Time, bool) {
	if len(x.scheduled) == 0 {
		return time.Time{}, false
	}
	return x.scheduled[0].visibleAt, true
}

// entryHeap is a min-heap of entries by visibility time.
type entryHeap []entry

func (h entryHeap) Len() int           { return len(h) }
func (h entryHeap) Less(i, j int) bool { return h[i].before(h[j]) }
func (h entryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *entryHeap) Push(x any)        { *h = append(*h, x.(entry)) }
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
