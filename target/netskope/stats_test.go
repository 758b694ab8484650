package netskope

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/target"
)

func TestStats(t *testing.T) {
	srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch {
		case n == 6: // the first try of the second GET
			w.Header().Set("Retry-After", "2")
			writeJSON(w, http.StatusTooManyRequests, map[string]string{"message": "API rate limit exceeded"})
		case r.Method == http.MethodPatch || r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case strings.HasPrefix(r.URL.Path, "/Groups"):
			writeJSON(w, http.StatusCreated, scim.Group{ID: "g1", DisplayName: "G"})
		default:
			okUser(w, r)
		}
	})
	c, _ := newTestClient(t, srv.URL, noLimit())
	ctx := ctxT(t)
	steps := []func() error{
		func() error { _, err := c.GetUser(ctx, "u1"); return err },
		func() error { _, err := c.CreateUser(ctx, &scim.User{UserName: "a"}); return err },
		func() error { return c.PatchUser(ctx, "u1", scim.Replace("active", false)) },
		func() error { _, err := c.ReplaceUser(ctx, "u1", &scim.User{UserName: "a"}); return err },
		func() error { return c.DeleteUser(ctx, "u1") },
		func() error { _, err := c.GetUser(ctx, "u1"); return err }, // 429, then 200
		func() error { return c.AddMembers(ctx, "g1", []string{"a", "b", "c"}) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := Stats{
		Requests: 8, Retries: 1, RateLimited: 1,
		Get: 3, Post: 1, Put: 1, Patch: 2, Delete: 1,
		Waited: 2 * time.Second,
	}
	if got := c.Stats(); got != want {
		t.Errorf("Stats = %+v\nwant    %+v", got, want)
	}
	if int64(rec.count()) != want.Requests {
		t.Errorf("server saw %d requests, Stats says %d", rec.count(), want.Requests)
	}
	rc := func(method string, status int, n int64) target.RequestCount {
		return target.RequestCount{Method: method, Status: status, Count: n}
	}
	wantReq := []target.RequestCount{rc("DELETE", 204, 1), rc("GET", 200, 2), rc("GET", 429, 1),
		rc("PATCH", 204, 2), rc("POST", 201, 1), rc("PUT", 200, 1)}
	rs := c.RequestStats()
	if !slices.Equal(rs.Requests, wantReq) || rs.RateLimited != 1 || rs.Rate != 0 || rs.RateAllowed != 0 {
		t.Errorf("RequestStats = %+v\nwant requests %+v, 1 rate limited, no rate", rs, wantReq)
	}
	c.ResetStats()
	if got := c.Stats(); got != (Stats{}) {
		t.Errorf("after ResetStats: %+v", got)
	}
	if got := c.RequestStats(); len(got.Requests) != 0 || got.RateLimited != 0 {
		t.Errorf("RequestStats after ResetStats: %+v", got)
	}
}

// Stats are safe to read and reset while requests run (go test -race).
func TestStatsConcurrent(t *testing.T) {
	srv, _ := newServer(t, scripted(nil, okUser))
	c, _ := newTestClient(t, srv.URL, noLimit())
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			_ = c.Stats()
			_ = c.RequestStats()
			c.ResetStats()
		}
	}()
	for range 20 {
		if _, err := c.GetUser(ctxT(t), "u1"); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	<-done
}
