package consent_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/internal/consent"
)

const appID = "11111111-2222-3333-4444-555555555555"

func TestURL(t *testing.T) {
	tests := []struct {
		name     string
		tenant   string
		clientID string
		opts     *consent.URLOptions
		want     string
	}{
		{
			name: "domain, no options", tenant: "contoso.example", clientID: appID,
			want: "https://login.microsoftonline.com/contoso.example/adminconsent?client_id=11111111-2222-3333-4444-555555555555",
		},
		{
			name: "tenant id", tenant: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", clientID: appID,
			want: "https://login.microsoftonline.com/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee/adminconsent?client_id=11111111-2222-3333-4444-555555555555",
		},
		{
			name: "client id is lower-cased", tenant: "contoso.onmicrosoft.com", clientID: strings.ToUpper(appID),
			want: "https://login.microsoftonline.com/contoso.onmicrosoft.com/adminconsent?client_id=11111111-2222-3333-4444-555555555555",
		},
		{
			name: "redirect URI is escaped like encodeURIComponent", tenant: "contoso.example", clientID: appID,
			opts: &consent.URLOptions{RedirectURI: "https://entra.microsoft.com/"},
			want: "https://login.microsoftonline.com/contoso.example/adminconsent?client_id=11111111-2222-3333-4444-555555555555&redirect_uri=https%3A%2F%2Fentra.microsoft.com%2F",
		},
		{
			name: "national cloud authority, trailing slash trimmed", tenant: "contoso.example", clientID: appID,
			opts: &consent.URLOptions{Authority: "https://login.microsoftonline.us/"},
			want: "https://login.microsoftonline.us/contoso.example/adminconsent?client_id=11111111-2222-3333-4444-555555555555",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := consent.URL(tt.tenant, tt.clientID, tt.opts)
			if err != nil {
				t.Fatalf("URL: %v", err)
			}
			if got != tt.want {
				t.Errorf("URL =\n %s\nwant\n %s", got, tt.want)
			}
			u, err := url.Parse(got)
			if err != nil {
				t.Fatalf("the URL does not parse: %v", err)
			}
			if id := u.Query().Get("client_id"); id != strings.ToLower(tt.clientID) {
				t.Errorf("client_id = %q", id)
			}
			if tt.opts != nil && tt.opts.RedirectURI != "" && u.Query().Get("redirect_uri") != tt.opts.RedirectURI {
				t.Errorf("redirect_uri decodes to %q; want %q", u.Query().Get("redirect_uri"), tt.opts.RedirectURI)
			}
		})
	}
}

func TestURLRejects(t *testing.T) {
	tests := []struct {
		name     string
		tenant   string
		clientID string
		opts     *consent.URLOptions
		wantText string
	}{
		{"common is not a tenant", "common", appID, nil, `tenant "common"`},
		{"organizations is not a tenant", "Organizations", appID, nil, `tenant "Organizations"`},
		{"empty tenant", "", appID, nil, `tenant ""`},
		{"single label", "contoso", appID, nil, `tenant "contoso"`},
		{"path injection", "contoso.example/../x", appID, nil, `tenant "contoso.example/../x"`},
		{"query injection", "contoso.example?x=1", appID, nil, `tenant "contoso.example?x=1"`},
		{"client id not a GUID", "contoso.example", "tenantsync", nil, `client id "tenantsync"`},
		{"http authority", "contoso.example", appID, &consent.URLOptions{Authority: "http://login.example"}, `authority "http://login.example"`},
		{"authority with query", "contoso.example", appID, &consent.URLOptions{Authority: "https://login.example/?a=b"}, "authority"},
		{"relative redirect", "contoso.example", appID, &consent.URLOptions{RedirectURI: "/done"}, `redirect URI "/done"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := consent.URL(tt.tenant, tt.clientID, tt.opts)
			if err == nil {
				t.Fatalf("URL = %q; want an error", got)
			}
			if !errors.Is(err, consent.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not mention %q", err, tt.wantText)
			}
		})
	}
}

func TestTemplateAgreesWithURL(t *testing.T) {
	opts := &consent.URLOptions{RedirectURI: "https://entra.microsoft.com/"}
	tmpl, err := consent.Template(appID, opts)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(tmpl, consent.TenantPlaceholder) != 1 {
		t.Fatalf("template %q has no single placeholder", tmpl)
	}
	for _, tenant := range []string{"contoso.example", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"} {
		u, err := consent.URL(tenant, appID, opts)
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Replace(tmpl, consent.TenantPlaceholder, tenant, 1); u != want {
			t.Errorf("URL(%q) = %q; template gives %q", tenant, u, want)
		}
	}
}

func TestEscapeComponent(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"abcXYZ019", "abcXYZ019"},
		{"-_.!~*'()", "-_.!~*'()"},
		{"https://a.b/c?d=e&f=g h", "https%3A%2F%2Fa.b%2Fc%3Fd%3De%26f%3Dg%20h"},
		{"#+,;@$", "%23%2B%2C%3B%40%24"},
		{"é", "%C3%A9"},
	}
	for _, tt := range tests {
		if got := consent.EscapeComponent(tt.in); got != tt.want {
			t.Errorf("EscapeComponent(%q) = %q; want %q", tt.in, got, tt.want)
		}
		if dec, err := url.QueryUnescape(consent.EscapeComponent(tt.in)); err != nil || dec != tt.in {
			t.Errorf("EscapeComponent(%q) does not decode back: %q, %v", tt.in, dec, err)
		}
	}
}
