package graphsim_test

import (
	"context"
	"testing"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// TestSDKRedeem: an invited user is PendingAcceptance until redeemed
// (https://learn.microsoft.com/graph/api/resources/user#properties,
// externalUserState: "PendingAcceptance" or "Accepted"); redeeming sets
// Accepted, externalUserStateChangeDateTime, and a federated identity as
// objectIdentity describes it
// (https://learn.microsoft.com/graph/api/resources/objectidentity#properties:
// the issuer "For guests from other Microsoft Entra organization, this is
// the domain of the federated organization"). For a Microsoft account and an
// email one-time passcode the issuers are MicrosoftAccount and mail
// (docs/simulator.md explains the choice).
func TestSDKRedeem(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		redemption graphsim.Redemption
		admin      string // redeem through the admin API with this body
		issuer     string
		assignedID string
	}{
		{"entra by Go", graphsim.Redemption{With: "entra", Issuer: "fabrikam.example"}, "", "fabrikam.example", "<nil>"},
		{"entra by admin API", graphsim.Redemption{}, `{"with":"entra","issuer":"fabrikam.example"}`, "fabrikam.example", "<nil>"},
		{"microsoft account", graphsim.Redemption{With: "microsoftAccount"}, "", "MicrosoftAccount", "<nil>"},
		{"email one-time passcode", graphsim.Redemption{}, `{"with":"emailOtp"}`, "mail", "Ann@Fabrikam.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := graphsim.NewTestServer(t, smallSeed())
			client, _ := newClient(t, ts.TenantURL("contoso.example"))
			inv := models.NewInvitation()
			inv.SetInvitedUserEmailAddress(ptr("Ann@Fabrikam.example"))
			inv.SetInviteRedirectUrl(ptr("https://myapps.microsoft.com"))
			got, err := client.Invitations().Post(ctx, inv, nil)
			if err != nil {
				t.Fatal(err)
			}
			id := *got.GetInvitedUser().GetId()
			sel := &users.UserItemRequestBuilderGetRequestConfiguration{QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{
				Select: []string{"id", "externalUserState", "externalUserStateChangeDateTime", "identities"}}}
			before, err := client.Users().ByUserId(id).Get(ctx, sel)
			if err != nil {
				t.Fatal(err)
			}
			if deref(before.GetExternalUserState()) != "PendingAcceptance" || len(before.GetIdentities()) != 0 {
				t.Fatalf("invited user: %s with %d identities", deref(before.GetExternalUserState()), len(before.GetIdentities()))
			}
			ts.AdvanceClock(time.Hour)
			if tt.admin != "" {
				resp, body := call(t, "POST", ts.URL+"/_sim/tenants/contoso.example/users/"+id+"/redeem", nil, tt.admin)
				if resp.StatusCode != 204 {
					t.Fatalf("admin redeem: %d %v", resp.StatusCode, body)
				}
			} else if err := ts.Redeem("contoso.example", id, tt.redemption); err != nil {
				t.Fatal(err)
			}
			after, err := client.Users().ByUserId(id).Get(ctx, sel)
			if err != nil {
				t.Fatal(err)
			}
			if deref(after.GetExternalUserState()) != "Accepted" {
				t.Errorf("externalUserState = %s", deref(after.GetExternalUserState()))
			}
			if ch := after.GetExternalUserStateChangeDateTime(); ch == nil || ch.Before(time.Now().Add(59*time.Minute)) {
				t.Errorf("externalUserStateChangeDateTime = %v, want the simulated time of redemption", ch)
			}
			ids := after.GetIdentities()
			if len(ids) != 1 {
				t.Fatalf("identities: %d, want 1", len(ids))
			}
			if deref(ids[0].GetSignInType()) != "federated" || deref(ids[0].GetIssuer()) != tt.issuer ||
				deref(ids[0].GetIssuerAssignedId()) != tt.assignedID {
				t.Errorf("identity %s %s %s, want federated %s %s", deref(ids[0].GetSignInType()), deref(ids[0].GetIssuer()),
					deref(ids[0].GetIssuerAssignedId()), tt.issuer, tt.assignedID)
			}
			// Inviting the address again reports the completed redemption.
			again, err := client.Invitations().Post(ctx, inv, nil)
			if err != nil || deref(again.GetStatus()) != "Completed" {
				t.Errorf("second invitation: %v %v", deref(again.GetStatus()), err)
			}
		})
	}
}

// TestRedeemRefusals: the admin API refuses what no redemption can be. It
// stands in for the invited person because "Currently, no API is available
// to perform the redemption process"
// (https://learn.microsoft.com/graph/api/resources/invitation); only an
// invited user (creationType Invitation,
// https://learn.microsoft.com/graph/api/resources/user#properties) redeems.
func TestRedeemRefusals(t *testing.T) {
	seed := smallSeed()
	// A seed can still describe a redeemed guest itself.
	seed.Tenants[1].Users = []graphsim.Object{{
		"userPrincipalName": "old_fabrikam.example#EXT#@contoso.onmicrosoft.com", "displayName": "Old",
		"mail": "old@fabrikam.example", "userType": "Guest", "creationType": "Invitation",
		"externalUserState": "Accepted", "identities": []any{map[string]any{"signInType": "federated", "issuer": "fabrikam.example"}},
	}}
	ts := graphsim.NewTestServer(t, seed)
	tests := []struct {
		name, user string
		r          graphsim.Redemption
	}{
		{"no such user", "nobody@contoso.example", graphsim.Redemption{With: "entra", Issuer: "x.example"}},
		{"not invited", "alice@fabrikam.example", graphsim.Redemption{With: "microsoftAccount"}},
		{"unknown provider", "old_fabrikam.example#EXT#@contoso.onmicrosoft.com", graphsim.Redemption{With: "google"}},
		{"entra without issuer", "old_fabrikam.example#EXT#@contoso.onmicrosoft.com", graphsim.Redemption{With: "entra"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := "contoso.example"
			if tt.name == "not invited" {
				tenant = "fabrikam.example"
			}
			if err := ts.Redeem(tenant, tt.user, tt.r); err == nil {
				t.Error("redeemed")
			}
		})
	}
	snap, _ := ts.Snapshot("contoso.example")
	if snap.Users[0]["externalUserState"] != "Accepted" || snap.Users[0]["identities"] == nil {
		t.Errorf("seeded guest: %v", snap.Users[0])
	}
}
