package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/operator"
	"github.com/tenantsync/tenantsync/internal/settings"
)

func newStatusCmd(env settings.Env) *cobra.Command {
	var out commonFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show where each target stands, from the store",
		Long: `Show, from the store alone (no tenant is contacted): the source's delta
watermarks and their age, the Graph subscriptions and their expiry, and per
target the last reconcile, the linked users by state, any quarantine, the
staged deletions, the actions taken and the 10 newest failures.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := loadConfig(cmd, env, &out)
			if err != nil {
				return err
			}
			st, desc, err := openStoreForReading(cmd.Context(), env, out.logger(cmd))
			if err != nil {
				return err
			}
			defer st.Close()
			names := make([]string, len(cfg.Targets))
			for i, t := range cfg.Targets {
				names[i] = t.Name
			}
			s, err := operator.ReadStatus(cmd.Context(), operator.StatusOptions{
				Store: st, StoreName: desc, SourceTenant: cfg.Source.Tenant, Targets: names,
			})
			if err != nil {
				return err
			}
			if err := out.write(cmd, s, func(w io.Writer) error { return operator.WriteStatus(w, s) }); err != nil {
				return err
			}
			if len(s.Problems) > 0 {
				return fmt.Errorf("status is incomplete: %s", s.Problems[0])
			}
			return nil
		},
	}
	out.register(cmd)
	return cmd
}
