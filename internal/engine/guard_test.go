package engine_test

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/tablestore"
	"github.com/tenantsync/tenantsync/internal/testenv"
)

// tables is Azurite, started once for this test binary: the guard's
// property holds across instances sharing Table Storage too.
var tables testenv.Tables

func TestMain(m *testing.M) { os.Exit(tables.Run(m)) }

// guardEvent is something that happens at a moment of a guard scenario.
type guardEvent struct {
	at   time.Duration // from the start of the scenario
	user string
	kind string // "leave" (removed from the scoping group, then synced), "back" (added again, then synced), "sync"
}

// guardScenario is one random run against the deletion guard: a threshold,
// a burst of leavers arriving all within the settle delay or spread out
// beyond it, some of them coming back, and the syncs of all that on 16
// workers over two engines (two instances) sharing one store.
type guardScenario struct {
	seed      uint64
	threshold int
	burst     bool
	users     []string
	stayOut   []string // left and did not come back, in order of leaving
	events    []guardEvent
}

const guardDelay = time.Minute

func newGuardScenario(seed uint64) guardScenario {
	rng := mrand.New(mrand.NewPCG(seed, 19))
	s := guardScenario{seed: seed, threshold: 1 + rng.IntN(4), burst: rng.IntN(2) == 0}
	n := 1 + rng.IntN(4*s.threshold)
	s.users = names("p", n)
	order := rng.Perm(n)
	for i, k := range order {
		u := s.users[k]
		var leave time.Duration
		if s.burst {
			leave = time.Duration(rng.Int64N(int64(guardDelay / 2)))
		} else {
			// Each leaver is decided before the next arrives, all within
			// the window (an hour).
			leave = time.Duration(i)*(guardDelay+5*time.Second) + time.Duration(rng.Int64N(int64(2*time.Second)))
		}
		s.events = append(s.events, guardEvent{at: leave, user: u, kind: "leave"})
		if rng.IntN(4) == 0 {
			// Back before the delay ends: the deprovision is cancelled.
			back := leave + time.Second + time.Duration(rng.Int64N(int64(guardDelay/2-2*time.Second)))
			s.events = append(s.events, guardEvent{at: back, user: u, kind: "back"})
			continue
		}
	}
	slices.SortStableFunc(s.events, func(a, b guardEvent) int { return cmp.Compare(a.at, b.at) })
	left := map[string]bool{}
	for _, ev := range s.events {
		switch ev.kind {
		case "leave":
			left[ev.user] = true
			s.stayOut = append(s.stayOut, ev.user)
		case "back":
			delete(left, ev.user)
			s.stayOut = slices.DeleteFunc(s.stayOut, func(u string) bool { return u == ev.user })
		}
	}
	return s
}

func (s guardScenario) String() string {
	mode := "spread"
	if s.burst {
		mode = "burst"
	}
	return fmt.Sprintf("seed %d: threshold %d, %d users, %s, %d stay out", s.seed, s.threshold, len(s.users), mode, len(s.stayOut))
}

// run plays the scenario on engines that share a store and checks the
// guard's promise with an exact set of who was deprovisioned.
func (s guardScenario) run(t *testing.T, e *env, engines []*engine.Engine) {
	rng := mrand.New(mrand.NewPCG(s.seed, 7))
	ids := map[string]string{}
	for _, u := range s.users {
		ids[u] = e.sourceID(u)
	}
	e.syncAll(16, s.users)
	start := e.time()

	queue := slices.Clone(s.events)
	var mu sync.Mutex
	for len(queue) > 0 {
		slices.SortStableFunc(queue, func(a, b guardEvent) int { return cmp.Compare(a.at, b.at) })
		now := queue[0].at
		if d := start.Add(now).Sub(e.time()); d > 0 {
			e.advance(d)
		}
		var tick []guardEvent
		for len(queue) > 0 && queue[0].at <= now {
			tick, queue = append(tick, queue[0]), queue[1:]
		}
		// The source changes of this moment, then every sync at once.
		for _, ev := range tick {
			switch ev.kind {
			case "leave":
				e.removeMember(ev.user)
			case "back":
				e.addMember(ids[ev.user])
			}
		}
		work := make(chan guardEvent)
		var wg sync.WaitGroup
		for w := range 16 {
			eng := engines[(w+rng.IntN(len(engines)))%len(engines)]
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
						queue = append(queue, guardEvent{at: res.RecheckAt.Sub(start), user: ev.user, kind: "sync"})
					}
					for _, f := range res.FollowUps {
						for u, id := range ids {
							if id == f.ID {
								queue = append(queue, guardEvent{at: now, user: u, kind: "sync"})
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
	for _, u := range s.users {
		if !e.live(u) {
			gone = append(gone, u)
		}
	}
	var want []string
	switch {
	case s.burst && len(s.stayOut) > s.threshold:
		want = nil // the whole burst is held
	case s.burst:
		want = s.stayOut // within the threshold: each goes after its delay
	default:
		want = s.stayOut[:min(len(s.stayOut), s.threshold)] // the first threshold, then held
	}
	if !sameSet(gone, want) {
		t.Fatalf("%v: deprovisioned without approval %v, want exactly %v", s, gone, want)
	}
	held := map[string]bool{}
	for _, d := range e.staged() {
		held[d.SourceID] = true
	}
	for _, u := range s.stayOut {
		if slices.Contains(want, u) != !held[ids[u]] {
			t.Errorf("%v: %s staged %v, deprovisioned %v: want exactly one", s, u, held[ids[u]], slices.Contains(want, u))
		}
	}
	for _, u := range s.users {
		if !slices.Contains(s.stayOut, u) {
			if l := e.link(u); l.State != store.LinkActive || !e.live(u) {
				t.Errorf("%v: %s came back or never left, but its link is %s and live is %v", s, u, l.State, e.live(u))
			}
		}
	}
	if g, err := e.store.GetGuard(t.Context(), "contoso"); err == nil && len(g.Pending) > 0 {
		t.Errorf("%v: the guard still has pending deprovisions %v", s, g.Pending)
	}

	// Approvals carry out exactly what is approved.
	var staged []string
	for _, u := range s.stayOut {
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
		if _, err := engines[rng.IntN(len(engines))].ApproveDeletions(t.Context(), "contoso", chosenIDs); err != nil {
			t.Fatalf("%v: approve %v: %v", s, chosen, err)
		}
		for _, u := range staged {
			if e.live(u) == slices.Contains(chosen, u) {
				t.Errorf("%v: after approving %v, %s live = %v", s, chosen, u, e.live(u))
			}
		}
	}
	if _, err := engines[0].ApproveAllDeletions(t.Context(), "contoso"); err != nil {
		t.Fatalf("%v: approve all: %v", s, err)
	}
	for _, u := range s.users {
		if e.live(u) == slices.Contains(s.stayOut, u) {
			t.Errorf("%v: after approving all, %s live = %v", s, u, e.live(u))
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestGuardProperty attacks the deletion guard with random bursts on 16
// workers and two engine instances: whenever more than the threshold leave
// within the settle delay, none is carried out without approval; otherwise
// never more than the threshold within the window; and approvals carry out
// exactly the approved set.
func TestGuardProperty(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 8
	}
	for seed := range uint64(seeds) {
		s := newGuardScenario(seed)
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, crowd(len(s.users)), guardOf(s.threshold, guardDelay))
			s.run(t, e, []*engine.Engine{e.eng, e.engine(nil)})
		})
	}
}

// TestGuardPropertyOnTableStorage runs scenarios with each engine on its own
// Table Storage client, sharing the tables, as several Functions instances
// do: the guard's conditional writes hold there too.
func TestGuardPropertyOnTableStorage(t *testing.T) {
	for seed := range uint64(6) {
		s := newGuardScenario(1000 + seed)
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			e := newEnv(t, crowd(len(s.users)), guardOf(s.threshold, guardDelay))
			prefix := tablePrefix(t)
			open := func() store.Store {
				st, err := tablestore.Open(t.Context(), tablestore.Options{ConnectionString: tables.ConnectionString(t), TablePrefix: prefix})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				return st
			}
			e.store = open()
			e.eng = e.engine(nil)
			second := e.engineWith(open(), nil)
			s.run(t, e, []*engine.Engine{e.eng, second})
		})
	}
}

func tablePrefix(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "g" + hex.EncodeToString(b[:])
}
