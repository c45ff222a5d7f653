package customhandler

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestHTTPTriggerFixture decodes an httpTrigger invocation that is not
// forwarded: a shape the host never sends to tenantsync, whose HTTP
// functions are all forwarded (testdata/README.md). HTTPTrigger stays for
// completeness.
func TestHTTPTriggerFixture(t *testing.T) {
	inv := readInvocation(t, "http-trigger-not-forwarded.json", "GraphWebhook")
	got, err := HTTPTrigger(inv, "req")
	if err != nil {
		t.Fatal(err)
	}
	if got.URL != "https://func-tenantsync.azurewebsites.net/api/GraphWebhook?code=placeholder-function-key" || got.Method != "POST" {
		t.Errorf("URL, Method = %q, %q", got.URL, got.Method)
	}
	if !reflect.DeepEqual(got.Query, map[string]string{"code": "placeholder-function-key"}) {
		t.Errorf("Query = %v", got.Query)
	}
	if got.header("content-type") != "application/json; charset=utf-8" || len(got.Headers) != 5 {
		t.Errorf("Headers = %v", got.Headers)
	}
	if got.Params == nil || len(got.Params) != 0 {
		t.Errorf("Params = %#v", got.Params)
	}
	var body struct {
		Value []struct {
			ChangeType, Resource, ClientState string
		}
	}
	if err := json.Unmarshal(got.Body, &body); err != nil {
		t.Fatalf("Body is not the notification: %v: %s", err, got.Body)
	}
	if len(body.Value) != 1 || body.Value[0].ChangeType != "updated" || body.Value[0].Resource != "Users/0f4c6a63-3d3c-4f0a-9d7e-2b1e6b7c9a01" {
		t.Errorf("Body = %+v", body)
	}
	sys, err := inv.Sys()
	if err != nil || sys.MethodName != "GraphWebhook" {
		t.Errorf("sys = %+v, %v", sys, err)
	}
}

func TestHTTPTriggerVariants(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		query   map[string]string
		body    string
	}{
		{"query as a JSON string (older hosts)", `{"Data":{"req":{"Method":"GET","Query":"{\"a\":\"1\"}"}}}`, map[string]string{"a": "1"}, ""},
		{"octet-stream body in base64", `{"Data":{"req":{"Headers":{"Content-Type":["application/octet-stream"]},"Body":"AAEC/w=="}}}`, nil, "\x00\x01\x02\xff"},
		{"text body", `{"Data":{"req":{"Headers":{"Content-Type":["text/plain"]},"Body":"AAEC/w=="}}}`, nil, "AAEC/w=="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := HTTPTrigger(invocationFrom(t, tc.payload), "req")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Query, tc.query) || string(got.Body) != tc.body {
				t.Errorf("Query, Body = %v, %q; want %v, %q", got.Query, got.Body, tc.query, tc.body)
			}
		})
	}
	errs := []struct {
		payload, field string
	}{
		{`{"Data":{}}`, "Data.req"},
		{`{"Data":{"req":"GET /"}}`, "Data.req"},
		{`{"Data":{"req":{"Query":"not json"}}}`, "Data.req.Query"},
		{`{"Data":{"req":{"Body":{"a":1}}}}`, "Data.req.Body"},
		{`{"Data":{"req":{"Headers":{"Content-Type":["application/octet-stream"]},"Body":"not base64!"}}}`, "Data.req.Body"},
	}
	for _, tc := range errs {
		_, err := HTTPTrigger(invocationFrom(t, tc.payload), "req")
		wantFieldError(t, err, tc.field)
	}
}

func TestResponseEncoding(t *testing.T) {
	tests := []struct {
		name string
		resp Response
		want string // file in testdata, or inline JSON
	}{
		{
			name: "success",
			resp: Response{Logs: []string{`level=INFO msg="change processed" sessionId=0f4c6a63-3d3c-4f0a-9d7e-2b1e6b7c9a01 deliveryCount=2`}},
			want: "response-success.json",
		},
		{
			name: "failure",
			resp: Response{Logs: []string{`level=WARN msg="target throttled" target=contoso`, `level=ERROR msg="invocation failed" err="process change: throttled"`}},
			want: "response-failure.json",
		},
		{
			name: "outputs and return value",
			resp: Response{
				Outputs:     map[string]any{"res": map[string]any{"statusCode": 202, "body": ""}, "queue": []string{"a", "b"}},
				ReturnValue: `{"hello":"world"}`,
			},
			want: `{"Outputs":{"res":{"statusCode":202,"body":""},"queue":["a","b"]},"Logs":[],"ReturnValue":"{\"hello\":\"world\"}"}`,
		},
		{
			name: "empty",
			resp: Response{},
			want: `{"Outputs":{},"Logs":[],"ReturnValue":null}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := []byte(tc.want)
			if strings.HasSuffix(tc.want, ".json") {
				var err error
				if want, err = os.ReadFile(filepath.Join("testdata", tc.want)); err != nil {
					t.Fatal(err)
				}
			}
			got, err := json.Marshal(&tc.resp)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, got, want) {
				t.Errorf("encoded\n%s\nwant\n%s", got, want)
			}
			var back Response
			if err := json.Unmarshal(want, &back); err != nil {
				t.Fatal(err)
			}
			again, err := json.Marshal(&back)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, again, want) {
				t.Errorf("decoded and encoded again\n%s\nwant\n%s", again, want)
			}
		})
	}
}

func TestInvocationJSON(t *testing.T) {
	var inv Invocation
	if err := json.Unmarshal([]byte(`{"Data":{"a":"\"x\""},"Metadata":{"sys":{"MethodName":"F"}}}`), &inv); err != nil {
		t.Fatal(err)
	}
	if string(inv.Data["a"]) != `"\"x\""` || string(inv.Metadata["sys"]) != `{"MethodName":"F"}` {
		t.Errorf("decoded %s, %s", inv.Data["a"], inv.Metadata["sys"])
	}
	b, err := json.Marshal(&Invocation{Function: "F", ID: "i"})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"Data":{},"Metadata":{}}` {
		t.Errorf("empty invocation encoded as %s", b)
	}
	if err := json.Unmarshal([]byte(`{"Data":[]}`), &inv); err == nil {
		t.Error("Data as an array accepted")
	}
}
