package main

import (
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/settings"
)

// processEnv is the only place that reads the process environment.
func processEnv() settings.Env { return settings.NewEnv(os.Getenv) }

// newLogger logs as text on a terminal and as JSON otherwise (the Functions
// host and log collectors), at info level, or debug with verbose.
func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if isTerminal(w) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// configFlag returns the --config flag's value, if the command has one.
func configFlag(cmd *cobra.Command) string {
	if f := cmd.Flags().Lookup("config"); f != nil {
		return f.Value.String()
	}
	return ""
}

// serveFunctionsHost runs the custom handler for the Azure Functions host:
// it listens at once, so that the host's readiness poll is answered within
// its 30 s, and opens tenantsync behind a ready gate (app.ServeFunctionsHost).
// Logs go to stdout: the host records stderr as errors.
func serveFunctionsHost(cmd *cobra.Command) error {
	env := processEnv()
	logger := newLogger(os.Stdout, false)
	noRetries := 0 // a throttled change is re-scheduled on the queue, never slept on
	return app.ServeFunctionsHost(cmd.Context(), app.HostOptions{
		App:  app.Options{Env: env, ConfigPath: configFlag(cmd), MaxRetries: &noRetries, Logger: logger},
		Port: env.Get(settings.CustomHandlerPort),
	})
}
