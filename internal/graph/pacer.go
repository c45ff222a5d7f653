package graph

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"sync"
	"time"

	khttp "github.com/microsoft/kiota-http-go"
)

// WritePacing configures how a Client paces the writes it sends to its
// tenant.
//
// Graph limits writes per app and tenant with a token bucket (3,000 per
// 150 s: 20 a second sustained after a burst) and answers 429 with
// Retry-After beyond it. A client that only reacts to 429s lets every caller
// discover the limit on its own: each queue handler in flight is throttled,
// re-scheduled and run again, re-reading what it had read and sometimes
// repeating a write it had made, and all the while the 429s keep coming. The
// pacer instead spaces the tenant's writes at a rate it learns, holds every
// write to the tenant (not only the throttled one) until the Retry-After of a
// 429 has passed, cuts its rate when Graph throttles, and raises it again
// while writes queue up and nothing is throttled. It needs no knowledge of the
// quota, so it runs just under whatever the quota is: Graph's, a share of it
// when several instances write to the same tenant, or a simulator's scaled
// one.
type WritePacing struct {
	// Off sends writes as they come, leaving throttling to Graph's 429s.
	Off bool
	// InitialRate is the writes per second to start at. Default 20,
	// Graph's sustained write rate per app and tenant.
	InitialRate float64
	// MaxWait bounds how long a write waits for its turn inside the call.
	// When its turn is further away, the call fails at once, without
	// sending anything, with a throttling *directory.Error whose RetryAfter
	// is the wait: a queue handler then re-schedules its change instead of
	// holding the session. Default 5 s.
	MaxWait time.Duration
}

// Pacing constants. The rate doubles every pacerStartProbe while writes
// queue for their turns until Graph first throttles (the quota is unknown:
// find it fast); after that it is cut by pacerDecrease once per throttling
// episode (the 429s of writes already in flight when the first came back
// belong to the same episode) and raised by pacerIncrease every pacerProbe
// while writes queue and none is throttled.
const (
	defaultWriteRate   = 20.0
	defaultMaxWait     = 5 * time.Second
	pacerStartIncrease = 2.0
	pacerStartProbe    = time.Second
	pacerDecrease      = 0.8
	pacerIncrease      = 1.1
	pacerProbe         = 5 * time.Second
	pacerMinRate       = 0.2
	pacerMaxRate       = 10000.0
	// defaultRetryAfter is the pause after a 429 that names none.
	defaultRetryAfter = time.Second
)

// pacer paces one tenant's writes. It is safe for concurrent use.
type pacer struct {
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error
	maxWait time.Duration

	mu   sync.Mutex
	rate float64 // writes per second
	// next is the earliest time of the next write's turn; pausedUntil the
	// end of the last Retry-After.
	next, pausedUntil time.Time
	// epoch counts 429s: a write that waited through one takes a new turn.
	epoch uint64
	// episodeEnd ends the current throttling episode: a 429 before it does
	// not cut the rate again.
	episodeEnd time.Time
	// throttledEver ends the start, when the rate doubles.
	throttledEver bool
	// lastThrottle and lastRaise are the last 429 and the last raise;
	// queuedSince is when writes began to wait at least half an interval
	// for their turns without a break (the rate, not the callers, sets the
	// pace), zero while they do not.
	lastThrottle, lastRaise, queuedSince time.Time
}

func newPacer(opts WritePacing) *pacer {
	p := &pacer{now: time.Now, sleep: sleepCtx, maxWait: opts.MaxWait, rate: opts.InitialRate}
	if p.rate <= 0 {
		p.rate = defaultWriteRate
	}
	p.rate = min(max(p.rate, pacerMinRate), pacerMaxRate)
	if p.maxWait <= 0 {
		p.maxWait = defaultMaxWait
	}
	return p
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pacedError is a write the pacer did not send because its turn was more
// than MaxWait away. mapError turns it into a throttling *directory.Error.
type pacedError struct {
	wait time.Duration
}

func (e *pacedError) Error() string {
	return fmt.Sprintf("write held back by the client: the tenant's write quota is used up for the next %s", e.wait.Round(time.Millisecond))
}

// acquire waits for the write's turn, or returns a *pacedError at once when
// the turn is more than MaxWait away.
func (p *pacer) acquire(ctx context.Context) error {
	for {
		p.mu.Lock()
		now := p.now()
		p.probe(now)
		at := now
		if p.next.After(at) {
			at = p.next
		}
		if p.pausedUntil.After(at) {
			at = p.pausedUntil
		}
		wait := at.Sub(now)
		if wait > p.maxWait {
			p.mu.Unlock()
			return &pacedError{wait: wait}
		}
		interval := time.Duration(float64(time.Second) / p.rate)
		switch {
		case wait < interval/2:
			p.queuedSince = time.Time{}
		case p.queuedSince.IsZero():
			p.queuedSince = now
		}
		p.next = at.Add(interval)
		epoch := p.epoch
		p.mu.Unlock()
		if wait <= 0 {
			return nil
		}
		if err := p.sleep(ctx, wait); err != nil {
			return err
		}
		p.mu.Lock()
		same := p.epoch == epoch
		p.mu.Unlock()
		if same {
			return nil
		}
		// Graph throttled a write while this one waited: its turn is void,
		// take a new one behind the pause.
	}
}

// probe raises the rate when writes have been queueing for their turns and
// Graph has throttled none of them for a while: the quota may be larger
// than the rate. The caller holds p.mu.
func (p *pacer) probe(now time.Time) {
	every, factor := pacerProbe, pacerIncrease
	if !p.throttledEver {
		every, factor = pacerStartProbe, pacerStartIncrease
	}
	if p.queuedSince.IsZero() || now.Sub(p.queuedSince) < every ||
		now.Sub(p.lastRaise) < every || now.Sub(p.lastThrottle) < every {
		return
	}
	p.rate = min(p.rate*factor, pacerMaxRate)
	p.lastRaise = now
}

// throttled records a 429 (or a 503 with Retry-After) to a write: every
// write waits until retryAfter has passed, and the rate is cut once per
// episode.
func (p *pacer) throttled(retryAfter time.Duration) {
	if retryAfter <= 0 {
		retryAfter = defaultRetryAfter
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if until := now.Add(retryAfter); until.After(p.pausedUntil) {
		p.pausedUntil = until
	}
	p.next = p.pausedUntil
	p.epoch++
	p.lastThrottle, p.throttledEver, p.queuedSince = now, true, time.Time{}
	if !now.Before(p.episodeEnd) {
		p.rate = max(p.rate*pacerDecrease, pacerMinRate)
		p.episodeEnd = p.pausedUntil
	}
}

// currentRate returns the write rate.
func (p *pacer) currentRate() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rate
}

// readActions are the POST actions that read: Graph counts them against
// the resource units, not the write quota.
var readActions = map[string]bool{
	"checkMemberGroups": true, "getMemberGroups": true, "checkMemberObjects": true,
	"getMemberObjects": true, "getByIds": true, "$batch": true,
	"microsoft.graph.checkMemberGroups": true, "microsoft.graph.getMemberGroups": true,
	"microsoft.graph.checkMemberObjects": true, "microsoft.graph.getMemberObjects": true,
	"microsoft.graph.getByIds": true,
}

// isWrite reports whether req counts against Graph's write quota.
func isWrite(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	case http.MethodPost:
		return !readActions[path.Base(req.URL.Path)]
	}
	return true
}

// pacerHandler is the middleware that paces writes: it waits for each
// write's turn before sending it and tells the pacer about 429s.
type pacerHandler struct {
	p *pacer
}

var _ khttp.Middleware = (*pacerHandler)(nil)

// Intercept implements khttp.Middleware.
func (h *pacerHandler) Intercept(pl khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	if !isWrite(req) {
		return pl.Next(req, i)
	}
	if err := h.p.acquire(req.Context()); err != nil {
		return nil, err
	}
	resp, err := pl.Next(req, i)
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests ||
		resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "") {
		h.p.throttled(parseRetryAfter(resp.Header.Get("Retry-After"), h.p.now()))
	}
	return resp, err
}
