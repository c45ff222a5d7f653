package statuspage

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/store"
)

// With AttributeNamesOnly, as in Azure, the log shows which attributes
// changed and never their values, in HTML and in JSON.
func TestAttributeNamesOnly(t *testing.T) {
	st := seedStore(t)
	// A group's changes are no one's personal data: they stay, with the
	// member counts.
	groupChanges := "displayName: Tailspin → Tailspin Toys; members: 10 → 12 (+2 −0)"
	if err := st.AppendEvent(t.Context(), store.Event{Time: seedNow.Add(-time.Minute), Target: "contoso", SourceID: "g-1",
		SourceUPN: "group Tailspin Toys", Action: "group update", Result: "ok", Changes: groupChanges}); err != nil {
		t.Fatal(err)
	}
	opts := seedOptions(st)
	opts.AttributeNamesOnly = true
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	_, page := get(t, h, http.MethodGet, "/?target=contoso")
	for _, value := range []string{"Senior Engineer", "Engineer →"} {
		if strings.Contains(page, value) {
			t.Errorf("the page shows an attribute value (%q)", value)
		}
	}
	if !strings.Contains(page, `<div class="change">jobTitle</div>`) {
		t.Error("the page does not name the changed attribute jobTitle")
	}
	snap := getJSON(t, h, "/?target=contoso&format=json")
	if snap.Selected == nil {
		t.Fatal("JSON has no selected target")
	}
	events := snap.Selected.Events
	for _, tv := range snap.Targets {
		if tv.LastError != nil {
			events = append(events, *tv.LastError)
		}
	}
	found, group := false, false
	for _, ev := range events {
		if ev.Action == "group update" {
			group = group || ev.Changes == groupChanges
			continue
		}
		if ev.Changes != "" {
			t.Fatalf("JSON event carries its changes: %q", ev.Changes)
		}
		for _, a := range ev.Attributes {
			found = found || a == "jobTitle"
		}
	}
	if !found {
		t.Error("JSON events do not name the changed attribute jobTitle")
	}
	if !group || !strings.Contains(page, "members: 10 → 12") {
		t.Errorf("the group event's changes and member counts are hidden (JSON %v)", group)
	}

	// The default, for the operator at the machine (handler local), keeps them.
	_, page = get(t, seedHandler(t), http.MethodGet, "/?target=contoso")
	if !strings.Contains(page, "Senior Engineer") {
		t.Error("without AttributeNamesOnly the page no longer shows the values")
	}
}
