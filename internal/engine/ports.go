package engine

import (
	"context"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/store"
)

// Source is the source tenant, which tenantsync only reads. The Graph
// adapter (internal/graph) implements it; errors are *directory.Error.
type Source interface {
	// GetUser reads one user by object id or userPrincipalName with the given
	// properties. The pseudo-property "manager" puts the id of the user's
	// manager in Attrs["manager"]. A user that does not exist or is soft
	// deleted answers directory.ErrNotFound.
	GetUser(ctx context.Context, id string, attrs []string) (directory.User, error)
	// GetDeletedUser reads a soft-deleted user from deleted items
	// (directory.ErrNotFound when it is not there).
	GetDeletedUser(ctx context.Context, id string, attrs []string) (directory.User, error)
	// ListUsers calls fn with every page of users.
	ListUsers(ctx context.Context, attrs []string, fn func([]directory.User) error) error
	// MemberOf returns those of groupIDs that the user is a member of,
	// directly or, with transitive, through nested groups too.
	MemberOf(ctx context.Context, userID string, groupIDs []string, transitive bool) ([]string, error)
	// GroupMembers lists the members of a group, directly or transitively.
	GroupMembers(ctx context.Context, groupID string, transitive bool) (directory.Members, error)
	// DirectReports returns the ids of the users whose manager is id.
	DirectReports(ctx context.Context, id string) ([]string, error)
	// FindGroups returns the groups with this object id or display name.
	FindGroups(ctx context.Context, idOrName string) ([]directory.Group, error)
	// UsersDelta runs a users delta query from link ("" for a full round,
	// directory.LatestDelta for "from now on"), calling fn per page, and
	// returns the new delta link. An expired link answers
	// directory.ErrDeltaExpired.
	UsersDelta(ctx context.Context, link string, attrs []string, fn func([]directory.UserDelta) error) (string, error)
	// GroupsDelta is UsersDelta for groups and their membership.
	GroupsDelta(ctx context.Context, link string, fn func([]directory.GroupDelta) error) (string, error)
}

// Target is one target tenant, where tenantsync creates and maintains B2B
// users. The Graph adapter implements it; errors are *directory.Error.
type Target interface {
	// Invite creates (or, for an address already invited, returns) a B2B
	// user without sending an invitation message.
	Invite(ctx context.Context, inv Invitation) (directory.User, error)
	// GetUser reads one user by object id.
	GetUser(ctx context.Context, id string, attrs []string) (directory.User, error)
	// FindUsers returns the users for which any of the conditions holds, in
	// one request.
	FindUsers(ctx context.Context, conds []Cond, attrs []string) ([]directory.User, error)
	// ListUsers calls fn with every page of users.
	ListUsers(ctx context.Context, attrs []string, fn func([]directory.User) error) error
	// UpdateUser PATCHes the given attributes; nil values clear them.
	UpdateUser(ctx context.Context, id string, attrs directory.Attributes) error
	// DeleteUser soft deletes a user.
	DeleteUser(ctx context.Context, id string) error
	// RestoreUser restores a soft-deleted user.
	RestoreUser(ctx context.Context, id string) error
	// GetDeletedUser reads a soft-deleted user from deleted items.
	GetDeletedUser(ctx context.Context, id string, attrs []string) (directory.User, error)
	// SetManager sets the user's manager; an empty managerID removes it.
	SetManager(ctx context.Context, id, managerID string) error
	// Probe makes the smallest read the engine's permissions allow (one
	// user). It tells a refusal of the whole tenant (directory.ErrForbidden:
	// token, consent) from a refusal of one user.
	Probe(ctx context.Context) error
	// InvitationsBlocked reports whether the tenant's authorization policy
	// refuses every guest invitation; directory.ErrForbidden when the app
	// may not read the policy.
	InvitationsBlocked(ctx context.Context) (bool, error)
}

// GroupSource is what group provisioning reads of the source tenant
// besides Source: one group's properties. The Graph adapter implements it.
type GroupSource interface {
	// GetGroup reads one group by object id with the given properties
	// (displayName is always read); directory.ErrNotFound when it does not
	// exist or is soft deleted.
	GetGroup(ctx context.Context, id string, attrs []string) (directory.Group, error)
}

// GroupTarget is what group provisioning writes in a target tenant: the
// security groups tenantsync creates, and their members. The Graph adapter
// implements it; errors are *directory.Error.
type GroupTarget interface {
	// CreateGroup creates a security group (securityEnabled true,
	// mailEnabled false, no groupTypes) with the given properties, the
	// anchor among them, and returns it.
	CreateGroup(ctx context.Context, attrs directory.Attributes) (directory.Group, error)
	// GetGroup reads one group by object id with the given properties;
	// directory.ErrNotFound when it does not exist or is soft deleted.
	GetGroup(ctx context.Context, id string, attrs []string) (directory.Group, error)
	// FindGroupsByName returns the groups whose displayName is name, with
	// the given properties.
	FindGroupsByName(ctx context.Context, name string, attrs []string) ([]directory.Group, error)
	// UpdateGroup PATCHes the given properties; nil values clear them.
	UpdateGroup(ctx context.Context, id string, attrs directory.Attributes) error
	// ListGroupMembers returns the ids of the group's direct user members.
	ListGroupMembers(ctx context.Context, id string) ([]string, error)
	// AddGroupMembers adds users as direct members, up to 20 per request
	// (PATCH with members@odata.bind); a user who is a member already is
	// not an error.
	AddGroupMembers(ctx context.Context, id string, userIDs []string) error
	// RemoveGroupMember removes one direct member (DELETE …/members/{id}/$ref);
	// a user who is not a member is not an error.
	RemoveGroupMember(ctx context.Context, id, userID string) error
	// DeleteGroup soft deletes a group; its members are users and stay.
	DeleteGroup(ctx context.Context, id string) error
	// RestoreGroup restores a soft-deleted group from deleted items.
	RestoreGroup(ctx context.Context, id string) error
}

// Invitation is a B2B invitation.
type Invitation struct {
	Email       string
	DisplayName string
	RedirectURL string
	UserType    string // "Member" or "Guest"
}

// Cond is an equality condition on a user property for Target.FindUsers.
// Attr is a Graph property path such as "mail" or
// "onPremisesExtensionAttributes.extensionAttribute15"; for the multi-valued
// "otherMails" any element may match.
type Cond struct {
	Attr  string
	Value string
}

// Store is the engine's memory: exactly the methods of store.Store the
// engine calls. A dry run (Plan, and the decisions of a full pass) gives the
// engine an overlay that implements this interface in full and writes
// nothing; a store call added to the engine must be added here, and the
// overlay then fails to compile until it says what a dry run does with it.
type Store interface {
	GetWatermark(ctx context.Context, tenant, resource string) (store.Watermark, error)
	PutWatermark(ctx context.Context, w store.Watermark) (store.Watermark, error)

	GetLink(ctx context.Context, target, sourceID string) (store.Link, error)
	GetLinks(ctx context.Context, target string, sourceIDs []string) (map[string]store.Link, error)
	GetLinkByTargetID(ctx context.Context, target, targetID string) (store.Link, error)
	PutLink(ctx context.Context, l store.Link) (store.Link, error)
	DeleteLink(ctx context.Context, l store.Link) error
	ListLinks(ctx context.Context, target string, fn func(store.Link) error) error

	GetDeletion(ctx context.Context, target, sourceID string) (store.Deletion, error)
	PutDeletion(ctx context.Context, d store.Deletion) (store.Deletion, error)
	DeleteDeletion(ctx context.Context, d store.Deletion) error
	ListDeletions(ctx context.Context, target string) ([]store.Deletion, error)

	AppendEvent(ctx context.Context, ev store.Event) error

	GetStatus(ctx context.Context, target string) (store.TargetStatus, error)
	PutStatus(ctx context.Context, s store.TargetStatus) (store.TargetStatus, error)

	GetGuard(ctx context.Context, target string) (store.Guard, error)
	PutGuard(ctx context.Context, g store.Guard) (store.Guard, error)

	GetGroupLink(ctx context.Context, target, sourceID string) (store.GroupLink, error)
	PutGroupLink(ctx context.Context, l store.GroupLink) (store.GroupLink, error)
	DeleteGroupLink(ctx context.Context, l store.GroupLink) error
	ListGroupLinks(ctx context.Context, target string) ([]store.GroupLink, error)
}

// Every store.Store is an engine Store.
var _ Store = store.Store(nil)
