package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/operator"
	"github.com/tenantsync/tenantsync/internal/settings"
)

// adoptResult is what `adopt --json` prints.
type adoptResult struct {
	Target string        `json:"target"`
	Action engine.Action `json:"action"`
}

func newAdoptCmd(env settings.Env) *cobra.Command {
	var (
		out                      commonFlags
		target, source, targetID string
		group, targetGroup       string
	)
	cmd := &cobra.Command{
		Use:   "adopt --target NAME (--source-user ID|UPN --target-user ID | --group ID|NAME --target-group ID)",
		Short: "Link a source user to an existing target user: resolve a conflict",
		Long: `Link a source user to a target user that already exists, on your word, and
sync it now (the anchor and the mapped attributes are written; userType is
left as it is unless a mapping applies it always).

tenantsync adopts an existing target user by itself only when it is provably
the source user: its anchor, an unredeemed invitation for the address, or a
guest who redeemed with the source tenant. Any other user with the address
(a guest who redeemed with a personal account, a one-time passcode or
another organization; an internal member) is a conflict, which plan and
status list: adopt is how you decide one. It refuses a target user that
carries another anchor or is linked to another source user, and a source
user out of the target's scope.

With --group and --target-group, link a synced source group to an existing
target group that has its name (a conflict plan lists) and sync it now. The
group's own members stay: tenantsync removes only members it added. An
adopted group is never deleted by tenantsync; when it is no longer synced,
tenantsync lets go of it (docs/groups.md). It refuses a target group that
carries another anchor or is linked to another source group.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if group != "" || targetGroup != "" {
				return adoptGroup(cmd, env, &out, target, group, targetGroup, source, targetID)
			}
			switch {
			case target == "":
				return usageError(errors.New("--target is required"))
			case source == "":
				return usageError(errors.New("--source-user is required"))
			case targetID == "":
				return usageError(errors.New("--target-user is required"))
			}
			a, err := openApp(cmd, env, &out, nil, target)
			if err != nil {
				return err
			}
			defer a.Close()
			act, err := a.Engine.Adopt(cmd.Context(), target, source, targetID)
			if err != nil && act.Op == "" {
				return err
			}
			werr := out.write(cmd, adoptResult{Target: target, Action: act}, func(w io.Writer) error {
				return operator.WriteActions(w, []engine.Action{act})
			})
			if err != nil {
				return fmt.Errorf("adopt in %s: %w", target, err)
			}
			return werr
		},
	}
	out.registerGraph(cmd)
	cmd.Flags().StringVar(&target, "target", "", "the target (required)")
	cmd.Flags().StringVar(&source, "source-user", "", "the source user: object id or userPrincipalName (required)")
	cmd.Flags().StringVar(&targetID, "target-user", "", "the target user's object id (required)")
	cmd.Flags().StringVar(&group, "group", "", "a synced source group to adopt a target group for: object id or display name")
	cmd.Flags().StringVar(&targetGroup, "target-group", "", "the target group's object id (with --group)")
	return cmd
}

// adoptGroup is `adopt --group`: an operator's decision on a group conflict.
func adoptGroup(cmd *cobra.Command, env settings.Env, out *commonFlags, target, group, targetGroup, source, targetID string) error {
	switch {
	case source != "" || targetID != "":
		return usageError(errors.New("--group and --target-group adopt a group; --source-user and --target-user a user: give one pair"))
	case target == "":
		return usageError(errors.New("--target is required"))
	case group == "":
		return usageError(errors.New("--group is required with --target-group"))
	case targetGroup == "":
		return usageError(errors.New("--target-group is required with --group"))
	}
	a, err := openApp(cmd, env, out, nil, target)
	if err != nil {
		return err
	}
	defer a.Close()
	ga, err := a.Engine.AdoptGroup(cmd.Context(), target, group, targetGroup)
	if err != nil && ga.Op == "" {
		return err
	}
	act := ga.AsAction()
	werr := out.write(cmd, adoptResult{Target: target, Action: act}, func(w io.Writer) error {
		return operator.WriteActions(w, []engine.Action{act})
	})
	if err != nil {
		return fmt.Errorf("adopt in %s: %w", target, err)
	}
	return werr
}
