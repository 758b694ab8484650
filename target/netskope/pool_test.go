package netskope

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/provsync/provsync/scim"
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
		mu      gosync.Mutex
		arrived int
		release = make(chan struct{})
	)
	srv, conns := connCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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

// TestAnswersKeepTheConnection sends 50 creates one after another, to a
// server that answers with a Content-Length and to one that streams its
// answers in chunks, and checks that each used a single connection: a
// client that stops reading a body before its end closes the connection.
func TestAnswersKeepTheConnection(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		name := map[bool]string{false: "content-length", true: "chunked"}[chunked]
		t.Run(name, func(t *testing.T) {
			var created atomic.Int64
			srv, conns := connCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := created.Add(1)
				body := fmt.Appendf(nil, `{"id":"u%d","userName":"user%d@example.com","active":true}`, n, n)
				w.Header().Set("Content-Type", "application/scim+json")
				if !chunked {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				}
				w.WriteHeader(http.StatusCreated)
				for len(body) > 0 { // in pieces, flushed: chunks when no length is set
					k := min(len(body), 16)
					_, _ = w.Write(body[:k])
					w.(http.Flusher).Flush()
					body = body[k:]
				}
			}))
			c, _ := newTestClient(t, srv.URL, noLimit())
			for i := range 50 {
				u, err := c.CreateUser(context.Background(), &scim.User{UserName: fmt.Sprintf("user%d@example.com", i+1)})
				if err != nil {
					t.Fatal(err)
				}
				if want := fmt.Sprintf("u%d", i+1); u.ID != want {
					t.Fatalf("create %d: id %q, want %q", i+1, u.ID, want)
				}
			}
			if n := conns.Load(); n != 1 {
				t.Errorf("50 creates one after another opened %d connections, want 1", n)
			}
		})
	}
}

// TestReadBody reads bodies of declared, undeclared and wrong sizes.
func TestReadBody(t *testing.T) {
	long := strings.Repeat("x", 3000)
	failure := errors.New("connection reset")
	for _, tc := range []struct {
		name    string
		body    io.Reader
		size    int64 // declared; -1: not declared
		limit   int64
		want    string
		wantErr error
	}{
		{"declared", strings.NewReader(`{"id":"1"}`), 10, 100, `{"id":"1"}`, nil},
		{"empty", strings.NewReader(""), 0, 100, "", nil},
		{"undeclared, longer than the first buffer", strings.NewReader(long), -1, 1 << 20, long, nil},
		{"declared short of the truth", strings.NewReader(long), 10, 1 << 20, long, nil},
		{"declared beyond the limit", strings.NewReader(long), 5000, 100, long[:100], nil},
		{"cut at the limit", strings.NewReader(long), -1, 2000, long[:2000], nil},
		{"a failure mid-body", io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(failure)), 10, 100, "abc", failure},
		{"one byte at a time", iotest.OneByteReader(strings.NewReader(long)), 3000, 1 << 20, long, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readBody(tc.body, nil, tc.size, tc.limit)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if string(got) != tc.want {
				t.Errorf("read %d bytes, want %d", len(got), len(tc.want))
			}
		})
	}
}

// connCountingServer starts a server of h that counts the connections it
// accepts.
func connCountingServer(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int64) {
	conns := new(atomic.Int64)
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, conns
}

// TestLargeRequestsGoOutInOneWrite creates a group with 1,000 members (a
// body of about 50 KB) through the default transport, its connections
// wrapped to count their writes: the request goes to the connection in
// one write.
func TestLargeRequestsGoOutInOneWrite(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/scim+json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"g1","displayName":"big"}`))
	}))
	t.Cleanup(srv.Close)
	tr := pooledTransport().(*http.Transport)
	var writes atomic.Int64
	dial := (&net.Dialer{}).DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return writeCounter{Conn: conn, n: &writes}, nil
	}
	c, _ := newTestClient(t, srv.URL, noLimit(), WithHTTPClient(&http.Client{Transport: tr}))
	g := &scim.Group{DisplayName: "big"}
	for i := range DefaultMemberChunkSize {
		g.Members = append(g.Members, scim.Member{Value: fmt.Sprintf("0f6c2a1e-7d4b-4c39-9a51-%012d", i)})
	}
	if _, err := c.CreateGroup(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	if n := writes.Load(); n != 1 {
		t.Errorf("a create of %d members took %d writes, want 1", len(g.Members), n)
	}
}

// writeCounter counts the writes to a connection.
type writeCounter struct {
	net.Conn
	n *atomic.Int64
}

func (w writeCounter) Write(p []byte) (int, error) {
	w.n.Add(1)
	return w.Conn.Write(p)
}

// TestCreatesKeepTheirOwnAnswers creates 400 users from 8 goroutines (the
// answers to creates are read into buffers the client reuses) and checks,
// once all are done, that each user returned holds the id and meta of its
// own answer: nothing of an answer may stay in a buffer handed on.
func TestCreatesKeepTheirOwnAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u scim.User
		if err := json.NewDecoder(r.Body).Decode(&u); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/scim+json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(scim.User{ID: "id-" + u.UserName, UserName: u.UserName, DisplayName: strings.Repeat("d", len(u.UserName)),
			Meta: &scim.Meta{ResourceType: "User", Location: "/Users/id-" + u.UserName, Version: `W/"` + u.UserName + `"`}})
	}))
	t.Cleanup(srv.Close)
	c, _ := newTestClient(t, srv.URL, noLimit())
	const writers, each = 8, 50
	got := make([][]*scim.User, writers)
	var wg gosync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range each {
				// Names of several lengths: answers of several sizes.
				name := fmt.Sprintf("u%d-%d%s@example.com", w, k, strings.Repeat("x", (w*each+k)%37))
				u, err := c.CreateUser(context.Background(), &scim.User{UserName: name})
				if err != nil {
					t.Error(err)
					return
				}
				got[w] = append(got[w], u)
			}
		}()
	}
	wg.Wait()
	for w := range writers {
		for _, u := range got[w] {
			if u.ID != "id-"+u.UserName || u.Meta == nil || u.Meta.Location != "/Users/id-"+u.UserName || u.Meta.Version != `W/"`+u.UserName+`"` {
				t.Errorf("user %s came back with id %q and meta %+v", u.UserName, u.ID, u.Meta)
			}
		}
	}
}
