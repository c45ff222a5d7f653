package graphsim_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// The benchmarks run client and simulator in one process on the same
// cores, so the rates they print are lower bounds for the simulator.

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
}

func benchGet(b *testing.B, c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
}

func userIDs(b *testing.B, ts *graphsim.TestServer, tenant string) []string {
	snap, err := ts.Snapshot(tenant)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, len(snap.Users))
	for i, u := range snap.Users {
		ids[i] = u["id"].(string)
	}
	return ids
}

// BenchmarkGetUser measures GET /users/{id} (default properties) over
// HTTP with keep-alive connections, 16 requests in flight.
func BenchmarkGetUser(b *testing.B) {
	ts := graphsim.NewTestServer(b, graphsim.DemoSeed())
	ids := userIDs(b, ts, graphsim.DemoSourceDomain)
	base := ts.TenantURL(graphsim.DemoSourceDomain) + "/users/"
	c := benchClient()
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchGet(b, c, base+ids[int(n.Add(1))%len(ids)])
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkGetUserSDK is BenchmarkGetUser through msgraph-sdk-go, as
// tenantsync calls it; the client's own cost dominates.
func BenchmarkGetUserSDK(b *testing.B) {
	ts := graphsim.NewTestServer(b, graphsim.DemoSeed())
	ids := userIDs(b, ts, graphsim.DemoSourceDomain)
	client, _ := newClient(b, ts.TenantURL(graphsim.DemoSourceDomain))
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := client.Users().ByUserId(ids[int(n.Add(1))%len(ids)]).Get(context.Background(), nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkFindUsers measures the matching query tenantsync's target
// adapter sends: an OR of mail, otherMails and an extension attribute, with
// the advanced query parameters, over a 10,000-user tenant.
func BenchmarkFindUsers(b *testing.B) {
	seed := graphsim.Seed{Tenants: []graphsim.TenantSeed{
		graphsim.GenerateTenant(graphsim.GenerateOptions{Domain: "bench.example", Users: 10000, Seed: 1}),
	}}
	ts := graphsim.NewTestServer(b, seed)
	snap, _ := ts.Snapshot("bench.example")
	var mails []string
	for _, u := range snap.Users {
		if m, ok := u["mail"].(string); ok {
			mails = append(mails, m)
		}
	}
	base := ts.TenantURL("bench.example") + "/users?$count=true&$select=id,mail&$filter="
	c := benchClient()
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m := mails[int(n.Add(1))%len(mails)]
			f := fmt.Sprintf("mail eq '%s' or otherMails/any(x:x eq '%s') or onPremisesExtensionAttributes/extensionAttribute15 eq '%s'", m, m, m)
			req, _ := http.NewRequest(http.MethodGet, base+url.QueryEscape(f), nil)
			req.Header.Set("ConsistencyLevel", "eventual")
			resp, err := c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("find users: %d", resp.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkDeltaPage measures pages of a users delta round (200 users with
// eight selected properties) over a 10,000-user tenant.
func BenchmarkDeltaPage(b *testing.B) {
	seed := graphsim.Seed{Tenants: []graphsim.TenantSeed{
		graphsim.GenerateTenant(graphsim.GenerateOptions{Domain: "bench.example", Users: 10000, Seed: 1}),
	}}
	ts := graphsim.NewTestServer(b, seed)
	start := ts.TenantURL("bench.example") +
		"/users/delta()?$select=displayName,givenName,surname,mail,jobTitle,department,accountEnabled,userPrincipalName"
	c := benchClient()
	var users atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		link := start
		for pb.Next() {
			resp, err := c.Get(link)
			if err != nil {
				b.Fatal(err)
			}
			var page struct {
				Value     []json.RawMessage `json:"value"`
				NextLink  string            `json:"@odata.nextLink"`
				DeltaLink string            `json:"@odata.deltaLink"`
			}
			err = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("delta page: %d %v", resp.StatusCode, err)
			}
			users.Add(int64(len(page.Value)))
			link = page.NextLink
			if link == "" {
				link = start
			}
		}
	})
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/secs, "req/s")
	b.ReportMetric(float64(users.Load())/secs, "users/s")
}

// BenchmarkSeed measures loading a generated tenant: from Go values
// (LoadSeed) and from a seed file (LoadSeedJSON, streaming). It prints the
// load time, the time to generate the tenant, the heap the simulator keeps
// and the process's peak RSS (meaningful when run alone:
// -bench Seed/users=100000). The peak RSS is reset after generating, so it
// covers loading (from=go: with the generated seed still in memory, as a
// caller of LoadSeed holds it) on top of the test binary's baseline.
func BenchmarkSeed(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		for _, from := range []string{"go", "json"} {
			b.Run(fmt.Sprintf("users=%d/from=%s", n, from), func(b *testing.B) {
				benchSeed(b, n, from)
			})
		}
	}
}

func benchSeed(b *testing.B, n int, from string) {
	var loadSecs, genSecs, heapMB float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		began := time.Now()
		seed := graphsim.Seed{Tenants: []graphsim.TenantSeed{
			graphsim.GenerateTenant(graphsim.GenerateOptions{Domain: "bench.example", Users: n, Seed: uint64(i)}),
		}}
		// A seed file, streamed from disk as handler sim --seed does.
		path := filepath.Join(b.TempDir(), "seed.json")
		if from == "json" {
			data, err := json.Marshal(seed)
			if err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				b.Fatal(err)
			}
			seed = graphsim.Seed{}
		}
		genSecs += time.Since(began).Seconds()
		// Measure the load's own peak: return the generator's garbage to
		// the OS and reset the peak RSS counter.
		debug.FreeOSMemory()
		resetPeakRSS()
		b.StartTimer()

		began = time.Now()
		s := graphsim.New(graphsim.Options{})
		var err error
		if from == "json" {
			var f *os.File
			if f, err = os.Open(path); err == nil {
				err = s.LoadSeedJSON(f)
				f.Close()
			}
		} else {
			err = s.LoadSeed(seed)
		}
		if err != nil {
			b.Fatal(err)
		}
		loadSecs += time.Since(began).Seconds()

		b.StopTimer()
		seed = graphsim.Seed{}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		heapMB += float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)
		if got := s.Stats().Tenants["bench.example"].Users; got != n {
			b.Fatalf("loaded %d users, want %d", got, n)
		}
		runtime.KeepAlive(s)
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(loadSecs/float64(b.N), "load-s")
	b.ReportMetric(genSecs/float64(b.N), "generate-s")
	b.ReportMetric(heapMB/float64(b.N), "heap-MB")
	if rss, ok := peakRSSMB(); ok {
		b.ReportMetric(rss, "peakRSS-MB")
	}
}

// resetPeakRSS resets the process's peak RSS to its current RSS (Linux).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSSMB reads the process's peak resident set size (Linux).
func peakRSSMB() (float64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				return 0, false
			}
			return float64(kb) / 1024, true
		}
	}
	return 0, false
}
