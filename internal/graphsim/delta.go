package graphsim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Delta queries read the tenant's change log. A round starts either with
// no token (the initial round: every live object, paged by id) or with a
// delta token (the changes after its position). The round is pinned to the
// log position at its start ("to"); its pages are skip tokens that carry the
// round's query options, and its last page a delta token for position "to".
// Objects that change while a round is paged show up again in the next
// round, so no change is ever missed.

// deltaToken is the state carried by $skiptoken and $deltatoken.
type deltaToken struct {
	Tenant  string  `json:"t"`
	Kind    objKind `json:"k"`
	Initial bool    `json:"init,omitempty"`
	From    uint64  `json:"f"`
	To      uint64  `json:"to,omitempty"`
	Cursor  string  `json:"c,omitempty"`  // initial round: resume at the first id >= Cursor
	Offset  int     `json:"o,omitempty"`  // incremental round: objects already returned
	MOffset int     `json:"mo,omitempty"` // members of the current group already returned
	Select  string  `json:"s,omitempty"`
	Expand  string  `json:"e,omitempty"`
	Filter  string  `json:"fl,omitempty"`
	Issued  int64   `json:"i"`           // simulated Unix seconds when the round started
	Gen     uint64  `json:"g,omitempty"` // the tenant's delta reset generation (deltareset.go)
}

func (d *deltaToken) encode() string {
	b, _ := json.Marshal(d)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeDeltaToken(s string) (*deltaToken, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	var d deltaToken
	if json.Unmarshal(b, &d) != nil {
		return nil, false
	}
	return &d, true
}

// deltaLinkURL builds a nextLink or deltaLink for the request's function
// segment, with the simulator's own scheme, host and tenant prefix.
func deltaLinkURL(rq *request, param, token string) string {
	return rq.base + "/" + rq.segs[0] + "/" + rq.segs[1] + "?" + param + "=" + url.QueryEscape(token)
}

// deltaPageSize is the page size: Options.DeltaPageSize, lowered by
// Prefer: odata.maxpagesize.
func deltaPageSize(s *Server, rq *request) (int, bool) {
	n := s.opts.DeltaPageSize
	for _, pref := range rq.header.Values("Prefer") {
		for _, p := range strings.Split(pref, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "odata.maxpagesize") {
				continue
			}
			if m, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && m > 0 && m < n {
				return m, true
			}
		}
	}
	return n, false
}

// startDelta reads the round state from the request: a new round, a round
// resumed from a delta token, or a page of a round in progress.
func startDelta(s *Server, rq *request, kind objKind) (*deltaToken, *response) {
	t := rq.t
	t.maybeExpire(rq.now)
	t.mu.RLock()
	gen := t.deltaReset.gen
	t.mu.RUnlock()
	if dt := rq.param("deltatoken"); dt != "" {
		if strings.EqualFold(dt, "latest") {
			t.mu.RLock()
			seq := t.deltaHorizon(rq.now)
			t.mu.RUnlock()
			tok := &deltaToken{Tenant: t.id, Kind: kind, From: seq, Select: rq.param("select"),
				Expand: rq.param("expand"), Filter: rq.param("filter"), Issued: rq.now.Unix(), Gen: gen}
			b := []byte(`{"@odata.context":`)
			b = appendJSONString(b, rq.context(rq.segs[0]))
			b = append(b, `,"@odata.deltaLink":`...)
			b = appendJSONString(b, deltaLinkURL(rq, "$deltatoken", tok.encode()))
			b = append(b, `,"value":[]}`...)
			return nil, jsonResponse(http.StatusOK, b)
		}
		tok, ok := decodeDeltaToken(dt)
		if !ok || tok.Tenant != t.id || tok.Kind != kind || tok.Initial {
			return nil, errorResponse(errDeltaExpired())
		}
		if resp := checkGeneration(rq, tok); resp != nil {
			return nil, resp
		}
		if resp := checkTokenAge(s, rq, tok); resp != nil {
			return nil, resp
		}
		t.mu.RLock()
		// The round ends before the first change not yet replicated; the
		// next round reports it (lag.go).
		tok.To = max(tok.From, t.deltaHorizon(rq.now))
		t.mu.RUnlock()
		tok.Offset, tok.MOffset, tok.Issued = 0, 0, rq.now.Unix()
		return tok, nil
	}
	if st := rq.param("skiptoken"); st != "" {
		tok, ok := decodeDeltaToken(st)
		if !ok || tok.Tenant != t.id || tok.Kind != kind {
			return nil, errorResponse(errDeltaExpired())
		}
		if resp := checkGeneration(rq, tok); resp != nil {
			return nil, resp
		}
		if resp := checkTokenAge(s, rq, tok); resp != nil {
			return nil, resp
		}
		return tok, nil
	}
	t.mu.RLock()
	seq := t.deltaHorizon(rq.now)
	t.mu.RUnlock()
	return &deltaToken{Tenant: t.id, Kind: kind, Initial: true, To: seq, Select: rq.param("select"),
		Expand: rq.param("expand"), Filter: rq.param("filter"), Issued: rq.now.Unix(), Gen: gen}, nil
}

func checkTokenAge(s *Server, rq *request, tok *deltaToken) *response {
	if rq.now.Sub(time.Unix(tok.Issued, 0)) > s.opts.DeltaTokenMaxAge {
		return errorResponse(errDeltaExpired())
	}
	rq.t.mu.RLock()
	floor := rq.t.logFloor
	rq.t.mu.RUnlock()
	if !tok.Initial && tok.From < floor {
		return errorResponse(errDeltaExpired())
	}
	return nil
}

// deltaIDFilter reads the only $filter delta supports: id eq '…' or ….
func deltaIDFilter(expr string, res *resource) (map[string]bool, *graphError) {
	if strings.TrimSpace(expr) == "" {
		return nil, nil
	}
	f, gerr := parseFilter(expr, res)
	if gerr != nil {
		return nil, gerr
	}
	ids := map[string]bool{}
	var walk func(n fnode) bool
	walk = func(n fnode) bool {
		switch x := n.(type) {
		case fOr:
			return walk(x.l) && walk(x.r)
		case fCmp:
			if x.path.prop == pID && x.op == "eq" && !x.val.null {
				ids[strings.ToLower(x.val.s)] = true
				return true
			}
		}
		return false
	}
	if !walk(f.root) {
		return nil, errUnsupportedQuery("The only supported $filter on delta is id eq '{value}', joined with or.")
	}
	if len(ids) > 50 {
		return nil, errUnsupportedQuery("The $filter on delta is limited to 50 objects.")
	}
	return ids, nil
}

func usersDelta(s *Server, rq *request) *response {
	tok, resp := startDelta(s, rq, objUser)
	if resp != nil {
		return resp
	}
	props, withManager := splitDeltaManager(tok.Select)
	sel, gerr := parseSelect(props, userPropIndex, defaultUserSelect, false)
	if gerr != nil {
		return errorResponse(gerr)
	}
	if !hasProp(sel.props, pID) {
		sel.props = append(sel.props, pID) // delta always returns id
	}
	if withManager {
		// $select=manager tracks the relationship, reported as
		// manager@delta (learn.microsoft.com/graph/delta-query-overview).
		sel.expandManager = true
		sel.mask |= maskManager
	}
	ids, gerr := deltaIDFilter(tok.Filter, userResource)
	if gerr != nil {
		return errorResponse(gerr)
	}
	size, applied := deltaPageSize(s, rq)
	t := rq.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	rv := rq.view()
	page := newListPage(rq.context("users"+parenthesize(tok.Select)), -1)
	var next *deltaToken
	if tok.Initial {
		live := t.liveUsers(rv)
		i := sort.Search(len(live), func(i int) bool { return live[i].id >= tok.Cursor })
		for ; i < len(live) && page.n < size; i++ {
			u := live[i]
			if ids != nil && !ids[u.id] {
				continue
			}
			page.item()
			page.b = appendDeltaUser(page.b, u, sel)
		}
		if i < len(live) {
			n := *tok
			n.Cursor = live[i].id
			next = &n
		}
	} else {
		changed := t.changedObjects(objUser, tok.From, tok.To, sel.mask, false)
		end := min(tok.Offset+size, len(changed))
		for _, c := range changed[min(tok.Offset, len(changed)):end] {
			if ids != nil && !ids[c.id] {
				continue
			}
			page.item()
			switch u := t.userState(c.id, rv); {
			case u != nil && u.deleted.IsZero():
				page.b = appendDeltaUser(page.b, u, sel)
			case u != nil:
				page.b = appendRemoved(page.b, "", c.id, "changed")
			default:
				page.b = appendRemoved(page.b, "", c.id, "deleted")
			}
		}
		if end < len(changed) {
			n := *tok
			n.Offset = end
			next = &n
		}
	}
	return finishDelta(rq, page, tok, next, applied, size)
}

// finishDelta closes a delta page with a nextLink or, on the last page of
// the round, a deltaLink.
func finishDelta(rq *request, page *listPage, tok, next *deltaToken, applied bool, size int) *response {
	page.b = append(page.b, ']')
	if next != nil {
		page.b = append(page.b, `,"@odata.nextLink":`...)
		page.b = appendJSONString(page.b, deltaLinkURL(rq, "$skiptoken", next.encode()))
	} else {
		dl := deltaToken{Tenant: tok.Tenant, Kind: tok.Kind, From: tok.To, Select: tok.Select,
			Expand: tok.Expand, Filter: tok.Filter, Issued: rq.now.Unix(), Gen: tok.Gen}
		page.b = append(page.b, `,"@odata.deltaLink":`...)
		page.b = appendJSONString(page.b, deltaLinkURL(rq, "$deltatoken", dl.encode()))
	}
	page.b = append(page.b, '}')
	resp := jsonResponse(http.StatusOK, page.b)
	if applied {
		resp.preference = "odata.maxpagesize=" + strconv.Itoa(size)
	}
	return resp
}

func parenthesize(sel string) string {
	if strings.TrimSpace(sel) == "" {
		return ""
	}
	return "(" + sel + ")"
}

func hasProp(props []int, p int) bool {
	for _, q := range props {
		if q == p {
			return true
		}
	}
	return false
}

// appendDeltaUser writes a user in a delta page: the selected properties
// that have a value, and id.
func appendDeltaUser(b []byte, u *user, sel *selection) []byte {
	b = append(b, '{')
	first := true
	b = appendSetProps(b, &first, u.v[:], userProps[:], sel)
	if sel.expandManager && u.manager != "" {
		b = appendKey(b, &first, "manager@delta")
		b = append(b, `[{"@odata.type":"#microsoft.graph.user","id":`...)
		b = appendJSONString(b, u.manager)
		b = append(b, "}]"...)
	}
	b = appendKey(b, &first, "id")
	b = appendJSONString(b, u.id)
	return append(b, '}')
}

// appendSetProps writes the selected properties that have a value, except
// id and write-only ones, into a JSON object b has opened, as a delta page
// shows an object; first says whether the object is still empty.
func appendSetProps(b []byte, first *bool, v []any, defs []propDef, sel *selection) []byte {
	for _, p := range sel.props {
		if p == pID || v[p] == nil || defs[p].hidden {
			continue
		}
		b = appendKey(b, first, defs[p].name)
		b = appendAny(b, v[p])
	}
	return b
}

// splitDeltaManager takes the manager relationship out of a users delta
// $select, which may name it besides properties; a $select of manager
// alone returns only id and manager@delta.
func splitDeltaManager(sel string) (string, bool) {
	if strings.TrimSpace(sel) == "" {
		return sel, false
	}
	var keep []string
	found := false
	for _, name := range strings.Split(sel, ",") {
		if strings.EqualFold(strings.TrimSpace(name), "manager") {
			found = true
			continue
		}
		keep = append(keep, name)
	}
	if found && len(keep) == 0 {
		return "id", true
	}
	return strings.Join(keep, ","), found
}

// appendRemoved writes an object reported as removed.
func appendRemoved(b []byte, odataType, id, reason string) []byte {
	b = append(b, '{')
	if odataType != "" {
		b = append(b, `"@odata.type":`...)
		b = appendJSONString(b, odataType)
		b = append(b, ',')
	}
	b = append(b, `"id":`...)
	b = appendJSONString(b, id)
	b = append(b, `,"@removed":{"reason":`...)
	b = appendJSONString(b, reason)
	return append(b, "}}"...)
}

// changedObject is an object with changes in a delta window; for groups,
// with its net membership changes.
type changedObject struct {
	id      string
	members []memberDelta
}

// deltaCache keeps the change lists of recent delta windows: a window of an
// append-only log never changes, so the pages of one round share one list.
type deltaCache struct {
	mu      sync.Mutex
	entries map[deltaCacheKey][]changedObject
}

type deltaCacheKey struct {
	kind     objKind
	from, to uint64
	mask     uint64
	members  bool
}

// changedObjects lists, in order of first change, the objects of a kind
// with changes in (from, to] that the selection can see; the caller holds
// t.mu for reading.
func (t *tenant) changedObjects(kind objKind, from, to, mask uint64, members bool) []changedObject {
	key := deltaCacheKey{kind, from, to, mask, members}
	t.deltaCache.mu.Lock()
	if list, ok := t.deltaCache.entries[key]; ok {
		t.deltaCache.mu.Unlock()
		return list
	}
	t.deltaCache.mu.Unlock()

	start := sort.Search(len(t.log), func(i int) bool { return t.log[i].seq > from })
	pos := map[string]int{}
	var list []changedObject
	// memberState is the net change per (group, member): the last op wins.
	type netKey struct{ group, member string }
	net := map[netKey]int{}
	for i := start; i < len(t.log) && t.log[i].seq <= to; i++ {
		c := &t.log[i]
		if c.kind != kind {
			continue
		}
		relevant := false
		switch c.op {
		case opCreate, opSoftDelete, opRestore, opHardDelete:
			relevant = true
		case opUpdate:
			relevant = c.mask&mask != 0
		case opMemberAdd, opMemberRemove:
			relevant = members
		}
		if !relevant {
			continue
		}
		at, seen := pos[c.id]
		if !seen {
			at = len(list)
			pos[c.id] = at
			list = append(list, changedObject{id: c.id})
		}
		if c.op == opMemberAdd || c.op == opMemberRemove {
			md := memberDelta{id: c.member, kind: c.memberKind, removed: c.op == opMemberRemove}
			k := netKey{c.id, c.member}
			if j, ok := net[k]; ok {
				list[at].members[j] = md
			} else {
				net[k] = len(list[at].members)
				list[at].members = append(list[at].members, md)
			}
		}
	}
	t.deltaCache.mu.Lock()
	if t.deltaCache.entries == nil || len(t.deltaCache.entries) >= 16 {
		t.deltaCache.entries = make(map[deltaCacheKey][]changedObject)
	}
	t.deltaCache.entries[key] = list
	t.deltaCache.mu.Unlock()
	return list
}

// parseGroupDeltaSelect reads the selection of a groups delta: without
// $select, the default properties and members; members also with
// $expand=members.
func parseGroupDeltaSelect(tok *deltaToken) (*selection, *graphError) {
	sel, gerr := parseSelect(tok.Select, groupPropIndex, defaultGroupSelect, true)
	if gerr != nil {
		return nil, gerr
	}
	if strings.TrimSpace(tok.Select) == "" {
		sel.members = true
	}
	if exp := strings.TrimSpace(tok.Expand); exp != "" {
		name, _, _ := strings.Cut(exp, "(")
		if !strings.EqualFold(strings.TrimSpace(name), "members") {
			return nil, errBadRequest("The groups delta expands only members.")
		}
		sel.members = true
	}
	if !hasProp(sel.props, pID) {
		sel.props = append(sel.props, pID)
	}
	if sel.members {
		sel.mask |= 1 << gMembers
	}
	return sel, nil
}

func groupsDelta(s *Server, rq *request) *response {
	tok, resp := startDelta(s, rq, objGroup)
	if resp != nil {
		return resp
	}
	sel, gerr := parseGroupDeltaSelect(tok)
	if gerr != nil {
		return errorResponse(gerr)
	}
	ids, gerr := deltaIDFilter(tok.Filter, groupResource)
	if gerr != nil {
		return errorResponse(gerr)
	}
	size, applied := deltaPageSize(s, rq)
	links := s.opts.DeltaMemberLinks
	t := rq.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	rv := rq.view()
	page := newListPage(rq.context("groups"+parenthesize(tok.Select)), -1)
	var next *deltaToken
	if tok.Initial {
		live := t.liveGroups(rv)
		i := sort.Search(len(live), func(i int) bool { return live[i].id >= tok.Cursor })
		moff := tok.MOffset
		for ; i < len(live) && page.n < size && links > 0; i++ {
			g := live[i]
			if ids != nil && !ids[g.id] {
				moff = 0
				continue
			}
			var md []memberDelta
			if sel.members {
				for _, m := range g.members[min(moff, len(g.members)):] {
					md = append(md, memberDelta{id: m.id, kind: m.kind})
				}
			}
			if written := writeDeltaGroup(page, g, sel, md, &links); written < len(md) {
				n := *tok
				n.Cursor, n.MOffset = g.id, moff+written
				next = &n
				break
			}
			moff = 0
		}
		if next == nil && i < len(live) {
			n := *tok
			n.Cursor, n.MOffset = live[i].id, 0
			next = &n
		}
	} else {
		changed := t.changedObjects(objGroup, tok.From, tok.To, sel.mask, sel.members)
		i, moff := tok.Offset, tok.MOffset
		for ; i < len(changed) && page.n < size && links > 0; i++ {
			c := changed[i]
			if ids != nil && !ids[c.id] {
				moff = 0
				continue
			}
			g := t.groupState(c.id, rv)
			if g == nil || !g.deleted.IsZero() {
				page.item()
				reason := "deleted"
				if g != nil {
					reason = "changed"
				}
				page.b = appendRemoved(page.b, "", c.id, reason)
				moff = 0
				continue
			}
			md := c.members[min(moff, len(c.members)):]
			if written := writeDeltaGroup(page, g, sel, md, &links); written < len(md) {
				n := *tok
				n.Offset, n.MOffset = i, moff+written
				next = &n
				break
			}
			moff = 0
		}
		if next == nil && i < len(changed) {
			n := *tok
			n.Offset, n.MOffset = i, 0
			next = &n
		}
	}
	return finishDelta(rq, page, tok, next, applied, size)
}

// writeDeltaGroup adds g to a delta page with as many of its membership
// changes md as the page's remaining member links allow, and takes them
// from links. It returns how many it wrote: fewer than len(md) means the
// group continues on the next page.
func writeDeltaGroup(page *listPage, g *group, sel *selection, md []memberDelta, links *int) int {
	part := md[:min(len(md), *links)]
	page.item()
	page.b = appendDeltaGroup(page.b, g, sel, part)
	*links -= len(part)
	return len(part)
}

// appendDeltaGroup writes a group in a delta page with a slice of its
// membership changes.
func appendDeltaGroup(b []byte, g *group, sel *selection, members []memberDelta) []byte {
	b = append(b, '{')
	first := true
	b = appendSetProps(b, &first, g.v[:], groupProps[:], sel)
	b = appendKey(b, &first, "id")
	b = appendJSONString(b, g.id)
	if len(members) > 0 {
		b = appendKey(b, &first, "members@delta")
		b = append(b, '[')
		for i, m := range members {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"@odata.type":`...)
			b = appendJSONString(b, m.kind.odataType())
			b = append(b, `,"id":`...)
			b = appendJSONString(b, m.id)
			if m.removed {
				b = append(b, `,"@removed":{"reason":"deleted"}`...)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}
