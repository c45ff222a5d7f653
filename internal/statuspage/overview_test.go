package statuspage

import (
	"context"
	"encoding/json"
	"testing"
)

// TestOverviewIsThePageWithoutDetail holds Overview to the JSON the page
// serves for its overview: the same summaries, and no selected target.
func TestOverviewIsThePageWithoutDetail(t *testing.T) {
	h := seedHandler(t)
	got := h.Overview(context.Background())
	if got.Selected != nil {
		t.Fatalf("Overview selected target %q", got.Selected.Name)
	}
	if len(got.Targets) != 2 || got.Targets[0].Links != seedCounts {
		t.Fatalf("targets = %+v, want contoso with %+v first", got.Targets, seedCounts)
	}
	page := getJSON(t, h, "/?format=json")
	page.Selected = nil
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(page)
	if string(a) != string(b) {
		t.Errorf("Overview differs from the page's overview:\n%s\n%s", a, b)
	}
}
