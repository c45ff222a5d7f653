package pipeline_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/changes"
	"github.com/tenantsync/tenantsync/internal/customhandler"
	"github.com/tenantsync/tenantsync/internal/demo"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/graphsim"
	"github.com/tenantsync/tenantsync/internal/pipeline"
	"github.com/tenantsync/tenantsync/internal/queue"
	"github.com/tenantsync/tenantsync/internal/queue/embedded"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

// rig is a pipeline over the real engine and the simulator, with an
// embedded queue nobody consumes, so a test sees exactly what was enqueued.
type rig struct {
	sim   *graphsim.TestServer
	queue *embedded.Queue
	p     *pipeline.Pipeline
	rt    *app.Runtime
}

func newRig(t *testing.T) *rig {
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
	q, err := embedded.Open(st.DB(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	rt, err := a.Runtime(app.RuntimeOptions{Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{sim: sim, queue: q, p: rt.Pipeline, rt: rt}
}

// member returns the id of an enabled member of the scoping group.
func (r *rig) member(t *testing.T) string {
	t.Helper()
	get := func(path string, out any) {
		resp, err := http.Get(r.sim.TenantURL(graphsim.DemoSourceDomain) + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	var groups struct{ Value []struct{ ID string } }
	get("/groups?$filter="+url.QueryEscape("displayName eq '"+graphsim.ScopingGroup+"'"), &groups)
	var members struct {
		Value []struct {
			ID             string
			AccountEnabled bool
			UserType       string
			Mail           string
		}
	}
	get("/groups/"+groups.Value[0].ID+"/members/microsoft.graph.user?$select=id,accountEnabled,userType,mail", &members)
	for _, m := range members.Value {
		if m.AccountEnabled && m.UserType == "Member" && m.Mail != "" {
			return m.ID
		}
	}
	t.Fatal("no member")
	return ""
}

func delivery(t *testing.T, c engine.Change) queue.Delivery {
	t.Helper()
	m, err := changes.Message(c)
	if err != nil {
		t.Fatal(err)
	}
	return queue.Delivery{Message: m, DeliveryCount: 1}
}

func TestProcessChangeThroughTheCustomHandler(t *testing.T) {
	r := newRig(t)
	srv := customhandler.NewServer(nil)
	r.p.Register(srv, pipeline.HTTPHandlers{Webhook: r.rt.Webhook, Status: r.rt.Status})
	hs := httptest.NewServer(srv)
	defer hs.Close()

	id := r.member(t)
	body, err := changes.Encode(engine.Change{Kind: engine.KindUser, ID: id, Cause: "notification", Observed: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	// The host copies a JSON body's top-level properties over the trigger
	// metadata: ours must not collide with any.
	if err := customhandler.CheckServiceBusBody(body); err != nil {
		t.Fatalf("change message body: %v", err)
	}
	inv, err := customhandler.NewServiceBusInvocation(pipeline.FunctionProcessChange, "message",
		customhandler.Message{Body: body, MessageID: "m-1", SessionID: id, DeliveryCount: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	writes := r.sim.Stats().Tenants[graphsim.DemoTargetDomain].Writes
	status := post(t, hs.URL+"/"+pipeline.FunctionProcessChange, inv)
	if status != http.StatusOK {
		t.Fatalf("ProcessChange answered %d", status)
	}
	if w := r.sim.Stats().Tenants[graphsim.DemoTargetDomain].Writes - writes; w != 2 {
		t.Errorf("the change made %d target writes, want 2 (invite and PATCH)", w)
	}

	// The Reconcile timer enqueues the initial full sync.
	tinv, err := customhandler.NewTimerInvocation(pipeline.FunctionReconcile, "timer", customhandler.Timer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if status := post(t, hs.URL+"/"+pipeline.FunctionReconcile, tinv); status != http.StatusOK {
		t.Fatalf("Reconcile answered %d", status)
	}
	if n := r.queue.Stats().VisibleMessages; n < 50 {
		t.Errorf("the first reconcile enqueued %d changes, want the demo's in-scope users", n)
	}

	// A broken message fails the invocation, so that Service Bus retries
	// and finally dead-letters it.
	bad, _ := customhandler.NewServiceBusInvocation(pipeline.FunctionProcessChange, "message",
		customhandler.Message{Body: []byte(`{"v":9}`), MessageID: "m-2", DeliveryCount: 1}, nil)
	if status := post(t, hs.URL+"/"+pipeline.FunctionProcessChange, bad); status < 400 {
		t.Errorf("an undecodable message answered %d", status)
	}
}

func post(t *testing.T, url string, inv *customhandler.Invocation) int {
	t.Helper()
	b, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestThrottledChangeIsRescheduledNotSlept(t *testing.T) {
	r := newRig(t)
	id := r.member(t)
	if err := r.sim.SetFaults(graphsim.Faults{FailNext: 1, ErrorStatuses: []int{429}, RetryAfterSeconds: 7}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := r.p.ProcessChange(t.Context(), delivery(t, engine.Change{Kind: engine.KindUser, ID: id})); err != nil {
		t.Fatalf("throttled change: %v, want it completed and re-scheduled", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("ProcessChange took %s: it slept on the throttle", took)
	}
	if st := r.queue.Stats(); st.ScheduledMessages != 1 {
		t.Errorf("scheduled messages = %d, want 1", st.ScheduledMessages)
	}
	if c := r.p.Counters()["changesRescheduled"]; c != 1 {
		t.Errorf("changesRescheduled = %d", c)
	}
}

func TestTransientFailureBacksOff(t *testing.T) {
	r := newRig(t)
	id := r.member(t)
	if err := r.sim.SetFaults(graphsim.Faults{FailNext: 1, ErrorStatuses: []int{504}}); err != nil {
		t.Fatal(err)
	}
	if err := r.p.ProcessChange(t.Context(), delivery(t, engine.Change{Kind: engine.KindUser, ID: id})); err != nil {
		t.Fatalf("first transient failure: %v, want a re-scheduled retry", err)
	}
	if st := r.queue.Stats(); st.ScheduledMessages != 1 {
		t.Fatalf("scheduled messages = %d, want 1", st.ScheduledMessages)
	}
	// After the last attempt the message goes back to the queue's own retries.
	d := delivery(t, engine.Change{Kind: engine.KindUser, ID: id})
	d.Properties = map[string]any{pipeline.PropertyAttempt: json.Number("7")}
	if err := r.sim.SetFaults(graphsim.Faults{FailNext: 1, ErrorStatuses: []int{504}}); err != nil {
		t.Fatal(err)
	}
	err := r.p.ProcessChange(t.Context(), d)
	if err == nil || errors.Is(err, queue.ErrDeadLetter) {
		t.Errorf("attempt 8: %v, want an error that abandons the message", err)
	}
}

func TestUndecodableMessageIsDeadLettered(t *testing.T) {
	r := newRig(t)
	err := r.p.ProcessChange(t.Context(), queue.Delivery{Message: queue.Message{ID: "x", Body: []byte("not json")}, DeliveryCount: 1})
	if !errors.Is(err, queue.ErrDeadLetter) {
		t.Errorf("err = %v, want a dead letter", err)
	}
}
