package main

import (
	"errors"
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
		noWait  bool
	)
	cmd := &cobra.Command{
		Use:   "reconcile [--full] [--workers N] [--no-wait]",
		Short: "Catch up with the source now and sync what changed",
		Long: `Run a reconcile now and sync every change it finds at once, on --workers
workers: from the stored delta watermarks, or a full pass that compares
everything (with --full, or when there is no watermark yet, a delta token
expired or the last full pass is a day old).

A spinner with counts shows on a terminal (how many changes were found so
far and synced, and the rate in changes per second: the total is known only
at the end), a plain progress line every few seconds otherwise, and a
summary at the end: the users by outcome, each once per target, in the
words and the count plan uses; the errors; and the time taken. When a change
fails in a way a retry may fix, the watermark stays where it was and the
command fails with exit code 4 (3 when a tenant could not be reached): run
it again.

A deprovision (a delete, or a disable) waits out the deletion guard's
settle delay (deprovision.delay, 1 minute by default) before the guard
carries it out or, when more than the threshold are pending or recent,
holds every one of them for approval. The command waits for that and
reports the outcome; with --no-wait it leaves them pending, for the running
service or the next reconcile.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if workers < 1 || workers > operator.MaxWorkers {
				return usageErrorf("--workers %d: want 1 to %d", workers, operator.MaxWorkers)
			}
			a, err := openApp(cmd, env, &out, nil, "")
			if err != nil {
				return err
			}
			defer a.Close()
			opts := operator.ReconcileOptions{Full: full, Workers: workers, NoWait: noWait}
			if !out.json {
				w := cmd.OutOrStdout()
				opts.Progress = operator.NewProgress(w, isTerminal(w), 0)
				opts.Waiting = operator.WaitingLine(w)
			}
			sum, err := operator.Reconcile(cmd.Context(), a.Engine, opts)
			if werr := out.write(cmd, sum, func(w io.Writer) error { return operator.WriteReconcileSummary(w, sum) }); werr != nil && err == nil {
				err = werr
			}
			switch {
			case errors.Is(err, operator.ErrRetryLater):
				return partialError(fmt.Errorf("reconcile: %w", err))
			case err != nil:
				return fmt.Errorf("reconcile: %w", err)
			case sum.Failed > 0:
				return partialError(fmt.Errorf("reconcile: %d of %s failed for good (see above; handler log --failed lists them too)",
					sum.Failed, plural(sum.Synced, "change", "changes")))
			}
			return nil
		},
	}
	out.registerGraph(cmd)
	cmd.Flags().BoolVar(&full, "full", false, "run a full pass")
	cmd.Flags().IntVar(&workers, "workers", operator.DefaultWorkers, "changes synced at once")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "leave deprovisions pending instead of waiting out the deletion guard's settle delay")
	return cmd
}
