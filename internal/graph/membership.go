package graph

import (
	"context"
	"strings"
	"sync"
	"time"
)

// Direct group membership, with the least privilege. Graph answers "is this
// user a direct member of this group" for an app only through GET
// /users/{id}/memberOf, which needs Directory.Read.All. With Group.Read.All
// a group's direct members can be listed instead; memberCache keeps each
// scoping group's direct user members for a while, so that a user's sync
// costs the transitive check alone, and a group's listing is paid once per
// memberTTL, not per user.
//
// It never trusts a stale negative: when the transitive check says the
// user is a member and the cached listing does not have them (someone just
// added them), the group is listed again before the answer is no — unless
// another call listed it after this one began. So a user who is a member
// only through a nested group costs a listing per sync, with direct
// scoping (CTS's, which takes direct members only); with `nested: true`
// no listing is needed at all. A stale positive can only last memberTTL,
// and only for a user removed from the group itself but still in it
// through a nested group.
const (
	memberTTL     = 2 * time.Minute
	maxGroupCache = 64 // scoping groups are a handful; a bound all the same
)

type memberCache struct {
	mu     sync.Mutex
	groups map[string]*groupMembers // by lower-cased group id
}

type groupMembers struct {
	mu     sync.Mutex // one listing at a time per group
	users  map[string]bool
	listed time.Time
}

func (mc *memberCache) group(id string) *groupMembers {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.groups == nil {
		mc.groups = map[string]*groupMembers{}
	}
	k := strings.ToLower(id)
	g := mc.groups[k]
	if g == nil {
		if len(mc.groups) >= maxGroupCache {
			clear(mc.groups)
		}
		g = &groupMembers{}
		mc.groups[k] = g
	}
	return g
}

// directMember reports whether userID, a transitive member of groupID, is
// a direct member of it, from the group's cached direct members, listed
// again when they are older than memberTTL or do not have the user (unless
// they were listed after this call began).
func (mc *memberCache) directMember(ctx context.Context, c *Client, groupID, userID string) (bool, error) {
	start := time.Now()
	g := mc.group(groupID)
	g.mu.Lock()
	defer g.mu.Unlock()
	user := strings.ToLower(userID)
	if g.users != nil && (g.listed.After(start) || g.users[user] && time.Since(g.listed) < memberTTL) {
		return g.users[user], nil
	}
	m, err := c.GroupMembers(ctx, groupID, false)
	if err != nil {
		return false, err
	}
	g.users = make(map[string]bool, len(m.Users))
	for _, id := range m.Users {
		g.users[strings.ToLower(id)] = true
	}
	g.listed = time.Now()
	return g.users[user], nil
}
