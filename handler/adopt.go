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
	)
	cmd := &cobra.Command{
		Use:   "adopt --target NAME --source-user ID|UPN --target-user ID",
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
user out of the target's scope.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
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
	return cmd
}
