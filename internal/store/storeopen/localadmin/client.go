package localadmin

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tenantsync/tenantsync/internal/queue"
	"github.com/tenantsync/tenantsync/internal/store"
)

var (
	// ErrNotRunning: no local runs on the state file (no admin file, or a
	// stale one whose endpoint is gone). Open the file itself.
	ErrNotRunning = errors.New("no handler local is running on this state file")
	// ErrRefused: a local runs, but refused the admin file's token.
	ErrRefused = errors.New("the running handler local refused the admin file's token")
)

// pingTimeout bounds Dial's check that the endpoint answers: it is on
// loopback, so a live local answers at once.
const pingTimeout = 5 * time.Second

// Conn is a connection to a running local's admin endpoint.
type Conn struct {
	url, token, state, adminPath string
	pid                          int
	store, deadLetters           bool
	tr                           *http.Transport
	hc                           *http.Client
}

// Dial connects to the local running on the state file at statePath, if
// one runs: it reads the admin file beside it (see ReadFile for what it
// refuses), checks that the file names this very state file, and that the
// endpoint answers to the token. It fails with an error wrapping
// ErrNotRunning when there is no such local, and ErrRefused when the local
// refuses the token.
func Dial(ctx context.Context, statePath string) (*Conn, error) {
	adminPath := FileFor(statePath)
	f, err := ReadFile(adminPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (no %s)", ErrNotRunning, adminPath)
	}
	if err != nil {
		return nil, err
	}
	here, err := os.Stat(statePath)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotRunning, err)
	}
	if there, err := os.Stat(f.State); err != nil || !os.SameFile(here, there) {
		return nil, fmt.Errorf("%w: %s names the state file %s, not %s", ErrNotRunning, adminPath, f.State, statePath)
	}
	tr := &http.Transport{
		Proxy:                 nil, // loopback only, never through a proxy
		DialContext:           (&net.Dialer{Timeout: pingTimeout}).DialContext,
		MaxIdleConns:          32,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		DisableCompression:    true,
	}
	c := &Conn{url: f.URL, token: f.Token, state: f.State, adminPath: adminPath, pid: f.PID, tr: tr,
		hc: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if err := c.ping(ctx); err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	return c, nil
}

func (c *Conn) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	resp, err := c.do(ctx, http.MethodGet, pathPing, "", nil)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("%w: %s is stale (nothing listens at %s)", ErrNotRunning, c.adminPath, c.url)
		}
		return err
	}
	defer drain(resp.Body)
	var p pingResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxFileBytes)).Decode(&p); err != nil {
		return fmt.Errorf("ask the handler local at %s who it is: %w", c.url, err)
	}
	if p.State != c.state {
		return fmt.Errorf("%w: the handler local at %s runs on %s, not %s (%s is stale)", ErrNotRunning, c.url, p.State, c.state, c.adminPath)
	}
	c.pid, c.store, c.deadLetters = p.PID, p.Store, p.DeadLetters
	return nil
}

// do sends one request and returns a 200 answer; anything else is an error
// naming what was asked.
func (c *Conn) do(ctx context.Context, method, path, contentType string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// The error names the URL, never the token.
		return nil, fmt.Errorf("call the handler local's admin endpoint: %w", err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer drain(resp.Body)
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	err = fmt.Errorf("the handler local's admin endpoint answered %s %s with %s: %s", method, path, resp.Status, strings.TrimSpace(string(msg)))
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		err = fmt.Errorf("%w (%s, pid %d at %s)", ErrRefused, c.adminPath, c.pid, c.url)
	case http.StatusRequestEntityTooLarge:
		err = fmt.Errorf("%w: %w", store.ErrTooLarge, err)
	}
	return nil, err
}

// ServesStore reports whether the local serves its store: it does when its
// store is the embedded one, in this state file.
func (c *Conn) ServesStore() bool { return c.store }

// PID is the running local's process id.
func (c *Conn) PID() int { return c.pid }

// URL is the endpoint's address.
func (c *Conn) URL() string { return c.url }

// Close releases the connection's idle sockets.
func (c *Conn) Close() { c.tr.CloseIdleConnections() }

// Store returns the local's store. Its Close closes c.
func (c *Conn) Store() (*Store, error) {
	if !c.store {
		return nil, fmt.Errorf("the handler local (pid %d) running on %s keeps its store in Table Storage; only its queue is in the file", c.pid, c.state)
	}
	return &Store{c: c}, nil
}

// DeadLetters returns the local's embedded queue's dead letters.
func (c *Conn) DeadLetters() (*DeadLetters, error) {
	if !c.deadLetters {
		return nil, fmt.Errorf("the handler local (pid %d) running on %s serves no dead letters", c.pid, c.state)
	}
	return &DeadLetters{c: c}, nil
}

// Store is the store of a running local, through its admin endpoint. It
// implements store.Store and is safe for concurrent use.
type Store struct {
	c      *Conn
	closed atomic.Bool
}

var _ store.Store = (*Store)(nil)

// String describes the store for status output.
func (s *Store) String() string {
	return fmt.Sprintf("embedded store in %s, through the handler local running on it (pid %d)", s.c.state, s.c.pid)
}

// PID is the running local's process id, for messages.
func (s *Store) PID() int { return s.c.pid }

// Close releases the connection. The store itself stays open in the
// running local.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.c.Close()
	return nil
}

// open sends a store request and returns the answer's body.
func (s *Store) open(ctx context.Context, req *request) (io.ReadCloser, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("%s: the store is closed", req.Op)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", req.Op, err)
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(req); err != nil {
		return nil, fmt.Errorf("%s: encode the request: %w", req.Op, err)
	}
	if buf.Len() > maxRequestBytes {
		return nil, fmt.Errorf("%s: request of %d bytes: %w", req.Op, buf.Len(), store.ErrTooLarge)
	}
	resp, err := s.c.do(ctx, http.MethodPost, pathStore, gobContentType, buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Op, err)
	}
	return resp.Body, nil
}

// call sends a request that has one answer.
func (s *Store) call(ctx context.Context, req *request) (response, error) {
	body, err := s.open(ctx, req)
	if err != nil {
		return response{}, err
	}
	defer drain(body)
	var resp response
	if err := gob.NewDecoder(body).Decode(&resp); err != nil {
		return response{}, fmt.Errorf("%s: read the answer of the handler local: %w", req.Op, err)
	}
	return resp, resp.Err.err()
}

// get calls a Get and decodes its record.
func get[R any](ctx context.Context, s *Store, c codec[R], o op, args ...string) (R, error) {
	var zero R
	resp, err := s.call(ctx, &request{Op: o, Args: args})
	if err != nil {
		return zero, err
	}
	return c.decode(resp.Record, len(c.keys(zero)))
}

// putRecord calls a Put and returns r with its new ETag, as the stores do.
func putRecord[R any](ctx context.Context, s *Store, c codec[R], o op, r R) (R, error) {
	var zero R
	rec, err := c.encode(r)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", o, err)
	}
	resp, err := s.call(ctx, &request{Op: o, Record: rec})
	if err != nil {
		return zero, err
	}
	c.setKeys(&r, c.keys(r), resp.ETag)
	return r, nil
}

// send calls a method that takes a record and returns only an error.
func send[R any](ctx context.Context, s *Store, c codec[R], o op, r R) error {
	rec, err := c.encode(r)
	if err != nil {
		return fmt.Errorf("%s: %w", o, err)
	}
	_, err = s.call(ctx, &request{Op: o, Record: rec})
	return err
}

// list calls a List and decodes its records.
func list[R any](ctx context.Context, s *Store, c codec[R], req *request) ([]R, response, error) {
	var zero R
	resp, err := s.call(ctx, req)
	if err != nil {
		return nil, resp, err
	}
	var out []R
	for i := range resp.Records {
		r, err := c.decode(&resp.Records[i], len(c.keys(zero)))
		if err != nil {
			return nil, resp, err
		}
		out = append(out, r)
	}
	return out, resp, nil
}

// GetWatermark implements store.Store.
func (s *Store) GetWatermark(ctx context.Context, tenant, resource string) (store.Watermark, error) {
	return get(ctx, s, watermarkCodec, opGetWatermark, tenant, resource)
}

// PutWatermark implements store.Store.
func (s *Store) PutWatermark(ctx context.Context, w store.Watermark) (store.Watermark, error) {
	return putRecord(ctx, s, watermarkCodec, opPutWatermark, w)
}

// DeleteWatermark implements store.Store.
func (s *Store) DeleteWatermark(ctx context.Context, tenant, resource string) error {
	_, err := s.call(ctx, &request{Op: opDeleteWatermark, Args: []string{tenant, resource}})
	return err
}

// GetLink implements store.Store.
func (s *Store) GetLink(ctx context.Context, target, sourceID string) (store.Link, error) {
	return get(ctx, s, linkCodec, opGetLink, target, sourceID)
}

// GetLinkByTargetID implements store.Store.
func (s *Store) GetLinkByTargetID(ctx context.Context, target, targetID string) (store.Link, error) {
	return get(ctx, s, linkCodec, opGetLinkByTargetID, target, targetID)
}

// PutLink implements store.Store.
func (s *Store) PutLink(ctx context.Context, l store.Link) (store.Link, error) {
	return putRecord(ctx, s, linkCodec, opPutLink, l)
}

// DeleteLink implements store.Store.
func (s *Store) DeleteLink(ctx context.Context, l store.Link) error {
	return send(ctx, s, linkCodec, opDeleteLink, l)
}

// getLinksPerRequest bounds the ids of one GetLinks request (36 bytes
// each), far below maxRequestBytes.
const getLinksPerRequest = 10_000

// GetLinks implements store.Store.
func (s *Store) GetLinks(ctx context.Context, target string, sourceIDs []string) (map[string]store.Link, error) {
	out := make(map[string]store.Link, len(sourceIDs))
	for chunk := range slices.Chunk(sourceIDs, getLinksPerRequest) {
		links, _, err := list(ctx, s, linkCodec, &request{Op: opGetLinks, Args: append([]string{target}, chunk...)})
		if err != nil {
			return nil, err
		}
		for _, l := range links {
			out[l.SourceID] = l
		}
	}
	return out, nil
}

var _ store.LinkCounter = (*Store)(nil)

// LinkCounts implements store.LinkCounter: the running local counts (from
// the counts its store keeps), so that `status` costs one request at any
// number of links.
func (s *Store) LinkCounts(ctx context.Context, target string) (store.LinkCounts, error) {
	resp, err := s.call(ctx, &request{Op: opLinkCounts, Args: []string{target}})
	if err != nil {
		return store.LinkCounts{}, err
	}
	if resp.Counts == nil {
		return store.LinkCounts{}, fmt.Errorf("%s: the handler local answered no counts", opLinkCounts)
	}
	return *resp.Counts, nil
}

// ListLinks implements store.Store. The links stream from the running local
// as fn takes them; fn may write to the store.
func (s *Store) ListLinks(ctx context.Context, target string, fn func(store.Link) error) error {
	body, err := s.open(ctx, &request{Op: opListLinks, Args: []string{target}})
	if err != nil {
		return err
	}
	defer drain(body)
	dec := gob.NewDecoder(body)
	for {
		var resp response
		if err := dec.Decode(&resp); err != nil {
			return fmt.Errorf("%s: read the answer of the handler local: %w", opListLinks, err)
		}
		if !resp.More {
			return resp.Err.err()
		}
		l, err := linkCodec.decode(resp.Record, 2)
		if err != nil {
			return err
		}
		if err := fn(l); err != nil {
			return err
		}
	}
}

// GetSubscription implements store.Store.
func (s *Store) GetSubscription(ctx context.Context, id string) (store.Subscription, error) {
	return get(ctx, s, subscriptionCodec, opGetSubscription, id)
}

// PutSubscription implements store.Store.
func (s *Store) PutSubscription(ctx context.Context, sub store.Subscription) (store.Subscription, error) {
	return putRecord(ctx, s, subscriptionCodec, opPutSubscription, sub)
}

// DeleteSubscription implements store.Store.
func (s *Store) DeleteSubscription(ctx context.Context, id string) error {
	_, err := s.call(ctx, &request{Op: opDeleteSubscription, Args: []string{id}})
	return err
}

// ListSubscriptions implements store.Store.
func (s *Store) ListSubscriptions(ctx context.Context) ([]store.Subscription, error) {
	subs, _, err := list(ctx, s, subscriptionCodec, &request{Op: opListSubscriptions})
	return subs, err
}

// GetDeletion implements store.Store.
func (s *Store) GetDeletion(ctx context.Context, target, sourceID string) (store.Deletion, error) {
	return get(ctx, s, deletionCodec, opGetDeletion, target, sourceID)
}

// PutDeletion implements store.Store.
func (s *Store) PutDeletion(ctx context.Context, d store.Deletion) (store.Deletion, error) {
	return putRecord(ctx, s, deletionCodec, opPutDeletion, d)
}

// DeleteDeletion implements store.Store.
func (s *Store) DeleteDeletion(ctx context.Context, d store.Deletion) error {
	return send(ctx, s, deletionCodec, opDeleteDeletion, d)
}

// ListDeletions implements store.Store.
func (s *Store) ListDeletions(ctx context.Context, target string) ([]store.Deletion, error) {
	ds, _, err := list(ctx, s, deletionCodec, &request{Op: opListDeletions, Args: []string{target}})
	return ds, err
}

// AppendEvent implements store.Store.
func (s *Store) AppendEvent(ctx context.Context, e store.Event) error {
	return send(ctx, s, eventCodec, opAppendEvent, e)
}

// ListEvents implements store.Store.
func (s *Store) ListEvents(ctx context.Context, target string, opts store.ListEventsOptions) (store.EventPage, error) {
	events, resp, err := list(ctx, s, eventCodec, &request{Op: opListEvents, Args: []string{target}, Limit: opts.Limit, Page: opts.Page})
	if err != nil {
		return store.EventPage{}, err
	}
	return store.EventPage{Events: events, Next: resp.Next}, nil
}

// PruneEvents implements store.Store.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	resp, err := s.call(ctx, &request{Op: opPruneEvents, Before: before})
	return resp.Count, err
}

// GetStatus implements store.Store.
func (s *Store) GetStatus(ctx context.Context, target string) (store.TargetStatus, error) {
	return get(ctx, s, statusCodec, opGetStatus, target)
}

// PutStatus implements store.Store.
func (s *Store) PutStatus(ctx context.Context, st store.TargetStatus) (store.TargetStatus, error) {
	return putRecord(ctx, s, statusCodec, opPutStatus, st)
}

// GetGuard implements store.Store.
func (s *Store) GetGuard(ctx context.Context, target string) (store.Guard, error) {
	return get(ctx, s, guardCodec, opGetGuard, target)
}

// PutGuard implements store.Store.
func (s *Store) PutGuard(ctx context.Context, g store.Guard) (store.Guard, error) {
	return putRecord(ctx, s, guardCodec, opPutGuard, g)
}

// GetGroupLink implements store.Store.
func (s *Store) GetGroupLink(ctx context.Context, target, sourceID string) (store.GroupLink, error) {
	return get(ctx, s, groupLinkCodec, opGetGroupLink, target, sourceID)
}

// PutGroupLink implements store.Store.
func (s *Store) PutGroupLink(ctx context.Context, l store.GroupLink) (store.GroupLink, error) {
	return putRecord(ctx, s, groupLinkCodec, opPutGroupLink, l)
}

// DeleteGroupLink implements store.Store.
func (s *Store) DeleteGroupLink(ctx context.Context, l store.GroupLink) error {
	return send(ctx, s, groupLinkCodec, opDeleteGroupLink, l)
}

// ListGroupLinks implements store.Store.
func (s *Store) ListGroupLinks(ctx context.Context, target string) ([]store.GroupLink, error) {
	ls, _, err := list(ctx, s, groupLinkCodec, &request{Op: opListGroupLinks, Args: []string{target}})
	return ls, err
}

// DeadLetters are a running local's embedded queue's dead letters, through
// its admin endpoint: the local's own queue lists and resubmits them, so
// that a resubmitted message is delivered at once. It implements
// queue.DeadLetters.
type DeadLetters struct {
	c *Conn
}

var _ queue.DeadLetters = (*DeadLetters)(nil)

// Close releases the connection.
func (d *DeadLetters) Close() { d.c.Close() }

// Name describes the queue for the dlq commands.
func (d *DeadLetters) Name() string {
	return fmt.Sprintf("the embedded queue in %s, through the handler local running on it (pid %d)", d.c.state, d.c.pid)
}

func (d *DeadLetters) call(ctx context.Context, path string, req deadLettersRequest) (deadLettersResponse, error) {
	var out deadLettersResponse
	body, err := json.Marshal(req)
	if err != nil {
		return out, err
	}
	resp, err := d.c.do(ctx, http.MethodPost, path, "application/json", body)
	if err != nil {
		return out, err
	}
	defer drain(resp.Body)
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber() // properties come back as json.Number, as from the embedded queue
	if err := dec.Decode(&out); err != nil {
		return out, fmt.Errorf("read the answer of the handler local: %w", err)
	}
	if out.Error != "" {
		return out, errors.New(out.Error)
	}
	return out, nil
}

// List implements queue.DeadLetters.
func (d *DeadLetters) List(ctx context.Context, max int) ([]queue.DeadLetter, error) {
	out, err := d.call(ctx, pathDeadLettersList, deadLettersRequest{Max: max})
	if err != nil {
		return nil, fmt.Errorf("list the dead letters: %w", err)
	}
	return out.DeadLetters, nil
}

// Resubmit implements queue.DeadLetters.
func (d *DeadLetters) Resubmit(ctx context.Context, opts queue.ResubmitOptions) (int, error) {
	out, err := d.call(ctx, pathDeadLettersResubmit, deadLettersRequest{IDs: opts.IDs, All: opts.All})
	if err != nil {
		return out.Resubmitted, fmt.Errorf("resubmit dead letters: %w", err)
	}
	return out.Resubmitted, nil
}

// drain discards what is left of a response body so that its connection
// can be reused.
func drain(r io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10))
	r.Close()
}
