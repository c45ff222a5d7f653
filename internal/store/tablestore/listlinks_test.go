package tablestore

import (
	"testing"

	"github.com/tenantsync/tenantsync/internal/store"
)

// BenchmarkListLinks measures ListLinks of a target of 20,000 links,
// written straight to the table. Against Azurite, which has no partition
// throughput limit, it measures the requests and the merge, not what a
// storage account's per-partition limit (2,000 entities a second) does to
// one partition against 16.
func BenchmarkListLinks(b *testing.B) {
	const n = 20_000
	s := openTest(b, nil)
	seedLinks(b, s, "bench", n)
	for b.Loop() {
		got := 0
		if err := s.ListLinks(b.Context(), "bench", func(store.Link) error { got++; return nil }); err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("listed %d links, want %d", got, n)
		}
	}
	reportMS(b)
}
