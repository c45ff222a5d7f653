package operator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/mapping"
	"github.com/tenantsync/tenantsync/internal/statuspage"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

// TestPlanAndReconcileCountAlike: the same decisions give the same counts
// in plan and in reconcile, one per user per target, in one vocabulary,
// whatever the order and repetition of the syncs that made them.
func TestPlanAndReconcileCountAlike(t *testing.T) {
	id := "t-x"
	until := time.Now()
	decisions := map[string][]engine.Action{
		"create":   {{Op: engine.OpCreate, Target: "contoso"}},
		"update":   {{Op: engine.OpUpdate, Target: "contoso", TargetID: &id}, {Op: engine.OpUpdate, Target: "northwind", TargetID: &id}},
		"skip":     {{Op: engine.OpSkip, Target: "contoso"}},
		"conflict": {{Op: engine.OpSkip, Target: "contoso", Conflict: &engine.Conflict{TargetID: "t-9", Reason: "redeemed by another identity"}}},
		"failed":   {{Op: engine.OpCreate, Target: "contoso", Error: "invite: 400 bad address"}},
		"drift":    {{Op: engine.OpNoop, Target: "contoso", Drift: mapping.Changes{"jobTitle": {Old: "A", New: "B"}}}},
		"same":     {{Op: engine.OpNoop, Target: "contoso"}},
		"leaver":   {{Op: engine.OpDeprovision, Target: "contoso", TargetID: &id, PendingUntil: &until}},
		"burst":    {{Op: engine.OpDeprovision, Target: "contoso", TargetID: &id, Held: true}},
	}
	// The plan of these decisions.
	plans := map[string]*engine.TargetPlan{"contoso": {Name: "contoso"}, "northwind": {Name: "northwind"}}
	for user, acts := range decisions {
		for _, a := range acts {
			a.SourceID, a.UserPrincipalName = user, user+"@f.example"
			if a.Held {
				plans[a.Target].Held = append(plans[a.Target].Held, a)
			} else {
				plans[a.Target].Actions = append(plans[a.Target].Actions, a)
			}
		}
	}
	planned := CountPlan(*plans["contoso"], *plans["northwind"])

	// A reconcile that makes them: the created user is synced again as a
	// follow-up (its manager), the leaver's deprovision waits out the
	// settle delay and is carried out on the second sync.
	s := &scriptedSyncer{batches: [][]engine.Change{users("create", "update", "skip", "conflict", "failed", "drift", "same", "leaver", "burst")},
		outcome: func(ch engine.Change, n int) (engine.Result, error) {
			res := engine.Result{Change: ch}
			for _, a := range decisions[ch.ID] {
				a.SourceID = ch.ID
				res.Actions = append(res.Actions, a)
			}
			switch {
			case ch.ID == "create" && n == 1:
				res.FollowUps = users("create")
			case ch.ID == "create":
				res.Actions = []engine.Action{{Op: engine.OpUpdate, Target: "contoso", SourceID: ch.ID, TargetID: &id}}
			case ch.ID == "leaver" && n == 1:
				res.RecheckAt = time.Now()
			case ch.ID == "leaver":
				res.Actions = []engine.Action{{Op: engine.OpDeprovision, Target: "contoso", SourceID: ch.ID, TargetID: &id}}
			case ch.ID == "failed":
				return res, fmt.Errorf("invite: 400 bad address: %w", engine.ErrPermanent)
			}
			return res, nil
		}}
	sum, err := Reconcile(context.Background(), s, ReconcileOptions{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := "1 create, 2 update, 1 deprovision, 1 held, 1 conflict, 1 skip, 1 drift, 1 failed"
	if got := planned.String(); got != want {
		t.Errorf("plan counts %s\nwant        %s", got, want)
	}
	if got := sum.Actions.String(); got != want {
		t.Errorf("reconcile counts %s\nwant             %s", got, want)
	}
}

func TestMergeOutcome(t *testing.T) {
	tests := []struct{ prev, next, want string }{
		{"", "create", "create"},
		{"create", "update", "create"}, // the follow-up that sets the manager
		{"update", "", "update"},
		{"pending", "deprovision", "deprovision"},
		{"pending", "held", "held"},
		{"pending", "", ""}, // came back: nothing done
		{"held", "", ""},
		{"update", "disable", "disable"},
	}
	for _, tc := range tests {
		if got := mergeOutcome(tc.prev, tc.next); got != tc.want {
			t.Errorf("mergeOutcome(%q, %q) = %q, want %q", tc.prev, tc.next, got, tc.want)
		}
	}
}

// TestWritePlanSortsByUser: within each action, users by
// userPrincipalName; the held ones too.
func TestWritePlanSortsByUser(t *testing.T) {
	id := "t-1"
	p := engine.Plan{Targets: []engine.TargetPlan{{Name: "contoso",
		Actions: []engine.Action{
			{Op: engine.OpUpdate, SourceID: "3", UserPrincipalName: "zoe@f.example", TargetID: &id, Reason: "in scope"},
			{Op: engine.OpCreate, SourceID: "2", UserPrincipalName: "mia@f.example", Reason: "in scope"},
			{Op: engine.OpUpdate, SourceID: "1", UserPrincipalName: "Adam@f.example", TargetID: &id, Reason: "in scope"},
			{Op: engine.OpCreate, SourceID: "4", UserPrincipalName: "ben@f.example", Reason: "in scope"},
		},
		Held: []engine.Action{
			{Op: engine.OpDeprovision, SourceID: "6", UserPrincipalName: "yan@f.example", TargetID: &id, Reason: "left"},
			{Op: engine.OpDeprovision, SourceID: "5", UserPrincipalName: "eva@f.example", TargetID: &id, Reason: "left"},
		}}}}
	var b bytes.Buffer
	if err := WritePlan(&b, p); err != nil {
		t.Fatal(err)
	}
	want := `contoso: 2 create, 2 update, 2 held

  ACTION            USER            TARGET ID  REASON
  create            ben@f.example   -          in scope
  create            mia@f.example   -          in scope
  update            Adam@f.example  t-1        in scope
  update            zoe@f.example   t-1        in scope
  held deprovision  eva@f.example   t-1        left
  held deprovision  yan@f.example   t-1        left

This is a dry run: nothing was written. ` + "`reconcile`" + ` carries it out.
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0 s"},
		{350 * time.Millisecond, "350 ms"},
		{1500 * time.Millisecond, "1.5 s"},
		{3 * time.Second, "3 s"},
		{45 * time.Second, "45 s"},
		{time.Minute, "1 min"},
		{65 * time.Second, "1 min 5 s"},
		{30 * time.Minute, "30 min"},
		{time.Hour, "1 h"},
		{2*time.Hour + 5*time.Minute + 7*time.Second, "2 h 5 min"},
		{24 * time.Hour, "24 h"},
		{50 * time.Hour, "2 d 2 h"},
		{72 * time.Hour, "3 d"},
	}
	for _, tc := range tests {
		if got := Duration(tc.d); got != tc.want {
			t.Errorf("Duration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{now.Add(-12 * time.Second), "12 s ago"},
		{now.Add(-4*time.Minute - 30*time.Second), "4 min ago"},
		{now.Add(-125 * time.Minute), "2 h 5 min ago"},
		{now.Add(5 * time.Minute), "in 5 min"},
		{time.Time{}, "never"},
	} {
		if got := ago(now, tc.t); got != tc.want {
			t.Errorf("ago(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
}

// TestCleanStripsBidi: what a directory holds cannot reorder or break
// terminal output.
func TestCleanStripsBidi(t *testing.T) {
	tests := []struct{ in, want string }{
		{"adele@fabrikam.example", "adele@fabrikam.example"},
		{"admin\u202e@evil.example", "admin@evil.example"}, // right-to-left override
		{"a\u2066b\u2069c\u200fd\u061ce\u200e", "abcde"},   // isolates and marks
		{"line\u2028sep\u2029para", "line sep para"},       // separators break lines
		{"\x1b[31mred\u009b", " [31mred "},                 // C0 and C1 controls
		{"Zoë 山田 \u200d", "Zoë 山田 \u200d"},                 // letters and joiners stay
	}
	for _, tc := range tests {
		if got := clean(tc.in); got != tc.want {
			t.Errorf("clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWriteDeletionsGroupsByTarget(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ds := []statuspage.Deletion{
		{Target: "contoso", SourceID: "s-1", SourceUPN: "a@f.example", Action: "delete", Reason: "left the scoping group", StagedAt: now.Add(-time.Hour), ExpiresAt: now.Add(23 * time.Hour)},
		{Target: "contoso", SourceID: "s-2", SourceUPN: "b@f.example", Action: "delete", Reason: "deleted in the source", StagedAt: now.Add(-30 * time.Minute), Approved: true},
		{Target: "northwind", SourceID: "s-3", Action: "disable", Reason: "disabled in the source", StagedAt: now.Add(-time.Minute)},
	}
	var b bytes.Buffer
	if err := WriteDeletions(&b, now, ds); err != nil {
		t.Fatal(err)
	}
	want := `Target contoso: 2 staged deletions
  SOURCE ID  USER         ACTION  STAGED      EXPIRES  APPROVED  REASON
  s-1        a@f.example  delete  1 h ago     in 23 h  no        left the scoping group
  s-2        b@f.example  delete  30 min ago  -        yes       deleted in the source

Target northwind: 1 staged deletion
  SOURCE ID  USER  ACTION   STAGED     EXPIRES  APPROVED  REASON
  s-3        -     disable  1 min ago  -        no        disabled in the source

3 staged deletions. Approve with ` + "`deletions approve --target NAME (--all | SOURCE-ID…)`" + `.
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// logStore is a store with a few users' events, links, deletions and a
// guard record, in two targets.
func logStore(t *testing.T, now time.Time) store.Store {
	t.Helper()
	st, err := boltstore.OpenTemp(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	events := []store.Event{
		{Time: now.Add(-3 * time.Hour), Target: "contoso", SourceID: "s-ade", SourceUPN: "adele@f.example", TargetID: "t-ade", Action: "create", Result: "ok",
			Reason: "in scope: member of group Sales", Changes: "displayName: → Adele Vance; department: → Sales", RequestIDs: []string{"req-1", "req-2"}},
		{Time: now.Add(-2 * time.Hour), Target: "northwind", SourceID: "s-ade", SourceUPN: "adele@f.example", Action: "create", Result: "error",
			Reason: "failed", Error: "invite adele@f.example: 403 Authorization_RequestDenied", RequestIDs: []string{"req-3"}},
		{Time: now.Add(-90 * time.Minute), Target: "contoso", SourceID: "s-ben", SourceUPN: "ben@f.example", TargetID: "t-ben", Action: "update", Result: "ok",
			Reason: "in scope", Changes: "jobTitle: Staff → Lead"},
		{Time: now.Add(-time.Hour), Target: "contoso", SourceID: "s-ade", SourceUPN: "adele@f.example", TargetID: "t-ade", Action: "update", Result: "ok",
			Reason: "in scope", Changes: "department: Sales → Marketing"},
		{Time: now.Add(-10 * time.Minute), Target: "contoso", SourceID: "s-car", SourceUPN: "carla@f.example", Action: "deprovision", Result: "held",
			Reason: "left the scoping group"},
	}
	for _, ev := range events {
		if err := st.AppendEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []store.Link{
		{Target: "contoso", SourceID: "s-ade", TargetID: "t-ade", SourceUPN: "adele@f.example", State: store.LinkActive, Updated: now.Add(-time.Hour)},
		{Target: "contoso", SourceID: "s-car", TargetID: "t-car", SourceUPN: "carla@f.example", State: store.LinkStaged, Updated: now.Add(-10 * time.Minute)},
		{Target: "northwind", SourceID: "s-ade", TargetID: "n-9", SourceUPN: "adele@f.example", State: store.LinkConflict,
			LastError: "n-9 holds adele@f.example but was redeemed by another identity", Updated: now.Add(-2 * time.Hour)},
		{Target: "northwind", SourceID: "s-dan", TargetID: "n-dan", SourceUPN: "dan@f.example", State: store.LinkPending, Updated: now.Add(-30 * time.Second)},
	} {
		if _, err := st.PutLink(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.PutDeletion(ctx, store.Deletion{Target: "contoso", SourceID: "s-car", TargetID: "t-car", SourceUPN: "carla@f.example", Action: "delete",
		Reason: "left the scoping group", StagedAt: now.Add(-10 * time.Minute), ExpiresAt: now.Add(50 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutGuard(ctx, store.Guard{Target: "northwind", Pending: map[string]time.Time{"s-dan": now.Add(-30 * time.Second)}}); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestReadLog(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st := logStore(t, now)
	ctx := context.Background()
	both := []string{"contoso", "northwind"}
	tests := []struct {
		name   string
		opts   LogOptions
		wantTo string // "time target user action result" per event
	}{
		{"everything, both targets merged newest first", LogOptions{Targets: both},
			"11:50 contoso carla held; 11:00 contoso adele update; 10:30 contoso ben update; 10:00 northwind adele create; 09:00 contoso adele create"},
		{"one user, by userPrincipalName in any case", LogOptions{Targets: both, Filter: statuspage.EventFilter{User: "ADELE@f.example"}},
			"11:00 contoso adele update; 10:00 northwind adele create; 09:00 contoso adele create"},
		{"failures", LogOptions{Targets: both, Filter: statuspage.EventFilter{Failed: true}}, "10:00 northwind adele create"},
		{"creates, whatever their result", LogOptions{Targets: both, Filter: statuspage.EventFilter{Action: "create"}},
			"10:00 northwind adele create; 09:00 contoso adele create"},
		{"held", LogOptions{Targets: both, Filter: statuspage.EventFilter{Action: "held"}}, "11:50 contoso carla held"},
		{"since", LogOptions{Targets: []string{"contoso"}, Filter: statuspage.EventFilter{Since: now.Add(-95 * time.Minute)}},
			"11:50 contoso carla held; 11:00 contoso adele update; 10:30 contoso ben update"},
		{"limit", LogOptions{Targets: both, Limit: 2}, "11:50 contoso carla held; 11:00 contoso adele update"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Store = st
			l, err := ReadLog(ctx, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range l.Events {
				user, _, _ := strings.Cut(e.UserPrincipalName, "@")
				action := e.Action
				if e.Outcome == "held" {
					action = "held"
				}
				got = append(got, e.Time.Format("15:04")+" "+e.Target+" "+user+" "+action)
			}
			if strings.Join(got, "; ") != tc.wantTo {
				t.Errorf("events\n got: %s\nwant: %s", strings.Join(got, "; "), tc.wantTo)
			}
		})
	}

	// One target pages on from where it stopped.
	l, err := ReadLog(ctx, LogOptions{Store: st, Targets: []string{"contoso"}, Filter: statuspage.EventFilter{User: "s-ade"}, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Events) != 1 || l.Next == "" || !l.More {
		t.Fatalf("first page %+v", l)
	}
	l2, err := ReadLog(ctx, LogOptions{Store: st, Targets: []string{"contoso"}, Filter: statuspage.EventFilter{User: "s-ade"}, Limit: 1, Page: l.Next})
	if err != nil {
		t.Fatal(err)
	}
	if len(l2.Events) != 1 || l2.Events[0].Action != "create" {
		t.Errorf("second page %+v", l2)
	}
	if _, err := ReadLog(ctx, LogOptions{Store: st, Targets: both, Page: l.Next}); err == nil ||
		err.Error() != "read the log: --page continues the search of one target: give --target" {
		t.Errorf("--page over two targets: %v", err)
	}

	var b bytes.Buffer
	l, err = ReadLog(ctx, LogOptions{Store: st, Targets: both, Filter: statuspage.EventFilter{User: "adele@f.example"}, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteLog(&b, now, l, ""); err != nil {
		t.Fatal(err)
	}
	want := `TIME                  TARGET     USER             ACTION  RESULT  WHEN
2026-03-01 11:00:00Z  contoso    adele@f.example  update  ok      1 h ago
    reason: in scope
    attributes: department
2026-03-01 10:00:00Z  northwind  adele@f.example  create  error   2 h ago
    reason: failed
    error: invite adele@f.example: 403 Authorization_RequestDenied
    Graph request ids: req-3

2 events shown, newest first (5 events read). More may match: narrow the search, or give --limit or --target.
`
	if b.String() != want {
		t.Errorf("log text\n%s\nwant\n%s", b.String(), want)
	}
}

func TestReadUser(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st := logStore(t, now)
	ctx := context.Background()
	read := func(user string) (*UserStatus, error) {
		return ReadUser(ctx, UserOptions{Store: st, Targets: []string{"contoso", "northwind"}, User: user, Now: func() time.Time { return now }})
	}
	// Found by userPrincipalName, source id or target id alike.
	for _, who := range []string{"adele@f.example", "ADELE@F.EXAMPLE", "s-ade", "t-ade", "n-9"} {
		u, err := read(who)
		if err != nil || u.SourceID != "s-ade" {
			t.Errorf("ReadUser(%s) = %+v, %v; want s-ade", who, u, err)
		}
	}
	u, err := read("adele@f.example")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteUser(&b, u); err != nil {
		t.Fatal(err)
	}
	want := `User adele@f.example (source id s-ade)

Target contoso
  link        active, target user t-ade, updated 2026-03-01 11:00:00Z (1 h ago)
  last error  none
  deletion    none
  conflict    none
  events      2 newest:
    TIME                  ACTION  RESULT  DETAIL
    2026-03-01 11:00:00Z  update  ok      in scope; attributes: department
    2026-03-01 09:00:00Z  create  ok      in scope: member of group Sales; attributes: displayName, department
      Graph request ids: req-1, req-2

Target northwind
  link      conflict, target user n-9, updated 2026-03-01 10:00:00Z (2 h ago)
  deletion  none
  conflict  with target user n-9: n-9 holds adele@f.example but was redeemed by another identity; if it is this person: handler adopt --target northwind --source-user s-ade --target-user n-9
  events    1 newest:
    TIME                  ACTION  RESULT  DETAIL
    2026-03-01 10:00:00Z  create  error   invite adele@f.example: 403 Authorization_RequestDenied
      Graph request ids: req-3
`
	if b.String() != want {
		t.Errorf("user text\n%s\nwant\n%s", b.String(), want)
	}

	// A held deletion, and a pending one.
	u, err = read("carla@f.example")
	if err != nil || u.Targets[0].Deletion == nil || u.Targets[0].Deletion.Action != "delete" {
		t.Fatalf("carla: %+v, %v", u, err)
	}
	b.Reset()
	if err := WriteUser(&b, u); err != nil {
		t.Fatal(err)
	}
	if want := "  deletion    held by the deletion guard: delete, staged 10 min ago, expires in 50 min, awaiting approval: handler deletions approve --target contoso s-car (left the scoping group)\n"; !strings.Contains(b.String(), want) {
		t.Errorf("carla's text lacks %q:\n%s", want, b.String())
	}
	u, err = read("dan@f.example")
	if err != nil || u.Targets[1].PendingSince == nil {
		t.Fatalf("dan: %+v, %v", u, err)
	}
	b.Reset()
	if err := WriteUser(&b, u); err != nil {
		t.Fatal(err)
	}
	if want := "  deletion    pending since 2026-03-01 11:59:30Z (30 s ago): waits out the deletion guard's settle delay\n"; !strings.Contains(b.String(), want) {
		t.Errorf("dan's text lacks %q:\n%s", want, b.String())
	}

	// Someone the store knows nothing of.
	_, err = read("zed@f.example")
	if !errors.Is(err, ErrUserUnknown) || err.Error() != "unknown user: no link, staged deletion or provisioning event of any target names zed@f.example; "+
		"tenantsync has not synced this user (handler provision --user zed@f.example shows why, reading the tenants)" {
		t.Errorf("unknown user: %v", err)
	}
}
