package sync_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/synth"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// BenchmarkSync10k is the initial sync of 10,000 users and 500 groups
// (about 10 memberships per user) into the embedded Netskope server with no
// rate limit, then a second sync with no changes. Run it with
//
//	go test ./sync -run '^$' -bench Sync10k -benchtime 1x -benchmem
//
// It reports, per initial sync: requests per object, the requests of the
// no-change sync, and the process's peak resident memory.
func BenchmarkSync10k(b *testing.B) {
	dir := synth.Generate(synth.Config{Users: 10000, Groups: 500, MembershipsPerUser: 10, Seed: 1})
	objects := len(dir.Users) + len(dir.Groups)
	var initial, second int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		srv := netskopetest.NewServer()
		c, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0), netskope.WithPageSize(1000))
		if err != nil {
			b.Fatal(err)
		}
		eng, err := sync.New(file.FromDirectory(dir), c, sync.WithConcurrency(16))
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		b.StartTimer()
		p, res, err := eng.Sync(context.Background())
		if err != nil || res.Failed > 0 {
			b.Fatalf("initial sync: %v %v", err, res.Err())
		}
		b.StopTimer()
		initial = c.Stats().Requests
		c.ResetStats()
		p2, _, err := eng.Sync(context.Background())
		if err != nil || !p2.Empty() {
			b.Fatalf("second sync: %v, %d changes", err, len(p2.Changes))
		}
		second = c.Stats().Requests
		if p.Summary.CreateUsers == 0 {
			b.Fatal("nothing created")
		}
		srv.Close()
	}
	b.ReportMetric(float64(initial)/float64(objects), "requests/object")
	b.ReportMetric(float64(initial), "requests-initial")
	b.ReportMetric(float64(second), "requests-nochange")
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB")
	}
}

// BenchmarkDriftCheck10k plans a drift check (sync.DriftCheck: the whole
// target listed, members included) of 10,000 users and 500 groups with
// about 10 memberships per user, synced before; nothing changed, so the
// plan is empty. The list pages are the embedded server's, recorded once
// and replayed from memory, so that the figures are the engine's own.
// Run it with
//
//	go test ./sync -run '^$' -bench DriftCheck10k -benchmem
//
// live-MB is the heap the plan still holds when it is made (after a
// collection), beyond what was live before it; cpu-ms/op the process's
// CPU time (user and system, the collector's included) per plan.
func BenchmarkDriftCheck10k(b *testing.B) {
	dir := synth.Generate(synth.Config{Users: 10000, Groups: 500, MembershipsPerUser: 10, Seed: 1})
	srv := netskopetest.NewServer()
	defer srv.Close()
	state := sync.NewMemoryState()
	ctx := context.Background()
	engine := func(hc *http.Client) *sync.Engine {
		c, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0), netskope.WithPageSize(1000),
			netskope.WithHTTPClient(hc))
		if err != nil {
			b.Fatal(err)
		}
		eng, err := sync.New(file.FromDirectory(dir), c, sync.WithConcurrency(16), sync.WithState(state))
		if err != nil {
			b.Fatal(err)
		}
		return eng
	}
	if _, res, err := engine(http.DefaultClient).Sync(ctx); err != nil || res.Failed > 0 {
		b.Fatalf("initial sync: %v %v", err, res.Err())
	}
	// A first drift check, recorded, stores the mirrors as the server
	// lists them.
	pages := replay{}
	rec := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		res, err := http.DefaultTransport.RoundTrip(r)
		if err != nil || r.Method != http.MethodGet {
			return res, err
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		pages[r.URL.String()] = body
		res.Body = io.NopCloser(bytes.NewReader(body))
		return res, err
	})}
	if _, _, err := engine(rec).Sync(ctx, sync.DriftCheck()); err != nil {
		b.Fatal(err)
	}
	eng := engine(&http.Client{Transport: pages})
	var live float64
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := processCPU()
		b.StartTimer()
		p, err := eng.Plan(ctx, sync.DriftCheck())
		if err != nil || !p.Empty() || !p.DriftCheck {
			b.Fatalf("drift check: %v, %d changes", err, len(p.Changes))
		}
		b.StopTimer()
		cpu += processCPU() - start
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(p)
		live = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)
		b.StartTimer()
	}
	b.ReportMetric(live, "live-MB")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}

// processCPU is the CPU time (user and system) the process has used: on a
// loaded machine a steadier figure than the wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// replay answers GET requests with the bodies recorded for their URLs.
type replay map[string][]byte

func (rp replay) RoundTrip(r *http.Request) (*http.Response, error) {
	body, ok := rp[r.URL.String()]
	if !ok || r.Method != http.MethodGet {
		return nil, fmt.Errorf("no recorded answer to %s %s", r.Method, r.URL.Path)
	}
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/scim+json"}},
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
}

// roundTrip is an http.RoundTripper made of a function.
type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// BenchmarkInitialSyncEngine is the initial sync of 2,000 users and 100
// groups (about 10 memberships per user) with a file state, against a
// tenant answered in memory (fakeTenant): no sockets and no server, so
// that CPU, B/op and allocs/op are the engine's and its client's own.
// allocs/request divides allocs/op by the requests of a sync. Run it with
//
//	go test ./sync -run '^$' -bench InitialSyncEngine -benchmem
func BenchmarkInitialSyncEngine(b *testing.B) {
	dir := synth.Generate(synth.Config{Users: 2000, Groups: 100, MembershipsPerUser: 10, Seed: 1})
	ctx := context.Background()
	var requests int64
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		c, err := netskope.New("http://127.0.0.1/api/v2/scim", "bench-token", netskope.WithRateLimit(0, 0),
			netskope.WithPageSize(1000), netskope.WithHTTPClient(&http.Client{Transport: &fakeTenant{}}))
		if err != nil {
			b.Fatal(err)
		}
		st := sync.NewFileState(filepath.Join(b.TempDir(), "state.json"))
		eng, err := sync.New(file.FromDirectory(dir), c, sync.WithConcurrency(16), sync.WithState(st))
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		b.StartTimer()
		p, res, err := eng.Sync(ctx)
		if err != nil || res.Failed > 0 {
			b.Fatalf("initial sync: %v %v", err, res.Err())
		}
		b.StopTimer()
		if p.Summary.CreateUsers != len(dir.Users) {
			b.Fatalf("%d users created, want %d", p.Summary.CreateUsers, len(dir.Users))
		}
		requests = c.Stats().Requests
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(requests), "requests/op")
}

// fakeTenant answers a Netskope client in memory as an empty tenant does:
// empty listings, a 201 that echoes the request with a new id to each
// POST, a 204 to each PATCH.
type fakeTenant struct{ ids atomic.Int64 }

func (t *fakeTenant) RoundTrip(r *http.Request) (*http.Response, error) {
	res := &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/scim+json"}},
		Body: http.NoBody, Request: r}
	switch r.Method {
	case http.MethodGet:
		body := []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[]}`)
		res.Body, res.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	case http.MethodPost:
		sent, err := io.ReadAll(r.Body)
		if err != nil || len(sent) < 2 {
			return nil, fmt.Errorf("reading the request body: %v", err)
		}
		n := t.ids.Add(1)
		body := fmt.Appendf(make([]byte, 0, len(sent)+48), `{"id":"%08x-0000-4000-8000-%012x",`, n, n)
		body = append(body, sent[1:]...)
		res.StatusCode, res.Body, res.ContentLength = http.StatusCreated, io.NopCloser(bytes.NewReader(body)), int64(len(body))
	case http.MethodPatch:
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return nil, err
		}
		res.StatusCode = http.StatusNoContent
	default:
		return nil, fmt.Errorf("unexpected %s %s", r.Method, r.URL.Path)
	}
	if r.Body != nil {
		_ = r.Body.Close()
	}
	return res, nil
}
