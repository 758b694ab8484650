package sync_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"slices"
	"testing"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// withPageSize replaces the env's client by one that reads n per page, so
// that listings take several pages.
func (e *env) withPageSize(n int) {
	e.t.Helper()
	c, err := netskope.New(e.srv.URL(), e.srv.Token(), netskope.WithRateLimit(0, 0), netskope.WithPageSize(n))
	if err != nil {
		e.t.Fatal(err)
	}
	e.client = c
}

// storedMemberships counts the memberships the server's store holds,
// whatever its listings say.
func (e *env) storedMemberships() int {
	n := 0
	for _, g := range e.srv.Groups() {
		n += len(g.Members)
	}
	return n
}

// TestLyingTargetStripsNothing: a target whose listings under-report or
// contradict themselves makes the plan fail with ErrTargetRead; nothing is
// written, no membership is removed, and once the target tells the truth
// again the engine converges.
func TestLyingTargetStripsNothing(t *testing.T) {
	lies := []netskopetest.ListLie{
		netskopetest.ListEmpty,
		netskopetest.ListNullResources,
		netskopetest.ListTotalFirstPage,
		netskopetest.ListTotalDrifts,
		netskopetest.ListShortPage,
		netskopetest.ListRepeats,
	}
	for _, lie := range lies {
		t.Run(lie.String(), func(t *testing.T) {
			e := newEnv(t, 60, 4)
			e.withPageSize(20)
			pol := sync.DefaultPolicy()
			pol.LeftScope = sync.Delete
			pol.DeleteGroups = true
			// Listings are read at drift checks: make every plan one.
			eng := e.engine(sync.WithPolicy(pol), sync.WithDriftCheck(0))
			e.apply(eng)
			users, members := e.srv.UserCount(), e.storedMemberships()
			if members == 0 {
				t.Fatal("the first run made no memberships")
			}

			e.srv.SetListLie(lie)
			writes := e.srv.Stats().Writes()
			p, res, err := eng.Sync(ctx(t))
			if !errors.Is(err, sync.ErrTargetRead) || !errors.Is(err, target.ErrIncomplete) || p != nil || res != nil {
				t.Errorf("Sync against a lying target = plan %v, result %v, %v; want ErrTargetRead (ErrIncomplete) and no plan", p != nil, res != nil, err)
			}
			t.Logf("refused: %v", err)
			if got := e.srv.Stats().Writes(); got != writes {
				t.Errorf("%d writes against a lying target", got-writes)
			}
			if got := e.storedMemberships(); got != members {
				t.Errorf("memberships went from %d to %d", members, got)
			}
			if got := e.srv.UserCount(); got != users {
				t.Errorf("users went from %d to %d", users, got)
			}

			e.srv.SetListLie(netskopetest.ListTruthful)
			e.mustBeEmpty(eng)
			i := firstActive(e.dir)
			e.edit(func(d *source.Directory) { removeUser(d, d.Users[i].ID) })
			p2, _ := e.apply(eng)
			if p2.Summary.DeleteUsers != 1 {
				t.Errorf("after the lie: %+v, want one user deleted", p2.Summary)
			}
			e.mustBeEmpty(eng)
		})
	}
}

// TestLinkedObjectGoneIsConfirmed: linked objects deleted by hand are
// missing from the listing; a read by id answers 404 for each, so the plan
// goes on (recreating the user still at the source), Apply drops the links
// of the others, and later plans do not read them again.
func TestLinkedObjectGoneIsConfirmed(t *testing.T) {
	e := newEnv(t, 20, 2)
	eng := e.engine(sync.WithDriftCheck(0))
	e.apply(eng)
	snap, err := e.state.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	i := firstActive(e.dir)
	stays, leaves := e.dir.Users[i].ID, ""
	for _, u := range e.dir.Users[i+1:] {
		if u.State == source.StateActive {
			leaves = u.ID
			break
		}
	}
	for _, src := range []string{stays, leaves} {
		if err := e.client.DeleteUser(ctx(t), snap.Users[src].TargetID); err != nil {
			t.Fatal(err)
		}
	}
	e.edit(func(d *source.Directory) { removeUser(d, leaves) })

	e.srv.ResetStats()
	p, _ := e.apply(eng)
	if got := e.srv.Stats().Count(http.MethodGet, netskopetest.EndpointUser); got != 2 {
		t.Errorf("%d reads by id, want 2 (one per missing link)", got)
	}
	if p.Summary.CreateUsers != 1 {
		t.Errorf("plan %+v, want the user still at the source created again", p.Summary)
	}
	snap, err = e.state.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := snap.Users[leaves]; ok {
		t.Errorf("the link of %s, gone from source and target, was kept", leaves)
	}
	if l, ok := snap.Users[stays]; !ok || l.TargetID == "" {
		t.Errorf("the user still at the source has no link: %+v", l)
	}
	e.srv.ResetStats()
	e.mustBeEmpty(eng)
	if got := e.srv.Stats().Count(http.MethodGet, netskopetest.EndpointUser); got != 0 {
		t.Errorf("the next plan read %d users by id, want 0", got)
	}
}

// TestGroupsWithoutEmptyMembersAreNotReread: on a target that leaves the
// members attribute out of a group without members, even when asked, such
// a group has no members; plans do not read it again by id.
func TestGroupsWithoutEmptyMembersAreNotReread(t *testing.T) {
	e := newEnv(t, 30, 5, netskopetest.WithoutEmptyMembers())
	e.edit(func(d *source.Directory) {
		d.Groups[0].Members, d.Groups[1].Members = nil, nil
	})
	eng := e.engine()
	e.apply(eng)
	for round, eng := range []*sync.Engine{eng, eng, e.engine()} {
		e.srv.ResetStats()
		e.mustBeEmpty(eng)
		if got := e.srv.Stats().Count(http.MethodGet, netskopetest.EndpointGroup); got != 0 {
			t.Errorf("plan %d read %d groups by id, want 0", round+1, got)
		}
	}
}

// TestGroupsListedWithoutMembersAreRead: a target that never lists members
// has each group read by id, every drift check, and the plans stay empty.
func TestGroupsListedWithoutMembersAreRead(t *testing.T) {
	e := newEnv(t, 30, 4, netskopetest.WithoutListMembers(), netskopetest.WithoutEmptyMembers())
	e.edit(func(d *source.Directory) { d.Groups[0].Members = nil })
	eng := e.engine(sync.WithDriftCheck(0))
	e.apply(eng)
	for round := range 2 {
		e.srv.ResetStats()
		e.mustBeEmpty(eng)
		if got := e.srv.Stats().Count(http.MethodGet, netskopetest.EndpointGroup); got != 4 {
			t.Errorf("plan %d read %d groups by id, want 4", round+1, got)
		}
	}
}

// hidingTarget is a target whose group listings leave out one group.
type hidingTarget struct {
	*netskope.Client
	hide string // group id
}

func (h hidingTarget) ListGroups(ctx context.Context, opts ...target.ReadOption) ([]scim.Group, error) {
	gs, err := h.Client.ListGroups(ctx, opts...)
	return slices.DeleteFunc(gs, func(g scim.Group) bool { return g.ID == h.hide }), err
}

func (h hidingTarget) ListGroupsSeq(ctx context.Context, opts ...target.ReadOption) iter.Seq2[*scim.Group, error] {
	return func(yield func(*scim.Group, error) bool) {
		for g, err := range h.Client.ListGroupsSeq(ctx, opts...) {
			if (err != nil || g.ID != h.hide) && !yield(g, err) {
				return
			}
		}
	}
}

// TestLinkedGroupsAreConfirmed: a group listing that lacks a linked group
// which a read by id finds plans nothing; one whose missing linked group is
// gone (404) plans on and drops the link.
func TestLinkedGroupsAreConfirmed(t *testing.T) {
	e := newEnv(t, 20, 3)
	e.apply(e.engine())
	snap, err := e.state.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	hidden, gone := e.dir.Groups[0].ID, e.dir.Groups[1].ID
	eng, err := sync.New(e.src, hidingTarget{e.client, snap.Groups[hidden].TargetID}, sync.WithState(e.state), sync.WithDriftCheck(0))
	if err != nil {
		t.Fatal(err)
	}
	writes, members := e.srv.Stats().Writes(), e.storedMemberships()
	if p, _, err := eng.Sync(ctx(t)); !errors.Is(err, sync.ErrTargetRead) || !errors.Is(err, target.ErrIncomplete) || p != nil {
		t.Fatalf("Sync with a linked group hidden = %v, %v; want ErrTargetRead (ErrIncomplete)", p != nil, err)
	}
	if e.srv.Stats().Writes() != writes || e.storedMemberships() != members {
		t.Fatal("a read that hid a linked group led to writes")
	}

	if err := e.client.DeleteGroup(ctx(t), snap.Groups[gone].TargetID); err != nil {
		t.Fatal(err)
	}
	e.edit(func(d *source.Directory) {
		d.Groups = slices.DeleteFunc(d.Groups, func(g source.Group) bool { return g.ID == gone })
	})
	eng = e.engine(sync.WithDriftCheck(0))
	e.apply(eng)
	if snap, err = e.state.Load(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if _, ok := snap.Groups[gone]; ok {
		t.Errorf("the link of group %s, gone from source and target, was kept", gone)
	}
	e.mustBeEmpty(eng)
}

// cutTarget is a target whose listings of one kind hand over every object
// and then fail, as a listing does whose last page contradicts the first.
type cutTarget struct {
	*netskope.Client
	groups bool // cut the group listing, else the user listing
}

var errCut = errors.New("the last page contradicts the first")

func (c cutTarget) ListUsersSeq(ctx context.Context, opts ...target.ReadOption) iter.Seq2[*scim.User, error] {
	return cutAfter(c.Client.ListUsersSeq(ctx, opts...), !c.groups)
}

func (c cutTarget) ListGroupsSeq(ctx context.Context, opts ...target.ReadOption) iter.Seq2[*scim.Group, error] {
	return cutAfter(c.Client.ListGroupsSeq(ctx, opts...), c.groups)
}

func cutAfter[T any](seq iter.Seq2[*T, error], cut bool) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		for v, err := range seq {
			if !yield(v, err) || err != nil {
				return
			}
		}
		if cut {
			yield(nil, fmt.Errorf("%w: %w", target.ErrIncomplete, errCut))
		}
	}
}

// TestDriftCheckDiscardsAFailedListing: a user or group listing that
// fails after handing over every object plans nothing, though the source
// dropped users and memberships: no write, the state as it was.
func TestDriftCheckDiscardsAFailedListing(t *testing.T) {
	for _, groups := range []bool{false, true} {
		t.Run(fmt.Sprintf("groups=%v", groups), func(t *testing.T) {
			e := newEnv(t, 20, 3)
			e.apply(e.engine())
			before, err := e.state.Load(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			e.edit(func(d *source.Directory) {
				d.Users = d.Users[:10]
				for i := range d.Groups {
					d.Groups[i].Members = nil
				}
			})
			eng, err := sync.New(e.src, cutTarget{e.client, groups}, sync.WithState(e.state), sync.WithDriftCheck(0))
			if err != nil {
				t.Fatal(err)
			}
			writes, members := e.srv.Stats().Writes(), e.storedMemberships()
			p, _, err := eng.Sync(ctx(t))
			if !errors.Is(err, sync.ErrTargetRead) || !errors.Is(err, target.ErrIncomplete) || !errors.Is(err, errCut) || p != nil {
				t.Fatalf("Sync over a failed listing = %v, %v; want ErrTargetRead carrying the listing's error", p != nil, err)
			}
			if e.srv.Stats().Writes() != writes || e.storedMemberships() != members || len(e.srv.Users()) != 20 {
				t.Fatal("a failed listing led to writes")
			}
			after, err := e.state.Load(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if after.Serial != before.Serial || len(after.Users) != len(before.Users) {
				t.Errorf("state serial %d -> %d, %d -> %d user links; want it untouched", before.Serial, after.Serial, len(before.Users), len(after.Users))
			}
		})
	}
}

// listOnly is a target without target.Streamer: its listings come whole.
type listOnly struct{ target.Target }

// TestDriftCheckWithAndWithoutStreamer: a drift check over a target that
// hands its listing over whole plans what one over a target.Streamer
// plans: the hand-made rename and membership removal undone, and the
// mirrors refreshed, so that the next plan reads nothing.
func TestDriftCheckWithAndWithoutStreamer(t *testing.T) {
	for _, stream := range []bool{true, false} {
		t.Run(fmt.Sprintf("streamer=%v", stream), func(t *testing.T) {
			e, _, clk := mirrored(t, 30, 3)
			uid, gid, mid, given := handChanges(t, e)
			var tg target.Target = e.client
			if !stream {
				tg = listOnly{e.client}
			}
			if _, ok := tg.(target.Streamer); ok != stream {
				t.Fatalf("target is a Streamer: %v", ok)
			}
			eng, err := sync.New(e.src, tg, sync.WithState(e.state), sync.WithClock(clk.Now))
			if err != nil {
				t.Fatal(err)
			}
			p, err := eng.Plan(ctx(t), sync.DriftCheck())
			if err != nil {
				t.Fatal(err)
			}
			if !p.DriftCheck || p.Summary.UpdateUsers != 1 || p.Summary.AddMembers != 1 || len(p.Changes) != 2 {
				t.Fatalf("drift check plan: %s; want the rename and the membership undone", p.SummaryLine())
			}
			if res, err := eng.Apply(ctx(t), p); err != nil || res.Failed != 0 {
				t.Fatalf("Apply: %v, %v", err, res.Err())
			}
			if !corrected(t, e, uid, gid, mid, given) {
				t.Fatal("the drift check did not undo the hand-made changes")
			}
			e.srv.ResetStats()
			if p, _ := e.apply(eng); !p.Empty() || p.DriftCheck || e.srv.Stats().Requests != 0 {
				t.Errorf("plan after the drift check: %s, %s; want empty and no request", p.SummaryLine(), requests(e.srv.Stats()))
			}
		})
	}
}

// TestDriftCheckReclaimKeepsTheListedMirror: a hire's create lands but
// its link is lost; a drift check links it as created and stores its
// mirror as listed, so that the next plan reads nothing by id.
func TestDriftCheckReclaimKeepsTheListedMirror(t *testing.T) {
	e, clk := lostHireLink(t)
	eng := e.engine(sync.WithClock(clk.Now))
	p, err := eng.Plan(ctx(t), sync.DriftCheck())
	if err != nil || !p.Empty() || !p.DriftCheck {
		t.Fatalf("drift check after the lost link: %v, %v", p, err)
	}
	if res, err := eng.Apply(ctx(t), p); err != nil || res.Failed != 0 {
		t.Fatalf("Apply: %v, %v", err, res.Err())
	}
	snap, err := e.state.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if l := snap.Users["hire-1"]; l.TargetID == "" || l.Origin != sync.OriginCreated || l.Mirror == nil || len(snap.Intents) != 0 {
		t.Fatalf("link %+v, intents %v; want the hire linked as created, with a mirror", l, snap.Intents)
	}
	e.srv.ResetStats()
	if p, _ := e.apply(eng); !p.Empty() || e.srv.Stats().Requests != 0 {
		t.Errorf("plan after the drift check: %s, %s; want empty and no request", p.SummaryLine(), requests(e.srv.Stats()))
	}
}
