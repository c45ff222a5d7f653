package expr

import (
	"errors"
	"testing"
)

// testAttrs knows a few attributes of each type; any other is unknown,
// with a suggestion for one misspelling.
func testAttrs(name string) (Type, string, string) {
	switch name {
	case "jobTitle", "department", "employeeHireDate":
		return TypeString, "", ""
	case "accountEnabled":
		return TypeBool, "", ""
	case "proxyAddresses":
		return TypeStrings, "", ""
	case "deviceEnrollmentLimit":
		return TypeNumber, "", ""
	case "departmnt":
		return TypeAny, `unknown source attribute "departmnt"`, `did you mean "department"?`
	}
	return TypeAny, "unknown source attribute " + quote(name), ""
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name, src, want string
		column          int
	}{
		{"unknown attribute with a suggestion", `Coalesce([departmnt], "Unknown")`,
			`unknown source attribute "departmnt" at column 11 (did you mean "department"?)`, 11},
		{"unknown attribute deep inside", `Append([jobTitle], ToLower([title]))`, `unknown source attribute "title" at column 29`, 29},
		{"unknown attribute in a comparison", `IIF([dept] = "x", "a", "b")`, `unknown source attribute "dept" at column 6`, 6},
		{"string where a number must be", `Left([jobTitle], "abc")`,
			`Left: argument 2 (numChars) must be a number, got the string "abc" at column 18`, 18},
		{"Boolean literal where a number must be", `Mid([jobTitle], True, 2)`,
			`Mid: argument 2 (start) must be a number, got the Boolean True at column 17`, 17},
		{"Boolean attribute where a number must be", `Word([jobTitle], [accountEnabled], " ")`,
			`Word: argument 2 (wordNumber) must be a number, got [accountEnabled], a Boolean at column 18`, 18},
		{"date where a number must be", `BitAnd(Now(), 4)`, `BitAnd: argument 1 (value1) must be a number, got Now(…), a date at column 8`, 8},
		{"comparison where a number must be", `Left([jobTitle], [department] = "x")`,
			`Left: argument 2 (numChars) must be a number, got a Boolean at column 18`, 18},
		{"string where a date must be", `DateAdd("d", 1, "next week")`,
			`DateAdd: argument 3 (dateTime) must be a date, got the string "next week" at column 17`, 17},
		{"number where a date must be", `NumFromDate(42)`, `NumFromDate: argument 1 (value) must be a date, got the number 42 at column 13`, 13},
		{"string where a Boolean must be", `IIF("maybe", "a", "b")`, `IIF: argument 1 (condition) must be a Boolean, got the string "maybe" at column 5`, 5},
		{"date where a Boolean must be", `CBool(Now())`, `CBool: argument 1 (expression) must be a Boolean, got Now(…), a date at column 7`, 7},
		{"nested call's argument", `ToUpper(Left([jobTitle], "x"))`, `Left: argument 2 (numChars) must be a number, got the string "x" at column 26`, 26},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Parse(tc.src)
			if err != nil {
				t.Fatalf("Parse(%s): %v", tc.src, err)
			}
			err = e.Check(testAttrs)
			var ce *CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("Check(%s) = %v, want a *CheckError", tc.src, err)
			}
			if err.Error() != tc.want {
				t.Errorf("Check(%s)\n got: %s\nwant: %s", tc.src, err, tc.want)
			}
			if ce.Column != tc.column {
				t.Errorf("Check(%s) column %d, want %d", tc.src, ce.Column, tc.column)
			}
		})
	}
}

// TestCheckAccepts: what evaluation may still make work passes.
func TestCheckAccepts(t *testing.T) {
	for _, src := range []string{
		`Coalesce([department], "Unknown")`,
		`Left([jobTitle], 3)`,
		`Left([jobTitle], "3")`,                     // a numeric string converts
		`Left([jobTitle], [department])`,            // a string attribute may hold a number
		`Left([jobTitle], [deviceEnrollmentLimit])`, // a number attribute
		`Left([jobTitle], Count([proxyAddresses]))`,
		`Item([proxyAddresses], 1)`,
		`DateAdd("d", 7, [employeeHireDate])`,
		`DateAdd("d", 7, "")`, // empty: null
		`FormatDateTime(DateAdd("d", 1, CDate("2024-01-02")), , "M/d/yyyy h:mm:ss tt", "yyyy")`,
		`IIF([accountEnabled], "on", "off")`,
		`IIF("True", "a", "b")`,
		`IIF(InStr([jobTitle], "x"), "a", "b")`, // a number as a condition: non-zero is True
		`CBool("false")`,
		`Switch([department], "x", "Sales", IIF(IsPresent([jobTitle]), [jobTitle], "y"))`,
		`InStr([jobTitle], "x", 1, vbTextCompare)`,
		`Join(",", [proxyAddresses])`,
	} {
		e, err := Parse(src)
		if err != nil {
			t.Fatalf("Parse(%s): %v", src, err)
		}
		if err := e.Check(testAttrs); err != nil {
			t.Errorf("Check(%s) = %v, want nil", src, err)
		}
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"department", "displayName", "jobTitle", "mail", "mailNickname", "employeeId"}
	tests := []struct{ name, want string }{
		{"departmnt", "department"},
		{"Department", "department"},
		{"depatrment", "department"}, // a swap counts once
		{"jobtitle", "jobTitle"},
		{"employeeID", "employeeId"},
		{"mial", "mail"},
		{"city", ""},
		{"x", ""},
	}
	for _, tc := range tests {
		if got := Suggest(tc.name, names); got != tc.want {
			t.Errorf("Suggest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestDotNetOnly(t *testing.T) {
	const rest = " is .NET syntax that Go's RE2 does not support; "
	tests := []struct {
		name, pattern string
		use           RegexpUse
		want          string
	}{
		{"lookbehind in a filter", `(?<=@)contoso\.com$`, ForMatch,
			"the lookbehind (?<=…) at position 1 of the pattern" + rest + "for a match anywhere, (?<=x)y matches where xy does: write the text before as part of the pattern"},
		{"lookbehind in Replace", `(?<=@).+$`, ForReplace,
			"the lookbehind (?<=…) at position 1 of the pattern" + rest + `match the text before as well and capture the part to replace in a named group given as regexGroupName, as in Replace([mail], , "@(?<domain>.+)$", "domain", "contoso.com", , )`},
		{"negative lookbehind in a filter", `x(?<!a)b`, ForMatch,
			"the negative lookbehind (?<!…) at position 2 of the pattern" + rest + "test the text that must not come before with NOT REGEX MATCH in another clause of the same filter (the clauses of a filter must all hold)"},
		{"negative lookahead in a filter", `^(?!Contractor)`, ForMatch,
			"the negative lookahead (?!…) at position 2 of the pattern" + rest + `test the unwanted text with NOT REGEX MATCH in another clause of the same filter: ^(?!Contractor) becomes {operator: NOT REGEX MATCH, value: "^Contractor"}`},
		{"atomic group", `(?>ab|a)c`, ForMatch, "the atomic group (?>…) at position 1 of the pattern" + rest + "write (?:…) instead: RE2 never backtracks, so the group needs no atomic marker"},
		{"possessive plus", `a++b`, ForMatch, "the possessive quantifier ++ at position 2 of the pattern" + rest + "drop the last +: RE2 never backtracks, so a+ does what a++ does"},
		{"possessive star", `\d*+x`, ForMatch, "the possessive quantifier *+ at position 3 of the pattern" + rest + "drop the last +: RE2 never backtracks, so a+ does what a++ does"},
		{"possessive optional", `a?+`, ForMatch, "the possessive quantifier ?+ at position 2 of the pattern" + rest + "drop the last +: RE2 never backtracks, so a+ does what a++ does"},
		{"possessive count", `a{2,3}+`, ForMatch, "the possessive quantifier {2,3}+ at position 2 of the pattern" + rest + "drop the last +: RE2 never backtracks, so a{2}+ does what a{2} does"},
		{"backreference", `(a)\1`, ForMatch, `the backreference \1 at position 4 of the pattern` + rest + "RE2 has no backreferences: match the repeated text explicitly"},
		{"named backreference", `(?<x>a)\k<x>`, ForMatch, `the named backreference \k<name> at position 8 of the pattern` + rest + "RE2 has no backreferences: match the repeated text explicitly"},
		{"end anchor", `abc\Z`, ForMatch, `the anchor \Z at position 4 of the pattern` + rest + `write $ (the end of the text, as RE2 reads it without (?m)) or \z instead`},
		{"conditional", `(?(a)b|c)`, ForMatch, "the conditional (?(…)…) at position 1 of the pattern" + rest + "write the alternatives with | instead"},
		{"comment", `a(?#note)b`, ForMatch, "the inline comment (?#…) at position 2 of the pattern" + rest + "remove the comment"},
		{"quoted named group", `(?'x'a)`, ForReplace, "the named group (?'name'…) at position 1 of the pattern" + rest + "write it as (?<name>…), which RE2 supports"},
		{"balancing group", `(?<open-close>x)`, ForMatch, "the balancing group (?<name-other>…) at position 1 of the pattern" + rest + "RE2 has no equivalent: match the text without balancing"},
		{"class subtraction", `^[a-z-[aeiou]]+$`, ForMatch, "the character class subtraction […-[…]] at position 6 of the pattern" + rest +
			"list the characters wanted instead, as in [b-df-hj-np-tv-z] for [a-z-[aeiou]] (RE2 reads the subtraction as a different class)"},

		// What RE2 has too.
		{"lazy quantifiers", `a+?b*?c??d{2}?`, ForMatch, ""},
		{"named group", `(?<domain>[^@]+)$`, ForMatch, ""},
		{"non-capturing group and flags", `(?i:abc)(?s).*`, ForMatch, ""},
		{"escaped specials", `\(\?<=\)\\1\+\+`, ForMatch, ""},
		{"inside a class", `[(?<=)+\1]`, ForMatch, ""},
		{"literal brace", `a{b}+`, ForMatch, ""},
		{"documented example", `.*\@domain.com`, ForMatch, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := DotNetOnly(tc.pattern, tc.use); got != tc.want {
				t.Errorf("DotNetOnly(%q)\n got: %s\nwant: %s", tc.pattern, got, tc.want)
			}
		})
	}
}
