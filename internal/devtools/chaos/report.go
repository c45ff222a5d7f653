package chaos

import (
	"fmt"
	"io"
	"strings"
)

// WriteText prints the report for a person.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "tenantsync chaos: %s  (seed %d, replay with --seed %d)\n", verdict, r.Seed, r.Seed)
	fmt.Fprintf(&b, "runner             %s\n", r.Runner)
	fmt.Fprintf(&b, "source users       %d at start\n", r.Users)
	st := r.Settings
	fmt.Fprintf(&b, "settings           %d operations in %d rounds at %g/s; reconcile every %s; per operation: crash 1/%d, trap 1/%d; faults change every %d, clock jump every %d, subscription vanishes every %d\n",
		st.Operations, st.Rounds, st.Rate, st.ReconcileEvery, st.CrashEvery, st.TrapEvery, st.EpisodeEvery, st.ClockEvery, st.VanishEvery)
	fmt.Fprintf(&b, "                   a burst every %d, a target-admin disable every %d, an administrator every %d, a delta reset every %d, permissions taken away every %d (0: never) for %d (%s); guard delay %s, replication lag up to %s\n",
		st.BurstEvery, st.AdminDisable, st.PrivilegeEvery, st.DeltaReset, st.Permission, st.PermissionOps, strings.Join(st.Revocations, ", "), st.GuardDelay, st.MaxLag)
	if len(r.ReplicationLag) > 0 {
		var lags []string
		for _, d := range sortedKeys(r.ReplicationLag) {
			lags = append(lags, d+" "+r.ReplicationLag[d])
		}
		fmt.Fprintf(&b, "replication lag    %s\n", strings.Join(lags, ", "))
	}
	fmt.Fprintf(&b, "initial sync       %.1f s to converge\n", r.InitialSyncSeconds)
	fmt.Fprintf(&b, "operations         %d\n", r.Operations.Total)
	for _, k := range sortedKeys(r.Operations.Applied) {
		fmt.Fprintf(&b, "  %-17s %6d applied", k, r.Operations.Applied[k])
		if n := r.Operations.Rejected[k]; n > 0 {
			fmt.Fprintf(&b, ", %d rejected by Graph", n)
		}
		b.WriteString("\n")
	}
	for _, k := range sortedKeys(r.Operations.Rejected) {
		if _, ok := r.Operations.Applied[k]; !ok {
			fmt.Fprintf(&b, "  %-17s %6d applied, %d rejected by Graph\n", k, 0, r.Operations.Rejected[k])
		}
	}
	b.WriteString("faults injected\n")
	for _, k := range sortedKeys(r.Faults) {
		fmt.Fprintf(&b, "  %-26s %6d\n", k, r.Faults[k])
	}
	g := r.Guard
	fmt.Fprintf(&b, "deletion guard     %s (threshold %d, window %s, delay %s): %d bursts of %d users in all (%d aborted), %d recovered, %d joined; %d held at the end\n",
		g.Target, g.Threshold, g.Window, g.Delay, g.Bursts, g.BurstUsers, g.Aborted, g.Recovered, g.Joined, g.Held)
	sf := r.Safety
	fmt.Fprintf(&b, "safety             %d invitations (%d repeated to the same user), %d duplicate invitations, %d wrongful deprovisions, %d writes to users tenantsync did not create, %d held deprovisions carried out\n",
		sf.Invitations, sf.Reinvitations, sf.DuplicateInvitations, sf.Wrongful, sf.Touched, sf.HeldExecuted)
	fmt.Fprintf(&b, "crashes            %d random SIGKILLs, %d right after an invitation, %d right after a PATCH; %d starts\n",
		r.Crashes.Random, r.Crashes.AfterInvitation, r.Crashes.AfterPatch, r.Crashes.Starts)
	for _, u := range r.Crashes.Unexpected {
		fmt.Fprintf(&b, "  unexpected exit: %s\n", u)
	}
	b.WriteString("rounds\n")
	for i, rd := range r.Rounds {
		state := "converged"
		if !rd.Converged {
			state = "DID NOT CONVERGE"
		} else if !rd.Stable {
			state = "converged, then DIVERGED"
		}
		fmt.Fprintf(&b, "  %d: %d operations in %.1f s; %s in %.1f s after faults off; %d retries pending, quiet after %.1f s more\n",
			i+1, rd.Operations, rd.ChaosSeconds, state, rd.ConvergeSeconds, rd.PendingRetries, rd.QuietSeconds)
	}
	b.WriteString("graph operations after the initial sync (tenantsync = all - the suite's own)\n")
	fmt.Fprintf(&b, "  %-18s %9s %9s %9s %9s %9s\n", "tenant", "reads", "writes", "throttled", "failed", "suite")
	for _, t := range sortedKeys(r.Graph) {
		u := r.Graph[t]
		fmt.Fprintf(&b, "  %-18s %9d %9d %9d %9d %9d\n", t, u.Tenantsync.Reads, u.Tenantsync.Writes,
			u.Tenantsync.Throttled, u.Tenantsync.Failed, u.Suite.Requests)
	}
	fmt.Fprintf(&b, "notifications      %d acknowledged by the webhook, %d POSTs refused or unanswered\n", r.Notifications.Delivered, r.Notifications.Failed)
	fmt.Fprintf(&b, "queue at the end   %d visible, %d scheduled, %d dead letters\n", r.Queue.Visible, r.Queue.Scheduled, r.Queue.DeadLetters)
	fmt.Fprintf(&b, "took               %.1f s\n", r.Seconds)
	if r.WorkDir != "" {
		fmt.Fprintf(&b, "work dir           %s (config, state file, runner.log)\n", r.WorkDir)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "problem: %s\n", p)
	}
	if len(r.Differences) > 0 {
		fmt.Fprintf(&b, "differences (%d)\n", len(r.Differences))
		for _, d := range r.Differences {
			fmt.Fprintf(&b, "  %s\n", d)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
