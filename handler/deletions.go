package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/operator"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/statuspage"
)

func newDeletionsCmd(env settings.Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deletions",
		Short: "List or approve the deprovisions the deletion guard holds back",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageError(errors.New("give a subcommand: deletions list or deletions approve"))
		},
	}
	cmd.AddCommand(newDeletionsListCmd(env), newDeletionsApproveCmd(env))
	return cmd
}

func newDeletionsListCmd(env settings.Env) *cobra.Command {
	var (
		out    commonFlags
		target string
	)
	cmd := &cobra.Command{
		Use:   "list [--target NAME]",
		Short: "List the staged deletions, by target",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := loadConfig(cmd, env, &out)
			if err != nil {
				return err
			}
			names, err := targetNames(cfg, target)
			if err != nil {
				return err
			}
			st, _, err := openStoreForReading(cmd.Context(), env, out.logger(cmd))
			if err != nil {
				return err
			}
			defer st.Close()
			list := []statuspage.Deletion{}
			for _, name := range names {
				ds, err := st.ListDeletions(cmd.Context(), name)
				if err != nil {
					return fmt.Errorf("list the staged deletions of %s: %w", name, err)
				}
				for _, d := range ds {
					list = append(list, statuspage.DeletionOf(d))
				}
			}
			// By target in the config's order, oldest first within one: the
			// one that expires first is the one to decide on first.
			slices.SortStableFunc(list, func(a, b statuspage.Deletion) int {
				if d := slices.Index(names, a.Target) - slices.Index(names, b.Target); d != 0 {
					return d
				}
				return a.StagedAt.Compare(b.StagedAt)
			})
			return out.write(cmd, map[string]any{"deletions": list}, func(w io.Writer) error {
				return operator.WriteDeletions(w, time.Now(), list)
			})
		},
	}
	out.register(cmd)
	cmd.Flags().StringVar(&target, "target", "", "this target only")
	return cmd
}

// approveResult is what `deletions approve --json` prints.
type approveResult struct {
	Target  string          `json:"target"`
	Actions []engine.Action `json:"actions"`
}

func newDeletionsApproveCmd(env settings.Env) *cobra.Command {
	var (
		out    commonFlags
		target string
		all    bool
	)
	cmd := &cobra.Command{
		Use:   "approve --target NAME (--all | SOURCE-ID…)",
		Short: "Approve staged deletions and carry them out now",
		Long: `Approve staged deprovisions of a target, by source user object id or all of
them, and carry them out now: exactly those named, and nothing if one of
the ids names no staged deletion. Each user is judged afresh first: one who
is back in scope is kept, and the staged deletion dropped. --all also ends
the deletion guard's hold on the target.`,
		RunE: func(cmd *cobra.Command, ids []string) error {
			switch {
			case target == "":
				return usageError(errors.New("--target is required"))
			case all && len(ids) > 0:
				return usageError(errors.New("give either --all or source ids, not both"))
			case !all && len(ids) == 0:
				return usageError(errors.New("give --all or the source ids of the deletions to approve (see deletions list)"))
			}
			a, err := openApp(cmd, env, &out, nil, target)
			if err != nil {
				return err
			}
			defer a.Close()
			var acts []engine.Action
			if all {
				acts, err = a.Engine.ApproveAllDeletions(cmd.Context(), target)
			} else {
				acts, err = a.Engine.ApproveDeletions(cmd.Context(), target, ids)
			}
			if acts == nil {
				acts = []engine.Action{}
			}
			werr := out.write(cmd, approveResult{Target: target, Actions: acts}, func(w io.Writer) error {
				if len(acts) == 0 {
					if err == nil {
						_, err := fmt.Fprintf(w, "No staged deletions in %s.\n", target)
						return err
					}
					return nil
				}
				return operator.WriteActions(w, acts)
			})
			switch {
			case err != nil && len(acts) > 0:
				return partialError(fmt.Errorf("approve deletions in %s: %w", target, err))
			case err != nil:
				return fmt.Errorf("approve deletions in %s: %w", target, err)
			}
			return werr
		},
	}
	out.registerGraph(cmd)
	cmd.Flags().StringVar(&target, "target", "", "the target (required)")
	cmd.Flags().BoolVar(&all, "all", false, "approve every staged deletion of the target")
	return cmd
}
