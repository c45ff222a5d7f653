package deploycheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/internal/settings"
)

// envReads are the functions that read the process environment.
var envReads = map[string]map[string]bool{
	"os":      {"Getenv": true, "LookupEnv": true, "Environ": true, "ExpandEnv": true},
	"syscall": {"Getenv": true, "Environ": true},
}

// allowedEnvReaders may read the environment: the binary's wiring, the
// settings package itself, and test support that finds tools for tests.
var allowedEnvReaders = []string{"handler/", "internal/settings/", "internal/devtools/testenv/"}

type envRead struct {
	pos  token.Position
	call string
	name string // the literal setting name, or "" when not a literal
}

// findEnvReads returns the environment reads in the non-test Go files under
// root (vendored and hidden directories skipped), with positions relative to
// root.
func findEnvReads(t *testing.T, root string) []envRead {
	t.Helper()
	var reads []envRead
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "vendor" || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		// Local names of the imported packages, aliases included.
		local := map[string]string{}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if _, ok := envReads[p]; !ok {
				continue
			}
			name := p
			if imp.Name != nil {
				name = imp.Name.Name
			}
			local[name] = p
		}
		if len(local) == 0 {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			id, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			pkg, ok := local[id.Name]
			if !ok || !envReads[pkg][sel.Sel.Name] {
				return true
			}
			pos := fset.Position(sel.Pos())
			pos.Filename = filepath.ToSlash(rel)
			reads = append(reads, envRead{pos: pos, call: pkg + "." + sel.Sel.Name})
			return true
		})
		// Literal names passed to Getenv/LookupEnv.
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 1 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			id, ok := sel.X.(*ast.Ident)
			if !ok || local[id.Name] == "" || (sel.Sel.Name != "Getenv" && sel.Sel.Name != "LookupEnv") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			name, _ := strconv.Unquote(lit.Value)
			pos := fset.Position(call.Pos())
			pos.Filename = filepath.ToSlash(rel)
			reads = append(reads, envRead{pos: pos, call: local[id.Name] + "." + sel.Sel.Name, name: name})
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return reads
}

func allowedEnvReader(file string) bool {
	for _, dir := range allowedEnvReaders {
		if strings.HasPrefix(file, dir) {
			return true
		}
	}
	return false
}

// TestEnvironmentIsReadOnlyThroughSettings holds the rule that code reads
// settings through internal/settings: only handler/ (which passes os.Getenv
// in) may touch the environment, and the names it reads literally must be
// declared settings.
func TestEnvironmentIsReadOnlyThroughSettings(t *testing.T) {
	for _, r := range findEnvReads(t, repoRoot(t)) {
		if !allowedEnvReader(r.pos.Filename) {
			if r.name == "" {
				t.Errorf("%s: %s outside handler/ and internal/settings: read settings through settings.Env", r.pos, r.call)
			}
			continue
		}
		if r.name != "" && strings.HasPrefix(r.pos.Filename, "handler/") {
			if _, ok := settings.Find(r.name); !ok {
				t.Errorf("%s: %s(%q): not declared in internal/settings", r.pos, r.call, r.name)
			}
		}
	}
}

// The checker itself must find what it is meant to find.
func TestFindEnvReads(t *testing.T) {
	root := t.TempDir()
	write := func(rel, src string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("internal/bad/bad.go", `package bad

import (
	stdos "os"
	"syscall"
)

func a() string { return stdos.Getenv("X") }
func b() (string, bool) { return syscall.Getenv("Y") }
var c = stdos.LookupEnv
`)
	write("internal/good/good.go", `package good

import "example.com/os"

func a() string { return os.Getenv("shadowed by another package named os") }
`)
	write("internal/bad/bad_test.go", `package bad

import "os"

func d() string { return os.Getenv("TESTS_MAY") }
`)
	write(".hidden/x.go", `package x

import "os"

func e() string { return os.Getenv("HIDDEN") }
`)
	reads := findEnvReads(t, root)
	var got []string
	for _, r := range reads {
		got = append(got, r.pos.Filename+":"+strconv.Itoa(r.pos.Line)+" "+r.call+" "+r.name)
	}
	want := []string{
		"internal/bad/bad.go:8 os.Getenv ",
		"internal/bad/bad.go:9 syscall.Getenv ",
		"internal/bad/bad.go:10 os.LookupEnv ",
		"internal/bad/bad.go:8 os.Getenv X",
		"internal/bad/bad.go:9 syscall.Getenv Y",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findEnvReads =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
