package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/engine/enginetest"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

const (
	srcDomain = "fabrikam.example"
	dstDomain = "contoso.example"
)

// memWorld is the engine on in-memory tenants (enginetest.Directory) and an
// embedded store: no Graph client, so these tests build and run in seconds.
type memWorld struct {
	t        testing.TB
	src, dst *enginetest.Directory
	st       store.Store
	cfg      *config.Config
	ids      map[string]string // user name → source id

	mu  sync.Mutex
	now time.Time
}

func newMemWorld(t testing.TB, users []string, threshold int, delay time.Duration) *memWorld {
	t.Helper()
	w := &memWorld{t: t, src: enginetest.NewDirectory(srcDomain), dst: enginetest.NewDirectory(dstDomain),
		ids: map[string]string{}, now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	for _, n := range users {
		w.ids[n] = w.src.AddUser(directory.Attributes{
			"userPrincipalName": n + "@" + srcDomain, "mail": n + "@" + srcDomain, "displayName": "Person " + n,
			"userType": "Member", "accountEnabled": true, "department": "Sales",
		}, true)
	}
	d := config.Duration(delay)
	w.cfg = &config.Config{
		Source: config.Tenant{Tenant: srcDomain},
		Targets: []config.Target{{Name: "contoso", Tenant: config.Tenant{Tenant: dstDomain},
			Scope:       config.Scope{Groups: []string{enginetest.GroupName}},
			Deprovision: config.Deprovision{Threshold: threshold, Window: config.Duration(time.Hour), Delay: &d}}},
	}
	w.cfg.ApplyDefaults()
	st, err := boltstore.OpenTemp(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w.st = st
	return w
}

// engine returns a new engine (an instance) over the world's store.
func (w *memWorld) engine() *engine.Engine {
	w.t.Helper()
	e, err := engine.New(engine.Options{Config: w.cfg, Source: w.src, Targets: map[string]engine.Target{"contoso": w.dst},
		Store: w.st, Now: w.Now})
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}

func (w *memWorld) SourceID(user string) string { return w.ids[user] }
func (w *memWorld) Leave(user string)           { w.src.SetMember(w.ids[user], false) }
func (w *memWorld) Return(user string)          { w.src.SetMember(w.ids[user], true) }
func (w *memWorld) Live(user string) bool       { return len(w.dst.ByMail(user+"@"+srcDomain)) == 1 }
func (w *memWorld) Target() string              { return "contoso" }
func (w *memWorld) Store() store.Store          { return w.st }

func (w *memWorld) Now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *memWorld) Advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = w.now.Add(d)
}

// TestGuardProperty attacks the deletion guard with many random bursts on
// 16 workers over two engine instances (enginetest.GuardScenario says what
// it checks). In memory, so that it runs a hundred seeds in seconds; the
// same scenarios run against the simulator through the Graph client in
// internal/engine/graphtest.
func TestGuardProperty(t *testing.T) {
	seeds := 120
	if testing.Short() {
		seeds = 40
	}
	for seed := range uint64(seeds) {
		s := enginetest.NewGuardScenario(seed)
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			w := newMemWorld(t, s.Users, s.Threshold, enginetest.GuardDelay)
			s.Run(t, w, []*engine.Engine{w.engine(), w.engine()})
		})
	}
}

// TestEventsNameTheirGraphRequests: an automatic sync (no caller's trace)
// records the Graph request ids behind its writes in the provisioning log,
// as provision on demand does.
func TestEventsNameTheirGraphRequests(t *testing.T) {
	w := newMemWorld(t, []string{"alice"}, 5, 0)
	w.dst.RequestID = func() string { return "req-1" }
	if _, err := w.engine().Sync(t.Context(), engine.Change{Kind: engine.KindUser, ID: w.ids["alice"]}); err != nil {
		t.Fatal(err)
	}
	page, err := w.st.ListEvents(t.Context(), "contoso", store.ListEventsOptions{})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("events = %+v, %v", page.Events, err)
	}
	if ids := page.Events[0].RequestIDs; len(ids) == 0 || ids[0] != "req-1" {
		t.Errorf("event request ids = %v, want the target's requests", ids)
	}
}

// TestEventsNameTheirTrigger: the provisioning log says why each sync ran,
// from the change's cause.
func TestEventsNameTheirTrigger(t *testing.T) {
	for _, cause := range []string{"notification", "delta", "approve"} {
		t.Run(cause, func(t *testing.T) {
			w := newMemWorld(t, []string{"alice"}, 5, 0)
			if _, err := w.engine().Sync(t.Context(), engine.Change{Kind: engine.KindUser, ID: w.ids["alice"], Cause: cause}); err != nil {
				t.Fatal(err)
			}
			page, err := w.st.ListEvents(t.Context(), "contoso", store.ListEventsOptions{})
			if err != nil || len(page.Events) != 1 {
				t.Fatalf("events = %+v, %v", page.Events, err)
			}
			if got := page.Events[0].Trigger; got != cause {
				t.Errorf("event trigger = %q, want %q", got, cause)
			}
		})
	}
}

// racingStore makes every other write of the deletion guard lose its race:
// just before it, another instance records a deprovision of its own.
type racingStore struct {
	store.Store
	now func() time.Time

	mu     sync.Mutex
	writes int
	ghosts int
}

func (r *racingStore) PutGuard(ctx context.Context, g store.Guard) (store.Guard, error) {
	r.mu.Lock()
	r.writes++
	interfere := r.writes%2 == 1
	if interfere {
		r.ghosts++
	}
	ghost := fmt.Sprintf("ghost-%d", r.ghosts)
	r.mu.Unlock()
	if interfere {
		cur, err := r.Store.GetGuard(ctx, g.Target)
		if errors.Is(err, store.ErrNotFound) {
			cur, err = store.Guard{Target: g.Target}, nil
		}
		if err != nil {
			return store.Guard{}, err
		}
		if cur.Executed == nil {
			cur.Executed = map[string]time.Time{}
		}
		cur.Executed[ghost] = r.now()
		if _, err := r.Store.PutGuard(ctx, cur); err != nil {
			return store.Guard{}, err
		}
	}
	return r.Store.PutGuard(ctx, g)
}

// TestGuardRecordsEveryDeprovisionItCarriesOut: whatever races another
// instance wins, every deprovision the guard let through is in its record
// (what the threshold counts), and the other instance's are kept too.
func TestGuardRecordsEveryDeprovisionItCarriesOut(t *testing.T) {
	users := enginetest.Names("p", 4)
	w := newMemWorld(t, users, 5, 0)
	w.st = &racingStore{Store: w.st, now: w.Now}
	eng := w.engine()
	for _, u := range users {
		if _, err := eng.Sync(t.Context(), engine.Change{Kind: engine.KindUser, ID: w.ids[u]}); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range users {
		w.Leave(u)
		if _, err := eng.Sync(t.Context(), engine.Change{Kind: engine.KindUser, ID: w.ids[u]}); err != nil {
			t.Fatal(err)
		}
	}
	g, err := w.st.GetGuard(t.Context(), "contoso")
	if err != nil {
		t.Fatal(err)
	}
	r := w.st.(*racingStore)
	executed := 0
	for _, u := range users {
		if w.Live(u) {
			continue
		}
		executed++
		if _, ok := g.Executed[w.ids[u]]; !ok {
			t.Errorf("%s was deprovisioned but the guard's record does not have it: %v", u, g.Executed)
		}
	}
	for i := 1; i <= r.ghosts; i++ {
		if _, ok := g.Executed[fmt.Sprintf("ghost-%d", i)]; !ok {
			t.Errorf("the other instance's deprovision ghost-%d was overwritten: %v", i, g.Executed)
		}
	}
	if executed == 0 || r.ghosts == 0 {
		t.Errorf("%d deprovisioned here, %d races lost: the test proves nothing", executed, r.ghosts)
	}
}
