package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/graphsim"
)

func TestPercentile(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		p      float64
		want   float64
	}{
		{"none", nil, 50, 0},
		{"one", []float64{7}, 99, 7},
		{"median of four", []float64{1, 2, 3, 4}, 50, 2},
		{"p99 of a hundred", seq(100), 99, 99},
		{"p99 of a thousand", seq(1000), 99, 990},
		{"p100 is the max", seq(10), 100, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.values, tt.p); got != tt.want {
				t.Errorf("percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func seq(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(i + 1)
	}
	return out
}

func TestUtilisation(t *testing.T) {
	lim := graphsim.Limits{WritesPer150s: 3000, WritesPerSecond: 40}
	tests := []struct {
		name    string
		applied int64
		seconds float64
		want    float64
	}{
		{"the burst and the refill, used up", 3000 + 40*100, 100, 1},
		{"the refill alone is not the quota: the burst counts", 40 * 100, 100, 4000.0 / 7000},
		{"half", 3500, 100, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := utilisation(tt.applied, lim, tt.seconds); round(got, 6) != round(tt.want, 6) {
				t.Errorf("utilisation = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRecorder checks that the recorder counts applied writes (2xx to
// anything but a GET or a reading POST) and 429s per tenant, and notes
// PATCH times per user only while tracing.
func TestRecorder(t *testing.T) {
	rec := newRecorder()
	rec.tenant("contoso.example")
	statuses := map[string]int{}
	h := rec.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := statuses[r.Method+" "+r.URL.Path]; s != 0 {
			w.WriteHeader(s)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	statuses["PATCH /contoso.example/v1.0/users/u2"] = http.StatusTooManyRequests
	statuses["POST /contoso.example/v1.0/invitations"] = http.StatusCreated
	statuses["DELETE /contoso.example/v1.0/users/u3"] = http.StatusNotFound

	do := func(method, path string) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	do("PATCH", "/contoso.example/v1.0/users/u1") // untraced
	rec.trace(true)
	for _, r := range []struct{ method, path string }{
		{"PATCH", "/contoso.example/v1.0/users/U1"}, // applied, traced (ids compare case-insensitively)
		{"PATCH", "/contoso.example/v1.0/users/u2"}, // 429
		{"POST", "/contoso.example/v1.0/invitations"},
		{"POST", "/contoso.example/v1.0/users/u1/checkMemberGroups"}, // a read
		{"GET", "/contoso.example/v1.0/users"},
		{"DELETE", "/contoso.example/v1.0/users/u3"},           // failed
		{"PATCH", "/fabrikam.example/v1.0/users/u1"},           // another tenant, not recorded
		{"PUT", "/contoso.example/v1.0/users/u1/manager/$ref"}, // applied, not a PATCH
	} {
		do(r.method, r.path)
	}
	applied, last := rec.applied("contoso.example")
	if applied != 4 || last.IsZero() {
		t.Errorf("applied = %d (last %v), want 4", applied, last)
	}
	if n := rec.throttled("contoso.example"); n != 1 {
		t.Errorf("throttled = %d, want 1", n)
	}
	if n := len(rec.patches("contoso.example", "u1")); n != 1 {
		t.Errorf("traced PATCHes of u1 = %d, want 1", n)
	}
	if n := len(rec.patches("contoso.example", "u2")); n != 0 {
		t.Errorf("traced PATCHes of u2 (throttled) = %d, want 0", n)
	}
	rec.reset()
	if applied, _ := rec.applied("contoso.example"); applied != 0 {
		t.Errorf("after reset: applied = %d", applied)
	}
}

// TestWriteConfig checks that the config the bench gives tenantsync is
// valid and puts every source user, guests included, in scope.
func TestWriteConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tenantsync.json")
	if err := writeConfig(path, "http://127.0.0.1:1", sourceDomain, benchTargets); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Targets) != len(benchTargets) {
		t.Fatalf("%d targets, want %d", len(cfg.Targets), len(benchTargets))
	}
	for i, tc := range cfg.Targets {
		if tc.Name != benchTargets[i].name || tc.Tenant.Tenant != benchTargets[i].domain ||
			!tc.Scope.All || !tc.Scope.IncludeGuests || tc.Tenant.Auth.Method != config.AuthNone {
			t.Errorf("target %d = %+v", i, tc)
		}
	}
}

// TestTargetsAreNotGuestDomains: a target whose domain is one of the
// generated guests' would refuse their invitations.
func TestTargetsAreNotGuestDomains(t *testing.T) {
	src := graphsim.GenerateTenant(graphsim.GenerateOptions{Domain: sourceDomain, Users: 400, Seed: 1})
	for _, u := range src.Users {
		mail, _ := u["mail"].(string)
		for _, tg := range benchTargets {
			if strings.HasSuffix(strings.ToLower(mail), "@"+tg.domain) {
				t.Errorf("source user %s has an address in target %s", mail, tg.domain)
			}
		}
	}
}

func TestProcMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc, which only Linux has")
	}
	m := procMemory(os.Getpid())
	if m.rss <= 0 || m.peak < m.rss || m.anon <= 0 || m.anon > m.rss {
		t.Errorf("memory %+v: want 0 < anon <= rss <= peak", m)
	}
}

// TestResultsJSON checks the shape DESIGN.md gives .bench/results.json.
func TestResultsJSON(t *testing.T) {
	r := &Results{
		InitialSync:  &SyncResult{Targets: 1},
		InitialSync3: &SyncResult{Targets: 3},
		Steady:       &SteadyResult{},
		Idle:         &IdleResult{},
		Naive:        &NaiveResult{},
		ColdStart:    &ColdStartResult{},
		Scale:        &ScaleResult{},
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"initialSync":  {"users", "targets", "seconds", "writeQuotaUtilization", "requests", "peakRSSMB"},
		"initialSync3": {"users", "targets", "seconds", "writeQuotaUtilization", "requests", "peakRSSMB"},
		"steady":       {"changes", "p50ms", "p99ms", "readsPerChange", "writesPerChange"},
		"idle":         {"users", "requests", "seconds"},
		"naive":        {"requests", "seconds"},
		"coldStart":    {"ms", "binaryMB"},
		"scale": {"users", "fullReconcileSeconds", "fullReconcileRequests", "fullReconcilePeakHeapMB", "deltaRequests",
			"planSeconds", "planPeakHeapMB", "statusP99ms"},
	}
	for phase, keys := range want {
		for _, k := range keys {
			if _, ok := doc[phase][k]; !ok {
				t.Errorf("%s has no %q", phase, k)
			}
		}
	}
	req, _ := doc["initialSync"]["requests"].(map[string]any)
	for _, k := range []string{"reads", "writes", "throttled"} {
		if _, ok := req[k]; !ok {
			t.Errorf("initialSync.requests has no %q", k)
		}
	}
	if doc["initialSync3"]["targets"] != float64(3) {
		t.Errorf("initialSync3.targets = %v", doc["initialSync3"]["targets"])
	}
}

// TestRun runs every phase end to end on a small population, with the
// handler binary built from this module, and checks what the benchmarks
// promise: everyone synced, changes arriving, an idle reconcile finding
// nothing, and results.json written.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the handler binary and runs every phase: not in -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "handler")
	build := exec.Command("go", "build", "-o", bin, "github.com/tenantsync/tenantsync/handler")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var out, prog bytes.Buffer
	res, err := Run(ctx, Options{
		Command: []string{bin}, Environ: os.Environ(), Users: 80, Throttle: "x50", Sessions: 8, Changes: 25, ChangeRate: 50,
		ColdStarts: 2, Dir: filepath.Join(dir, "bench"), Out: &out, Progress: &prog,
	})
	t.Logf("progress:\n%s\nresults:\n%s", prog.String(), out.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, s := range []*SyncResult{res.InitialSync, res.InitialSync3} {
		if s == nil || s.Users != 80 || s.Seconds <= 0 || s.PeakRSSMB <= 0 || s.WritesPerUser < 2 || len(s.RSSMB) != 5 {
			t.Errorf("initial sync = %+v", s)
		}
	}
	if res.InitialSync3 != nil && len(res.InitialSync3.WritesApplied) != 3 {
		t.Errorf("initialSync3 wrote to %d targets, want 3", len(res.InitialSync3.WritesApplied))
	}
	if s := res.Steady; s == nil || s.Changes != 25 || s.MappedChanges != 20 || s.UnmappedWrites != 0 ||
		s.P50ms <= 0 || s.P99ms < s.P50ms || s.WritesPerChange > 1 || s.ReadsPerChange > 2 {
		t.Errorf("steady = %+v", s)
	}
	if i := res.Idle; i == nil || i.Changes != 0 || i.Requests <= 0 || i.Requests > 20 || i.DeltaRequests > 4 {
		t.Errorf("idle = %+v", i)
	}
	if n := res.Naive; n == nil || n.Writes < 80 || n.RequestsVsIdle <= 1 {
		t.Errorf("naive = %+v", n)
	}
	if c := res.ColdStart; c == nil || c.Ms <= 0 || c.BinaryMB <= 0 || len(c.Samples) != 2 {
		t.Errorf("coldStart = %+v", c)
	}
	b, err := os.ReadFile(filepath.Join(dir, "bench", "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Results
	if err := json.Unmarshal(b, &back); err != nil || back.Steady == nil || back.Steady.Changes != 25 {
		t.Errorf("results.json does not hold the results: %v", err)
	}
	if !strings.Contains(out.String(), "INITIAL SYNC") || !strings.Contains(out.String(), "NAIVE BASELINE") {
		t.Errorf("the table is missing sections:\n%s", out.String())
	}
}

// TestRunScale seeds a small pre-linked world and runs the scale phase's
// passes on it: the full pass must find the seed in step (it is what
// tenantsync writes), with requests in pages and the delta at most 3.
func TestRunScale(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the handler binary: not in -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "handler")
	build := exec.Command("go", "build", "-o", bin, "github.com/tenantsync/tenantsync/handler")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, prog bytes.Buffer
	res, err := Run(ctx, Options{Command: []string{bin}, Environ: os.Environ(), Users: 1500, Throttle: "x50",
		Phases: []string{PhaseScale}, Dir: filepath.Join(dir, "bench"), Out: &out, Progress: &prog})
	t.Logf("progress:\n%s\nresults:\n%s", prog.String(), out.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	s := res.Scale
	if s == nil || s.Users != 1500 || s.FullReconcileChanges != 0 || s.PlanActions != 0 || s.Pages != 4 ||
		s.FullReconcileRequests > int64(s.Pages)+4 || s.DeltaRequests > 3 || s.FullReconcilePeakHeapMB <= 0 ||
		s.PlanPeakHeapMB <= 0 || s.StatusP99ms <= 0 {
		t.Errorf("scale = %+v", s)
	}
	if !strings.Contains(out.String(), "SCALE") {
		t.Errorf("the table has no scale section:\n%s", out.String())
	}
}
