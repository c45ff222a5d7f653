package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/operator"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

// Passes MeasurePass runs, one per child process.
const (
	PassFull   = "full"
	PassDelta  = "delta"
	PassPlan   = "plan"
	PassStatus = "status"
)

// MeasureOptions say which pass MeasurePass runs, on which config and
// state file.
type MeasureOptions struct {
	Pass   string
	Config string
	State  string
	// StatusReads is how many times the status pass reads the status
	// (default 50).
	StatusReads int
	// Out receives the result as one line of JSON.
	Out io.Writer
}

// PassResult is what MeasurePass measured, in the process that ran the
// pass: its heap is that pass's alone, not the simulator's.
type PassResult struct {
	Pass    string  `json:"pass"`
	Seconds float64 `json:"seconds"`
	// PeakHeapMB is the most heap the process had allocated (live and
	// not yet collected) in 10 ms samples; PeakLiveHeapMB the most that
	// survived a collection; PeakRSSMB the resident set's high-water mark.
	PeakHeapMB     float64 `json:"peakHeapMB"`
	PeakLiveHeapMB float64 `json:"peakLiveHeapMB"`
	PeakRSSMB      float64 `json:"peakRSSMB"`
	// Changes counts what a reconcile emitted, or the actions of a plan.
	Changes int `json:"changes"`
	// FirstOutputSeconds is when a plan wrote its first line.
	FirstOutputSeconds float64 `json:"firstOutputSeconds,omitempty"`
	// FirstResultSeconds is when it wrote its first decision: an action,
	// or a target's summary when nothing is to be done.
	FirstResultSeconds float64 `json:"firstResultSeconds,omitempty"`
	// P50ms and P99ms are the status reads' latencies.
	P50ms float64 `json:"p50ms,omitempty"`
	P99ms float64 `json:"p99ms,omitempty"`
	// FirstReadMs is the status read before those: the one that counts
	// the links when the store has no counts yet.
	FirstReadMs float64 `json:"firstReadMs,omitempty"`
}

// MeasurePass runs one pass (full or delta reconcile, plan, status reads)
// in this process on the given state, sampling its heap, and writes a
// PassResult to opts.Out. It is the child side of the scale phase.
func MeasurePass(ctx context.Context, opts MeasureOptions) error {
	if opts.StatusReads <= 0 {
		opts.StatusReads = 50
	}
	cfg, err := config.Load(opts.Config)
	if err != nil {
		return err
	}
	st, err := boltstore.Open(opts.State, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	a, err := app.Open(ctx, app.Options{Env: settings.FromMap(nil), Config: cfg, Store: st, MaxRetries: new(int)})
	if err != nil {
		return err
	}
	defer a.Close()

	sampler := startHeapSampler(10 * time.Millisecond)
	res := PassResult{Pass: opts.Pass}
	start := time.Now()
	switch opts.Pass {
	case PassFull, PassDelta:
		emit := func(_ context.Context, cs []engine.Change) error { res.Changes += len(cs); return nil }
		if _, err := a.Engine.Reconcile(ctx, engine.ReconcileOptions{Full: opts.Pass == PassFull, Emit: emit}); err != nil {
			return fmt.Errorf("%s reconcile: %w", opts.Pass, err)
		}
	case PassPlan:
		// As `plan` writes its text: streamed, with what it reads shown
		// every few seconds (to the discarded progress writer).
		w := &firstWrite{w: io.Discard, start: start}
		stream := operator.NewPlanStream(w, io.Discard, false, a.Engine.Targets())
		popts := stream.Options()
		var firstResult time.Duration
		var once sync.Once
		noteResult := func() { once.Do(func() { firstResult = time.Since(start) }) }
		decided, done := popts.Decided, popts.TargetDone
		popts.Decided = func(t string, act engine.Action) { noteResult(); decided(t, act) }
		popts.TargetDone = func(tp engine.TargetPlan) { noteResult(); done(tp) }
		p, err := a.Engine.PlanWith(ctx, popts)
		if err != nil {
			return fmt.Errorf("plan: %w", err)
		}
		if err := stream.Finish(p); err != nil {
			return err
		}
		for _, tp := range p.Targets {
			res.Changes += len(tp.Actions) + len(tp.Held)
		}
		res.FirstOutputSeconds = round(w.first.Seconds(), 3)
		res.FirstResultSeconds = round(firstResult.Seconds(), 3)
	case PassStatus:
		targets := a.Engine.Targets()
		read := func() error {
			s, err := operator.ReadStatus(ctx, operator.StatusOptions{Store: st, SourceTenant: cfg.Source.Tenant, Targets: targets})
			if err != nil {
				return fmt.Errorf("read status: %w", err)
			}
			if len(s.Problems) > 0 {
				return fmt.Errorf("read status: %s", strings.Join(s.Problems, "; "))
			}
			return nil
		}
		// The first read of a store whose links were written before it
		// kept counts counts them once (boltstore's LinkCounts): timed
		// apart, as the one-off it is.
		if err := read(); err != nil {
			return err
		}
		res.FirstReadMs = round(float64(time.Since(start))/float64(time.Millisecond), 1)
		start = time.Now()
		var ms []float64
		// A slow status is measured well enough by ten reads: stop after
		// a minute of them.
		for len(ms) < opts.StatusReads && (len(ms) < 10 || time.Since(start) < time.Minute) {
			t0 := time.Now()
			if err := read(); err != nil {
				return err
			}
			ms = append(ms, float64(time.Since(t0))/float64(time.Millisecond))
		}
		slices.Sort(ms)
		res.P50ms, res.P99ms = round(percentile(ms, 50), 1), round(percentile(ms, 99), 1)
	default:
		return fmt.Errorf("bench: unknown pass %q", opts.Pass)
	}
	res.Seconds = round(time.Since(start).Seconds(), 2)
	heap, live := sampler.stop()
	res.PeakHeapMB, res.PeakLiveHeapMB = round(float64(heap)/mib, 1), round(float64(live)/mib, 1)
	res.PeakRSSMB = round(float64(procMemory(os.Getpid()).peak)/mib, 1)
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(opts.Out, "%s\n", b)
	return err
}

// firstWrite notes when the first byte went through it.
type firstWrite struct {
	w     io.Writer
	start time.Time
	first time.Duration
	once  sync.Once
}

func (f *firstWrite) Write(p []byte) (int, error) {
	f.once.Do(func() { f.first = time.Since(f.start) })
	return f.w.Write(p)
}

// heapSampler keeps the highest heap it saw in runtime/metrics.
type heapSampler struct {
	done       chan struct{}
	wg         sync.WaitGroup
	heap, live uint64
}

func startHeapSampler(every time.Duration) *heapSampler {
	h := &heapSampler{done: make(chan struct{})}
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	read := func() {
		metrics.Read(samples)
		if samples[0].Value.Kind() == metrics.KindUint64 {
			h.heap = max(h.heap, samples[0].Value.Uint64())
		}
		if samples[1].Value.Kind() == metrics.KindUint64 {
			h.live = max(h.live, samples[1].Value.Uint64())
		}
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			read()
			select {
			case <-h.done:
				read()
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) stop() (heap, live uint64) {
	close(h.done)
	h.wg.Wait()
	return h.heap, h.live
}

// parsePassResult reads the child's last line of JSON.
func parsePassResult(out []byte) (PassResult, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var r PassResult
	if len(lines) == 0 || lines[len(lines)-1] == "" {
		return r, errors.New("no result from the measuring child")
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return r, fmt.Errorf("decode the measuring child's result %s: %w", strconv.Quote(lines[len(lines)-1]), err)
	}
	return r, nil
}
