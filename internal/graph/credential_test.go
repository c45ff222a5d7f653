package graph_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/graph"
	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// writePEM writes a self-signed certificate and its key to one PEM file.
func writePEM(t *testing.T) string {
	t.Helper()
	// Entra signs client assertions with RSA keys only.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tenantsync test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	path := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNewCredential(t *testing.T) {
	const secret = "s3cr3t-value"
	// testdata/protected.pfx and protected-aes.pfx: a throwaway
	// self-signed certificate and key, exported by OpenSSL 3's `openssl
	// pkcs12 -export -passout pass:correct-horse`, with -legacy (3DES,
	// SHA-1) and with -certpbe AES-256-CBC -keypbe AES-256-CBC -macalg
	// sha256 (what OpenSSL 3 and Windows write today).
	env := map[string]string{"TS_SECRET": secret, "TS_PFX_PASSWORD": "correct-horse", "TS_WRONG_PASSWORD": "battery-staple"}
	const pfx = "testdata/protected.pfx"
	getenv := func(k string) string { return env[k] }
	certPath := writePEM(t)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tenant := func(a config.Auth) config.Tenant {
		return config.Tenant{Tenant: "contoso.example", Graph: config.DefaultGraph, Auth: a}
	}
	tests := []struct {
		name    string
		tenant  config.Tenant
		getenv  func(string) string
		wantNil bool
		want    string // credential type
		errHas  string
	}{
		{"none", tenant(config.Auth{Method: config.AuthNone}), nil, true, "", ""},
		{"client secret", tenant(config.Auth{Method: config.AuthClientSecret, ClientID: "app", SecretEnv: "TS_SECRET"}), getenv, false, "*azidentity.ClientSecretCredential", ""},
		{"client secret unset", tenant(config.Auth{Method: config.AuthClientSecret, ClientID: "app", SecretEnv: "TS_OTHER"}), getenv, false, "", "TS_OTHER is not set"},
		{"client secret without environment", tenant(config.Auth{Method: config.AuthClientSecret, ClientID: "app", SecretEnv: "TS_SECRET"}), nil, false, "", "no environment"},
		{"client secret without client id", tenant(config.Auth{Method: config.AuthClientSecret, SecretEnv: "TS_SECRET"}), getenv, false, "", "clientId is required"},
		{"certificate", tenant(config.Auth{Method: config.AuthCertificate, ClientID: "app", Path: certPath}), nil, false, "*azidentity.ClientCertificateCredential", ""},
		{"certificate missing", tenant(config.Auth{Method: config.AuthCertificate, ClientID: "app", Path: filepath.Join(t.TempDir(), "none.pem")}), nil, false, "", "read certificate"},
		{"certificate unreadable", tenant(config.Auth{Method: config.AuthCertificate, ClientID: "app", Path: garbage}), nil, false, "", "parse certificate"},
		{"protected PFX", tenant(config.Auth{Method: config.AuthCertificate, ClientID: "app", Path: pfx, PasswordEnv: "TS_PFX_PASSWORD"}), getenv, false, "*azidentity.ClientCertificateCredential", ""},
		{"protected PFX, AES and SHA-256", tenant(config.Auth{Method: config.AuthCertificate, ClientID: "app", Path: "testdata/protected-aes.pfx", PasswordEnv: "TS_PFX_PASSWORD"}), getenv, false, "*azidentity.ClientCertificateCredential", ""},
		{"protected PFX without its password", tenant(config.Auth{Method: config.AuthCertificate, ClientID: "app", Path: pfx}), getenv, false, "", "the PFX is password-protected: name the environment variable holding its password in auth.passwordEnv"},
		{"protected PFX, wrong password", tenant(config.Auth{Method: config.AuthCertificate, ClientID: "app", Path: pfx, PasswordEnv: "TS_WRONG_PASSWORD"}), getenv, false, "", "parse certificate"},
		{"protected PFX, password unset", tenant(config.Auth{Method: config.AuthCertificate, ClientID: "app", Path: pfx, PasswordEnv: "TS_UNSET"}), getenv, false, "", "TS_UNSET (passwordEnv) is not set"},
		{"azure cli", tenant(config.Auth{Method: config.AuthAzureCLI}), nil, false, "*azidentity.AzureCLICredential", ""},
		{"managed identity federated", tenant(config.Auth{Method: config.AuthManagedIdentityFederated, ClientID: "app"}), getenv, false, "*azidentity.ClientAssertionCredential", ""},
		{"managed identity federated without client id", tenant(config.Auth{Method: config.AuthManagedIdentityFederated}), getenv, false, "", "clientId is required"},
		{"no tenant", config.Tenant{Auth: config.Auth{Method: config.AuthAzureCLI}}, nil, false, "", "tenant is required"},
		{"unknown method", tenant(config.Auth{Method: "password"}), nil, false, "", "unknown auth method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred, err := graph.NewCredential(tt.tenant, graph.CredentialOptions{Getenv: tt.getenv})
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %v, want one containing %q", err, tt.errHas)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error reveals the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewCredential: %v", err)
			}
			if tt.wantNil {
				if cred != nil {
					t.Errorf("credential = %T, want nil", cred)
				}
				return
			}
			if got := fmt.Sprintf("%T", cred); got != tt.want {
				t.Errorf("credential = %s, want %s", got, tt.want)
			}
		})
	}
}

// fakeEntra is a local Microsoft Entra token endpoint and App Service
// managed identity endpoint, recording what the credential sent.
type fakeEntra struct {
	mu         sync.Mutex
	miQueries  []string
	miHeader   string
	tokenForms []map[string]string
}

func (f *fakeEntra) managedIdentity(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.miQueries = append(f.miQueries, r.URL.RawQuery)
	f.miHeader = r.Header.Get("X-IDENTITY-HEADER")
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": "mi-token", "token_type": "Bearer",
		"expires_on": fmt.Sprint(time.Now().Add(time.Hour).Unix()),
		"resource":   r.URL.Query().Get("resource"),
	})
}

func (f *fakeEntra) authority(w http.ResponseWriter, r *http.Request) {
	base := "https://" + r.Host
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
		tenant := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
		_ = json.NewEncoder(w).Encode(map[string]any{
			"token_endpoint":         base + "/" + tenant + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/" + tenant + "/oauth2/v2.0/authorize",
			"issuer":                 base + "/" + tenant + "/v2.0",
		})
	case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
		_ = r.ParseForm()
		form := map[string]string{"path": r.URL.Path}
		for k := range r.PostForm {
			form[k] = r.PostForm.Get(k)
		}
		f.mu.Lock()
		f.tokenForms = append(f.tokenForms, form)
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "graph-token", "token_type": "Bearer", "expires_in": 3600})
	default:
		http.NotFound(w, r)
	}
}

// TestManagedIdentityFederated runs the secretless flow end to end: the
// managed identity's token for api://AzureADTokenExchange is the client
// assertion of the app's token request in the target tenant, and the Graph
// token that comes back is what the Client sends.
func TestManagedIdentityFederated(t *testing.T) {
	fake := &fakeEntra{}
	mi := httptest.NewServer(http.HandlerFunc(fake.managedIdentity))
	defer mi.Close()
	entra := httptest.NewTLSServer(http.HandlerFunc(fake.authority))
	defer entra.Close()
	t.Setenv("IDENTITY_ENDPOINT", mi.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "identity-header-value")
	for _, k := range []string{"IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET"} {
		t.Setenv(k, "")
		_ = os.Unsetenv(k)
	}

	// MSAL caches managed identity tokens for the whole process, keyed by
	// client id: a fresh id per run keeps -count=N runs from reusing one.
	uami := fmt.Sprintf("uami-client-%d", time.Now().UnixNano())
	sim := newSim(t, graphsim.Options{})
	cred, err := graph.NewCredential(config.Tenant{
		Tenant: "contoso.example", Graph: sim.tenantURL(target),
		Auth: config.Auth{Method: config.AuthManagedIdentityFederated, ClientID: "multi-tenant-app", ManagedIdentityClientID: uami},
	}, graph.CredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Transport: entra.Client(),
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: entra.URL + "/"},
		},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatalf("NewCredential: %v", err)
	}
	if _, ok := cred.(*azidentity.ClientAssertionCredential); !ok {
		t.Fatalf("credential = %T", cred)
	}
	c := sim.clientWith(t, graph.Options{BaseURL: sim.tenantURL(target), Credential: cred})
	sim.reset()
	if _, err := c.GetUser(context.Background(), b2bAliceID, []string{"displayName"}); err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if got := sim.recorded()[0].Header.Get("Authorization"); got != "Bearer graph-token" {
		t.Errorf("Graph saw Authorization %q, want the exchanged token", got)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.miQueries) != 1 || !strings.Contains(fake.miQueries[0], "resource=api%3A%2F%2FAzureADTokenExchange") ||
		!strings.Contains(fake.miQueries[0], "client_id="+uami) || fake.miHeader != "identity-header-value" {
		t.Errorf("managed identity requests = %v (header %q), want one for api://AzureADTokenExchange as %s", fake.miQueries, fake.miHeader, uami)
	}
	if len(fake.tokenForms) != 1 {
		t.Fatalf("token requests = %v, want 1", fake.tokenForms)
	}
	form := fake.tokenForms[0]
	want := map[string]string{
		"path":                  "/contoso.example/oauth2/v2.0/token",
		"client_id":             "multi-tenant-app",
		"client_assertion":      "mi-token",
		"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
		"grant_type":            "client_credentials",
	}
	for k, v := range want {
		if form[k] != v {
			t.Errorf("token request %s = %q, want %q", k, form[k], v)
		}
	}
	if !strings.Contains(form["scope"], sim.URL+"/.default") {
		t.Errorf("token request scope = %q, want the Graph host's .default", form["scope"])
	}

}

func TestTokenFailureIsForbidden(t *testing.T) {
	entra := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
			base := "https://" + r.Host + "/contoso.example"
			_ = json.NewEncoder(w).Encode(map[string]any{"token_endpoint": base + "/oauth2/v2.0/token",
				"authorization_endpoint": base + "/oauth2/v2.0/authorize", "issuer": base + "/v2.0"})
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": "invalid_client",
			"error_description": "AADSTS7000215: Invalid client secret provided."})
	}))
	defer entra.Close()
	cred, err := graph.NewCredential(config.Tenant{
		Tenant: "contoso.example", Graph: config.DefaultGraph,
		Auth: config.Auth{Method: config.AuthClientSecret, ClientID: "app", SecretEnv: "S"},
	}, graph.CredentialOptions{
		Getenv:                   func(string) string { return "wrong-secret" },
		ClientOptions:            azcore.ClientOptions{Transport: entra.Client(), Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: entra.URL + "/"}},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	sim := newSim(t, graphsim.Options{})
	c := sim.clientWith(t, graph.Options{BaseURL: sim.tenantURL(target), Credential: cred})
	sim.reset()
	_, err = c.GetUser(context.Background(), b2bAliceID, nil)
	if !errors.Is(err, directory.ErrForbidden) {
		t.Fatalf("err = %v, want ErrForbidden", err)
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("the error reveals the secret: %v", err)
	}
	if n := len(sim.recorded()); n != 0 {
		t.Errorf("%d Graph requests without a token", n)
	}
}

// TestCertificateCredential signs a client assertion with the certificate
// and gets a Graph token for it from a local token endpoint.
func TestCertificateCredential(t *testing.T) {
	fake := &fakeEntra{}
	entra := httptest.NewTLSServer(http.HandlerFunc(fake.authority))
	defer entra.Close()
	sim := newSim(t, graphsim.Options{})
	cred, err := graph.NewCredential(config.Tenant{
		Tenant: "contoso.example", Graph: sim.tenantURL(target),
		Auth: config.Auth{Method: config.AuthCertificate, ClientID: "app", Path: writePEM(t)},
	}, graph.CredentialOptions{
		ClientOptions:            azcore.ClientOptions{Transport: entra.Client(), Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: entra.URL + "/"}},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := sim.clientWith(t, graph.Options{BaseURL: sim.tenantURL(target), Credential: cred})
	sim.reset()
	if _, err := c.GetUser(context.Background(), b2bAliceID, nil); err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if got := sim.recorded()[0].Header.Get("Authorization"); got != "Bearer graph-token" {
		t.Errorf("Authorization = %q", got)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.tokenForms) != 1 {
		t.Fatalf("token requests = %v", fake.tokenForms)
	}
	form := fake.tokenForms[0]
	if form["client_id"] != "app" || strings.Count(form["client_assertion"], ".") != 2 ||
		form["client_assertion_type"] != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		t.Errorf("token request = %v, want a signed JWT assertion for app", form)
	}
}
