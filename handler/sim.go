package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

func newSimCmd() *cobra.Command {
	var (
		listen, seedFile, stateFile, throttle string
		demo, asJSON                          bool
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run the local Microsoft Graph simulator",
		Long: `Run a local, stateful Microsoft Graph v1.0 for several tenants.

Each tenant's Graph is at http://ADDR/<tenant id or domain>/v1.0, the admin API
(stats, faults, clock, snapshots) at http://ADDR/_sim/. Tenants come from
--seed FILE, from --demo (Fabrikam, the source, and an empty Contoso, the
target), or from --state FILE when that file exists. With --state the
simulator saves its state there when it stops (Ctrl-C or SIGTERM).

The seed file is JSON; unknown keys are refused:

  {"tenants": [{
     "domain": "fabrikam.example",          required
     "id": "<GUID>",                         default: derived from the domain
     "displayName": "Fabrikam",
     "initialDomain": "fabrikam.onmicrosoft.com",
     "permissions": ["User.Read.All", …],    application permissions granted;
                                             omitted: all, []: none
     "blockInvitations": true,               POST /invitations answers 403
     "replicationLag": "2s",                 writes become visible after a
     "advancedLag": "5s",                    random part of these (Go durations)
     "lagSeed": 42,
     "users": [{"userPrincipalName": "adele@fabrikam.example",
                "displayName": "Adele Vance", "department": "Sales",
                "accountEnabled": true,
                "manager": "<id or userPrincipalName>",
                "privileged": true}],        holds an administrator role
     "groups": [{"displayName": "Sales",
                 "members": ["<user id or userPrincipalName, or group name>"]}]
  }]}

Users and groups are Graph JSON (any user property); ids are optional and
derived from the userPrincipalName or displayName when left out.
docs/simulator.md describes every key and what the simulator models.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSim(cmd.Context(), cmd, simOptions{
				listen: listen, seedFile: seedFile, stateFile: stateFile,
				throttle: throttle, demo: demo, asJSON: asJSON,
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8765", "address to listen on")
	f.StringVar(&seedFile, "seed", "", "seed file (JSON, the format above): tenants with users, groups, members, managers, permissions, replicationLag")
	f.StringVar(&stateFile, "state", "", "state file: loaded at start if present, saved on shutdown")
	f.BoolVar(&demo, "demo", false, "seed the built-in Fabrikam (source) and Contoso (target)")
	f.StringVar(&throttle, "throttle", "off", "throttling: off, real (Graph's identity limits) or xN (refilled N times as fast)")
	f.BoolVar(&asJSON, "json", false, "print the tenants and base URLs as JSON")
	return cmd
}

type simOptions struct {
	listen, seedFile, stateFile, throttle string
	demo, asJSON                          bool
}

func runSim(ctx context.Context, cmd *cobra.Command, o simOptions) error {
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv := graphsim.New(graphsim.Options{Logger: logger})
	defer srv.Close()
	if err := srv.SetFaults(graphsim.Faults{Throttle: o.throttle}); err != nil {
		return usageErrorf("--throttle: %w", err)
	}

	loaded := false
	if o.stateFile != "" {
		ok, err := srv.LoadStateFile(o.stateFile)
		if err != nil {
			return err
		}
		loaded = ok
	}
	if !loaded {
		switch {
		case o.seedFile != "" && o.demo:
			return usageError(errors.New("give either --seed or --demo, not both"))
		case o.seedFile != "":
			f, err := os.Open(o.seedFile)
			if err != nil {
				return fmt.Errorf("--seed: %w", err)
			}
			err = srv.LoadSeedJSON(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("--seed %s: %w", o.seedFile, err)
			}
		case o.demo:
			if err := srv.LoadSeed(graphsim.DemoSeed()); err != nil {
				return fmt.Errorf("demo seed: %w", err)
			}
		default:
			return usageError(errors.New("no tenants: give --seed FILE, --demo, or --state FILE with an existing state"))
		}
	}

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	root := "http://" + ln.Addr().String()
	if err := printTenants(cmd, srv, root, o.asJSON, loaded, o.stateFile); err != nil {
		ln.Close()
		return err
	}

	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve %s: %w", o.listen, err)
	case <-ctx.Done():
	}
	logger.Info("stopping the simulator")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		logger.Warn("shutdown", "err", err)
	}
	srv.Close()
	if o.stateFile != "" {
		if err := srv.SaveStateFile(o.stateFile); err != nil {
			return err
		}
		logger.Info("saved state", "file", o.stateFile)
	}
	return nil
}

func printTenants(cmd *cobra.Command, srv *graphsim.Server, root string, asJSON, fromState bool, stateFile string) error {
	type tenantURL struct {
		graphsim.TenantInfo
		BaseURL string `json:"baseUrl"`
	}
	var list []tenantURL
	for _, t := range srv.Tenants() {
		list = append(list, tenantURL{t, root + "/" + t.Domain + "/v1.0"})
	}
	out := cmd.OutOrStdout()
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"admin": root + "/_sim", "tenants": list})
	}
	stats := srv.Stats()
	if fromState {
		fmt.Fprintf(out, "Loaded state from %s\n", stateFile)
	}
	fmt.Fprintf(out, "Microsoft Graph simulator on %s\n\n", root)
	for _, t := range list {
		ts := stats.Tenants[t.Domain]
		fmt.Fprintf(out, "  %-22s %s\n", t.DisplayName, t.BaseURL)
		fmt.Fprintf(out, "  %-22s tenant id %s, %s, %s\n\n", "", t.ID, plural(ts.Users, "user", "users"), plural(ts.Groups, "group", "groups"))
	}
	fmt.Fprintf(out, "  Admin API: %s/_sim/stats, /_sim/faults, /_sim/clock, /_sim/tenants\n", root)
	fmt.Fprintln(out, "  Press Ctrl-C to stop.")
	return nil
}
