package graphsim

import (
	"net/http"
	"strings"
)

// The deleted items routes: list, get, restore and purge soft-deleted
// users and groups.

// deletedSelection is the selection for deleted users: the default set plus
// deletedDateTime, unless $select says otherwise.
func deletedUserSelection(rq *request) (*selection, *graphError) {
	if strings.TrimSpace(rq.param("select")) == "" {
		return newSelection(append(append([]int(nil), defaultUserSelect...), pDeletedDateTime)), nil
	}
	return parseSelect(rq.param("select"), userPropIndex, defaultUserSelect, false)
}

func listDeleted(s *Server, rq *request) *response {
	cast := rq.segs[2]
	if cast != "microsoft.graph.user" && cast != "microsoft.graph.group" {
		return errorResponse(errBadRequest("The simulator lists deleted items of type microsoft.graph.user and microsoft.graph.group."))
	}
	t := rq.t
	t.maybeExpire(rq.now)
	off, top, gerr := rq.offsetPage()
	if gerr != nil {
		return errorResponse(gerr)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	page := newListPage(rq.context("directory/deletedItems/"+cast), -1)
	var ids []string
	if cast == "microsoft.graph.user" {
		ids = sortedKeys(t.deletedUsers)
	} else {
		ids = sortedKeys(t.deletedGroups)
	}
	end := min(off+top, len(ids))
	if cast == "microsoft.graph.user" {
		sel, gerr := deletedUserSelection(rq)
		if gerr != nil {
			return errorResponse(gerr)
		}
		f, gerr := requestFilter(rq, userResource)
		if gerr != nil {
			return errorResponse(gerr)
		}
		for _, id := range ids[min(off, len(ids)):end] {
			u := t.deletedUsers[id]
			if f != nil && !f.root.eval(userGetter(u), nil) {
				continue
			}
			page.item()
			page.b = t.appendUser(page.b, u, sel, true)
		}
	} else {
		sel, gerr := parseGroupSelect(rq)
		if gerr != nil {
			return errorResponse(gerr)
		}
		for _, id := range ids[min(off, len(ids)):end] {
			page.item()
			page.b = t.appendGroup(page.b, t.deletedGroups[id], sel, true)
		}
	}
	return jsonResponse(http.StatusOK, page.finish(rq.offsetNextLink(end, len(ids))))
}

func getDeleted(s *Server, rq *request) *response {
	t := rq.t
	t.maybeExpire(rq.now)
	id := strings.ToLower(rq.segs[2])
	t.mu.RLock()
	defer t.mu.RUnlock()
	if u := t.deletedUsers[id]; u != nil {
		sel, gerr := deletedUserSelection(rq)
		if gerr != nil {
			return errorResponse(gerr)
		}
		return jsonResponse(http.StatusOK, withContext(rq.context("directoryObjects/$entity"), t.appendUser(nil, u, sel, true)))
	}
	if g := t.deletedGroups[id]; g != nil {
		// deletedItems/{id} is a directoryObject: a $select may name
		// properties of either type, as over other directoryObject
		// collections; the group answers with its own, and always its id.
		ds, gerr := parseDirSelect(rq)
		if gerr != nil {
			return errorResponse(gerr)
		}
		sel := ds.group
		if !hasProp(sel.props, pID) {
			sel = newSelection(append([]int{pID}, sel.props...))
		}
		return jsonResponse(http.StatusOK, withContext(rq.context("directoryObjects/$entity"), t.appendGroup(nil, g, sel, true)))
	}
	return errorResponse(errNoObject(rq.segs[2]))
}

func restoreDeleted(s *Server, rq *request) *response {
	t := rq.t
	t.maybeExpire(rq.now)
	kind, gerr := t.restore(rq.segs[2])
	if gerr != nil {
		return errorResponse(gerr)
	}
	id := strings.ToLower(rq.segs[2])
	t.mu.RLock()
	defer t.mu.RUnlock()
	var obj []byte
	if kind == objGroup {
		obj = t.appendGroup(nil, t.groups[id], defaultGroupSelection, true)
	} else {
		obj = t.appendUser(nil, t.users[id], defaultUserSelection, true)
	}
	return jsonResponse(http.StatusOK, withContext(rq.context("directoryObjects/$entity"), obj))
}

func deleteDeleted(s *Server, rq *request) *response {
	t := rq.t
	t.maybeExpire(rq.now)
	return noContentOr(t.purge(rq.segs[2]))
}
