package netskope

import (
	"cmp"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/provsync/provsync/target"
)

// Stats counts what a Client sent since it was created or last reset.
// Benchmarks divide Requests by the objects handled to report requests per
// object.
type Stats struct {
	// Requests is the number of HTTP requests sent, retries included.
	Requests int64
	// Retries is the number of those requests that were retries.
	Retries int64
	// RateLimited is the number of 429 responses received.
	RateLimited int64
	// Get, Post, Put, Patch and Delete count requests by method.
	Get, Post, Put, Patch, Delete int64
	// Waited is the total time requests were held back: by the rate
	// limiter, by a spent rate budget and before retries.
	Waited time.Duration
	// Rate is the request rate in force, in requests per second: the
	// pace adaptive pacing has reached, or the fixed rate of
	// WithRateLimit; 0 when the limiter is disabled. ResetStats leaves it.
	Rate float64
}

// counters are the live, atomic form of Stats.
type counters struct {
	requests, retries, rateLimited atomic.Int64
	get, post, put, patch, delete  atomic.Int64
	waited                         atomic.Int64 // nanoseconds

	mu       sync.Mutex // guards byStatus
	byStatus map[methodStatus]int64
}

type methodStatus struct {
	method string
	status int
}

// answered counts a request's end: its status, 0 for no response.
func (s *counters) answered(method string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byStatus == nil {
		s.byStatus = map[methodStatus]int64{}
	}
	s.byStatus[methodStatus{method, status}]++
}

func (s *counters) request(method string, retry bool) {
	s.requests.Add(1)
	if retry {
		s.retries.Add(1)
	}
	switch method {
	case http.MethodGet:
		s.get.Add(1)
	case http.MethodPost:
		s.post.Add(1)
	case http.MethodPut:
		s.put.Add(1)
	case http.MethodPatch:
		s.patch.Add(1)
	case http.MethodDelete:
		s.delete.Add(1)
	}
}

// Stats returns a snapshot of the client's counters.
func (c *Client) Stats() Stats {
	s := &c.stats
	var rps float64
	if c.pace != nil {
		rps = c.pace.current()
	}
	return Stats{
		Rate:        rps,
		Requests:    s.requests.Load(),
		Retries:     s.retries.Load(),
		RateLimited: s.rateLimited.Load(),
		Get:         s.get.Load(),
		Post:        s.post.Load(),
		Put:         s.put.Load(),
		Patch:       s.patch.Load(),
		Delete:      s.delete.Load(),
		Waited:      time.Duration(s.waited.Load()),
	}
}

// RequestStats returns the client's requests by method and status, its
// 429s, the rate it paces itself to and the rate the tenant advertises
// (RateLimit-Limit per RateLimit-Reset window, learnt by adaptive pacing;
// 0 until then or with WithRateLimit).
func (c *Client) RequestStats() target.RequestStats {
	s := &c.stats
	st := target.RequestStats{RateLimited: s.rateLimited.Load()}
	if c.pace != nil {
		st.Rate, st.RateAllowed = c.pace.current(), c.pace.allowed()
	}
	s.mu.Lock()
	for k, n := range s.byStatus {
		st.Requests = append(st.Requests, target.RequestCount{Method: k.method, Status: k.status, Count: n})
	}
	s.mu.Unlock()
	slices.SortFunc(st.Requests, func(a, b target.RequestCount) int {
		return cmp.Or(cmp.Compare(a.Method, b.Method), cmp.Compare(a.Status, b.Status))
	})
	return st
}

// ResetStats sets the client's counters to zero.
func (c *Client) ResetStats() {
	s := &c.stats
	for _, v := range []*atomic.Int64{
		&s.requests, &s.retries, &s.rateLimited,
		&s.get, &s.post, &s.put, &s.patch, &s.delete, &s.waited,
	} {
		v.Store(0)
	}
	s.mu.Lock()
	s.byStatus = nil
	s.mu.Unlock()
}
