package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
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
		Groups:       &GroupsResult{},
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
		"groups": {"groups", "membersPerGroup", "initialSeconds", "membershipAdditions", "addWrites", "createWrites", "writes",
			"writesPer20Additions", "quotaUse", "liveChanges", "liveP50ms", "liveP99ms", "writesPerRemoval", "writesPerAddition"},
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
	dir, bin := buildHandler(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var out, prog bytes.Buffer
	res, err := Run(ctx, Options{
		Command: []string{bin}, Environ: os.Environ(), Users: 80, Throttle: "x50", Sessions: 8, Changes: 25, ChangeRate: 50,
		ColdStarts: 2, Groups: 4, GroupChanges: 10, GroupChangeRate: 50, Dir: filepath.Join(dir, "bench"), Out: &out, Progress: &prog,
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
	if g := res.Groups; g == nil || g.Groups != 4 || g.MembersPerGroup != 20 || g.MembershipAdditions != 80 || g.LiveChanges != 10 {
		t.Errorf("groups = %+v", g)
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
	if !strings.Contains(out.String(), "INITIAL SYNC") || !strings.Contains(out.String(), "NAIVE BASELINE") ||
		!strings.Contains(out.String(), "GROUPS") {
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
	dir, bin := buildHandler(t)
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

func TestPerTwenty(t *testing.T) {
	tests := []struct {
		name              string
		writes, additions int64
		want              float64
	}{
		{"none added", 5, 0, 0},
		{"one PATCH per 20", 10, 200, 1},
		{"and a create per 200", 11, 200, 1.1},
		{"50 groups of 200", 550, 10000, 1.1},
		{"one by one", 200, 200, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := perTwenty(tt.writes, tt.additions); round(got, 6) != tt.want {
				t.Errorf("perTwenty(%d, %d) = %v, want %v", tt.writes, tt.additions, got, tt.want)
			}
		})
	}
}

func TestClassifyGroupWrite(t *testing.T) {
	u1, u2 := "0a000000-0000-0000-0000-000000000001", "0A000000-0000-0000-0000-000000000002"
	g := "1b000000-0000-0000-0000-000000000001"
	tests := []struct {
		name, method, rest, body string
		want                     groupWrite
	}{
		{"create", "POST", "v1.0/groups", `{"displayName":"x"}`, groupWrite{kind: groupCreate}},
		{"upsert", "PATCH", "v1.0/groups(uniqueName='tenantsync.fabrikam.example.x')", `{}`, groupWrite{kind: groupCreate}},
		{"update", "PATCH", "v1.0/groups/" + g, `{"displayName":"y"}`, groupWrite{kind: groupUpdate, group: g}},
		{"binds", "PATCH", "v1.0/groups/" + g, `{"members@odata.bind":["http://127.0.0.1:1/contoso.example/v1.0/directoryObjects/` + u1 +
			`","https://graph.microsoft.com/v1.0/directoryObjects/` + u2 + `"]}`,
			groupWrite{kind: groupBind, group: g, added: []string{u1, strings.ToLower(u2)}}},
		{"one by $ref", "POST", "v1.0/groups/" + g + "/members/$ref", `{"@odata.id":"https://graph.microsoft.com/v1.0/directoryObjects/` + u1 + `"}`,
			groupWrite{kind: groupRefAdd, group: g, added: []string{u1}}},
		{"removal", "DELETE", "v1.0/groups/" + g + "/members/" + u2 + "/$ref", "", groupWrite{kind: groupRemove, group: g, removed: []string{strings.ToLower(u2)}}},
		{"delete", "DELETE", "v1.0/groups/" + g, "", groupWrite{kind: groupDelete, group: g}},
		{"a user", "PATCH", "v1.0/users/" + u1, `{"jobTitle":"x"}`, groupWrite{}},
		{"a user's manager", "PUT", "v1.0/users/" + u1 + "/manager/$ref", `{}`, groupWrite{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classifyGroupWrite(tt.method, tt.rest, []byte(tt.body))
			if got.kind != tt.want.kind || got.group != tt.want.group || !slices.Equal(got.added, tt.want.added) || !slices.Equal(got.removed, tt.want.removed) {
				t.Errorf("classifyGroupWrite = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestRecorderGroupWrites checks that the recorder counts group writes by
// kind, passes the body it read on to the simulator, counts refused ones
// apart, and notes each membership write.
func TestRecorderGroupWrites(t *testing.T) {
	rec := newRecorder()
	rec.tenant("contoso.example")
	var bodies []string
	h := rec.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		if strings.Contains(string(b), "refuse") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	g := "1b000000-0000-0000-0000-000000000001"
	bind := `{"members@odata.bind":["x/directoryObjects/0a000000-0000-0000-0000-000000000001","x/directoryObjects/0a000000-0000-0000-0000-000000000002"]}`
	bind3 := `{"members@odata.bind":["x/directoryObjects/0a000000-0000-0000-0000-000000000003"]}`
	for _, r := range []struct{ method, path, body string }{
		{"PATCH", "/contoso.example/v1.0/groups(uniqueName='a')", `{"displayName":"a"}`},
		{"PATCH", "/contoso.example/v1.0/groups/" + g, bind},
		{"PATCH", "/contoso.example/v1.0/groups/" + g, `{"members@odata.bind":["refuse"]}`},
		{"DELETE", "/contoso.example/v1.0/groups/" + g + "/members/0a000000-0000-0000-0000-000000000001/$ref", ""},
		{"PATCH", "/contoso.example/v1.0/groups/" + g, gzipped(bind3)}, // as msgraph-sdk-go sends it
		{"PATCH", "/fabrikam.example/v1.0/groups/" + g, bind},          // another tenant, not recorded
	} {
		req, _ := http.NewRequest(r.method, srv.URL+r.path, strings.NewReader(r.body))
		if r.body == gzipped(bind3) {
			req.Header.Set("Content-Encoding", "gzip")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if bodies[1] != bind {
		t.Errorf("the simulator got %q, want the request's body", bodies[1])
	}
	gw := rec.groupWrites("contoso.example")
	want := GroupWrites{Creates: 1, MemberPatches: 2, MembersBound: 3, MemberRemoves: 1, Rejected: 1}
	gw.First, gw.Last = time.Time{}, time.Time{}
	if gw != want {
		t.Errorf("group writes = %+v, want %+v", gw, want)
	}
	if gw.Total() != 4 || gw.Additions() != 3 || gw.AddWrites() != 2 {
		t.Errorf("total %d, additions %d, add writes %d; want 4, 3, 2", gw.Total(), gw.Additions(), gw.AddWrites())
	}
	ws := rec.memberWrites("contoso.example", g, "0A000000-0000-0000-0000-000000000001")
	if len(ws) != 2 || !ws[0].add || ws[1].add {
		t.Errorf("membership writes of user 1 = %+v, want an addition and a removal", ws)
	}
	if applied, _ := rec.applied("contoso.example"); applied != 4 {
		t.Errorf("applied = %d, want 4", applied)
	}
}

func gzipped(s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.String()
}

func TestPlanMemberChanges(t *testing.T) {
	src := graphsim.GenerateTenant(graphsim.GenerateOptions{Domain: sourceDomain, Users: 200, Seed: 1})
	groups := benchGroups(src.Users, 4, 50)
	want := map[string]map[string]bool{}
	seeded := map[string]map[string]bool{}
	for _, g := range groups {
		if len(g.members) != 50 {
			t.Fatalf("group %s has %d members, want 50", g.name, len(g.members))
		}
		want[g.id], seeded[g.id] = map[string]bool{}, map[string]bool{}
		for _, u := range g.members {
			want[g.id][u], seeded[g.id][u] = true, true
		}
	}
	changes := planMemberChanges(rand.New(rand.NewPCG(1, 2)), 100, src.Users, groups, want)
	if len(changes) != 100 {
		t.Fatalf("%d changes, want 100", len(changes))
	}
	pairs := map[[2]string]bool{}
	for i, c := range changes {
		if c.add != (i%2 == 0) {
			t.Errorf("change %d: add = %v, want additions and removals in turn", i, c.add)
		}
		if c.add == seeded[c.group][c.user] {
			t.Errorf("change %d: add = %v of a user who was seeded a member: %v", i, c.add, seeded[c.group][c.user])
		}
		if want[c.group][c.user] != c.add {
			t.Errorf("change %d: the memberships after the changes do not have it", i)
		}
		k := [2]string{c.group, c.user}
		if pairs[k] {
			t.Errorf("change %d: user %s changes in group %s twice", i, c.user, c.group)
		}
		pairs[k] = true
	}
}

// TestRunGroups runs the groups phase small (4 groups × 200 members, the
// full size's members per group) and checks its goals: every group in the
// target with exactly its members (Run fails otherwise), at most 1.1
// writes per 20 additions (a PATCH per 20 and a create per 200), one
// write per removal, and no write to the users, who are in step.
func TestRunGroups(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the handler binary: not in -short")
	}
	dir, bin := buildHandler(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, prog bytes.Buffer
	res, err := Run(ctx, Options{Command: []string{bin}, Environ: os.Environ(), Users: 800, Groups: 4, Throttle: "x50",
		GroupChanges: 40, GroupChangeRate: 20, Phases: []string{PhaseGroups}, Dir: filepath.Join(dir, "bench"), Out: &out, Progress: &prog})
	t.Logf("progress:\n%s\nresults:\n%s", prog.String(), out.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	g := res.Groups
	if g == nil {
		t.Fatal("no groups result")
	}
	if g.Groups != 4 || g.MembersPerGroup != 200 || g.MembershipAdditions != 800 || g.CreateWrites != 4 {
		t.Errorf("initial sync: %d groups × %d members, %d additions, %d creates; want 4 × 200, 800, 4",
			g.Groups, g.MembersPerGroup, g.MembershipAdditions, g.CreateWrites)
	}
	if g.WritesPer20Additions > 1.1 || g.WritesPer20Additions <= 0 {
		t.Errorf("writes per 20 additions = %v (%d writes for %d additions), want ≤ 1.1", g.WritesPer20Additions, g.Writes, g.MembershipAdditions)
	}
	if g.InitialOtherWrites != 0 || g.InitialRejected != 0 {
		t.Errorf("initial sync: %d writes that were not group writes, %d refused; want 0, 0", g.InitialOtherWrites, g.InitialRejected)
	}
	if g.LiveChanges != 40 || g.LiveAdditions != 20 || g.LiveRemovals != 20 || g.WritesPerRemoval != 1 ||
		g.WritesPerAddition > 1 || g.WritesPerAddition <= 0 || g.LiveP50ms <= 0 || g.LiveP99ms < g.LiveP50ms {
		t.Errorf("live changes = %+v", g)
	}
	if !strings.Contains(out.String(), "GROUPS") {
		t.Errorf("the table has no groups section:\n%s", out.String())
	}
}

// TestRunSlice runs a short slice of an initial sync, with tenantsync
// killed (SIGKILL) and restarted twice on the way: every user must end
// up in the target once, whatever the kills interrupted.
func TestRunSlice(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the handler binary: not in -short")
	}
	dir, bin := buildHandler(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, prog bytes.Buffer
	// 1,500 users at Graph's pace (a burst of 3,000 writes, then 20 a
	// second) take about two minutes: the kills at 13 s and 26 s of the
	// 40-second slice fall in the middle of the invitations.
	res, err := Run(ctx, Options{Command: []string{bin}, Environ: os.Environ(), Users: 1500, Throttle: "real",
		SliceDuration: 40 * time.Second, SliceCrashes: 2, Phases: []string{PhaseInitialSlice},
		Dir: filepath.Join(dir, "bench"), Out: &out, Progress: &prog})
	t.Logf("progress:\n%s\nresults:\n%s", prog.String(), out.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	s := res.InitialSlice
	if s == nil {
		t.Fatal("no initialSlice result")
	}
	if s.Crashes < 1 || len(s.ResumeSeconds) != s.Crashes {
		t.Errorf("%d crashes, resumed after %v: want at least one kill, each followed by writes", s.Crashes, s.ResumeSeconds)
	}
	if s.DuplicateUsers != 0 || s.UsersCreated > s.Users || s.Invitations < s.UsersCreated {
		t.Errorf("%d target users for %d source users, %d duplicates, %d invitations", s.UsersCreated, s.Users, s.DuplicateUsers, s.Invitations)
	}
	if s.UsersCreated == 0 || s.WritesPerUser <= 0 || s.WriteQuotaUtilization <= 0 || s.FullRunSeconds <= 0 || s.FullRunHoursAtGraphQuota <= 0 {
		t.Errorf("slice = %+v", s)
	}
}

func TestDuplicateUsers(t *testing.T) {
	anchored := func(id, mail string) graphsim.Object {
		return graphsim.Object{"mail": mail, "onPremisesExtensionAttributes": map[string]any{"extensionAttribute15": anchorPrefix + id}}
	}
	tests := []struct {
		name            string
		users           []graphsim.Object
		dup, unanchored int
	}{
		{"one each", []graphsim.Object{anchored("a", "a@x"), anchored("b", "b@x")}, 0, 0},
		{"one source user twice", []graphsim.Object{anchored("a", "a@x"), anchored("a", "a2@x")}, 1, 0},
		{"one address twice, one unanchored", []graphsim.Object{anchored("a", "A@x"), {"mail": "a@x"}}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dup, un := duplicateUsers(tt.users)
			if dup != tt.dup || un != tt.unanchored {
				t.Errorf("duplicateUsers = %d, %d; want %d, %d", dup, un, tt.dup, tt.unanchored)
			}
		})
	}
}

// buildHandler builds the handler binary into a new temporary directory,
// which it returns with the binary's path: the phases run it as
// tenantsync, as the shipped binary runs.
func buildHandler(t *testing.T) (dir, bin string) {
	t.Helper()
	dir = t.TempDir()
	bin = filepath.Join(dir, "handler")
	build := exec.Command("go", "build", "-o", bin, "github.com/tenantsync/tenantsync/handler")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir, bin
}
