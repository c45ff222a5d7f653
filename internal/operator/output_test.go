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
	"github.com/tenantsync/tenantsync/internal/store"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

func TestTable(t *testing.T) {
	tests := []struct {
		name string
		rows [][]string
		text map[int]string // free text after row i
		want string
	}{{
		name: "columns align by runes, the last is not padded",
		rows: [][]string{{"A", "USER", "NOTE"}, {"create", "zoë@fabrikam.example", "x"}, {"update", "b", ""}},
		want: "A       USER                  NOTE\ncreate  zoë@fabrikam.example  x\nupdate  b\n",
	}, {
		name: "text lines do not widen columns",
		rows: [][]string{{"a", "b"}, {"cc", "d"}},
		text: map[int]string{0: "      a very long line of changes that is wider than any column"},
		want: "a   b\n      a very long line of changes that is wider than any column\ncc  d\n",
	}, {
		name: "control characters cannot break the layout",
		rows: [][]string{{"x\ty", "line\nbreak"}, {"z", "\x1b[31mred"}},
		want: "x y  line break\nz    \x20[31mred\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			tb := newTable(&b)
			for i, r := range tt.rows {
				tb.row(r...)
				if s, ok := tt.text[i]; ok {
					tb.text(s)
				}
			}
			if err := tb.flush(); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%q\nwant\n%q", b.String(), tt.want)
			}
		})
	}
}

func TestWritePlanGroupsSkips(t *testing.T) {
	id := "t-1"
	var acts []engine.Action
	for i := range 5 {
		acts = append(acts, engine.Action{Op: engine.OpSkip, SourceID: fmt.Sprint("s", i), UserPrincipalName: fmt.Sprintf("u%d@f.example", i),
			Reason: "out of scope: not a member of group \"G\"; no target user to deprovision"})
	}
	acts = append(acts,
		engine.Action{Op: engine.OpSkip, SourceID: "g1", UserPrincipalName: "guest@f.example", Reason: "out of scope: userType is Guest"},
		engine.Action{Op: engine.OpUpdate, SourceID: "u", UserPrincipalName: "upd@f.example", TargetID: &id, Reason: "in scope",
			Changes: mapping.Changes{"jobTitle": {Old: nil, New: "Lead"}, "department": {Old: "Sales", New: "Marketing"}}},
		engine.Action{Op: engine.OpCreate, SourceID: "c", UserPrincipalName: "new@f.example", Reason: "in scope", Error: "invite: 400 bad address"},
	)
	p := engine.Plan{Targets: []engine.TargetPlan{{Name: "contoso", Actions: acts,
		Held: []engine.Action{{Op: engine.OpDeprovision, SourceID: "h", UserPrincipalName: "held@f.example", TargetID: &id, Reason: "held"}}}}}
	var b bytes.Buffer
	if err := WritePlan(&b, p); err != nil {
		t.Fatal(err)
	}
	want := `contoso: 1 update, 1 held, 6 skip, 1 failed

  ACTION            USER            TARGET ID  REASON
  create            new@f.example   -          in scope
      error: invite: 400 bad address
  update            upd@f.example   t-1        in scope
      department: Sales → Marketing
      jobTitle: ∅ → Lead
  held deprovision  held@f.example  t-1        held

  Skipped:
    5 users  out of scope: not a member of group "G"; no target user to deprovision
    skip     guest@f.example  -  out of scope: userType is Guest

This is a dry run: nothing was written. ` + "`reconcile`" + ` carries it out.
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// failingStore is a real store whose link listing fails, as Table Storage
// does when it is unreachable.
type failingStore struct{ store.Store }

func (failingStore) ListLinks(context.Context, string, func(store.Link) error) error {
	return errors.New("GET https://acct.table.core.windows.net/links: 503 Server Busy")
}

func TestReadStatusNamesProblems(t *testing.T) {
	st, err := boltstore.OpenTemp(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 30 {
		result, errText := "ok", ""
		if i%2 == 0 {
			result, errText = "error", fmt.Sprint("failure ", i)
		}
		ev := store.Event{Time: now.Add(time.Duration(i) * time.Second), Target: "contoso", SourceID: fmt.Sprint("s", i), Action: "update", Result: result, Error: errText}
		if err := st.AppendEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	sub := store.Subscription{ID: "sub-1", Tenant: "f.example", Resource: "/users", Expiry: now.Add(50 * time.Hour),
		ClientStateID: "cs-1", ClientState: "SECRET-client-state", Created: now}
	if _, err := st.PutSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	s, err := ReadStatus(ctx, StatusOptions{Store: failingStore{st}, StoreName: "test", SourceTenant: "f.example",
		Targets: []string{"contoso"}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Problems) != 1 || s.Problems[0] != "could not count the links of target contoso: GET https://acct.table.core.windows.net/links: 503 Server Busy" {
		t.Errorf("problems = %q", s.Problems)
	}
	errs := s.Targets[0].RecentErrors
	if len(errs) != DefaultRecentErrors { // the newest 10 of the 15 that failed
		t.Fatalf("%d recent errors, want %d: %+v", len(errs), DefaultRecentErrors, errs)
	}
	if errs[0].Error != "failure 28" || errs[9].Error != "failure 10" {
		t.Errorf("recent errors not newest first: %+v", errs)
	}
	var b bytes.Buffer
	if err := WriteStatus(&b, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\nSubscriptions:\n  /users  sub-1  expires 2026-03-03 14:00:00Z (in 2 d 2 h)  ok\n") {
		t.Errorf("status text lacks the subscription:\n%s", b.String())
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, s); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String()+js.String(), "SECRET") {
		t.Errorf("status shows a subscription's client state:\n%s\n%s", b.String(), js.String())
	}
	if !strings.HasSuffix(b.String(), "\nProblems:\n  could not count the links of target contoso: GET https://acct.table.core.windows.net/links: 503 Server Busy\n") {
		t.Errorf("status text does not end with the problems:\n%s", b.String())
	}
}
