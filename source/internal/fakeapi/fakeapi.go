// Package fakeapi holds what the fake provider servers share: request
// counts by route, and injected faults matched by route and page.
package fakeapi

import (
	"context"
	gosync "sync"
)

// Counts counts requests by route. The zero value is ready; Uncounted, if
// set, is a route (a token endpoint) left out of the total.
type Counts struct {
	Uncounted string

	mu    gosync.Mutex
	by    map[string]int
	total int
}

// Add counts one request to route.
func (c *Counts) Add(route string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by == nil {
		c.by = map[string]int{}
	}
	c.by[route]++
	if route != c.Uncounted {
		c.total++
	}
}

// Get returns the requests to route, or with "" the total.
func (c *Counts) Get(route string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if route == "" {
		return c.total
	}
	return c.by[route]
}

// Reset zeroes the counts.
func (c *Counts) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.by, c.total = nil, 0
}

// Rule says which requests a fault hits: those to Route ("" any route) for
// the 1-based Page (0 any page), Times of them (0 once).
//
// With Hold, once the fault's times are spent, every later request to the
// same route (any route, for Route "") is held: Take keeps it until the
// client gives up on it or Release is called, and then answers it with
// the same fault. A client that sends requests in parallel then gets
// nothing more from the route after the failure, and how many requests it
// sends is bounded by how many it keeps in flight, whatever the goroutine
// scheduling.
type Rule struct {
	Route       string
	Page, Times int
	Hold        bool
}

// Faults is an ordered list of injected faults; the first whose rule
// matches a request answers it. The zero value is ready.
type Faults[F any] struct {
	mu    gosync.Mutex
	list  []*entry[F]
	holds []*entry[F] // spent faults with Hold, holding their routes
	stop  chan struct{}
	held  int // requests held so far
}

type entry[F any] struct {
	rule  Rule
	fault F
}

// Add appends a fault.
func (q *Faults[F]) Add(r Rule, f F) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if r.Times <= 0 {
		r.Times = 1
	}
	q.list = append(q.list, &entry[F]{rule: r, fault: f})
}

// Take returns the fault for a request to route's page, spending one of
// its times, and whether there was one. ctx is the request's context: a
// request to a route held by a spent Hold fault waits until ctx is done or
// Release is called, then gets that fault.
func (q *Faults[F]) Take(ctx context.Context, route string, page int) (F, bool) {
	q.mu.Lock()
	for _, e := range q.holds {
		if e.rule.Route == "" || e.rule.Route == route {
			q.held++
			stop := q.stopChan()
			q.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-stop:
			}
			return e.fault, true
		}
	}
	defer q.mu.Unlock()
	for i, e := range q.list {
		if (e.rule.Route == "" || e.rule.Route == route) && (e.rule.Page == 0 || e.rule.Page == page) {
			e.rule.Times--
			if e.rule.Times <= 0 {
				q.list = append(q.list[:i], q.list[i+1:]...)
				if e.rule.Hold {
					q.holds = append(q.holds, e)
				}
			}
			return e.fault, true
		}
	}
	var zero F
	return zero, false
}

// stopChan returns the channel Release closes. The caller holds mu.
func (q *Faults[F]) stopChan() chan struct{} {
	if q.stop == nil {
		q.stop = make(chan struct{})
	}
	return q.stop
}

// Held returns how many requests a Hold fault has held.
func (q *Faults[F]) Held() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.held
}

// Release answers the requests held and stops holding routes. A server
// calls it before it closes, which waits for its handlers.
func (q *Faults[F]) Release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stop != nil {
		close(q.stop)
		q.stop = nil
	}
	q.holds = nil
}

// Clear removes every fault not yet spent, and releases held requests.
func (q *Faults[F]) Clear() {
	q.Release()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.list = nil
}
