package graphsim_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// graphErr returns the status, code and message of an OData error.
func graphErr(err error) (int, string, string) {
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) || oe.GetErrorEscaped() == nil {
		return 0, "", ""
	}
	return oe.ResponseStatusCode, deref(oe.GetErrorEscaped().GetCode()), deref(oe.GetErrorEscaped().GetMessage())
}

// TestSDKInvitationAddressRules follows the invitedUserEmailAddress
// property of the invitation resource
// (https://learn.microsoft.com/graph/api/resources/invitation#properties),
// which lists the special characters not permitted in the email address —
// tilde, exclamation point, number sign, dollar sign, percent, circumflex,
// ampersand, asterisk, parentheses, plus sign, equal sign, brackets, braces,
// backslash, slash mark, pipe, semicolon, colon, quotation marks, angle
// brackets, question mark, comma — with two exceptions: a period or a
// hyphen anywhere in the user name except at its beginning or end, and an
// underscore anywhere. Graph's answer, "The Primary SMTP Address is an
// invalid value", is the one reported in
// https://github.com/microsoftgraph/msgraph-sdk-dotnet/issues/2786.
func TestSDKInvitationAddressRules(t *testing.T) {
	ctx := context.Background()
	ts := graphsim.NewTestServer(t, smallSeed())
	client, _ := newClient(t, ts.TenantURL("contoso.example"))
	tests := []struct {
		addr string
		ok   bool
	}{
		{"ann.lee@northwind.example", true},
		{"ann-lee@northwind.example", true},
		{"_ann_@northwind.example", true},
		{"a.n-n_l@sub.northwind.example", true},
		{".ann@northwind.example", false},
		{"ann.@northwind.example", false},
		{"-ann@northwind.example", false},
		{"ann-@northwind.example", false},
		{"ann+tag@northwind.example", false},
		{"ann~x@northwind.example", false},
		{"ann!x@northwind.example", false},
		{"ann#x@northwind.example", false},
		{"ann$x@northwind.example", false},
		{"ann%x@northwind.example", false},
		{"ann^x@northwind.example", false},
		{"ann&x@northwind.example", false},
		{"ann*x@northwind.example", false},
		{"ann(x)@northwind.example", false},
		{"ann=x@northwind.example", false},
		{"ann[x]@northwind.example", false},
		{"ann{x}@northwind.example", false},
		{`ann\x@northwind.example`, false},
		{"ann/x@northwind.example", false},
		{"ann|x@northwind.example", false},
		{"ann;x@northwind.example", false},
		{"ann:x@northwind.example", false},
		{`ann"x@northwind.example`, false},
		{"ann<x>@northwind.example", false},
		{"ann?x@northwind.example", false},
		{"ann,x@northwind.example", false},
		{"ann@x@northwind.example", false},
		{"ann@", false},
		{"@northwind.example", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			inv := models.NewInvitation()
			inv.SetInvitedUserEmailAddress(ptr(tt.addr))
			inv.SetInviteRedirectUrl(ptr("https://myapps.microsoft.com"))
			_, err := client.Invitations().Post(ctx, inv, nil)
			if tt.ok {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			status, code, msg := graphErr(err)
			if status != 400 || code != "BadRequest" || msg != "The Primary SMTP Address is an invalid value" {
				t.Errorf("got %d %s %q, want 400 BadRequest", status, code, msg)
			}
		})
	}
}

// TestSDKMailUnique: a user's mail may not be another object's mail or
// proxy address. Entra answers 400 Request_BadRequest "Another object with
// the same value for property proxyAddresses already exists." (quoted in
// https://learn.microsoft.com/exchange/troubleshoot/email-alias/proxy-address-being-used;
// the Graph reference does not document it). Soft-deleted objects keep
// their addresses (the stricter reading, see docs/simulator.md).
func TestSDKMailUnique(t *testing.T) {
	ctx := context.Background()
	seed := smallSeed()
	fab := &seed.Tenants[0]
	fab.Users[2]["proxyAddresses"] = []string{"SMTP:carol@fabrikam.example", "smtp:cc@fabrikam.example"}
	fab.Groups = append(fab.Groups, graphsim.Object{"displayName": "Sales", "mail": "sales@fabrikam.example",
		"proxyAddresses": []string{"SMTP:sales@fabrikam.example", "smtp:orders@fabrikam.example"}, "mailEnabled": true})
	fab.DeletedUsers = []graphsim.Object{{"userPrincipalName": "old@fabrikam.example", "displayName": "Old", "mail": "old@fabrikam.example"}}
	ts := graphsim.NewTestServer(t, seed)
	client, _ := newClient(t, ts.TenantURL("fabrikam.example"))
	bob := userID(t, ts, "fabrikam.example", "bob@fabrikam.example")
	tests := []struct {
		mail string
		ok   bool
	}{
		{"alice@fabrikam.example", false},  // another user's mail
		{"ALICE@Fabrikam.example", false},  // case-insensitively
		{"cc@fabrikam.example", false},     // another user's proxy address
		{"sales@fabrikam.example", false},  // a group's mail
		{"Orders@fabrikam.example", false}, // a group's proxy address
		{"old@fabrikam.example", false},    // a soft-deleted user's mail
		{"bob@fabrikam.example", true},     // bob's own
		{"robert@fabrikam.example", true},
	}
	for _, tt := range tests {
		t.Run(tt.mail, func(t *testing.T) {
			u := models.NewUser()
			u.SetMail(ptr(tt.mail))
			_, err := client.Users().ByUserId(bob).Patch(ctx, u, nil)
			if tt.ok {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			status, code, msg := graphErr(err)
			if status != 400 || code != "Request_BadRequest" || msg != "Another object with the same value for property proxyAddresses already exists." {
				t.Errorf("got %d %s %q", status, code, msg)
			}
		})
	}
	// Creating a user with a taken mail fails the same way.
	nu := models.NewUser()
	nu.SetUserPrincipalName(ptr("dup@fabrikam.example"))
	nu.SetDisplayName(ptr("Dup"))
	nu.SetMailNickname(ptr("dup"))
	nu.SetAccountEnabled(ptr(true))
	nu.SetMail(ptr("sales@fabrikam.example"))
	pp := models.NewPasswordProfile()
	pp.SetPassword(ptr("Sim-Password-1"))
	nu.SetPasswordProfile(pp)
	if _, err := client.Users().Post(ctx, nu, nil); !strings.Contains(errString(err), "proxyAddresses") {
		t.Errorf("create with a taken mail: %v", err)
	}
	// The value index finds users by proxy address.
	res, err := client.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Filter: ptr("proxyAddresses/any(p:p eq 'smtp:cc@fabrikam.example')")},
	})
	if err != nil || len(res.GetValue()) != 1 {
		t.Errorf("filter by proxy address: %v", err)
	}
	// The demo seed loads and keeps its addresses unique.
	if err := ts.LoadSeed(graphsim.DemoSeed()); err != nil {
		t.Errorf("demo seed: %v", err)
	}
}

func errString(err error) string {
	if _, code, msg := graphErr(err); code != "" {
		return code + ": " + msg
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// TestSDKShowInAddressList follows the user resource
// (https://learn.microsoft.com/graph/api/resources/user#properties):
// showInAddressList — "Do not use in Microsoft Graph. Manage this property
// through the Microsoft 365 admin center instead." Writes are accepted and
// ignored; reads return null.
func TestSDKShowInAddressList(t *testing.T) {
	ctx := context.Background()
	seed := smallSeed()
	seed.Tenants[0].Users[0]["showInAddressList"] = true
	ts := graphsim.NewTestServer(t, seed)
	client, _ := newClient(t, ts.TenantURL("fabrikam.example"))
	bob := userID(t, ts, "fabrikam.example", "bob@fabrikam.example")
	alice := userID(t, ts, "fabrikam.example", "alice@fabrikam.example")
	u := models.NewUser()
	u.SetShowInAddressList(ptr(false))
	if _, err := client.Users().ByUserId(bob).Patch(ctx, u, nil); err != nil {
		t.Fatalf("PATCH showInAddressList: %v", err)
	}
	inv := models.NewInvitation()
	inv.SetInvitedUserEmailAddress(ptr("member@northwind.example"))
	inv.SetInviteRedirectUrl(ptr("https://myapps.microsoft.com"))
	inv.SetInvitedUserType(ptr("Member"))
	got, err := client.Invitations().Post(ctx, inv, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{bob, alice, *got.GetInvitedUser().GetId()} {
		r, err := client.Users().ByUserId(id).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: []string{"id", "showInAddressList"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if r.GetShowInAddressList() != nil {
			t.Errorf("user %s: showInAddressList = %v, want null", id, *r.GetShowInAddressList())
		}
	}
	// The ignored write is no change: a delta round since it is empty.
	latest, err := client.Users().Delta().WithUrl(ts.TenantURL("fabrikam.example")+"/users/delta?$deltatoken=latest").GetAsDeltaGetResponse(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Users().ByUserId(bob).Patch(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	after, err := client.Users().Delta().WithUrl(*latest.GetOdataDeltaLink()).GetAsDeltaGetResponse(ctx, nil)
	if err != nil || len(after.GetValue()) != 0 {
		t.Errorf("delta after an ignored write: %d users, %v", len(after.GetValue()), err)
	}
	snap, _ := ts.Snapshot("fabrikam.example")
	for _, o := range snap.Users {
		if _, ok := o["showInAddressList"]; ok {
			t.Errorf("snapshot keeps showInAddressList: %v", o)
		}
	}
}
