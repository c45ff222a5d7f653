package deploycheck

import (
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/tenantsync/tenantsync/internal/store/tablestore"
)

// TestStateTablesAreProvisioned: the function app only checks that its
// tables exist (a cold start must answer the host within 30 s, never wait
// on creating them), so provisioning creates exactly the tables the store
// uses.
func TestStateTablesAreProvisioned(t *testing.T) {
	b := readBicep(t, filepath.Join(repoRoot(t), "infra/modules/storage.bicep"))
	list := regexp.MustCompile(`(?s)var stateTables = \[(.*?)\]`).FindStringSubmatch(b.Src)
	if list == nil {
		t.Fatal("infra/modules/storage.bicep has no stateTables list")
	}
	var got []string
	for _, m := range regexp.MustCompile(`'([a-z0-9]+)'`).FindAllStringSubmatch(list[1], -1) {
		got = append(got, m[1])
	}
	want := tablestore.TableNames("")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("storage.bicep provisions tables %v, the store uses %v", got, want)
	}
	if !regexp.MustCompile(`tables: \[for table in stateTables: \{ name: table \}\]`).MatchString(b.Src) {
		t.Error("storage.bicep does not pass stateTables to the account's tableServices")
	}
}
