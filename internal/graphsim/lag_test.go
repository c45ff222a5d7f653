package graphsim_test

import (
	"context"
	"strings"
	"testing"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	msgraph "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// The lag tests follow Microsoft Entra's eventual consistency: "A
// successful write to Microsoft Entra does not guarantee that an immediate
// read will reflect that change"; it is normal for "A newly created object
// to return a 'Not Found'" and for "A recently updated property to not yet
// be visible"
// (https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/,
// "What eventual consistency means in Microsoft Entra";
// https://learn.microsoft.com/graph/api/user-list: "This request might have
// replication delays for users that were recently created, updated, or
// deleted"); advanced queries read an index where "A slight delay can exist
// between when an item is added or updated and when it's available in the
// index" (https://learn.microsoft.com/graph/api/user-list-memberof,
// "Optional query parameters"); and delta "Processing delays": "Sometimes,
// due to replication delays, the changes to the object do not show up
// immediately when you select the @odata.nextLink or the @odata.deltaLink.
// Retry the @odata.nextLink or @odata.deltaLink after some time"
// (https://learn.microsoft.com/graph/delta-query-overview#processing-delays).

// lagSeed is smallSeed with a replication lag on the source tenant.
func lagSeed(lag, advanced string) graphsim.Seed {
	seed := smallSeed()
	seed.Tenants[0].ReplicationLag = lag
	seed.Tenants[0].AdvancedLag = advanced
	seed.Tenants[0].LagSeed = 7
	return seed
}

func createUser(t *testing.T, client *msgraph.GraphServiceClient, upn string) string {
	t.Helper()
	u := models.NewUser()
	u.SetUserPrincipalName(ptr(upn))
	u.SetDisplayName(ptr("New " + upn))
	u.SetMailNickname(ptr(strings.Split(upn, "@")[0]))
	u.SetMail(ptr(upn))
	u.SetAccountEnabled(ptr(true))
	pp := models.NewPasswordProfile()
	pp.SetPassword(ptr("Sim-Password-1"))
	u.SetPasswordProfile(pp)
	created, err := client.Users().Post(context.Background(), u, nil)
	if err != nil {
		t.Fatalf("create %s: %v", upn, err)
	}
	return *created.GetId()
}

// filterByMail lists the users with a mail, normally or as an advanced
// query.
func filterByMail(t *testing.T, client *msgraph.GraphServiceClient, mail string, advanced bool) int {
	t.Helper()
	cfg := &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Filter: ptr("mail eq '" + mail + "'")},
	}
	if advanced {
		h := abstractions.NewRequestHeaders()
		h.Add("ConsistencyLevel", "eventual")
		cfg.Headers = h
		cfg.QueryParameters.Count = ptr(true)
	}
	res, err := client.Users().Get(context.Background(), cfg)
	if err != nil {
		t.Fatalf("filter by mail: %v", err)
	}
	return len(res.GetValue())
}

func TestSDKReplicationLag(t *testing.T) {
	ctx := context.Background()
	// An hour of lag: the reads below run within milliseconds of the
	// writes, so they come before the drawn delay.
	ts := graphsim.NewTestServer(t, lagSeed("1h", "100h"))
	client, _ := newClient(t, ts.TenantURL("fabrikam.example"))
	bob := userID(t, ts, "fabrikam.example", "bob@fabrikam.example")
	team := groupID(t, ts, "fabrikam.example", "Team")

	erin := createUser(t, client, "erin@fabrikam.example")
	patch := models.NewUser()
	patch.SetJobTitle(ptr("Staff Engineer"))
	if _, err := client.Users().ByUserId(bob).Patch(ctx, patch, nil); err != nil {
		t.Fatal(err)
	}
	t.Run("a new user is missing", func(t *testing.T) {
		if _, err := client.Users().ByUserId(erin).Get(ctx, nil); !isStatus(err, 404) {
			t.Errorf("GET: %v, want 404 Request_ResourceNotFound", err)
		}
		if n := filterByMail(t, client, "erin@fabrikam.example", false); n != 0 {
			t.Errorf("$filter found %d", n)
		}
		if _, err := client.Users().ByUserId(erin).Patch(ctx, patch, nil); !isStatus(err, 404) {
			t.Errorf("PATCH: %v, want 404", err)
		}
		ref := models.NewReferenceCreate()
		ref.SetOdataId(ptr(ts.TenantURL("fabrikam.example") + "/directoryObjects/" + erin))
		if err := client.Groups().ByGroupId(team).Members().Ref().Post(ctx, ref, nil); !isStatus(err, 404) {
			t.Errorf("add to a group: %v, want 404", err)
		}
	})
	t.Run("a changed user is stale", func(t *testing.T) {
		u, err := client.Users().ByUserId(bob).Get(ctx, nil)
		if err != nil || deref(u.GetJobTitle()) != "Engineer" {
			t.Errorf("jobTitle %q (%v), want the previous Engineer", deref(u.GetJobTitle()), err)
		}
	})
	t.Run("the admin API never lags", func(t *testing.T) {
		snap, _ := ts.Snapshot("fabrikam.example")
		found := false
		for _, o := range snap.Users {
			found = found || o["id"] == erin
			if o["id"] == bob && o["jobTitle"] != "Staff Engineer" {
				t.Errorf("snapshot jobTitle %v", o["jobTitle"])
			}
		}
		if !found {
			t.Error("snapshot lacks the new user")
		}
	})
	// Step the simulated clock until normal reads see erin: advanced
	// queries (up to 100 h of lag) still do not.
	step := time.Hour / 40
	for i := 0; ; i++ {
		if i > 40 {
			t.Fatal("erin never became visible within the lag")
		}
		if _, err := client.Users().ByUserId(erin).Get(ctx, nil); err == nil {
			break
		}
		ts.AdvanceClock(step)
	}
	if n := filterByMail(t, client, "erin@fabrikam.example", false); n != 1 {
		t.Errorf("$filter after the lag found %d", n)
	}
	if n := filterByMail(t, client, "erin@fabrikam.example", true); n != 0 {
		t.Errorf("advanced query found erin as soon as a normal read: %d", n)
	}
	ts.AdvanceClock(100 * time.Hour)
	if n := filterByMail(t, client, "erin@fabrikam.example", true); n != 1 {
		t.Errorf("advanced query after its lag found %d", n)
	}
	u, err := client.Users().ByUserId(bob).Get(ctx, nil)
	if err != nil || deref(u.GetJobTitle()) != "Staff Engineer" {
		t.Errorf("jobTitle after the lag %q (%v)", deref(u.GetJobTitle()), err)
	}
	// A deleted user is still served until the deletion replicates.
	if err := client.Users().ByUserId(bob).Delete(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Users().ByUserId(bob).Get(ctx, nil); err != nil {
		t.Errorf("GET right after DELETE: %v, want the stale user", err)
	}
	ts.AdvanceClock(time.Hour)
	if _, err := client.Users().ByUserId(bob).Get(ctx, nil); !isStatus(err, 404) {
		t.Errorf("GET after the deletion replicated: %v, want 404", err)
	}
}

// TestSDKReplicationLagGroups: groups and their members replicate too.
func TestSDKReplicationLagGroups(t *testing.T) {
	ctx := context.Background()
	ts := graphsim.NewTestServer(t, lagSeed("1h", ""))
	client, _ := newClient(t, ts.TenantURL("fabrikam.example"))
	carol := userID(t, ts, "fabrikam.example", "carol@fabrikam.example")
	team := groupID(t, ts, "fabrikam.example", "Team")
	g := models.NewGroup()
	g.SetDisplayName(ptr("Research"))
	g.SetMailNickname(ptr("research"))
	g.SetMailEnabled(ptr(false))
	g.SetSecurityEnabled(ptr(true))
	created, err := client.Groups().Post(ctx, g, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Groups().ByGroupId(*created.GetId()).Get(ctx, nil); !isStatus(err, 404) {
		t.Errorf("GET new group: %v, want 404", err)
	}
	ref := models.NewReferenceCreate()
	ref.SetOdataId(ptr(ts.TenantURL("fabrikam.example") + "/directoryObjects/" + carol))
	if err := client.Groups().ByGroupId(team).Members().Ref().Post(ctx, ref, nil); err != nil {
		t.Fatal(err)
	}
	members, err := client.Groups().ByGroupId(team).Members().Get(ctx, nil)
	if err != nil || len(members.GetValue()) != 2 {
		t.Errorf("members right after the add: %d (%v), want the previous 2", len(members.GetValue()), err)
	}
	ts.AdvanceClock(time.Hour)
	members, err = client.Groups().ByGroupId(team).Members().Get(ctx, nil)
	if err != nil || len(members.GetValue()) != 3 {
		t.Errorf("members after the lag: %d (%v), want 3", len(members.GetValue()), err)
	}
	if _, err := client.Groups().ByGroupId(*created.GetId()).Get(ctx, nil); err != nil {
		t.Errorf("GET new group after the lag: %v", err)
	}
}

// TestSDKReplicationLagDelta: a change a delta round cannot see yet is
// reported by a later round, never lost.
func TestSDKReplicationLagDelta(t *testing.T) {
	ts := graphsim.NewTestServer(t, lagSeed("1h", ""))
	client, _ := newClient(t, ts.TenantURL("fabrikam.example"))
	initial, _, link, _ := usersDeltaRound(t, client, "", nil)
	if len(initial) != 4 {
		t.Fatalf("initial round: %d users", len(initial))
	}
	erin := createUser(t, client, "erin@fabrikam.example")
	// An initial round started now does not list erin either.
	fresh, _, _, _ := usersDeltaRound(t, client, "", nil)
	if _, ok := fresh[erin]; ok {
		t.Error("a new initial round lists erin before she replicated")
	}
	early, _, link2, _ := usersDeltaRound(t, client, link, nil)
	if _, ok := early[erin]; ok {
		t.Error("delta reported erin before she replicated")
	}
	ts.AdvanceClock(time.Hour)
	late, _, _, _ := usersDeltaRound(t, client, link2, nil)
	if _, ok := late[erin]; !ok {
		t.Errorf("delta after the lag did not report erin: %v", late)
	}
}

// TestReplicationLagReproducible: the delays come from a seeded generator,
// so the same seed and the same writes give the same delays, each within
// the lag (Graph documents no length: "A newly created object to return a
// 'Not Found'" only during "this replication window",
// https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/).
func TestReplicationLagReproducible(t *testing.T) {
	visibleAfter := func(seed uint64) int {
		ts := graphsim.NewTestServerWithOptions(t, lagSeed("1h", ""), graphsim.Options{})
		s := lagSeed("1h", "")
		s.Tenants[0].LagSeed = seed
		if err := ts.LoadSeed(s); err != nil {
			t.Fatal(err)
		}
		client, _ := newClient(t, ts.TenantURL("fabrikam.example"))
		ids := []string{createUser(t, client, "u1@fabrikam.example"), createUser(t, client, "u2@fabrikam.example")}
		steps := 0
		for _, id := range ids {
			for ; steps <= 100; steps++ {
				if _, err := client.Users().ByUserId(id).Get(context.Background(), nil); err == nil {
					break
				}
				ts.AdvanceClock(time.Hour / 100)
			}
		}
		return steps
	}
	a, b := visibleAfter(42), visibleAfter(42)
	if a != b {
		t.Errorf("same seed: visible after %d and %d steps", a, b)
	}
	if a == 0 || a > 100 {
		t.Errorf("visible after %d steps of a hundredth of the lag, want within the lag and not at once", a)
	}
}

// TestReplicationLagAdmin: the admin route and Go method that set the lags,
// and the default of twice the lag for advanced queries, which read an
// index with its own delay ("A slight delay can exist between when an item
// is added or updated and when it's available in the index",
// https://learn.microsoft.com/graph/api/user-list-memberof, "Optional query
// parameters").
func TestReplicationLagAdmin(t *testing.T) {
	ts := graphsim.NewTestServer(t, smallSeed())
	admin := ts.URL + "/_sim/tenants/fabrikam.example/lag"
	tests := []struct {
		name, method, body string
		status             int
		lag, adv           string
	}{
		{"off by default", "GET", "", 200, "0s", "0s"},
		{"set both", "PUT", `{"replicationLag":"2s","advancedLag":"5s"}`, 200, "2s", "5s"},
		{"advanced defaults to twice", "PUT", `{"replicationLag":"3s"}`, 200, "3s", "6s"},
		{"advanced shorter", "PUT", `{"replicationLag":"3s","advancedLag":"1s"}`, 400, "", ""},
		{"not a duration", "PUT", `{"replicationLag":"soon"}`, 400, "", ""},
		{"off again", "PUT", `{"replicationLag":"0s"}`, 200, "0s", "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := call(t, tt.method, admin, nil, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tt.status, body)
			}
			if tt.status == 200 && (body["replicationLag"] != tt.lag || body["advancedLag"] != tt.adv) {
				t.Errorf("lags = %v", body)
			}
		})
	}
	if err := ts.SetReplicationLag("fabrikam.example", 2*time.Second, 0); err != nil {
		t.Fatal(err)
	}
	if lag, adv, _ := ts.ReplicationLag("fabrikam.example"); lag != 2*time.Second || adv != 4*time.Second {
		t.Errorf("lags %v %v", lag, adv)
	}
	snap, _ := ts.Snapshot("fabrikam.example")
	if snap.ReplicationLag != "2s" || snap.AdvancedLag != "4s" {
		t.Errorf("snapshot lags %q %q", snap.ReplicationLag, snap.AdvancedLag)
	}
}
