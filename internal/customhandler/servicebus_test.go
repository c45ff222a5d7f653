package customhandler

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fixtureBody is the change message in servicebus-session-string.json: what
// internal/changes writes for a re-scheduled retry of a notification.
const fixtureBody = `{"v":1,"kind":"user","id":"0f4c6a63-3d3c-4f0a-9d7e-2b1e6b7c9a01","observed":"2026-03-02T09:41:16.5417Z","cause":"notification","force":true}`

func TestServiceBusMessageFixtures(t *testing.T) {
	tests := []struct {
		file    string
		body    string
		want    Message
		wantSys Sys
	}{
		{
			file: "servicebus-session-string.json",
			body: fixtureBody,
			want: Message{
				MessageID:             "3f2b8c1d-6e4a-4f5b-9c7d-0a1b2c3d4e5f",
				SessionID:             "0f4c6a63-3d3c-4f0a-9d7e-2b1e6b7c9a01",
				ContentType:           "application/json",
				DeliveryCount:         2,
				SequenceNumber:        4711,
				EnqueuedTime:          time.Date(2026, 3, 2, 9, 41, 17, 0, time.UTC),
				ExpiresAt:             time.Date(2026, 3, 16, 9, 41, 17, 0, time.UTC),
				LockToken:             "8a3c2e1f-7b6d-4c5e-9f0a-1b2c3d4e5f60",
				ApplicationProperties: map[string]any{"tenantsyncAttempt": json.Number("2")},
			},
			wantSys: Sys{
				MethodName: "ProcessChange",
				UtcNow:     time.Date(2026, 3, 2, 9, 41, 18, 553124700, time.UTC),
				RandGuid:   "c4b1e2a7-0d3f-4e8b-9a61-7f5e2d4c3b1a",
			},
		},
		{
			// A shape the host never sends (testdata/README.md): the
			// decoder accepts it, and nothing relies on it.
			file: "servicebus-object-body-never-sent.json",
			body: `{"v":1,"kind":"user","id":"0f4c6a63-3d3c-4f0a-9d7e-2b1e6b7c9a01","observed":"2026-03-02T09:41:16.5417Z","cause":"notification"}`,
			want: Message{
				MessageID:             "9d2b7c1e-5a4f-4b3e-8c2d-1e0f9a8b7c6d",
				SessionID:             "0f4c6a63-3d3c-4f0a-9d7e-2b1e6b7c9a01",
				ContentType:           "application/json",
				DeliveryCount:         1,
				SequenceNumber:        4712,
				EnqueuedTime:          time.Date(2026, 3, 2, 9, 41, 17, 0, time.UTC),
				ExpiresAt:             time.Date(2026, 3, 16, 9, 41, 17, 0, time.UTC),
				LockToken:             "8a3c2e1f-7b6d-4c5e-9f0a-1b2c3d4e5f60",
				ApplicationProperties: map[string]any{},
			},
			wantSys: Sys{
				MethodName: "ProcessChange",
				UtcNow:     time.Date(2026, 3, 2, 9, 41, 19, 2441300, time.UTC),
				RandGuid:   "1e9a7c5b-3d2f-4a1b-8c7d-6e5f4a3b2c1d",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			inv := readInvocation(t, tc.file, "ProcessChange")
			got, err := ServiceBusMessage(inv, "message")
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Body) != tc.body {
				t.Errorf("Body = %s, want %s", got.Body, tc.body)
			}
			got.Body = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("message =\n%+v\nwant\n%+v", got, tc.want)
			}
			// The host copies the body's top-level properties into the
			// metadata (Utility.ApplyBindingData): a fixture whose body
			// changed without its copies no longer shows what the host sends.
			var props map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tc.body), &props); err != nil {
				t.Fatal(err)
			}
			for k := range props {
				if _, ok := inv.Metadata[k]; !ok {
					t.Errorf("Metadata lacks the host's copy of the body property %q", k)
				}
			}
			sys, err := inv.Sys()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(sys, tc.wantSys) {
				t.Errorf("sys = %+v, want %+v", sys, tc.wantSys)
			}
		})
	}
}

// TestServiceBusMessageEncodings feeds the encodings that hosts, older
// extensions and the documentation show for the same fields.
func TestServiceBusMessageEncodings(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    Message
	}{
		{
			name:    "JSON body encoded twice, metadata quoted twice",
			payload: `{"Data":{"message":"\"{\\\"a\\\":1}\""},"Metadata":{"MessageId":"\"m-1\"","SessionId":"\"s-1\"","DeliveryCount":"3","SequenceNumber":"9223372036854775807"}}`,
			want:    Message{Body: []byte(`{"a":1}`), MessageID: "m-1", SessionID: "s-1", DeliveryCount: 3, SequenceNumber: 9223372036854775807},
		},
		{
			name:    "JSON body encoded once, metadata quoted once",
			payload: `{"Data":{"message":"{\"a\":1}"},"Metadata":{"MessageId":"m-1","SessionId":"s-1","DeliveryCount":"1"}}`,
			want:    Message{Body: []byte(`{"a":1}`), MessageID: "m-1", SessionID: "s-1", DeliveryCount: 1},
		},
		{
			name:    "text body encoded twice",
			payload: `{"Data":{"message":"\"hello, world\""},"Metadata":{}}`,
			want:    Message{Body: []byte(`hello, world`)},
		},
		{
			name:    "text body encoded once",
			payload: `{"Data":{"message":"hello, world"},"Metadata":{}}`,
			want:    Message{Body: []byte(`hello, world`)},
		},
		{
			name:    "empty body encoded twice",
			payload: `{"Data":{"message":"\"\""}}`,
			want:    Message{Body: []byte{}},
		},
		{
			name:    "array body as a value",
			payload: `{"Data":{"message":[1, 2]}}`,
			want:    Message{Body: []byte(`[1,2]`)},
		},
		{
			name:    "numbers unquoted",
			payload: `{"Data":{"message":"\"x\""},"Metadata":{"DeliveryCount":7,"SequenceNumber":12}}`,
			want:    Message{Body: []byte("x"), DeliveryCount: 7, SequenceNumber: 12},
		},
		{
			name:    "extension 4.x names: Label, UserProperties, ...Utc with Z",
			payload: `{"Data":{"message":"\"x\""},"Metadata":{"Label":"\"user\"","UserProperties":{"k":"v"},"EnqueuedTimeUtc":"2020-12-18T02:01:35.8498946Z","ExpiresAtUtc":"\"2020-12-19T02:01:35Z\""}}`,
			want: Message{
				Body: []byte("x"), Subject: "user", ApplicationProperties: map[string]any{"k": "v"},
				EnqueuedTime: time.Date(2020, 12, 18, 2, 1, 35, 849894600, time.UTC),
				ExpiresAt:    time.Date(2020, 12, 19, 2, 1, 35, 0, time.UTC),
			},
		},
		{
			name:    "zone-less EnqueuedTimeUtc alone is UTC",
			payload: `{"Data":{"message":"\"x\""},"Metadata":{"EnqueuedTimeUtc":"2023-10-12T20:13:49"}}`,
			want:    Message{Body: []byte("x"), EnqueuedTime: time.Date(2023, 10, 12, 20, 13, 49, 0, time.UTC)},
		},
		{
			name:    "offset form preferred over the zone-less one",
			payload: `{"Data":{"message":"\"x\""},"Metadata":{"EnqueuedTimeUtc":"2023-10-12T18:13:49","EnqueuedTime":"2023-10-12T20:13:49+02:00"}}`,
			want:    Message{Body: []byte("x"), EnqueuedTime: mustTime(t, "2023-10-12T20:13:49+02:00")},
		},
		{
			name:    "ApplicationProperties as a JSON string",
			payload: `{"Data":{"message":"\"x\""},"Metadata":{"ApplicationProperties":"{\"n\":12345678901234567}"}}`,
			want:    Message{Body: []byte("x"), ApplicationProperties: map[string]any{"n": json.Number("12345678901234567")}},
		},
		{
			name:    "metadata names in another case",
			payload: `{"Data":{"Message":"\"x\""},"Metadata":{"messageId":"\"m\"","deliveryCount":"2"}}`,
			want:    Message{Body: []byte("x"), MessageID: "m", DeliveryCount: 2},
		},
		{
			name:    "null metadata is absent",
			payload: `{"Data":{"message":"\"x\""},"Metadata":{"MessageId":null,"ApplicationProperties":null}}`,
			want:    Message{Body: []byte("x")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ServiceBusMessage(invocationFrom(t, tc.payload), "message")
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Body) != string(tc.want.Body) {
				t.Errorf("Body = %q, want %q", got.Body, tc.want.Body)
			}
			got.Body, tc.want.Body = nil, nil
			if !got.EnqueuedTime.Equal(tc.want.EnqueuedTime) || !got.ExpiresAt.Equal(tc.want.ExpiresAt) {
				t.Errorf("times = %v, %v; want %v, %v", got.EnqueuedTime, got.ExpiresAt, tc.want.EnqueuedTime, tc.want.ExpiresAt)
			}
			got.EnqueuedTime, got.ExpiresAt, tc.want.EnqueuedTime, tc.want.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("message =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestServiceBusMessageErrors(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		field   string
	}{
		{"no binding value", `{"Data":{},"Metadata":{}}`, "Data.message"},
		{"null binding value", `{"Data":{"message":null}}`, "Data.message"},
		{"number body", `{"Data":{"message":42}}`, "Data.message"},
		{"broken second encoding", `{"Data":{"message":"\"{\"a\":1}\""}}`, "Data.message"},
		{"DeliveryCount not a number", `{"Data":{"message":"\"x\""},"Metadata":{"DeliveryCount":"\"two\""}}`, "Metadata.DeliveryCount"},
		{"DeliveryCount too big", `{"Data":{"message":"\"x\""},"Metadata":{"DeliveryCount":"99999999999"}}`, "Metadata.DeliveryCount"},
		{"SequenceNumber a fraction", `{"Data":{"message":"\"x\""},"Metadata":{"SequenceNumber":"1.5"}}`, "Metadata.SequenceNumber"},
		{"EnqueuedTime not a time", `{"Data":{"message":"\"x\""},"Metadata":{"EnqueuedTime":"\"yesterday\""}}`, "Metadata.EnqueuedTime"},
		{"ExpiresAtUtc not a time", `{"Data":{"message":"\"x\""},"Metadata":{"ExpiresAtUtc":"31/12/9999"}}`, "Metadata.ExpiresAtUtc"},
		{"MessageId an object", `{"Data":{"message":"\"x\""},"Metadata":{"MessageId":{"id":1}}}`, "Metadata.MessageId"},
		{"SessionId quoted badly", `{"Data":{"message":"\"x\""},"Metadata":{"SessionId":"\"a\"b\""}}`, "Metadata.SessionId"},
		{"ApplicationProperties an array", `{"Data":{"message":"\"x\""},"Metadata":{"ApplicationProperties":[1]}}`, "Metadata.ApplicationProperties"},
		{"UserProperties a number", `{"Data":{"message":"\"x\""},"Metadata":{"UserProperties":3}}`, "Metadata.UserProperties"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ServiceBusMessage(invocationFrom(t, tc.payload), "message")
			wantFieldError(t, err, tc.field)
		})
	}
}

func TestSysErrors(t *testing.T) {
	tests := []struct {
		payload string
		field   string
	}{
		{`{"Metadata":{"sys":[]}}`, "Metadata.sys"},
		{`{"Metadata":{"sys":{"UtcNow":"now"}}}`, "Metadata.sys.UtcNow"},
	}
	for _, tc := range tests {
		_, err := invocationFrom(t, tc.payload).Sys()
		wantFieldError(t, err, tc.field)
	}
}

// TestNewServiceBusInvocation encodes a message the way the host does and
// decodes it again, and checks the encoding against the fixture's.
func TestNewServiceBusInvocation(t *testing.T) {
	fixture := readInvocation(t, "servicebus-session-string.json", "ProcessChange")
	m, err := ServiceBusMessage(fixture, "message")
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := fixture.Sys()
	if err != nil {
		t.Fatal(err)
	}
	opts := &InvocationOptions{ID: "inv-1", Now: fsys.UtcNow, RandGuid: fsys.RandGuid}
	inv, err := NewServiceBusInvocation("ProcessChange", "message", m, opts)
	if err != nil {
		t.Fatal(err)
	}
	if inv.ID != "inv-1" || inv.Function != "ProcessChange" {
		t.Errorf("ID, Function = %q, %q", inv.ID, inv.Function)
	}
	wire, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	var back Invocation
	if err := json.Unmarshal(wire, &back); err != nil {
		t.Fatal(err)
	}
	// Field by field against the fixture, in the host's representation.
	keys := []string{"DeliveryCount", "LockToken", "ExpiresAtUtc", "ExpiresAt", "EnqueuedTimeUtc", "EnqueuedTime",
		"MessageId", "ContentType", "SequenceNumber", "ApplicationProperties", "UserProperties", "SessionId", "sys"}
	// The properties tenantsync's sender never sets are absent, as the host
	// leaves null metadata out.
	for _, k := range []string{"Subject", "Label", "CorrelationId"} {
		for what, md := range map[string]map[string]json.RawMessage{"fixture": fixture.Metadata, "built": inv.Metadata} {
			if _, ok := md[k]; ok {
				t.Errorf("%s: Metadata.%s present for a message without it", what, k)
			}
		}
	}
	for _, k := range keys {
		if !jsonEqual(t, back.Metadata[k], fixture.Metadata[k]) {
			t.Errorf("Metadata.%s = %s, fixture has %s", k, back.Metadata[k], fixture.Metadata[k])
		}
	}
	if !jsonEqual(t, back.Data["message"], fixture.Data["message"]) {
		t.Errorf("Data.message = %s, fixture has %s", back.Data["message"], fixture.Data["message"])
	}
	got, err := ServiceBusMessage(&back, "message")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("round trip =\n%+v\nwant\n%+v", got, m)
	}
}

func TestNewServiceBusInvocationRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		m    Message
	}{
		{"minimal", Message{Body: []byte(`{}`), DeliveryCount: 1}},
		{"text with quotes and newlines", Message{Body: []byte("say \"hi\"\n\tand \\ bye"), MessageID: `a"b`, SessionID: "s"}},
		{"empty body", Message{Body: []byte{}, SessionID: "s"}},
		{"times drop the fraction", Message{
			Body:         []byte(`1`),
			EnqueuedTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			ExpiresAt:    time.Date(2026, 1, 16, 3, 4, 5, 0, time.UTC),
		}},
		{"properties", Message{Body: []byte(`[]`), ApplicationProperties: map[string]any{"a": "b", "n": json.Number("1")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := NewServiceBusInvocation("F", "msg", tc.m, nil)
			if err != nil {
				t.Fatal(err)
			}
			if inv.ID == "" {
				t.Error("no invocation id generated")
			}
			wire, err := json.Marshal(inv)
			if err != nil {
				t.Fatal(err)
			}
			var back Invocation
			if err := json.Unmarshal(wire, &back); err != nil {
				t.Fatal(err)
			}
			got, err := ServiceBusMessage(&back, "msg")
			if err != nil {
				t.Fatal(err)
			}
			want := tc.m
			if want.ApplicationProperties == nil {
				want.ApplicationProperties = map[string]any{}
			}
			if string(got.Body) != string(want.Body) {
				t.Errorf("Body = %q, want %q", got.Body, want.Body)
			}
			got.Body, want.Body = nil, nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
	if _, err := NewServiceBusInvocation("F", "msg", Message{Body: []byte{0xff, 0xfe}}, nil); err == nil {
		t.Error("a body that is not UTF-8 was accepted")
	}
}

func TestCheckServiceBusBody(t *testing.T) {
	tests := []struct {
		body    string
		clashes string // "" for none
	}{
		{fixtureBody, ""},
		{`{"v":1,"sessionId":"s","MessageID":"m"}`, "MessageID, sessionId"},
		{`{"to":{"a":1},"subject":"x"}`, "subject, to"},
		{`{"label":["arrays are skipped"]}`, ""},
		{`"just text"`, ""},
		{`[{"sessionId":"s"}]`, ""},
		{``, ""},
	}
	for _, tc := range tests {
		err := CheckServiceBusBody([]byte(tc.body))
		switch {
		case tc.clashes == "" && err != nil:
			t.Errorf("CheckServiceBusBody(%s) = %v, want nil", tc.body, err)
		case tc.clashes != "" && (err == nil || !strings.Contains(err.Error(), "properties "+tc.clashes+" ")):
			t.Errorf("CheckServiceBusBody(%s) = %v, want clashes %s", tc.body, err, tc.clashes)
		}
	}
	if err := CheckServiceBusBody([]byte(`{"a":`)); err == nil {
		t.Error("malformed JSON object accepted")
	}
}
