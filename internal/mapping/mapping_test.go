package mapping

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/expr"
)

func str(s string) *string { return &s }

// fabrikamUser is a source user as the Graph adapter reads it.
func fabrikamUser() directory.User {
	return directory.User{ID: "src-1", Attrs: directory.Attributes{
		"displayName": "Zoë Ünal", "givenName": "Zoë", "surname": "Ünal", "mail": "zoe@fabrikam.example",
		"userPrincipalName": "zoe@fabrikam.example", "jobTitle": "Engineer", "department": "R&D",
		"companyName": "Fabrikam", "employeeId": "E123", "officeLocation": "B1", "city": "Utrecht", "state": "UT",
		"country": "NL", "streetAddress": "Main 1", "postalCode": "1234 AB", "mobilePhone": "+31 6 12345678",
		"businessPhones": []string{"+31 30 1234567"}, "usageLocation": "NL", "accountEnabled": true,
		"manager": "src-boss",
	}}
}

func TestDefaults(t *testing.T) {
	s, err := Compile(nil)
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, r := range s.Rules() {
		targets = append(targets, r.Target)
		if r.Apply != Always {
			t.Errorf("default %s applies %q, want always", r.Target, r.Apply)
		}
	}
	want := []string{"accountEnabled", "businessPhones", "city", "companyName", "country", "department", "displayName",
		"employeeId", "givenName", "jobTitle", "mail", "manager", "mobilePhone", "officeLocation", "postalCode",
		"showInAddressList", "state", "streetAddress", "surname", "usageLocation"}
	if !slices.Equal(targets, want) {
		t.Fatalf("default targets %v\nwant %v", targets, want)
	}
	res, err := s.Map(fabrikamUser(), Create, Options{})
	if err != nil {
		t.Fatal(err)
	}
	src := fabrikamUser().Attrs
	for _, a := range want {
		switch a {
		case "manager":
			if res.Manager != "src-boss" || !res.ManagerApplies || !s.HasManager() {
				t.Errorf("Manager = %q (applies %v, HasManager %v), want src-boss", res.Manager, res.ManagerApplies, s.HasManager())
			}
			if _, ok := res.Attrs["manager"]; ok {
				t.Error("manager must not be in Attrs: the engine resolves it")
			}
		case "showInAddressList":
			if res.Attrs[a] != true {
				t.Errorf("showInAddressList = %#v, want true (bool)", res.Attrs[a])
			}
		default:
			if !directory.Equal(res.Attrs[a], src[a]) {
				t.Errorf("%s = %#v, want %#v", a, res.Attrs[a], src[a])
			}
		}
	}
	if got, want := s.SourceAttributes(), []string{"accountEnabled", "businessPhones", "city", "companyName", "country",
		"department", "displayName", "employeeId", "givenName", "jobTitle", "mail", "manager", "mobilePhone",
		"officeLocation", "postalCode", "state", "streetAddress", "surname", "usageLocation", "userPrincipalName"}; !slices.Equal(got, want) {
		t.Fatalf("SourceAttributes() = %v\nwant %v", got, want)
	}
	// Defaults returns a fresh slice each time.
	d := Defaults()
	d[0].Target = "changed"
	if Defaults()[0].Target == "changed" {
		t.Fatal("Defaults shares its slice")
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name  string
		rules []Rule
		want  []string // RuleError messages
	}{
		{"unknown function, as config prints it", []Rule{
			{Target: "displayName", Expression: `Append([displayName], " (Fabrikam)")`},
			{Target: "companyName", Constant: str("Fabrikam")},
			{Target: "jobTitle", Source: "jobTitle", Default: str("Staff"), Apply: Always},
			{Target: "department", Expression: `Apend([department], "x")`},
		}, []string{`mappings[3].expression: unknown function "Apend" at column 1`}},
		{"nothing to map", []Rule{{Target: "jobTitle"}}, []string{"mappings[0].source: one of source, constant and expression is required"}},
		{"two kinds", []Rule{{Target: "jobTitle", Source: "jobTitle", Constant: str("x")}},
			[]string{"mappings[0].constant: only one of source, constant and expression may be set, not source and constant"}},
		{"missing target", []Rule{{Source: "jobTitle"}}, []string{"mappings[0].target: missing"}},
		{"unknown target", []Rule{{Target: "jobtitle", Source: "jobTitle"}},
			[]string{`mappings[0].target: unknown target attribute "jobtitle" (attribute names are case-sensitive here: did you mean "jobTitle"?)`}},
		{"userType is Member or Guest", []Rule{{Target: "userType", Constant: str("Admin")}},
			[]string{"mappings[0].constant: userType must be Member or Guest, got Admin"}},
		{"bad apply", []Rule{{Target: "jobTitle", Source: "jobTitle", Apply: "oncreate"}},
			[]string{`mappings[0].apply: unknown value "oncreate" (want always or onCreate)`}},
		{"boolean constant", []Rule{{Target: "accountEnabled", Constant: str("yes")}},
			[]string{`mappings[0].constant: "yes" is not true or false`}},
		{"boolean default", []Rule{{Target: "accountEnabled", Source: "accountEnabled", Default: str("maybe")}},
			[]string{`mappings[0].default: "maybe" is not true or false`}},
		{"default with a constant", []Rule{{Target: "city", Constant: str("x"), Default: str("y")}},
			[]string{"mappings[0].default: a constant mapping has no use for a default"}},
		{"duplicate target", []Rule{{Target: "city", Source: "city"}, {Target: "city", Constant: str("x")}},
			[]string{"mappings[1].target: city is already mapped by mappings[0]"}},
		{"ignore with a source", []Rule{{Target: "city", Source: "city", Ignore: true}},
			[]string{"mappings[0].ignore: ignore: true drops a default mapping and takes no other keys"}},
		{"ignore of nothing", []Rule{{Target: "preferredLanguage", Ignore: true}},
			[]string{"mappings[0].ignore: there is no default mapping for preferredLanguage to drop"}},
		{"manager as an expression", []Rule{{Target: "manager", Expression: "[manager]"}},
			[]string{"mappings[0].expression: manager is a reference attribute: map it only as {target: manager, source: manager}"}},
		{"manager into a string", []Rule{{Target: "jobTitle", Source: "manager"}},
			[]string{"mappings[0].source: manager is a reference attribute: map it only as {target: manager, source: manager}"}},
		{"source in brackets", []Rule{{Target: "city", Source: "[city]"}},
			[]string{`mappings[0].source: "[city]": write the attribute name without brackets`}},
		{"source that is an expression", []Rule{{Target: "city", Source: "ToLower(city)"}},
			[]string{`mappings[0].source: "ToLower(city)" is not an attribute name (to compute a value, use expression)`}},
		{"SelectUniqueValue only on create", []Rule{{Target: "mailNickname", Expression: `SelectUniqueValue([a], [b])`}},
			[]string{"mappings[0].apply: SelectUniqueValue is for creation only: set apply: onCreate"}},
		{"every error is reported", []Rule{{Target: "x1", Source: "a"}, {Target: "city", Expression: "Left("}},
			[]string{`mappings[0].target: unknown target attribute "x1"`, "mappings[1].expression: unexpected end of expression at column 6"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.rules)
			if err == nil {
				t.Fatal("Compile succeeded, want an error")
			}
			var errs []error
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			} else {
				errs = []error{err}
			}
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d errors (%v), want %d", len(errs), err, len(tc.want))
			}
			for i, e := range errs {
				var re *RuleError
				if !errors.As(e, &re) {
					t.Fatalf("error %T %v is not a *RuleError", e, e)
				}
				if !strings.HasPrefix(e.Error(), tc.want[i]) {
					t.Errorf("error\n got: %s\nwant: %s", e, tc.want[i])
				}
			}
		})
	}
	// The expression error keeps its type for callers that want the column.
	_, err := Compile([]Rule{{Target: "city", Expression: `  Apend([city])`}})
	var se *expr.SyntaxError
	if !errors.As(err, &se) || se.Column != 3 {
		t.Fatalf("want a *expr.SyntaxError at column 3, got %v", err)
	}
}

func TestMap(t *testing.T) {
	tests := []struct {
		name    string
		rules   []Rule
		user    directory.Attributes
		op      Op
		opts    Options
		want    directory.Attributes // checked attributes only
		absent  []string             // attributes that must not be written
		ignored []string
		manager *string // checked when set
		unset   bool    // the manager mapping must not apply
		err     string
	}{
		{name: "expression override", rules: []Rule{{Target: "displayName", Expression: `Append([displayName], " (Fabrikam)")`}},
			user: directory.Attributes{"displayName": "Zoë"}, op: Update, want: directory.Attributes{"displayName": "Zoë (Fabrikam)"}},
		{name: "constant", rules: []Rule{{Target: "companyName", Constant: str("Fabrikam")}},
			user: directory.Attributes{"companyName": "Other"}, op: Update, want: directory.Attributes{"companyName": "Fabrikam"}},
		{name: "default when null", rules: []Rule{{Target: "jobTitle", Source: "jobTitle", Default: str("Staff")}},
			op: Update, want: directory.Attributes{"jobTitle": "Staff"}},
		{name: "default when empty", rules: []Rule{{Target: "jobTitle", Source: "jobTitle", Default: str("Staff")}},
			user: directory.Attributes{"jobTitle": ""}, op: Update, want: directory.Attributes{"jobTitle": "Staff"}},
		{name: "no default when set", rules: []Rule{{Target: "jobTitle", Source: "jobTitle", Default: str("Staff")}},
			user: directory.Attributes{"jobTitle": "CEO"}, op: Update, want: directory.Attributes{"jobTitle": "CEO"}},
		{name: "null clears", op: Update, want: directory.Attributes{"department": nil}},
		{name: "onCreate applies on create", rules: []Rule{{Target: "employeeType", Constant: str("Partner"), Apply: OnCreate}},
			op: Create, want: directory.Attributes{"employeeType": "Partner"}},
		{name: "onCreate skipped on update", rules: []Rule{{Target: "employeeType", Constant: str("Partner"), Apply: OnCreate}},
			op: Update, absent: []string{"employeeType"}},
		{name: "ignore drops a default", rules: []Rule{{Target: "mobilePhone", Ignore: true}},
			user: directory.Attributes{"mobilePhone": "1"}, op: Update, absent: []string{"mobilePhone"}},
		{name: "IgnoreFlowIfNullOrEmpty leaves the attribute out", rules: []Rule{{Target: "department", Expression: `IgnoreFlowIfNullOrEmpty([department])`}},
			op: Update, absent: []string{"department"}, ignored: []string{"department"}},
		{name: "IgnoreFlowIfNullOrEmpty flows a value", rules: []Rule{{Target: "department", Expression: `IgnoreFlowIfNullOrEmpty([department])`}},
			user: directory.Attributes{"department": "Sales"}, op: Update, want: directory.Attributes{"department": "Sales"}},
		{name: "boolean constant becomes a bool", rules: []Rule{{Target: "accountEnabled", Constant: str("False")}},
			op: Update, want: directory.Attributes{"accountEnabled": false}},
		{name: "boolean expression result becomes a bool", rules: []Rule{{Target: "accountEnabled", Expression: `IIF([department]="Sales","True","False")`}},
			user: directory.Attributes{"department": "Sales"}, op: Update, want: directory.Attributes{"accountEnabled": true}},
		{name: "collection from a single value", rules: []Rule{{Target: "businessPhones", Source: "telephoneNumber"}},
			user: directory.Attributes{"telephoneNumber": "+1 425"}, op: Update, want: directory.Attributes{"businessPhones": []string{"+1 425"}}},
		{name: "number into a string attribute", rules: []Rule{{Target: "employeeId", Expression: `InStr([mail], "@")`}},
			user: directory.Attributes{"mail": "ab@c"}, op: Update, want: directory.Attributes{"employeeId": "3"}},
		{name: "extension attribute", rules: []Rule{{Target: "onPremisesExtensionAttributes.extensionAttribute1", Expression: `ToUpper([country])`}},
			user: directory.Attributes{"country": "nl"}, op: Update, want: directory.Attributes{"onPremisesExtensionAttributes.extensionAttribute1": "NL"}},
		{name: "directory extension keeps the expression's type", rules: []Rule{{Target: "extension_abc_isContractor", Expression: `CBool([c])`}},
			user: directory.Attributes{"c": "1"}, op: Update, want: directory.Attributes{"extension_abc_isContractor": true}},
		{name: "manager reference", user: directory.Attributes{"manager": "boss"}, op: Update, manager: str("boss")},
		{name: "no manager in the source", op: Update, manager: str("")},
		{name: "manager dropped", rules: []Rule{{Target: "manager", Ignore: true}}, user: directory.Attributes{"manager": "boss"}, op: Update, unset: true},
		{name: "manager on create only", rules: []Rule{{Target: "manager", Source: "manager", Apply: OnCreate}},
			user: directory.Attributes{"manager": "boss"}, op: Update, unset: true},
		{name: "SelectUniqueValue asks the target", rules: []Rule{{Target: "mailNickname", Apply: OnCreate,
			Expression: `SelectUniqueValue(ToLower([givenName]), ToLower(Join(".", [givenName], [surname])))`}},
			user: directory.Attributes{"givenName": "Ann", "surname": "Lee"}, op: Create,
			opts: Options{Exists: func(attr, v string) (bool, error) { return attr == "mailNickname" && v == "ann", nil }},
			want: directory.Attributes{"mailNickname": "ann.lee"}},
		{name: "Now from the options", rules: []Rule{{Target: "employeeHireDate", Expression: `FormatDateTime(Now(), , "M/d/yyyy h:mm:ss tt", "yyyy-MM-ddTHH:mm:ssZ")`}},
			op: Create, opts: Options{Now: func() time.Time { return time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC) }},
			want: directory.Attributes{"employeeHireDate": "2024-05-06T07:08:09Z"}},
		{name: "an evaluation error names the rule", rules: []Rule{{Target: "city", Expression: `Mid([city], [n], 1)`}},
			user: directory.Attributes{"city": "Utrecht", "n": "x"}, op: Update,
			err: `map user src-1: mapping city (expression Mid([city], [n], 1)): Mid at column 1: start expects a number, got "x"`},
		{name: "a type error names the rule", rules: []Rule{{Target: "accountEnabled", Source: "department"}},
			user: directory.Attributes{"department": "Sales"}, op: Update,
			err: `map user src-1: mapping accountEnabled (source department): "Sales" is not true or false`},
		{name: "multi-valued into single-valued", rules: []Rule{{Target: "city", Source: "otherMails"}},
			user: directory.Attributes{"otherMails": []string{"a", "b"}}, op: Update, err: "2 values for a single-valued attribute"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Compile(tc.rules)
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Map(directory.User{ID: "src-1", Attrs: tc.user}, tc.op, tc.opts)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Map error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				got, ok := res.Attrs[k]
				if !ok || !directory.Equal(got, v) || (v != nil && got == nil) {
					t.Errorf("%s = %#v (present %v), want %#v", k, got, ok, v)
				}
				if _, isBool := v.(bool); isBool {
					if _, ok := got.(bool); !ok {
						t.Errorf("%s = %T, want bool", k, got)
					}
				}
			}
			for _, k := range tc.absent {
				if v, ok := res.Attrs[k]; ok {
					t.Errorf("%s = %#v, want it left out", k, v)
				}
			}
			if !slices.Equal(res.Ignored, tc.ignored) {
				t.Errorf("Ignored = %v, want %v", res.Ignored, tc.ignored)
			}
			switch {
			case tc.unset && (res.ManagerApplies || res.Manager != ""):
				t.Errorf("Manager = %q, applies %v; want it not to apply", res.Manager, res.ManagerApplies)
			case tc.manager != nil && (!res.ManagerApplies || res.Manager != *tc.manager):
				t.Errorf("Manager = %q, applies %v; want %q", res.Manager, res.ManagerApplies, *tc.manager)
			}
		})
	}
}

func TestSourceAttributes(t *testing.T) {
	s, err := Compile([]Rule{
		{Target: "displayName", Expression: `Append(Coalesce([preferredName], [displayName]), " (Fabrikam)")`},
		{Target: "manager", Ignore: true},
		{Target: "onPremisesExtensionAttributes.extensionAttribute3", Source: "employeeType"},
		{Target: "mobilePhone", Ignore: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := s.SourceAttributes()
	for _, want := range []string{"preferredName", "displayName", "employeeType"} {
		if !slices.Contains(got, want) {
			t.Errorf("SourceAttributes() = %v, missing %s", got, want)
		}
	}
	if s.HasManager() {
		t.Error("HasManager() after ignore: true")
	}
	for _, unwanted := range []string{"manager", "mobilePhone"} {
		if slices.Contains(got, unwanted) {
			t.Errorf("SourceAttributes() = %v, has %s", got, unwanted)
		}
	}
}

func TestTargetAttributes(t *testing.T) {
	s, err := Compile([]Rule{
		{Target: "employeeType", Constant: str("Partner"), Apply: OnCreate},
		{Target: "mobilePhone", Ignore: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	all, update := s.TargetAttributes(), s.UpdateAttributes()
	if !slices.Contains(all, "employeeType") || slices.Contains(update, "employeeType") {
		t.Errorf("employeeType (onCreate): TargetAttributes %v, UpdateAttributes %v", all, update)
	}
	for _, l := range [][]string{all, update} {
		if slices.Contains(l, "mobilePhone") || slices.Contains(l, "manager") || !slices.Contains(l, "displayName") || !slices.IsSorted(l) {
			t.Errorf("attributes %v: want sorted, displayName in, mobilePhone and manager out", l)
		}
	}
}

func TestRedacted(t *testing.T) {
	s, err := Compile([]Rule{{Target: "employeeId", Expression: `Redact([employeeId])`}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Map(directory.User{ID: "u", Attrs: directory.Attributes{"employeeId": "secret-1"}}, Update, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Attrs["employeeId"] != "secret-1" || !slices.Equal(res.Redacted, []string{"employeeId"}) {
		t.Fatalf("Attrs %v, Redacted %v", res.Attrs, res.Redacted)
	}
	c := Diff(directory.Attributes{"employeeId": "old"}, res.Attrs).Redact(res.Redacted)
	if c["employeeId"] != (Change{Old: "[Redact]", New: "[Redact]"}) {
		t.Fatalf("redacted change %v", c["employeeId"])
	}
}

func TestHash(t *testing.T) {
	base := directory.Attributes{"displayName": "Zoë", "accountEnabled": true, "businessPhones": []string{"1", "2"}, "city": nil}
	same := func() directory.Attributes {
		return directory.Attributes{"city": nil, "businessPhones": []string{"1", "2"}, "accountEnabled": true, "displayName": "Zoë"}
	}
	tests := []struct {
		name  string
		other directory.Attributes
		equal bool
	}{
		{"same values in another order", same(), true},
		{"empty string equals nil", func() directory.Attributes { a := same(); a["city"] = ""; return a }(), true},
		{"empty list equals nil", func() directory.Attributes { a := same(); a["city"] = []string{}; return a }(), true},
		{"a changed value", func() directory.Attributes { a := same(); a["displayName"] = "Zoe"; return a }(), false},
		{"a string is not a bool", func() directory.Attributes { a := same(); a["accountEnabled"] = "true"; return a }(), false},
		{"a string is not a number", directory.Attributes{"x": "1"}, false},
		{"list order matters", func() directory.Attributes { a := same(); a["businessPhones"] = []string{"2", "1"}; return a }(), false},
		{"a left-out attribute differs from a cleared one", func() directory.Attributes { a := same(); delete(a, "city"); return a }(), false},
		{"an extra attribute", func() directory.Attributes { a := same(); a["state"] = "UT"; return a }(), false},
	}
	h := Hash(base)
	if !strings.HasPrefix(h, "v1:") || len(h) != 3+64 {
		t.Fatalf("Hash = %q, want v1: and a SHA-256 in hex", h)
	}
	for _, tc := range tests {
		if got := Hash(tc.other) == h; got != tc.equal {
			t.Errorf("%s: equal hashes = %v, want %v", tc.name, got, tc.equal)
		}
	}
	// Field boundaries are encoded: moving a character from key to value changes the digest.
	if Hash(directory.Attributes{"ab": "c"}) == Hash(directory.Attributes{"a": "bc"}) {
		t.Error("key/value boundary is ambiguous")
	}
	if Hash(directory.Attributes{"x": int64(1)}) == Hash(directory.Attributes{"x": "1"}) {
		t.Error("int64 1 and \"1\" hash alike")
	}
}

func TestMapIsStableForHashing(t *testing.T) {
	s, err := Compile(nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Map(fabrikamUser(), Update, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Map(fabrikamUser(), Update, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if Hash(a.Attrs) != Hash(b.Attrs) {
		t.Fatal("mapping the same user twice gives different hashes")
	}
	u := fabrikamUser()
	u.Attrs["jobTitle"] = "Manager"
	c, err := s.Map(u, Update, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if Hash(c.Attrs) == Hash(a.Attrs) {
		t.Fatal("a changed job title does not change the hash")
	}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name             string
		current, desired directory.Attributes
		want             Changes
	}{
		{"no change", directory.Attributes{"city": "A"}, directory.Attributes{"city": "A"}, Changes{}},
		{"nil, empty and missing are equal", directory.Attributes{"city": "", "state": nil}, directory.Attributes{"city": nil, "state": "", "country": []string{}}, Changes{}},
		{"changed value", directory.Attributes{"city": "A"}, directory.Attributes{"city": "B"}, Changes{"city": {Old: "A", New: "B"}}},
		{"cleared value", directory.Attributes{"city": "A"}, directory.Attributes{"city": nil}, Changes{"city": {Old: "A", New: nil}}},
		{"new value", directory.Attributes{}, directory.Attributes{"city": "B"}, Changes{"city": {Old: nil, New: "B"}}},
		{"list", directory.Attributes{"businessPhones": []string{"1"}}, directory.Attributes{"businessPhones": []string{"1", "2"}},
			Changes{"businessPhones": {Old: []string{"1"}, New: []string{"1", "2"}}}},
		{"unmanaged attributes are not changes", directory.Attributes{"otherMails": []string{"x"}}, directory.Attributes{}, Changes{}},
		{"bool", directory.Attributes{"accountEnabled": true}, directory.Attributes{"accountEnabled": false}, Changes{"accountEnabled": {Old: true, New: false}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Diff(tc.current, tc.desired)
			if len(got) != len(tc.want) {
				t.Fatalf("Diff = %v, want %v", got, tc.want)
			}
			for k, w := range tc.want {
				g, ok := got[k]
				if !ok || !directory.Equal(g.Old, w.Old) || !directory.Equal(g.New, w.New) {
					t.Fatalf("Diff[%s] = %v, want %v", k, g, w)
				}
			}
			if p := got.Patch(); len(p) != len(got) {
				t.Fatalf("Patch() = %v", p)
			}
			if !slices.IsSorted(got.Keys()) || len(got.Keys()) != len(got) {
				t.Fatalf("Keys() = %v", got.Keys())
			}
		})
	}
}

func BenchmarkMap(b *testing.B) {
	s, err := Compile([]Rule{
		{Target: "displayName", Expression: `Append([displayName], " (Fabrikam)")`},
		{Target: "mailNickname", Expression: `ToLower(Join(".", NormalizeDiacritics(StripSpaces([givenName])), NormalizeDiacritics(StripSpaces([surname]))))`},
		{Target: "jobTitle", Source: "jobTitle", Default: str("Staff")},
	})
	if err != nil {
		b.Fatal(err)
	}
	u := fabrikamUser()
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Map(u, Update, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	res, err := s.Map(u, Update, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("hash", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = Hash(res.Attrs)
		}
	})
	b.Run("map+hash+diff", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := s.Map(u, Update, Options{})
			if err != nil {
				b.Fatal(err)
			}
			if Hash(r.Attrs) != Hash(res.Attrs) || len(Diff(res.Attrs, r.Attrs)) != 0 {
				b.Fatal("unstable")
			}
		}
	})
}
