package statuspage

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

// Benchmark sizes: a target of benchLinks users, benchEvents of them
// changed in the last hour.
const (
	benchLinks  = 10000
	benchEvents = 3000
)

// BenchmarkServeHTTP measures one page view (and one JSON read) of a target
// with 10,000 linked users and 3,000 events in the last hour, on the
// embedded store: the cost of each automatic refresh of an open page.
func BenchmarkServeHTTP(b *testing.B) {
	st, err := boltstore.OpenTemp(&boltstore.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	states := []store.LinkState{store.LinkActive, store.LinkActive, store.LinkActive, store.LinkDisabled, store.LinkDeleted}
	for i := range benchLinks {
		if _, err := st.PutLink(ctx, store.Link{Target: "contoso", SourceID: fmt.Sprintf("src-%05d", i), TargetID: fmt.Sprintf("tgt-%05d", i), State: states[i%len(states)]}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range benchEvents {
		ev := store.Event{Time: seedNow.Add(-time.Duration(i) * time.Second), Target: "contoso", SourceID: fmt.Sprintf("src-%05d", i),
			SourceUPN: fmt.Sprintf("user%05d@fabrikam.example", i), Action: "update", Result: "ok",
			Changes: "department: Sales → Marketing", RequestIDs: []string{"0d5a4c6b-8f7e-1a2b-3c4d-5e6f00000000"},
			Latency: time.Duration(500+i%3000) * time.Millisecond}
		if err := st.AppendEvent(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
	opts := seedOptions(st)
	opts.Targets = []string{"contoso"}
	h, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	for _, bb := range []struct{ name, target string }{{"html", "/"}, {"json", "/?format=json"}} {
		b.Run(bb.name, func(b *testing.B) {
			var bytes int
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, bb.target, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
				bytes = rec.Body.Len()
			}
			b.ReportMetric(float64(bytes)/1024, "KiB/page")
		})
	}
}
