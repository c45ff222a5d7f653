package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/mapping"
	"github.com/tenantsync/tenantsync/internal/scope"
)

const (
	appID   = "11111111-1111-4111-8111-111111111111"
	example = "../../docs/tenantsync.example.yaml"
)

// source is line 1 of every test document.
const source = "source: {tenant: fabrikam.example, auth: {clientId: " + appID + "}}\n"

// doc builds a test document: the source on line 1, "targets:" on line 2,
// and one target whose name, tenant and auth are lines 3 to 5. The extra
// lines, indented as the target's keys, start on line 6.
func doc(extra ...string) string {
	var b strings.Builder
	b.WriteString(source)
	b.WriteString("targets:\n  - name: contoso\n    tenant: contoso.example\n    auth: {clientId: " + appID + "}\n")
	for _, l := range extra {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

// all is the smallest scope that selects someone.
const all = "scope: {all: true}"

func TestExampleValidates(t *testing.T) {
	c, err := Load(example)
	if err != nil {
		t.Fatalf("the example config does not validate:\n%v", err)
	}
	if len(c.Targets) != 1 {
		t.Fatalf("got %d targets, want 1", len(c.Targets))
	}
	tg := c.Targets[0]
	fabrikam := "Fabrikam"
	staff := "Staff"
	driftRepair := true
	delay := Duration(time.Minute)
	want := Target{
		Name: "contoso",
		Tenant: Tenant{Tenant: "contoso.example", Graph: DefaultGraph,
			Auth: Auth{Method: AuthManagedIdentityFederated, ClientID: "00000000-0000-4000-8000-000000000abc"}},
		UserType:          Member,
		InviteRedirectURL: "https://myapps.microsoft.com",
		InviteAddress:     "Coalesce([mail], [userPrincipalName])",
		Anchor:            "onPremisesExtensionAttributes.extensionAttribute15",
		Scope: Scope{
			Groups: []string{"Cross-tenant sync"},
			Filters: []scope.Filter{
				{{Attribute: "department", Operator: scope.Equals, Value: "Sales"}, {Attribute: "accountEnabled", Operator: scope.IsTrue}},
				{{Attribute: "jobTitle", Operator: scope.RegexMatch, Value: "^Director"}},
			},
		},
		Mappings: []mapping.Rule{
			{Target: "displayName", Expression: `Append([displayName], " (Fabrikam)")`},
			{Target: "companyName", Constant: &fabrikam},
			{Target: "jobTitle", Source: "jobTitle", Default: &staff, Apply: mapping.Always},
			{Target: "mobilePhone", Ignore: true},
		},
		Deprovision: Deprovision{Action: DeprovisionDelete, Threshold: 500, Window: Duration(time.Hour), Delay: &delay},
		DriftRepair: &driftRepair,
	}
	if !reflect.DeepEqual(tg, want) {
		t.Errorf("example target\n got %+v\nwant %+v", tg, want)
	}
	if c.Source.Tenant != "fabrikam.example" || c.Source.Auth.ClientID == "" {
		t.Errorf("example source = %+v", c.Source)
	}
}

// TestExampleAsJSON feeds the example, converted to JSON, to ParseJSON (the
// app-setting form) and to Parse, and expects the same config as the YAML.
func TestExampleAsJSON(t *testing.T) {
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	js, err := json.MarshalIndent(doc, "", "\t") // tabs: YAML forbids them as indentation, JSON does not
	if err != nil {
		t.Fatal(err)
	}
	fromYAML, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := ParseJSON(string(js))
	if err != nil {
		t.Fatalf("ParseJSON: %v\n%s", err, js)
	}
	fromParse, err := Parse(js)
	if err != nil {
		t.Fatalf("Parse(JSON): %v", err)
	}
	for name, c := range map[string]*Config{"ParseJSON": fromJSON, "Parse": fromParse} {
		if !reflect.DeepEqual(c.Source, fromYAML.Source) || !reflect.DeepEqual(c.Targets, fromYAML.Targets) {
			t.Errorf("%s of the JSON differs from the YAML:\n got %+v\nwant %+v", name, c, fromYAML)
		}
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(doc(all)))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultTarget()
	want.Name = "contoso"
	want.Tenant.Tenant = "contoso.example"
	want.Auth.ClientID = appID
	want.Scope.All = true
	if !reflect.DeepEqual(c.Targets[0], want) {
		t.Errorf("target with defaults\n got %+v\nwant %+v", c.Targets[0], want)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"source graph", c.Source.Graph, "https://graph.microsoft.com/v1.0"},
		{"source auth", c.Source.Auth.Method, AuthManagedIdentityFederated},
		{"graph", want.Graph, "https://graph.microsoft.com/v1.0"},
		{"auth", want.Auth.Method, AuthMethod("managedIdentityFederated")},
		{"userType", want.UserType, UserType("Member")},
		{"inviteRedirectUrl", want.InviteRedirectURL, "https://myapps.microsoft.com"},
		{"inviteAddress", want.InviteAddress, "Coalesce([mail], [userPrincipalName])"},
		{"anchor", want.Anchor, "onPremisesExtensionAttributes.extensionAttribute15"},
		{"deprovision", want.Deprovision, Deprovision{Action: "delete", Threshold: 500, Window: Duration(time.Hour)}},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("default %s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

// TestExplicitValues checks that what a config says wins over the defaults,
// including the values that equal a zero.
func TestExplicitValues(t *testing.T) {
	c, err := Parse([]byte(doc(
		"graph: http://127.0.0.1:8765/contoso.example/v1.0/",
		"userType: Guest",
		"anchor: extensionAttribute3",
		"scope: {groups: [Sales, 0a1b2c3d-0000-4000-8000-000000000001], nested: true, includeGuests: true}",
		"deprovision: {action: none, threshold: 0, window: 30m}",
		"adoptMembers: true",
	)))
	if err != nil {
		t.Fatal(err)
	}
	tg := c.Targets[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"graph without trailing slash", tg.Graph, "http://127.0.0.1:8765/contoso.example/v1.0"},
		{"userType", tg.UserType, Guest},
		{"anchor in full", tg.Anchor, "onPremisesExtensionAttributes.extensionAttribute3"},
		{"nested", tg.Scope.Nested, true},
		{"includeGuests", tg.Scope.IncludeGuests, true},
		{"groups", len(tg.Scope.Groups), 2},
		{"action", tg.Deprovision.Action, DeprovisionNone},
		{"threshold 0 stays 0", tg.Deprovision.Threshold, 0},
		{"window", time.Duration(tg.Deprovision.Window), 30 * time.Minute},
		{"adoptMembers", tg.AdoptMembers, true},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestYAMLFeatures(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		check func(*Config) bool
	}{
		{"anchors and aliases", source + `targets:
  - name: a
    tenant: a.example
    auth: &auth {method: clientSecret, clientId: ` + appID + `, secretEnv: TARGET_SECRET}
    scope: {all: true}
  - name: b
    tenant: b.example
    auth: *auth
    scope: {all: true}
`, func(c *Config) bool { return c.Targets[1].Auth.SecretEnv == "TARGET_SECRET" }},
		{"merge keys, explicit keys win", source + `targets:
  - &first
    name: a
    tenant: a.example
    auth: {clientId: ` + appID + `}
    userType: Guest
    scope: {all: true}
  - <<: *first
    name: b
    tenant: b.example
`, func(c *Config) bool {
			b := c.Targets[1]
			return b.Name == "b" && b.Tenant.Tenant == "b.example" && b.UserType == Guest && b.Scope.All
		}},
		{"null keeps the default", doc(all, "userType:", "deprovision: {threshold: ~}"), func(c *Config) bool {
			return c.Targets[0].UserType == Member && c.Targets[0].Deprovision.Threshold == 500
		}},
		{"scalars read as text", doc("scope: {all: true, filters: [[{attribute: extensionAttribute1, operator: '&', value: 0x2}]]}",
			"mappings: [{target: showInAddressList, constant: true}, {target: employeeType, constant: 42}]"),
			func(c *Config) bool {
				m := c.Targets[0].Mappings
				return c.Targets[0].Scope.Filters[0][0].Value == "0x2" && *m[0].Constant == "true" && *m[1].Constant == "42"
			}},
		{"byte order mark and CRLF", "\ufeff" + strings.ReplaceAll(doc(all), "\n", "\r\n"), func(c *Config) bool { return c.Targets[0].Name == "contoso" }},
		{"simulator with auth none", "source: {tenant: fabrikam.example, graph: 'http://127.0.0.1:8765/fabrikam.example/v1.0', auth: {method: none}}\n" +
			"targets: [{name: contoso, tenant: contoso.example, graph: 'http://localhost:8765/contoso.example/beta', auth: {method: none}, scope: {all: true}}]\n",
			func(c *Config) bool { return c.Source.Auth.Method == AuthNone }},
		{"IPv6 loopback", "source: {tenant: fabrikam.example, graph: 'http://[::1]:8765/fabrikam.example/v1.0', auth: {method: none}}\n" +
			"targets: [{name: contoso, tenant: 0a1b2c3d-0000-4000-8000-000000000001, auth: {method: azureCli}, scope: {all: true}}]\n",
			func(c *Config) bool { return c.Targets[0].Auth.Method == AuthAzureCLI }},
		{"every auth method", source + `targets:
  - {name: a, tenant: a.example, auth: {method: managedIdentityFederated, clientId: ` + appID + `, managedIdentityClientId: 22222222-2222-4222-8222-222222222222}, scope: {all: true}}
  - {name: b, tenant: b.example, auth: {method: clientSecret, clientId: ` + appID + `, secretEnv: B_SECRET}, scope: {all: true}}
  - {name: c, tenant: c.example, auth: {method: certificate, clientId: ` + appID + `, path: /etc/tenantsync/c.pem}, scope: {all: true}}
  - {name: d-2, tenant: d.example, auth: {method: azureCli}, scope: {all: true}}
`, func(c *Config) bool { return len(c.Targets) == 4 }},
		{"allowEmpty", doc("scope: {allowEmpty: true}"), func(c *Config) bool { return c.Targets[0].Scope.AllowEmpty }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.doc))
			if err != nil {
				t.Fatalf("Parse:\n%v", err)
			}
			if !tt.check(c) {
				t.Errorf("decoded config is not as expected: %+v", c)
			}
		})
	}
}

// TestErrors asserts the exact text of every problem Parse reports, with its
// path and line.
func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string // the problems, one per line
	}{
		// The document.
		{"empty", "", "the document is empty"},
		{"only a comment", "# nothing\n", "the document is empty"},
		{"not a mapping", "- a\n", "the document must be a mapping with the keys source and targets (line 1)"},
		{"YAML syntax", "source: [\n", "invalid YAML: did not find expected node content (line 1)"},
		{"YAML tab indentation", "source:\n\ttenant: x\n", "invalid YAML: found character that cannot start any token (line 2)"},
		{"two documents", doc(all) + "---\nsource: {}\n", "the file holds more than one YAML document (line 7)"},
		{"flow YAML that is not JSON", "{source: {tenant: fabrikam.example, auth: {clientId: " + appID + "}}, targets: [{name: contoso, tenant: contoso.example, auth: {clientId: " + appID + "}, scope: {all: true}, userType: guest}]}",
			`targets[0].userType: must be Member or Guest, got "guest" (line 1)`},

		// Decoding: unknown keys, duplicates, wrong types.
		{"unknown key", doc("scope: {all: true, nested2: true}"), "targets[0].scope.nested2: unknown key (line 6)"},
		{"unknown key, wrong case", doc(all, "UserType: Guest"), `targets[0].UserType: unknown key (did you mean "userType"?) (line 7)`},
		{"unknown top-level key", doc(all) + "target: []\n", "target: unknown key (line 7)"},
		{"unknown key in source", "source: {tenant: fabrikam.example, auth: {clientId: " + appID + "}, scope: {all: true}}\n" +
			"targets: [{name: contoso, tenant: contoso.example, auth: {clientId: " + appID + "}, scope: {all: true}}]\n",
			"source.scope: unknown key (line 1)"},
		{"unknown key in clause", doc("scope: {all: true, filters: [[{attribute: department, operator: EQUALS, valeu: Sales}]]}"),
			"targets[0].scope.filters[0][0].valeu: unknown key (line 6)\n" +
				"targets[0].scope.filters[0][0].value: required by operator EQUALS (line 6)"},
		{"unknown key in mapping", doc(all, "mappings: [{target: city, sourse: city}]"),
			"targets[0].mappings[0].sourse: unknown key (line 7)\n" +
				"targets[0].mappings[0].source: one of source, constant and expression is required (line 7)"},
		{"duplicate key", doc(all, "userType: Member", "userType: Guest"), "targets[0].userType: duplicate key (first on line 7) (line 8)"},
		{"key that is not a string", doc(all, "[a]: b"), "targets[0]: keys must be strings (line 7)"},
		{"integer expected", doc(all, "deprovision: {threshold: many}"), "targets[0].deprovision.threshold: must be an integer (line 7)"},
		{"integer expected, got a float", doc(all, "deprovision: {threshold: 1.5}"), "targets[0].deprovision.threshold: must be an integer (line 7)"},
		{"integer expected, got a quoted number", doc(all, `deprovision: {threshold: "500"}`), "targets[0].deprovision.threshold: must be an integer (line 7)"},
		{"boolean expected", doc("scope: {all: yes}"), "targets[0].scope.all: must be true or false (line 6)"},
		{"list expected", doc("scope: {groups: Sales}"), "targets[0].scope.groups: must be a list (line 6)"},
		{"list of lists expected", doc("scope: {all: true, filters: [{attribute: department, operator: IS NULL}]}"), "targets[0].scope.filters[0]: must be a list (line 6)"},
		{"mapping expected", "source: fabrikam.example\ntargets: [{name: contoso, tenant: contoso.example, auth: {clientId: " + appID + "}, scope: {all: true}}]\n",
			"source: must be a mapping (line 1)"},
		{"string expected", doc(all, "userType: [Member]"), "targets[0].userType: must be a string (line 7)"},
		{"duration expected", doc(all, "deprovision: {window: 1 hour}"), `targets[0].deprovision.window: must be a duration such as "1h" or "30m", got "1 hour" (line 7)`},
		{"duration as a number", doc(all, "deprovision: {window: 60}"), `targets[0].deprovision.window: must be a duration such as "1h" or "30m" (line 7)`},
		{"merge of a scalar", doc(all, "<<: 1"), "targets[0].<<: must be a mapping or a list of mappings (line 7)"},

		// The source tenant.
		{"tenant missing", "source: {auth: {clientId: " + appID + "}}\ntargets: [{name: contoso, tenant: contoso.example, auth: {clientId: " + appID + "}, scope: {all: true}}]\n",
			"source.tenant: required (line 1)"},
		{"tenant malformed", strings.Replace(doc(all), "tenant: fabrikam.example", "tenant: fabrikam", 1), `source.tenant: must be a tenant id (GUID) or a domain name, got "fabrikam" (line 1)`},
		{"graph not absolute", strings.Replace(doc(all), "tenant: fabrikam.example", "tenant: fabrikam.example, graph: graph.microsoft.com/v1.0", 1),
			`source.graph: must be an absolute http(s) URL, got "graph.microsoft.com/v1.0" (line 1)`},
		{"graph not http", strings.Replace(doc(all), "tenant: fabrikam.example", "tenant: fabrikam.example, graph: 'ftp://graph.microsoft.com/v1.0'", 1),
			`source.graph: must be an absolute http(s) URL, got "ftp://graph.microsoft.com/v1.0" (line 1)`},
		{"graph http not loopback", strings.Replace(doc(all), "tenant: fabrikam.example", "tenant: fabrikam.example, graph: 'http://graph.microsoft.com/v1.0'", 1),
			`source.graph: must use https (http is for a loopback address such as the simulator's), got "http://graph.microsoft.com/v1.0" (line 1)`},
		{"graph without version", strings.Replace(doc(all), "tenant: fabrikam.example", "tenant: fabrikam.example, graph: 'https://graph.microsoft.com'", 1),
			`source.graph: must end with the Graph version, as in https://graph.microsoft.com/v1.0, got "https://graph.microsoft.com" (line 1)`},
		{"graph with query", strings.Replace(doc(all), "tenant: fabrikam.example", "tenant: fabrikam.example, graph: 'https://graph.microsoft.com/v1.0?x=1'", 1),
			`source.graph: must not have a query or a fragment, got "https://graph.microsoft.com/v1.0?x=1" (line 1)`},
		{"graph with user info", strings.Replace(doc(all), "tenant: fabrikam.example", "tenant: fabrikam.example, graph: 'https://me:hunter2@graph.microsoft.com/v1.0'", 1),
			"source.graph: must not contain user info: credentials never go in a URL (line 1)"},
		{"graph empty", strings.Replace(doc(all), "tenant: fabrikam.example", "tenant: fabrikam.example, graph: ''", 1), "source.graph: required (line 1)"},

		// Auth.
		{"auth method unknown", strings.Replace(doc(all), "auth: {clientId", "auth: {method: password, clientId", 1),
			`source.auth.method: unknown method "password" (want managedIdentityFederated, clientSecret, certificate, azureCli or none) (line 1)`},
		{"auth method empty", strings.Replace(doc(all), "auth: {clientId", "auth: {method: '', clientId", 1), "source.auth.method: required (line 1)"},
		{"auth none on real Graph", "source: {tenant: fabrikam.example, auth: {method: none}}\ntargets: [{name: contoso, tenant: contoso.example, auth: {clientId: " + appID + "}, scope: {all: true}}]\n",
			`source.auth.method: none sends no token, so it is only for a loopback graph URL (the simulator), not "https://graph.microsoft.com/v1.0" (line 1)`},
		{"clientId missing", "source: {tenant: fabrikam.example}\ntargets: [{name: contoso, tenant: contoso.example, auth: {clientId: " + appID + "}, scope: {all: true}}]\n",
			"source.auth.clientId: required by method managedIdentityFederated (line 1)"},
		{"clientId not a GUID", strings.Replace(doc(all), "auth: {clientId: "+appID, "auth: {clientId: my-app", 1),
			`source.auth.clientId: must be the application (client) id, a GUID, got "my-app" (line 1)`},
		{"clientSecret without secretEnv", strings.Replace(doc(all), "auth: {clientId: "+appID+"}\n    scope", "auth: {method: clientSecret, clientId: "+appID+"}\n    scope", 1),
			"targets[0].auth.secretEnv: required by method clientSecret (line 5)"},
		{"secretEnv holding a secret", strings.Replace(doc(all), "auth: {clientId: "+appID+"}\n    scope", "auth: {method: clientSecret, clientId: "+appID+", secretEnv: 'p@ss w0rd~'}\n    scope", 1),
			"targets[0].auth.secretEnv: must be the name of an environment variable holding the secret, not the secret itself (line 5)"},
		{"passwordEnv holding a password", strings.Replace(doc(all), "auth: {clientId: "+appID+"}\n    scope", "auth: {method: certificate, clientId: "+appID+", path: c.pfx, passwordEnv: 'hunter 2!'}\n    scope", 1),
			"targets[0].auth.passwordEnv: must be the name of an environment variable holding the certificate's password, not the password itself (line 5)"},
		{"passwordEnv with a client secret", strings.Replace(doc(all), "auth: {clientId: "+appID+"}\n    scope", "auth: {method: clientSecret, clientId: "+appID+", secretEnv: S, passwordEnv: P}\n    scope", 1),
			"targets[0].auth.passwordEnv: not used by method clientSecret (line 5)"},
		{"certificate without path", strings.Replace(doc(all), "auth: {clientId: "+appID+"}\n    scope", "auth: {method: certificate, clientId: "+appID+", secretEnv: X}\n    scope", 1),
			"targets[0].auth.secretEnv: not used by method certificate (line 5)\ntargets[0].auth.path: required by method certificate (line 5)"},
		{"managed identity id on another method", strings.Replace(doc(all), "auth: {clientId: "+appID+"}\n    scope", "auth: {method: azureCli, clientId: "+appID+", managedIdentityClientId: x}\n    scope", 1),
			"targets[0].auth.clientId: not used by method azureCli (line 5)\n" +
				"targets[0].auth.managedIdentityClientId: not used by method azureCli (line 5)\n" +
				`targets[0].auth.managedIdentityClientId: must be the managed identity's client id, a GUID, got "x" (line 5)`},

		// Targets.
		{"no targets", source + "targets: []\n", "targets: at least one target is required (line 2)"},
		{"targets missing", source, "targets: at least one target is required"},
		{"name missing", strings.Replace(doc(all), "name: contoso", "name: ''", 1), "targets[0].name: required (line 3)"},
		{"name malformed", strings.Replace(doc(all), "name: contoso", "name: Contoso_EU", 1), `targets[0].name: must contain only a-z, 0-9 and -, got "Contoso_EU" (line 3)`},
		{"name twice", doc(all) + "  - {name: contoso, tenant: contoso2.example, auth: {clientId: " + appID + "}, scope: {all: true}}\n",
			`targets[1].name: "contoso" is already the name of targets[0] (line 7)`},
		{"target is the source", strings.Replace(doc(all), "tenant: contoso.example", "tenant: Fabrikam.Example", 1),
			"targets[0].tenant: is the source tenant; a target must be another tenant (line 4)"},
		{"tenant twice", doc(all) + "  - {name: contoso-2, tenant: CONTOSO.example, auth: {clientId: " + appID + "}, scope: {all: true}}\n",
			`targets[1].tenant: "CONTOSO.example" is already the tenant of targets[0] (line 7)`},
		{"userType", doc(all, "userType: member"), `targets[0].userType: must be Member or Guest, got "member" (line 7)`},
		{"inviteRedirectUrl", doc(all, "inviteRedirectUrl: myapps.microsoft.com"), `targets[0].inviteRedirectUrl: must be an absolute http(s) URL, got "myapps.microsoft.com" (line 7)`},
		{"inviteAddress unparsable", doc(all, "inviteAddress: Coalese([mail], [userPrincipalName])"), `targets[0].inviteAddress: unknown function "Coalese" at column 1 (line 7)`},
		{"inviteAddress empty", doc(all, "inviteAddress: ''"), "targets[0].inviteAddress: required (line 7)"},
		{"anchor not writable", doc(all, "anchor: mail"),
			`targets[0].anchor: must be a writable string attribute tenantsync alone writes: onPremisesExtensionAttributes.extensionAttribute1 to 15, employeeType, or a directory extension extension_<app id>_<name>; got "mail" (line 7)`},
		{"anchor extensionAttribute16", doc(all, "anchor: extensionAttribute16"),
			`targets[0].anchor: must be a writable string attribute tenantsync alone writes: onPremisesExtensionAttributes.extensionAttribute1 to 15, employeeType, or a directory extension extension_<app id>_<name>; got "extensionAttribute16" (line 7)`},
		{"anchor empty", doc(all, "anchor: ''"), "targets[0].anchor: required (line 7)"},
		{"anchor also mapped", doc(all, "anchor: extensionAttribute2", "mappings: [{target: onPremisesExtensionAttributes.extensionAttribute2, constant: x}]"),
			"targets[0].mappings[0].target: onPremisesExtensionAttributes.extensionAttribute2 is the anchor (targets[0].anchor); tenantsync writes it, a mapping must not (line 8)"},

		// Mappings, compiled by internal/mapping.
		{"mapping expression", doc(all, "mappings:",
			`  - {target: displayName, expression: 'Append([displayName], " (Fabrikam)")'}`,
			"  - {target: companyName, constant: Fabrikam}",
			"  - {target: jobTitle, source: jobTitle, default: Staff, apply: always}",
			`  - {target: department, expression: 'Apend([department], "x")'}`),
			`targets[0].mappings[3].expression: unknown function "Apend" at column 1 (line 11)`},
		{"mapping without a value", doc(all, "mappings: [{target: city}]"),
			"targets[0].mappings[0].source: one of source, constant and expression is required (line 7)"},
		{"several bad mappings", doc(all, "mappings:", "  - {target: city, source: city, apply: sometimes}", "  - {target: userType, constant: Admin}"),
			`targets[0].mappings[0].apply: unknown value "sometimes" (want always or onCreate) (line 8)` + "\n" +
				"targets[0].mappings[1].constant: userType must be Member or Guest, got Admin (line 9)"},
		{"delay out of range", doc(all, "deprovision: {delay: 25h}"), "targets[0].deprovision.delay: must be from 0 to 24h, got 25h (line 7)"},
		{"threshold too high", doc(all, "deprovision: {threshold: 5001}"), "targets[0].deprovision.threshold: must be from 0 to 5000, got 5001 (line 7)"},

		// Scope.
		{"empty scope", doc(), `targets[0].scope: selects no users, so every user tenantsync manages in target "contoso" would be deprovisioned (all is false, with no groups and no filters); set scope.all: true, list scope.groups or scope.filters, or set scope.allowEmpty: true if that is really what you want (line 3)`},
		{"empty scope, explicit", doc("scope: {all: false, groups: [], filters: []}"), `targets[0].scope: selects no users, so every user tenantsync manages in target "contoso" would be deprovisioned (all is false, with no groups and no filters); set scope.all: true, list scope.groups or scope.filters, or set scope.allowEmpty: true if that is really what you want (line 6)`},
		{"contradictory filters", doc("scope:", "  filters:", "    - - {attribute: department, operator: EQUALS, value: Sales}", "      - {attribute: department, operator: EQUALS, value: HR}"),
			`targets[0].scope: selects no users, so every user tenantsync manages in target "contoso" would be deprovisioned (no filter can match: filter 1: department EQUALS "Sales" contradicts department EQUALS "HR"); fix the filters, or set scope.allowEmpty: true if that is really what you want (line 6)`},
		{"guest-only filter without guests", doc("scope: {groups: [Sales], filters: [[{attribute: userType, operator: EQUALS, value: Guest}]]}"),
			`targets[0].scope: selects no users, so every user tenantsync manages in target "contoso" would be deprovisioned (no filter can match: filter 1: userType EQUALS "Guest", but guests are out of scope (includeGuests is false)); fix the filters, or set scope.allowEmpty: true if that is really what you want (line 6)`},
		{"all and groups", doc("scope: {all: true, groups: [Sales]}"), "targets[0].scope.groups: not used when scope.all is true: remove the groups, or set all: false to sync only their members (line 6)"},
		{"group empty", doc("scope:", "  groups: [Sales, '']"), "targets[0].scope.groups[1]: must be a group id or display name, not empty (line 7)"},
		{"group twice", doc("scope:", "  groups:", "    - Sales", "    - sales"), `targets[0].scope.groups[1]: "sales" is already scope.groups[0] (line 9)`},
		{"empty filter", doc("scope:", "  all: true", "  filters: [[]]"), "targets[0].scope.filters[0]: must have at least one clause (line 8)"},
		{"filter clause errors", doc("scope:", "  all: true", "  filters:",
			"    - - {attribute: departmnet, operator: EQUALS, value: Sales}",
			"      - {attribute: jobTitle, operator: LIKE, value: Dir}",
			"    - - {attribute: jobTitle, operator: REGEX MATCH, value: '^(?!Intern)'}",
			"      - {attribute: employeeId, operator: Greater_Than, value: ten}",
			"      - {attribute: accountEnabled, operator: IS TRUE, value: 'yes'}"),
			`targets[0].scope.filters[0][0].attribute: unknown user attribute "departmnet" (did you mean "department"?) (line 9)` + "\n" +
				`targets[0].scope.filters[0][1].operator: unknown operator "LIKE" (want one of EQUALS, NOT EQUALS, IS TRUE, IS FALSE, IS NULL, IS NOT NULL, REGEX MATCH, NOT REGEX MATCH, Includes, &, !&, ENDS_WITH, Greater_Than, Greater_Than_OR_EQUALS) (line 10)` + "\n" +
				"targets[0].scope.filters[1][0].value: invalid regular expression: the negative lookahead (?!…) at position 2 of the pattern is .NET syntax that Go's RE2 does not support; " +
				`test the unwanted text with NOT REGEX MATCH in another clause of the same filter: ^(?!Contractor) becomes {operator: NOT REGEX MATCH, value: "^Contractor"} (docs/scoping.md) (line 11)` + "\n" +
				`targets[0].scope.filters[1][1].value: must be an integer for operator Greater_Than, got "ten" (line 12)` + "\n" +
				"targets[0].scope.filters[1][2].value: not used by operator IS TRUE (line 13)"},

		// Deprovision.
		{"action", doc(all, "deprovision: {action: remove}"), `targets[0].deprovision.action: must be delete, disable or none, got "remove" (line 7)`},
		{"threshold negative", doc(all, "deprovision:", "  threshold: -1"), "targets[0].deprovision.threshold: must be from 0 to 5000, got -1 (line 8)"},
		{"window zero", doc(all, "deprovision: {window: 0s}"), "targets[0].deprovision.window: must be more than 0, got 0s (line 7)"},
		{"window negative", doc(all, "deprovision: {window: -5m}"), "targets[0].deprovision.window: must be more than 0, got -5m (line 7)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want:\n%s", c, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse errors\n got: %s\nwant: %s", err, tt.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("errors.As(%T, *FieldError) failed", err)
			}
		})
	}
}

// TestAllErrorsAtOnce checks that problems anywhere are reported together,
// in document order.
func TestAllErrorsAtOnce(t *testing.T) {
	d := "source: {tenant: fabrikam.example, auth: {method: clientSecret, clientId: " + appID + "}}\n" + // 1
		"targets:\n" + // 2
		"  - name: Contoso\n" + // 3
		"    tenant: contoso.example\n" + // 4
		"    auth: {clientId: " + appID + "}\n" + // 5
		"    scope: {all: true, nested2: true}\n" + // 6
		"    deprovision: {action: remove, threshold: x}\n" // 7
	want := "source.auth.secretEnv: required by method clientSecret (line 1)\n" +
		`targets[0].name: must contain only a-z, 0-9 and -, got "Contoso" (line 3)` + "\n" +
		"targets[0].scope.nested2: unknown key (line 6)\n" +
		"targets[0].deprovision.threshold: must be an integer (line 7)\n" +
		`targets[0].deprovision.action: must be delete, disable or none, got "remove" (line 7)`
	_, err := Parse([]byte(d))
	if err == nil || err.Error() != want {
		t.Fatalf("Parse errors\n got: %v\nwant: %s", err, want)
	}
	var es Errors
	if !errors.As(err, &es) || len(es) != 5 {
		t.Fatalf("want 5 Errors, got %#v", err)
	}
	if es[2].Path != "targets[0].scope.nested2" || es[2].Line != 6 || es[2].Msg != "unknown key" {
		t.Errorf("third problem = %+v", *es[2])
	}
}

func TestParseJSON(t *testing.T) {
	valid := `{"source": {"tenant": "fabrikam.example", "auth": {"clientId": "` + appID + `"}},
 "targets": [{"name": "contoso", "tenant": "contoso.example", "auth": {"clientId": "` + appID + `"},
   "inviteRedirectUrl": "https:\/\/myapps.microsoft.com\/x",
   "mappings": [{"target": "displayName", "expression": "Append([displayName], \" \ud83d\ude00\")"}],
   "scope": {"all": true}}]}`
	c, err := ParseJSON(valid)
	if err != nil {
		t.Fatalf("ParseJSON: %v", err)
	}
	if got := c.Targets[0].InviteRedirectURL; got != "https://myapps.microsoft.com/x" {
		t.Errorf(`\/ escape: inviteRedirectUrl = %q`, got)
	}
	if got := c.Targets[0].Mappings[0].Expression; got != `Append([displayName], " 😀")` {
		t.Errorf("surrogate pair: expression = %q", got)
	}

	tests := []struct {
		name, json, want string
	}{
		{"empty", "  ", "the document is empty (TENANTSYNC_CONFIG_JSON)"},
		{"YAML is not JSON", "source: {}\n", "invalid JSON: invalid character 's' looking for beginning of value (TENANTSYNC_CONFIG_JSON:1)"},
		{"syntax error on line 3", "{\n \"source\": {},\n \"targets\": [,]\n}", "invalid JSON: invalid character ',' looking for beginning of value (TENANTSYNC_CONFIG_JSON:3)"},
		{"not an object", `[1, 2]`, "the document must be a JSON object with the keys source and targets (TENANTSYNC_CONFIG_JSON:1)"},
		{"unknown key", `{"source": {"tenant": "fabrikam.example", "auth": {"clientId": "` + appID + `"}},` + "\n" +
			`"targets": [{"name": "contoso", "tenant": "contoso.example", "auth": {"clientId": "` + appID + `"}, "scope": {"all": true, "nested2": true}}]}`,
			"targets[0].scope.nested2: unknown key (TENANTSYNC_CONFIG_JSON:2)"},
		{"wrong type", `{"source": {"tenant": "fabrikam.example", "auth": {"clientId": "` + appID + `"}},` + "\n" +
			`"targets": [{"name": "contoso", "tenant": "contoso.example", "auth": {"clientId": "` + appID + `"}, "scope": {"all": true},` + "\n" +
			`"deprovision": {"threshold": "500", "window": 3600}}]}`,
			"targets[0].deprovision.threshold: must be an integer (TENANTSYNC_CONFIG_JSON:3)\n" +
				`targets[0].deprovision.window: must be a duration such as "1h" or "30m" (TENANTSYNC_CONFIG_JSON:3)`},
		{"duplicate key", `{"source": {"tenant": "a.example", "tenant": "fabrikam.example", "auth": {"clientId": "` + appID + `"}}, "targets": [{"name": "contoso", "tenant": "contoso.example", "auth": {"clientId": "` + appID + `"}, "scope": {"all": true}}]}`,
			"source.tenant: duplicate key (first on line 1) (TENANTSYNC_CONFIG_JSON:1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseJSON(tt.json)
			if err == nil || err.Error() != tt.want {
				t.Errorf("ParseJSON errors\n got: %v\nwant: %s", err, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", doc(all))
	bad := write("bad.yaml", doc(all, "userType: member"))
	big := write("big.yaml", "# "+strings.Repeat("x", MaxSize)+"\n")

	if c, err := Load(good); err != nil || c.Targets[0].Name != "contoso" {
		t.Errorf("Load(good) = %v, %v", c, err)
	}
	tests := []struct {
		path, want string
	}{
		{bad, `targets[0].userType: must be Member or Guest, got "member" (` + bad + ":7)"},
		{big, "the document is larger than 1048576 bytes (" + big + ")"},
		{filepath.Join(dir, "missing.yaml"), "read config: open " + filepath.Join(dir, "missing.yaml") + ": no such file or directory"},
	}
	for _, tt := range tests {
		if _, err := Load(tt.path); err == nil || err.Error() != tt.want {
			t.Errorf("Load(%s)\n got: %v\nwant: %s", filepath.Base(tt.path), err, tt.want)
		}
	}
}

// TestAliasBomb checks that aliases cannot blow a small document up: 100
// targets, each with 100 filters of 100 clauses, all aliases of one clause.
func TestAliasBomb(t *testing.T) {
	refs := func(name string) string {
		return "[" + strings.TrimSuffix(strings.Repeat("*"+name+", ", 100), ", ") + "]"
	}
	d := source + "targets:\n" +
		"  - &t\n" +
		"    name: contoso\n" +
		"    tenant: contoso.example\n" +
		"    auth: {clientId: " + appID + "}\n" +
		"    mappings: [&c {attribute: department, operator: EQUALS, value: Sales}]\n" +
		"    deprovision: {action: &f " + refs("c") + "}\n" +
		"    scope: {all: true, filters: " + refs("f") + "}\n" +
		"  - {name: b, tenant: b.example, auth: {clientId: " + appID + "}, scope: {all: true, filters: " + refs("f") + "}}\n"
	for range 3 {
		d = strings.Replace(d, "  - {name: b", "  - *t\n  - {name: b", 1)
	}
	d += "  - " + strings.Repeat("*t\n  - ", 98) + "*t\n"
	if len(d) > 64<<10 {
		t.Fatalf("the bomb is %d bytes, meant to be small", len(d))
	}
	_, err := Parse([]byte(d))
	if err == nil || !strings.Contains(err.Error(), "the document expands to more than 100000 values (check its aliases and merge keys)") {
		t.Fatalf("Parse of an alias bomb: %.500v", err)
	}
}

func TestDuration(t *testing.T) {
	var v struct {
		W Duration `json:"w" yaml:"w"`
	}
	if err := json.Unmarshal([]byte(`{"w":"90m"}`), &v); err != nil || time.Duration(v.W) != 90*time.Minute {
		t.Errorf("JSON unmarshal: %v, %v", v.W, err)
	}
	if err := yaml.Unmarshal([]byte("w: 1h30m\n"), &v); err != nil || time.Duration(v.W) != 90*time.Minute {
		t.Errorf("YAML unmarshal: %v, %v", v.W, err)
	}
	if err := json.Unmarshal([]byte(`{"w":60}`), &v); err == nil || err.Error() != `must be a duration such as "1h" or "30m"` {
		t.Errorf("JSON number: %v", err)
	}
	if err := yaml.Unmarshal([]byte("w: soon\n"), &v); err == nil || err.Error() != `must be a duration such as "1h" or "30m", got "soon"` {
		t.Errorf("YAML bad duration: %v", err)
	}
	v.W = Duration(90 * time.Minute)
	if b, _ := json.Marshal(v); string(b) != `{"w":"1h30m"}` {
		t.Errorf("JSON marshal = %s", b)
	}
	if b, _ := yaml.Marshal(v); string(b) != "w: 1h30m\n" {
		t.Errorf("YAML marshal = %q", b)
	}
}

func TestDurationString(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{time.Hour, "1h"},
		{24 * time.Hour, "24h"},
		{90 * time.Minute, "1h30m"},
		{time.Hour + time.Second, "1h0m1s"},
		{time.Minute, "1m"},
		{10 * time.Minute, "10m"},
		{90 * time.Second, "1m30s"},
		{30 * time.Second, "30s"},
		{1500 * time.Millisecond, "1.5s"},
		{-time.Hour, "-1h"},
	}
	for _, tt := range tests {
		got := Duration(tt.d).String()
		if got != tt.want {
			t.Errorf("Duration(%v).String() = %q, want %q", tt.d, got, tt.want)
		}
		if back, err := time.ParseDuration(got); err != nil || back != tt.d {
			t.Errorf("%q parses back to %v, %v; want %v", got, back, err, tt.d)
		}
	}
}

// TestConfigInCode builds a config in Go, as tests and tools do.
func TestConfigInCode(t *testing.T) {
	c := &Config{
		Source: Tenant{Tenant: "fabrikam.example", Graph: "http://127.0.0.1:8765/fabrikam.example/v1.0/", Auth: Auth{Method: AuthNone}},
		Targets: []Target{{
			Name:   "contoso",
			Tenant: Tenant{Tenant: "contoso.example", Auth: Auth{ClientID: appID}},
			Anchor: "extensionAttribute9",
			Scope:  Scope{Groups: []string{"Sales"}},
		}},
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	tg := c.Targets[0]
	if tg.Graph != DefaultGraph || tg.Auth.Method != AuthManagedIdentityFederated || tg.UserType != Member ||
		tg.Anchor != "onPremisesExtensionAttributes.extensionAttribute9" || c.Source.Graph != "http://127.0.0.1:8765/fabrikam.example/v1.0" {
		t.Errorf("ApplyDefaults: %+v", c)
	}
	if tg.Deprovision.Threshold != 0 || tg.Deprovision.Window != DefaultWindow || tg.Deprovision.Action != DeprovisionDelete {
		t.Errorf("ApplyDefaults deprovision = %+v, want threshold 0 kept, 1h, delete", tg.Deprovision)
	}
	if got, ok := c.Target("contoso"); !ok || got != &c.Targets[0] {
		t.Errorf("Target(contoso) = %v, %v", got, ok)
	}
	if _, ok := c.Target("nope"); ok {
		t.Error("Target(nope) found something")
	}

	c.Targets[0].UserType = "member"
	want := `targets[0].userType: must be Member or Guest, got "member"`
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want %s (no line: built in code)", err, want)
	}
}

func TestScopeSpec(t *testing.T) {
	s := Scope{Groups: []string{"Cross-tenant sync"}, IncludeGuests: true,
		Filters: []scope.Filter{{{Attribute: "department", Operator: scope.Equals, Value: "Sales"}}}}
	spec := s.Spec([]directory.Group{{ID: "g1", DisplayName: "Cross-tenant sync"}})
	want := scope.Spec{GroupIDs: []string{"g1"}, GroupNames: map[string]string{"g1": "Cross-tenant sync"}, IncludeGuests: true, Filters: s.Filters}
	if !reflect.DeepEqual(spec, want) {
		t.Errorf("Spec = %+v, want %+v", spec, want)
	}
	sc, err := scope.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	d := sc.Evaluate(directory.User{ID: "u", Attrs: directory.Attributes{"department": "Sales"}}, []string{"g1"})
	if wantReason := `in scope: member of group "Cross-tenant sync" (id g1) and filter 1 matched (department EQUALS "Sales")`; !d.InScope || d.Reason != wantReason {
		t.Errorf("Evaluate = %+v, want %s", d, wantReason)
	}
}

// TestDecodeUnknownKind covers the guard for a field kind the schema does
// not use yet, so that a field added later fails loudly rather than silently.
func TestDecodeUnknownKind(t *testing.T) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("m: {a: b}\n"), &n); err != nil {
		t.Fatal(err)
	}
	var v struct {
		M map[string]string `yaml:"m"`
	}
	d := &decoder{errorList: &errorList{lines: map[string]int{}}}
	d.decode("", n.Content[0], reflect.ValueOf(&v).Elem())
	want := "m: cannot decode a value of type map[string]string (line 1)"
	if d.errs.Error() != want {
		t.Errorf("decode errors = %q, want %q", d.errs.Error(), want)
	}
}
