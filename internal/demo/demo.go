// Package demo is `handler demo`: the whole of tenantsync on one machine
// with no Azure. It starts the Graph simulator with Fabrikam (the source)
// and Contoso (the target), runs every function in one process against them
// (embedded queue and store), shows the initial sync, then plays a short
// story of changes in Fabrikam and shows each one arriving in Contoso with
// its latency.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/graphsim"
	"github.com/tenantsync/tenantsync/internal/local"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

// Options configure Run.
type Options struct {
	// Out receives the story; Progress the initial sync's progress bar
	// (nil: no bar, plain lines on Out).
	Out      io.Writer
	Progress io.Writer
	// SimListen and Listen are the simulator's and tenantsync's addresses;
	// empty picks free loopback ports.
	SimListen, Listen string
	// KeepRunning leaves everything up after the story until ctx ends.
	KeepRunning bool
	// StateDir holds the embedded store; empty uses a temporary directory
	// removed at the end.
	StateDir string
	// Timeout bounds the wait for each step of the story (default 30 s).
	Timeout time.Duration
	// Played, when set, is called once the story is over, while everything
	// is still up.
	Played func(Result)
	Logger *slog.Logger
}

// Result is what a demo run measured.
type Result struct {
	Synced   int           // users in Contoso after the initial sync
	SyncTime time.Duration // initial sync
	// GroupMembers are the members of Group's security group in Contoso
	// after the initial sync, as Contoso's Graph lists them.
	GroupMembers int
	Steps        []StepResult     // the story
	Requests     map[string]int64 // Graph requests per tenant
	StatusURL    string
}

// StepResult is one change of the story and how long it took to arrive.
type StepResult struct {
	What    string
	Latency time.Duration
}

// Run plays the demo.
func Run(ctx context.Context, opts Options) (Result, error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var res Result

	// The simulator: Fabrikam and Contoso.
	sim := graphsim.New(graphsim.Options{Logger: log.With("component", "sim")})
	defer sim.Close()
	if err := sim.LoadSeed(graphsim.DemoSeed()); err != nil {
		return res, fmt.Errorf("seed the simulator: %w", err)
	}
	simLn, err := listen(opts.SimListen)
	if err != nil {
		return res, fmt.Errorf("simulator: %w", err)
	}
	simSrv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go simSrv.Serve(simLn)
	defer simSrv.Close()
	simURL := "http://" + simLn.Addr().String()
	fmt.Fprintf(opts.Out, "Microsoft Graph simulator: Fabrikam (source) at %s/%s/v1.0\n", simURL, graphsim.DemoSourceDomain)
	fmt.Fprintf(opts.Out, "                           Contoso (target) at %s/%s/v1.0\n", simURL, graphsim.DemoTargetDomain)

	// The store, in a directory of its own.
	dir := opts.StateDir
	if dir == "" {
		dir, err = os.MkdirTemp("", "tenantsync-demo-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
	}
	st, err := boltstore.Open(filepath.Join(dir, "state.db"), nil)
	if err != nil {
		return res, err
	}
	defer st.Close()

	cfg := Config(simURL)
	// Config leaves groups out (the tests that share it count users);
	// the demo shows one.
	cfg.Targets[0].Groups.Sync = []string{Group}
	a, err := app.Open(ctx, app.Options{Env: settings.FromMap(nil), Config: cfg, Store: st, MaxRetries: new(int), Logger: log})
	if err != nil {
		return res, err
	}
	defer a.Close()
	plan, err := a.Engine.Plan(ctx)
	if err != nil {
		return res, fmt.Errorf("plan the initial sync: %w", err)
	}
	expected := 0
	for _, a := range plan.Targets[0].Actions {
		if a.Op == "create" && a.Error == "" {
			expected++
		}
	}
	expectedMembers := -1
	for _, g := range plan.Targets[0].Groups {
		if g.DisplayName == Group && g.Op == "create" && g.Error == "" {
			expectedMembers = g.MembersAfter
		}
	}
	if expectedMembers < 0 {
		return res, fmt.Errorf("plan the initial sync: the group %q is not planned to be created: %+v", Group, plan.Targets[0].Groups)
	}
	fmt.Fprintf(opts.Out, "\nScope: members of %q in Fabrikam, nested groups included: %d people to invite into Contoso.\n",
		graphsim.ScopingGroup, expected)

	ln, err := listen(opts.Listen)
	if err != nil {
		return res, fmt.Errorf("tenantsync: %w", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	start := time.Now()
	l, err := local.Start(runCtx, local.Options{
		App: a, Listener: ln, Notifications: true, Sessions: 16, Logger: log,
	})
	if err != nil {
		return res, err
	}
	res.StatusURL = l.Info().StatusURL

	if err := waitInitialSync(ctx, opts, st, cfg.Targets[0].Name, expected); err != nil {
		stop()
		l.Wait()
		return res, err
	}
	res.SyncTime = time.Since(start)
	res.Synced = expected
	fmt.Fprintf(opts.Out, "Initial sync: %d users invited into Contoso in %.1f s.\n", expected, res.SyncTime.Seconds())
	contoso := newTenants(simURL)
	if res.GroupMembers, err = waitGroup(ctx, contoso, Group, expectedMembers, opts.Timeout); err != nil {
		stop()
		l.Wait()
		return res, err
	}
	fmt.Fprintf(opts.Out, "Group %q: created in Contoso as a security group with its %d members.\n\n", Group, res.GroupMembers)

	story := &story{t: contoso, timeout: opts.Timeout, out: opts.Out}
	res.Steps, err = story.play(ctx)
	if err != nil {
		stop()
		l.Wait()
		return res, err
	}
	var total time.Duration
	for _, s := range res.Steps {
		total += s.Latency
	}
	if len(res.Steps) > 0 {
		fmt.Fprintf(opts.Out, "\n%d changes, each in Contoso within %.2f s on average (Cross-Tenant Synchronization: up to 40 minutes).\n",
			len(res.Steps), total.Seconds()/float64(len(res.Steps)))
	}
	res.Requests = map[string]int64{}
	for domain, ts := range sim.Stats().Tenants {
		res.Requests[domain] = ts.Requests
	}
	fmt.Fprintf(opts.Out, "Graph requests: %d to Fabrikam, %d to Contoso.\n",
		res.Requests[graphsim.DemoSourceDomain], res.Requests[graphsim.DemoTargetDomain])

	if opts.Played != nil {
		opts.Played(res)
	}
	if opts.KeepRunning {
		fmt.Fprintf(opts.Out, `
Everything stays up until Ctrl-C:
  status page        %s
  Fabrikam's Graph   %s/%s/v1.0
  Contoso's Graph    %s/%s/v1.0
  simulator admin    %s/_sim/stats
Make a change and watch it flow, for example:
  curl -X PATCH -H 'Content-Type: application/json' -d '{"jobTitle":"Chief Demo Officer"}' \
    %s/%s/v1.0/users/%s
`, res.StatusURL, simURL, graphsim.DemoSourceDomain, simURL, graphsim.DemoTargetDomain, simURL,
			simURL, graphsim.DemoSourceDomain, story.lastUPN)
		<-ctx.Done()
	}
	stop()
	if err := l.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return res, err
	}
	return res, nil
}

// Group is the source group the demo provisions into Contoso as a security
// group, with its members: Project Phoenix, whose people (in scope through
// the scoping group, which nests it) work with Contoso.
const Group = graphsim.NestedScopingGroup

// SettleDelay is the deletion guard's settle delay in the demo: short, so
// that the story moves on, and long enough to be seen (the default is a
// minute).
const SettleDelay = 3 * time.Second

// Config is the demo's configuration: Fabrikam's "Cross-tenant sync" group,
// nested groups included, into Contoso, both through the simulator.
func Config(simURL string) *config.Config {
	delay := config.Duration(SettleDelay)
	tenant := func(domain string) config.Tenant {
		return config.Tenant{Tenant: domain, Graph: simURL + "/" + domain + "/v1.0", Auth: config.Auth{Method: config.AuthNone}}
	}
	cfg := &config.Config{
		Source: tenant(graphsim.DemoSourceDomain),
		Targets: []config.Target{{
			Name:        "contoso",
			Tenant:      tenant(graphsim.DemoTargetDomain),
			Scope:       config.Scope{Groups: []string{graphsim.ScopingGroup}, Nested: true},
			Deprovision: config.Deprovision{Action: config.DeprovisionDelete, Threshold: config.DefaultThreshold, Delay: &delay},
		}},
	}
	cfg.ApplyDefaults()
	return cfg
}

func listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	return net.Listen("tcp", addr)
}

// waitInitialSync shows the initial sync's progress until every expected
// user is linked.
func waitInitialSync(ctx context.Context, opts Options, st store.Store, target string, expected int) error {
	var bar *progressbar.ProgressBar
	if opts.Progress != nil {
		bar = progressbar.NewOptions(expected,
			progressbar.OptionSetWriter(opts.Progress),
			progressbar.OptionSetDescription("initial sync"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetItsString("users"),
			progressbar.OptionShowIts(),
			progressbar.OptionClearOnFinish(),
		)
	}
	deadline := time.Now().Add(2 * time.Minute)
	lastLine := time.Now()
	for {
		n := 0
		err := st.ListLinks(ctx, target, func(l store.Link) error {
			if l.State == store.LinkActive {
				n++
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("read progress: %w", err)
		}
		if bar != nil {
			bar.Set(n)
		} else if time.Since(lastLine) > 2*time.Second {
			fmt.Fprintf(opts.Out, "  %d of %d users synced\n", n, expected)
			lastLine = time.Now()
		}
		if n >= expected {
			if bar != nil {
				bar.Finish()
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("initial sync: only %d of %d users after 2 minutes; see the status page", n, expected)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitGroup waits until Contoso's Graph lists the security group tenantsync
// creates for the source group name with the want members the plan
// expects, and returns how many it has.
func waitGroup(ctx context.Context, contoso *tenants, name string, want int, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		id, members, err := contoso.targetGroup(ctx, name)
		if err != nil {
			return 0, fmt.Errorf("read group %q in Contoso: %w", name, err)
		}
		if id != "" && members == want {
			return members, nil
		}
		if time.Now().After(deadline) {
			if id == "" {
				return 0, fmt.Errorf("group %q: not in Contoso after %s; see the status page", name, timeout)
			}
			return 0, fmt.Errorf("group %q: %d members in Contoso after %s, want %d; see the status page", name, members, timeout, want)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
