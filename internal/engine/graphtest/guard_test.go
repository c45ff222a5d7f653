package graphtest_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/devtools/testenv"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/engine/enginetest"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/tablestore"
)

// tables is Azurite, started once for this test binary: the guard's
// property holds across instances sharing Table Storage too.
var tables testenv.Tables

func TestMain(m *testing.M) { os.Exit(tables.Run(m)) }

// simWorld is where a guard scenario plays on the simulator, through the
// real Graph client.
type simWorld struct{ *env }

func (w simWorld) SourceID(user string) string { return w.sourceID(user) }
func (w simWorld) Leave(user string)           { w.removeMember(user) }
func (w simWorld) Return(user string)          { w.addMember(w.sourceID(user)) }
func (w simWorld) Live(user string) bool       { return w.live(user) }
func (w simWorld) Target() string              { return "contoso" }
func (w simWorld) Store() store.Store          { return w.store }
func (w simWorld) Now() time.Time              { return w.time() }
func (w simWorld) Advance(d time.Duration)     { w.advance(d) }

// TestGuardProperty attacks the deletion guard with random bursts on 16
// workers and two engine instances, through the Graph client and the
// simulator (enginetest.GuardScenario says what it checks; the engine's own
// tests run many more seeds in memory).
func TestGuardProperty(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 8
	}
	for seed := range uint64(seeds) {
		s := enginetest.NewGuardScenario(seed)
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			// The env (its Graph clients) is built before t.Parallel, so
			// while no other subtest sends requests: msgraph-sdk-go's
			// NewGraphServiceClient writes a package variable of kiota
			// that every model constructor reads, a data race under
			// go test -race otherwise.
			e := newEnv(t, crowd(len(s.Users)), guardOf(s.Threshold, enginetest.GuardDelay))
			t.Parallel()
			s.Run(t, simWorld{e}, []*engine.Engine{e.eng, e.engine(nil)})
		})
	}
}

// TestGuardPropertyOnTableStorage runs scenarios with each engine on its own
// Table Storage client, sharing the tables, as several Functions instances
// do: the guard's conditional writes hold there too.
func TestGuardPropertyOnTableStorage(t *testing.T) {
	for seed := range uint64(6) {
		s := enginetest.NewGuardScenario(1000 + seed)
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			e := newEnv(t, crowd(len(s.Users)), guardOf(s.Threshold, enginetest.GuardDelay))
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
			s.Run(t, simWorld{e}, []*engine.Engine{e.eng, second})
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
