package main

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/tenantsync/tenantsync/internal/app"
	"github.com/tenantsync/tenantsync/internal/operator"
	"github.com/tenantsync/tenantsync/internal/settings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd() *cobra.Command { return newRootCmdWithEnv(processEnv()) }

// newRootCmdWithEnv builds the command tree; the operator commands read
// their settings from env (tests pass their own).
func newRootCmdWithEnv(env settings.Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "handler",
		Short: "tenantsync keeps users of one Entra ID tenant in step as B2B users in others",
		Long: `tenantsync keeps the people of one Microsoft Entra ID tenant (the source)
present as B2B users in one or more other tenants (the targets).

With no subcommand and FUNCTIONS_CUSTOMHANDLER_PORT set, it serves the Azure
Functions host as a custom handler.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, ok := processEnv().Lookup(settings.CustomHandlerPort); !ok {
				return usageError(errors.New("no subcommand given and FUNCTIONS_CUSTOMHANDLER_PORT is not set; see handler --help"))
			}
			return serveFunctionsHost(cmd)
		},
	}
	root.PersistentFlags().String("config", "", "config file (default: $"+settings.Config+", else "+app.DefaultConfigPath+")")
	root.AddCommand(
		newVersionCmd(debug.ReadBuildInfo),
		newSimCmd(),
		newLocalCmd(),
		newDemoCmd(),
		newBenchCmd(),
		newChaosCmd(),
	)
	root.AddCommand(operatorCmds(env)...)
	root.AddCommand(newLogCmd(env))
	root.AddCommand(newMigrateStoreCmd(env))
	markUsageErrors(root)
	return root
}

// versionInfo is what `version --json` prints.
type versionInfo struct {
	// Version is the release (-X main.version), else the module version
	// ("(devel)" for a build from a work tree).
	Version       string `json:"version"`
	Module        string `json:"module"`
	ModuleVersion string `json:"moduleVersion"`
	// Commit is the VCS revision, "" when the binary was built without
	// VCS information (-buildvcs=false, go run, a build outside git).
	Commit     string `json:"commit,omitempty"`
	CommitTime string `json:"commitTime,omitempty"`
	// Modified says the work tree had changes not in Commit.
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// versionOf reads the version from the build information the Go
// toolchain embeds (runtime/debug.ReadBuildInfo) and the -X value.
func versionOf(bi *debug.BuildInfo, ok bool, release string) versionInfo {
	v := versionInfo{Version: release, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if ok && bi != nil {
		v.Module, v.ModuleVersion, v.GoVersion = bi.Main.Path, bi.Main.Version, bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.time":
				v.CommitTime = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if v.Version == "" || v.Version == "dev" {
		v.Version = v.ModuleVersion
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	return v
}

// writeVersion writes the version for people.
func writeVersion(w io.Writer, v versionInfo) error {
	fmt.Fprintf(w, "tenantsync %s\n", v.Version)
	if v.Module != "" {
		fmt.Fprintf(w, "  module  %s %s\n", v.Module, v.ModuleVersion)
	}
	switch {
	case v.Commit == "":
		fmt.Fprintln(w, "  commit  unknown: built without VCS information (-buildvcs=false, or outside git)")
	default:
		c := v.Commit
		if v.CommitTime != "" {
			c += " (" + v.CommitTime + ")"
		}
		if v.Modified {
			c += ", with uncommitted changes"
		}
		fmt.Fprintf(w, "  commit  %s\n", c)
	}
	_, err := fmt.Fprintf(w, "  go      %s %s\n", v.GoVersion, v.Platform)
	return err
}

// newVersionCmd is `handler version`; buildInfo is debug.ReadBuildInfo
// (tests pass their own).
func newVersionCmd(buildInfo func() (*debug.BuildInfo, bool)) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version [--json]",
		Short: "Print the version of tenantsync, its commit and its Go version",
		Long: `Print the version of tenantsync: the release set at build time (-X main.version),
else the module version; the VCS commit it was built from, when the build
recorded it; and the Go version and platform. All of it comes from the build
information the Go toolchain embeds (runtime/debug.ReadBuildInfo).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			bi, ok := buildInfo()
			v := versionOf(bi, ok, version)
			if asJSON {
				return operator.WriteJSON(cmd.OutOrStdout(), v)
			}
			return writeVersion(cmd.OutOrStdout(), v)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts instead of text")
	return cmd
}
