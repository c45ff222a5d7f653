package deploycheck

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/internal/graph"
	"github.com/tenantsync/tenantsync/internal/operator"
)

// The app roles the deployment must ask for, by name and by Microsoft
// Graph's id (https://learn.microsoft.com/graph/permissions-reference): the
// source gets User.Read.All and Group.Read.All (Group.Read.All, not
// GroupMember.Read.All: subscribing to /groups needs it,
// https://learn.microsoft.com/graph/api/subscription-post-subscriptions#permissions),
// the targets consent to User.Invite.All and User.ReadWrite.All, and no
// tenant gets a read scope more.
func wantedGrants() (source, targets []graph.AppRole) {
	return []graph.AppRole{
			{Name: "User.Read.All", ID: "df021288-bdef-4463-88db-98f22de89214"},
			{Name: "Group.Read.All", ID: "5b567255-7703-4780-807c-7be8301ae99b"},
		}, []graph.AppRole{
			{Name: "User.Invite.All", ID: "09850681-111b-4a89-9bed-3f2cae46d706"},
			{Name: "User.ReadWrite.All", ID: "741f803b-c850-494e-b5df-cde7c675a1ca"},
		}
}

// wantedGroupGrants are what the targets consent to besides when the
// deployment provisions groups (groupProvisioning): Group.ReadWrite.All,
// the least privileged permission that covers creating, renaming, deleting
// and restoring groups and their members
// (https://learn.microsoft.com/graph/api/group-update#permissions,
// https://learn.microsoft.com/graph/api/group-delete#permissions).
func wantedGroupGrants() []graph.AppRole {
	return []graph.AppRole{{Name: "Group.ReadWrite.All", ID: "62a82d76-70ea-41e2-9197-370581804d09"}}
}

func names(roles []graph.AppRole) []string {
	var out []string
	for _, r := range roles {
		out = append(out, r.Name)
	}
	return out
}

// TestGraphAppGrantsAreLeastPrivilege reads infra/modules/graph-app.bicep
// and holds its app role assignments (source) and requiredResourceAccess
// (what target administrators consent to) to exactly the wanted roles, by
// id and by name; the wanted roles are also what validate --online checks.
func TestGraphAppGrantsAreLeastPrivilege(t *testing.T) {
	b := readBicep(t, filepath.Join(repoRoot(t), "infra/modules/graph-app.bicep"))
	g, err := ReadGraphAppGrants(b)
	if err != nil {
		t.Fatal(err)
	}
	source, targets := wantedGrants()
	for _, p := range CheckGraphAppGrants(g, names(source), names(targets), names(wantedGroupGrants())) {
		t.Error(p)
	}
	ids := func(roles []graph.AppRole) []string {
		var out []string
		for _, r := range roles {
			out = append(out, r.ID)
			if known, ok := graph.AppRoleByID(r.ID); !ok || known.Name != r.Name {
				t.Errorf("%s is %s by Microsoft Graph's table (graph.AppRoles), not %s", r.ID, known.Name, r.Name)
			}
		}
		slices.Sort(out)
		return out
	}
	sortedCopy := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	if got := sortedCopy(g.Source); !slices.Equal(got, ids(source)) {
		t.Errorf("source app role ids %v, want %v", got, ids(source))
	}
	if got := sortedCopy(g.Consent); !slices.Equal(got, ids(targets)) {
		t.Errorf("requiredResourceAccess app role ids %v, want %v", got, ids(targets))
	}
	if len(g.Other) != 0 {
		t.Errorf("requiredResourceAccess asks for more: %v", g.Other)
	}
	if got := sortedCopy(g.GroupConsent); !slices.Equal(got, ids(wantedGroupGrants())) {
		t.Errorf("requiredResourceAccess app role ids under groupProvisioning %v, want %v", got, ids(wantedGroupGrants()))
	}
	if got, want := sortedCopy(operator.NeededGroupPermissions()), sortedCopy(names(wantedGroupGrants())); !slices.Equal(got, want) {
		t.Errorf("validate --online checks targets provisioning groups for %v; the deployment grants %v", got, want)
	}
	opSource, opTargets := operator.NeededPermissions()
	if !slices.Equal(sortedCopy(opSource), sortedCopy(names(source))) || !slices.Equal(sortedCopy(opTargets), sortedCopy(names(targets))) {
		t.Errorf("validate --online checks source %v and targets %v; the deployment grants %v and %v", opSource, opTargets, names(source), names(targets))
	}
}

// TestCheckGraphAppGrants changes graph-app.bicep in the ways least
// privilege can be lost and checks that each is caught, naming the
// permission and its id.
func TestCheckGraphAppGrants(t *testing.T) {
	orig := readBicep(t, filepath.Join(repoRoot(t), "infra/modules/graph-app.bicep")).Src
	const (
		groupMemberReadAll = "98830695-27a2-44f7-8c18-0c3ebc9698f6"
		directoryReadAll   = "7ab1d382-f21e-4acd-a863-ba3e13f7da61"
	)
	rolesVar := "var graphAppRoles = {\n"
	consentList := "      resourceAccess: [\n"
	extraAssignment := func(appRoleID string) string {
		return orig + "\nresource extra 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {\n  principalId: servicePrincipal.id\n" +
			"  resourceId: microsoftGraph.id\n  appRoleId: " + appRoleID + "\n}\n"
	}
	tests := []struct {
		name string
		src  string
		want []string // each in some problem
	}{{
		name: "as deployed", src: orig,
	}, {
		name: "the old GroupMember.Read.All assigned in the source",
		src: strings.Replace(extraAssignment("graphAppRoles.groupMemberReadAll"),
			rolesVar, rolesVar+"  groupMemberReadAll: '"+groupMemberReadAll+"'\n", 1),
		want: []string{"source (appRoleAssignedTo): GroupMember.Read.All (" + groupMemberReadAll + ") is an extra read scope"},
	}, {
		name: "Directory.Read.All assigned by a literal id",
		src:  extraAssignment("'" + directoryReadAll + "'"),
		want: []string{"source (appRoleAssignedTo): Directory.Read.All (" + directoryReadAll + ") is an extra read scope"},
	}, {
		name: "targets asked for User.Read.All as well",
		src:  strings.Replace(orig, consentList, consentList+"        {\n          id: graphAppRoles.userReadAll\n          type: 'Role'\n        }\n", 1),
		want: []string{"targets (requiredResourceAccess, what admin consent grants): User.Read.All (df021288-bdef-4463-88db-98f22de89214) is an extra read scope"},
	}, {
		name: "targets asked for the source's Group.Read.All",
		src:  strings.Replace(orig, consentList, consentList+"        {\n          id: graphAppRoles.groupReadAll\n          type: 'Role'\n        }\n", 1),
		want: []string{"targets (requiredResourceAccess, what admin consent grants): Group.Read.All (5b567255-7703-4780-807c-7be8301ae99b) is an extra read scope"},
	}, {
		name: "every target asked for Group.ReadWrite.All, groups or not",
		src:  strings.Replace(orig, consentList, consentList+"        {\n          id: graphAppRoles.groupReadWriteAll\n          type: 'Role'\n        }\n", 1),
		want: []string{"targets (requiredResourceAccess, what admin consent grants): Group.ReadWrite.All (62a82d76-70ea-41e2-9197-370581804d09) is an extra permission"},
	}, {
		name: "groupProvisioning asks for nothing",
		src:  strings.Replace(orig, "id: graphAppRoles.groupReadWriteAll", "id: graphAppRoles.userReadWriteAll", 1),
		want: []string{
			"targets provisioning groups (requiredResourceAccess under groupProvisioning): Group.ReadWrite.All (62a82d76-70ea-41e2-9197-370581804d09) is missing",
			"targets provisioning groups (requiredResourceAccess under groupProvisioning): User.ReadWrite.All (741f803b-c850-494e-b5df-cde7c675a1ca) is an extra permission",
		},
	}, {
		name: "a delegated scope",
		src:  strings.Replace(orig, consentList, consentList+"        {\n          id: 'e1fe6dd8-ba31-4d61-89e7-88639da4683d'\n          type: 'Scope'\n        }\n", 1),
		want: []string{"requiredResourceAccess asks for e1fe6dd8-ba31-4d61-89e7-88639da4683d of " + MicrosoftGraphAppID + " (type Scope)"},
	}, {
		name: "Group.Read.All's assignment commented out",
		src:  strings.Replace(orig, "resource sourceGroupReadAll", "// resource sourceGroupReadAll", 1),
		want: []string{"source (appRoleAssignedTo): Group.Read.All (5b567255-7703-4780-807c-7be8301ae99b) is missing"},
	}, {
		name: "a key that names another permission than its id",
		src:  strings.Replace(orig, "userReadAll: 'df021288-bdef-4463-88db-98f22de89214'", "userReadAll: '741f803b-c850-494e-b5df-cde7c675a1ca'", 1),
		want: []string{
			"graphAppRoles.userReadAll is User.ReadWrite.All (741f803b-c850-494e-b5df-cde7c675a1ca), whose key would be userReadWriteAll",
			"source (appRoleAssignedTo): User.ReadWrite.All (741f803b-c850-494e-b5df-cde7c675a1ca) is an extra permission",
			"source (appRoleAssignedTo): User.Read.All (df021288-bdef-4463-88db-98f22de89214) is missing",
		},
	}, {
		name: "an id that is no Microsoft Graph permission",
		src:  strings.Replace(orig, "userInviteAll: '09850681-111b-4a89-9bed-3f2cae46d706'", "userInviteAll: '00000000-1111-2222-3333-444444444444'", 1),
		want: []string{
			"graphAppRoles.userInviteAll is app role 00000000-1111-2222-3333-444444444444, which is not a Microsoft Graph permission tenantsync knows",
			"User.Invite.All (09850681-111b-4a89-9bed-3f2cae46d706) is missing",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseBicep(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			g, err := ReadGraphAppGrants(b)
			if err != nil {
				t.Fatal(err)
			}
			source, targets := wantedGrants()
			problems := CheckGraphAppGrants(g, names(source), names(targets), names(wantedGroupGrants()))
			if len(tt.want) == 0 && len(problems) != 0 {
				t.Errorf("problems with the file as deployed:\n%s", strings.Join(problems, "\n"))
			}
			for _, w := range tt.want {
				if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, w) }) {
					t.Errorf("no problem says %q; problems:\n%s", w, strings.Join(problems, "\n"))
				}
			}
		})
	}
}

func TestReadGraphAppGrantsErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"no roles variable", "resource x 'Microsoft.Graph/applications@v1.0' = {\n  requiredResourceAccess: []\n}\n", "no var graphAppRoles"},
		{"an unresolvable id", "var graphAppRoles = {\n  a: 'x'\n}\nresource r 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {\n  appRoleId: other.id\n}\n", "cannot resolve"},
		{"an unknown key", "var graphAppRoles = {\n  a: 'x'\n}\nresource r 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {\n  appRoleId: graphAppRoles.b\n}\n", "no key b"},
		{"no requiredResourceAccess", "var graphAppRoles = {\n  a: 'x'\n}\n", "0 requiredResourceAccess lists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseBicep(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ReadGraphAppGrants(b); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}
