package graphsim_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// TestSDKPrivilegedUser follows "Who can perform sensitive actions"
// (https://learn.microsoft.com/graph/api/resources/users#who-can-perform-sensitive-actions:
// accountEnabled, businessPhones, mobilePhone, onPremisesImmutableId,
// otherMails, passwordProfile and userPrincipalName, and "Delete or restore
// users"), the Update user page
// (https://learn.microsoft.com/graph/api/user-update#permissions: "To update
// sensitive user properties ... for users with privileged administrator
// roles ... In app-only scenarios, the app must be assigned a higher
// privileged administrator role") and the Delete user page
// (https://learn.microsoft.com/graph/api/user-delete#permissions: "In
// app-only scenarios, the User.ReadWrite.All application permission isn't
// enough privilege to delete users with privileged administrative roles").
func TestSDKPrivilegedUser(t *testing.T) {
	ctx := context.Background()
	seed := smallSeed()
	seed.Tenants[0].Users[0]["privileged"] = true // alice
	ts := graphsim.NewTestServer(t, seed)
	client, _ := newClient(t, ts.TenantURL("fabrikam.example"))
	alice := userID(t, ts, "fabrikam.example", "alice@fabrikam.example")
	patch := func(set func(models.Userable)) error {
		u := models.NewUser()
		set(u)
		_, err := client.Users().ByUserId(alice).Patch(ctx, u, nil)
		return err
	}
	tests := []struct {
		name      string
		set       func(models.Userable)
		forbidden bool
	}{
		{"accountEnabled", func(u models.Userable) { u.SetAccountEnabled(ptr(false)) }, true},
		{"businessPhones", func(u models.Userable) { u.SetBusinessPhones([]string{"+1 555 0100"}) }, true},
		{"mobilePhone", func(u models.Userable) { u.SetMobilePhone(ptr("+1 555 0101")) }, true},
		{"onPremisesImmutableId", func(u models.Userable) { u.SetOnPremisesImmutableId(ptr("abc")) }, true},
		{"otherMails", func(u models.Userable) { u.SetOtherMails([]string{"a@northwind.example"}) }, true},
		{"passwordProfile", func(u models.Userable) {
			pp := models.NewPasswordProfile()
			pp.SetPassword(ptr("Sim-Password-2"))
			u.SetPasswordProfile(pp)
		}, true},
		{"userPrincipalName", func(u models.Userable) { u.SetUserPrincipalName(ptr("alice2@fabrikam.example")) }, true},
		{"jobTitle and mobilePhone together", func(u models.Userable) {
			u.SetJobTitle(ptr("Chair"))
			u.SetMobilePhone(ptr("+1 555 0102"))
		}, true},
		{"jobTitle", func(u models.Userable) { u.SetJobTitle(ptr("Chief Executive")) }, false},
		{"department", func(u models.Userable) { u.SetDepartment(ptr("Board")) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := patch(tt.set)
			if tt.forbidden && !isForbidden(err) {
				t.Errorf("err = %v, want 403 Authorization_RequestDenied", err)
			}
			if !tt.forbidden && err != nil {
				t.Errorf("refused: %v", err)
			}
		})
	}
	u, err := client.Users().ByUserId(alice).Get(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if deref(u.GetJobTitle()) != "Chief Executive" || deref(u.GetMobilePhone()) != "<nil>" {
		t.Errorf("jobTitle %q mobilePhone %q: the refused PATCH changed alice", deref(u.GetJobTitle()), deref(u.GetMobilePhone()))
	}
	if _, ok := u.GetAdditionalData()["privileged"]; ok {
		t.Error("a Graph read returned the simulator's privileged marker")
	}
	if err := client.Users().ByUserId(alice).Delete(ctx, nil); !isForbidden(err) {
		t.Errorf("delete: %v, want 403", err)
	}
	// Snapshots keep the marker.
	snap, _ := ts.Snapshot("fabrikam.example")
	for _, o := range snap.Users {
		if o["id"] == alice && o["privileged"] != true {
			t.Errorf("snapshot of alice lacks privileged: %v", o)
		}
	}
	// The admin API clears it; then the app may disable and delete alice,
	// and restoring a user marked again is refused.
	resp, body := call(t, "PATCH", ts.URL+"/_sim/tenants/fabrikam.example/users/alice@fabrikam.example", nil, `{"privileged":false}`)
	if resp.StatusCode != 204 {
		t.Fatalf("admin PATCH: %d %v", resp.StatusCode, body)
	}
	if err := patch(func(u models.Userable) { u.SetAccountEnabled(ptr(false)) }); err != nil {
		t.Errorf("disable after the marker was cleared: %v", err)
	}
	if err := client.Users().ByUserId(alice).Delete(ctx, nil); err != nil {
		t.Fatalf("delete after the marker was cleared: %v", err)
	}
	if err := ts.SetPrivileged("fabrikam.example", alice, true); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Directory().DeletedItems().ByDirectoryObjectId(alice).Restore().Post(ctx, nil); !isForbidden(err) {
		t.Errorf("restore of a privileged user: %v, want 403", err)
	}
	if err := client.Directory().DeletedItems().ByDirectoryObjectId(alice).Delete(ctx, nil); !isForbidden(err) {
		t.Errorf("permanent delete of a privileged user: %v, want 403", err)
	}
	// Graph writes cannot set the marker: it is not a Graph property.
	u2 := models.NewUser()
	u2.SetAdditionalData(map[string]any{"privileged": true})
	if _, err := client.Users().ByUserId("bob@fabrikam.example").Patch(ctx, u2, nil); !isStatus(err, 400) {
		t.Errorf("PATCH privileged through Graph: %v, want 400", err)
	}
	for _, bad := range []struct{ path, body string }{
		{"nobody@fabrikam.example", `{"privileged":true}`},
		{"bob@fabrikam.example", `{}`},
	} {
		resp, _ := call(t, "PATCH", ts.URL+"/_sim/tenants/fabrikam.example/users/"+bad.path, nil, bad.body)
		if resp.StatusCode == 204 {
			t.Errorf("admin PATCH %s %s accepted", bad.path, bad.body)
		}
	}
	raw, _ := json.Marshal(seed)
	if !strings.Contains(string(raw), `"privileged":true`) {
		t.Error("seed JSON lacks the privileged key")
	}
}
