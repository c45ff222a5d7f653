package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/tenantsync/tenantsync/internal/statuspage"
	"github.com/tenantsync/tenantsync/internal/store/storeopen/localadmin"
)

// childSpec is how to start the local runner.
type childSpec struct {
	exe  string
	args []string
	env  []string
	dir  string
	log  string // file the runner's stdout and stderr go to
	// state is the runner's state file; its admin file beside it holds
	// the status page's token, new at every start.
	state string
	// listen is the runner's address; every restart uses the same one, as
	// the subscriptions point there.
	listen string
}

// runner runs tenantsync's local runner as a child process and crashes it
// on demand: SIGKILL, a pause, and a restart on the same state file.
type runner struct {
	spec   childSpec
	client *http.Client

	mu         sync.Mutex
	cmd        *exec.Cmd
	exited     chan struct{}
	running    bool
	expectExit bool
	closed     bool
	restart    *time.Timer
	starts     int
	unexpected []string
	logFile    *os.File
}

func newRunner(spec childSpec) (*runner, error) {
	f, err := os.OpenFile(spec.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("runner log: %w", err)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: localadmin.StatusAuth(nil, spec.state)}
	return &runner{spec: spec, logFile: f, client: client}, nil
}

// freeAddr returns a loopback address nothing listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Start starts the runner unless it runs or Close was called.
func (r *runner) Start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.startLocked()
}

func (r *runner) startLocked() error {
	if r.running || r.closed {
		return nil
	}
	r.starts++
	fmt.Fprintf(r.logFile, "=== chaos: start %d at %s\n", r.starts, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(r.spec.exe, r.spec.args...)
	cmd.Env = r.spec.env
	cmd.Dir = r.spec.dir
	cmd.Stdout, cmd.Stderr = r.logFile, r.logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", r.spec.exe, err)
	}
	r.cmd, r.running, r.exited = cmd, true, make(chan struct{})
	go r.watch(cmd, r.exited)
	return nil
}

// watch waits for the process; an exit nobody asked for is a finding, and
// the runner is started again so that the run goes on.
func (r *runner) watch(cmd *exec.Cmd, exited chan struct{}) {
	err := cmd.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running = false
	if !r.expectExit && !r.closed {
		r.unexpected = append(r.unexpected, fmt.Sprintf("start %d exited by itself at %s: %v (see %s)",
			r.starts, time.Now().Format(time.RFC3339), err, r.spec.log))
		r.scheduleLocked(time.Second)
	}
	close(exited)
}

func (r *runner) scheduleLocked(after time.Duration) {
	if r.closed {
		return
	}
	if r.restart != nil {
		r.restart.Stop()
	}
	r.restart = time.AfterFunc(after, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := r.startLocked(); err != nil {
			r.unexpected = append(r.unexpected, err.Error())
		}
	})
}

// Crash kills the runner with SIGKILL (no chance to clean up), waits for
// it to be gone, and starts it again after downtime. It reports false when
// the runner was not running.
func (r *runner) Crash(downtime time.Duration) bool {
	r.mu.Lock()
	if !r.running || r.expectExit || r.closed {
		r.mu.Unlock()
		return false
	}
	r.expectExit = true
	cmd, exited := r.cmd, r.exited
	_ = cmd.Process.Kill()
	r.mu.Unlock()
	<-exited
	r.mu.Lock()
	r.expectExit = false
	r.scheduleLocked(downtime)
	r.mu.Unlock()
	return true
}

// Stop ends the runner for good: SIGTERM and a graceful shutdown, SIGKILL
// after timeout.
func (r *runner) Stop(timeout time.Duration) error {
	r.mu.Lock()
	r.closed = true
	if r.restart != nil {
		r.restart.Stop()
	}
	if !r.running {
		r.mu.Unlock()
		return nil
	}
	r.expectExit = true
	cmd, exited := r.cmd, r.exited
	r.mu.Unlock()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop runner: %w", err)
	}
	select {
	case <-exited:
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			return fmt.Errorf("the runner exited with %d after SIGTERM (see %s)", code, r.spec.log)
		}
		return nil
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("the runner did not stop within %s of SIGTERM", timeout)
	}
}

// Unexpected returns the exits nobody asked for.
func (r *runner) Unexpected() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.unexpected...)
}

// Starts returns how often the runner was started.
func (r *runner) Starts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.starts
}

// Close releases the log file; call it after Stop.
func (r *runner) Close() error { return r.logFile.Close() }

// Status reads the runner's status page.
func (r *runner) Status(ctx context.Context) (statuspage.Snapshot, error) {
	return statuspage.Fetch(ctx, r.client, "http://"+r.spec.listen+"/api/status")
}

// WaitReady waits until the runner's status page answers.
func (r *runner) WaitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, err := r.Status(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the runner did not answer within %s (see %s): %w", timeout, r.spec.log, err)
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
