package deploycheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/internal/consent"
)

// runHook runs infra/hooks/postprovision.sh with only env in its environment
// (and PATH) and returns its standard output and error.
func runHook(t *testing.T, env map[string]string) (stdout, stderr string) {
	t.Helper()
	root := repoRoot(t)
	cmd := exec.Command("sh", filepath.Join(root, "infra/hooks/postprovision.sh"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("postprovision.sh: %v\n%s%s", err, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// The POSIX hook prints, for each target tenant, the same URL that
// internal/consent (and so `handler consent-url`) builds.
func TestPostprovisionHookPrintsConsentURLs(t *testing.T) {
	const appID = "11111111-2222-3333-4444-555555555555"
	opts := &consent.URLOptions{RedirectURI: "https://entra.microsoft.com/"}
	tmpl, err := consent.Template(appID, opts)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		targets string
		want    []string // tenants whose URL must be printed
		skipped []string // tenants refused
	}{
		{"one domain", "contoso.onmicrosoft.com", []string{"contoso.onmicrosoft.com"}, nil},
		{"space and comma separated", "contoso.example, aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee  fabrikam.example",
			[]string{"contoso.example", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "fabrikam.example"}, nil},
		{"hostile input is skipped, not substituted", "contoso.example evil|x a/b",
			[]string{"contoso.example"}, []string{"evil|x", "a/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut := runHook(t, map[string]string{
				"TENANTSYNC_CONSENT_URL_TEMPLATE": tmpl,
				"TENANTSYNC_APP_CLIENT_ID":        appID,
				"TENANTSYNC_TARGET_TENANTS":       tt.targets,
				"AZURE_FUNCTION_APP_NAME":         "func-tenantsync-abc",
			})
			printed := map[string]string{}
			for _, line := range strings.Split(out, "\n") {
				tenant, url, ok := strings.Cut(strings.TrimSpace(line), ": https://")
				if ok {
					printed[tenant] = "https://" + url
				}
			}
			for _, tenant := range tt.want {
				want, err := consent.URL(tenant, appID, opts)
				if err != nil {
					t.Fatal(err)
				}
				if printed[tenant] != want {
					t.Errorf("hook printed for %s\n %q\nconsent.URL gives\n %q", tenant, printed[tenant], want)
				}
			}
			if len(printed) != len(tt.want) {
				t.Errorf("hook printed %d URLs; want %d:\n%s", len(printed), len(tt.want), out)
			}
			for _, s := range tt.skipped {
				if !strings.Contains(errOut, s+": not a tenant id or domain, skipped") {
					t.Errorf("hook did not report %q as skipped; stderr:\n%s", s, errOut)
				}
			}
			if !strings.Contains(out, "func-tenantsync-abc") || !strings.Contains(out, "Next steps") {
				t.Errorf("hook output lacks the summary or the next steps:\n%s", out)
			}
		})
	}
}

func TestPostprovisionHookWithoutTargetsOrApp(t *testing.T) {
	const tmpl = "https://login.microsoftonline.com/{tenant}/adminconsent?client_id=11111111-2222-3333-4444-555555555555"
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"no targets: explain how to set them", map[string]string{"TENANTSYNC_CONSENT_URL_TEMPLATE": tmpl},
			[]string{"azd env set TENANTSYNC_TARGET_TENANTS", "URL template: " + tmpl}},
		{"no Graph app", map[string]string{},
			[]string{"The Graph app was not created", "handler consent-url --target NAME"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := runHook(t, tt.env)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("hook output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
