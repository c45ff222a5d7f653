package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/operator"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/store"
)

// resumeResult is what `resume --json` prints.
type resumeResult struct {
	Target string `json:"target"`
	// WasQuarantined says whether a quarantine was in force.
	WasQuarantined bool   `json:"wasQuarantined"`
	Reason         string `json:"reason,omitempty"`
}

func newResumeCmd(env settings.Env) *cobra.Command {
	var (
		out    commonFlags
		target string
	)
	cmd := &cobra.Command{
		Use:   "resume --target NAME",
		Short: "End a target's quarantine now",
		Long: `End a target's quarantine now, after fixing what caused it (a consent, a
permission, a policy), instead of waiting for it to run out. The next
quarantine starts again from 5 minutes, and the next reconcile runs a full
pass for the work the quarantine skipped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if target == "" {
				return usageError(errors.New("--target is required"))
			}
			a, err := openApp(cmd, env, &out, nil, target)
			if err != nil {
				return err
			}
			defer a.Close()
			res := resumeResult{Target: target}
			st, err := a.Store.GetStatus(cmd.Context(), target)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return fmt.Errorf("read the status of %s: %w", target, err)
			case st.QuarantineReason != "" && time.Now().Before(st.QuarantinedUntil):
				res.WasQuarantined, res.Reason = true, st.QuarantineReason
			}
			if err := a.Engine.Resume(cmd.Context(), target); err != nil {
				return err
			}
			return out.write(cmd, res, func(w io.Writer) error {
				if res.WasQuarantined {
					_, err := fmt.Fprintf(w, "Quarantine of %s ended (it was: %s). The next reconcile runs a full pass.\n", target, operator.Clean(res.Reason))
					return err
				}
				_, err := fmt.Fprintf(w, "%s was not quarantined.\n", target)
				return err
			})
		},
	}
	out.register(cmd)
	cmd.Flags().StringVar(&target, "target", "", "the target (required)")
	return cmd
}
