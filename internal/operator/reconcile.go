package operator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tenantsync/tenantsync/internal/engine"
)

// DefaultWorkers is how many changes a reconcile syncs at once.
const DefaultWorkers = 8

// MaxWorkers bounds --workers: beyond it Graph's per-tenant budget, not
// the worker count, sets the pace.
const MaxWorkers = 64

// maxErrorsKept bounds the failures a summary lists.
const maxErrorsKept = 20

// Syncer is the engine as a reconcile run uses it; *engine.Engine
// implements it.
type Syncer interface {
	Reconcile(ctx context.Context, opts engine.ReconcileOptions) (engine.ReconcileResult, error)
	Sync(ctx context.Context, ch engine.Change) (engine.Result, error)
}

var _ Syncer = (*engine.Engine)(nil)

// ReconcileOptions configure Reconcile.
type ReconcileOptions struct {
	// Full forces a full pass.
	Full bool
	// Workers is how many changes are synced at once; 0 means
	// DefaultWorkers.
	Workers int
	// Progress, when set, follows the run.
	Progress Progress
	// NoWait leaves the deprovisions that wait out the deletion guard's
	// settle delay pending (the running service, or the next reconcile,
	// carries them out or holds them). By default the run waits for them
	// and syncs them again, so that it finishes its work.
	NoWait bool
	// Waiting, when set, is told before the run waits out the settle
	// delay: for how long, and for how many deprovisions.
	Waiting func(d time.Duration, n int)
}

// ReconcileSummary is what a reconcile run did.
type ReconcileSummary struct {
	Full bool `json:"full"`
	// Why says why a full pass ran.
	Why string `json:"why,omitempty"`
	// Changes is how many changes the reconcile found.
	Changes int `json:"changes"`
	// Synced is how many changes were synced, follow-ups included.
	Synced int `json:"synced"`
	// Actions count the users by outcome (Outcome: "create", "update", …,
	// "held" for deprovisions the deletion guard staged, "pending" for those
	// still waiting out its settle delay, "conflict", "failed"), each user
	// once per target by its last outcome: the words and the count of
	// `plan`, so that the same changes give the same numbers in both.
	Actions Counts `json:"actions"`
	// Failed is how many changes failed; Errors lists the first of them.
	Failed  int           `json:"failed"`
	Errors  []ChangeError `json:"errors,omitempty"`
	Seconds float64       `json:"seconds"`
}

// ChangeError is a change that failed.
type ChangeError struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	// Permanent is true when retrying cannot help (a bad value, a config
	// error); the target's log has it too.
	Permanent bool   `json:"permanent"`
	Error     string `json:"error"`
}

// ErrRetryLater is wrapped by the error that stops a reconcile whose
// changes failed in a way a retry may fix: some changes failed, the
// others were carried out (the handler exits with its partial-failure
// code).
var ErrRetryLater = errors.New("the watermark was not moved: run reconcile again")

// Reconcile runs a reconcile that syncs every change it finds at once, on
// a pool of workers, with the follow-ups group changes imply. Each batch of
// changes is synced before the reconcile moves on, so the delta watermark
// only moves past changes that were carried out: when a change fails in a
// way that a retry may fix, the reconcile stops with an error and the next
// run sees the same changes again. Permanent failures are counted and
// listed but do not stop it, as the event pipeline dead-letters them.
func Reconcile(ctx context.Context, s Syncer, opts ReconcileOptions) (ReconcileSummary, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	r := &run{syncer: s, workers: min(workers, MaxWorkers), progress: opts.Progress,
		sum: ReconcileSummary{Actions: Counts{}}, pending: map[string]engine.Change{}, outcome: map[string]string{}}
	start := time.Now()
	res, err := s.Reconcile(ctx, engine.ReconcileOptions{Full: opts.Full, Emit: r.emit, AllPending: true})
	r.sum.Full, r.sum.Why, r.sum.Changes = res.Full, res.Why, res.Changes
	if err == nil && !opts.NoWait {
		err = r.settle(ctx, opts.Waiting)
	}
	r.sum.Seconds = time.Since(start).Seconds()
	if opts.Progress != nil {
		opts.Progress.Finish()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for key, o := range r.outcome {
		if o != "" {
			if strings.HasPrefix(key, groupOutcomeKey) {
				o = "group " + o
			}
			r.sum.Actions[o]++
		}
	}
	return r.sum, err
}

type run struct {
	syncer   Syncer
	workers  int
	progress Progress

	mu  sync.Mutex
	sum ReconcileSummary
	// pending are the changes whose deprovision waits out the deletion
	// guard's settle delay, and until when.
	pending   map[string]engine.Change
	recheckAt time.Time
	// rechecking is set while settle syncs pending deprovisions again:
	// they were counted as found and synced already.
	rechecking bool
	// outcome is each user's outcome in each target so far (mergeOutcome):
	// a user synced twice in a run (a follow-up, a deprovision decided
	// again after the guard's settle delay) counts once.
	outcome map[string]string
}

// maxSettleRounds bounds how often a run waits for pending deprovisions: a
// re-check decides each one (carried out or held), so one round is the
// norm, and a user who keeps leaving and coming back cannot hold the run.
const maxSettleRounds = 3

// settle waits until the deprovisions the run left pending are due, and
// syncs them again.
func (r *run) settle(ctx context.Context, waiting func(time.Duration, int)) error {
	for range maxSettleRounds {
		r.mu.Lock()
		batch := make([]engine.Change, 0, len(r.pending))
		for _, ch := range r.pending {
			batch = append(batch, ch)
		}
		at := r.recheckAt
		r.pending, r.recheckAt = map[string]engine.Change{}, time.Time{}
		r.mu.Unlock()
		if len(batch) == 0 {
			return nil
		}
		slices.SortFunc(batch, func(a, b engine.Change) int { return strings.Compare(a.ID, b.ID) })
		if d := time.Until(at); d > 0 {
			if waiting != nil {
				waiting(d, len(batch))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
			}
		}
		r.rechecking = true
		err := r.emit(ctx, batch)
		r.rechecking = false
		if err != nil {
			return err
		}
	}
	return nil
}

// emit syncs a batch of changes and their follow-ups, and fails when one
// of them failed in a way worth retrying.
func (r *run) emit(ctx context.Context, batch []engine.Change) error {
	round := dedupe(batch)
	retry := 0
	var first error
	for len(round) > 0 {
		if r.progress != nil && !r.rechecking {
			r.progress.Grow(len(round))
		}
		var next []engine.Change
		var mu sync.Mutex
		work := make(chan engine.Change)
		var wg sync.WaitGroup
		for range min(r.workers, len(round)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ch := range work {
					if ctx.Err() != nil {
						continue // cancelled: drain without syncing
					}
					res, err := r.syncer.Sync(ctx, ch)
					permanent := errors.Is(err, engine.ErrPermanent)
					r.record(ch, res, err, permanent)
					if !res.RecheckAt.IsZero() {
						r.mu.Lock()
						ch.Force, ch.Cause = false, "guard"
						r.pending[ch.ID] = ch
						if res.RecheckAt.After(r.recheckAt) {
							r.recheckAt = res.RecheckAt
						}
						r.mu.Unlock()
					}
					mu.Lock()
					next = append(next, res.FollowUps...)
					if err != nil && !permanent && ctx.Err() == nil {
						retry++
						if first == nil {
							first = fmt.Errorf("%s %s: %w", ch.Kind, ch.ID, err)
						}
					}
					mu.Unlock()
				}
			}()
		}
	feed:
		for _, ch := range round {
			select {
			case work <- ch:
			case <-ctx.Done():
				break feed
			}
		}
		close(work)
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return err
		}
		// A follow-up is new information (a manager now exists in the
		// target), so it is synced even when its user was synced before.
		round = dedupe(next)
	}
	if retry > 0 {
		return fmt.Errorf("%s failed; %w; first: %w", plural(retry, "change", "changes"), ErrRetryLater, first)
	}
	return nil
}

// record counts one change's outcome.
func (r *run) record(ch engine.Change, res engine.Result, err error, permanent bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.rechecking {
		r.sum.Synced++
	}
	for _, a := range res.Actions {
		key := ch.ID + "\x00" + a.Target
		r.outcome[key] = mergeOutcome(r.outcome[key], Outcome(a))
	}
	for _, g := range res.Groups {
		// Groups count apart, as "group create", "group update", … (groups.go).
		key := groupOutcomeKey + ch.ID + "\x00" + g.Target
		r.outcome[key] = mergeOutcome(r.outcome[key], Outcome(g.AsAction()))
	}
	failed := 0
	if err != nil {
		failed = 1
		r.sum.Failed++
		if len(r.sum.Errors) < maxErrorsKept {
			r.sum.Errors = append(r.sum.Errors, ChangeError{Kind: string(ch.Kind), ID: ch.ID, Permanent: permanent,
				Error: strings.ReplaceAll(err.Error(), "\n", "; ")})
		}
	}
	if r.progress != nil && !r.rechecking {
		r.progress.Done(1, failed)
	}
}

// dedupe returns the changes without repeats.
func dedupe(cs []engine.Change) []engine.Change {
	seen := map[string]bool{}
	var out []engine.Change
	for _, c := range cs {
		k := string(c.Kind) + "/" + c.ID
		if !seen[k] {
			seen[k] = true
			out = append(out, c)
		}
	}
	return out
}

// WaitingLine returns a ReconcileOptions.Waiting that says, on w, what the
// run waits for.
func WaitingLine(w io.Writer) func(time.Duration, int) {
	return func(d time.Duration, n int) {
		fmt.Fprintf(w, "waiting %s for the deletion guard's settle delay: %s pending\n",
			Duration(d.Round(time.Second)), plural(n, "deprovision", "deprovisions"))
	}
}

// WriteReconcileSummary writes what a reconcile did: the kind of pass, the
// outcomes by action, the failures and the time taken.
func WriteReconcileSummary(w io.Writer, s ReconcileSummary) error {
	kind := "delta reconcile"
	if s.Full {
		kind = "full reconcile (" + s.Why + ")"
	}
	synced := fmt.Sprintf("%d synced", s.Synced)
	if extra := s.Synced - s.Changes; extra > 0 {
		synced += fmt.Sprintf(" (%s included)", plural(extra, "follow-up", "follow-ups"))
	}
	fmt.Fprintf(w, "%s: %s found, %s in %s\n", capitalize(kind), plural(s.Changes, "change", "changes"),
		synced, Duration(time.Duration(s.Seconds*float64(time.Second))))
	fmt.Fprintf(w, "  by action: %s\n", s.Actions)
	fmt.Fprintf(w, "  errors:    %d\n", s.Failed)
	if len(s.Errors) > 0 {
		t := newTable(w)
		for _, e := range s.Errors {
			kind := "retryable"
			if e.Permanent {
				kind = "permanent"
			}
			t.row("    "+e.Kind+" "+e.ID, kind, e.Error)
		}
		if err := t.flush(); err != nil {
			return err
		}
		if s.Failed > len(s.Errors) {
			fmt.Fprintf(w, "    … and %d more\n", s.Failed-len(s.Errors))
		}
	}
	return nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
