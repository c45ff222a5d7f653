package graphsim

import (
	"net/http/httptest"
	"testing"
)

// TestServer is a Server listening on a free loopback port, for tests.
type TestServer struct {
	*Server
	// URL is the server's root, http://127.0.0.1:PORT.
	URL string
}

// NewTestServer starts a simulator with the seed's tenants on a loopback
// port; it is closed when the test ends.
func NewTestServer(tb testing.TB, seed Seed) *TestServer {
	tb.Helper()
	return NewTestServerWithOptions(tb, seed, Options{})
}

// NewTestServerWithOptions is NewTestServer with options.
func NewTestServerWithOptions(tb testing.TB, seed Seed, opts Options) *TestServer {
	tb.Helper()
	s := New(opts)
	if err := s.LoadSeed(seed); err != nil {
		tb.Fatalf("graphsim: load seed: %v", err)
	}
	hs := httptest.NewServer(s)
	tb.Cleanup(func() {
		hs.Close()
		_ = s.Close()
	})
	return &TestServer{Server: s, URL: hs.URL}
}

// TenantURL returns a tenant's Graph base URL,
// http://127.0.0.1:PORT/<tenant>/v1.0, for a tenant id or domain.
func (ts *TestServer) TenantURL(tenant string) string {
	return ts.URL + "/" + tenant + "/v1.0"
}

// BaseURLs returns every tenant's Graph base URL by domain.
func (ts *TestServer) BaseURLs() map[string]string {
	out := map[string]string{}
	for _, t := range ts.Tenants() {
		out[t.Domain] = ts.TenantURL(t.Domain)
	}
	return out
}
