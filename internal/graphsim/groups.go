package graphsim

import (
	"net/http"
	"strings"
)

// The groups routes: list and get groups, and read and change their
// members.

func parseGroupSelect(rq *request) (*selection, *graphError) {
	return parseSelect(rq.param("select"), groupPropIndex, defaultGroupSelect, false)
}

func listGroups(s *Server, rq *request) *response {
	if gerr := refuseUnsupported(rq); gerr != nil {
		return errorResponse(gerr)
	}
	sel, gerr := parseGroupSelect(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	f, gerr := requestFilter(rq, groupResource)
	if gerr != nil {
		return errorResponse(gerr)
	}
	t := rq.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	match := func(g *group) bool { return f == nil || f.root.eval(groupGetter(g), nil) }
	return pageByID(rq, 'g', rq.context("groups"+selectSuffix(rq)), t.liveGroups(rq.view()), match, func(b []byte, g *group) []byte {
		return t.appendGroup(b, g, sel, false)
	})
}

func getGroup(s *Server, rq *request) *response {
	sel, gerr := parseGroupSelect(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	t := rq.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	g := t.readGroup(rq.segs[1], rq.view())
	if g == nil {
		return errorResponse(errNoObject(rq.segs[1]))
	}
	obj := t.appendGroup(nil, g, sel, false)
	return jsonResponse(http.StatusOK, withContext(rq.context("groups"+selectSuffix(rq)+"/$entity"), obj))
}

func listMembers(s *Server, rq *request) *response {
	sel, gerr := parseDirSelect(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	cast := ""
	if len(rq.segs) == 4 {
		cast = rq.segs[3]
		if cast != "microsoft.graph.user" && cast != "microsoft.graph.group" {
			return errorResponse(errSegment(cast))
		}
	}
	res := userResource
	if cast == "microsoft.graph.group" {
		res = groupResource
	}
	var f *filter
	if cast != "" {
		if f, gerr = requestFilter(rq, res); gerr != nil {
			return errorResponse(gerr)
		}
	} else if rq.param("filter") != "" {
		return errorResponse(errUnsupportedQuery("The simulator filters members only after a type cast (members/microsoft.graph.user)."))
	}
	t := rq.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	g := t.readGroup(rq.segs[1], rq.view())
	if g == nil {
		return errorResponse(errNoObject(rq.segs[1]))
	}
	var all []member
	if rq.segs[2] == "transitiveMembers" {
		all = t.transitiveMembers(g)
	} else {
		all = g.members
	}
	items := make([]member, 0, len(all))
	for _, m := range all {
		switch {
		case cast == "microsoft.graph.user" && m.kind != objUser,
			cast == "microsoft.graph.group" && m.kind != objGroup:
			continue
		}
		items = append(items, m)
	}
	ctx := "directoryObjects"
	if cast != "" {
		ctx = strings.TrimPrefix(cast, "microsoft.graph.") + "s"
	}
	return dirPage(rq, rq.context(ctx), items, sel, f)
}

func addMember(s *Server, rq *request) *response {
	id, gerr := refID(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	if gerr := lagHides(rq, objGroup, rq.segs[1]); gerr != nil {
		return errorResponse(gerr)
	}
	// The new member, user or group, must have replicated too.
	if gerr := lagHides(rq, objUser, id); gerr != nil {
		return errorResponse(gerr)
	}
	if gerr := lagHides(rq, objGroup, id); gerr != nil {
		return errorResponse(gerr)
	}
	return noContentOr(rq.t.addMember(rq.segs[1], id))
}

// removeMember serves DELETE /groups/{id}/members/{id}/$ref and
// DELETE /groups/{id}/members/$ref?$id={url}.
func removeMember(s *Server, rq *request) *response {
	memberID := rq.segs[3]
	if memberID == "$ref" {
		ref := rq.param("id")
		if ref == "" {
			return errorResponse(errBadRequest("The $id query parameter is required."))
		}
		memberID = lastSegment(ref)
	}
	if gerr := lagHides(rq, objGroup, rq.segs[1]); gerr != nil {
		return errorResponse(gerr)
	}
	return noContentOr(rq.t.removeMember(rq.segs[1], memberID))
}
