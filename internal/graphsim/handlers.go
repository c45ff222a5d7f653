package graphsim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
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
	top, gerr := rq.top()
	if gerr != nil {
		return errorResponse(gerr)
	}
	after, ok := parseSkipToken(rq.param("skiptoken"), 'u')
	if !ok {
		return errorResponse(errBadSkipToken())
	}
	t := rq.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	match := func(u *user) bool { return f == nil || f.root.eval(userGetter(u), nil) }
	// An equality filter on indexed properties reads only its candidates.
	scan := t.userOrder
	if f != nil {
		if c, ok := t.candidates(f); ok {
			scan = c
		}
	}
	count := -1
	if wantCount(rq) {
		count = 0
		for _, u := range scan {
			if match(u) {
				count++
			}
		}
	}
	page := newListPage(rq.context("users"+selectSuffix(rq)), count)
	i := sort.Search(len(scan), func(i int) bool { return scan[i].id > after })
	last := ""
	for ; i < len(scan) && page.n < top; i++ {
		u := scan[i]
		if !match(u) {
			continue
		}
		page.item()
		page.b = t.appendUser(page.b, u, sel, false)
		last = u.id
	}
	next := ""
	for ; i < len(scan); i++ {
		if match(scan[i]) {
			next = rq.nextLink(skipToken('u', last))
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
	u := t.lookupUser(rq.segs[1])
	if u == nil {
		t.mu.RUnlock()
		return errorResponse(errNoObject(rq.segs[1]))
	}
	obj := t.appendUser(make([]byte, 0, 512), u, sel, false)
	t.mu.RUnlock()
	return jsonResponse(http.StatusOK, withContext(rq.context("users"+selectSuffix(rq)+"/$entity"), obj))
}

func createUser(s *Server, rq *request) *response {
	props, gerr := decodeObject(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	t := rq.t
	u, gerr := t.createUser(props, rq.now)
	if gerr != nil {
		return errorResponse(gerr)
	}
	t.mu.RLock()
	obj := t.appendUser(nil, u, defaultUserSelection, false)
	t.mu.RUnlock()
	return jsonResponse(http.StatusCreated, withContext(rq.context("users/$entity"), obj))
}

func patchUser(s *Server, rq *request) *response {
	props, gerr := decodeObject(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	if gerr := rq.t.patchUser(rq.segs[1], props); gerr != nil {
		return errorResponse(gerr)
	}
	return noContent()
}

func deleteUser(s *Server, rq *request) *response {
	if gerr := rq.t.deleteUser(rq.segs[1], rq.now); gerr != nil {
		return errorResponse(gerr)
	}
	return noContent()
}

func getManager(s *Server, rq *request) *response {
	sel, gerr := parseUserQuery(rq)
	if gerr != nil {
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
	if gerr := rq.t.setManager(rq.segs[1], id); gerr != nil {
		return errorResponse(gerr)
	}
	return noContent()
}

func deleteManager(s *Server, rq *request) *response {
	if gerr := rq.t.setManager(rq.segs[1], ""); gerr != nil {
		return errorResponse(gerr)
	}
	return noContent()
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
	top, gerr := rq.top()
	if gerr != nil {
		return errorResponse(gerr)
	}
	offStr, ok := parseSkipToken(rq.param("skiptoken"), 'o')
	if !ok {
		return errorResponse(errBadSkipToken())
	}
	off, _ := strconv.Atoi(offStr)
	t := rq.t
	match := func(m member) bool {
		if f == nil {
			return true
		}
		if m.kind == objGroup {
			g := t.groups[m.id]
			return g != nil && f.root.eval(groupGetter(g), nil)
		}
		u := t.users[m.id]
		return u != nil && f.root.eval(userGetter(u), nil)
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
	next := ""
	if end < len(filtered) {
		next = rq.nextLink(skipToken('o', strconv.Itoa(end)))
	}
	return jsonResponse(http.StatusOK, page.finish(next))
}

func directReports(s *Server, rq *request) *response {
	sel, gerr := parseDirSelect(rq)
	if gerr != nil {
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
	top, gerr := rq.top()
	if gerr != nil {
		return errorResponse(gerr)
	}
	after, ok := parseSkipToken(rq.param("skiptoken"), 'g')
	if !ok {
		return errorResponse(errBadSkipToken())
	}
	t := rq.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	match := func(g *group) bool { return f == nil || f.root.eval(groupGetter(g), nil) }
	count := -1
	if wantCount(rq) {
		count = 0
		for _, g := range t.groupOrder {
			if match(g) {
				count++
			}
		}
	}
	page := newListPage(rq.context("groups"+selectSuffix(rq)), count)
	i := sort.Search(len(t.groupOrder), func(i int) bool { return t.groupOrder[i].id > after })
	last := ""
	for ; i < len(t.groupOrder) && page.n < top; i++ {
		g := t.groupOrder[i]
		if !match(g) {
			continue
		}
		page.item()
		page.b = t.appendGroup(page.b, g, sel, false)
		last = g.id
	}
	next := ""
	for ; i < len(t.groupOrder); i++ {
		if match(t.groupOrder[i]) {
			next = rq.nextLink(skipToken('g', last))
			break
		}
	}
	return jsonResponse(http.StatusOK, page.finish(next))
}

func getGroup(s *Server, rq *request) *response {
	sel, gerr := parseGroupSelect(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	t := rq.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	g := t.groups[strings.ToLower(rq.segs[1])]
	if g == nil {
		return errorResponse(errNoObject(rq.segs[1]))
	}
	obj := t.appendGroup(nil, g, sel, false)
	return jsonResponse(http.StatusOK, withContext(rq.context("groups"+selectSuffix(rq)+"/$entity"), obj))
}

func createGroup(s *Server, rq *request) *response {
	props, gerr := decodeObject(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	t := rq.t
	g, gerr := t.createGroup(props, rq.now)
	if gerr != nil {
		return errorResponse(gerr)
	}
	t.mu.RLock()
	obj := t.appendGroup(nil, g, defaultGroupSelection, false)
	t.mu.RUnlock()
	return jsonResponse(http.StatusCreated, withContext(rq.context("groups/$entity"), obj))
}

func patchGroup(s *Server, rq *request) *response {
	props, gerr := decodeObject(rq)
	if gerr != nil {
		return errorResponse(gerr)
	}
	if gerr := rq.t.patchGroup(rq.segs[1], props); gerr != nil {
		return errorResponse(gerr)
	}
	return noContent()
}

func deleteGroup(s *Server, rq *request) *response {
	if gerr := rq.t.deleteGroup(rq.segs[1], rq.now); gerr != nil {
		return errorResponse(gerr)
	}
	return noContent()
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
	g := t.groups[strings.ToLower(rq.segs[1])]
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
	if gerr := rq.t.addMember(rq.segs[1], id); gerr != nil {
		return errorResponse(gerr)
	}
	return noContent()
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
	if gerr := rq.t.removeMember(rq.segs[1], memberID); gerr != nil {
		return errorResponse(gerr)
	}
	return noContent()
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
	top, gerr := rq.top()
	if gerr != nil {
		return errorResponse(gerr)
	}
	offStr, ok := parseSkipToken(rq.param("skiptoken"), 'o')
	if !ok {
		return errorResponse(errBadSkipToken())
	}
	off, _ := strconv.Atoi(offStr)
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
	next := ""
	if end < len(ids) {
		next = rq.nextLink(skipToken('o', strconv.Itoa(end)))
	}
	return jsonResponse(http.StatusOK, page.finish(next))
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
	if gerr := t.purge(rq.segs[2]); gerr != nil {
		return errorResponse(gerr)
	}
	return noContent()
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
