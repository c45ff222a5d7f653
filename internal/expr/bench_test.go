package expr

import (
	"testing"
	"time"
)

// BenchmarkEval measures evaluation of typical mapping expressions against
// one user; parsing happens once, outside the loop, as the mapping does.
func BenchmarkEval(b *testing.B) {
	user := map[string]any{
		"givenName": "Zoë", "surname": "Ünal", "displayName": "Zoë Ünal", "mail": "zoe.unal@fabrikam.example",
		"userPrincipalName": "zoe.unal@fabrikam.example", "department": "Sales", "country": "NL",
		"telephoneNumber": "+31 6123456789", "employeeHireDate": "2021-03-16T07:00:00Z",
		"proxyAddresses": []string{"SMTP:zoe.unal@fabrikam.example", "smtp:zoe@fabrikam.example"},
	}
	env := &Env{Attrs: user, Now: func() time.Time { return docNow }}
	for _, bc := range []struct{ name, src string }{
		{"direct", `[department]`},
		{"append", `Append([displayName], " (Fabrikam)")`},
		{"coalesce", `Coalesce([mail], [userPrincipalName])`},
		{"join-normalize-lower", `ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".", [givenName], [surname]))), "contoso.com"))`},
		{"switch", `Switch([country], "Other", "US", "United States", "NL", "Netherlands", "DE", "Germany")`},
		{"iif-compare", `IIF([country]="NL", IIF(InStr([mail], "@fabrikam") > 0, "Member", "Guest"), "Guest")`},
		{"replace-regex", `Replace([telephoneNumber], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", , "${phoneNumber}", , )`},
		{"format-date", `FormatDateTime([employeeHireDate], , "yyyy-MM-ddTHH:mm:ssK", "yyyy-MM-dd")`},
		{"date-diff", `DateDiff("d", Now(), CDate([employeeHireDate]))`},
		{"pcase", `PCase(Join(" ", [givenName], [surname]))`},
	} {
		e, err := Parse(bc.src)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Eval(env); err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Eval(env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	const src = `Switch([Active], , "1", IIF(DateDiff("d", Now(), CDate([StatusHireDate])) > 5, "False", "True"), "0", "False")`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(src); err != nil {
			b.Fatal(err)
		}
	}
}
