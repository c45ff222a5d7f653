package graph

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/tenantsync/tenantsync/internal/directory"
)

// mapError turns a failure of the SDK (an ODataError, a kiota ApiError, a
// token or transport error) into a *directory.Error for op, with the status,
// code, message, request id and Retry-After of the last response ex saw.
func mapError(op string, err error, ex *exchange) error {
	var de *directory.Error
	if errors.As(err, &de) {
		return err
	}
	e := &directory.Error{Op: op, Err: err}
	if ex != nil {
		e.Status, e.RequestID = ex.status, ex.requestID
	}
	retryAfter := ""
	if ex != nil {
		retryAfter = ex.retryAfter
	}

	var paced *pacedError
	if errors.As(err, &paced) {
		// Never sent: the tenant's write quota is used up for longer than
		// the caller may wait.
		e.Status, e.Code, e.RequestID = http.StatusTooManyRequests, "WriteQuotaPaced", ""
		e.Message, e.RetryAfter = paced.Error(), paced.wait
		return e
	}
	var odata *odataerrors.ODataError
	var api *abs.ApiError
	var authFailed *azidentity.AuthenticationFailedError
	var unavailable interface{ NonRetriable() }
	switch {
	case errors.As(err, &odata):
		if s := odata.GetStatusCode(); s != 0 {
			e.Status = s
		}
		if h := odata.GetResponseHeaders(); h != nil {
			if v := first(h.Get("request-id")); v != "" {
				e.RequestID = v
			}
			if v := first(h.Get("Retry-After")); v != "" {
				retryAfter = v
			}
		}
		if main := odata.GetErrorEscaped(); main != nil {
			e.Code, e.Message = deref(main.GetCode()), deref(main.GetMessage())
			if inner := main.GetInnerError(); inner != nil && e.RequestID == "" {
				e.RequestID = deref(inner.GetRequestId())
			}
		}
		if e.Message == "" {
			e.Message = odata.Error()
		}
	case errors.As(err, &api):
		if api.ResponseStatusCode != 0 {
			e.Status = api.ResponseStatusCode
		}
		if h := api.ResponseHeaders; h != nil {
			if v := first(h.Get("request-id")); v != "" {
				e.RequestID = v
			}
			if v := first(h.Get("Retry-After")); v != "" {
				retryAfter = v
			}
		}
		e.Message = api.Message
	case errors.As(err, &authFailed):
		// The token request failed: the app is not consented in the
		// tenant, its credential is wrong, or the identity platform is
		// down. Only the last is worth retrying.
		e.Status, e.Code = http.StatusUnauthorized, "TokenRequestFailed"
		if authFailed.RawResponse != nil && authFailed.RawResponse.StatusCode >= 500 {
			e.Status, e.Code = authFailed.RawResponse.StatusCode, "TokenServiceUnavailable"
		}
		e.RequestID = ""
		e.Message = "acquire token: " + err.Error()
	case errors.As(err, &unavailable):
		// azidentity.CredentialUnavailableError: no managed identity here,
		// Azure CLI not logged in, ...
		e.Status, e.Code, e.RequestID = http.StatusUnauthorized, "CredentialUnavailable", ""
		e.Message = "acquire token: " + err.Error()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The call was abandoned, whatever the last response was.
		e.Status, e.RequestID = 0, ""
		e.Message = err.Error()
	default:
		// A transport failure, or a response that could not be read. A
		// response the SDK could not parse still has its status here.
		e.Message = err.Error()
	}
	if e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable {
		e.RetryAfter = parseRetryAfter(retryAfter, time.Now())
	}
	return e
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func first(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
