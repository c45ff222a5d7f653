package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/devtools/bench"
)

// newBenchCmd is `make bench`: the benchmarks of docs/performance.md. It is
// hidden because it is a development tool, not an operator command.
func newBenchCmd() *cobra.Command {
	var o bench.Options
	cmd := &cobra.Command{
		Use:    "bench",
		Hidden: true,
		Short:  "Measure tenantsync against the simulator throttled like Graph (make bench)",
		Long: `Run the benchmarks of docs/performance.md: an initial sync into one and into
three targets, steady-state changes through notifications, an idle reconcile,
the naive scripts' approach for comparison, security groups and their
memberships (on a pre-linked world), and the cold start. The simulator
runs in this process, throttled like Graph's identity limits refilled N times
as fast (--throttle xN); tenantsync runs as "handler local" in a child process,
this same binary. Prints a table and writes DIR/results.json.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find this binary: %w", err)
			}
			o.Command, o.Environ = []string{exe}, os.Environ()
			o.Out, o.Progress = cmd.OutOrStdout(), cmd.ErrOrStderr()
			_, err = bench.Run(cmd.Context(), o)
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Users, "users", 10000, "source users, all in scope")
	f.StringVar(&o.Throttle, "throttle", bench.DefaultThrottle, "simulator throttling: real, or xN for Graph's limits refilled N times as fast")
	f.IntVar(&o.Sessions, "sessions", 16, "users tenantsync syncs at once")
	f.IntVar(&o.Changes, "changes", 1000, "steady-state changes")
	f.Float64Var(&o.ChangeRate, "change-rate", 20, "steady-state changes per second")
	f.IntVar(&o.ColdStarts, "cold-starts", 5, "cold starts to time")
	f.IntVar(&o.Groups, "groups", 50, "source groups the groups phase syncs, of users/groups members each")
	f.IntVar(&o.GroupChanges, "group-changes", 200, "membership changes the groups phase makes after its initial sync")
	f.Float64Var(&o.GroupChangeRate, "group-change-rate", 10, "membership changes per second")
	f.StringSliceVar(&o.Phases, "phases", nil, "phases to run (default all but scale and initialSlice): initialSync, steady, idle, naive, initialSync3, groups, coldStart, scale, initialSlice")
	f.DurationVar(&o.SliceDuration, "slice", bench.DefaultSliceDuration, "how long the initialSlice phase syncs")
	f.IntVar(&o.SliceCrashes, "slice-crashes", 2, "times the initialSlice phase kills tenantsync (SIGKILL) and restarts it; -1 for none")
	f.StringVar(&o.Dir, "dir", ".bench", "directory for results.json, state and logs")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of the generated tenant and the changes")
	cmd.AddCommand(newBenchMeasureCmd())
	return cmd
}

// newBenchMeasureCmd is the child side of the scale phase: one pass over a
// seeded world, in a process of its own so that its heap is measured alone.
func newBenchMeasureCmd() *cobra.Command {
	var o bench.MeasureOptions
	cmd := &cobra.Command{
		Use:    "measure",
		Hidden: true,
		Short:  "Run one pass (full, delta, plan, status) and print what it cost, as JSON",
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Out = cmd.OutOrStdout()
			return bench.MeasurePass(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Pass, "pass", "", "full, delta, plan or status")
	f.StringVar(&o.Config, "config", "", "config file")
	f.StringVar(&o.State, "state", "", "embedded store file")
	f.IntVar(&o.StatusReads, "status-reads", 50, "status reads to time")
	return cmd
}
