package operator

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// DefaultProgressInterval is how often plain progress lines are written.
const DefaultProgressInterval = 5 * time.Second

// spinnerInterval is how often the terminal spinner is redrawn.
const spinnerInterval = 100 * time.Millisecond

// Progress follows a run whose amount of work is learnt as it goes: a
// reconcile finds changes a delta page at a time, and syncs each page
// before it reads the next.
type Progress interface {
	// Grow adds n units of work found.
	Grow(n int)
	// Done records n units finished, failed of them unsuccessfully.
	Done(n, failed int)
	// Finish writes the final state; the Progress is not used after.
	Finish()
}

// NewProgress returns a spinner with counts for a terminal, redrawn in
// place, or else a Progress that writes a plain line every interval while
// work goes on (0 means DefaultProgressInterval), for logs and pipes.
// Neither shows a bar or a percentage: the total is known only when the
// run ends, and a bar whose total grows runs backwards. Both give one rate,
// in changes per second.
func NewProgress(w io.Writer, terminal bool, interval time.Duration) Progress {
	if terminal {
		interval = spinnerInterval
	} else if interval <= 0 {
		interval = DefaultProgressInterval
	}
	p := &progress{w: w, terminal: terminal, start: time.Now(), now: time.Now, stop: make(chan struct{}), stopped: make(chan struct{})}
	go p.tick(interval)
	return p
}

// spinnerFrames are the spinner's frames, Braille dots as in most CLIs.
func spinnerFrames() []string {
	return []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
}

// progress is both kinds: on a terminal it redraws one line in place
// ("⠋ syncing: 40 synced of 100 found so far, 2 failed · 12.5 changes/s ·
// 8 s"), elsewhere it writes "reconcile: …" lines when the counts move.
type progress struct {
	w        io.Writer
	terminal bool
	start    time.Time
	now      func() time.Time

	mu                  sync.Mutex
	found, done, failed int
	frame               int
	written             string // the last line written, without the time

	stop, stopped chan struct{}
	once          sync.Once
}

func (p *progress) Grow(n int) {
	p.mu.Lock()
	p.found += n
	p.mu.Unlock()
}

func (p *progress) Done(n, failed int) {
	p.mu.Lock()
	p.done += n
	p.failed += failed
	p.mu.Unlock()
}

func (p *progress) tick(interval time.Duration) {
	defer close(p.stopped)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.write(false)
		}
	}
}

// counts renders the counts: "reading the tenants" before any work is
// found, then "40 synced of 100 found so far, 2 failed", and at the end
// "100 synced of 100 found, 2 failed".
func (p *progress) counts(final bool) string {
	if p.found == 0 && !final {
		return "reading the tenants"
	}
	so := " so far"
	if final {
		so = ""
	}
	s := fmt.Sprintf("%d synced of %d found%s", p.done, p.found, so)
	if p.failed > 0 {
		s += fmt.Sprintf(", %d failed", p.failed)
	}
	return s
}

// rate is the one rate shown, changes per second since the start, or ""
// in the first second, when it would be noise.
func rate(done int, elapsed time.Duration) string {
	if elapsed < time.Second {
		return ""
	}
	return fmt.Sprintf("%.1f changes/s", float64(done)/elapsed.Seconds())
}

// write writes the current state: on a terminal always (the spinner
// turns), else only when the counts moved or at the end.
func (p *progress) write(final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	elapsed := p.now().Sub(p.start)
	s := p.counts(final)
	if p.terminal {
		line := "syncing: " + s
		if r := rate(p.done, elapsed); p.found > 0 && r != "" {
			line += " · " + r
		}
		line += " · " + Duration(elapsed.Truncate(time.Second))
		frames := spinnerFrames()
		mark := frames[p.frame%len(frames)]
		p.frame++
		if final {
			mark = "✓"
			if p.failed > 0 || p.done < p.found {
				mark = "✗"
			}
			if p.found == 0 {
				// Nothing was found: the summary says so; leave no line.
				fmt.Fprint(p.w, "\r\x1b[K")
				return
			}
		}
		fmt.Fprintf(p.w, "\r\x1b[K%s %s", mark, line)
		if final {
			fmt.Fprintln(p.w)
		}
		return
	}
	if s == p.written && !final {
		return
	}
	p.written = s
	if r := rate(p.done, elapsed); p.found > 0 && r != "" {
		s += ", " + r
	}
	fmt.Fprintf(p.w, "reconcile: %s (%s)\n", s, Duration(elapsed.Truncate(time.Second)))
}

func (p *progress) Finish() {
	p.once.Do(func() {
		close(p.stop)
		<-p.stopped
		p.write(true)
	})
}
