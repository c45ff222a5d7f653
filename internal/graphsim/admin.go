package graphsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// maxSeedBytes bounds a tenant seed sent to PUT /_sim/tenants/<tenant>.
const maxSeedBytes = 512 << 20

// serveAdmin serves the admin API:
//
//	GET    /_sim/tenants                          tenants and their base URLs
//	GET    /_sim/tenants/<tenant>/snapshot        a tenant as seed JSON
//	PUT    /_sim/tenants/<tenant>                 replace (or add) a tenant from seed JSON
//	DELETE /_sim/tenants/<tenant>                 remove a tenant
//	GET    /_sim/tenants/<tenant>/permissions     the app's granted application permissions ({"permissions":null} = all)
//	PUT    /_sim/tenants/<tenant>/permissions     replace them: {"permissions":["User.Read.All"]}, [] for none, null for all
//	GET    /_sim/tenants/<tenant>/lag             the replication lags
//	PUT    /_sim/tenants/<tenant>/lag             set them: {"replicationLag":"2s","advancedLag":"5s"}
//	PATCH  /_sim/tenants/<tenant>/users/<id|upn>  mark a user as holding an admin role: {"privileged":true}
//	POST   /_sim/tenants/<tenant>/users/<id|upn>/redeem   redeem an invitation: {"with":"entra","issuer":"fabrikam.example"},
//	                                              {"with":"microsoftAccount"} or {"with":"emailOtp"}
//	POST   /_sim/tenants/<tenant>/delta/reset     invalidate every delta token: {"status":410} or
//	                                              {"status":400,"code":"SyncStateNotFound"}
//	GET    /_sim/stats                            counters per tenant
//	DELETE /_sim/stats                            reset the counters
//	GET    /_sim/faults, POST /_sim/faults        read or replace the faults
//	GET    /_sim/clock, POST /_sim/clock          read or advance the clock ({"advance":"72h"})
//	GET    /_sim/subscriptions                    subscriptions per tenant
//	POST   /_sim/subscriptions/<id>/reauthorize-required   send a lifecycle notification
//	DELETE /_sim/subscriptions/<id>               make a subscription vanish silently
//
// Admin requests are not counted, faulted or throttled.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	segs, err := splitPath(r.URL.EscapedPath())
	if err != nil || len(segs) < 2 {
		adminError(w, http.StatusNotFound, "unknown admin route %s", r.URL.Path)
		return
	}
	switch segs[1] {
	case "tenants":
		s.adminTenants(w, r, segs[2:])
	case "stats":
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, s.Stats())
		case http.MethodDelete:
			s.ResetStats()
			w.WriteHeader(http.StatusNoContent)
		default:
			adminError(w, http.StatusMethodNotAllowed, "use GET or DELETE")
		}
	case "faults":
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, s.Faults())
		case http.MethodPost, http.MethodPut:
			var f Faults
			if err := decodeAdmin(r, &f, 1<<20); err != nil {
				adminError(w, http.StatusBadRequest, "%v", err)
				return
			}
			if err := s.SetFaults(f); err != nil {
				adminError(w, http.StatusBadRequest, "%v", err)
				return
			}
			writeJSON(w, http.StatusOK, s.Faults())
		default:
			adminError(w, http.StatusMethodNotAllowed, "use GET or POST")
		}
	case "clock":
		switch r.Method {
		case http.MethodGet:
		case http.MethodPost:
			var body struct {
				Advance string `json:"advance"`
			}
			if err := decodeAdmin(r, &body, 1<<10); err != nil {
				adminError(w, http.StatusBadRequest, "%v", err)
				return
			}
			d, err := time.ParseDuration(body.Advance)
			if err != nil || d <= 0 {
				adminError(w, http.StatusBadRequest, "advance %q: want a positive Go duration such as 72h", body.Advance)
				return
			}
			s.AdvanceClock(d)
		default:
			adminError(w, http.StatusMethodNotAllowed, "use GET or POST")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{
			"now":    s.Now().UTC().Format(time.RFC3339Nano),
			"offset": s.clock.getOffset().String(),
		})
	case "subscriptions":
		s.adminSubscriptions(w, r, segs[2:])
	default:
		adminError(w, http.StatusNotFound, "unknown admin route %s", r.URL.Path)
	}
}

func (s *Server) adminTenants(w http.ResponseWriter, r *http.Request, rest []string) {
	switch {
	case len(rest) == 0 && r.Method == http.MethodGet:
		type entry struct {
			TenantInfo
			BaseURL string `json:"baseUrl"`
		}
		var out []entry
		for _, ti := range s.Tenants() {
			out = append(out, entry{ti, "http://" + r.Host + "/" + ti.Domain + "/v1.0"})
		}
		writeJSON(w, http.StatusOK, out)
	case len(rest) == 2 && rest[1] == "snapshot" && r.Method == http.MethodGet:
		ts, err := s.Snapshot(rest[0])
		if err != nil {
			adminError(w, http.StatusNotFound, "%v", err)
			return
		}
		writeJSON(w, http.StatusOK, Seed{Tenants: []TenantSeed{ts}})
	case len(rest) == 1 && r.Method == http.MethodPut:
		data, err := io.ReadAll(io.LimitReader(r.Body, maxSeedBytes+1))
		if err != nil || len(data) > maxSeedBytes {
			adminError(w, http.StatusRequestEntityTooLarge, "seed larger than %d bytes", maxSeedBytes)
			return
		}
		ts, err := decodeTenantSeed(data)
		if err != nil {
			adminError(w, http.StatusBadRequest, "%v", err)
			return
		}
		if ts.Domain == "" {
			ts.Domain = rest[0]
		}
		if old := s.lookupTenant(rest[0]); old != nil {
			if !strings.EqualFold(ts.Domain, old.domain) && !strings.EqualFold(ts.ID, old.id) {
				adminError(w, http.StatusBadRequest, "the seed describes %s, not %s", ts.Domain, rest[0])
				return
			}
			if ts.ID == "" {
				ts.ID = old.id
			}
		}
		if err := s.PutTenant(ts); err != nil {
			adminError(w, http.StatusBadRequest, "%v", err)
			return
		}
		t := s.lookupTenant(ts.Domain)
		writeJSON(w, http.StatusOK, t.info())
	case len(rest) == 1 && r.Method == http.MethodDelete:
		if !s.RemoveTenant(rest[0]) {
			adminError(w, http.StatusNotFound, "tenant %s not found", rest[0])
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case len(rest) >= 2:
		s.adminTenant(w, r, rest[0], rest[1:])
	default:
		adminError(w, http.StatusNotFound, "unknown admin route %s %s", r.Method, r.URL.Path)
	}
}

// adminTenant serves the admin routes of one tenant that change how its
// Graph behaves: permissions, lag, users and delta.
func (s *Server) adminTenant(w http.ResponseWriter, r *http.Request, tenant string, rest []string) {
	if s.lookupTenant(tenant) == nil {
		adminError(w, http.StatusNotFound, "tenant %s not found", tenant)
		return
	}
	type permissionsBody struct {
		Permissions []string `json:"permissions"`
	}
	type lagBody struct {
		ReplicationLag string `json:"replicationLag"`
		AdvancedLag    string `json:"advancedLag,omitempty"`
	}
	switch {
	case len(rest) == 1 && rest[0] == "permissions" && r.Method == http.MethodGet:
		perms, _ := s.Permissions(tenant)
		writeJSON(w, http.StatusOK, permissionsBody{perms})
	case len(rest) == 1 && rest[0] == "permissions" && r.Method == http.MethodPut:
		var body permissionsBody
		if err := decodeAdmin(r, &body, 1<<16); err != nil {
			adminError(w, http.StatusBadRequest, "%v", err)
			return
		}
		if err := s.SetPermissions(tenant, body.Permissions); err != nil {
			adminError(w, http.StatusBadRequest, "%v", err)
			return
		}
		perms, _ := s.Permissions(tenant)
		writeJSON(w, http.StatusOK, permissionsBody{perms})
	case len(rest) == 1 && rest[0] == "lag" && (r.Method == http.MethodGet || r.Method == http.MethodPut):
		if r.Method == http.MethodPut {
			var body lagBody
			if err := decodeAdmin(r, &body, 1<<10); err != nil {
				adminError(w, http.StatusBadRequest, "%v", err)
				return
			}
			lag, adv, err := parseLags(body.ReplicationLag, body.AdvancedLag)
			if err == nil {
				err = s.SetReplicationLag(tenant, lag, adv)
			}
			if err != nil {
				adminError(w, http.StatusBadRequest, "%v", err)
				return
			}
		}
		lag, adv, _ := s.ReplicationLag(tenant)
		writeJSON(w, http.StatusOK, lagBody{lag.String(), adv.String()})
	case len(rest) == 2 && rest[0] == "users" && r.Method == http.MethodPatch:
		var body struct {
			Privileged *bool `json:"privileged"`
		}
		if err := decodeAdmin(r, &body, 1<<10); err != nil || body.Privileged == nil {
			adminError(w, http.StatusBadRequest, "body: want {\"privileged\":true} or false (%v)", err)
			return
		}
		if err := s.SetPrivileged(tenant, rest[1], *body.Privileged); err != nil {
			adminError(w, http.StatusNotFound, "%v", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case len(rest) == 3 && rest[0] == "users" && rest[2] == "redeem" && r.Method == http.MethodPost:
		var red Redemption
		if err := decodeAdmin(r, &red, 1<<10); err != nil {
			adminError(w, http.StatusBadRequest, "%v", err)
			return
		}
		if err := s.Redeem(tenant, rest[1], red); err != nil {
			adminError(w, http.StatusBadRequest, "%v", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case len(rest) == 2 && rest[0] == "delta" && rest[1] == "reset" && r.Method == http.MethodPost:
		var reset DeltaReset
		if err := decodeAdmin(r, &reset, 1<<10); err != nil {
			adminError(w, http.StatusBadRequest, "%v", err)
			return
		}
		if err := s.ResetDelta(tenant, reset); err != nil {
			adminError(w, http.StatusBadRequest, "%v", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		adminError(w, http.StatusNotFound, "unknown admin route %s %s", r.Method, r.URL.Path)
	}
}

// decodeTenantSeed accepts a tenant seed or a seed with exactly one tenant.
func decodeTenantSeed(data []byte) (TenantSeed, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return TenantSeed{}, fmt.Errorf("seed: %w", err)
	}
	if raw, ok := probe["tenants"]; ok {
		var list []TenantSeed
		if err := json.Unmarshal(raw, &list); err != nil {
			return TenantSeed{}, fmt.Errorf("seed: %w", err)
		}
		if len(list) != 1 {
			return TenantSeed{}, fmt.Errorf("seed: want exactly one tenant, got %d", len(list))
		}
		return list[0], nil
	}
	var ts TenantSeed
	if err := json.Unmarshal(data, &ts); err != nil {
		return TenantSeed{}, fmt.Errorf("seed: %w", err)
	}
	return ts, nil
}

// RemoveTenant removes a tenant and stops its subscriptions.
func (s *Server) RemoveTenant(key string) bool {
	s.mu.Lock()
	t := s.tenants[strings.ToLower(key)]
	if t == nil {
		s.mu.Unlock()
		return false
	}
	for _, k := range t.keys() {
		delete(s.tenants, k)
	}
	for i, o := range s.order {
		if o == t {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	t.stopSubscriptions()
	return true
}

func (s *Server) adminSubscriptions(w http.ResponseWriter, r *http.Request, rest []string) {
	switch {
	case len(rest) == 0 && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Subscriptions())
	case len(rest) == 2 && rest[1] == "reauthorize-required" && r.Method == http.MethodPost:
		status, err := s.RequireReauthorization(r.Context(), rest[0])
		if err != nil {
			adminError(w, http.StatusNotFound, "%v", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"status": status})
	case len(rest) == 1 && r.Method == http.MethodDelete:
		if !s.RemoveSubscription(rest[0]) {
			adminError(w, http.StatusNotFound, "subscription %s not found", rest[0])
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		adminError(w, http.StatusNotFound, "unknown admin route %s %s", r.Method, r.URL.Path)
	}
}

func decodeAdmin(r *http.Request, v any, limit int64) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func adminError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}
