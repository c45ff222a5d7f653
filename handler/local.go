package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"go.etcd.io/bbolt"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/local"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/store/storeopen"
	"github.com/tenantsync/tenantsync/internal/store/storeopen/localadmin"
	"github.com/tenantsync/tenantsync/internal/subscriptions"
)

func newLocalCmd() *cobra.Command { return newLocalCmdWithEnv(processEnv()) }

// newLocalCmdWithEnv builds `local` reading its settings from env (tests
// pass their own).
func newLocalCmdWithEnv(env settings.Env) *cobra.Command {
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
and the status page on --listen, the embedded queue in TENANTSYNC_STATE
(.tenantsync/state.db by default) and the store there too, or in Table
Storage when TENANTSYNC_TABLES is set, the timers on ReconcileSchedule and
SubscriptionSchedule. The first reconcile runs at start (a full sync when
there is no watermark yet).

The status page needs the token in the URL printed at start; the listener
answers only to its loopback name, and the webhook also to the host of
TENANTSYNC_WEBHOOK_URL. Keep --listen on loopback.

The operator commands (status, plan, deletions approve, dlq, …) work while
local runs: it serves them its store and queue on a loopback endpoint whose
address and token it writes beside the state file (state.db.admin.json).

Change notifications need a URL Graph can reach: the listener itself for the
simulator, TENANTSYNC_WEBHOOK_URL (a public URL forwarding here) for real
tenants. Without one, --notifications=false keeps the reconcile timer alone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			logger := newLogger(cmd.ErrOrStderr(), verbose)
			if !local.IsLoopback(listen) {
				fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: --listen %s is not a loopback address: anyone who can reach it can send requests to tenantsync.\n"+
					"         The status page still needs its token and answers only to a loopback Host; prefer 127.0.0.1 and a forwarder for Graph.\n", listen)
			}
			// The config first: a run in the wrong directory must not
			// create a state file there before it fails.
			cfg, src, err := app.LoadConfig(env, configFlag(cmd))
			if err != nil {
				return err
			}
			s := storeopen.SettingsFrom(env.Get)
			st, err := app.OpenStore(ctx, env, logger)
			if err != nil {
				return err
			}
			defer st.Close()
			if running, ok := st.(*localadmin.Store); ok {
				return fmt.Errorf("handler local already runs on %s (pid %d): stop it first, or run the operator commands against it", s.StatePath(), running.PID())
			}
			// The embedded queue lives in the state file, whatever the store.
			var queueDB *bbolt.DB
			if s.Kind() != storeopen.Embedded {
				if queueDB, err = storeopen.OpenQueueFile(ctx, s); err != nil {
					return err
				}
				defer queueDB.Close()
			}
			noRetries := 0
			a, err := app.Open(ctx, app.Options{Env: env, Config: cfg, Store: st, MaxRetries: &noRetries, Logger: logger})
			if err != nil {
				return err
			}
			defer a.Close()
			a.ConfigSource = src
			return local.Run(ctx, local.Options{
				App:                  a,
				QueueDB:              queueDB,
				Listen:               listen,
				Notifications:        notify,
				NotificationURL:      env.Get(settings.WebhookURL),
				ReconcileSchedule:    env.Get(settings.ReconcileSchedule),
				SubscriptionSchedule: env.Get(settings.SubscriptionSchedule),
				Sessions:             sessions,
				Logger:               logger,
				Ready: func(i local.Info) {
					// The status page's token is printed here, once, and
					// never logged; the notification URL's key not at all.
					w := cmd.OutOrStdout()
					fmt.Fprintf(w, "tenantsync is running: status page %s", i.StatusURL)
					if i.NotificationURL != "" {
						fmt.Fprintf(w, ", notifications at %s", subscriptions.Redact(i.NotificationURL))
					}
					fmt.Fprintln(w, " (Ctrl-C stops)")
					fmt.Fprintf(w, "Operator commands (status, deletions approve, dlq, …) reach it through %s.\n", i.AdminFile)
				},
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", local.DefaultListen, "address of the webhook and status page (keep it on loopback)")
	f.IntVar(&sessions, "sessions", 8, "users synced at once")
	f.BoolVar(&notify, "notifications", true, "subscribe to Graph change notifications")
	f.BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	return cmd
}
