package deploycheck

import (
	"reflect"
	"sort"
	"strings"
	"testing"
)

const tricky = `// A file that tries to fool a naive reader.
targetScope = 'subscription'

/* param commentedOut string
module ghost 'ghost.bicep' = {} */
@description('A string that looks like code: param fake string = \'x\'')
param required string

@allowed([
  512
  2048
])
param withDefault int = 512 // trailing comment with = sign

param nullable object?
param multiLineDefault object = {
  a: 'b'
}
param url string = 'https://example.com/{tenant}' // not an interpolation

var text = '''
module inString 'nope.bicep' = {
}
'''
var escaped = 'it\'s ${first.outputs.name} and {braces} and ${union({ a: 'x}' }, { b: second.outputs.?other })}'

module first 'modules/first.bicep' = {
  name: 'first'
  params: {
    required: 'x' // params: { fake: 1 }
    'quoted-key': 'y'
    nested: {
      notAParam: true
    }
    list: [
      {
        alsoNot: 1
      }
    ]
    cond: true
      ? 'a'
      : 'b'
    last: third!.outputs.value
  }
}

module second 'br/public:avm/res/web/site:0.16.0' = if (true) {
  name: 'second'
  params: { inline: 1, other: 2 }
}

module looped './loop.bicep' = [for i in range(0, 2): {
  name: 'loop${i}'
  params: {
    index: i
  }
}]

var hostSettings = {
  KEY_ONE: 'v'
  'Quoted__Key': 'w'
  Nested: {
    INNER: 'not a top key'
  }
}
var configSettings = empty(text)
  ? {
      BRANCH_A: 'a'
    }
  : {
      BRANCH_B: 'b'
    }
var notSettingsObject = {
  IGNORED: 1
}

output plain string = first.outputs.name
output multi string = true
  ? 'x${second.outputs.y}'
  : ''
`

func TestParseBicepParams(t *testing.T) {
	b, err := ParseBicep(tricky)
	if err != nil {
		t.Fatal(err)
	}
	want := []Param{
		{Name: "required", Type: "string"},
		{Name: "withDefault", Type: "int", Default: "512", Optional: true},
		{Name: "nullable", Type: "object?", Optional: true},
		{Name: "multiLineDefault", Type: "object", Default: "{", Optional: true},
		{Name: "url", Type: "string", Default: "'https://example.com/{tenant}'", Optional: true},
	}
	if got := b.Params(); !reflect.DeepEqual(got, want) {
		t.Errorf("Params() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseBicepModules(t *testing.T) {
	b, err := ParseBicep(tricky)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Modules()
	if err != nil {
		t.Fatal(err)
	}
	want := []Module{
		{Symbol: "first", Path: "modules/first.bicep", Params: []string{"required", "quoted-key", "nested", "list", "cond", "last"}},
		{Symbol: "second", Path: "br/public:avm/res/web/site:0.16.0", Params: []string{"inline", "other"}},
		{Symbol: "looped", Path: "./loop.bicep", Params: []string{"index"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Modules() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseBicepOutputsAndRefs(t *testing.T) {
	b, err := ParseBicep(tricky)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.Outputs(), []string{"multi", "plain"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Outputs() = %q; want %q", got, want)
	}
	var refs []string
	for _, r := range b.OutputRefs() {
		refs = append(refs, r.Symbol+"."+r.Output)
	}
	sort.Strings(refs)
	// References inside interpolations count; references in comments and in
	// literal text do not.
	want := []string{"first.name", "first.name", "second.other", "second.y", "third.value"}
	if !reflect.DeepEqual(refs, want) {
		t.Errorf("OutputRefs() = %q; want %q", refs, want)
	}
	expr, ok := b.OutputExpr("multi")
	if !ok || !strings.HasPrefix(expr, "true") || !strings.HasSuffix(expr, ": ''") {
		t.Errorf("OutputExpr(multi) = %q, %v", expr, ok)
	}
}

func TestParseBicepVarObjectKeys(t *testing.T) {
	b, err := ParseBicep(tricky)
	if err != nil {
		t.Fatal(err)
	}
	got := b.VarObjectKeys("Settings")
	want := map[string][]string{
		"hostSettings":   {"KEY_ONE", "Quoted__Key", "Nested"},
		"configSettings": {"BRANCH_A", "BRANCH_B"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("VarObjectKeys = %v; want %v", got, want)
	}
}

func TestParseBicepErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unterminated comment", "param a string\n/* never closed", "line 2: unterminated /* comment"},
		{"unterminated string", "param a string = 'abc\nparam b string", "line 1: unterminated string"},
		{"unterminated multi-line string", "var a = '''\nabc", "line 1: unterminated ''' string"},
		{"unterminated interpolation", "var a = 'x${b.c'", "unterminated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBicep(tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseBicep error = %v; want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestBlankKeepsOffsets(t *testing.T) {
	b, err := ParseBicep(tricky)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Blank) != len(b.Src) || strings.Count(b.Blank, "\n") != strings.Count(b.Src, "\n") {
		t.Fatal("blanking changed the length or the lines")
	}
	if strings.Contains(b.Blank, "commentedOut") || strings.Contains(b.Blank, "fake") || strings.Contains(b.Blank, "inString") {
		t.Error("comment or string text survived blanking")
	}
}
