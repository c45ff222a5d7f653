package customhandler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"
)

// InvocationHandler runs one invocation. An error fails it: the server
// answers 500, and the host, for a Service Bus trigger, abandons the message
// so that it is delivered again (and dead-lettered after the queue's maximum
// delivery count). A nil Response with a nil error is an empty success.
type InvocationHandler func(ctx context.Context, inv *Invocation) (*Response, error)

// ServerOptions configure a Server. The zero value is ready to use.
type ServerOptions struct {
	// Logger is the process logger; every record also goes to it, with the
	// invocation id. Nil means slog.Default().
	Logger *slog.Logger
	// LogLevel is the lowest level copied into Response.Logs. Nil means
	// slog.LevelInfo.
	LogLevel slog.Leveler
	// MaxLogLines bounds Response.Logs. Zero means 200.
	MaxLogLines int
	// MaxInvocationBytes bounds an invocation's request body. Zero means
	// 8 MiB, enough for a 1 MiB Service Bus message encoded twice and its
	// metadata.
	MaxInvocationBytes int64
	// MaxHTTPBodyBytes bounds a forwarded request's body before the
	// function's own handler sees it. Zero means 1 MiB.
	MaxHTTPBodyBytes int64
	// Ready, when set, is called before every invocation and forwarded
	// request (never for the host's GET / probe), with the request's
	// context, and must return once what the functions need is open, or
	// with an error when it cannot be. It lets the server listen and answer
	// the host's probe at once while the functions' dependencies open
	// behind it. An error fails the invocation (500) or answers a forwarded
	// request 503.
	Ready func(ctx context.Context) error
}

// Server is the custom handler's HTTP handler. It routes the host's
// invocations, POST /<FunctionName>, to InvocationHandlers, and forwarded
// HTTP requests, /api/<route>, to ordinary http.Handlers. It answers GET /,
// which the host polls until the handler is up.
//
// Function names and forwarded paths match without regard to case, as the
// host's do: a caller may send /api/graphwebhook for the route GraphWebhook,
// and the host forwards the path as the caller spelled it.
//
// Register every function before serving.
type Server struct {
	log         *slog.Logger
	level       slog.Leveler
	maxLines    int
	maxInvoke   int64
	maxHTTPBody int64
	ready       func(ctx context.Context) error

	mu        sync.RWMutex
	functions map[string]registered // by lower-case function name
	routes    map[string]*route     // by lower-case path
}

type registered struct {
	name    string
	timeout time.Duration
	h       InvocationHandler
}

// route is a forwarded HTTP route: a literal path and its handlers by
// method.
type route struct {
	path     string                  // as registered
	handlers map[string]http.Handler // by upper-case method; "" for any method
}

// NewServer returns a Server with no functions.
func NewServer(opts *ServerOptions) *Server {
	var o ServerOptions
	if opts != nil {
		o = *opts
	}
	s := &Server{
		log:         o.Logger,
		level:       o.LogLevel,
		maxLines:    o.MaxLogLines,
		maxInvoke:   o.MaxInvocationBytes,
		maxHTTPBody: o.MaxHTTPBodyBytes,
		ready:       o.Ready,
		functions:   map[string]registered{},
		routes:      map[string]*route{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.level == nil {
		s.level = slog.LevelInfo
	}
	if s.maxLines <= 0 {
		s.maxLines = 200
	}
	if s.maxInvoke <= 0 {
		s.maxInvoke = 8 << 20
	}
	if s.maxHTTPBody <= 0 {
		s.maxHTTPBody = 1 << 20
	}
	return s
}

// HandleInvocation registers the handler of the named function's
// invocations. Function names match without regard to case, as the host's
// do. It panics if the name is empty, contains a slash, or is registered
// already.
func (s *Server) HandleInvocation(function string, h InvocationHandler) {
	s.HandleInvocationTimeout(function, 0, h)
}

// HandleInvocationTimeout is HandleInvocation with a deadline: each
// invocation's context ends timeout after the server received it, and the
// wait for ServerOptions.Ready counts against it. A function whose work must
// end before something outside it lapses (a Service Bus session lock) gets
// its own deadline this way, shorter than the host's functionTimeout. Zero
// means none.
func (s *Server) HandleInvocationTimeout(function string, timeout time.Duration, h InvocationHandler) {
	if function == "" || strings.Contains(function, "/") || h == nil || timeout < 0 {
		panic(fmt.Sprintf("customhandler: invalid invocation handler registration %q", function))
	}
	key := strings.ToLower(function)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.functions[key]; dup {
		panic(fmt.Sprintf("customhandler: function %q registered twice", function))
	}
	s.functions[key] = registered{name: function, timeout: timeout, h: h}
}

// HandleHTTP registers a handler for forwarded HTTP requests. The pattern is
// "[METHOD ]/path": an optional method and the literal original path, route
// prefix included, as in "POST /api/GraphWebhook". Path and method match
// without regard to case, as the host's routes do, and a GET route answers
// HEAD too; the handler sees the path as registered. The handler's request
// context carries the invocation's logger (LoggerFromContext) and its body
// is bounded. It panics on a malformed pattern or one registered already.
//
// The host matches routes with ASP.NET Core's route templates
// (Azure/azure-functions-host, src/WebJobs.Script.WebHost/
// WebScriptHostHttpRoutesManager.cs, InitializeHttpFunctionRoutes, line 68,
// through Azure/azure-webjobs-sdk-extensions, src/WebJobs.Extensions.Http/
// Routing/WebJobsRouteBuilder.cs, MapFunctionRoute: "new Route(…)"), whose
// literal segments compare with StringComparison.OrdinalIgnoreCase
// (aspnet/Routing, src/Microsoft.AspNetCore.Routing/Template/
// TemplateMatcher.cs, TryMatch), and forwards the caller's own spelling of
// the path (DefaultHttpWorkerService.GetPathValue: the request's
// AbsolutePath). Only literal paths are supported: tenantsync's routes have
// no parameters.
func (s *Server) HandleHTTP(pattern string, h http.Handler) {
	method, path, hasMethod := strings.Cut(pattern, " ")
	if !hasMethod {
		method, path = "", pattern
	}
	method = strings.ToUpper(method)
	if h == nil || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "{} \t?#") ||
		(hasMethod && (method == "" || strings.ContainsAny(method, " \t/"))) {
		panic(fmt.Sprintf("customhandler: invalid HTTP route %q", pattern))
	}
	key := strings.ToLower(path)
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.routes[key]
	if rt == nil {
		rt = &route{path: path, handlers: map[string]http.Handler{}}
		s.routes[key] = rt
	}
	if _, dup := rt.handlers[method]; dup {
		panic(fmt.Sprintf("customhandler: HTTP route %q registered twice", pattern))
	}
	rt.handlers[method] = s.forwarded(rt.path, h)
}

// handler returns the route's handler for method, and the methods it
// allows.
func (rt *route) handler(method string) (http.Handler, []string) {
	method = strings.ToUpper(method)
	if h, ok := rt.handlers[method]; ok {
		return h, nil
	}
	if h, ok := rt.handlers[http.MethodGet]; ok && method == http.MethodHead {
		return h, nil
	}
	if h, ok := rt.handlers[""]; ok {
		return h, nil
	}
	allow := make([]string, 0, len(rt.handlers)+1)
	for m := range rt.handlers {
		allow = append(allow, m)
		if m == http.MethodGet {
			allow = append(allow, http.MethodHead)
		}
	}
	sort.Strings(allow)
	return nil, allow
}

// ServeHTTP routes a request from the host.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" {
		// The host's readiness probe: any answer means the server is up.
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
		return
	}
	if name, ok := strings.CutPrefix(r.URL.Path, "/"); ok && !strings.Contains(name, "/") {
		s.mu.RLock()
		fn, found := s.functions[strings.ToLower(name)]
		s.mu.RUnlock()
		if found {
			s.serveInvocation(w, r, fn)
			return
		}
	}
	s.mu.RLock()
	rt := s.routes[strings.ToLower(r.URL.Path)]
	s.mu.RUnlock()
	if rt == nil {
		http.NotFound(w, r)
		return
	}
	h, allow := rt.handler(r.Method)
	if h == nil {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h.ServeHTTP(w, r)
}

// Invoke runs the handler registered for inv.Function as ServeHTTP would,
// with inv's logger in ctx and the records collected into the returned
// Response's Logs, also when it fails. It lets an in-process runner call the
// functions without HTTP.
func (s *Server) Invoke(ctx context.Context, inv *Invocation) (*Response, error) {
	if inv.ID == "" {
		inv.ID = newID()
	}
	s.mu.RLock()
	fn, found := s.functions[strings.ToLower(inv.Function)]
	s.mu.RUnlock()
	log, lines := invocationLogger(s.log, s.level, s.maxLines, inv.ID, inv.Function)
	if !found {
		err := fmt.Errorf("invoke %s: no handler for this function", inv.Function)
		log.Error("invocation failed", "err", err)
		return &Response{Logs: lines.take()}, err
	}
	if fn.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, fn.timeout)
		defer cancel()
	}
	ctx = withRequest(ctx, inv.ID, log)
	if s.ready != nil {
		if err := s.ready(ctx); err != nil {
			err = fmt.Errorf("invoke %s: %w", fn.name, err)
			log.Error("invocation failed", "err", err)
			return &Response{Logs: lines.take()}, err
		}
	}
	resp, err := s.run(ctx, log, fn, inv)
	if resp == nil {
		resp = &Response{}
	}
	if err != nil {
		log.Error("invocation failed", "err", err)
	}
	resp.Logs = append(lines.take(), resp.Logs...)
	return resp, err
}

// run calls the handler and turns a panic into an error, so that one bad
// message fails its invocation instead of the whole worker process.
func (s *Server) run(ctx context.Context, log *slog.Logger, fn registered, inv *Invocation) (resp *Response, err error) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("invocation panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			resp, err = nil, fmt.Errorf("invoke %s: panic: %v", fn.name, p)
		}
	}()
	inv.Function = fn.name
	return fn.h(ctx, inv)
}

// serveInvocation decodes the host's request, runs the function and writes
// the answer: 200 with the Response, or a non-2xx status that fails the
// invocation.
func (s *Server) serveInvocation(w http.ResponseWriter, r *http.Request, fn registered) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	inv := &Invocation{Function: fn.name, ID: r.Header.Get(HeaderInvocationID)}
	if inv.ID == "" {
		inv.ID = newID()
	}
	body := http.MaxBytesReader(w, r.Body, s.maxInvoke)
	if err := json.NewDecoder(body).Decode(inv); err != nil {
		status := http.StatusBadRequest
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			status = http.StatusRequestEntityTooLarge
		}
		err = fmt.Errorf("decode invocation of %s: %w", fn.name, err)
		s.log.Error("invocation rejected", "invocationId", inv.ID, "function", fn.name, "err", err)
		s.writeResponse(w, inv, status, &Response{Logs: []string{err.Error()}})
		return
	}
	resp, err := s.Invoke(r.Context(), inv)
	status := http.StatusOK
	if err != nil {
		// The host ignores the body of a failed invocation; the error is in
		// the process log as well (Invoke logged it).
		status = http.StatusInternalServerError
	}
	s.writeResponse(w, inv, status, resp)
}

func (s *Server) writeResponse(w http.ResponseWriter, inv *Invocation, status int, resp *Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		// Outputs that cannot be encoded: the invocation cannot succeed.
		err = fmt.Errorf("encode response of %s: %w", inv.Function, err)
		s.log.Error("invocation failed", "invocationId", inv.ID, "function", inv.Function, "err", err)
		status = http.StatusInternalServerError
		b, _ = json.Marshal(&Response{Logs: append(resp.Logs, err.Error())})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// forwarded wraps the handler of a forwarded HTTP function: it waits for
// ServerOptions.Ready, bounds the body, gives the request the registered
// spelling of path and a logger that carries the invocation id, and turns a
// panic into a 500.
func (s *Server) forwarded(path string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderInvocationID)
		if id == "" {
			id = newID()
		}
		// The path only: the query holds the function key and may hold
		// Graph's validation token.
		log := s.log.With(slog.String("invocationId", id), slog.String("path", path))
		r = r.WithContext(withRequest(r.Context(), id, log))
		u := *r.URL
		u.Path, u.RawPath = path, ""
		r.URL = &u
		if s.ready != nil {
			if err := s.ready(r.Context()); err != nil {
				// The caller (Graph, a browser) learns only that it should
				// come back; the reason is in the process log.
				log.Error("request failed", "err", fmt.Errorf("serve %s: %w", path, err))
				w.Header().Set("Retry-After", "10")
				http.Error(w, "service unavailable: tenantsync is not ready", http.StatusServiceUnavailable)
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.maxHTTPBody)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("request panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		h.ServeHTTP(w, r)
	})
}
