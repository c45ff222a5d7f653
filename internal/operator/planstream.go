package operator

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/tenantsync/tenantsync/internal/engine"
)

// streamWidths are the least widths of a streamed plan's columns (action,
// user, target id): "held deprovision", a common userPrincipalName, a
// GUID. A longer value pushes its row's reason along; rows cannot be
// aligned on rows that are not decided yet.
var streamWidths = []int{18, 32, 36}

// PlanStream writes a plan for people as it is made, so that a plan of a
// large tenant (minutes of reading at 250,000 users) shows at once what it
// does and then each action as soon as it is decided:
//
//   - first, at once, the targets planned and that nothing is written;
//   - while both tenants are read, what has been read so far, on the
//     progress writer (redrawn in place on a terminal, a line every few
//     seconds elsewhere);
//   - per target, a table of its actions in the order the source lists the
//     users, each with its attribute changes beneath it, then the
//     deprovisions, which the deletion guard's burst rule can hold only
//     once the whole target is decided, with those it would hold; then the
//     target's summary line (the counts WritePlan shows first), its
//     conflicts, drift, skips and groups, as WritePlan writes them;
//   - the total over several targets, and that it was a dry run.
//
// WritePlan writes the same plan sorted, once it is complete.
type PlanStream struct {
	w     io.Writer
	read  *readProgress
	mu    sync.Mutex
	table map[string]bool // targets whose table header is written
	err   error           // the first write error
}

// NewPlanStream writes the plan's first line to w and returns the stream;
// progress (nil for none) is where reading is shown.
func NewPlanStream(w, progress io.Writer, terminal bool, targets []string) *PlanStream {
	s := &PlanStream{w: w, table: map[string]bool{}}
	_, s.err = fmt.Fprintf(w, "Planning %s: a dry run, nothing is written. Reading both tenants…\n", strings.Join(targets, ", "))
	if progress != nil {
		s.read = startReadProgress(progress, terminal)
	}
	return s
}

// Options are the engine's plan options that feed the stream.
func (s *PlanStream) Options() engine.PlanOptions {
	return engine.PlanOptions{Read: s.onRead, Decided: s.onDecided, TargetDone: s.onTargetDone}
}

func (s *PlanStream) onRead(p engine.ReadProgress) {
	if s.read != nil {
		s.read.set(p)
	}
}

// startTable ends the reading line and writes the target's table header
// once. The caller holds s.mu.
func (s *PlanStream) startTable(target string) {
	if s.read != nil {
		s.read.finish()
	}
	if s.table[target] {
		return
	}
	s.table[target] = true
	s.write(func(w io.Writer) error {
		if _, err := fmt.Fprintf(w, "\n%s:\n", target); err != nil {
			return err
		}
		t := &table{w: w, min: streamWidths}
		t.row("  ACTION", "USER", "TARGET ID", "REASON")
		return t.flush()
	})
}

func (s *PlanStream) onDecided(target string, a engine.Action) {
	if a.Op == engine.OpSkip || a.Op == engine.OpNoop {
		return // listed by reason with the summary
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.startTable(target)
	label := "  " + string(a.Op)
	if a.Held {
		label = "  held " + string(a.Op)
	}
	s.write(func(w io.Writer) error {
		t := &table{w: w, min: streamWidths}
		actionRows(t, label, a)
		return t.flush()
	})
}

func (s *PlanStream) onTargetDone(tp engine.TargetPlan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.startTable(tp.Name)
	s.write(func(w io.Writer) error {
		t := &table{w: w, min: streamWidths}
		streamed := 0
		for _, a := range tp.Actions {
			switch {
			case a.Op == engine.OpSkip || a.Op == engine.OpNoop:
			case a.PendingUntil != nil:
				actionRows(t, "  "+string(a.Op), a)
			default:
				streamed++
			}
		}
		for _, a := range tp.Held {
			if a.PendingUntil != nil {
				actionRows(t, "  held "+string(a.Op), a)
			} else {
				streamed++ // held by the guard already: decided, streamed
			}
		}
		if len(t.lines) == 0 && streamed == 0 {
			t.text("  nothing to create, update or deprovision")
		}
		t.text("")
		if err := t.flush(); err != nil {
			return err
		}
		return writeTargetSummary(w, tp)
	})
}

// Finish writes the total over several targets and the closing line, and
// returns the first error writing the plan met.
func (s *PlanStream) Finish(p engine.Plan) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.read != nil {
		s.read.finish()
	}
	s.write(func(w io.Writer) error {
		if len(p.Targets) != 1 {
			fmt.Fprintf(w, "\nTotal: %s (%s)\n", CountPlan(p.Targets...), plural(len(p.Targets), "target", "targets"))
		}
		_, err := fmt.Fprintln(w, "\nThis is a dry run: nothing was written. `reconcile` carries it out.")
		return err
	})
	return s.err
}

// write runs fn on the output unless a write failed before. The caller
// holds s.mu.
func (s *PlanStream) write(fn func(io.Writer) error) {
	if s.err == nil {
		s.err = fn(s.w)
	}
}

// writeTargetSummary writes a target's summary line, its conflicts, drift,
// skips and groups.
func writeTargetSummary(w io.Writer, tp engine.TargetPlan) error {
	if g := groupCounts(tp.Groups); g != "" {
		fmt.Fprintf(w, "%s: %s; groups: %s\n", tp.Name, CountPlan(tp), g)
	} else {
		fmt.Fprintf(w, "%s: %s\n", tp.Name, CountPlan(tp))
	}
	if err := writeConflicts(w, tp.Actions); err != nil {
		return err
	}
	if err := writeDrift(w, tp.Actions); err != nil {
		return err
	}
	if err := writeSkips(w, tp.Actions); err != nil {
		return err
	}
	return writePlanGroups(w, tp.Groups)
}

// readProgress shows what a plan has read so far.
type readProgress struct {
	w        io.Writer
	terminal bool
	start    time.Time

	mu      sync.Mutex
	p       engine.ReadProgress
	written string
	done    bool
	stop    chan struct{}
	stopped chan struct{}
}

func startReadProgress(w io.Writer, terminal bool) *readProgress {
	r := &readProgress{w: w, terminal: terminal, start: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	interval := DefaultProgressInterval
	if terminal {
		interval = spinnerInterval
	}
	go func() {
		defer close(r.stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
				r.draw()
			}
		}
	}()
	return r
}

func (r *readProgress) set(p engine.ReadProgress) {
	r.mu.Lock()
	r.p = p
	r.mu.Unlock()
}

// line renders "read 120,879 source users; contoso: 250,000 links, 3,996
// users".
func (r *readProgress) line() string {
	s := fmt.Sprintf("read %s source users", thousands(r.p.SourceUsers))
	if r.p.Target != "" {
		s += fmt.Sprintf("; %s: %s links, %s users", r.p.Target, thousands(r.p.Links), thousands(r.p.TargetUsers))
	}
	return s
}

func (r *readProgress) draw() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return
	}
	s := r.line()
	elapsed := Duration(time.Since(r.start).Truncate(time.Second))
	if r.terminal {
		fmt.Fprintf(r.w, "\r\x1b[K%s · %s", s, elapsed)
		return
	}
	if s != r.written {
		r.written = s
		fmt.Fprintf(r.w, "plan: %s (%s)\n", s, elapsed)
	}
}

// finish stops the progress; on a terminal it clears its line.
func (r *readProgress) finish() {
	r.mu.Lock()
	if r.done {
		r.mu.Unlock()
		return
	}
	r.done = true
	r.mu.Unlock()
	close(r.stop)
	<-r.stopped
	if r.terminal {
		fmt.Fprint(r.w, "\r\x1b[K")
	}
}

// thousands writes n with thousands separators: 250000 → "250,000".
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
