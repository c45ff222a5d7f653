package graphsim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// stateFile is what --state persists: every tenant as a seed (soft-deleted
// objects, subscriptions and change log position included) and the
// simulated clock.
type stateFile struct {
	Version     int    `json:"version"`
	ClockOffset string `json:"clockOffset,omitempty"`
	Seed
}

const stateVersion = 1

// SaveStateFile writes the state of every tenant to path atomically: to a
// temporary file in the same directory, synced, then renamed over path.
func (s *Server) SaveStateFile(path string) error {
	st := stateFile{Version: stateVersion}
	if off := s.clock.getOffset(); off != 0 {
		st.ClockOffset = off.String()
	}
	for _, t := range s.tenantList() {
		st.Tenants = append(st.Tenants, t.snapshot())
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err := json.NewEncoder(w).Encode(st); err != nil {
		tmp.Close()
		return fmt.Errorf("save state %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("save state %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save state %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save state %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save state %s: %w", path, err)
	}
	return nil
}

// LoadStateFile loads a state file written by SaveStateFile, replacing the
// tenants it names. It reports false, and no error, when path does not
// exist.
func (s *Server) LoadStateFile(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load state: %w", err)
	}
	defer f.Close()
	tenants, err := s.decodeSeedStream(f, true)
	if err != nil {
		return false, fmt.Errorf("load state %s: %w", path, err)
	}
	for _, t := range tenants {
		s.putTenant(t)
		t.startSubscriptions()
	}
	return true, nil
}
