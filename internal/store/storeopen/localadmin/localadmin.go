// Package localadmin is the admin endpoint of a running `handler local` and
// its client: what lets the operator commands (status, plan, provision,
// reconcile, deletions, dlq, resume, adopt) run while local runs.
//
// The embedded store is a bbolt file that one process at a time may open,
// and a running local holds it. So local serves its store, and its embedded
// queue's dead letters, on an HTTP endpoint of its own on 127.0.0.1 (never
// on --listen), and writes the endpoint's address and a random token to an
// admin file beside the state file (FileFor: state.db.admin.json, mode
// 0600, removed when local stops). storeopen.Open, asked for the embedded
// store in that state file, finds the admin file, checks that it is the
// caller's own and that the endpoint answers to its token, and returns a
// Store that implements store.Store over the endpoint.
//
// A remote store rather than running the commands inside local: every
// command keeps its code path, its flags, its settings and credentials
// (--azure-cli), its Graph clients and its output, and shares the state with
// the running local exactly as two processes share Table Storage, through
// the ETags of the store contract (Store passes package storetest's suite).
// The running local needs to know nothing about the commands.
//
// Only the holder of the token is served: the file is the user's own and
// unreadable to others, the endpoint answers only on loopback and only to a
// Host naming it, and the token is compared in constant time and never
// logged.
package localadmin

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
)

// File is what the admin file holds.
type File struct {
	// URL is the endpoint: http://127.0.0.1:PORT.
	URL string `json:"url"`
	// Token authenticates a request (Authorization: Bearer).
	Token string `json:"token"`
	// State is the absolute path of the state file: the embedded queue's,
	// and the store's when Store is set.
	State string `json:"state"`
	// Store says the endpoint serves the embedded store in State; a local
	// whose store is Table Storage serves only its queue's dead letters.
	Store bool `json:"store"`
	// StatusURL is the status page with its token, for scripts that watch a
	// running local (the chaos suite, the benchmarks).
	StatusURL string `json:"statusUrl,omitempty"`
	// PID is the running local's process id, for messages.
	PID int `json:"pid"`
}

// FileFor returns the admin file of a state file: beside it, named after it,
// so that two state files in one directory have one each.
func FileFor(statePath string) string { return statePath + ".admin.json" }

// NewToken returns a random token of 256 bits, URL-safe.
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand's documentation)
	return base64.RawURLEncoding.EncodeToString(b)
}

// WriteFile writes f to path readable by its owner only. It writes a
// temporary file and renames it, so that a reader never sees half of one.
func WriteFile(path string, f File) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("write admin file %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".admin-*.json") // mode 0600
	if err != nil {
		return fmt.Errorf("write admin file %s: %w", path, err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write admin file %s: %w", path, err)
	}
	return nil
}

// maxFileBytes bounds what ReadFile reads: the file is a few hundred bytes.
const maxFileBytes = 64 << 10

// ReadFile reads the admin file at path. It refuses one that others could
// have written or read (its token would lead a command to a store of their
// choosing, or give them this one), and one whose endpoint is not on
// loopback. A missing file is an error wrapping fs.ErrNotExist.
func ReadFile(path string) (File, error) {
	var f File
	fi, err := os.Lstat(path)
	if err != nil {
		return f, fmt.Errorf("read admin file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return f, fmt.Errorf("admin file %s is not a regular file", path)
	}
	if err := checkPrivate(fi); err != nil {
		return f, fmt.Errorf("admin file %s: %w", path, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return f, fmt.Errorf("read admin file: %w", err)
	}
	if len(b) > maxFileBytes {
		return f, fmt.Errorf("admin file %s is %d bytes: not one local wrote", path, len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return File{}, fmt.Errorf("read admin file %s: %w", path, err)
	}
	if f.Token == "" {
		return File{}, fmt.Errorf("admin file %s has no token", path)
	}
	if err := checkLoopbackURL(f.URL); err != nil {
		return File{}, fmt.Errorf("admin file %s: %w", path, err)
	}
	return f, nil
}

// RemoveFile removes the admin file at path if it still holds token: a
// local that stops removes its own file, never a newer local's.
func RemoveFile(path, token string) error {
	f, err := ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil || f.Token != token {
		return nil // not ours (or not readable as ours): leave it
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove admin file: %w", err)
	}
	return nil
}

// checkLoopbackURL accepts http://IP:PORT with a loopback IP only: the
// endpoint is never anywhere else, and a token must not travel elsewhere.
func checkLoopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("endpoint URL: %w", err)
	}
	ip := net.ParseIP(u.Hostname())
	if u.Scheme != "http" || ip == nil || !ip.IsLoopback() || u.Port() == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("endpoint %q is not http://<loopback IP>:<port>", raw)
	}
	return nil
}
