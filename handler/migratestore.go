package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/store/storeopen"
	"github.com/tenantsync/tenantsync/internal/store/tablestore"
)

// migrateStoreReport is what migrate-store prints with --json.
type migrateStoreReport struct {
	Store   string `json:"store"`
	Layout  int    `json:"layout"`
	Targets int    `json:"targets"`
	Moved   int    `json:"moved"`
	Deleted int    `json:"deleted"`
	Skipped int    `json:"skipped"`
}

// newMigrateStoreCmd is the admin command that moves a Table Storage store
// written in the one-partition layout into the current one
// (tablestore.MigrateLayout). It is run once, on the word of the error that
// asks for it (which names it) and of docs/deploy.md.
func newMigrateStoreCmd(env settings.Env) *cobra.Command {
	var out commonFlags
	cmd := &cobra.Command{
		Use:   "migrate-store",
		Short: "Move the links of a Table Storage store into the current layout (stop the function app first)",
		Long: fmt.Sprintf(`Move every link, reverse-index row and link counts row of the Table Storage
store that TENANTSYNC_TABLES names from the one-partition layout (one
partition a target) into store layout %d (16 partitions a target), then
record the layout, so that tenantsync opens the store again.

Stop the function app first: nothing may write to the store meanwhile. The
move is safe to interrupt and to run again; a run over a store already in
layout %d changes nothing. The embedded store has nothing to move.`, tablestore.LayoutVersion, tablestore.LayoutVersion),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s := storeopen.SettingsFrom(env.Get)
			report := migrateStoreReport{Store: s.String(), Layout: tablestore.LayoutVersion}
			opts := tablestore.Options{
				TablePrefix:    env.Get(settings.TablePrefix),
				Logger:         out.logger(cmd),
				ExistingTables: true,
			}
			switch s.Kind() {
			case storeopen.Embedded:
				return out.write(cmd, report, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "%s: the embedded store has no partitions; nothing to move\n", report.Store)
					return err
				})
			case storeopen.TableEndpoint:
				cred, err := app.AzureCredential(env)
				if err != nil {
					return fmt.Errorf("migrate %s: credential: %w", report.Store, err)
				}
				opts.Endpoint, opts.Credential = s.Tables, cred
			default:
				opts.ConnectionString = s.Tables
			}
			res, err := tablestore.MigrateLayout(cmd.Context(), opts)
			if err != nil {
				return fmt.Errorf("migrate %s: %w", report.Store, err)
			}
			report.Targets, report.Moved, report.Deleted, report.Skipped = res.Targets, res.Moved, res.Deleted, res.Skipped
			return out.write(cmd, report, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "%s: store layout %d. Moved %d rows of %d targets from the one-partition layout, deleted %d.\n",
					report.Store, report.Layout, report.Moved, report.Targets, report.Deleted)
				if err == nil && report.Skipped > 0 {
					_, err = fmt.Fprintf(w, "%d rows of one-partition partitions were none of a link's and were left as they are (-v names them).\n", report.Skipped)
				}
				return err
			})
		},
	}
	out.register(cmd)
	return cmd
}
