package config

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/internal/mapping"
)

func TestGroupsValid(t *testing.T) {
	suffix := `Append([displayName], " (Fabrikam)")`
	tests := []struct {
		name   string
		doc    string
		want   Groups
		names  []string
		action GroupDeprovision
	}{
		{"left out", doc(all), Groups{}, nil, GroupDeprovisionDelete},
		{"sync by name and id", doc(all, "groups: {sync: [Tailspin collaboration, 0f1e2d3c-0000-4000-8000-000000000001]}"),
			Groups{Sync: []string{"Tailspin collaboration", "0f1e2d3c-0000-4000-8000-000000000001"}},
			[]string{"Tailspin collaboration", "0f1e2d3c-0000-4000-8000-000000000001"}, GroupDeprovisionDelete},
		{"scope groups added once", doc("scope: {groups: [Sales, Tailspin]}", "groups: {sync: [tailspin], scopeGroups: true, deprovision: none}"),
			Groups{Sync: []string{"tailspin"}, ScopeGroups: true, Deprovision: GroupDeprovisionNone},
			[]string{"tailspin", "Sales"}, GroupDeprovisionNone},
		{"mappings", doc(all, "groups:", "  sync: [Tailspin]", "  mappings:",
			`    - {target: displayName, expression: 'Append([displayName], " (Fabrikam)")'}`,
			"    - {target: description, ignore: true}"),
			Groups{Sync: []string{"Tailspin"}, Mappings: []mapping.Rule{
				{Target: "displayName", Expression: suffix}, {Target: "description", Ignore: true}}},
			[]string{"Tailspin"}, GroupDeprovisionDelete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tg := c.Targets[0]
			if !reflect.DeepEqual(tg.Groups, tt.want) {
				t.Errorf("groups\n got %+v\nwant %+v", tg.Groups, tt.want)
			}
			if got := tg.GroupNames(); !reflect.DeepEqual(got, tt.names) {
				t.Errorf("GroupNames() = %q, want %q", got, tt.names)
			}
			if got := tg.Groups.Action(); got != tt.action {
				t.Errorf("Action() = %q, want %q", got, tt.action)
			}
		})
	}
}

// TestGroupsErrors: every mistake in groups is reported at its key path,
// as the user mappings' and scope's are.
func TestGroupsErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"unknown key", doc(all, "groups: {sync: [A], nested: true}"), "targets[0].groups.nested: unknown key (line 7)"},
		{"sync not a list", doc(all, "groups: {sync: Tailspin}"), "targets[0].groups.sync: must be a list (line 7)"},
		{"empty name", doc(all, "groups: {sync: [A, '']}"), "targets[0].groups.sync[1]: must be a group id or display name, not empty (line 7)"},
		{"duplicate", doc(all, "groups: {sync: [Tailspin, tailspin]}"), `targets[0].groups.sync[1]: "tailspin" is already groups.sync[0] (line 7)`},
		{"scopeGroups without scope groups", doc(all, "groups: {scopeGroups: true}"),
			"targets[0].groups.scopeGroups: true, but scope.groups lists no groups: list them there, or the groups to sync in groups.sync (line 7)"},
		{"mappings without groups", doc(all, "groups: {mappings: [{target: description, constant: x}]}"),
			"targets[0].groups.sync: required when groups has mappings or deprovision: list the source groups to sync (ids or display names), or set scopeGroups: true (line 7)"},
		{"deprovision", doc(all, "groups: {sync: [A], deprovision: disable}"), `targets[0].groups.deprovision: must be delete or none, got "disable" (line 7)`},
		{"mapping target a user attribute", doc(all, "groups: {sync: [A], mappings: [{target: jobTitle, source: displayName}]}"),
			`targets[0].groups.mappings[0].target: unknown group attribute "jobTitle": a group mapping writes displayName, description, mailNickname or a directory extension (extension_<appId>_<name>) (line 7)`},
		{"mapping target misspelt", doc(all, "groups: {sync: [A], mappings: [{target: displayname, source: displayName}]}"),
			`targets[0].groups.mappings[0].target: unknown group attribute "displayname" (attribute names are case-sensitive here: did you mean "displayName"?) (line 7)`},
		{"mapping source unknown", doc(all, "groups: {sync: [A], mappings: [{target: description, source: department}]}"),
			`targets[0].groups.mappings[0].source: unknown group attribute "department" (a group mapping reads the source group's displayName, description, mailNickname, mail, id and the like) (line 7)`},
		{"mapping expression", doc(all, `groups: {sync: [A], mappings: [{target: displayName, expression: 'Apend([displayName], "x")'}]}`),
			`targets[0].groups.mappings[0].expression: unknown function "Apend" at column 1 (line 7)`},
		{"mapping two kinds", doc(all, "groups: {sync: [A], mappings: [{target: description, source: description, constant: x}]}"),
			"targets[0].groups.mappings[0].constant: only one of source, constant and expression may be set, not source and constant (line 7)"},
		{"mapping ignore without default", doc(all, "groups: {sync: [A], mappings: [{target: extension_0123456789abcdef0123456789abcdef_x, ignore: true}]}"),
			"targets[0].groups.mappings[0].ignore: there is no default mapping for extension_0123456789abcdef0123456789abcdef_x to drop (line 7)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want:\n%s", c.Targets[0].Groups, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse errors\n got: %s\nwant: %s", err, tt.want)
			}
		})
	}
}

// TestExampleGroupsValidate: the example's commented groups section,
// uncommented, validates and reads as documented.
func TestExampleGroupsValidate(t *testing.T) {
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	start := slices.Index(lines, "    # groups:")
	if start < 0 {
		t.Fatal("the example has no commented groups section")
	}
	for i := start; i < len(lines) && strings.HasPrefix(lines[i], "    # "); i++ {
		lines[i] = "    " + strings.TrimPrefix(lines[i], "    # ")
	}
	c, err := Parse([]byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatalf("the example's groups section does not validate:\n%v", err)
	}
	g := c.Targets[0].Groups
	if !slices.Equal(g.Sync, []string{"Tailspin collaboration", "Northwind contractors"}) || g.Action() != GroupDeprovisionDelete || len(g.Mappings) != 1 {
		t.Errorf("example groups = %+v", g)
	}
}
