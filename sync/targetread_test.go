package sync_test

import (
	"context"
	"errors"
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
