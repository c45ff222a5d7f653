package graphsim

import (
	"net/http"
	"strings"
	"time"
)

// The users routes: list, get, create, update and delete users, their
// managers, direct reports and group memberships.

func listUsers(s *Server, rq *request) *response {
	if gerr := refuseUnsupported(rq); gerr != nil {
		return errorResponse(gerr)
	}
	sel, gerr := parseUserQuery(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	f, gerr := requestFilter(rq, userResource)
	if gerr != nil {
		return errorResponse(gerr)
	}
	if sel.expandManager && rq.advanced() {
		return errorResponse(errUnsupportedQuery("$expand is not supported with advanced queries."))
	}
	t := rq.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	match := func(u *user) bool { return f == nil || f.root.eval(userGetter(u), nil) }
	// An equality filter on indexed properties reads only its candidates.
	// While writes replicate, the reader's view is read in full (lag.go).
	scan := t.userOrder
	if t.lagging(objUser) {
		scan = t.liveUsers(rq.view())
	} else if f != nil {
		if c, ok := t.candidates(f); ok {
			scan = c
		}
	}
	return pageByID(rq, 'u', rq.context("users"+selectSuffix(rq)), scan, match, func(b []byte, u *user) []byte {
		return t.appendUser(b, u, sel, false)
	})
}

func getUser(s *Server, rq *request) *response {
	sel, gerr := parseUserQuery(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	t := rq.t
	t.mu.RLock()
	u := t.readUser(rq.segs[1], rq.view())
	if u == nil {
		t.mu.RUnlock()
		return errorResponse(errNoObject(rq.segs[1]))
	}
	obj := t.appendUser(make([]byte, 0, 512), u, sel, false)
	t.mu.RUnlock()
	return jsonResponse(http.StatusOK, withContext(rq.context("users"+selectSuffix(rq)+"/$entity"), obj))
}

func createUser(s *Server, rq *request) *response {
	return createObject(rq, "users/$entity", rq.t.createUser, func(u *user) []byte {
		return rq.t.appendUser(nil, u, defaultUserSelection, false)
	})
}

// createObject answers a POST that creates a user or group from its body
// with 201 and the new object's default properties.
func createObject[T any](rq *request, ctx string, create func(map[string]any, time.Time) (T, *graphError), write func(T) []byte) *response {
	props, gerr := decodeObject(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	obj, gerr := create(props, rq.now)
	if gerr != nil {
		return errorResponse(gerr)
	}
	rq.t.mu.RLock()
	b := write(obj)
	rq.t.mu.RUnlock()
	return jsonResponse(http.StatusCreated, withContext(rq.context(ctx), b))
}

func patchUser(s *Server, rq *request) *response { return patchObject(rq, objUser, rq.t.patchUser) }

// patchObject answers a PATCH of the user or group rq.segs[1] with 204.
func patchObject(rq *request, kind objKind, patch func(key string, props map[string]any) *graphError) *response {
	props, gerr := decodeObject(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	if gerr := lagHides(rq, kind, rq.segs[1]); gerr != nil {
		return errorResponse(gerr)
	}
	return noContentOr(patch(rq.segs[1], props))
}

func deleteUser(s *Server, rq *request) *response {
	if gerr := lagHides(rq, objUser, rq.segs[1]); gerr != nil {
		return errorResponse(gerr)
	}
	return noContentOr(rq.t.deleteUser(rq.segs[1], rq.now))
}

func getManager(s *Server, rq *request) *response {
	sel, gerr := parseUserQuery(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	if gerr := lagHides(rq, objUser, rq.segs[1]); gerr != nil {
		return errorResponse(gerr)
	}
	t := rq.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	u := t.lookupUser(rq.segs[1])
	if u == nil {
		return errorResponse(errNoObject(rq.segs[1]))
	}
	m := t.users[u.manager]
	if m == nil {
		return errorResponse(errNotFound("manager"))
	}
	obj := t.appendUser(nil, m, sel, true)
	return jsonResponse(http.StatusOK, withContext(rq.context("directoryObjects/$entity"), obj))
}

// refID reads the object id from a {"@odata.id": "..."} body.
func refID(rq *request) (string, *graphError) {
	body, gerr := decodeObject(rq)
	if gerr != nil {
		return "", gerr
	}
	ref, _ := body["@odata.id"].(string)
	if ref == "" {
		return "", errBadRequest("Invalid request body: the @odata.id property is required.")
	}
	return strings.ToLower(lastSegment(ref)), nil
}

func putManager(s *Server, rq *request) *response {
	id, gerr := refID(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	for _, key := range []string{rq.segs[1], id} {
		if gerr := lagHides(rq, objUser, key); gerr != nil {
			return errorResponse(gerr)
		}
	}
	return noContentOr(rq.t.setManager(rq.segs[1], id))
}

func deleteManager(s *Server, rq *request) *response {
	if gerr := lagHides(rq, objUser, rq.segs[1]); gerr != nil {
		return errorResponse(gerr)
	}
	return noContentOr(rq.t.setManager(rq.segs[1], ""))
}

func directReports(s *Server, rq *request) *response {
	sel, gerr := parseDirSelect(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	if gerr := lagHides(rq, objUser, rq.segs[1]); gerr != nil {
		return errorResponse(gerr)
	}
	t := rq.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	u := t.lookupUser(rq.segs[1])
	if u == nil {
		return errorResponse(errNoObject(rq.segs[1]))
	}
	var items []member
	for _, id := range sortedKeys(t.reports[u.id]) {
		if t.users[id] != nil {
			items = append(items, member{id: id, kind: objUser})
		}
	}
	return dirPage(rq, rq.context("directoryObjects"), items, sel, nil)
}

func memberOf(s *Server, rq *request) *response {
	sel, gerr := parseDirSelect(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	f, gerr := requestFilter(rq, groupResource)
	if gerr != nil {
		return errorResponse(gerr)
	}
	if gerr := lagHides(rq, objUser, rq.segs[1]); gerr != nil {
		return errorResponse(gerr)
	}
	t := rq.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	u := t.lookupUser(rq.segs[1])
	if u == nil {
		return errorResponse(errNoObject(rq.segs[1]))
	}
	var groups []*group
	if rq.segs[2] == "transitiveMemberOf" {
		groups = t.transitiveParents(u.id)
	} else {
		groups = t.parentsOf(u.id)
	}
	items := make([]member, len(groups))
	for i, g := range groups {
		items[i] = member{id: g.id, kind: objGroup}
	}
	ctx := "directoryObjects"
	if len(rq.segs) == 4 {
		ctx = "groups"
	}
	return dirPage(rq, rq.context(ctx), items, sel, f)
}

func checkMemberGroups(s *Server, rq *request) *response {
	body, gerr := decodeObject(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	raw, _ := body["groupIds"].([]any)
	if len(raw) == 0 {
		return errorResponse(errBadRequest("Invalid request body: groupIds is required."))
	}
	if len(raw) > 20 {
		return errorResponse(errBadRequest("The number of groupIds cannot exceed 20."))
	}
	if gerr := lagHides(rq, objUser, rq.segs[1]); gerr != nil {
		return errorResponse(gerr)
	}
	t := rq.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	u := t.lookupUser(rq.segs[1])
	if u == nil {
		return errorResponse(errNoObject(rq.segs[1]))
	}
	in := map[string]bool{}
	for _, g := range t.transitiveParents(u.id) {
		in[g.id] = true
	}
	b := []byte(`{"@odata.context":`)
	b = appendJSONString(b, rq.context("Collection(Edm.String)"))
	b = append(b, `,"value":[`...)
	n := 0
	for _, r := range raw {
		id, _ := r.(string)
		if in[strings.ToLower(id)] {
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = appendJSONString(b, id)
		}
	}
	b = append(b, "]}"...)
	return jsonResponse(http.StatusOK, b)
}
