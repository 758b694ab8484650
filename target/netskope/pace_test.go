package netskope

import (
	"container/heap"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/source/retry"
)

// simBucket is a server's rate limit in virtual time: a token bucket of
// burst tokens gaining rps a second, answering with RateLimit-* headers
// and Retry-After as Netskope's gateway does, or with none of them.
type simBucket struct {
	rps, burst, tokens float64
	last               time.Time
	headers            bool
}

func newSimBucket(rps float64, headers bool) *simBucket {
	b := math.Ceil(rps)
	return &simBucket{rps: rps, burst: b, tokens: b, headers: headers}
}

func (b *simBucket) take(now time.Time) (int, http.Header) {
	if !b.last.IsZero() {
		b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rps)
	}
	b.last = now
	status := http.StatusTooManyRequests
	if b.tokens >= 1 {
		b.tokens--
		status = http.StatusOK
	}
	h := http.Header{}
	if b.headers {
		h.Set("RateLimit-Limit", strconv.Itoa(int(b.burst)))
		h.Set("RateLimit-Remaining", strconv.Itoa(int(b.tokens)))
		h.Set("RateLimit-Reset", strconv.Itoa(int(math.Ceil((b.burst-b.tokens)/b.rps))))
		if status != http.StatusOK {
			h.Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil((1-b.tokens)/b.rps)))))
		}
	}
	return status, h
}

// simEvent is one step of one simulated caller.
type simEvent struct {
	at     time.Time
	seq    int
	kind   int // simReady, simArrive or simReply
	worker int
	sent   time.Time
	status int
	header http.Header
}

const (
	simReady = iota
	simArrive
	simReply
)

type simQueue []simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// simLoad is what the simulated callers do.
type simLoad struct {
	workers int           // callers sending back to back
	latency time.Duration // request to answer; the server decides halfway
	think   time.Duration // pause of a caller between its requests
}

// simMinute is what the server saw in one minute of virtual time.
type simMinute struct {
	ok, limited int
}

// simulate runs callers through p against b for the given number of
// minutes of virtual time and returns what the server saw each minute. A
// caller answered 429 retries after Retry-After, else after 500ms, as the
// client does with full jitter on average.
func simulate(p *pacer, b *simBucket, load simLoad, minutes int) []simMinute {
	start := testEpoch
	end := start.Add(time.Duration(minutes) * time.Minute)
	out := make([]simMinute, minutes)
	q := &simQueue{}
	seq := 0
	push := func(e simEvent) {
		seq++
		e.seq = seq
		heap.Push(q, e)
	}
	for w := range load.workers {
		push(simEvent{at: start, kind: simReady, worker: w})
	}
	for q.Len() > 0 {
		e := heap.Pop(q).(simEvent)
		if !e.at.Before(end) {
			break
		}
		switch e.kind {
		case simReady:
			_, d := p.reserve(e.at)
			sent := e.at.Add(d)
			push(simEvent{at: sent.Add(load.latency / 2), kind: simArrive, worker: e.worker, sent: sent})
		case simArrive:
			status, h := b.take(e.at)
			m := &out[int(e.at.Sub(start)/time.Minute)]
			if status == http.StatusOK {
				m.ok++
			} else {
				m.limited++
			}
			push(simEvent{at: e.at.Add(load.latency / 2), kind: simReply, worker: e.worker,
				sent: e.sent, status: status, header: h})
		case simReply:
			p.observe(e.sent, e.at, e.status, e.header)
			next := e.at.Add(load.think)
			if e.status == http.StatusTooManyRequests {
				wait := 500 * time.Millisecond
				if d, ok := retry.RetryAfter(e.header.Get("Retry-After"), e.at); ok {
					wait = d
				}
				next = e.at.Add(wait)
			}
			push(simEvent{at: next, kind: simReady, worker: e.worker})
		}
	}
	return out
}

func (m simMinute) share(rps float64) float64 { return float64(m.ok) / (rps * 60) }

// The three server behaviours of the pacing goals, in virtual time: with
// rate headers the default client uses at least 95% of the allowed rate in
// the first minute and sees at most one 429; without them it settles to a
// few 429s a minute. A fixed rate and a capped adaptive rate stay where
// the caller put them.
func TestPacingSimulated(t *testing.T) {
	busy := simLoad{workers: 4, latency: 40 * time.Millisecond}
	adaptive := func() *pacer { return newPacer(DefaultRateLimit, 1, true, DefaultMaxRate) }
	tests := []struct {
		name    string
		pacer   *pacer
		rps     float64
		headers bool
		load    simLoad
		minutes int
		// Over the first minute.
		minShare, maxShare float64
		max429First        int
		// Over every minute after the first.
		minShareLater float64
		max429Later   int
		wantRate      func(float64) bool
	}{
		{
			name: "headers, 20 req/s", pacer: adaptive(), rps: 20, headers: true, load: busy, minutes: 3,
			minShare: 0.95, maxShare: 1.02, max429First: 1, minShareLater: 0.95, max429Later: 0,
		},
		{
			name: "headers, 7 req/s", pacer: adaptive(), rps: 7, headers: true, load: busy, minutes: 3,
			minShare: 0.95, maxShare: 1.02, max429First: 1, minShareLater: 0.95, max429Later: 0,
		},
		{
			name: "no headers, 20 req/s", pacer: adaptive(), rps: 20, headers: false, load: busy, minutes: 6,
			minShare: 0.85, maxShare: 1.02, max429First: 6, minShareLater: 0.9, max429Later: 3,
		},
		{
			name: "no headers, 7 req/s", pacer: adaptive(), rps: 7, headers: false, load: busy, minutes: 6,
			minShare: 0.85, maxShare: 1.02, max429First: 6, minShareLater: 0.9, max429Later: 3,
		},
		{
			name: "fixed 4 req/s wins", pacer: newPacer(4, 1, false, 0), rps: 20, headers: true, load: busy, minutes: 2,
			minShare: 0.19, maxShare: 0.21, max429First: 0, minShareLater: 0.19, max429Later: 0,
			wantRate: func(r float64) bool { return r == 4 },
		},
		{
			name: "adaptive capped at 10", pacer: newPacer(4, 1, true, 10), rps: 20, headers: true, load: busy, minutes: 2,
			minShare: 0.48, maxShare: 0.51, max429First: 0, minShareLater: 0.49, max429Later: 0,
			wantRate: func(r float64) bool { return r == 10 },
		},
		{
			name: "no headers, capped at 10", pacer: newPacer(4, 1, true, 10), rps: 20, headers: false, load: busy, minutes: 2,
			minShare: 0.4, maxShare: 0.51, max429First: 0, minShareLater: 0.49, max429Later: 0,
			wantRate: func(r float64) bool { return r == 10 },
		},
		{
			// One request a second: the rate is not what holds the
			// caller back, so it does not grow.
			name: "idle caller, no headers", pacer: adaptive(), rps: 20, headers: false,
			load: simLoad{workers: 1, latency: 40 * time.Millisecond, think: time.Second}, minutes: 3,
			minShare: 0.04, maxShare: 0.05, max429First: 0, minShareLater: 0.04, max429Later: 0,
			wantRate: func(r float64) bool { return r == DefaultRateLimit },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := simulate(tt.pacer, newSimBucket(tt.rps, tt.headers), tt.load, tt.minutes)
			t.Logf("per minute: %s; rate at the end %.2f req/s", minutesString(got, tt.rps), tt.pacer.current())
			if s := got[0].share(tt.rps); s < tt.minShare || s > tt.maxShare {
				t.Errorf("first minute: %.3f of the allowed rate used, want %.2f to %.2f", s, tt.minShare, tt.maxShare)
			}
			if got[0].limited > tt.max429First {
				t.Errorf("first minute: %d 429s, want at most %d", got[0].limited, tt.max429First)
			}
			for i, m := range got[1:] {
				if s := m.share(tt.rps); s < tt.minShareLater {
					t.Errorf("minute %d: %.3f of the allowed rate used, want at least %.2f", i+2, s, tt.minShareLater)
				}
				if m.limited > tt.max429Later {
					t.Errorf("minute %d: %d 429s, want at most %d", i+2, m.limited, tt.max429Later)
				}
			}
			if tt.wantRate != nil && !tt.wantRate(tt.pacer.current()) {
				t.Errorf("rate at the end %v", tt.pacer.current())
			}
		})
	}
}

func minutesString(ms []simMinute, rps float64) string {
	s := ""
	for i, m := range ms {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%.3f/%d", m.share(rps), m.limited)
	}
	return s
}

// The client's pacing, on a frozen fake clock: every request is booked at
// the same instant, so the waits asked for show the rate in force.
func TestClientPacing(t *testing.T) {
	advertise := func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("RateLimit-Limit", "20")
		w.Header().Set("RateLimit-Remaining", "19")
		w.Header().Set("RateLimit-Reset", "1")
		okUser(w, r)
	}
	at := func(rps float64, n int) []time.Duration { // the waits of n more requests at rps
		var out []time.Duration
		for k := 1; k <= n; k++ {
			out = append(out, time.Duration(float64(k)*float64(time.Second)/rps))
		}
		return out
	}
	tests := []struct {
		name      string
		handler   func(http.ResponseWriter, *http.Request, int)
		opts      []Option
		wantWaits []time.Duration // of requests 2 to 4
		wantRate  float64
		// wantAllowed is the advertised rate RequestStats reports: what
		// adaptive pacing learnt.
		wantAllowed float64
	}{
		{"default: advertised 20 req/s", advertise, nil, at(19.4, 3), 19.4, 20},
		{"default: no headers, frozen clock", scripted(nil, okUser), nil, at(4, 3), 4, 0},
		{"adaptive capped at 8", advertise, []Option{WithAdaptiveRate(2, 8)}, at(8, 3), 8, 20},
		{"fixed rate ignores headers", advertise, []Option{WithRateLimit(4, 1)}, at(4, 3), 4, 0},
		{"last option wins: fixed", advertise, []Option{WithAdaptiveRate(2, 8), WithRateLimit(5, 1)}, at(5, 3), 5, 0},
		{"last option wins: adaptive", advertise, []Option{WithRateLimit(5, 1), WithAdaptiveRate(2, 8)}, at(8, 3), 8, 20},
		{"disabled", advertise, []Option{noLimit()}, nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, tt.handler)
			c, fc := newTestClient(t, srv.URL, tt.opts...)
			fc.frozen = true
			if _, err := c.GetUser(ctxT(t), "u1"); err != nil {
				t.Fatal(err)
			}
			if got := c.Stats().Rate; math.Abs(got-tt.wantRate) > 1e-9 {
				t.Errorf("rate after one answer %v, want %v", got, tt.wantRate)
			}
			if rs := c.RequestStats(); math.Abs(rs.Rate-tt.wantRate) > 1e-9 || math.Abs(rs.RateAllowed-tt.wantAllowed) > 1e-9 {
				t.Errorf("RequestStats rate %v of %v allowed, want %v of %v", rs.Rate, rs.RateAllowed, tt.wantRate, tt.wantAllowed)
			}
			for range 3 {
				if _, err := c.GetUser(ctxT(t), "u1"); err != nil {
					t.Fatal(err)
				}
			}
			if w := fc.Waits(); !closeDurations(w, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", w, tt.wantWaits)
			}
		})
	}
}

// A 429 without rate headers cuts the rate by a fifth, once for the
// requests already sent; the retry then succeeds.
func TestClientPacingCutOn429(t *testing.T) {
	srv, _ := newServer(t, scripted([]reply{{429, nil}}, okUser))
	c, fc := newTestClient(t, srv.URL)
	if _, err := c.GetUser(ctxT(t), "u1"); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.RateLimited != 1 || st.Requests != 2 {
		t.Errorf("stats %+v, want 1 429 of 2 requests", st)
	}
	if want := DefaultRateLimit * paceCut; math.Abs(st.Rate-want) > 1e-9 {
		t.Errorf("rate %v after a 429, want %v", st.Rate, want)
	}
	// The only wait is the retry's backoff: at the cut rate the limiter
	// had a token again by then.
	if w := fc.Waits(); !equalDurations(w, []time.Duration{DefaultBackoffBase}) {
		t.Errorf("waits %v, want the backoff only", w)
	}
}

func TestAdaptiveRateOptions(t *testing.T) {
	tests := []struct {
		name       string
		start, max float64
		ok         bool
	}{
		{"start below max", 4, 50, true},
		{"start equals max", 4, 4, true},
		{"zero start", 0, 50, false},
		{"negative start", -1, 50, false},
		{"max below start", 5, 4, false},
		{"NaN start", math.NaN(), 50, false},
		{"NaN max", 4, math.NaN(), false},
		{"infinite max", 4, math.Inf(1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New("http://127.0.0.1:1/api/v2/scim", testToken, WithAdaptiveRate(tt.start, tt.max))
			if tt.ok != (err == nil) {
				t.Fatalf("New = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "WithAdaptiveRate") {
				t.Errorf("error %q does not name WithAdaptiveRate", err)
			}
		})
	}
}

// closeDurations compares waits computed in floating point to within a
// microsecond.
func closeDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if d := a[i] - b[i]; d < -time.Microsecond || d > time.Microsecond {
			return false
		}
	}
	return true
}

// Events fed to a pacer at explicit times, and the rate after each.
func TestPacerEvents(t *testing.T) {
	advertised := http.Header{"Ratelimit-Limit": {"10"}, "Ratelimit-Reset": {"1"}}
	sec := func(s float64) time.Time { return testEpoch.Add(time.Duration(s * float64(time.Second))) }
	type ev struct {
		sent, at float64 // seconds after testEpoch
		status   int
		h        http.Header
		want     float64
	}
	tests := []struct {
		name string
		evs  []ev
	}{
		{"429s of requests sent before the cut share it", []ev{
			{0, 0.1, 429, nil, 3.2},
			{0.05, 0.15, 429, nil, 3.2},
			{0.2, 0.3, 429, nil, 2.56},
		}},
		{"5xx changes nothing", []ev{
			{0, 0.1, 503, nil, 4},
			{0, 0.1, 500, nil, 4},
		}},
		{"advertised rate, then a 429: no jump back for a minute", []ev{
			{0, 0.1, 200, advertised, 9.7},
			{0.2, 0.3, 429, advertised, 9.7 * paceCut},
			{30, 30.1, 200, advertised, 9.7 * paceCut},    // not busy: no growth
			{60.2, 60.25, 200, advertised, 9.7 * paceCut}, // 59.95 s after the 429
			{60.3, 60.35, 200, advertised, 9.7},
		}},
		{"the window is the longest reset seen", []ev{
			{0, 0.1, 200, http.Header{"Ratelimit-Limit": {"60"}, "Ratelimit-Reset": {"30"}}, 0.97 * 2},
			{0.2, 0.3, 200, http.Header{"Ratelimit-Limit": {"60"}, "Ratelimit-Reset": {"1"}}, 0.97 * 2},
		}},
		{"never below the floor", []ev{
			{0, 0.1, 200, http.Header{"Ratelimit-Limit": {"1"}, "Ratelimit-Reset": {"3600"}}, paceMinRate},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPacer(DefaultRateLimit, 1, true, DefaultMaxRate)
			for i, e := range tt.evs {
				p.reserve(sec(e.sent))
				if got := p.observe(sec(e.sent), sec(e.at), e.status, e.h); math.Abs(got-e.want) > 1e-9 {
					t.Fatalf("event %d (%d at %vs): rate %v, want %v", i+1, e.status, e.at, got, e.want)
				}
			}
		})
	}
}
