package functionkey

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azlog "github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

const (
	appID      = "/subscriptions/0000-sub/resourceGroups/rg-tenantsync/providers/Microsoft.Web/sites/func-tenantsync"
	token      = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.arm-token"
	webhookKey = "wHk3y/with+chars=="
)

// fakeCredential hands out a fixed token and records the scopes asked for.
type fakeCredential struct {
	mu     sync.Mutex
	scopes [][]string
	err    error
}

func (c *fakeCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes = append(c.scopes, opts.Scopes)
	if c.err != nil {
		return azcore.AccessToken{}, c.err
	}
	return azcore.AccessToken{Token: token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// arm stands in for Azure Resource Manager's listkeys action.
type arm struct {
	srv     *httptest.Server
	mu      sync.Mutex
	answers map[string]struct {
		status int
		body   string
	} // by function name
	requests []*http.Request
}

func newARM(t *testing.T) *arm {
	t.Helper()
	a := &arm{answers: map[string]struct {
		status int
		body   string
	}{}}
	a.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.requests = append(a.requests, r)
		a.mu.Unlock()
		if r.Method != http.MethodPost {
			http.Error(w, `{"error":{"code":"MethodNotAllowed"}}`, http.StatusMethodNotAllowed)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"code":"AuthenticationFailed","message":"no token"}}`)
			return
		}
		if got := r.URL.Query().Get("api-version"); got != DefaultAPIVersion {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":{"code":"InvalidApiVersionParameter","message":"%s"}}`, got)
			return
		}
		prefix := appID + "/functions/"
		if !strings.HasPrefix(r.URL.Path, prefix) || !strings.HasSuffix(r.URL.Path, "/listkeys") {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"code":"ResourceNotFound"}}`)
			return
		}
		fn := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, prefix), "/listkeys")
		a.mu.Lock()
		ans, ok := a.answers[fn]
		a.mu.Unlock()
		if !ok {
			w.Header().Set("x-ms-request-id", "req-404")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"code":"NotFound","message":"Error retrieving function keys."}}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ans.status)
		io.WriteString(w, ans.body)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *arm) answer(function string, status int, body string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.answers[function] = struct {
		status int
		body   string
	}{status, body}
}

func (a *arm) client(t *testing.T, cred azcore.TokenCredential) *Client {
	t.Helper()
	c, err := New(cred, &Options{Endpoint: a.srv.URL, ClientOptions: policy.ClientOptions{
		Transport: a.srv.Client(),
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestKey(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		want    string
		wantErr string
	}{
		{"bare map, as the service answers", 200, `{"default":"` + webhookKey + `"}`, webhookKey, ""},
		{"StringDictionary, as the spec says", 200, `{"id":null,"name":"GraphWebhook","properties":{"default":"` + webhookKey + `","other":"x"}}`, webhookKey, ""},
		{"no default key: the first by name", 200, `{"zeta":"z-key","graph":"g-key"}`, "g-key", ""},
		{"no keys", 200, `{}`, "", "no keys"},
		{"empty default and nothing else", 200, `{"default":""}`, "", "no keys"},
		{"not JSON", 200, `<html>`, "", "not a JSON object"},
		{"properties of the wrong type", 200, `{"properties":["a"]}`, "", "not a map"},
		{"forbidden", 403, `{"error":{"code":"AuthorizationFailed","message":"The client does not have authorization to perform action 'Microsoft.Web/sites/functions/listkeys/action'"}}`, "", "ARM answered 403 AuthorizationFailed"},
		{"server error", 500, `oops`, "", "ARM answered 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newARM(t)
			a.answer(WebhookFunction, tt.status, tt.body)
			cred := &fakeCredential{}
			got, err := a.client(t, cred).Key(context.Background(), appID, WebhookFunction)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Key = %q, %v; want an error saying %q", got, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), WebhookFunction) {
					t.Errorf("error %q does not name the function", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("Key = %q, want %q", got, tt.want)
			}
			if len(cred.scopes) == 0 || len(cred.scopes[0]) != 1 || cred.scopes[0][0] != a.srv.URL+"/.default" {
				t.Errorf("token scopes %v, want [%s/.default]", cred.scopes, a.srv.URL)
			}
		})
	}
}

func TestKeyErrors(t *testing.T) {
	a := newARM(t)
	a.answer(WebhookFunction, 200, `{"default":"k"}`)
	tests := []struct {
		name     string
		cred     *fakeCredential
		appID    string
		function string
		want     string
	}{
		{"function without keys endpoint", &fakeCredential{}, appID, "Missing", "ARM answered 404 NotFound"},
		{"not a resource id", &fakeCredential{}, "func-tenantsync", WebhookFunction, "not a function app resource id"},
		{"resource id with a query", &fakeCredential{}, appID + "?x=1", WebhookFunction, "not a function app resource id"},
		{"path traversal in the name", &fakeCredential{}, appID, "../../config", "not a function name"},
		{"credential fails", &fakeCredential{err: errors.New("managed identity unavailable")}, appID, WebhookFunction, "managed identity unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.client(t, tt.cred).Key(context.Background(), tt.appID, tt.function)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	if _, err := New(nil, nil); err == nil {
		t.Error("New without a credential succeeded")
	}
	if _, err := New(&fakeCredential{}, &Options{Endpoint: "http://management.azure.com"}); err == nil {
		t.Error("New with an http endpoint succeeded: the token would travel in clear")
	}
}

func TestNotificationURLs(t *testing.T) {
	a := newARM(t)
	a.answer(WebhookFunction, 200, `{"default":"`+webhookKey+`"}`)
	a.answer(LifecycleFunction, 200, `{"default":"lifecycle-key"}`)
	c := a.client(t, &fakeCredential{})

	// Capture azcore's log: the key must not appear in it.
	var logs bytes.Buffer
	var logMu sync.Mutex
	azlog.SetListener(func(ev azlog.Event, msg string) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(&logs, "%s: %s\n", ev, msg)
	})
	t.Cleanup(func() { azlog.SetListener(nil) })

	n, l, err := c.NotificationURLs(context.Background(), appID,
		"https://func-tenantsync.azurewebsites.net/api/GraphWebhook",
		"https://func-tenantsync.azurewebsites.net/api/GraphLifecycle?code=stale")
	if err != nil {
		t.Fatal(err)
	}
	nu, _ := url.Parse(n)
	if nu.Query().Get("code") != webhookKey || nu.Path != "/api/GraphWebhook" || nu.Host != "func-tenantsync.azurewebsites.net" {
		t.Errorf("notification URL %q", n)
	}
	lu, _ := url.Parse(l)
	if lu.Query()["code"] == nil || len(lu.Query()["code"]) != 1 || lu.Query().Get("code") != "lifecycle-key" {
		t.Errorf("lifecycle URL %q: want exactly one code, the lifecycle function's key", l)
	}
	a.mu.Lock()
	if len(a.requests) != 2 {
		t.Errorf("%d ARM requests, want 2", len(a.requests))
	}
	a.mu.Unlock()
	logMu.Lock()
	logged := logs.String()
	logMu.Unlock()
	if logged == "" {
		t.Error("azcore logged nothing: the check below proves nothing")
	}
	if strings.Contains(logged, webhookKey) || strings.Contains(logged, "lifecycle-key") || strings.Contains(logged, token) {
		t.Errorf("azcore's log carries a secret:\n%s", logged)
	}

	// No lifecycle URL: none is made up.
	n, l, err = c.NotificationURLs(context.Background(), appID, "https://h.example/api/GraphWebhook", "")
	if err != nil || l != "" || !strings.Contains(n, "code=") {
		t.Errorf("NotificationURLs without a lifecycle URL = %q, %q, %v", n, l, err)
	}
	if _, _, err := c.NotificationURLs(context.Background(), appID, "/api/GraphWebhook", ""); err == nil {
		t.Error("a relative webhook URL was accepted")
	}
}
