package customhandler

// Checks of the function app's definition files at the repository root:
// host.json, local.settings.sample.json and functions/*/function.json. They
// live here because the custom handler serves exactly what those files
// declare.

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

const repoRoot = "../.."

// readStrictJSON decodes a definition file, rejecting trailing data.
func readStrictJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if dec.More() {
		t.Fatalf("%s: data after the JSON value", path)
	}
}

// bindingSchema lists, per binding type, the direction the type requires and
// the properties the Functions runtime knows, so that a typo such as
// "runsOnStartup" fails here instead of being ignored in Azure.
var bindingSchema = map[string]struct {
	direction string
	trigger   bool
	props     []string
}{
	"httpTrigger":       {"in", true, []string{"authLevel", "methods", "route"}},
	"http":              {"out", false, nil},
	"serviceBusTrigger": {"in", true, []string{"queueName", "topicName", "subscriptionName", "connection", "isSessionsEnabled", "cardinality", "autoCompleteMessages", "dataType"}},
	"timerTrigger":      {"in", true, []string{"schedule", "runOnStartup", "useMonitor"}},
}

// settingsFromDesign are the settings of DESIGN.md's Settings table.
var settingsFromDesign = []string{
	"TENANTSYNC_CONFIG", "TENANTSYNC_TABLES", "TENANTSYNC_STATE", "ServiceBusQueueName",
	"TENANTSYNC_WEBHOOK_URL", "ReconcileSchedule", "SubscriptionSchedule",
}

type localSettings struct {
	IsEncrypted bool
	Values      map[string]string
}

func loadLocalSettings(t *testing.T) localSettings {
	t.Helper()
	var ls localSettings
	readStrictJSON(t, filepath.Join(repoRoot, "local.settings.sample.json"), &ls)
	return ls
}

func TestLocalSettingsSample(t *testing.T) {
	ls := loadLocalSettings(t)
	if ls.IsEncrypted {
		t.Error("IsEncrypted is true")
	}
	if got := ls.Values["FUNCTIONS_WORKER_RUNTIME"]; !strings.EqualFold(got, "custom") {
		t.Errorf("FUNCTIONS_WORKER_RUNTIME = %q, want custom", got)
	}
	if s := ls.Values["AzureWebJobsStorage"]; !strings.Contains(s, "devstoreaccount1") {
		t.Errorf("AzureWebJobsStorage = %q, want Azurite", s)
	}
	for _, name := range settingsFromDesign {
		if _, ok := ls.Values[name]; !ok {
			t.Errorf("setting %s missing", name)
		}
	}
	if ls.Values["ServiceBusConnection"] == "" && ls.Values["ServiceBusConnection__fullyQualifiedNamespace"] == "" {
		t.Error("no ServiceBusConnection or ServiceBusConnection__fullyQualifiedNamespace")
	}
	// Safe local values: nothing that points at a real Azure account.
	for name, v := range ls.Values {
		if strings.Contains(v, ".windows.net") || strings.Contains(v, ".azure.com") {
			t.Errorf("setting %s points at Azure: %q", name, v)
		}
	}
}

func TestHostJSON(t *testing.T) {
	var host struct {
		Version         string
		FunctionTimeout string
		CustomHandler   struct {
			Description struct {
				DefaultExecutablePath string
				WorkingDirectory      *string
				Arguments             []string
			}
			EnableForwardingHttpRequest bool
		}
		ExtensionBundle struct{ ID, Version string }
		Extensions      struct {
			HTTP struct {
				RoutePrefix string
			}
			ServiceBus map[string]json.RawMessage
		}
		Logging struct {
			ApplicationInsights struct {
				SamplingSettings struct {
					IsEnabled     *bool
					ExcludedTypes string
				}
			}
		}
	}
	readStrictJSON(t, filepath.Join(repoRoot, "host.json"), &host)
	checks := []struct {
		what      string
		got, want any
	}{
		{"version", host.Version, "2.0"},
		{"customHandler.description.defaultExecutablePath", host.CustomHandler.Description.DefaultExecutablePath, "handler"},
		{"customHandler.description.workingDirectory present", host.CustomHandler.Description.WorkingDirectory != nil, true},
		{"customHandler.description.arguments (none: no subcommand serves the host)", len(host.CustomHandler.Description.Arguments), 0},
		{"customHandler.enableForwardingHttpRequest", host.CustomHandler.EnableForwardingHttpRequest, true},
		{"extensionBundle.id", host.ExtensionBundle.ID, "Microsoft.Azure.Functions.ExtensionBundle"},
		{"extensionBundle.version", host.ExtensionBundle.Version, "[4.*, 5.0.0)"},
		{"extensions.http.routePrefix", host.Extensions.HTTP.RoutePrefix, "api"},
		{"sampling on", host.Logging.ApplicationInsights.SamplingSettings.IsEnabled != nil && *host.Logging.ApplicationInsights.SamplingSettings.IsEnabled, true},
		{"requests and exceptions never sampled away", host.Logging.ApplicationInsights.SamplingSettings.ExcludedTypes, "Request;Exception"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	timeout, err := parseTimeSpan(host.FunctionTimeout)
	if err != nil || timeout < 5*time.Minute {
		t.Errorf("functionTimeout %q: %v (want a time span of at least 5 minutes)", host.FunctionTimeout, err)
	}
	// The Service Bus extension 5.x names (the 4.x messageHandlerOptions and
	// sessionHandlerOptions objects are ignored by 5.x).
	known := []string{"clientRetryOptions", "prefetchCount", "transportType", "webProxy", "autoCompleteMessages",
		"maxAutoLockRenewalDuration", "maxConcurrentCalls", "maxConcurrentSessions", "maxMessageBatchSize",
		"minMessageBatchSize", "maxBatchWaitTime", "sessionIdleTimeout", "enableCrossEntityTransactions"}
	for k := range host.Extensions.ServiceBus {
		if !slices.Contains(known, k) {
			t.Errorf("extensions.serviceBus.%s is not a Service Bus extension 5.x setting", k)
		}
	}
	for _, k := range []string{"maxConcurrentSessions", "sessionIdleTimeout", "maxAutoLockRenewalDuration", "autoCompleteMessages"} {
		if _, ok := host.Extensions.ServiceBus[k]; !ok {
			t.Errorf("extensions.serviceBus.%s not set", k)
		}
	}
	var auto bool
	if err := json.Unmarshal(host.Extensions.ServiceBus["autoCompleteMessages"], &auto); err != nil || !auto {
		// Only C# functions can settle messages themselves.
		t.Errorf("extensions.serviceBus.autoCompleteMessages = %s, want true", host.Extensions.ServiceBus["autoCompleteMessages"])
	}
	for _, k := range []string{"sessionIdleTimeout", "maxAutoLockRenewalDuration"} {
		var s string
		if err := json.Unmarshal(host.Extensions.ServiceBus[k], &s); err != nil {
			t.Errorf("extensions.serviceBus.%s: %v", k, err)
			continue
		}
		if _, err := parseTimeSpan(s); err != nil {
			t.Errorf("extensions.serviceBus.%s = %q: %v", k, s, err)
		}
	}
}

// parseTimeSpan parses a .NET TimeSpan of the form hh:mm:ss.
func parseTimeSpan(s string) (time.Duration, error) {
	t, err := time.Parse("15:04:05", s)
	if err != nil {
		return 0, err
	}
	return t.Sub(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)), nil
}

type functionDef struct {
	Bindings []map[string]any
}

func TestFunctionDefinitions(t *testing.T) {
	ls := loadLocalSettings(t)
	settingRef := regexp.MustCompile(`%([^%]+)%`)
	ncrontab := cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

	// What each function must declare beyond the general rules.
	type trigger struct {
		typ   string
		props map[string]any
	}
	// Status is anonymous for the host: App Service authentication signs
	// the operator in and the page checks the role (statuspage.RequireOperator).
	want := map[string]trigger{
		"GraphWebhook":        {"httpTrigger", map[string]any{"authLevel": "function", "methods": []any{"post"}, "route": "GraphWebhook"}},
		"GraphLifecycle":      {"httpTrigger", map[string]any{"authLevel": "function", "methods": []any{"post"}, "route": "GraphLifecycle"}},
		"Status":              {"httpTrigger", map[string]any{"authLevel": "anonymous", "methods": []any{"get"}, "route": "status"}},
		"ProcessChange":       {"serviceBusTrigger", map[string]any{"name": "message", "queueName": "%ServiceBusQueueName%", "connection": "ServiceBusConnection", "isSessionsEnabled": true}},
		"Reconcile":           {"timerTrigger", map[string]any{"name": "timer", "schedule": "%ReconcileSchedule%", "runOnStartup": false}},
		"SubscriptionManager": {"timerTrigger", map[string]any{"name": "timer", "schedule": "%SubscriptionSchedule%", "runOnStartup": true}},
	}

	dirs, err := filepath.Glob(filepath.Join(repoRoot, "functions", "*", "function.json"))
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, path := range dirs {
		name := filepath.Base(filepath.Dir(path))
		found = append(found, name)
		t.Run(name, func(t *testing.T) {
			var def functionDef
			readStrictJSON(t, path, &def)
			triggers := 0
			var types []string
			for i, b := range def.Bindings {
				typ, _ := b["type"].(string)
				dir, _ := b["direction"].(string)
				bname, _ := b["name"].(string)
				types = append(types, typ)
				schema, ok := bindingSchema[typ]
				if !ok {
					t.Errorf("binding %d: unknown type %q", i, typ)
					continue
				}
				if dir != schema.direction {
					t.Errorf("binding %d (%s): direction %q, want %q", i, typ, dir, schema.direction)
				}
				if bname == "" {
					t.Errorf("binding %d (%s): no name", i, typ)
				}
				if schema.trigger {
					triggers++
				}
				for k, v := range b {
					if k != "type" && k != "direction" && k != "name" && !slices.Contains(schema.props, k) {
						t.Errorf("binding %d (%s): unknown property %q", i, typ, k)
					}
					s, _ := v.(string)
					for _, m := range settingRef.FindAllStringSubmatch(s, -1) {
						if _, ok := ls.Values[m[1]]; !ok {
							t.Errorf("binding %d: %s refers to setting %s, which local.settings.sample.json lacks", i, k, m[1])
						}
					}
				}
				if conn, ok := b["connection"].(string); ok {
					_, plain := ls.Values[conn]
					_, identity := ls.Values[conn+"__fullyQualifiedNamespace"]
					if !plain && !identity {
						t.Errorf("binding %d: connection %s has no setting", i, conn)
					}
				}
				if sched, ok := b["schedule"].(string); ok {
					expr := settingRef.ReplaceAllStringFunc(sched, func(ref string) string { return ls.Values[strings.Trim(ref, "%")] })
					if _, err := ncrontab.Parse(expr); err != nil {
						t.Errorf("binding %d: schedule %q (%q) is not a six-field NCRONTAB expression: %v", i, sched, expr, err)
					}
				}
			}
			if triggers != 1 {
				t.Errorf("%d triggers, want 1", triggers)
			}
			// Forwarding applies only to functions whose bindings are exactly
			// httpTrigger in and http out.
			if slices.Contains(types, "httpTrigger") && !slices.Equal(types, []string{"httpTrigger", "http"}) {
				t.Errorf("HTTP function bindings %v, want exactly [httpTrigger http] so that the host forwards the request", types)
			}
			w, ok := want[name]
			if !ok {
				t.Fatalf("function %s is not one the custom handler serves", name)
			}
			var trig map[string]any
			for _, b := range def.Bindings {
				if b["type"] == w.typ {
					trig = b
				}
			}
			if trig == nil {
				t.Fatalf("no %s binding", w.typ)
			}
			for k, v := range w.props {
				got, _ := json.Marshal(trig[k])
				exp, _ := json.Marshal(v)
				if !bytes.Equal(got, exp) {
					t.Errorf("%s.%s = %s, want %s", w.typ, k, got, exp)
				}
			}
		})
	}
	var names []string
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	sort.Strings(found)
	if !slices.Equal(found, names) {
		t.Errorf("functions = %v, want %v", found, names)
	}
}
