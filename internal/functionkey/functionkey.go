// Package functionkey reads an Azure Functions function key through Azure
// Resource Manager and adds it to a function's URL.
//
// GraphWebhook and GraphLifecycle are HTTP functions with authLevel
// function, so the URLs Graph calls must carry ?code=<function key>. The
// deployment grants the app's managed identity only
// Microsoft.Web/sites/functions/listkeys/action, and this package calls
// exactly that: POST {arm}{app id}/functions/{name}/listkeys. Keys are never
// logged.
package functionkey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// Defaults of Options.
const (
	DefaultEndpoint   = "https://management.azure.com"
	DefaultAPIVersion = "2024-04-01"
)

// maxResponseBytes bounds a listkeys response: a few keys of ~56 characters.
const maxResponseBytes = 64 << 10

// Options configure a Client.
type Options struct {
	// Endpoint is Azure Resource Manager's. Default DefaultEndpoint; a
	// national cloud's otherwise. The token scope is <endpoint>/.default.
	Endpoint string
	// APIVersion of Microsoft.Web. Default DefaultAPIVersion.
	APIVersion string
	// ClientOptions configure the azcore pipeline: transport, retries,
	// logging.
	ClientOptions policy.ClientOptions
}

// Client lists function keys. It is safe for concurrent use.
type Client struct {
	pl         runtime.Pipeline
	endpoint   string
	apiVersion string
}

// New returns a Client that authenticates with cred, such as the function
// app's managed identity.
func New(cred azcore.TokenCredential, opts *Options) (*Client, error) {
	if cred == nil {
		return nil, errors.New("functionkey: a credential is required")
	}
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Endpoint == "" {
		o.Endpoint = DefaultEndpoint
	}
	if o.APIVersion == "" {
		o.APIVersion = DefaultAPIVersion
	}
	ep, err := url.Parse(o.Endpoint)
	if err != nil || ep.Scheme != "https" || ep.Host == "" {
		return nil, fmt.Errorf("functionkey: endpoint %q: want an https URL", o.Endpoint)
	}
	endpoint := ep.Scheme + "://" + ep.Host
	scope := endpoint + "/.default"
	pl := runtime.NewPipeline("functionkey", "v1", runtime.PipelineOptions{
		PerRetry: []policy.Policy{runtime.NewBearerTokenPolicy(cred, []string{scope}, nil)},
	}, &o.ClientOptions)
	return &Client{pl: pl, endpoint: endpoint, apiVersion: o.APIVersion}, nil
}

// appIDPattern is a function app's resource id.
var appIDPattern = regexp.MustCompile(`(?i)^/subscriptions/[^/?#]+/resourceGroups/[^/?#]+/providers/Microsoft\.Web/sites/[^/?#]+$`)

// functionPattern is a function name.
var functionPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,127}$`)

// Key returns the key Graph should present to the function: the one named
// "default", or else the first by name.
func (c *Client) Key(ctx context.Context, appID, function string) (string, error) {
	appID = strings.TrimSuffix(appID, "/")
	if !appIDPattern.MatchString(appID) {
		return "", fmt.Errorf("list keys of function %s: %q is not a function app resource id (/subscriptions/…/resourceGroups/…/providers/Microsoft.Web/sites/…)", function, appID)
	}
	if !functionPattern.MatchString(function) {
		return "", fmt.Errorf("list keys of function %q: not a function name", function)
	}
	op := fmt.Sprintf("list keys of function %s of %s", function, appID)
	u := c.endpoint + appID + "/functions/" + function + "/listkeys?api-version=" + url.QueryEscape(c.apiVersion)
	req, err := runtime.NewRequest(ctx, http.MethodPost, u)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	req.Raw().Header.Set("Accept", "application/json")
	runtime.SkipBodyDownload(req)
	resp, err := c.pl.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return "", fmt.Errorf("%s: read the response: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %w", op, armError(resp, body))
	}
	if len(body) > maxResponseBytes {
		return "", fmt.Errorf("%s: response larger than %d bytes", op, maxResponseBytes)
	}
	key, err := pickKey(body)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	return key, nil
}

// pickKey reads the listkeys answer. The REST spec calls it a
// StringDictionary ({"properties":{name:key}}), while the service has been
// seen to answer the bare map ({name:key}); both are accepted.
func pickKey(body []byte) (string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return "", errors.New("the response is not a JSON object")
	}
	keys := map[string]string{}
	if props, ok := raw["properties"]; ok {
		if err := json.Unmarshal(props, &keys); err != nil {
			return "", errors.New(`the response's "properties" is not a map of keys`)
		}
	} else {
		for name, v := range raw {
			var s string
			if json.Unmarshal(v, &s) == nil {
				keys[name] = s
			}
		}
	}
	if k := keys["default"]; k != "" {
		return k, nil
	}
	names := make([]string, 0, len(keys))
	for name, k := range keys {
		if k != "" {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return "", errors.New("the function has no keys")
	}
	sort.Strings(names)
	return keys[names[0]], nil
}

// Error is a failed ARM request.
type Error struct {
	Status    int
	Code      string // ARM error code, such as "AuthorizationFailed"
	Message   string
	RequestID string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("ARM answered %d", e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " (request id " + e.RequestID + ")"
	}
	return s
}

func armError(resp *http.Response, body []byte) *Error {
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("x-ms-request-id")}
	var eb struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &eb) == nil {
		e.Code = eb.Error.Code
		e.Message = eb.Error.Message
		if len(e.Message) > 500 {
			e.Message = e.Message[:500] + "…"
		}
	}
	return e
}

// WithKey returns rawURL with the function's key as its code query
// parameter, replacing any code it had.
func (c *Client) WithKey(ctx context.Context, appID, function, rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("add the key of function %s to its URL: not an absolute URL", function)
	}
	key, err := c.Key(ctx, appID, function)
	if err != nil {
		return "", err
	}
	return AddCode(u, key), nil
}

// AddCode returns u with code=key in its query, replacing any code it had.
func AddCode(u *url.URL, key string) string {
	c := *u
	q := c.Query()
	q.Set("code", key)
	c.RawQuery = q.Encode()
	return c.String()
}

// The functions Graph calls, as named in functions/*/function.json.
const (
	WebhookFunction   = "GraphWebhook"
	LifecycleFunction = "GraphLifecycle"
)

// NotificationURLs returns the GraphWebhook and GraphLifecycle URLs with
// their function keys, for subscriptions.Options.URLs. An empty
// lifecycleURL stays empty.
func (c *Client) NotificationURLs(ctx context.Context, appID, webhookURL, lifecycleURL string) (notification, lifecycle string, err error) {
	notification, err = c.WithKey(ctx, appID, WebhookFunction, webhookURL)
	if err != nil {
		return "", "", err
	}
	if lifecycleURL != "" {
		if lifecycle, err = c.WithKey(ctx, appID, LifecycleFunction, lifecycleURL); err != nil {
			return "", "", err
		}
	}
	return notification, lifecycle, nil
}
