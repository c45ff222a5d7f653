package chaos

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// TestInterceptorRecordsTheRunnersWrites checks what the oracle's safety
// checks rely on: the runner's successful writes to target users and its
// invitations are recorded, gzipped bodies (Graph's SDK compresses them)
// included, and nothing else is.
func TestInterceptorRecordsTheRunnersWrites(t *testing.T) {
	sim := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case strings.Contains(r.URL.Path, "refused"):
			w.WriteHeader(http.StatusForbidden)
		case strings.HasSuffix(r.URL.Path, "/invitations"):
			// The simulator must get the body as it was sent.
			if len(body) == 0 {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			_, _ = w.Write([]byte(`{"invitedUser":{"id":"u-invited"}}`))
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	ic := newInterceptor(sim, []targetSpec{{Domain: "contoso.example"}}, 1, func(string) bool { return false })
	gz := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte(s))
		_ = zw.Close()
		return b.Bytes()
	}
	send := func(method, path string, body []byte, gzipped, suite bool) {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		if gzipped {
			req.Header.Set("Content-Encoding", "gzip")
		}
		if suite {
			req.Header.Set(suiteHeader, "1")
		}
		ic.ServeHTTP(httptest.NewRecorder(), req)
	}
	send(http.MethodPost, "/contoso.example/v1.0/invitations", gz(`{"invitedUserEmailAddress":"ann@fabrikam.example"}`), true, false)
	send(http.MethodPatch, "/contoso.example/v1.0/users/u1", gz(`{"accountEnabled":false,"displayName":"Ann"}`), true, false)
	send(http.MethodPatch, "/contoso.example/v1.0/users/u2", []byte(`{"accountEnabled":true}`), false, false)
	send(http.MethodDelete, "/contoso.example/v1.0/users/u3", nil, false, false)
	send(http.MethodPut, "/contoso.example/v1.0/users/u4/manager/$ref", []byte(`{}`), false, false)
	send(http.MethodPost, "/contoso.example/v1.0/directory/deletedItems/u5/restore", nil, false, false)
	// Not recorded: refused, the suite's own, reads, the source.
	send(http.MethodDelete, "/contoso.example/v1.0/users/refused", nil, false, false)
	send(http.MethodPatch, "/contoso.example/v1.0/users/u6", []byte(`{"accountEnabled":false}`), false, true)
	send(http.MethodGet, "/contoso.example/v1.0/users/u7", nil, false, false)
	send(http.MethodDelete, "/fabrikam.example/v1.0/users/u8", nil, false, false)

	writes, invites := ic.Writes()
	var got []string
	for _, w := range writes {
		got = append(got, w.ID+" "+w.Kind)
	}
	want := []string{"u1 disable", "u2 write", "u3 delete", "u4 write", "u5 write"}
	if !slices.Equal(got, want) {
		t.Errorf("writes %v, want %v", got, want)
	}
	if len(invites) != 1 || invites[0].Address != "ann@fabrikam.example" || invites[0].UserID != "u-invited" || invites[0].Tenant != "contoso.example" {
		t.Errorf("invitations %+v, want ann@fabrikam.example → u-invited in contoso.example", invites)
	}
	if ic.LastWrite().IsZero() {
		t.Error("no write noted for the replication wait")
	}
}
