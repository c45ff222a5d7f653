package operator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/graph"
	"github.com/tenantsync/tenantsync/internal/subscriptions"
)

// Results of a check.
const (
	CheckOK   = "ok"
	CheckFail = "fail"
	// CheckWarn: the check could not tell, for a reason that does not stop
	// tenantsync from working (a permission only the check needs).
	CheckWarn = "warn"
	// CheckSkip: the check was not run.
	CheckSkip = "skip"
)

// Check is the outcome of one online check.
type Check struct {
	// Tenant is "source" or a target's name.
	Tenant string `json:"tenant"`
	Check  string `json:"check"`
	Result string `json:"result"`
	Detail string `json:"detail"`
}

// SourceProbe is what the online checks read from the source tenant;
// *graph.Client implements it.
type SourceProbe interface {
	CanReadUsers(ctx context.Context) error
	CanReadGroups(ctx context.Context) error
	FindGroups(ctx context.Context, idOrName string) ([]directory.Group, error)
	ListSubscriptions(ctx context.Context) ([]subscriptions.GraphSubscription, error)
}

// TargetProbe is what the online checks read from a target tenant;
// *graph.Client implements it.
type TargetProbe interface {
	CanReadUsers(ctx context.Context) error
	AuthorizationPolicy(ctx context.Context) (graph.AuthorizationPolicy, error)
}

var (
	_ SourceProbe = (*graph.Client)(nil)
	_ TargetProbe = (*graph.Client)(nil)
)

// OnlineTarget is one target to check. A nil Probe means its client could
// not be built; ProbeErr says why.
type OnlineTarget struct {
	Name     string
	Probe    TargetProbe
	ProbeErr error
	// Groups are the target's scoping groups as configured.
	Groups []string
}

// OnlineOptions are the tenants CheckOnline reads.
type OnlineOptions struct {
	Source    SourceProbe
	SourceErr error
	Targets   []OnlineTarget
	// NotificationURL is TENANTSYNC_WEBHOOK_URL, if set.
	NotificationURL string
}

// CheckOnline runs the read-only checks of every tenant: the source can
// read users and groups, resolves every scoping group to exactly one group,
// and can list its subscriptions; each target can read users and lets
// guests be invited. Once a tenant's first check fails, its other checks
// are skipped: they would fail the same way, slowly.
func CheckOnline(ctx context.Context, opts OnlineOptions) []Check {
	var checks []Check
	add := func(tenant, name, result, detail string) {
		checks = append(checks, Check{Tenant: tenant, Check: name, Result: result, Detail: detail})
	}

	// Source.
	switch {
	case opts.Source == nil:
		add("source", "credential", CheckFail, errText(opts.SourceErr))
	default:
		if err := opts.Source.CanReadUsers(ctx); err != nil {
			add("source", "read users", CheckFail, errText(err))
			add("source", "read groups", CheckSkip, "skipped: the source could not be read")
			add("source", "scoping groups", CheckSkip, "skipped: the source could not be read")
			add("source", "list subscriptions", CheckSkip, "skipped: the source could not be read")
			break
		}
		add("source", "read users", CheckOK, "can read users")
		if err := opts.Source.CanReadGroups(ctx); err != nil {
			add("source", "read groups", CheckFail, errText(err))
		} else {
			add("source", "read groups", CheckOK, "can read groups")
		}
		result, detail := scopingGroups(ctx, opts.Source, opts.Targets)
		add("source", "scoping groups", result, detail)
		if subs, err := opts.Source.ListSubscriptions(ctx); err != nil {
			add("source", "list subscriptions", CheckFail, errText(err))
		} else {
			add("source", "list subscriptions", CheckOK, fmt.Sprintf("can list subscriptions (%d now)", len(subs)))
		}
	}
	if opts.NotificationURL == "" {
		add("source", "notification URL", CheckSkip, "not set (TENANTSYNC_WEBHOOK_URL): the reconcile timer alone keeps targets in step")
	} else {
		add("source", "notification URL", CheckSkip, "not checked: whether Graph can reach it is out of scope here; Graph validates it when a subscription is created")
	}

	// Targets.
	for _, t := range opts.Targets {
		if t.Probe == nil {
			add(t.Name, "credential", CheckFail, errText(t.ProbeErr))
			continue
		}
		if err := t.Probe.CanReadUsers(ctx); err != nil {
			add(t.Name, "read users", CheckFail, errText(err))
			add(t.Name, "guest invitations", CheckSkip, "skipped: the target could not be read")
			continue
		}
		add(t.Name, "read users", CheckOK, "can read users")
		p, err := t.Probe.AuthorizationPolicy(ctx)
		switch {
		case errors.Is(err, directory.ErrForbidden):
			add(t.Name, "guest invitations", CheckWarn, "not checked: reading the authorization policy needs Policy.Read.All, which syncing does not ("+errText(err)+")")
		case err != nil:
			add(t.Name, "guest invitations", CheckFail, errText(err))
		case p.InvitationsBlocked():
			add(t.Name, "guest invitations", CheckFail, "refused: the authorization policy's allowInvitesFrom is none, so every invitation fails")
		case p.AllowInvitesFrom == "":
			add(t.Name, "guest invitations", CheckWarn, "the authorization policy does not say who may invite")
		default:
			add(t.Name, "guest invitations", CheckOK, "allowed: allowInvitesFrom is "+p.AllowInvitesFrom+" (the app needs User.Invite.All)")
		}
	}
	return checks
}

// scopingGroups resolves every distinct scoping group of the targets.
func scopingGroups(ctx context.Context, src SourceProbe, targets []OnlineTarget) (string, string) {
	var names []string
	seen := map[string]bool{}
	for _, t := range targets {
		for _, g := range t.Groups {
			if !seen[g] {
				seen[g] = true
				names = append(names, g)
			}
		}
	}
	if len(names) == 0 {
		return CheckSkip, "no target scopes by group"
	}
	resolved := 0
	var problems []string
	for _, g := range names {
		found, err := src.FindGroups(ctx, g)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%q: %s", g, errText(err)))
		case len(found) == 0:
			problems = append(problems, fmt.Sprintf("%q: no group with this id or display name", g))
		case len(found) > 1:
			problems = append(problems, fmt.Sprintf("%q: %d groups have this name; configure it by object id", g, len(found)))
		default:
			resolved++
		}
	}
	detail := fmt.Sprintf("%d of %d resolve", resolved, len(names))
	if len(problems) > 0 {
		return CheckFail, detail + "; " + strings.Join(problems, "; ")
	}
	return CheckOK, detail
}

func errText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// FailedChecks returns the checks that failed.
func FailedChecks(checks []Check) []Check {
	var out []Check
	for _, c := range checks {
		if c.Result == CheckFail {
			out = append(out, c)
		}
	}
	return out
}

// WriteChecks writes the checks as a table.
func WriteChecks(w io.Writer, checks []Check) error {
	t := newTable(w, "TENANT", "CHECK", "RESULT", "DETAIL")
	for _, c := range checks {
		t.row(c.Tenant, c.Check, c.Result, c.Detail)
	}
	return t.flush()
}
