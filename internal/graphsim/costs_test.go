package graphsim_test

import (
	"context"
	"testing"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// TestSDKResourceUnitCosts reads what each request cost from the
// x-ms-resource-unit response header, through the SDK. The costs are
// Graph's identity and access table
// (https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits,
// "Base Resource Unit Cost", its modifiers "$select decreases cost by 1",
// "$expand increases cost by 1", "$top with a value of less than 20
// decreases cost by 1", "A request cost can never be lower than 1", and
// the "x-ms-resource-unit" response header of "Additional headers").
func TestSDKResourceUnitCosts(t *testing.T) {
	ctx := context.Background()
	ts := graphsim.NewTestServer(t, smallSeed())
	client, _ := newClient(t, ts.TenantURL("fabrikam.example"))
	bob := userID(t, ts, "fabrikam.example", "bob@fabrikam.example")
	team := groupID(t, ts, "fabrikam.example", "Team")
	tests := []struct {
		name string
		call func(opts []abstractions.RequestOption) error
		want string
	}{
		{"list users", func(o []abstractions.RequestOption) error {
			_, err := client.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{Options: o})
			return err
		}, "2"},
		{"list users with $top under 20", func(o []abstractions.RequestOption) error {
			_, err := client.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{Options: o,
				QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Top: ptr[int32](10)}})
			return err
		}, "1"},
		{"list users with $select and $top under 20 (never under 1)", func(o []abstractions.RequestOption) error {
			_, err := client.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{Options: o,
				QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Top: ptr[int32](10), Select: []string{"id"}}})
			return err
		}, "1"},
		{"get user", func(o []abstractions.RequestOption) error {
			_, err := client.Users().ByUserId(bob).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{Options: o})
			return err
		}, "1"},
		{"get user with $expand", func(o []abstractions.RequestOption) error {
			_, err := client.Users().ByUserId(bob).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{Options: o,
				QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Expand: []string{"manager"}}})
			return err
		}, "2"},
		{"users delta", func(o []abstractions.RequestOption) error {
			_, err := client.Users().Delta().GetAsDeltaGetResponse(ctx, &users.DeltaRequestBuilderGetRequestConfiguration{Options: o})
			return err
		}, "1"},
		{"group members", func(o []abstractions.RequestOption) error {
			_, err := client.Groups().ByGroupId(team).Members().Get(ctx, &groups.ItemMembersRequestBuilderGetRequestConfiguration{Options: o})
			return err
		}, "3"},
		{"group transitive members", func(o []abstractions.RequestOption) error {
			_, err := client.Groups().ByGroupId(team).TransitiveMembers().Get(ctx, &groups.ItemTransitiveMembersRequestBuilderGetRequestConfiguration{Options: o})
			return err
		}, "5"},
		{"checkMemberGroups", func(o []abstractions.RequestOption) error {
			body := users.NewItemCheckMemberGroupsPostRequestBody()
			body.SetGroupIds([]string{team})
			_, err := client.Users().ByUserId(bob).CheckMemberGroups().PostAsCheckMemberGroupsPostResponse(ctx, body,
				&users.ItemCheckMemberGroupsRequestBuilderPostRequestConfiguration{Options: o})
			return err
		}, "4"},
		{"memberOf", func(o []abstractions.RequestOption) error {
			_, err := client.Users().ByUserId(bob).MemberOf().Get(ctx, &users.ItemMemberOfRequestBuilderGetRequestConfiguration{Options: o})
			return err
		}, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inspect := khttp.NewHeadersInspectionOptions()
			inspect.InspectResponseHeaders = true
			if err := tt.call([]abstractions.RequestOption{inspect}); err != nil {
				t.Fatal(err)
			}
			got := inspect.GetResponseHeaders().Get("x-ms-resource-unit")
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("x-ms-resource-unit = %v, want %s", got, tt.want)
			}
		})
	}
}
