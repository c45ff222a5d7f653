package expr

import (
	"slices"
	"testing"
	"time"
)

// fuzzSeeds are Microsoft's documented expressions and a few edge cases.
var fuzzSeeds = []string{
	`Append([userPrincipalName], ".test")`,
	`BitAnd(&HF, &HF7)`,
	`CBool([attribute1] = [attribute2])`,
	`CDate("2009-06-15T01:45:30-07:00")`,
	`Coalesce([mail],[userPrincipalName])`,
	`ConvertToBase64("Hello world!")`,
	`ConvertToUTF8Hex("Hello world!")`,
	`Count([proxyAddresses])`,
	`CStr([dn])`,
	`DateAdd("d", -10, CDate([StatusHireDate]))`,
	`Switch([Active], , "1", IIF(DateDiff("d", Now(), CDate([StatusHireDate])) > 5, "False", "True"), "0", "False")`,
	`DateFromNum(129699324000000000)`,
	`FormatDateTime([extensionAttribute1], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")`,
	`Guid()`,
	`IgnoreFlowIfNullOrEmpty(Switch([prefix], "", "3443", "Dr.", "3444", "Prof.", "3445", "Prof. Dr."))`,
	`IIF([country]="USA",IIF([state]="CA","True","False"),"False")`,
	`InStr("repEated","e",3,vbBinaryCompare)`,
	`Item([proxyAddresses], 1)`,
	`Join(", ", "", [surname], [givenName])`,
	`Left("John Doe", 3)`,
	`Append(Mid([givenName], 1, 3), Mid([surname], 1, 5))`,
	`NormalizeDiacritics([givenName])`,
	`Not([accountEnabled])`,
	`NumFromDate(Join("", FormatDateTime([ContractEndDate], ,"yyyy-MM-ddzzz", "yyyy-MM-dd"), " 23:59:59-08:00"))`,
	`PCase([lastName]," '-")`,
	`Redact(RandomString(10,2,2,2,1,"?,"))`,
	`RemoveDuplicates([proxyAddresses])`,
	`Replace([telephoneNumber], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", "phoneNumber" , , [mobile], )`,
	`Replace([AddressLineData], ,"(?<streetNumber>^\\d*)","streetNumber", "888", , )`,
	`Replace([UserID],"<username>", , , , , "<username>@contoso.com")`,
	`SelectUniqueValue(Join("@", [a], "contoso.com"), Join("@", Mid([a], 1, 1), "contoso.com"))`,
	`Split([extensionAttribute5], ",")`,
	`StripSpaces([givenName])`,
	`ToUpper([c], "tr-TR")`,
	`Word("This,string!has&many separators",3,",!&#")`,
	`"Company name: \"Contoso\""`,
	`[onPremisesExtensionAttributes.extensionAttribute1]`,
	`IIF(InStr([userPrincipalName], "@partners") > 0,"Guest","Member")`,
	`Apend(`, `"unterminated`, `[x`, `,,`, `f(,)`, `&H`, `-`,
}

// FuzzParse checks that Parse never panics, that the source and the
// canonical form both parse back to the same expression, and that evaluating
// whatever parses never panics either.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	env := &Env{
		Attrs: map[string]any{
			"a": "Ab Cd", "mail": "a@b.example", "n": int64(3), "proxyAddresses": []string{"SMTP:a@b", "smtp:c@d"},
			"accountEnabled": true, "StatusHireDate": "2012-03-16-07:00",
		},
		Now:    func() time.Time { return docNow },
		Random: sequence(),
		Exists: func(string) (bool, error) { return false, nil },
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("Parse(%q) error %T, want *SyntaxError", src, err)
			}
			return
		}
		again, err := Parse(e.String())
		if err != nil || again.Canonical() != e.Canonical() {
			t.Fatalf("Parse(String()) of %q: %v, %q != %q", src, err, again.Canonical(), e.Canonical())
		}
		canon := e.Canonical()
		fromCanon, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(Canonical()) of %q = %q: %v", src, canon, err)
		}
		if fromCanon.Canonical() != canon || !slices.Equal(fromCanon.Attributes(), e.Attributes()) {
			t.Fatalf("canonical form of %q does not round-trip: %q -> %q", src, canon, fromCanon.Canonical())
		}
		_, _ = e.Eval(env) // must not panic; errors are fine
	})
}
