package config

import (
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/internal/mapping"
	"github.com/tenantsync/tenantsync/internal/scope"
)

// TestSchemaErrors: what every sync would fail on is found offline, with
// the key's path, the column and a suggestion.
func TestSchemaErrors(t *testing.T) {
	const re2 = " is .NET syntax that Go's RE2 does not support; "
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"misspelt source attribute in an expression", doc(all, "mappings:",
			"  - {target: displayName, source: displayName}",
			"  - {target: jobTitle, source: jobTitle}",
			`  - {target: department, expression: 'Coalesce([departmnt], "Unknown")'}`),
			`targets[0].mappings[2].expression: unknown source attribute "departmnt" at column 11 (did you mean "department"?) (line 10)`},
		{"source attribute in the wrong case", doc(all, `mappings: [{target: city, expression: 'ToUpper([City])'}]`),
			`targets[0].mappings[0].expression: unknown source attribute "City" at column 10 (did you mean "city"? attribute names are case-sensitive) (line 7)`},
		{"extension attribute without its complex property", doc(all, `mappings: [{target: department, expression: 'Coalesce([extensionAttribute3], "x")'}]`),
			`targets[0].mappings[0].expression: unknown source attribute "extensionAttribute3" at column 11 (did you mean "onPremisesExtensionAttributes.extensionAttribute3"? Graph nests the extension attributes) (line 7)`},
		{"source attribute Graph cannot list", doc(all, `mappings: [{target: jobTitle, expression: 'Append([aboutMe], "")'}]`),
			`targets[0].mappings[0].expression: source attribute "aboutMe" cannot be read: it is a SharePoint profile property, which Graph returns only for one user at a time ($select on GET /users/{id}), not in the user lists and delta queries tenantsync reads the source with at column 9 (line 7)`},
		{"complex property read whole", doc(all, `mappings: [{target: department, source: employeeOrgData}]`),
			`targets[0].mappings[0].source: source attribute "employeeOrgData" cannot be read: it is a complex property: name a part, as in [employeeOrgData.costCenter] (line 7)`},
		{"misspelt source", doc(all, `mappings: [{target: department, source: departmnt}]`),
			`targets[0].mappings[0].source: unknown source attribute "departmnt" (did you mean "department"?) (line 7)`},
		{"string where a number must be", doc(all, `mappings: [{target: jobTitle, expression: 'Left([jobTitle], "abc")'}]`),
			`targets[0].mappings[0].expression: Left: argument 2 (numChars) must be a number, got the string "abc" at column 18 (line 7)`},
		{"Boolean attribute where a number must be", doc(all, `mappings: [{target: jobTitle, expression: 'Left([jobTitle], [accountEnabled])'}]`),
			`targets[0].mappings[0].expression: Left: argument 2 (numChars) must be a number, got [accountEnabled], a Boolean at column 18 (line 7)`},
		{"misspelt target", doc(all, `mappings: [{target: departmnt, source: department}]`),
			`targets[0].mappings[0].target: unknown target attribute "departmnt" (did you mean "department"?) (line 7)`},
		{"target in the wrong case", doc(all, `mappings: [{target: JobTitle, source: jobTitle}]`),
			`targets[0].mappings[0].target: unknown target attribute "JobTitle" (did you mean "jobTitle"? attribute names are case-sensitive) (line 7)`},
		{"read-only target", doc(all, `mappings: [{target: createdDateTime, source: createdDateTime}]`),
			`targets[0].mappings[0].target: "createdDateTime" cannot be written: Graph sets it: it is read-only (line 7)`},
		{"target tenantsync does not write", doc(all, `mappings: [{target: proxyAddresses, source: proxyAddresses}]`),
			`targets[0].mappings[0].target: "proxyAddresses" cannot be written: Graph sets it: it is read-only (line 7)`},
		{"unknown target, nothing close", doc(all, `mappings: [{target: favouriteColour, constant: blue}]`),
			`targets[0].mappings[0].target: unknown target attribute "favouriteColour": not a Graph user property (learn.microsoft.com/graph/api/resources/user), onPremisesExtensionAttributes.extensionAttribute1 to 15 or a directory extension (extension_<appId>_<name>) (line 7)`},
		{"invitation address", doc(all, `inviteAddress: 'Coalesce([mial], [userPrincipalName])'`),
			`targets[0].inviteAddress: unknown source attribute "mial" at column 11 (did you mean "mail"?) (line 7)`},
		{"lookbehind in REGEX MATCH", doc("scope:", "  filters:", `    - - {attribute: mail, operator: REGEX MATCH, value: '(?<=@)contoso\.com$'}`),
			"targets[0].scope.filters[0][0].value: invalid regular expression: the lookbehind (?<=…) at position 1 of the pattern" + re2 +
				"for a match anywhere, (?<=x)y matches where xy does: write the text before as part of the pattern (docs/scoping.md) (line 8)"},
		{"negative lookbehind in NOT REGEX MATCH", doc("scope:", "  filters:", `    - - {attribute: jobTitle, operator: NOT REGEX MATCH, value: '(?<!Vice )President'}`),
			"targets[0].scope.filters[0][0].value: invalid regular expression: the negative lookbehind (?<!…) at position 1 of the pattern" + re2 +
				"test the text that must not come before with NOT REGEX MATCH in another clause of the same filter (the clauses of a filter must all hold) (docs/scoping.md) (line 8)"},
		{"possessive quantifier in REGEX MATCH", doc("scope:", "  filters:", `    - - {attribute: employeeId, operator: REGEX MATCH, value: '^\d++$'}`),
			"targets[0].scope.filters[0][0].value: invalid regular expression: the possessive quantifier ++ at position 4 of the pattern" + re2 +
				"drop the last +: RE2 never backtracks, so a+ does what a++ does (docs/scoping.md) (line 8)"},
		{"class subtraction, which RE2 would read differently", doc("scope:", "  filters:", `    - - {attribute: mailNickname, operator: REGEX MATCH, value: '^[a-z-[xyz]]+$'}`),
			"targets[0].scope.filters[0][0].value: invalid regular expression: the character class subtraction […-[…]] at position 6 of the pattern" + re2 +
				"list the characters wanted instead, as in [b-df-hj-np-tv-z] for [a-z-[aeiou]] (RE2 reads the subtraction as a different class) (docs/scoping.md) (line 8)"},
		{"lookbehind in a Replace", doc(all, `mappings: [{target: mail, expression: 'Replace([mail], , "(?<=@).+$", , "contoso.com", , )'}]`),
			"targets[0].mappings[0].expression: Replace: invalid regular expression: the lookbehind (?<=…) at position 1 of the pattern" + re2 +
				`match the text before as well and capture the part to replace in a named group given as regexGroupName, as in Replace([mail], , "@(?<domain>.+)$", "domain", "contoso.com", , ) at column 19 (line 7)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse succeeded, want:\n%s", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse errors\n got: %s\nwant: %s", err, tt.want)
			}
		})
	}
}

// TestSchemaAccepts: what tenantsync can read and write passes.
func TestSchemaAccepts(t *testing.T) {
	for _, m := range []string{
		`{target: department, expression: 'Coalesce([department], "Unknown")'}`,
		`{target: onPremisesExtensionAttributes.extensionAttribute3, source: onPremisesExtensionAttributes.extensionAttribute1}`,
		`{target: extension_0123456789abcdef0123456789abcdef_costCode, source: extension_0123456789abcdef0123456789abcdef_costCode}`,
		`{target: employeeOrgData.costCenter, source: employeeOrgData.costCenter}`,
		`{target: jobTitle, expression: 'Left([jobTitle], 10)'}`,
		`{target: employeeLeaveDateTime, expression: 'DateAdd("d", 30, [employeeHireDate])'}`,
		`{target: otherMails, source: proxyAddresses}`,
		`{target: manager, source: manager}`,
	} {
		if _, err := Parse([]byte(doc(all, "mappings: ["+m+"]"))); err != nil {
			t.Errorf("mapping %s: %v", m, err)
		}
	}
}

// TestSchemaAgreesWithMappingAndScope: every property the table says
// tenantsync writes compiles as a mapping target (internal/mapping), and
// every property it reads compiles in a scoping clause (internal/scope), so
// that the one table and the packages that act on it do not drift apart.
func TestSchemaAgreesWithMappingAndScope(t *testing.T) {
	for _, p := range UserProperties() {
		if p.Writable && p.Kind != KindRelation {
			rule := mapping.Rule{Target: p.Name, Source: "displayName"}
			if p.Kind == KindBoolean {
				rule = mapping.Rule{Target: p.Name, Expression: "True"}
			}
			if _, err := mapping.Compile([]mapping.Rule{rule}); err != nil && !strings.Contains(err.Error(), "Member or Guest") {
				t.Errorf("%s is writable in the table, but internal/mapping refuses it: %v", p.Name, err)
			}
		}
		if !p.Writable && p.NotWritten == "" {
			t.Errorf("%s is not writable, and the table does not say why", p.Name)
		}
		// internal/scope keeps a table of its own, which lacks these three
		// (dates no scoping filter has needed); it should be built from
		// this one.
		scopeLacks := map[string]bool{"deletedDateTime": true, "lastPasswordChangeDateTime": true, "signInSessionsValidFromDateTime": true}
		if p.NotRead == "" && p.Kind != KindRelation && !scopeLacks[p.Name] {
			f := scope.Filter{{Attribute: p.Name, Operator: scope.IsNotNull}}
			if _, err := scope.Compile(scope.Spec{All: true, Filters: []scope.Filter{f}}); err != nil {
				t.Errorf("%s is readable in the table, but internal/scope does not know it: %v", p.Name, err)
			}
		}
	}
}
