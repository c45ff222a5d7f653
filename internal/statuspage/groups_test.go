package statuspage

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/store"
)

// groupWorld adds group links, and group deletions held by the deletion
// guard, to a health test's world for target "t".
func groupWorld(t *testing.T, w world, links []store.GroupLink, held []store.Deletion) store.Store {
	t.Helper()
	st := w.store(t)
	ctx := context.Background()
	for _, l := range links {
		l.Target = "t"
		if _, err := st.PutGroupLink(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range held {
		d.Target, d.Action, d.StagedAt = "t", "delete group", seedNow.Add(-time.Minute)
		if _, err := st.PutDeletion(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// TestGroupHealth: per target, the group links are counted by state; group
// conflicts and held group deletions need attention, each with the command
// that resolves it, apart from the users'.
func TestGroupHealth(t *testing.T) {
	active := store.GroupLink{SourceID: "g-active", SourceName: "Tailspin", TargetID: "tg-1", State: store.GroupActive}
	conflict := store.GroupLink{SourceID: "g-conflict", SourceName: "Northwind contractors", TargetID: "tg-other", State: store.GroupConflict,
		LastError: "a target group with this name exists and does not carry tenantsync's anchor"}
	conflict2 := store.GroupLink{SourceID: "g-conflict-2", SourceName: "Sales", TargetID: "tg-other-2", State: store.GroupConflict}
	staged := store.GroupLink{SourceID: "g-staged", SourceName: "Old team", TargetID: "tg-2", State: store.GroupStaged}
	heldGroup := store.Deletion{SourceID: "group:g-staged", TargetID: "tg-2", SourceUPN: "group Old team"}
	userHeld := Attention{What: "1 deprovision held by the deletion guard, awaiting approval", Count: 1,
		Command: "handler deletions list --target t, then handler deletions approve --target t SOURCE-ID… (or --all)"}
	tests := []struct {
		name       string
		world      world
		links      []store.GroupLink
		held       []store.Deletion
		wantCounts *GroupCounts
		wantHealth string
		want       []Attention
	}{
		{"no groups", world{lastReconcile: time.Minute}, nil, nil, nil, HealthHealthy, nil},
		{"a synced group", world{lastReconcile: time.Minute}, []store.GroupLink{active}, nil,
			&GroupCounts{Total: 1, Active: 1}, HealthHealthy, nil},
		{"a group conflict", world{lastReconcile: time.Minute}, []store.GroupLink{active, conflict}, nil,
			&GroupCounts{Total: 2, Active: 1, Conflict: 1}, HealthAttention, []Attention{{
				What:    `group "Northwind contractors" in conflict with target group tg-other, which has its name and is not tenantsync's`,
				Count:   1,
				Command: "handler adopt --target t --group g-conflict --target-group tg-other if it is the same group; or rename either"}}},
		{"two group conflicts", world{lastReconcile: time.Minute}, []store.GroupLink{conflict, conflict2}, nil,
			&GroupCounts{Total: 2, Conflict: 2}, HealthAttention, []Attention{{
				What:    "2 groups in conflict with a target group of the same name that is not tenantsync's",
				Count:   2,
				Command: "handler status lists each with its command; handler adopt --target t --group ID --target-group ID if one is the same group"}}},
		{"a held group deletion beside a held user", world{lastReconcile: time.Minute, deletions: 1}, []store.GroupLink{active, staged}, []store.Deletion{heldGroup},
			&GroupCounts{Total: 2, Active: 1, Staged: 1, HeldDeletions: 1}, HealthAttention, []Attention{userHeld, {
				What: "1 group deletion held by the deletion guard, awaiting approval", Count: 1,
				Command: "handler deletions approve --target t group:g-staged"}}},
		{"an approved group deletion needs no one", world{lastReconcile: time.Minute}, []store.GroupLink{staged},
			[]store.Deletion{{SourceID: "group:g-staged", Approved: true}},
			&GroupCounts{Total: 1, Staged: 1}, HealthHealthy, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := mustNew(t, Options{Store: groupWorld(t, tc.world, tc.links, tc.held), Targets: []string{"t"},
				Now: func() time.Time { return seedNow }, Logger: slogTo(io.Discard)})
			got := h.Overview(context.Background()).Targets[0]
			if got.Health != tc.wantHealth {
				t.Errorf("health = %q, want %q", got.Health, tc.wantHealth)
			}
			if fmt.Sprint(got.Attention) != fmt.Sprint(tc.want) {
				t.Errorf("attention\n got: %+v\nwant: %+v", got.Attention, tc.want)
			}
			if (got.GroupLinks == nil) != (tc.wantCounts == nil) || got.GroupLinks != nil && fmt.Sprintf("%+v", exported(*got.GroupLinks)) != fmt.Sprintf("%+v", *tc.wantCounts) {
				t.Errorf("group links = %+v, want %+v", got.GroupLinks, tc.wantCounts)
			}
		})
	}
}

// exported is a GroupCounts without what only the attention lines read.
func exported(g GroupCounts) GroupCounts {
	g.conflicts, g.held = nil, nil
	return g
}

// TestGroupsOnThePage: the overview names each target's groups by state,
// the JSON carries the counts, the attention lines the commands; group
// events in the provisioning log read as a group's, counted as group
// outcomes, and the log's filters find them.
func TestGroupsOnThePage(t *testing.T) {
	links := []store.GroupLink{
		{SourceID: "g-1", SourceName: "Tailspin", TargetID: "tg-1", State: store.GroupActive},
		{SourceID: "g-2", SourceName: "Blue", TargetID: "tg-2", State: store.GroupActive},
		{SourceID: "g-3", SourceName: "Northwind contractors", TargetID: "tg-3", State: store.GroupConflict},
	}
	w := world{lastReconcile: time.Minute, events: []store.Event{
		at(3*time.Minute, store.Event{SourceID: "g-1", TargetID: "tg-1", SourceUPN: "group Tailspin", Action: "group create", Result: "ok",
			Changes: "displayName: → Tailspin; members: 0 → 3 (+3 −0)", Trigger: "groupsync", Reason: "synced group; created as a security group"}),
		at(2*time.Minute, store.Event{SourceID: "g-3", TargetID: "tg-3", SourceUPN: "group Northwind contractors", Action: "group skip", Result: "conflict",
			Trigger: "full", Reason: "synced group; conflict"}),
		at(time.Minute, store.Event{SourceID: "u-1", SourceUPN: "adele@fabrikam.example", Action: "create", Result: "ok", Trigger: "notification"}),
	}}
	h := mustNew(t, Options{Store: groupWorld(t, w, links, nil), Targets: []string{"t"},
		Now: func() time.Time { return seedNow }, Logger: slogTo(io.Discard)})

	s := getJSON(t, h, "/?format=json")
	if g := s.Targets[0].GroupLinks; g == nil || g.Active != 2 || g.Conflict != 1 || g.Total != 3 {
		t.Errorf("JSON groupLinks = %+v, want 2 active and 1 conflict of 3", g)
	}
	if want := map[string]int64{"create": 1, "group create": 1, "group conflict": 1}; fmt.Sprint(s.Targets[0].RecentActions) != fmt.Sprint(want) {
		t.Errorf("recent actions = %v, want %v: a group's outcomes apart from the users'", s.Targets[0].RecentActions, want)
	}

	_, body := get(t, h, http.MethodGet, "/?target=t")
	page := html.UnescapeString(body)
	for _, want := range []string{
		`data-groups-synced="2"`, "groups: 2 synced, 1 in conflict",
		`group "Northwind contractors" in conflict with target group tg-3, which has its name and is not tenantsync's — ` +
			"<code>handler adopt --target t --group g-3 --target-group tg-3 if it is the same group; or rename either</code>",
		`data-outcome="group create">group create</span>`, `<div class="change">members: 0 → 3 (+3 −0)</div>`,
		`title="this group's events">group Tailspin</a>`, `title="this user's events">adele@fabrikam.example</a>`,
		`by groupsync`, `data-outcome="group conflict">group skip</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}

	// The log's filters: by the group's name, and "conflict" finds a
	// group's conflict as it does a user's.
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"user=group+Tailspin", []string{"g-1"}},
		{"action=conflict", []string{"g-3"}},
		{"action=create", []string{"u-1", "g-1"}},
	} {
		s := getJSON(t, h, "/?format=json&target=t&"+tc.query)
		var got []string
		for _, ev := range s.Selected.Events {
			got = append(got, ev.SourceID)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: events %v, want %v", tc.query, got, tc.want)
		}
	}
}
