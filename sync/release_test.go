package sync_test

import (
	"context"
	"reflect"
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
// the last one's users without holding them.
type freshSource struct{ last weak.Pointer[source.User] }

func (s *freshSource) Name() string { return "fresh" }

func (s *freshSource) Read(context.Context) (*source.Directory, error) {
	d := sourcetest.AttributeDirectory(20, "release")
	s.last = weak.Make(&d.Users[0])
	return d, nil
}

// freshFeed is freshSource as a change feed: every read is a full one.
type freshFeed struct{ *freshSource }

func (s freshFeed) ReadChanges(ctx context.Context, _ string) (*source.Changes, error) {
	d, err := s.Read(ctx)
	if err != nil {
		return nil, err
	}
	return &source.Changes{Users: d.Users, Groups: d.Groups, Full: true, Cursor: "c1"}, nil
}

// TestPlanReleasesTheDirectory: once the source's directory is mapped,
// the plan holds it no longer (it is the largest thing a cycle holds):
// the clock, read as the plan is finished, finds it collected. A change
// feed's directory is kept encoded for the cache, which is saved and read
// back whole.
func TestPlanReleasesTheDirectory(t *testing.T) {
	for _, incremental := range []bool{false, true} {
		t.Run(map[bool]string{false: "full read", true: "change feed"}[incremental], func(t *testing.T) {
			srv := netskopetest.NewServer()
			defer srv.Close()
			c, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			fresh := &freshSource{}
			var src source.Source = fresh
			if incremental {
				src = freshFeed{fresh}
			}
			collected := 0
			clock := func() time.Time {
				if fresh.last != (weak.Pointer[source.User]{}) {
					runtime.GC()
					if fresh.last.Value() == nil {
						collected++
					}
				}
				return time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
			}
			st := sync.NewMemoryState()
			eng, err := sync.New(src, c, sync.WithClock(clock), sync.WithState(st))
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
			// The clock is read for the plan's input, its creation time and
			// its log line, all after the mapping.
			if collected < 2 {
				t.Fatalf("the directory was collected by %d of the clock reads after it was mapped, want at least 2", collected)
			}
			if !incremental {
				return
			}
			if _, err := eng.Apply(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			snap, err := st.Load(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			d, err := snap.Directories["fresh"].Directory()
			if err != nil {
				t.Fatal(err)
			}
			if want := sourcetest.AttributeDirectory(20, "release"); d == nil || !reflect.DeepEqual(d.Users, want.Users) {
				t.Fatalf("cached directory saved as %+v", d)
			}
		})
	}
}
