package operator

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/internal/graph"
	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// TestCheckOnline runs the checks with real Graph clients against the
// simulator. In front of it, contoso's authorization policy answers 403,
// as Graph does for an app without Policy.Read.All: that is a warning, not
// a failure, since syncing does not need the permission.
func TestCheckOnline(t *testing.T) {
	sim := graphsim.New(graphsim.Options{})
	err := sim.LoadSeed(graphsim.Seed{Tenants: []graphsim.TenantSeed{
		{Domain: "fabrikam.example", Groups: []graphsim.Object{
			{"displayName": "Sync"}, {"id": "7e000000-0000-4000-8000-000000000001", "displayName": "Twice"},
			{"id": "7e000000-0000-4000-8000-000000000002", "displayName": "Twice"},
		}},
		{Domain: "contoso.example"},
		{Domain: "closed.example", BlockInvitations: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/contoso.example/v1.0/policies/authorizationPolicy" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"request-id":"r-1"}}}`))
			return
		}
		sim.ServeHTTP(w, r)
	}))
	defer hs.Close()
	defer sim.Close()
	client := func(tenant string) *graph.Client {
		c, err := graph.New(context.Background(), graph.Options{BaseURL: hs.URL + "/" + tenant + "/v1.0"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	checks := CheckOnline(context.Background(), OnlineOptions{
		Source: client("fabrikam.example"),
		Targets: []OnlineTarget{
			{Name: "contoso", Probe: client("contoso.example"), Groups: []string{"Sync", "Twice"}},
			{Name: "closed", Probe: client("closed.example"), Groups: []string{"Sync", "Missing"}},
			{Name: "broken", ProbeErr: errors.New("credential (certificate) for tenant b.example: read cert.pem: no such file")},
		},
		NotificationURL: "https://t.example/api/GraphWebhook",
	})
	want := []Check{
		{"source", "read users", CheckOK, "can read users"},
		{"source", "read groups", CheckOK, "can read groups"},
		{"source", "scoping groups", CheckFail, `1 of 3 resolve; "Twice": 2 groups have this name; configure it by object id; "Missing": no group with this id or display name`},
		{"source", "list subscriptions", CheckOK, "can list subscriptions (0 now)"},
		{"source", "notification URL", CheckSkip, "not checked: whether Graph can reach it is out of scope here; Graph validates it when a subscription is created"},
		{"contoso", "read users", CheckOK, "can read users"},
		{"contoso", "guest invitations", CheckWarn, "not checked: reading the authorization policy needs Policy.Read.All, which syncing does not " +
			"(read the authorization policy: 403 Authorization_RequestDenied: Insufficient privileges to complete the operation. (request-id r-1))"},
		{"closed", "read users", CheckOK, "can read users"},
		{"closed", "guest invitations", CheckFail, "refused: the authorization policy's allowInvitesFrom is none, so every invitation fails"},
		{"broken", "credential", CheckFail, "credential (certificate) for tenant b.example: read cert.pem: no such file"},
	}
	if len(checks) != len(want) {
		t.Fatalf("%d checks, want %d:\n%+v", len(checks), len(want), checks)
	}
	for i := range want {
		if checks[i] != want[i] {
			t.Errorf("check %d:\n got %+v\nwant %+v", i, checks[i], want[i])
		}
	}
	if f := FailedChecks(checks); len(f) != 3 || f[0].Check != "scoping groups" {
		t.Errorf("FailedChecks = %+v", f)
	}
	var b strings.Builder
	if err := WriteChecks(&b, checks[:2]); err != nil {
		t.Fatal(err)
	}
	if want := "TENANT  CHECK        RESULT  DETAIL\nsource  read users   ok      can read users\nsource  read groups  ok      can read groups\n"; b.String() != want {
		t.Errorf("WriteChecks:\n%q\nwant\n%q", b.String(), want)
	}
}
