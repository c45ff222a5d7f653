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
	// Operations on the synced groups (docs/groups.md): a user joins or
	// leaves one directly, or the group nested in programGroup; a synced
	// group is renamed, or nested in the other synced group and taken out.
	OpGroupJoin       = "groupJoin"
	OpGroupLeave      = "groupLeave"
	OpSquadJoin       = "nestedGroupJoin"
	OpSquadLeave      = "nestedGroupLeave"
	OpGroupRename     = "groupRename"
	OpGroupSyncedNest = "syncedGroupNest"
	// The fault plan's operations on the guard target's scope: bursts over
	// its threshold, their recovery, and new members.
	OpMassScopeRemoval = "massScopeRemoval"
	OpMassDisable      = "massDisable"
	OpBurstRecovery    = "burstRecovery"
	OpPilotJoin        = "pilotJoin"
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
	// written is when the workload last created or restored the user:
	// with replication lag, Graph may not find it for a while.
	written time.Time
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
	// teamInProgram says whether teamGroup is nested in programGroup.
	// (The synced groups are keyed by the names they had at the start,
	// whatever the workload renamed them to since.)
	teamInProgram bool
	// handUser is the cast's hand user (cast.handUser), whose membership
	// of programGroup the group operations favour.
	handUser string
	seq      int
	target   int // population the weights steer towards

	// reserved are the cast's users (cast.reserved): the workload changes
	// their attributes, never their scope; fixedAddress are those whose
	// address it leaves alone too (look-alikes' users and externals).
	reserved, fixedAddress map[string]bool
	// pilotEver are the users who were ever in the guard target's scoping
	// group: only the fault plan deprovisions them there, so the random
	// operations never disable, enable or delete them.
	pilotEver map[string]bool
	// lag is the longest replication lag of the source: a user created or
	// restored more recently is left alone.
	lag time.Duration

	applied  map[string]int
	rejected map[string]int
	// journal, when set, receives every request the workload makes, for
	// reading a failed run.
	journal io.Writer
}

// movable are the project groups the workload nests and un-nests.
var movable = []string{atlasGroup, orionGroup}

// membershipGroups are the groups whose direct members the random
// operations move.
var membershipGroups = []string{graphsim.ScopingGroup, graphsim.NestedScopingGroup, atlasGroup, orionGroup}

// syncedGroupKeys are the groups the targets sync and the group nested in
// one of them: their direct members move too, the scope of no one.
var syncedGroupKeys = []string{teamGroup, programGroup, squadGroup}

// trackedGroups are the groups whose direct user members the workload
// keeps a model of (a soft-deleted user's are restored with it).
func trackedGroups() []string { return slices.Concat(membershipGroups, syncedGroupKeys) }

func newWorkload(ctx context.Context, g *graphHTTP, seed uint64, c cast, lag time.Duration) (*workload, error) {
	w := &workload{
		g:            g,
		r:            rand.New(rand.NewPCG(seed, 0x5eed)),
		groups:       map[string]string{},
		members:      map[string]map[string]bool{},
		nestedIn:     map[string]string{},
		applied:      map[string]int{},
		rejected:     map[string]int{},
		reserved:     c.reserved(),
		fixedAddress: map[string]bool{},
		pilotEver:    map[string]bool{},
		lag:          lag,
		handUser:     c.handUser,
	}
	for _, l := range c.lookalikes {
		w.fixedAddress[l.SourceID] = true
	}
	for _, id := range c.external {
		w.fixedAddress[id] = true
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
	for _, name := range append(trackedGroups(), pilotGroup) {
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
				if name == programGroup && m.ID == w.groups[teamGroup] {
					w.teamInProgram = true
				}
			}
		}
	}
	for id := range w.members[pilotGroup] {
		w.pilotEver[id] = true
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
	movable := w.movable()
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
		{OpDisable, 4, w.disable, func() bool { return len(movable) > 0 }},
		{OpEnable, 3, w.enable, func() bool { return w.anyDisabled() }},
		{OpSoftDelete, deleteW, w.softDelete, func() bool { return len(movable) > 1 }},
		{OpRestore, 4, w.restore, func() bool { return len(w.deleted) > 0 }},
		{OpPurge, 2, w.purge, func() bool { return len(w.deleted) > 0 }},
		{OpScopeJoin, 8, w.join(graphsim.ScopingGroup), func() bool { return len(movable) > 0 }},
		{OpScopeLeave, 6, w.leave(graphsim.ScopingGroup), func() bool { return len(w.leavers(graphsim.ScopingGroup)) > 0 }},
		{OpNestedJoin, 4, w.nestedJoin, func() bool { return len(movable) > 0 }},
		{OpNestedLeave, 3, w.nestedLeave, func() bool {
			return len(w.leavers(graphsim.NestedScopingGroup))+len(w.leavers(orionGroup)) > 0
		}},
		{OpGroupNest, 1, w.nest, func() bool { return w.nestedIn[atlasGroup] == "" || w.nestedIn[orionGroup] == "" }},
		{OpGroupUnnest, 1, w.unnest, func() bool { return w.nestedIn[atlasGroup] != "" || w.nestedIn[orionGroup] != "" }},
		{OpProjectMember, 4, w.projectMember, func() bool { return len(movable) > 0 }},
		{OpManagerSet, 6, w.setManager, func() bool { return len(members) > 1 }},
		{OpManagerRemove, 2, w.removeManager, func() bool { return w.anyManaged() }},
		{OpMailRename, 5, w.renameMail, func() bool { return len(w.renamable()) > 0 }},
		{OpMailClear, 1, w.clearMail, func() bool { return w.anyMail() }},
		{OpGroupJoin, 5, w.groupJoin, func() bool { return len(w.live) > 0 }},
		{OpGroupLeave, 4, w.groupLeave, func() bool { return len(w.members[teamGroup])+len(w.members[programGroup]) > 0 }},
		{OpSquadJoin, 2, w.squadJoin, func() bool { return len(w.live) > 0 }},
		{OpSquadLeave, 2, w.squadLeave, func() bool { return len(w.members[squadGroup]) > 0 }},
		{OpGroupRename, 2, w.renameGroup, func() bool { return true }},
		{OpGroupSyncedNest, 1, w.nestSynced, func() bool { return true }},
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

// ready reports whether Graph surely shows a user the workload created or
// restored: a write naming one it does not show yet answers 404.
func (w *workload) ready(u *srcUser) bool { return time.Since(u.written) > w.lag+w.lag/2 }

// liveMembers are the live members (not guests) that Graph surely shows.
func (w *workload) liveMembers() []*srcUser {
	return w.where(func(u *srcUser) bool { return !u.guest })
}

// movable are the live members whose scope the random operations may
// change: not the cast's, not the guard target's pilots.
func (w *workload) movable() []*srcUser {
	return w.where(w.isMovable)
}

func (w *workload) isMovable(u *srcUser) bool {
	return !u.guest && !w.reserved[u.id] && !w.pilotEver[u.id]
}

// renamable are the live members whose address may change.
func (w *workload) renamable() []*srcUser {
	return w.where(func(u *srcUser) bool { return !u.guest && !w.fixedAddress[u.id] })
}

// leavers are the direct members of a group the random operations may take
// out of it.
func (w *workload) leavers(group string) []string {
	var ids []string
	for id := range w.members[group] {
		if !w.reserved[id] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (w *workload) anyDisabled() bool {
	return slices.ContainsFunc(w.live, func(u *srcUser) bool { return !u.enabled && w.isMovable(u) && w.ready(u) })
}

func (w *workload) anyManaged() bool {
	return slices.ContainsFunc(w.live, func(u *srcUser) bool { return u.manager != "" && w.ready(u) })
}

func (w *workload) anyMail() bool {
	return slices.ContainsFunc(w.live, func(u *srcUser) bool { return u.mail != "" && !u.guest && !w.fixedAddress[u.id] && w.ready(u) })
}

func (w *workload) pick(list []*srcUser) *srcUser { return list[w.r.IntN(len(list))] }

// where returns the live users Graph surely shows that satisfy ok.
func (w *workload) where(ok func(*srcUser) bool) []*srcUser {
	var list []*srcUser
	for _, u := range w.live {
		if ok(u) && w.ready(u) {
			list = append(list, u)
		}
	}
	return list
}

func (w *workload) pickWhere(ok func(*srcUser) bool) *srcUser {
	list := w.where(ok)
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
	w.live = append(w.live, &srcUser{id: out.ID, upn: upn, mail: mail, enabled: body["accountEnabled"].(bool), written: time.Now()})
	return nil
}

// update changes one to four attributes: mapped ones (which must reach the
// targets) and unmapped ones (which must cost no write there). A user of
// the cast keeps the attributes litware's filters read.
func (w *workload) update(ctx context.Context) error {
	u := w.pickWhere(func(*srcUser) bool { return true })
	if u == nil {
		return nil
	}
	return w.updateUser(ctx, u)
}

// updateUser changes one to four attributes of a user.
func (w *workload) updateUser(ctx context.Context, u *srcUser) error {
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
	if w.reserved[u.id] {
		delete(changes, "department")
		delete(changes, "jobTitle")
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
	u := w.pickWhere(func(u *srcUser) bool { return u.enabled && w.isMovable(u) })
	if u == nil {
		u = w.pick(w.movable())
	}
	if err := w.do(ctx, http.MethodPatch, "/users/"+u.id, map[string]any{"accountEnabled": false}, nil); err != nil {
		return err
	}
	u.enabled = false
	return nil
}

func (w *workload) enable(ctx context.Context) error {
	u := w.pickWhere(func(u *srcUser) bool { return !u.enabled && w.isMovable(u) })
	if err := w.do(ctx, http.MethodPatch, "/users/"+u.id, map[string]any{"accountEnabled": true}, nil); err != nil {
		return err
	}
	u.enabled = true
	return nil
}

func (w *workload) softDelete(ctx context.Context) error {
	u := w.pick(w.movable())
	i := slices.Index(w.live, u)
	err := w.do(ctx, http.MethodDelete, "/users/"+u.id, nil, nil)
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			w.live = slices.Delete(w.live, i, i+1)
		}
		return err
	}
	w.live = slices.Delete(w.live, i, i+1)
	u.groups = nil
	for _, name := range trackedGroups() {
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
	u.written = time.Now()
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

// pickMember picks a direct member of a group the random operations may
// take out.
func (w *workload) pickMember(group string) string {
	ids := w.leavers(group)
	return ids[w.r.IntN(len(ids))]
}

func (w *workload) join(group string) func(context.Context) error {
	return func(ctx context.Context) error {
		u := w.pickWhere(func(u *srcUser) bool { return !w.members[group][u.id] && w.isMovable(u) })
		if u == nil {
			u = w.pick(w.movable())
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
	u := w.pickWhere(func(u *srcUser) bool { return !w.members[group][u.id] && w.isMovable(u) })
	if u == nil {
		u = w.pick(w.movable())
	}
	return w.addMember(ctx, group, u)
}

func (w *workload) nestedLeave(ctx context.Context) error {
	group := graphsim.NestedScopingGroup
	if len(w.leavers(group)) == 0 || len(w.leavers(orionGroup)) > 0 && w.r.IntN(2) == 0 {
		group = orionGroup
	}
	return w.removeMember(ctx, group, w.pickMember(group))
}

// projectMember moves a user in or out of Project Atlas, which is in scope
// only while it is nested.
func (w *workload) projectMember(ctx context.Context) error {
	if len(w.leavers(atlasGroup)) > 0 && w.r.IntN(2) == 0 {
		return w.removeMember(ctx, atlasGroup, w.pickMember(atlasGroup))
	}
	u := w.pickWhere(func(u *srcUser) bool { return !w.members[atlasGroup][u.id] && w.isMovable(u) })
	if u == nil {
		u = w.pick(w.movable())
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
	u := w.pick(w.renamable())
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
	u := w.pickWhere(func(u *srcUser) bool { return u.mail != "" && !u.guest && !w.fixedAddress[u.id] })
	if err := w.do(ctx, http.MethodPatch, "/users/"+u.id, map[string]any{"mail": nil}, nil); err != nil {
		return err
	}
	u.mail = ""
	return nil
}

// byID returns the live user with an id, or nil.
func (w *workload) byID(id string) *srcUser {
	for _, u := range w.live {
		if u.id == id {
			return u
		}
	}
	return nil
}

// pilots are the members of the guard target's scoping group a burst may
// take out: live, enabled members Graph surely shows, not of the cast.
func (w *workload) pilots() []*srcUser {
	return w.where(func(u *srcUser) bool {
		return w.members[pilotGroup][u.id] && u.enabled && !u.guest && !w.reserved[u.id]
	})
}

// massScopeRemoval takes users out of the guard target's scoping group, one
// right after the other, as an administrator's script would: a burst. It
// returns the users it took out.
func (w *workload) massScopeRemoval(ctx context.Context, users []*srcUser) ([]string, error) {
	var done []string
	for _, u := range users {
		err := w.removeMember(ctx, pilotGroup, u.id)
		switch {
		case err == nil:
			done = append(done, u.id)
		case statusOf(err) == http.StatusBadRequest || statusOf(err) == http.StatusNotFound:
			w.rejected[OpMassScopeRemoval]++
		default:
			return done, fmt.Errorf("workload %s: %w", OpMassScopeRemoval, err)
		}
	}
	w.applied[OpMassScopeRemoval]++
	return done, nil
}

// massDisable disables users in the source, one right after the other: a
// burst that the accountEnabled mapping carries to every target.
func (w *workload) massDisable(ctx context.Context, users []*srcUser) ([]string, error) {
	var done []string
	for _, u := range users {
		err := w.do(ctx, http.MethodPatch, "/users/"+u.id, map[string]any{"accountEnabled": false}, nil)
		switch {
		case err == nil:
			u.enabled = false
			done = append(done, u.id)
		case statusOf(err) == http.StatusBadRequest || statusOf(err) == http.StatusNotFound:
			w.rejected[OpMassDisable]++
		default:
			return done, fmt.Errorf("workload %s: %w", OpMassDisable, err)
		}
	}
	w.applied[OpMassDisable]++
	return done, nil
}

// recoverBurst brings users of a burst back: into the scoping group again
// (removed), or enabled again (disabled). It returns the users it brought
// back.
func (w *workload) recoverBurst(ctx context.Context, kind string, ids []string) ([]string, error) {
	var done []string
	for _, id := range ids {
		u := w.byID(id)
		if u == nil {
			continue
		}
		var err error
		if kind == OpMassScopeRemoval {
			err = w.addMember(ctx, pilotGroup, u)
		} else if err = w.do(ctx, http.MethodPatch, "/users/"+u.id, map[string]any{"accountEnabled": true}, nil); err == nil {
			u.enabled = true
		}
		switch {
		case err == nil:
			done = append(done, id)
		case statusOf(err) == http.StatusBadRequest || statusOf(err) == http.StatusNotFound:
			w.rejected[OpBurstRecovery]++
		default:
			return done, fmt.Errorf("workload %s: %w", OpBurstRecovery, err)
		}
	}
	w.applied[OpBurstRecovery]++
	return done, nil
}

// pilotJoin adds up to n enabled members to the guard target's scoping
// group: former pilots first (a burst took them out), then users the random
// operations move, who then never move again. It returns those it added.
func (w *workload) pilotJoin(ctx context.Context, n int) ([]string, error) {
	former := w.where(func(u *srcUser) bool {
		return w.pilotEver[u.id] && !w.members[pilotGroup][u.id] && u.enabled && !u.guest && !w.reserved[u.id]
	})
	fresh := w.where(func(u *srcUser) bool { return w.isMovable(u) && u.enabled })
	w.r.Shuffle(len(former), func(i, j int) { former[i], former[j] = former[j], former[i] })
	w.r.Shuffle(len(fresh), func(i, j int) { fresh[i], fresh[j] = fresh[j], fresh[i] })
	var done []string
	for _, u := range append(former, fresh...) {
		if len(done) >= n {
			break
		}
		err := w.addMember(ctx, pilotGroup, u)
		switch {
		case err == nil:
			w.pilotEver[u.id] = true
			done = append(done, u.id)
		case statusOf(err) == http.StatusBadRequest || statusOf(err) == http.StatusNotFound:
			w.rejected[OpPilotJoin]++
		default:
			return done, fmt.Errorf("workload %s: %w", OpPilotJoin, err)
		}
	}
	w.applied[OpPilotJoin]++
	return done, nil
}

// touch changes a user's displayName and officeLocation, and its phones
// when asked: a source change the fault plan makes right after it changed
// the user's target user, so that the oracle sees what flows afterwards.
func (w *workload) touch(ctx context.Context, u *srcUser, phones bool) error {
	body := map[string]any{
		"displayName":    fmt.Sprintf("%s %s %d", firstNames[w.r.IntN(len(firstNames))], lastNames[w.r.IntN(len(lastNames))], w.r.IntN(100)),
		"officeLocation": fmt.Sprintf("Building %d", w.r.IntN(40)),
	}
	if phones {
		body["mobilePhone"] = w.phone()
		body["businessPhones"] = []string{w.phone()}
	}
	return w.do(ctx, http.MethodPatch, "/users/"+u.id, body, nil)
}

// groupJoin makes a live user a direct member of a synced group: anyone,
// guests and the cast included, for a synced group's members change no
// one's scope. Joining programGroup, it favours the hand user (a third of
// the time), whom a target administrator added to its target groups by
// hand: once a member of the source group, tenantsync must still not count
// it as one it added.
func (w *workload) groupJoin(ctx context.Context) error {
	group := []string{teamGroup, programGroup}[w.r.IntN(2)]
	if group == programGroup && !w.members[group][w.handUser] && w.r.IntN(3) == 0 {
		if u := w.byID(w.handUser); u != nil && w.ready(u) {
			return w.addMember(ctx, group, u)
		}
	}
	u := w.pickWhere(func(u *srcUser) bool { return !w.members[group][u.id] })
	if u == nil {
		return nil
	}
	return w.addMember(ctx, group, u)
}

// groupLeave takes a direct user member out of a synced group, the hand
// user half of the time it is a member of programGroup: its target users
// must stay members of the target groups they were added to by hand.
func (w *workload) groupLeave(ctx context.Context) error {
	if w.members[programGroup][w.handUser] && w.r.IntN(2) == 0 {
		return w.removeMember(ctx, programGroup, w.handUser)
	}
	group := teamGroup
	if len(w.members[teamGroup]) == 0 || len(w.members[programGroup]) > 0 && w.r.IntN(2) == 0 {
		group = programGroup
	}
	return w.removeMember(ctx, group, w.pickOf(group))
}

// squadJoin makes a live user a member of the group nested in
// programGroup: a member of programGroup's target groups where the scope
// is nested, and not elsewhere.
func (w *workload) squadJoin(ctx context.Context) error {
	u := w.pickWhere(func(u *srcUser) bool { return !w.members[squadGroup][u.id] })
	if u == nil {
		return nil
	}
	return w.addMember(ctx, squadGroup, u)
}

func (w *workload) squadLeave(ctx context.Context) error {
	return w.removeMember(ctx, squadGroup, w.pickOf(squadGroup))
}

// pickOf picks any direct user member of a group.
func (w *workload) pickOf(group string) string {
	ids := sortedKeys(w.members[group])
	return ids[w.r.IntN(len(ids))]
}

// renameGroup gives a synced group a new display name, which its target
// groups must follow through each target's mapping; teamGroup stays synced
// although the configuration names it by its first name.
func (w *workload) renameGroup(ctx context.Context) error {
	key := []string{teamGroup, programGroup}[w.r.IntN(2)]
	w.seq++
	name := fmt.Sprintf("%s %d", key, w.seq)
	return w.do(ctx, http.MethodPatch, "/groups/"+w.groups[key], map[string]any{"displayName": name}, nil)
}

// nestSynced nests teamGroup in programGroup, or takes it out again: a
// synced group that is a member of another is flattened into that one's
// target groups where the scope is nested, as any nested group is.
func (w *workload) nestSynced(ctx context.Context) error {
	path := "/groups/" + w.groups[programGroup] + "/members/"
	if w.teamInProgram {
		err := w.do(ctx, http.MethodDelete, path+w.groups[teamGroup]+"/$ref", nil, nil)
		if err == nil || statusOf(err) == http.StatusNotFound {
			w.teamInProgram = false
		}
		return err
	}
	err := w.do(ctx, http.MethodPost, path+"$ref", ref("directoryObjects", w.groups[teamGroup]), nil)
	if err == nil || statusOf(err) == http.StatusBadRequest {
		w.teamInProgram = true // 400: it was nested already
	}
	return err
}
