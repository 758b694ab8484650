package sync

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortChangesIsStableByPhaseAndKey sorts plans of shuffled changes,
// many with equal keys, and compares them with a stable sort of the
// changes themselves.
func TestSortChangesIsStableByPhaseAndKey(t *testing.T) {
	actions := []Action{ActionDeleteUser, ActionAddMembers, ActionCreateUser, ActionDeleteGroup, ActionCreateGroup,
		ActionUpdateUser, ActionRemoveMembers, ActionUpdateGroup, ActionDeactivateUser}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 7, 100, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			p := &Plan{}
			for i := range n {
				p.Changes = append(p.Changes, Change{Action: actions[rng.IntN(len(actions))],
					Object: Ref{Key: fmt.Sprintf("k%d", rng.IntN(n/3+1)), SourceID: fmt.Sprint(i)}})
			}
			want := slices.Clone(p.Changes)
			slices.SortStableFunc(want, func(a, b Change) int {
				if a.Action.phase() != b.Action.phase() {
					return a.Action.phase() - b.Action.phase()
				}
				switch {
				case a.Object.Key < b.Object.Key:
					return -1
				case a.Object.Key > b.Object.Key:
					return 1
				}
				return 0
			})
			p.sortChanges()
			for i := range want {
				if got := p.Changes[i]; got.Action != want[i].Action || got.Object != want[i].Object {
					t.Fatalf("change %d is %s %s (source %s), want %s %s (source %s)", i,
						got.Action, got.Object.Key, got.Object.SourceID, want[i].Action, want[i].Object.Key, want[i].Object.SourceID)
				}
			}
		})
	}
}

// BenchmarkSortChanges sorts the changes of an initial sync's plan of
// 100,000 users and 5,000 groups, made in source order:
//
//	go test ./sync -run '^$' -bench SortChanges -benchmem
func BenchmarkSortChanges(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	var made []Change
	for i := range 100000 {
		made = append(made, Change{Action: ActionCreateUser, Object: Ref{Kind: KindUser, Key: fmt.Sprintf("user%08d@example.com", rng.IntN(1e8)), SourceID: fmt.Sprint(i)}})
	}
	for i := range 5000 {
		made = append(made, Change{Action: ActionCreateGroup, Object: Ref{Kind: KindGroup, Key: fmt.Sprintf("group %08d", rng.IntN(1e8)), SourceID: fmt.Sprint(i)}})
	}
	p := &Plan{Changes: make([]Change, len(made))}
	b.ReportAllocs()
	for b.Loop() {
		copy(p.Changes, made)
		p.sortChanges()
	}
}
