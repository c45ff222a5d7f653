package deploycheck

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestMakePackage runs `make package` into a temporary directory and checks
// that it holds exactly what the Functions host needs at its script root:
// host.json, the executable, static Linux amd64 binary `handler` that
// host.json names, one folder per function with its function.json, and
// tenantsync.yaml when the repository has one.
func TestMakePackage(t *testing.T) {
	root := repoRoot(t)
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make is not installed: the package target needs it (apt-get install make)")
	}
	dist := filepath.Join(t.TempDir(), "dist")
	cmd := exec.Command("make", "package", "DIST="+dist)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("make package: %v\n%s", err, out.String())
	}

	// Exactly these entries, no more.
	want := []string{"handler", "host.json"}
	fns, err := filepath.Glob(filepath.Join(root, "functions", "*", "function.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fns) == 0 {
		t.Fatal("the repository has no functions/*/function.json to package")
	}
	for _, f := range fns {
		want = append(want, filepath.Base(filepath.Dir(f)))
	}
	if _, err := os.Stat(filepath.Join(root, "tenantsync.yaml")); err == nil {
		want = append(want, "tenantsync.yaml")
	}
	sort.Strings(want)
	entries, err := os.ReadDir(dist)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("dist holds %q; want exactly %q", got, want)
	}

	// host.json and every function.json are copied unchanged.
	sameFile(t, filepath.Join(root, "host.json"), filepath.Join(dist, "host.json"))
	for _, f := range fns {
		name := filepath.Base(filepath.Dir(f))
		sameFile(t, f, filepath.Join(dist, name, "function.json"))
	}

	// The executable the host starts: the name host.json gives, executable,
	// a static (no interpreter, so CGO_ENABLED=0) Linux amd64 ELF.
	hostJSON, err := os.ReadFile(filepath.Join(root, "host.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(hostJSON, []byte(`"defaultExecutablePath": "handler"`)) {
		t.Errorf("host.json does not name handler as defaultExecutablePath:\n%s", hostJSON)
	}
	bin := filepath.Join(dist, "handler")
	info, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode()&0o111 != 0o111 {
		t.Errorf("handler mode %v: not executable by everyone", info.Mode())
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("handler is not an ELF binary: %v", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 || f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		t.Errorf("handler is %v/%v; want x86-64 Linux", f.Machine, f.OSABI)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("handler is dynamically linked (has PT_INTERP): build with CGO_ENABLED=0")
		}
	}
	// -s strips the symbol table.
	if syms, err := f.Symbols(); err == nil && len(syms) > 0 {
		t.Errorf("handler has %d symbols: build with -ldflags \"-s -w\"", len(syms))
	}
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Errorf("%s: %v", b, err)
		return
	}
	if !bytes.Equal(x, y) {
		t.Errorf("%s differs from %s", b, a)
	}
}

// TestMakePackageRefusesDangerousDist checks the guard that keeps
// `rm -rf $(DIST)` away from the repository root.
func TestMakePackageRefusesDangerousDist(t *testing.T) {
	root := repoRoot(t)
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make is not installed")
	}
	for _, dist := range []string{"", "/", "."} {
		cmd := exec.Command("make", "package", "DIST="+dist)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("make package DIST=%q succeeded; want a refusal", dist)
		}
		if !strings.Contains(string(out), "DIST must name a fresh directory") {
			t.Errorf("make package DIST=%q: %s", dist, out)
		}
	}
}
