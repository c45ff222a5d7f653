//go:build unix

package embedded

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/queue"
)

func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// An idle consumer waits on a signal, not in a polling loop: a second of
// idling, with a scheduled message an hour away, costs next to no CPU.
func TestIdleRunDoesNotSpin(t *testing.T) {
	q, _ := openQueue(t, tempPath(t))
	if err := q.Schedule(context.Background(), time.Now().Add(time.Hour), msg("later", "u")); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		start(t, q, RunOptions{}, func(context.Context, queue.Delivery) error { return nil })
	}
	time.Sleep(100 * time.Millisecond) // let the Runs settle into waiting
	before := cpuTime(t)
	time.Sleep(time.Second)
	if used := cpuTime(t) - before; used > 100*time.Millisecond {
		t.Errorf("4 idle consumers used %v of CPU in 1 s", used)
	}
}
