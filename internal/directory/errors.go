package directory

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Error kinds. Adapters return an *Error whose Is method matches the kind its
// HTTP status and error code mean, so callers branch with errors.Is and never
// parse messages.
var (
	// ErrNotFound: the object does not exist (404 Request_ResourceNotFound).
	ErrNotFound = errors.New("not found")
	// ErrThrottled: the request was throttled (429) or the service asked to
	// back off (503 with Retry-After). Error.RetryAfter says for how long.
	ErrThrottled = errors.New("throttled")
	// ErrForbidden: authorization failed (401, 403): missing consent,
	// permissions, or a policy such as restricted guest invitations.
	ErrForbidden = errors.New("forbidden")
	// ErrConflict: the object already exists or changed concurrently (409, 412).
	ErrConflict = errors.New("conflict")
	// ErrBadRequest: the request was refused as invalid (400); retrying it
	// unchanged will not help.
	ErrBadRequest = errors.New("bad request")
	// ErrTransient: a server or network failure (5xx, timeouts) worth retrying.
	ErrTransient = errors.New("transient failure")
	// ErrDeltaExpired: a delta token is no longer valid (syncStateNotFound,
	// 410 Gone); a full resync is needed.
	ErrDeltaExpired = errors.New("delta token expired")
)

// Error is a failed directory request.
type Error struct {
	Op         string // what was being done: "get user 1234", "invite a@b.example"
	Status     int    // HTTP status, 0 for network failures
	Code       string // Graph error code, such as "Request_ResourceNotFound"
	Message    string
	RequestID  string
	RetryAfter time.Duration // set for throttling
	Err        error         // underlying error, if any
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	s := e.Op + ": "
	if e.Status != 0 {
		s += fmt.Sprintf("%d ", e.Status)
	}
	if e.Code != "" {
		s += e.Code + ": "
	}
	s += msg
	if e.RequestID != "" {
		s += " (request-id " + e.RequestID + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether the error is of the given kind.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrDeltaExpired:
		return deltaReset(e.Code) || e.Status == http.StatusGone
	case ErrThrottled:
		return e.Status == http.StatusTooManyRequests || (e.Status == http.StatusServiceUnavailable && e.RetryAfter > 0)
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrForbidden:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	case ErrConflict:
		return e.Status == http.StatusConflict || e.Status == http.StatusPreconditionFailed
	case ErrBadRequest:
		return e.Status == http.StatusBadRequest && !deltaReset(e.Code)
	case ErrTransient:
		return e.Status == 0 || e.Status >= 500 || e.Status == http.StatusRequestTimeout
	}
	return false
}

// deltaResetCodes are the error codes with which Graph says a delta token is
// no longer good, lower-cased: Graph's services do not agree on the casing
// (syncStateNotFound, SyncStateNotFound), and the directory documents none
// for a reset (learn.microsoft.com/graph/delta-query-overview,
// "Synchronization reset"). Each means: start again with a full round.
var deltaResetCodes = map[string]bool{"syncstatenotfound": true, "syncstateinvalid": true, "resyncrequired": true}

func deltaReset(code string) bool { return deltaResetCodes[strings.ToLower(code)] }

// RetryAfter returns how long err asks the caller to wait, and whether it is
// a throttling error at all.
func RetryAfter(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && errors.Is(e, ErrThrottled) {
		return e.RetryAfter, true
	}
	return 0, false
}

// Retryable reports whether retrying the same request later may succeed.
func Retryable(err error) bool {
	return errors.Is(err, ErrThrottled) || errors.Is(err, ErrTransient)
}
