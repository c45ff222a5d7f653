package graphsim_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// TestSDKDeltaReset follows the delta query overview: "Delta query can
// return a response code of 410 Gone and a Location header containing a
// request URL with an empty $deltatoken (same as the initial query) ... the
// application must restart with a full synchronization"
// (https://learn.microsoft.com/graph/delta-query-overview#synchronization-reset),
// and "In case the token expires, the service should respond with a
// 40X-series error with error codes such as syncStateNotFound"
// (#token-duration).
func TestSDKDeltaReset(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		reset  graphsim.DeltaReset
		admin  string
		status int
		code   string
	}{
		{"410 by Go", graphsim.DeltaReset{Status: 410}, "", 410, "resyncRequired"},
		{"410 by admin API", graphsim.DeltaReset{}, `{"status":410}`, 410, "resyncRequired"},
		{"400 SyncStateNotFound", graphsim.DeltaReset{}, `{"status":400,"code":"SyncStateNotFound"}`, 400, "SyncStateNotFound"},
		{"400 default code", graphsim.DeltaReset{Status: 400}, "", 400, "syncStateNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := graphsim.NewTestServer(t, smallSeed())
			client, _ := newClient(t, ts.TenantURL("fabrikam.example"))
			headers := abstractions.NewRequestHeaders()
			headers.Add("Prefer", "odata.maxpagesize=2")
			first, err := client.Users().Delta().GetAsDeltaGetResponse(ctx, &users.DeltaRequestBuilderGetRequestConfiguration{
				Headers:         headers,
				QueryParameters: &users.DeltaRequestBuilderGetQueryParameters{Select: []string{"displayName", "jobTitle"}},
			})
			if err != nil || first.GetOdataNextLink() == nil {
				t.Fatalf("first page: %v", err)
			}
			_, _, deltaLink, _ := usersDeltaRound(t, client, "", []string{"displayName"})
			if tt.admin != "" {
				resp, body := call(t, "POST", ts.URL+"/_sim/tenants/fabrikam.example/delta/reset", nil, tt.admin)
				if resp.StatusCode != 204 {
					t.Fatalf("admin reset: %d %v", resp.StatusCode, body)
				}
			} else if err := ts.ResetDelta("fabrikam.example", tt.reset); err != nil {
				t.Fatal(err)
			}
			// Both a delta link and a next link from before the reset fail.
			for _, link := range []string{deltaLink, *first.GetOdataNextLink()} {
				_, err := client.Users().Delta().WithUrl(link).GetAsDeltaGetResponse(ctx, nil)
				var oe *odataerrors.ODataError
				if !errors.As(err, &oe) {
					t.Fatalf("after reset: %v, want an OData error", err)
				}
				if oe.ResponseStatusCode != tt.status || deref(oe.GetErrorEscaped().GetCode()) != tt.code {
					t.Errorf("after reset: %d %s, want %d %s", oe.ResponseStatusCode, deref(oe.GetErrorEscaped().GetCode()), tt.status, tt.code)
				}
				if tt.status != 410 {
					continue
				}
				loc := oe.GetResponseHeaders().Get("Location")
				if len(loc) != 1 {
					t.Fatalf("410 without one Location: %v", loc)
				}
				u, _ := url.Parse(loc[0])
				if q := u.Query(); !strings.HasSuffix(strings.TrimSuffix(u.Path, "()"), "/users/delta") || q.Get("$deltatoken") != "" || !q.Has("$deltatoken") || q.Get("$select") == "" {
					t.Errorf("Location %s: want users/delta with the round's $select and an empty $deltatoken", loc[0])
				}
				// Following it restarts with a full round.
				full, _, _, _ := usersDeltaRound(t, client, loc[0], nil)
				if len(full) != 4 {
					t.Errorf("restart from Location returned %d users, want all 4", len(full))
				}
			}
			// Tokens issued after the reset work.
			_, _, fresh, _ := usersDeltaRound(t, client, "", nil)
			if _, err := client.Users().Delta().WithUrl(fresh).GetAsDeltaGetResponse(ctx, nil); err != nil {
				t.Errorf("token issued after the reset: %v", err)
			}
		})
	}
	ts := graphsim.NewTestServer(t, smallSeed())
	for _, bad := range []graphsim.DeltaReset{{Status: 404}, {Status: 410, Code: "x"}} {
		if err := ts.ResetDelta("fabrikam.example", bad); err == nil {
			t.Errorf("reset %+v accepted", bad)
		}
	}
	if err := ts.ResetDelta("nowhere.example", graphsim.DeltaReset{}); err == nil {
		t.Error("reset of an unknown tenant accepted")
	}
}
