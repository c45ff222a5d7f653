package engine_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDryRunStoreIsClosed builds the engine with a store call added to the
// sync path (storecall_check.go, behind the storecallcheck build tag) and
// expects the build to fail: the engine's Store holds only the methods it
// calls, and the dry run's overlay implements all of them, so a new call
// cannot reach the real store during `plan` without a compile error.
func TestDryRunStoreIsClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Go toolchain: not in -short")
	}
	out, err := exec.Command("go", "build", "-tags", "storecallcheck", "github.com/tenantsync/tenantsync/internal/engine").CombinedOutput()
	if err == nil {
		t.Fatal("the engine built with a store call its Store does not have: a dry run could write through it")
	}
	if !strings.Contains(string(out), "PruneEvents") {
		t.Errorf("the build failed for another reason than the missing store method:\n%s", out)
	}
}
