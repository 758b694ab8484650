package sync

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/target"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// createHook runs at before each user create it passes on.
type createHook struct {
	target.Target
	at func(u *scim.User)
}

func (t *createHook) CreateUser(ctx context.Context, u *scim.User) (*scim.User, error) {
	if t.at != nil {
		t.at(u)
	}
	return t.Target.CreateUser(ctx, u)
}

// stateLinks counts the links f's in-memory copy of the state holds.
func stateLinks(f *FileState) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.base == nil {
		return 0
	}
	return len(f.base.Users) + len(f.base.Groups)
}

// TestLargeApplyHoldsOneCopyOfTheLinks: an apply that creates many
// objects takes the file state's copy of the links instead of growing
// it next to its own, so that the users it created are linked once in
// memory, not twice: by its last create, the state's copy holds none of
// them. The apply's save gives the state its copy back, so the next plan
// reads no file, and the files hold every link. An apply of a few
// creates leaves the state its copy, which its save appends to the
// journal against.
func TestLargeApplyHoldsOneCopyOfTheLinks(t *testing.T) {
	srv := netskopetest.New(t)
	c, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	const many = 200
	dir := &source.Directory{Groups: []source.Group{{ID: "g-1", DisplayName: "All"}}}
	addUsers := func(from, to int) {
		for i := from; i < to; i++ {
			id := fmt.Sprintf("u-%03d", i)
			dir.Users = append(dir.Users, source.User{ID: id, UserName: id + "@example.com", GivenName: "G", FamilyName: id})
			dir.Groups[0].Members = append(dir.Groups[0].Members, id)
		}
	}
	addUsers(0, many)
	path := filepath.Join(t.TempDir(), "state.json")
	st := NewFileState(path)
	defer st.Close()
	tgt := &createHook{Target: c}
	e, err := New(dirSource{dir}, tgt, WithState(st), WithConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	creates, held := 0, 0
	tgt.at = func(*scim.User) {
		creates++
		held = max(held, stateLinks(st))
	}
	if _, res, err := e.Sync(ctx); err != nil || res.Failed > 0 {
		t.Fatalf("initial sync: %v, %d failed", err, res.Failed)
	}
	if creates != many || held != 0 {
		t.Errorf("the state's copy held up to %d links during %d creates, want none during %d", held, creates, many)
	}
	if got := stateLinks(st); got != many+1 {
		t.Errorf("after the save the state's copy holds %d links, want %d", got, many+1)
	}
	reads := st.fileReads
	p, err := e.Plan(ctx)
	if err != nil || !p.Empty() {
		t.Fatalf("plan after the sync: %v, %d changes", err, len(p.Changes))
	}
	if st.fileReads != reads {
		t.Errorf("the plan after the sync read the state file %d times, want 0", st.fileReads-reads)
	}

	// A few creates: the state keeps its copy through the apply.
	addUsers(many, many+3)
	held, creates = -1, 0
	tgt.at = func(*scim.User) {
		creates++
		if n := stateLinks(st); held < 0 || n < held {
			held = n
		}
	}
	if _, res, err := e.Sync(ctx); err != nil || res.Failed > 0 {
		t.Fatalf("second sync: %v, %d failed", err, res.Failed)
	}
	if creates != 3 || held < many+1 {
		t.Errorf("with %d creates the state's copy held as few as %d links, want at least %d", creates, held, many+1)
	}

	// The files hold every link.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	again := NewFileState(path)
	defer again.Close()
	snap, err := again.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Users) != many+3 || len(snap.Groups) != 1 || len(snap.Intents) != 0 {
		t.Errorf("the files hold %d user links, %d group links and %d intents, want %d, 1 and 0",
			len(snap.Users), len(snap.Groups), len(snap.Intents), many+3)
	}
}
