package operator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
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
	// tenantsync from working (a permission only the check needs), or found
	// something that does not stop it but should be put right (a permission
	// granted beyond what tenantsync needs).
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

// GrantProbe reads the application permissions granted to the app in a
// tenant; *graph.Client implements it (see graph.Client.GrantedPermissions).
type GrantProbe interface {
	GrantedPermissions(ctx context.Context, appID string) (graph.Grant, error)
}

// SourceProbe is what the online checks read from the source tenant;
// *graph.Client implements it.
type SourceProbe interface {
	GrantProbe
	CanReadUsers(ctx context.Context) error
	CanReadGroups(ctx context.Context) error
	FindGroups(ctx context.Context, idOrName string) ([]directory.Group, error)
	ListSubscriptions(ctx context.Context) ([]subscriptions.GraphSubscription, error)
}

// TargetProbe is what the online checks read from a target tenant;
// *graph.Client implements it.
type TargetProbe interface {
	GrantProbe
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
	// AppID is the application (client) id whose grant is listed when the
	// token does not carry it; "" when there is none (Azure CLI).
	AppID string
	// Groups are the target's scoping groups as configured.
	Groups []string
	// ProvisionsGroups says that group provisioning is configured for the
	// target: it then needs the permissions of targetGroupNeeds too.
	ProvisionsGroups bool
}

// needs returns the permissions tenantsync needs in the target.
func (t OnlineTarget) needs() []need {
	if t.ProvisionsGroups {
		return append(targetNeeds(), targetGroupNeeds()...)
	}
	return targetNeeds()
}

// OnlineOptions are the tenants CheckOnline reads.
type OnlineOptions struct {
	Source    SourceProbe
	SourceErr error
	// SourceAppID is the source's OnlineTarget.AppID.
	SourceAppID string
	Targets     []OnlineTarget
	// NotificationURL is TENANTSYNC_WEBHOOK_URL, if set.
	NotificationURL string
}

// CheckOnline runs the read-only checks of every tenant: the source can
// read users and groups, holds exactly the application permissions
// tenantsync needs there, resolves every scoping group to exactly one
// group, and can list its subscriptions; each target can read users, holds
// exactly the permissions tenantsync needs there and lets guests be invited.
// Once a tenant's first check fails, its other checks are skipped: they
// would fail the same way, slowly. The permission checks run only when the
// tenant answered that first read: when it refused it (403) they come first,
// to say which permission is missing; when it could not be reached or the
// app could not sign in (401), they would say nothing more and are left out.
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
			// Refused, the grant says why: first, so that the first failure
			// names the missing permission.
			if refused(err) {
				checks = append(checks, permissionChecks(ctx, "source", opts.Source, opts.SourceAppID, sourceNeeds())...)
			}
			add("source", "read users", CheckFail, errText(err))
			add("source", "read groups", CheckSkip, "skipped: the source could not be read")
			add("source", "scoping groups", CheckSkip, "skipped: the source could not be read")
			add("source", "list subscriptions", CheckSkip, "skipped: the source could not be read")
			break
		}
		add("source", "read users", CheckOK, "can read users")
		checks = append(checks, permissionChecks(ctx, "source", opts.Source, opts.SourceAppID, sourceNeeds())...)
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
			if refused(err) {
				checks = append(checks, permissionChecks(ctx, t.Name, t.Probe, t.AppID, t.needs())...)
			}
			add(t.Name, "read users", CheckFail, errText(err))
			add(t.Name, "guest invitations", CheckSkip, "skipped: the target could not be read")
			continue
		}
		add(t.Name, "read users", CheckOK, "can read users")
		checks = append(checks, permissionChecks(ctx, t.Name, t.Probe, t.AppID, t.needs())...)
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

// need is an application permission tenantsync needs in a tenant, and what
// fails without it given the rest of the grant: a broader permission may
// still let part of the work through.
type need struct {
	permission string
	without    func(g graph.Grant) string
}

// sourceNeeds are the permissions tenantsync needs in the source, and no
// more: it only reads there.
func sourceNeeds() []need {
	return []need{{
		permission: graph.UserReadAll,
		// user-list, user-delta and, for /users, subscription-post-subscriptions
		// list User.Read.All as the least privileged application permission:
		// https://learn.microsoft.com/graph/api/user-delta#permissions
		// https://learn.microsoft.com/graph/api/subscription-post-subscriptions#permissions
		without: func(graph.Grant) string {
			return "reading source users fails (GET /users, users delta), and so does subscribing to /users change notifications: nothing is synced"
		},
	}, {
		permission: graph.GroupReadAll,
		// A subscription to /groups needs Group.Read.All; GroupMember.Read.All
		// reads groups and members (group-list, group-delta,
		// group-list-transitivemembers, and with User.Read.All
		// user-checkmembergroups) but is not enough to subscribe:
		// https://learn.microsoft.com/graph/api/subscription-post-subscriptions#permissions
		// https://learn.microsoft.com/graph/api/group-delta#permissions
		without: func(g graph.Grant) string {
			if g.Has(graph.GroupMemberReadAll) {
				return "subscribing to /groups change notifications fails; group changes then arrive only with the reconcile timer"
			}
			return "reading the scoping groups and their members fails (groups delta, transitive members, checkMemberGroups), and so does subscribing to /groups change notifications: targets scoped by group are not synced"
		},
	}}
}

// targetNeeds are the permissions tenantsync needs in each target.
// User.ReadWrite.All reads users too, so no read permission is needed.
func targetNeeds() []need {
	return []need{{
		permission: graph.UserInviteAll,
		// The least privileged permission for POST /invitations;
		// User.ReadWrite.All is listed as a higher privileged one:
		// https://learn.microsoft.com/graph/api/invitation-post#permissions
		without: func(g graph.Grant) string {
			if g.Has(graph.UserReadWriteAll) {
				return "invitations (POST /invitations) then work only through User.ReadWrite.All, which Graph lists as the higher privileged permission for them; grant User.Invite.All, which the consent URL asks for"
			}
			return "creating B2B users fails (POST /invitations): nobody new is synced"
		},
	}, {
		permission: graph.UserReadWriteAll,
		// https://learn.microsoft.com/graph/api/user-update#permissions
		// https://learn.microsoft.com/graph/api/user-delete#permissions
		// https://learn.microsoft.com/graph/api/directory-deleteditems-restore#permissions
		// https://learn.microsoft.com/graph/api/user-list#permissions
		without: func(graph.Grant) string {
			return "reading target users to match them fails (GET /users), and so does every update, disable, delete and restore (PATCH and DELETE /users/{id}, restoring deleted users): synced users are never kept in step"
		},
	}}
}

// targetGroupNeeds are the permissions tenantsync needs in a target besides
// targetNeeds when group provisioning is configured for it (issue 15), and
// only then.
func targetGroupNeeds() []need {
	return []need{{
		permission: graph.GroupReadWriteAll,
		// Creating lists Group.Create and membership GroupMember.ReadWrite.All,
		// but renaming lists Group.ReadWrite.All (or Directory.ReadWrite.All),
		// and deleting and restoring a group Group.ReadWrite.All alone: it is
		// the least that covers them all, and it covers the others.
		// https://learn.microsoft.com/graph/api/group-post-groups#permissions
		// https://learn.microsoft.com/graph/api/group-update#permissions
		// https://learn.microsoft.com/graph/api/group-post-members#permissions
		// https://learn.microsoft.com/graph/api/group-delete#permissions
		// https://learn.microsoft.com/graph/api/directory-deleteditems-restore#permissions
		without: func(graph.Grant) string {
			return "provisioning groups fails: creating, renaming, deleting and restoring the target's security groups (POST, PATCH and DELETE /groups) and keeping their members"
		},
	}}
}

// NeededGroupPermissions returns the names of the Microsoft Graph
// application permissions a target needs when group provisioning is
// configured for it, besides those of NeededPermissions.
func NeededGroupPermissions() []string {
	var out []string
	for _, n := range targetGroupNeeds() {
		out = append(out, n.permission)
	}
	return out
}

// NeededPermissions returns the names of the Microsoft Graph application
// permissions tenantsync needs in the source and in each target: what
// validate --online holds each tenant to, and what the deployment grants
// (internal/devtools/deploycheck holds infra/ to them).
func NeededPermissions() (source, targets []string) {
	for _, n := range sourceNeeds() {
		source = append(source, n.permission)
	}
	for _, n := range targetNeeds() {
		targets = append(targets, n.permission)
	}
	return source, targets
}

// permissionChecks compares the application permissions granted in a
// tenant with those tenantsync needs there: one failed check per missing
// permission, naming it and what fails without it, and a warning for every
// permission beyond them (least privilege).
func permissionChecks(ctx context.Context, tenant string, p GrantProbe, appID string, needs []need) []Check {
	check := func(name, result, detail string) Check {
		return Check{Tenant: tenant, Check: name, Result: result, Detail: detail}
	}
	g, err := p.GrantedPermissions(ctx, appID)
	var unreadable *graph.GrantUnreadableError
	switch {
	case errors.As(err, &unreadable):
		return []Check{check("permissions", CheckWarn, "not checked: "+unreadable.Reason)}
	case refused(err):
		// serviceprincipal-list-approleassignments needs Application.Read.All
		// or higher: https://learn.microsoft.com/graph/api/serviceprincipal-list-approleassignments#permissions
		return []Check{check("permissions", CheckWarn, "not checked: without an app token to read them from, listing the app's grant "+
			"(GET /servicePrincipals(appId=…)/appRoleAssignments) needs Application.Read.All, which syncing does not ("+errText(err)+")")}
	case errors.Is(err, directory.ErrNotFound):
		return []Check{check("permissions", CheckFail, fmt.Sprintf("app %s has no service principal in %s: it is not consented there (%s)", appID, tenant, errText(err)))}
	case err != nil:
		return []Check{check("permissions", CheckFail, errText(err))}
	}

	var out []Check
	wanted := map[string]bool{}
	var granted []string
	for _, n := range needs {
		wanted[strings.ToLower(n.permission)] = true
		if !g.Has(n.permission) {
			out = append(out, check("permission "+n.permission, CheckFail,
				fmt.Sprintf("%s missing in %s: %s", n.permission, tenant, n.without(g))))
			continue
		}
		granted = append(granted, n.permission)
	}
	if len(out) == 0 {
		out = append(out, check("permissions", CheckOK, "granted: "+strings.Join(granted, ", ")+" (read from "+g.From+")"))
	}
	var extra []string
	for _, name := range g.Permissions {
		if !wanted[strings.ToLower(name)] {
			extra = append(extra, name)
		}
	}
	extra = append(extra, g.Unknown...)
	if len(extra) > 0 {
		out = append(out, check("extra permissions", CheckWarn,
			"granted beyond what tenantsync needs in "+tenant+": "+strings.Join(extra, ", ")+"; least privilege: revoke them"))
	}
	return out
}

// refused reports whether err is Graph refusing the app (403), as opposed
// to the app failing to sign in (401) or to reach Graph: only a refusal is
// explained by the grant.
func refused(err error) bool {
	var de *directory.Error
	return errors.As(err, &de) && de.Status == http.StatusForbidden
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
