package graphsim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Faults are the failures the simulator injects, for tests and benchmarks.
// Setting them replaces the whole set; the zero value injects nothing.
type Faults struct {
	// ErrorRate is the fraction (0–1) of Graph operations (each item of a
	// $batch on its own) answered with an error instead of being served.
	ErrorRate float64 `json:"errorRate"`
	// ErrorStatuses are the statuses injected errors pick from, uniformly.
	// Default 503, 429, 504. 429 and 503 carry Retry-After.
	ErrorStatuses []int `json:"errorStatuses,omitempty"`
	// FailNext fails exactly the next N Graph operations (before ErrorRate
	// applies), with the statuses of ErrorStatuses in turn: a
	// deterministic fault for tests.
	FailNext int `json:"failNext,omitempty"`
	// RetryAfterSeconds is the Retry-After of injected 429 and 503.
	// Default 1.
	RetryAfterSeconds int `json:"retryAfterSeconds,omitempty"`
	// LatencyMs is added to every Graph operation.
	LatencyMs int `json:"latencyMs"`
	// Throttle is the throttling model: "off" (default), "real" (the
	// identity and access limits), or "xN" (the same buckets refilled N
	// times as fast, so a benchmark meets the same shape sooner).
	Throttle string `json:"throttle"`
	// Notifications are faults of change notification delivery.
	Notifications NotificationFaults `json:"notifications"`
}

// NotificationFaults disturb change notifications. Rates are fractions
// (0–1) of notifications.
type NotificationFaults struct {
	Drop      float64 `json:"drop"`      // never delivered
	Duplicate float64 `json:"duplicate"` // delivered twice
	Reorder   float64 `json:"reorder"`   // held back behind later ones
	DelayMs   int     `json:"delayMs"`   // added before each delivery
}

// faultState is the parsed, active fault set.
type faultState struct {
	Faults
	scale    float64 // throttle refill multiplier; 0 = off
	failNext atomic.Int64
	turn     atomic.Int64
}

func parseFaults(f Faults) (*faultState, error) {
	st := &faultState{Faults: f}
	if f.ErrorRate < 0 || f.ErrorRate > 1 {
		return nil, fmt.Errorf("errorRate %v: want 0..1", f.ErrorRate)
	}
	for _, code := range f.ErrorStatuses {
		if code < 400 || code > 599 {
			return nil, fmt.Errorf("errorStatuses: %d is not an error status", code)
		}
	}
	if len(st.ErrorStatuses) == 0 {
		st.ErrorStatuses = []int{http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusGatewayTimeout}
	}
	if st.RetryAfterSeconds <= 0 {
		st.RetryAfterSeconds = 1
	}
	if f.LatencyMs < 0 || f.Notifications.DelayMs < 0 {
		return nil, fmt.Errorf("latencies must not be negative")
	}
	for name, r := range map[string]float64{"drop": f.Notifications.Drop, "duplicate": f.Notifications.Duplicate, "reorder": f.Notifications.Reorder} {
		if r < 0 || r > 1 {
			return nil, fmt.Errorf("notifications.%s %v: want 0..1", name, r)
		}
	}
	switch mode := strings.ToLower(strings.TrimSpace(f.Throttle)); {
	case mode == "" || mode == "off":
		st.Throttle = "off"
	case mode == "real":
		st.Throttle, st.scale = "real", 1
	case strings.HasPrefix(mode, "x"):
		n, err := strconv.ParseFloat(mode[1:], 64)
		if err != nil || n <= 0 || math.IsInf(n, 0) || math.IsNaN(n) {
			return nil, fmt.Errorf("throttle %q: want off, real or xN with N > 0", f.Throttle)
		}
		st.Throttle, st.scale = mode, n
	default:
		return nil, fmt.Errorf("throttle %q: want off, real or xN", f.Throttle)
	}
	st.failNext.Store(int64(f.FailNext))
	return st, nil
}

// SetFaults replaces the faults and throttling in force.
func (s *Server) SetFaults(f Faults) error {
	st, err := parseFaults(f)
	if err != nil {
		return fmt.Errorf("set faults: %w", err)
	}
	s.faults.Store(st)
	return nil
}

// Faults returns the faults in force; FailNext is what is left of it.
func (s *Server) Faults() Faults {
	st := s.faults.Load()
	f := st.Faults
	f.FailNext = int(st.failNext.Load())
	return f
}

func (f *faultState) latency() time.Duration {
	return time.Duration(f.LatencyMs) * time.Millisecond
}

// injectError decides whether this operation fails, and with which status.
func (f *faultState) injectError() (int, bool) {
	for {
		n := f.failNext.Load()
		if n <= 0 {
			break
		}
		if f.failNext.CompareAndSwap(n, n-1) {
			i := f.turn.Add(1) - 1
			return f.ErrorStatuses[int(i)%len(f.ErrorStatuses)], true
		}
	}
	if f.ErrorRate > 0 && rand.Float64() < f.ErrorRate {
		return f.ErrorStatuses[rand.IntN(len(f.ErrorStatuses))], true
	}
	return 0, false
}

func (f *faultState) retryAfterSeconds() int { return f.RetryAfterSeconds }

// throttle holds a tenant's token buckets under the identity and access
// limits (https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits): per app and tenant (the simulator has one
// app per tenant), resource units per 10 s by tenant size and 3,000 writes
// per 2 minutes 30 seconds; and per tenant for all apps together, 18,000
// writes per 5 minutes. With one app the per-app write bucket empties
// first; the tenant bucket is kept so that the limits in force are the
// ones Graph documents.
type throttle struct {
	mu         sync.Mutex
	ru, wr, tw float64 // tokens left: resource units, app writes, tenant writes
	last       time.Time
	full       bool // buckets initialised
}

// Limits are the throttling limits in force for a tenant.
type Limits struct {
	Throttle            string `json:"throttle"`
	ResourceUnitsPer10s int    `json:"resourceUnitsPer10s"`
	WritesPer150s       int    `json:"writesPer150s"`
	// TenantWritesPer5Min is the write quota of the tenant for all apps
	// together.
	TenantWritesPer5Min int     `json:"tenantWritesPer5Min"`
	RefillScale         float64 `json:"refillScale"`
	// WritesPerSecond is the sustained write rate the throttle allows (0:
	// unlimited), the denominator of a benchmark's write quota
	// utilisation.
	WritesPerSecond float64 `json:"writesPerSecond"`
}

// ruCapacity is the resource unit quota per 10 s for a tenant of n users.
func ruCapacity(users int) float64 {
	switch {
	case users < 50:
		return 3500
	case users <= 500:
		return 5000
	default:
		return 8000
	}
}

const (
	writeCapacity       = 3000
	writeWindow         = 150 * time.Second
	ruWindow            = 10 * time.Second
	tenantWriteCapacity = 18000
	tenantWriteWindow   = 5 * time.Minute
)

func limitsFor(f *faultState, users int) Limits {
	l := Limits{Throttle: "off"}
	if f == nil || f.scale == 0 {
		return l
	}
	l.Throttle = f.Throttle
	l.ResourceUnitsPer10s = int(ruCapacity(users))
	l.WritesPer150s = writeCapacity
	l.TenantWritesPer5Min = tenantWriteCapacity
	l.RefillScale = f.scale
	l.WritesPerSecond = writeCapacity / writeWindow.Seconds() * f.scale
	return l
}

// take charges cost resource units (and, for a write, one write from the
// app's and the tenant's write quotas) or says how many seconds to wait.
func (th *throttle) take(f *faultState, now time.Time, cost int, write bool, users int) (int, bool) {
	if f == nil || f.scale == 0 {
		return 0, true
	}
	ruCap := ruCapacity(users)
	ruRate := ruCap / ruWindow.Seconds() * f.scale
	wrRate := writeCapacity / writeWindow.Seconds() * f.scale
	twRate := tenantWriteCapacity / tenantWriteWindow.Seconds() * f.scale
	th.mu.Lock()
	defer th.mu.Unlock()
	if !th.full {
		th.ru, th.wr, th.tw, th.last, th.full = ruCap, writeCapacity, tenantWriteCapacity, now, true
	}
	if dt := now.Sub(th.last).Seconds(); dt > 0 {
		th.ru = math.Min(ruCap, th.ru+dt*ruRate)
		th.wr = math.Min(writeCapacity, th.wr+dt*wrRate)
		th.tw = math.Min(tenantWriteCapacity, th.tw+dt*twRate)
		th.last = now
	}
	th.ru = math.Min(th.ru, ruCap)
	wait := 0.0
	if th.ru < float64(cost) {
		wait = (float64(cost) - th.ru) / ruRate
	}
	if write && th.wr < 1 {
		wait = math.Max(wait, (1-th.wr)/wrRate)
	}
	if write && th.tw < 1 {
		wait = math.Max(wait, (1-th.tw)/twRate)
	}
	if wait > 0 {
		return max(1, int(math.Ceil(wait))), false
	}
	th.ru -= float64(cost)
	if write {
		th.wr--
		th.tw--
	}
	return 0, true
}
