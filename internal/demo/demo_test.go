package demo_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tenantsync/tenantsync/internal/demo"
	"github.com/tenantsync/tenantsync/internal/devtools/testenv"
)

// TestDemo plays the README's first command, then loads the status page in
// headless Chromium while everything is still up and checks what it shows.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	played := make(chan demo.Result, 1)
	done := make(chan error, 1)
	go func() {
		_, err := demo.Run(ctx, demo.Options{
			Out:         &out,
			KeepRunning: true,
			Played:      func(r demo.Result) { played <- r },
		})
		done <- err
	}()
	var res demo.Result
	select {
	case res = <-played:
	case err := <-done:
		t.Fatalf("demo ended before its story: %v\n%s", err, out.String())
	}
	if res.Synced < 50 || len(res.Steps) != 5 {
		t.Fatalf("demo synced %d users and played %d steps, want the demo population and 5 steps\n%s", res.Synced, len(res.Steps), out.String())
	}
	// One group, created in Contoso with its members (Run read them from
	// Contoso's Graph, and checked them against the plan).
	if res.GroupMembers == 0 {
		t.Errorf("the demo's group has no members in Contoso\n%s", out.String())
	}
	if want := fmt.Sprintf("Group %q: created in Contoso as a security group with its %d members.\n", demo.Group, res.GroupMembers); !strings.Contains(out.String(), want) {
		t.Errorf("the story does not say %q:\n%s", want, out.String())
	}
	for _, s := range res.Steps {
		if s.Latency > 5*time.Second {
			t.Errorf("%s took %s", s.What, s.Latency)
		}
	}

	b := testenv.Browser(t, time.Minute)
	if err := chromedp.Do(b, chromedp.Navigate(res.StatusURL), chromedp.WaitVisible(chromedp.CSS("table.targets"))); err != nil {
		t.Fatalf("load the status page %s: %v", res.StatusURL, err)
	}
	counts := testenv.Eval[map[string]string](t, b, `Object.fromEntries([...document.querySelectorAll('tr[data-target="contoso"] td[data-state]')].map(td => [td.dataset.state, td.innerText.trim()]))`)
	// The story invites one person and removes two (deleted, out of scope).
	if want := strconv.Itoa(res.Synced - 1); counts["active"] != want {
		t.Errorf("active users on the status page = %q, want %s (%v)", counts["active"], want, counts)
	}
	if counts["deleted"] != "2" {
		t.Errorf("deleted users on the status page = %q, want 2", counts["deleted"])
	}
	if groups := testenv.Eval[string](t, b, `document.querySelector('tr[data-target="contoso"] .groups')?.dataset.groupsSynced ?? ""`); groups != "1" {
		t.Errorf("synced groups on the status page = %q, want 1", groups)
	}
	events := testenv.Eval[string](t, b, `[...document.querySelectorAll('tr.event')].map(tr => tr.innerText).join("\n")`)
	if !strings.Contains(events, "ada.lovelace@fabrikam.example") {
		t.Errorf("the status page's events do not show Ada Lovelace's invitation:\n%s", events)
	}
	if points := testenv.Eval[int](t, b, `document.querySelectorAll('svg.chart circle.pt').length`); points == 0 {
		t.Errorf("the latency chart has no points")
	}
	cancel()
	if err := <-done; err != nil && ctx.Err() == nil {
		t.Errorf("demo: %v", err)
	}
}
