package graphsim

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Group writes: POST /groups, PATCH /groups/{id} with properties and
// members@odata.bind, and the rules Graph documents for them. The upsert by
// uniqueName is in groupupsert.go, membership by $ref in tenant.go.

// maxLinkChanges is how many references (members and owners together) one
// request may bind. "Note that up to 20 members can be added in a single
// request" (https://learn.microsoft.com/graph/api/group-post-members,
// example 2) and "a maximum of 20 relationships, such as owners and
// members, can be added as part of group creation"
// (https://learn.microsoft.com/graph/api/group-post-groups, example 2).
const maxLinkChanges = 20

// Graph's answers to a group write whose references are wrong.
func errTooManyLinks() *graphError {
	// The message Graph answers a POST /groups with 21 owners and members
	// (microsoftgraph/microsoft-graph-docs#6016); the simulator answers a
	// PATCH over the limit the same way.
	return errBadRequest("A resource cannot contain more than 20 link changes.")
}

func errBadBind(nav string) *graphError {
	return errBadRequest("Invalid URL format specified in @odata.bind for %s", nav)
}

// errMembersExist is what Graph answers when a member to add is a member
// already (group-post-members: "This method returns a 400 Bad Request
// response code when the object is already a member of the group"; the
// code and message as Graph sends them, pnp/pnpframework#139).
func errMembersExist() *graphError {
	return errBadRequest("One or more added object references already exist for the following modified properties: 'members'.")
}

// errNotReplicated is what Graph answers a member addition to a group, or
// of an object, that has not replicated yet: "requests to add members to
// the group might return a 400 Bad Request error with the message: 'The
// source resource object or one of the objects being referenced do not
// exist.'" (https://learn.microsoft.com/graph/api/group-post-members, note).
func errNotReplicated() *graphError {
	return errBadRequest("The source resource object or one of the objects being referenced do not exist.")
}

// groupBinds are the references of a group write: the ids of the objects
// to add as members and as owners, lower-cased, in request order.
type groupBinds struct {
	members []string
	owners  []string
}

func (b groupBinds) empty() bool { return len(b.members) == 0 && len(b.owners) == 0 }

// parseGroupBinds reads members@odata.bind and owners@odata.bind: arrays of
// URLs such as https://graph.microsoft.com/v1.0/directoryObjects/{id}
// (also …/users/{id} and …/groups/{id}). More than maxLinkChanges in all,
// or one object twice, is refused.
func parseGroupBinds(props map[string]any) (groupBinds, *graphError) {
	var b groupBinds
	for _, nav := range []string{"members", "owners"} {
		raw, present := props[nav+"@odata.bind"]
		if !present {
			continue
		}
		list, ok := raw.([]any)
		if !ok {
			return groupBinds{}, errBadBind(nav)
		}
		seen := map[string]bool{}
		for _, r := range list {
			s, _ := r.(string)
			id, ok := bindID(s)
			if !ok {
				return groupBinds{}, errBadBind(nav)
			}
			if seen[id] {
				// Graph: "Object '…' referenced from '…' can only be present
				// once as an add/remove change."
				return groupBinds{}, errBadRequest("Object '%s' referenced from the group can only be present once as an add/remove change.", id)
			}
			seen[id] = true
			if nav == "members" {
				b.members = append(b.members, id)
			} else {
				b.owners = append(b.owners, id)
			}
		}
	}
	if len(b.members)+len(b.owners) > maxLinkChanges {
		return groupBinds{}, errTooManyLinks()
	}
	return b, nil
}

// bindID reads the object id from an @odata.bind URL: its last segment,
// after directoryObjects, users or groups.
func bindID(ref string) (string, bool) {
	u, err := url.Parse(ref)
	if err != nil || ref == "" {
		return "", false
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(segs) < 2 {
		return "", false
	}
	switch strings.ToLower(segs[len(segs)-2]) {
	case "directoryobjects", "users", "groups":
	default:
		return "", false
	}
	id := strings.ToLower(segs[len(segs)-1])
	return id, isGUID(id)
}

// bindsHidden answers 400 when the reader cannot see yet the group a write
// adds members to (groupID, "" for a new group) or an object it binds.
func bindsHidden(rq *request, groupID string, b groupBinds) *graphError {
	if groupID != "" {
		if gerr := lagHides(rq, objGroup, groupID); gerr != nil {
			return errNotReplicated()
		}
	}
	for _, id := range append(append([]string(nil), b.members...), b.owners...) {
		if lagHides(rq, objUser, id) != nil || lagHides(rq, objGroup, id) != nil {
			return errNotReplicated()
		}
	}
	return nil
}

// validMailNickname applies the rule of the group resource: "Maximum length
// is 64 characters. This property can contain only characters in the ASCII
// character set 0 - 127 except the following: @ () \ [] " ; : . <> , SPACE"
// (https://learn.microsoft.com/graph/api/resources/group#properties).
func validMailNickname(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 128 || c < 32 || strings.IndexByte(`@()\[]";:.<>, `, c) >= 0 {
			return false
		}
	}
	return true
}

// maxGroupDisplayName is the group's displayName limit: "Maximum length is
// 256 characters" (https://learn.microsoft.com/graph/api/group-post-groups,
// request body).
const maxGroupDisplayName = 256

// checkGroupProps checks the properties a write changed (mask) against the
// rules of the group resource.
func checkGroupProps(g *group, mask uint64) *graphError {
	if mask&(1<<gMailNickname) != 0 && !validMailNickname(g.str(gMailNickname)) {
		return errInvalidValue("mailNickname", "Group")
	}
	if mask&(1<<gDisplayName) != 0 && len([]rune(g.str(gDisplayName))) > maxGroupDisplayName {
		return errInvalidValue("displayName", "Group")
	}
	return nil
}

// newGroupFrom builds a group from the body of a create: the required
// properties (displayName, mailEnabled, mailNickname, securityEnabled, each
// "Required." in group-post-groups) and only the kinds of group Graph
// creates: "Microsoft 365 groups and security groups" — a mail-enabled
// group that is not a Microsoft 365 group (a distribution or mail-enabled
// security group) is Exchange's to create
// (https://learn.microsoft.com/graph/api/group-post-groups).
func newGroupFrom(props map[string]any, now time.Time) (*group, *graphError) {
	g := &group{id: newGUID()}
	mask, gerr := applyGroupProps(g, props, modeCreate)
	if gerr != nil {
		return nil, gerr
	}
	for _, p := range []int{gDisplayName, gMailEnabled, gMailNickname, gSecurityEnabled} {
		if g.v[p] == nil {
			return nil, errRequired(groupProps[p].name, "Group")
		}
	}
	if gerr := checkGroupProps(g, mask); gerr != nil {
		return nil, gerr
	}
	if mail, _ := g.v[gMailEnabled].(bool); mail && !g.isUnified() {
		// Graph answers this with 400; the wording is the simulator's.
		return nil, errBadRequest("Only Microsoft 365 groups and security groups can be created through Microsoft Graph: mailEnabled is true but groupTypes does not contain 'Unified'.")
	}
	g.v[gCreatedDateTime] = graphTime(now)
	return g, nil
}

// createGroup adds a group from a POST /groups body: its properties, and
// members and owners bound by members@odata.bind and owners@odata.bind
// (owners are checked and counted but not kept: the simulator does not model
// them).
func (t *tenant) createGroup(props map[string]any, now time.Time) (*group, *graphError) {
	return t.createGroupNamed(props, "", now)
}

// createGroupNamed is createGroup with a uniqueName ("" for none); a
// uniqueName held by another group, live or soft deleted, is a conflict.
func (t *tenant) createGroupNamed(props map[string]any, uniqueName string, now time.Time) (*group, *graphError) {
	g, gerr := newGroupFrom(props, now)
	if gerr != nil {
		return nil, gerr
	}
	binds, gerr := parseGroupBinds(props)
	if gerr != nil {
		return nil, gerr
	}
	if uniqueName != "" {
		g.v[gUniqueName] = uniqueName
	}
	t.mu.Lock()
	if uniqueName != "" && t.uniqueNameHolder(uniqueName) != nil {
		t.mu.Unlock()
		return nil, errUniqueNameTaken()
	}
	members, gerr := t.resolveBinds(g, binds)
	if gerr != nil {
		t.mu.Unlock()
		return nil, gerr
	}
	for _, m := range members {
		g.addMember(m)
	}
	t.lagBefore(objGroup, g.id)
	t.indexGroup(g)
	t.record(change{kind: objGroup, op: opCreate, id: g.id})
	for _, m := range g.members {
		// The group's own event below tells subscribers.
		t.recordMembership(g.id, m, false)
	}
	t.mu.Unlock()
	t.publish(event{kind: objGroup, id: g.id, changeType: "updated"})
	return g, nil
}

// resolveBinds checks the references of a write to g: every member must be
// a live user or group other than g and not a member already, every owner a
// live user. It returns the members to add; the caller holds t.mu.
func (t *tenant) resolveBinds(g *group, b groupBinds) ([]member, *graphError) {
	members := make([]member, 0, len(b.members))
	existing := false
	for _, id := range b.members {
		k, ok := t.objectKind(id)
		if !ok {
			return nil, errNotFound(id)
		}
		if id == g.id {
			return nil, errBadRequest("A group cannot be a member of itself.")
		}
		if g.hasMember(id) {
			existing = true
		}
		members = append(members, member{id: id, kind: k})
	}
	for _, id := range b.owners {
		if t.users[id] == nil {
			return nil, errNotFound(id)
		}
	}
	if existing {
		// "If an error condition exists in the request body, no members
		// are added" (group-post-members, example 2).
		return nil, errMembersExist()
	}
	return members, nil
}

// patchGroup applies a PATCH body to a live group: its properties and the
// members it binds, all or nothing, as one change for subscribers.
func (t *tenant) patchGroup(id string, props map[string]any) *graphError {
	binds, gerr := parseGroupBinds(props)
	if gerr != nil {
		return gerr
	}
	t.mu.Lock()
	g := t.groups[strings.ToLower(id)]
	if g == nil {
		t.mu.Unlock()
		return errNotFound(id)
	}
	next := *g
	mask, gerr := applyGroupProps(&next, props, modePatch)
	if gerr == nil {
		gerr = checkGroupProps(&next, mask)
	}
	var members []member
	if gerr == nil {
		members, gerr = t.resolveBinds(g, binds)
	}
	if gerr != nil {
		t.mu.Unlock()
		return gerr
	}
	if mask == 0 && len(members) == 0 {
		t.mu.Unlock()
		return nil
	}
	t.lagBefore(objGroup, g.id)
	g.v = next.v
	if mask != 0 {
		t.record(change{kind: objGroup, op: opUpdate, id: g.id, mask: mask})
	}
	ev := event{kind: objGroup, id: g.id, changeType: "updated"}
	for _, m := range members {
		g.addMember(m)
		ev.members = append(ev.members, t.recordMembership(g.id, m, false).members...)
	}
	t.mu.Unlock()
	t.publish(ev)
	return nil
}

// deleteGroup deletes a group: "both Microsoft 365 and security groups are
// moved to a temporary container and can be restored within 30 days ...
// This doesn't apply to Distribution groups which are permanently deleted
// immediately" (https://learn.microsoft.com/graph/api/group-delete). A
// mail-enabled group that is not a Microsoft 365 group (distribution, and
// mail-enabled security, which Graph cannot create) is deleted permanently:
// the stricter reading. The group leaves the groups it was a member of; its
// own members stay (they are users and groups in their own right) and come
// back with it on restore.
func (t *tenant) deleteGroup(id string, now time.Time) *graphError {
	id = strings.ToLower(id)
	t.mu.Lock()
	g := t.groups[id]
	if g == nil {
		t.mu.Unlock()
		return errNotFound(id)
	}
	t.lagBefore(objGroup, id)
	t.unindexGroup(g)
	_, evs := t.leaveGroups(member{id: id, kind: objGroup})
	if mail, _ := g.v[gMailEnabled].(bool); !mail || g.isUnified() {
		g.deleted = now
		g.v[gDeletedDateTime] = graphTime(now)
		t.deletedGroups[id] = g
		t.record(change{kind: objGroup, op: opSoftDelete, id: id})
		evs = append(evs, event{kind: objGroup, id: id, changeType: "updated"})
		t.scheduleExpiry(now.Add(t.srv.opts.DeletedItemRetention))
	} else {
		t.record(change{kind: objGroup, op: opHardDelete, id: id})
		evs = append(evs, event{kind: objGroup, id: id, changeType: "deleted"})
	}
	t.mu.Unlock()
	t.publish(evs...)
	return nil
}

func createGroup(s *Server, rq *request) *response {
	props, gerr := decodeObject(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	binds, gerr := parseGroupBinds(props)
	if gerr != nil {
		return errorResponse(gerr)
	}
	if gerr := bindsHidden(rq, "", binds); gerr != nil {
		return errorResponse(gerr)
	}
	g, gerr := rq.t.createGroup(props, rq.now)
	if gerr != nil {
		return errorResponse(gerr)
	}
	return createdGroup(rq, g)
}

// createdGroup answers 201 with a new group's default properties.
func createdGroup(rq *request, g *group) *response {
	rq.t.mu.RLock()
	b := rq.t.appendGroup(nil, g, defaultGroupSelection, false)
	rq.t.mu.RUnlock()
	return jsonResponse(http.StatusCreated, withContext(rq.context("groups/$entity"), b))
}

func patchGroup(s *Server, rq *request) *response {
	props, gerr := decodeObject(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	binds, gerr := parseGroupBinds(props)
	if gerr != nil {
		return errorResponse(gerr)
	}
	if binds.empty() {
		if gerr := lagHides(rq, objGroup, rq.segs[1]); gerr != nil {
			return errorResponse(gerr)
		}
	} else if gerr := bindsHidden(rq, rq.segs[1], binds); gerr != nil {
		return errorResponse(gerr)
	}
	return noContentOr(rq.t.patchGroup(rq.segs[1], props))
}

func deleteGroup(s *Server, rq *request) *response {
	if gerr := lagHides(rq, objGroup, rq.segs[1]); gerr != nil {
		return errorResponse(gerr)
	}
	return noContentOr(rq.t.deleteGroup(rq.segs[1], rq.now))
}
