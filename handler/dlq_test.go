package main

import (
	"context"
	"log/slog"
	"regexp"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/changes"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/queue"
	"github.com/tenantsync/tenantsync/internal/queue/embedded"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

// deadLetter puts change messages for the given users in the embedded
// queue of the state file and lets a consumer dead-letter them, as
// ProcessChange does with a change that cannot succeed. It returns the
// message ids the queue gave them, in order.
func deadLetter(t *testing.T, state string, userIDs ...string) []string {
	t.Helper()
	st, err := boltstore.Open(state, &boltstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	q, err := embedded.Open(st.DB(), &embedded.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for _, id := range userIDs {
		m, err := changes.Message(engine.Change{Kind: engine.KindUser, ID: id, Cause: "notification"})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Enqueue(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- q.Run(ctx, embedded.RunOptions{ShutdownGrace: -1}, func(context.Context, queue.Delivery) error {
			return &queue.DeadLetterError{Reason: "PermanentFailure", Description: "invite: 400 BadRequest: The specified email address is invalid."}
		})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for q.Stats().DeadLetterMessages < len(userIDs) {
		if time.Now().After(deadline) {
			t.Fatalf("the messages were not dead-lettered: %+v", q.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	list, err := q.List(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, d := range list {
		if d.SessionID != userIDs[i] {
			t.Fatalf("dead letter %d is for %s, want %s", i, d.SessionID, userIDs[i])
		}
		ids = append(ids, d.ID)
	}
	return ids
}

func TestDLQEmbedded(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	if out := e.mustRun("dlq", "list"); out != "No dead letters in the embedded queue changes (embedded store in "+e.state+" (not created yet: nothing has run with it)).\n" {
		t.Errorf("dlq list on a fresh machine = %q", out)
	}
	ids := deadLetter(t, e.state, adeleID, benID)

	out := e.mustRun("dlq", "list")
	re := `^Dead letters in the embedded queue changes \(embedded store in ` + regexp.QuoteMeta(e.state) + `\):

  ID +SESSION +DELIVERIES  ENQUEUED +REASON
  ` + ids[0] + `  ` + adeleID + `  1 +\d+ s ago +PermanentFailure
      invite: 400 BadRequest: The specified email address is invalid\.
      body: \{.*"` + adeleID + `".*\}
  ` + ids[1] + `  ` + benID + `  1 +\d+ s ago +PermanentFailure
      invite: 400 BadRequest: The specified email address is invalid\.
      body: \{.*"` + benID + `".*\}

2 dead letters\. Resubmit with ` + "`dlq resubmit \\(--all \\| ID…\\)`" + `\.
$`
	if !regexp.MustCompile(re).MatchString(out) {
		t.Errorf("dlq list:\n%s\nwant (regexp):\n%s", out, re)
	}

	var list struct {
		Queue       string `json:"queue"`
		DeadLetters []struct {
			ID     string         `json:"id"`
			Reason string         `json:"reason"`
			Body   map[string]any `json:"body"`
		} `json:"deadLetters"`
	}
	decodeJSON(t, e.mustRun("dlq", "list", "--max", "1", "--json"), &list)
	if len(list.DeadLetters) != 1 || list.DeadLetters[0].ID != ids[0] || list.DeadLetters[0].Reason != "PermanentFailure" || list.DeadLetters[0].Body == nil {
		t.Errorf("dlq list --max 1 --json = %+v", list)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"dlq", "resubmit"}, "error: give --all or the ids of the messages to resubmit (see dlq list)"},
		{[]string{"dlq", "resubmit", "--all", ids[0]}, "error: give either --all or message ids, not both"},
		{[]string{"dlq", "resubmit", ids[0], "nope"}, "error: no dead letter with id nope in the embedded queue changes (embedded store in " + e.state + "); nothing was resubmitted"},
		{[]string{"dlq", "list", "--max", "-1"}, "error: --max -1: want 0 (all) or more"},
		{[]string{"dlq"}, "error: give a subcommand: dlq list or dlq resubmit"},
	} {
		e.run(tt.args...).wantError(t, tt.want)
	}

	if out := e.mustRun("dlq", "resubmit", ids[0]); out != "Resubmitted 1 dead letter to the embedded queue changes (embedded store in "+e.state+").\n" {
		t.Errorf("dlq resubmit = %q", out)
	}
	decodeJSON(t, e.mustRun("dlq", "list", "--json"), &list)
	if len(list.DeadLetters) != 1 || list.DeadLetters[0].ID != ids[1] {
		t.Errorf("after resubmitting %s, dead letters = %+v", ids[0], list.DeadLetters)
	}
	if out := e.mustRun("dlq", "resubmit", "--all", "--json"); out != "{\n  \"queue\": \"the embedded queue changes (embedded store in "+e.state+")\",\n  \"resubmitted\": 1\n}\n" {
		t.Errorf("dlq resubmit --all --json = %q", out)
	}

	// The resubmitted messages are back in the queue, under new ids.
	st, err := boltstore.Open(e.state, &boltstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	q, err := embedded.Open(st.DB(), &embedded.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if s := q.Stats(); s.VisibleMessages != 2 || s.DeadLetterMessages != 0 {
		t.Errorf("queue after resubmitting all: %+v", s)
	}
}

func TestDLQNeedsAQueue(t *testing.T) {
	e := newTestEnv(t, configOptions{})
	e.vars["TENANTSYNC_TABLES"] = "https://account.table.core.windows.net/"
	e.run("dlq", "list").wantError(t, "error: no dead-letter queue: Service Bus is not configured (set ServiceBusConnection__fullyQualifiedNamespace or ServiceBusConnection), "+
		"and the embedded queue lives only in the embedded store (TENANTSYNC_TABLES is set)")
}
