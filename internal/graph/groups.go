package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/groupswithuniquename"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/engine"
)

// Group provisioning: the security groups tenantsync creates in a target
// tenant and their members, and one group's properties in the source.
var (
	_ engine.GroupTarget = (*Client)(nil)
	_ engine.GroupSource = (*Client)(nil)
)

// GroupAnchorAttr is the attribute that holds the anchor tenantsync writes
// on the groups it creates: the group's uniqueName, "The unique identifier
// that can be assigned to a group and used as an alternate key. Immutable."
// (https://learn.microsoft.com/graph/api/resources/group#properties).
// CreateGroup takes the anchor in it and creates the group with the upsert
// PATCH /groups(uniqueName='…') and Prefer: create-if-missing
// (https://learn.microsoft.com/graph/api/group-upsert), so that creating
// the same anchor twice (a retry after a crash) finds the first group
// instead of making a second one. GetGroup and FindGroupsByName return it
// when asked for it. It needs no permission beyond the group writes and no
// setup in the target tenant; being immutable, it can only be written when
// tenantsync creates the group (an adopted group has none).
const GroupAnchorAttr = "uniqueName"

// anchorPattern is what CreateGroup accepts as an anchor: Graph documents
// no rule for uniqueName, so tenantsync keeps to characters that need no
// escaping in the key segment, and the simulator holds it to them.
var anchorPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// maxMembersPerRequest is how many members one PATCH may bind: "up to 20
// members can be added in a single request"
// (https://learn.microsoft.com/graph/api/group-post-members, example 2).
const maxMembersPerRequest = 20

// groupProps returns the $select of a group read: id, displayName and the
// top-level properties of attrs.
func groupProps(attrs []string) []string {
	props := []string{"id", "displayName"}
	seen := map[string]bool{"id": true, "displayName": true}
	for _, a := range attrs {
		top, _, _ := strings.Cut(strings.TrimSpace(a), ".")
		if top != "" && !seen[top] {
			seen[top] = true
			props = append(props, top)
		}
	}
	return props
}

// groupFrom converts a group object as Graph sent it; every asked
// attribute is in Attrs, nil when Graph left it out.
func groupFrom(obj map[string]any, attrs []string) directory.Group {
	g := directory.Group{ID: stringOf(obj["id"]), DisplayName: stringOf(obj["displayName"]), Attrs: directory.Attributes{}}
	for _, a := range attrs {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		v, ok := lookup(obj, a)
		switch {
		case !ok:
			g.Attrs[a] = nil
		case isObject(v):
			flatten(g.Attrs, a, v)
		default:
			g.Attrs[a] = scalar(v)
		}
	}
	return g
}

// CreateGroup creates a security group (securityEnabled true, mailEnabled
// false, no groupTypes) with attrs, which must hold the anchor in
// GroupAnchorAttr, in one upsert: PATCH /groups(uniqueName='{anchor}') with
// Prefer: create-if-missing. If a group with that anchor exists already, the
// upsert updates it with attrs (204) and CreateGroup reads and returns it, so
// a create repeated after a crash costs one more read and makes no second
// group. A soft-deleted group keeps its anchor: restore it instead
// (RestoreGroup). The group's Attrs hold the asked attributes as written.
func (c *Client) CreateGroup(ctx context.Context, attrs directory.Attributes) (directory.Group, error) {
	anchor, _ := attrs.String(GroupAnchorAttr)
	op := "create group " + anchor
	if !anchorPattern.MatchString(anchor) {
		return directory.Group{}, &directory.Error{Op: op, Status: http.StatusBadRequest, Code: "BadRequest",
			Message: "a group needs its anchor in " + GroupAnchorAttr + ": 1 to 128 letters, digits, '.', '_' or '-'"}
	}
	props := attrs.Clone()
	delete(props, GroupAnchorAttr)
	props["securityEnabled"], props["mailEnabled"], props["groupTypes"] = true, false, []string{}
	body, err := groupBody(props)
	if err != nil {
		return directory.Group{}, &directory.Error{Op: op, Status: http.StatusBadRequest, Code: "BadRequest", Message: err.Error()}
	}
	info, err := c.sdk.GroupsWithUniqueName(&anchor).ToPatchRequestInformation(ctx, models.NewGroup(), nil)
	if err != nil {
		return directory.Group{}, &directory.Error{Op: op, Err: err}
	}
	info.Headers.Add("Prefer", "create-if-missing")
	info.Headers.Remove("Content-Type")
	info.SetStreamContentAndContentType(body, "application/json")
	var obj map[string]any
	if err := c.getJSON(ctx, op, info, &obj); err != nil {
		return directory.Group{}, err
	}
	asked := attrs.Keys()
	if stringOf(obj["id"]) != "" {
		// 201 Created: the new group with its default properties and
		// uniqueName.
		return groupFrom(obj, asked), nil
	}
	// 204 No Content: the group existed and was updated.
	return c.groupByAnchor(ctx, anchor, asked)
}

// groupByAnchor reads a group by its anchor, the alternate key
// (GET /groups(uniqueName='…')).
func (c *Client) groupByAnchor(ctx context.Context, anchor string, attrs []string) (directory.Group, error) {
	op := "get group with anchor " + anchor
	info, err := c.sdk.GroupsWithUniqueName(&anchor).ToGetRequestInformation(ctx,
		&groupswithuniquename.GroupsWithUniqueNameRequestBuilderGetRequestConfiguration{
			QueryParameters: &groupswithuniquename.GroupsWithUniqueNameRequestBuilderGetQueryParameters{Select: groupProps(attrs)},
		})
	if err != nil {
		return directory.Group{}, &directory.Error{Op: op, Err: err}
	}
	var obj map[string]any
	if err := c.getJSON(ctx, op, info, &obj); err != nil {
		return directory.Group{}, err
	}
	return groupFrom(obj, attrs), nil
}

// groupBody is patchBody for a group: a nil groupTypes clears it with [].
func groupBody(attrs directory.Attributes) ([]byte, error) {
	if v, ok := attrs["groupTypes"]; ok && directory.IsEmpty(v) {
		attrs = attrs.Clone()
		attrs["groupTypes"] = []string{}
	}
	return patchBody(attrs)
}

// GetGroup reads one group by object id with displayName and attrs (ask
// for GroupAnchorAttr to read the anchor); directory.ErrNotFound when it
// does not exist or is soft deleted. It implements both engine.GroupSource
// and engine.GroupTarget.
func (c *Client) GetGroup(ctx context.Context, id string, attrs []string) (directory.Group, error) {
	op := "get group " + id
	info, err := c.sdk.Groups().ByGroupId(id).ToGetRequestInformation(ctx,
		&groups.GroupItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &groups.GroupItemRequestBuilderGetQueryParameters{Select: groupProps(attrs)},
		})
	if err != nil {
		return directory.Group{}, &directory.Error{Op: op, Err: err}
	}
	var obj map[string]any
	if err := c.getJSON(ctx, op, info, &obj); err != nil {
		return directory.Group{}, err
	}
	return groupFrom(obj, attrs), nil
}

// FindGroupsByName returns the groups whose displayName is name
// (GET /groups?$filter=displayName eq '…'), with attrs.
func (c *Client) FindGroupsByName(ctx context.Context, name string, attrs []string) ([]directory.Group, error) {
	op := "find groups named " + name
	filter := "displayName eq " + odataString(name)
	info, err := c.sdk.Groups().ToGetRequestInformation(ctx, &groups.GroupsRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.GroupsRequestBuilderGetQueryParameters{Select: groupProps(attrs), Filter: &filter, Top: ptr(c.pageSize)},
	})
	if err != nil {
		return nil, &directory.Error{Op: op, Err: err}
	}
	var out []directory.Group
	_, err = c.pages(ctx, op, info, func(p *page) error {
		for _, obj := range p.Value {
			out = append(out, groupFrom(obj, attrs))
		}
		return nil
	})
	return out, err
}

// UpdateGroup PATCHes the given properties in one request; nil values clear
// them. The anchor is immutable and cannot be updated. No attributes, no
// request.
func (c *Client) UpdateGroup(ctx context.Context, id string, attrs directory.Attributes) error {
	if len(attrs) == 0 {
		return nil
	}
	op := "update group " + id
	if _, ok := attrs[GroupAnchorAttr]; ok {
		return &directory.Error{Op: op, Status: http.StatusBadRequest, Code: "BadRequest",
			Message: "the anchor (" + GroupAnchorAttr + ") is immutable"}
	}
	body, err := groupBody(attrs)
	if err != nil {
		return &directory.Error{Op: op, Status: http.StatusBadRequest, Code: "BadRequest", Message: err.Error()}
	}
	return c.patchGroup(ctx, op, id, body)
}

// patchGroup sends a PATCH /groups/{id} with a JSON body.
func (c *Client) patchGroup(ctx context.Context, op, id string, body []byte) error {
	info, err := c.sdk.Groups().ByGroupId(id).ToPatchRequestInformation(ctx, models.NewGroup(), nil)
	if err != nil {
		return &directory.Error{Op: op, Err: err}
	}
	info.Headers.Remove("Content-Type")
	info.SetStreamContentAndContentType(body, "application/json")
	return c.send(ctx, op, info)
}

// ListGroupMembers returns the ids of the group's direct members that are
// users (GET /groups/{id}/members/microsoft.graph.user?$select=id).
func (c *Client) ListGroupMembers(ctx context.Context, id string) ([]string, error) {
	op := "list user members of group " + id
	info, err := c.sdk.Groups().ByGroupId(id).Members().GraphUser().ToGetRequestInformation(ctx,
		&groups.ItemMembersGraphUserRequestBuilderGetRequestConfiguration{
			QueryParameters: &groups.ItemMembersGraphUserRequestBuilderGetQueryParameters{Select: []string{"id"}, Top: ptr(c.pageSize)},
		})
	if err != nil {
		return nil, &directory.Error{Op: op, Err: err}
	}
	var out []string
	_, err = c.pages(ctx, op, info, func(p *page) error {
		for _, obj := range p.Value {
			out = append(out, stringOf(obj["id"]))
		}
		return nil
	})
	return out, err
}

// AddGroupMembers adds users as direct members, 20 per PATCH with
// members@odata.bind. Graph refuses a whole PATCH when one of its users is
// a member already ("One or more added object references already exist"):
// that chunk is then added one user at a time with POST …/members/$ref,
// where the same answer means the user is in, so a retry after a crash
// converges at the price of one request per user of that chunk only.
func (c *Client) AddGroupMembers(ctx context.Context, id string, userIDs []string) error {
	ids := dedupeFold(userIDs)
	for start := 0; start < len(ids); start += maxMembersPerRequest {
		chunk := ids[start:min(start+maxMembersPerRequest, len(ids))]
		err := c.bindMembers(ctx, id, chunk)
		if !isMemberExists(err) {
			if err != nil {
				return err
			}
			continue
		}
		for _, uid := range chunk {
			if err := c.addMember(ctx, id, uid); err != nil && !isMemberExists(err) {
				return err
			}
		}
	}
	return nil
}

// bindMembers adds users with one PATCH /groups/{id} and members@odata.bind.
func (c *Client) bindMembers(ctx context.Context, id string, userIDs []string) error {
	op := fmt.Sprintf("add %d members to group %s", len(userIDs), id)
	refs := make([]string, len(userIDs))
	for i, uid := range userIDs {
		refs[i] = c.directoryObjectURL(uid)
	}
	body, err := json.Marshal(map[string]any{"members@odata.bind": refs})
	if err != nil {
		return &directory.Error{Op: op, Err: err}
	}
	return c.patchGroup(ctx, op, id, body)
}

// addMember adds one member with POST /groups/{id}/members/$ref.
func (c *Client) addMember(ctx context.Context, id, userID string) error {
	op := "add member " + userID + " to group " + id
	ref := models.NewReferenceCreate()
	ref.SetOdataId(ptr(c.directoryObjectURL(userID)))
	info, err := c.sdk.Groups().ByGroupId(id).Members().Ref().ToPostRequestInformation(ctx, ref, nil)
	if err != nil {
		return &directory.Error{Op: op, Err: err}
	}
	return c.send(ctx, op, info)
}

// directoryObjectURL is the @odata.id of a directory object of the tenant.
func (c *Client) directoryObjectURL(id string) string {
	return c.baseURL + "/directoryObjects/" + url.PathEscape(id)
}

// memberExistsMessage is how Graph says that an object to add is a member
// already (400 Request_BadRequest); Graph gives it no code of its own.
const memberExistsMessage = "One or more added object references already exist"

func isMemberExists(err error) bool {
	var de *directory.Error
	return errors.As(err, &de) && de.Status == http.StatusBadRequest && strings.Contains(de.Message, memberExistsMessage)
}

// RemoveGroupMember removes one direct member with
// DELETE /groups/{id}/members/{userId}/$ref. Graph answers 404 when the
// user is not a member (or the group is gone): either way the user is not
// in the group, which is what was asked.
func (c *Client) RemoveGroupMember(ctx context.Context, id, userID string) error {
	op := "remove member " + userID + " from group " + id
	info, err := c.sdk.Groups().ByGroupId(id).Members().ByDirectoryObjectId(userID).Ref().ToDeleteRequestInformation(ctx, nil)
	if err != nil {
		return &directory.Error{Op: op, Err: err}
	}
	if err := c.send(ctx, op, info); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// DeleteGroup deletes a group (DELETE /groups/{id}). A security group goes
// to deleted items for 30 days
// (https://learn.microsoft.com/graph/api/group-delete); its members are
// users and stay.
func (c *Client) DeleteGroup(ctx context.Context, id string) error {
	op := "delete group " + id
	info, err := c.sdk.Groups().ByGroupId(id).ToDeleteRequestInformation(ctx, nil)
	if err != nil {
		return &directory.Error{Op: op, Err: err}
	}
	return c.send(ctx, op, info)
}

// RestoreGroup restores a soft-deleted group from deleted items
// (POST /directory/deletedItems/{id}/restore), with its members and anchor.
func (c *Client) RestoreGroup(ctx context.Context, id string) error {
	op := "restore group " + id
	info, err := c.sdk.Directory().DeletedItems().ByDirectoryObjectId(id).Restore().ToPostRequestInformation(ctx, nil)
	if err != nil {
		return &directory.Error{Op: op, Err: err}
	}
	return c.getJSON(ctx, op, info, nil)
}
