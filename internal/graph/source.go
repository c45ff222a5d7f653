package graph

import (
	"context"
	"net/http"
	"regexp"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
	msdirectory "github.com/microsoftgraph/msgraph-sdk-go/directory"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tenantsync/tenantsync/internal/directory"
)

// checkMemberGroupsMax is the most group ids one checkMemberGroups takes.
const checkMemberGroupsMax = 20

// managerExpand is the $expand that puts the manager's id on a user.
const managerExpand = "manager($select=id)"

// GetUser reads one user by object id or userPrincipalName, with $select of
// exactly the asked attributes' properties; "manager" is read with
// $expand=manager($select=id) in the same request. Every asked attribute is
// in the result, nil when unset.
func (c *Client) GetUser(ctx context.Context, id string, attrs []string) (directory.User, error) {
	op := "get user " + id
	sel := newSelection(attrs)
	q := &users.UserItemRequestBuilderGetQueryParameters{Select: sel.props}
	if sel.manager {
		q.Expand = []string{managerExpand}
	}
	info, err := c.sdk.Users().ByUserId(id).ToGetRequestInformation(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{QueryParameters: q})
	if err != nil {
		return directory.User{}, &directory.Error{Op: op, Err: err}
	}
	var obj map[string]any
	if err := c.getJSON(ctx, op, info, &obj); err != nil {
		return directory.User{}, err
	}
	return sel.userFrom(obj, true), nil
}

// GetDeletedUser reads a soft-deleted user from the directory's deleted
// items. The manager of a deleted user is not available (Graph removes the
// relationship on deletion), so "manager" is left out of the result.
func (c *Client) GetDeletedUser(ctx context.Context, id string, attrs []string) (directory.User, error) {
	op := "get deleted user " + id
	sel := newSelection(attrs)
	info, err := c.sdk.Directory().DeletedItems().ByDirectoryObjectId(id).ToGetRequestInformation(ctx,
		&msdirectory.DeletedItemsDirectoryObjectItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &msdirectory.DeletedItemsDirectoryObjectItemRequestBuilderGetQueryParameters{Select: sel.props},
		})
	if err != nil {
		return directory.User{}, &directory.Error{Op: op, Err: err}
	}
	var obj map[string]any
	if err := c.getJSON(ctx, op, info, &obj); err != nil {
		return directory.User{}, err
	}
	if t := stringOf(obj["@odata.type"]); t != "" && t != "#microsoft.graph.user" {
		return directory.User{}, &directory.Error{Op: op, Status: http.StatusNotFound, Code: "Request_ResourceNotFound",
			Message: "deleted item " + id + " is a " + strings.TrimPrefix(t, "#microsoft.graph.") + ", not a user"}
	}
	sel.manager = false
	u := sel.userFrom(obj, true)
	delete(u.Attrs, managerAttr)
	u.Deleted = true
	return u, nil
}

// ListUsers calls fn with every page of users (Options.PageSize per page).
func (c *Client) ListUsers(ctx context.Context, attrs []string, fn func([]directory.User) error) error {
	const op = "list users"
	sel := newSelection(attrs)
	q := &users.UsersRequestBuilderGetQueryParameters{Select: sel.props, Top: ptr(c.pageSize)}
	if sel.manager {
		q.Expand = []string{managerExpand}
	}
	info, err := c.sdk.Users().ToGetRequestInformation(ctx, &users.UsersRequestBuilderGetRequestConfiguration{QueryParameters: q})
	if err != nil {
		return &directory.Error{Op: op, Err: err}
	}
	_, err = c.pages(ctx, op, info, func(p *page) error {
		if len(p.Value) == 0 {
			return nil
		}
		out := make([]directory.User, len(p.Value))
		for i, obj := range p.Value {
			out[i] = sel.userFrom(obj, true)
		}
		return fn(out)
	})
	return err
}

// MemberOf returns those of groupIDs the user is a member of. Transitive
// membership is one POST /users/{id}/checkMemberGroups per 20 groups, which
// User.Read.All with Group.Read.All (or GroupMember.Read.All) allows. Direct
// membership cannot be asked of the user as cheaply: GET
// /users/{id}/memberOf needs Directory.Read.All for another user
// (learn.microsoft.com/graph/api/user-list-memberof#permissions), which
// tenantsync does not ask for. So the transitive answer is narrowed to the
// groups of which the user is a direct member, from the groups' own direct
// members (see directMember). The result keeps the order and spelling of
// groupIDs.
func (c *Client) MemberOf(ctx context.Context, userID string, groupIDs []string, transitive bool) ([]string, error) {
	if len(groupIDs) == 0 {
		return nil, nil
	}
	in := map[string]bool{}
	op := "check member groups of user " + userID
	want := dedupeFold(groupIDs)
	for start := 0; start < len(want); start += checkMemberGroupsMax {
		chunk := want[start:min(start+checkMemberGroupsMax, len(want))]
		body := users.NewItemCheckMemberGroupsPostRequestBody()
		body.SetGroupIds(chunk)
		info, err := c.sdk.Users().ByUserId(userID).CheckMemberGroups().ToPostRequestInformation(ctx, body, nil)
		if err != nil {
			return nil, &directory.Error{Op: op, Err: err}
		}
		var resp struct {
			Value []string `json:"value"`
		}
		if err := c.getJSON(ctx, op, info, &resp); err != nil {
			return nil, err
		}
		for _, id := range resp.Value {
			in[strings.ToLower(id)] = true
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, id := range groupIDs {
		k := strings.ToLower(id)
		if !in[k] || seen[k] {
			continue
		}
		seen[k] = true
		if !transitive {
			direct, err := c.members.directMember(ctx, c, id, userID)
			if err != nil {
				return nil, err
			}
			if !direct {
				continue
			}
		}
		out = append(out, id)
	}
	return out, nil
}

// GroupMembers lists a group's members (ids only), directly or
// transitively, split into users and groups by @odata.type; other member
// types (devices, service principals, contacts) are left out.
func (c *Client) GroupMembers(ctx context.Context, groupID string, transitive bool) (directory.Members, error) {
	var info *abs.RequestInformation
	var err error
	op := "list members of group " + groupID
	sel := []string{"id"}
	if transitive {
		op = "list transitive members of group " + groupID
		info, err = c.sdk.Groups().ByGroupId(groupID).TransitiveMembers().ToGetRequestInformation(ctx,
			&groups.ItemTransitiveMembersRequestBuilderGetRequestConfiguration{
				QueryParameters: &groups.ItemTransitiveMembersRequestBuilderGetQueryParameters{Select: sel, Top: ptr(c.pageSize)},
			})
	} else {
		info, err = c.sdk.Groups().ByGroupId(groupID).Members().ToGetRequestInformation(ctx,
			&groups.ItemMembersRequestBuilderGetRequestConfiguration{
				QueryParameters: &groups.ItemMembersRequestBuilderGetQueryParameters{Select: sel, Top: ptr(c.pageSize)},
			})
	}
	if err != nil {
		return directory.Members{}, &directory.Error{Op: op, Err: err}
	}
	var m directory.Members
	_, err = c.pages(ctx, op, info, func(p *page) error {
		for _, obj := range p.Value {
			id := stringOf(obj["id"])
			switch stringOf(obj["@odata.type"]) {
			case "#microsoft.graph.user":
				m.Users = append(m.Users, id)
			case "#microsoft.graph.group":
				m.Groups = append(m.Groups, id)
			}
		}
		return nil
	})
	if err != nil {
		return directory.Members{}, err
	}
	return m, nil
}

// DirectReports returns the ids of the users whose manager is id
// (organizational contacts among the reports are left out).
func (c *Client) DirectReports(ctx context.Context, id string) ([]string, error) {
	op := "list direct reports of user " + id
	info, err := c.sdk.Users().ByUserId(id).DirectReports().GraphUser().ToGetRequestInformation(ctx,
		&users.ItemDirectReportsGraphUserRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.ItemDirectReportsGraphUserRequestBuilderGetQueryParameters{Select: []string{"id"}, Top: ptr(c.pageSize)},
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

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// FindGroups returns the groups with this object id or display name. A
// GUID is first looked up as an id; when no group has it, and for any other
// string, the groups whose displayName equals it are listed.
func (c *Client) FindGroups(ctx context.Context, idOrName string) ([]directory.Group, error) {
	sel := []string{"id", "displayName"}
	if guidPattern.MatchString(idOrName) {
		op := "get group " + idOrName
		info, err := c.sdk.Groups().ByGroupId(idOrName).ToGetRequestInformation(ctx,
			&groups.GroupItemRequestBuilderGetRequestConfiguration{
				QueryParameters: &groups.GroupItemRequestBuilderGetQueryParameters{Select: sel},
			})
		if err != nil {
			return nil, &directory.Error{Op: op, Err: err}
		}
		var obj map[string]any
		err = c.getJSON(ctx, op, info, &obj)
		switch {
		case err == nil:
			return []directory.Group{{ID: stringOf(obj["id"]), DisplayName: stringOf(obj["displayName"])}}, nil
		case !isNotFound(err):
			return nil, err
		}
	}
	op := "find groups named " + idOrName
	filter := "displayName eq " + odataString(idOrName)
	info, err := c.sdk.Groups().ToGetRequestInformation(ctx, &groups.GroupsRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.GroupsRequestBuilderGetQueryParameters{Select: sel, Filter: &filter, Top: ptr(c.pageSize)},
	})
	if err != nil {
		return nil, &directory.Error{Op: op, Err: err}
	}
	var out []directory.Group
	_, err = c.pages(ctx, op, info, func(p *page) error {
		for _, obj := range p.Value {
			out = append(out, directory.Group{ID: stringOf(obj["id"]), DisplayName: stringOf(obj["displayName"])})
		}
		return nil
	})
	return out, err
}

// UsersDelta runs a users delta query. link "" starts a full round with
// $select of the asked attributes' properties ("manager" is selected as the
// relationship, which Graph reports as manager@delta);
// directory.LatestDelta asks for a delta link from now on
// ($deltatoken=latest, with the same $select so that later rounds track the
// same properties); anything else resumes from a delta link. Users are
// reported with the properties Graph sent: a delta leaves out properties
// that never had a value, so an attribute missing from Attrs is unknown,
// not cleared. Soft-deleted users come with Removed "changed", permanently
// deleted ones with "deleted"; a restored user comes back without a removal.
func (c *Client) UsersDelta(ctx context.Context, link string, attrs []string, fn func([]directory.UserDelta) error) (string, error) {
	const op = "users delta"
	sel := newSelection(attrs)
	var info *abs.RequestInformation
	var err error
	if link == "" || link == directory.LatestDelta {
		props := sel.props
		if sel.manager {
			props = append(append([]string(nil), props...), managerAttr)
		}
		info, err = c.sdk.Users().Delta().ToGetRequestInformation(ctx, &users.DeltaRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.DeltaRequestBuilderGetQueryParameters{Select: props},
		})
		if err == nil && link == directory.LatestDelta {
			err = c.addQuery(info, "$deltatoken", "latest")
		}
	} else {
		if _, err := c.checkLink(op, link); err != nil {
			return "", err
		}
		info, err = c.sdk.Users().Delta().WithUrl(link).ToGetRequestInformation(ctx, nil)
	}
	if err != nil {
		return "", &directory.Error{Op: op, Err: err}
	}
	next, err := c.pages(ctx, op, info, func(p *page) error {
		if len(p.Value) == 0 {
			return nil
		}
		out := make([]directory.UserDelta, len(p.Value))
		for i, obj := range p.Value {
			d := directory.UserDelta{Removed: removal(obj)}
			if d.Removed != directory.NotRemoved {
				d.User = directory.User{ID: stringOf(obj["id"]), Attrs: directory.Attributes{}}
			} else {
				d.User = sel.userFrom(obj, false)
			}
			out[i] = d
		}
		return fn(out)
	})
	if err != nil {
		return "", err
	}
	if next == "" {
		return "", &directory.Error{Op: op, Message: "the last delta page has no @odata.deltaLink"}
	}
	return next, nil
}

// GroupsDelta runs a groups delta query ($select=displayName,members) from
// link, as UsersDelta does. Membership changes come from members@delta,
// split into users and groups by @odata.type; a member entry with @removed
// was removed. A large group appears on several pages, each with a slice of
// its member changes.
func (c *Client) GroupsDelta(ctx context.Context, link string, fn func([]directory.GroupDelta) error) (string, error) {
	const op = "groups delta"
	var info *abs.RequestInformation
	var err error
	if link == "" || link == directory.LatestDelta {
		info, err = c.sdk.Groups().Delta().ToGetRequestInformation(ctx, &groups.DeltaRequestBuilderGetRequestConfiguration{
			QueryParameters: &groups.DeltaRequestBuilderGetQueryParameters{Select: []string{"id", "displayName", "members"}},
		})
		if err == nil && link == directory.LatestDelta {
			err = c.addQuery(info, "$deltatoken", "latest")
		}
	} else {
		if _, err := c.checkLink(op, link); err != nil {
			return "", err
		}
		info, err = c.sdk.Groups().Delta().WithUrl(link).ToGetRequestInformation(ctx, nil)
	}
	if err != nil {
		return "", &directory.Error{Op: op, Err: err}
	}
	next, err := c.pages(ctx, op, info, func(p *page) error {
		if len(p.Value) == 0 {
			return nil
		}
		out := make([]directory.GroupDelta, len(p.Value))
		for i, obj := range p.Value {
			g := directory.GroupDelta{
				Group:   directory.Group{ID: stringOf(obj["id"]), DisplayName: stringOf(obj["displayName"])},
				Removed: removal(obj),
			}
			list, _ := obj["members@delta"].([]any)
			for _, item := range list {
				m, ok := item.(map[string]any)
				if !ok {
					continue
				}
				id := stringOf(m["id"])
				_, removed := m["@removed"]
				switch stringOf(m["@odata.type"]) {
				case "#microsoft.graph.user":
					if removed {
						g.MembersRemoved = append(g.MembersRemoved, id)
					} else {
						g.MembersAdded = append(g.MembersAdded, id)
					}
				case "#microsoft.graph.group":
					if removed {
						g.GroupsRemoved = append(g.GroupsRemoved, id)
					} else {
						g.GroupsAdded = append(g.GroupsAdded, id)
					}
				}
			}
			out[i] = g
		}
		return fn(out)
	})
	if err != nil {
		return "", err
	}
	if next == "" {
		return "", &directory.Error{Op: op, Message: "the last delta page has no @odata.deltaLink"}
	}
	return next, nil
}

// addQuery adds a query parameter the request builder has no field for.
func (c *Client) addQuery(info *abs.RequestInformation, name, value string) error {
	info.PathParameters["baseurl"] = c.baseURL
	u, err := info.GetUri()
	if err != nil {
		return err
	}
	q := u.RawQuery
	if q != "" {
		q += "&"
	}
	u.RawQuery = q + name + "=" + value
	info.SetUri(*u)
	return nil
}

// removal reads an object's @removed annotation.
func removal(obj map[string]any) directory.Removal {
	r, ok := obj["@removed"]
	if !ok {
		return directory.NotRemoved
	}
	m, _ := r.(map[string]any)
	if stringOf(m["reason"]) == string(directory.RemovedDeleted) {
		return directory.RemovedDeleted
	}
	return directory.RemovedChanged
}

// dedupeFold drops repeated ids, ignoring case.
func dedupeFold(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		k := strings.ToLower(id)
		if !seen[k] {
			seen[k] = true
			out = append(out, id)
		}
	}
	return out
}

// odataString quotes s as an OData string literal: single quotes doubled.
func odataString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
