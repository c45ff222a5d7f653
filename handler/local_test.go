package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/devtools/testenv"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/statuspage"
	"github.com/tenantsync/tenantsync/internal/store/storeopen/localadmin"
)

// runningLocal is `handler local` running in this process, as an admin
// starts it in a terminal.
type runningLocal struct {
	t         *testing.T
	out, logs *testenv.Buffer
	statusURL string
	adminFile string
	cancel    context.CancelFunc
	done      chan error
	stopped   bool
}

var startedLine = regexp.MustCompile(`tenantsync is running: status page (http://\S+?)(?:,| \(Ctrl-C)`)

// startLocal runs `handler local --listen 127.0.0.1:0 -v args…` with the
// settings vars until the test ends, and waits until it is running.
func startLocal(t *testing.T, vars map[string]string, args ...string) *runningLocal {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &runningLocal{t: t, out: &testenv.Buffer{}, logs: &testenv.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	cmd := newLocalCmdWithEnv(settings.FromMap(vars))
	cmd.SetOut(l.out)
	cmd.SetErr(l.logs)
	cmd.SetArgs(append([]string{"--listen", "127.0.0.1:0", "-v"}, args...))
	go func() { l.done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() { l.stop() })
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(l.out.String(), "reach it through") {
		select {
		case err := <-l.done:
			l.stopped = true
			t.Fatalf("local exited at start: %v\nstdout: %s\nlogs: %s", err, l.out, l.logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("local did not start:\nstdout: %s\nlogs: %s", l.out, l.logs)
		}
	}
	m := startedLine.FindStringSubmatch(l.out.String())
	if m == nil {
		t.Fatalf("local printed no status URL:\n%s", l.out)
	}
	l.statusURL = m[1]
	l.adminFile = localadmin.FileFor(vars[settings.State])
	return l
}

// stop stops local and checks that it stopped cleanly and removed its
// admin file.
func (l *runningLocal) stop() {
	if l.stopped {
		return
	}
	l.stopped = true
	l.cancel()
	select {
	case err := <-l.done:
		if err != nil {
			l.t.Errorf("local stopped with %v\nlogs: %s", err, l.logs)
		}
	case <-time.After(30 * time.Second):
		l.t.Errorf("local did not stop")
		return
	}
	if _, err := os.Stat(l.adminFile); !os.IsNotExist(err) {
		l.t.Errorf("admin file %s after local stopped: %v", l.adminFile, err)
	}
}

// idle waits until local's queue has held no message for a while, as its
// status page shows.
func (l *runningLocal) idle() {
	l.t.Helper()
	quiet := 0
	base, token, _ := strings.Cut(l.statusURL, "/?token=")
	testenv.WaitFor(l.t, 30*time.Second, "local to be idle", func() bool {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/status?format=json", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			l.t.Fatal(err)
		}
		defer resp.Body.Close()
		var s statuspage.Snapshot
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			l.t.Fatalf("status page: %d: %v", resp.StatusCode, err)
		}
		p := s.Pipeline
		if p["queueVisibleMessages"]+p["queueScheduledMessages"]+p["queueLockedMessages"] == 0 {
			quiet++
		} else {
			quiet = 0
		}
		time.Sleep(20 * time.Millisecond)
		return quiet >= 10
	})
}

// admin reads the running local's admin file.
func (l *runningLocal) admin() localadmin.File {
	l.t.Helper()
	f, err := localadmin.ReadFile(l.adminFile)
	if err != nil {
		l.t.Fatal(err)
	}
	return f
}

// TestLocalOperatorCommands runs the operator commands against a running
// local on the embedded store, which it holds: they reach its store through
// the admin endpoint, exactly as they reach Table Storage. Two users leave
// at once with the deletion guard's threshold at 1; the status page would
// tell the admin to approve; deletions list, status and deletions approve
// do so while local runs. A wrong token is refused, and no token shows in
// any output or log.
func TestLocalOperatorCommands(t *testing.T) {
	e := newTestEnv(t, configOptions{threshold: 1})
	l := startLocal(t, e.vars)
	testenv.WaitFor(t, 30*time.Second, "the initial sync", func() bool { return len(e.targetUsers(tgtDomain)) == 3 })
	abs, err := filepath.Abs(e.state)
	if err != nil {
		t.Fatal(err)
	}
	var outputs []string
	run := func(args ...string) string {
		t.Helper()
		start := time.Now()
		r := e.run(append(args, "-v")...) // -v: the logs too must not show a token
		if r.failed {
			t.Fatalf("%s: %s\nstdout: %s", strings.Join(args, " "), r.stderr, r.stdout)
		}
		if took := time.Since(start); took > 4*time.Second {
			t.Errorf("%s took %s: it waited for the state file's lock", strings.Join(args, " "), took)
		}
		outputs = append(outputs, r.stdout, r.stderr)
		return r.stdout
	}

	// The links are final a moment after the target users appear.
	var status string
	testenv.WaitFor(t, 10*time.Second, "status to show the initial sync", func() bool {
		status = run("status")
		return strings.Contains(status, "linked users      3: 3 active")
	})
	if !strings.Contains(status, "State: embedded store in "+abs+", through the handler local running on it (pid ") {
		t.Errorf("status while local runs:\n%s", status)
	}

	e.graphCall(srcDomain, "DELETE", "/groups/"+groupID+"/members/"+benID+"/$ref", "")
	e.graphCall(srcDomain, "DELETE", "/groups/"+groupID+"/members/"+danID+"/$ref", "")
	var list struct {
		Deletions []statuspage.Deletion `json:"deletions"`
	}
	testenv.WaitFor(t, 30*time.Second, "local to stage both deletions", func() bool {
		decodeJSON(t, e.mustRun("deletions", "list", "--target", "contoso", "--json"), &list)
		return len(list.Deletions) == 2
	})
	if text := run("deletions", "list"); !strings.Contains(text, "2 staged deletions. Approve with `deletions approve") {
		t.Errorf("deletions list while local runs:\n%s", text)
	}
	if status := run("status"); !strings.Contains(status, "staged deletions  2 waiting, 0 approved") {
		t.Errorf("status with staged deletions:\n%s", status)
	}
	if plan := run("plan", "--target", "contoso"); !strings.Contains(plan, "contoso") {
		t.Errorf("plan while local runs:\n%s", plan)
	}
	// Local may still be handling the notifications about ben, and would
	// carry out his deletion itself once approved: the command would then
	// find the user gone. Approve once it is idle, as an admin would.
	l.idle()

	approved := run("deletions", "approve", "--target", "contoso", benID)
	if !regexp.MustCompile(`deprovision +` + regexp.QuoteMeta(benUPN)).MatchString(approved) {
		t.Errorf("deletions approve while local runs:\n%s", approved)
	}
	if users := e.targetUsers(tgtDomain); users[benUPN] != nil || users[danUPN] == nil || users[adeleUPN] == nil {
		t.Errorf("target users after approving ben: %v; want exactly ben gone", users)
	}
	decodeJSON(t, run("deletions", "list", "--json"), &list)
	if len(list.Deletions) != 1 || list.Deletions[0].SourceID != danID {
		t.Errorf("staged deletions after approving ben: %+v", list.Deletions)
	}
	if out := run("resume", "--target", "contoso"); out != "contoso was not quarantined.\n" {
		t.Errorf("resume while local runs: %q", out)
	}
	if out := run("provision", "--user", adeleUPN); !strings.Contains(out, adeleUPN) {
		t.Errorf("provision while local runs:\n%s", out)
	}
	if out := run("reconcile", "--full", "--no-wait"); !strings.Contains(out, "by action") {
		t.Errorf("reconcile while local runs:\n%s", out)
	}

	// The endpoint refuses a wrong token, and a command with a spoilt
	// admin file fails at once, saying why, rather than waiting for the
	// lock.
	f := l.admin()
	req, _ := http.NewRequest(http.MethodGet, f.URL+"/v1/ping", nil)
	req.Header.Set("Authorization", "Bearer "+localadmin.NewToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d, want 401", resp.StatusCode)
	}
	spoilt := f
	spoilt.Token = localadmin.NewToken()
	if err := localadmin.WriteFile(l.adminFile, spoilt); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := e.run("deletions", "list")
	if !r.failed || !strings.Contains(r.stderr, "the running handler local refused the admin file's token") || time.Since(start) > 4*time.Second {
		t.Errorf("deletions list with a wrong token: failed=%v after %s: %s", r.failed, time.Since(start), r.stderr)
	}
	if err := localadmin.WriteFile(l.adminFile, f); err != nil {
		t.Fatal(err)
	}

	// A second local on the same state file is refused at once.
	second := runLocalOnce(t, e.vars)
	if !second.failed || !strings.Contains(second.stderr, "handler local already runs on "+e.state+" (pid ") {
		t.Errorf("a second local: failed=%v: %s", second.failed, second.stderr)
	}

	outputs = append(outputs, l.out.String(), l.logs.String(), r.stdout, r.stderr)
	for _, out := range outputs {
		if strings.Contains(out, f.Token) || strings.Contains(out, spoilt.Token) {
			t.Errorf("an admin token shows in:\n%s", out)
		}
	}
	statusToken := strings.TrimPrefix(l.statusURL[strings.Index(l.statusURL, "?"):], "?token=")
	if strings.Contains(l.logs.String(), statusToken) {
		t.Errorf("the status page's token is in the log:\n%s", l.logs)
	}
}

// TestLocalOnTableStorage runs local with its store in Table Storage
// (Azurite): its queue stays in the state file, it syncs, and the
// operator commands read Table Storage while it runs.
func TestLocalOnTableStorage(t *testing.T) {
	az, err := testenv.StartAzurite(t.Context(), nil)
	if err != nil {
		t.Fatalf("Azurite: %v", err)
	}
	t.Cleanup(func() { az.Stop() })
	e := newTestEnv(t, configOptions{})
	e.vars[settings.Tables] = az.ConnectionString()
	e.vars[settings.TablePrefix] = "localtest"

	l := startLocal(t, e.vars)
	testenv.WaitFor(t, 30*time.Second, "the initial sync", func() bool { return len(e.targetUsers(tgtDomain)) == 3 })
	e.graphCall(srcDomain, "PATCH", "/users/"+adeleID, `{"department":"Marketing"}`)
	testenv.WaitFor(t, 30*time.Second, "the change to reach the target", func() bool {
		return e.targetUsers(tgtDomain)[adeleUPN]["department"] == "Marketing"
	})

	if _, err := os.Stat(e.state); err != nil {
		t.Errorf("the queue's state file: %v", err)
	}
	if f := l.admin(); f.Store {
		t.Errorf("the admin file says local serves its store from the state file: %+v", f.State)
	}
	status := e.mustRun("status")
	if !strings.Contains(status, "State: Table Storage at ") || !strings.Contains(status, "linked users      3: 3 active") {
		t.Errorf("status of Table Storage while local runs:\n%s", status)
	}
	second := runLocalOnce(t, e.vars)
	if !second.failed || !strings.Contains(second.stderr, "open the queue file "+e.state+": a handler local (pid ") {
		t.Errorf("a second local on the same queue: failed=%v: %s", second.failed, second.stderr)
	}
}

// TestLocalPrintsNoKey: with TENANTSYNC_WEBHOOK_URL carrying a key, local
// prints and logs the notification URL without it. The URL names the
// listener as localhost, so the simulator's validation reaches it.
func TestLocalPrintsNoKey(t *testing.T) {
	const key = "K3y-0f-the-webhook"
	e := newTestEnv(t, configOptions{})
	addr := closedPort(t)
	_, port, _ := net.SplitHostPort(addr)
	e.vars[settings.WebhookURL] = "http://localhost:" + port + "/api/GraphWebhook?code=" + key
	l := startLocal(t, e.vars, "--listen", addr)
	want := "notifications at http://localhost:" + port + "/api/GraphWebhook?… (Ctrl-C stops)"
	if !strings.Contains(l.out.String(), want) {
		t.Errorf("stdout:\n%s\nwant it to say %q", l.out, want)
	}
	if !strings.Contains(l.logs.String(), "answered Graph's validation handshake") {
		t.Errorf("the simulator did not validate the webhook through the configured URL:\n%s", l.logs)
	}
	for what, out := range map[string]string{"stdout": l.out.String(), "log": l.logs.String()} {
		if strings.Contains(out, key) {
			t.Errorf("the %s shows the key:\n%s", what, out)
		}
	}
	resp, err := http.Get(l.statusURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the printed status URL: %d", resp.StatusCode)
	}
}

// TestLocalWarnsOnNonLoopbackListen: a listener on every interface is
// allowed, and warned about.
func TestLocalWarnsOnNonLoopbackListen(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	l := startLocal(t, e.vars, "--listen", "0.0.0.0:0", "--notifications=false")
	if !strings.Contains(l.logs.String(), "WARNING: --listen 0.0.0.0:0 is not a loopback address") ||
		!strings.Contains(l.logs.String(), "the listener is not on loopback") {
		t.Errorf("no warning:\n%s", l.logs)
	}
	if !strings.HasPrefix(l.statusURL, "http://127.0.0.1:") {
		t.Errorf("status URL %s, want it on 127.0.0.1", l.statusURL)
	}
}

// runLocalOnce runs `handler local` with the settings vars, for one that
// must fail at start.
func runLocalOnce(t *testing.T, vars map[string]string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := newLocalCmdWithEnv(settings.FromMap(vars))
	out, errb := &testenv.Buffer{}, &testenv.Buffer{}
	cmd.SetOut(out)
	cmd.SetErr(errb)
	cmd.SetArgs([]string{"--listen", "127.0.0.1:0"})
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		errb.Write([]byte(errorLine(err) + "\n"))
	}
	return result{stdout: out.String(), stderr: errb.String(), failed: err != nil}
}

// TestLocalWithoutConfig: a run without a config fails saying so, and
// creates no state file.
func TestLocalWithoutConfig(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state", "state.db")
	missing := filepath.Join(dir, "tenantsync.yaml")
	r := runLocalOnce(t, map[string]string{settings.Config: missing, settings.State: state})
	if !r.failed || !strings.Contains(r.stderr, "error: no config: "+missing+" does not exist") {
		t.Errorf("local without a config: failed=%v: %s", r.failed, r.stderr)
	}
	if _, err := os.Stat(filepath.Dir(state)); !os.IsNotExist(err) {
		t.Errorf("the state directory was created: %v", err)
	}
}
