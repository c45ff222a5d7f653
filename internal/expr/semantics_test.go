package expr

import "testing"

// TestNullHandling pins down what every function does with a null (absent)
// attribute: the documented rules (Left and Word give "", Coalesce skips,
// Switch matches "", IIF's condition fails) and tenantsync's rule for the
// rest: a null source gives null, so that the mapping's default applies.
func TestNullHandling(t *testing.T) {
	runEvalCases(t, []evalCase{
		{name: "Append null source", src: `Append([x], "s")`, want: nil},
		{name: "Append null suffix", src: `Append("a", [x])`, want: "a"},
		{name: "CBool null is False", src: `CBool([x])`, want: false},
		{name: "CDate null", src: `CDate([x])`, want: nil},
		{name: "Coalesce all null without default", src: `Coalesce([x], [y])`, want: nil},
		{name: "Coalesce default empty string", src: `Coalesce([x], [y], "")`, want: ""},
		{name: "Coalesce skips empty strings", src: `Coalesce([x], [y])`, attrs: attrs{"x": "", "y": "b"}, want: "b"},
		{name: "ConvertToBase64 null", src: `ConvertToBase64([x])`, want: nil},
		{name: "ConvertToUTF8Hex null", src: `ConvertToUTF8Hex([x])`, want: nil},
		{name: "Count null is 0", src: `Count([x])`, want: int64(0)},
		{name: "CStr null", src: `CStr([x])`, want: nil},
		{name: "DateAdd null date", src: `DateAdd("d", 1, [x])`, want: nil},
		{name: "DateDiff null date", src: `DateDiff("d", [x], Now())`, want: nil},
		{name: "DateFromNum null", src: `DateFromNum([x])`, want: nil},
		{name: "FormatDateTime null", src: `FormatDateTime([x], , "yyyy", "yyyy")`, want: nil},
		{name: "IIF null condition is false", src: `IIF([x], "t", "f")`, want: "f"},
		{name: "InStr null", src: `InStr([x], "a")`, want: nil},
		{name: "IsString null", src: `IsString([x])`, want: false},
		{name: "Item null", src: `Item([x], 1)`, want: nil},
		{name: "Join skips nulls", src: `Join("-", [x], "a", [y], "b")`, want: "a-b"},
		{name: "Left null is empty", src: `Left([x], 2)`, want: ""},
		{name: "Mid null", src: `Mid([x], 1, 2)`, want: nil},
		{name: "NormalizeDiacritics null", src: `NormalizeDiacritics([x])`, want: nil},
		{name: "Not null is True", src: `Not([x])`, want: true},
		{name: "NumFromDate null", src: `NumFromDate([x])`, want: nil},
		{name: "PCase null", src: `PCase([x])`, want: nil},
		{name: "Redact null", src: `Redact([x])`, want: nil},
		{name: "RemoveDuplicates null", src: `RemoveDuplicates([x])`, want: nil},
		{name: "Replace null source", src: `Replace([x], "a", , , "b", , )`, want: nil},
		{name: "SelectUniqueValue all null", src: `SelectUniqueValue([x], [y])`, want: nil},
		{name: "Split null", src: `Split([x], ",")`, want: nil},
		{name: "StripSpaces null", src: `StripSpaces([x])`, want: nil},
		{name: "Switch null source matches the empty key", src: `Switch([x], "d", "", "empty")`, want: "empty"},
		{name: "ToLower null", src: `ToLower([x])`, want: nil},
		{name: "ToUpper null", src: `ToUpper([x])`, want: nil},
		{name: "Word null is empty", src: `Word([x], 1, " ")`, want: ""},
		{name: "comparison with null is false", src: `[x] = ""`, want: false},
		{name: "not-equal with null is false too", src: `[x] <> "USA"`, want: false},
		{name: "empty multi-valued attribute is null", src: `IsNull([x])`, attrs: attrs{"x": []string{}}, want: true},
	})
}

func TestFunctionSemantics(t *testing.T) {
	runEvalCases(t, []evalCase{
		{name: "BitAnd of numeric strings", src: `BitAnd([flags], 2)`, attrs: attrs{"flags": "514"}, want: int64(2)},
		{name: "CBool of a non-zero number", src: `CBool(5)`, want: true},
		{name: "CBool of zero", src: `CBool("0")`, want: false},
		{name: "CBool of true in lower case", src: `CBool("true")`, want: true},
		{name: "CBool of a word is an error", src: `CBool("yes")`, err: `CBool at column 1: expects True or False, got "yes"`},
		{name: "CStr of a boolean", src: `CStr([accountEnabled])`, attrs: attrs{"accountEnabled": true}, want: "True"},
		{name: "CStr of a number", src: `CStr(42)`, want: "42"},
		{name: "Count of a multi-valued attribute", src: `Count([proxyAddresses])`, attrs: attrs{"proxyAddresses": []string{"a", "b", "c"}}, want: int64(3)},
		{name: "Count of a single value", src: `Count([mail])`, attrs: attrs{"mail": "a@b"}, want: int64(1)},
		{name: "DateAdd clamps to the end of the month", src: `DateAdd("m", 1, CDate("2021-01-31"))`, want: "2/28/2021 12:00:00 AM"},
		{name: "DateAdd leap day plus a year", src: `DateAdd("yyyy", 1, CDate("2020-02-29T10:00:00Z"))`, want: "2/28/2021 10:00:00 AM"},
		{name: "DateAdd minutes", src: `DateAdd("n", 90, CDate("2021-01-01T00:00:00Z"))`, want: "1/1/2021 1:30:00 AM"},
		{name: "DateAdd quarter", src: `DateAdd("q", 1, CDate("2021-01-15"))`, want: "4/15/2021 12:00:00 AM"},
		{name: "DateAdd out of range", src: `DateAdd("yyyy", 9000, Now())`, err: "date out of range"},
		{name: "DateAdd on a string date", src: `DateAdd("d", 1, "2021-12-31")`, want: "1/1/2022 12:00:00 AM"},
		{name: "DateDiff truncates partial days", src: `DateDiff("d", CDate("2021-01-01T00:00:00Z"), CDate("2021-01-02T23:00:00Z"))`, want: int64(1)},
		{name: "DateDiff w counts whole weeks", src: `DateDiff("w", CDate("2021-08-25"), CDate("2021-09-07"))`, want: int64(1)},
		{name: "DateDiff ww counts Sundays crossed", src: `DateDiff("ww", CDate("2021-08-28"), CDate("2021-08-29"))`, want: int64(1)},
		{name: "DateDiff quarter", src: `DateDiff("q", CDate("2021-03-31"), CDate("2021-04-01"))`, want: int64(1)},
		{name: "DateFromNum zero is 1601", src: `DateFromNum(0)`, want: "1/1/1601 12:00:00 AM"},
		{name: "DateFromNum never-expires is out of range", src: `DateFromNum(9223372036854775807)`, err: "date out of range"},
		{name: "NumFromDate inverts DateFromNum", src: `NumFromDate(DateFromNum(129699324000000000))`, want: int64(129699324000000000)},
		{name: "FormatDateTime to a standard format", src: `FormatDateTime([d], , "yyyy-MM-dd", "D")`, attrs: attrs{"d": "2021-07-02"}, want: "Friday, July 2, 2021"},
		{name: "FormatDateTime with month names", src: `FormatDateTime([d], , "dd MMM yyyy", "MMMM d, yyyy")`, attrs: attrs{"d": "05 feb 2020"}, want: "February 5, 2020"},
		{name: "FormatDateTime 12-hour clock", src: `FormatDateTime([d], , "M/d/yyyy h:mm tt", "HH:mm")`, attrs: attrs{"d": "1/2/2020 12:05 AM"}, want: "00:05"},
		{name: "FormatDateTime offset converts to UTC", src: `FormatDateTime([d], , "yyyy-MM-ddTHH:mmzzz", "yyyy-MM-dd HH:mm")`, attrs: attrs{"d": "2020-12-31T20:00+08:00"}, want: "2020-12-31 12:00"},
		{name: "FormatDateTime K of a UTC time", src: `FormatDateTime([d], , "yyyy-MM-ddTHH:mm:ssK", "o")`, attrs: attrs{"d": "2020-12-31T20:00:00Z"}, want: "2020-12-31T20:00:00.0000000Z"},
		{name: "FormatDateTime quoted literals", src: `FormatDateTime([d], , "yyyyMMdd", "'Day' d 'of' MMMM")`, attrs: attrs{"d": "20200105"}, want: "Day 5 of January"},
		{name: "FormatDateTime AssumeUniversal", src: `FormatDateTime([d], "AssumeUniversal", "yyyyMMdd", "yyyy-MM-ddK")`, attrs: attrs{"d": "20200105"}, want: "2020-01-05Z"},
		{name: "FormatDateTime optional fraction", src: `FormatDateTime([d], , "HH:mm:ss.FFF", "HH:mm:ss.FFF")`, attrs: attrs{"d": "10:11:12"}, want: "10:11:12"},
		{name: "FormatDateTime with a mismatch", src: `FormatDateTime([d], , "yyyy-MM-dd", "yyyy")`, attrs: attrs{"d": "31/12/2020"}, err: `"31/12/2020" does not match the date format`},
		{name: "FormatDateTime invalid date", src: `FormatDateTime([d], , "yyyy-MM-dd", "yyyy")`, attrs: attrs{"d": "2021-02-29"}, err: "is not a valid date"},
		{name: "InStr vbTextCompare", src: `InStr("repEated", "e", 3, vbTextCompare)`, want: int64(4)},
		{name: "InStr not found", src: `InStr("abc", "z")`, want: int64(0)},
		{name: "InStr counts characters", src: `InStr("Zoë Ünal", "Ü")`, want: int64(5)},
		{name: "IsString of a string", src: `IsString([a])`, attrs: attrs{"a": "x"}, want: true},
		{name: "IsString of a date", src: `IsString(Now())`, want: true},
		{name: "IsString of a boolean", src: `IsString([a])`, attrs: attrs{"a": true}, want: false},
		{name: "IsPresent of whitespace", src: `IsPresent([a])`, attrs: attrs{"a": " "}, want: true},
		{name: "Item past the end", src: `Item([p], 3)`, attrs: attrs{"p": []string{"a", "b"}}, want: nil},
		{name: "Mid past the end", src: `Mid("abc", 2, 10)`, want: "bc"},
		{name: "Mid start beyond the string", src: `Mid("abc", 5, 1)`, want: ""},
		{name: "Mid of a negative start from an attribute", src: `Mid("abc", [n], 1)`, attrs: attrs{"n": int64(0)}, err: "Mid at column 1: start must be 1 or more, got 0"},
		{name: "NormalizeDiacritics table rows", src: `NormalizeDiacritics("ÅÆÇĎÉĞÍŁÑØŘßŠŤÜÝŽ åæçďéğíłñøřšťüýž ǖ İı")`, want: "AAECDEGILNOERssSTUYZ aaecdegilnoerstuyz u Ii"},
		{name: "NormalizeDiacritics combining sequences", src: "NormalizeDiacritics(\"a\u0331 e\u0308 o\u0304\u0301 \u0153\u0304 \u0153\")", want: "a e o oe \u0153"},
		{name: "NormalizeDiacritics keeps other scripts", src: `NormalizeDiacritics("Ωμέγα 東京")`, want: "Ωμέγα 東京"},
		{name: "Not of False", src: `Not("False")`, want: true},
		{name: "Not of true in lower case", src: `Not("true")`, want: false},
		{name: "Not of a boolean", src: `Not(IsNull([x]))`, want: false},
		{name: "PCase keeps apostrophes inside words", src: `PCase("o'NEIL mc-donald")`, want: "O'neil Mc-Donald"},
		// .NET ToTitleCase starts a word at the first letter, so "3rd" becomes "3Rd".
		{name: "PCase starts words at letters, as .NET does", src: `PCase("3RD floor")`, want: "3Rd Floor"},
		{name: "PCase with separators only splits on them", src: `PCase("anne-marie o'neil", "-")`, want: "Anne-Marie o'neil"},
		{name: "RemoveDuplicates of a single value", src: `RemoveDuplicates([a])`, attrs: attrs{"a": "x"}, want: "x"},
		{name: "Replace text, all occurrences", src: `Replace([a], "a", , , "o", , )`, attrs: attrs{"a": "banana"}, want: "bonono"},
		{name: "Replace .NET substitutions", src: `Replace([a], , "(\\w+)@(?<d>\\w+)", , "$2 at ${d}: $& [$$] $1", , )`, attrs: attrs{"a": "jo@contoso"}, want: "contoso at contoso: jo@contoso [$] jo"},
		{name: "Replace unknown group stays literal", src: `Replace([a], , "(x)", , "$9${nope}", , )`, attrs: attrs{"a": "x"}, want: "$9${nope}"},
		{name: "Replace with a pattern from an attribute", src: `Replace([a], , [p], , "-", , )`, attrs: attrs{"a": "a1b2", "p": "[0-9]"}, want: "a-b-"},
		{name: "Replace with a bad pattern from an attribute", src: `Replace([a], , [p], , "-", , )`, attrs: attrs{"a": "a", "p": "(?=x)"}, err: "invalid regular expression"},
		{name: "Replace from attribute without a match", src: `Replace([a], , "(?<n>\\d+)", "n", , [b], )`, attrs: attrs{"b": "none"}, want: nil},
		{name: "Split drops empty items", src: `Split("a,,b,", ",")`, want: []string{"a", "b"}},
		{name: "Split with a multi-character delimiter", src: `Split("a; b;c", ";")`, want: []string{"a", "b", "c"}},
		{name: "StripSpaces removes only spaces", src: "StripSpaces(\" a b\tc \")", want: "ab\tc"},
		{name: "ToUpper invariant", src: `ToUpper("istanbul")`, want: "ISTANBUL"},
		{name: "ToUpper Turkish", src: `ToUpper("istanbul", "tr-TR")`, want: "İSTANBUL"},
		{name: "ToLower Turkish", src: `ToLower("IŞIK", "tr-TR")`, want: "ışık"},
		{name: "Word skips empty words", src: `Word("a,,b", 2, ",")`, want: "b"},
		{name: "Word number below 1", src: `Word("a b", 0, " ")`, want: ""},
		{name: "Word beyond the end", src: `Word("a b", 3, " ")`, want: ""},
		{name: "numbers compare as numbers", src: `[n] > 9`, attrs: attrs{"n": "10"}, want: true},
		{name: "strings compare as strings", src: `[n] > "9"`, attrs: attrs{"n": "10"}, want: false},
		{name: "booleans compare with True", src: `[accountEnabled] = True`, attrs: attrs{"accountEnabled": true}, want: true},
		{name: "booleans compare with a string", src: `[accountEnabled] = "False"`, attrs: attrs{"accountEnabled": false}, want: true},
		{name: "dates compare as dates", src: `CDate("2021-01-02") > CDate("2020-12-31")`, want: true},
		{name: "string comparison is case-sensitive", src: `[c] = "usa"`, attrs: attrs{"c": "USA"}, want: false},
		{name: "attribute names are case-insensitive, as in Graph", src: `[Department]`, attrs: attrs{"department": "Sales"}, want: "Sales"},
		{name: "dotted attribute", src: `[onPremisesExtensionAttributes.extensionAttribute1]`, attrs: attrs{"onPremisesExtensionAttributes.extensionAttribute1": "x"}, want: "x"},
		{name: "multi-valued where one value is needed", src: `Append([p], "x")`, attrs: attrs{"p": []string{"a", "b"}}, err: "Append at column 1: source expects a single value"},
		{name: "results copy lists", src: `[p]`, attrs: attrs{"p": []string{"a"}}, want: []string{"a"}},
		{name: "Go int attributes are numbers", src: `[n] >= 2`, attrs: attrs{"n": 2}, want: true},
	})
	// ErrIgnoreFlow propagates from anywhere in the expression.
	runEvalCases(t, []evalCase{
		{name: "IgnoreFlowIfNullOrEmpty nested", src: `Append(IgnoreFlowIfNullOrEmpty([x]), "y")`, err: "ignore"},
		{name: "IgnoreFlowIfNullOrEmpty in the branch not taken", src: `IIF(True, "a", IgnoreFlowIfNullOrEmpty([x]))`, want: "a"},
	})
}

func TestEvalErrorNamesTheInnermostCall(t *testing.T) {
	e, err := Parse(`ToLower(Append("a", Mid("abc", [n], 1)))`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Eval(&Env{Attrs: map[string]any{"n": "zero"}})
	if err == nil || err.Error() != `Mid at column 21: start expects a number, got "zero"` {
		t.Fatalf("err = %v", err)
	}
}

func TestEvalIsSafeForConcurrentUse(t *testing.T) {
	e, err := Parse(`Replace(Join(" ", [givenName], [surname]), , "(?<first>\\w+) (?<last>\\w+)", , "${last}, ${first}", , )`)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string)
	for i := range 8 {
		go func() {
			v, err := e.Eval(&Env{Attrs: map[string]any{"givenName": "G" + string(rune('a'+i)), "surname": "S"}})
			if err != nil {
				done <- err.Error()
				return
			}
			done <- v.(string)
		}()
	}
	seen := map[string]bool{}
	for range 8 {
		seen[<-done] = true
	}
	for i := range 8 {
		if want := "S, G" + string(rune('a'+i)); !seen[want] {
			t.Fatalf("missing %q in %v", want, seen)
		}
	}
}
