// Package fakeapi holds what the fake provider servers share: request
// counts by route, and injected faults matched by route and page.
package fakeapi

import gosync "sync"

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
type Rule struct {
	Route       string
	Page, Times int
}

// Faults is an ordered list of injected faults; the first whose rule
// matches a request answers it. The zero value is ready.
type Faults[F any] struct {
	mu   gosync.Mutex
	list []*entry[F]
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
// its times, and whether there was one.
func (q *Faults[F]) Take(route string, page int) (F, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, e := range q.list {
		if (e.rule.Route == "" || e.rule.Route == route) && (e.rule.Page == 0 || e.rule.Page == page) {
			e.rule.Times--
			if e.rule.Times <= 0 {
				q.list = append(q.list[:i], q.list[i+1:]...)
			}
			return e.fault, true
		}
	}
	var zero F
	return zero, false
}

// Clear removes every fault not yet spent.
func (q *Faults[F]) Clear() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.list = nil
}
