package netskope

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/provsync/provsync/scim"
)

// testToken is the secret that must never leak.
const testToken = "tok-9f8e7d6c5b4a-SECRET"

// fakeClock stands in for the client's clock and sleeper: sleeping records
// the wait and, unless frozen, moves the clock on. Tests assert on the
// waits asked for, never on elapsed time.
type fakeClock struct {
	mu      sync.Mutex
	t       time.Time
	frozen  bool
	waits   []time.Duration
	onSleep func(ctx context.Context, d time.Duration) error
}

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	f.waits = append(f.waits, d)
	if !f.frozen {
		f.t = f.t.Add(d)
	}
	hook := f.onSleep
	f.mu.Unlock()
	if hook != nil {
		return hook(ctx, d)
	}
	return nil
}

func (f *fakeClock) Waits() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.waits)
}

var testEpoch = time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)

// newTestClient returns a client of baseURL on a fake clock, with
// deterministic jitter (the full backoff step).
func newTestClient(t *testing.T, baseURL string, opts ...Option) (*Client, *fakeClock) {
	t.Helper()
	c, err := New(baseURL, testToken, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	fc := &fakeClock{t: testEpoch}
	c.now, c.sleep = fc.now, fc.sleep
	c.jitter = func(d time.Duration) time.Duration { return d }
	return c, fc
}

// noLimit turns the client-side limiter off, so waits are retries only.
func noLimit() Option { return WithRateLimit(0, 0) }

// seen is one request as the server received it.
type seen struct {
	Method string
	Path   string // escaped
	Query  string // raw
	Header http.Header
	Body   []byte
}

// recorder records requests before handing them to a handler.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

func (rec *recorder) all() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.reqs)
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.reqs)
}

// newServer starts an httptest server that records every request and
// answers with h; n is the request's 1-based number.
func newServer(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, seen{
			Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery,
			Header: r.Header.Clone(), Body: body,
		})
		n := len(rec.reqs)
		rec.mu.Unlock()
		h(w, r, n)
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/scim+json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeRaw(w http.ResponseWriter, status int, contentType, body string) {
	if contentType != "" {
		w.Header().Set("Content-Type", contentType)
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func scimError(status int, scimType, detail string) *scim.Error {
	return scim.NewError(status, scimType, detail)
}

// makeUsers returns n users with ids u-00001, u-00002, ...
func makeUsers(n int) []scim.User {
	us := make([]scim.User, n)
	for i := range us {
		us[i] = scim.User{
			Schemas:  []string{scim.SchemaUser},
			ID:       fmt.Sprintf("u-%05d", i+1),
			UserName: fmt.Sprintf("user%05d@example.com", i+1),
			Active:   scim.Bool(true),
		}
	}
	return us
}

// pager serves a list of resources the way a SCIM server pages them, with
// knobs for the ways servers differ.
type pager[T any] struct {
	items []T
	// max caps the page size below the count asked for (0: no cap).
	max int
	// ignoreStart serves the first page whatever startIndex says.
	ignoreStart bool
	// ignoreCount serves every item left whatever count says.
	ignoreCount bool
	// total overrides totalResults; nil reports len(items).
	total *int
	// noTotal leaves totalResults out.
	noTotal bool
}

func (p *pager[T]) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, err := strconv.Atoi(q.Get("startIndex"))
	if err != nil || start < 1 || p.ignoreStart {
		start = 1
	}
	count, err := strconv.Atoi(q.Get("count"))
	if err != nil || count < 0 || p.ignoreCount {
		count = len(p.items)
	}
	if p.max > 0 && count > p.max {
		count = p.max
	}
	from := min(start-1, len(p.items))
	to := min(from+count, len(p.items))
	page := p.items[from:to]
	resp := map[string]any{
		"schemas":      []string{scim.SchemaListResponse},
		"itemsPerPage": len(page),
		"startIndex":   start,
		"Resources":    page,
	}
	switch {
	case p.noTotal:
	case p.total != nil:
		resp["totalResults"] = *p.total
	default:
		resp["totalResults"] = len(p.items)
	}
	writeJSON(w, http.StatusOK, resp)
}

// closedURL returns an http URL on 127.0.0.1 where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr + "/api/v2/scim"
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func ctxT(t *testing.T) context.Context {
	t.Helper()
	return t.Context()
}
