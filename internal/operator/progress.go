package operator

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// DefaultProgressInterval is how often plain progress lines are written.
const DefaultProgressInterval = 5 * time.Second

// Progress follows a run whose amount of work is learnt as it goes: a
// reconcile finds changes a delta page at a time.
type Progress interface {
	// Grow adds n units of work to the total.
	Grow(n int)
	// Done records n units finished, failed of them unsuccessfully.
	Done(n, failed int)
	// Finish writes the final state; the Progress is not used after.
	Finish()
}

// NewProgress returns a progress bar for a terminal, or else a Progress
// that writes a plain line every interval while work goes on (0 means
// DefaultProgressInterval), for logs and pipes.
func NewProgress(w io.Writer, terminal bool, interval time.Duration) Progress {
	if terminal {
		return newBarProgress(w)
	}
	if interval <= 0 {
		interval = DefaultProgressInterval
	}
	p := &lineProgress{w: w, start: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	go p.tick(interval)
	return p
}

// barProgress is a progress bar, a spinner until the first work is known.
// The bar's maximum is kept one above the work known so far: progressbar
// finishes for good when it reaches its maximum, and follow-ups may still
// come after the last known change is synced.
type barProgress struct {
	w   io.Writer
	mu  sync.Mutex
	bar *progressbar.ProgressBar

	total, done, failed int
	sized               bool
}

func newBarProgress(w io.Writer) *barProgress {
	bar := progressbar.NewOptions(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("reading the tenants"),
		progressbar.OptionSetItsString("changes"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionSetWidth(30),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
	_ = bar.RenderBlank()
	return &barProgress{w: w, bar: bar}
}

func (p *barProgress) Grow(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total += n
	p.bar.ChangeMax(p.total + 1)
	if !p.sized {
		p.sized = true
		p.bar.Describe("syncing")
	}
}

func (p *barProgress) Done(n, failed int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if failed > 0 {
		p.failed += failed
		p.bar.Describe(fmt.Sprintf("syncing (%d failed)", p.failed))
	}
	_ = p.bar.Add(n)
}

func (p *barProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.sized {
		_ = p.bar.Clear()
		return
	}
	p.bar.ChangeMax(p.total)
	_ = p.bar.Set(p.done)
	if p.done < p.total {
		// Stopped short (an error, Ctrl-C): leave the bar where it is.
		_ = p.bar.Exit()
		fmt.Fprintln(p.w)
	}
}

// lineProgress writes "reconcile: 40/100 changes synced, 2 failed (12s)"
// every interval while the counts move, and once at the end.
type lineProgress struct {
	w     io.Writer
	start time.Time

	mu                  sync.Mutex
	total, done, failed int
	written             string

	stop, stopped chan struct{}
	once          sync.Once
}

func (p *lineProgress) Grow(n int) {
	p.mu.Lock()
	p.total += n
	p.mu.Unlock()
}

func (p *lineProgress) Done(n, failed int) {
	p.mu.Lock()
	p.done += n
	p.failed += failed
	p.mu.Unlock()
}

func (p *lineProgress) tick(interval time.Duration) {
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

// write writes the current state, unless it is the one last written and
// this is not the final line.
func (p *lineProgress) write(final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s string
	if p.total == 0 && !final {
		s = "reconcile: reading the tenants"
	} else {
		s = fmt.Sprintf("reconcile: %d/%d changes synced", p.done, p.total)
		if p.failed > 0 {
			s += fmt.Sprintf(", %d failed", p.failed)
		}
	}
	if s == p.written && !final {
		return
	}
	p.written = s
	fmt.Fprintf(p.w, "%s (%s)\n", s, time.Since(p.start).Round(time.Second))
}

func (p *lineProgress) Finish() {
	p.once.Do(func() {
		close(p.stop)
		<-p.stopped
		p.write(true)
	})
}
