package main

import (
	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/operator"
	"github.com/tenantsync/tenantsync/internal/settings"
)

func newPlanCmd(env settings.Env) *cobra.Command {
	var (
		out    commonFlags
		target string
	)
	cmd := &cobra.Command{
		Use:   "plan [--target NAME]",
		Short: "Show what a full reconcile would do, writing nothing",
		Long: `A dry run of a full reconcile: for each target, the users it would create,
update (each attribute old → new), disable, deprovision, restore or skip
(with the reason), and the deprovisions the deletion guard would hold
back. It reads both tenants and the store and writes to none of them.

The text streams, as a plan of a large tenant takes minutes: its first
line at once, what has been read so far on stderr while both tenants are
read, then each target's actions as they are decided, in the order the
source lists its users (deprovisions last: the guard's burst rule needs
the whole target), then the target's summary counts, conflicts, drift and
skips.

Each target's summary counts its users once each, in the words reconcile
counts them with (create, update, disable, deprovision, restore, held,
conflict, skip, drift, failed): the same changes give the same numbers in
both. A deprovision counts as what it will be once the deletion guard's
settle delay is over (deprovision, or held), as reconcile waits for it.

--json prints {"targets":[{"name","actions":[…],"held":[…]}],"counts":{…}},
each action {"action","sourceId","userPrincipalName","targetId","reason",
"changes"}, and counts as reconcile --json's actions.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log := out.logger(cmd)
			st, _, err := openStoreForReading(cmd.Context(), env, log)
			if err != nil {
				return err
			}
			defer st.Close()
			a, err := openApp(cmd, env, &out, st, target)
			if err != nil {
				return err
			}
			defer a.Close()
			opts := engine.PlanOptions{}
			names := a.Engine.Targets()
			if target != "" {
				opts.Targets, names = []string{target}, []string{target}
			}
			if out.json {
				p, err := a.Engine.PlanWith(cmd.Context(), opts)
				if err != nil {
					return err
				}
				js := operator.PlanJSON{Plan: p, Counts: operator.CountPlan(p.Targets...)}
				return out.write(cmd, js, nil)
			}
			// The text streams: its first line at once, then what is read,
			// then each action as it is decided.
			stderr := cmd.ErrOrStderr()
			stream := operator.NewPlanStream(cmd.OutOrStdout(), stderr, isTerminal(stderr), names)
			streamOpts := stream.Options()
			streamOpts.Targets = opts.Targets
			p, err := a.Engine.PlanWith(cmd.Context(), streamOpts)
			if ferr := stream.Finish(p); err == nil {
				err = ferr
			}
			return err
		},
	}
	out.registerGraph(cmd)
	cmd.Flags().StringVar(&target, "target", "", "plan this target only")
	return cmd
}
