package graph

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	khttp "github.com/microsoft/kiota-http-go"

	"github.com/tenantsync/tenantsync/internal/directory"
)

// exchange is what the trace middleware saw of the last attempt of one
// call: the status and the headers error mapping needs. The SDK's errors
// carry the response headers too, but not when the error body cannot be
// parsed (an HTML 502 from a proxy), and never for transport errors.
type exchange struct {
	status     int
	requestID  string
	retryAfter string
}

type exchangeKey struct{}

// traceHandler is the innermost middleware of the SDK's pipeline: it records
// every attempt of every request (retries included) in the context's
// directory.Trace, fills the call's exchange, bounds the response body and
// logs the request at debug level. It never looks at the Authorization
// header.
type traceHandler struct {
	log     *slog.Logger
	maxBody int64
}

var _ khttp.Middleware = (*traceHandler)(nil)

// Intercept implements khttp.Middleware.
func (h *traceHandler) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := p.Next(req, i)
	ctx := req.Context()
	status, rid := 0, ""
	if resp != nil {
		status, rid = resp.StatusCode, requestID(resp.Header)
		if resp.Body != nil && h.maxBody > 0 {
			resp.Body = &limitedBody{rc: resp.Body, left: h.maxBody, limit: h.maxBody}
		}
	}
	if t := directory.TraceFrom(ctx); t != nil {
		t.Add(directory.Request{Method: req.Method, Path: req.URL.Path, Status: status, RequestID: rid})
	}
	if ex, ok := ctx.Value(exchangeKey{}).(*exchange); ok {
		ex.status, ex.requestID, ex.retryAfter = status, rid, ""
		if resp != nil {
			ex.retryAfter = resp.Header.Get("Retry-After")
		}
	}
	attrs := []any{"method", req.Method, "path", req.URL.Path, "status", status, "requestId", rid, "duration", time.Since(start)}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	h.log.DebugContext(ctx, "graph request", attrs...)
	return resp, err
}

// requestID returns Graph's request id from response headers.
func requestID(h http.Header) string {
	if id := h.Get("request-id"); id != "" {
		return id
	}
	return h.Get("client-request-id")
}

// errBodyTooLarge is returned when a response body exceeds
// Options.MaxResponseBytes.
var errBodyTooLarge = errors.New("response body too large")

// limitedBody fails a read past its limit instead of truncating silently.
type limitedBody struct {
	rc    io.ReadCloser
	left  int64
	limit int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One more byte tells a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w (more than %d bytes)", errBodyTooLarge, b.limit)
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
