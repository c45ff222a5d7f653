// Package tablestore keeps tenantsync's state in Azure Table Storage, the
// production store (see package store for the contract).
//
// In Azure it signs in with a managed identity (an azcore.TokenCredential)
// at the account's table endpoint, as the storage account has shared keys
// disabled; the identity needs the Storage Table Data Contributor role. A
// connection string is accepted for Azurite and local use.
//
// Layout (shared with the embedded store, see internal/entity): one table
// per record kind, named with a configurable prefix and created if missing
// (the Functions host only checks that they exist: Options.ExistingTables);
// keys encoded so that any string is a valid key. The links table differs:
// a target's links are spread over 16 partitions by a hash of the source
// id (shards.go, store layout 2: layout.go); a link and its reverse-index
// row share its shard's partition and are written in one entity-group
// transaction, with the shard's row of the target's link counts
// (linkcounts.go). Because a transaction does not return the new
// ETags, a link's ETag is a version token kept in the entity; the service
// ETag read just before the write makes the write conditional.
package tablestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/internal/entity"
	"github.com/tenantsync/tenantsync/internal/store/internal/records"
)

// DefaultTablePrefix starts every table name unless Options say otherwise.
const DefaultTablePrefix = "tenantsync"

// TableNames returns the names of the tables a store with this prefix
// keeps its state in (empty: DefaultTablePrefix). Provisioning creates them
// (infra/modules/storage.bicep).
func TableNames(prefix string) []string {
	if prefix == "" {
		prefix = DefaultTablePrefix
	}
	names := make([]string, len(entity.Tables))
	for i, t := range entity.Tables {
		names[i] = prefix + t
	}
	return names
}

// Options configure Open. Give either Endpoint and Credential (production)
// or ConnectionString (Azurite, local use).
type Options struct {
	// Endpoint is the account's table endpoint,
	// https://<account>.table.core.windows.net.
	Endpoint string
	// Credential signs requests to Endpoint, typically a managed identity.
	Credential azcore.TokenCredential
	// ConnectionString is an account connection string with a key or a SAS.
	// "UseDevelopmentStorage=true" means Azurite on its default port.
	ConnectionString string
	// TablePrefix starts every table name: a letter, then letters and
	// digits, at most 50. Empty means DefaultTablePrefix.
	TablePrefix string
	// ClientOptions tune the HTTP pipeline (retries, transport); nil means
	// the SDK's defaults.
	ClientOptions *aztables.ClientOptions
	// Logger receives the store's own records; nil means slog.Default().
	Logger *slog.Logger
	// ExistingTables makes Open check that the tables exist, with one Query
	// Tables request, instead of creating the missing ones. The Functions
	// host sets it: creating tables is provisioning's job, and a cold start
	// should not spend six create requests (and the right to create) on it.
	ExistingTables bool
}

// Store is the Table Storage store. It is safe for concurrent use. It
// implements all of store.Store: the single-record methods (watermarks,
// subscriptions, deletions, status, AppendEvent), which go doc does not
// list, are written once for both stores in internal/records and embedded.
type Store struct {
	// recordMethods are the single-record methods of store.Store, over
	// tables.
	recordMethods

	tables tableClients
	log    *slog.Logger
	hooks  countsHooks // for tests
}

// countsHooks let tests act at the points of LinkCounts where races matter.
type countsHooks struct {
	// counted runs after LinkCounts listed the links of shards it counts,
	// before it keeps their counts.
	counted func()
	// reread runs when a link write has read its counts row again after
	// losing a race on it.
	reread func(*countsRow)
	// linkTxn runs before each transaction of a link write, its counts row
	// read.
	linkTxn func()
	// migrateTxn runs before each transaction of MigrateLayout; an error
	// stops the migration there, as a crash would.
	migrateTxn func() error
}

var _ store.Store = (*Store)(nil)

// recordMethods is embedded under an unexported name, so that Store has the
// methods but no exported field.
type recordMethods = records.Methods

var prefixPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,49}$`)

// Azurite's development account, documented and public; aztables does not
// understand the UseDevelopmentStorage shorthand.
const devConnectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
	"AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
	"TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"

// Open connects to the account and creates the tables that are missing,
// or, with Options.ExistingTables, checks that they all exist. It refuses
// a links table in another layout than LayoutVersion (ErrOldLayout: see
// layout.go), which MigrateLayout moves.
func Open(ctx context.Context, opts Options) (*Store, error) {
	s, err := open(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := s.checkLayout(ctx); err != nil {
		return nil, fmt.Errorf("open table storage: %w", err)
	}
	return s, nil
}

// open is Open without the check of the layout.
func open(ctx context.Context, opts Options) (*Store, error) {
	prefix := opts.TablePrefix
	if prefix == "" {
		prefix = DefaultTablePrefix
	}
	if !prefixPattern.MatchString(prefix) {
		return nil, fmt.Errorf("open table storage: table prefix %q: want a letter, then letters and digits, at most 50", prefix)
	}
	svc, where, err := serviceClient(opts)
	if err != nil {
		return nil, fmt.Errorf("open table storage: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	tables := make(tableClients, len(entity.Tables))
	s := &Store{recordMethods: records.New(tables), tables: tables, log: log}
	if opts.ExistingTables {
		if err := checkTables(ctx, svc, prefix); err != nil {
			return nil, fmt.Errorf("open table storage at %s: %w", where, err)
		}
	}
	for _, t := range entity.Tables {
		name := prefix + t
		if !opts.ExistingTables {
			_, err := svc.CreateTable(ctx, name, nil)
			if err != nil && !hasCode(err, aztables.TableAlreadyExists) {
				return nil, fmt.Errorf("open table storage at %s: create table %s: %w", where, name, err)
			}
		}
		s.tables[t] = svc.NewClient(name)
	}
	log.Debug("table storage opened", "endpoint", where, "prefix", prefix)
	return s, nil
}

// checkTables lists the account's tables named prefix+entity.Tables, in one
// Query Tables request, and names those that are missing.
func checkTables(ctx context.Context, svc *aztables.ServiceClient, prefix string) error {
	want := make(map[string]bool, len(entity.Tables))
	terms := make([]string, 0, len(entity.Tables))
	for _, t := range entity.Tables {
		want[prefix+t] = true
		// Names are letters and digits (prefixPattern, entity.Tables): no
		// quote to escape.
		terms = append(terms, "TableName eq '"+prefix+t+"'")
	}
	filter := strings.Join(terms, " or ")
	pager := svc.NewListTablesPager(&aztables.ListTablesOptions{Filter: &filter})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list tables: %w", err)
		}
		for _, t := range page.Tables {
			if t != nil && t.Name != nil {
				delete(want, *t.Name)
			}
		}
	}
	if len(want) > 0 {
		missing := make([]string, 0, len(want))
		for name := range want {
			missing = append(missing, name)
		}
		sort.Strings(missing)
		return fmt.Errorf("tables %s do not exist: provisioning creates them (the Functions host only opens them)", strings.Join(missing, ", "))
	}
	return nil
}

// serviceClient builds the client and says where it points, without
// secrets, for messages.
func serviceClient(opts Options) (*aztables.ServiceClient, string, error) {
	switch {
	case opts.Endpoint != "" && opts.ConnectionString != "":
		return nil, "", errors.New("give an endpoint or a connection string, not both")
	case opts.Endpoint != "":
		u, err := url.Parse(opts.Endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, "", fmt.Errorf("endpoint %q is not an http(s) URL", opts.Endpoint)
		}
		if opts.Credential == nil {
			return nil, "", fmt.Errorf("endpoint %s needs a credential", opts.Endpoint)
		}
		svc, err := aztables.NewServiceClient(opts.Endpoint, opts.Credential, opts.ClientOptions)
		return svc, u.Host, err
	case opts.ConnectionString != "":
		conn := opts.ConnectionString
		if strings.EqualFold(strings.TrimSuffix(strings.TrimSpace(conn), ";"), "UseDevelopmentStorage=true") {
			conn = devConnectionString
		}
		svc, err := aztables.NewServiceClientFromConnectionString(conn, opts.ClientOptions)
		if err != nil {
			// The SDK's message names the expected form; the string itself
			// holds a key and is not repeated.
			return nil, "", fmt.Errorf("connection string: %w", err)
		}
		return svc, connectionHost(conn), nil
	}
	return nil, "", errors.New("no endpoint or connection string")
}

// connectionHost returns the table endpoint or account a connection string
// names, for messages.
func connectionHost(conn string) string {
	for _, part := range strings.Split(conn, ";") {
		if k, v, ok := strings.Cut(part, "="); ok && (k == "TableEndpoint" || k == "AccountName") {
			return v
		}
	}
	return "(connection string)"
}

// Close implements store.Store; the HTTP clients need no closing.
func (s *Store) Close() error { return nil }

// hasCode reports whether err is a service error with the given code.
func hasCode(err error, code aztables.TableErrorCode) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.ErrorCode == string(code)
}

func statusOf(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// tooLarge reports whether the service refused a request for its size.
func tooLarge(status int, code string) bool {
	switch aztables.TableErrorCode(code) {
	case aztables.EntityTooLarge, aztables.PropertyValueTooLarge, aztables.TooManyProperties:
		return true
	}
	if code == "RequestBodyTooLarge" {
		return true
	}
	return status == http.StatusRequestEntityTooLarge
}

// mapError turns a service error into the store's error kinds. notFound is
// what a 404 means for the operation (ErrNotFound for reads and deletes,
// ErrConflict for a conditional replace).
func mapError(err error, notFound error) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	switch {
	case re.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w (%s)", notFound, re.ErrorCode)
	case re.StatusCode == http.StatusConflict, re.StatusCode == http.StatusPreconditionFailed:
		return fmt.Errorf("%w (%s)", store.ErrConflict, re.ErrorCode)
	case tooLarge(re.StatusCode, re.ErrorCode):
		return fmt.Errorf("%w (%s)", store.ErrTooLarge, re.ErrorCode)
	}
	return err
}

// batchFailure is the failed operation of an entity-group transaction.
type batchFailure struct {
	index  int // position of the failed action, -1 if unknown
	status int
	code   string
}

var (
	batchStatus = regexp.MustCompile(`HTTP/1\.1 (\d{3})`)
	batchCode   = regexp.MustCompile(`"code"\s*:\s*"([^"]*)"`)
	batchIndex  = regexp.MustCompile(`"value"\s*:\s*"(\d+):`)
)

// parseBatchError reads which operation of a transaction failed and why.
// The SDK reports a failed transaction as an error with the outer status
// (202) and no code; the detail is in the multipart body, whose error
// message starts with the index of the failed operation.
func parseBatchError(err error) (batchFailure, bool) {
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.RawResponse == nil {
		return batchFailure{}, false
	}
	if re.StatusCode != http.StatusAccepted {
		return batchFailure{index: -1, status: re.StatusCode, code: re.ErrorCode}, true
	}
	body, perr := runtime.Payload(re.RawResponse)
	if perr != nil {
		return batchFailure{}, false
	}
	f := batchFailure{index: -1}
	if m := batchStatus.FindSubmatch(body); m != nil {
		f.status, _ = strconv.Atoi(string(m[1]))
	}
	if m := batchCode.FindSubmatch(body); m != nil {
		f.code = string(m[1])
	}
	if m := batchIndex.FindSubmatch(body); m != nil {
		f.index, _ = strconv.Atoi(string(m[1]))
	}
	return f, f.status != 0
}
