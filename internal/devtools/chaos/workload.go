package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// Operation kinds of the workload, as the report names them.
const (
	OpCreate        = "create"
	OpUpdate        = "update"
	OpDisable       = "disable"
	OpEnable        = "enable"
	OpSoftDelete    = "softDelete"
	OpRestore       = "restore"
	OpPurge         = "permanentDelete"
	OpScopeJoin     = "scopeJoin"
	OpScopeLeave    = "scopeLeave"
	OpNestedJoin    = "nestedJoin"
	OpNestedLeave   = "nestedLeave"
	OpGroupNest     = "groupNest"
	OpGroupUnnest   = "groupUnnest"
	OpProjectMember = "projectMember"
	OpManagerSet    = "managerSet"
	OpManagerRemove = "managerRemove"
	OpMailRename    = "mailRename"
	OpMailClear     = "mailClear"
)

// srcUser is the workload's idea of one source user. The workload is the
// only writer of the source tenant, so its model stays right; where Graph
// says otherwise (a user purged by the retention clock), Graph wins.
type srcUser struct {
	id, upn string
	mail    string
	guest   bool
	enabled bool
	manager string
	// groups are the groups (by name) the user was in when soft deleted:
	// a restore brings the memberships back.
	groups []string
}

// workload drives the source tenant as an administrator would, through
// Graph over HTTP: one operation per step, chosen from a seeded generator
// among those that apply to the tenant's state.
type workload struct {
	g *graphHTTP
	r *rand.Rand

	live    []*srcUser // in creation order, so that a seed replays
	deleted []*srcUser
	groups  map[string]string          // display name → id
	members map[string]map[string]bool // group name → direct user members
	// nestedIn is where each movable project group is nested ("" for
	// nowhere).
	nestedIn map[string]string
	seq      int
	target   int // population the weights steer towards

	applied  map[string]int
	rejected map[string]int
	// journal, when set, receives every request the workload makes, for
	// reading a failed run.
	journal io.Writer
}

// movable are the project groups the workload nests and un-nests.
var movable = []string{atlasGroup, orionGroup}

// membershipGroups are the groups whose direct members the workload moves.
var membershipGroups = []string{graphsim.ScopingGroup, graphsim.NestedScopingGroup, atlasGroup, orionGroup}

func newWorkload(ctx context.Context, g *graphHTTP, seed uint64) (*workload, error) {
	w := &workload{
		g:        g,
		r:        rand.New(rand.NewPCG(seed, 0x5eed)),
		groups:   map[string]string{},
		members:  map[string]map[string]bool{},
		nestedIn: map[string]string{},
		applied:  map[string]int{},
		rejected: map[string]int{},
	}
	users, err := g.All(ctx, sourceDomain, "/users?$select=id,userPrincipalName,mail,userType,accountEnabled&$expand=manager($select=id)&$top=999")
	if err != nil {
		return nil, fmt.Errorf("workload: list source users: %w", err)
	}
	for _, raw := range users {
		var u struct {
			ID, UserPrincipalName, Mail, UserType string
			AccountEnabled                        bool
			Manager                               *struct{ ID string }
		}
		if err := json.Unmarshal(raw, &u); err != nil {
			return nil, fmt.Errorf("workload: decode user: %w", err)
		}
		su := &srcUser{id: u.ID, upn: u.UserPrincipalName, mail: u.Mail, guest: u.UserType == "Guest", enabled: u.AccountEnabled}
		if u.Manager != nil {
			su.manager = u.Manager.ID
		}
		w.live = append(w.live, su)
	}
	slices.SortFunc(w.live, func(a, b *srcUser) int { return strings.Compare(a.upn, b.upn) })
	w.target = len(w.live)
	groups, err := g.All(ctx, sourceDomain, "/groups?$select=id,displayName&$top=999")
	if err != nil {
		return nil, fmt.Errorf("workload: list source groups: %w", err)
	}
	for _, raw := range groups {
		var gr struct{ ID, DisplayName string }
		if err := json.Unmarshal(raw, &gr); err != nil {
			return nil, fmt.Errorf("workload: decode group: %w", err)
		}
		w.groups[gr.DisplayName] = gr.ID
	}
	for _, name := range membershipGroups {
		id := w.groups[name]
		if id == "" {
			return nil, fmt.Errorf("workload: the source has no group %q", name)
		}
		items, err := g.All(ctx, sourceDomain, "/groups/"+id+"/members?$select=id&$top=999")
		if err != nil {
			return nil, fmt.Errorf("workload: members of %s: %w", name, err)
		}
		w.members[name] = map[string]bool{}
		for _, raw := range items {
			var m struct {
				Type string `json:"@odata.type"`
				ID   string `json:"id"`
			}
			if err := json.Unmarshal(raw, &m); err != nil {
				return nil, fmt.Errorf("workload: decode member: %w", err)
			}
			switch m.Type {
			case "#microsoft.graph.user":
				w.members[name][m.ID] = true
			case "#microsoft.graph.group":
				for _, child := range movable {
					if w.groups[child] == m.ID {
						w.nestedIn[child] = name
					}
				}
			}
		}
	}
	return w, nil
}

// opWeight is how often an operation is chosen, when it applies.
type opWeight struct {
	name   string
	weight int
	run    func(ctx context.Context) error
	// ok reports whether the operation applies to the current state.
	ok func() bool
}

// Step applies one operation and returns its kind. An operation Graph
// refuses (a membership that was already there) is counted as rejected:
// the model is then corrected from Graph's answer.
func (w *workload) Step(ctx context.Context) (string, error) {
	members := w.liveMembers()
	popLow, popHigh := len(w.live) < w.target*9/10, len(w.live) > w.target*11/10
	createW, deleteW := 6, 5
	if popLow {
		createW, deleteW = 14, 1
	}
	if popHigh {
		createW, deleteW = 1, 12
	}
	ops := []opWeight{
		{OpCreate, createW, w.create, func() bool { return true }},
		{OpUpdate, 24, w.update, func() bool { return len(w.live) > 0 }},
		{OpDisable, 4, w.disable, func() bool { return len(members) > 0 }},
		{OpEnable, 3, w.enable, func() bool { return w.anyDisabled() }},
		{OpSoftDelete, deleteW, w.softDelete, func() bool { return len(w.live) > 1 }},
		{OpRestore, 4, w.restore, func() bool { return len(w.deleted) > 0 }},
		{OpPurge, 2, w.purge, func() bool { return len(w.deleted) > 0 }},
		{OpScopeJoin, 8, w.join(graphsim.ScopingGroup), func() bool { return len(w.live) > 0 }},
		{OpScopeLeave, 6, w.leave(graphsim.ScopingGroup), func() bool { return len(w.members[graphsim.ScopingGroup]) > 0 }},
		{OpNestedJoin, 4, w.nestedJoin, func() bool { return len(w.live) > 0 }},
		{OpNestedLeave, 3, w.nestedLeave, func() bool {
			return len(w.members[graphsim.NestedScopingGroup])+len(w.members[orionGroup]) > 0
		}},
		{OpGroupNest, 1, w.nest, func() bool { return w.nestedIn[atlasGroup] == "" || w.nestedIn[orionGroup] == "" }},
		{OpGroupUnnest, 1, w.unnest, func() bool { return w.nestedIn[atlasGroup] != "" || w.nestedIn[orionGroup] != "" }},
		{OpProjectMember, 4, w.projectMember, func() bool { return len(w.live) > 0 }},
		{OpManagerSet, 6, w.setManager, func() bool { return len(members) > 1 }},
		{OpManagerRemove, 2, w.removeManager, func() bool { return w.anyManaged() }},
		{OpMailRename, 5, w.renameMail, func() bool { return len(members) > 0 }},
		{OpMailClear, 1, w.clearMail, func() bool { return w.anyMail() }},
	}
	total := 0
	for _, o := range ops {
		if o.ok() {
			total += o.weight
		}
	}
	x := w.r.IntN(total)
	for _, o := range ops {
		if !o.ok() {
			continue
		}
		if x >= o.weight {
			x -= o.weight
			continue
		}
		err := o.run(ctx)
		switch {
		case err == nil:
			w.applied[o.name]++
		case statusOf(err) == http.StatusBadRequest || statusOf(err) == http.StatusNotFound:
			w.rejected[o.name]++
		default:
			return o.name, fmt.Errorf("workload %s: %w", o.name, err)
		}
		return o.name, nil
	}
	return "", fmt.Errorf("workload: no operation chosen")
}

func (w *workload) liveMembers() []*srcUser {
	var out []*srcUser
	for _, u := range w.live {
		if !u.guest {
			out = append(out, u)
		}
	}
	return out
}

func (w *workload) anyDisabled() bool {
	return slices.ContainsFunc(w.live, func(u *srcUser) bool { return !u.enabled && !u.guest })
}

func (w *workload) anyManaged() bool {
	return slices.ContainsFunc(w.live, func(u *srcUser) bool { return u.manager != "" })
}

func (w *workload) anyMail() bool {
	return slices.ContainsFunc(w.live, func(u *srcUser) bool { return u.mail != "" && !u.guest })
}

func (w *workload) pick(list []*srcUser) *srcUser { return list[w.r.IntN(len(list))] }

func (w *workload) pickWhere(ok func(*srcUser) bool) *srcUser {
	var list []*srcUser
	for _, u := range w.live {
		if ok(u) {
			list = append(list, u)
		}
	}
	if len(list) == 0 {
		return nil
	}
	return w.pick(list)
}

func (w *workload) do(ctx context.Context, method, path string, body, out any) error {
	_, err := w.g.Do(ctx, sourceDomain, method, path, body, out)
	if w.journal != nil {
		b, _ := json.Marshal(body)
		status := "ok"
		if err != nil {
			status = err.Error()
		}
		fmt.Fprintf(w.journal, "%s %s %s %s -> %s\n", time.Now().UTC().Format("15:04:05.000"), method, path, b, status)
	}
	return err
}

var (
	firstNames  = []string{"Ada", "Bo", "Cyra", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lior", "Mina", "Nils", "Oona", "Pia"}
	lastNames   = []string{"Abara", "Berg", "Cole", "Dahl", "Egan", "Fox", "Grau", "Holm", "Ives", "Jaric", "Kern", "Lund"}
	departments = []string{"Sales", "Sales", "Marketing", "Engineering", "Finance", "Operations", "Customer Support"}
	titles      = []string{"Account Executive", "Sales Manager", "Engineering Manager", "Software Engineer",
		"Financial Analyst", "Operations Analyst", "Director of Sales", "Support Engineer", "Product Marketing Manager"}
	cities = []struct{ city, state, country, usage, postal, street string }{
		{"Seattle", "WA", "United States", "US", "98101", "1 Pike Street"},
		{"London", "", "United Kingdom", "GB", "EC2A 4BX", "80 Clerkenwell Road"},
		{"Munich", "BY", "Germany", "DE", "80331", "Marienplatz 8"},
		{"Sydney", "NSW", "Australia", "AU", "2000", "1 Martin Place"},
	}
)

func (w *workload) phone() string { return fmt.Sprintf("+1 206 555 %04d", w.r.IntN(10000)) }

func (w *workload) create(ctx context.Context) error {
	w.seq++
	first, last := firstNames[w.r.IntN(len(firstNames))], lastNames[w.r.IntN(len(lastNames))]
	local := strings.ToLower(fmt.Sprintf("%s.%s.c%d", first, last, w.seq))
	upn := local + "@" + sourceDomain
	c := cities[w.r.IntN(len(cities))]
	body := map[string]any{
		"accountEnabled":    w.r.IntN(10) != 0,
		"displayName":       first + " " + last,
		"givenName":         first,
		"surname":           last,
		"mailNickname":      local,
		"userPrincipalName": upn,
		"passwordProfile":   map[string]any{"password": fmt.Sprintf("Chaos-%d-%08x!", w.seq, w.r.Uint32()), "forceChangePasswordNextSignIn": true},
		"department":        departments[w.r.IntN(len(departments))],
		"jobTitle":          titles[w.r.IntN(len(titles))],
		"companyName":       "Fabrikam",
		"employeeId":        fmt.Sprintf("C%06d", w.seq),
		"city":              c.city,
		"country":           c.country,
		"usageLocation":     c.usage,
		"postalCode":        c.postal,
		"streetAddress":     c.street,
		"businessPhones":    []string{w.phone()},
	}
	if c.state != "" {
		body["state"] = c.state
	}
	mail := ""
	if w.r.IntN(5) != 0 {
		mail = upn
		body["mail"] = mail
	}
	if w.r.IntN(2) == 0 {
		body["mobilePhone"] = w.phone()
	}
	var out struct{ ID string }
	if err := w.do(ctx, http.MethodPost, "/users", body, &out); err != nil {
		return err
	}
	w.live = append(w.live, &srcUser{id: out.ID, upn: upn, mail: mail, enabled: body["accountEnabled"].(bool)})
	return nil
}

// update changes one to four attributes: mapped ones (which must reach the
// targets) and unmapped ones (which must cost no write there).
func (w *workload) update(ctx context.Context) error {
	u := w.pick(w.live)
	changes := map[string]func() any{
		"department": func() any { return departments[w.r.IntN(len(departments))] },
		"jobTitle":   func() any { return titles[w.r.IntN(len(titles))] },
		"displayName": func() any {
			return fmt.Sprintf("%s %s %d", firstNames[w.r.IntN(len(firstNames))], lastNames[w.r.IntN(len(lastNames))], w.r.IntN(100))
		},
		"givenName":         func() any { return firstNames[w.r.IntN(len(firstNames))] },
		"surname":           func() any { return lastNames[w.r.IntN(len(lastNames))] },
		"officeLocation":    func() any { return fmt.Sprintf("Building %d", w.r.IntN(40)) },
		"employeeId":        func() any { return fmt.Sprintf("E%06d", w.r.IntN(1000000)) },
		"companyName":       func() any { return []any{"Fabrikam", "Fabrikam Research", nil}[w.r.IntN(3)] },
		"mobilePhone":       func() any { return []any{w.phone(), nil}[w.r.IntN(2)] },
		"businessPhones":    func() any { return [][]string{{}, {w.phone()}}[w.r.IntN(2)] },               // Graph takes one at most
		"employeeType":      func() any { return []any{"Employee", "Contractor", "Intern"}[w.r.IntN(3)] }, // not mapped
		"preferredLanguage": func() any { return []any{"en-US", "de-DE", "en-GB"}[w.r.IntN(3)] },          // not mapped
		"faxNumber":         func() any { return []any{w.phone(), nil}[w.r.IntN(2)] },                     // not mapped
	}
	names := make([]string, 0, len(changes)+1)
	for k := range changes {
		names = append(names, k)
	}
	slices.Sort(names) // map order is random; the seed must replay
	names = append(names, "location")
	body := map[string]any{}
	for range 1 + w.r.IntN(4) {
		name := names[w.r.IntN(len(names))]
		if name == "location" {
			c := cities[w.r.IntN(len(cities))]
			body["city"], body["country"], body["usageLocation"] = c.city, c.country, c.usage
			body["postalCode"], body["streetAddress"] = c.postal, c.street
			body["state"] = nil
			if c.state != "" {
				body["state"] = c.state
			}
			continue
		}
		body[name] = changes[name]()
	}
	return w.do(ctx, http.MethodPatch, "/users/"+u.id, body, nil)
}

func (w *workload) disable(ctx context.Context) error {
	u := w.pickWhere(func(u *srcUser) bool { return u.enabled && !u.guest })
	if u == nil {
		u = w.pick(w.liveMembers())
	}
	if err := w.do(ctx, http.MethodPatch, "/users/"+u.id, map[string]any{"accountEnabled": false}, nil); err != nil {
		return err
	}
	u.enabled = false
	return nil
}

func (w *workload) enable(ctx context.Context) error {
	u := w.pickWhere(func(u *srcUser) bool { return !u.enabled && !u.guest })
	if err := w.do(ctx, http.MethodPatch, "/users/"+u.id, map[string]any{"accountEnabled": true}, nil); err != nil {
		return err
	}
	u.enabled = true
	return nil
}

func (w *workload) softDelete(ctx context.Context) error {
	i := w.r.IntN(len(w.live))
	u := w.live[i]
	err := w.do(ctx, http.MethodDelete, "/users/"+u.id, nil, nil)
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			w.live = slices.Delete(w.live, i, i+1)
		}
		return err
	}
	w.live = slices.Delete(w.live, i, i+1)
	u.groups = nil
	for _, name := range membershipGroups {
		if w.members[name][u.id] {
			u.groups = append(u.groups, name)
			delete(w.members[name], u.id)
		}
	}
	w.deleted = append(w.deleted, u)
	return nil
}

func (w *workload) restore(ctx context.Context) error {
	i := w.r.IntN(len(w.deleted))
	u := w.deleted[i]
	w.deleted = slices.Delete(w.deleted, i, i+1)
	if err := w.do(ctx, http.MethodPost, "/directory/deletedItems/"+u.id+"/restore", nil, nil); err != nil {
		// 404: the retention clock purged it.
		return err
	}
	for _, name := range u.groups {
		w.members[name][u.id] = true
	}
	u.groups = nil
	w.live = append(w.live, u)
	return nil
}

func (w *workload) purge(ctx context.Context) error {
	i := w.r.IntN(len(w.deleted))
	u := w.deleted[i]
	w.deleted = slices.Delete(w.deleted, i, i+1)
	if err := w.do(ctx, http.MethodDelete, "/directory/deletedItems/"+u.id, nil, nil); err != nil {
		return err
	}
	// Graph drops the manager of the user's direct reports for good.
	for _, r := range w.live {
		if r.manager == u.id {
			r.manager = ""
		}
	}
	return nil
}

// ref is the body of a $ref POST or PUT.
func ref(kind, id string) map[string]any {
	return map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/" + kind + "/" + id}
}

func (w *workload) addMember(ctx context.Context, group string, u *srcUser) error {
	err := w.do(ctx, http.MethodPost, "/groups/"+w.groups[group]+"/members/$ref", ref("directoryObjects", u.id), nil)
	if err == nil || statusOf(err) == http.StatusBadRequest {
		w.members[group][u.id] = true // 400: it was a member already
	}
	return err
}

func (w *workload) removeMember(ctx context.Context, group, id string) error {
	err := w.do(ctx, http.MethodDelete, "/groups/"+w.groups[group]+"/members/"+id+"/$ref", nil, nil)
	if err == nil || statusOf(err) == http.StatusNotFound {
		delete(w.members[group], id)
	}
	return err
}

func (w *workload) pickMember(group string) string {
	ids := make([]string, 0, len(w.members[group]))
	for id := range w.members[group] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids[w.r.IntN(len(ids))]
}

func (w *workload) join(group string) func(context.Context) error {
	return func(ctx context.Context) error {
		u := w.pickWhere(func(u *srcUser) bool { return !w.members[group][u.id] })
		if u == nil {
			u = w.pick(w.live)
		}
		return w.addMember(ctx, group, u)
	}
}

func (w *workload) leave(group string) func(context.Context) error {
	return func(ctx context.Context) error { return w.removeMember(ctx, group, w.pickMember(group)) }
}

// nestedJoin adds a user to a group nested in the scoping group.
func (w *workload) nestedJoin(ctx context.Context) error {
	group := []string{graphsim.NestedScopingGroup, orionGroup}[w.r.IntN(2)]
	u := w.pickWhere(func(u *srcUser) bool { return !w.members[group][u.id] })
	if u == nil {
		u = w.pick(w.live)
	}
	return w.addMember(ctx, group, u)
}

func (w *workload) nestedLeave(ctx context.Context) error {
	group := graphsim.NestedScopingGroup
	if len(w.members[group]) == 0 || len(w.members[orionGroup]) > 0 && w.r.IntN(2) == 0 {
		group = orionGroup
	}
	return w.removeMember(ctx, group, w.pickMember(group))
}

// projectMember moves a user in or out of Project Atlas, which is in scope
// only while it is nested.
func (w *workload) projectMember(ctx context.Context) error {
	if len(w.members[atlasGroup]) > 0 && w.r.IntN(2) == 0 {
		return w.removeMember(ctx, atlasGroup, w.pickMember(atlasGroup))
	}
	u := w.pickWhere(func(u *srcUser) bool { return !w.members[atlasGroup][u.id] })
	if u == nil {
		u = w.pick(w.live)
	}
	return w.addMember(ctx, atlasGroup, u)
}

// nest puts a project group into the scoping group or into Project
// Phoenix (two levels down).
func (w *workload) nest(ctx context.Context) error {
	var free []string
	for _, g := range movable {
		if w.nestedIn[g] == "" {
			free = append(free, g)
		}
	}
	child := free[w.r.IntN(len(free))]
	parent := []string{graphsim.ScopingGroup, graphsim.NestedScopingGroup}[w.r.IntN(2)]
	err := w.do(ctx, http.MethodPost, "/groups/"+w.groups[parent]+"/members/$ref", ref("directoryObjects", w.groups[child]), nil)
	if err == nil {
		w.nestedIn[child] = parent
	}
	return err
}

func (w *workload) unnest(ctx context.Context) error {
	var nested []string
	for _, g := range movable {
		if w.nestedIn[g] != "" {
			nested = append(nested, g)
		}
	}
	child := nested[w.r.IntN(len(nested))]
	parent := w.nestedIn[child]
	err := w.do(ctx, http.MethodDelete, "/groups/"+w.groups[parent]+"/members/"+w.groups[child]+"/$ref", nil, nil)
	if err == nil || statusOf(err) == http.StatusNotFound {
		w.nestedIn[child] = ""
	}
	return err
}

func (w *workload) setManager(ctx context.Context) error {
	members := w.liveMembers()
	u := w.pick(members)
	m := w.pick(members)
	for m == u {
		m = w.pick(members)
	}
	if err := w.do(ctx, http.MethodPut, "/users/"+u.id+"/manager/$ref", ref("users", m.id), nil); err != nil {
		return err
	}
	u.manager = m.id
	return nil
}

func (w *workload) removeManager(ctx context.Context) error {
	u := w.pickWhere(func(u *srcUser) bool { return u.manager != "" })
	err := w.do(ctx, http.MethodDelete, "/users/"+u.id+"/manager/$ref", nil, nil)
	if err == nil || statusOf(err) == http.StatusNotFound {
		u.manager = ""
	}
	return err
}

// renameMail gives a user a new address, which is the invitation address:
// tenantsync must follow the rename, never invite the person twice.
func (w *workload) renameMail(ctx context.Context) error {
	u := w.pick(w.liveMembers())
	w.seq++
	local, _, _ := strings.Cut(u.upn, "@")
	mail := fmt.Sprintf("%s.m%d@%s", local, w.seq, sourceDomain)
	if err := w.do(ctx, http.MethodPatch, "/users/"+u.id, map[string]any{"mail": mail}, nil); err != nil {
		return err
	}
	u.mail = mail
	return nil
}

// clearMail removes a user's mail: the invitation address falls back to
// the userPrincipalName.
func (w *workload) clearMail(ctx context.Context) error {
	u := w.pickWhere(func(u *srcUser) bool { return u.mail != "" && !u.guest })
	if err := w.do(ctx, http.MethodPatch, "/users/"+u.id, map[string]any{"mail": nil}, nil); err != nil {
		return err
	}
	u.mail = ""
	return nil
}
