package sync_test

import (
	"context"
	"runtime"
	"syscall"
	"testing"

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
