package graph

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/tenantsync/tenantsync/internal/config"
)

// CredentialOptions configure NewCredential.
type CredentialOptions struct {
	// Getenv reads the environment: the client secret's variable, the
	// certificate password's and, for managedIdentityFederated without
	// managedIdentityClientId, AZURE_CLIENT_ID. Required for clientSecret
	// and for a certificate with passwordEnv.
	Getenv func(string) string
	// ReadFile reads the certificate file. Default os.ReadFile.
	ReadFile func(string) ([]byte, error)
	// ClientOptions configure the credentials' HTTP pipeline. When
	// Cloud.ActiveDirectoryAuthorityHost is empty, the cloud follows the
	// tenant's Graph URL (public, US Government, China).
	ClientOptions azcore.ClientOptions
	// DisableInstanceDiscovery skips Entra's instance metadata request, for
	// private clouds and tests with a local authority.
	DisableInstanceDiscovery bool
}

// tokenExchangeAudience is the audience of the managed identity token that
// a federated identity credential accepts, per cloud.
var tokenExchangeAudience = map[string]string{
	cloud.AzurePublic.ActiveDirectoryAuthorityHost:     "api://AzureADTokenExchange",
	cloud.AzureGovernment.ActiveDirectoryAuthorityHost: "api://AzureADTokenExchangeUSGov",
	cloud.AzureChina.ActiveDirectoryAuthorityHost:      "api://AzureADTokenExchangeChina",
}

// cloudFor returns the Entra cloud of a Graph base URL: US Government for
// graph.microsoft.us and dod-graph.microsoft.us, China for
// microsoftgraph.chinacloudapi.cn, and public otherwise (including the
// simulator).
func cloudFor(graphURL string) cloud.Configuration {
	u, err := url.Parse(graphURL)
	if err != nil {
		return cloud.AzurePublic
	}
	switch h := strings.ToLower(u.Hostname()); {
	case h == "graph.microsoft.us" || h == "dod-graph.microsoft.us":
		return cloud.AzureGovernment
	case h == "microsoftgraph.chinacloudapi.cn":
		return cloud.AzureChina
	}
	return cloud.AzurePublic
}

// NewCredential builds the token credential for a tenant's auth method:
//
//   - managedIdentityFederated: a client assertion credential for the
//     multi-tenant app auth.clientId in the tenant, whose assertion is a
//     managed identity token for the token exchange audience
//     (api://AzureADTokenExchange in the public cloud): the managed identity
//     is a federated identity credential of the app, so no secret exists.
//     The managed identity is auth.managedIdentityClientId, else
//     AZURE_CLIENT_ID, else the system-assigned identity.
//   - clientSecret: the secret is read from the environment variable named
//     by auth.secretEnv.
//   - certificate: a PEM or PKCS#12 file at auth.path with the certificate
//     and its private key.
//   - azureCli: the account logged in to the Azure CLI, for the tenant.
//   - none: nil, no token (the simulator).
//
// Errors name what is missing, never a secret's value.
func NewCredential(t config.Tenant, opts CredentialOptions) (azcore.TokenCredential, error) {
	auth := t.Auth
	if auth.Method == config.AuthNone {
		return nil, nil
	}
	if t.Tenant == "" {
		return nil, fmt.Errorf("credential (%s): tenant is required", auth.Method)
	}
	clientOpts := opts.ClientOptions
	if clientOpts.Cloud.ActiveDirectoryAuthorityHost == "" {
		clientOpts.Cloud = cloudFor(t.Graph)
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	needClientID := func() error {
		if auth.ClientID == "" {
			return fmt.Errorf("credential (%s) for tenant %s: clientId is required", auth.Method, t.Tenant)
		}
		return nil
	}

	switch auth.Method {
	case config.AuthManagedIdentityFederated:
		if err := needClientID(); err != nil {
			return nil, err
		}
		miOpts := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts.ClientOptions}
		miID := auth.ManagedIdentityClientID
		if miID == "" {
			miID = getenv("AZURE_CLIENT_ID")
		}
		if miID != "" {
			miOpts.ID = azidentity.ClientID(miID)
		}
		mi, err := azidentity.NewManagedIdentityCredential(miOpts)
		if err != nil {
			return nil, fmt.Errorf("credential (%s) for tenant %s: managed identity: %w", auth.Method, t.Tenant, err)
		}
		audience := tokenExchangeAudience[clientOpts.Cloud.ActiveDirectoryAuthorityHost]
		if audience == "" {
			audience = tokenExchangeAudience[cloud.AzurePublic.ActiveDirectoryAuthorityHost]
		}
		assertion := func(ctx context.Context) (string, error) {
			tok, err := mi.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{audience + "/.default"}})
			if err != nil {
				return "", fmt.Errorf("managed identity token for %s: %w", audience, err)
			}
			return tok.Token, nil
		}
		cred, err := azidentity.NewClientAssertionCredential(t.Tenant, auth.ClientID, assertion, &azidentity.ClientAssertionCredentialOptions{
			ClientOptions: clientOpts, DisableInstanceDiscovery: opts.DisableInstanceDiscovery,
		})
		if err != nil {
			return nil, fmt.Errorf("credential (%s) for tenant %s: %w", auth.Method, t.Tenant, err)
		}
		return cred, nil

	case config.AuthClientSecret:
		if err := needClientID(); err != nil {
			return nil, err
		}
		if auth.SecretEnv == "" {
			return nil, fmt.Errorf("credential (%s) for tenant %s: secretEnv is required", auth.Method, t.Tenant)
		}
		if opts.Getenv == nil {
			return nil, fmt.Errorf("credential (%s) for tenant %s: no environment to read %s from", auth.Method, t.Tenant, auth.SecretEnv)
		}
		secret := getenv(auth.SecretEnv)
		if secret == "" {
			return nil, fmt.Errorf("credential (%s) for tenant %s: environment variable %s is not set", auth.Method, t.Tenant, auth.SecretEnv)
		}
		cred, err := azidentity.NewClientSecretCredential(t.Tenant, auth.ClientID, secret, &azidentity.ClientSecretCredentialOptions{
			ClientOptions: clientOpts, DisableInstanceDiscovery: opts.DisableInstanceDiscovery,
		})
		if err != nil {
			return nil, fmt.Errorf("credential (%s) for tenant %s: %w", auth.Method, t.Tenant, err)
		}
		return cred, nil

	case config.AuthCertificate:
		if err := needClientID(); err != nil {
			return nil, err
		}
		if auth.Path == "" {
			return nil, fmt.Errorf("credential (%s) for tenant %s: path is required", auth.Method, t.Tenant)
		}
		readFile := opts.ReadFile
		if readFile == nil {
			readFile = os.ReadFile
		}
		data, err := readFile(auth.Path)
		if err != nil {
			return nil, fmt.Errorf("credential (%s) for tenant %s: read certificate: %w", auth.Method, t.Tenant, err)
		}
		var password string
		if auth.PasswordEnv != "" {
			if password = getenv(auth.PasswordEnv); password == "" {
				return nil, fmt.Errorf("credential (%s) for tenant %s: environment variable %s (passwordEnv) is not set", auth.Method, t.Tenant, auth.PasswordEnv)
			}
		}
		certs, key, err := parseCertificate(data, password)
		if err != nil {
			return nil, fmt.Errorf("credential (%s) for tenant %s: parse certificate %s: %w", auth.Method, t.Tenant, auth.Path, err)
		}
		cred, err := azidentity.NewClientCertificateCredential(t.Tenant, auth.ClientID, certs, key, &azidentity.ClientCertificateCredentialOptions{
			ClientOptions: clientOpts, DisableInstanceDiscovery: opts.DisableInstanceDiscovery,
		})
		if err != nil {
			return nil, fmt.Errorf("credential (%s) for tenant %s: %w", auth.Method, t.Tenant, err)
		}
		return cred, nil

	case config.AuthAzureCLI:
		cred, err := azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: t.Tenant})
		if err != nil {
			return nil, fmt.Errorf("credential (%s) for tenant %s: %w", auth.Method, t.Tenant, err)
		}
		return cred, nil
	}
	return nil, errors.New("credential: unknown auth method " + fmt.Sprintf("%q", auth.Method))
}

// parseCertificate reads a certificate and its private key from a PEM file
// (azidentity.ParseCertificates) or a PKCS#12 (PFX) file, encrypted with a
// password or not. A PFX is decoded with software.sslmate.com/src/go-pkcs12,
// which reads what OpenSSL 3 and Windows export today (PBES2, AES-256,
// HMAC-SHA-256): azidentity's helper uses golang.org/x/crypto/pkcs12, frozen
// at SHA-1 and 3DES, and answers those with "unknown digest algorithm"
// (Azure/azure-sdk-for-go#22906, where the SDK's maintainers suggest any
// other decoder).
func parseCertificate(data []byte, password string) ([]*x509.Certificate, crypto.PrivateKey, error) {
	if bytes.Contains(data, []byte("-----BEGIN")) {
		return azidentity.ParseCertificates(data, []byte(password))
	}
	key, leaf, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) && password == "" {
			return nil, nil, fmt.Errorf("%w: the PFX is password-protected: name the environment variable holding its password in auth.passwordEnv", err)
		}
		return nil, nil, err
	}
	return append([]*x509.Certificate{leaf}, chain...), key, nil
}
