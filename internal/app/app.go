// Package app assembles tenantsync from its settings and configuration: the
// config, a Graph client per tenant, the store and the engine. Every command
// of the handler binary, the Functions custom handler and the local runner
// build on it, so they all read settings the same way.
package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/graph"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/storeopen"
)

// DefaultConfigPath is the config file read when neither --config nor
// TENANTSYNC_CONFIG names one.
const DefaultConfigPath = "tenantsync.yaml"

// Options configure Open.
type Options struct {
	// Env gives the settings (handler/ passes settings.NewEnv(os.Getenv)).
	Env settings.Env
	// ConfigPath is the --config flag; empty means TENANTSYNC_CONFIG, then
	// DefaultConfigPath. TENANTSYNC_CONFIG_JSON wins over both.
	ConfigPath string
	// Config, when set, is used instead of reading one (tests, demo).
	Config *config.Config
	// Store, when set, is used instead of opening the configured one; it is
	// not closed by App.Close.
	Store store.Store
	// MaxRetries is how often the Graph client retries a throttled or
	// failed request itself. The queue handler uses 0 so that a throttled
	// change is re-scheduled instead of sleeping; nil means the default.
	MaxRetries *int
	Logger     *slog.Logger
	// ExistingTables opens Table Storage without creating its tables: Open
	// checks that they exist instead. The Functions host sets it, because
	// provisioning creates the tables (infra/), and a cold start must not
	// spend its time, or need the right, to create them.
	ExistingTables bool
}

// App is an assembled tenantsync.
type App struct {
	Config *config.Config
	// ConfigSource names where the config came from, for messages.
	ConfigSource string
	Source       *graph.Client
	Targets      map[string]*graph.Client
	Store        store.Store
	Engine       *engine.Engine
	Env          settings.Env
	Logger       *slog.Logger

	ownStore bool
}

// LoadConfig reads and validates the configuration the settings and flag
// name. It returns where it came from.
func LoadConfig(env settings.Env, path string) (*config.Config, string, error) {
	if js, ok := env.Lookup(settings.ConfigJSON); ok {
		cfg, err := config.ParseJSON(js)
		if err != nil {
			return nil, settings.ConfigJSON, err
		}
		return cfg, settings.ConfigJSON, validate(cfg)
	}
	if path == "" {
		path = env.Get(settings.Config)
	}
	if path == "" {
		path = DefaultConfigPath
	}
	cfg, err := config.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, path, fmt.Errorf("no config: %s does not exist (pass --config FILE, or set %s or %s; docs/tenantsync.example.yaml is a start)",
			path, settings.Config, settings.ConfigJSON)
	}
	if err != nil {
		return nil, path, err
	}
	return cfg, path, validate(cfg)
}

func validate(cfg *config.Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid config:\n%w", err)
	}
	return nil
}

// Open loads the config, connects a Graph client to every tenant, opens the
// store and builds the engine. Nothing is contacted yet: clients connect on
// first use.
func Open(ctx context.Context, opts Options) (*App, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &App{Env: opts.Env, Logger: log, Targets: map[string]*graph.Client{}}
	a.Config, a.ConfigSource = opts.Config, "given"
	if a.Config == nil {
		cfg, src, err := LoadConfig(opts.Env, opts.ConfigPath)
		if err != nil {
			return nil, err
		}
		a.Config, a.ConfigSource = cfg, src
	}
	var err error
	a.Source, err = a.client(ctx, "source", a.Config.Source, opts)
	if err != nil {
		return nil, err
	}
	ports := map[string]engine.Target{}
	for _, t := range a.Config.Targets {
		c, err := a.client(ctx, "target "+t.Name, t.Tenant, opts)
		if err != nil {
			return nil, err
		}
		a.Targets[t.Name] = c
		ports[t.Name] = c
	}
	a.Store = opts.Store
	if a.Store == nil {
		a.Store, err = openStore(ctx, opts.Env, log, opts.ExistingTables)
		if err != nil {
			return nil, err
		}
		a.ownStore = true
	}
	a.Engine, err = engine.New(engine.Options{
		Config:          a.Config,
		Source:          a.Source,
		Targets:         ports,
		Store:           a.Store,
		Logger:          log,
		GroupAnchorAttr: graph.GroupAnchorAttr,
	})
	if err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) client(ctx context.Context, what string, t config.Tenant, opts Options) (*graph.Client, error) {
	t = WithGraphIdentity(opts.Env, t)
	cred, err := graph.NewCredential(t, graph.CredentialOptions{Getenv: opts.Env.Var})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	gopts := graph.Options{BaseURL: t.Graph, Credential: cred, Logger: a.Logger.With("tenant", t.Tenant), MaxRetries: graph.DefaultMaxRetries}
	if opts.MaxRetries != nil {
		gopts.MaxRetries = *opts.MaxRetries
	}
	c, err := graph.New(ctx, gopts)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", what, t.Graph, err)
	}
	return c, nil
}

// WithGraphIdentity returns t with the managed identity of its federated
// credential set from TENANTSYNC_GRAPH_IDENTITY_CLIENT_ID when t signs in
// with managedIdentityFederated and names no identity itself. The deployment
// gives the Graph app's federated credential an identity of its own, apart
// from the one with Storage and Service Bus roles (AZURE_CLIENT_ID), so that
// neither can do what the other does (docs/security.md); without this
// setting the credential falls back to AZURE_CLIENT_ID.
func WithGraphIdentity(env settings.Env, t config.Tenant) config.Tenant {
	if t.Auth.Method != config.AuthManagedIdentityFederated || t.Auth.ManagedIdentityClientID != "" {
		return t
	}
	t.Auth.ManagedIdentityClientID = env.Get(settings.GraphIdentityClientID)
	return t
}

// OpenStore opens the store the settings choose: Table Storage through a
// managed identity or a connection string, else the embedded store.
func OpenStore(ctx context.Context, env settings.Env, log *slog.Logger) (store.Store, error) {
	return openStore(ctx, env, log, false)
}

// openStore is OpenStore, creating missing tables or, with existingTables,
// only checking that they exist.
func openStore(ctx context.Context, env settings.Env, log *slog.Logger, existingTables bool) (store.Store, error) {
	s := storeopen.SettingsFrom(env.Get)
	st, err := storeopen.Open(ctx, s, storeopen.Options{
		Credential:     func() (azcore.TokenCredential, error) { return AzureCredential(env) },
		TablePrefix:    env.Get(settings.TablePrefix),
		Logger:         log,
		ExistingTables: existingTables,
	})
	if err != nil {
		return nil, fmt.Errorf("open the store (%s): %w", s, err)
	}
	return st, nil
}

// AzureCredential is the credential tenantsync uses for its own Azure
// resources (Table Storage, Service Bus, the function key): the user-assigned
// managed identity AZURE_CLIENT_ID in Azure, or whatever DefaultAzureCredential
// finds on a laptop (environment, Azure CLI).
func AzureCredential(env settings.Env) (azcore.TokenCredential, error) {
	if id := env.Get(settings.AzureClientID); id != "" && onAzure(env) {
		return azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID(id)})
	}
	return azidentity.NewDefaultAzureCredential(nil)
}

// onAzure reports whether the process runs under the Functions host, where
// a managed identity is the only right credential.
func onAzure(env settings.Env) bool {
	_, ok := env.Lookup(settings.CustomHandlerPort)
	return ok
}

// Close releases the store if Open opened it.
func (a *App) Close() error {
	if a.ownStore && a.Store != nil {
		return a.Store.Close()
	}
	return nil
}

// Target returns the named target's config, or an error listing the
// configured names.
func (a *App) Target(name string) (*config.Target, error) {
	return LookupTarget(a.Config, name)
}

// LookupTarget returns the target of cfg named name, or an error wrapping
// engine.ErrUnknownTarget that lists the configured names.
func LookupTarget(cfg *config.Config, name string) (*config.Target, error) {
	if t, ok := cfg.Target(name); ok {
		return t, nil
	}
	names := make([]string, len(cfg.Targets))
	for i, t := range cfg.Targets {
		names[i] = t.Name
	}
	return nil, fmt.Errorf("%w %q (configured: %s)", engine.ErrUnknownTarget, name, strings.Join(names, ", "))
}
