package deploycheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func readDoc(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Issue 13 #2: always-ready instances for the http group, a parameter with
// a default of one, passed through to the site and documented with its cost.
func TestHTTPAlwaysReady(t *testing.T) {
	root := repoRoot(t)
	main := readBicep(t, filepath.Join(root, "infra/main.bicep"))
	p, ok := main.Param("httpAlwaysReadyInstances")
	if !ok || p.Type != "int" || p.Default != "1" {
		t.Errorf("main.bicep param httpAlwaysReadyInstances = %+v; want int = 1", p)
	}
	if v := mustParam(t, main, "app", "httpAlwaysReadyInstances"); v != "httpAlwaysReadyInstances" {
		t.Errorf("main.bicep passes httpAlwaysReadyInstances = %q to app", v)
	}
	app := readBicep(t, filepath.Join(root, "infra/modules/app.bicep"))
	cfg, ok := app.ModuleParam("functionApp", "functionAppConfig")
	if !ok {
		t.Fatal("app.bicep: the site has no functionAppConfig")
	}
	// functionAppConfig.scaleAndConcurrency.alwaysReady: [{name, instanceCount}]
	// (FunctionsAlwaysReadyConfig); "http" is the group of all HTTP functions.
	re := regexp.MustCompile(`(?s)scaleAndConcurrency: \{.*alwaysReady: httpAlwaysReadyInstances > 0\s*\?\s*\[\s*\{\s*name: 'http'\s*instanceCount: httpAlwaysReadyInstances\s*\}\s*\]\s*:\s*\[\]`)
	if !re.MatchString(cfg) {
		t.Errorf("app.bicep functionAppConfig.scaleAndConcurrency lacks alwaysReady [{name: 'http', instanceCount: httpAlwaysReadyInstances}]:\n%s", cfg)
	}
	guide := readDoc(t, "docs/deploy.md")
	for _, want := range []string{"`httpAlwaysReadyInstances`", "GB-s", "always ready"} {
		if !strings.Contains(guide, want) {
			t.Errorf("docs/deploy.md does not document the always-ready instances and their cost (%q)", want)
		}
	}
}

// Issue 13 #8: `language: custom` needs azd's alpha switch: README and the
// guide say so, and the preprovision hook checks it and says what to run.
func TestAlphaSwitchIsAPrerequisite(t *testing.T) {
	const enable = "azd config set alpha.language.custom on"
	for _, doc := range []string{"README.md", "docs/deploy.md", "infra/hooks/preprovision.sh", "infra/hooks/preprovision.ps1"} {
		if !strings.Contains(readDoc(t, doc), enable) {
			t.Errorf("%s does not say %q", doc, enable)
		}
	}
}

func TestPreprovisionHookChecksTheAlphaSwitch(t *testing.T) {
	root := repoRoot(t)
	hook := filepath.Join(root, "infra/hooks/preprovision.sh")
	if info, err := os.Stat(hook); err != nil || info.Mode()&0o111 == 0 {
		t.Fatalf("%s is missing or not executable", hook)
	}
	// A fake azd on PATH answers `azd config get KEY` as azd does: the JSON
	// value, or an error when the key is unset.
	fakeAzd := func(t *testing.T, values map[string]string) string {
		dir := t.TempDir()
		script := "#!/bin/sh\n[ \"$1 $2\" = \"config get\" ] || exit 2\ncase \"$3\" in\n"
		for k, v := range values {
			script += k + ") printf '\"%s\"\\n' '" + v + "' ;;\n"
		}
		script += "*) echo \"ERROR: no value at path '$3'\" >&2; exit 1 ;;\nesac\n"
		if err := os.WriteFile(filepath.Join(dir, "azd"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	tests := []struct {
		name   string
		env    []string
		azd    map[string]string // nil: no azd on PATH
		wantOK bool
	}{
		{"on in azd's config", nil, map[string]string{"alpha.language.custom": "on"}, true},
		{"all alpha features on", nil, map[string]string{"alpha.all": "on"}, true},
		{"off in azd's config", nil, map[string]string{"alpha.language.custom": "off"}, false},
		{"unset", nil, map[string]string{}, false},
		{"environment variable", []string{"AZD_ALPHA_ENABLE_LANGUAGE_CUSTOM=true"}, map[string]string{}, true},
		{"environment variable off wins", []string{"AZD_ALPHA_ENABLE_LANGUAGE_CUSTOM=false"}, map[string]string{"alpha.language.custom": "on"}, false},
		{"no azd on PATH", nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/usr/bin:/bin"
			if tt.azd != nil {
				path = fakeAzd(t, tt.azd) + ":" + path
			}
			cmd := exec.Command("sh", hook)
			cmd.Env = append([]string{"PATH=" + path}, tt.env...)
			out, err := cmd.CombinedOutput()
			if ok := err == nil; ok != tt.wantOK {
				t.Fatalf("hook ok = %v (%v); want %v:\n%s", ok, err, tt.wantOK, out)
			}
			if !tt.wantOK && !strings.Contains(string(out), "azd config set alpha.language.custom on") {
				t.Errorf("the hook does not say what to run:\n%s", out)
			}
		})
	}
}

func TestPreprovisionHookInAzureYAML(t *testing.T) {
	azure := readDoc(t, "azure.yaml")
	re := regexp.MustCompile(`(?s)\n  preprovision:\n    posix:\n      shell: sh\n      run: \./infra/hooks/preprovision\.sh\n    windows:\n      shell: pwsh\n      run: \./infra/hooks/preprovision\.ps1\n`)
	if !re.MatchString(azure) {
		t.Error("azure.yaml does not run infra/hooks/preprovision.sh (posix, sh) and preprovision.ps1 (windows, pwsh) before provisioning")
	}
}

// Issue 13 #9: a Standard namespace is not zone redundant (the AVM module's
// default is true, which needs Premium), and its host name comes from the
// namespace's own endpoint, not a public-cloud literal.
func TestServiceBusStandardAndCloudNeutral(t *testing.T) {
	sb := readBicep(t, filepath.Join(repoRoot(t), "infra/modules/servicebus.bicep"))
	if v := mustParam(t, sb, "namespace", "zoneRedundant"); v != "false" {
		t.Errorf("servicebus.bicep zoneRedundant = %q; want false (Standard)", v)
	}
	if v := mustParam(t, sb, "namespace", "skuObject"); !strings.Contains(v, "name: 'Standard'") {
		t.Errorf("servicebus.bicep skuObject = %s; want Standard", v)
	}
	expr, ok := sb.OutputExpr("fullyQualifiedNamespace")
	if !ok || strings.Contains(expr, "windows.net") || !strings.Contains(expr, "namespace.outputs.serviceBusEndpoint") {
		t.Errorf("servicebus.bicep fullyQualifiedNamespace = %s; want the host of namespace.outputs.serviceBusEndpoint", expr)
	}
	st := readBicep(t, filepath.Join(repoRoot(t), "infra/modules/storage.bicep"))
	if expr, _ := st.OutputExpr("tableEndpoint"); !strings.Contains(expr, "environment().suffixes.storage") {
		t.Errorf("storage.bicep tableEndpoint = %s; want environment().suffixes.storage", expr)
	}
	for _, f := range []string{"infra/main.bicep", "infra/modules/app.bicep", "infra/modules/servicebus.bicep", "infra/modules/storage.bicep"} {
		b := readBicep(t, filepath.Join(repoRoot(t), f))
		// Code only: comments and literal text are blank in Blank, so look
		// for the suffix in interpolations and string literals of Src
		// outside comments.
		code := regexp.MustCompile(`(?m)(^|\s)//.*$`).ReplaceAllString(b.Src, "")
		if strings.Contains(code, "servicebus.windows.net") || strings.Contains(code, "core.windows.net") {
			t.Errorf("%s hard-codes a public-cloud host suffix", f)
		}
	}
}

// Issue 13 #10: first-deployment races. The custom role's assignment waits
// for the definition, app role assignments reference the service principal
// they need, and the guide says what to do when a first run fails anyway.
func TestFirstDeploymentRaces(t *testing.T) {
	root := repoRoot(t)
	app := readBicep(t, filepath.Join(root, "infra/modules/app.bicep"))
	assign, ok := app.Resource("webhookKeyReaderAssignment")
	if !ok {
		t.Fatal("app.bicep has no webhookKeyReaderAssignment")
	}
	if v, _ := app.Value(assign, "dependsOn"); !regexp.MustCompile(`\bwebhookKeyReader\b`).MatchString(v) {
		t.Errorf("webhookKeyReaderAssignment dependsOn = %s; want webhookKeyReader (its role definition)", v)
	}
	for _, f := range []string{"infra/modules/graph-app.bicep", "infra/modules/operator-app.bicep"} {
		b := readBicep(t, filepath.Join(root, f))
		rs, err := b.Resources()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if !strings.HasPrefix(r.Type, "Microsoft.Graph/appRoleAssignedTo@") {
				continue
			}
			// A reference to the service principal resource orders the
			// assignment after it (an implicit dependency).
			v, _ := b.Value(r, "principalId")
			w, _ := b.Value(r, "resourceId")
			if !strings.HasSuffix(v, ".id") && !strings.HasSuffix(w, ".id") {
				t.Errorf("%s: %s references no service principal resource (principalId %s, resourceId %s)", f, r.Symbol, v, w)
			}
		}
	}
	guide := readDoc(t, "docs/deploy.md")
	for _, want := range []string{"If the first run fails", "RoleDefinitionDoesNotExist", "PrincipalNotFound", "azd provision"} {
		if !strings.Contains(guide, want) {
			t.Errorf("docs/deploy.md lacks %q (what to do when the first deployment fails)", want)
		}
	}
}

// Issue 18 #8: network rules for Storage and Service Bus, one parameter,
// off by default.
func TestNetworkRulesParameter(t *testing.T) {
	root := repoRoot(t)
	main := readBicep(t, filepath.Join(root, "infra/main.bicep"))
	p, ok := main.Param("allowedIpRanges")
	if !ok || p.Default != "[]" {
		t.Errorf("main.bicep param allowedIpRanges = %+v; want default [] (every network, as before)", p)
	}
	for _, m := range []string{"storage", "servicebus"} {
		if v := mustParam(t, main, m, "allowedIpRanges"); v != "allowedIpRanges" {
			t.Errorf("main.bicep passes allowedIpRanges = %q to %s", v, m)
		}
	}
	st := readBicep(t, filepath.Join(root, "infra/modules/storage.bicep"))
	acls := mustParam(t, st, "account", "networkAcls")
	for _, want := range []string{"defaultAction: empty(allowedIpRanges) ? 'Allow' : 'Deny'", "bypass: 'AzureServices'", "ipRules: ipRules"} {
		if !strings.Contains(acls, want) {
			t.Errorf("storage.bicep networkAcls lacks %q:\n%s", want, acls)
		}
	}
	sb := readBicep(t, filepath.Join(root, "infra/modules/servicebus.bicep"))
	if v := mustParam(t, sb, "namespace", "networkRuleSets"); !strings.HasPrefix(v, "empty(allowedIpRanges)") || !strings.Contains(v, "defaultAction: 'Deny'") {
		t.Errorf("servicebus.bicep networkRuleSets = %s; want none without ranges, Deny with them", v)
	}
	if !strings.Contains(readDoc(t, "docs/deploy.md"), "`allowedIpRanges`") {
		t.Error("docs/deploy.md does not document allowedIpRanges")
	}
}

// Issue 13: the guide's first-deployment checklist.
func TestFirstDeploymentChecklist(t *testing.T) {
	guide := readDoc(t, "docs/deploy.md")
	i := strings.Index(guide, "## First deployment")
	if i < 0 {
		t.Fatal("docs/deploy.md has no \"## First deployment\" section")
	}
	section := guide[i:]
	if j := strings.Index(section[3:], "\n## "); j >= 0 {
		section = section[:j+3]
	}
	for _, want := range []string{
		"azd config set alpha.language.custom on",
		"Owner", "User Access Administrator", "Privileged Role Administrator",
		"preprovision", "prepackage", "postprovision",
		"handler validate --online", "handler provision",
	} {
		if !strings.Contains(section, want) {
			t.Errorf("docs/deploy.md First deployment lacks %q", want)
		}
	}
}
