package operator

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/mapping"
)

// TestPlanStream drives a stream as the engine does and checks what the
// reader sees at each moment: the first line before anything is read, each
// action when it is decided, the deprovisions and the summary when the
// target is done.
func TestPlanStream(t *testing.T) {
	id := "6f1c8a4e-2f0b-4c8e-9d2b-5a0f3e1d7c9b"
	later := time.Date(2026, 12, 2, 9, 5, 0, 0, time.UTC)
	update := engine.Action{Op: engine.OpUpdate, SourceID: "3", UserPrincipalName: "zoe@f.example", TargetID: &id, Reason: "in scope",
		Changes: mapping.Changes{"department": {Old: "Sales", New: "Marketing"}}}
	create := engine.Action{Op: engine.OpCreate, SourceID: "2", UserPrincipalName: "mia@f.example", Reason: "in scope"}
	skip := engine.Action{Op: engine.OpSkip, SourceID: "4", UserPrincipalName: "ben@f.example", Reason: "out of scope"}
	pending := engine.Action{Op: engine.OpDeprovision, SourceID: "5", UserPrincipalName: "eva@f.example", TargetID: &id, Reason: "left", PendingUntil: &later}
	held := engine.Action{Op: engine.OpDeprovision, SourceID: "6", UserPrincipalName: "yan@f.example", TargetID: &id, Reason: "left", Held: true, PendingUntil: &later}

	var out, progress bytes.Buffer
	s := NewPlanStream(&out, &progress, false, []string{"contoso"})
	if got, want := out.String(), "Planning contoso: a dry run, nothing is written. Reading both tenants…\n"; got != want {
		t.Fatalf("first line = %q, want %q before anything is read", got, want)
	}
	opts := s.Options()
	opts.Read(engine.ReadProgress{SourceUsers: 999})
	for _, a := range []engine.Action{update, skip, create} {
		opts.Decided("contoso", a)
	}
	streamed := out.String()
	for _, want := range []string{
		"\ncontoso:\n  ACTION            USER                              TARGET ID                             REASON\n",
		"  update            zoe@f.example                     " + id + "  in scope\n      department: Sales → Marketing\n" +
			"  create            mia@f.example                     -                                     in scope\n",
	} {
		if !strings.Contains(streamed, want) {
			t.Errorf("after two decisions the output lacks %q:\n%s", want, streamed)
		}
	}
	if strings.Contains(streamed, "ben@f.example") || strings.Contains(streamed, "contoso: 1 create") {
		t.Errorf("a skip or the summary was written before the target was done:\n%s", streamed)
	}

	tp := engine.TargetPlan{Name: "contoso", Actions: []engine.Action{update, skip, create, pending}, Held: []engine.Action{held}}
	opts.TargetDone(tp)
	p := engine.Plan{Targets: []engine.TargetPlan{tp}}
	if err := s.Finish(p); err != nil {
		t.Fatal(err)
	}
	rest := strings.TrimPrefix(out.String(), streamed)
	want := "  deprovision       eva@f.example                     " + id + "  left\n" +
		"  held deprovision  yan@f.example                     " + id + "  left\n" +
		"\ncontoso: 1 create, 1 update, 1 deprovision, 1 held, 1 skip\n" +
		"\n  Skipped:\n    skip  ben@f.example  -  out of scope\n" +
		"\nThis is a dry run: nothing was written. `reconcile` carries it out.\n"
	if rest != want {
		t.Errorf("after the target was done:\n%s\nwant\n%s", rest, want)
	}
}

// TestPlanStreamNothingToDo: a target with nothing to do says so.
func TestPlanStreamNothingToDo(t *testing.T) {
	var out bytes.Buffer
	s := NewPlanStream(&out, nil, false, []string{"contoso", "closed"})
	opts := s.Options()
	for _, name := range []string{"contoso", "closed"} {
		opts.TargetDone(engine.TargetPlan{Name: name})
	}
	if err := s.Finish(engine.Plan{Targets: []engine.TargetPlan{{Name: "contoso"}, {Name: "closed"}}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Planning contoso, closed: ",
		"\ncontoso:\n  ACTION", "  nothing to create, update or deprovision\n\ncontoso: nothing to do\n",
		"\nclosed:\n", "\nTotal: nothing to do (2 targets)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestPlanStreamWriteError: a write that fails (a closed pipe) ends the
// writing and comes back from Finish.
func TestPlanStreamWriteError(t *testing.T) {
	w := &failingWriter{after: 1}
	s := NewPlanStream(w, nil, false, []string{"contoso"})
	s.Options().Decided("contoso", engine.Action{Op: engine.OpCreate, SourceID: "1"})
	if err := s.Finish(engine.Plan{}); !errors.Is(err, errBrokenPipe) {
		t.Errorf("Finish = %v, want the write error", err)
	}
	if w.writes != 2 {
		t.Errorf("%d writes, want none after the failing one", w.writes)
	}
}

var errBrokenPipe = errors.New("broken pipe")

type failingWriter struct{ after, writes int }

func (f *failingWriter) Write(p []byte) (int, error) {
	f.writes++
	if f.writes > f.after {
		return 0, errBrokenPipe
	}
	return len(p), nil
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 250000: "250,000", 1234567: "1,234,567", -1000: "-1,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
