package graph

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"

	"github.com/tenantsync/tenantsync/internal/directory"
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestUserFrom(t *testing.T) {
	tests := []struct {
		name     string
		attrs    []string
		json     string
		complete bool
		want     directory.Attributes
	}{{
		name:     "types follow the directory conventions",
		attrs:    []string{"accountEnabled", "displayName", "businessPhones", "identities", "employeeOrgData.division", "employeeOrgData.costCenter", "deletedDateTime", "count"},
		json:     `{"id":"1","accountEnabled":true,"displayName":"A","businessPhones":["1","2"],"identities":[{"signInType":"userPrincipalName","issuer":"x"}],"employeeOrgData":{"division":"D","costCenter":null},"deletedDateTime":"2024-01-02T03:04:05.678Z","count":42}`,
		complete: true,
		want: directory.Attributes{"accountEnabled": true, "displayName": "A", "businessPhones": []string{"1", "2"},
			"identities":               []string{`{"issuer":"x","signInType":"userPrincipalName"}`},
			"employeeOrgData.division": "D", "employeeOrgData.costCenter": nil,
			"deletedDateTime": "2024-01-02T03:04:05.678Z", "count": int64(42)},
	}, {
		name:     "complete: missing attributes are nil",
		attrs:    []string{"mail", "onPremisesExtensionAttributes.extensionAttribute15", "manager"},
		json:     `{"id":"1","onPremisesExtensionAttributes":null}`,
		complete: true,
		want:     directory.Attributes{"mail": nil, "onPremisesExtensionAttributes.extensionAttribute15": nil, "manager": nil},
	}, {
		name:  "delta: missing attributes stay missing",
		attrs: []string{"mail", "jobTitle", "manager"},
		json:  `{"id":"1","jobTitle":null}`,
		want:  directory.Attributes{"jobTitle": nil},
	}, {
		name:     "expanded manager",
		attrs:    []string{"manager"},
		json:     `{"id":"1","manager":{"@odata.type":"#microsoft.graph.user","id":"m"}}`,
		complete: true,
		want:     directory.Attributes{"manager": "m"},
	}, {
		name:  "manager@delta",
		attrs: []string{"manager"},
		json:  `{"id":"1","manager@delta":[{"@odata.type":"#microsoft.graph.user","id":"m2"}]}`,
		want:  directory.Attributes{"manager": "m2"},
	}, {
		name:  "manager@delta removed",
		attrs: []string{"manager"},
		json:  `{"id":"1","manager@delta":[{"@odata.type":"#microsoft.graph.user","id":"m2","@removed":{"reason":"deleted"}}]}`,
		want:  directory.Attributes{"manager": nil},
	}, {
		name:     "fractional numbers keep their text",
		attrs:    []string{"x"},
		json:     `{"id":"1","x":1.50}`,
		complete: true,
		want:     directory.Attributes{"x": "1.50"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newSelection(tt.attrs).userFrom(decode(t, tt.json), tt.complete)
			if u.ID != "1" {
				t.Errorf("id = %q", u.ID)
			}
			if !reflect.DeepEqual(u.Attrs, tt.want) {
				t.Errorf("attrs\n got %#v\nwant %#v", u.Attrs, tt.want)
			}
		})
	}
}

func TestNewSelection(t *testing.T) {
	s := newSelection([]string{"mail", " ", "manager", "onPremisesExtensionAttributes.extensionAttribute1", "onPremisesExtensionAttributes.extensionAttribute2", "id", "mail"})
	if want := []string{"id", "mail", "onPremisesExtensionAttributes"}; !reflect.DeepEqual(s.props, want) {
		t.Errorf("props = %v, want %v", s.props, want)
	}
	if !s.manager {
		t.Error("manager not noticed")
	}
}

func TestPatchBody(t *testing.T) {
	tests := []struct {
		name  string
		attrs directory.Attributes
		want  string
		err   bool
	}{
		{"nested and cleared", directory.Attributes{"a.b": "x", "a.c": nil, "d": ""}, `{"a":{"b":"x","c":null},"d":null}`, false},
		{"collections are cleared with []", directory.Attributes{"businessPhones": nil, "otherMails": ""}, `{"businessPhones":[],"otherMails":[]}`, false},
		{"typed values", directory.Attributes{"accountEnabled": false, "n": int64(3), "l": []string{"a"}}, `{"accountEnabled":false,"l":["a"],"n":3}`, false},
		{"manager", directory.Attributes{"manager": "x"}, "", true},
		{"value and part", directory.Attributes{"a": "x", "a.b": "y"}, "", true},
		{"empty segment", directory.Attributes{"a.": "x"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := patchBody(tt.attrs)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if !tt.err && string(b) != tt.want {
				t.Errorf("body = %s, want %s", b, tt.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{"0.5", 500 * time.Millisecond},
		{"-3", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.v, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestOdataString(t *testing.T) {
	tests := map[string]string{"a": "'a'", "o'neil": "'o''neil'", "''": "''''''", "": "''"}
	for in, want := range tests {
		if got := odataString(in); got != want {
			t.Errorf("odataString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestCloudFor(t *testing.T) {
	tests := []struct {
		url      string
		want     cloud.Configuration
		audience string
	}{
		{"https://graph.microsoft.com/v1.0", cloud.AzurePublic, "api://AzureADTokenExchange"},
		{"https://graph.microsoft.us/v1.0", cloud.AzureGovernment, "api://AzureADTokenExchangeUSGov"},
		{"https://dod-graph.microsoft.us/v1.0", cloud.AzureGovernment, "api://AzureADTokenExchangeUSGov"},
		{"https://microsoftgraph.chinacloudapi.cn/v1.0", cloud.AzureChina, "api://AzureADTokenExchangeChina"},
		{"http://127.0.0.1:8765/fabrikam.example/v1.0", cloud.AzurePublic, "api://AzureADTokenExchange"},
	}
	for _, tt := range tests {
		got := cloudFor(tt.url)
		if got.ActiveDirectoryAuthorityHost != tt.want.ActiveDirectoryAuthorityHost {
			t.Errorf("cloudFor(%s) = %s, want %s", tt.url, got.ActiveDirectoryAuthorityHost, tt.want.ActiveDirectoryAuthorityHost)
		}
		if a := tokenExchangeAudience[got.ActiveDirectoryAuthorityHost]; a != tt.audience {
			t.Errorf("audience for %s = %s, want %s", tt.url, a, tt.audience)
		}
	}
}
