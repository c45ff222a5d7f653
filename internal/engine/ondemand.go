package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/tenantsync/tenantsync/internal/directory"
)

// Report is the step-by-step account of an on-demand provisioning, like the
// Entra portal's "Provision on demand": import, scope, match, action.
type Report struct {
	Target string `json:"target"`
	Steps  []Step `json:"steps"`
	Action Action `json:"result"`
	// Group is the outcome of a group's provisioning (ProvisionGroup),
	// when the report is a group's.
	Group *GroupAction `json:"group,omitempty"`
}

// Step is one stage of an on-demand provisioning.
type Step struct {
	Name   string `json:"step"` // import, scope, match, guard, action
	Detail string `json:"detail"`
}

// step records a stage; it is a no-op on a nil Report so the normal sync
// path can call it unconditionally.
func (r *Report) step(name, format string, args ...any) {
	if r == nil {
		return
	}
	r.Steps = append(r.Steps, Step{Name: name, Detail: fmt.Sprintf(format, args...)})
}

// Provision syncs one user now, by object id or userPrincipalName, into one
// target (or all, when targetName is empty), and reports every step with the
// Graph request ids behind it.
func (e *Engine) Provision(ctx context.Context, user, targetName string) ([]Report, error) {
	targets := e.targets
	if targetName != "" {
		t, err := e.target(targetName)
		if err != nil {
			return nil, err
		}
		targets = []*target{t}
	}
	src, err := e.readSource(ctx, user)
	if err != nil {
		return nil, err
	}
	if src.gone {
		return nil, fmt.Errorf("source user %q: %w in the source tenant %s (neither live nor in deleted items)", user, directory.ErrNotFound, e.sourceTenant)
	}
	ch := Change{Kind: KindUser, ID: src.id, Cause: "ondemand"}
	var reports []Report
	var errs []error
	for _, t := range targets {
		rep := &Report{Target: t.name}
		state := "live"
		if src.user.Deleted {
			state = "soft-deleted"
		}
		rep.step("import", "read %s user %s (%s) with %d attributes", state, src.id, src.upn(), len(src.user.Attrs))
		trace := &directory.Trace{}
		act, err := e.syncTargetRetrying(directory.WithTrace(ctx, trace), t, src, ch, rep)
		if err != nil {
			rep.step("error", "%v", err)
			errs = append(errs, fmt.Errorf("%s: %w", t.name, err))
		}
		if err := e.syncMemberGroups(ctx, t, src, ch, act, rep); err != nil {
			rep.step("error", "%v", err)
			errs = append(errs, fmt.Errorf("%s: %w", t.name, err))
		}
		rep.Action = act
		reports = append(reports, *rep)
	}
	return reports, errors.Join(errs...)
}
