package settings_test

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/internal/settings"
)

func TestAllIsWellFormed(t *testing.T) {
	// App setting names: letters, digits, underscores (the __ separator of
	// identity-based connections included); no dots or dashes, which Linux
	// app settings cannot carry.
	validName := regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	seen := map[string]bool{}
	for _, s := range settings.All() {
		if !validName.MatchString(s.Name) {
			t.Errorf("%q: not a valid app setting name", s.Name)
		}
		if seen[s.Name] {
			t.Errorf("%q: declared twice", s.Name)
		}
		seen[s.Name] = true
		if strings.TrimSpace(s.Doc) == "" {
			t.Errorf("%q: no Doc", s.Name)
		}
		if s.SetByHost && s.Optional {
			t.Errorf("%q: a setting the host sets is not optional in Azure", s.Name)
		}
		for _, r := range s.Replaces {
			if _, ok := settings.Find(r); !ok {
				t.Errorf("%q replaces undeclared %q", s.Name, r)
			}
		}
	}
	// Every name the brief and DESIGN.md list is declared.
	for _, name := range []string{
		"TENANTSYNC_CONFIG", "TENANTSYNC_CONFIG_JSON", "TENANTSYNC_TABLES", "TENANTSYNC_TABLE_PREFIX",
		"TENANTSYNC_STATE", "ServiceBusConnection__fullyQualifiedNamespace", "ServiceBusConnection",
		"ServiceBusConnection__clientId", "ServiceBusConnection__credential", "ServiceBusQueueName",
		"TENANTSYNC_WEBHOOK_URL", "ReconcileSchedule", "SubscriptionSchedule", "AZURE_CLIENT_ID",
		"FUNCTIONS_CUSTOMHANDLER_PORT",
	} {
		if !seen[name] {
			t.Errorf("%q is not declared", name)
		}
	}
}

func TestAllReturnsACopy(t *testing.T) {
	a := settings.All()
	a[0].Name = "CHANGED"
	if settings.All()[0].Name == "CHANGED" {
		t.Fatal("All shares its slice with callers")
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		setting   string
		wantValue string
		wantOK    bool
	}{
		{"unset takes the default", nil, settings.QueueName, "changes", false},
		{"set wins over the default", map[string]string{"ServiceBusQueueName": "other"}, settings.QueueName, "other", true},
		{"empty counts as unset", map[string]string{"ServiceBusQueueName": ""}, settings.QueueName, "changes", false},
		{"blank counts as unset", map[string]string{"ServiceBusQueueName": "  "}, settings.QueueName, "changes", false},
		{"surrounding space is trimmed", map[string]string{"ReconcileSchedule": " 0 * * * * * "}, settings.ReconcileSchedule, "0 * * * * *", true},
		{"no default", nil, settings.Tables, "", false},
		{"reconcile default", nil, settings.ReconcileSchedule, "0 */15 * * * *", false},
		{"subscription default", nil, settings.SubscriptionSchedule, "0 0 */6 * * *", false},
		{"config default", nil, settings.Config, "tenantsync.yaml", false},
		{"state default", nil, settings.State, ".tenantsync/state.db", false},
		{"names are case-sensitive", map[string]string{"servicebusqueuename": "x"}, settings.QueueName, "changes", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := settings.FromMap(tt.env)
			got, ok := env.Lookup(tt.setting)
			if got != tt.wantValue || ok != tt.wantOK {
				t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.setting, got, ok, tt.wantValue, tt.wantOK)
			}
			if g := env.Get(tt.setting); g != tt.wantValue {
				t.Errorf("Get(%q) = %q; want %q", tt.setting, g, tt.wantValue)
			}
		})
	}
}

func TestZeroEnvReadsNothing(t *testing.T) {
	var env settings.Env
	if v, ok := env.Lookup(settings.QueueName); ok || v != "changes" {
		t.Errorf("zero Env: Lookup = %q, %v; want the default, false", v, ok)
	}
}

func TestLookupUndeclaredPanics(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("Lookup of an undeclared name did not panic")
		}
		if !strings.Contains(r.(string), `"NOT_A_SETTING"`) {
			t.Errorf("panic %q does not name the setting", r)
		}
	}()
	settings.FromMap(nil).Lookup("NOT_A_SETTING")
}

// azureEnv is what infra/modules/app.bicep sets, plus the host's port.
func azureEnv() map[string]string {
	return map[string]string{
		"TENANTSYNC_TABLES":                             "https://st.table.core.windows.net/",
		"ServiceBusConnection__fullyQualifiedNamespace": "sb.servicebus.windows.net",
		"ServiceBusConnection__credential":              "managedidentity",
		"ServiceBusConnection__clientId":                "00000000-0000-0000-0000-000000000001",
		"ServiceBusQueueName":                           "changes",
		"TENANTSYNC_WEBHOOK_URL":                        "https://func.azurewebsites.net/api/GraphWebhook",
		"TENANTSYNC_FUNCTION_APP_ID":                    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/func",
		"ReconcileSchedule":                             "0 */15 * * * *",
		"SubscriptionSchedule":                          "0 0 */6 * * *",
		"AZURE_CLIENT_ID":                               "00000000-0000-0000-0000-000000000001",
		"FUNCTIONS_CUSTOMHANDLER_PORT":                  "40000",
	}
}

func TestMissingInAzure(t *testing.T) {
	without := func(names ...string) map[string]string {
		m := azureEnv()
		for _, n := range names {
			delete(m, n)
		}
		return m
	}
	with := func(m map[string]string, k, v string) map[string]string {
		m[k] = v
		return m
	}
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"complete", azureEnv(), nil},
		{"tables missing", without("TENANTSYNC_TABLES"), []string{"TENANTSYNC_TABLES"}},
		{"not started by the host", without("FUNCTIONS_CUSTOMHANDLER_PORT"), []string{"FUNCTIONS_CUSTOMHANDLER_PORT"}},
		{
			"identity settings missing",
			without("ServiceBusConnection__fullyQualifiedNamespace", "ServiceBusConnection__credential", "ServiceBusConnection__clientId"),
			[]string{"ServiceBusConnection__clientId", "ServiceBusConnection__credential", "ServiceBusConnection__fullyQualifiedNamespace"},
		},
		{
			"connection string replaces the identity settings",
			with(without("ServiceBusConnection__fullyQualifiedNamespace", "ServiceBusConnection__credential", "ServiceBusConnection__clientId"),
				"ServiceBusConnection", "Endpoint=sb://x/;SharedAccessKeyName=k;SharedAccessKey=v"),
			nil,
		},
		{"optional settings may be absent", without(), nil},
		{"everything missing", map[string]string{}, []string{
			"AZURE_CLIENT_ID", "FUNCTIONS_CUSTOMHANDLER_PORT", "ReconcileSchedule", "ServiceBusConnection__clientId",
			"ServiceBusConnection__credential", "ServiceBusConnection__fullyQualifiedNamespace", "ServiceBusQueueName",
			"SubscriptionSchedule", "TENANTSYNC_FUNCTION_APP_ID", "TENANTSYNC_TABLES", "TENANTSYNC_WEBHOOK_URL",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := settings.FromMap(tt.env).MissingInAzure()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("MissingInAzure() = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	const conn = "Endpoint=sb://x/;SharedAccessKeyName=k;SharedAccessKey=topsecret"
	env := settings.FromMap(map[string]string{
		"ServiceBusConnection": conn,
		"ServiceBusQueueName":  "q",
	})
	tests := []struct {
		name, setting, want string
	}{
		{"secret set", settings.ServiceBusConnectionString, "(set)"},
		{"plain set", settings.QueueName, "q"},
		{"unset with default", settings.ReconcileSchedule, "0 */15 * * * * (default)"},
		{"unset without default", settings.WebhookURL, "(unset)"},
		{"secret unset", settings.Tables, "(unset)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := env.Redacted(tt.setting)
			if got != tt.want {
				t.Errorf("Redacted(%q) = %q; want %q", tt.setting, got, tt.want)
			}
			if strings.Contains(got, "topsecret") {
				t.Errorf("Redacted(%q) leaks the secret", tt.setting)
			}
		})
	}
}

func TestVarReadsNamesFromTheConfig(t *testing.T) {
	env := settings.FromMap(map[string]string{"CONTOSO_SECRET": " s3cret ", settings.AzureClientID: "id"})
	tests := []struct{ name, want string }{
		{"CONTOSO_SECRET", "s3cret"},
		{"UNSET_VARIABLE", ""},
		{settings.AzureClientID, "id"},
	}
	for _, tt := range tests {
		if got := env.Var(tt.name); got != tt.want {
			t.Errorf("Var(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := (settings.Env{}).Var("CONTOSO_SECRET"); got != "" {
		t.Errorf("zero Env: Var = %q", got)
	}
}

func TestChildEnviron(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"nothing to drop", []string{"PATH=/bin", "HOME=/root"}, []string{"PATH=/bin", "HOME=/root"}},
		{"declared settings", []string{"PATH=/bin", settings.Tables + "=https://x.table.core.windows.net", settings.ReconcileSchedule + "=* * * * * *",
			settings.CustomHandlerPort + "=1", settings.QueueName + "=changes"}, []string{"PATH=/bin"}},
		{"prefixes", []string{"TENANTSYNC_SOMETHING_NEW=1", "ServiceBusConnection__tenantId=t", "HOME=/root"}, []string{"HOME=/root"}},
		{"azure credentials", []string{"AZURE_CLIENT_SECRET=s", "AZURE_TENANT_ID=t", "AZURE_FEDERATED_TOKEN_FILE=/f", "LANG=C"}, []string{"LANG=C"}},
		{"names only match whole", []string{"MY_TENANTSYNC_TABLES=x", "XAZURE_CLIENT_ID=y"}, []string{"MY_TENANTSYNC_TABLES=x", "XAZURE_CLIENT_ID=y"}},
		{"empty", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := settings.ChildEnviron(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("ChildEnviron(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
