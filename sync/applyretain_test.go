package sync_test

import (
	"context"
	"io"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/synth"
	"github.com/provsync/provsync/sync"
)

// watchingMapper is a RuleMapper (every interface of it promoted) that
// keeps a weak pointer to the users' backing array of the last directory
// it was given to map.
type watchingMapper struct {
	*mapping.RuleMapper
	users weak.Pointer[source.User]
}

func (m *watchingMapper) watch(dir *source.Directory) {
	if dir != nil && len(dir.Users) > 0 {
		m.users = weak.Make(&dir.Users[0])
	}
}

func (m *watchingMapper) Map(ctx context.Context, dir *source.Directory) (*mapping.Desired, error) {
	m.watch(dir)
	return m.RuleMapper.Map(ctx, dir)
}

func (m *watchingMapper) MapWith(ctx context.Context, dir *source.Directory, ent mapping.Entitlements) (*mapping.Desired, error) {
	m.watch(dir)
	return m.RuleMapper.MapWith(ctx, dir, ent)
}

func (m *watchingMapper) MapReleasing(ctx context.Context, dir *source.Directory, ent mapping.Entitlements) (*mapping.Desired, error) {
	m.watch(dir)
	return m.RuleMapper.MapReleasing(ctx, dir, ent)
}

func (m *watchingMapper) MapStreaming(ctx context.Context, dir *source.Directory, ent mapping.Entitlements, s mapping.Stream) (*mapping.Desired, error) {
	m.watch(dir)
	return m.RuleMapper.MapStreaming(ctx, dir, ent, s)
}

// fullFeed is a feed read in full each time (not incremental).
type fullFeed struct{ f *feed }

func (s fullFeed) Name() string { return "feed" }

func (s fullFeed) Read(ctx context.Context) (*source.Directory, error) { return s.f.Read(ctx) }

// TestApplyHoldsNoSourceDirectory: while Sync applies its plan, nothing
// of the directory the plan mapped is reachable (it is the largest thing
// a cycle holds, and the apply's own peak comes on top of it): not a
// full read's, not the cache an incremental read decoded and folded its
// changes into (source.ApplyInPlace). The clock, read as the apply
// starts, as it records outcomes and as it ends, collects garbage and
// looks for the directory's users' backing array: a plan that kept its
// read's directory (pendingRead.dir) fails it.
func TestApplyHoldsNoSourceDirectory(t *testing.T) {
	for _, tc := range []struct {
		name        string
		incremental bool
		file        bool
	}{
		{"full read, memory state", false, false},
		{"full read, file state", false, true},
		{"change feed, memory state", true, false},
		{"change feed, file state", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newTarget(t)
			dir := synth.Generate(synth.Config{Users: 200, Groups: 6, MembershipsPerUser: 2, Seed: 5})
			f := &feed{}
			f.set(dir)
			var src source.Source = fullFeed{f}
			if tc.incremental {
				src = f
			}
			rules := mapping.Rules{Users: append(mapping.DefaultUserMappings(),
				mapping.AttributeMapping{Target: scim.PathDepartment, Type: mapping.Direct, Source: synth.AttrDepartment})}
			rm, err := rules.Compile()
			if err != nil {
				t.Fatal(err)
			}
			m := &watchingMapper{RuleMapper: rm}
			var st sync.State = sync.NewMemoryState()
			if tc.file {
				fs := sync.NewFileState(filepath.Join(t.TempDir(), "state.json"))
				t.Cleanup(func() { fs.Close() })
				st = fs
			}
			// The plan's last log line comes after the mapping: every
			// clock read from then on is the apply's.
			var applying atomic.Bool
			var reads, held atomic.Int32
			log := zap.New(zapcore.RegisterHooks(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zap.InfoLevel),
				func(e zapcore.Entry) error {
					if e.Message == "plan computed" {
						applying.Store(true)
					}
					return nil
				}))
			clock := func() time.Time {
				if applying.Load() && m.users != (weak.Pointer[source.User]{}) {
					runtime.GC()
					reads.Add(1)
					if m.users.Value() != nil {
						held.Add(1)
					}
				}
				return time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
			}
			eng, err := sync.New(src, c, sync.WithState(st), sync.WithMapper(m), sync.WithClock(clock), sync.WithLogger(log))
			if err != nil {
				t.Fatal(err)
			}
			cycle := func(want func(sync.Summary) bool) *sync.Plan {
				t.Helper()
				applying.Store(false)
				reads.Store(0)
				held.Store(0)
				m.users = weak.Pointer[source.User]{}
				p, res, err := eng.Sync(context.Background())
				if err != nil {
					t.Fatalf("Sync: %v", err)
				}
				if res.Failed > 0 {
					t.Fatalf("Sync: %v", res.Err())
				}
				if !want(p.Summary) {
					t.Fatalf("planned %+v", p.Summary)
				}
				if reads.Load() == 0 {
					t.Fatal("the clock was not read during the apply")
				}
				if n := held.Load(); n > 0 {
					t.Errorf("the mapped directory's users were reachable at %d of the apply's %d clock reads", n, reads.Load())
				}
				return p
			}
			cycle(func(s sync.Summary) bool { return s.CreateUsers == len(dir.Users) })
			// A mix of changes (a rename, a leaver, a hire, a member
			// removed): an incremental read decodes the cache and folds
			// them into it in place.
			i := firstActive(dir)
			dir.Users[i].DisplayName = "Changed Name"
			hire := dir.Users[i].Clone()
			hire.ID, hire.UserName, hire.Emails = "hire-1", "hire-1@example.com", nil
			keepUsers(dir, len(dir.Users)-1) // the last user leaves
			dir.Users = append(dir.Users, hire)
			dir.Groups[0].Members = dir.Groups[0].Members[1:]
			f.set(dir)
			p := cycle(func(s sync.Summary) bool { return s.UpdateUsers == 1 && s.CreateUsers == 1 && s.DeactivateUsers == 1 })
			if p.Incremental != tc.incremental {
				t.Fatalf("the second plan is incremental=%v, want %v", p.Incremental, tc.incremental)
			}
		})
	}
}
