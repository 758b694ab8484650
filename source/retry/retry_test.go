package retry

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestRetries(t *testing.T) {
	for _, tt := range []struct{ max, want int }{{0, DefaultMaxRetries}, {None, 0}, {-7, 0}, {1, 1}, {12, 12}} {
		if got := (Policy{MaxRetries: tt.max}).Retries(); got != tt.want {
			t.Errorf("MaxRetries %d: %d retries, want %d", tt.max, got, tt.want)
		}
	}
}

func TestStepAndDelay(t *testing.T) {
	p := Policy{Backoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for n, w := range want {
		if got := p.Step(n); got != w*time.Millisecond {
			t.Errorf("Step(%d) = %v, want %v", n, got, w*time.Millisecond)
		}
	}
	if got := (Policy{}).Step(0); got != DefaultBackoff {
		t.Errorf("default first step %v", got)
	}
	if got := (Policy{}).Step(100); got != DefaultMaxBackoff {
		t.Errorf("default last step %v", got)
	}
	for n := range 40 {
		if d := p.Delay(n); d < 0 || d > p.Step(n) {
			t.Errorf("Delay(%d) = %v, beyond [0, %v]", n, d, p.Step(n))
		}
	}
	half := Policy{Backoff: time.Second, Jitter: func(d time.Duration) time.Duration { return d / 2 }}
	if got := half.Delay(1); got != time.Second {
		t.Errorf("jitter not used: %v", got)
	}
}

func TestServerWait(t *testing.T) {
	now := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name   string
		status int
		h      http.Header
		want   time.Duration
		ok     bool
	}{
		{"none", 429, h(), 0, false},
		{"seconds", 503, h("Retry-After", "7"), 7 * time.Second, true},
		{"date", 503, h("Retry-After", now.Add(30*time.Second).Format(http.TimeFormat)), 30 * time.Second, true},
		{"past date", 503, h("Retry-After", now.Add(-time.Hour).Format(http.TimeFormat)), 0, true},
		{"huge", 429, h("Retry-After", "99999999"), MaxServerWait, true},
		{"negative", 429, h("Retry-After", "-3"), 0, false},
		{"garbage", 429, h("Retry-After", "soon"), 0, false},
		{"Retry-After wins", 429, h("Retry-After", "2", "RateLimit-Reset", "9"), 2 * time.Second, true},
		{"reset on 429", 429, h("RateLimit-Reset", "7"), 7 * time.Second, true},
		{"reset list", 429, h("RateLimit-Reset", "5, 10;w=1"), 5 * time.Second, true},
		{"reset as Unix time", 429, h("RateLimit-Reset", "1748854860"), 60 * time.Second, true},
		{"reset on 500 is no wait", 500, h("RateLimit-Reset", "7"), 0, false},
	}
	for _, tt := range tests {
		got, ok := ServerWait(tt.status, tt.h, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: %v %v, want %v %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestDo(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		policy    Policy
		failures  int // tries that fail before one succeeds
		retry     bool
		wait      time.Duration // what the failing tries ask for
		tries     int
		wantErr   bool
		wantWaits []time.Duration
	}{
		{"success at once", Policy{}, 0, true, 0, 1, false, nil},
		{"success on the last retry", Policy{MaxRetries: 3}, 3, true, 0, 4, false, []time.Duration{1, 2, 4}},
		{"retries spent", Policy{MaxRetries: 3}, 10, true, 0, 4, true, []time.Duration{1, 2, 4}},
		{"default retries", Policy{}, 10, true, 0, DefaultMaxRetries + 1, true, []time.Duration{1, 2, 4, 8, 16}},
		{"no retries", Policy{MaxRetries: None}, 10, true, 0, 1, true, nil},
		{"not retryable", Policy{}, 10, false, 0, 1, true, nil},
		{"the server's wait", Policy{MaxRetries: 2}, 10, true, 3, 3, true, []time.Duration{3, 3}},
		// The budget stops retries once the waits reach it; the wait
		// that crosses it still happens.
		{"budget", Policy{MaxRetries: 10, Budget: 5}, 10, true, 2, 4, true, []time.Duration{2, 2, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.policy
			p.Backoff, p.MaxBackoff = time.Nanosecond, time.Hour
			p.Jitter = func(d time.Duration) time.Duration { return d }
			var slept []time.Duration
			p.Sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
			tries := 0
			var waits []time.Duration
			err := p.Do(context.Background(), func(context.Context) (bool, time.Duration, error) {
				tries++
				if tries <= tt.failures {
					return tt.retry, tt.wait, boom
				}
				return false, 0, nil
			}, func(n int, wait time.Duration, err error) {
				if n != len(waits)+1 || err != boom {
					t.Errorf("onRetry(%d, %v, %v)", n, wait, err)
				}
				waits = append(waits, wait)
			})
			if tries != tt.tries || (err != nil) != tt.wantErr || (err != nil && err != boom) {
				t.Errorf("%d tries, err %v; want %d tries, error %v", tries, err, tt.tries, tt.wantErr)
			}
			if !slices.Equal(waits, tt.wantWaits) || !slices.Equal(slept, tt.wantWaits) {
				t.Errorf("waits %v, slept %v; want %v", waits, slept, tt.wantWaits)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	err := Policy{}.Do(ctx, func(context.Context) (bool, time.Duration, error) { cancel(); return true, 0, boom }, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled after a try: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	err = Policy{}.Do(ctx, func(context.Context) (bool, time.Duration, error) { return true, time.Hour, boom },
		func(int, time.Duration, error) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled during a wait: %v", err)
	}
}
