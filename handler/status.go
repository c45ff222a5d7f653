package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/operator"
	"github.com/tenantsync/tenantsync/internal/queue/embedded"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/statuspage"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

func newStatusCmd(env settings.Env) *cobra.Command {
	var (
		out  commonFlags
		user string
	)
	cmd := &cobra.Command{
		Use:   "status [--user UPN|ID]",
		Short: "Show where each target stands, or one user, from the store",
		Long: `Show, from the store alone (no tenant is contacted): the health and what needs
attention, each with the command that resolves it; the source's delta
watermarks and their age; the Graph subscriptions and their expiry (with a
notification URL set, none is a problem); the dead-lettered changes of the
embedded queue; and per target the last reconcile (overdue after twice the
ReconcileSchedule period), the linked users by state, the last sync and the
last error, any quarantine, the staged deletions, the actions of the last day
and the 10 newest failures.

With --user (a source object id, a target object id or a userPrincipalName),
show that user in every target instead: the link (state, target user, last
error), a deprovision pending or held for approval, a conflict with the
command that resolves it, and the user's newest events.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := loadConfig(cmd, env, &out)
			if err != nil {
				return err
			}
			names, err := targetNames(cfg, "")
			if err != nil {
				return err
			}
			every, err := reconcileEvery(env)
			if err != nil {
				return usageError(err)
			}
			log := out.logger(cmd)
			st, desc, err := openStoreForReading(cmd.Context(), env, log)
			if err != nil {
				return err
			}
			defer st.Close()
			if user != "" {
				u, err := operator.ReadUser(cmd.Context(), operator.UserOptions{Store: st, Targets: names, User: user})
				if err != nil {
					return err
				}
				return out.write(cmd, u, func(w io.Writer) error { return operator.WriteUser(w, u) })
			}
			opts := operator.StatusOptions{
				Store: st, StoreName: desc, SourceTenant: cfg.Source.Tenant, Targets: names,
				Notifications: env.Get(settings.WebhookURL) != "", ReconcileEvery: every,
			}
			closeQueue := embeddedDeadLetters(st, log, &opts)
			defer closeQueue()
			s, err := operator.ReadStatus(cmd.Context(), opts)
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
	cmd.Flags().StringVar(&user, "user", "", "show this user (source object id, target object id or userPrincipalName) in every target")
	return cmd
}

// reconcileEvery is the period of the Reconcile timer's schedule
// (ReconcileSchedule, six-field NCRONTAB): the time between its next two
// runs. A reconcile is overdue after twice that.
func reconcileEvery(env settings.Env) (time.Duration, error) {
	spec := env.Get(settings.ReconcileSchedule)
	if spec == "" {
		return statuspage.DefaultReconcileEvery, nil
	}
	sched, err := cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow).Parse(spec)
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", settings.ReconcileSchedule, spec, err)
	}
	first := sched.Next(time.Now())
	return sched.Next(first).Sub(first), nil
}

// embeddedDeadLetters counts and lists the dead letters of the embedded
// queue when the store is the embedded one, opened here (a Service Bus
// queue is not read: status reads the store alone). It returns what closes
// the queue.
func embeddedDeadLetters(st store.Store, log *slog.Logger, opts *operator.StatusOptions) func() {
	bolt, ok := st.(*boltstore.Store)
	if !ok {
		return func() {}
	}
	q, err := embedded.Open(bolt.DB(), &embedded.Options{Logger: log})
	if err != nil {
		opts.DeadLetters = func(context.Context) (int, error) {
			return 0, fmt.Errorf("open the embedded queue: %w", err)
		}
		return func() {}
	}
	opts.DeadLetters = func(ctx context.Context) (int, error) {
		list, err := q.List(ctx, 0)
		return len(list), err
	}
	opts.ListDeadLetters = func(ctx context.Context, max int) ([]statuspage.DeadLetter, error) {
		list, err := q.List(ctx, max)
		views := make([]statuspage.DeadLetter, len(list))
		for i, d := range list {
			views[i] = statuspage.DeadLetterOf(d)
		}
		return views, err
	}
	return func() { _ = q.Close() }
}
