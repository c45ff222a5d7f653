package graph

import (
	"context"

	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/policies"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tenantsync/tenantsync/internal/directory"
)

// The read-only checks below back `handler validate --online`: each asks
// for as little as Graph allows and never writes to the tenant.

// CanReadUsers reads one user (GET /users?$top=1&$select=id), which needs
// User.Read.All or better.
func (c *Client) CanReadUsers(ctx context.Context) error {
	const op = "read users"
	info, err := c.sdk.Users().ToGetRequestInformation(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Select: []string{"id"}, Top: ptr(int32(1))},
	})
	if err != nil {
		return &directory.Error{Op: op, Err: err}
	}
	var p page
	return c.getJSON(ctx, op, info, &p)
}

// CanReadGroups reads one group (GET /groups?$top=1&$select=id), which
// needs GroupMember.Read.All, Group.Read.All or better.
func (c *Client) CanReadGroups(ctx context.Context) error {
	const op = "read groups"
	info, err := c.sdk.Groups().ToGetRequestInformation(ctx, &groups.GroupsRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.GroupsRequestBuilderGetQueryParameters{Select: []string{"id"}, Top: ptr(int32(1))},
	})
	if err != nil {
		return &directory.Error{Op: op, Err: err}
	}
	var p page
	return c.getJSON(ctx, op, info, &p)
}

// AuthorizationPolicy is the part of a tenant's authorization policy that
// decides whether tenantsync may invite B2B users.
type AuthorizationPolicy struct {
	// AllowInvitesFrom says who may invite guests: "none",
	// "adminsAndGuestInviters", "adminsGuestInvitersAndAllMembers" or
	// "everyone" (Graph's default outside US Government clouds).
	AllowInvitesFrom string
}

// InvitationsBlocked reports whether the policy refuses every invitation,
// an application's included.
func (p AuthorizationPolicy) InvitationsBlocked() bool { return p.AllowInvitesFrom == "none" }

// AuthorizationPolicy reads the tenant's authorization policy
// (GET /policies/authorizationPolicy?$select=allowInvitesFrom), which needs
// Policy.Read.All; tenantsync itself does not, so a 403 here says nothing
// about whether syncing works.
func (c *Client) AuthorizationPolicy(ctx context.Context) (AuthorizationPolicy, error) {
	const op = "read the authorization policy"
	info, err := c.sdk.Policies().AuthorizationPolicy().ToGetRequestInformation(ctx,
		&policies.AuthorizationPolicyRequestBuilderGetRequestConfiguration{
			QueryParameters: &policies.AuthorizationPolicyRequestBuilderGetQueryParameters{Select: []string{"allowInvitesFrom"}},
		})
	if err != nil {
		return AuthorizationPolicy{}, &directory.Error{Op: op, Err: err}
	}
	// v1.0 answers the singleton; the beta once answered a collection of
	// one. Both forms are accepted.
	var resp struct {
		AllowInvitesFrom string `json:"allowInvitesFrom"`
		Value            []struct {
			AllowInvitesFrom string `json:"allowInvitesFrom"`
		} `json:"value"`
	}
	if err := c.getJSON(ctx, op, info, &resp); err != nil {
		return AuthorizationPolicy{}, err
	}
	p := AuthorizationPolicy{AllowInvitesFrom: resp.AllowInvitesFrom}
	if p.AllowInvitesFrom == "" && len(resp.Value) > 0 {
		p.AllowInvitesFrom = resp.Value[0].AllowInvitesFrom
	}
	return p, nil
}

// AuthorityFor returns the Microsoft Entra authority (login endpoint) of the
// cloud a Graph base URL belongs to: https://login.microsoftonline.com for
// the public cloud and the simulator, the US Government's and China's for
// theirs.
func AuthorityFor(graphURL string) string {
	return cloudFor(graphURL).ActiveDirectoryAuthorityHost
}

// Probe implements engine.Target: the smallest read the sync's permissions
// allow (one user), to tell a refusal of the whole tenant from one user's.
func (c *Client) Probe(ctx context.Context) error { return c.CanReadUsers(ctx) }

// InvitationsBlocked implements engine.Target: whether the authorization
// policy refuses every invitation. It needs Policy.Read.All, so a 403
// means "cannot tell".
func (c *Client) InvitationsBlocked(ctx context.Context) (bool, error) {
	p, err := c.AuthorizationPolicy(ctx)
	if err != nil {
		return false, err
	}
	return p.InvitationsBlocked(), nil
}
