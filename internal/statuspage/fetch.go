package statuspage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// maxSnapshotBytes bounds a fetched snapshot: a page of events with their
// diffs is far smaller.
const maxSnapshotBytes = 16 << 20

// Fetch reads the JSON variant of the status page served at pageURL (such
// as http://127.0.0.1:7071/api/status): the benchmarks and the chaos suite
// watch a running `handler local` through it.
func Fetch(ctx context.Context, client *http.Client, pageURL string) (Snapshot, error) {
	var s Snapshot
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pageURL+"?format=json", nil)
	if err != nil {
		return s, fmt.Errorf("read status page: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return s, fmt.Errorf("read status page: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("read status page %s: %s", pageURL, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxSnapshotBytes)).Decode(&s); err != nil {
		return s, fmt.Errorf("decode status page %s: %w", pageURL, err)
	}
	return s, nil
}
