package app_test

import (
	"testing"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/settings"
)

// The Graph app's federated credential uses the Graph identity, not the
// runtime identity of AZURE_CLIENT_ID, unless the tenant names its own.
func TestWithGraphIdentity(t *testing.T) {
	const (
		runtimeID = "11111111-1111-4111-8111-111111111111"
		graphID   = "22222222-2222-4222-8222-222222222222"
		ownID     = "33333333-3333-4333-8333-333333333333"
	)
	env := settings.FromMap(map[string]string{settings.AzureClientID: runtimeID, settings.GraphIdentityClientID: graphID})
	federated := config.Tenant{Tenant: "contoso.example", Auth: config.Auth{Method: config.AuthManagedIdentityFederated, ClientID: "app"}}
	tests := []struct {
		name string
		env  settings.Env
		t    config.Tenant
		want string
	}{
		{"the Graph identity", env, federated, graphID},
		{"the tenant's own identity wins", env, func() config.Tenant { c := federated; c.Auth.ManagedIdentityClientID = ownID; return c }(), ownID},
		{"unset: left to AZURE_CLIENT_ID", settings.FromMap(map[string]string{settings.AzureClientID: runtimeID}), federated, ""},
		{"other methods untouched", env, config.Tenant{Tenant: "contoso.example", Auth: config.Auth{Method: config.AuthAzureCLI}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := app.WithGraphIdentity(tt.env, tt.t)
			if got.Auth.ManagedIdentityClientID != tt.want {
				t.Errorf("managedIdentityClientId = %q; want %q", got.Auth.ManagedIdentityClientID, tt.want)
			}
		})
	}
}
