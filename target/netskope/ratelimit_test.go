package netskope

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/provsync/provsync/scim"
)

// With a frozen clock, every reservation of a shared limiter sees the ones
// before it: n concurrent callers at 1 rps, burst 1, are asked to wait
// 0s, 1s, ..., (n-1)s in some order. Separate limiters would ask none.
func TestLimiterSharedByConcurrentCallers(t *testing.T) {
	const n = 8
	srv, rec := newServer(t, scripted(nil, okUser))
	c, fc := newTestClient(t, srv.URL, WithRateLimit(1, 1))
	fc.frozen = true
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.GetUser(ctxT(t), "u1")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	waits := fc.Waits()
	slices.Sort(waits)
	var want []time.Duration
	for i := 1; i < n; i++ {
		want = append(want, time.Duration(i)*time.Second)
	}
	if !equalDurations(waits, want) {
		t.Errorf("limiter waits = %v, want %v (one shared limiter)", waits, want)
	}
	if rec.count() != n {
		t.Errorf("%d requests, want %d", rec.count(), n)
	}

	// Another client has its own limiter.
	other, ofc := newTestClient(t, srv.URL, WithRateLimit(1, 1))
	ofc.frozen = true
	if _, err := other.GetUser(ctxT(t), "u1"); err != nil {
		t.Fatal(err)
	}
	if len(ofc.Waits()) != 0 {
		t.Errorf("a new client waited %v", ofc.Waits())
	}
}

func TestLimiterDefaults(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		want []time.Duration // waits for 4 sequential requests at a frozen clock
	}{
		{"default 4 rps, burst 1", nil, []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, 750 * time.Millisecond}},
		{"2 rps, burst 2", []Option{WithRateLimit(2, 2)}, []time.Duration{500 * time.Millisecond, time.Second}},
		{"disabled", []Option{WithRateLimit(0, 0)}, nil},
		{"negative disables", []Option{WithRateLimit(-1, 0)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, scripted(nil, okUser))
			c, fc := newTestClient(t, srv.URL, tt.opts...)
			fc.frozen = true
			for range 4 {
				if _, err := c.GetUser(ctxT(t), "u1"); err != nil {
					t.Fatal(err)
				}
			}
			if w := fc.Waits(); !equalDurations(w, tt.want) {
				t.Errorf("waits = %v, want %v", w, tt.want)
			}
		})
	}
}

// A response that says the budget is nearly spent holds the next request
// until RateLimit-Reset.
func TestLowBudgetHoldsNextRequest(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
		want   []time.Duration
	}{
		{"remaining 1", map[string]string{"RateLimit-Remaining": "1", "RateLimit-Reset": "5"}, []time.Duration{5 * time.Second}},
		{"remaining 0", map[string]string{"RateLimit-Limit": "4", "RateLimit-Remaining": "0", "RateLimit-Reset": "1"}, []time.Duration{time.Second}},
		{"under 10% of the limit", map[string]string{"RateLimit-Limit": "100", "RateLimit-Remaining": "9", "RateLimit-Reset": "30"}, []time.Duration{30 * time.Second}},
		{"no reset: hold a second", map[string]string{"RateLimit-Remaining": "0"}, []time.Duration{time.Second}},
		{"structured values", map[string]string{"RateLimit-Remaining": "0, 0;w=1", "RateLimit-Reset": "2;w=1"}, []time.Duration{2 * time.Second}},
		{"10% exactly", map[string]string{"RateLimit-Limit": "100", "RateLimit-Remaining": "10", "RateLimit-Reset": "30"}, nil},
		{"half left", map[string]string{"RateLimit-Limit": "100", "RateLimit-Remaining": "50", "RateLimit-Reset": "30"}, nil},
		{"2 left, no limit", map[string]string{"RateLimit-Remaining": "2", "RateLimit-Reset": "30"}, nil},
		{"no headers", nil, nil},
		{"garbage", map[string]string{"RateLimit-Remaining": "many", "RateLimit-Reset": "30"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var events []string
			event := func(s string) {
				mu.Lock()
				events = append(events, s)
				mu.Unlock()
			}
			srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
				event(fmt.Sprintf("request %d", n))
				if n == 1 {
					for k, v := range tt.header {
						w.Header().Set(k, v)
					}
				}
				okUser(w, r)
			})
			c, fc := newTestClient(t, srv.URL, noLimit())
			fc.onSleep = func(_ context.Context, d time.Duration) error {
				event("wait " + d.String())
				return nil
			}
			for range 2 {
				if _, err := c.GetUser(ctxT(t), "u1"); err != nil {
					t.Fatal(err)
				}
			}
			if w := fc.Waits(); !equalDurations(w, tt.want) {
				t.Errorf("waits = %v, want %v", w, tt.want)
			}
			want := []string{"request 1", "request 2"}
			if len(tt.want) == 1 {
				want = []string{"request 1", "wait " + tt.want[0].String(), "request 2"}
			}
			if !slices.Equal(events, want) {
				t.Errorf("events = %v, want %v", events, want)
			}
		})
	}
}

// The hold is shared: a spent budget seen by one caller holds the others.
func TestLowBudgetHoldIsShared(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Header().Set("RateLimit-Remaining", "0")
			w.Header().Set("RateLimit-Reset", "3")
		}
		okUser(w, r)
	})
	c, fc := newTestClient(t, srv.URL, noLimit())
	fc.frozen = true
	if _, err := c.CreateUser(ctxT(t), &scim.User{UserName: "a"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.GetUser(ctxT(t), "u1"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	want := []time.Duration{3 * time.Second, 3 * time.Second, 3 * time.Second}
	if w := fc.Waits(); !equalDurations(w, want) {
		t.Errorf("waits = %v, want %v", w, want)
	}
}
