package localadmin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/tenantsync/tenantsync/internal/queue"
	"github.com/tenantsync/tenantsync/internal/queue/embedded"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
	"github.com/tenantsync/tenantsync/internal/store/storeopen/localadmin"
	"github.com/tenantsync/tenantsync/internal/store/storetest"
)

// endpoint is an admin endpoint in this process over a state file of its
// own, as a running local serves it.
type endpoint struct {
	state string // the state file
	admin string // its admin file
	file  localadmin.File
	store *boltstore.Store
	logs  *syncBuffer
}

// syncBuffer is a log destination the server may write to concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serve starts an endpoint over a new embedded store; withStore false
// serves only dead letters (a local on Table Storage), dl when not nil.
func serve(t *testing.T, withStore bool, dl queue.DeadLetters) *endpoint {
	t.Helper()
	dir := t.TempDir()
	e := &endpoint{state: filepath.Join(dir, "state.db"), logs: &syncBuffer{}}
	e.admin = localadmin.FileFor(e.state)
	st, err := boltstore.Open(e.state, &boltstore.Options{NoSync: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.store = st
	token := localadmin.NewToken()
	opts := localadmin.ServerOptions{Token: token, State: e.state, DeadLetters: dl,
		Logger: slog.New(slog.NewTextHandler(e.logs, nil))}
	if withStore {
		opts.Store = st
	}
	h, err := localadmin.NewHandler(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	e.file = localadmin.File{URL: "http://" + ln.Addr().String(), Token: token, State: e.state, Store: withStore, PID: os.Getpid()}
	if err := localadmin.WriteFile(e.admin, e.file); err != nil {
		t.Fatal(err)
	}
	return e
}

func dial(t *testing.T, e *endpoint) *localadmin.Conn {
	t.Helper()
	c, err := localadmin.Dial(t.Context(), e.state)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestContract runs the store contract on the store as a running local
// serves it: what the engine does through it, it does as on the file.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		st, err := dial(t, serve(t, true, nil)).Store()
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

// TestRecordsComeBackAsTheStoreKeepsThem compares what the endpoint gives
// back with what the file gives back, field by field: nil and empty
// collections, attribute types, keys that are not UTF-8.
func TestRecordsComeBackAsTheStoreKeepsThem(t *testing.T) {
	e := serve(t, true, nil)
	remote, err := dial(t, e).Store()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	at := time.Date(2026, 3, 14, 15, 9, 26, 535897123, time.FixedZone("CET", 3600))
	links := []store.Link{
		{Target: "contoso", SourceID: "nil-attributes", Created: at},
		{Target: "contoso", SourceID: "empty-attributes", Attributes: map[string]any{}},
		{Target: "contoso", SourceID: "typed", Attributes: map[string]any{
			"n": 7, "n64": int64(1) << 60, "list": []string{"a", "b"}, "empty": []string{}, "nil": nil, "b": true, "s": "é",
		}},
		{Target: "\xff\xfe", SourceID: "nul\x00inside", TargetID: "t"},
	}
	for _, l := range links {
		if _, err := remote.PutLink(ctx, l); err != nil {
			t.Fatalf("PutLink %q: %v", l.SourceID, err)
		}
		want, err := e.store.GetLink(ctx, l.Target, l.SourceID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := remote.GetLink(ctx, l.Target, l.SourceID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("link %q through the endpoint:\n got %#v\nwant %#v", l.SourceID, got, want)
		}
	}
	statuses := []store.TargetStatus{
		{Target: "nil-counters"},
		{Target: "empty-counters", Counters: map[string]int64{}},
		{Target: "counters", Counters: map[string]int64{"create": 3}, QuarantinedUntil: at},
	}
	for _, s := range statuses {
		if _, err := remote.PutStatus(ctx, s); err != nil {
			t.Fatal(err)
		}
		want, _ := e.store.GetStatus(ctx, s.Target)
		got, err := remote.GetStatus(ctx, s.Target)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("status %q through the endpoint: %#v, %v\nwant %#v", s.Target, got, err, want)
		}
	}
	for _, ev := range []store.Event{{Target: "ev", Time: at, Action: "create"}, {Target: "ev", Time: at.Add(time.Second), RequestIDs: []string{}}} {
		if err := remote.AppendEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	want, _ := e.store.ListEvents(ctx, "ev", store.ListEventsOptions{})
	got, err := remote.ListEvents(ctx, "ev", store.ListEventsOptions{})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("events through the endpoint: %#v, %v\nwant %#v", got, err, want)
	}
}

// TestOversizedRequestIsTooLarge: a record beyond what the endpoint takes
// is refused as too large, as the store would refuse it.
func TestOversizedRequestIsTooLarge(t *testing.T) {
	remote, err := dial(t, serve(t, true, nil)).Store()
	if err != nil {
		t.Fatal(err)
	}
	huge := map[string]any{}
	for i := range 400 {
		huge[fmt.Sprintf("extension_%03d", i)] = strings.Repeat("v", 50<<10)
	}
	_, err = remote.PutLink(t.Context(), store.Link{Target: "t", SourceID: "huge", Attributes: huge})
	if !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("PutLink of 20 MB: %v, want store.ErrTooLarge", err)
	}
}

// TestDial checks what Dial accepts: only the admin file of this very state
// file, private to this user, naming a loopback endpoint that takes its
// token. Every refusal says why.
func TestDial(t *testing.T) {
	tests := []struct {
		name string
		// change spoils the endpoint's admin file, or nil.
		change func(t *testing.T, e *endpoint)
		// wantErr is what the error wraps, or nil when any error will do
		// and wantMsg says which; "" for success.
		wantErr error
		wantMsg string
	}{
		{name: "running"},
		{name: "no admin file", change: func(t *testing.T, e *endpoint) { os.Remove(e.admin) }, wantErr: localadmin.ErrNotRunning},
		{name: "stale admin file", change: func(t *testing.T, e *endpoint) {
			f := e.file
			f.URL = "http://" + closedAddr(t)
			write(t, e.admin, f)
		}, wantErr: localadmin.ErrNotRunning, wantMsg: "is stale"},
		{name: "wrong token", change: func(t *testing.T, e *endpoint) {
			f := e.file
			f.Token = localadmin.NewToken()
			write(t, e.admin, f)
		}, wantErr: localadmin.ErrRefused},
		{name: "another state file", change: func(t *testing.T, e *endpoint) {
			other := filepath.Join(t.TempDir(), "state.db")
			if err := os.WriteFile(other, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			f := e.file
			f.State = other
			write(t, e.admin, f)
		}, wantErr: localadmin.ErrNotRunning, wantMsg: "names the state file"},
		{name: "readable by others", change: func(t *testing.T, e *endpoint) {
			if err := os.Chmod(e.admin, 0o644); err != nil {
				t.Fatal(err)
			}
		}, wantMsg: "mode 0644 lets others read or write it"},
		{name: "not on loopback", change: func(t *testing.T, e *endpoint) {
			f := e.file
			f.URL = "http://192.0.2.1:7072"
			write(t, e.admin, f)
		}, wantMsg: `endpoint "http://192.0.2.1:7072" is not http://<loopback IP>:<port>`},
		{name: "a symbolic link", change: func(t *testing.T, e *endpoint) {
			moved := filepath.Join(t.TempDir(), "elsewhere.json")
			if err := os.Rename(e.admin, moved); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(moved, e.admin); err != nil {
				t.Fatal(err)
			}
		}, wantMsg: "is not a regular file"},
		{name: "unknown fields", change: func(t *testing.T, e *endpoint) {
			if err := os.WriteFile(e.admin, []byte(`{"url":"`+e.file.URL+`","token":"x","proxy":"y"}`), 0o600); err != nil {
				t.Fatal(err)
			}
		}, wantMsg: `unknown field "proxy"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := serve(t, true, nil)
			if tt.change != nil {
				tt.change(t, e)
			}
			c, err := localadmin.Dial(t.Context(), e.state)
			if tt.wantErr == nil && tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				defer c.Close()
				if !c.ServesStore() || c.PID() != os.Getpid() || c.URL() != e.file.URL {
					t.Errorf("Dial = store %v, pid %d, url %s", c.ServesStore(), c.PID(), c.URL())
				}
				return
			}
			if err == nil {
				c.Close()
				t.Fatalf("Dial succeeded; want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Dial: %v; want it to wrap %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Dial: %v; want it to say %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), e.file.Token) {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

// TestEndpointRefuses sends raw requests: a Host that is not the loopback
// address is misdirected (a page that rebound its DNS name here), a
// request without the right token unauthorized, and the refused token is
// not logged.
func TestEndpointRefuses(t *testing.T) {
	e := serve(t, true, nil)
	wrong := localadmin.NewToken()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(e.file.URL, "http://"))
	tests := []struct {
		name, host, auth string
		want             int
	}{
		{"right token", "", "Bearer " + e.file.Token, http.StatusOK},
		{"localhost", "localhost:" + port, "Bearer " + e.file.Token, http.StatusOK},
		{"no token", "", "", http.StatusUnauthorized},
		{"wrong token", "", "Bearer " + wrong, http.StatusUnauthorized},
		{"token without scheme", "", e.file.Token, http.StatusUnauthorized},
		{"rebound host", "evil.example", "Bearer " + e.file.Token, http.StatusMisdirectedRequest},
		{"rebound host with the port", "evil.example:" + port, "Bearer " + e.file.Token, http.StatusMisdirectedRequest},
		{"loopback, another port", "127.0.0.1:1", "Bearer " + e.file.Token, http.StatusMisdirectedRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.file.URL+"/v1/ping", nil)
			if tt.host != "" {
				req.Host = tt.host
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "refused a request without the right token") {
		t.Errorf("refusals not logged: %s", logs)
	}
	if strings.Contains(logs, e.file.Token) || strings.Contains(logs, wrong) {
		t.Errorf("a token is in the logs: %s", logs)
	}
}

// TestTableStorageLocalServesDeadLettersOnly: a local whose store is Table
// Storage keeps only its queue in the file; Dial says so rather than
// serving a store the caller did not ask for.
func TestTableStorageLocalServesDeadLettersOnly(t *testing.T) {
	e := serve(t, false, nil)
	c := dial(t, e)
	if c.ServesStore() {
		t.Fatal("ServesStore for a local without its store")
	}
	if _, err := c.Store(); err == nil || !strings.Contains(err.Error(), "keeps its store in Table Storage") {
		t.Errorf("Store: %v", err)
	}
	if _, err := c.DeadLetters(); err == nil {
		t.Error("DeadLetters for a local that serves none")
	}
}

// TestDeadLetters lists and resubmits a dead letter through the endpoint,
// as `dlq` does while local runs, and compares with the queue itself.
func TestDeadLetters(t *testing.T) {
	db := openQueueDB(t)
	q, err := embedded.Open(db, &embedded.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	ctx := t.Context()
	msg := queue.Message{ID: "m-1", SessionID: "s-1", Body: []byte(`{"id":"x"}`), ContentType: "application/json",
		Properties: map[string]any{"n": 3, "s": "v", "b": true}}
	if err := q.Enqueue(ctx, msg); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- q.Run(runCtx, embedded.RunOptions{}, func(context.Context, queue.Delivery) error {
			return &queue.DeadLetterError{Reason: "Test", Description: "dead on arrival"}
		})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for q.Stats().DeadLetterMessages == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the message was not dead-lettered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done

	e := serve(t, false, q)
	dl, err := dial(t, e).DeadLetters()
	if err != nil {
		t.Fatal(err)
	}
	want, err := q.List(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dl.List(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !reflect.DeepEqual(got, want) {
		t.Fatalf("dead letters through the endpoint:\n got %#v\nwant %#v", got, want)
	}
	if !strings.Contains(dl.Name(), e.state) {
		t.Errorf("Name() = %q, want it to name the state file", dl.Name())
	}
	if _, err := dl.Resubmit(ctx, queue.ResubmitOptions{}); err == nil || !strings.Contains(err.Error(), "give either message ids or All") {
		t.Errorf("Resubmit of nothing: %v", err)
	}
	n, err := dl.Resubmit(ctx, queue.ResubmitOptions{IDs: []string{"m-1"}})
	if err != nil || n != 1 {
		t.Fatalf("Resubmit: %d, %v", n, err)
	}
	if st := q.Stats(); st.DeadLetterMessages != 0 || st.VisibleMessages != 1 {
		t.Errorf("after resubmitting: %+v, want the message back in the queue", st)
	}
}

func write(t *testing.T, path string, f localadmin.File) {
	t.Helper()
	if err := localadmin.WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestWriteFileIsPrivate: the admin file holds a token, so it is the
// owner's alone, and RemoveFile removes only the file with its own token.
func TestWriteFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db.admin.json")
	f := localadmin.File{URL: "http://127.0.0.1:7072", Token: localadmin.NewToken(), State: "/x/state.db", Store: true, PID: 42}
	write(t, path, f)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %#o, want 0600", fi.Mode().Perm())
	}
	got, err := localadmin.ReadFile(path)
	if err != nil || got != f {
		t.Fatalf("ReadFile = %+v, %v; want %+v", got, err, f)
	}
	var raw map[string]any
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &raw); err != nil || raw["url"] != f.URL {
		t.Errorf("file content: %s", b)
	}
	if err := localadmin.RemoveFile(path, "another local's token"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("RemoveFile with another token removed the file: %v", err)
	}
	if err := localadmin.RemoveFile(path, f.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("RemoveFile with its token left the file: %v", err)
	}
}

// openQueueDB opens a bbolt file for an embedded queue.
func openQueueDB(t *testing.T) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "queue.db"), 0o600, &bbolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestStatusAuth: a harness's client sends the status token of the local
// running on its state file, the current one after a restart, and nothing
// before there is an admin file.
func TestStatusAuth(t *testing.T) {
	var got []string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	state := filepath.Join(t.TempDir(), "state.db")
	client := &http.Client{Transport: localadmin.StatusAuth(nil, state)}
	get := func() {
		t.Helper()
		resp, err := client.Get("http://" + ln.Addr().String() + "/api/status?format=json")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get() // no admin file yet
	for _, token := range []string{"first-run", "after-a-restart"} {
		write(t, localadmin.FileFor(state), localadmin.File{URL: "http://127.0.0.1:1", Token: "admin", State: state,
			StatusURL: "http://127.0.0.1:7071/?token=" + token})
		get()
	}
	want := []string{"", "Bearer first-run", "Bearer after-a-restart"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Authorization sent: %q, want %q", got, want)
	}
}

// TestLinkCountsTravelWithoutTheLinks checks that `status` through a
// running local gets the counts its store keeps in one request: the same
// counts as the file's, and no listing of the links on the wire.
func TestLinkCountsTravelWithoutTheLinks(t *testing.T) {
	e := serve(t, true, nil)
	remote, err := dial(t, e).Store()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	states := []store.LinkState{store.LinkActive, store.LinkActive, store.LinkPending, store.LinkDisabled}
	for i := range 40 {
		l := store.Link{Target: "contoso", SourceID: fmt.Sprintf("u%02d", i), TargetID: fmt.Sprintf("t%02d", i), State: states[i%len(states)]}
		if i%5 == 0 {
			l.LastError = "refused"
		}
		if _, err := remote.PutLink(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	lc, ok := store.Store(remote).(store.LinkCounter)
	if !ok {
		t.Fatalf("the local admin store %T is not a store.LinkCounter", remote)
	}
	got, err := lc.LinkCounts(ctx, "contoso")
	if err != nil {
		t.Fatalf("LinkCounts: %v", err)
	}
	want, err := e.store.LinkCounts(ctx, "contoso")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) || got.States[store.LinkActive] != 20 || got.Failing[store.LinkActive] != 4 {
		t.Errorf("LinkCounts through the endpoint = %+v, the file's = %+v (want 20 active, 4 of them failing)", got, want)
	}
	if empty, err := lc.LinkCounts(ctx, "nobody"); err != nil || len(empty.States) != 0 {
		t.Errorf("LinkCounts of a target without links = %+v, %v", empty, err)
	}
}
