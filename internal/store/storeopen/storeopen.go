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
//     file, .tenantsync/state.db by default; or, while a `handler local`
//     runs on that file and holds it, that local's store through its admin
//     endpoint (package localadmin), so that the operator commands work
//     against a running local as they do against Table Storage.
//
// The state file also holds the embedded queue of `handler local`, whatever
// the store: OpenQueueFile opens it alone for a local on Table Storage, and
// RunningDeadLetters reaches the dead letters of a local running on it.
//
// The package reads no environment itself: callers pass the values.
package storeopen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
	"github.com/tenantsync/tenantsync/internal/store/storeopen/localadmin"
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
	return "embedded store in " + s.StatePath()
}

// StatePath is the state file: the embedded store's, when the store is
// embedded, and always the embedded queue's of `handler local`.
func (s Settings) StatePath() string {
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
	// ExistingTables opens Table Storage without creating its tables,
	// checking that they exist (tablestore.Options.ExistingTables). It does
	// not apply to the embedded store.
	ExistingTables bool
}

// Open opens the store s names. The embedded store is a *boltstore.Store
// (its DB is there for the local queue), or, while a `handler local` runs on
// the state file, a *localadmin.Store served by it; Table Storage is a
// *tablestore.Store.
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
		st, err := tablestore.Open(ctx, tablestore.Options{Endpoint: s.Tables, Credential: cred, TablePrefix: opts.TablePrefix, Logger: opts.Logger, ExistingTables: opts.ExistingTables})
		if err != nil {
			return nil, err
		}
		return st, nil
	case TableConnectionString:
		if !strings.Contains(s.Tables, "=") {
			// Do not echo the value: it might be a key pasted in the wrong place.
			return nil, errors.New(settings.Tables + " is neither an http(s) endpoint URL nor a connection string (Key=Value;…)")
		}
		st, err := tablestore.Open(ctx, tablestore.Options{ConnectionString: s.Tables, TablePrefix: opts.TablePrefix, Logger: opts.Logger, ExistingTables: opts.ExistingTables})
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	return openEmbedded(ctx, s.StatePath(), opts)
}

// openEmbedded opens the embedded store in the file at path: through the
// handler local that runs on it, if one does, else the file itself.
func openEmbedded(ctx context.Context, path string, opts Options) (store.Store, error) {
	c, err := localadmin.Dial(ctx, path)
	var unusable error
	switch {
	case err == nil:
		st, err := c.Store()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("%w: set %s as it has it", err, settings.Tables)
		}
		return st, nil
	case errors.Is(err, localadmin.ErrNotRunning):
	case errors.Is(err, localadmin.ErrRefused):
		// Some local answered and refused the token. It is most likely the
		// one holding the file, and then waiting for the lock is futile;
		// but it may be another one that took a crashed local's port, so
		// try the lock briefly.
		st, berr := boltstore.Open(path, &boltstore.Options{Logger: opts.Logger, Timeout: refusedLockTimeout})
		if berr != nil {
			return nil, err
		}
		return st, nil
	default:
		unusable = err
	}
	st, err := boltstore.Open(path, &boltstore.Options{Logger: opts.Logger})
	if err != nil {
		if unusable != nil {
			return nil, fmt.Errorf("%w; if a handler local holds it, its admin file is of no use: %w", err, unusable)
		}
		return nil, err
	}
	return st, nil
}

// refusedLockTimeout is how long Open tries the state file's lock when a
// local refused the admin file's token.
const refusedLockTimeout = 250 * time.Millisecond

// queueFileTimeout bounds the wait for the state file's lock.
const queueFileTimeout = 5 * time.Second

// OpenQueueFile opens the state file s names for the embedded queue alone,
// creating it and its directory (private to the user) if needed: a
// `handler local` whose store is Table Storage keeps its queue there. It
// fails at once if a handler local already runs on the file.
func OpenQueueFile(ctx context.Context, s Settings) (*bbolt.DB, error) {
	path := s.StatePath()
	if c, err := localadmin.Dial(ctx, path); err == nil {
		c.Close()
		return nil, fmt.Errorf("open the queue file %s: a handler local (pid %d) already runs on it", path, c.PID())
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open the queue file %s: %w", path, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: queueFileTimeout, FreelistType: bbolt.FreelistMapType})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open the queue file %s: another process holds it (waited %s)", path, queueFileTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open the queue file %s: %w", path, err)
	}
	return db, nil
}

// RunningDeadLetters returns the dead letters of the embedded queue of the
// handler local running on the state file s names, whatever its store. ok
// is false, with no error, when no local runs there: the caller may open
// the file itself.
func RunningDeadLetters(ctx context.Context, s Settings) (dl *localadmin.DeadLetters, ok bool, err error) {
	c, err := localadmin.Dial(ctx, s.StatePath())
	if errors.Is(err, localadmin.ErrNotRunning) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reach the handler local running on %s: %w", s.StatePath(), err)
	}
	dl, err = c.DeadLetters()
	if err != nil {
		c.Close()
		return nil, false, err
	}
	return dl, true, nil
}
