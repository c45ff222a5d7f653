package customhandler

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime"
	"strings"
)

// HTTPRequest is the value of an httpTrigger binding when the host does not
// forward the request (the function has bindings besides httpTrigger and
// http out, or forwarding is off).
type HTTPRequest struct {
	URL     string
	Method  string
	Query   map[string]string
	Headers map[string][]string
	// Params are the route parameters.
	Params map[string]string
	Body   []byte
}

type wireHTTPRequest struct {
	URL     string              `json:"Url"`
	Method  string              `json:"Method"`
	Query   json.RawMessage     `json:"Query"`
	Headers map[string][]string `json:"Headers"`
	Params  map[string]string   `json:"Params"`
	Body    json.RawMessage     `json:"Body"`
}

// HTTPTrigger decodes the value of the invocation's httpTrigger binding
// named bindingName. Errors are *FieldError values naming the field.
func HTTPTrigger(inv *Invocation, bindingName string) (HTTPRequest, error) {
	raw, err := bindingValue(inv, bindingName)
	if err != nil {
		return HTTPRequest{}, err
	}
	field := "Data." + bindingName
	var w wireHTTPRequest
	if err := json.Unmarshal(raw, &w); err != nil {
		return HTTPRequest{}, &FieldError{Field: field, Err: err}
	}
	req := HTTPRequest{URL: w.URL, Method: w.Method, Headers: w.Headers, Params: w.Params}
	if len(w.Query) > 0 && !isNull(w.Query) {
		// Older hosts send the query as a JSON string of the object.
		q, err := unwrapObject(w.Query)
		if err != nil {
			return HTTPRequest{}, &FieldError{Field: field + ".Query", Err: err}
		}
		if err := json.Unmarshal(q, &req.Query); err != nil {
			return HTTPRequest{}, &FieldError{Field: field + ".Query", Err: err}
		}
	}
	if len(w.Body) > 0 && !isNull(w.Body) {
		var s string
		if err := json.Unmarshal(w.Body, &s); err != nil {
			return HTTPRequest{}, &FieldError{Field: field + ".Body", Err: errors.New("want a string")}
		}
		req.Body = []byte(s)
		if binaryMediaType(req.header("Content-Type")) {
			// The host sends octet-stream and multipart bodies as bytes,
			// which JSON carries in base64.
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return HTTPRequest{}, &FieldError{Field: field + ".Body", Err: err}
			}
			req.Body = b
		}
	}
	return req, nil
}

// header returns the first value of the named header, ignoring case.
func (r HTTPRequest) header(name string) string {
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func binaryMediaType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/octet-stream" || strings.HasPrefix(mt, "multipart/")
}
