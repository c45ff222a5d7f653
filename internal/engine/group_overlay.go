package engine

import (
	"context"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/store"
)

// The dry run's side of group provisioning: the overlay's group links and a
// group target that reads and never writes.

// GetGroupLink reads the real store: a dry run's group decisions do not
// depend on one another.
func (o *overlayStore) GetGroupLink(ctx context.Context, target, sourceID string) (store.GroupLink, error) {
	return o.real.GetGroupLink(ctx, target, sourceID)
}

// PutGroupLink writes nothing: each group's decision keeps its own copy.
func (o *overlayStore) PutGroupLink(ctx context.Context, l store.GroupLink) (store.GroupLink, error) {
	return l, nil
}

// DeleteGroupLink deletes nothing.
func (o *overlayStore) DeleteGroupLink(ctx context.Context, l store.GroupLink) error { return nil }

// ListGroupLinks reads the real store.
func (o *overlayStore) ListGroupLinks(ctx context.Context, target string) ([]store.GroupLink, error) {
	return o.real.ListGroupLinks(ctx, target)
}

// dryGroupTarget answers a target's group reads from the target and turns
// its writes into no-ops: a dry run can never write a group.
type dryGroupTarget struct {
	real GroupTarget
}

var _ GroupTarget = dryGroupTarget{}

func (d dryGroupTarget) CreateGroup(ctx context.Context, attrs directory.Attributes) (directory.Group, error) {
	name, _ := attrs.String("displayName")
	return directory.Group{DisplayName: name, Attrs: attrs.Clone()}, nil
}

func (d dryGroupTarget) GetGroup(ctx context.Context, id string, attrs []string) (directory.Group, error) {
	return d.real.GetGroup(ctx, id, attrs)
}

func (d dryGroupTarget) FindGroupsByName(ctx context.Context, name string, attrs []string) ([]directory.Group, error) {
	return d.real.FindGroupsByName(ctx, name, attrs)
}

func (d dryGroupTarget) ListGroupMembers(ctx context.Context, id string) ([]string, error) {
	return d.real.ListGroupMembers(ctx, id)
}

func (dryGroupTarget) UpdateGroup(context.Context, string, directory.Attributes) error { return nil }
func (dryGroupTarget) AddGroupMembers(context.Context, string, []string) error         { return nil }
func (dryGroupTarget) RemoveGroupMember(context.Context, string, string) error         { return nil }
func (dryGroupTarget) DeleteGroup(context.Context, string) error                       { return nil }
func (dryGroupTarget) RestoreGroup(context.Context, string) error                      { return nil }
