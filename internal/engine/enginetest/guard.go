package enginetest

import (
	"cmp"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/store"
)

// World is where a GuardScenario plays: a source whose users leave and join
// the target's scoping group, the target to look at, the engines' store and
// their clock. The engines given to Run must use this store and clock, and
// the target's deprovision settings threshold, window 1h and GuardDelay.
type World interface {
	// SourceID returns the source object id of a user by name.
	SourceID(user string) string
	// Leave takes a user out of the scoping group; Return puts them back.
	Leave(user string)
	Return(user string)
	// Live reports whether the user has a live target user.
	Live(user string) bool
	// Target is the target's name; Store the engines' store.
	Target() string
	Store() store.Store
	// Now and Advance are the engines' clock.
	Now() time.Time
	Advance(d time.Duration)
}

// Names returns n user names: prefix00, prefix01, …
func Names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d", prefix, i)
	}
	return out
}

// event is something that happens at a moment of a guard scenario.
type event struct {
	at   time.Duration // from the start of the scenario
	user string
	kind string // "leave" (removed from the scoping group, then synced), "back" (added again, then synced), "sync"
}

// GuardScenario is one random run against the deletion guard: a threshold,
// a burst of leavers arriving all within the settle delay or spread out
// beyond it, some of them coming back, and the syncs of all that on 16
// workers over two engines (two instances) sharing one store.
type GuardScenario struct {
	Seed      uint64
	Threshold int  // the target's deletion guard threshold
	Burst     bool // all leave within the settle delay; otherwise each after the last was decided
	Users     []string
	StayOut   []string // left and did not come back, in order of leaving
	events    []event
}

// GuardDelay is the settle delay a World's target must be configured with.
const GuardDelay = time.Minute

// NewGuardScenario draws a scenario from a seed: a threshold of 1 to 4,
// 1 to 4× as many leavers, a quarter of whom come back before the delay
// ends.
func NewGuardScenario(seed uint64) GuardScenario {
	rng := mrand.New(mrand.NewPCG(seed, 19))
	s := GuardScenario{Seed: seed, Threshold: 1 + rng.IntN(4), Burst: rng.IntN(2) == 0}
	n := 1 + rng.IntN(4*s.Threshold)
	s.Users = Names("p", n)
	order := rng.Perm(n)
	for i, k := range order {
		u := s.Users[k]
		var leave time.Duration
		if s.Burst {
			leave = time.Duration(rng.Int64N(int64(GuardDelay / 2)))
		} else {
			// Each leaver is decided before the next arrives, all within
			// the window (an hour).
			leave = time.Duration(i)*(GuardDelay+5*time.Second) + time.Duration(rng.Int64N(int64(2*time.Second)))
		}
		s.events = append(s.events, event{at: leave, user: u, kind: "leave"})
		if rng.IntN(4) == 0 {
			// Back before the delay ends: the deprovision is cancelled.
			back := leave + time.Second + time.Duration(rng.Int64N(int64(GuardDelay/2-2*time.Second)))
			s.events = append(s.events, event{at: back, user: u, kind: "back"})
		}
	}
	slices.SortStableFunc(s.events, func(a, b event) int { return cmp.Compare(a.at, b.at) })
	for _, ev := range s.events {
		switch ev.kind {
		case "leave":
			s.StayOut = append(s.StayOut, ev.user)
		case "back":
			s.StayOut = slices.DeleteFunc(s.StayOut, func(u string) bool { return u == ev.user })
		}
	}
	return s
}

func (s GuardScenario) String() string {
	mode := "spread"
	if s.Burst {
		mode = "burst"
	}
	return fmt.Sprintf("seed %d: threshold %d, %d users, %s, %d stay out", s.Seed, s.Threshold, len(s.Users), mode, len(s.StayOut))
}

// Run plays the scenario on engines that share a store, 16 syncs at a time,
// and checks the guard's promise with an exact set: when more than the
// threshold leave within the settle delay, none is deprovisioned without
// approval, otherwise never more than the threshold within the window, and
// each of the others is staged; a user who came back keeps their target
// user; approvals carry out exactly the approved set.
func (s GuardScenario) Run(t testing.TB, w World, engines []*engine.Engine) {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(s.Seed, 7))
	ids := map[string]string{}
	for _, u := range s.Users {
		ids[u] = w.SourceID(u)
	}
	for _, u := range s.Users {
		if _, err := engines[0].Sync(t.Context(), engine.Change{Kind: engine.KindUser, ID: ids[u]}); err != nil {
			t.Fatalf("%v: initial sync of %s: %v", s, u, err)
		}
	}
	start := w.Now()

	queue := slices.Clone(s.events)
	var mu sync.Mutex
	for len(queue) > 0 {
		slices.SortStableFunc(queue, func(a, b event) int { return cmp.Compare(a.at, b.at) })
		now := queue[0].at
		if d := start.Add(now).Sub(w.Now()); d > 0 {
			w.Advance(d)
		}
		var tick []event
		for len(queue) > 0 && queue[0].at <= now {
			tick, queue = append(tick, queue[0]), queue[1:]
		}
		// The source changes of this moment, then every sync at once.
		for _, ev := range tick {
			switch ev.kind {
			case "leave":
				w.Leave(ev.user)
			case "back":
				w.Return(ev.user)
			}
		}
		work := make(chan event)
		var wg sync.WaitGroup
		for i := range 16 {
			eng := engines[(i+rng.IntN(len(engines)))%len(engines)]
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ev := range work {
					res, err := eng.Sync(t.Context(), engine.Change{Kind: engine.KindUser, ID: ids[ev.user]})
					if err != nil {
						t.Errorf("%v: sync %s: %v", s, ev.user, err)
						continue
					}
					mu.Lock()
					if !res.RecheckAt.IsZero() {
						queue = append(queue, event{at: res.RecheckAt.Sub(start), user: ev.user, kind: "sync"})
					}
					for _, f := range res.FollowUps {
						for u, id := range ids {
							if id == f.ID {
								queue = append(queue, event{at: now, user: u, kind: "sync"})
							}
						}
					}
					mu.Unlock()
				}
			}()
		}
		for _, ev := range tick {
			work <- ev
		}
		close(work)
		wg.Wait()
	}

	// The oracle: who is gone, exactly.
	var gone []string
	for _, u := range s.Users {
		if !w.Live(u) {
			gone = append(gone, u)
		}
	}
	var want []string
	switch {
	case s.Burst && len(s.StayOut) > s.Threshold:
		want = nil // the whole burst is held
	case s.Burst:
		want = s.StayOut // within the threshold: each goes after its delay
	default:
		want = s.StayOut[:min(len(s.StayOut), s.Threshold)] // the first threshold, then held
	}
	if !sameSet(gone, want) {
		t.Fatalf("%v: deprovisioned without approval %v, want exactly %v", s, gone, want)
	}
	held := map[string]bool{}
	staged0, err := w.Store().ListDeletions(t.Context(), w.Target())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range staged0 {
		held[d.SourceID] = true
	}
	for _, u := range s.StayOut {
		if slices.Contains(want, u) != !held[ids[u]] {
			t.Errorf("%v: %s staged %v, deprovisioned %v: want exactly one", s, u, held[ids[u]], slices.Contains(want, u))
		}
	}
	for _, u := range s.Users {
		if !slices.Contains(s.StayOut, u) {
			if l, err := w.Store().GetLink(t.Context(), w.Target(), ids[u]); err != nil || l.State != store.LinkActive || !w.Live(u) {
				t.Errorf("%v: %s came back or never left, but its link is %s and live is %v", s, u, l.State, w.Live(u))
			}
		}
	}
	if g, err := w.Store().GetGuard(t.Context(), w.Target()); err == nil && len(g.Pending) > 0 {
		t.Errorf("%v: the guard still has pending deprovisions %v", s, g.Pending)
	}

	// Approvals carry out exactly what is approved.
	var staged []string
	for _, u := range s.StayOut {
		if held[ids[u]] {
			staged = append(staged, u)
		}
	}
	var chosen []string
	for _, u := range staged {
		if rng.IntN(2) == 0 {
			chosen = append(chosen, u)
		}
	}
	if len(chosen) > 0 {
		var chosenIDs []string
		for _, u := range chosen {
			chosenIDs = append(chosenIDs, ids[u])
		}
		if _, err := engines[rng.IntN(len(engines))].ApproveDeletions(t.Context(), w.Target(), chosenIDs); err != nil {
			t.Fatalf("%v: approve %v: %v", s, chosen, err)
		}
		for _, u := range staged {
			if w.Live(u) == slices.Contains(chosen, u) {
				t.Errorf("%v: after approving %v, %s live = %v", s, chosen, u, w.Live(u))
			}
		}
	}
	if _, err := engines[0].ApproveAllDeletions(t.Context(), w.Target()); err != nil {
		t.Fatalf("%v: approve all: %v", s, err)
	}
	for _, u := range s.Users {
		if w.Live(u) == slices.Contains(s.StayOut, u) {
			t.Errorf("%v: after approving all, %s live = %v", s, u, w.Live(u))
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
