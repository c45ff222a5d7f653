package graphsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// batchItem is one request of a JSON batch.
type batchItem struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

const maxBatchItems = 20

// batch serves POST /$batch: up to 20 requests, run in dependency order
// (array order otherwise), each counted, faulted and throttled on its own.
func batch(s *Server, rq *request) *response {
	var env struct {
		Requests []batchItem `json:"requests"`
	}
	if len(rq.body) == 0 || json.Unmarshal(rq.body, &env) != nil {
		return errorResponse(errMalformedJSON())
	}
	if len(env.Requests) == 0 {
		return errorResponse(newError(http.StatusBadRequest, "BadRequest", "Invalid batch payload format: no requests."))
	}
	if len(env.Requests) > maxBatchItems {
		return errorResponse(newError(http.StatusBadRequest, "BadRequest",
			"Invalid batch payload format: the number of requests %d exceeds the limit of %d.", len(env.Requests), maxBatchItems))
	}
	index := map[string]int{}
	for i, it := range env.Requests {
		if it.ID == "" {
			return errorResponse(newError(http.StatusBadRequest, "BadRequest", "Invalid batch payload format: request %d has no id.", i))
		}
		if _, dup := index[it.ID]; dup {
			return errorResponse(newError(http.StatusBadRequest, "BadRequest", "Invalid batch payload format: duplicate request id '%s'.", it.ID))
		}
		index[it.ID] = i
		if it.Method == "" || it.URL == "" {
			return errorResponse(newError(http.StatusBadRequest, "BadRequest", "Invalid batch payload format: request '%s' needs a method and a url.", it.ID))
		}
		if len(it.Body) > 0 && string(it.Body) != "null" && headerValue(it.Headers, "Content-Type") == "" {
			return errorResponse(newError(http.StatusBadRequest, "BadRequest",
				"Write request id : %s does not contain Content-Type header or body.", it.ID))
		}
	}
	for _, it := range env.Requests {
		for _, d := range it.DependsOn {
			if _, ok := index[d]; !ok {
				return errorResponse(newError(http.StatusBadRequest, "BadRequest",
					"Invalid batch payload format: request '%s' depends on unknown request '%s'.", it.ID, d))
			}
		}
	}
	if f := s.faults.Load(); f != nil && f.latency() > 0 {
		// The items of a batch run in parallel in Graph: one latency.
		select {
		case <-time.After(f.latency()):
		case <-rq.ctx.Done():
		}
	}
	results := make([]*response, len(env.Requests))
	itemIDs := make([]string, len(env.Requests))
	done := make([]bool, len(env.Requests))
	for remaining := len(env.Requests); remaining > 0; {
		progressed := false
		for i, it := range env.Requests {
			if done[i] {
				continue
			}
			ready, failedDep := true, ""
			for _, d := range it.DependsOn {
				j := index[d]
				if !done[j] {
					ready = false
					break
				}
				if results[j].status >= 400 {
					failedDep = d
				}
			}
			if !ready {
				continue
			}
			itemIDs[i] = newGUID()
			if failedDep != "" {
				results[i] = errorResponse(newError(http.StatusFailedDependency, "FailedDependency",
					"The request depends on request '%s', which failed.", failedDep))
			} else {
				results[i] = s.runBatchItem(rq, it, itemIDs[i])
			}
			done[i] = true
			remaining--
			progressed = true
		}
		if !progressed {
			return errorResponse(newError(http.StatusBadRequest, "BadRequest", "Invalid batch payload format: dependsOn forms a cycle."))
		}
	}
	b := []byte(`{"responses":[`)
	for i, it := range env.Requests {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendBatchResponse(b, it.ID, results[i], itemIDs[i], rq)
	}
	b = append(b, "]}"...)
	return jsonResponse(http.StatusOK, b)
}

func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// runBatchItem serves one item as if it were a request of its own.
func (s *Server) runBatchItem(outer *request, it batchItem, reqID string) *response {
	raw := it.URL
	if i := strings.Index(raw, "/v1.0/"); i >= 0 && strings.Contains(raw[:i], "://") {
		raw = raw[i+len("/v1.0"):]
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errorResponse(errBadRequest("Invalid request URL '%s'.", it.URL))
	}
	segs, err := splitPath(u.EscapedPath())
	if err != nil || len(segs) == 0 {
		return errorResponse(errSegment(it.URL))
	}
	if segs[0] == "v1.0" {
		segs = segs[1:]
	}
	h := http.Header{}
	for k, v := range it.Headers {
		h.Set(k, v)
	}
	var body []byte
	if len(it.Body) > 0 && string(it.Body) != "null" {
		body = it.Body
	}
	rq := &request{
		ctx:         outer.ctx,
		t:           outer.t,
		method:      strings.ToUpper(it.Method),
		segs:        segs,
		query:       u.Query(),
		header:      h,
		body:        body,
		base:        outer.base,
		reqID:       reqID,
		clientReqID: reqID,
		now:         outer.now,
		inBatch:     true,
	}
	return s.handle(rq)
}

// appendBatchResponse writes one item of the batch response.
func appendBatchResponse(b []byte, id string, r *response, reqID string, rq *request) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, id)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.status), 10)
	b = append(b, `,"headers":{`...)
	first := true
	header := func(k, v string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, v)
	}
	switch {
	case r.err != nil:
		header("Content-Type", "application/json")
		if r.err.retryAfter > 0 {
			header("Retry-After", retryAfterHeader(r.err.retryAfter))
		}
	case r.body != nil:
		ct := r.ctype
		if ct == "" {
			ct = jsonContentType
		}
		header("Content-Type", ct)
	}
	if r.location != "" {
		header("Location", r.location)
	}
	b = append(b, '}')
	switch {
	case r.err != nil:
		b = append(b, `,"body":`...)
		b = appendErrorBody(b, r.err, reqID, reqID, rq.now)
	case r.body != nil:
		b = append(b, `,"body":`...)
		b = append(b, r.body...)
	}
	return append(b, '}')
}
