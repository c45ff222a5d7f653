package graph_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/graph"
	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// Fixed object ids of the test tenants.
const (
	aliceID  = "a11ce000-0000-4000-8000-000000000001"
	bobID    = "b0b00000-0000-4000-8000-000000000002"
	carolID  = "ca201000-0000-4000-8000-000000000003"
	daveID   = "da7e0000-0000-4000-8000-000000000004"
	salesID  = "5a1e5000-0000-4000-8000-0000000000a1"
	parentID = "9a2e7000-0000-4000-8000-0000000000a2"
	quoteID  = "0b21e700-0000-4000-8000-0000000000a3"

	b2bAliceID  = "c0000000-0000-4000-8000-000000000001"
	b2bCarolID  = "c0000000-0000-4000-8000-000000000002"
	memberEveID = "c0000000-0000-4000-8000-000000000003"

	source = "fabrikam.example"
	target = "contoso.example"
	closed = "closed.example"

	carolMail = "carol.o'neil@fabrikam.example"
	anchor    = "onPremisesExtensionAttributes.extensionAttribute15"
)

// testSeed is a source tenant (Fabrikam) with a manager chain, nested
// groups and a quote in a mail address and a group name; a target tenant
// (Contoso) with a B2B user carrying an anchor, a B2B user found by mail
// and an internal member found by otherMails; and a target that refuses
// invitations.
func testSeed() graphsim.Seed {
	return graphsim.Seed{Tenants: []graphsim.TenantSeed{{
		Domain: source, DisplayName: "Fabrikam",
		Users: []graphsim.Object{
			{"id": aliceID, "userPrincipalName": "alice@fabrikam.example", "displayName": "Alice Adams",
				"mail": "alice@fabrikam.example", "jobTitle": "CEO", "department": "Executive", "accountEnabled": true,
				"businessPhones": []string{"+1 555 0001"}, "employeeHireDate": "2019-04-01T09:00:00Z",
				"onPremisesExtensionAttributes": map[string]any{"extensionAttribute1": "A1", "extensionAttribute3": "A3"}},
			{"id": bobID, "userPrincipalName": "bob@fabrikam.example", "displayName": "Bob Brown",
				"mail": "bob@fabrikam.example", "jobTitle": "Engineer", "department": "Engineering", "accountEnabled": true,
				"manager": aliceID},
			{"id": carolID, "userPrincipalName": "carol@fabrikam.example", "displayName": "Carol O'Neil",
				"mail": carolMail, "otherMails": []string{"c.oneil@fabrikam.example"}, "accountEnabled": false},
			{"id": daveID, "userPrincipalName": "dave@fabrikam.example", "displayName": "Dave Davies", "accountEnabled": true,
				"manager": aliceID},
		},
		Groups: []graphsim.Object{
			{"id": salesID, "displayName": "Sales", "members": []string{aliceID, bobID}},
			{"id": parentID, "displayName": "Parent", "members": []string{salesID, carolID}},
			{"id": quoteID, "displayName": "O'Brien's team", "members": []string{daveID}},
		},
	}, {
		Domain: target, DisplayName: "Contoso",
		Users: []graphsim.Object{
			{"id": b2bAliceID, "userPrincipalName": "alice_fabrikam.example#EXT#@contoso.onmicrosoft.com",
				"displayName": "Alice Adams", "mail": "alice@fabrikam.example", "userType": "Member", "creationType": "Invitation",
				"onPremisesExtensionAttributes": map[string]any{"extensionAttribute15": "tenantsync:fabrikam.example:" + aliceID}},
			{"id": b2bCarolID, "userPrincipalName": "carol.o'neil_fabrikam.example#EXT#@contoso.onmicrosoft.com",
				"displayName": "Carol O'Neil", "mail": carolMail, "userType": "Guest", "creationType": "Invitation",
				"manager": memberEveID},
			{"id": memberEveID, "userPrincipalName": "eve@contoso.example", "displayName": "Eve Evans",
				"mail": "eve@contoso.example", "otherMails": []string{"bob@fabrikam.example"}, "userType": "Member"},
		},
	}, {
		Domain: closed, DisplayName: "Closed", BlockInvitations: true,
	}}}
}

// recorded is one request as the simulator received it.
type recorded struct {
	Method  string
	Path    string
	Query   url.Values
	Header  http.Header
	Body    []byte // decompressed
	Tenant  string
	Foreign bool
}

// simServer is the Graph simulator behind a recorder, so that tests can
// assert what went over the wire.
type simServer struct {
	*graphsim.Server
	URL string

	mu       sync.Mutex
	requests []recorded
}

func newSim(t testing.TB, opts graphsim.Options) *simServer {
	t.Helper()
	s := graphsim.New(opts)
	if err := s.LoadSeed(testSeed()); err != nil {
		t.Fatalf("load seed: %v", err)
	}
	ss := &simServer{Server: s}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		plain := body
		if r.Header.Get("Content-Encoding") == "gzip" {
			if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
				plain, _ = io.ReadAll(zr)
			}
		}
		tenant, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		ss.mu.Lock()
		ss.requests = append(ss.requests, recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
			Header: r.Header.Clone(), Body: plain, Tenant: tenant})
		ss.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		hs.Close()
		_ = s.Close()
	})
	ss.URL = hs.URL
	return ss
}

// reset forgets the recorded requests and the simulator's counters.
func (s *simServer) reset() {
	s.mu.Lock()
	s.requests = nil
	s.mu.Unlock()
	s.ResetStats()
}

func (s *simServer) recorded() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.requests...)
}

func (s *simServer) tenantURL(tenant string) string { return s.URL + "/" + tenant + "/v1.0" }

// client returns a Client for a tenant of the simulator, without retries.
func (s *simServer) client(t testing.TB, tenant string) *graph.Client {
	t.Helper()
	return s.clientWith(t, graph.Options{BaseURL: s.tenantURL(tenant)})
}

func (s *simServer) clientWith(t testing.TB, opts graph.Options) *graph.Client {
	t.Helper()
	c, err := graph.New(context.Background(), opts)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return c
}

// asError returns err as a *directory.Error or fails the test.
func asError(t *testing.T, err error) *directory.Error {
	t.Helper()
	de, ok := err.(*directory.Error)
	if !ok {
		t.Fatalf("error %v (%T) is not a *directory.Error", err, err)
	}
	return de
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
