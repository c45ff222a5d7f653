package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/operator"
	"github.com/tenantsync/tenantsync/internal/settings"
)

func newProvisionCmd(env settings.Env) *cobra.Command {
	var (
		out                 commonFlags
		user, group, target string
	)
	cmd := &cobra.Command{
		Use:   "provision (--user ID|UPN | --group ID|NAME) [--target NAME]",
		Short: "Sync one user now and show each step, like the portal's Provision on demand",
		Long: `Sync one source user now, into one target or all of them, and show each
step as the Entra portal's "Provision on demand" does: import from the
source, scope evaluation (which rule, which group), matching (link, anchor
or adoption), the action with its attribute changes, and the Graph request
ids behind it. This writes to the target like any sync.

With --group, sync one source group now into the targets that sync groups:
its security group in the target (created, renamed, or deleted through the
deletion guard when it is no longer synced) and its members (docs/groups.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			user, group = strings.TrimSpace(user), strings.TrimSpace(group)
			switch {
			case user != "" && group != "":
				return usageError(errors.New("give --user or --group, not both"))
			case user == "" && group == "":
				return usageError(errors.New("--user is required: a source user's object id or userPrincipalName (or --group: a source group's object id or display name)"))
			}
			a, err := openApp(cmd, env, &out, nil, target)
			if err != nil {
				return err
			}
			defer a.Close()
			if group != "" {
				// A group's reports: their Action is the group's, in a user's form.
				user = group
			}
			provision := a.Engine.Provision
			if group != "" {
				provision = a.Engine.ProvisionGroup
			}
			reports, err := provision(cmd.Context(), user, target)
			if len(reports) > 0 {
				res := operator.ProvisionResult{User: user, Reports: reports}
				if werr := out.write(cmd, res, func(w io.Writer) error { return operator.WriteReports(w, user, reports) }); werr != nil && err == nil {
					err = werr
				}
			}
			if err != nil {
				return fmt.Errorf("provision %s: %w", user, err)
			}
			return nil
		},
	}
	out.registerGraph(cmd)
	cmd.Flags().StringVar(&user, "user", "", "the source user: object id or userPrincipalName")
	cmd.Flags().StringVar(&group, "group", "", "a source group to sync instead of a user: object id or display name")
	cmd.Flags().StringVar(&target, "target", "", "this target only (default: every target)")
	return cmd
}
