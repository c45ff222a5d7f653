package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/demo"
)

func newDemoCmd() *cobra.Command {
	var (
		keep            bool
		listen, simAddr string
		verbose         bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "See tenantsync work end to end on this machine, with no Azure",
		Long: `Start a local Microsoft Graph with Fabrikam (source) and Contoso (target), run
tenantsync against them with its embedded queue and store, show the initial
sync (the users, and one security group with its members), then play a short story (someone joins, moves, is disabled, leaves, is
taken out of the scoping group) and show each change arriving in Contoso with
its latency. --keep-running leaves it all up to try your own changes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var progress io.Writer
			if w := cmd.ErrOrStderr(); isTerminal(w) {
				progress = w
			}
			logOut := io.Discard
			if verbose {
				logOut = cmd.ErrOrStderr()
			}
			_, err := demo.Run(cmd.Context(), demo.Options{
				Out:         cmd.OutOrStdout(),
				Progress:    progress,
				Listen:      listen,
				SimListen:   simAddr,
				KeepRunning: keep,
				Logger:      newLogger(logOut, verbose),
			})
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&keep, "keep-running", false, "leave the simulator, tenantsync and the status page up after the story")
	f.StringVar(&listen, "listen", "", "tenantsync's address (default: a free loopback port)")
	f.StringVar(&simAddr, "sim-listen", "", "the simulator's address (default: a free loopback port)")
	f.BoolVarP(&verbose, "verbose", "v", false, "show tenantsync's logs")
	return cmd
}
