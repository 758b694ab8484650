package onelogin

import (
	"context"
	"errors"
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
			c, _ := testClient(tt.steady)
			h := http.Header{}
			if tt.limit != "" {
				h = rateHeaders(tt.limit, tt.remaining, tt.secs)
			}
			c.observe(h)
			got, want := c.lim.Limit(), tt.want
			if want == rate.Inf {
				if got != rate.Inf {
					t.Fatalf("pace %v, want no limit", got)
				}
				return
			}
			if got != want {
				t.Fatalf("pace %v a second, want %v", got, want)
			}
		})
	}
}

// testClient is a client on a clock stopped at epoch; its waits fail
// with errWaited and are recorded in *waits.
func testClient(steady rate.Limit) (c *client, waits *[]time.Time) {
	c = &client{log: zap.NewNop(), remaining: -1, steady: steady, lim: rate.NewLimiter(steady, 1)}
	waits = new([]time.Time)
	c.now = func() time.Time { return epoch }
	c.wait = func(_ context.Context, until time.Time) error {
		*waits = append(*waits, until)
		return errWaited
	}
	return c, waits
}

var (
	epoch     = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	errWaited = errors.New("waited")
)

func rateHeaders(limit, remaining, reset string) http.Header {
	h := http.Header{}
	h.Set("X-RateLimit-Limit", limit)
	h.Set("X-RateLimit-Remaining", remaining)
	h.Set("X-RateLimit-Reset", reset)
	return h
}

func TestPaceWaits(t *testing.T) {
	// After the first request, the next one waits: for the reset once the
	// window is spent; for the limiter's turn under a tenth of the limit
	// (4 of 100 left, 8 s to the reset: one every 2 s). A failed wait
	// gives nothing up: the request after it waits as long.
	tests := []struct {
		name                    string
		limit, remaining, reset string
		want                    time.Duration
	}{
		{"window spent", "10", "1", "3600", time.Hour},
		{"the last requests spread out", "100", "4", "8", 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, w := testClient(rate.Inf)
			c.observe(rateHeaders(tt.limit, tt.remaining, tt.reset))
			ctx := context.Background()
			if err := c.pace(ctx); err != nil || len(*w) != 0 {
				t.Fatalf("first request: %v, waits %v", err, *w)
			}
			for i := range 2 {
				if err := c.pace(ctx); err != errWaited || len(*w) != i+1 || !(*w)[i].Equal(epoch.Add(tt.want)) {
					t.Fatalf("request %d: %v, waits %v; want a wait until %v on", i+2, err, *w, tt.want)
				}
			}
		})
	}
}

func TestStaleResponseKeepsTheBudgetSpent(t *testing.T) {
	// A response of the same window saying more is left (it was answered
	// before the requests since) does not give back the spent budget.
	c, _ := testClient(rate.Inf)
	c.observe(rateHeaders("10", "1", "3600"))
	if err := c.pace(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.observe(rateHeaders("10", "5", "3600"))
	if c.remaining != 0 {
		t.Fatalf("remaining %d after a stale response, want 0", c.remaining)
	}
}
