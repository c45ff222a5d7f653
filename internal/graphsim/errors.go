package graphsim

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// graphError is an error answered with Graph's error body:
// {"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}.
type graphError struct {
	status     int
	code       string
	message    string
	retryAfter int // seconds; sent as Retry-After when > 0
}

func (e *graphError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message)
}

func newError(status int, code, format string, args ...any) *graphError {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &graphError{status: status, code: code, message: msg}
}

// Error codes and messages as Graph answers them for directory objects.
func errNotFound(id string) *graphError {
	return newError(http.StatusNotFound, "Request_ResourceNotFound",
		"Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)
}

// errNoObject answers a lookup that found nothing: 404, or 400 when the key
// is neither an object id nor a userPrincipalName, as Graph does.
func errNoObject(key string) *graphError {
	if !isGUID(key) && !strings.Contains(key, "@") {
		return errBadRequest("Invalid object identifier '%s'.", key)
	}
	return errNotFound(key)
}

func errBadRequest(format string, args ...any) *graphError {
	return newError(http.StatusBadRequest, "Request_BadRequest", format, args...)
}

func errInvalidValue(prop, resource string) *graphError {
	return errBadRequest("Invalid value specified for property '%s' of resource '%s'.", prop, resource)
}

func errRequired(prop, resource string) *graphError {
	return errBadRequest("A value is required for property '%s' of resource '%s'.", prop, resource)
}

func errUnknownProperty(prop string) *graphError {
	return errBadRequest("Property '%s' does not exist as a declared property or extension property.", prop)
}

func errReadOnly(prop string) *graphError {
	return errBadRequest("Property '%s' is read-only and cannot be set.", prop)
}

func errUnsupportedQuery(format string, args ...any) *graphError {
	return newError(http.StatusBadRequest, "Request_UnsupportedQuery", format, args...)
}

func errMalformedJSON() *graphError {
	return newError(http.StatusBadRequest, "BadRequest",
		"Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
}

func errSegment(seg string) *graphError {
	return newError(http.StatusBadRequest, "BadRequest", "Resource not found for the segment '%s'.", seg)
}

func errMethod() *graphError {
	return newError(http.StatusMethodNotAllowed, "Request_BadRequest",
		"Specified HTTP method is not allowed for the request target.")
}

func errDeltaExpired() *graphError {
	return newError(http.StatusBadRequest, "syncStateNotFound",
		"The sync state generation is not found. The delta token is expired and data must be synchronized again.")
}

func errThrottled(retryAfter int, tenantID string) *graphError {
	e := newError(http.StatusTooManyRequests, "TooManyRequests",
		"Too many requests from Identifier:%s under category:throttle.aad.ags.appId. Please try again later.", tenantID)
	e.retryAfter = retryAfter
	return e
}

// faultError is the error an injected fault answers with.
func faultError(status, retryAfter int, tenantID string) *graphError {
	switch status {
	case http.StatusTooManyRequests:
		return errThrottled(retryAfter, tenantID)
	case http.StatusServiceUnavailable:
		e := newError(status, "serviceNotAvailable", "The service is temporarily unavailable. Please retry later.")
		e.retryAfter = retryAfter
		return e
	case http.StatusGatewayTimeout:
		return newError(status, "UnknownError", "Gateway Timeout.")
	case http.StatusForbidden:
		return newError(status, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	case http.StatusUnauthorized:
		return newError(status, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
	default:
		return newError(status, "UnknownError", "%s (injected by the simulator).", http.StatusText(status))
	}
}

// appendErrorBody appends Graph's error body for e.
func appendErrorBody(b []byte, e *graphError, reqID, clientReqID string, now time.Time) []byte {
	b = append(b, `{"error":{"code":`...)
	b = appendJSONString(b, e.code)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, e.message)
	b = append(b, `,"innerError":{"date":`...)
	b = appendJSONString(b, now.UTC().Format("2006-01-02T15:04:05"))
	b = append(b, `,"request-id":`...)
	b = appendJSONString(b, reqID)
	b = append(b, `,"client-request-id":`...)
	b = appendJSONString(b, clientReqID)
	return append(b, "}}}"...)
}

// retryAfterHeader formats seconds for the Retry-After header.
func retryAfterHeader(seconds int) string { return strconv.Itoa(seconds) }
