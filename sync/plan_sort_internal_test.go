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

// TestAddCreatesKeepsTheOrderFound: the user creates a plan kept compact
// join its other changes where they were found, with room for more.
func TestAddCreatesKeepsTheOrderFound(t *testing.T) {
	update := func(id string) Change {
		return Change{Action: ActionUpdateUser, Object: Ref{Kind: KindUser, SourceID: id}}
	}
	create := func(id string, at int32) plannedCreate { return plannedCreate{sourceID: id, key: id + "@x", at: at} }
	tests := []struct {
		name    string
		others  []Change
		creates []plannedCreate
		want    []string
	}{
		{"none", nil, nil, nil},
		{"creates alone", nil, []plannedCreate{create("c1", 0), create("c2", 0)}, []string{"c1", "c2"}},
		{"others alone", []Change{update("u1"), update("u2")}, nil, []string{"u1", "u2"}},
		{"interleaved", []Change{update("u1"), update("u2"), update("u3")},
			[]plannedCreate{create("c1", 0), create("c2", 2), create("c3", 2), create("c4", 3)},
			[]string{"c1", "u1", "u2", "c2", "c3", "u3", "c4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Plan{Changes: tt.others}
			p.addCreates(tt.creates, 5)
			var got []string
			for _, c := range p.Changes {
				got = append(got, c.Object.SourceID)
				if c.Action == ActionCreateUser && (c.Object.Key != c.Object.SourceID+"@x" || c.Reason != "new at source") {
					t.Errorf("create %+v", c)
				}
			}
			if !slices.Equal(got, tt.want) || cap(p.Changes) != len(tt.want)+5 {
				t.Errorf("changes %v in room for %d, want %v in %d", got, cap(p.Changes), tt.want, len(tt.want)+5)
			}
		})
	}
}
