package graphsim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// decodeObject decodes a JSON object body.
func decodeObject(rq *request) (map[string]any, *graphError) {
	if len(rq.body) == 0 {
		return nil, errMalformedJSON()
	}
	var m map[string]any
	if err := json.Unmarshal(rq.body, &m); err != nil || m == nil {
		return nil, errMalformedJSON()
	}
	return m, nil
}

// top returns the page size: $top (1–999) or 100.
func (r *request) top() (int, *graphError) {
	v := r.param("top")
	if v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 999 {
		return 0, errBadRequest("Invalid page size specified: '%s'. Must be between 1 and 999 inclusive.", v)
	}
	return n, nil
}

// skipToken encodes a paging position; the prefix says which kind.
func skipToken(kind byte, pos string) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte{kind, ':'}, pos...))
}

func parseSkipToken(tok string, kind byte) (string, bool) {
	if tok == "" {
		return "", true
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 2 || b[0] != kind || b[1] != ':' {
		return "", false
	}
	return string(b[2:]), true
}

// offsetPage reads $top and the skip token of a list paged by offset (a
// list the simulator computes per request): the offset to start at.
func (r *request) offsetPage() (off, top int, gerr *graphError) {
	top, gerr = r.top()
	if gerr != nil {
		return 0, 0, gerr
	}
	offStr, ok := parseSkipToken(r.param("skiptoken"), 'o')
	if !ok {
		return 0, 0, errBadSkipToken()
	}
	off, _ = strconv.Atoi(offStr)
	return off, top, nil
}

// offsetNextLink is the nextLink of a page of a list paged by offset that
// ends at end, of n items: "" on the last page.
func (r *request) offsetNextLink(end, n int) string {
	if end >= n {
		return ""
	}
	return r.nextLink(skipToken('o', strconv.Itoa(end)))
}

func errBadSkipToken() *graphError {
	return errBadRequest("The specified page token value has expired or is invalid.")
}

// nextLink is the request's own URL with a new $skiptoken.
func (r *request) nextLink(token string) string {
	q := url.Values{}
	for k, v := range r.query {
		if strings.EqualFold(strings.TrimPrefix(k, "$"), "skiptoken") {
			continue
		}
		q[k] = v
	}
	q.Set("$skiptoken", token)
	return r.base + "/" + r.path() + "?" + q.Encode()
}

// path is the request path after /v1.0, escaped.
func (r *request) path() string {
	parts := make([]string, len(r.segs))
	for i, s := range r.segs {
		parts[i] = escapeSegment(s)
	}
	return strings.Join(parts, "/")
}

// context builds an @odata.context value.
func (r *request) context(suffix string) string {
	return r.base + "/$metadata#" + suffix
}

// selectSuffix renders the selected property names for @odata.context.
func selectSuffix(rq *request) string {
	sel := strings.TrimSpace(rq.param("select"))
	if sel == "" {
		return ""
	}
	return "(" + sel + ")"
}

// withContext inserts "@odata.context" as the first member of obj.
func withContext(ctx string, obj []byte) []byte {
	b := make([]byte, 0, len(obj)+len(ctx)+24)
	b = append(b, `{"@odata.context":`...)
	b = appendJSONString(b, ctx)
	if len(obj) > 2 {
		b = append(b, ',')
	}
	return append(b, obj[1:]...)
}

// listPage writes a collection response around values already rendered.
type listPage struct {
	b []byte
	n int
}

func newListPage(ctx string, count int) *listPage {
	p := &listPage{b: make([]byte, 0, 4096)}
	p.b = append(p.b, `{"@odata.context":`...)
	p.b = appendJSONString(p.b, ctx)
	if count >= 0 {
		p.b = append(p.b, `,"@odata.count":`...)
		p.b = strconv.AppendInt(p.b, int64(count), 10)
	}
	p.b = append(p.b, `,"value":[`...)
	return p
}

func (p *listPage) item() {
	if p.n > 0 {
		p.b = append(p.b, ',')
	}
	p.n++
}

func (p *listPage) finish(next string) []byte {
	p.b = append(p.b, ']')
	if next != "" {
		p.b = append(p.b, `,"@odata.nextLink":`...)
		p.b = appendJSONString(p.b, next)
	}
	return append(p.b, '}')
}

// refuseUnsupported answers query options the simulator does not
// implement with a clear 400 rather than ignoring them silently.
func refuseUnsupported(rq *request) *graphError {
	for _, opt := range []string{"orderby", "search", "skip"} {
		if rq.hasParam(opt) {
			return errUnsupportedQuery("The simulator does not support $%s.", opt)
		}
	}
	return nil
}

// wantCount reports whether the response carries @odata.count: only with
// the advanced query parameters, as Graph silently ignores $count without
// ConsistencyLevel.
func wantCount(rq *request) bool { return rq.advanced() }

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

// pageByID answers a list of objects sorted by id (live users or groups),
// paged by a skip token of the given kind that holds the last id returned:
// up to $top of the objects that match, counted when the request asks for
// @odata.count, and a nextLink while more match. The caller holds t.mu for
// reading.
func pageByID[T identified](rq *request, kind byte, ctx string, objs []T, match func(T) bool, write func([]byte, T) []byte) *response {
	top, gerr := rq.top()
	if gerr != nil {
		return errorResponse(gerr)
	}
	after, ok := parseSkipToken(rq.param("skiptoken"), kind)
	if !ok {
		return errorResponse(errBadSkipToken())
	}
	count := -1
	if wantCount(rq) {
		count = 0
		for _, o := range objs {
			if match(o) {
				count++
			}
		}
	}
	page := newListPage(ctx, count)
	i := sort.Search(len(objs), func(i int) bool { return objs[i].objectID() > after })
	last := ""
	for ; i < len(objs) && page.n < top; i++ {
		o := objs[i]
		if !match(o) {
			continue
		}
		page.item()
		page.b = write(page.b, o)
		last = o.objectID()
	}
	next := ""
	for ; i < len(objs); i++ {
		if match(objs[i]) {
			next = rq.nextLink(skipToken(kind, last))
			break
		}
	}
	return jsonResponse(http.StatusOK, page.finish(next))
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

// dirSelection is a $select over a directoryObject collection that may
// hold users and groups: a name valid for either type is accepted.
type dirSelection struct {
	user, group *selection
}

func parseDirSelect(rq *request) (dirSelection, *graphError) {
	value := strings.TrimSpace(rq.param("select"))
	if value == "" {
		return dirSelection{user: defaultUserSelection, group: defaultGroupSelection}, nil
	}
	var up, gp []int
	for _, name := range strings.Split(value, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		ui, uok := userPropIndex[name]
		gi, gok := groupPropIndex[name]
		if !uok && !gok {
			return dirSelection{}, errUnsupportedQuery("Property '%s' does not exist as a declared property or extension property.", strings.TrimSpace(name))
		}
		if uok {
			up = append(up, ui)
		}
		if gok {
			gp = append(gp, gi)
		}
	}
	return dirSelection{user: newSelection(up), group: newSelection(gp)}, nil
}

// dirPage pages a computed list of directory objects with an offset token.
func dirPage(rq *request, ctx string, items []member, sel dirSelection, f *filter) *response {
	off, top, gerr := rq.offsetPage()
	if gerr != nil {
		return errorResponse(gerr)
	}
	t := rq.t
	// A member list read while writes replicate may name an object that
	// is gone by now: it is left out.
	match := func(m member) bool {
		if m.kind == objGroup {
			g := t.groups[m.id]
			return g != nil && (f == nil || f.root.eval(groupGetter(g), nil))
		}
		u := t.users[m.id]
		return u != nil && (f == nil || f.root.eval(userGetter(u), nil))
	}
	var filtered []member
	for _, m := range items {
		if match(m) {
			filtered = append(filtered, m)
		}
	}
	count := -1
	if wantCount(rq) {
		count = len(filtered)
	}
	page := newListPage(ctx, count)
	end := min(off+top, len(filtered))
	for _, m := range filtered[min(off, len(filtered)):end] {
		page.item()
		if m.kind == objGroup {
			page.b = t.appendGroup(page.b, t.groups[m.id], sel.group, true)
		} else {
			page.b = t.appendUser(page.b, t.users[m.id], sel.user, true)
		}
	}
	return jsonResponse(http.StatusOK, page.finish(rq.offsetNextLink(end, len(filtered))))
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

func createGroup(s *Server, rq *request) *response {
	return createObject(rq, "groups/$entity", rq.t.createGroup, func(g *group) []byte {
		return rq.t.appendGroup(nil, g, defaultGroupSelection, false)
	})
}

func patchGroup(s *Server, rq *request) *response { return patchObject(rq, objGroup, rq.t.patchGroup) }

func deleteGroup(s *Server, rq *request) *response {
	if gerr := lagHides(rq, objGroup, rq.segs[1]); gerr != nil {
		return errorResponse(gerr)
	}
	return noContentOr(rq.t.deleteGroup(rq.segs[1], rq.now))
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
		sel, gerr := parseGroupSelect(rq)
		if gerr != nil {
			return errorResponse(gerr)
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

// invitationBody is the request body of POST /invitations.
type invitationBody struct {
	InvitedUserEmailAddress string          `json:"invitedUserEmailAddress"`
	InvitedUserDisplayName  string          `json:"invitedUserDisplayName"`
	InviteRedirectURL       string          `json:"inviteRedirectUrl"`
	InvitedUserType         string          `json:"invitedUserType"`
	SendInvitationMessage   bool            `json:"sendInvitationMessage"`
	ResetRedemption         bool            `json:"resetRedemption"`
	InvitedUserMessageInfo  json.RawMessage `json:"invitedUserMessageInfo"`
}

func invite(s *Server, rq *request) *response {
	var inv invitationBody
	if len(rq.body) == 0 || json.Unmarshal(rq.body, &inv) != nil {
		return errorResponse(errMalformedJSON())
	}
	if inv.InvitedUserEmailAddress == "" {
		return errorResponse(newError(http.StatusBadRequest, "BadRequest", "The invitedUserEmailAddress property is required."))
	}
	if inv.InviteRedirectURL == "" {
		return errorResponse(newError(http.StatusBadRequest, "BadRequest", "The inviteRedirectUrl property is required."))
	}
	if inv.InvitedUserType != "" && !strings.EqualFold(inv.InvitedUserType, "Guest") && !strings.EqualFold(inv.InvitedUserType, "Member") {
		return errorResponse(newError(http.StatusBadRequest, "BadRequest", "Invalid value for invitedUserType: '%s'.", inv.InvitedUserType))
	}
	t := rq.t
	u, _, gerr := t.invite(inv, rq.now)
	if gerr != nil {
		return errorResponse(gerr)
	}
	t.mu.RLock()
	status := "PendingAcceptance"
	if t.users[u.id] != nil && u.str(pExternalUserState) != "PendingAcceptance" && u.str(pCreationType) == "Invitation" {
		status = "Completed"
	}
	userType := u.str(pUserType)
	display := u.str(pDisplayName)
	uid := u.id
	t.mu.RUnlock()
	invID := newGUID()
	b := []byte(`{"@odata.context":`)
	b = appendJSONString(b, rq.context("invitations/$entity"))
	b = append(b, `,"id":`...)
	b = appendJSONString(b, invID)
	b = append(b, `,"inviteRedeemUrl":`...)
	b = appendJSONString(b, "https://login.microsoftonline.com/redeem?rd=https%3a%2f%2finvitations.microsoft.com%2fredeem%2f%3ftenant%3d"+
		t.id+"%26user%3d"+uid+"%26ticket%3d"+invID+"%26ver%3d2.0")
	b = append(b, `,"invitedUserDisplayName":`...)
	b = appendJSONString(b, display)
	b = append(b, `,"invitedUserType":`...)
	b = appendJSONString(b, userType)
	b = append(b, `,"invitedUserEmailAddress":`...)
	b = appendJSONString(b, inv.InvitedUserEmailAddress)
	b = append(b, `,"sendInvitationMessage":`...)
	b = strconv.AppendBool(b, inv.SendInvitationMessage)
	b = append(b, `,"resetRedemption":`...)
	b = strconv.AppendBool(b, inv.ResetRedemption)
	b = append(b, `,"inviteRedirectUrl":`...)
	b = appendJSONString(b, inv.InviteRedirectURL)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, status)
	b = append(b, `,"invitedUserMessageInfo":{"messageLanguage":null,"ccRecipients":[],"customizedMessageBody":null}`...)
	b = append(b, `,"invitedUser":{"id":`...)
	b = appendJSONString(b, uid)
	b = append(b, "}}"...)
	return jsonResponse(http.StatusCreated, b)
}

func getOrganization(s *Server, rq *request) *response {
	t := rq.t
	b := []byte(`{"@odata.context":`)
	b = appendJSONString(b, rq.context("organization"))
	b = append(b, `,"value":[{"id":`...)
	b = appendJSONString(b, t.id)
	b = append(b, `,"displayName":`...)
	b = appendJSONString(b, t.displayName)
	b = append(b, `,"tenantType":"AAD","verifiedDomains":[`...)
	b = append(b, `{"capabilities":"Email, OfficeCommunicationsOnline","isDefault":true,"isInitial":`...)
	b = strconv.AppendBool(b, strings.EqualFold(t.domain, t.initialDomain))
	b = append(b, `,"name":`...)
	b = appendJSONString(b, t.domain)
	b = append(b, `,"type":"Managed"}`...)
	if !strings.EqualFold(t.domain, t.initialDomain) {
		b = append(b, `,{"capabilities":"Email, OfficeCommunicationsOnline","isDefault":false,"isInitial":true,"name":`...)
		b = appendJSONString(b, t.initialDomain)
		b = append(b, `,"type":"Managed"}`...)
	}
	b = append(b, "]}]}"...)
	return jsonResponse(http.StatusOK, b)
}
