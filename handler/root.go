package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/settings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd() *cobra.Command { return newRootCmdWithEnv(processEnv()) }

// newRootCmdWithEnv builds the command tree; the operator commands read
// their settings from env (tests pass their own).
func newRootCmdWithEnv(env settings.Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "handler",
		Short: "tenantsync keeps users of one Entra ID tenant in step as B2B users in others",
		Long: `tenantsync keeps the people of one Microsoft Entra ID tenant (the source)
present as B2B users in one or more other tenants (the targets).

With no subcommand and FUNCTIONS_CUSTOMHANDLER_PORT set, it serves the Azure
Functions host as a custom handler.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, ok := processEnv().Lookup(settings.CustomHandlerPort); !ok {
				return errors.New("no subcommand given and FUNCTIONS_CUSTOMHANDLER_PORT is not set; see handler --help")
			}
			return serveFunctionsHost(cmd)
		},
	}
	root.PersistentFlags().String("config", "", "config file (default: $"+settings.Config+", else "+app.DefaultConfigPath+")")
	root.AddCommand(
		newVersionCmd(),
		newSimCmd(),
		newLocalCmd(),
		newDemoCmd(),
		newBenchCmd(),
		newChaosCmd(),
	)
	root.AddCommand(operatorCmds(env)...)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of tenantsync",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "tenantsync %s\n", version)
			return err
		},
	}
}
