package deploycheck

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/tenantsync/tenantsync/internal/consent"
	"github.com/tenantsync/tenantsync/internal/settings"
)

// repoRoot returns the module root: the nearest directory above the test's
// working directory that holds go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's working directory")
		}
		dir = parent
	}
}

func readBicep(t *testing.T, path string) *Bicep {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseBicep(string(src))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

// bicepFiles returns main.bicep and every local module it reaches, keyed by
// path relative to the repository root.
func bicepFiles(t *testing.T) map[string]*Bicep {
	t.Helper()
	root := repoRoot(t)
	files := map[string]*Bicep{}
	var visit func(rel string)
	visit = func(rel string) {
		if files[rel] != nil {
			return
		}
		b := readBicep(t, filepath.Join(root, rel))
		files[rel] = b
		mods, err := b.Modules()
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		for _, m := range mods {
			if isRegistryRef(m.Path) {
				continue
			}
			child := filepath.ToSlash(filepath.Join(filepath.Dir(rel), m.Path))
			if _, err := os.Stat(filepath.Join(root, child)); err != nil {
				t.Errorf("%s: module %s: %s does not exist", rel, m.Symbol, child)
				continue
			}
			visit(child)
		}
	}
	visit("infra/main.bicep")
	return files
}

func isRegistryRef(path string) bool {
	return strings.HasPrefix(path, "br/") || strings.HasPrefix(path, "br:")
}

// Pinned Azure Verified Modules only: no floating versions.
var avmRef = regexp.MustCompile(`^br/public:avm/(res|ptn|utl)/[a-z0-9-]+(/[a-z0-9-]+)+:\d+\.\d+\.\d+$`)

func TestModulesExistAndArePinned(t *testing.T) {
	files := bicepFiles(t)
	want := []string{
		"infra/main.bicep", "infra/modules/app.bicep", "infra/modules/graph-app.bicep",
		"infra/modules/identity.bicep", "infra/modules/monitoring.bicep",
		"infra/modules/operator-app.bicep", "infra/modules/servicebus.bicep", "infra/modules/storage.bicep",
	}
	var got []string
	for rel := range files {
		got = append(got, rel)
	}
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("files reached from main.bicep = %q; want %q", got, want)
	}
	for rel, b := range files {
		mods, _ := b.Modules()
		for _, m := range mods {
			if isRegistryRef(m.Path) && !avmRef.MatchString(m.Path) {
				t.Errorf("%s: module %s: %q is not a pinned br/public:avm/... reference", rel, m.Symbol, m.Path)
			}
		}
	}
}

// Without a compiler, the parameters passed to each local module and the
// outputs read from it are the likeliest typos; check both against the module.
func TestLocalModuleParamsAndOutputs(t *testing.T) {
	files := bicepFiles(t)
	for rel, b := range files {
		mods, _ := b.Modules()
		local := map[string]*Bicep{}
		for _, m := range mods {
			if isRegistryRef(m.Path) {
				continue
			}
			child := files[filepath.ToSlash(filepath.Join(filepath.Dir(rel), m.Path))]
			if child == nil {
				continue // reported by bicepFiles
			}
			local[m.Symbol] = child
			declared := map[string]Param{}
			for _, p := range child.Params() {
				declared[p.Name] = p
			}
			passed := map[string]bool{}
			for _, name := range m.Params {
				passed[name] = true
				if _, ok := declared[name]; !ok {
					t.Errorf("%s: module %s passes %q, which %s does not declare", rel, m.Symbol, name, m.Path)
				}
			}
			for name, p := range declared {
				if !p.Optional && !passed[name] {
					t.Errorf("%s: module %s does not pass required parameter %q of %s", rel, m.Symbol, name, m.Path)
				}
			}
		}
		for _, r := range b.OutputRefs() {
			child := local[r.Symbol]
			if child == nil {
				continue // a registry module: its outputs are checked by reading its docs
			}
			found := false
			for _, o := range child.Outputs() {
				found = found || o == r.Output
			}
			if !found {
				t.Errorf("%s: %s.outputs.%s: the module declares no output %q", rel, r.Symbol, r.Output, r.Output)
			}
		}
	}
}

func TestParametersFileMatchesMainBicep(t *testing.T) {
	root := repoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "infra/main.parameters.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Parameters map[string]struct {
			Value any `json:"value"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatalf("main.parameters.json: %v", err)
	}
	main := readBicep(t, filepath.Join(root, "infra/main.bicep"))
	declared := map[string]Param{}
	for _, p := range main.Params() {
		declared[p.Name] = p
	}
	for name := range file.Parameters {
		if _, ok := declared[name]; !ok {
			t.Errorf("main.parameters.json sets %q, which main.bicep does not declare", name)
		}
	}
	// azd fills required parameters from the file; a missing one makes azd prompt.
	for name, p := range declared {
		if _, ok := file.Parameters[name]; !p.Optional && !ok {
			t.Errorf("main.bicep requires %q but main.parameters.json does not set it", name)
		}
	}
	for name, want := range map[string]string{
		"environmentName": "${AZURE_ENV_NAME}",
		"location":        "${AZURE_LOCATION}",
		"principalId":     "${AZURE_PRINCIPAL_ID}",
	} {
		if got := file.Parameters[name].Value; got != want {
			t.Errorf("main.parameters.json %s = %v; want %q", name, got, want)
		}
	}
}

// appSettings returns the app setting names infra/modules/app.bicep sets.
func appSettings(t *testing.T) map[string]bool {
	t.Helper()
	b := readBicep(t, filepath.Join(repoRoot(t), "infra/modules/app.bicep"))
	keys := map[string]bool{}
	for _, ks := range b.VarObjectKeys("Settings") {
		for _, k := range ks {
			keys[k] = true
		}
	}
	if len(keys) == 0 {
		t.Fatal("app.bicep: no app settings found in variables named *Settings")
	}
	return keys
}

func TestEverySettingAzureNeedsIsSet(t *testing.T) {
	keys := appSettings(t)
	for _, s := range settings.All() {
		if s.Optional || s.SetByHost {
			if s.SetByHost && keys[s.Name] {
				t.Errorf("app.bicep sets %s, which the Functions host sets", s.Name)
			}
			continue
		}
		if !keys[s.Name] {
			t.Errorf("app.bicep does not set %s (required in Azure: %s)", s.Name, s.Doc)
		}
	}
	// The other direction: every setting the Bicep sets is one tenantsync
	// declares, or one the Functions host documents.
	host := regexp.MustCompile(`^(AzureWebJobsStorage(__\w+)?|APPLICATIONINSIGHTS_(CONNECTION|AUTHENTICATION)_STRING)$`)
	for k := range keys {
		if _, ok := settings.Find(k); !ok && !host.MatchString(k) {
			t.Errorf("app.bicep sets %q, which internal/settings does not declare", k)
		}
	}
}

var settingRef = regexp.MustCompile(`%([A-Za-z0-9_]+)%`)

// functionJSON returns the function folders and their function.json.
func functionJSON(t *testing.T) map[string]map[string]any {
	t.Helper()
	root := repoRoot(t)
	paths, err := filepath.Glob(filepath.Join(root, "functions", "*", "function.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no functions/*/function.json: the function folders are missing")
	}
	out := map[string]map[string]any{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[filepath.Base(filepath.Dir(p))] = doc
	}
	return out
}

func TestFunctionBindingsResolve(t *testing.T) {
	keys := appSettings(t)
	for name, doc := range functionJSON(t) {
		bindings, _ := doc["bindings"].([]any)
		for _, raw := range bindings {
			binding, _ := raw.(map[string]any)
			for field, v := range binding {
				s, ok := v.(string)
				if !ok {
					continue
				}
				for _, m := range settingRef.FindAllStringSubmatch(s, -1) {
					if !keys[m[1]] {
						t.Errorf("functions/%s: %s %q refers to %%%s%%, which app.bicep does not set", name, field, s, m[1])
					}
					if _, ok := settings.Find(m[1]); !ok {
						t.Errorf("functions/%s: %%%s%% is not declared in internal/settings", name, m[1])
					}
				}
				if field != "connection" {
					continue
				}
				// A connection is a setting of that name (a connection
				// string) or settings prefixed name__ (identity-based).
				identity := keys[s+"__fullyQualifiedNamespace"] && keys[s+"__credential"] && keys[s+"__clientId"]
				if !keys[s] && !identity {
					t.Errorf("functions/%s: connection %q: app.bicep sets neither %s nor %s__fullyQualifiedNamespace, __credential and __clientId", name, s, s, s)
				}
			}
		}
	}
}

func TestAzureYAML(t *testing.T) {
	root := repoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "azure.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	type hook struct {
		Shell string `yaml:"shell"`
		Run   string `yaml:"run"`
	}
	type hookSet struct {
		Posix   hook `yaml:"posix"`
		Windows hook `yaml:"windows"`
	}
	var doc struct {
		Name     string `yaml:"name"`
		Services map[string]struct {
			Project     string             `yaml:"project"`
			Host        string             `yaml:"host"`
			Language    string             `yaml:"language"`
			Dist        string             `yaml:"dist"`
			RemoteBuild *bool              `yaml:"remoteBuild"`
			Hooks       map[string]hookSet `yaml:"hooks"`
		} `yaml:"services"`
		Hooks map[string]hookSet `yaml:"hooks"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("azure.yaml: %v", err)
	}
	if doc.Name != "tenantsync" {
		t.Errorf("name = %q; want tenantsync", doc.Name)
	}
	if len(doc.Services) != 1 {
		t.Errorf("services = %d; want one, app", len(doc.Services))
	}
	app, ok := doc.Services["app"]
	if !ok {
		t.Fatal("no service app")
	}
	if app.Host != "function" || app.Language != "custom" || app.Dist != "dist" || app.Project != "." {
		t.Errorf("service app = host %q language %q dist %q project %q; want function, custom, dist, .", app.Host, app.Language, app.Dist, app.Project)
	}
	if app.RemoteBuild == nil || *app.RemoteBuild {
		t.Error("service app: remoteBuild must be false: the package is ready to run")
	}
	pre := app.Hooks["prepackage"]
	if pre.Posix.Run != "make package" {
		t.Errorf("prepackage posix run = %q; want make package", pre.Posix.Run)
	}
	if pre.Windows.Shell != "pwsh" || !fileExists(root, pre.Windows.Run) {
		t.Errorf("prepackage windows = %+v: want pwsh and an existing script", pre.Windows)
	}
	post := doc.Hooks["postprovision"]
	if post.Posix.Shell != "sh" || !fileExists(root, post.Posix.Run) {
		t.Errorf("postprovision posix = %+v: want sh and an existing script", post.Posix)
	}
	if post.Windows.Shell != "pwsh" || !fileExists(root, post.Windows.Run) {
		t.Errorf("postprovision windows = %+v: want pwsh and an existing script", post.Windows)
	}
	if info, err := os.Stat(filepath.Join(root, post.Posix.Run)); err == nil && info.Mode()&0o111 == 0 {
		t.Errorf("%s is not executable", post.Posix.Run)
	}

	// azd finds the function app by the tag azd-service-name = the service name.
	appBicep := readBicep(t, filepath.Join(root, "infra/modules/app.bicep"))
	p, ok := appBicep.Param("serviceName")
	if !ok || p.Default != "'app'" {
		t.Errorf("app.bicep param serviceName = %+v; want default 'app', the azure.yaml service", p)
	}
	if !strings.Contains(appBicep.Src, "'azd-service-name': serviceName") {
		t.Error("app.bicep does not tag the function app azd-service-name: serviceName")
	}
	mainBicep := readBicep(t, filepath.Join(root, "infra/main.bicep"))
	mods, err := mainBicep.Modules()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		for _, p := range m.Params {
			if m.Path == "modules/app.bicep" && p == "serviceName" {
				t.Error("main.bicep overrides serviceName: the tag must stay equal to the azure.yaml service")
			}
		}
	}
}

func fileExists(root, rel string) bool {
	if rel == "" {
		return false
	}
	info, err := os.Stat(filepath.Join(root, rel))
	return err == nil && !info.IsDir()
}

func TestGraphExtensionConfigured(t *testing.T) {
	root := repoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "infra/bicepconfig.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Extensions map[string]string `json:"extensions"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("bicepconfig.json: %v", err)
	}
	graph := readBicep(t, filepath.Join(root, "infra/modules/graph-app.bicep"))
	exts := graph.Extensions()
	if len(exts) != 1 {
		t.Fatalf("graph-app.bicep imports extensions %q; want one", exts)
	}
	ref := cfg.Extensions[exts[0]]
	if !regexp.MustCompile(`^br:mcr\.microsoft\.com/bicep/extensions/microsoftgraph/v1\.0:\d+\.\d+\.\d+$`).MatchString(ref) {
		t.Errorf("bicepconfig.json alias %s = %q; want a pinned Microsoft Graph v1.0 dynamic types reference", exts[0], ref)
	}
	// The Graph app's credential trusts the identity. Its permissions are
	// TestGraphAppGrantsAreLeastPrivilege's.
	for _, want := range []string{
		"signInAudience: 'AzureADMultipleOrgs'",
		"'api://AzureADTokenExchange'",
		"/v2.0'",
		"subject: identityPrincipalId",
	} {
		if !strings.Contains(graph.Src, want) {
			t.Errorf("graph-app.bicep lacks %q", want)
		}
	}
}

// The consent URL template that main.bicep outputs must have the format of
// internal/consent, which `handler consent-url` uses.
func TestConsentTemplateOutputAgreesWithConsentPackage(t *testing.T) {
	main := readBicep(t, filepath.Join(repoRoot(t), "infra/main.bicep"))
	expr, ok := main.OutputExpr("TENANTSYNC_CONSENT_URL_TEMPLATE")
	if !ok {
		t.Fatal("main.bicep has no output TENANTSYNC_CONSENT_URL_TEMPLATE")
	}
	m := regexp.MustCompile(`\?\s*'([^']*)'`).FindStringSubmatch(expr)
	if m == nil {
		t.Fatalf("output expression %q: no template string", expr)
	}
	redirect, ok := main.Param("consentRedirectUri")
	if !ok {
		t.Fatal("main.bicep has no param consentRedirectUri")
	}
	redirectURI := strings.Trim(redirect.Default, "'")
	const appID = "11111111-2222-3333-4444-555555555555"
	// Evaluate the interpolations the way ARM would in the public cloud.
	got := strings.NewReplacer(
		"${environment().authentication.loginEndpoint}", "https://login.microsoftonline.com/",
		"${graphAppClientId}", appID,
		"${uriComponent(consentRedirectUri)}", consent.EscapeComponent(redirectURI),
	).Replace(m[1])
	want, err := consent.Template(appID, &consent.URLOptions{RedirectURI: redirectURI})
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("main.bicep template evaluates to\n %s\nconsent.Template gives\n %s", got, want)
	}
}

// Names azd stores and the hooks read must exist as outputs.
func TestHookInputsAreOutputs(t *testing.T) {
	root := repoRoot(t)
	main := readBicep(t, filepath.Join(root, "infra/main.bicep"))
	outputs := map[string]bool{}
	for _, o := range main.Outputs() {
		outputs[o] = true
	}
	for _, hook := range []string{"infra/hooks/postprovision.sh", "infra/hooks/postprovision.ps1"} {
		src, err := os.ReadFile(filepath.Join(root, hook))
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(`\$(?:\{|env:)([A-Z][A-Z0-9_]+)`)
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			name := m[1]
			if name == "TENANTSYNC_TARGET_TENANTS" {
				continue // set by the operator with azd env set
			}
			if !outputs[name] {
				t.Errorf("%s reads %s, which main.bicep does not output", hook, name)
			}
		}
	}
	for _, want := range []string{"AZURE_FUNCTION_APP_NAME", "TENANTSYNC_WEBHOOK_URL", "TENANTSYNC_TABLES",
		"SERVICEBUS_NAMESPACE_FQDN", "TENANTSYNC_APP_CLIENT_ID", "TENANTSYNC_CONSENT_URL_TEMPLATE"} {
		if !outputs[want] {
			t.Errorf("main.bicep does not output %s", want)
		}
	}
}

// docs/deploy.md documents every output an operator uses.
func TestDeployGuideListsOutputs(t *testing.T) {
	root := repoRoot(t)
	guide, err := os.ReadFile(filepath.Join(root, "docs/deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	main := readBicep(t, filepath.Join(root, "infra/main.bicep"))
	for _, o := range main.Outputs() {
		switch o {
		case "AZURE_LOCATION", "AZURE_TENANT_ID", "AZURE_RESOURCE_GROUP":
			continue // azd's own
		}
		if !strings.Contains(string(guide), "`"+o+"`") {
			t.Errorf("docs/deploy.md does not document the output %s", o)
		}
	}
}
