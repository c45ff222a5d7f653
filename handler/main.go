// Command handler is the one tenantsync binary.
//
// Run with no subcommand and FUNCTIONS_CUSTOMHANDLER_PORT set, it serves the
// Azure Functions host as a custom handler. Its subcommands run the same
// functions in one process (local, demo), a local Microsoft Graph (sim), and
// the operator commands. This package only wires: every concern lives in a
// package under internal/.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, newRootCmd(), os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command tree with args and returns the exit code: 0, or
// the code of the failure (exitCode), which it reports on stderr, as JSON
// with --json.
func run(ctx context.Context, root *cobra.Command, args []string, stderr io.Writer) int {
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	return reportError(stderr, cmd, args, err)
}
