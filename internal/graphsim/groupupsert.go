package graphsim

import (
	"net/http"
	"strings"
)

// A group's uniqueName: "The unique identifier that can be assigned to a
// group and used as an alternate key. Immutable."
// (https://learn.microsoft.com/graph/api/resources/group#properties). It is
// assigned by the upsert, "Create a new group object if it doesn't exist, or
// update the properties of an existing group object":
//
//	PATCH /groups(uniqueName='{uniqueName}')
//	Prefer: create-if-missing
//
// answers 201 Created with the new group, or 204 No Content after updating
// the existing one; without the Prefer header "the request is treated as an
// update operation" (https://learn.microsoft.com/graph/api/group-upsert).
// GET /groups(uniqueName='{uniqueName}') reads the group by that key.
//
// Stricter readings, where Graph is silent: the value is 1 to 128 ASCII
// letters, digits, '.', '_' and '-'; a soft-deleted group keeps its
// uniqueName, so an upsert of that name answers 400 until the group is
// restored or purged; an upsert whose group exists but has not replicated
// to the reader answers 404 like any write to an unreplicated object; and
// the update path needs the permissions of an update
// (https://learn.microsoft.com/graph/api/group-update#permissions) besides
// the create path's.

const maxUniqueName = 128

// groupUniqueName reads the alternate key segment
// groups(uniqueName='{uniqueName}').
func groupUniqueName(seg string) (string, bool) {
	rest, ok := strings.CutPrefix(seg, "groups(")
	if !ok || !strings.HasSuffix(rest, ")") {
		return "", false
	}
	key, val, ok := strings.Cut(strings.TrimSuffix(rest, ")"), "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(key), "uniqueName") {
		return "", false
	}
	val = strings.TrimSpace(val)
	if len(val) < 2 || val[0] != '\'' || val[len(val)-1] != '\'' {
		return "", false
	}
	return val[1 : len(val)-1], true
}

// validUniqueName is the simulator's rule for a uniqueName value.
func validUniqueName(s string) bool {
	if s == "" || len(s) > maxUniqueName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

func errUniqueNameTaken() *graphError {
	return errBadRequest("Another object with the same value for property uniqueName already exists.")
}

// uniqueNameHolder returns the group, live or soft deleted, whose uniqueName
// is name (compared case-insensitively); the caller holds t.mu.
func (t *tenant) uniqueNameHolder(name string) *group {
	for _, g := range t.groupOrder {
		if strings.EqualFold(g.str(gUniqueName), name) {
			return g
		}
	}
	for _, g := range t.deletedGroups {
		if strings.EqualFold(g.str(gUniqueName), name) {
			return g
		}
	}
	return nil
}

// liveUniqueName returns the id of the live group whose uniqueName is name,
// or "".
func (t *tenant) liveUniqueName(name string) string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if g := t.uniqueNameHolder(name); g != nil && g.deleted.IsZero() {
		return g.id
	}
	return ""
}

// createIfMissing reports whether the request asks for the upsert's create
// path.
func createIfMissing(rq *request) bool {
	for _, pref := range rq.header.Values("Prefer") {
		for _, p := range strings.Split(pref, ",") {
			if strings.EqualFold(strings.TrimSpace(p), "create-if-missing") {
				return true
			}
		}
	}
	return false
}

func getGroupByUniqueName(s *Server, rq *request) *response {
	name, _ := groupUniqueName(rq.segs[0])
	sel, gerr := parseGroupSelect(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	t := rq.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	var g *group
	if h := t.uniqueNameHolder(name); h != nil && h.deleted.IsZero() {
		g = t.readGroup(h.id, rq.view())
	}
	if g == nil {
		return errorResponse(errNotFound(name))
	}
	obj := t.appendGroup(nil, g, sel, false)
	return jsonResponse(http.StatusOK, withContext(rq.context("groups"+selectSuffix(rq)+"/$entity"), obj))
}

func upsertGroup(s *Server, rq *request) *response {
	name, _ := groupUniqueName(rq.segs[0])
	if !validUniqueName(name) {
		return errorResponse(errInvalidValue("uniqueName", "Group"))
	}
	props, gerr := decodeObject(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	binds, gerr := parseGroupBinds(props)
	if gerr != nil {
		return errorResponse(gerr)
	}
	t := rq.t
	if id := t.liveUniqueName(name); id != "" {
		// The update path.
		if gerr := lagHides(rq, objGroup, id); gerr != nil {
			return errorResponse(gerr)
		}
		if gerr := bindsHidden(rq, "", binds); gerr != nil {
			return errorResponse(gerr)
		}
		return noContentOr(t.patchGroup(id, props))
	}
	if !createIfMissing(rq) {
		return errorResponse(errNotFound(name))
	}
	if gerr := bindsHidden(rq, "", binds); gerr != nil {
		return errorResponse(gerr)
	}
	g, gerr := t.createGroupNamed(props, name, rq.now)
	if gerr != nil {
		return errorResponse(gerr)
	}
	t.mu.RLock()
	sel := newSelection(append(append([]int(nil), defaultGroupSelect...), gUniqueName))
	b := t.appendGroup(nil, g, sel, false)
	t.mu.RUnlock()
	return jsonResponse(http.StatusCreated, withContext(rq.context("groups/$entity"), b))
}

// upsertPermKeys returns the permTable rows an upsert needs: the create
// path's (group-upsert uses group-post-groups' table) when no live group
// has the uniqueName, else an update's; and the members row when it binds
// members to an existing group.
func upsertPermKeys(rq *request) []string {
	name, _ := groupUniqueName(rq.segs[0])
	binds := bodyBindsMembers(rq)
	if rq.t.liveUniqueName(name) == "" {
		keys := []string{"POST /groups"}
		if binds {
			keys = append(keys, "POST /groups with members or owners")
		}
		return keys
	}
	return patchGroupPermKeys(rq)
}

// bodyBindsMembers reports whether a group write's body binds members or
// owners.
func bodyBindsMembers(rq *request) bool {
	props, gerr := decodeObject(rq)
	if gerr != nil {
		return false
	}
	_, m := props["members@odata.bind"]
	_, o := props["owners@odata.bind"]
	return m || o
}

// patchGroupPermKeys returns the rows a PATCH of a group needs: group-update's
// for its properties, group-post-members' for members@odata.bind ("Add
// multiple members to a group in a single request" is a PATCH on that page).
func patchGroupPermKeys(rq *request) []string {
	props, gerr := decodeObject(rq)
	if gerr != nil {
		return []string{"PATCH /groups/{id}"}
	}
	var keys []string
	general := false
	for name := range props {
		switch {
		case name == "members@odata.bind":
			keys = append(keys, "POST /groups/{id}/members/$ref")
		case strings.Contains(name, "@odata."):
		default:
			general = true
		}
	}
	if general || len(keys) == 0 {
		keys = append(keys, "PATCH /groups/{id}")
	}
	return keys
}
