package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// suiteHeader marks the suite's own requests to the simulator, so that the
// interceptor never crashes the runner on them.
const suiteHeader = "X-Tenantsync-Chaos"

// maxResponseBytes bounds a Graph response the suite reads.
const maxResponseBytes = 64 << 20

// RequestCounts count Graph operations as the simulator does: a GET is a
// read, anything else a write; 429 answers are throttled, 5xx failed.
type RequestCounts struct {
	Requests  int64 `json:"requests"`
	Reads     int64 `json:"reads"`
	Writes    int64 `json:"writes"`
	Throttled int64 `json:"throttled"`
	Failed    int64 `json:"failed"`
}

func (c RequestCounts) minus(o RequestCounts) RequestCounts {
	return RequestCounts{
		Requests:  c.Requests - o.Requests,
		Reads:     c.Reads - o.Reads,
		Writes:    c.Writes - o.Writes,
		Throttled: c.Throttled - o.Throttled,
		Failed:    c.Failed - o.Failed,
	}
}

// graphHTTP is a plain Microsoft Graph client over net/http: what an admin's
// script would use, signed in as the tenant's administrator
// (graphsim.AdminHeader). The workload and the oracle use it, so that neither
// shares code with tenantsync's Graph adapter. It retries throttling (with
// Retry-After), 5xx answers and connection errors, and counts every attempt
// per tenant.
type graphHTTP struct {
	client  *http.Client
	baseURL string // http://127.0.0.1:PORT, the simulator

	mu     sync.Mutex
	counts map[string]*RequestCounts // by tenant path segment
}

func newGraphHTTP(baseURL string) *graphHTTP {
	return &graphHTTP{
		client:  &http.Client{Timeout: 60 * time.Second},
		baseURL: strings.TrimRight(baseURL, "/"),
		counts:  map[string]*RequestCounts{},
	}
}

// graphError is a Graph answer that is not a success and not worth a retry.
type graphError struct {
	Method, Path string
	Status       int
	Code         string
	Message      string
}

func (e *graphError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, e.Code, e.Message)
}

// statusOf returns the HTTP status of a *graphError, or 0.
func statusOf(err error) int {
	var ge *graphError
	if errors.As(err, &ge) {
		return ge.Status
	}
	return 0
}

// Counts returns the suite's own request counts for a tenant.
func (g *graphHTTP) Counts(tenant string) RequestCounts {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c := g.counts[strings.ToLower(tenant)]; c != nil {
		return *c
	}
	return RequestCounts{}
}

func (g *graphHTTP) count(tenant, method string, status int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.counts[strings.ToLower(tenant)]
	if c == nil {
		c = &RequestCounts{}
		g.counts[strings.ToLower(tenant)] = c
	}
	c.Requests++
	if method == http.MethodGet {
		c.Reads++
	} else {
		c.Writes++
	}
	switch {
	case status == http.StatusTooManyRequests:
		c.Throttled++
	case status >= 500:
		c.Failed++
	}
}

// retryable reports whether a status is one the simulator's faults inject
// (before the operation runs, so that a retry cannot apply it twice). A
// 500 is not among them: it would be a bug worth seeing.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable ||
		status == http.StatusGatewayTimeout
}

// maxAttempts bounds the retries of one call: with the simulator's faults
// at their worst (10% errors), 30 failures in a row do not happen.
const maxAttempts = 30

// Do sends one Graph request to a tenant (path relative to /v1.0, such as
// "/users?$top=999") and decodes a JSON answer into out, when given. It
// returns the raw body too. Faults are retried; any other error status is a
// *graphError.
func (g *graphHTTP) Do(ctx context.Context, tenant, method, path string, body, out any) ([]byte, error) {
	url := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		url = g.baseURL + "/" + tenant + "/v1.0" + path
	}
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("%s %s: encode body: %w", method, path, err)
		}
	}
	delay := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		status, data, wait, err := g.once(ctx, tenant, method, url, payload)
		switch {
		case err == nil && status < 300:
			if out != nil && len(data) > 0 {
				if err := json.Unmarshal(data, out); err != nil {
					return data, fmt.Errorf("%s %s: decode: %w", method, path, err)
				}
			}
			return data, nil
		case err == nil && !retryable(status):
			ge := &graphError{Method: method, Path: path, Status: status}
			var eb struct {
				Error struct{ Code, Message string }
			}
			if json.Unmarshal(data, &eb) == nil {
				ge.Code, ge.Message = eb.Error.Code, eb.Error.Message
			}
			return data, ge
		case ctx.Err() != nil:
			return nil, fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		case attempt >= maxAttempts:
			if err == nil {
				err = fmt.Errorf("status %d", status)
			}
			return nil, fmt.Errorf("%s %s: giving up after %d attempts: %w", method, path, attempt, err)
		}
		if wait <= 0 {
			wait = delay
			delay = min(2*delay, 2*time.Second)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		}
	}
}

// once sends one attempt; wait is the Retry-After of a throttled answer.
func (g *graphHTTP) once(ctx context.Context, tenant, method, url string, payload []byte) (status int, data []byte, wait time.Duration, err error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set(suiteHeader, "1")
	// The suite acts as the tenants' administrator, not as the app: the
	// permissions the tenants grant tenantsync do not bind it.
	req.Header.Set(graphsim.AdminHeader, "1")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	g.count(tenant, method, resp.StatusCode)
	if err != nil {
		return 0, nil, 0, err
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			wait = min(time.Duration(n)*time.Second, 5*time.Second)
		}
	}
	return resp.StatusCode, data, wait, nil
}

// page is one page of a Graph collection.
type page struct {
	Value    []json.RawMessage `json:"value"`
	NextLink string            `json:"@odata.nextLink"`
}

// All reads every page of a collection.
func (g *graphHTTP) All(ctx context.Context, tenant, path string) ([]json.RawMessage, error) {
	var all []json.RawMessage
	next := path
	for next != "" {
		var p page
		if _, err := g.Do(ctx, tenant, http.MethodGet, next, nil, &p); err != nil {
			return nil, err
		}
		all = append(all, p.Value...)
		next = p.NextLink
	}
	return all, nil
}

// Admin calls the simulator's admin API (never faulted or counted).
func (g *graphHTTP) Admin(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("admin %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.baseURL+path, rd)
	if err != nil {
		return fmt.Errorf("admin %s %s: %w", method, path, err)
	}
	req.Header.Set(suiteHeader, "1")
	req.Header.Set(graphsim.AdminHeader, "1")
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.client.Do(req)
	if err != nil {
		return fmt.Errorf("admin %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("admin %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("admin %s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("admin %s %s: decode: %w", method, path, err)
		}
	}
	return nil
}
