package scope

import (
	"slices"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/internal/directory"
)

const (
	salesGroup = "6f1c2a4e-0000-4000-8000-000000000001"
	otherGroup = "6f1c2a4e-0000-4000-8000-000000000002"
)

// designFilters are the filters of DESIGN.md's example config.
var designFilters = []Filter{
	{{"department", Equals, "Sales"}, {"accountEnabled", IsTrue, ""}},
	{{"jobTitle", RegexMatch, "^Director"}},
}

func user(attrs directory.Attributes) directory.User {
	return directory.User{ID: "u1", Attrs: attrs}
}

func TestEvaluate(t *testing.T) {
	names := map[string]string{salesGroup: "Cross-tenant sync", otherGroup: "Partners"}
	tests := []struct {
		name     string
		spec     Spec
		attrs    directory.Attributes
		memberOf []string
		want     Decision
	}{
		{
			name:     "group and filter",
			spec:     Spec{GroupIDs: []string{salesGroup}, GroupNames: names, Filters: designFilters},
			attrs:    directory.Attributes{"userType": "Member", "department": "Sales", "accountEnabled": true},
			memberOf: []string{salesGroup},
			want:     Decision{true, `in scope: member of group "Cross-tenant sync" (id ` + salesGroup + `) and filter 1 matched (department EQUALS "Sales" and accountEnabled IS TRUE)`},
		},
		{
			name:     "second filter",
			spec:     Spec{GroupIDs: []string{salesGroup}, GroupNames: names, Filters: designFilters},
			attrs:    directory.Attributes{"userType": "Member", "department": "HR", "jobTitle": "Director of HR"},
			memberOf: []string{salesGroup},
			want:     Decision{true, `in scope: member of group "Cross-tenant sync" (id ` + salesGroup + `) and filter 2 matched (jobTitle REGEX MATCH "^Director")`},
		},
		{
			name:     "no filter matched",
			spec:     Spec{GroupIDs: []string{salesGroup}, GroupNames: names, Filters: designFilters},
			attrs:    directory.Attributes{"userType": "Member", "department": "Sales", "accountEnabled": false},
			memberOf: []string{salesGroup},
			want:     Decision{false, `out of scope: no filter matched: filter 1: accountEnabled IS TRUE is false (accountEnabled is false); filter 2: jobTitle REGEX MATCH "^Director" is false (jobTitle is null)`},
		},
		{
			name:  "group id without name, case-insensitive id",
			spec:  Spec{GroupIDs: []string{salesGroup}},
			attrs: directory.Attributes{"userType": "Member"},
			// Graph answers lower-case ids, but nothing guarantees it.
			memberOf: []string{"6F1C2A4E-0000-4000-8000-000000000001"},
			want:     Decision{true, "in scope: member of group " + salesGroup},
		},
		{
			name:     "not a member",
			spec:     Spec{GroupIDs: []string{salesGroup}, GroupNames: names},
			attrs:    directory.Attributes{"userType": "Member"},
			memberOf: []string{"11111111-0000-4000-8000-000000000009"},
			want:     Decision{false, `out of scope: not a member of group "Cross-tenant sync" (id ` + salesGroup + `)`},
		},
		{
			name:  "not a member of several",
			spec:  Spec{GroupIDs: []string{salesGroup, otherGroup}, GroupNames: map[string]string{salesGroup: "Cross-tenant sync"}},
			attrs: directory.Attributes{"userType": "Member"},
			want:  Decision{false, `out of scope: not a member of any scoping group: "Cross-tenant sync" (id ` + salesGroup + `), ` + otherGroup},
		},
		{
			name:     "second group",
			spec:     Spec{GroupIDs: []string{salesGroup, otherGroup}, GroupNames: names},
			attrs:    directory.Attributes{"userType": "Member"},
			memberOf: []string{otherGroup},
			want:     Decision{true, `in scope: member of group "Partners" (id ` + otherGroup + `)`},
		},
		{
			name:     "guest out",
			spec:     Spec{GroupIDs: []string{salesGroup}},
			attrs:    directory.Attributes{"userType": "Guest"},
			memberOf: []string{salesGroup},
			want:     Decision{false, "out of scope: userType is Guest"},
		},
		{
			name:  "guest out before anything else",
			spec:  Spec{All: true, Filters: designFilters},
			attrs: directory.Attributes{"userType": "Guest", "jobTitle": "Director"},
			want:  Decision{false, "out of scope: userType is Guest"},
		},
		{
			name:     "guest in with IncludeGuests",
			spec:     Spec{GroupIDs: []string{salesGroup}, IncludeGuests: true},
			attrs:    directory.Attributes{"userType": "Guest"},
			memberOf: []string{salesGroup},
			want:     Decision{true, "in scope: member of group " + salesGroup},
		},
		{
			name:  "null userType is a member",
			spec:  Spec{All: true},
			attrs: directory.Attributes{},
			want:  Decision{true, "in scope: all users"},
		},
		{
			name:  "all ignores groups",
			spec:  Spec{All: true, GroupIDs: []string{salesGroup}},
			attrs: directory.Attributes{"userType": "Member"},
			want:  Decision{true, "in scope: all users"},
		},
		{
			name:  "all and filter",
			spec:  Spec{All: true, Filters: designFilters},
			attrs: directory.Attributes{"userType": "Member", "jobTitle": "Director"},
			want:  Decision{true, `in scope: all users and filter 2 matched (jobTitle REGEX MATCH "^Director")`},
		},
		{
			name:  "filters alone",
			spec:  Spec{Filters: designFilters},
			attrs: directory.Attributes{"userType": "Member", "department": "Sales", "accountEnabled": true},
			want:  Decision{true, `in scope: filter 1 matched (department EQUALS "Sales" and accountEnabled IS TRUE)`},
		},
		{
			name:  "filters alone, none matched",
			spec:  Spec{Filters: []Filter{{{"employeeId", GreaterThan, "100"}}}},
			attrs: directory.Attributes{"userType": "Member", "employeeId": "E77"},
			want:  Decision{false, `out of scope: no filter matched: filter 1: employeeId Greater_Than 100 is false (employeeId is "E77", not an integer)`},
		},
		{
			name:  "empty scope",
			spec:  Spec{},
			attrs: directory.Attributes{"userType": "Member"},
			want:  Decision{false, "out of scope: the scope selects no users (all is false, with no groups and no filters)"},
		},
		{
			name:  "long values are cut",
			spec:  Spec{All: true, Filters: []Filter{{{"displayName", Equals, "x"}}}},
			attrs: directory.Attributes{"displayName": "0123456789012345678901234567890123456789012345678901234567890123456789"},
			want:  Decision{false, `out of scope: no filter matched: filter 1: displayName EQUALS "x" is false (displayName is "0123456789012345678901234567890123456789012345678901234567890123…")`},
		},
		{
			name:  "lists are described",
			spec:  Spec{All: true, Filters: []Filter{{{"otherMails", Includes, "@fabrikam"}}}},
			attrs: directory.Attributes{"otherMails": []string{"a@x", "b@x", "c@x", "d@x", "e@x", "f@x", "g@x"}},
			want:  Decision{false, `out of scope: no filter matched: filter 1: otherMails Includes "@fabrikam" is false (otherMails is ["a@x", "b@x", "c@x", "d@x", "e@x", … 2 more])`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Compile(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			got := s.Evaluate(user(tt.attrs), tt.memberOf)
			if got != tt.want {
				t.Errorf("Evaluate\n got %v %s\nwant %v %s", got.InScope, got.Reason, tt.want.InScope, tt.want.Reason)
			}
		})
	}
}

func TestSelectsNothing(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string // "" when the scope can select someone
	}{
		{"empty", Spec{}, "all is false, with no groups and no filters"},
		{"empty filter list", Spec{Filters: []Filter{}}, "all is false, with no groups and no filters"},
		{"all", Spec{All: true}, ""},
		{"groups", Spec{GroupIDs: []string{salesGroup}}, ""},
		{"filters", Spec{Filters: designFilters}, ""},
		{"two EQUALS", Spec{All: true, Filters: []Filter{{{"department", Equals, "Sales"}, {"department", Equals, "HR"}}}},
			`no filter can match: filter 1: department EQUALS "Sales" contradicts department EQUALS "HR"`},
		{"same EQUALS twice", Spec{All: true, Filters: []Filter{{{"department", Equals, "Sales"}, {"Department", Equals, "Sales"}}}}, ""},
		{"EQUALS and NOT EQUALS", Spec{All: true, Filters: []Filter{{{"department", Equals, "Sales"}, {"department", NotEquals, "Sales"}}}},
			`no filter can match: filter 1: department EQUALS "Sales" contradicts department NOT EQUALS "Sales"`},
		{"IS NULL and anything", Spec{All: true, Filters: []Filter{{{"jobTitle", RegexMatch, "."}, {"jobTitle", IsNull, ""}}}},
			`no filter can match: filter 1: jobTitle REGEX MATCH "." contradicts jobTitle IS NULL`},
		{"IS NULL and NOT EQUALS", Spec{All: true, Filters: []Filter{{{"jobTitle", IsNull, ""}, {"jobTitle", NotEquals, "x"}}}},
			`no filter can match: filter 1: jobTitle IS NULL contradicts jobTitle NOT EQUALS "x"`},
		{"IS TRUE and IS FALSE", Spec{All: true, Filters: []Filter{{{"accountEnabled", IsFalse, ""}, {"accountEnabled", IsTrue, ""}}}},
			`no filter can match: filter 1: accountEnabled IS FALSE contradicts accountEnabled IS TRUE`},
		{"bool EQUALS in two spellings", Spec{All: true, Filters: []Filter{{{"accountEnabled", Equals, "true"}, {"accountEnabled", NotEquals, "TRUE"}}}},
			`no filter can match: filter 1: accountEnabled EQUALS "true" contradicts accountEnabled NOT EQUALS "TRUE"`},
		{"EQUALS against REGEX", Spec{All: true, Filters: []Filter{{{"jobTitle", Equals, "Engineer"}, {"jobTitle", RegexMatch, "^Director"}}}},
			`no filter can match: filter 1: jobTitle EQUALS "Engineer" contradicts jobTitle REGEX MATCH "^Director"`},
		{"EQUALS within REGEX", Spec{All: true, Filters: []Filter{{{"jobTitle", Equals, "Director"}, {"jobTitle", RegexMatch, "^Director"}}}}, ""},
		{"EQUALS against NOT REGEX", Spec{All: true, Filters: []Filter{{{"jobTitle", NotRegexMatch, "^Dir"}, {"jobTitle", Equals, "Director"}}}},
			`no filter can match: filter 1: jobTitle NOT REGEX MATCH "^Dir" contradicts jobTitle EQUALS "Director"`},
		{"EQUALS against ENDS_WITH", Spec{All: true, Filters: []Filter{{{"mail", Equals, "a@contoso.example"}, {"mail", EndsWith, "@fabrikam.example"}}}},
			`no filter can match: filter 1: mail EQUALS "a@contoso.example" contradicts mail ENDS_WITH "@fabrikam.example"`},
		{"EQUALS against Includes", Spec{All: true, Filters: []Filter{{{"mail", Equals, "a@contoso.example"}, {"mail", Includes, "fabrikam"}}}},
			`no filter can match: filter 1: mail EQUALS "a@contoso.example" contradicts mail Includes "fabrikam"`},
		{"REGEX and NOT REGEX", Spec{All: true, Filters: []Filter{{{"jobTitle", RegexMatch, "^D"}, {"jobTitle", NotRegexMatch, "^D"}}}},
			`no filter can match: filter 1: jobTitle REGEX MATCH "^D" contradicts jobTitle NOT REGEX MATCH "^D"`},
		{"& and !&", Spec{All: true, Filters: []Filter{{{"extensionAttribute1", BitAnd, "0x2"}, {"extensionAttribute1", NotBitAnd, "2"}}}},
			`no filter can match: filter 1: onPremisesExtensionAttributes.extensionAttribute1 & 0x2 contradicts onPremisesExtensionAttributes.extensionAttribute1 !& 2`},
		{"different attributes", Spec{All: true, Filters: []Filter{{{"department", Equals, "Sales"}, {"jobTitle", Equals, "HR"}}}}, ""},
		{"guest-only filter without guests", Spec{All: true, Filters: []Filter{{{"userType", Equals, "Guest"}}}},
			`no filter can match: filter 1: userType EQUALS "Guest", but guests are out of scope (includeGuests is false)`},
		{"not-member filter without guests", Spec{GroupIDs: []string{salesGroup}, Filters: []Filter{{{"userType", NotEquals, "Member"}}}},
			`no filter can match: filter 1: userType NOT EQUALS "Member", but guests are out of scope (includeGuests is false)`},
		{"guest-only filter with guests", Spec{All: true, IncludeGuests: true, Filters: []Filter{{{"userType", Equals, "Guest"}}}}, ""},
		{"one good filter is enough", Spec{All: true, Filters: []Filter{
			{{"department", Equals, "Sales"}, {"department", Equals, "HR"}},
			{{"department", Equals, "HR"}},
		}}, ""},
		{"every filter contradicts", Spec{All: true, Filters: []Filter{
			{{"department", Equals, "Sales"}, {"department", Equals, "HR"}},
			{{"accountEnabled", IsTrue, ""}, {"accountEnabled", IsFalse, ""}},
		}}, `no filter can match: filter 1: department EQUALS "Sales" contradicts department EQUALS "HR"; filter 2: accountEnabled IS TRUE contradicts accountEnabled IS FALSE`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Compile(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			got, nothing := s.SelectsNothing()
			if nothing != (tt.want != "") || got != tt.want {
				t.Errorf("SelectsNothing() = %q, %v; want %q", got, nothing, tt.want)
			}
			// Whatever SelectsNothing reports as contradictory really admits
			// no one: try a user built from every clause's value.
			if nothing && len(tt.spec.Filters) > 0 {
				for _, f := range tt.spec.Filters {
					for _, c := range f {
						u := user(directory.Attributes{"userType": "Member", c.Attribute: c.Value})
						if d := s.Evaluate(u, nil); d.InScope {
							t.Errorf("scope reported as selecting nothing admits %v: %s", u.Attrs, d.Reason)
						}
					}
				}
			}
		})
	}
}

// TestExternalUsersOutOfScope: Cross-Tenant Synchronization syncs
// internal members only; a B2B user of the source, even one with userType
// Member, is out unless IncludeExternal (issue 19, defect 6).
func TestExternalUsersOutOfScope(t *testing.T) {
	internal := directory.Attributes{"userType": "Member", "userPrincipalName": "ada@fabrikam.example"}
	with := func(k string, v any) directory.Attributes {
		a := internal.Clone()
		a[k] = v
		return a
	}
	tests := []struct {
		name  string
		attrs directory.Attributes
		why   string // "" for internal
	}{
		{"internal member", internal, ""},
		{"#EXT# in the UPN", with("userPrincipalName", "ada_contoso.example#EXT#@fabrikam.onmicrosoft.com"), "has #EXT#"},
		{"lower-case #ext#", with("userPrincipalName", "ada_contoso.example#ext#@fabrikam.onmicrosoft.com"), "has #EXT#"},
		{"invited", with("creationType", "Invitation"), "creationType is Invitation"},
		{"redeemed member", with("externalUserState", "Accepted"), "externalUserState is Accepted"},
		{"pending", with("externalUserState", "PendingAcceptance"), "externalUserState is PendingAcceptance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := user(tt.attrs)
			strict, _ := Compile(Spec{All: true})
			open, _ := Compile(Spec{All: true, IncludeExternal: true})
			d := strict.Evaluate(u, nil)
			if d.InScope != (tt.why == "") || !strings.Contains(d.Reason, tt.why) {
				t.Errorf("Evaluate = %+v, want in scope %v with %q", d, tt.why == "", tt.why)
			}
			if tt.why != "" && !strings.Contains(d.Reason, "includeExternal is false") {
				t.Errorf("reason %q does not name the setting", d.Reason)
			}
			if d := open.Evaluate(u, nil); !d.InScope {
				t.Errorf("with IncludeExternal: %+v, want in scope", d)
			}
		})
	}
}

func TestAttributes(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want []string
	}{
		{"groups only", Spec{GroupIDs: []string{salesGroup}}, []string{"creationType", "externalUserState", "userPrincipalName", "userType"}},
		{"guests included", Spec{All: true, IncludeGuests: true}, []string{"creationType", "externalUserState", "userPrincipalName"}},
		{"guests and externals included", Spec{All: true, IncludeGuests: true, IncludeExternal: true}, nil},
		{"design filters", Spec{All: true, IncludeExternal: true, Filters: designFilters}, []string{"accountEnabled", "department", "jobTitle", "userType"}},
		{"canonical and deduplicated", Spec{All: true, IncludeGuests: true, IncludeExternal: true, Filters: []Filter{
			{{"extensionAttribute3", IsNotNull, ""}, {"Department", Equals, "a"}},
			{{"onPremisesExtensionAttributes.extensionAttribute3", Equals, "b"}, {"department", Equals, "b"}},
		}}, []string{"department", "onPremisesExtensionAttributes.extensionAttribute3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Compile(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Attributes(); !slices.Equal(got, tt.want) {
				t.Errorf("Attributes() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestScopeString(t *testing.T) {
	tests := []struct {
		spec       Spec
		want       string
		usesGroups bool
	}{
		{Spec{}, "no users", false},
		{Spec{All: true, IncludeGuests: true, IncludeExternal: true}, "all users", false},
		{Spec{All: true, IncludeGuests: true}, "all users, internal users only (no external users)", false},
		{Spec{GroupIDs: []string{salesGroup}, GroupNames: map[string]string{salesGroup: "Cross-tenant sync"}, Filters: designFilters},
			`members of "Cross-tenant sync" (id ` + salesGroup + `), members only (no guests), internal users only (no external users), where (department EQUALS "Sales" and accountEnabled IS TRUE) or (jobTitle REGEX MATCH "^Director")`, true},
		{Spec{IncludeExternal: true, Filters: []Filter{{{"employeeId", GreaterThanOrEquals, "10"}}}}, "all users, members only (no guests), where (employeeId Greater_Than_OR_EQUALS 10)", false},
		{Spec{All: true, GroupIDs: []string{salesGroup}}, "all users, members only (no guests), internal users only (no external users)", false},
	}
	for _, tt := range tests {
		s, err := New(tt.spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.String(); got != tt.want {
			t.Errorf("String()\n got %s\nwant %s", got, tt.want)
		}
		if got := s.UsesGroups(); got != tt.usesGroups {
			t.Errorf("%s: UsesGroups() = %v, want %v", tt.want, got, tt.usesGroups)
		}
	}
}

func BenchmarkEvaluate(b *testing.B) {
	s, err := Compile(Spec{GroupIDs: []string{salesGroup, otherGroup}, Filters: designFilters})
	if err != nil {
		b.Fatal(err)
	}
	users := []directory.User{
		user(directory.Attributes{"userType": "Member", "department": "Sales", "accountEnabled": true}),
		user(directory.Attributes{"userType": "Member", "department": "HR", "jobTitle": "Director of HR"}),
		user(directory.Attributes{"userType": "Member", "department": "HR", "jobTitle": "Engineer"}),
	}
	memberOf := []string{otherGroup}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Evaluate(users[i%len(users)], memberOf)
	}
}
