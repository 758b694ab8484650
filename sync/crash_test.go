package sync_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target"
)

// shrink returns the first n users of d, and its groups with only those
// users as members.
func shrink(d *source.Directory, n int) *source.Directory {
	c := d.Clone()
	c.Users = c.Users[:n]
	kept := make(map[string]bool, n)
	for _, u := range c.Users {
		kept[u.ID] = true
	}
	for i := range c.Groups {
		var m []string
		for _, id := range c.Groups[i].Members {
			if kept[id] {
				m = append(m, id)
			}
		}
		c.Groups[i].Members = m
	}
	return c
}

// lossyTarget sends every create, but answers some of them with an error
// as if the connection broke after the request was sent: the object
// exists, and the engine never learns its id, as when the process dies
// while the response is on its way.
type lossyTarget struct {
	target.Target
	mu   gosync.Mutex
	lose func(n int) bool // decides for the n-th create (from 0)
	n    int
	lost []string // target ids of lost creates
}

var errLostResponse = errors.New("connection reset by peer after the request was sent")

func (l *lossyTarget) landed(id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.n
	l.n++
	if l.lose(n) {
		l.lost = append(l.lost, id)
		return errLostResponse
	}
	return nil
}

func (l *lossyTarget) CreateUser(ctx context.Context, u *scim.User) (*scim.User, error) {
	got, err := l.Target.CreateUser(ctx, u)
	if err != nil {
		return nil, err
	}
	if err := l.landed(got.ID); err != nil {
		return nil, err
	}
	return got, nil
}

func (l *lossyTarget) CreateGroup(ctx context.Context, g *scim.Group) (*scim.Group, error) {
	got, err := l.Target.CreateGroup(ctx, g)
	if err != nil {
		return nil, err
	}
	if err := l.landed(got.ID); err != nil {
		return nil, err
	}
	return got, nil
}

// audit counts what the issue asks about: target users sharing a userName
// or an externalId, target users no link owns, and the links by origin.
type audit struct {
	Users, Duplicates, Unowned, Created, Adopted, Active int
}

func auditTarget(users []scim.User, snap *sync.Snapshot) audit {
	a := audit{Users: len(users)}
	owned := map[string]bool{}
	for _, l := range snap.Users {
		owned[l.TargetID] = true
		switch l.Origin {
		case sync.OriginCreated:
			a.Created++
		case sync.OriginAdopted:
			a.Adopted++
		}
	}
	names, ext := map[string]int{}, map[string]int{}
	for _, u := range users {
		names[strings.ToLower(u.UserName)]++
		if u.ExternalID != "" {
			ext[u.ExternalID]++
		}
		if !owned[u.ID] {
			a.Unowned++
		}
		if u.IsActive() {
			a.Active++
		}
	}
	for _, m := range []map[string]int{names, ext} {
		for _, n := range m {
			if n > 1 {
				a.Duplicates += n - 1
			}
		}
	}
	return a
}

// TestLandedButUnrecordedCreatesStayOwned: creates that landed while the
// engine lost their answers are recognised as the engine's own on the
// next run, labelled created, even after their source objects are gone,
// and then deprovisioned per policy.
func TestLandedButUnrecordedCreatesStayOwned(t *testing.T) {
	e := newEnv(t, 40, 4)
	lossy := &lossyTarget{Target: e.client, lose: func(n int) bool { return n%3 == 1 }}
	eng, err := sync.New(e.src, lossy, sync.WithState(e.state), sync.WithConcurrency(4))
	if err != nil {
		t.Fatal(err)
	}
	p, err := eng.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Apply(ctx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed == 0 || len(lossy.lost) == 0 {
		t.Fatalf("no create lost its answer: %s", res.SummaryLine())
	}
	// The source shrinks to its first ten users before the next run, so
	// most of the objects whose answers were lost have no source object.
	e.edit(func(d *source.Directory) { *d = *shrink(d, 10) })
	lossy.lose = func(int) bool { return false }
	p, err = eng.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := eng.Apply(ctx(t), p, sync.Confirm()); err != nil || res.Failed > 0 {
		t.Fatalf("second run: %v %v", res, err)
	}
	e.mustBeEmpty(eng)

	a, snap := e.auditState()
	t.Logf("%d creates lost their answer; then %+v", len(lossy.lost), a)
	if a.Duplicates != 0 || a.Unowned != 0 || a.Adopted != 0 {
		t.Errorf("duplicates %d, unowned %d, adopted %d; want 0 each", a.Duplicates, a.Unowned, a.Adopted)
	}
	if want := 10 - countState(e.dir, source.StateSuspended, source.StateDeleted); a.Active != want {
		t.Errorf("%d target users active, want the %d the shrunk source holds", a.Active, want)
	}
	groups, err := e.client.ListGroups(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		owned := false
		for _, l := range snap.Groups {
			owned = owned || l.TargetID == g.ID
		}
		if !owned {
			t.Errorf("group %q is not owned", g.DisplayName)
		}
	}
}

// failingState fails every Record call after the first ok ones.
type failingState struct {
	*sync.MemoryState
	mu gosync.Mutex
	ok int
}

var errDiskFull = errors.New("no space left on device")

func (f *failingState) Record(ctx context.Context, recs ...sync.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ok == 0 {
		return errDiskFull
	}
	f.ok--
	return f.MemoryState.Record(ctx, recs...)
}

// TestApplyStopsWhenItCannotRecord: writes whose links cannot be stored
// must not go on.
func TestApplyStopsWhenItCannotRecord(t *testing.T) {
	e := newEnv(t, 40, 2)
	st := &failingState{MemoryState: sync.NewMemoryState(), ok: 2} // the intents, then one link
	e.state = st
	eng := e.engine(sync.WithConcurrency(1))
	p, err := eng.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Apply(ctx(t), p)
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("Apply = %v, want the record error", err)
	}
	if posts := e.srv.Stats().Count("POST", ""); posts != 2 || res.Applied != 2 {
		t.Errorf("%d creates sent, %s; want 2: none after the failed record", posts, res.SummaryLine())
	}
}

// TestStateOfAnotherTarget: a state naming another target is refused.
func TestStateOfAnotherTarget(t *testing.T) {
	e := newEnv(t, 5, 1)
	path := filepath.Join(t.TempDir(), "state.json")
	st := sync.NewFileState(path)
	defer st.Close()
	e.state = st
	e.apply(e.engine(sync.WithTargetName("acme.goskope.com")))
	if _, err := e.engine(sync.WithTargetName("other.goskope.com")).Plan(ctx(t)); !errors.Is(err, sync.ErrStateCorrupt) {
		t.Fatalf("Plan with the state of another target = %v, want ErrStateCorrupt", err)
	}
	if _, err := e.engine(sync.WithTargetName("acme.goskope.com")).Plan(ctx(t)); err != nil {
		t.Fatal(err)
	}
}

// holdLeavers removes the first n active users from the source and syncs:
// with deactivations requiring approval, it returns the held changes.
func (e *env) holdLeavers(eng *sync.Engine, n int) []sync.Approval {
	e.t.Helper()
	var gone []string
	for i := range e.dir.Users {
		if e.dir.Users[i].State == source.StateActive && len(gone) < n {
			gone = append(gone, e.dir.Users[i].ID)
		}
	}
	e.edit(func(d *source.Directory) {
		for _, id := range gone {
			removeUser(d, id)
		}
	})
	if _, _, err := eng.Sync(ctx(e.t)); err != nil {
		e.t.Fatal(err)
	}
	held, err := eng.Approvals(ctx(e.t))
	if err != nil || len(held) != len(gone) {
		e.t.Fatalf("held %d changes (%v), want %d", len(held), err, len(gone))
	}
	return held
}

// auditState reads the engine's state and the target's users, and audits
// them; the snapshot is returned for the checks that need it.
func (e *env) auditState() (audit, *sync.Snapshot) {
	e.t.Helper()
	snap, err := e.state.Load(ctx(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	users, err := e.client.ListUsers(ctx(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	return auditTarget(users, snap), snap
}

// mustHoldRejected checks that the only approvals left are the n rejected
// ones: no decision was lost.
func (e *env) mustHoldRejected(eng *sync.Engine, n int) {
	e.t.Helper()
	left, err := eng.Approvals(ctx(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	if len(left) != n {
		e.t.Fatalf("%d approvals left, want the %d rejected ones", len(left), n)
	}
	for _, a := range left {
		if a.Status != sync.ApprovalRejected {
			e.t.Errorf("approval %s is %s, want rejected (a decision was lost)", a.ID, a.Status)
		}
	}
}
