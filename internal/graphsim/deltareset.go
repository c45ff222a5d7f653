package graphsim

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Delta token resets. Graph's delta query overview
// (https://learn.microsoft.com/graph/delta-query-overview#synchronization-reset)
// says that delta query "can return a response code of 410 Gone and a
// Location header containing a request URL with an empty $deltatoken (same
// as the initial query)", after which the application "must restart with a
// full synchronization"; and (#token-duration) that an expired token is
// answered "with a 40X-series error with error codes such as
// syncStateNotFound". A reset invalidates every delta and skip token the
// tenant has issued so far; each token carries the reset generation it was
// issued in.

// DeltaReset configures how tokens issued before a reset answer.
type DeltaReset struct {
	// Status is 410 (Gone, with a Location header to restart from) or
	// 400 (Bad Request). Default 410.
	Status int `json:"status,omitempty"`
	// Code is the error code of a 400. Default syncStateNotFound, the
	// casing Graph documents for expired directory delta tokens
	// (https://devblogs.microsoft.com/microsoft365dev/duration-of-change-tracking-tokens-for-identity-and-education-resources/);
	// some Graph services send SyncStateNotFound.
	Code string `json:"code,omitempty"`
}

// deltaResetState is a tenant's reset generation and how the tokens of
// earlier generations answer; the caller holds t.mu.
type deltaResetState struct {
	gen    uint64
	status int
	code   string
}

// ResetDelta invalidates every delta token (and delta skip token) issued so
// far for a tenant: their next use answers as r says.
func (s *Server) ResetDelta(tenant string, r DeltaReset) error {
	t := s.lookupTenant(tenant)
	if t == nil {
		return fmt.Errorf("reset delta: %s: %w", tenant, ErrUnknownTenant)
	}
	if r.Status == 0 {
		r.Status = http.StatusGone
	}
	switch r.Status {
	case http.StatusGone:
		if r.Code != "" {
			return fmt.Errorf("reset delta: a 410 has no code of its own; give a code only with status 400")
		}
	case http.StatusBadRequest:
		if r.Code == "" {
			r.Code = "syncStateNotFound"
		}
	default:
		return fmt.Errorf("reset delta: status %d: want 410 or 400", r.Status)
	}
	t.mu.Lock()
	t.deltaReset.gen++
	t.deltaReset.status, t.deltaReset.code = r.Status, r.Code
	t.mu.Unlock()
	return nil
}

// checkGeneration answers a token issued before the last reset, or after a
// reset that a reload has forgotten.
func checkGeneration(rq *request, tok *deltaToken) *response {
	t := rq.t
	t.mu.RLock()
	st := t.deltaReset
	t.mu.RUnlock()
	switch {
	case tok.Gen == st.gen:
		return nil
	case tok.Gen > st.gen:
		return errorResponse(errDeltaExpired())
	case st.status == http.StatusBadRequest:
		e := errDeltaExpired()
		e.code = st.code
		return errorResponse(e)
	}
	resp := errorResponse(newError(http.StatusGone, "resyncRequired",
		"The delta token is no longer valid. Restart with a full synchronization from the Location URL."))
	resp.location = restartURL(rq, tok)
	return resp
}

// restartURL is the initial query of a delta round with the token's query
// options and an empty $deltatoken.
func restartURL(rq *request, tok *deltaToken) string {
	var b strings.Builder
	b.WriteString(rq.base + "/" + rq.segs[0] + "/" + rq.segs[1] + "?")
	for _, opt := range []struct{ name, value string }{{"$select", tok.Select}, {"$expand", tok.Expand}, {"$filter", tok.Filter}} {
		if strings.TrimSpace(opt.value) != "" {
			b.WriteString(opt.name + "=" + url.QueryEscape(opt.value) + "&")
		}
	}
	b.WriteString("$deltatoken=")
	return b.String()
}
