package sync_test

import (
	"context"
	"errors"
	"testing"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target"
)

// groupLists is a target that counts its listings of groups, the last
// part of a drift check's read.
type groupLists struct {
	target.Target
	n *int
}

func (g groupLists) ListGroups(ctx context.Context, opts ...target.ReadOption) ([]scim.Group, error) {
	*g.n++
	return g.Target.ListGroups(ctx, opts...)
}

// readAfter is a source that notes, each time it is read, how many group
// listings a target had made by then.
type readAfter struct {
	source.Source
	lists *int
	at    *[]int
}

func (r readAfter) Read(ctx context.Context) (*source.Directory, error) {
	*r.at = append(*r.at, *r.lists)
	return r.Source.Read(ctx)
}

// TestDriftCheckReadsTheTargetFirst: a drift check lists the target
// before it reads the source, so that the listing's pages, decoded one
// object at a time and folded into the mirrors, are not held next to the
// source's directory, the largest thing a cycle holds.
func TestDriftCheckReadsTheTargetFirst(t *testing.T) {
	e := newEnv(t, 10, 2)
	e.apply(e.engine())
	var lists int
	var at []int
	eng, err := sync.New(readAfter{Source: e.src, lists: &lists, at: &at}, groupLists{Target: e.client, n: &lists},
		sync.WithState(e.state))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Plan(ctx(t), sync.DriftCheck()); err != nil {
		t.Fatal(err)
	}
	if lists != 1 || len(at) != 1 || at[0] != 1 {
		t.Fatalf("the source was read after %v of the drift check's %d group listings; want it read once, after the listing", at, lists)
	}
}

// failFirst is a source whose first reads fail, as a provider that is
// down does.
type failFirst struct {
	source.Source
	fails *int
}

func (f failFirst) Read(ctx context.Context) (*source.Directory, error) {
	if *f.fails > 0 {
		*f.fails--
		return nil, errors.New("provider unavailable")
	}
	return f.Source.Read(ctx)
}

// TestFailingSourceSparesTheListing: once a source read failed, plans
// read the source before the target until a read succeeds, so a provider
// that stays down costs no drift-check listing per plan; once the source
// answers again, the target is read first again.
func TestFailingSourceSparesTheListing(t *testing.T) {
	e := newEnv(t, 10, 2)
	e.apply(e.engine())
	var lists int
	var at []int
	fails := 2
	eng, err := sync.New(readAfter{Source: failFirst{Source: e.src, fails: &fails}, lists: &lists, at: &at},
		groupLists{Target: e.client, n: &lists}, sync.WithState(e.state))
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		fail      bool
		lists, at int // group listings after the plan; listings made when the source was read
	}{
		{fail: true, lists: 1, at: 1}, // nothing failed yet: the target is listed first
		{fail: true, lists: 1, at: 1}, // the source failed last time: it is read first, and fails again
		{fail: false, lists: 2, at: 1},
		{fail: false, lists: 3, at: 3}, // the source answers again: the target first
	}
	for i, s := range steps {
		_, err := eng.Plan(ctx(t), sync.DriftCheck())
		if s.fail != errors.Is(err, sync.ErrSourceRead) {
			t.Fatalf("plan %d: err = %v, want a source read error: %v", i+1, err, s.fail)
		}
		if lists != s.lists || len(at) != i+1 || at[i] != s.at {
			t.Fatalf("plan %d: %d group listings, the source read after %v of them; want %d listings, the last read after %d", i+1, lists, at, s.lists, s.at)
		}
	}
}
