// Package config reads and validates tenantsync's configuration
// (tenantsync.yaml, or the same document as JSON in the app setting
// TENANTSYNC_CONFIG_JSON). Validation errors name the path of the offending
// key, as in `targets[0].mappings[3].expression: unknown function "Apend" at column 1`.
//
// Load, Parse and ParseJSON decode strictly — an unknown key or a value of
// the wrong type is an error, never ignored — fill in the defaults for the
// keys left out, and validate. All problems are reported at once, as Errors,
// each with its path and, when the document was parsed, its line.
//
// Decoding walks yaml.v3 nodes rather than unmarshalling into the structs, so
// that every error can name where it is; JSON is decoded as the YAML it is.
// The package reads no environment variables and no files but the one Load
// is given: callers pass TENANTSYNC_CONFIG and TENANTSYNC_CONFIG_JSON in.
package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tenantsync/tenantsync/internal/mapping"
	"github.com/tenantsync/tenantsync/internal/scope"
)

// The defaults for keys a config leaves out.
const (
	DefaultGraph             = "https://graph.microsoft.com/v1.0"
	DefaultAuthMethod        = AuthManagedIdentityFederated
	DefaultUserType          = Member
	DefaultInviteRedirectURL = "https://myapps.microsoft.com"
	DefaultInviteAddress     = "Coalesce([mail], [userPrincipalName])"
	DefaultAnchor            = "onPremisesExtensionAttributes.extensionAttribute15"
	DefaultDeprovision       = DeprovisionDelete
	// DefaultThreshold is Cross-Tenant Synchronization's accidental-deletions
	// threshold.
	DefaultThreshold = 500
	DefaultWindow    = Duration(time.Hour)
	// DefaultDelay is how long a deprovision waits, recorded as pending,
	// before the deletion guard lets it through: long enough that a burst
	// arriving in notifications is seen whole and held whole.
	DefaultDelay = Duration(time.Minute)
	// MaxThreshold bounds the threshold: the guard's record holds up to
	// threshold+1 pending deprovisions, and a Table Storage entity at most
	// 1 MiB.
	MaxThreshold = 5000
)

// Config is the whole configuration: one source tenant and its targets.
type Config struct {
	Source  Tenant   `json:"source" yaml:"source"`
	Targets []Target `json:"targets" yaml:"targets"`

	// lines maps the path of every key read from a document to its line, so
	// that Validate can say where a bad value is; file names the document.
	lines map[string]int
	file  string
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
	// PasswordEnv names the environment variable holding the password of a
	// password-protected PFX at Path; empty for none.
	PasswordEnv string `json:"passwordEnv,omitempty" yaml:"passwordEnv,omitempty"`
}

// UserType of the B2B users created in a target.
type UserType string

const (
	Member UserType = "Member"
	Guest  UserType = "Guest"
)

// Target is one tenant users are provisioned into.
type Target struct {
	Name              string `json:"name" yaml:"name"` // [a-z0-9-], unique
	Tenant            `json:",inline" yaml:",inline"`
	UserType          UserType `json:"userType,omitempty" yaml:"userType,omitempty"`
	InviteRedirectURL string   `json:"inviteRedirectUrl,omitempty" yaml:"inviteRedirectUrl,omitempty"`
	InviteAddress     string   `json:"inviteAddress,omitempty" yaml:"inviteAddress,omitempty"` // expression
	// Anchor is the target attribute tenantsync writes
	// "tenantsync:<source tenant>:<source id>" into, as a full property path
	// ("extensionAttribute3" in a config is read as
	// "onPremisesExtensionAttributes.extensionAttribute3").
	Anchor      string         `json:"anchor,omitempty" yaml:"anchor,omitempty"`
	Scope       Scope          `json:"scope" yaml:"scope"`
	Mappings    []mapping.Rule `json:"mappings,omitempty" yaml:"mappings,omitempty"`
	Deprovision Deprovision    `json:"deprovision" yaml:"deprovision"`
	// AdoptMembers lets tenantsync take over an internal member of the
	// target (userType Member, not a B2B user) that matches a source user's
	// invitation address. By default only existing B2B users are adopted, as
	// Cross-Tenant Synchronization does, and a match with an internal member
	// is an error.
	AdoptMembers bool `json:"adoptMembers,omitempty" yaml:"adoptMembers,omitempty"`
	// DriftRepair, when false, makes a full pass report target users that
	// differ from what tenantsync last wrote without writing them back.
	// Unset means true. Either way, a target user disabled in the target
	// while its source user is enabled stays disabled: what a target
	// administrator changed stays until the source changes, as in
	// Cross-Tenant Synchronization.
	DriftRepair *bool `json:"driftRepair,omitempty" yaml:"driftRepair,omitempty"`
	// Groups are the security groups provisioned into the target with
	// their memberships (docs/groups.md); none when left out.
	Groups Groups `json:"groups,omitzero" yaml:"groups,omitempty"`
}

// RepairsDrift reports whether a full pass writes drifted target users back.
func (t *Target) RepairsDrift() bool { return t.DriftRepair == nil || *t.DriftRepair }

// Scope says which source users a target receives.
type Scope struct {
	All           bool     `json:"all,omitempty" yaml:"all,omitempty"`
	Groups        []string `json:"groups,omitempty" yaml:"groups,omitempty"` // ids or display names
	Nested        bool     `json:"nested,omitempty" yaml:"nested,omitempty"`
	IncludeGuests bool     `json:"includeGuests,omitempty" yaml:"includeGuests,omitempty"`
	// IncludeExternal admits source users who are themselves external (B2B)
	// users of the source tenant. By default only internal members are in
	// scope, as in Cross-Tenant Synchronization: exporting externals makes
	// loops in hub-and-mesh topologies.
	IncludeExternal bool           `json:"includeExternal,omitempty" yaml:"includeExternal,omitempty"`
	Filters         []scope.Filter `json:"filters,omitempty" yaml:"filters,omitempty"`
	// AllowEmpty accepts a scope that selects no users. Without it such a
	// scope is refused: it would deprovision every user in the target.
	AllowEmpty bool `json:"allowEmpty,omitempty" yaml:"allowEmpty,omitempty"`
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
	// Threshold: when more deprovisions than this are pending or were
	// carried out within Window, every pending one is staged for approval.
	Threshold int      `json:"threshold,omitempty" yaml:"threshold,omitempty"`
	Window    Duration `json:"window,omitempty" yaml:"window,omitempty"`
	// Delay is how long a deprovision (delete or disable, including a
	// disable mapped from the source) waits as pending before the guard
	// decides; a user who comes back meanwhile cancels it.
	Delay *Duration `json:"delay,omitempty" yaml:"delay,omitempty"`
}

// SettleDelay is the configured delay, or DefaultDelay.
func (d Deprovision) SettleDelay() time.Duration {
	if d.Delay == nil {
		return time.Duration(DefaultDelay)
	}
	return time.Duration(*d.Delay)
}

// Duration is a time.Duration written as "1h", "30m" (time.ParseDuration's
// syntax) in YAML and JSON.
type Duration time.Duration

// String returns the duration as a person would write it in the
// configuration: time.Duration's form without its zero units, such as
// "1h", "1h30m" or "90s" ("1h0m0s" reads as an error in a message). It
// parses back to the same duration.
func (d Duration) String() string { return compactDuration(time.Duration(d)) }

func parseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("must be a duration such as \"1h\" or \"30m\", got %q", s)
	}
	return Duration(d), nil
}

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return fmt.Errorf("must be a duration such as \"1h\" or \"30m\"")
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("must be a duration such as \"1h\" or \"30m\"")
	}
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// DefaultTenant returns a Tenant with the defaults: the global Graph endpoint
// and the managedIdentityFederated method.
func DefaultTenant() Tenant {
	return Tenant{Graph: DefaultGraph, Auth: Auth{Method: DefaultAuthMethod}}
}

// DefaultTarget returns a Target with every default set: what a target in a
// config file starts from before its keys are read.
func DefaultTarget() Target {
	return Target{
		Tenant:            DefaultTenant(),
		UserType:          DefaultUserType,
		InviteRedirectURL: DefaultInviteRedirectURL,
		InviteAddress:     DefaultInviteAddress,
		Anchor:            DefaultAnchor,
		Deprovision: Deprovision{
			Action:    DefaultDeprovision,
			Threshold: DefaultThreshold,
			Window:    DefaultWindow,
		},
	}
}

// ApplyDefaults sets the defaults on a Config built in code, for every field
// whose zero value means "not set", and normalises spellings as Parse does
// (no trailing slash on Graph URLs, the anchor as a full path). It leaves Deprovision.Threshold alone:
// 0 is a valid threshold (stage every deprovision for approval), the safe
// reading of a zero; configs read by Parse get DefaultThreshold when the key
// is absent.
func (c *Config) ApplyDefaults() {
	c.Source.applyDefaults()
	for i := range c.Targets {
		t := &c.Targets[i]
		t.Tenant.applyDefaults()
		setDefault(&t.UserType, DefaultUserType)
		setDefault(&t.InviteRedirectURL, DefaultInviteRedirectURL)
		setDefault(&t.InviteAddress, DefaultInviteAddress)
		setDefault(&t.Anchor, DefaultAnchor)
		setDefault(&t.Deprovision.Action, DefaultDeprovision)
		setDefault(&t.Deprovision.Window, DefaultWindow)
	}
	c.normalize()
}

func (t *Tenant) applyDefaults() {
	setDefault(&t.Graph, DefaultGraph)
	setDefault(&t.Auth.Method, DefaultAuthMethod)
}

// normalize puts values in the one spelling the rest of tenantsync expects:
// Graph URLs without a trailing slash, the anchor as a full property path.
func (c *Config) normalize() {
	c.Source.Graph = strings.TrimRight(c.Source.Graph, "/")
	for i := range c.Targets {
		t := &c.Targets[i]
		t.Graph = strings.TrimRight(t.Graph, "/")
		t.Anchor = canonicalAnchor(t.Anchor)
	}
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// Target returns the target with the given name.
func (c *Config) Target(name string) (*Target, bool) {
	for i := range c.Targets {
		if c.Targets[i].Name == name {
			return &c.Targets[i], true
		}
	}
	return nil, false
}
