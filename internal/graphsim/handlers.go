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

// What every route shares: request bodies, paging ($top, $skiptoken and
// nextLinks), @odata.context, and the directory-object pages of members,
// direct reports and memberships. The routes themselves are in users.go,
// groups.go, groupwrite.go, deleteditems.go, invitations.go and
// subscriptions.go, one resource each.

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
