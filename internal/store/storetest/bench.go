package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/tenantsync/tenantsync/internal/store"
)

// benchLinks is how many links the read benchmarks spread over.
const benchLinks = 200

// Bench measures link reads and writes, the store's hot path (one read per
// change, one write per change that writes), and reports operations per
// second as "ops/s".
func Bench(b *testing.B, newStore func(b *testing.B) store.Store) {
	b.Run("LinkGet", func(b *testing.B) {
		s := seeded(b, newStore)
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if _, err := s.GetLink(b.Context(), "bench", sourceID(i%benchLinks)); err != nil {
				b.Fatal(err)
			}
		}
		reportOps(b)
	})
	b.Run("LinkUpsert", func(b *testing.B) {
		// Read-modify-write of an existing link with its ETag, as the
		// engine does after it wrote to the target.
		s := seeded(b, newStore)
		links := make([]store.Link, benchLinks)
		for i := range links {
			links[i] = mustGet(b, s, i)
		}
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			l := links[i%benchLinks]
			l.Hash = fmt.Sprint(i)
			got, err := s.PutLink(b.Context(), l)
			if err != nil {
				b.Fatal(err)
			}
			links[i%benchLinks] = got
		}
		reportOps(b)
	})
	b.Run("LinkCreate", func(b *testing.B) {
		s := newStore(b)
		b.Cleanup(func() { s.Close() })
		for i := 0; b.Loop(); i++ {
			if _, err := s.PutLink(b.Context(), benchLink(i)); err != nil {
				b.Fatal(err)
			}
		}
		reportOps(b)
	})
	b.Run("LinkGetParallel", func(b *testing.B) {
		s := seeded(b, newStore)
		var next atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(next.Add(1))
				if _, err := s.GetLink(b.Context(), "bench", sourceID(i%benchLinks)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportOps(b)
	})
	b.Run("LinkUpsertParallel", func(b *testing.B) {
		// Each goroutine updates its own links: throughput without conflicts.
		s := seeded(b, newStore)
		var workers atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			w := int(workers.Add(1))
			var own []store.Link
			for i := w; i < benchLinks; i += 64 {
				own = append(own, mustGet(b, s, i))
			}
			if len(own) == 0 {
				own = append(own, mustGet(b, s, w%benchLinks))
			}
			for i := 0; pb.Next(); i++ {
				l := own[i%len(own)]
				l.Hash = fmt.Sprint(i)
				got, err := s.PutLink(b.Context(), l)
				if err != nil {
					b.Error(err)
					return
				}
				own[i%len(own)] = got
			}
		})
		reportOps(b)
	})
}

func sourceID(i int) string { return fmt.Sprintf("00000000-0000-0000-0000-%012d", i) }

func benchLink(i int) store.Link {
	return store.Link{
		Target: "bench", SourceID: sourceID(i), TargetID: fmt.Sprintf("11111111-0000-0000-0000-%012d", i),
		SourceUPN: fmt.Sprintf("user%d@fabrikam.example", i), Hash: "0", State: store.LinkActive,
		Attributes: map[string]any{
			"displayName": fmt.Sprintf("User %d", i), "department": "Sales", "jobTitle": "Engineer",
			"accountEnabled": true, "mail": fmt.Sprintf("user%d@fabrikam.example", i),
			"otherMails": []string{fmt.Sprintf("user%d@fabrikam.example", i)},
		},
		Created: at(0), Updated: at(0),
	}
}

func seeded(b *testing.B, newStore func(b *testing.B) store.Store) store.Store {
	s := newStore(b)
	b.Cleanup(func() { s.Close() })
	for i := range benchLinks {
		if _, err := s.PutLink(b.Context(), benchLink(i)); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func mustGet(b *testing.B, s store.Store, i int) store.Link {
	l, err := s.GetLink(b.Context(), "bench", sourceID(i%benchLinks))
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func reportOps(b *testing.B) {
	if sec := b.Elapsed().Seconds(); sec > 0 {
		b.ReportMetric(float64(b.N)/sec, "ops/s")
	}
}
