package customhandler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// HeaderInvocationID is the header in which the Functions host sends the
// invocation id, on invocations and forwarded HTTP requests alike.
const HeaderInvocationID = "X-Azure-Functions-InvocationId"

// HeaderHostVersion is the header in which the Functions host sends its
// version.
const HeaderHostVersion = "X-Azure-Functions-HostVersion"

// Invocation is one function invocation as the Functions host sends it: the
// trigger and input binding values in Data and the trigger metadata in
// Metadata, both keyed by name and left undecoded until asked for.
//
// Its JSON form is the host's request body, {"Data":{…},"Metadata":{…}}.
type Invocation struct {
	// Function is the invoked function's name: the folder of its
	// function.json and the path the host posts to.
	Function string
	// ID is the host's invocation id (HeaderInvocationID).
	ID string
	// Data holds the trigger and input binding values by binding name.
	Data map[string]json.RawMessage
	// Metadata holds the trigger metadata by name, and "sys".
	Metadata map[string]json.RawMessage
}

// wireInvocation is the host's request body.
type wireInvocation struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// MarshalJSON encodes inv as the host's request body. Function and ID travel
// in the request path and headers, not in the body.
func (inv *Invocation) MarshalJSON() ([]byte, error) {
	w := wireInvocation{Data: inv.Data, Metadata: inv.Metadata}
	if w.Data == nil {
		w.Data = map[string]json.RawMessage{}
	}
	if w.Metadata == nil {
		w.Metadata = map[string]json.RawMessage{}
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes the host's request body into inv's Data and
// Metadata, leaving Function and ID as they are.
func (inv *Invocation) UnmarshalJSON(b []byte) error {
	var w wireInvocation
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	inv.Data, inv.Metadata = w.Data, w.Metadata
	return nil
}

// Sys is the "sys" metadata the host adds to every invocation.
type Sys struct {
	// MethodName is the function name.
	MethodName string
	// UtcNow is the host's clock when it built the invocation.
	UtcNow time.Time
	// RandGuid is a fresh GUID per invocation. It is not the invocation id.
	RandGuid string
}

// Sys decodes the invocation's "sys" metadata. An invocation without it
// yields the zero Sys.
func (inv *Invocation) Sys() (Sys, error) {
	raw, ok := lookup(inv.Metadata, "sys")
	if !ok || isNull(raw) {
		return Sys{}, nil
	}
	var w struct {
		MethodName string
		UtcNow     string
		RandGuid   string
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return Sys{}, &FieldError{Field: "Metadata.sys", Err: err}
	}
	sys := Sys{MethodName: w.MethodName, RandGuid: w.RandGuid}
	if w.UtcNow != "" {
		t, err := parseHostTime(w.UtcNow)
		if err != nil {
			return Sys{}, &FieldError{Field: "Metadata.sys.UtcNow", Err: err}
		}
		sys.UtcNow = t
	}
	return sys, nil
}

// Response is a custom handler's answer to an invocation. Its JSON form is
// {"Outputs":{…},"Logs":[…],"ReturnValue":…}.
type Response struct {
	// Outputs holds output binding values by binding name.
	Outputs map[string]any
	// Logs are lines the host writes to the invocation's log, and so to
	// Application Insights. The host reads them only from 2xx answers.
	Logs []string
	// ReturnValue is the value of a "$return" output binding.
	ReturnValue any
}

// wireResponse is the host's response body. Outputs and Logs are always
// present so that the host never has to tell an empty answer from a broken
// one.
type wireResponse struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// MarshalJSON encodes r as the host expects it.
func (r *Response) MarshalJSON() ([]byte, error) {
	w := wireResponse{Outputs: r.Outputs, Logs: r.Logs, ReturnValue: r.ReturnValue}
	if w.Outputs == nil {
		w.Outputs = map[string]any{}
	}
	if w.Logs == nil {
		w.Logs = []string{}
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes a response body.
func (r *Response) UnmarshalJSON(b []byte) error {
	var w wireResponse
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	r.Outputs, r.Logs, r.ReturnValue = w.Outputs, w.Logs, w.ReturnValue
	return nil
}

// FieldError is a payload field that is missing or malformed. Field names it
// the way the payload does, as in "Metadata.DeliveryCount" or "Data.message".
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

// errMissing is the cause of a FieldError for a required field that is absent.
var errMissing = errors.New("missing")

// InvocationOptions are the host-assigned values of an invocation built by
// NewServiceBusInvocation or NewTimerInvocation. Zero fields are filled in:
// a random ID and RandGuid and the current time.
type InvocationOptions struct {
	ID       string
	Now      time.Time
	RandGuid string
}

// sysMetadata builds the "sys" metadata and fills in opts.
func sysMetadata(function string, opts *InvocationOptions) (InvocationOptions, json.RawMessage, error) {
	var o InvocationOptions
	if opts != nil {
		o = *opts
	}
	if o.ID == "" {
		o.ID = newID()
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.RandGuid == "" {
		o.RandGuid = newID()
	}
	raw, err := json.Marshal(struct {
		MethodName string
		UtcNow     string
		RandGuid   string
	}{function, o.Now.UTC().Format(time.RFC3339Nano), o.RandGuid})
	return o, raw, err
}

// lookup finds a payload key, exactly or else ignoring case: the host's
// binding data is case-insensitive, so either spelling may arrive.
func lookup(m map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if len(k) == len(key) && equalFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

func equalFold(a, b string) bool {
	return bytes.EqualFold([]byte(a), []byte(b))
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// bindingValue returns the Data value of the named binding, which must be
// present.
func bindingValue(inv *Invocation, bindingName string) (json.RawMessage, error) {
	if inv == nil {
		return nil, errors.New("nil invocation")
	}
	raw, ok := lookup(inv.Data, bindingName)
	if !ok || isNull(raw) {
		return nil, &FieldError{Field: "Data." + bindingName, Err: errMissing}
	}
	return raw, nil
}

// mustMarshal encodes values that cannot fail to encode (strings, numbers).
func mustMarshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("customhandler: encode %T: %v", v, err))
	}
	return b
}
