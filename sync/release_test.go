package sync_test

import (
	"context"
	"reflect"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/provsync/provsync/mapping"
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
			// The clock looks for the directory only while the plan is
			// made: the apply reads the clock from several goroutines.
			var planning atomic.Bool
			collected := 0
			clock := func() time.Time {
				if planning.Load() && fresh.last != (weak.Pointer[source.User]{}) {
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
			planning.Store(true)
			p, err := eng.Plan(context.Background())
			planning.Store(false)
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

// keepingSource hands out a new directory on each read, as an adapter
// does, and keeps a pointer to the last one so that a test can see what
// the engine left of it.
type keepingSource struct{ last *source.Directory }

func (s *keepingSource) Name() string { return "keeping" }

func (s *keepingSource) Read(context.Context) (*source.Directory, error) {
	s.last = sourcetest.AttributeDirectory(20, "keep")
	return s.last, nil
}

// releaseRules map, scope and group users by their attributes.
func releaseRules(t *testing.T) *mapping.RuleMapper {
	t.Helper()
	rm, err := mapping.Rules{
		Users: append(mapping.DefaultUserMappings(), mapping.AttributeMapping{Target: "department", Type: mapping.Direct, Source: "department"}),
		Scope: mapping.Scope{{Name: "sales", Clauses: []mapping.Clause{{Attribute: "department", Operator: mapping.OpEquals, Value: "Sales"}}}},
		GroupRules: mapping.GroupRules{{Name: "remote", Conditions: []mapping.Condition{{Attribute: "remote", Operator: mapping.CondEquals, Value: "true"}},
			Actions: []mapping.GroupAction{{SetGroup: "Remote"}}}},
	}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	return rm
}

// TestPlanDropsUsersAttributesOnceMapped: the engine maps the directory a
// read returns so that each user's attributes and emails are dropped as
// soon as the user is mapped (they are most of a directory, and nothing
// after the mapping reads them), and the plan is what the attributes say:
// users created with the mapped department, in scope by it, grouped by
// another. Planned again after the apply, nothing changes.
func TestPlanDropsUsersAttributesOnceMapped(t *testing.T) {
	_, c := newTarget(t)
	src := &keepingSource{}
	eng, err := sync.New(src, c, sync.WithMapper(releaseRules(t)), sync.WithState(sync.NewMemoryState()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := eng.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range src.last.Users {
		if u.Attributes.Len() != 0 || u.Emails != nil {
			t.Fatalf("source user %d (%s) still has %d attributes and %d emails after the plan", i, u.ID, u.Attributes.Len(), len(u.Emails))
		}
	}
	creates, remote := 0, 0
	for _, ch := range p.Changes {
		switch {
		case ch.Action == sync.ActionCreateUser:
			creates++
			if ch.User.Enterprise == nil || ch.User.Enterprise.Department != "Sales" {
				t.Errorf("%s created without the mapped department: %+v", ch.Object, ch.User.Enterprise)
			}
		case ch.Action == sync.ActionCreateGroup && ch.Object.Key == "Remote":
			remote = len(ch.Members)
		}
	}
	// Of AttributeDirectory's 20 users, u3, u6, ... u18 are active, and
	// those of them with an even number remote.
	if creates != 6 || remote != 3 {
		t.Fatalf("plan creates %d users and a Remote group of %d, want 6 and 3:\n%s", creates, remote, p.SummaryLine())
	}
	if _, err := eng.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	if p, err = eng.Plan(ctx); err != nil {
		t.Fatal(err)
	} else if !p.Empty() {
		t.Fatalf("planned again: %s", p.SummaryLine())
	}
}

// TestIncrementalCacheKeepsAttributes: a change feed's directory is
// cached as read, attributes included, although the mapping drops them
// from the engine's copy: the next read's changes fold into the cache,
// and the users they leave alone keep their attributes (here their
// department, which the scope tests and the mapping writes).
func TestIncrementalCacheKeepsAttributes(t *testing.T) {
	_, c := newTarget(t)
	f := &feed{}
	dir := sourcetest.AttributeDirectory(20, "keep")
	f.set(dir)
	eng, err := sync.New(f, c, sync.WithMapper(releaseRules(t)), sync.WithState(sync.NewMemoryState()), sync.WithIncremental(true))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, res, err := eng.Sync(ctx); err != nil {
		t.Fatal(err)
	} else if res.Applied == 0 {
		t.Fatal("the first cycle created no one")
	}
	dir.Users[2].GivenName = "Renamed" // u3, active
	f.set(dir)
	p, err := eng.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Incremental || p.Summary.UpdateUsers != 1 || len(p.Changes) != 1 {
		t.Fatalf("incremental %v; want one user updated, got: %s", p.Incremental, p.SummaryLine())
	}
}
