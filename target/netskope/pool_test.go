package netskope

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	gosync "sync"
	"sync/atomic"
	"testing"
)

// TestDefaultClientReusesConnections runs 400 reads through the default
// HTTP client in 25 rounds of 16 at once, and counts the connections the
// server accepted.
// A connection is opened only when none is idle, so with an idle pool
// larger than the concurrency the count stays within 16 busy connections
// plus at most 16 dials racing a connection's return. Go's default
// transport keeps 2 idle per host and closed 14 of every 16 here.
func TestDefaultClientReusesConnections(t *testing.T) {
	const concurrency, requests = 16, 400
	var (
		conns   atomic.Int64
		mu      gosync.Mutex
		arrived int
		release = make(chan struct{})
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Answer in rounds of 16: every caller has a request in flight,
		// and all 16 connections come back to the pool at once.
		mu.Lock()
		round := release
		if arrived++; arrived == concurrency {
			arrived = 0
			close(release)
			release = make(chan struct{})
		}
		mu.Unlock()
		select {
		case <-round:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/scim+json")
		_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","userName":"ann@example.com"}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c, _ := newTestClient(t, srv.URL, noLimit())
	// Rounds of 16 requests at once; the next round starts when the
	// whole round has its answers, so 16 connections come back together.
	for range requests / concurrency {
		var wg gosync.WaitGroup
		for range concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.GetUser(context.Background(), "u1"); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	if n := conns.Load(); n > 2*concurrency {
		t.Errorf("%d connections for %d requests, %d at a time; want at most %d", n, requests, concurrency, 2*concurrency)
	}
	t.Logf("%d connections", conns.Load())
}
