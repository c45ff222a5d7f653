package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/engine"
)

// Invite creates a B2B user with POST /invitations, without sending an
// invitation message. For an address already invited Graph returns the
// existing user. The user's Attrs are empty: the invitation response
// reports no user properties worth trusting, so the caller writes every
// attribute it wants with one UpdateUser.
func (c *Client) Invite(ctx context.Context, inv engine.Invitation) (directory.User, error) {
	op := "invite " + inv.Email
	if inv.Email == "" || inv.RedirectURL == "" {
		return directory.User{}, &directory.Error{Op: op, Status: http.StatusBadRequest, Code: "BadRequest",
			Message: "an invitation needs an email address and a redirect URL"}
	}
	body := models.NewInvitation()
	body.SetInvitedUserEmailAddress(ptr(inv.Email))
	body.SetInviteRedirectUrl(ptr(inv.RedirectURL))
	body.SetSendInvitationMessage(ptr(false))
	if inv.DisplayName != "" {
		body.SetInvitedUserDisplayName(ptr(inv.DisplayName))
	}
	if inv.UserType != "" {
		body.SetInvitedUserType(ptr(inv.UserType))
	}
	info, err := c.sdk.Invitations().ToPostRequestInformation(ctx, body, nil)
	if err != nil {
		return directory.User{}, &directory.Error{Op: op, Err: err}
	}
	var resp struct {
		InvitedUser struct {
			ID string `json:"id"`
		} `json:"invitedUser"`
	}
	if err := c.getJSON(ctx, op, info, &resp); err != nil {
		return directory.User{}, err
	}
	if resp.InvitedUser.ID == "" {
		return directory.User{}, &directory.Error{Op: op, Message: "the invitation response names no invited user"}
	}
	return directory.User{ID: resp.InvitedUser.ID, Attrs: directory.Attributes{}}, nil
}

// condAttr is a property path FindUsers accepts: a property, or a property
// of a complex property.
var condAttr = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$`)

// eqByDefault are the user properties whose eq filter works without
// Graph's advanced query parameters (learn.microsoft.com/graph/aad-advanced-queries);
// a condition on any other property makes FindUsers send ConsistencyLevel:
// eventual and $count=true.
var eqByDefault = map[string]bool{
	"accountEnabled": true, "ageGroup": true, "businessPhones": true, "city": true,
	"consentProvidedForMinor": true, "country": true, "createdDateTime": true, "creationType": true,
	"department": true, "displayName": true, "employeeId": true, "externalUserState": true,
	"givenName": true, "id": true, "imAddresses": true, "isResourceAccount": true, "jobTitle": true,
	"mail": true, "mailNickname": true, "onPremisesSecurityIdentifier": true,
	"onPremisesSyncEnabled": true, "onPremisesUserPrincipalName": true, "otherMails": true,
	"proxyAddresses": true, "state": true, "surname": true, "usageLocation": true,
	"userPrincipalName": true, "userType": true,
}

// boolProps are the Boolean user properties, compared without quotes.
var boolProps = map[string]bool{
	"accountEnabled": true, "isResourceAccount": true, "onPremisesSyncEnabled": true, "showInAddressList": true,
}

// userFilter builds the OR $filter of conds and says whether it needs the
// advanced query parameters.
func userFilter(conds []engine.Cond) (string, bool, error) {
	clauses := make([]string, 0, len(conds))
	advanced := false
	for _, cd := range conds {
		if !condAttr.MatchString(cd.Attr) {
			return "", false, fmt.Errorf("condition on %q: not a user property path", cd.Attr)
		}
		path := strings.ReplaceAll(cd.Attr, ".", "/")
		var clause string
		switch {
		case collectionProps[cd.Attr]:
			clause = path + "/any(x:x eq " + odataString(cd.Value) + ")"
		case boolProps[cd.Attr] && (cd.Value == "true" || cd.Value == "false"):
			clause = path + " eq " + cd.Value
		default:
			clause = path + " eq " + odataString(cd.Value)
		}
		if !eqByDefault[cd.Attr] {
			advanced = true
		}
		clauses = append(clauses, clause)
	}
	return strings.Join(clauses, " or "), advanced, nil
}

// FindUsers returns the users for which any of the conditions holds, with
// one GET /users and an OR $filter (mail eq '…', otherMails/any(x:x eq '…'),
// onPremisesExtensionAttributes/extensionAttributeN eq '…'). A condition on
// a property that only Graph's advanced queries can filter adds
// ConsistencyLevel: eventual and $count=true; those queries are eventually
// consistent and cannot $expand, so with them "manager" costs one more GET
// per user found.
func (c *Client) FindUsers(ctx context.Context, conds []engine.Cond, attrs []string) ([]directory.User, error) {
	if len(conds) == 0 {
		return nil, nil
	}
	const op = "find users"
	filter, advanced, err := userFilter(conds)
	if err != nil {
		return nil, &directory.Error{Op: op, Status: http.StatusBadRequest, Code: "BadRequest", Message: err.Error()}
	}
	sel := newSelection(attrs)
	q := &users.UsersRequestBuilderGetQueryParameters{Select: sel.props, Filter: &filter, Top: ptr(c.pageSize)}
	if advanced {
		q.Count = ptr(true)
	} else if sel.manager {
		q.Expand = []string{managerExpand}
	}
	info, err := c.sdk.Users().ToGetRequestInformation(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: q, Headers: listHeaders(advanced),
	})
	if err != nil {
		return nil, &directory.Error{Op: op, Err: err}
	}
	var out []directory.User
	if _, err := c.pages(ctx, op, info, func(p *page) error {
		for _, obj := range p.Value {
			out = append(out, sel.userFrom(obj, true))
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if advanced && sel.manager {
		for i := range out {
			m, err := c.managerID(ctx, out[i].ID)
			if err != nil {
				return nil, err
			}
			out[i].Attrs[managerAttr] = m
		}
	}
	return out, nil
}

// managerID reads the id of a user's manager; nil when there is none.
func (c *Client) managerID(ctx context.Context, id string) (any, error) {
	op := "get manager of user " + id
	info, err := c.sdk.Users().ByUserId(id).Manager().ToGetRequestInformation(ctx, &users.ItemManagerRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemManagerRequestBuilderGetQueryParameters{Select: []string{"id"}},
	})
	if err != nil {
		return nil, &directory.Error{Op: op, Err: err}
	}
	var obj map[string]any
	if err := c.getJSON(ctx, op, info, &obj); err != nil {
		if isNotFound(err) {
			// Graph answers 404 both for "no manager" and for an unknown
			// user; the user was just listed, so it is the former.
			return nil, nil
		}
		return nil, err
	}
	return nilIfEmpty(stringOf(obj["id"])), nil
}

// UpdateUser PATCHes the given attributes in one request; nil (and "")
// values clear them. "a.b" names are sent as nested objects, so
// onPremisesExtensionAttributes.extensionAttribute15 updates that one
// extension attribute. No attributes, no request.
func (c *Client) UpdateUser(ctx context.Context, id string, attrs directory.Attributes) error {
	if len(attrs) == 0 {
		return nil
	}
	op := "update user " + id
	body, err := patchBody(attrs)
	if err != nil {
		return &directory.Error{Op: op, Status: http.StatusBadRequest, Code: "BadRequest", Message: err.Error()}
	}
	// The builder makes the request (URL template, path encoding); the
	// body is replaced by the exact JSON, with its nulls.
	info, err := c.sdk.Users().ByUserId(id).ToPatchRequestInformation(ctx, models.NewUser(), nil)
	if err != nil {
		return &directory.Error{Op: op, Err: err}
	}
	info.Headers.Remove("Content-Type")
	info.SetStreamContentAndContentType(body, "application/json")
	return c.send(ctx, op, info)
}

// DeleteUser soft deletes a user (restorable for 30 days).
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	op := "delete user " + id
	info, err := c.sdk.Users().ByUserId(id).ToDeleteRequestInformation(ctx, nil)
	if err != nil {
		return &directory.Error{Op: op, Err: err}
	}
	return c.send(ctx, op, info)
}

// RestoreUser restores a soft-deleted user from deleted items.
func (c *Client) RestoreUser(ctx context.Context, id string) error {
	op := "restore user " + id
	info, err := c.sdk.Directory().DeletedItems().ByDirectoryObjectId(id).Restore().ToPostRequestInformation(ctx, nil)
	if err != nil {
		return &directory.Error{Op: op, Err: err}
	}
	return c.getJSON(ctx, op, info, nil)
}

// SetManager sets the user's manager with PUT /users/{id}/manager/$ref, or
// removes it with DELETE when managerID is empty.
func (c *Client) SetManager(ctx context.Context, id, managerID string) error {
	var info *abs.RequestInformation
	var err error
	op := "set manager of user " + id
	if managerID == "" {
		op = "remove manager of user " + id
		info, err = c.sdk.Users().ByUserId(id).Manager().Ref().ToDeleteRequestInformation(ctx, nil)
	} else {
		ref := models.NewReferenceUpdate()
		ref.SetOdataId(ptr(c.baseURL + "/users/" + url.PathEscape(managerID)))
		info, err = c.sdk.Users().ByUserId(id).Manager().Ref().ToPutRequestInformation(ctx, ref, nil)
	}
	if err != nil {
		return &directory.Error{Op: op, Err: err}
	}
	return c.send(ctx, op, info)
}

func isNotFound(err error) bool { return errors.Is(err, directory.ErrNotFound) }
