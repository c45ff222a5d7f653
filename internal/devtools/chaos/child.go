package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/local"
	"github.com/tenantsync/tenantsync/internal/settings"
)

// Environment of a re-executed runner (Options.Handler empty).
const (
	childEnv       = "TENANTSYNC_CHAOS_CHILD"
	childListenEnv = "TENANTSYNC_CHAOS_LISTEN"
)

// RunChildIfAsked runs the local runner in this process, as `handler local`
// would, when the process was started by Run to be the runner (Run
// re-executes its own binary when Options.Handler is empty). It reports
// whether it ran, and the exit code. A test binary calls it first thing in
// TestMain, with os.Getenv as getenv.
func RunChildIfAsked(getenv func(name string) string) (ran bool, code int) {
	if getenv(childEnv) != "1" {
		return false, 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runChild(ctx, getenv); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return true, 1
	}
	return true, 0
}

// runChild is handler/local.go's command, with its flags from the
// environment: the same app, the same local runner, the same settings.
func runChild(ctx context.Context, getenv func(name string) string) error {
	env := settings.NewEnv(getenv)
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	noRetries := 0
	a, err := app.Open(ctx, app.Options{Env: env, MaxRetries: &noRetries, Logger: logger})
	if err != nil {
		return err
	}
	defer a.Close()
	return local.Run(ctx, local.Options{
		App:                  a,
		Listen:               getenv(childListenEnv),
		Notifications:        true,
		NotificationURL:      env.Get(settings.WebhookURL),
		ReconcileSchedule:    env.Get(settings.ReconcileSchedule),
		SubscriptionSchedule: env.Get(settings.SubscriptionSchedule),
		Logger:               logger,
	})
}
