package tablestore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/tenantsync/tenantsync/internal/devtools/testenv"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/internal/entity"
	"github.com/tenantsync/tenantsync/internal/store/storetest"
)

// tables is Azurite, started once for this test binary.
var tables testenv.Tables

func TestMain(m *testing.M) { os.Exit(tables.Run(m)) }

// uniquePrefix gives each store its own tables in the shared Azurite.
func uniquePrefix(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "t" + hex.EncodeToString(b[:])
}

func openTest(t testing.TB, log *slog.Logger) *Store {
	t.Helper()
	s, err := Open(t.Context(), Options{
		ConnectionString: tables.ConnectionString(t),
		TablePrefix:      uniquePrefix(t),
		Logger:           log,
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, nil) })
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store { return openTest(b, nil) })
}

func TestOpenOptions(t *testing.T) {
	conn := tables.ConnectionString(t)
	tests := []struct {
		name string
		opts Options
		want string // part of the error; "" for success
	}{
		{"connection string", Options{ConnectionString: conn}, ""},
		{"nothing", Options{}, "no endpoint or connection string"},
		{"both", Options{ConnectionString: conn, Endpoint: "https://a.table.core.windows.net"}, "not both"},
		{"endpoint without credential", Options{Endpoint: "https://a.table.core.windows.net"}, "needs a credential"},
		{"endpoint not a URL", Options{Endpoint: "a.table.core.windows.net", Credential: fakeCredential{}}, "not an http(s) URL"},
		{"malformed connection string", Options{ConnectionString: "AccountKey=c2VjcmV0"}, "connection string"},
		{"prefix with a dash", Options{ConnectionString: conn, TablePrefix: "tenant-sync"}, "table prefix"},
		{"prefix starting with a digit", Options{ConnectionString: conn, TablePrefix: "1tenantsync"}, "table prefix"},
		{"prefix too long", Options{ConnectionString: conn, TablePrefix: "t" + strings.Repeat("x", 50)}, "table prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(t.Context(), tt.opts)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Open: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Open: %v, want an error about %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "c2VjcmV0") {
				t.Errorf("error repeats the account key: %v", err)
			}
		})
	}
}

// TestOpenTwice checks that opening over existing tables works: every
// instance of the function app opens the store at start.
func TestOpenTwice(t *testing.T) {
	prefix := uniquePrefix(t)
	for range 2 {
		s, err := Open(t.Context(), Options{ConnectionString: tables.ConnectionString(t), TablePrefix: prefix})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if _, err := s.PutWatermark(t.Context(), store.Watermark{Tenant: "f", Resource: "users"}); err != nil && !errors.Is(err, store.ErrConflict) {
			t.Fatalf("PutWatermark: %v", err)
		}
	}
}

// TestEndpointWithCredential runs the contract over the production path: an
// endpoint URL and a token credential, over HTTPS, against an Azurite that
// checks bearer tokens.
func TestEndpointWithCredential(t *testing.T) {
	az, err := testenv.StartAzurite(t.Context(), &testenv.AzuriteOptions{OAuth: true})
	if err != nil {
		t.Fatalf("start Azurite with OAuth: %v", err)
	}
	t.Cleanup(func() { az.Stop() })
	clientOpts := &aztables.ClientOptions{ClientOptions: policy.ClientOptions{Transport: az.HTTPClient()}}

	cred := &recordingCredential{token: testenv.BearerToken()}
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(t.Context(), Options{Endpoint: az.Endpoint(), Credential: cred, TablePrefix: uniquePrefix(t), ClientOptions: clientOpts})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
	for _, scope := range cred.scopes() {
		if scope != "https://storage.azure.com/.default" {
			t.Errorf("token requested for scope %q", scope)
		}
	}
	if len(cred.scopes()) == 0 {
		t.Error("the credential was never asked for a token")
	}

	// A token the service refuses fails Open, and the error does not carry it.
	bad := &recordingCredential{token: "not-a-jwt-" + fakeToken}
	_, err = Open(t.Context(), Options{Endpoint: az.Endpoint(), Credential: bad, TablePrefix: uniquePrefix(t), ClientOptions: clientOpts})
	if err == nil {
		t.Fatal("Open with a token Azurite refuses succeeded")
	}
	if strings.Contains(err.Error(), fakeToken) {
		t.Errorf("error reveals the token: %v", err)
	}
}

const fakeToken = "fake-token-7d0c"

type fakeCredential struct{}

func (fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: fakeToken, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// recordingCredential hands out a fixed token and records the scopes asked.
type recordingCredential struct {
	token string
	mu    sync.Mutex
	asked []string
}

func (c *recordingCredential) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	c.asked = append(c.asked, opts.Scopes...)
	c.mu.Unlock()
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (c *recordingCredential) scopes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.asked...)
}

// TestMissingIndexRowIsRepaired damages the reverse index by hand and checks
// that the next write of the link repairs it instead of failing forever.
func TestMissingIndexRowIsRepaired(t *testing.T) {
	var logs bytes.Buffer
	s := openTest(t, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := t.Context()
	// Counted from the start: the counts row is in the transactions the
	// repair tries again, and must change once.
	if _, err := s.LinkCounts(ctx, "contoso"); err != nil {
		t.Fatal(err)
	}
	l, err := s.PutLink(ctx, store.Link{Target: "contoso", SourceID: "a", TargetID: "tid-1"})
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := indexKey("contoso", "tid-1", "a")
	if _, err := s.tables[entity.TableLinks].DeleteEntity(ctx, idx.PK, idx.RK, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetLinkByTargetID(ctx, "contoso", "tid-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("lookup after damage: %v", err)
	}
	l.TargetID, l.State = "tid-2", store.LinkActive
	if l, err = s.PutLink(ctx, l); err != nil {
		t.Fatalf("PutLink over a missing index row: %v", err)
	}
	if c, err := s.LinkCounts(ctx, "contoso"); err != nil || !sameCounts(c, store.LinkCounts{States: map[store.LinkState]int64{store.LinkActive: 1}}) {
		t.Errorf("counts after the repair: %+v, %v; want one active link", c, err)
	}
	if got, err := s.GetLinkByTargetID(ctx, "contoso", "tid-2"); err != nil || got.ETag != l.ETag {
		t.Errorf("lookup after repair: %+v, %v", got, err)
	}
	if !strings.Contains(logs.String(), "reverse index row was missing") {
		t.Errorf("the repair was not logged: %q", logs.String())
	}
	// Same for a delete.
	idx, _ = indexKey("contoso", "tid-2", "a")
	if _, err := s.tables[entity.TableLinks].DeleteEntity(ctx, idx.PK, idx.RK, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteLink(ctx, l); err != nil {
		t.Fatalf("DeleteLink over a missing index row: %v", err)
	}
	if _, err := s.GetLink(ctx, "contoso", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("link after delete: %v", err)
	}
	if c, err := s.LinkCounts(ctx, "contoso"); err != nil || len(c.States) != 0 || len(c.Failing) != 0 {
		t.Errorf("counts after the delete: %+v, %v; want none", c, err)
	}
}

// TestOpenExistingTables is what the Functions host does: open without
// creating. Tables that provisioning did not create are an error naming
// them, and nothing is created behind its back; once they exist, the store
// opens and works.
func TestOpenExistingTables(t *testing.T) {
	prefix := uniquePrefix(t)
	conn := tables.ConnectionString(t)
	tests := []struct {
		name     string
		create   []string // tables to create first (suffixes of entity.Tables)
		wantErrs []string // substrings of the error; none for success
	}{
		{"none provisioned", nil, []string{"do not exist", prefix + entity.TableLinks, prefix + entity.TableStatus}},
		{"one missing", entity.Tables[1:], []string{"tables " + prefix + entity.Tables[0] + " do not exist"}},
		{"all provisioned", entity.Tables, nil},
	}
	svc, err := aztables.NewServiceClientFromConnectionString(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, suffix := range tt.create {
				if _, err := svc.CreateTable(t.Context(), prefix+suffix, nil); err != nil && !hasCode(err, aztables.TableAlreadyExists) {
					t.Fatal(err)
				}
			}
			s, err := Open(t.Context(), Options{ConnectionString: conn, TablePrefix: prefix, ExistingTables: true})
			if len(tt.wantErrs) == 0 {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if _, err := s.PutWatermark(t.Context(), store.Watermark{Tenant: "f", Resource: "users"}); err != nil {
					t.Fatalf("PutWatermark: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Open succeeded without the tables")
			}
			for _, want := range tt.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			// Nothing was created: the missing tables are still missing.
			filter := "TableName eq '" + prefix + entity.Tables[0] + "'"
			page, err := svc.NewListTablesPager(&aztables.ListTablesOptions{Filter: &filter}).NextPage(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Tables) != 0 {
				t.Errorf("Open created table %s", prefix+entity.Tables[0])
			}
		})
	}
}
