package graphsim_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// call makes a raw HTTP request and decodes a JSON answer.
func call(t *testing.T, method, url string, header map[string]string, body string) (*http.Response, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: body is not JSON: %v: %s", method, url, err, raw)
		}
	}
	return resp, out
}

func TestErrorBodies(t *testing.T) {
	ts := graphsim.NewTestServer(t, smallSeed())
	base := ts.TenantURL("fabrikam.example")
	bob := userID(t, ts, "fabrikam.example", "bob@fabrikam.example")
	batch21 := `{"requests":[` + strings.TrimSuffix(strings.Repeat(`{"id":"X","method":"GET","url":"/users"},`, 21), ",") + `]}`
	for i := 0; i < 21; i++ {
		batch21 = strings.Replace(batch21, `"id":"X"`, fmt.Sprintf(`"id":"%d"`, i), 1)
	}
	tests := []struct {
		name, method, path string
		header             map[string]string
		body               string
		status             int
		code               string
	}{
		{"unknown segment", "GET", "/applicationz", nil, "", 400, "BadRequest"},
		{"method not allowed", "PUT", "/users", nil, "{}", 405, "Request_BadRequest"},
		{"user not found", "GET", "/users/00000000-0000-0000-0000-000000000001", nil, "", 404, "Request_ResourceNotFound"},
		{"user not found by upn", "GET", "/users/nobody@fabrikam.example", nil, "", 404, "Request_ResourceNotFound"},
		{"invalid object identifier", "GET", "/users/not-an-id", nil, "", 400, "Request_BadRequest"},
		{"malformed JSON", "PATCH", "/users/" + bob, nil, "{not json", 400, "BadRequest"},
		{"unknown property", "PATCH", "/users/" + bob, nil, `{"favouriteColour":"blue"}`, 400, "Request_BadRequest"},
		{"read-only property", "PATCH", "/users/" + bob, nil, `{"creationType":"Invitation"}`, 400, "Request_BadRequest"},
		{"empty string", "PATCH", "/users/" + bob, nil, `{"jobTitle":""}`, 400, "Request_BadRequest"},
		{"wrong type", "PATCH", "/users/" + bob, nil, `{"accountEnabled":"yes"}`, 400, "Request_BadRequest"},
		{"UPN outside verified domains", "PATCH", "/users/" + bob, nil, `{"userPrincipalName":"bob@elsewhere.example"}`, 400, "Request_BadRequest"},
		{"duplicate UPN", "PATCH", "/users/" + bob, nil, `{"userPrincipalName":"alice@fabrikam.example"}`, 400, "Request_BadRequest"},
		{"create without required", "POST", "/users", nil, `{"displayName":"X"}`, 400, "Request_BadRequest"},
		{"top too large", "GET", "/users?$top=1000", nil, "", 400, "Request_BadRequest"},
		{"unknown select", "GET", "/users?$select=favouriteColour", nil, "", 400, "Request_UnsupportedQuery"},
		{"advanced filter without headers", "GET", "/users?$filter=onPremisesExtensionAttributes/extensionAttribute15%20eq%20'x'", nil, "", 400, "Request_UnsupportedQuery"},
		{"advanced filter without $count", "GET", "/users?$filter=companyName%20eq%20'x'", map[string]string{"ConsistencyLevel": "eventual"}, "", 400, "Request_UnsupportedQuery"},
		{"bad delta token", "GET", "/users/delta?$deltatoken=garbage", nil, "", 400, "syncStateNotFound"},
		{"me needs delegated auth", "GET", "/me", nil, "", 400, "BadRequest"},
		{"batch over 20", "POST", "/$batch", nil, batch21, 400, "BadRequest"},
		{"batch item without content type", "POST", "/$batch", nil, `{"requests":[{"id":"1","method":"PATCH","url":"/users/` + bob + `","body":{"jobTitle":"x"}}]}`, 400, "BadRequest"},
		{"member already present", "POST", "/groups/" + groupID(t, ts, "fabrikam.example", "Team") + "/members/$ref", nil,
			`{"@odata.id":"https://graph.microsoft.com/v1.0/directoryObjects/` + bob + `"}`, 400, "Request_BadRequest"},
		{"body too large", "PATCH", "/users/" + bob, nil, `{"jobTitle":"` + strings.Repeat("x", 5<<20) + `"}`, 413, "RequestEntityTooLarge"},
		{"beta is not served", "GET", "/../beta/users", nil, "", 400, "BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := base + tt.path
			if strings.HasPrefix(tt.path, "/../") {
				url = ts.URL + "/fabrikam.example/" + strings.TrimPrefix(tt.path, "/../")
			}
			resp, body := call(t, tt.method, url, tt.header, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tt.status, body)
			}
			e, _ := body["error"].(map[string]any)
			if e == nil {
				t.Fatalf("no error object in %v", body)
			}
			if e["code"] != tt.code {
				t.Errorf("code %v, want %s (message %v)", e["code"], tt.code, e["message"])
			}
			if msg, _ := e["message"].(string); msg == "" {
				t.Errorf("empty message")
			}
			inner, _ := e["innerError"].(map[string]any)
			rid := resp.Header.Get("request-id")
			if inner == nil || rid == "" || inner["request-id"] != rid || inner["date"] == nil {
				t.Errorf("innerError %v does not carry the response's request-id %q and a date", inner, rid)
			}
			if resp.Header.Get("client-request-id") == "" {
				t.Errorf("no client-request-id header")
			}
		})
	}
	t.Run("unknown tenant", func(t *testing.T) {
		resp, body := call(t, "GET", ts.URL+"/nowhere.example/v1.0/users", nil, "")
		if resp.StatusCode != 401 || body["error"] == nil {
			t.Errorf("status %d body %v, want 401 with an error body", resp.StatusCode, body)
		}
	})
	t.Run("client-request-id echoed", func(t *testing.T) {
		resp, _ := call(t, "GET", base+"/users/"+bob, map[string]string{"client-request-id": "abc-123"}, "")
		if resp.Header.Get("client-request-id") != "abc-123" || resp.Header.Get("request-id") == "" {
			t.Errorf("headers %v", resp.Header)
		}
	})
}

func TestGzipRequestBody(t *testing.T) {
	ts := graphsim.NewTestServer(t, smallSeed())
	bob := userID(t, ts, "fabrikam.example", "bob@fabrikam.example")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(`{"jobTitle":"Compressed"}`))
	_ = zw.Close()
	req, _ := http.NewRequest("PATCH", ts.TenantURL("fabrikam.example")+"/users/"+bob, &buf)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("status %d, want 204", resp.StatusCode)
	}
	_, u := call(t, "GET", ts.TenantURL("fabrikam.example")+"/users/"+bob+"?$select=jobTitle", nil, "")
	if u["jobTitle"] != "Compressed" {
		t.Errorf("jobTitle = %v", u["jobTitle"])
	}
}

func TestUserShapes(t *testing.T) {
	ts := graphsim.NewTestServer(t, smallSeed())
	base := ts.TenantURL("fabrikam.example")
	bob := userID(t, ts, "fabrikam.example", "bob@fabrikam.example")
	_, u := call(t, "GET", base+"/users/BOB@FABRIKAM.EXAMPLE", nil, "")
	want := []string{"@odata.context", "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
		"officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"}
	if len(u) != len(want) {
		t.Errorf("default user has %d properties, want %d: %v", len(u), len(want), u)
	}
	for _, k := range want {
		if _, ok := u[k]; !ok {
			t.Errorf("default user lacks %s", k)
		}
	}
	if u["id"] != bob {
		t.Errorf("lookup by upn is not case-insensitive: %v", u["id"])
	}
	if phones, ok := u["businessPhones"].([]any); !ok || len(phones) != 0 {
		t.Errorf("businessPhones = %#v, want []", u["businessPhones"])
	}
	// Extension attributes: partial PATCH, null clears one, select returns all fifteen.
	resp, _ := call(t, "PATCH", base+"/users/"+bob, nil,
		`{"onPremisesExtensionAttributes":{"extensionAttribute15":"anchor","extensionAttribute2":"two"}}`)
	if resp.StatusCode != 204 {
		t.Fatalf("PATCH extension attributes: %d", resp.StatusCode)
	}
	call(t, "PATCH", base+"/users/"+bob, nil, `{"onPremisesExtensionAttributes":{"extensionAttribute2":null}}`)
	_, u = call(t, "GET", base+"/users/"+bob+"?$select=onPremisesExtensionAttributes,manager", nil, "")
	if u["error"] == nil {
		t.Errorf("$select=manager accepted; manager is a navigation property")
	}
	_, u = call(t, "GET", base+"/users/"+bob+"?$select=id,onPremisesExtensionAttributes", nil, "")
	ext, _ := u["onPremisesExtensionAttributes"].(map[string]any)
	if len(ext) != 15 || ext["extensionAttribute15"] != "anchor" || ext["extensionAttribute2"] != nil {
		t.Errorf("onPremisesExtensionAttributes = %v", ext)
	}
	// Advanced query with $count.
	resp, page := call(t, "GET", base+"/users?$filter=onPremisesExtensionAttributes/extensionAttribute15%20eq%20'anchor'&$count=true",
		map[string]string{"ConsistencyLevel": "eventual"}, "")
	if resp.StatusCode != 200 || page["@odata.count"] != float64(1) {
		t.Errorf("advanced query: %d %v", resp.StatusCode, page)
	}
}

func TestDeltaTokens(t *testing.T) {
	ts := graphsim.NewTestServer(t, smallSeed())
	base := ts.TenantURL("fabrikam.example")
	bob := userID(t, ts, "fabrikam.example", "bob@fabrikam.example")

	_, latest := call(t, "GET", base+"/users/delta?$deltatoken=latest&$select=displayName", nil, "")
	if v, _ := latest["value"].([]any); len(v) != 0 || latest["@odata.deltaLink"] == nil {
		t.Fatalf("$deltatoken=latest: %v", latest)
	}
	link := latest["@odata.deltaLink"].(string)
	if !strings.HasPrefix(link, base+"/users/delta?") {
		t.Errorf("deltaLink %s is not under %s", link, base)
	}
	call(t, "PATCH", base+"/users/"+bob, nil, `{"displayName":"Robert Brown"}`)
	_, page := call(t, "GET", link, nil, "")
	v, _ := page["value"].([]any)
	if len(v) != 1 || v[0].(map[string]any)["displayName"] != "Robert Brown" {
		t.Fatalf("delta after latest: %v", page)
	}
	next := page["@odata.deltaLink"].(string)

	// Tokens expire after seven days of the simulated clock.
	ts.AdvanceClock(6 * 24 * time.Hour)
	resp, _ := call(t, "GET", next, nil, "")
	if resp.StatusCode != 200 {
		t.Fatalf("6-day-old token: status %d", resp.StatusCode)
	}
	ts.AdvanceClock(2 * 24 * time.Hour)
	resp, body := call(t, "GET", next, nil, "")
	if resp.StatusCode != 400 || body["error"].(map[string]any)["code"] != "syncStateNotFound" {
		t.Errorf("8-day-old token: %d %v, want 400 syncStateNotFound", resp.StatusCode, body)
	}
}

func TestGroupsDeltaSplitsLargeGroups(t *testing.T) {
	seed := graphsim.Seed{Tenants: []graphsim.TenantSeed{
		graphsim.GenerateTenant(graphsim.GenerateOptions{Domain: "big.example", Users: 1200, Seed: 3}),
	}}
	ts := graphsim.NewTestServerWithOptions(t, seed, graphsim.Options{DeltaMemberLinks: 100})
	snap, _ := ts.Snapshot("big.example")
	wantMembers := map[string]int{}
	for _, g := range snap.Groups {
		wantMembers[g["id"].(string)] = len(g["members"].([]string))
	}
	got := map[string]map[string]bool{}
	link := ts.TenantURL("big.example") + "/groups/delta()"
	pages := 0
	for {
		pages++
		_, page := call(t, "GET", link, nil, "")
		for _, item := range page["value"].([]any) {
			g := item.(map[string]any)
			id := g["id"].(string)
			if got[id] == nil {
				got[id] = map[string]bool{}
			}
			md, _ := g["members@delta"].([]any)
			if len(md) > 100 {
				t.Errorf("group %s carries %d members on one page, want at most 100", id, len(md))
			}
			for _, m := range md {
				got[id][m.(map[string]any)["id"].(string)] = true
			}
		}
		if dl, ok := page["@odata.deltaLink"]; ok && dl != nil {
			break
		}
		link = page["@odata.nextLink"].(string)
	}
	for id, n := range wantMembers {
		if len(got[id]) != n {
			t.Errorf("group %s: %d members over the round, want %d", id, len(got[id]), n)
		}
	}
	if pages < 12 {
		t.Errorf("round of %d pages; the 1,200-member group alone needs 12", pages)
	}
}
