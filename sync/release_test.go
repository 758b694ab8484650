package sync_test

import (
	"context"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/sourcetest"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// freshSource returns a new directory on each read and keeps none, as
// an adapter builds one from the provider's responses; last points to
// the last one without holding it.
type freshSource struct {
	last weak.Pointer[source.Directory]
}

func (s *freshSource) Name() string { return "fresh" }

func (s *freshSource) Read(context.Context) (*source.Directory, error) {
	d := sourcetest.AttributeDirectory(20, "release")
	s.last = weak.Make(d)
	return d, nil
}

// TestPlanReleasesTheDirectory: once the source's directory is mapped,
// the plan holds it no longer (it is the largest thing a cycle holds):
// the clock, read as the plan is finished, finds it collected.
func TestPlanReleasesTheDirectory(t *testing.T) {
	srv := netskopetest.NewServer()
	defer srv.Close()
	c, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	src := &freshSource{}
	collected := 0
	clock := func() time.Time {
		if src.last != (weak.Pointer[source.Directory]{}) {
			runtime.GC()
			if src.last.Value() == nil {
				collected++
			}
		}
		return time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	}
	eng, err := sync.New(src, c, sync.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	p, err := eng.Plan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p.Summary.CreateUsers == 0 {
		t.Fatal("the plan creates no users: the directory was not read")
	}
	// The clock is read for the plan's input, its creation time and its
	// log line, all after the mapping.
	if collected < 2 {
		t.Fatalf("the directory was collected by %d of the clock reads after it was mapped, want at least 2", collected)
	}
}
