package storeopen_test

import (
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantsync/tenantsync/internal/devtools/testenv"
	"github.com/tenantsync/tenantsync/internal/queue/embedded"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
	"github.com/tenantsync/tenantsync/internal/store/storeopen"
	"github.com/tenantsync/tenantsync/internal/store/storeopen/localadmin"
	"github.com/tenantsync/tenantsync/internal/store/tablestore"
)

var tables testenv.Tables

func TestMain(m *testing.M) { os.Exit(tables.Run(m)) }

func TestSettingsFrom(t *testing.T) {
	env := map[string]string{
		settings.Tables: "  https://acct.table.core.windows.net  ",
		settings.State:  "/var/lib/tenantsync/state.db",
	}
	got := storeopen.SettingsFrom(func(k string) string { return env[k] })
	want := storeopen.Settings{Tables: "https://acct.table.core.windows.net", State: "/var/lib/tenantsync/state.db"}
	if got != want {
		t.Errorf("SettingsFrom = %+v, want %+v", got, want)
	}
}

func TestKindAndString(t *testing.T) {
	const key = "c2VjcmV0a2V5"
	tests := []struct {
		tables, state string
		kind          storeopen.Kind
		desc          string
	}{
		{"", "", storeopen.Embedded, "embedded store in .tenantsync/state.db"},
		{"", "/tmp/s.db", storeopen.Embedded, "embedded store in /tmp/s.db"},
		{"https://acct.table.core.windows.net", "", storeopen.TableEndpoint, "Table Storage at acct.table.core.windows.net (token credential)"},
		{"http://127.0.0.1:10002/devstoreaccount1", "", storeopen.TableEndpoint, "Table Storage at 127.0.0.1:10002 (token credential)"},
		{"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + key + ";EndpointSuffix=core.windows.net", "", storeopen.TableConnectionString, "Table Storage at account acct (connection string)"},
		{"AccountName=devstoreaccount1;AccountKey=" + key + ";TableEndpoint=http://127.0.0.1:10002/devstoreaccount1", "", storeopen.TableConnectionString, "Table Storage at http://127.0.0.1:10002/devstoreaccount1 (connection string)"},
		{"UseDevelopmentStorage=true", "", storeopen.TableConnectionString, "Table Storage at Azurite (connection string)"},
	}
	for _, tt := range tests {
		s := storeopen.Settings{Tables: tt.tables, State: tt.state}
		if got := s.Kind(); got != tt.kind {
			t.Errorf("Kind(%q) = %v, want %v", tt.tables, got, tt.kind)
		}
		got := s.String()
		if got != tt.desc {
			t.Errorf("String(%q) = %q, want %q", tt.tables, got, tt.desc)
		}
		if strings.Contains(got, key) {
			t.Errorf("String(%q) reveals the key", tt.tables)
		}
	}
}

func TestOpenEmbedded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "state.db")
	s, err := storeopen.Open(t.Context(), storeopen.Settings{State: path}, storeopen.Options{
		Credential: func() (azcore.TokenCredential, error) {
			t.Error("credential asked for the embedded store")
			return nil, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, ok := s.(*boltstore.Store)
	if !ok {
		t.Fatalf("Open returned %T, want *boltstore.Store", s)
	}
	if b.Path() != path || b.DB() == nil {
		t.Errorf("embedded store at %q", b.Path())
	}
	if _, err := s.PutWatermark(t.Context(), store.Watermark{Tenant: "f", Resource: "users"}); err != nil {
		t.Errorf("write: %v", err)
	}
}

func TestOpenConnectionString(t *testing.T) {
	s, err := storeopen.Open(t.Context(), storeopen.Settings{Tables: tables.ConnectionString(t)}, storeopen.Options{TablePrefix: "storeopen"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*tablestore.Store); !ok {
		t.Fatalf("Open returned %T, want *tablestore.Store", s)
	}
	if _, err := s.PutLink(t.Context(), store.Link{Target: "contoso", SourceID: "a"}); err != nil && !errors.Is(err, store.ErrConflict) {
		t.Errorf("write: %v", err)
	}
	if _, err := s.GetLink(t.Context(), "contoso", "a"); err != nil {
		t.Errorf("read: %v", err)
	}
}

func TestOpenEndpointUsesTheCredential(t *testing.T) {
	calls := 0
	boom := errors.New("no managed identity here")
	_, err := storeopen.Open(t.Context(), storeopen.Settings{Tables: "https://acct.table.core.windows.net"}, storeopen.Options{
		Credential: func() (azcore.TokenCredential, error) { calls++; return nil, boom },
	})
	if !errors.Is(err, boom) || calls != 1 {
		t.Errorf("Open: %v after %d credential calls, want %v after 1", err, calls, boom)
	}
	_, err = storeopen.Open(t.Context(), storeopen.Settings{Tables: "https://acct.table.core.windows.net"}, storeopen.Options{})
	if err == nil || !strings.Contains(err.Error(), "credential") {
		t.Errorf("Open without a credential factory: %v", err)
	}
	// With a credential, the request reaches the service; Azurite over
	// plain HTTP is refused by the SDK before any token is sent.
	_, err = storeopen.Open(t.Context(), storeopen.Settings{Tables: "http://127.0.0.1:1/devstoreaccount1"}, storeopen.Options{
		Credential: func() (azcore.TokenCredential, error) { return staticToken{}, nil },
	})
	if err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("Open with a token over http: %v", err)
	}
}

func TestOpenRejectsGarbage(t *testing.T) {
	const garbage = "c2VjcmV0a2V5c2VjcmV0a2V5"
	_, err := storeopen.Open(t.Context(), storeopen.Settings{Tables: garbage}, storeopen.Options{})
	if err == nil || !strings.Contains(err.Error(), settings.Tables) {
		t.Fatalf("Open(%q): %v", garbage, err)
	}
	if strings.Contains(err.Error(), garbage) {
		t.Errorf("error repeats the value: %v", err)
	}
}

type staticToken struct{}

func (staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "token"}, nil
}

// running is a handler local's admin endpoint in this process: the state
// file held open by a store, and its admin file beside it, as `handler
// local` serves them.
type running struct {
	state string
	store *boltstore.Store
	file  localadmin.File
}

// runLocal opens the embedded store in a new state file, holding its lock,
// and serves it (withStore) and dead letters on an admin endpoint.
func runLocal(t *testing.T, withStore bool) *running {
	t.Helper()
	r := &running{state: filepath.Join(t.TempDir(), "state.db")}
	st, err := boltstore.Open(r.state, &boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r.store = st
	q, err := embedded.Open(st.DB(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	opts := localadmin.ServerOptions{Token: localadmin.NewToken(), State: r.state, DeadLetters: q}
	if withStore {
		opts.Store = st
	}
	h, err := localadmin.NewHandler(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	r.file = localadmin.File{URL: srv.URL, Token: opts.Token, State: r.state, Store: withStore, PID: os.Getpid()}
	if err := localadmin.WriteFile(localadmin.FileFor(r.state), r.file); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestOpenEmbeddedWhileLocalRuns: with a local running on the state file,
// Open gives its store through the admin endpoint at once, instead of
// waiting for the file's lock and failing; what cannot be used is refused
// at once and says why.
func TestOpenEmbeddedWhileLocalRuns(t *testing.T) {
	tests := []struct {
		name      string
		withStore bool
		// spoil changes the admin file, or nil.
		spoil   func(t *testing.T, r *running)
		wantErr string // "" for success
	}{
		{name: "embedded store", withStore: true},
		{name: "local on Table Storage", withStore: false,
			wantErr: "keeps its store in Table Storage; only its queue is in the file: set TENANTSYNC_TABLES as it has it"},
		{name: "wrong token", withStore: true, spoil: func(t *testing.T, r *running) {
			f := r.file
			f.Token = "not-the-token"
			if err := localadmin.WriteFile(localadmin.FileFor(r.state), f); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "the running handler local refused the admin file's token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runLocal(t, tt.withStore)
			if tt.spoil != nil {
				tt.spoil(t, r)
			}
			if _, err := r.store.PutWatermark(t.Context(), store.Watermark{Tenant: "f", Resource: "users", DeltaLink: "d1"}); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			s, err := storeopen.Open(t.Context(), storeopen.Settings{State: r.state}, storeopen.Options{})
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("Open took %s: it waited for the lock", took)
			}
			if tt.wantErr != "" {
				if err == nil {
					s.Close()
					t.Fatal("Open succeeded")
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Open: %v\nwant it to say %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), r.file.Token) {
					t.Errorf("the error shows the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			if _, ok := s.(*localadmin.Store); !ok {
				t.Fatalf("Open returned %T, want *localadmin.Store", s)
			}
			w, err := s.GetWatermark(t.Context(), "f", "users")
			if err != nil || w.DeltaLink != "d1" {
				t.Errorf("read through the local: %+v, %v", w, err)
			}
			if _, err := s.PutWatermark(t.Context(), w); err != nil {
				t.Errorf("write through the local: %v", err)
			}
		})
	}
}

// TestOpenEmbeddedWithStaleAdminFile: a local that crashed leaves its admin
// file; Open sees that nothing answers and opens the file itself.
func TestOpenEmbeddedWithStaleAdminFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	st, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "http://" + ln.Addr().String()
	ln.Close()
	if err := localadmin.WriteFile(localadmin.FileFor(path), localadmin.File{URL: gone, Token: "t", State: path, Store: true}); err != nil {
		t.Fatal(err)
	}
	s, err := storeopen.Open(t.Context(), storeopen.Settings{State: path}, storeopen.Options{})
	if err != nil {
		t.Fatalf("Open with a stale admin file: %v", err)
	}
	defer s.Close()
	if _, ok := s.(*boltstore.Store); !ok {
		t.Errorf("Open returned %T, want the file itself", s)
	}
}

// TestOpenEmbeddedWhenAnotherLocalTookThePort: a crashed local's admin file
// names a port another local (of another state file) now listens on; that
// one refuses the token, and Open, finding the file free, opens it.
func TestOpenEmbeddedWhenAnotherLocalTookThePort(t *testing.T) {
	other := runLocal(t, true)
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := localadmin.WriteFile(localadmin.FileFor(path), localadmin.File{URL: other.file.URL, Token: "crashed", State: path, Store: true}); err != nil {
		t.Fatal(err)
	}
	s, err := storeopen.Open(t.Context(), storeopen.Settings{State: path}, storeopen.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if b, ok := s.(*boltstore.Store); !ok || b.Path() != path {
		t.Errorf("Open returned %T, want the file itself", s)
	}
}

// TestOpenQueueFile opens the state file for the queue of a local on Table
// Storage: created private to the user, and refused at once while a local
// runs on it.
func TestOpenQueueFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "state.db")
	db, err := storeopen.OpenQueueFile(t.Context(), storeopen.Settings{Tables: "UseDevelopmentStorage=true", State: path})
	if err != nil {
		t.Fatal(err)
	}
	if db.Path() != path {
		t.Errorf("opened %s, want %s", db.Path(), path)
	}
	db.Close()
	for name, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want mode %#o", name, fi.Mode(), err, want)
		}
	}

	r := runLocal(t, false)
	start := time.Now()
	_, err = storeopen.OpenQueueFile(t.Context(), storeopen.Settings{State: r.state})
	if err == nil || !strings.Contains(err.Error(), "a handler local (pid ") || time.Since(start) > 2*time.Second {
		t.Errorf("OpenQueueFile while a local runs: %v after %s", err, time.Since(start))
	}
}

// TestRunningDeadLetters: the dlq commands reach the queue of a running
// local, whatever its store, and open the file themselves otherwise.
func TestRunningDeadLetters(t *testing.T) {
	for _, withStore := range []bool{true, false} {
		r := runLocal(t, withStore)
		dl, ok, err := storeopen.RunningDeadLetters(t.Context(), storeopen.Settings{State: r.state})
		if err != nil || !ok {
			t.Fatalf("RunningDeadLetters (store %v): %v, %v", withStore, ok, err)
		}
		list, err := dl.List(t.Context(), 0)
		if err != nil || len(list) != 0 {
			t.Errorf("List: %v, %v", list, err)
		}
		dl.Close()
	}
	_, ok, err := storeopen.RunningDeadLetters(t.Context(), storeopen.Settings{State: filepath.Join(t.TempDir(), "state.db")})
	if ok || err != nil {
		t.Errorf("RunningDeadLetters with no local: %v, %v; want false, nil", ok, err)
	}
}
