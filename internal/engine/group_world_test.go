package engine_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
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

// groupAnchor is the group anchor attribute the tests' wiring gives the
// engine (the Graph adapter chooses the real one).
const groupAnchor = "extension_0123456789abcdef0123456789abcdef_tenantsyncAnchor"

// groupWorld is the engine with group provisioning on in-memory tenants:
// users (in the scoping group unless told otherwise) and source groups.
type groupWorld struct {
	t        testing.TB
	src, dst *enginetest.Directory
	st       store.Store
	cfg      *config.Config
	users    map[string]string // name → source user id
	groups   map[string]string // name → source group id

	mu  sync.Mutex
	now time.Time
}

// newGroupWorld makes the users (in scope) and the groups with their
// members, and a target "contoso" syncing the groups named in sync.
func newGroupWorld(t testing.TB, users []string, groups map[string][]string, sync []string) *groupWorld {
	t.Helper()
	w := &groupWorld{t: t, src: enginetest.NewDirectory(srcDomain), dst: enginetest.NewDirectory(dstDomain),
		users: map[string]string{}, groups: map[string]string{}, now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	for _, n := range users {
		w.addUser(n, true)
	}
	for _, name := range slices.Sorted(mapsKeys(groups)) {
		w.groups[name] = w.src.AddGroup(name, directory.Attributes{"description": "The " + name + " group", "mailNickname": strings.ToLower(strings.ReplaceAll(name, " ", "-"))})
		for _, m := range groups[name] {
			if id, ok := w.users[m]; ok {
				w.src.SetGroupMember(w.groups[name], id, true)
			}
		}
	}
	for name, members := range groups {
		for _, m := range members {
			if sub, ok := w.groups[m]; ok {
				w.src.NestGroup(w.groups[name], sub, true)
			}
		}
	}
	d := config.Duration(0)
	w.cfg = &config.Config{
		Source: config.Tenant{Tenant: srcDomain},
		Targets: []config.Target{{Name: "contoso", Tenant: config.Tenant{Tenant: dstDomain},
			Scope:       config.Scope{Groups: []string{enginetest.GroupName}},
			Deprovision: config.Deprovision{Threshold: 100, Window: config.Duration(time.Hour), Delay: &d},
			Groups:      config.Groups{Sync: sync}}},
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

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (w *groupWorld) addUser(name string, inScope bool) string {
	w.users[name] = w.src.AddUser(directory.Attributes{
		"userPrincipalName": name + "@" + srcDomain, "mail": name + "@" + srcDomain, "displayName": "Person " + name,
		"userType": "Member", "accountEnabled": true,
	}, inScope)
	return w.users[name]
}

func (w *groupWorld) target() *config.Target { return &w.cfg.Targets[0] }

func (w *groupWorld) Now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *groupWorld) advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = w.now.Add(d)
}

func (w *groupWorld) engineOn(st store.Store) *engine.Engine {
	w.t.Helper()
	e, err := engine.New(engine.Options{Config: w.cfg, Source: w.src, Targets: map[string]engine.Target{"contoso": w.dst},
		Store: st, Now: w.Now, GroupAnchorAttr: groupAnchor})
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}

func (w *groupWorld) engine() *engine.Engine { return w.engineOn(w.st) }

// userChange and groupChange are the changes the event pipeline would
// process for a user, and for a synced group a groups delta reported.
func (w *groupWorld) userChange(name string) engine.Change {
	return engine.Change{Kind: engine.KindUser, ID: w.users[name], Cause: "notification"}
}

func (w *groupWorld) groupChange(name string) engine.Change {
	return engine.Change{Kind: engine.KindGroup, ID: w.groups[name], Cause: engine.CauseGroupSync}
}

// drain processes changes and their follow-ups until none is left, as the
// event pipeline would; with rng, in a random order.
func (w *groupWorld) drain(e *engine.Engine, rng *rand.Rand, queue ...engine.Change) []engine.Result {
	w.t.Helper()
	var results []engine.Result
	for len(queue) > 0 {
		i := 0
		if rng != nil {
			i = rng.IntN(len(queue))
		}
		ch := queue[i]
		queue = slices.Delete(queue, i, i+1)
		res, err := e.Sync(context.Background(), ch)
		if err != nil {
			w.t.Fatalf("sync %s %s (%s): %v", ch.Kind, ch.ID, ch.Cause, err)
		}
		results = append(results, res)
		queue = append(queue, res.FollowUps...)
	}
	return results
}

// syncAll syncs every user, then every group.
func (w *groupWorld) syncAll(e *engine.Engine) {
	w.t.Helper()
	var chs []engine.Change
	for _, n := range slices.Sorted(mapsKeys(w.users)) {
		chs = append(chs, w.userChange(n))
	}
	for _, n := range slices.Sorted(mapsKeys(w.groups)) {
		chs = append(chs, w.groupChange(n))
	}
	w.drain(e, nil, chs...)
}

// targetGroup returns the one target group with this name (failing the
// test if there are several).
func (w *groupWorld) targetGroup(name string) (enginetest.GroupState, bool) {
	w.t.Helper()
	ids := w.dst.GroupsNamed(name)
	switch len(ids) {
	case 0:
		return enginetest.GroupState{}, false
	case 1:
		g, _ := w.dst.Group(ids[0])
		return g, true
	}
	w.t.Fatalf("%d target groups named %q: %v", len(ids), name, ids)
	return enginetest.GroupState{}, false
}

// memberNames returns the names of a target group's members: the source
// user names of synced users, the mail of others.
func (w *groupWorld) memberNames(g enginetest.GroupState) []string {
	var out []string
	for _, id := range g.Members {
		u, ok := w.dst.User(id)
		if !ok {
			out = append(out, "?"+id)
			continue
		}
		mail, _ := u.Attrs.String("mail")
		out = append(out, strings.TrimSuffix(mail, "@"+srcDomain))
	}
	slices.Sort(out)
	return out
}

// targetUserOf returns the target user id of a synced user.
func (w *groupWorld) targetUserOf(name string) string {
	w.t.Helper()
	l, err := w.st.GetLink(context.Background(), "contoso", w.users[name])
	if err != nil {
		w.t.Fatalf("link of %s: %v", name, err)
	}
	return l.TargetID
}

// addLocalUser adds a user of the target's own (not synced).
func (w *groupWorld) addLocalUser(name string) string {
	return w.dst.AddUser(directory.Attributes{"userPrincipalName": name + "@" + dstDomain, "mail": name, "userType": "Member"}, false)
}

// crashingStore fails the first group link write that records a created
// group: a crash between the create and the link write.
type crashingStore struct {
	store.Store
	mu      sync.Mutex
	crashed bool
}

func (c *crashingStore) PutGroupLink(ctx context.Context, l store.GroupLink) (store.GroupLink, error) {
	c.mu.Lock()
	crash := !c.crashed && l.State == store.GroupActive && l.TargetID != ""
	c.crashed = c.crashed || crash
	c.mu.Unlock()
	if crash {
		return store.GroupLink{}, errCrash
	}
	return c.Store.PutGroupLink(ctx, l)
}

type crashError struct{}

func (crashError) Error() string { return "crash" }

var errCrash = crashError{}
