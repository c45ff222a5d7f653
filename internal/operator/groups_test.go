package operator

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/mapping"
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

// TestWritePlanGroups: plan lists each group's action with its members
// before → after, the held deletions, and the conflicts with the group in
// the way.
func TestWritePlanGroups(t *testing.T) {
	id := "tg-1"
	due := time.Date(2026, 12, 1, 9, 1, 0, 0, time.UTC)
	p := engine.Plan{Targets: []engine.TargetPlan{{Name: "contoso", Actions: []engine.Action{}, Held: []engine.Action{},
		Groups: []engine.GroupAction{
			{Op: engine.OpUpdate, SourceID: "g1", DisplayName: "Red", TargetID: &id, Reason: "synced group; updated",
				MembersBefore: 1, MembersAfter: 3, Added: []string{"u2", "u3"},
				Changes: mapping.Changes{"description": {Old: "old", New: "new"}}},
			{Op: engine.OpCreate, SourceID: "g2", DisplayName: "Green", Reason: "synced group; created as a security group", MembersAfter: 1},
			{Op: engine.OpDeprovision, SourceID: "g3", DisplayName: "Blue", Held: true, PendingUntil: &due, Reason: "no longer a synced group"},
			{Op: engine.OpSkip, SourceID: "g4", DisplayName: "Tailspin", Conflict: &engine.Conflict{TargetID: "theirs", Reason: "a target group with this name exists"},
				Reason: "synced group; conflict"},
		}}}}
	var b bytes.Buffer
	if err := WritePlan(&b, p); err != nil {
		t.Fatal(err)
	}
	out := strings.Join(strings.Fields(b.String()), " ")
	for _, want := range []string{
		"contoso: nothing to do; groups: 1 create, 1 update, 1 held, 1 conflict",
		"Groups: ACTION GROUP TARGET ID MEMBERS REASON",
		"create Green - 0 → 1 synced group; created",
		"update Red tg-1 1 → 3 synced group; updated",
		"description: old → new",
		"members: +2 −0",
		"held deprovision Blue - -",
		"conflict Tailspin theirs",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if i, j := strings.Index(out, "create Green"), strings.Index(out, "update Red"); i > j {
		t.Errorf("create is not listed before update:\n%s", out)
	}
}

// TestGroupStatus: status counts the group links by state and names each
// conflict with the adopt command that resolves it.
func TestGroupStatus(t *testing.T) {
	st, err := boltstore.OpenTemp(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, l := range []store.GroupLink{
		{Target: "contoso", SourceID: "g1", TargetID: "t1", State: store.GroupActive, SourceName: "Red"},
		{Target: "contoso", SourceID: "g2", TargetID: "t2", State: store.GroupActive, SourceName: "Blue"},
		{Target: "contoso", SourceID: "g3", TargetID: "theirs", State: store.GroupConflict, SourceName: "Tailspin", LastError: "a target group with this name exists"},
		{Target: "contoso", SourceID: "g4", TargetID: "t4", State: store.GroupStaged, SourceName: "Green"},
	} {
		if _, err := st.PutGroupLink(t.Context(), l); err != nil {
			t.Fatal(err)
		}
	}
	gs, err := readGroupStatus(t.Context(), st, "contoso")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := gs.String(), "2 active, 1 staged, 1 conflict"; got != want {
		t.Errorf("groups line = %q, want %q", got, want)
	}
	var b bytes.Buffer
	if err := writeGroupStatus(&b, gs); err != nil {
		t.Fatal(err)
	}
	if want := "handler adopt --target contoso --group g3 --target-group theirs"; !strings.Contains(b.String(), want) {
		t.Errorf("status lacks %q:\n%s", want, b.String())
	}
	if none, err := readGroupStatus(t.Context(), st, "fabrikam-2"); none != nil || err != nil {
		t.Errorf("a target without groups: %+v, %v", none, err)
	}
}
