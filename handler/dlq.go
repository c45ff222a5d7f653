package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/operator"
	"github.com/tenantsync/tenantsync/internal/queue"
	"github.com/tenantsync/tenantsync/internal/queue/embedded"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
	"github.com/tenantsync/tenantsync/internal/store/storeopen"
)

func newDLQCmd(env settings.Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List or resubmit dead-lettered change messages",
		Long: `List or resubmit the change messages that ProcessChange gave up on: the
Service Bus queue's dead letters when Service Bus is configured
(ServiceBusConnection__fullyQualifiedNamespace or ServiceBusConnection),
else those of the embedded queue in the embedded store (handler local).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageError(errors.New("give a subcommand: dlq list or dlq resubmit"))
		},
	}
	cmd.AddCommand(newDLQListCmd(env), newDLQResubmitCmd(env))
	return cmd
}

// deadLetters is an open dead-letter queue.
type deadLetters struct {
	queue.DeadLetters
	name  string
	close func()
}

// openDeadLetters opens Service Bus's dead letters when Service Bus is
// configured, else the embedded queue's in the embedded store.
func openDeadLetters(ctx context.Context, env settings.Env, log *slog.Logger) (*deadLetters, error) {
	sb, ok, err := app.OpenServiceBus(env)
	if err != nil {
		return nil, err
	}
	if ok {
		return &deadLetters{DeadLetters: sb, name: "Service Bus queue " + sb.Name(), close: func() {
			_ = sb.Close(context.WithoutCancel(ctx))
		}}, nil
	}
	// A running `local` holds the embedded queue: its admin endpoint lists
	// and resubmits the dead letters.
	if rdl, ok, err := storeopen.RunningDeadLetters(ctx, storeopen.SettingsFrom(env.Get)); err != nil {
		return nil, err
	} else if ok {
		return &deadLetters{DeadLetters: rdl, name: rdl.Name(), close: rdl.Close}, nil
	}
	if storeopen.SettingsFrom(env.Get).Kind() != storeopen.Embedded {
		return nil, fmt.Errorf("no dead-letter queue: Service Bus is not configured (set %s or %s), and the embedded queue lives only in the embedded store (%s is set)",
			settings.ServiceBusNamespace, settings.ServiceBusConnectionString, settings.Tables)
	}
	st, desc, err := openStoreForReading(ctx, env, log)
	if err != nil {
		return nil, err
	}
	bolt, ok := st.(*boltstore.Store)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("no dead-letter queue: the embedded store is a %T", st)
	}
	q, err := embedded.Open(bolt.DB(), &embedded.Options{Logger: log})
	if err != nil {
		st.Close()
		return nil, err
	}
	return &deadLetters{DeadLetters: q, name: "the embedded queue " + q.Name() + " (" + desc + ")", close: func() {
		_ = q.Close()
		_ = st.Close()
	}}, nil
}

func newDLQListCmd(env settings.Env) *cobra.Command {
	var (
		out commonFlags
		max int
	)
	cmd := &cobra.Command{
		Use:   "list [--max N]",
		Short: "List dead letters, oldest first, without taking them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if max < 0 {
				return usageErrorf("--max %d: want 0 (all) or more", max)
			}
			dl, err := openDeadLetters(cmd.Context(), env, out.logger(cmd))
			if err != nil {
				return err
			}
			defer dl.close()
			list, err := dl.List(cmd.Context(), max)
			if err != nil {
				return err
			}
			views := make([]operator.DeadLetter, len(list))
			for i, d := range list {
				views[i] = operator.DeadLetterOf(d)
			}
			return out.write(cmd, map[string]any{"queue": dl.name, "deadLetters": views}, func(w io.Writer) error {
				return operator.WriteDeadLetters(w, dl.name, time.Now(), views)
			})
		},
	}
	out.register(cmd)
	cmd.Flags().IntVar(&max, "max", 50, "list at most N (0: all)")
	return cmd
}

func newDLQResubmitCmd(env settings.Env) *cobra.Command {
	var (
		out commonFlags
		all bool
	)
	cmd := &cobra.Command{
		Use:   "resubmit (--all | ID…)",
		Short: "Send dead letters back to the queue to be processed again",
		RunE: func(cmd *cobra.Command, ids []string) error {
			switch {
			case all && len(ids) > 0:
				return usageError(errors.New("give either --all or message ids, not both"))
			case !all && len(ids) == 0:
				return usageError(errors.New("give --all or the ids of the messages to resubmit (see dlq list)"))
			}
			dl, err := openDeadLetters(cmd.Context(), env, out.logger(cmd))
			if err != nil {
				return err
			}
			defer dl.close()
			if len(ids) > 0 {
				list, err := dl.List(cmd.Context(), 0)
				if err != nil {
					return err
				}
				have := map[string]bool{}
				for _, d := range list {
					have[d.ID] = true
				}
				var missing []string
				for _, id := range ids {
					if !have[id] {
						missing = append(missing, id)
					}
				}
				if len(missing) > 0 {
					return fmt.Errorf("no dead letter with id %s in %s; nothing was resubmitted", strings.Join(missing, ", "), dl.name)
				}
			}
			n, err := dl.Resubmit(cmd.Context(), queue.ResubmitOptions{IDs: ids, All: all})
			werr := out.write(cmd, map[string]any{"queue": dl.name, "resubmitted": n}, func(w io.Writer) error {
				noun := "dead letters"
				if n == 1 {
					noun = "dead letter"
				}
				_, err := fmt.Fprintf(w, "Resubmitted %d %s to %s.\n", n, noun, dl.name)
				return err
			})
			if err != nil {
				return err
			}
			return werr
		},
	}
	out.register(cmd)
	cmd.Flags().BoolVar(&all, "all", false, "resubmit every dead letter")
	return cmd
}
