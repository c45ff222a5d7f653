package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/statuspage"
	"github.com/tenantsync/tenantsync/internal/store/storeopen/localadmin"
)

// neverSchedule is a six-field NCRONTAB that does not fire during a run:
// the timers would add reconciles (and their requests) to what is
// measured. The reconcile at start still runs.
const neverSchedule = "0 0 0 1 1 *"

// child is tenantsync (`handler local`) running as a child process, so that
// its memory is its own and it is the binary that ships.
type child struct {
	cmd     *exec.Cmd
	url     string // http://127.0.0.1:PORT
	started time.Time
	logFile *os.File
	client  *http.Client
	done    chan struct{}
	waitErr error
}

// childOptions say how to start tenantsync.
type childOptions struct {
	command  []string // the handler binary and any leading arguments
	config   string   // config file
	state    string   // embedded store file
	sessions int
	log      string // file receiving the child's output
	notify   bool
	environ  []string // the parent environment (Options.Environ)
}

// startChild starts `handler local` on a free loopback port.
func startChild(ctx context.Context, o childOptions) (*child, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(o.log)
	if err != nil {
		return nil, fmt.Errorf("child log: %w", err)
	}
	args := append(append([]string(nil), o.command[1:]...), "local",
		"--config", o.config,
		"--listen", "127.0.0.1:"+strconv.Itoa(port),
		"--sessions", strconv.Itoa(o.sessions),
		"--notifications="+strconv.FormatBool(o.notify))
	cmd := exec.Command(o.command[0], args...)
	cmd.Env = append(settings.ChildEnviron(o.environ),
		"TENANTSYNC_STATE="+o.state,
		"ReconcileSchedule="+neverSchedule,
		"SubscriptionSchedule="+neverSchedule,
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	c := &child{
		cmd:     cmd,
		url:     "http://127.0.0.1:" + strconv.Itoa(port),
		logFile: logFile,
		// The status page asks for the run's token, which the child writes
		// beside its state file.
		client: &http.Client{Timeout: 30 * time.Second, Transport: localadmin.StatusAuth(nil, o.state)},
		done:   make(chan struct{}),
	}
	c.started = time.Now()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s local: %w", o.command[0], err)
	}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// answered waits until the child's HTTP port answers a request and returns
// how long after the start that was.
func (c *child) answered(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(timeout)
	quick := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodHead, c.url+"/api/status", nil)
		resp, err := quick.Do(req)
		if err == nil {
			resp.Body.Close()
			return time.Since(c.started), nil
		}
		select {
		case <-c.done:
			return 0, fmt.Errorf("tenantsync exited before answering: %v (see %s)", c.waitErr, c.logFile.Name())
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("tenantsync did not answer on %s within %s (see %s)", c.url, timeout, c.logFile.Name())
		}
	}
}

// drained reports whether the child's queue is empty: every message it
// accepted was completed or dead-lettered.
func drained(s statuspage.Snapshot) bool {
	p := s.Pipeline
	return p["queueEnqueued"] > 0 && p["queueEnqueued"] == p["queueCompleted"]+p["queueDeadLettered"]
}

func (c *child) status(ctx context.Context) (statuspage.Snapshot, error) {
	return statuspage.Fetch(ctx, c.client, c.url+"/api/status")
}

// memory returns the child's memory now, from /proc (zeros where there is
// no /proc).
func (c *child) memory() procMem {
	return procMemory(c.cmd.Process.Pid)
}

// procMem is a process's memory in bytes: its resident set now and at its
// peak, and the anonymous part of the resident set (the heap and stacks,
// without the file-backed pages of the embedded store's memory map).
type procMem struct {
	rss, peak, anon int64
}

func procMemory(pid int) procMem {
	var m procMem
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "VmRSS":
			dst = &m.rss
		case "VmHWM":
			dst = &m.peak
		case "RssAnon":
			dst = &m.anon
		default:
			continue
		}
		fields := strings.Fields(v) // "123456 kB"
		if len(fields) == 0 {
			continue
		}
		if n, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
			*dst = n << 10
		}
	}
	return m
}

// stop asks the child to shut down gracefully (SIGTERM, as Ctrl-C), kills
// it if it does not within the grace period, and waits for it.
func (c *child) stop(grace time.Duration) error {
	defer c.logFile.Close()
	select {
	case <-c.done:
		return c.exitErr()
	default:
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		_ = c.cmd.Process.Kill()
	}
	select {
	case <-c.done:
		return c.exitErr()
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("tenantsync did not stop within %s and was killed (see %s)", grace, c.logFile.Name())
	}
}

// kill stops the child at once.
func (c *child) kill() {
	select {
	case <-c.done:
	default:
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	c.logFile.Close()
}

func (c *child) exitErr() error {
	var ee *exec.ExitError
	if errors.As(c.waitErr, &ee) && !ee.Exited() {
		return nil // stopped by our signal
	}
	if c.waitErr != nil {
		return fmt.Errorf("tenantsync exited: %w (see %s)", c.waitErr, c.logFile.Name())
	}
	return nil
}
