package main

import (
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/operator"
	"github.com/tenantsync/tenantsync/internal/settings"
	"github.com/tenantsync/tenantsync/internal/statuspage"
)

func newLogCmd(env settings.Env) *cobra.Command {
	var (
		out                  commonFlags
		user, target, action string
		since, page          string
		failed               bool
		limit                int
	)
	cmd := &cobra.Command{
		Use:   "log [--user UPN|ID] [--target NAME] [--since 1h] [--action ACTION] [--failed] [--limit N]",
		Short: "Search the provisioning log: what happened to whom, when and why",
		Long: `Search the provisioning log the store keeps, newest first, reading no tenant:
per event its time, target, user, action and result, the reason, the names of
the attributes it changed (not their values), the error, and the Graph request
ids to quote to Microsoft support.

--user takes a source object id, a target object id or a userPrincipalName
(in any case). --action takes one of ` + strings.Join(statuspage.Outcomes(), ", ") + `:
an action selects it whatever its result ("create" also finds the creates that
failed), and held, pending, conflict, skip and failed select by result.
--since takes a duration such as 30m, 1h or 7d. --failed keeps failures only.
Across targets the newest --limit events are shown; with --target, the output
ends with the --page token that shows older ones.

The status page's "Provisioning log" section is the same search.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f := statuspage.EventFilter{User: strings.TrimSpace(user), Action: action, Failed: failed}
			if err := statuspage.CheckAction(action); err != nil {
				return usageErrorf("--action: %w", err)
			}
			now := time.Now()
			if since != "" {
				d, err := statuspage.ParseSince(since)
				if err != nil {
					return usageErrorf("--since: %w", err)
				}
				f.Since = now.Add(-d)
			}
			if limit < 1 {
				return usageErrorf("--limit %d: want 1 or more", limit)
			}
			if page != "" && target == "" {
				return usageErrorf("--page continues the search of one target: give --target")
			}
			cfg, _, err := loadConfig(cmd, env, &out)
			if err != nil {
				return err
			}
			names, err := targetNames(cfg, target)
			if err != nil {
				return err
			}
			st, _, err := openStoreForReading(cmd.Context(), env, out.logger(cmd))
			if err != nil {
				return err
			}
			defer st.Close()
			l, err := operator.ReadLog(cmd.Context(), operator.LogOptions{Store: st, Targets: names, Filter: f, Limit: limit, Page: page})
			if err != nil {
				return err
			}
			return out.write(cmd, l, func(w io.Writer) error {
				return operator.WriteLog(w, now, l, logCommand(target, user, action, since, failed, limit))
			})
		},
	}
	out.register(cmd)
	f := cmd.Flags()
	f.StringVar(&user, "user", "", "a source object id, target object id or userPrincipalName")
	f.StringVar(&target, "target", "", "this target only (default: every target)")
	f.StringVar(&action, "action", "", "only this action or result: "+strings.Join(statuspage.Outcomes(), ", "))
	f.StringVar(&since, "since", "", "only events this recent: a duration such as 30m, 1h or 7d")
	f.BoolVar(&failed, "failed", false, "only failures")
	f.IntVar(&limit, "limit", operator.DefaultLogLimit, "show at most N events")
	f.StringVar(&page, "page", "", "continue a search of one --target from the token the last one printed")
	return cmd
}

// logCommand is the command line that repeats a search, for the hint
// that shows older events; "" when the search covers every target.
func logCommand(target, user, action, since string, failed bool, limit int) string {
	if target == "" {
		return ""
	}
	parts := []string{"handler log --target " + target}
	if user != "" {
		parts = append(parts, "--user "+user)
	}
	if action != "" {
		parts = append(parts, "--action "+action)
	}
	if since != "" {
		parts = append(parts, "--since "+since)
	}
	if failed {
		parts = append(parts, "--failed")
	}
	if limit != operator.DefaultLogLimit {
		parts = append(parts, "--limit "+strconv.Itoa(limit))
	}
	return strings.Join(parts, " ")
}
