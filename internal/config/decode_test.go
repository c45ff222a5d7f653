package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// refusalTime bounds how long Parse may take to refuse a hostile document.
// The refusals below take milliseconds; the bound is generous for a loaded
// CI machine, and far below the seconds (or the crash) they took unbounded.
const refusalTime = 2 * time.Second

// mergeBomb is a scope whose every level is a mapping that merges the level
// below it fanout times: levels levels expand to fanout^levels merges of the
// innermost mapping, inner.
func mergeBomb(levels, fanout int, inner string) string {
	s := "&m0 " + inner
	for l := 1; l <= levels; l++ {
		refs := strings.Repeat(", *m"+fmt.Sprint(l-1), fanout-1)
		s = fmt.Sprintf("&m%d {<<: [%s%s]}", l, s, refs)
	}
	return doc("scope: " + s)
}

// parseTimed parses d, failing the test if that takes longer than
// refusalTime.
func parseTimed(t *testing.T, d string) (time.Duration, *Config, error) {
	t.Helper()
	start := time.Now()
	c, err := Parse([]byte(d))
	took := time.Since(start)
	if took > refusalTime {
		t.Errorf("Parse took %v, want under %v", took, refusalTime)
	}
	return took, c, err
}

// TestMergeBomb checks that merge keys count against the node budget: a
// document of under 1 KiB whose merges expand to millions of mappings is
// refused at once.
func TestMergeBomb(t *testing.T) {
	for _, tt := range []struct {
		name   string
		levels int
		fanout int
		inner  string
	}{
		{"7 levels of 8, each with a key", 7, 8, "{groups: [x]}"},
		{"8 levels of 10, empty", 8, 10, "{}"},
		{"7 levels of 8, each with an unknown key", 7, 8, "{grops: [x]}"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := mergeBomb(tt.levels, tt.fanout, tt.inner)
			if len(d) > 1<<10 {
				t.Fatalf("the bomb is %d bytes, meant to be small", len(d))
			}
			took, _, err := parseTimed(t, d)
			t.Logf("%d bytes refused in %v", len(d), took)
			// The problem is at the key where the budget ran out, in the
			// scope.
			want := regexp.MustCompile(`(?m)^targets\[0\]\.scope(\.[a-z]+)?: the document expands to more than 100000 values \(check its aliases and merge keys\) \(line 6\)$`)
			if err == nil || !want.MatchString(err.Error()) {
				t.Fatalf("Parse of a merge bomb:\n got: %.1000v\nwant: %s", err, want)
			}
			// A problem in the merged mapping is reported once, not once
			// for each time it was merged.
			if n := strings.Count(err.Error(), "\n") + 1; n > 3 {
				t.Errorf("%d problems reported, want at most 3:\n%.2000v", n, err)
			}
		})
	}
}

// TestMergeCycles checks that a mapping merging itself, directly or
// through others, is refused with the alias that closes the cycle, rather
// than recursing until the stack overflows.
func TestMergeCycles(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"a mapping merges itself", doc("scope: &a {groups: [x], <<: *a}"),
			"targets[0].scope.<<: *a merges a mapping into itself (a cycle) (line 6)"},
		{"through a list of merges", doc("scope: &a {groups: [x], <<: [{nested: true}, *a]}"),
			"targets[0].scope.<<: *a merges a mapping into itself (a cycle) (line 6)"},
		{"through another mapping", doc(
			"scope: &a",
			"  groups: [x]",
			"  <<: &b {nested: true, <<: *a}"),
			"targets[0].scope.<<: *a merges a mapping into itself (a cycle) (line 8)"},
		{"a list of merges that holds itself", doc("scope: {groups: [x], <<: &l [{nested: true}, *l]}"),
			"targets[0].scope.<<: must be a mapping or a list of mappings (line 6)"},
		{"in a target merged by another", source + "targets:\n" +
			"  - &t {name: a, tenant: a.example, auth: {clientId: " + appID + "}, scope: {all: true}, <<: *t}\n" +
			"  - {<<: *t, name: b}\n",
			"targets[0].<<: *t merges a mapping into itself (a cycle) (line 3)"},
		{"an alias of an enclosing value", doc("scope: &s {all: true, filters: [[*s]]}"),
			"targets[0].scope.filters[0][0]: *s refers to a value that contains it (a cycle) (line 6)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			took, _, err := parseTimed(t, tt.doc)
			t.Logf("refused in %v", took)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse of a merge cycle:\n got: %.1000v\nwant: %s", err, tt.want)
			}
		})
	}
}

// TestMergeDepth checks that merges and aliases nest at most maxDepth deep:
// each level is a frame of the decoder's recursion.
func TestMergeDepth(t *testing.T) {
	chain := func(n int) string {
		var b strings.Builder
		b.WriteString(source + "targets:\n  - &t0 {name: contoso, tenant: contoso.example, auth: {clientId: " + appID + "}, scope: {all: true}}\n")
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "  - &t%d {<<: *t%d, name: t%d, tenant: t%d.example}\n", i, i-1, i, i)
		}
		return b.String()
	}
	// At the limit, a chain decodes: each target is the one before it
	// under another name.
	c, err := Parse([]byte(chain(maxDepth)))
	if err != nil {
		t.Fatalf("Parse of a chain of %d merges:\n%.1000v", maxDepth, err)
	}
	if last := c.Targets[maxDepth]; last.Name != fmt.Sprint("t", maxDepth) || last.Auth.ClientID != appID || !last.Scope.All {
		t.Errorf("the last target of the chain is %+v", last)
	}
	// One more is refused, at the merge that goes too deep.
	_, _, err = parseTimed(t, chain(maxDepth+1))
	want := fmt.Sprintf("targets[%d].<<: merge keys and aliases nest more than %d deep (line %d)", maxDepth+1, maxDepth, 4)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Parse of a chain of %d merges:\n got: %.1000v\nwant: %s", maxDepth+1, err, want)
	}
	// Inline mappings merged into each other nest the same way.
	d := doc("scope: " + strings.Repeat("{<<: ", maxDepth+1) + "{all: true}" + strings.Repeat("}", maxDepth+1))
	_, _, err = parseTimed(t, d)
	want = fmt.Sprintf("targets[0].scope.<<: merge keys and aliases nest more than %d deep (line 6)", maxDepth)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Parse of %d nested inline merges:\n got: %.1000v\nwant: %s", maxDepth+1, err, want)
	}
}

// TestMergeOrder checks the order merges apply in: explicit keys win over
// merged ones, and in a list of merges the earlier mappings win.
func TestMergeOrder(t *testing.T) {
	c, err := Parse([]byte(doc(
		"deprovision:",
		"  <<: [{threshold: 10}, {threshold: 20, action: disable}, &w {window: 2h, action: none}]",
		"  window: 3h",
		"scope: {<<: &s {nested: true, groups: [a]}, groups: [b]}",
		"userType: Guest",
	)))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	dp, sc := c.Targets[0].Deprovision, c.Targets[0].Scope
	if dp.Threshold != 10 || dp.Action != DeprovisionDisable || time.Duration(dp.Window) != 3*time.Hour {
		t.Errorf("deprovision = %+v, want threshold 10, action disable, window 3h", dp)
	}
	if !sc.Nested || len(sc.Groups) != 1 || sc.Groups[0] != "b" {
		t.Errorf("scope = %+v, want nested and groups [b]", sc)
	}
}

// FuzzParse checks that Parse, given any document, returns — within a
// bound, without panicking — either a config or Errors that each say what
// is wrong. The seeds are the shapes that have gone wrong: aliases, merge
// keys, cycles and bombs.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile(example); err == nil {
		f.Add(string(data))
	}
	for _, s := range []string{
		doc(all),
		doc("scope: &a {groups: [x], <<: *a}"),
		doc("scope: {groups: [x], <<: &l [{nested: true}, *l]}"),
		doc("scope: &s {all: true, filters: [[*s]]}"),
		doc("scope: {<<: [{all: true}, {groups: [x]}], nested: true}"),
		doc("scope: {<<: {<<: {<<: {all: true}}}}"),
		doc("deprovision: {<<: [{threshold: 10}, &w {window: 2h}], window: 3h}"),
		mergeBomb(3, 3, "{groups: [x]}"),
		mergeBomb(4, 4, "{}"),
		source + "targets:\n  - &t {name: a, tenant: a.example, auth: {clientId: " + appID + "}, scope: {all: true}}\n  - {<<: *t, name: b}\n",
		source + "targets:\n  - &t {name: a, tenant: a.example, auth: &x {clientId: " + appID + "}, scope: {all: true}}\n  - *t\n  - {<<: [*t, *x]}\n",
		`{"source": {"tenant": "fabrikam.example"}, "targets": [{"name": "a", "scope": {"all": true}}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, d string) {
		start := time.Now()
		c, err := Parse([]byte(d))
		if took := time.Since(start); took > refusalTime {
			t.Errorf("Parse took %v (%d bytes)", took, len(d))
		}
		if err == nil {
			if c == nil {
				t.Fatal("Parse returned neither a config nor an error")
			}
			return
		}
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("Parse returned %T %v, want Errors", err, err)
		}
		for _, e := range es {
			if e.Msg == "" {
				t.Errorf("a problem with no message at %q, line %d", e.Path, e.Line)
			}
		}
		// Each problem is at most one per node of the budget.
		if len(es) > maxNodes+1 {
			t.Errorf("%d problems", len(es))
		}
	})
}
