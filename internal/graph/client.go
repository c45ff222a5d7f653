// Package graph is tenantsync's Microsoft Graph adapter: a Client, one per
// tenant, that implements the engine's Source and Target ports on
// msgraph-sdk-go.
//
// Requests are built with the SDK's request builders and sent through the
// SDK's HTTP pipeline (telemetry, retry, redirect, compression, user agent),
// to which the Client adds a middleware that records every request in the
// directory.Trace attached to the context. User objects are read as the JSON
// Graph sends and flattened into directory.Attributes without going through
// the SDK's typed models, because a round trip through the models is not
// exact: kiota's JSON writer drops the fractional seconds of every
// DateTimeOffset and cannot tell a property Graph returned as null from one
// it left out. For the same reason PATCH bodies are written as JSON, so that
// a nil attribute becomes an explicit null that clears the property.
//
// Every failure is returned as a *directory.Error that names the operation,
// the HTTP status, the Graph error code and message, the request id and, on
// throttling, how long to wait.
package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoft/kiota-abstractions-go/authentication"
	azauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraph "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/engine"
)

// Compile-time checks that the Client implements both engine ports.
var (
	_ engine.Source = (*Client)(nil)
	_ engine.Target = (*Client)(nil)
)

const (
	// DefaultMaxRetries is the number of retries the command-line tools
	// configure. A Client's zero Options retry nothing.
	DefaultMaxRetries = 3
	// maxRetries is the most the SDK's retry handler allows.
	maxRetries = 10
	// DefaultPageSize is the $top of list requests: the most Graph
	// returns per page for users and directory objects.
	DefaultPageSize = 999
	// DefaultMaxResponseBytes bounds one response body.
	DefaultMaxResponseBytes = 64 << 20
)

// Options configure a Client.
type Options struct {
	// BaseURL is the tenant's Graph root including the version:
	// https://graph.microsoft.com/v1.0, a national cloud's
	// (https://graph.microsoft.us/v1.0, ...), or a simulator's
	// (http://127.0.0.1:8765/fabrikam.example/v1.0). Required.
	BaseURL string
	// Credential obtains the bearer tokens. Nil sends no token, for the
	// simulator. See NewCredential.
	Credential azcore.TokenCredential
	// Scopes are the token scopes; default "<scheme>://<host>/.default" of
	// BaseURL, which follows the cloud.
	Scopes []string
	// HTTPClient supplies the transport and timeout under the SDK's
	// middleware pipeline. Default: the SDK's transport and a 100 s timeout.
	HTTPClient *http.Client
	// MaxRetries is how often the SDK's retry handler retries a request
	// answered 429, 503 or 504, sleeping for Retry-After inside the call
	// (at most 10). Zero disables retries, so that a queue handler gets the
	// 429 at once, with its RetryAfter, and re-schedules the message
	// instead of sleeping. The command-line tools use DefaultMaxRetries.
	MaxRetries int
	// PageSize is the $top of list requests (1–999). Default
	// DefaultPageSize.
	PageSize int
	// MaxResponseBytes bounds one response body. Default
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// WritePacing paces the writes to the tenant under Graph's write
	// quota; the zero value paces with the defaults (see WritePacing).
	WritePacing WritePacing
	// Logger receives a debug record per request (method, path, status,
	// request id, duration) and a warning per retry; never a token.
	// Default: discard.
	Logger *slog.Logger
}

// Client is the Graph of one tenant. It is safe for concurrent use.
type Client struct {
	sdk      *msgraph.GraphServiceClient
	adapter  *msgraph.GraphRequestAdapter
	base     *url.URL
	baseURL  string // without a trailing slash
	pageSize int32
	log      *slog.Logger
	// members caches the direct members of the groups MemberOf is asked
	// about (membership.go).
	members memberCache
}

// New returns a Client for the tenant whose Graph is at opts.BaseURL. It
// sends no request.
func New(ctx context.Context, opts Options) (*Client, error) {
	_ = ctx // reserved: construction does no I/O today
	raw := strings.TrimRight(strings.TrimSpace(opts.BaseURL), "/")
	if raw == "" {
		return nil, errors.New("graph client: BaseURL is required")
	}
	base, err := url.Parse(raw)
	if err != nil || base.Host == "" || (base.Scheme != "https" && base.Scheme != "http") {
		return nil, fmt.Errorf("graph client: BaseURL %q: want an absolute http(s) URL", opts.BaseURL)
	}
	if base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("graph client: BaseURL %q: must not have a query or fragment", opts.BaseURL)
	}
	if opts.MaxRetries < 0 || opts.MaxRetries > maxRetries {
		return nil, fmt.Errorf("graph client: MaxRetries %d: want 0..%d", opts.MaxRetries, maxRetries)
	}
	if opts.PageSize < 0 || opts.PageSize > DefaultPageSize {
		return nil, fmt.Errorf("graph client: PageSize %d: want 1..%d", opts.PageSize, DefaultPageSize)
	}
	if opts.PageSize == 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	var auth authentication.AuthenticationProvider = &authentication.AnonymousAuthenticationProvider{}
	if opts.Credential != nil {
		if base.Scheme != "https" && !isLoopback(base.Hostname()) {
			return nil, fmt.Errorf("graph client: BaseURL %q: tokens are only sent over https", opts.BaseURL)
		}
		scopes := opts.Scopes
		if len(scopes) == 0 {
			scopes = []string{base.Scheme + "://" + base.Host + "/.default"}
		}
		// Tokens go to the BaseURL's host only, never to a host a nextLink
		// or a redirect names.
		p, err := azauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(opts.Credential, scopes, []string{base.Hostname()})
		if err != nil {
			return nil, fmt.Errorf("graph client: authentication provider: %w", err)
		}
		auth = p
	}

	httpClient := newHTTPClient(opts, log)
	adapter, err := msgraph.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, httpClient)
	if err != nil {
		return nil, fmt.Errorf("graph client: request adapter: %w", err)
	}
	adapter.SetBaseUrl(raw)
	return &Client{
		sdk:      msgraph.NewGraphServiceClient(adapter),
		adapter:  adapter,
		base:     base,
		baseURL:  raw,
		pageSize: int32(opts.PageSize),
		log:      log,
	}, nil
}

// BaseURL returns the tenant's Graph root the Client was made for.
func (c *Client) BaseURL() string { return c.baseURL }

// newHTTPClient builds the SDK's middleware pipeline in a fixed order, with
// the retry handler only when retries are wanted (the SDK's own default
// pipeline always retries, at least 3 times), the write pacer inside it (so
// that retries are paced too) and the trace middleware last, next to the
// wire, so that it sees every attempt and no write the pacer held back.
//
// It leaves out the SDK's request-body CompressionHandler: it gzips every
// body with a new compressor of about 1 MB, which at a large initial sync
// was most of tenantsync's allocation and a fifth of its CPU (garbage
// collection included), to shrink bodies of about 1 kB. Kiota is taking it
// out of its default set too (microsoft/kiota-typescript#1439), and Graph
// takes uncompressed bodies everywhere.
func newHTTPClient(opts Options, log *slog.Logger) *http.Client {
	clientOpts := msgraph.GetDefaultClientOptions()
	mw := []khttp.Middleware{
		msgraphcore.NewGraphTelemetryHandler(&clientOpts),
		khttp.NewUrlReplaceHandler(true, msgraphcore.ReplacementPairs),
	}
	if opts.MaxRetries > 0 {
		mw = append(mw, khttp.NewRetryHandlerWithOptions(khttp.RetryHandlerOptions{
			MaxRetries: opts.MaxRetries,
			ShouldRetry: func(delay time.Duration, attempt int, req *http.Request, resp *http.Response) bool {
				log.WarnContext(req.Context(), "graph request retried",
					"method", req.Method, "path", req.URL.Path, "status", resp.StatusCode,
					"retryAfter", resp.Header.Get("Retry-After"), "attempt", attempt+1, "waitedSoFar", delay)
				return true
			},
		}))
	}
	mw = append(mw,
		khttp.NewRedirectHandler(),
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandler(),
	)
	if !opts.WritePacing.Off {
		mw = append(mw, &pacerHandler{p: newPacer(opts.WritePacing)})
	}
	mw = append(mw, &traceHandler{log: log, maxBody: opts.MaxResponseBytes})
	var parent http.RoundTripper
	timeout := 100 * time.Second
	var jar http.CookieJar
	if opts.HTTPClient != nil {
		parent = opts.HTTPClient.Transport
		timeout = opts.HTTPClient.Timeout
		jar = opts.HTTPClient.Jar
	}
	return &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(parent, mw...),
		Timeout:   timeout,
		Jar:       jar,
		// The SDK's redirect handler follows redirects; net/http must not.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func isLoopback(host string) bool {
	switch strings.ToLower(host) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// errorMapping makes the SDK parse every error body as an ODataError.
var errorMapping = abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

// call runs one request (fn) with an exchange record in its context and
// maps its failure to a *directory.Error for op.
func (c *Client) call(ctx context.Context, op string, fn func(context.Context) error) error {
	ex := new(exchange)
	if err := fn(context.WithValue(ctx, exchangeKey{}, ex)); err != nil {
		return mapError(op, err, ex)
	}
	return nil
}

// getJSON sends info and decodes the JSON response into out (numbers as
// json.Number). A response without a body leaves out untouched.
func (c *Client) getJSON(ctx context.Context, op string, info *abs.RequestInformation, out any) error {
	var body []byte
	err := c.call(ctx, op, func(ctx context.Context) error {
		res, err := c.adapter.SendPrimitive(ctx, info, "[]byte", errorMapping)
		if err != nil {
			return err
		}
		body, _ = res.([]byte)
		return nil
	})
	if err != nil || out == nil || len(body) == 0 {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return &directory.Error{Op: op, Message: "malformed response body", Err: err}
	}
	return nil
}

// send sends info and expects no content back.
func (c *Client) send(ctx context.Context, op string, info *abs.RequestInformation) error {
	return c.call(ctx, op, func(ctx context.Context) error {
		return c.adapter.SendNoContent(ctx, info, errorMapping)
	})
}

// page is one page of a collection or delta response.
type page struct {
	Value     []map[string]any `json:"value"`
	NextLink  string           `json:"@odata.nextLink"`
	DeltaLink string           `json:"@odata.deltaLink"`
}

// pages sends info, calls fn with every page and follows @odata.nextLink
// with the same request headers. It returns the last page's deltaLink.
func (c *Client) pages(ctx context.Context, op string, info *abs.RequestInformation, fn func(*page) error) (string, error) {
	for {
		var p page
		if err := c.getJSON(ctx, op, info, &p); err != nil {
			return "", err
		}
		if err := fn(&p); err != nil {
			return "", err
		}
		if p.NextLink == "" {
			return p.DeltaLink, nil
		}
		next, err := c.nextRequest(op, p.NextLink, info.Headers)
		if err != nil {
			return "", err
		}
		info = next
	}
}

// nextRequest is a GET of a nextLink, which must point at the tenant's own
// Graph: a link elsewhere is refused rather than followed.
func (c *Client) nextRequest(op, link string, headers *abs.RequestHeaders) (*abs.RequestInformation, error) {
	u, err := c.checkLink(op, link)
	if err != nil {
		return nil, err
	}
	info := abs.NewRequestInformation()
	info.Method = abs.GET
	info.SetUri(*u)
	info.Headers.AddAll(headers)
	info.Headers.TryAdd("Accept", "application/json")
	return info, nil
}

// checkLink parses a nextLink or deltaLink and checks that it is on the
// BaseURL's scheme, host and path.
func (c *Client) checkLink(op, link string) (*url.URL, error) {
	u, err := url.Parse(link)
	if err != nil {
		return nil, &directory.Error{Op: op, Status: http.StatusBadRequest, Message: "malformed link", Err: err}
	}
	if !strings.EqualFold(u.Scheme, c.base.Scheme) || !strings.EqualFold(u.Host, c.base.Host) ||
		!strings.HasPrefix(u.Path, c.base.Path+"/") {
		return nil, &directory.Error{Op: op, Status: http.StatusBadRequest,
			Message: fmt.Sprintf("link %s://%s%s is not on %s", u.Scheme, u.Host, u.Path, c.baseURL)}
	}
	return u, nil
}

// listHeaders returns the headers of a list request: with advanced, the
// ConsistencyLevel header Graph's advanced queries need.
func listHeaders(advanced bool) *abs.RequestHeaders {
	h := abs.NewRequestHeaders()
	if advanced {
		h.Add("ConsistencyLevel", "eventual")
	}
	return h
}

func ptr[T any](v T) *T { return &v }
