package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/demo"
	"github.com/tenantsync/tenantsync/internal/devtools/testenv"
	"github.com/tenantsync/tenantsync/internal/graphsim"
	"github.com/tenantsync/tenantsync/internal/local"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

// world is the simulator with the demo tenants and a running local
// instance, all in this process, talking over loopback HTTP.
type world struct {
	t     *testing.T
	sim   *graphsim.TestServer
	local *local.Local
	group string
}

func start(t *testing.T) *world {
	t.Helper()
	return startWith(t, nil)
}

// startWith starts the world with the options changed by change (nil
// keeps them).
func startWith(t *testing.T, change func(*local.Options)) *world {
	t.Helper()
	sim := graphsim.NewTestServer(t, graphsim.DemoSeed())
	st, err := boltstore.OpenTemp(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := app.Open(t.Context(), app.Options{Env: settings.FromMap(nil), Config: demo.Config(sim.URL), Store: st, MaxRetries: new(int)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	opts := local.Options{App: a, Listener: ln, Notifications: true, Ready: func(local.Info) { close(ready) }}
	if change != nil {
		change(&opts)
	}
	l, err := local.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := l.Wait(); err != nil {
			t.Errorf("local stopped with %v", err)
		}
	})
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("local did not start")
	}
	w := &world{t: t, sim: sim, local: l}
	var groups struct{ Value []struct{ ID string } }
	w.call(graphsim.DemoSourceDomain, "GET", "/groups?$filter="+url.QueryEscape("displayName eq '"+graphsim.ScopingGroup+"'"), nil, &groups)
	w.group = groups.Value[0].ID
	return w
}

func (w *world) call(domain, method, path string, body, out any) int {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, w.sim.TenantURL(domain)+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 && resp.StatusCode != 404 {
		w.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil && len(b) > 0 && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			w.t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// target returns Contoso's live user for a Fabrikam address, or nil.
func (w *world) target(mail string) map[string]any {
	w.t.Helper()
	var page struct{ Value []map[string]any }
	q := url.Values{"$filter": {"mail eq '" + mail + "'"}, "$select": {"id,department,accountEnabled,jobTitle"}}
	w.call(graphsim.DemoTargetDomain, "GET", "/users?"+q.Encode(), nil, &page)
	if len(page.Value) > 1 {
		w.t.Fatalf("%d target users for %s", len(page.Value), mail)
	}
	if len(page.Value) == 0 {
		return nil
	}
	return page.Value[0]
}

// eventually waits until cond holds, failing after a while.
func (w *world) eventually(what string, cond func() bool) {
	w.t.Helper()
	testenv.WaitFor(w.t, 20*time.Second, what, cond)
}

// settle waits until the simulator has no notification left to deliver
// and the queue is empty, so that what follows is caused by the test's next
// change alone.
func (w *world) settle() {
	w.t.Helper()
	quiet := 0
	w.eventually("quiet", func() bool {
		st := w.local.Queue().Stats()
		if st.VisibleMessages == 0 && st.Locked == 0 && st.ScheduledMessages == 0 {
			quiet++
		} else {
			quiet = 0
		}
		return quiet >= 10 // 200 ms without work: batched notifications have gone out
	})
}

func (w *world) newUser(name string) string {
	w.t.Helper()
	upn := name + "@" + graphsim.DemoSourceDomain
	var u struct{ ID string }
	w.call(graphsim.DemoSourceDomain, "POST", "/users", map[string]any{
		"accountEnabled": true, "displayName": name, "mailNickname": name, "userPrincipalName": upn,
		"mail": upn, "department": "Sales", "passwordProfile": map[string]any{"password": "x-Test-Only-9"},
	}, &u)
	w.call(graphsim.DemoSourceDomain, "POST", "/groups/"+w.group+"/members/$ref",
		map[string]any{"@odata.id": w.sim.TenantURL(graphsim.DemoSourceDomain) + "/directoryObjects/" + u.ID}, nil)
	return u.ID
}

func (w *world) faults(f graphsim.Faults) {
	w.t.Helper()
	if err := w.sim.SetFaults(f); err != nil {
		w.t.Fatal(err)
	}
}

func TestChangesFlowThroughNotifications(t *testing.T) {
	w := start(t)
	mail := "lin@" + graphsim.DemoSourceDomain
	id := w.newUser("lin")
	w.eventually("created in the target", func() bool { return w.target(mail) != nil })
	tid := w.target(mail)["id"].(string)

	w.call(graphsim.DemoSourceDomain, "PATCH", "/users/"+id, map[string]any{"department": "Marketing"}, nil)
	w.eventually("department updated", func() bool { return w.target(mail)["department"] == "Marketing" })

	w.call(graphsim.DemoSourceDomain, "PATCH", "/users/"+id, map[string]any{"accountEnabled": false}, nil)
	w.eventually("disabled", func() bool { return w.target(mail)["accountEnabled"] == false })

	w.call(graphsim.DemoSourceDomain, "DELETE", "/users/"+id, nil, nil)
	w.eventually("deleted", func() bool { return w.target(mail) == nil })
	if code := w.call(graphsim.DemoTargetDomain, "GET", "/directory/deletedItems/"+tid, nil, nil); code != 200 {
		t.Fatalf("target user not soft deleted: %d", code)
	}

	w.call(graphsim.DemoSourceDomain, "POST", "/directory/deletedItems/"+id+"/restore", nil, nil)
	w.eventually("restored", func() bool { u := w.target(mail); return u != nil && u["id"] == tid })
}

func TestReconcileRepairsALostNotification(t *testing.T) {
	w := start(t)
	mail := "kai@" + graphsim.DemoSourceDomain
	id := w.newUser("kai")
	w.eventually("created", func() bool { return w.target(mail) != nil })
	w.settle()

	w.faults(graphsim.Faults{Notifications: graphsim.NotificationFaults{Drop: 1}})
	w.call(graphsim.DemoSourceDomain, "PATCH", "/users/"+id, map[string]any{"jobTitle": "Lost in transit"}, nil)
	w.settle()
	if got := w.target(mail)["jobTitle"]; got == "Lost in transit" {
		t.Fatalf("a dropped notification arrived anyway")
	}
	w.faults(graphsim.Faults{})
	if err := w.local.Reconcile(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	w.eventually("repaired by reconcile", func() bool { return w.target(mail)["jobTitle"] == "Lost in transit" })
}

func TestDuplicatedAndReorderedNotificationsChangeNothingExtra(t *testing.T) {
	w := start(t)
	mail := "noa@" + graphsim.DemoSourceDomain
	id := w.newUser("noa")
	w.eventually("created", func() bool { return w.target(mail) != nil })
	w.settle()

	w.faults(graphsim.Faults{Notifications: graphsim.NotificationFaults{Duplicate: 1, Reorder: 1}})
	before := w.sim.Stats().Tenants[graphsim.DemoTargetDomain].Writes
	for _, title := range []string{"First", "Second", "Third"} {
		w.call(graphsim.DemoSourceDomain, "PATCH", "/users/"+id, map[string]any{"jobTitle": title}, nil)
	}
	w.eventually("last title", func() bool { return w.target(mail)["jobTitle"] == "Third" })
	w.settle() // duplicates still arriving
	writes := w.sim.Stats().Tenants[graphsim.DemoTargetDomain].Writes - before
	if writes > 3 {
		t.Errorf("%d target writes for 3 changes with every notification duplicated", writes)
	}
	if got := w.target(mail)["jobTitle"]; got != "Third" {
		t.Errorf("final jobTitle = %v: an older notification won", got)
	}
	if n := w.sim.Stats().Tenants[graphsim.DemoSourceDomain].Notifications; n.Duplicated == 0 {
		t.Errorf("the simulator duplicated no notification (%+v): the test proves nothing", n)
	}
}
