package local_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/changes"
	"github.com/tenantsync/tenantsync/internal/engine"
)

// The status page shows what the queue holds now, so that an operator (and
// the chaos suite, which waits for an empty queue) sees pending work.
func TestStatusShowsQueueDepth(t *testing.T) {
	w := start(t)
	w.settle()
	msg, err := changes.Message(engine.Change{Kind: engine.KindUser, ID: "6a1c0a55-0000-4000-8000-000000000001", Cause: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.local.Queue().Schedule(t.Context(), time.Now().Add(time.Hour), msg); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(w.local.Info().StatusURL + "&format=json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Pipeline map[string]int64 `json:"pipeline"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"queueVisibleMessages": 0, "queueLockedMessages": 0, "queueScheduledMessages": 1, "queueDeadLetterMessages": 0}
	for k, v := range want {
		if got, ok := st.Pipeline[k]; !ok || got != v {
			t.Errorf("pipeline[%s] = %d (present %v), want %d", k, got, ok, v)
		}
	}
}
