package engine

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/mapping"
	"github.com/tenantsync/tenantsync/internal/scope"
	"github.com/tenantsync/tenantsync/internal/store"
)

// A survey is everything a full pass needs, read in pages rather than per
// user: the source users, the members of every scoping group, and per target
// the links and the users. Plan and the full reconcile run the ordinary sync
// code against it through read-only adapters, so a dry run and a real run
// can never decide differently.
//
// The users and links are kept in a temporary file (spill.go), with only
// their ids in the heap: close removes it.
type survey struct {
	spill   *spill
	users   *spilled[directory.User] // live source users by id
	order   []string                 // source user ids in listing order
	members map[bool]map[string]map[string]bool
	targets map[string]*targetSurvey
}

type targetSurvey struct {
	links *spilled[store.Link]     // by source id
	users *spilled[directory.User] // by target id
	// listed are the target users in listing order, each time it listed
	// one (a user listed twice is there twice): where each went in the
	// spill, or, for the few kept in the heap, the user (heap, by place).
	listed []spillRef
	heap   map[int]directory.User
	anchor string // the target's anchor attribute
	// byAnchor and byMail index the listed users by lower-cased anchor, mail
	// and otherMails values, keyed by valueKey (16 bytes instead of an
	// address or an anchor). Only matching reads them, for users without a
	// link: they are built the first time one is needed (index), which an
	// idle full pass never does.
	indexOnce        sync.Once
	indexErr         error
	byAnchor, byMail map[valueKey][]string
}

// index builds byAnchor and byMail from the listed users, in the order they
// were listed, as if built while listing.
func (ts *targetSurvey) index() error {
	ts.indexOnce.Do(func() {
		ts.byAnchor, ts.byMail = map[valueKey][]string{}, map[valueKey][]string{}
		for i, ref := range ts.listed {
			u, inHeap := ts.heap[i]
			if !inHeap {
				var err error
				if u, err = ts.users.version(ref); err != nil {
					ts.indexErr = err
					return
				}
			}
			ts.add(u)
		}
	})
	return ts.indexErr
}

// list keeps a user the target's listing returned.
func (ts *targetSurvey) list(u directory.User) error {
	ref, spilled, err := ts.users.putRef(u.ID, u)
	if err != nil {
		return err
	}
	if !spilled {
		ts.heap[len(ts.listed)] = u
	}
	ts.listed = append(ts.listed, ref)
	return nil
}

// add indexes one listed user.
func (ts *targetSurvey) add(u directory.User) {
	if a, ok := u.Attrs.String(ts.anchor); ok {
		ts.byAnchor[keyOf(a)] = append(ts.byAnchor[keyOf(a)], u.ID)
	}
	if m, ok := u.Attrs.String("mail"); ok {
		ts.byMail[keyOf(m)] = append(ts.byMail[keyOf(m)], u.ID)
	}
	others, _ := u.Attrs["otherMails"].([]string)
	for _, o := range others {
		if !strings.EqualFold(o, stringAttr(u.Attrs, "mail")) {
			ts.byMail[keyOf(o)] = append(ts.byMail[keyOf(o)], u.ID)
		}
	}
}

// valueKey is a digest of a lower-cased attribute value: 128 bits, so that
// two values never share one (2⁻¹²⁸ for a pair), and the index of 250,000
// users takes a third of the heap of their values.
type valueKey [16]byte

func keyOf(v string) valueKey {
	sum := sha256.Sum256([]byte(strings.ToLower(v)))
	return valueKey(sum[:16])
}

// close removes the survey's temporary file.
func (s *survey) close() error { return s.spill.close() }

// survey reads the source and the given targets in pages. The caller
// closes it.
func (e *Engine) survey(ctx context.Context, targets []*target, read func(ReadProgress)) (_ *survey, err error) {
	sp, err := newSpill()
	if err != nil {
		return nil, err
	}
	s := &survey{
		spill:   sp,
		users:   newUserIndex(sp),
		members: map[bool]map[string]map[string]bool{false: {}, true: {}},
		targets: map[string]*targetSurvey{},
	}
	defer func() {
		if err != nil {
			sp.close()
		}
	}()
	var progress ReadProgress
	if read == nil {
		read = func(ReadProgress) {}
	}
	err = e.source.ListUsers(ctx, e.userAttrs, func(page []directory.User) error {
		for _, u := range page {
			if !s.users.has(u.ID) {
				s.order = append(s.order, u.ID)
			}
			if err := s.users.put(u.ID, u); err != nil {
				return err
			}
		}
		progress.SourceUsers += len(page)
		read(progress)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list source users: %w", err)
	}
	for _, t := range targets {
		ids, err := e.groupIDs(ctx, t)
		if err != nil {
			return nil, err
		}
		nested := t.cfg.Scope.Nested
		for _, g := range ids {
			if _, ok := s.members[nested][g]; ok {
				continue
			}
			m, err := e.source.GroupMembers(ctx, g, nested)
			if err != nil {
				return nil, fmt.Errorf("list members of scoping group %s: %w", g, err)
			}
			set := make(map[string]bool, len(m.Users))
			for _, u := range m.Users {
				set[u] = true
			}
			s.members[nested][g] = set
		}
		progress.Target, progress.Links, progress.TargetUsers = t.name, 0, 0
		ts, err := e.surveyTarget(ctx, t, sp, func(links, users int) {
			progress.Links += links
			progress.TargetUsers += users
			read(progress)
		})
		if err != nil {
			return nil, err
		}
		s.targets[t.name] = ts
	}
	return s, nil
}

// surveyTarget lists a target's links and users into the spill, telling
// read how many of each it has added after the links and after each page.
func (e *Engine) surveyTarget(ctx context.Context, t *target, sp *spill, read func(links, users int)) (*targetSurvey, error) {
	ts := &targetSurvey{
		links:  newLinkIndex(sp),
		users:  newUserIndex(sp),
		heap:   map[int]directory.User{},
		anchor: t.anchorAttr,
	}
	links := 0
	err := e.store.ListLinks(ctx, t.name, func(l store.Link) error {
		links++
		return ts.links.put(l.SourceID, l)
	})
	if err != nil {
		return nil, fmt.Errorf("list links of %s: %w", t.name, err)
	}
	read(links, 0)
	attrs := e.targetAttrs(t)
	err = t.api.ListUsers(ctx, attrs, func(page []directory.User) error {
		for _, u := range page {
			if err := ts.list(u); err != nil {
				return err
			}
		}
		read(0, len(page))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list users of target %s: %w", t.name, err)
	}
	return ts, nil
}

// targetAttrs are the target user properties a full pass reads.
func (e *Engine) targetAttrs(t *target) []string {
	attrs := append(slices.DeleteFunc(t.mappings.TargetAttributes(), func(a string) bool { return !mapping.ReadBack(a) }),
		t.anchorAttr, "userType", "userPrincipalName", "creationType", "mail", "otherMails", "accountEnabled",
		"externalUserState", "identities")
	if t.mappings.HasManager() {
		attrs = append(attrs, "manager")
	}
	return dedupe(attrs)
}

// surveySource answers the engine's source reads from a survey; what the
// survey does not hold (deleted users, groups) goes to the real source.
type surveySource struct {
	Source
	s *survey
}

func (ss surveySource) GetUser(ctx context.Context, id string, attrs []string) (directory.User, error) {
	if u, ok, err := ss.s.users.get(id); err != nil || ok {
		return u, err
	}
	return directory.User{}, &directory.Error{Op: "get user " + id + " (survey)", Status: 404, Code: "Request_ResourceNotFound", Err: directory.ErrNotFound}
}

func (ss surveySource) MemberOf(ctx context.Context, userID string, groupIDs []string, transitive bool) ([]string, error) {
	var in []string
	for _, g := range groupIDs {
		if ss.s.members[transitive][g][userID] {
			in = append(in, g)
		}
	}
	return in, nil
}

func (ss surveySource) DirectReports(ctx context.Context, id string) ([]string, error) {
	return nil, nil // follow-ups are not needed: the full pass visits every user
}

// dryTarget answers a target's reads from a survey and turns its writes into
// no-ops: Plan can never write to a target.
type dryTarget struct {
	ts *targetSurvey
}

func (d dryTarget) Invite(ctx context.Context, inv Invitation) (directory.User, error) {
	return directory.User{Attrs: directory.Attributes{"displayName": inv.DisplayName, "mail": inv.Email, "userType": inv.UserType}}, nil
}

func (d dryTarget) GetUser(ctx context.Context, id string, attrs []string) (directory.User, error) {
	if u, ok, err := d.ts.users.get(id); err != nil || ok {
		return u, err
	}
	return directory.User{}, &directory.Error{Op: "get user " + id + " (survey)", Status: 404, Code: "Request_ResourceNotFound", Err: directory.ErrNotFound}
}

func (d dryTarget) FindUsers(ctx context.Context, conds []Cond, attrs []string) ([]directory.User, error) {
	if err := d.ts.index(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []directory.User
	for _, c := range conds {
		var ids []string
		switch c.Attr {
		case "mail", "otherMails":
			ids = d.ts.byMail[keyOf(c.Value)]
		default:
			ids = d.ts.byAnchor[keyOf(c.Value)]
		}
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				u, _, err := d.ts.users.get(id)
				if err != nil {
					return nil, err
				}
				out = append(out, u)
			}
		}
	}
	return out, nil
}

func (d dryTarget) ListUsers(ctx context.Context, attrs []string, fn func([]directory.User) error) error {
	return errors.New("dry run: ListUsers is not available")
}
func (dryTarget) UpdateUser(context.Context, string, directory.Attributes) error { return nil }
func (dryTarget) DeleteUser(context.Context, string) error                       { return nil }
func (dryTarget) RestoreUser(context.Context, string) error                      { return nil }
func (dryTarget) SetManager(context.Context, string, string) error               { return nil }
func (dryTarget) Probe(context.Context) error                                    { return nil }
func (dryTarget) InvitationsBlocked(context.Context) (bool, error)               { return false, nil }
func (dryTarget) GetDeletedUser(ctx context.Context, id string, attrs []string) (directory.User, error) {
	return directory.User{ID: id, Deleted: true}, nil
}

// overlayStore is the engine's Store for a dry run: it reads links from a
// survey (base) and everything else from the real store, and keeps every
// write in memory (links, with gone for the links it deleted). A dry run changes nothing, yet sees its own earlier decisions (so
// the deletion guard counts as it would). It implements Store in full and
// embeds nothing: a store call added to the engine cannot reach the real
// store through it unnoticed.
type overlayStore struct {
	real     Store
	mu       sync.Mutex
	base     map[string]*spilled[store.Link]
	links    map[string]map[string]store.Link
	gone     map[string]map[string]bool
	status   map[string]store.TargetStatus
	deletion map[string]store.Deletion
	guard    map[string]store.Guard
}

var _ Store = (*overlayStore)(nil)

func newOverlay(real Store, s *survey) *overlayStore {
	o := &overlayStore{real: real, base: map[string]*spilled[store.Link]{}, links: map[string]map[string]store.Link{},
		gone: map[string]map[string]bool{}, status: map[string]store.TargetStatus{}, deletion: map[string]store.Deletion{},
		guard: map[string]store.Guard{}}
	for name, ts := range s.targets {
		o.base[name] = ts.links
		o.links[name] = map[string]store.Link{}
		o.gone[name] = map[string]bool{}
	}
	return o
}

// link returns a link as the dry run has it: written by it, deleted by it,
// or as surveyed. The caller holds o.mu.
func (o *overlayStore) link(target, sourceID string) (store.Link, bool, error) {
	if l, ok := o.links[target][sourceID]; ok {
		return l, true, nil
	}
	if o.gone[target][sourceID] || o.base[target] == nil {
		return store.Link{}, false, nil
	}
	return o.base[target].get(sourceID)
}

func (o *overlayStore) GetWatermark(ctx context.Context, tenant, resource string) (store.Watermark, error) {
	return o.real.GetWatermark(ctx, tenant, resource)
}

func (o *overlayStore) PutWatermark(ctx context.Context, w store.Watermark) (store.Watermark, error) {
	return w, errors.New("dry run: watermarks are not written")
}

func (o *overlayStore) GetLink(ctx context.Context, target, sourceID string) (store.Link, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	l, ok, err := o.link(target, sourceID)
	if err != nil || ok {
		return l, err
	}
	return store.Link{}, store.ErrNotFound
}

func (o *overlayStore) GetLinks(ctx context.Context, target string, sourceIDs []string) (map[string]store.Link, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]store.Link, len(sourceIDs))
	for _, id := range sourceIDs {
		l, ok, err := o.link(target, id)
		if err != nil {
			return nil, err
		}
		if ok {
			out[id] = l
		}
	}
	return out, nil
}

func (o *overlayStore) GetLinkByTargetID(ctx context.Context, target, targetID string) (store.Link, error) {
	var found *store.Link
	err := o.ListLinks(ctx, target, func(l store.Link) error {
		if l.TargetID == targetID {
			found = &l
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return store.Link{}, err
	}
	if found != nil {
		return *found, nil
	}
	return store.Link{}, store.ErrNotFound
}

// errStop ends a listing early.
var errStop = errors.New("stop")

func (o *overlayStore) PutLink(ctx context.Context, l store.Link) (store.Link, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.links[l.Target] == nil {
		o.links[l.Target] = map[string]store.Link{}
	}
	o.links[l.Target][l.SourceID] = l
	delete(o.gone[l.Target], l.SourceID)
	return l, nil
}

func (o *overlayStore) DeleteLink(ctx context.Context, l store.Link) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.links[l.Target], l.SourceID)
	if o.gone[l.Target] == nil {
		o.gone[l.Target] = map[string]bool{}
	}
	o.gone[l.Target][l.SourceID] = true
	return nil
}

func (o *overlayStore) ListLinks(ctx context.Context, target string, fn func(store.Link) error) error {
	// Only the ids are gathered and sorted: the links are read one at a
	// time, as fn takes them.
	o.mu.Lock()
	ids := make([]string, 0, len(o.links[target]))
	for id := range o.links[target] {
		ids = append(ids, id)
	}
	if b := o.base[target]; b != nil {
		b.eachID(func(id string) {
			if _, written := o.links[target][id]; !written && !o.gone[target][id] {
				ids = append(ids, id)
			}
		})
	}
	o.mu.Unlock()
	slices.Sort(ids)
	for _, id := range ids {
		o.mu.Lock()
		l, ok, err := o.link(target, id)
		o.mu.Unlock()
		if err != nil {
			return err
		}
		if !ok {
			continue // deleted meanwhile
		}
		if err := fn(l); err != nil {
			return err
		}
	}
	return nil
}

func (o *overlayStore) GetDeletion(ctx context.Context, target, sourceID string) (store.Deletion, error) {
	o.mu.Lock()
	d, ok := o.deletion[target+"/"+sourceID]
	o.mu.Unlock()
	if ok {
		return d, nil
	}
	return o.real.GetDeletion(ctx, target, sourceID)
}

func (o *overlayStore) PutDeletion(ctx context.Context, d store.Deletion) (store.Deletion, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.deletion[d.Target+"/"+d.SourceID] = d
	return d, nil
}

func (o *overlayStore) DeleteDeletion(ctx context.Context, d store.Deletion) error { return nil }

func (o *overlayStore) ListDeletions(ctx context.Context, target string) ([]store.Deletion, error) {
	return o.real.ListDeletions(ctx, target)
}

func (o *overlayStore) AppendEvent(ctx context.Context, ev store.Event) error { return nil }

func (o *overlayStore) GetStatus(ctx context.Context, target string) (store.TargetStatus, error) {
	o.mu.Lock()
	st, ok := o.status[target]
	o.mu.Unlock()
	if ok {
		return st, nil
	}
	return o.real.GetStatus(ctx, target)
}

func (o *overlayStore) PutStatus(ctx context.Context, st store.TargetStatus) (store.TargetStatus, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.status[st.Target] = st
	return st, nil
}

func (o *overlayStore) GetGuard(ctx context.Context, target string) (store.Guard, error) {
	o.mu.Lock()
	g, ok := o.guard[target]
	o.mu.Unlock()
	if ok {
		return cloneGuard(g), nil
	}
	g, err := o.real.GetGuard(ctx, target)
	if err != nil {
		return g, err
	}
	g.ETag = "" // the overlay's writes are unconditional
	return g, nil
}

func (o *overlayStore) PutGuard(ctx context.Context, g store.Guard) (store.Guard, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.guard[g.Target] = cloneGuard(g)
	return g, nil
}

func cloneGuard(g store.Guard) store.Guard {
	g.Pending, g.Executed = maps.Clone(g.Pending), maps.Clone(g.Executed)
	return g
}

// dry returns an engine that decides exactly as e does, against the survey,
// without writing to any tenant or to the store.
func (e *Engine) dry(s *survey) *Engine {
	d := &Engine{
		source:       surveySource{Source: e.source, s: s},
		sourceTenant: e.sourceTenant,
		store:        newOverlay(e.store, s),
		log:          e.log,
		now:          e.now,
		userAttrs:    e.userAttrs,
		statusTTL:    e.statusTTL,
		groups:       map[string]directory.Group{},
		scopes:       map[string]*scope.Scope{},
		status:       map[string]cachedStatus{},
		probes:       map[string]probeResult{},
	}
	e.mu.Lock()
	maps.Copy(d.groups, e.groups)
	maps.Copy(d.scopes, e.scopes)
	e.mu.Unlock()
	for _, t := range e.targets {
		ts, ok := s.targets[t.name]
		if !ok {
			continue
		}
		c := *t
		c.api = dryTarget{ts: ts}
		d.targets = append(d.targets, &c)
	}
	return d
}
