package expr

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
		column          int
	}{
		{"unknown function", `Apend([givenName], "x")`, `unknown function "Apend" at column 1`, 1},
		{"unknown nested function", `Append([a], Lft([b], 1))`, `unknown function "Lft" at column 13`, 13},
		{"function names are case-sensitive", `append([a], "x")`,
			`unknown function "append" (function names are case-sensitive: did you mean "Append"?) at column 1`, 1},
		{"too many arguments", `Append([a], "b", "c")`, `Append expects 2 arguments, got 3 at column 1`, 1},
		{"too few arguments", `  Mid([a], 1)`, `Mid expects 3 arguments, got 2 at column 3`, 3},
		{"range of arguments", `InStr("a")`, `InStr expects 2 to 4 arguments, got 1 at column 1`, 1},
		{"variadic minimum", `Join(",")`, `Join expects at least 2 arguments, got 1 at column 1`, 1},
		{"no arguments", `Now(1)`, `Now expects no arguments, got 1 at column 1`, 1},
		{"Switch needs pairs", `Switch([a], "d", "k")`, `Switch expects an even number of arguments, at least 4 (source, defaultValue, then key and value pairs), got 3 at column 1`, 1},
		{"unterminated string", `Append([a], "abc)`, `unterminated string at column 13`, 13},
		{"unterminated attribute", `Append([abc, "x")`, `unterminated attribute reference at column 8`, 8},
		{"invalid attribute character", `[first name]`, `invalid character ' ' in attribute name at column 7`, 7},
		{"empty attribute", `Append([], "x")`, `empty attribute reference [] at column 8`, 8},
		{"unexpected token", `Append(, "x")`, `Append: argument 1 (source) is required at column 8`, 8},
		{"unexpected close", `)`, `unexpected ")" at column 1`, 1},
		{"trailing input", `Append([a], "b") [c]`, `unexpected attribute [c] after the end of the expression at column 18`, 18},
		{"missing close", `Append([a], "b"`, `missing ) to close Append( at column 1`, 1},
		{"missing comma", `Append([a] "b")`, `unexpected string "b" in the arguments of Append: expected "," or ")" at column 12`, 12},
		{"empty", `   `, `empty expression at column 1`, 1},
		{"bare name", `department`, `unknown name "department" (attribute references are written in brackets: [department]) at column 1`, 1},
		{"function without parentheses", `Now`, `function Now needs parentheses: Now(…) at column 1`, 1},
		{"constant case", `IIF(true, "a", "b")`, `unknown name "true" (names are case-sensitive: did you mean "True"?) at column 5`, 5},
		{"chained comparison", `IIF([a] = [b] = [c], "x", "y")`, `unexpected operator =: comparisons cannot be chained at column 15`, 15},
		{"bad character", `Append([a], 'b')`, `unexpected character '\'' at column 13`, 13},
		{"number out of range", `Left([a], 99999999999999999999)`, `number 99999999999999999999 out of range at column 11`, 11},
		{"columns count characters, not bytes", `Append("ë", Apend("x"))`, `unknown function "Apend" at column 13`, 13},
		{"SelectUniqueValue must be top-level", `ToLower(SelectUniqueValue([a], [b]))`, `SelectUniqueValue must be the whole expression: it cannot be nested at column 9`, 9},
		{"Replace needs a documented form", `Replace([a], "x", , , , , )`, `Replace: give oldValue with replacementValue or template`, 1},
		{"Replace rejects lookahead (RE2)", `Replace([a], , "foo(?=bar)", , "x", , )`, `Replace: invalid regular expression: the lookahead (?=…) at position 4 of the pattern is .NET syntax that Go's RE2 does not support; match the text after as well and capture the part to replace in a named group given as regexGroupName at column 16`, 16},
		{"Replace group must exist", `Replace([a], , "(?<x>a)", "y", "z", , )`, `Replace: regexPattern has no group "y" at column 27`, 27},
		{"Replace requires 7 arguments", `Replace([a], "x", "y")`, `Replace expects 7 arguments, got 3 at column 1`, 1},
		{"FormatDateTime bad style", `FormatDateTime([a], "Sideways", "yyyy", "yyyy")`, `FormatDateTime: unknown DateTimeStyles value "Sideways" at column 21`, 21},
		{"FormatDateTime bad format", `FormatDateTime([a], , "ffffffff", "yyyy")`, `FormatDateTime: date format "ffffffff": at most 7 f at column 23`, 23},
		{"DateAdd bad interval", `DateAdd("days", 1, Now())`, `DateAdd: unknown interval "days" (want yyyy, q, m, y, d, w, ww, h, n or s) at column 9`, 9},
		{"Item index starts at 1", `Item([proxyAddresses], 0)`, `Item: index starts at 1, got 0 at column 24`, 24},
		{"Mid start starts at 1", `Mid([a], 0, 2)`, `Mid: start must be 1 or more, got 0 at column 10`, 10},
		{"RandomString too long", `RandomString(300,1,1,1,1)`, `RandomString: length 300 is more than 256 at column 1`, 1},
		{"RandomString minimums", `RandomString(4,2,2,2,2)`, `RandomString: the minimums add up to 8, more than the length 4 at column 1`, 1},
		{"InStr compareType", `InStr("a", "b", 1, 5)`, `InStr: compareType must be vbBinaryCompare or vbTextCompare at column 20`, 20},
		{"hex without digits", `BitAnd(&H, 1)`, `hexadecimal number without digits at column 8`, 8},
		{"too deep", strings.Repeat("ToLower(", 150) + "[a]" + strings.Repeat(")", 150), "expression nested too deeply", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Parse(tc.src)
			if err == nil {
				t.Fatalf("Parse(%s) = %v, want an error", tc.src, e.Canonical())
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%s) error %T %v, want *SyntaxError", tc.src, err, err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("Parse(%s) error\n got: %s\nwant: %s", tc.src, err, tc.want)
			}
			if tc.column > 0 && se.Column != tc.column {
				t.Fatalf("Parse(%s) column %d, want %d", tc.src, se.Column, tc.column)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		src, canonical string
		attrs          []string
	}{
		{`[department]`, `[department]`, []string{"department"}},
		{`[onPremisesExtensionAttributes.extensionAttribute1]`, `[onPremisesExtensionAttributes.extensionAttribute1]`,
			[]string{"onPremisesExtensionAttributes.extensionAttribute1"}},
		{`"Company name: \"Contoso\""`, `"Company name: \"Contoso\""`, nil},
		{`"back\\slash and \d"`, `"back\\slash and \\d"`, nil},
		{"Append(\n\t[givenName] ,\" \" )", `Append([givenName], " ")`, []string{"givenName"}},
		{`Replace([mail], "@contoso.com", , ,"", ,)`, `Replace([mail], "@contoso.com", , , "", , )`, []string{"mail"}},
		{`BitAnd(&hf, &HF7)`, `BitAnd(&HF, &HF7)`, nil},
		{`IIF([a]<>[b],[c],[a])`, `IIF([a] <> [b], [c], [a])`, []string{"a", "b", "c"}},
		{`IIF(InStr([u],"@p")>=1,True,False)`, `IIF(InStr([u], "@p") >= 1, True, False)`, []string{"u"}},
		{`DateAdd("d", -10, Now())`, `DateAdd("d", -10, Now())`, nil},
		{`Switch([Active], , "1", "a", "0", "b")`, `Switch([Active], , "1", "a", "0", "b")`, []string{"Active"}},
		{`[extension_0123456789abcdef_costCenter]`, `[extension_0123456789abcdef_costCenter]`, []string{"extension_0123456789abcdef_costCenter"}},
	}
	for _, tc := range tests {
		e, err := Parse(tc.src)
		if err != nil {
			t.Fatalf("Parse(%s): %v", tc.src, err)
		}
		if got := e.Canonical(); got != tc.canonical {
			t.Errorf("Parse(%s).Canonical() = %s, want %s", tc.src, got, tc.canonical)
		}
		if e.String() != tc.src {
			t.Errorf("String() = %q, want the source %q", e.String(), tc.src)
		}
		if got := e.Attributes(); !slices.Equal(got, tc.attrs) {
			t.Errorf("Parse(%s).Attributes() = %v, want %v", tc.src, got, tc.attrs)
		}
	}
}

func TestAttributesAndFunctions(t *testing.T) {
	e, err := Parse(`Coalesce(Append([mail], [x]), [userPrincipalName], Join(",", [mail], ToLower([x])))`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.Attributes(), []string{"mail", "userPrincipalName", "x"}; !slices.Equal(got, want) {
		t.Errorf("Attributes() = %v, want %v", got, want)
	}
	if got, want := e.Functions(), []string{"Append", "Coalesce", "Join", "ToLower"}; !slices.Equal(got, want) {
		t.Errorf("Functions() = %v, want %v", got, want)
	}
	// The slices are copies: changing them does not change the expression.
	e.Attributes()[0] = "changed"
	if e.Attributes()[0] != "mail" {
		t.Error("Attributes() shares its slice")
	}
}

// TestEveryFunctionIsKnown checks the function table against the list the
// issue and Microsoft's reference give.
func TestEveryFunctionIsKnown(t *testing.T) {
	want := []string{"Append", "BitAnd", "CBool", "CDate", "Coalesce", "ConvertToBase64", "ConvertToUTF8Hex", "Count",
		"CStr", "DateAdd", "DateDiff", "DateFromNum", "FormatDateTime", "Guid", "IgnoreFlowIfNullOrEmpty", "IIF", "InStr",
		"IsNull", "IsNullOrEmpty", "IsPresent", "IsString", "Item", "Join", "Left", "Mid", "NormalizeDiacritics", "Not",
		"Now", "NumFromDate", "PCase", "RandomString", "Redact", "RemoveDuplicates", "Replace", "SelectUniqueValue",
		"Split", "StripSpaces", "Switch", "ToLower", "ToUpper", "Word"}
	slices.Sort(want)
	if got := FunctionNames(); !slices.Equal(got, want) {
		t.Fatalf("FunctionNames() = %v\nwant %v", got, want)
	}
}
