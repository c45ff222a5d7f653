package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/devtools/chaos"
)

// newChaosCmd is `make chaos`: the convergence and chaos suite of
// docs/reliability.md. It is hidden because it is a development tool, not
// an operator command.
func newChaosCmd() *cobra.Command {
	var (
		o      chaos.Options
		asJSON bool
		quiet  bool
	)
	cmd := &cobra.Command{
		Use:    "chaos",
		Hidden: true,
		Short:  "Prove convergence under a random workload with faults and crashes (make chaos)",
		Long: `Run the convergence and chaos suite of docs/reliability.md: this binary runs
as "handler local" in a child process against the Graph simulator, while a
seeded random workload changes the source tenant and faults are injected
(lost, duplicated, reordered and delayed notifications, Graph 429/503/504,
replication lag, SIGKILLs of the runner, expired and reset delta tokens,
vanished subscriptions, permissions taken away), target administrators
disable synced users and make some of them administrators, look-alike
guests hold source users' addresses, and bursts of removals and disables
exceed one target's deletion guard. After each round an oracle that shares
no code with the engine checks the targets, that every burst was held
whole, and that no one was invited twice or deprovisioned wrongly.
Exits 1 when they did not converge; the report names the seed to replay.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find this binary: %w", err)
			}
			o.Handler, o.Environ = exe, os.Environ()
			if !quiet {
				o.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			}
			rep, err := chaos.Run(cmd.Context(), o)
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if e := enc.Encode(rep); e != nil {
					return fmt.Errorf("write the report: %w", e)
				}
			} else if e := rep.WriteText(out); e != nil {
				return fmt.Errorf("write the report: %w", e)
			}
			switch {
			case err != nil:
				return fmt.Errorf("the chaos run could not be carried out (seed %d): %w", rep.Seed, err)
			case !rep.Pass:
				return fmt.Errorf("the targets did not converge: replay with --seed %d", rep.Seed)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Uint64Var(&o.Seed, "seed", 0, "seed of the workload and the fault plan (0: a random one, printed)")
	f.IntVar(&o.Users, "users", 300, "users of the generated source tenant")
	f.IntVar(&o.Operations, "ops", 20000, "workload operations in all")
	f.IntVar(&o.Rounds, "rounds", 5, "rounds of chaos, each followed by settling and the oracle")
	f.Float64Var(&o.Rate, "rate", 25, "workload operations per second")
	f.StringVar(&o.WorkDir, "work-dir", "", "directory for the runner's config, state and log (default: a temporary one, kept on failure)")
	f.BoolVar(&o.Keep, "keep", false, "keep the temporary work directory")
	f.DurationVar(&o.ReconcileEvery, "reconcile-every", 5*time.Second, "the runner's ReconcileSchedule period")
	f.DurationVar(&o.SettleTimeout, "settle-timeout", 5*time.Minute, "longest wait for convergence per round")
	f.DurationVar(&o.QuietTimeout, "quiet-timeout", 8*time.Minute, "longest wait for scheduled retries after convergence")
	f.IntVar(&o.CrashEvery, "crash-every", 100, "one random SIGKILL per this many operations, on average")
	f.IntVar(&o.TrapEvery, "trap-every", 120, "one crash between a target write and the link write per this many operations, on average")
	f.IntVar(&o.EpisodeEvery, "episode-every", 60, "operations between changes of the fault settings")
	f.IntVar(&o.ClockEvery, "clock-every", 6000, "operations between 8-day jumps of the simulator's clock (expired delta tokens)")
	f.IntVar(&o.VanishEvery, "vanish-every", 2500, "operations between vanished subscriptions")
	f.IntVar(&o.BurstEvery, "burst-every", 1000, "operations between bursts over the guard target's threshold (mass scope removals and mass disables in turn)")
	f.IntVar(&o.AdminDisableEvery, "admin-disable-every", 700, "operations between target administrators disabling a synced user")
	f.IntVar(&o.PrivilegeEvery, "privilege-every", 1200, "operations between synced users becoming administrators of their target")
	f.IntVar(&o.DeltaResetEvery, "delta-reset-every", 1500, "operations between delta token resets of the source (410 and 400 in turn)")
	f.IntVar(&o.PermissionEvery, "permission-every", 4000, "operations between episodes in which a target loses permissions (0: never; each costs a quarantine of 5 minutes or more)")
	f.IntVar(&o.PermissionOps, "permission-ops", 200, "operations a permission episode lasts")
	f.StringSliceVar(&o.Revocations, "permission-episodes", []string{"readWriteRevoked", "inviteRevoked", "writeRevoked"},
		"the kinds of permission episode, in turn: readWriteRevoked (the deployed grant without User.ReadWrite.All), inviteRevoked (without User.Invite.All), writeRevoked (every permission to invite and write users taken away, reading left)")
	f.DurationVar(&o.GuardDelay, "guard-delay", 30*time.Second, "the guard target's settle delay")
	f.DurationVar(&o.MaxLag, "max-lag", 2*time.Second, "longest replication lag of a tenant (each is drawn from 300ms up to it; negative: none)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&quiet, "quiet", false, "no progress on stderr")
	return cmd
}
