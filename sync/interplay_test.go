package sync_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"testing"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/synth"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// TestIntentsOutliveALyingListing: creates that landed but were never
// linked (the answers were lost) stay recorded as intents while the
// target's listings under-report, so once the listings tell the truth
// again the objects are recognised as created, although the source has
// dropped most of them meanwhile. An under-reporting listing must not
// settle an intent as "never landed".
func TestIntentsOutliveALyingListing(t *testing.T) {
	for _, lie := range []netskopetest.ListLie{netskopetest.ListEmpty, netskopetest.ListNullResources, netskopetest.ListTotalFirstPage} {
		t.Run(lie.String(), func(t *testing.T) {
			e := newEnv(t, 30, 2)
			lossy := &lossyTarget{Target: e.client, lose: func(int) bool { return true }}
			eng, err := sync.New(e.src, lossy, sync.WithState(e.state), sync.WithConcurrency(4))
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
			snap, err := e.state.Load(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(snap.Users) != 0 || len(snap.Intents) == 0 {
				t.Fatalf("after the lossy run: %d links, %d intents; want 0 links and some intents", len(snap.Users), len(snap.Intents))
			}

			// The source shrinks, and the target's listings lie, for one run.
			e.edit(func(d *source.Directory) { *d = *shrink(d, 5) })
			lossy.lose = func(int) bool { return false }
			e.srv.SetListLie(lie)
			if p, err := eng.Plan(ctx(t)); err == nil {
				_, _ = eng.Apply(ctx(t), p, sync.Confirm()) // its failures are expected; what it records matters
			}
			e.srv.SetListLie(netskopetest.ListTruthful)

			for range 2 {
				p, err := eng.Plan(ctx(t))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := eng.Apply(ctx(t), p, sync.Confirm()); err != nil {
					t.Fatal(err)
				}
			}
			a, _ := e.auditState()
			if a.Unowned != 0 || a.Duplicates != 0 {
				t.Errorf("after the lie: %+v; want no unowned users and no duplicates", a)
			}
			if want := 5 - countState(e.dir, source.StateSuspended, source.StateDeleted); a.Active != want {
				t.Errorf("%d target users active, want the %d the shrunk source holds", a.Active, want)
			}
		})
	}
}

// TestGroupDeletionsCountTheirMemberships: deleting a group removes its
// memberships as surely as emptying it does, so a plan that deletes a few
// large groups (under the group limit: few groups are owned) waits for a
// confirmation when the memberships they hold exceed MembershipLimit.
func TestGroupDeletionsCountTheirMemberships(t *testing.T) {
	dir := synth.Generate(synth.Config{Users: 400, Groups: 4, MembershipsPerUser: 2, Seed: 5})
	e := newEnvFrom(t, dir)
	eng := e.engine()
	e.apply(eng)
	owned := e.memberships()
	if owned < 600 {
		t.Fatalf("target holds %d memberships; the test needs more than 500", owned)
	}
	e.edit(func(d *source.Directory) { d.Groups = nil })
	p, err := eng.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.Summary.DeleteGroups != 4 || p.Summary.RemoveMembers != 0 {
		t.Fatalf("plan %s; want the 4 groups deleted", p.SummaryLine())
	}
	e.heldWithoutWrites(eng, p)
	if !strings.Contains(strings.Join(p.Reasons, "\n"), fmt.Sprintf("(%d of them by the group deletions)", owned)) {
		t.Errorf("the reasons do not say the group deletions remove %d memberships: %q", owned, p.Reasons)
	}
	if got := e.memberships(); got != owned {
		t.Fatalf("memberships went from %d to %d without confirmation", owned, got)
	}
	if res, err := eng.Apply(ctx(t), p, sync.Confirm()); err != nil || res.Failed > 0 {
		t.Fatalf("confirmed Apply: %v %v", err, res)
	}
	if got := e.memberships(); got != 0 {
		t.Errorf("after a confirmed apply the target holds %d memberships, want 0", got)
	}
}

// saveFails is a FileState whose saves fail, as when the process dies
// after an apply's records and before its save.
type saveFails struct{ *sync.FileState }

func (saveFails) Save(context.Context, *sync.Snapshot) error { return errDiskFull }

// TestLegacyStateThenJournal: a state file an earlier provsync wrote (no
// version, no target) is read, an apply journals its links over it, the
// save after the apply is lost, and the next process reads the old
// snapshot with the journal's records: nothing the engine created is
// planned again, and the state is then written with a version and the
// engine's target.
func TestLegacyStateThenJournal(t *testing.T) {
	e := newEnv(t, 12, 2)
	e.apply(e.engine())
	snap, err := e.state.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	legacy := map[string]any{"serial": snap.Serial, "users": snap.Users, "groups": snap.Groups}
	b, err := json.Marshal(legacy)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.json")
	writeFile(t, path, string(b))

	e.edit(func(d *source.Directory) {
		d.Users = append(d.Users, source.User{ID: "new-1", UserName: "new.one@example.com"})
		d.Groups[0].Members = append(d.Groups[0].Members, "new-1")
	})
	fs := sync.NewFileState(path)
	eng, err := sync.New(e.src, e.client, sync.WithState(saveFails{fs}), sync.WithTargetName("acme"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := eng.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.Summary.CreateUsers != 1 || p.Summary.AddMembers != 1 || len(p.Changes) != 2 {
		t.Fatalf("plan over the legacy state: %s; want the new user created and added", p.SummaryLine())
	}
	if res, err := eng.Apply(ctx(t), p); !errors.Is(err, errDiskFull) || res.Failed > 0 {
		t.Fatalf("Apply = %v, %v; want every change applied and the save to fail", res, err)
	}
	if err := fs.Close(); err != nil {
		t.Fatal(err)
	}

	fs = sync.NewFileState(path)
	defer fs.Close()
	eng, err = sync.New(e.src, e.client, sync.WithState(fs), sync.WithTargetName("acme"))
	if err != nil {
		t.Fatal(err)
	}
	e.mustBeEmpty(eng)
	got, err := fs.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if l := got.Users["new-1"]; l.TargetID == "" || l.Origin != sync.OriginCreated || len(got.Users) != len(snap.Users)+1 {
		t.Fatalf("after replay: %d links, new-1 %+v", len(got.Users), l)
	}
	// A run that changes something saves the state with a version and its target.
	e.edit(func(d *source.Directory) { d.Users[0].DisplayName = "Renamed" })
	e.apply(eng)
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), `"version":1`) || !strings.Contains(string(b), `"target":"acme"`) {
		t.Errorf("state after a save: %.300s", b)
	}
}

// TestCrashThenNameCollision: a run whose create answers were lost (as
// when the process is killed mid-apply) is followed by one in which two
// source users, both created by the lost run, now map to one userName,
// and a third, never created, takes the name of one of them. The
// colliding users are problems naming both; nothing is sent for them; every
// object the lost run created is recognised as created, none is given to
// another source user, and nothing is duplicated.
func TestCrashThenNameCollision(t *testing.T) {
	e := newEnv(t, 16, 2)
	e.edit(func(d *source.Directory) {
		for i := range d.Users {
			d.Users[i].State = source.StateActive
		}
	})
	lossy := &lossyTarget{Target: e.client, lose: func(int) bool { return true }}
	eng, err := sync.New(e.src, lossy, sync.WithState(e.state), sync.WithConcurrency(4))
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
	created := e.srv.UserCount()
	lossy.lose = func(int) bool { return false }

	a, b := e.dir.Users[0], e.dir.Users[1]
	e.edit(func(d *source.Directory) {
		// The default mapping takes the e-mail when the userName is empty:
		// the source accepts this, and the mapping makes them collide.
		d.Users[1].UserName = ""
		d.Users[1].Emails = []source.Email{{Value: strings.ToUpper(a.UserName), Primary: true}}
		d.Users = append(d.Users, source.User{ID: "late-1", UserName: e.dir.Users[2].UserName + ".late",
			Emails: []source.Email{{Value: "late@example.com", Primary: true}}, State: source.StateActive})
	})
	e.srv.ResetStats()
	p, err = eng.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := problemsNaming(p, a.ID, b.ID); len(got) != 2 {
		t.Fatalf("problems naming %s and %s: %v", a.ID, b.ID, p.Problems)
	}
	for _, c := range p.Changes {
		for _, r := range append([]sync.Ref{c.Object}, c.Members...) {
			if r.SourceID == a.ID || r.SourceID == b.ID {
				t.Errorf("plan %s %s for a user whose userName is shared", c.Action, r)
			}
		}
	}
	if _, err := eng.Apply(ctx(t), p); err != nil {
		t.Fatal(err)
	}
	au, snap := e.auditState()
	if au.Unowned != 0 || au.Duplicates != 0 || au.Adopted != 0 || au.Users != created+1 {
		t.Fatalf("after the collision run: %+v; want %d users (%d created before, 1 new), all owned, created, none duplicated", au, created+1, created)
	}
	if snap.Users[a.ID].TargetID == "" || snap.Users[b.ID].TargetID == "" || snap.Users[a.ID].TargetID == snap.Users[b.ID].TargetID {
		t.Fatalf("links of the colliding users: %+v and %+v; want each its own", snap.Users[a.ID], snap.Users[b.ID])
	}
	// Once the source makes the names unique again, the plan converges.
	e.edit(func(d *source.Directory) { d.Users[1].UserName = b.UserName; d.Users[1].Emails = b.Emails })
	e.apply(eng)
	e.mustBeEmpty(eng)
}

// TestConcurrentSyncsAndDecisionsOnAFileState: syncs, approvals and
// rejections from many goroutines at once on an engine whose state is a
// FileState (journal, compare-and-swap saves): the server gets exactly the
// writes the decisions call for, and no decision is lost, also once the
// state is read back by a new FileState, as after a restart.
func TestConcurrentSyncsAndDecisionsOnAFileState(t *testing.T) {
	pol := sync.DefaultPolicy()
	var err error
	if pol.RequireApproval, err = sync.ApprovalFor("delete"); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, 60, 4)
	path := filepath.Join(t.TempDir(), "state.json")
	fs := sync.NewFileState(path)
	e.state = fs
	eng := e.engine(sync.WithPolicy(pol), sync.WithConcurrency(4), sync.WithTargetName("acme"))
	e.apply(eng)
	held := e.holdLeavers(eng, 8)
	approve, reject := held[:4], held[4:]
	e.srv.ResetStats()

	start := make(chan struct{})
	errs := make(chan error, 16)
	var wg gosync.WaitGroup
	run := func(fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := fn(); err != nil {
				errs <- err
			}
		}()
	}
	for range 3 {
		run(func() error { _, _, err := eng.Sync(ctx(t)); return err })
	}
	for _, a := range approve {
		run(func() error { return eng.Approve(ctx(t), a.ID) })
	}
	for _, a := range reject {
		run(func() error { return eng.Reject(ctx(t), a.ID) })
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, _, err := eng.Sync(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if w := e.srv.Stats().Writes(); w != len(approve) {
		t.Errorf("the server received %d writes, want %d: one deactivation per approval", w, len(approve))
	}
	if err := fs.Close(); err != nil {
		t.Fatal(err)
	}
	// A new process reads the same decisions back.
	e.state = sync.NewFileState(path)
	defer e.state.(*sync.FileState).Close()
	eng = e.engine(sync.WithPolicy(pol), sync.WithTargetName("acme"))
	e.mustHoldRejected(eng, len(reject))
	e.mustBeEmpty(eng)
}

// TestInvalidChangesLeaveTheCursor: changes that fail validation after a
// cursor write nothing and leave the cursor and the cached directory as
// they were; the source's next, valid answer to the same cursor is folded
// into the directory of the last good read, with nothing of the invalid
// batch in it.
func TestInvalidChangesLeaveTheCursor(t *testing.T) {
	srv, c := newTarget(t)
	feed := &rawFeed{full: validSource()}
	var cursors []string
	src := &cursorLog{rawFeed: feed, seen: &cursors}
	st := sync.NewMemoryState()
	eng, err := sync.New(src, c, sync.WithState(st))
	if err != nil {
		t.Fatal(err)
	}
	if _, res, err := eng.Sync(ctx(t)); err != nil || res.Failed > 0 {
		t.Fatalf("first run: %v %v", err, res)
	}
	before, err := st.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	// A batch that adds a user and renames another onto its name.
	feed.next = &source.Changes{Cursor: "bad", Users: []source.User{
		{ID: "u-3", UserName: "cy@example.com"}, {ID: "u-2", UserName: "CY@example.com"}}}
	srv.ResetStats()
	if _, _, err := eng.Sync(ctx(t)); !errors.Is(err, source.ErrInvalid) {
		t.Fatalf("Sync of an invalid batch = %v, want source.ErrInvalid", err)
	}
	after, err := st.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if after.Serial != before.Serial || after.Cursors["raw-feed"] != "1" || srv.Stats().Writes() != 0 {
		t.Fatalf("after an invalid batch: serial %d→%d, cursor %q, %d writes; want nothing changed",
			before.Serial, after.Serial, after.Cursors["raw-feed"], srv.Stats().Writes())
	}
	// The source answers the same cursor again, validly this time.
	feed.next = &source.Changes{Cursor: "2", Users: []source.User{{ID: "u-4", UserName: "dee@example.com"}}}
	p, res, err := eng.Sync(ctx(t))
	if err != nil || res.Failed > 0 {
		t.Fatalf("run after the fix: %v %v", err, res)
	}
	if got := cursors[len(cursors)-1]; got != "1" {
		t.Errorf("the valid batch was asked for with cursor %q, want the last good one, 1", got)
	}
	if p.Summary.CreateUsers != 1 || p.Summary.UpdateUsers != 0 {
		t.Errorf("plan %s; want only u-4 created, nothing of the invalid batch", p.SummaryLine())
	}
	if srv.UserCount() != 3 {
		t.Errorf("the target holds %d users, want 3", srv.UserCount())
	}
}

// cursorLog records the cursors an incremental source is asked for.
type cursorLog struct {
	*rawFeed
	seen *[]string
}

func (c *cursorLog) ReadChanges(ctx context.Context, cursor string) (*source.Changes, error) {
	*c.seen = append(*c.seen, cursor)
	return c.rawFeed.ReadChanges(ctx, cursor)
}

// refusingTarget fails every user create before sending it, as when the
// connection cannot be made: the engine has recorded the create's intent,
// and nothing lands.
type refusingTarget struct{ target.Target }

func (refusingTarget) CreateUser(context.Context, *scim.User) (*scim.User, error) {
	return nil, errors.New("dial tcp: connection refused")
}

// TestIntentDoesNotClaimAHandMadeUser: a create recorded as an intent
// never landed; an account of the same userName is then made by hand, and
// the source deletes the user. The intent must not make the hand-made
// account the engine's (it does not carry the source id as externalId),
// and the adoption rules leave it alone: a match only to a user deleted at
// the source is never adopted, so it is not deleted on first contact.
func TestIntentDoesNotClaimAHandMadeUser(t *testing.T) {
	e := newEnv(t, 8, 1)
	i := firstActive(e.dir)
	su := e.dir.Users[i]
	pol := sync.DefaultPolicy()
	pol.Deleted = sync.Delete
	eng, err := sync.New(e.src, refusingTarget{e.client}, sync.WithState(e.state), sync.WithPolicy(pol))
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
	snap, err := e.state.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := snap.Intents["user:"+su.ID]; !ok {
		t.Fatalf("no intent for %s after its create failed: %v", su.ID, snap.Intents)
	}
	hand, err := e.srv.AddUser(scim.User{UserName: strings.ToUpper(su.UserName), Active: scim.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	e.edit(func(d *source.Directory) { d.Users[i].State = source.StateDeleted })
	eng = e.engine(sync.WithPolicy(pol))
	// A plan against the mirrors does not see the hand-made account; a
	// drift check lists it, and its match must not claim it.
	p, err = eng.Plan(ctx(t), sync.DriftCheck())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Apply(ctx(t), p, sync.Confirm()); err != nil {
		t.Fatal(err)
	}
	now, ok := e.srv.User(hand.ID)
	if !ok || !now.IsActive() {
		t.Fatalf("the hand-made account: exists=%v active=%v; want it left alone (plan %s)", ok, ok && now.IsActive(), p.SummaryLine())
	}
	snap, err = e.state.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	for src, l := range snap.Users {
		if l.TargetID == hand.ID {
			t.Fatalf("the hand-made account is linked to source user %s as %s", src, l.Origin)
		}
	}
	if !slices.ContainsFunc(p.Problems, func(pr sync.Problem) bool { return pr.Object.SourceID == su.ID }) {
		t.Errorf("no problem reports the match to the deleted user: %v", p.Problems)
	}
}
