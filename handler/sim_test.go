package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/devtools/testenv"
)

// startSim runs "handler sim args..." until the returned stop is called.
func startSim(t *testing.T, args ...string) (out *testenv.Buffer, baseURLs []string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := newRootCmd()
	out = &testenv.Buffer{}
	cmd.SetOut(out)
	cmd.SetErr(&testenv.Buffer{})
	cmd.SetArgs(append([]string{"sim", "--listen", "127.0.0.1:0"}, args...))
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	re := regexp.MustCompile(`http://127\.0\.0\.1:\d+/[a-z.]+/v1\.0`)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if urls := re.FindAllString(out.String(), -1); len(urls) > 0 && strings.Contains(out.String(), "Ctrl-C") {
			baseURLs = urls
			break
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("sim exited early: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if baseURLs == nil {
		cancel()
		t.Fatalf("sim printed no base URLs:\n%s", out.String())
	}
	return out, baseURLs, func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("sim did not stop")
			return nil
		}
	}
}

func TestSimCommandDemoAndState(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	_, urls, stop := startSim(t, "--demo", "--state", state)
	if len(urls) != 2 || !strings.HasSuffix(urls[0], "/fabrikam.example/v1.0") || !strings.HasSuffix(urls[1], "/contoso.example/v1.0") {
		t.Fatalf("base URLs = %v", urls)
	}
	resp, err := http.Get(urls[0] + "/users?$top=1")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET users: %v %v", resp, err)
	}
	resp.Body.Close()
	inv := `{"invitedUserEmailAddress":"ann@fabrikam.example","inviteRedirectUrl":"https://myapps.microsoft.com"}`
	resp, err = http.Post(urls[1]+"/invitations", "application/json", strings.NewReader(inv))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("invite: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("state not saved: %v", err)
	}

	// A second run resumes from the state: Contoso keeps its invited user.
	out, urls, stop := startSim(t, "--state", state)
	if !strings.Contains(out.String(), "Loaded state from") {
		t.Errorf("second run did not say it loaded the state:\n%s", out.String())
	}
	resp, err = http.Get(urls[1] + "/users/ann_fabrikam.example%23EXT%23@contoso.onmicrosoft.com")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("invited user after reload: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

func TestSimCommandNeedsTenants(t *testing.T) {
	cmd := newRootCmd()
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{"sim", "--listen", "127.0.0.1:0"})
	err := cmd.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no tenants") {
		t.Errorf("err = %v, want a no-tenants error", err)
	}
}
