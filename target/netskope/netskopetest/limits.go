package netskopetest

import (
	crand "crypto/rand"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// bucket is a token bucket: it holds up to burst tokens and gains rps
// tokens a second; every request takes one.
type bucket struct {
	mu     sync.Mutex
	rps    float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rps float64, burst int) *bucket {
	if burst < 1 {
		burst = max(1, int(math.Ceil(rps)))
	}
	return &bucket{rps: rps, burst: float64(burst), tokens: float64(burst)}
}

// decision is the outcome of one take, with the values of the rate-limit
// headers.
type decision struct {
	ok         bool
	limit      int // RateLimit-Limit: the bucket size
	remaining  int // RateLimit-Remaining: whole tokens left
	reset      int // RateLimit-Reset: seconds until the bucket is full
	retryAfter int // Retry-After: seconds until the next token, at least 1
}

func (b *bucket) take(now time.Time) decision {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rps)
	}
	b.last = now
	d := decision{limit: int(b.burst)}
	if b.tokens >= 1 {
		b.tokens--
		d.ok = true
	}
	d.remaining = int(math.Floor(b.tokens))
	d.reset = int(math.Ceil((b.burst - b.tokens) / b.rps))
	if !d.ok {
		d.retryAfter = max(1, int(math.Ceil((1-b.tokens)/b.rps)))
	}
	return d
}

// faultGen draws injected faults from a seeded generator.
type faultGen struct {
	mu       sync.Mutex
	f        Faults
	rng      *rand.Rand
	throttle int // requests still to answer 429 (ThrottleNext)
}

func (g *faultGen) set(f Faults) {
	f.Rate429 = clamp01(f.Rate429)
	f.Rate500 = clamp01(f.Rate500)
	f.Latency = max(0, f.Latency)
	seed := uint64(f.Seed)
	if seed == 0 {
		var b [8]byte
		_, _ = crand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.f = f
	g.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func (g *faultGen) current() Faults {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.f
}

// draw returns the status of the fault to inject (0 for none) and, for a
// 429, its Retry-After (0 or 1).
func (g *faultGen) draw() (status, retryAfter int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.throttle > 0 {
		g.throttle--
		return http.StatusTooManyRequests, 0
	}
	if g.f.Rate429 <= 0 && g.f.Rate500 <= 0 {
		return 0, 0
	}
	u := g.rng.Float64()
	switch {
	case u < g.f.Rate429:
		return http.StatusTooManyRequests, g.rng.IntN(max(0, g.f.MaxRetryAfter) + 1)
	case u < g.f.Rate429+g.f.Rate500:
		return http.StatusInternalServerError, 0
	}
	return 0, 0
}

// failsCreate reports whether a create's body names a user (by userName)
// or a group (by displayName) that Faults.FailCreates lists.
func (g *faultGen) failsCreate(user bool, body []byte) bool {
	g.mu.Lock()
	names := g.f.FailCreates
	g.mu.Unlock()
	if len(names) == 0 {
		return false
	}
	var v struct {
		UserName    string `json:"userName"`
		DisplayName string `json:"displayName"`
	}
	if json.Unmarshal(body, &v) != nil {
		return false
	}
	name := v.DisplayName
	if user {
		name = v.UserName
	}
	return slices.Contains(names, name)
}

func clamp01(x float64) float64 {
	if math.IsNaN(x) || x < 0 {
		return 0
	}
	return math.Min(x, 1)
}

// Endpoint names one route of the server: an HTTP method and one of the
// Endpoint constants (EndpointUsers, EndpointUser, ...).
type Endpoint struct {
	Method string
	Path   string
}

// Stats counts the requests a server received since it started or since
// ResetStats.
type Stats struct {
	// Requests is every request received, whatever its answer.
	Requests int
	// ByEndpoint counts requests per method and endpoint, including those
	// refused by authentication, the rate limit or an injected fault.
	ByEndpoint map[Endpoint]int
	// Unauthorized counts requests answered 401.
	Unauthorized int
	// RateLimited counts requests refused by the rate limit (WithRateLimit).
	RateLimited int
	// Faults429 and Faults500 count the injected faults of each kind.
	Faults429, Faults500 int
}

// Faults returns the number of injected faults.
func (s Stats) Faults() int { return s.Faults429 + s.Faults500 }

// Count returns the requests to endpoint (such as EndpointUsers) made with
// method (such as http.MethodGet). An empty method or endpoint matches any.
func (s Stats) Count(method, endpoint string) int {
	n := 0
	for k, v := range s.ByEndpoint {
		if (method == "" || k.Method == method) && (endpoint == "" || k.Path == endpoint) {
			n += v
		}
	}
	return n
}

// Writes returns the requests that could change state: POST, PUT, PATCH
// and DELETE, whatever their answer.
func (s Stats) Writes() int {
	return s.Count(http.MethodPost, "") + s.Count(http.MethodPut, "") +
		s.Count(http.MethodPatch, "") + s.Count(http.MethodDelete, "")
}

type statsCounter struct {
	mu sync.Mutex
	s  Stats
}

func (c *statsCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s = Stats{ByEndpoint: map[Endpoint]int{}}
}

func (c *statsCounter) request(method, endpoint string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Requests++
	c.s.ByEndpoint[Endpoint{Method: method, Path: endpoint}]++
}

func (c *statsCounter) unauthorized() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Unauthorized++
}

func (c *statsCounter) rateLimited() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.RateLimited++
}

func (c *statsCounter) fault(status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if status == http.StatusTooManyRequests {
		c.s.Faults429++
	} else {
		c.s.Faults500++
	}
}

func (c *statsCounter) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.s
	out.ByEndpoint = make(map[Endpoint]int, len(c.s.ByEndpoint))
	for k, v := range c.s.ByEndpoint {
		out.ByEndpoint[k] = v
	}
	return out
}
