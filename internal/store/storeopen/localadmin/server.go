package localadmin

import (
	"context"
	"crypto/subtle"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/tenantsync/tenantsync/internal/queue"
	"github.com/tenantsync/tenantsync/internal/store"
)

// Routes of the endpoint.
const (
	pathPing                = "/v1/ping"
	pathStore               = "/v1/store"
	pathDeadLettersList     = "/v1/deadletters/list"
	pathDeadLettersResubmit = "/v1/deadletters/resubmit"
)

const (
	gobContentType = "application/x-gob"
	// maxRequestBytes bounds a request body. It is well above the largest
	// entity a store takes (1 MiB), so that an oversized record reaches the
	// store and is refused there with store.ErrTooLarge as it would be
	// locally; beyond it the client reports store.ErrTooLarge itself.
	maxRequestBytes = 16 << 20
	// maxJSONBytes bounds the dead-letter requests: a list of message ids.
	maxJSONBytes = 1 << 20
)

// ServerOptions configure NewHandler.
type ServerOptions struct {
	// Token is what a request must carry (Authorization: Bearer). Required.
	Token string
	// State is the absolute path of the state file, as in the admin file.
	State string
	// Store, when set, is served: the embedded store in State.
	Store store.Store
	// DeadLetters, when set, are served: the embedded queue's.
	DeadLetters queue.DeadLetters
	// Logger receives refused requests (never the token); nil discards.
	Logger *slog.Logger
}

// NewHandler returns the endpoint's handler. Serve it on a loopback
// listener of its own: it answers only requests whose Host names the
// loopback address they came in on, and that carry the token.
func NewHandler(opts ServerOptions) (http.Handler, error) {
	if opts.Token == "" {
		return nil, errors.New("local admin endpoint: no token")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &server{opts: opts, want: []byte("Bearer " + opts.Token)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathPing, s.ping)
	mux.HandleFunc("POST "+pathStore, s.serveStore)
	mux.HandleFunc("POST "+pathDeadLettersList, s.listDeadLetters)
	mux.HandleFunc("POST "+pathDeadLettersResubmit, s.resubmitDeadLetters)
	s.mux = mux
	return s, nil
}

type server struct {
	opts ServerOptions
	want []byte
	mux  *http.ServeMux
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !LoopbackHost(r) {
		// A browser sent here by DNS rebinding names another host.
		http.Error(w, "misdirected request: this endpoint answers to its loopback address only", http.StatusMisdirectedRequest)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), s.want) != 1 {
		s.opts.Logger.Warn("local admin endpoint: refused a request without the right token",
			"path", r.URL.Path, "remote", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Bearer realm="tenantsync local admin"`)
		http.Error(w, "unauthorized: the token is in the admin file beside the state file", http.StatusUnauthorized)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// pingResponse is what the ping route answers: the client checks that it
// reached the local of its state file.
type pingResponse struct {
	State       string `json:"state"`
	Store       bool   `json:"store"`
	DeadLetters bool   `json:"deadLetters"`
	PID         int    `json:"pid"`
}

func (s *server) ping(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, pingResponse{State: s.opts.State, Store: s.opts.Store != nil,
		DeadLetters: s.opts.DeadLetters != nil, PID: os.Getpid()})
}

func (s *server) serveStore(w http.ResponseWriter, r *http.Request) {
	if s.opts.Store == nil {
		http.Error(w, "this handler local keeps its store in Table Storage: open that instead", http.StatusNotFound)
		return
	}
	var req request
	if err := gob.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes)).Decode(&req); err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			http.Error(w, fmt.Sprintf("request larger than %d bytes", maxRequestBytes), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "malformed store request: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", gobContentType)
	enc := gob.NewEncoder(w)
	if err := s.call(r.Context(), s.opts.Store, &req, func(resp *response) error { return enc.Encode(resp) }); err != nil {
		// The answer could not be sent: the client is gone.
		s.opts.Logger.Debug("local admin endpoint: answer not sent", "op", string(req.Op), "err", err)
	}
}

// call runs one store call and sends its answer.
func (s *server) call(ctx context.Context, st store.Store, req *request, send func(*response) error) error {
	if err := checkArgs(req); err != nil {
		return send(&response{Err: errorToWire(err)})
	}
	a := req.Args
	var (
		resp response
		err  error
	)
	switch req.Op {
	case opGetWatermark:
		resp, err = recordOf(watermarkCodec)(st.GetWatermark(ctx, a[0], a[1]))
	case opPutWatermark:
		resp, err = put(ctx, req, 2, watermarkCodec, st.PutWatermark)
	case opDeleteWatermark:
		err = st.DeleteWatermark(ctx, a[0], a[1])

	case opGetLink:
		resp, err = recordOf(linkCodec)(st.GetLink(ctx, a[0], a[1]))
	case opGetLinkByTargetID:
		resp, err = recordOf(linkCodec)(st.GetLinkByTargetID(ctx, a[0], a[1]))
	case opPutLink:
		resp, err = put(ctx, req, 2, linkCodec, st.PutLink)
	case opDeleteLink:
		err = apply(ctx, req, 2, linkCodec, st.DeleteLink)
	case opGetLinks:
		var links map[string]store.Link
		links, err = st.GetLinks(ctx, a[0], a[1:])
		if err == nil {
			resp, err = recordsOf(linkCodec)(slices.Collect(maps.Values(links)), nil)
		}
	case opLinkCounts:
		// The running local's store keeps the counts (or is counted here):
		// the links do not travel.
		var c store.LinkCounts
		c, err = store.CountLinks(ctx, st, a[0])
		resp.Counts = &c
	case opListLinks:
		err = st.ListLinks(ctx, a[0], func(l store.Link) error {
			rec, err := linkCodec.encode(l)
			if err != nil {
				return err
			}
			return send(&response{More: true, Record: rec})
		})

	case opGetSubscription:
		resp, err = recordOf(subscriptionCodec)(st.GetSubscription(ctx, a[0]))
	case opPutSubscription:
		resp, err = put(ctx, req, 1, subscriptionCodec, st.PutSubscription)
	case opDeleteSubscription:
		err = st.DeleteSubscription(ctx, a[0])
	case opListSubscriptions:
		resp, err = recordsOf(subscriptionCodec)(st.ListSubscriptions(ctx))

	case opGetDeletion:
		resp, err = recordOf(deletionCodec)(st.GetDeletion(ctx, a[0], a[1]))
	case opPutDeletion:
		resp, err = put(ctx, req, 2, deletionCodec, st.PutDeletion)
	case opDeleteDeletion:
		err = apply(ctx, req, 2, deletionCodec, st.DeleteDeletion)
	case opListDeletions:
		resp, err = recordsOf(deletionCodec)(st.ListDeletions(ctx, a[0]))

	case opAppendEvent:
		err = apply(ctx, req, 1, eventCodec, st.AppendEvent)
	case opListEvents:
		var page store.EventPage
		page, err = st.ListEvents(ctx, a[0], store.ListEventsOptions{Limit: req.Limit, Page: req.Page})
		if err == nil {
			resp, err = recordsOf(eventCodec)(page.Events, nil)
			resp.Next = page.Next
		}
	case opPruneEvents:
		resp.Count, err = st.PruneEvents(ctx, req.Before)

	case opGetStatus:
		resp, err = recordOf(statusCodec)(st.GetStatus(ctx, a[0]))
	case opPutStatus:
		resp, err = put(ctx, req, 1, statusCodec, st.PutStatus)
	case opGetGuard:
		resp, err = recordOf(guardCodec)(st.GetGuard(ctx, a[0]))
	case opPutGuard:
		resp, err = put(ctx, req, 1, guardCodec, st.PutGuard)

	case opGetGroupLink:
		resp, err = recordOf(groupLinkCodec)(st.GetGroupLink(ctx, a[0], a[1]))
	case opPutGroupLink:
		resp, err = put(ctx, req, 2, groupLinkCodec, st.PutGroupLink)
	case opDeleteGroupLink:
		err = apply(ctx, req, 2, groupLinkCodec, st.DeleteGroupLink)
	case opListGroupLinks:
		resp, err = recordsOf(groupLinkCodec)(st.ListGroupLinks(ctx, a[0]))
	}
	if err != nil {
		resp = response{Err: errorToWire(err)}
	}
	return send(&resp)
}

// argCounts are the string arguments of each operation.
var argCounts = map[op]int{
	opGetWatermark: 2, opPutWatermark: 0, opDeleteWatermark: 2,
	opGetLink: 2, opGetLinkByTargetID: 2, opPutLink: 0, opDeleteLink: 0, opListLinks: 1,
	opGetLinks: variadic, opLinkCounts: 1,
	opGetSubscription: 1, opPutSubscription: 0, opDeleteSubscription: 1, opListSubscriptions: 0,
	opGetDeletion: 2, opPutDeletion: 0, opDeleteDeletion: 0, opListDeletions: 1,
	opAppendEvent: 0, opListEvents: 1, opPruneEvents: 0,
	opGetStatus: 1, opPutStatus: 0, opGetGuard: 1, opPutGuard: 0,
	opGetGroupLink: 2, opPutGroupLink: 0, opDeleteGroupLink: 0, opListGroupLinks: 1,
}

// variadic marks an operation that takes a target and any number of ids.
const variadic = -1

func checkArgs(req *request) error {
	n, ok := argCounts[req.Op]
	switch {
	case !ok:
		return fmt.Errorf("local admin endpoint: unknown store operation %q (is the handler binary the same version?)", req.Op)
	case n == variadic && len(req.Args) >= 1:
		return nil
	case n == variadic:
		return fmt.Errorf("local admin endpoint: %s takes a target and ids, got no argument", req.Op)
	case len(req.Args) != n:
		return fmt.Errorf("local admin endpoint: %s takes %d arguments, got %d", req.Op, n, len(req.Args))
	}
	return nil
}

// recordOf turns a Get's result into an answer.
func recordOf[R any](c codec[R]) func(R, error) (response, error) {
	return func(r R, err error) (response, error) {
		if err != nil {
			return response{}, err
		}
		rec, err := c.encode(r)
		return response{Record: rec}, err
	}
}

// recordsOf turns a List's result into an answer.
func recordsOf[R any](c codec[R]) func([]R, error) (response, error) {
	return func(rs []R, err error) (response, error) {
		if err != nil {
			return response{}, err
		}
		var resp response
		for _, r := range rs {
			rec, err := c.encode(r)
			if err != nil {
				return response{}, err
			}
			resp.Records = append(resp.Records, *rec)
		}
		return resp, nil
	}
}

// put runs a Put with the request's record and answers with the new ETag.
func put[R any](ctx context.Context, req *request, nkeys int, c codec[R], fn func(context.Context, R) (R, error)) (response, error) {
	r, err := c.decode(req.Record, nkeys)
	if err != nil {
		return response{}, err
	}
	r, err = fn(ctx, r)
	if err != nil {
		return response{}, err
	}
	return response{ETag: c.etag(r)}, nil
}

// apply runs a call that takes a record and returns only an error.
func apply[R any](ctx context.Context, req *request, nkeys int, c codec[R], fn func(context.Context, R) error) error {
	r, err := c.decode(req.Record, nkeys)
	if err != nil {
		return err
	}
	return fn(ctx, r)
}

// deadLettersRequest is the body of both dead-letter routes.
type deadLettersRequest struct {
	Max int      `json:"max,omitempty"`
	IDs []string `json:"ids,omitempty"`
	All bool     `json:"all,omitempty"`
}

// deadLettersResponse is their answer.
type deadLettersResponse struct {
	DeadLetters []queue.DeadLetter `json:"deadLetters,omitempty"`
	Resubmitted int                `json:"resubmitted"`
	Error       string             `json:"error,omitempty"`
}

func (s *server) deadLettersRequest(w http.ResponseWriter, r *http.Request) (deadLettersRequest, bool) {
	var req deadLettersRequest
	if s.opts.DeadLetters == nil {
		http.Error(w, "this handler local serves no dead letters", http.StatusNotFound)
		return req, false
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBytes)).Decode(&req); err != nil {
		http.Error(w, "malformed dead-letter request: "+err.Error(), http.StatusBadRequest)
		return req, false
	}
	return req, true
}

func (s *server) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	req, ok := s.deadLettersRequest(w, r)
	if !ok {
		return
	}
	list, err := s.opts.DeadLetters.List(r.Context(), req.Max)
	resp := deadLettersResponse{DeadLetters: list}
	if err != nil {
		resp = deadLettersResponse{Error: err.Error()}
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *server) resubmitDeadLetters(w http.ResponseWriter, r *http.Request) {
	req, ok := s.deadLettersRequest(w, r)
	if !ok {
		return
	}
	n, err := s.opts.DeadLetters.Resubmit(r.Context(), queue.ResubmitOptions{IDs: req.IDs, All: req.All})
	resp := deadLettersResponse{Resubmitted: n}
	if err != nil {
		resp.Error = err.Error()
	}
	writeJSON(w, http.StatusOK, resp)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// LoopbackHost reports whether r's Host header names the loopback address
// and port r came in on: 127.0.0.1, [::1] or localhost, with the port (or
// none, when it is 80). A browser that a web page sent here through DNS
// rebinding names the page's host instead, and is refused.
func LoopbackHost(r *http.Request) bool {
	addr, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if addr == nil {
		return false
	}
	_, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return false
	}
	return IsLoopbackHost(r.Host, port)
}

// IsLoopbackHost reports whether a Host header value names a loopback
// address (127.0.0.1, [::1], localhost) with the given port.
func IsLoopbackHost(hostHeader, port string) bool {
	host, p, err := net.SplitHostPort(hostHeader)
	if err != nil {
		// No port: the scheme's default.
		host, p = strings.TrimSuffix(strings.TrimPrefix(hostHeader, "["), "]"), "80"
	}
	if p != port {
		return false
	}
	switch strings.ToLower(host) {
	case "127.0.0.1", "::1", "localhost":
		return true
	}
	return false
}
