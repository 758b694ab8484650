package onelogin

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

func TestObservePace(t *testing.T) {
	tests := []struct {
		name                   string
		steady                 rate.Limit
		limit, remaining, secs string
		want                   rate.Limit // requests a second
	}{
		{"plenty left", rate.Inf, "5000", "4000", "100", rate.Inf},
		{"plenty left, capped", 5, "5000", "4000", "100", 5},
		{"under a tenth left: 400 over 100s", rate.Inf, "5000", "400", "100", 4},
		{"under a tenth left, slower than the cap", 5, "5000", "400", "100", 4},
		{"under a tenth left, the cap slower", 2, "5000", "400", "100", 2},
		{"no headers", rate.Inf, "", "", "", rate.Inf},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &client{log: zap.NewNop(), remaining: -1, steady: tt.steady, lim: rate.NewLimiter(tt.steady, 1)}
			h := http.Header{}
			if tt.limit != "" {
				h.Set("X-RateLimit-Limit", tt.limit)
				h.Set("X-RateLimit-Remaining", tt.remaining)
				h.Set("X-RateLimit-Reset", tt.secs)
			}
			c.observe(h)
			got, want := c.lim.Limit(), tt.want
			if want == rate.Inf {
				if got != rate.Inf {
					t.Fatalf("pace %v, want no limit", got)
				}
				return
			}
			if got < want*0.95 || got > want*1.05 {
				t.Fatalf("pace %v a second, want about %v", got, want)
			}
		})
	}
}

func TestPaceWaitsForReset(t *testing.T) {
	c := &client{log: zap.NewNop(), remaining: -1, steady: rate.Inf, lim: rate.NewLimiter(rate.Inf, 1)}
	h := http.Header{}
	h.Set("X-RateLimit-Limit", "10")
	h.Set("X-RateLimit-Remaining", "1")
	h.Set("X-RateLimit-Reset", "3600")
	c.observe(h)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.pace(ctx); err != nil {
		t.Fatalf("the last request of the window: %v", err)
	}
	if err := c.pace(ctx); err == nil {
		t.Fatal("a spent window did not make the request wait for the reset")
	}
	// A response of the same window saying more is left (it was answered
	// before the requests since) does not give back the spent budget.
	h.Set("X-RateLimit-Remaining", "5")
	c.observe(h)
	if c.remaining != 0 {
		t.Fatalf("remaining %d after a stale response, want 0", c.remaining)
	}
}
