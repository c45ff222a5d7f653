package graphsim_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

func TestThrottlingOverHTTP(t *testing.T) {
	ts := graphsim.NewTestServer(t, smallSeed())
	base := ts.TenantURL("fabrikam.example")
	bob := userID(t, ts, "fabrikam.example", "bob@fabrikam.example")
	if err := ts.SetFaults(graphsim.Faults{Throttle: "real"}); err != nil {
		t.Fatal(err)
	}
	// A tenant under 50 users has 3,500 resource units per 10 s; a GET of
	// a user is not in the cost table and costs 1
	// (https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits:
	// "Any requests not listed have a base cost of 1").
	ok := 0
	start := time.Now()
	var throttled *http.Response
	var body map[string]any
	for i := 0; i < 4000 && throttled == nil; i++ {
		resp, b := call(t, "GET", base+"/users/"+bob, nil, "")
		switch resp.StatusCode {
		case 200:
			ok++
		case 429:
			throttled, body = resp, b
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if throttled == nil {
		t.Fatal("never throttled")
	}
	// The bucket refills at 350 RU/s while the loop runs.
	refill := int(time.Since(start).Seconds()*350) + 1
	if ok < 3500 || ok > 3500+refill {
		t.Errorf("%d GETs before the first 429, want 3,500 plus at most %d refilled", ok, refill)
	}
	if throttled.Header.Get("Retry-After") == "" || body["error"].(map[string]any)["code"] != "TooManyRequests" {
		t.Errorf("429 without Retry-After or TooManyRequests: %v %v", throttled.Header, body)
	}
	if st := ts.Stats().Tenants["fabrikam.example"]; st.Throttled != 1 {
		t.Errorf("throttled = %d, want 1", st.Throttled)
	}
	// Time refills the bucket.
	ts.AdvanceClock(time.Second)
	if resp, _ := call(t, "GET", base+"/users/"+bob, nil, ""); resp.StatusCode != 200 {
		t.Errorf("after refill: %d", resp.StatusCode)
	}
}

func TestNotificationFaults(t *testing.T) {
	opts := graphsim.Options{NotificationBatchWindow: 5 * time.Millisecond, NotificationRetry: 10 * time.Millisecond}
	tests := []struct {
		name   string
		faults graphsim.NotificationFaults
		want   int // notifications received for three changes
		stat   func(graphsim.NotificationStats) int64
	}{
		{"none", graphsim.NotificationFaults{}, 3, func(s graphsim.NotificationStats) int64 { return s.Delivered }},
		{"drop all", graphsim.NotificationFaults{Drop: 1}, 0, func(s graphsim.NotificationStats) int64 { return s.Dropped }},
		{"duplicate all", graphsim.NotificationFaults{Duplicate: 1}, 6, func(s graphsim.NotificationStats) int64 { return s.Duplicated }},
		{"reorder all", graphsim.NotificationFaults{Reorder: 1}, 3, func(s graphsim.NotificationStats) int64 { return s.Reordered }},
		{"delay", graphsim.NotificationFaults{DelayMs: 50}, 3, func(s graphsim.NotificationStats) int64 { return s.Delivered }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := graphsim.NewTestServerWithOptions(t, smallSeed(), opts)
			client, _ := newClient(t, ts.TenantURL("fabrikam.example"))
			l := newListener(t)
			s := models.NewSubscription()
			s.SetResource(ptr("users"))
			s.SetChangeType(ptr("updated"))
			s.SetNotificationUrl(ptr(l.URL))
			s.SetExpirationDateTime(ptr(time.Now().Add(time.Hour)))
			if _, err := client.Subscriptions().Post(context.Background(), s, nil); err != nil {
				t.Fatal(err)
			}
			if err := ts.SetFaults(graphsim.Faults{Notifications: tt.faults}); err != nil {
				t.Fatal(err)
			}
			for _, upn := range []string{"alice@fabrikam.example", "bob@fabrikam.example", "carol@fabrikam.example"} {
				call(t, "PATCH", ts.TenantURL("fabrikam.example")+"/users/"+upn, nil, `{"officeLocation":"Building 7"}`)
			}
			if tt.want > 0 {
				l.waitFor(t, "notifications", func(ns []map[string]any) bool { return len(ns) >= tt.want })
			}
			time.Sleep(150 * time.Millisecond) // nothing more may arrive
			l.mu.Lock()
			got := len(l.received)
			l.mu.Unlock()
			if got != tt.want {
				t.Errorf("received %d notifications, want %d", got, tt.want)
			}
			st := ts.Stats().Tenants["fabrikam.example"].Notifications
			if want := int64(tt.want); tt.name == "drop all" || tt.name == "duplicate all" || tt.name == "reorder all" {
				want = 3
				if n := tt.stat(st); n != want {
					t.Errorf("stat = %d, want %d (%+v)", n, want, st)
				}
			} else if n := tt.stat(st); n != want {
				t.Errorf("delivered = %d, want %d (%+v)", n, want, st)
			}
		})
	}
}

func TestSubscriptionVanishes(t *testing.T) {
	ts := graphsim.NewTestServerWithOptions(t, smallSeed(), graphsim.Options{NotificationBatchWindow: 5 * time.Millisecond})
	client, _ := newClient(t, ts.TenantURL("fabrikam.example"))
	l := newListener(t)
	s := models.NewSubscription()
	s.SetResource(ptr("/users"))
	s.SetChangeType(ptr("updated"))
	s.SetNotificationUrl(ptr(l.URL))
	s.SetExpirationDateTime(ptr(time.Now().Add(time.Hour)))
	sub, err := client.Subscriptions().Post(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := call(t, "DELETE", ts.URL+"/_sim/subscriptions/"+*sub.GetId(), nil, "")
	if resp.StatusCode != 204 {
		t.Fatalf("admin delete: %d", resp.StatusCode)
	}
	call(t, "PATCH", ts.TenantURL("fabrikam.example")+"/users/bob@fabrikam.example", nil, `{"officeLocation":"Gone"}`)
	time.Sleep(100 * time.Millisecond)
	l.mu.Lock()
	n := len(l.received)
	l.mu.Unlock()
	if n != 0 {
		t.Errorf("%d notifications after the subscription vanished", n)
	}
	if _, err := client.Subscriptions().BySubscriptionId(*sub.GetId()).Get(context.Background(), nil); !isStatus(err, 404) {
		t.Errorf("get vanished subscription: %v, want 404", err)
	}
	// Subscriptions expire with the simulated clock.
	sub2, err := client.Subscriptions().Post(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts.AdvanceClock(2 * time.Hour)
	if _, err := client.Subscriptions().BySubscriptionId(*sub2.GetId()).Get(context.Background(), nil); !isStatus(err, 404) {
		t.Errorf("get expired subscription: %v, want 404", err)
	}
}
