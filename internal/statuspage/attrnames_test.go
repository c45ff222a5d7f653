package statuspage

import (
	"net/http"
	"strings"
	"testing"
)

// With AttributeNamesOnly, as in Azure, the log shows which attributes
// changed and never their values, in HTML and in JSON.
func TestAttributeNamesOnly(t *testing.T) {
	opts := seedOptions(seedStore(t))
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
	found := false
	for _, ev := range events {
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

	// The default, for the operator at the machine (handler local), keeps them.
	_, page = get(t, seedHandler(t), http.MethodGet, "/?target=contoso")
	if !strings.Contains(page, "Senior Engineer") {
		t.Error("without AttributeNamesOnly the page no longer shows the values")
	}
}
