package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/local"
	"github.com/tenantsync/tenantsync/internal/settings"
)

func newLocalCmd() *cobra.Command {
	var (
		listen   string
		sessions int
		notify   bool
		verbose  bool
	)
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run every function in one process, with no Azure",
		Long: `Run the webhook, ProcessChange, Reconcile and SubscriptionManager in one
process against the configured tenants (real, or the simulator): the webhook
and the status page on --listen, the embedded queue and store in
TENANTSYNC_STATE (or Table Storage when TENANTSYNC_TABLES is set), the timers
on ReconcileSchedule and SubscriptionSchedule. The first reconcile runs at
start (a full sync when there is no watermark yet).

Change notifications need a URL Graph can reach: the listener itself for the
simulator, TENANTSYNC_WEBHOOK_URL (a public URL forwarding here) for real
tenants. Without one, --notifications=false keeps the reconcile timer alone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			env := processEnv()
			logger := newLogger(os.Stderr, verbose)
			noRetries := 0
			a, err := app.Open(cmd.Context(), app.Options{Env: env, ConfigPath: configFlag(cmd), MaxRetries: &noRetries, Logger: logger})
			if err != nil {
				return err
			}
			defer a.Close()
			return local.Run(cmd.Context(), local.Options{
				App:                  a,
				Listen:               listen,
				Notifications:        notify,
				NotificationURL:      env.Get(settings.WebhookURL),
				ReconcileSchedule:    env.Get(settings.ReconcileSchedule),
				SubscriptionSchedule: env.Get(settings.SubscriptionSchedule),
				Sessions:             sessions,
				Logger:               logger,
				Ready: func(i local.Info) {
					fmt.Fprintf(cmd.OutOrStdout(), "tenantsync is running: status page %s", i.StatusURL)
					if i.NotificationURL != "" {
						fmt.Fprintf(cmd.OutOrStdout(), ", notifications at %s", i.NotificationURL)
					}
					fmt.Fprintln(cmd.OutOrStdout(), " (Ctrl-C stops)")
				},
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", local.DefaultListen, "address of the webhook and status page")
	f.IntVar(&sessions, "sessions", 8, "users synced at once")
	f.BoolVar(&notify, "notifications", true, "subscribe to Graph change notifications")
	f.BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	return cmd
}
