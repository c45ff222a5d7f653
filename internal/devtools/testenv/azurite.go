// Package testenv starts the real services that tests run against, once per
// test binary: today Azurite's Table Storage emulator.
//
// Use it from TestMain:
//
//	var tables testenv.Tables
//
//	func TestMain(m *testing.M) { os.Exit(tables.Run(m)) }
//
//	func TestSomething(t *testing.T) {
//		conn := tables.ConnectionString(t) // fails the test if Azurite is not there
//		...
//	}
//
// If TENANTSYNC_TEST_TABLES is set, its value is used as the connection string
// and nothing is started. Otherwise azurite-table is looked up in the tools
// directory (TENANTSYNC_TOOLS, else .tools at the module root, where `make
// tools` installs it). A missing or broken Azurite fails the tests that need
// it, with the reason and the fix; it never skips them.
package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Environment variables read by this package.
const (
	// EnvTestTables holds a Table Storage connection string to use instead
	// of starting Azurite.
	EnvTestTables = "TENANTSYNC_TEST_TABLES"
	// EnvTools is the directory `make tools` installs into.
	EnvTools = "TENANTSYNC_TOOLS"
)

// Azurite's well-known development account. The key is public, documented
// by Microsoft, and only valid against the emulator.
const (
	devAccount = "devstoreaccount1"
	devKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// DevConnectionString returns the connection string of Azurite's development
// account with its table endpoint at host:port. aztables does not accept the
// shorthand UseDevelopmentStorage=true, so the full form is spelled out.
func DevConnectionString(host string, port int) string {
	return "DefaultEndpointsProtocol=http;AccountName=" + devAccount +
		";AccountKey=" + devKey +
		";TableEndpoint=http://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/" + devAccount + ";"
}

// startTimeout bounds how long Azurite may take to answer after it starts.
const startTimeout = 30 * time.Second

// Tables provides a Table Storage endpoint to the tests of one binary. The
// zero value is ready; call Run from TestMain.
type Tables struct {
	mu      sync.Mutex
	conn    string
	err     error
	azurite *Azurite
}

// Run starts Azurite (unless TENANTSYNC_TEST_TABLES is set), runs the tests
// and stops Azurite. It returns the exit code for os.Exit. If Azurite cannot
// be started, the tests still run and every test that asks for the
// connection string fails with the reason.
func (tb *Tables) Run(m *testing.M) int {
	tb.mu.Lock()
	if conn := os.Getenv(EnvTestTables); conn != "" {
		tb.conn = conn
	} else {
		a, err := StartAzurite(context.Background(), nil)
		if err != nil {
			tb.err = err
			fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		} else {
			tb.azurite = a
			tb.conn = a.ConnectionString()
		}
	}
	tb.mu.Unlock()

	code := m.Run()

	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.azurite != nil {
		if err := tb.azurite.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: stop azurite: %v\n", err)
		}
		tb.azurite = nil
	}
	return code
}

// ConnectionString returns the connection string of the Table Storage the
// tests use. It fails tb (never skips) if none could be provided.
func (tb *Tables) ConnectionString(t testing.TB) string {
	t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch {
	case tb.err != nil:
		t.Fatalf("Table Storage for tests: %v", tb.err)
	case tb.conn == "":
		t.Fatalf("Table Storage for tests: testenv.Tables.Run was not called from TestMain")
	}
	return tb.conn
}

// AzuriteOptions tune StartAzurite. The zero value is usable.
type AzuriteOptions struct {
	// ToolsDir is where `make tools` installed Azurite. Empty means
	// TENANTSYNC_TOOLS, else .tools at the module root found from the
	// working directory.
	ToolsDir string
	// OAuth serves HTTPS with a certificate made for the run and accepts
	// bearer tokens (Azurite's "basic" OAuth: it checks a token's issuer,
	// audience and lifetime, not its signature), as production signs in
	// with a managed identity. See Azurite.Endpoint, HTTPClient and
	// BearerToken.
	OAuth bool
}

// Azurite is a running azurite-table process, in memory, on a free port of
// 127.0.0.1.
type Azurite struct {
	cmd     *exec.Cmd
	port    int
	workDir string
	output  *Buffer
	done    chan struct{}
	waitErr error
	// certPool trusts the certificate of an OAuth (HTTPS) Azurite.
	certPool *x509.CertPool
}

// StartAzurite starts azurite-table on a free port of 127.0.0.1 with
// in-memory persistence and telemetry off, and waits until it answers.
func StartAzurite(ctx context.Context, opts *AzuriteOptions) (*Azurite, error) {
	if opts == nil {
		opts = &AzuriteOptions{}
	}
	bin, err := findAzurite(opts.ToolsDir)
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("node"); err != nil {
		return nil, errors.New("node is not on PATH; Azurite needs Node.js 20 (apt-get install nodejs npm), then run `make tools`")
	}
	var lastErr error
	// The port is chosen by listening on :0 and closing; another process may
	// take it before Azurite binds, so try a few times.
	for range 3 {
		a, err := startAzuriteOnce(ctx, bin, opts.OAuth)
		if err == nil {
			return a, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startAzuriteOnce(ctx context.Context, bin string, oauth bool) (*Azurite, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("find a free port for azurite: %w", err)
	}
	workDir, err := os.MkdirTemp("", "tenantsync-azurite-")
	if err != nil {
		return nil, fmt.Errorf("start azurite: %w", err)
	}
	a := &Azurite{port: port, workDir: workDir, output: &Buffer{Limit: 8 << 10}, done: make(chan struct{})}
	args := []string{
		"--inMemoryPersistence",
		"--disableTelemetry",
		"--silent",
		"--tableHost", "127.0.0.1",
		"--tablePort", strconv.Itoa(port),
	}
	if oauth {
		certFile, keyFile, pool, err := writeCertificate(workDir)
		if err != nil {
			_ = os.RemoveAll(workDir)
			return nil, fmt.Errorf("start azurite: %w", err)
		}
		a.certPool = pool
		args = append(args, "--oauth", "basic", "--cert", certFile, "--key", keyFile)
	}
	a.cmd = exec.Command(bin, args...)
	a.cmd.Dir = workDir
	a.cmd.Stdout = a.output
	a.cmd.Stderr = a.output
	setParentDeathSignal(a.cmd)
	if err := a.cmd.Start(); err != nil {
		_ = os.RemoveAll(workDir)
		return nil, fmt.Errorf("start %s: %w (reinstall with `make tools`)", bin, err)
	}
	go func() {
		a.waitErr = a.cmd.Wait()
		close(a.done)
	}()
	if err := a.waitReady(ctx); err != nil {
		_ = a.Stop()
		return nil, err
	}
	return a, nil
}

// waitReady polls the port until Azurite accepts connections, it exits, or
// the start timeout passes.
func (a *Azurite) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(a.port))
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-a.done:
			return fmt.Errorf("azurite-table exited before answering (%v): %s", a.waitErr, strings.TrimSpace(a.output.String()))
		case <-ctx.Done():
			return fmt.Errorf("azurite-table did not answer on %s within %s: %s", addr, startTimeout, strings.TrimSpace(a.output.String()))
		case <-tick.C:
		}
		d := net.Dialer{Timeout: time.Second}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = conn.Close()
			return nil
		}
	}
}

// ConnectionString returns the development-account connection string for
// this Azurite.
func (a *Azurite) ConnectionString() string {
	if a.certPool != nil {
		return strings.Replace(DevConnectionString("127.0.0.1", a.port), "http://", "https://", 1)
	}
	return DevConnectionString("127.0.0.1", a.port)
}

// Endpoint returns the table endpoint URL of the development account.
func (a *Azurite) Endpoint() string {
	scheme := "http"
	if a.certPool != nil {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(a.port)) + "/" + devAccount
}

// HTTPClient returns a client that trusts this Azurite's certificate (for
// an OAuth Azurite; any client works for the plain one).
func (a *Azurite) HTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: a.certPool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: t}
}

// BearerToken returns a token an OAuth Azurite accepts for Table Storage,
// valid for an hour. It is unsigned: Azurite does not check signatures.
func BearerToken() string {
	now := time.Now().Unix()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	header := enc(map[string]string{"alg": "RS256", "typ": "JWT"})
	claims := enc(map[string]any{
		"aud": "https://storage.azure.com",
		"iss": "https://sts.windows.net/00000000-0000-0000-0000-000000000000/",
		"iat": now - 60, "nbf": now - 60, "exp": now + 3600,
		"oid": "11111111-1111-1111-1111-111111111111",
	})
	return header + "." + claims + "." + base64.RawURLEncoding.EncodeToString([]byte("unsigned"))
}

// Port returns the table port Azurite listens on.
func (a *Azurite) Port() int { return a.port }

// Stop ends the Azurite process and removes its working directory.
func (a *Azurite) Stop() error {
	defer os.RemoveAll(a.workDir)
	select {
	case <-a.done:
		return nil
	default:
	}
	_ = a.cmd.Process.Signal(os.Interrupt)
	select {
	case <-a.done:
		return nil
	case <-time.After(5 * time.Second):
	}
	if err := a.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("kill azurite (pid %d): %w", a.cmd.Process.Pid, err)
	}
	<-a.done
	return nil
}

// findAzurite returns the path of the azurite-table script.
func findAzurite(toolsDir string) (string, error) {
	const fix = "install it with `make tools` (or `npm install --prefix .tools azurite@3.35.0` at the module root), or set " + EnvTestTables + " to a Table Storage connection string"
	if toolsDir == "" {
		toolsDir = os.Getenv(EnvTools)
	}
	if toolsDir == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", fmt.Errorf("find the tools directory: %w; %s", err, fix)
		}
		toolsDir = filepath.Join(root, ".tools")
	}
	bin := filepath.Join(toolsDir, "node_modules", ".bin", "azurite-table")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("azurite-table not found at %s: %s", bin, fix)
	}
	return bin, nil
}

// moduleRoot walks up from the working directory to the directory holding
// go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
