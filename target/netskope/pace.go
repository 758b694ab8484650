package netskope

import (
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/provsync/provsync/source/retry"
)

// Settings of adaptive pacing.
const (
	// paceHeadroom is the share of an advertised rate the client uses,
	// leaving room for clock skew and for requests bunching in transit.
	paceHeadroom = 0.97
	// paceCut multiplies the rate on a 429.
	paceCut = 0.8
	// paceSlowStart is how fast the rate grows, per second of busy
	// sending, before the first 429 when the server advertises no rate:
	// by 25% a second, so 4 req/s reach 20 in under 7 s.
	paceSlowStart = 0.25
	// paceProbe is how fast the rate grows after a 429 when the server
	// advertises no rate: by 0.5% a second, so a cut of 20% is made up
	// in about 45 s and a server's limit costs about one 429 a minute.
	paceProbe = 0.005
	// paceQuiet is how long after a 429 the client waits before it jumps
	// to an advertised rate again.
	paceQuiet = time.Minute
	// paceMinRate is the rate no 429 pushes the client below; the
	// server's Retry-After still holds it back further.
	paceMinRate = 0.1
	// paceBusy: a request that starts within this many intervals of the
	// one before means the rate, not the caller, is what limits requests,
	// so raising it is worth it. An idle client's rate does not grow.
	paceBusy = 1.5
)

// pacer decides when each request may start. It wraps a token bucket
// (golang.org/x/time/rate) and, when adaptive, sets its rate from what
// responses say:
//
//   - A response with RateLimit-Limit and RateLimit-Reset advertises a
//     rate: Limit requests per window, the window being the longest Reset
//     seen (at least a second). The rate jumps to paceHeadroom of it, and
//     never goes above it.
//   - Otherwise the rate grows while requests succeed and the rate is what
//     holds them back: fast (paceSlowStart) until the first 429, slowly
//     (paceProbe) after it.
//   - A 429 multiplies the rate by paceCut, once for all the requests
//     sent before the cut, and stops jumps to an advertised rate for
//     paceQuiet.
//
// The rate stays within [paceMinRate, max]. A fixed pacer (WithRateLimit)
// never changes its rate. The pacer reads no clock: every call says what
// time it is, so tests drive it in virtual time.
type pacer struct {
	mu       sync.Mutex
	lim      *rate.Limiter
	adaptive bool
	rate     float64
	max      float64

	lastSlot   time.Time     // start of the last reserved slot
	busy       bool          // that slot came within paceBusy intervals of the one before
	lastGrow   time.Time     // the rate's growth is counted from here
	lastCut    time.Time     // 429s of requests sent before this were answered already
	last429    time.Time     // zero until the first 429
	window     time.Duration // longest RateLimit-Reset seen
	advertised float64       // RateLimit-Limit per window; 0 when unknown
}

// newPacer returns a pacer at rps requests per second, burst requests back
// to back. An adaptive pacer moves its rate between paceMinRate and maxRPS.
func newPacer(rps float64, burst int, adaptive bool, maxRPS float64) *pacer {
	return &pacer{
		lim:      rate.NewLimiter(rate.Limit(rps), burst),
		adaptive: adaptive,
		rate:     rps,
		max:      maxRPS,
	}
}

// reserve books the next slot at or after now and returns it with how
// long to wait for it. Cancel the reservation if the wait is abandoned.
func (p *pacer) reserve(now time.Time) (*rate.Reservation, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rsv := p.lim.ReserveN(now, 1)
	if !rsv.OK() { // burst >= 1: cannot happen
		return rsv, 0
	}
	d := rsv.DelayFrom(now)
	slot := now.Add(d)
	interval := time.Duration(float64(time.Second) / p.rate)
	p.busy = !p.lastSlot.IsZero() && slot.Sub(p.lastSlot) <= time.Duration(paceBusy*float64(interval))
	p.lastSlot = slot
	return rsv, d
}

// observe learns from the answer to a request sent at sent and received
// at now. It returns the rate in force after it.
func (p *pacer) observe(sent, now time.Time, status int, h http.Header) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.adaptive {
		return p.rate
	}
	p.learnAdvertised(h, now)
	ceiling := p.max
	if p.advertised > 0 {
		ceiling = min(ceiling, paceHeadroom*p.advertised)
	}
	next := p.rate
	switch {
	case status == http.StatusTooManyRequests:
		p.last429 = now
		if sent.Before(p.lastCut) {
			return p.rate // this burst of 429s had its cut
		}
		next = p.rate * paceCut
		p.lastCut, p.lastGrow = now, now
	case status >= 500:
		return p.rate // not a verdict on the rate
	default:
		var dt time.Duration
		if !p.lastGrow.IsZero() {
			dt = min(now.Sub(p.lastGrow), time.Second)
		}
		p.lastGrow = now
		switch {
		case p.advertised > 0 && p.rate < ceiling && (p.last429.IsZero() || now.Sub(p.last429) >= paceQuiet):
			next = ceiling
		case p.busy && dt > 0:
			grow := paceProbe
			if p.last429.IsZero() {
				grow = paceSlowStart
			}
			next = p.rate * (1 + grow*dt.Seconds())
		}
	}
	next = max(paceMinRate, min(next, ceiling))
	if next != p.rate {
		p.rate = next
		p.lim.SetLimitAt(now, rate.Limit(next))
	}
	return p.rate
}

// learnAdvertised reads the rate a response advertises: RateLimit-Limit
// requests per window, the window being the longest RateLimit-Reset seen
// and at least a second.
func (p *pacer) learnAdvertised(h http.Header, now time.Time) {
	limit, ok := retry.HeaderNumber(h.Get("RateLimit-Limit"))
	if !ok || limit <= 0 {
		return
	}
	reset, ok := retry.Reset(h.Get("RateLimit-Reset"), now)
	if !ok {
		return
	}
	p.window = max(p.window, reset, time.Second)
	p.advertised = limit / p.window.Seconds()
}

// allowed returns the rate the tenant advertises, 0 when unknown.
func (p *pacer) allowed() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.advertised
}

// current returns the rate in force.
func (p *pacer) current() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rate
}

// observePace feeds the answer to a request sent at sent to the pacer and
// logs a change of rate.
func (c *Client) observePace(sent time.Time, res *response) {
	if c.pace == nil {
		return
	}
	before := c.pace.current()
	if after := c.pace.observe(sent, c.now(), res.status, res.header); after != before {
		c.log.Debug("netskope pace", zap.Float64("rps", after), zap.Int("status", res.status))
	}
}
