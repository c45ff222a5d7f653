package graphsim_test

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

func TestAdminAPI(t *testing.T) {
	ts := graphsim.NewTestServer(t, smallSeed())
	base := ts.TenantURL("fabrikam.example")
	admin := ts.URL + "/_sim"
	bob := userID(t, ts, "fabrikam.example", "bob@fabrikam.example")
	call(t, "GET", base+"/users/"+bob, nil, "")
	call(t, "PATCH", base+"/users/"+bob, nil, `{"jobTitle":"Lead"}`)

	tests := []struct {
		name, method, path, body string
		status                   int
		check                    func(t *testing.T, body map[string]any)
	}{
		{"stats count reads, writes and routes", "GET", "/stats", "", 200, func(t *testing.T, b map[string]any) {
			fab := b["tenants"].(map[string]any)["fabrikam.example"].(map[string]any)
			routes := fab["routes"].(map[string]any)
			if fab["reads"] != float64(1) || fab["writes"] != float64(1) ||
				routes["GET /users/{id}"] != float64(1) || routes["PATCH /users/{id}"] != float64(1) {
				t.Errorf("stats = %v", fab)
			}
		}},
		{"faults refuse a bad throttle", "POST", "/faults", `{"throttle":"sometimes"}`, 400, nil},
		{"faults refuse unknown fields", "POST", "/faults", `{"errorRat":0.5}`, 400, nil},
		{"faults refuse rates over 1", "POST", "/faults", `{"errorRate":2}`, 400, nil},
		{"faults set", "POST", "/faults", `{"errorRate":0,"latencyMs":0,"throttle":"x10","notifications":{"drop":0.1,"duplicate":0.2,"reorder":0.2,"delayMs":5}}`, 200,
			func(t *testing.T, b map[string]any) {
				if b["throttle"] != "x10" || b["notifications"].(map[string]any)["duplicate"] != 0.2 {
					t.Errorf("faults = %v", b)
				}
			}},
		{"stats show the throttle limits", "GET", "/stats", "", 200, func(t *testing.T, b map[string]any) {
			l := b["tenants"].(map[string]any)["fabrikam.example"].(map[string]any)["limits"].(map[string]any)
			if l["resourceUnitsPer10s"] != float64(3500) || l["writesPerSecond"] != float64(200) {
				t.Errorf("limits = %v, want 3500 RU (small tenant) and 20 writes/s x10", l)
			}
		}},
		{"faults off again", "POST", "/faults", `{}`, 200, nil},
		{"clock refuses a bad duration", "POST", "/clock", `{"advance":"soon"}`, 400, nil},
		{"clock advances", "POST", "/clock", `{"advance":"72h"}`, 200, func(t *testing.T, b map[string]any) {
			now, err := time.Parse(time.RFC3339Nano, b["now"].(string))
			if err != nil || time.Until(now) < 71*time.Hour {
				t.Errorf("clock = %v (%v), want 72 h ahead", b["now"], err)
			}
		}},
		{"snapshot", "GET", "/tenants/fabrikam.example/snapshot", "", 200, func(t *testing.T, b map[string]any) {
			tenants := b["tenants"].([]any)
			users := tenants[0].(map[string]any)["users"].([]any)
			if len(users) != 4 {
				t.Errorf("snapshot has %d users", len(users))
			}
		}},
		{"snapshot of an unknown tenant", "GET", "/tenants/nowhere.example/snapshot", "", 404, nil},
		{"put a new tenant", "PUT", "/tenants/tailspin.example", `{"displayName":"Tailspin","users":[{"userPrincipalName":"ann@tailspin.example","displayName":"Ann"}]}`, 200,
			func(t *testing.T, b map[string]any) {
				if b["domain"] != "tailspin.example" || b["initialDomain"] != "tailspin.onmicrosoft.com" {
					t.Errorf("tenant = %v", b)
				}
			}},
		{"put a seed that names another tenant", "PUT", "/tenants/fabrikam.example", `{"domain":"contoso.example","users":[]}`, 400, nil},
		{"put a bad seed", "PUT", "/tenants/tailspin.example", `{"users":[{"displayName":"no upn"}]}`, 400, nil},
		{"unknown admin route", "GET", "/nothing", "", 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := call(t, tt.method, admin+tt.path, nil, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tt.status, body)
			}
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
	// The new tenant serves Graph; admin requests were not counted.
	resp, u := call(t, "GET", ts.TenantURL("tailspin.example")+"/users/ann@tailspin.example", nil, "")
	if resp.StatusCode != 200 || u["displayName"] != "Ann" {
		t.Errorf("tailspin user: %d %v", resp.StatusCode, u)
	}
	if st := ts.Stats().Tenants["fabrikam.example"]; st.Reads != 1 || st.Writes != 1 {
		t.Errorf("admin requests were counted: %+v", st)
	}
	resp, _ = call(t, "DELETE", admin+"/stats", nil, "")
	if resp.StatusCode != 204 || ts.Stats().Tenants["fabrikam.example"].Reads != 0 {
		t.Errorf("reset stats: %d", resp.StatusCode)
	}
	// Replacing a tenant from its snapshot keeps its users and ids.
	_, snap := call(t, "GET", admin+"/tenants/fabrikam.example/snapshot", nil, "")
	raw, _ := json.Marshal(snap)
	resp, _ = call(t, "PUT", admin+"/tenants/fabrikam.example", nil, string(raw))
	if resp.StatusCode != 200 {
		t.Fatalf("put snapshot back: %d", resp.StatusCode)
	}
	_, u = call(t, "GET", base+"/users/"+bob+"?$select=jobTitle", nil, "")
	if u["jobTitle"] != "Lead" {
		t.Errorf("after replacing from snapshot: %v", u)
	}
}

func TestDeletedItemsExpire(t *testing.T) {
	ts := graphsim.NewTestServer(t, smallSeed())
	base := ts.TenantURL("fabrikam.example")
	dave := userID(t, ts, "fabrikam.example", "dave@fabrikam.example")
	if resp, _ := call(t, "DELETE", base+"/users/"+dave, nil, ""); resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if resp, _ := call(t, "GET", base+"/users/"+dave, nil, ""); resp.StatusCode != 404 {
		t.Errorf("soft-deleted user still served: %d", resp.StatusCode)
	}
	resp, d := call(t, "GET", base+"/directory/deletedItems/"+dave, nil, "")
	if resp.StatusCode != 200 || d["@odata.type"] != "#microsoft.graph.user" || d["deletedDateTime"] == nil {
		t.Errorf("deleted item: %d %v", resp.StatusCode, d)
	}
	_, list := call(t, "GET", base+"/directory/deletedItems/microsoft.graph.user", nil, "")
	if v, _ := list["value"].([]any); len(v) != 1 {
		t.Errorf("deleted users: %v", list)
	}
	ts.AdvanceClock(29 * 24 * time.Hour)
	if resp, _ := call(t, "GET", base+"/directory/deletedItems/"+dave, nil, ""); resp.StatusCode != 200 {
		t.Errorf("deleted item gone after 29 days: %d", resp.StatusCode)
	}
	_, latest := call(t, "GET", base+"/users/delta?$deltatoken=latest", nil, "")
	ts.AdvanceClock(2 * 24 * time.Hour)
	if resp, _ := call(t, "GET", base+"/directory/deletedItems/"+dave, nil, ""); resp.StatusCode != 404 {
		t.Errorf("deleted item still there after 31 days: %d", resp.StatusCode)
	}
	if resp, _ := call(t, "POST", base+"/directory/deletedItems/"+dave+"/restore", nil, ""); resp.StatusCode != 404 {
		t.Errorf("restore after expiry: %d, want 404", resp.StatusCode)
	}
	// For delta, the expiry is a permanent deletion.
	_, page := call(t, "GET", latest["@odata.deltaLink"].(string), nil, "")
	v, _ := page["value"].([]any)
	if len(v) != 1 {
		t.Fatalf("delta after expiry: %v", page)
	}
	item := v[0].(map[string]any)
	removed, _ := item["@removed"].(map[string]any)
	if item["id"] != dave || removed["reason"] != "deleted" {
		t.Errorf("delta item %v, want dave removed for good", item)
	}
}

func TestStateFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sim-state.json")
	ts := graphsim.NewTestServer(t, smallSeed())
	base := ts.TenantURL("fabrikam.example")
	dave := userID(t, ts, "fabrikam.example", "dave@fabrikam.example")
	call(t, "DELETE", base+"/users/"+dave, nil, "")
	call(t, "PATCH", base+"/users/bob@fabrikam.example", nil, `{"department":"Research"}`)
	_, before := call(t, "GET", base+"/users/delta?$deltatoken=latest", nil, "")
	ts.AdvanceClock(time.Hour)
	if err := ts.SaveStateFile(path); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("state directory holds %d files; the temporary file was left behind", len(entries))
	}

	restored := graphsim.New(graphsim.Options{})
	defer restored.Close()
	ok, err := restored.LoadStateFile(path)
	if err != nil || !ok {
		t.Fatalf("load state: %v %v", ok, err)
	}
	if d := time.Until(restored.Now()); d < 59*time.Minute {
		t.Errorf("clock offset not restored: %v", d)
	}
	snap, err := restored.Snapshot("fabrikam.example")
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Users) != 3 || len(snap.DeletedUsers) != 1 || snap.DeletedUsers[0]["id"] != dave {
		t.Errorf("restored %d users and %d deleted users", len(snap.Users), len(snap.DeletedUsers))
	}
	for _, u := range snap.Users {
		if u["userPrincipalName"] == "bob@fabrikam.example" && u["department"] != "Research" {
			t.Errorf("bob's department = %v", u["department"])
		}
	}
	// A delta link taken before the save stays valid after the reload.
	hs := newHTTPServer(t, restored)
	link := strings.Replace(before["@odata.deltaLink"].(string), ts.URL, hs, 1)
	if resp, body := call(t, "GET", link, nil, ""); resp.StatusCode != 200 {
		t.Errorf("delta link across a reload: %d %v", resp.StatusCode, body)
	}
	if ok, err := graphsim.New(graphsim.Options{}).LoadStateFile(filepath.Join(dir, "missing.json")); ok || err != nil {
		t.Errorf("missing state file: %v %v, want false and no error", ok, err)
	}
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func newHTTPServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := &http.Server{Handler: h}
	ln := listenLoopback(t)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}
