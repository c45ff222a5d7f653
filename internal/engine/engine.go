package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/expr"
	"github.com/tenantsync/tenantsync/internal/mapping"
	"github.com/tenantsync/tenantsync/internal/scope"
	"github.com/tenantsync/tenantsync/internal/store"
)

// Options configure an Engine.
type Options struct {
	// Config is a validated configuration.
	Config *config.Config
	Source Source
	// Targets holds a Target for every target in Config, by name.
	Targets map[string]Target
	// Store is the engine's memory; a store.Store is one.
	Store  Store
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// StatusCacheTTL bounds how stale the engine's view of a target's
	// quarantine may be; 0 means 10 s.
	StatusCacheTTL time.Duration
	// GroupAnchorAttr is the group property tenantsync writes its anchor
	// into on the groups it creates: the Graph adapter's choice. Required
	// when a target syncs groups (docs/groups.md).
	GroupAnchorAttr string
}

// Engine synchronises users from the source tenant into the targets. It is
// safe for concurrent use; concurrent syncs of the same user converge.
type Engine struct {
	source       Source
	sourceTenant string
	targets      []*target
	store        Store
	log          *slog.Logger
	now          func() time.Time

	// userAttrs is what to $select on a source user: the union of what every
	// target's mappings, scope and invitation address read.
	userAttrs []string

	statusTTL time.Duration

	mu     sync.Mutex
	groups map[string]directory.Group // configured group (id or name) → group
	scopes map[string]*scope.Scope    // target → compiled scope with groups resolved
	status map[string]cachedStatus    // target → status
	probes map[string]probeResult     // target → its last probe
}

type cachedStatus struct {
	status store.TargetStatus
	read   time.Time
}

// target is one configured target, compiled.
type target struct {
	name          string
	cfg           config.Target
	api           Target
	mappings      *mapping.Set
	inviteAddress *expr.Expr
	anchorAttr    string
	threshold     int
	window        time.Duration
	delay         time.Duration // the deletion guard's settle delay
	// group is the target's group provisioning (group.go); nil when it
	// syncs no group.
	group *groupTarget
}

// New compiles the configuration into an Engine. It does no I/O: scoping
// groups named by display name are resolved on first use.
func New(opts Options) (*Engine, error) {
	if opts.Config == nil || opts.Source == nil || opts.Store == nil {
		return nil, errors.New("engine: Config, Source and Store are required")
	}
	e := &Engine{
		source:       opts.Source,
		sourceTenant: opts.Config.Source.Tenant,
		store:        opts.Store,
		log:          opts.Logger,
		now:          opts.Now,
		statusTTL:    opts.StatusCacheTTL,
		groups:       map[string]directory.Group{},
		scopes:       map[string]*scope.Scope{},
		status:       map[string]cachedStatus{},
		probes:       map[string]probeResult{},
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.statusTTL <= 0 {
		e.statusTTL = 10 * time.Second
	}
	attrs := map[string]bool{"id": true, "userPrincipalName": true, "userType": true,
		"accountEnabled": true, "mail": true, "displayName": true}
	for i, tc := range opts.Config.Targets {
		api := opts.Targets[tc.Name]
		if api == nil {
			return nil, fmt.Errorf("engine: no Target given for target %q", tc.Name)
		}
		set, err := mapping.Compile(tc.Mappings)
		if err != nil {
			return nil, fmt.Errorf("targets[%d].mappings: %w", i, err)
		}
		addr, err := expr.Parse(tc.InviteAddress)
		if err != nil {
			return nil, fmt.Errorf("targets[%d].inviteAddress: %w", i, err)
		}
		sc, err := scope.New(scope.Spec{Filters: tc.Scope.Filters})
		if err != nil {
			return nil, fmt.Errorf("targets[%d].scope: %w", i, err)
		}
		t := &target{
			name:          tc.Name,
			cfg:           tc,
			api:           api,
			mappings:      set,
			inviteAddress: addr,
			anchorAttr:    tc.Anchor,
			threshold:     tc.Deprovision.Threshold,
			window:        time.Duration(tc.Deprovision.Window),
			delay:         tc.Deprovision.SettleDelay(),
		}
		if t.group, err = newGroupTarget(i, tc, api, opts.GroupAnchorAttr); err != nil {
			return nil, err
		}
		for _, a := range set.SourceAttributes() {
			attrs[a] = true
		}
		for _, a := range sc.Attributes() {
			attrs[a] = true
		}
		for _, a := range addr.Attributes() {
			attrs[a] = true
		}
		e.targets = append(e.targets, t)
	}
	for a := range attrs {
		e.userAttrs = append(e.userAttrs, a)
	}
	sort.Strings(e.userAttrs)
	return e, nil
}

// Targets returns the names of the configured targets, in config order.
func (e *Engine) Targets() []string {
	names := make([]string, len(e.targets))
	for i, t := range e.targets {
		names[i] = t.name
	}
	return names
}

// SourceAttributes returns the source user properties the engine reads.
func (e *Engine) SourceAttributes() []string { return append([]string(nil), e.userAttrs...) }

func (e *Engine) target(name string) (*target, error) {
	for _, t := range e.targets {
		if t.name == name {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w %q (configured: %s)", ErrUnknownTarget, name, strings.Join(e.Targets(), ", "))
}

// anchorValue is what tenantsync writes into the anchor attribute of every
// target user it manages, so that a lost link can be recovered.
func (e *Engine) anchorValue(sourceID string) string {
	return "tenantsync:" + e.sourceTenant + ":" + sourceID
}

// anchorPrefix is the anchor prefix of users synced from this source tenant.
func (e *Engine) anchorPrefix() string { return "tenantsync:" + e.sourceTenant + ":" }

// findGroup resolves a configured group (an object id or a display name;
// what says which configuration it is, such as "scoping group") to the
// source group, caching the answer. found is false when no group has that
// id or name (not cached: it may appear); several is an error, as nothing
// can be decided until it is configured by id.
func (e *Engine) findGroup(ctx context.Context, t *target, what, name string) (g directory.Group, found bool, err error) {
	e.mu.Lock()
	g, ok := e.groups[name]
	e.mu.Unlock()
	if ok {
		return g, true, nil
	}
	groups, err := e.source.FindGroups(ctx, name)
	if err != nil {
		return g, false, fmt.Errorf("resolve %s %q: %w", what, name, err)
	}
	switch len(groups) {
	case 0:
		return g, false, nil
	case 1:
		g = groups[0]
	default:
		return g, false, fmt.Errorf("target %s: %s %q is ambiguous (%s): configure it by object id: %w", t.name, what, name, strings.Join(groupIDsOf(groups), ", "), ErrPermanent)
	}
	e.mu.Lock()
	e.groups[name] = g
	e.mu.Unlock()
	return g, true, nil
}

// resolveGroups maps a target's configured scoping groups (ids or display
// names) to groups, caching the answers.
func (e *Engine) resolveGroups(ctx context.Context, t *target) ([]directory.Group, error) {
	groups := make([]directory.Group, 0, len(t.cfg.Scope.Groups))
	for _, name := range t.cfg.Scope.Groups {
		g, found, err := e.findGroup(ctx, t, "scoping group", name)
		switch {
		case err != nil:
			return nil, err
		case !found:
			return nil, fmt.Errorf("target %s: scoping group %q: no group with this id or display name in the source tenant: %w", t.name, name, ErrPermanent)
		}
		groups = append(groups, g)
	}
	return groups, nil
}

// groupIDs returns the object ids of a target's scoping groups.
func (e *Engine) groupIDs(ctx context.Context, t *target) ([]string, error) {
	groups, err := e.resolveGroups(ctx, t)
	if err != nil {
		return nil, err
	}
	return groupIDsOf(groups), nil
}

// groupIDsOf returns the object ids of groups.
func groupIDsOf(groups []directory.Group) []string {
	ids := make([]string, len(groups))
	for i, g := range groups {
		ids[i] = g.ID
	}
	return ids
}

// scopeFor returns the scope of a target with its groups resolved, compiled
// once.
func (e *Engine) scopeFor(ctx context.Context, t *target) (*scope.Scope, error) {
	e.mu.Lock()
	sc := e.scopes[t.name]
	e.mu.Unlock()
	if sc != nil {
		return sc, nil
	}
	groups, err := e.resolveGroups(ctx, t)
	if err != nil {
		return nil, err
	}
	sc, err = scope.New(t.cfg.Scope.Spec(groups))
	if err != nil {
		return nil, fmt.Errorf("target %s: scope: %w: %w", t.name, err, ErrPermanent)
	}
	e.mu.Lock()
	e.scopes[t.name] = sc
	e.mu.Unlock()
	return sc, nil
}

// comparedAttrs are the target attributes a full pass compares with what
// tenantsync wrote, to find drift: what the mappings write on every update
// (userType only when a mapping says so) and Graph reads back, plus the
// anchor.
func (t *target) comparedAttrs() []string {
	attrs := slices.DeleteFunc(t.mappings.UpdateAttributes(), func(a string) bool { return !mapping.ReadBack(a) })
	return append(attrs, t.anchorAttr)
}
