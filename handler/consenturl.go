package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/consent"
	"github.com/tenantsync/tenantsync/internal/graph"
	"github.com/tenantsync/tenantsync/internal/settings"
)

// consentResult is what `consent-url --json` prints.
type consentResult struct {
	Target   string `json:"target"`
	Tenant   string `json:"tenant"`
	ClientID string `json:"clientId"`
	URL      string `json:"url"`
}

func newConsentURLCmd(env settings.Env) *cobra.Command {
	var (
		out    commonFlags
		target string
	)
	cmd := &cobra.Command{
		Use:   "consent-url --target NAME",
		Short: "Print the admin-consent URL of tenantsync's app for a target tenant",
		Long: `Print the URL an administrator of the target tenant opens once to grant
tenantsync's multi-tenant app (the target's auth.clientId) its application
permissions there: the source's deployment cannot grant them in another
tenant.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if target == "" {
				return usageError(errors.New("--target is required"))
			}
			cfg, _, err := loadConfig(cmd, env, &out)
			if err != nil {
				return err
			}
			t, err := app.LookupTarget(cfg, target)
			if err != nil {
				return usageError(err)
			}
			if t.Auth.ClientID == "" {
				return usageErrorf("target %s: auth method %s has no clientId: admin consent is for a multi-tenant app (auth.clientId)", target, t.Auth.Method)
			}
			u, err := consent.URL(t.Tenant.Tenant, t.Auth.ClientID, &consent.URLOptions{Authority: graph.AuthorityFor(t.Graph)})
			if err != nil {
				return fmt.Errorf("target %s: %w", target, err)
			}
			res := consentResult{Target: target, Tenant: t.Tenant.Tenant, ClientID: t.Auth.ClientID, URL: u}
			return out.write(cmd, res, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "Admin consent for %s (tenant %s), to be opened by one of its administrators:\n\n  %s\n", target, res.Tenant, u)
				return err
			})
		},
	}
	out.register(cmd)
	cmd.Flags().StringVar(&target, "target", "", "the target (required)")
	return cmd
}
