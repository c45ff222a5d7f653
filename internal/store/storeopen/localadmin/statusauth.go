package localadmin

import (
	"net/http"
	"net/url"
)

// StatusAuth returns a RoundTripper that sends each request with the status
// page token of the local running on the state file at statePath, as
// Authorization: Bearer. It reads the token from the admin file at every
// request, because a restarted local has a new one. base nil means
// http.DefaultTransport. It is for the harnesses that watch a running
// local through its status page (the chaos suite, the benchmarks): with no
// admin file yet, the request goes without a token and the page answers
// 401, which their wait for readiness retries.
func StatusAuth(base http.RoundTripper, statePath string) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return statusAuth{base: base, admin: FileFor(statePath)}
}

type statusAuth struct {
	base  http.RoundTripper
	admin string
}

func (s statusAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	if f, err := ReadFile(s.admin); err == nil && req.Header.Get("Authorization") == "" {
		if u, err := url.Parse(f.StatusURL); err == nil && u.Query().Get("token") != "" {
			req = req.Clone(req.Context())
			req.Header.Set("Authorization", "Bearer "+u.Query().Get("token"))
		}
	}
	return s.base.RoundTrip(req)
}
