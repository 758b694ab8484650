package sync_test

import (
	"context"
	"os"
	"path/filepath"
	gosync "sync"
	"testing"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target"
)

// TestCreatesDoNotWaitForFsync: the links of landed creates ride the next
// fsync instead of each waiting for one, since the intents synced before
// the creates were sent cover them; a restart still reads every link.
func TestCreatesDoNotWaitForFsync(t *testing.T) {
	e := newEnv(t, 60, 6)
	path := filepath.Join(t.TempDir(), "state.json")
	st := sync.NewFileState(path)
	e.state = st
	eng := e.engine(sync.WithConcurrency(4))
	_, res := e.apply(eng)
	if res.Applied != 66 {
		t.Fatalf("applied %d changes, want 66 creates", res.Applied)
	}
	// One synced record per phase that creates: the intents of its
	// creates, in one batch.
	if got := sync.JournalSyncs(st); got > 2 {
		t.Errorf("the journal was synced %d times for 66 creates, want at most 2 (one per phase)", got)
	}
	// The links of the landed creates are written a few dozen at a time:
	// with the intents of each phase and the save, a handful of writes,
	// not one a create.
	if got := sync.JournalWrites(st); got > 6 {
		t.Errorf("the journal was written %d times for 66 creates, want at most 6", got)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = sync.NewFileState(path)
	defer st.Close()
	snap, err := st.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Users) != 60 || len(snap.Groups) != 6 || len(snap.Intents) != 0 {
		t.Errorf("after a restart the state holds %d user links, %d group links, %d intents; want 60, 6, 0",
			len(snap.Users), len(snap.Groups), len(snap.Intents))
	}
}

// powerCut copies the state's files at the moment of a crash of the
// system (power lost): the snapshot as saved and the journal as far as an
// fsync covered it. What was written but not synced is lost.
type powerCut struct {
	target.Target
	st        *sync.FileState
	path, out string
	at, n     int
	unsynced  int64 // journal bytes written but not synced at the cut
	// kill cuts as a SIGKILL of the process does instead: the system
	// keeps what was written, synced or not; the state's held lines are
	// lost.
	kill bool
	held int // journal bytes held, not written, at the cut
}

func (p *powerCut) CreateUser(ctx context.Context, u *scim.User) (*scim.User, error) {
	p.n++ // concurrency 1: one create at a time
	if p.n == p.at {
		if err := p.cut(); err != nil {
			return nil, err
		}
	}
	return p.Target.CreateUser(ctx, u)
}

func (p *powerCut) cut() error {
	snap, err := os.ReadFile(p.path)
	if err != nil {
		return err
	}
	journal, err := os.ReadFile(p.path + ".journal")
	if err != nil {
		return err
	}
	synced := sync.SyncedJournalSize(p.st)
	p.unsynced = int64(len(journal)) - synced
	p.held = sync.HeldJournalSize(p.st)
	if p.kill {
		synced = int64(len(journal))
	}
	if err := os.WriteFile(p.out, snap, 0o600); err != nil {
		return err
	}
	return os.WriteFile(p.out+".journal", journal[:synced], 0o600)
}

// TestPowerLossLosesOnlyCoveredLinks: a crash of the system loses the
// links of creates that landed since the last fsync, and a SIGKILL of the
// process those the state held, not yet written (it writes a few dozen
// together); either way the next run still recognises each of those
// users as created by the engine, through the intent synced before its
// create was sent: no duplicate, no unowned user, no adoption.
func TestPowerLossLosesOnlyCoveredLinks(t *testing.T) {
	for _, tt := range []struct {
		name string
		kill bool
	}{
		{name: "power loss"},
		{name: "SIGKILL", kill: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 50, 0)
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			st := sync.NewFileState(path)
			// A first save, so that the snapshot file exists at the cut.
			s, err := st.Load(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			s.Serial++
			if err := st.Save(ctx(t), s); err != nil {
				t.Fatal(err)
			}
			cut := &powerCut{Target: e.client, st: st, path: path, out: filepath.Join(dir, "after-cut.json"), at: 31, kill: tt.kill}
			eng, err := sync.New(e.src, cut, sync.WithState(st), sync.WithConcurrency(1))
			if err != nil {
				t.Fatal(err)
			}
			p, err := eng.Plan(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := eng.Apply(ctx(t), p); err != nil {
				t.Fatal(err)
			}
			st.Close()
			lostBytes := int64(cut.held)
			if !tt.kill {
				lostBytes += cut.unsynced
			}
			if lostBytes == 0 {
				t.Fatal("no landed link was lost at the cut: the test cuts nothing")
			}

			// The system restarts from what the disk kept; the target holds
			// the 50 users, of which the state links none (the first 30
			// links were neither synced nor written).
			after := sync.NewFileState(cut.out)
			defer after.Close()
			lost, err := after.Load(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(lost.Users) != 0 || len(lost.Intents) != 50 {
				t.Fatalf("after the cut the state holds %d links and %d intents, want 0 and 50", len(lost.Users), len(lost.Intents))
			}
			e.state = after
			eng = e.engine()
			e.apply(eng)
			e.mustBeEmpty(eng)
			a, _ := e.auditState()
			if a.Users != 50 || a.Duplicates != 0 || a.Unowned != 0 || a.Created != 50 || a.Adopted != 0 {
				t.Errorf("after the rerun: %+v; want 50 users, all created by the engine, no duplicate", a)
			}
		})
	}
}

// intentCounter is a state that follows how many intents are pending.
type intentCounter struct {
	*sync.MemoryState
	mu       gosync.Mutex
	pending  map[string]bool
	most     int
	recorded int
}

func (s *intentCounter) Record(ctx context.Context, recs ...sync.Record) error {
	s.mu.Lock()
	for _, r := range recs {
		key := string(r.Kind) + ":" + r.SourceID
		switch r.Op {
		case sync.OpIntent:
			s.pending[key] = true
			s.recorded++
		case sync.OpLink, sync.OpSettle, sync.OpUnlink:
			delete(s.pending, key)
		}
	}
	s.most = max(s.most, len(s.pending))
	s.mu.Unlock()
	return s.MemoryState.Record(ctx, recs...)
}

// TestIntentsAreRecordedByWindow: an apply records the intents of its
// creates a window at a time as it reaches them, so the state never holds
// more pending intents than a window and the creates in flight, and still
// holds each intent before its create is sent (the crash tests check
// that), and none once every create landed.
func TestIntentsAreRecordedByWindow(t *testing.T) {
	e := newEnv(t, 60, 6)
	st := &intentCounter{MemoryState: sync.NewMemoryState(), pending: map[string]bool{}}
	e.state = st
	const window, concurrency = 8, 4
	eng := e.engine(sync.WithConcurrency(concurrency))
	sync.SetIntentWindow(eng, window)
	_, res := e.apply(eng)
	if res.Applied != 66 {
		t.Fatalf("applied %d changes, want 66 creates", res.Applied)
	}
	if st.recorded != 66 || len(st.pending) != 0 {
		t.Errorf("%d intents recorded, %d left pending; want 66 and 0", st.recorded, len(st.pending))
	}
	if st.most > window+concurrency {
		t.Errorf("up to %d intents were pending at once, want at most %d (a window and the creates in flight)", st.most, window+concurrency)
	}
}
