package storeopen_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
	"github.com/tenantsync/tenantsync/internal/store/storeopen"
	"github.com/tenantsync/tenantsync/internal/store/tablestore"
	"github.com/tenantsync/tenantsync/internal/testenv"
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
