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
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, errorLine(err))
		os.Exit(1)
	}
}
