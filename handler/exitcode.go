package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/engine"
)

// The exit codes, as `handler --help` lists them: a script tells a typo
// from an unreachable tenant from a run that did part of its work.
const (
	exitFailure = 1 // any other failure
	exitUsage   = 2 // a usage or config error: fix the command line or the config
	exitTenant  = 3 // a tenant could not be reached, or refused tenantsync (401, 403)
	exitPartial = 4 // partial failure: some changes failed, the others were carried out
)

// exitCodesHelp is the part of `handler --help` that lists the exit codes.
const exitCodesHelp = `Exit codes:
  0  success
  1  failure (the one-line error says what)
  2  usage or config error: an unknown flag or command, a missing or bad
     argument, a config that does not validate
  3  a tenant could not be reached, or refused tenantsync (401, 403, a
     quarantine): its Graph, its consent or its permissions
  4  partial failure: some changes failed, the others were carried out

With --json, a failure is also JSON, on stderr: {"error":"…","exitCode":N}.`

// exitError is a command's failure with the exit code that says what kind
// of failure it is.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as a usage or config error (exit code 2).
func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

// usageErrorf is usageError of a formatted error.
func usageErrorf(format string, args ...any) error { return usageError(fmt.Errorf(format, args...)) }

// partialError marks err as a partial failure (exit code 4), unless a
// tenant out of reach caused it: that is what to fix first.
func partialError(err error) error {
	if unreachable(err) {
		return &exitError{code: exitTenant, err: err}
	}
	return &exitError{code: exitPartial, err: err}
}

// tenantError marks err as a tenant's failure (exit code 3).
func tenantError(err error) error { return &exitError{code: exitTenant, err: err} }

// exitCode is the code main exits with for a command's error: the one the
// command chose, else 3 for a tenant out of reach or refusing, else 1.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if unreachable(err) {
		return exitTenant
	}
	return exitFailure
}

// unreachable reports whether err is a tenant's Graph out of reach (a
// network failure, a 5xx) or refusing tenantsync (401, 403, a token that
// could not be had, a quarantined target). The Graph adapter reports
// every such failure as a *directory.Error; the store's are not.
func unreachable(err error) bool {
	if errors.Is(err, engine.ErrQuarantined) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var de *directory.Error
	if !errors.As(err, &de) {
		return false
	}
	return de.Status == 0 || de.Status == http.StatusUnauthorized || de.Status == http.StatusForbidden || de.Status >= 500
}

// reportError writes a failed command's error on stderr, one line, or as
// {"error":"…","exitCode":N} when the command ran with --json, and returns
// the exit code.
func reportError(stderr io.Writer, cmd *cobra.Command, args []string, err error) int {
	code := exitCode(err)
	line := errorLine(err)
	if !wantsJSON(cmd, args) {
		fmt.Fprintln(stderr, line)
		return code
	}
	b, jerr := json.Marshal(struct {
		Error    string `json:"error"`
		ExitCode int    `json:"exitCode"`
	}{strings.TrimPrefix(line, "error: "), code})
	if jerr != nil {
		fmt.Fprintln(stderr, line)
		return code
	}
	fmt.Fprintf(stderr, "%s\n", b)
	return code
}

// wantsJSON reports whether the command ran with --json: its parsed flag,
// or, when parsing failed before it was read, the arguments.
func wantsJSON(cmd *cobra.Command, args []string) bool {
	if cmd != nil {
		if f := cmd.Flags().Lookup("json"); f != nil && f.Changed {
			return f.Value.String() == "true"
		}
	}
	return slices.Contains(args, "--json") || slices.Contains(args, "--json=true")
}

// markUsageErrors makes every usage error cobra finds in the command tree
// an exit-code-2 error: bad flags (FlagErrorFunc, inherited by every
// subcommand) and bad positional arguments (each command's Args, unknown
// subcommands included).
func markUsageErrors(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if args := c.Args; args != nil {
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return usageError(err)
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// targetNames returns the configured targets' names, or only target, which
// must be one of them (an unknown one is a usage error).
func targetNames(cfg *config.Config, target string) ([]string, error) {
	if target != "" {
		if _, err := app.LookupTarget(cfg, target); err != nil {
			return nil, usageError(err)
		}
		return []string{target}, nil
	}
	names := make([]string, len(cfg.Targets))
	for i, t := range cfg.Targets {
		names[i] = t.Name
	}
	return names, nil
}

// plural renders "1 change" or "3 changes".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
