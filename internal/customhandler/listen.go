package customhandler

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// shutdownTimeout bounds how long in-flight invocations may run on after
// the context is cancelled; past it their contexts are cancelled too. It
// stays under the grace a platform gives a stopping process.
const shutdownTimeout = 25 * time.Second

// ListenAndServe serves h to the Functions host on 127.0.0.1:port, the
// address the host calls, until ctx is cancelled; then it stops taking
// requests and waits for those in flight. The port is the value of
// FUNCTIONS_CUSTOMHANDLER_PORT, which the caller reads.
//
// It does nothing before listening, so the host sees the handler up within
// milliseconds of starting it. The host gives a custom handler 30 s to
// answer its GET / probe, which it sends every 25 ms, and then fails the
// worker's start and restarts it (Azure/azure-functions-host,
// src/WebJobs.Script/Workers/Http/Configuration/HttpWorkerOptions.cs:
// InitializationTimeout = 30 s; src/WebJobs.Script/Workers/WorkerConstants.cs:
// WorkerReadyCheckPollingIntervalMilliseconds = 25;
// DefaultHttpWorkerService.IsWorkerReady, lines 263-289;
// HttpWorkerChannel.DelayUntilWokerInitialized, lines 58-61).
func ListenAndServe(ctx context.Context, port string, h http.Handler) error {
	ln, err := Listen(port)
	if err != nil {
		return err
	}
	return Serve(ctx, ln, h)
}

// Listen listens on 127.0.0.1:port, the address the host calls, for Serve.
// A caller that has slow work to do before it can run functions listens
// first, so that the host's probe is answered while that work goes on.
func Listen(port string) (net.Listener, error) {
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("custom handler port %q: want a number from 1 to 65535", port)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return nil, fmt.Errorf("listen for the functions host: %w", err)
	}
	return ln, nil
}

// Serve is ListenAndServe on a listener the caller made. It closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler: h,
		// Only the host connects, over loopback; the header timeout guards
		// against a stuck connection, and there is no write timeout because
		// an invocation may legitimately run for the function timeout.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// Requests outlive the cancellation of ctx so that a shutdown lets
		// them finish; Close cancels them if the shutdown times out.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve the functions host: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		srv.Close()
		err = fmt.Errorf("shut down the custom handler: %w", err)
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("serve the functions host: %w", serr))
	}
	return err
}
