// Package config reads and validates tenantsync's configuration
// (tenantsync.yaml, or the same document as JSON in the app setting
// TENANTSYNC_CONFIG_JSON). Validation errors name the path of the offending
// key, as in `targets[0].mappings[3].expression: unknown function "Apend" at column 1`.
package config

import (
	"time"

	"github.com/tenantsync/tenantsync/internal/mapping"
	"github.com/tenantsync/tenantsync/internal/scope"
)

// Config is the whole configuration: one source tenant and its targets.
type Config struct {
	Source  Tenant   `json:"source" yaml:"source"`
	Targets []Target `json:"targets" yaml:"targets"`
}

// Tenant is how to reach one tenant's Microsoft Graph.
type Tenant struct {
	// Tenant is the tenant id (GUID) or a verified domain.
	Tenant string `json:"tenant" yaml:"tenant"`
	// Graph is the Graph base URL including the version, default
	// https://graph.microsoft.com/v1.0.
	Graph string `json:"graph,omitempty" yaml:"graph,omitempty"`
	Auth  Auth   `json:"auth" yaml:"auth"`
}

// AuthMethod is how tenantsync obtains tokens for a tenant.
type AuthMethod string

const (
	// AuthManagedIdentityFederated: a managed identity's token is the
	// federated credential of a multi-tenant app registration (no secrets).
	AuthManagedIdentityFederated AuthMethod = "managedIdentityFederated"
	AuthClientSecret             AuthMethod = "clientSecret"
	AuthCertificate              AuthMethod = "certificate"
	AuthAzureCLI                 AuthMethod = "azureCli"
	// AuthNone sends no token: for the simulator only.
	AuthNone AuthMethod = "none"
)

// Auth selects and parameterises the credential for a tenant.
type Auth struct {
	Method   AuthMethod `json:"method" yaml:"method"`
	ClientID string     `json:"clientId,omitempty" yaml:"clientId,omitempty"`
	// ManagedIdentityClientID selects a user-assigned managed identity for
	// managedIdentityFederated; empty uses AZURE_CLIENT_ID or the system identity.
	ManagedIdentityClientID string `json:"managedIdentityClientId,omitempty" yaml:"managedIdentityClientId,omitempty"`
	// SecretEnv names the environment variable holding the client secret.
	SecretEnv string `json:"secretEnv,omitempty" yaml:"secretEnv,omitempty"`
	// Path is the certificate file (PEM or PFX) for the certificate method.
	Path string `json:"path,omitempty" yaml:"path,omitempty"`
}

// UserType of the B2B users created in a target.
type UserType string

const (
	Member UserType = "Member"
	Guest  UserType = "Guest"
)

// Target is one tenant users are provisioned into.
type Target struct {
	Name string `json:"name" yaml:"name"` // [a-z0-9-], unique
	Tenant `json:",inline" yaml:",inline"`
	UserType          UserType       `json:"userType,omitempty" yaml:"userType,omitempty"`
	InviteRedirectURL string         `json:"inviteRedirectUrl,omitempty" yaml:"inviteRedirectUrl,omitempty"`
	InviteAddress     string         `json:"inviteAddress,omitempty" yaml:"inviteAddress,omitempty"` // expression
	Anchor            string         `json:"anchor,omitempty" yaml:"anchor,omitempty"`
	Scope             Scope          `json:"scope" yaml:"scope"`
	Mappings          []mapping.Rule `json:"mappings,omitempty" yaml:"mappings,omitempty"`
	Deprovision       Deprovision    `json:"deprovision" yaml:"deprovision"`
}

// Scope says which source users a target receives.
type Scope struct {
	All           bool           `json:"all,omitempty" yaml:"all,omitempty"`
	Groups        []string       `json:"groups,omitempty" yaml:"groups,omitempty"` // ids or display names
	Nested        bool           `json:"nested,omitempty" yaml:"nested,omitempty"`
	IncludeGuests bool           `json:"includeGuests,omitempty" yaml:"includeGuests,omitempty"`
	Filters       []scope.Filter `json:"filters,omitempty" yaml:"filters,omitempty"`
}

// DeprovisionAction is what happens to a target user whose source user left.
type DeprovisionAction string

const (
	DeprovisionDelete  DeprovisionAction = "delete"  // soft delete, restorable for 30 days
	DeprovisionDisable DeprovisionAction = "disable" // accountEnabled=false
	DeprovisionNone    DeprovisionAction = "none"
)

// Deprovision configures deprovisioning and the deletion guard of a target.
type Deprovision struct {
	Action DeprovisionAction `json:"action,omitempty" yaml:"action,omitempty"`
	// Threshold: more deprovisions than this within Window are staged for approval.
	Threshold int      `json:"threshold,omitempty" yaml:"threshold,omitempty"`
	Window    Duration `json:"window,omitempty" yaml:"window,omitempty"`
}

// Duration is a time.Duration written as "1h", "30m".
type Duration time.Duration
