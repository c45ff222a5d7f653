package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/store"
)

// TestGroupEventsNameTheirTrigger: a group's provisioning event says why its
// sync ran, from the change's cause, as a user's does.
func TestGroupEventsNameTheirTrigger(t *testing.T) {
	tests := []struct {
		cause string
		run   func(ctx context.Context, w *groupWorld, e *engine.Engine) error
	}{
		{engine.CauseGroupSync, syncGroupWith(engine.CauseGroupSync)},
		{"full", syncGroupWith("full")},
		{"approve", syncGroupWith("approve")},
		{"ondemand", func(ctx context.Context, w *groupWorld, e *engine.Engine) error {
			_, err := e.ProvisionGroup(ctx, "Tailspin", "contoso")
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.cause, func(t *testing.T) {
			w := newGroupWorld(t, []string{"alice"}, map[string][]string{"Tailspin": {"alice"}}, []string{"Tailspin"})
			e := w.engine()
			// The user alone: their follow-up would create the group.
			if _, err := e.Sync(t.Context(), w.userChange("alice")); err != nil {
				t.Fatal(err)
			}
			if err := tt.run(t.Context(), w, e); err != nil {
				t.Fatal(err)
			}
			ev, ok := groupEvent(t, w, "group create")
			if !ok {
				t.Fatal("no group create event")
			}
			if ev.Trigger != tt.cause {
				t.Errorf("group create event trigger = %q, want %q", ev.Trigger, tt.cause)
			}
		})
	}
}

func syncGroupWith(cause string) func(context.Context, *groupWorld, *engine.Engine) error {
	return func(ctx context.Context, w *groupWorld, e *engine.Engine) error {
		_, err := e.Sync(ctx, engine.Change{Kind: engine.KindGroup, ID: w.groups["Tailspin"], Cause: cause})
		return err
	}
}

// groupEvent returns the newest event of the target with this action.
func groupEvent(t *testing.T, w *groupWorld, action string) (store.Event, bool) {
	t.Helper()
	page, err := w.st.ListEvents(t.Context(), "contoso", store.ListEventsOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range page.Events {
		if ev.Action == action {
			return ev, true
		}
	}
	return store.Event{}, false
}

// TestGroupGuardMessagesWriteDurations: the deletion guard's messages about
// groups write the settle delay and the window as a configuration writes
// them ("1m", "1h"), as the users' do, in a sync and in a plan.
func TestGroupGuardMessagesWriteDurations(t *testing.T) {
	w := newGroupWorld(t, []string{"alice"}, map[string][]string{"G0": {"alice"}, "G1": {"alice"}, "G2": {"alice"}}, []string{"G0", "G1", "G2"})
	delay := config.Duration(time.Minute)
	w.target().Deprovision.Delay = &delay
	w.target().Deprovision.Threshold = 1
	w.syncAll(w.engine())
	// Two groups leave at once: over the threshold of one.
	w.target().Groups.Sync = []string{"G2"}
	e := w.engine()

	reasons := map[string]string{}
	for _, r := range w.drain(e, nil, w.groupChange("G0"), w.groupChange("G1")) {
		for _, a := range r.Groups {
			reasons["sync "+a.DisplayName] = a.Reason
		}
	}
	plan, err := e.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range plan.Targets[0].Groups {
		reasons["plan "+a.DisplayName] = a.Reason
	}
	w.advance(2 * time.Minute)
	for _, r := range w.drain(e, nil, engine.Change{Kind: engine.KindGroup, ID: w.groups["G0"], Cause: "guard"}) {
		for _, a := range r.Groups {
			reasons["recheck "+a.DisplayName] = a.Reason
		}
	}

	tests := []struct {
		key  string
		want string
	}{
		{"sync G0", "pending: deleted after the settle delay (1m), at "},
		{"plan G0", "the deletion guard will hold it: 2 deprovisions pending or carried out within 1h, over the threshold of 1"},
		{"recheck G0", "held by the deletion guard (2 deprovisions pending or carried out within 1h, threshold 1): approve with `deletions approve --target contoso group:" + w.groups["G0"] + "`"},
	}
	for _, tt := range tests {
		if got := reasons[tt.key]; !strings.Contains(got, tt.want) {
			t.Errorf("%s: reason %q, want it to contain %q", tt.key, got, tt.want)
		}
	}
}
