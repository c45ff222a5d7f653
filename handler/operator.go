package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/operator"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
	"github.com/tenantsync/tenantsync/internal/store/storeopen"
	"github.com/tenantsync/tenantsync/internal/store/storeopen/localadmin"
)

// operatorCmds are the commands an admin runs against the configured
// tenants and store: the local files and simulator, or, with
// TENANTSYNC_TABLES and real tenants configured, the deployed system.
func operatorCmds(env settings.Env) []*cobra.Command {
	return []*cobra.Command{
		newValidateCmd(env),
		newPlanCmd(env),
		newReconcileCmd(env),
		newProvisionCmd(env),
		newStatusCmd(env),
		newDeletionsCmd(env),
		newDLQCmd(env),
		newResumeCmd(env),
		newAdoptCmd(env),
		newConsentURLCmd(env),
	}
}

// errorLine is the one line main prints for a failed command: "error: "
// and the reason, with any line breaks of a joined error folded into "; ".
func errorLine(err error) string {
	lines := strings.FieldsFunc(err.Error(), func(r rune) bool { return r == '\n' || r == '\r' })
	return "error: " + strings.Join(lines, "; ")
}

// commonFlags are the flags every operator command has, and --azure-cli
// for those that call Graph.
type commonFlags struct {
	json     bool
	verbose  bool
	azureCLI bool
}

func (o *commonFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON for scripts instead of text")
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "log what tenantsync does on stderr")
}

// registerGraph adds --azure-cli to a command that calls Graph.
func (o *commonFlags) registerGraph(cmd *cobra.Command) {
	o.register(cmd)
	cmd.Flags().BoolVar(&o.azureCLI, "azure-cli", false,
		"sign in to every tenant as yourself with the Azure CLI (az login) instead of the configured auth, to run this from a laptop against the deployed system")
}

// logger logs on stderr with -v, else nowhere: the command's output is its
// report, and stderr is kept for the one-line error.
func (o *commonFlags) logger(cmd *cobra.Command) *slog.Logger {
	if !o.verbose {
		return slog.New(slog.DiscardHandler)
	}
	return newLogger(cmd.ErrOrStderr(), true)
}

// write prints v as JSON with --json, else runs text.
func (o *commonFlags) write(cmd *cobra.Command, v any, text func(io.Writer) error) error {
	if o.json {
		return operator.WriteJSON(cmd.OutOrStdout(), v)
	}
	return text(cmd.OutOrStdout())
}

// configProblem is one problem of an invalid config, as --json prints it.
type configProblem struct {
	Path    string `json:"path,omitempty"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// configReport is what validate prints, and what every command prints
// with --json when the config is invalid.
type configReport struct {
	Config   string           `json:"config"`
	Valid    bool             `json:"valid"`
	Problems []configProblem  `json:"problems"`
	Checks   []operator.Check `json:"checks,omitempty"`
}

// loadConfig reads and validates the config. An invalid config's problems
// are printed in full on stdout (as JSON with --json), and the error is one
// line: "invalid config: N problems; first: …". Every error that says the
// config cannot be read, parsed or validated is a usage error (exit code
// 2), whichever command met it.
func loadConfig(cmd *cobra.Command, env settings.Env, out *commonFlags) (*config.Config, string, error) {
	cfg, src, err := app.LoadConfig(env, configFlag(cmd))
	if err == nil {
		if out.azureCLI {
			useAzureCLI(cfg)
		}
		return cfg, src, nil
	}
	var es config.Errors
	if !errors.As(err, &es) || len(es) == 0 {
		return nil, src, usageError(err)
	}
	rep := configReport{Config: src, Problems: problemsOf(es)}
	if perr := out.write(cmd, rep, func(w io.Writer) error {
		fmt.Fprintf(w, "%s is not valid:\n", src)
		for _, e := range es {
			fmt.Fprintf(w, "  %s\n", e)
		}
		return nil
	}); perr != nil {
		return nil, src, perr
	}
	return nil, src, configError(es)
}

// useAzureCLI makes every tenant sign in with the Azure CLI's account: the
// configured managed identity exists only in Azure, and an admin's own
// rights are what an operator command on a laptop should act with.
func useAzureCLI(cfg *config.Config) {
	cfg.Source.Auth = config.Auth{Method: config.AuthAzureCLI}
	for i := range cfg.Targets {
		cfg.Targets[i].Auth = config.Auth{Method: config.AuthAzureCLI}
	}
}

func problemsOf(es config.Errors) []configProblem {
	out := make([]configProblem, len(es))
	for i, e := range es {
		out[i] = configProblem{Path: e.Path, File: e.File, Line: e.Line, Message: e.Msg}
	}
	return out
}

func configError(es config.Errors) error {
	if len(es) == 1 {
		return usageErrorf("invalid config: %s", es[0])
	}
	return usageErrorf("invalid config: %d problems; first: %s", len(es), es[0])
}

// openApp loads the config and assembles tenantsync on it. The Graph
// clients keep the SDK's retries: an operator command waits out throttling
// rather than re-scheduling. st, when not nil, is used as the store (and
// stays the caller's to close). target, when not empty, must name a
// configured target (the command's --target). A config that does not
// load and an unknown target are usage errors (exit code 2), found before
// anything is opened.
func openApp(cmd *cobra.Command, env settings.Env, out *commonFlags, st store.Store, target string) (*app.App, error) {
	cfg, src, err := loadConfig(cmd, env, out)
	if err != nil {
		return nil, err
	}
	if target != "" {
		if _, err := app.LookupTarget(cfg, target); err != nil {
			return nil, usageError(err)
		}
	}
	a, err := app.Open(cmd.Context(), app.Options{Env: env, Config: cfg, Store: st, Logger: out.logger(cmd)})
	if err != nil {
		return nil, err
	}
	a.ConfigSource = src
	return a, nil
}

// openStoreForReading opens the configured store for a command that only
// reads it. An embedded store whose file does not exist yet is not created:
// an empty temporary one stands in, and the description says so. While a
// `handler local` runs on the embedded store, its store is read through it
// (storeopen.Open), and the description says that too.
func openStoreForReading(ctx context.Context, env settings.Env, log *slog.Logger) (store.Store, string, error) {
	s := storeopen.SettingsFrom(env.Get)
	desc := s.String()
	if s.Kind() == storeopen.Embedded {
		path := s.StatePath()
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			st, err := boltstore.OpenTemp(&boltstore.Options{Logger: log})
			if err != nil {
				return nil, "", err
			}
			return st, desc + " (not created yet: nothing has run with it)", nil
		}
	}
	st, err := app.OpenStore(ctx, env, log)
	if err != nil {
		return nil, "", err
	}
	if running, ok := st.(*localadmin.Store); ok {
		desc = running.String()
	}
	return st, desc, nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
