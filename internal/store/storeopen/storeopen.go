// Package storeopen opens the store the settings name, so that every entry
// point (the Functions handler, `handler local`, the operator commands)
// makes the same choice:
//
//   - TENANTSYNC_TABLES holding an http(s) URL: Table Storage at that
//     endpoint, signed in with the credential the caller supplies (a
//     managed identity in Azure);
//   - TENANTSYNC_TABLES holding anything else: a Table Storage connection
//     string (Azurite, local use; "UseDevelopmentStorage=true" works);
//   - TENANTSYNC_TABLES unset: the embedded store in the TENANTSYNC_STATE
//     file, .tenantsync/state.db by default.
//
// The package reads no environment itself: callers pass the values.
package storeopen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
	"github.com/tenantsync/tenantsync/internal/store/tablestore"
)

// DefaultStatePath is the embedded store's file when TENANTSYNC_STATE is unset.
const DefaultStatePath = ".tenantsync/state.db"

// Settings are the values of the store settings.
type Settings struct {
	// Tables is TENANTSYNC_TABLES: an endpoint URL, a connection string, or
	// empty for the embedded store.
	Tables string
	// State is TENANTSYNC_STATE: the embedded store's file; empty means
	// DefaultStatePath.
	State string
}

// SettingsFrom reads the settings through lookup, typically os.Getenv.
func SettingsFrom(lookup func(string) string) Settings {
	return Settings{
		Tables: strings.TrimSpace(lookup(settings.Tables)),
		State:  strings.TrimSpace(lookup(settings.State)),
	}
}

// Kind is which store the settings choose.
type Kind int

const (
	Embedded Kind = iota
	TableEndpoint
	TableConnectionString
)

// Kind returns which store s chooses.
func (s Settings) Kind() Kind {
	switch {
	case s.Tables == "":
		return Embedded
	case strings.HasPrefix(s.Tables, "https://"), strings.HasPrefix(s.Tables, "http://"):
		return TableEndpoint
	}
	return TableConnectionString
}

// String describes the chosen store for logs and status output, without
// any key.
func (s Settings) String() string {
	switch s.Kind() {
	case TableEndpoint:
		host := s.Tables
		if u, err := url.Parse(s.Tables); err == nil {
			host = u.Host
		}
		return "Table Storage at " + host + " (token credential)"
	case TableConnectionString:
		return "Table Storage at " + connectionTarget(s.Tables) + " (connection string)"
	}
	return "embedded store in " + s.statePath()
}

func (s Settings) statePath() string {
	if s.State == "" {
		return DefaultStatePath
	}
	return s.State
}

// connectionTarget names what a connection string points at.
func connectionTarget(conn string) string {
	var account string
	for _, part := range strings.Split(conn, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch strings.ToLower(k) {
		case "tableendpoint":
			return v
		case "accountname":
			account = v
		case "usedevelopmentstorage":
			return "Azurite"
		}
	}
	if account != "" {
		return "account " + account
	}
	return "an unnamed account"
}

// Options are what Open needs besides the settings.
type Options struct {
	// Credential returns the token credential for an endpoint URL, such as
	// a managed identity. It is called only when the settings name an
	// endpoint.
	Credential func() (azcore.TokenCredential, error)
	// TablePrefix starts the Table Storage table names; empty means
	// tablestore.DefaultTablePrefix.
	TablePrefix string
	// Logger is passed to the store.
	Logger *slog.Logger
}

// Open opens the store s names. The embedded store is a *boltstore.Store
// (its DB is there for the local queue), Table Storage a *tablestore.Store.
func Open(ctx context.Context, s Settings, opts Options) (store.Store, error) {
	switch s.Kind() {
	case TableEndpoint:
		if opts.Credential == nil {
			return nil, fmt.Errorf("open %s: no credential factory", s)
		}
		cred, err := opts.Credential()
		if err != nil {
			return nil, fmt.Errorf("open %s: credential: %w", s, err)
		}
		st, err := tablestore.Open(ctx, tablestore.Options{Endpoint: s.Tables, Credential: cred, TablePrefix: opts.TablePrefix, Logger: opts.Logger})
		if err != nil {
			return nil, err
		}
		return st, nil
	case TableConnectionString:
		if !strings.Contains(s.Tables, "=") {
			// Do not echo the value: it might be a key pasted in the wrong place.
			return nil, errors.New(settings.Tables + " is neither an http(s) endpoint URL nor a connection string (Key=Value;…)")
		}
		st, err := tablestore.Open(ctx, tablestore.Options{ConnectionString: s.Tables, TablePrefix: opts.TablePrefix, Logger: opts.Logger})
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	st, err := boltstore.Open(s.statePath(), &boltstore.Options{Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	return st, nil
}
