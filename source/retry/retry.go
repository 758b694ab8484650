// Package retry is the one retry policy of provsync's HTTP clients: the
// Entra, Google and OneLogin sources and the Netskope target. It says how
// many times a request is retried, how long each retry waits (what the
// server asks for with Retry-After or RateLimit-Reset, else exponential
// backoff with full jitter) and how much waiting one request may do in
// all. It imports the standard library only, so that every client,
// whatever it is built on, can share it.
package retry

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Defaults of a Policy, the same for every client.
const (
	// DefaultMaxRetries is how many times a failed request is retried
	// when MaxRetries is 0.
	DefaultMaxRetries = 5
	// None, as MaxRetries, turns retries off; so does any negative value.
	None = -1
	// DefaultBackoff is the first backoff step when Backoff is 0.
	DefaultBackoff = time.Second
	// DefaultMaxBackoff bounds every backoff step when MaxBackoff is 0.
	DefaultMaxBackoff = 30 * time.Second
	// MaxServerWait bounds one wait a server asks for, against absurd
	// Retry-After or RateLimit-Reset values; the caller's context bounds
	// it further.
	MaxServerWait = 15 * time.Minute
)

// Policy is how a client retries. The zero value is the default policy:
// DefaultMaxRetries retries, backoff from DefaultBackoff up to
// DefaultMaxBackoff, no budget.
type Policy struct {
	// MaxRetries is how many retries follow a failed first try: 0 means
	// DefaultMaxRetries, a negative number (None) means no retry.
	MaxRetries int
	// Backoff is the first backoff step and MaxBackoff the largest; 0
	// means DefaultBackoff and DefaultMaxBackoff. Retry n (0-based) waits
	// a random time between 0 and min(MaxBackoff, Backoff*2^n) when the
	// server names no wait.
	Backoff, MaxBackoff time.Duration
	// Budget, when positive, bounds the waiting of one request: no retry
	// starts once the waits so far add up to Budget. 0 means no budget.
	Budget time.Duration
	// Jitter picks a wait between 0 and d; nil is FullJitter. Tests make
	// it deterministic.
	Jitter func(d time.Duration) time.Duration
	// Sleep waits between tries; nil is the package's Sleep, on the real
	// clock. Tests put the waits on a fake clock.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Retries is the number of retries the policy allows.
func (p Policy) Retries() int {
	switch {
	case p.MaxRetries < 0:
		return 0
	case p.MaxRetries == 0:
		return DefaultMaxRetries
	}
	return p.MaxRetries
}

// Step is the backoff ceiling of retry n (0-based): Backoff doubled n
// times, at most MaxBackoff.
func (p Policy) Step(n int) time.Duration {
	base, ceiling := p.Backoff, p.MaxBackoff
	if base <= 0 {
		base = DefaultBackoff
	}
	if ceiling <= 0 {
		ceiling = max(DefaultMaxBackoff, base)
	}
	d := base
	for i := 0; i < n && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// Delay is the backoff wait of retry n (0-based): Step(n) with jitter.
func (p Policy) Delay(n int) time.Duration {
	j := p.Jitter
	if j == nil {
		j = FullJitter
	}
	return j(p.Step(n))
}

// FullJitter returns a uniformly random wait between 0 and d.
func FullJitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d + 1)
}

// Do runs try until it succeeds, fails in a way it says is final, or the
// retries or the budget are spent; it returns try's last error then. try
// returns whether its failure is worth a retry and the wait the server
// asked for (0: back off). onRetry, if not nil, hears of each retry (1-based) before
// its wait. When ctx ends, after a failed try or during a wait, Do
// returns ctx.Err().
func (p Policy) Do(ctx context.Context, try func(context.Context) (retry bool, wait time.Duration, err error),
	onRetry func(retry int, wait time.Duration, err error)) error {
	var waited time.Duration
	for n := 0; ; n++ {
		again, wait, err := try(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !again || n >= p.Retries() || (p.Budget > 0 && waited >= p.Budget) {
			return err
		}
		if wait <= 0 {
			wait = p.Delay(n)
		}
		if onRetry != nil {
			onRetry(n+1, wait, err)
		}
		sleep := p.Sleep
		if sleep == nil {
			sleep = Sleep
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		waited += wait
	}
}

// Sleep waits d, or until ctx is done, and then returns ctx.Err().
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ServerWait returns the wait a response asks for, if it asks for one:
// Retry-After (delay seconds or an HTTP date), else, on a 429,
// RateLimit-Reset. It is at most MaxServerWait.
func ServerWait(status int, h http.Header, now time.Time) (time.Duration, bool) {
	if d, ok := RetryAfter(h.Get("Retry-After"), now); ok {
		return min(d, MaxServerWait), true
	}
	if status == http.StatusTooManyRequests {
		if d, ok := Reset(h.Get("RateLimit-Reset"), now); ok {
			return min(d, MaxServerWait), true
		}
	}
	return 0, false
}

// RetryAfter reads a Retry-After value: delay seconds or an HTTP date.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return seconds(float64(n)), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// Reset reads a RateLimit-Reset value: seconds until the budget refills.
// A value that can only be a Unix time is read as one.
func Reset(v string, now time.Time) (time.Duration, bool) {
	f, ok := HeaderNumber(v)
	if !ok {
		return 0, false
	}
	if f > 1e9 {
		return max(time.Unix(int64(f), 0).Sub(now), 0), true
	}
	return seconds(f), true
}

// HeaderNumber reads the leading non-negative number of a header value
// ("5", "5, 10;w=1").
func HeaderNumber(v string) (float64, bool) {
	v, _, _ = strings.Cut(v, ",")
	v, _, _ = strings.Cut(v, ";")
	if v = strings.TrimSpace(v); v == "" {
		return 0, false // absent: no error to allocate
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func seconds(s float64) time.Duration {
	if s >= MaxServerWait.Seconds() {
		return MaxServerWait
	}
	return time.Duration(s * float64(time.Second))
}
