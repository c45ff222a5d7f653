package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/graph"
	"github.com/tenantsync/tenantsync/internal/operator"
	"github.com/tenantsync/tenantsync/internal/settings"
)

func newValidateCmd(env settings.Env) *cobra.Command {
	var (
		out    commonFlags
		online bool
	)
	cmd := &cobra.Command{
		Use:   "validate [--online]",
		Short: "Check the config, and with --online what each tenant lets tenantsync do",
		Long: `Check the config and list every problem with its path and line. Offline,
what every sync would fail on is found too: a mapping's target that Graph
cannot write, a source attribute or an attribute in an expression that Graph's
user resource does not have (with the column and the likely meant name), an
argument of the wrong type (Left([jobTitle], "abc")), and a regular expression
(REGEX MATCH, Replace) using .NET syntax that Go's RE2 does not support, with
how to rewrite it. A config that does not validate exits with code 2.

With --online, also read each tenant, writing nothing: the source can read
users and groups, resolves every scoping group and can list subscriptions;
each target can read users and lets guests be invited (its authorization
policy's allowInvitesFrom). In every tenant, the Microsoft Graph application
permissions granted to the app are compared with what tenantsync needs there
(source: User.Read.All and Group.Read.All; targets: User.Invite.All and
User.ReadWrite.All): each missing one fails, naming what fails without it,
and each one beyond them is a warning. They are read from the app's access
token, or without one (the simulator) from the app's appRoleAssignments,
which needs Application.Read.All. Whether Graph can reach the notification
URL is not checked: Graph validates it when a subscription is created.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, src, err := loadConfig(cmd, env, &out)
			if err != nil {
				return err
			}
			rep := configReport{Config: src, Valid: true, Problems: []configProblem{}}
			if online {
				rep.Checks = operator.CheckOnline(cmd.Context(), onlineOptions(cmd, env, &out, cfg))
			}
			err = out.write(cmd, rep, func(w io.Writer) error {
				names := make([]string, len(cfg.Targets))
				for i, t := range cfg.Targets {
					names[i] = t.Name
				}
				fmt.Fprintf(w, "%s is valid: source %s, %s (%s).\n", src, cfg.Source.Tenant, plural(len(names), "target", "targets"), strings.Join(names, ", "))
				if !online {
					return nil
				}
				fmt.Fprintln(w)
				return operator.WriteChecks(w, rep.Checks)
			})
			if err != nil {
				return err
			}
			if failed := operator.FailedChecks(rep.Checks); len(failed) > 0 {
				f := failed[0]
				return tenantError(fmt.Errorf("%d of %s failed; first: %s %s: %s", len(failed), plural(len(rep.Checks), "check", "checks"), f.Tenant, f.Check, f.Detail))
			}
			return nil
		},
	}
	out.registerGraph(cmd)
	cmd.Flags().BoolVar(&online, "online", false, "also check each tenant (read-only)")
	return cmd
}

// onlineOptions connects a read-only Graph client to every tenant. A tenant
// whose credential cannot be built becomes a failed check, not an error:
// the others are still worth checking.
func onlineOptions(cmd *cobra.Command, env settings.Env, out *commonFlags, cfg *config.Config) operator.OnlineOptions {
	connect := func(t config.Tenant) (*graph.Client, error) {
		cred, err := graph.NewCredential(app.WithGraphIdentity(env, t), graph.CredentialOptions{Getenv: env.Var})
		if err != nil {
			return nil, err
		}
		return graph.New(cmd.Context(), graph.Options{BaseURL: t.Graph, Credential: cred, MaxRetries: graph.DefaultMaxRetries,
			Logger: out.logger(cmd).With("tenant", t.Tenant)})
	}
	opts := operator.OnlineOptions{NotificationURL: env.Get(settings.WebhookURL), SourceAppID: grantAppID(cfg.Source)}
	if c, err := connect(cfg.Source); err != nil {
		opts.SourceErr = err
	} else {
		opts.Source = c
	}
	for _, t := range cfg.Targets {
		ot := operator.OnlineTarget{Name: t.Name, Groups: t.Scope.Groups, AppID: grantAppID(t.Tenant), ProvisionsGroups: t.Groups.Enabled()}
		if t.Scope.All {
			ot.Groups = nil
		}
		if c, err := connect(t.Tenant); err != nil {
			ot.ProbeErr = err
		} else {
			ot.Probe = c
		}
		opts.Targets = append(opts.Targets, ot)
	}
	return opts
}

// simulatorAppID stands in for the client id that auth method none does
// not have: none reaches only the simulator, where
// servicePrincipals(appId='…') names the tenantsync app whatever the id
// (docs/simulator.md, "Listing the grant the way Graph does").
const simulatorAppID = "00000000-0000-0000-0000-000000000000"

// grantAppID is the application (client) id whose app role assignments
// validate --online lists when the access token does not carry the grant:
// the configured clientId, none for the Azure CLI (a user's token; the
// check then says it cannot tell), the stand-in for the simulator.
func grantAppID(t config.Tenant) string {
	if t.Auth.Method == config.AuthNone {
		return simulatorAppID
	}
	return t.Auth.ClientID
}
