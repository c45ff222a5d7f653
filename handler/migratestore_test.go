package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/tenantsync/tenantsync/internal/devtools/testenv"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/store/tablestore"
)

// TestMigrateStore: a Table Storage store with a link in the one-partition
// layout is refused with the error that names migrate-store; migrate-store
// moves it, after which the store opens and reads the link back; a second
// run moves nothing.
func TestMigrateStore(t *testing.T) {
	ctx := t.Context()
	az, err := testenv.StartAzurite(ctx, nil)
	if err != nil {
		t.Fatalf("start Azurite: %v", err)
	}
	t.Cleanup(func() { az.Stop() })
	conn, prefix := az.ConnectionString(), "migrate"
	opts := tablestore.Options{ConnectionString: conn, TablePrefix: prefix}
	if _, err := tablestore.Open(ctx, opts); err != nil { // creates the tables
		t.Fatal(err)
	}

	// The rows a store before layout 2 wrote: a link and its reverse-index
	// row in the target's one partition, and no layout record.
	svc, err := aztables.NewServiceClientFromConnectionString(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	links := svc.NewClient(prefix + "links")
	if _, err := links.DeleteEntity(ctx, ":layout", "links", nil); err != nil {
		t.Fatal(err)
	}
	for _, row := range []map[string]any{
		{"PartitionKey": "contoso", "RowKey": "su1", "TargetID": "t1", "State": "active", "Hash": "h", "Version": "v1"},
		{"PartitionKey": "contoso", "RowKey": "tt1:u1"},
	} {
		body, _ := json.Marshal(row)
		if _, err := links.AddEntity(ctx, body, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, err = tablestore.Open(ctx, opts)
	if !errors.Is(err, tablestore.ErrOldLayout) || !strings.Contains(err.Error(), "handler migrate-store") {
		t.Fatalf("Open over the one-partition layout: %v", err)
	}

	vars := map[string]string{settings.Tables: conn, settings.TablePrefix: prefix}
	r := runWith(t, vars, "migrate-store", "--json")
	if r.failed {
		t.Fatalf("migrate-store: %s%s", r.stdout, r.stderr)
	}
	var report migrateStoreReport
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
		t.Fatalf("migrate-store --json: %v\n%s", err, r.stdout)
	}
	if report.Targets != 1 || report.Moved != 2 || report.Deleted != 2 || report.Layout != tablestore.LayoutVersion {
		t.Errorf("migrate-store report %+v, want 1 target, 2 rows moved and deleted", report)
	}

	st, err := tablestore.Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open after migrate-store: %v", err)
	}
	l, err := st.GetLink(ctx, "contoso", "u1")
	if err != nil || l.TargetID != "t1" || l.ETag != "v1" || l.Hash != "h" {
		t.Errorf("GetLink after migrate-store: %+v, %v", l, err)
	}
	if l, err := st.GetLinkByTargetID(ctx, "contoso", "t1"); err != nil || l.SourceID != "u1" {
		t.Errorf("GetLinkByTargetID after migrate-store: %+v, %v", l, err)
	}

	r = runWith(t, vars, "migrate-store")
	if r.failed || !strings.Contains(r.stdout, "Moved 0 rows of 0 targets") {
		t.Errorf("migrate-store again: %s%s", r.stdout, r.stderr)
	}
}
