package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// percentile returns the p-th percentile (0–100) of sorted values, by the
// nearest-rank method; 0 for none.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// round rounds v to the given number of decimals.
func round(v float64, decimals int) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	f := math.Pow(10, float64(decimals))
	return math.Round(v*f) / f
}

// printTable prints the results as tables, one per kind of phase.
func printTable(w io.Writer, r *Results) {
	ri := r.Run
	fmt.Fprintf(w, "\ntenantsync benchmarks: %d users, throttle %s", ri.Users, ri.Throttle)
	if ri.WritesPerSecondAllowed > 0 {
		fmt.Fprintf(w, " (%g writes/s per tenant after a burst of %d)", ri.WritesPerSecondAllowed, ri.WriteBurst)
	}
	fmt.Fprintf(w, ", %d sessions\n", ri.Sessions)
	fmt.Fprintf(w, "machine: %d CPUs", ri.CPUs)
	if ri.CPUModel != "" {
		fmt.Fprintf(w, " (%s)", ri.CPUModel)
	}
	fmt.Fprintf(w, ", load average %.1f at the start and %.1f at the end, %s %s; %.0f s in all\n\n",
		ri.LoadAverage[0], ri.LoadAverage[1], ri.GoVersion, ri.OS, ri.Seconds)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if r.InitialSync != nil || r.InitialSync3 != nil {
		fmt.Fprintln(tw, "INITIAL SYNC\tTARGETS\tUSERS\tSECONDS\tWRITES/USER\tWRITES/S PER TARGET\tQUOTA USED\tREADS\tWRITES\t429s\tRESCHEDULED\tPEAK RSS\tRSS AT 0/25/50/75/100 %\tOF IT ANONYMOUS (HEAP)")
		for _, row := range []struct {
			name string
			s    *SyncResult
		}{{PhaseInitialSync, r.InitialSync}, {PhaseInitialSync3, r.InitialSync3}} {
			s := row.s
			if s == nil {
				continue
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.2f\t%.1f\t%.3f\t%d\t%d\t%d\t%d\t%.0f MB\t%s MB\t%s MB\n",
				row.name, s.Targets, s.Users, s.Seconds, s.WritesPerUser, s.WritesPerSecond, s.WriteQuotaUtilization,
				s.Requests.Reads, s.Requests.Writes, s.Requests.Throttled, s.Rescheduled, s.PeakRSSMB, joinFloats(s.RSSMB), joinFloats(s.AnonMB))
		}
		fmt.Fprintln(tw)
	}
	if s := r.Steady; s != nil {
		fmt.Fprintln(tw, "STEADY STATE\tCHANGES\tPER SECOND\tP50\tP99\tMAX\tREADS/CHANGE\tWRITES/CHANGE\tUNMAPPED CHANGES\tTHEIR WRITES\tNOTIFICATIONS")
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.0f ms\t%.0f ms\t%.0f ms\t%.2f\t%.2f\t%d\t%d\t%d\n\n", PhaseSteady, s.Changes, s.ChangesPerSecond,
			s.P50ms, s.P99ms, s.MaxMs, s.ReadsPerChange, s.WritesPerChange, s.UnmappedChanges, s.UnmappedWrites, s.Notifications)
	}
	if i := r.Idle; i != nil {
		fmt.Fprintln(tw, "IDLE RECONCILE\tUSERS\tREQUESTS\tPAGES OF USERS\tSECONDS\tCHANGES FOUND\tDELTA RECONCILE")
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.2f\t%d\t%d requests, %.3f s\n\n", PhaseIdle, i.Users, i.Requests, i.Pages, i.Seconds,
			i.Changes, i.DeltaRequests, i.DeltaSeconds)
	}
	if n := r.Naive; n != nil {
		fmt.Fprintln(tw, "NAIVE BASELINE\tREQUESTS\tSECONDS\tREADS\tWRITES\t429s\tVS IDLE RECONCILE\tVS STEADY STATE")
		vsIdle, vsSteady := "-", "-"
		if n.RequestsVsIdle > 0 {
			vsIdle = fmt.Sprintf("%g× requests, %g× time", n.RequestsVsIdle, n.SecondsVsIdle)
		}
		if n.RequestsVsSteady > 0 && r.Steady != nil {
			vsSteady = fmt.Sprintf("%g× requests for %d changes", n.RequestsVsSteady, r.Steady.Changes)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%d\t%d\t%d\t%s\t%s\n\n", PhaseNaive, n.Requests, n.Seconds, n.Reads, n.Writes, n.Throttled, vsIdle, vsSteady)
	}
	if g := r.Groups; g != nil {
		fmt.Fprintln(tw, "GROUPS\tGROUPS × MEMBERS\tINITIAL SYNC\tWRITES (CREATES + MEMBERSHIP)\tWRITES/20 ADDITIONS\tQUOTA USED\tOTHER WRITES\tLIVE CHANGES (+/−)\tP50\tP99\tMAX\tWRITES/REMOVAL\tWRITES/ADDITION\tREADS/CHANGE")
		fmt.Fprintf(tw, "%s\t%d × %d\t%.1f s\t%d (%d + %d)\t%.3f\t%.3f\t%d\t%d (%d/%d)\t%.0f ms\t%.0f ms\t%.0f ms\t%.2f\t%.2f\t%.2f\n\n",
			PhaseGroups, g.Groups, g.MembersPerGroup, g.InitialSeconds, g.Writes, g.CreateWrites, g.AddWrites, g.WritesPer20Additions,
			g.QuotaUse, g.InitialOtherWrites, g.LiveChanges, g.LiveAdditions, g.LiveRemovals, g.LiveP50ms, g.LiveP99ms, g.LiveMaxMs,
			g.WritesPerRemoval, g.WritesPerAddition, g.LiveReadsPerChange)
	}
	if c := r.ColdStart; c != nil {
		fmt.Fprintln(tw, "COLD START\tMS (MEDIAN)\tSAMPLES\tBINARY")
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%.1f MB\n\n", PhaseColdStart, c.Ms, joinFloats(c.Samples), c.BinaryMB)
	}
	if s := r.Scale; s != nil {
		fmt.Fprintln(tw, "SCALE\tUSERS\tFULL RECONCILE\tREQUESTS (PAGES)\tHEAP (LIVE)\tCHANGES\tDELTA REQUESTS\tPLAN\tFIRST OUTPUT\tPLAN HEAP (LIVE)\tSTATUS P50/P99")
		fmt.Fprintf(tw, "%s\t%d\t%.1f s\t%d (%d)\t%.0f MB (%.0f MB)\t%d\t%d\t%.1f s\t%.1f s\t%.0f MB (%.0f MB)\t%.1f/%.1f ms\n\n", PhaseScale, s.Users,
			s.FullReconcileSeconds, s.FullReconcileRequests, s.Pages, s.FullReconcilePeakHeapMB, s.FullReconcileLiveHeapMB, s.FullReconcileChanges,
			s.DeltaRequests, s.PlanSeconds, s.PlanFirstOutputSeconds, s.PlanPeakHeapMB, s.PlanLiveHeapMB, s.StatusP50ms, s.StatusP99ms)
	}
	if s := r.InitialSlice; s != nil {
		fmt.Fprintln(tw, "INITIAL SLICE	USERS CREATED	SECONDS	USERS/S	WRITES/USER	QUOTA USED (MINUTES MIN/P50)	FULL RUN HERE	AT GRAPH'S QUOTA	CRASHES (RESUMED IN)	INVITATIONS (AGAIN)	DUPLICATES	CPU/USER")
		fmt.Fprintf(tw, "%s	%d of %d	%.0f	%.1f	%.2f	%.3f (%.3f/%.3f)	%.0f s	%.2f h	%d (%s s)	%d (%d)	%d	%.1f ms\n\n", PhaseInitialSlice,
			s.UsersCreated, s.Users, s.Seconds, s.UsersPerSecond, s.WritesPerUser, s.WriteQuotaUtilization, s.MinuteUtilizationMin,
			s.MinuteUtilizationP50, s.FullRunSeconds, s.FullRunHoursAtGraphQuota, s.Crashes, joinFloats(s.ResumeSeconds),
			s.Invitations, s.Reinvitations, s.DuplicateUsers, s.CPUSecondsPerUser*1000)
	}
	tw.Flush()
}

func joinFloats(vs []float64) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%g", v)
	}
	return strings.Join(parts, " ")
}
