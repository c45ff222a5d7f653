package deploycheck

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/statuspage"
)

// moduleOutputSymbol returns X when expr is X.outputs.<output>.
func moduleOutputSymbol(expr, output string) string {
	m := regexp.MustCompile(`^([A-Za-z_]\w*)!?\.outputs\.` + output + `$`).FindStringSubmatch(strings.TrimSpace(expr))
	if m == nil {
		return ""
	}
	return m[1]
}

// Issue 18 #4, one identity per power: the identity the Graph app's
// federated credential trusts holds no Storage, Service Bus or other Azure
// role; it is attached to the app and named by its own setting; the
// runtime identity is not the one Graph trusts; the deployment identity has
// a role on the deployment container only.
func TestGraphIdentityHoldsNoAzureRole(t *testing.T) {
	root := repoRoot(t)
	main := readBicep(t, filepath.Join(root, "infra/main.bicep"))
	mods, err := main.Modules()
	if err != nil {
		t.Fatal(err)
	}
	subject, ok := main.ModuleParam("graphApp", "identityPrincipalId")
	if !ok {
		t.Fatal("main.bicep: module graphApp passes no identityPrincipalId")
	}
	graphID := moduleOutputSymbol(subject, "principalId")
	if graphID == "" {
		t.Fatalf("main.bicep: graphApp's identityPrincipalId = %q; want <identity module>.outputs.principalId", subject)
	}
	runtime, _ := main.ModuleParam("app", "identityPrincipalId")
	if moduleOutputSymbol(runtime, "principalId") == graphID {
		t.Fatalf("the Graph app trusts the runtime identity %s: give the federated credential an identity of its own", graphID)
	}
	// The Graph identity's principal goes to the Graph app and nowhere else:
	// every role assignment in infra/ takes its principal from a module
	// parameter, so no other module can give it a role.
	for _, m := range mods {
		for _, p := range m.Params {
			v, _ := main.ModuleParam(m.Symbol, p)
			if strings.Contains(v, graphID+".outputs.principalId") && !(m.Symbol == "graphApp" && p == "identityPrincipalId") {
				t.Errorf("main.bicep passes the Graph identity's principal to %s.%s: it must hold no Azure role", m.Symbol, p)
			}
		}
	}
	// Within the Graph app's module the principal is only the credential's subject.
	graph := readBicep(t, filepath.Join(root, "infra/modules/graph-app.bicep"))
	if n := strings.Count(graph.Blank, "identityPrincipalId"); n != 2 {
		t.Errorf("graph-app.bicep uses identityPrincipalId %d times; want its declaration and the federated credential's subject only", n-1)
	}
	for _, f := range []string{"storage.bicep", "servicebus.bicep", "monitoring.bicep", "app.bicep"} {
		b := readBicep(t, filepath.Join(root, "infra/modules", f))
		if strings.Contains(b.Blank, "graphIdentityPrincipalId") {
			t.Errorf("%s takes the Graph identity's principal id", f)
		}
	}

	// The app holds the Graph identity and the code finds it by its setting.
	for param, want := range map[string]string{"graphIdentityResourceId": "resourceId", "graphIdentityClientId": "clientId"} {
		v, _ := main.ModuleParam("app", param)
		if moduleOutputSymbol(v, want) != graphID {
			t.Errorf("main.bicep: app.%s = %q; want %s.outputs.%s", param, v, graphID, want)
		}
	}
	app := readBicep(t, filepath.Join(root, "infra/modules/app.bicep"))
	keys := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s*([A-Za-z_]\w*):\s*(\w+)\s*$`).FindAllStringSubmatch(app.Src, -1) {
		keys[m[1]] = m[2]
	}
	if keys[settings.GraphIdentityClientID] != "graphIdentityClientId" {
		t.Errorf("app.bicep sets %s to %q; want graphIdentityClientId", settings.GraphIdentityClientID, keys[settings.GraphIdentityClientID])
	}
	if keys[settings.AzureClientID] != "identityClientId" {
		t.Errorf("app.bicep sets %s to %q; want the runtime identity's identityClientId", settings.AzureClientID, keys[settings.AzureClientID])
	}
	if !regexp.MustCompile(`userAssignedResourceIds: \[[^\]]*\bgraphIdentityResourceId\b`).MatchString(app.Src) {
		t.Error("app.bicep does not attach the Graph identity to the function app")
	}

	// The deployment container: its identity's one role, at container scope.
	deployID := moduleOutputSymbol(mustParam(t, main, "app", "deploymentIdentityResourceId"), "resourceId")
	if deployID == "" || deployID == graphID || deployID == moduleOutputSymbol(runtime, "principalId") {
		t.Errorf("the deployment container's identity %q must be an identity of its own", deployID)
	}
	if got := mustParam(t, main, "storage", "deploymentIdentityPrincipalId"); moduleOutputSymbol(got, "principalId") != deployID {
		t.Errorf("main.bicep: storage.deploymentIdentityPrincipalId = %q; want %s.outputs.principalId", got, deployID)
	}
	storage := readBicep(t, filepath.Join(root, "infra/modules/storage.bicep"))
	containers := regexp.MustCompile(`(?s)containers: \[\s*\{\s*name: deploymentContainerName(.*?)\n        \}\n      \]`).FindStringSubmatch(storage.Src)
	if containers == nil || !strings.Contains(containers[1], "principalId: deploymentIdentityPrincipalId") {
		t.Error("storage.bicep: the deployment container has no role assignment for deploymentIdentityPrincipalId")
	}
	if n := strings.Count(storage.Blank, "deploymentIdentityPrincipalId"); n != 2 {
		t.Errorf("storage.bicep uses deploymentIdentityPrincipalId %d times; want its declaration and the container's role only", n)
	}
	if v, ok := readSiteModuleValue(t, app, "functionAppConfig"); !ok || !strings.Contains(v, "userAssignedIdentityResourceId: deploymentIdentityResourceId") {
		t.Error("app.bicep: the deployment storage does not authenticate with the deployment identity")
	}
}

func mustParam(t *testing.T, b *Bicep, module, param string) string {
	t.Helper()
	v, ok := b.ModuleParam(module, param)
	if !ok {
		t.Fatalf("module %s passes no %s", module, param)
	}
	return v
}

// readSiteModuleValue returns a parameter of app.bicep's web/site module.
func readSiteModuleValue(t *testing.T, app *Bicep, param string) (string, bool) {
	t.Helper()
	return app.ModuleParam("functionApp", param)
}

// Issue 18 #2: the status page is behind Entra authentication. App Service
// authentication is on for the whole app and requires a sign-in everywhere
// but the routes Graph calls with the function key (and the host's admin
// API); the Status function needs no key; the operator app admits only
// assigned users and its role is the one the page checks.
func TestStatusPageBehindEntraAuthentication(t *testing.T) {
	root := repoRoot(t)
	app := readBicep(t, filepath.Join(root, "infra/modules/app.bicep"))
	var auth Resource
	rs, err := app.Resources()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if name, _ := app.Value(r, "name"); strings.HasPrefix(r.Type, "Microsoft.Web/sites/config@") && name == "'authsettingsV2'" {
			auth = r
		}
	}
	if auth.Symbol == "" {
		t.Fatal("app.bicep declares no Microsoft.Web/sites/config 'authsettingsV2'")
	}
	want := map[string]string{
		"platform.enabled":                                                   "true",
		"globalValidation.requireAuthentication":                             "true",
		"globalValidation.unauthenticatedClientAction":                       "'RedirectToLoginPage'",
		"identityProviders.azureActiveDirectory.enabled":                     "true",
		"identityProviders.azureActiveDirectory.registration.clientId":       "statusPageClientId",
		"identityProviders.azureActiveDirectory.validation.allowedAudiences": "[\n            statusPageClientId\n          ]",
		"httpSettings.requireHttps":                                          "true",
	}
	for path, w := range want {
		got, ok := app.Value(auth, append([]string{"properties"}, strings.Split(path, ".")...)...)
		if !ok || got != w {
			t.Errorf("authsettingsV2 %s = %q (found %v); want %q", path, got, ok, w)
		}
	}
	issuer, _ := app.Value(auth, "properties", "identityProviders", "azureActiveDirectory", "registration", "openIdIssuer")
	if issuer != "'${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'" {
		t.Errorf("authsettingsV2 openIdIssuer = %s; want the source tenant's v2.0 issuer", issuer)
	}
	if cond := regexp.MustCompile(`resource ` + auth.Symbol + ` '[^']*' = if \((\w+)\)`).FindStringSubmatch(app.Src); cond == nil || cond[1] != "statusPageSignIn" {
		t.Errorf("authsettingsV2 is not conditional on statusPageSignIn: %v", cond)
	}

	// Exactly the key-protected routes are let through, under host.json's prefix.
	var host struct {
		Extensions struct {
			HTTP struct {
				RoutePrefix string `json:"routePrefix"`
			} `json:"http"`
		} `json:"extensions"`
	}
	raw, err := os.ReadFile(filepath.Join(root, "host.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &host); err != nil {
		t.Fatal(err)
	}
	var keyed []string
	statusAnonymous := false
	for name, doc := range functionJSON(t) {
		bindings, _ := doc["bindings"].([]any)
		for _, raw := range bindings {
			b, _ := raw.(map[string]any)
			if b["type"] != "httpTrigger" {
				continue
			}
			route, _ := b["route"].(string)
			switch level, _ := b["authLevel"].(string); {
			case name == "Status":
				statusAnonymous = level == "anonymous"
			case level == "function":
				keyed = append(keyed, "'/"+host.Extensions.HTTP.RoutePrefix+"/"+route+"'")
			default:
				t.Errorf("functions/%s: authLevel %q: only Status may be anonymous (behind App Service authentication)", name, level)
			}
		}
	}
	if !statusAnonymous {
		t.Error("functions/Status: authLevel must be anonymous: the operator signs in with Entra ID, no function key")
	}
	excluded := regexp.MustCompile(`(?s)var unauthenticatedPaths = \[(.*?)\]`).FindStringSubmatch(app.Src)
	if excluded == nil {
		t.Fatal("app.bicep has no unauthenticatedPaths list")
	}
	var paths []string
	for _, line := range strings.Split(excluded[1], "\n") {
		if line = strings.TrimSpace(line); line != "" {
			paths = append(paths, line)
		}
	}
	wantPaths := append(slices.Clone(keyed), "'/admin/*'")
	slices.Sort(paths)
	slices.Sort(wantPaths)
	if !slices.Equal(paths, wantPaths) {
		t.Errorf("App Service authentication lets through %v; want the function-key routes and the host's admin API %v", paths, wantPaths)
	}
	if v, _ := app.Value(auth, "properties", "globalValidation", "excludedPaths"); v != "unauthenticatedPaths" {
		t.Errorf("authsettingsV2 excludedPaths = %q; want unauthenticatedPaths", v)
	}

	// The app reads the operator app's id; the operator app admits only
	// assigned users, with the role the page checks.
	keys := appSettings(t)
	if !keys[settings.OperatorAppClientID] {
		t.Errorf("app.bicep does not set %s", settings.OperatorAppClientID)
	}
	op := readBicep(t, filepath.Join(root, "infra/modules/operator-app.bicep"))
	if !strings.Contains(op.Src, "var operatorRoleValue = '"+statuspage.OperatorRole+"'") {
		t.Errorf("operator-app.bicep's role is not statuspage.OperatorRole (%s)", statuspage.OperatorRole)
	}
	sp, ok := op.Resource("servicePrincipal")
	if v, _ := op.Value(sp, "appRoleAssignmentRequired"); !ok || v != "true" {
		t.Error("operator-app.bicep: the service principal must require role assignment (appRoleAssignmentRequired: true)")
	}
	oapp, _ := op.Resource("app")
	if v, _ := op.Value(oapp, "signInAudience"); v != "'AzureADMyOrg'" {
		t.Errorf("operator-app.bicep signInAudience = %s; want 'AzureADMyOrg'", v)
	}
	if v, _ := op.Value(oapp, "web", "redirectUris"); !strings.Contains(v, "redirectUri") {
		t.Error("operator-app.bicep registers no redirect URI")
	}
	if v, _ := app.ModuleParam("operatorApp", "redirectUri"); v != "'https://${functionApp.outputs.defaultHostname}/.auth/login/aad/callback'" {
		t.Errorf("app.bicep operatorApp redirectUri = %s; want App Service authentication's callback", v)
	}
	main := readBicep(t, filepath.Join(root, "infra/main.bicep"))
	if p, _ := main.Param("createOperatorApp"); p.Default != "true" {
		t.Errorf("main.bicep createOperatorApp default = %q; want true", p.Default)
	}
}
