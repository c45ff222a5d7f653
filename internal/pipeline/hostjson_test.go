package pipeline_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/pipeline"
)

// queueLockDuration is the changes queue's lockDuration
// (infra/modules/servicebus.bicep): how long a session lock outlives its
// last renewal.
const queueLockDuration = time.Minute

// TestHostJSONCoversProcessChange holds host.json to the numbers
// ProcessChangeTimeout is reasoned from. The Service Bus extension renews a
// session lock for maxAutoLockRenewalDuration from when it accepted the
// session, for every message it handles in it back to back; past that the
// lock lapses and another instance may take the same user. The window must
// cover any invocation the host lets run (functionTimeout) and several
// ProcessChange invocations at their deadline.
func TestHostJSONCoversProcessChange(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "host.json"))
	if err != nil {
		t.Fatal(err)
	}
	var host struct {
		FunctionTimeout string
		Extensions      struct {
			ServiceBus struct {
				MaxAutoLockRenewalDuration   string
				SessionIdleTimeout           string
				MaxConcurrentCallsPerSession *int
			}
		}
	}
	if err := json.Unmarshal(b, &host); err != nil {
		t.Fatalf("host.json: %v", err)
	}
	parse := func(name, v string) time.Duration {
		t.Helper()
		d, err := timeSpan(v)
		if err != nil {
			t.Fatalf("host.json %s = %q: %v", name, v, err)
		}
		return d
	}
	functionTimeout := parse("functionTimeout", host.FunctionTimeout)
	renewal := parse("extensions.serviceBus.maxAutoLockRenewalDuration", host.Extensions.ServiceBus.MaxAutoLockRenewalDuration)
	idle := parse("extensions.serviceBus.sessionIdleTimeout", host.Extensions.ServiceBus.SessionIdleTimeout)

	// How many ProcessChange invocations of one session, each at its
	// deadline, the renewal window must cover.
	const coveredInvocations = 7
	checks := []struct {
		what string
		ok   bool
	}{
		{"ProcessChangeTimeout is shorter than functionTimeout, so that our deadline, with its reason, ends a stuck invocation, not the host's timeout",
			pipeline.ProcessChangeTimeout < functionTimeout},
		{"maxAutoLockRenewalDuration covers functionTimeout: no invocation the host lets run outlives its session lock",
			renewal >= functionTimeout},
		{"maxAutoLockRenewalDuration covers 7 ProcessChange invocations of one session at their deadline",
			renewal >= coveredInvocations*pipeline.ProcessChangeTimeout},
		{"ProcessChangeTimeout, plus the lock's own duration, is well inside the renewal window",
			pipeline.ProcessChangeTimeout+queueLockDuration < renewal},
		{"sessionIdleTimeout is short, so that an idle session is let go and its renewal stops",
			idle > 0 && idle <= 10*time.Second},
		{"maxConcurrentCallsPerSession is unset or 1: one user's changes one at a time",
			host.Extensions.ServiceBus.MaxConcurrentCallsPerSession == nil || *host.Extensions.ServiceBus.MaxConcurrentCallsPerSession == 1},
		{"the re-schedule tries fit inside ProcessChangeTimeout",
			pipeline.DefaultRescheduleBackoff*(1<<(pipeline.DefaultRescheduleTries-1)) < pipeline.ProcessChangeTimeout/4},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s (ProcessChangeTimeout %s, functionTimeout %s, maxAutoLockRenewalDuration %s, sessionIdleTimeout %s)",
				c.what, pipeline.ProcessChangeTimeout, functionTimeout, renewal, idle)
		}
	}
}

// timeSpan parses a .NET TimeSpan as host.json writes one: [d.]hh:mm:ss.
// The extension's "infinite" (a negative span) is refused: it is not a
// bound the checks can reason about.
func timeSpan(s string) (time.Duration, error) {
	days, rest := 0, s
	if colon := strings.IndexByte(s, ':'); colon > 0 {
		if dot := strings.IndexByte(s[:colon], '.'); dot >= 0 {
			var err error
			if days, err = strconv.Atoi(s[:dot]); err != nil || days < 0 {
				return 0, fmt.Errorf("days %q: want a whole number", s[:dot])
			}
			rest = s[dot+1:]
		}
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return 0, errors.New("want [d.]hh:mm:ss")
	}
	var n [3]int
	for i, limit := range [3]int{24, 60, 60} {
		v, err := strconv.Atoi(parts[i])
		if err != nil || v < 0 || v >= limit || len(parts[i]) != 2 {
			return 0, fmt.Errorf("%q: want two digits below %d", parts[i], limit)
		}
		n[i] = v
	}
	return time.Duration(days)*24*time.Hour + time.Duration(n[0])*time.Hour + time.Duration(n[1])*time.Minute + time.Duration(n[2])*time.Second, nil
}

func TestTimeSpan(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"00:30:00", 30 * time.Minute, true},
		{"00:00:01", time.Second, true},
		{"1.02:00:00", 26 * time.Hour, true},
		{"-00:00:00.0010000", 0, false},
		{"30:00", 0, false},
		{"00:60:00", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := timeSpan(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("timeSpan(%q) = %s, %v; want %s, ok %t", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
