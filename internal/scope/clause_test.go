package scope

import (
	"errors"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/internal/directory"
)

// TestClause evaluates every operator against every kind of value
// internal/directory carries, including the null cases: nil, "" and an empty
// list are null, and only IS NULL is true on null.
func TestClause(t *testing.T) {
	const attr = "onPremisesExtensionAttributes.extensionAttribute1" // a string attribute
	const ext = "extension_0123456789abcdef0123456789abcdef_level"   // untyped: any value
	tests := []struct {
		name  string
		c     Clause
		value any // the attribute's value; absent is the same as nil
		want  bool
	}{
		// EQUALS: case sensitive, exact.
		{"EQUALS same", Clause{attr, Equals, "Sales"}, "Sales", true},
		{"EQUALS other case", Clause{attr, Equals, "Sales"}, "sales", false},
		{"EQUALS prefix only", Clause{attr, Equals, "Sales"}, "Sales EMEA", false},
		{"EQUALS nil", Clause{attr, Equals, "Sales"}, nil, false},
		{"EQUALS empty string", Clause{attr, Equals, "Sales"}, "", false},
		{"EQUALS bool true", Clause{"accountEnabled", Equals, "true"}, true, true},
		{"EQUALS bool any case", Clause{"accountEnabled", Equals, "True"}, true, true},
		{"EQUALS bool false vs true", Clause{"accountEnabled", Equals, "false"}, true, false},
		{"EQUALS int", Clause{ext, Equals, "42"}, int64(42), true},
		{"EQUALS int other", Clause{ext, Equals, "42"}, int64(43), false},
		{"EQUALS int vs non-number", Clause{ext, Equals, "x"}, int64(42), false},
		{"EQUALS list", Clause{ext, Equals, "a"}, []string{"a"}, false},

		// NOT EQUALS: null is false, as for every operator but IS NULL.
		{"NOT EQUALS other", Clause{attr, NotEquals, "Sales"}, "HR", true},
		{"NOT EQUALS same", Clause{attr, NotEquals, "Sales"}, "Sales", false},
		{"NOT EQUALS other case", Clause{attr, NotEquals, "Sales"}, "SALES", true},
		{"NOT EQUALS nil", Clause{attr, NotEquals, "Sales"}, nil, false},
		{"NOT EQUALS empty string", Clause{attr, NotEquals, "Sales"}, "", false},
		{"NOT EQUALS bool", Clause{"accountEnabled", NotEquals, "true"}, false, true},
		{"NOT EQUALS bool same", Clause{"accountEnabled", NotEquals, "TRUE"}, true, false},
		{"NOT EQUALS int", Clause{ext, NotEquals, "7"}, int64(8), true},
		{"NOT EQUALS list", Clause{ext, NotEquals, "a"}, []string{"b"}, false},

		// IS TRUE, IS FALSE.
		{"IS TRUE true", Clause{"accountEnabled", IsTrue, ""}, true, true},
		{"IS TRUE false", Clause{"accountEnabled", IsTrue, ""}, false, false},
		{"IS TRUE nil", Clause{"accountEnabled", IsTrue, ""}, nil, false},
		{"IS TRUE string True", Clause{attr, IsTrue, ""}, "True", true},
		{"IS TRUE string yes", Clause{attr, IsTrue, ""}, "yes", false},
		{"IS TRUE int", Clause{ext, IsTrue, ""}, int64(1), false},
		{"IS FALSE false", Clause{"accountEnabled", IsFalse, ""}, false, true},
		{"IS FALSE true", Clause{"accountEnabled", IsFalse, ""}, true, false},
		{"IS FALSE nil", Clause{"accountEnabled", IsFalse, ""}, nil, false},
		{"IS FALSE string false", Clause{attr, IsFalse, ""}, "FALSE", true},
		{"IS FALSE empty string", Clause{attr, IsFalse, ""}, "", false},
		{"IS TRUE boolean attribute as text", Clause{"accountEnabled", IsTrue, ""}, "True", true},
		{"EQUALS boolean attribute as text", Clause{"accountEnabled", Equals, "false"}, "FALSE", true},

		// IS NULL, IS NOT NULL.
		{"IS NULL nil", Clause{attr, IsNull, ""}, nil, true},
		{"IS NULL empty string", Clause{attr, IsNull, ""}, "", true},
		{"IS NULL empty list", Clause{"proxyAddresses", IsNull, ""}, []string{}, true},
		{"IS NULL value", Clause{attr, IsNull, ""}, "x", false},
		{"IS NULL false", Clause{"accountEnabled", IsNull, ""}, false, false},
		{"IS NULL zero", Clause{ext, IsNull, ""}, int64(0), false},
		{"IS NOT NULL value", Clause{attr, IsNotNull, ""}, "x", true},
		{"IS NOT NULL false", Clause{"accountEnabled", IsNotNull, ""}, false, true},
		{"IS NOT NULL list", Clause{"proxyAddresses", IsNotNull, ""}, []string{"smtp:a@b.example"}, true},
		{"IS NOT NULL nil", Clause{attr, IsNotNull, ""}, nil, false},
		{"IS NOT NULL empty string", Clause{attr, IsNotNull, ""}, "", false},
		{"IS NOT NULL empty list", Clause{"proxyAddresses", IsNotNull, ""}, []string{}, false},

		// REGEX MATCH: unanchored, as .NET's Regex.IsMatch; case sensitive.
		{"REGEX MATCH anchored", Clause{"jobTitle", RegexMatch, "^Director"}, "Director of Sales", true},
		{"REGEX MATCH anchored miss", Clause{"jobTitle", RegexMatch, "^Director"}, "Sales Director", false},
		{"REGEX MATCH unanchored", Clause{"jobTitle", RegexMatch, "Director"}, "Sales Director", true},
		{"REGEX MATCH case", Clause{"jobTitle", RegexMatch, "director"}, "Director", false},
		{"REGEX MATCH (?i)", Clause{"jobTitle", RegexMatch, "(?i)director"}, "Director", true},
		// The documentation's examples.
		{`REGEX MATCH doc .*\@domain.com`, Clause{"userPrincipalName", RegexMatch, `.*\@domain.com`}, "alice@domain.com", true},
		{`REGEX MATCH doc .*\@domain.com other`, Clause{"userPrincipalName", RegexMatch, `.*\@domain.com`}, "alice@other.com", false},
		{"REGEX MATCH doc ([1-9][0-9]) 42", Clause{attr, RegexMatch, "([1-9][0-9])"}, "42", true},
		{"REGEX MATCH doc ([1-9][0-9]) 7", Clause{attr, RegexMatch, "([1-9][0-9])"}, "7", false},
		{"REGEX MATCH nil", Clause{"jobTitle", RegexMatch, ".*"}, nil, false},
		{"REGEX MATCH empty", Clause{"jobTitle", RegexMatch, ".*"}, "", false},
		{"REGEX MATCH bool", Clause{ext, RegexMatch, "^true$"}, true, true},
		{"REGEX MATCH int", Clause{ext, RegexMatch, "^4"}, int64(42), true},
		{"REGEX MATCH list", Clause{ext, RegexMatch, "a"}, []string{"a"}, false},
		// The RE2 differences docs/scoping.md describes.
		{`REGEX MATCH \d is ASCII`, Clause{attr, RegexMatch, `^\d+$`}, "١٢", false},
		{`REGEX MATCH \p{Nd} is Unicode`, Clause{attr, RegexMatch, `^\p{Nd}+$`}, "١٢", true},
		{"REGEX MATCH $ not before a final newline", Clause{attr, RegexMatch, `Sales$`}, "Sales\n", false},
		{"REGEX MATCH named group", Clause{attr, RegexMatch, `^(?<dept>[A-Z]+)-\d+$`}, "HR-12", true},
		{"REGEX MATCH lazy and counted", Clause{attr, RegexMatch, `^a{2,3}?b`}, "aab", true},
		{"NOT REGEX MATCH miss", Clause{"userPrincipalName", NotRegexMatch, `.*\@domain.com`}, "bob@other.com", true},
		{"NOT REGEX MATCH match", Clause{"userPrincipalName", NotRegexMatch, `.*\@domain.com`}, "bob@domain.com", false},
		{"NOT REGEX MATCH nil", Clause{"jobTitle", NotRegexMatch, "x"}, nil, false},
		{"NOT REGEX MATCH empty", Clause{"jobTitle", NotRegexMatch, "x"}, "", false},

		// Includes: String.Contains, case sensitive; any element of a list.
		{"Includes substring", Clause{"department", Includes, "ale"}, "Sales", true},
		{"Includes case", Clause{"department", Includes, "sal"}, "Sales", false},
		{"Includes nil", Clause{"department", Includes, "a"}, nil, false},
		{"Includes list element", Clause{"proxyAddresses", Includes, "@fabrikam.example"}, []string{"SMTP:a@contoso.example", "smtp:a@fabrikam.example"}, true},
		{"Includes list none", Clause{"proxyAddresses", Includes, "@fabrikam.example"}, []string{"SMTP:a@contoso.example"}, false},
		{"Includes list case", Clause{"proxyAddresses", Includes, "SMTP:A@"}, []string{"SMTP:a@contoso.example"}, false},
		{"Includes empty list", Clause{"proxyAddresses", Includes, "a"}, []string{}, false},
		{"Includes int", Clause{ext, Includes, "23"}, int64(1234), true},

		// & and !&: every bit of the mask; decimal or hex mask and values.
		{"& bit set", Clause{ext, BitAnd, "2"}, int64(514), true},
		{"& bit clear", Clause{ext, BitAnd, "2"}, int64(512), false},
		{"& hex mask", Clause{ext, BitAnd, "0x200"}, int64(514), true},
		{"& all bits of mask", Clause{ext, BitAnd, "0x3"}, int64(2), false},
		{"& decimal string", Clause{attr, BitAnd, "2"}, "514", true},
		{"& hex string", Clause{attr, BitAnd, "2"}, "0x202", true},
		{"& leading zero is decimal", Clause{attr, BitAnd, "8"}, "010", true},
		{"& not a number", Clause{attr, BitAnd, "2"}, "two", false},
		{"& nil", Clause{ext, BitAnd, "2"}, nil, false},
		{"& empty", Clause{attr, BitAnd, "2"}, "", false},
		{"& bool", Clause{ext, BitAnd, "1"}, true, false},
		{"!& bit clear", Clause{ext, NotBitAnd, "2"}, int64(512), true},
		{"!& bit set", Clause{ext, NotBitAnd, "2"}, int64(514), false},
		{"!& part of mask", Clause{ext, NotBitAnd, "0x3"}, int64(2), true},
		{"!& nil", Clause{ext, NotBitAnd, "2"}, nil, false},
		{"!& not a number", Clause{attr, NotBitAnd, "2"}, "two", false},

		// ENDS_WITH: case sensitive.
		{"ENDS_WITH", Clause{"userPrincipalName", EndsWith, "@fabrikam.example"}, "a@fabrikam.example", true},
		{"ENDS_WITH case", Clause{"userPrincipalName", EndsWith, "@fabrikam.example"}, "a@FABRIKAM.example", false},
		{"ENDS_WITH miss", Clause{"userPrincipalName", EndsWith, "@fabrikam.example"}, "a@contoso.example", false},
		{"ENDS_WITH nil", Clause{"userPrincipalName", EndsWith, "x"}, nil, false},
		{"ENDS_WITH list", Clause{ext, EndsWith, "x"}, []string{"x"}, false},

		// Greater_Than, Greater_Than_OR_EQUALS: integers.
		{"Greater_Than string number", Clause{"employeeId", GreaterThan, "1000000"}, "1500000", true},
		{"Greater_Than equal", Clause{"employeeId", GreaterThan, "1000000"}, "1000000", false},
		{"Greater_Than less", Clause{"employeeId", GreaterThan, "1000000"}, "999999", false},
		{"Greater_Than numeric not lexical", Clause{"employeeId", GreaterThan, "9"}, "10", true},
		{"Greater_Than negative", Clause{"employeeId", GreaterThan, "-5"}, "0", true},
		{"Greater_Than spaces", Clause{"employeeId", GreaterThan, "1"}, " 2 ", true},
		{"Greater_Than int", Clause{ext, GreaterThan, "10"}, int64(11), true},
		{"Greater_Than not a number", Clause{"employeeId", GreaterThan, "1"}, "E123", false},
		{"Greater_Than hex is not a number", Clause{"employeeId", GreaterThan, "1"}, "0x10", false},
		{"Greater_Than nil", Clause{"employeeId", GreaterThan, "1"}, nil, false},
		{"Greater_Than empty", Clause{"employeeId", GreaterThan, "1"}, "", false},
		{"Greater_Than bool", Clause{ext, GreaterThan, "0"}, true, false},
		{"Greater_Than_OR_EQUALS equal", Clause{"employeeId", GreaterThanOrEquals, "1000000"}, "1000000", true},
		{"Greater_Than_OR_EQUALS more", Clause{"employeeId", GreaterThanOrEquals, "1000000"}, "2000000", true},
		{"Greater_Than_OR_EQUALS less", Clause{"employeeId", GreaterThanOrEquals, "1000000"}, "999", false},
		{"Greater_Than_OR_EQUALS int", Clause{ext, GreaterThanOrEquals, "5"}, int64(5), true},
		{"Greater_Than_OR_EQUALS nil", Clause{"employeeId", GreaterThanOrEquals, "0"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, errs := compileClause(tt.c)
			if len(errs) > 0 {
				t.Fatalf("compile %s: %v", tt.c, errs[0])
			}
			attrs := directory.Attributes{}
			if tt.value != nil {
				attrs[c.Attribute] = tt.value
			}
			got, note := c.eval(attrs)
			if got != tt.want {
				t.Errorf("%s on %#v = %v (%s), want %v", tt.c, tt.value, got, note, tt.want)
			}
		})
	}
}

// TestCompileClauseErrors asserts each compile error message exactly.
func TestCompileClauseErrors(t *testing.T) {
	tests := []struct {
		name string
		c    Clause
		want string
	}{
		{"attribute missing", Clause{"", Equals, "x"}, "filters[0][0].attribute: required"},
		{"attribute unknown", Clause{"departmnet", Equals, "x"}, `filters[0][0].attribute: unknown user attribute "departmnet"`},
		{"extension property malformed", Clause{"extension_abc_level", Equals, "x"}, `filters[0][0].attribute: unknown user attribute "extension_abc_level"`},
		{"extensionAttribute16", Clause{"extensionAttribute16", Equals, "x"}, `filters[0][0].attribute: unknown user attribute "extensionAttribute16"`},
		{"operator missing", Clause{"department", "", "x"}, "filters[0][0].operator: required"},
		{"operator unknown", Clause{"department", "LIKE", "x"}, `filters[0][0].operator: unknown operator "LIKE" (want one of EQUALS, NOT EQUALS, IS TRUE, IS FALSE, IS NULL, IS NOT NULL, REGEX MATCH, NOT REGEX MATCH, Includes, &, !&, ENDS_WITH, Greater_Than, Greater_Than_OR_EQUALS)`},
		{"value on unary", Clause{"department", IsNull, "x"}, "filters[0][0].value: not used by operator IS NULL"},
		{"value missing", Clause{"department", Equals, ""}, "filters[0][0].value: required by operator EQUALS"},
		{"value missing regex", Clause{"department", RegexMatch, ""}, "filters[0][0].value: required by operator REGEX MATCH"},
		{"regex syntax", Clause{"department", RegexMatch, "(Sales"}, "filters[0][0].value: invalid regular expression: error parsing regexp: missing closing ): `(Sales`"},
		{"regex lookahead", Clause{"department", RegexMatch, "^(?!Sales)"}, "filters[0][0].value: invalid regular expression: error parsing regexp: invalid or unsupported Perl syntax: `(?!` (Go's RE2 syntax has no lookaround, backreferences, atomic groups or possessive quantifiers; see docs/scoping.md)"},
		{"regex lookbehind", Clause{"department", NotRegexMatch, "(?<=a)b"}, "filters[0][0].value: invalid regular expression: error parsing regexp: invalid named capture: `(?<=a)b` (Go's RE2 syntax has no lookaround, backreferences, atomic groups or possessive quantifiers; see docs/scoping.md)"},
		{"regex backreference", Clause{"department", RegexMatch, `(a)\1`}, "filters[0][0].value: invalid regular expression: error parsing regexp: invalid escape sequence: `\\1` (Go's RE2 syntax has no lookaround, backreferences, atomic groups or possessive quantifiers; see docs/scoping.md)"},
		{"regex atomic group", Clause{"department", RegexMatch, `(?>a)`}, "filters[0][0].value: invalid regular expression: error parsing regexp: invalid or unsupported Perl syntax: `(?>` (Go's RE2 syntax has no lookaround, backreferences, atomic groups or possessive quantifiers; see docs/scoping.md)"},
		{"regex possessive", Clause{"department", RegexMatch, `a++`}, "filters[0][0].value: invalid regular expression: error parsing regexp: invalid nested repetition operator: `++` (Go's RE2 syntax has no lookaround, backreferences, atomic groups or possessive quantifiers; see docs/scoping.md)"},
		{"regex \\Z", Clause{"department", RegexMatch, `s\Z`}, "filters[0][0].value: invalid regular expression: error parsing regexp: invalid escape sequence: `\\Z` (Go's RE2 syntax has no lookaround, backreferences, atomic groups or possessive quantifiers; see docs/scoping.md)"},
		{"regex named backreference", Clause{"department", RegexMatch, `(?<a>x)\k<a>`}, "filters[0][0].value: invalid regular expression: error parsing regexp: invalid escape sequence: `\\k` (Go's RE2 syntax has no lookaround, backreferences, atomic groups or possessive quantifiers; see docs/scoping.md)"},
		{"regex comment", Clause{"department", RegexMatch, `a(?#note)`}, "filters[0][0].value: invalid regular expression: error parsing regexp: invalid or unsupported Perl syntax: `(?#` (Go's RE2 syntax has no lookaround, backreferences, atomic groups or possessive quantifiers; see docs/scoping.md)"},
		{"regex conditional", Clause{"department", RegexMatch, `(?(a)b|c)`}, "filters[0][0].value: invalid regular expression: error parsing regexp: invalid or unsupported Perl syntax: `(?(` (Go's RE2 syntax has no lookaround, backreferences, atomic groups or possessive quantifiers; see docs/scoping.md)"},
		{"regex balancing group", Clause{"department", RegexMatch, `(?<a-b>x)`}, "filters[0][0].value: invalid regular expression: error parsing regexp: invalid named capture: `(?<a-b>` (Go's RE2 syntax has no lookaround, backreferences, atomic groups or possessive quantifiers; see docs/scoping.md)"},
		{"regex possessive star", Clause{"department", RegexMatch, `a*+`}, "filters[0][0].value: invalid regular expression: error parsing regexp: invalid nested repetition operator: `*+` (Go's RE2 syntax has no lookaround, backreferences, atomic groups or possessive quantifiers; see docs/scoping.md)"},
		{"regex \\G", Clause{"department", RegexMatch, `\Ga`}, "filters[0][0].value: invalid regular expression: error parsing regexp: invalid escape sequence: `\\G` (Go's RE2 syntax has no lookaround, backreferences, atomic groups or possessive quantifiers; see docs/scoping.md)"},
		{"regex class subtraction", Clause{"department", RegexMatch, `[a-z-[aeiou]]`}, "filters[0][0].value: invalid regular expression: character class subtraction (as in [a-z-[aeiou]]) is .NET syntax that Go's RE2 reads differently; see docs/scoping.md"},
		{"Greater_Than not integer", Clause{"employeeId", GreaterThan, "1.5"}, `filters[0][0].value: must be an integer for operator Greater_Than, got "1.5"`},
		{"Greater_Than_OR_EQUALS hex", Clause{"employeeId", GreaterThanOrEquals, "0x10"}, `filters[0][0].value: must be an integer for operator Greater_Than_OR_EQUALS, got "0x10"`},
		{"& not integer", Clause{"employeeId", BitAnd, "ab"}, `filters[0][0].value: must be an integer (decimal or 0x hexadecimal) for operator &, got "ab"`},
		{"!& zero", Clause{"employeeId", NotBitAnd, "0x0"}, "filters[0][0].value: must not be 0 for operator !&: a mask with no bits set tests nothing"},
		{"bool attribute value", Clause{"accountEnabled", Equals, "yes"}, `filters[0][0].value: must be true or false for boolean attribute accountEnabled, got "yes"`},
		{"operator on bool", Clause{"accountEnabled", GreaterThan, "0"}, "filters[0][0].operator: operator Greater_Than does not apply to boolean attribute accountEnabled"},
		{"operator on list", Clause{"proxyAddresses", Equals, "x"}, "filters[0][0].operator: operator EQUALS does not apply to multi-valued attribute proxyAddresses (use Includes, IS NULL or IS NOT NULL)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(Spec{All: true, Filters: []Filter{{tt.c}}})
			if err == nil {
				t.Fatalf("Compile(%s) succeeded, want %q", tt.c, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Compile(%s) error\n got %s\nwant %s", tt.c, err, tt.want)
			}
			var ce *ClauseError
			if !errors.As(err, &ce) || ce.Filter != 0 || ce.Clause != 0 {
				t.Errorf("error is not a *ClauseError at filters[0][0]: %#v", err)
			}
		})
	}
}

func TestCompileReportsEveryError(t *testing.T) {
	_, err := Compile(Spec{Filters: []Filter{
		{{"department", Equals, "Sales"}, {"nope", "LIKE", ""}},
		{},
		{{"jobTitle", RegexMatch, "("}},
	}})
	var paths []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *ClauseError
		if !errors.As(e, &ce) {
			t.Fatalf("%v is not a *ClauseError", e)
		}
		paths = append(paths, ce.Path())
	}
	want := "filters[0][1].attribute filters[0][1].operator filters[1] filters[2][0].value"
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("error paths = %s, want %s", got, want)
	}
	if !strings.Contains(err.Error(), "filters[1]: must have at least one clause") {
		t.Errorf("error %q does not name the empty filter", err)
	}
}

func TestCanonicalNames(t *testing.T) {
	tests := []struct {
		attr, op         string
		wantAttr, wantOp string
	}{
		{"Department", "equals", "department", "EQUALS"},
		{"extensionAttribute7", "not_equals", "onPremisesExtensionAttributes.extensionAttribute7", "NOT EQUALS"},
		{"ONPREMISESEXTENSIONATTRIBUTES.EXTENSIONATTRIBUTE15", "ends with", "onPremisesExtensionAttributes.extensionAttribute15", "ENDS_WITH"},
		{"employeeOrgData.costCenter", "greater than or equals", "employeeOrgData.costCenter", "Greater_Than_OR_EQUALS"},
		{"extension_0123456789abcdef0123456789abcdef_costCenter", "includes", "extension_0123456789abcdef0123456789abcdef_costCenter", "Includes"},
		{"accountEnabled", "is  true", "accountEnabled", "IS TRUE"},
		{"userType", "Not Regex Match", "userType", "NOT REGEX MATCH"},
	}
	for _, tt := range tests {
		t.Run(tt.attr+" "+tt.op, func(t *testing.T) {
			value := "x"
			if strings.HasPrefix(strings.ToUpper(tt.op), "IS") {
				value = ""
			}
			if strings.Contains(strings.ToLower(tt.op), "greater") {
				value = "1"
			}
			c, errs := compileClause(Clause{tt.attr, Operator(tt.op), value})
			if len(errs) > 0 {
				t.Fatal(errs[0])
			}
			if c.Attribute != tt.wantAttr || string(c.Operator) != tt.wantOp {
				t.Errorf("compiled to %q %q, want %q %q", c.Attribute, c.Operator, tt.wantAttr, tt.wantOp)
			}
		})
	}
}

func TestHasClassSubtraction(t *testing.T) {
	tests := []struct {
		pattern string
		want    bool
	}{
		{`[a-z-[aeiou]]`, true},
		{`^[^0-9-[5]]+$`, true},
		{`[-[]`, false},    // '-' and '['
		{`[^-[]`, false},   // not '-' or '['
		{`[a\-[]`, false},  // 'a', '-' and '['
		{`a-[bc]`, false},  // outside a class
		{`[]-[]`, true},    // ']' then subtraction
		{`\[a-[b]`, false}, // '[' escaped: no class
		{`[a-z]-[0-9]`, false},
	}
	for _, tt := range tests {
		if got := hasClassSubtraction(tt.pattern); got != tt.want {
			t.Errorf("hasClassSubtraction(%q) = %v, want %v", tt.pattern, got, tt.want)
		}
	}
}
