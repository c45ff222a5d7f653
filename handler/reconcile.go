package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/operator"
	"github.com/tenantsync/tenantsync/internal/settings"
)

func newReconcileCmd(env settings.Env) *cobra.Command {
	var (
		out     commonFlags
		full    bool
		workers int
	)
	cmd := &cobra.Command{
		Use:   "reconcile [--full] [--workers N]",
		Short: "Catch up with the source now and sync what changed",
		Long: `Run a reconcile now and sync every change it finds at once, on --workers
workers: from the stored delta watermarks, or a full pass that compares
everything (with --full, or when there is no watermark yet, a delta token
expired or the last full pass is a day old).

A progress bar shows on a terminal, a plain progress line every few seconds
otherwise, and a summary at the end: the changes by action, the errors and
the time taken. When a change fails in a way a retry may fix, the watermark
stays where it was and the command fails: run it again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if workers < 1 || workers > operator.MaxWorkers {
				return fmt.Errorf("--workers %d: want 1 to %d", workers, operator.MaxWorkers)
			}
			a, err := openApp(cmd, env, &out, nil, "")
			if err != nil {
				return err
			}
			defer a.Close()
			opts := operator.ReconcileOptions{Full: full, Workers: workers}
			if !out.json {
				w := cmd.OutOrStdout()
				opts.Progress = operator.NewProgress(w, isTerminal(w), 0)
			}
			sum, err := operator.Reconcile(cmd.Context(), a.Engine, opts)
			if werr := out.write(cmd, sum, func(w io.Writer) error { return operator.WriteReconcileSummary(w, sum) }); werr != nil && err == nil {
				err = werr
			}
			if err != nil {
				return fmt.Errorf("reconcile: %w", err)
			}
			if sum.Failed > 0 {
				return fmt.Errorf("reconcile: %d of %d changes failed for good (see above; the targets' logs have them too)", sum.Failed, sum.Synced)
			}
			return nil
		},
	}
	out.registerGraph(cmd)
	cmd.Flags().BoolVar(&full, "full", false, "run a full pass")
	cmd.Flags().IntVar(&workers, "workers", operator.DefaultWorkers, "changes synced at once")
	return cmd
}
