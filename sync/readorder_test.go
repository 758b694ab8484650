package sync_test

import (
	"context"
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
