// Package settings names every app setting and environment variable that
// tenantsync or its Functions host reads, with its default and whether an
// Azure deployment must set it.
//
// It is the one place those names live: code reads settings through an Env
// built from a getenv function (handler/ passes os.Getenv), never through the
// os package, and the deployment check in internal/devtools/deploycheck holds the Bicep
// app settings to this list. Locally the same names are environment variables;
// in Azure they are app settings.
package settings

import (
	"fmt"
	"sort"
	"strings"
)

// Names of the settings. Use these constants rather than string literals so
// that a typo is a compile error.
const (
	// Config is the path of the configuration file.
	Config = "TENANTSYNC_CONFIG"
	// ConfigJSON holds the whole configuration as JSON; it wins over Config.
	ConfigJSON = "TENANTSYNC_CONFIG_JSON"
	// Tables selects Table Storage: an endpoint URL (managed identity) or a
	// connection string.
	Tables = "TENANTSYNC_TABLES"
	// TablePrefix is prepended to every table name.
	TablePrefix = "TENANTSYNC_TABLE_PREFIX"
	// State is the embedded store's file.
	State = "TENANTSYNC_STATE"
	// ServiceBusNamespace is the fully qualified Service Bus namespace for an
	// identity-based connection.
	ServiceBusNamespace = "ServiceBusConnection__fullyQualifiedNamespace"
	// ServiceBusConnectionString is the connection string alternative.
	ServiceBusConnectionString = "ServiceBusConnection"
	// ServiceBusCredential tells the Functions host to use a managed identity.
	ServiceBusCredential = "ServiceBusConnection__credential"
	// ServiceBusClientID selects the user-assigned identity the host uses.
	ServiceBusClientID = "ServiceBusConnection__clientId"
	// QueueName is the Service Bus queue of change messages.
	QueueName = "ServiceBusQueueName"
	// WebhookURL is the public URL of GraphWebhook.
	WebhookURL = "TENANTSYNC_WEBHOOK_URL"
	// FunctionAppID is the Azure resource id of the function app.
	FunctionAppID = "TENANTSYNC_FUNCTION_APP_ID"
	// ReconcileSchedule is the NCRONTAB schedule of the Reconcile timer.
	ReconcileSchedule = "ReconcileSchedule"
	// SubscriptionSchedule is the NCRONTAB schedule of SubscriptionManager.
	SubscriptionSchedule = "SubscriptionSchedule"
	// LogRetention is how long provisioning events are kept.
	LogRetention = "TENANTSYNC_LOG_RETENTION"
	// AzureClientID is the client id of the user-assigned managed identity.
	AzureClientID = "AZURE_CLIENT_ID"
	// GraphIdentityClientID is the client id of the user-assigned managed
	// identity that the Graph app's federated credential trusts.
	GraphIdentityClientID = "TENANTSYNC_GRAPH_IDENTITY_CLIENT_ID"
	// OperatorAppClientID is the client id of the Entra app that App Service
	// authentication signs operators in with, in front of the status page.
	OperatorAppClientID = "TENANTSYNC_OPERATOR_APP_CLIENT_ID"
	// CustomHandlerPort is the port the Functions host expects the custom
	// handler to listen on.
	CustomHandlerPort = "FUNCTIONS_CUSTOMHANDLER_PORT"
)

// Setting describes one app setting or environment variable.
type Setting struct {
	// Name is the exact, case-sensitive name of the setting.
	Name string
	// Default is the value used when the setting is unset or empty; empty
	// means the setting has no default (unset has a meaning of its own, given
	// in Doc).
	Default string
	// Doc says what the setting is for and what happens when it is unset.
	Doc string
	// Optional is true when an Azure deployment may leave the setting unset.
	// Every setting that is not Optional and not SetByHost must be set by the
	// Bicep in infra/ (internal/devtools/deploycheck checks it).
	Optional bool
	// Secret is true when the value is a credential: never log or print it.
	Secret bool
	// SetByHost is true for settings the Functions host gives the handler
	// process; a deployment must not set them.
	SetByHost bool
	// ReadByHost is true for settings only the Functions host reads (binding
	// connections), not tenantsync's own code.
	ReadByHost bool
	// Replaces lists settings that need not be set when this one is: a
	// connection string stands in for the identity-based settings.
	Replaces []string
}

// all builds the list afresh on each call, so callers cannot change it for others.
func all() []Setting {
	return []Setting{
		{
			Name:     Config,
			Default:  "tenantsync.yaml",
			Doc:      "Path of the configuration file (YAML), relative to the working directory. Ignored when " + ConfigJSON + " is set. In Azure the file is packaged next to host.json by `make package`.",
			Optional: true,
		},
		{
			Name:     ConfigJSON,
			Doc:      "The whole configuration as one JSON document, the same schema as tenantsync.yaml. When set it wins over " + Config + ". Unset: read the file.",
			Optional: true,
		},
		{
			Name: Tables,
			Doc: "Table Storage holding tenantsync's state: the table endpoint URL (https://<account>.table.core.windows.net/, " +
				"reached with the managed identity) or a connection string (Azurite, local runs). Unset: the embedded store in " + State +
				", which only `handler local` and the operator commands on one machine may use; an Azure deployment must set it.",
			// A connection string carries an account key.
			Secret: true,
		},
		{
			Name:     TablePrefix,
			Doc:      "Prefix for every table name, so that several installations can share one storage account. Unset: no prefix.",
			Optional: true,
		},
		{
			Name:     State,
			Default:  ".tenantsync/state.db",
			Doc:      "File of the embedded store used when " + Tables + " is unset (`handler local`).",
			Optional: true,
		},
		{
			Name: ServiceBusNamespace,
			Doc: "Fully qualified Service Bus namespace (<name>.servicebus.windows.net) for the identity-based connection named ServiceBusConnection, " +
				"used by the ProcessChange trigger and by the code that enqueues changes. Unset (with " + ServiceBusConnectionString +
				" unset too): the embedded queue of `handler local`.",
		},
		{
			Name:     ServiceBusConnectionString,
			Doc:      "Service Bus connection string, the alternative to the identity-based ServiceBusConnection__* settings (the deployment disables local auth, so it is for other setups only).",
			Optional: true,
			Secret:   true,
			Replaces: []string{ServiceBusNamespace, ServiceBusCredential, ServiceBusClientID},
		},
		{
			Name:       ServiceBusCredential,
			Doc:        "Credential kind of the identity-based Service Bus connection; the Functions host reads it. The deployment sets managedidentity.",
			ReadByHost: true,
		},
		{
			Name:       ServiceBusClientID,
			Doc:        "Client id of the user-assigned managed identity the Functions host uses for the Service Bus trigger.",
			ReadByHost: true,
		},
		{
			Name:    QueueName,
			Default: "changes",
			Doc:     "Name of the Service Bus queue of change messages (sessions enabled). function.json refers to it as %ServiceBusQueueName%, so Azure must set it.",
		},
		{
			Name: WebhookURL,
			Doc: "Public URL of the GraphWebhook function that Graph calls, without the function key (https://<host>/api/GraphWebhook); " +
				"GraphLifecycle is at the same host with its own name as the last segment. The key is added at run time: see " + FunctionAppID +
				". Unset: derived from --listen in `handler local`.",
		},
		{
			Name: FunctionAppID,
			Doc: "Azure resource id of the function app. The code lists a function's keys through Azure Resource Manager " +
				"(POST https://management.azure.com<id>/functions/<name>/listkeys?api-version=2024-04-01 with the managed identity; " +
				"the action Microsoft.Web/sites/functions/listkeys/action is granted by a custom role on the app) and appends the default key as ?code= " +
				"to the GraphWebhook and GraphLifecycle URLs when it creates or renews Graph subscriptions. Unset: " + WebhookURL + " is used as it is.",
		},
		{
			Name:    ReconcileSchedule,
			Default: "0 */15 * * * *",
			Doc:     "NCRONTAB (six fields) schedule of the Reconcile timer: every 15 minutes by default. function.json refers to it as %ReconcileSchedule%.",
		},
		{
			Name:    SubscriptionSchedule,
			Default: "0 0 */6 * * *",
			Doc:     "NCRONTAB (six fields) schedule of SubscriptionManager, which creates and renews Graph subscriptions: every 6 hours by default. function.json refers to it as %SubscriptionSchedule%.",
		},
		{
			Name:     LogRetention,
			Default:  "720h",
			Optional: true,
			Doc:      "How long the provisioning log keeps events (handler log, the status page), as a Go duration: 30 days (720h) by default. The Reconcile timer deletes older ones once a day.",
		},
		{
			Name: AzureClientID,
			Doc:  "Client id of the user-assigned managed identity that azidentity uses for tenantsync's own Azure resources (Table Storage, Service Bus, the function key); the Graph app's federated credential uses " + GraphIdentityClientID + " instead when that is set. Unset: the system-assigned identity or a developer credential.",
		},
		{
			Name: GraphIdentityClientID,
			Doc: "Client id of the user-assigned managed identity whose token is the client assertion of the Graph app " +
				"(auth.method managedIdentityFederated): the identity the app's federated credential trusts. It holds no Azure role, " +
				"so that the identity with Storage and Service Bus rights cannot sign in to any tenant, and this one can do nothing else. " +
				"A tenant's auth.managedIdentityClientId wins over it. Unset: " + AzureClientID + " (one identity for everything, as before; " +
				"the deployment always sets it, which internal/devtools/deploycheck holds).",
			Optional: true,
		},
		{
			Name: OperatorAppClientID,
			Doc: "Client id of the Entra app that App Service authentication signs operators in with, in front of the status page. " +
				"Under the Functions host the status page answers only requests that the platform authenticated for this app " +
				"(the X-MS-CLIENT-PRINCIPAL header, whose aud claim must be this id) with the operator app role. " +
				"Unset: the status page refuses every request in Azure (it is unused by `handler local`, which has its own token).",
			Optional: true,
		},
		{
			Name:      CustomHandlerPort,
			Doc:       "Port the Functions host forwards invocations to; set by the host. With no subcommand the handler serves the host only when it is set.",
			SetByHost: true,
		},
	}
}

// All returns every setting, in a stable order. The slice is a fresh copy.
func All() []Setting {
	return all()
}

// Find returns the setting named name and whether it exists.
func Find(name string) (Setting, bool) {
	for _, s := range all() {
		if s.Name == name {
			return s, true
		}
	}
	return Setting{}, false
}

// Env reads settings through a getenv function such as os.Getenv. An empty
// value counts as unset, as Azure app settings cannot tell the two apart.
// The zero Env reads nothing: every setting is unset.
type Env struct {
	getenv func(name string) string
}

// NewEnv returns an Env that reads settings with getenv. handler/ passes
// os.Getenv; tests pass a map lookup.
func NewEnv(getenv func(name string) string) Env {
	return Env{getenv: getenv}
}

// FromMap returns an Env that reads settings from m.
func FromMap(m map[string]string) Env {
	return NewEnv(func(name string) string { return m[name] })
}

// Lookup returns the value of the named setting and whether it is set. When
// it is unset, Lookup returns the setting's default and false. Looking up a
// name that is not declared in All is a programming error and panics, so that
// every setting the code reads is listed here.
func (e Env) Lookup(name string) (value string, ok bool) {
	s, declared := Find(name)
	if !declared {
		panic(fmt.Sprintf("settings: %q is not declared in settings.All", name))
	}
	if e.getenv != nil {
		if v := strings.TrimSpace(e.getenv(name)); v != "" {
			return v, true
		}
	}
	return s.Default, false
}

// Get returns the value of the named setting, or its default when unset.
func (e Env) Get(name string) string {
	v, _ := e.Lookup(name)
	return v
}

// Var reads an environment variable that the configuration names rather
// than this package, such as a target's auth.secretEnv: its name is the
// operator's choice, so it cannot be declared in All. An empty value counts
// as unset, as for settings.
func (e Env) Var(name string) string {
	if e.getenv == nil {
		return ""
	}
	return strings.TrimSpace(e.getenv(name))
}

// MissingInAzure returns the names of the settings an Azure deployment must
// set that are unset in e, sorted. A setting counts as set when a setting
// that replaces it is set (ServiceBusConnection stands in for the identity
// settings). Settings the host sets are included: their absence means the
// process was not started by the Functions host.
func (e Env) MissingInAzure() []string {
	replaced := map[string]bool{}
	for _, s := range all() {
		if _, ok := e.Lookup(s.Name); ok {
			for _, r := range s.Replaces {
				replaced[r] = true
			}
		}
	}
	var missing []string
	for _, s := range all() {
		if s.Optional || replaced[s.Name] {
			continue
		}
		if _, ok := e.Lookup(s.Name); !ok {
			missing = append(missing, s.Name)
		}
	}
	sort.Strings(missing)
	return missing
}

// Redacted returns the value of the named setting as it may appear in logs
// and status output: secrets become "(set)" or "(unset)".
func (e Env) Redacted(name string) string {
	v, ok := e.Lookup(name)
	s, _ := Find(name)
	switch {
	case s.Secret && ok:
		return "(set)"
	case !ok && v == "":
		return "(unset)"
	case !ok:
		return v + " (default)"
	}
	return v
}

// ChildEnviron returns parent, an environment in os.Environ's form, without
// anything that would point a tenantsync process at real resources: every
// setting declared here, anything starting with TENANTSYNC_ or ServiceBus,
// and the AZURE_* credential variables azidentity reads. The chaos suite and
// the benchmarks start `handler local` with it and add only what they mean
// the child to use, so that an operator's shell cannot send a test run to a
// production store or tenant.
func ChildEnviron(parent []string) []string {
	var out []string
	for _, kv := range parent {
		name, _, _ := strings.Cut(kv, "=")
		if _, declared := Find(name); declared ||
			strings.HasPrefix(name, "TENANTSYNC_") || strings.HasPrefix(name, "ServiceBus") ||
			strings.HasPrefix(name, "AZURE_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}
