package sync

import "testing"

// TestPerObjectStepsAllocateNothing: steps a plan or an apply takes for
// every object of an initial sync make no map key when there is nothing
// to find: a plan asks for each source object's conflict, an apply for
// each create's mirror to follow. Each made a "kind:sourceId" string
// (100,000 of them a 100k initial sync, twice).
func TestPerObjectStepsAllocateNothing(t *testing.T) {
	in := &planInput{snap: NewSnapshot()}
	create := &Change{Action: ActionCreateUser, Object: Ref{Kind: KindUser, SourceID: "7496ad38-1f1c-41c1-8fb5-3ae6177faf8b", Key: "a@x"}}
	none := &applier{mirrors: map[string]*mirrorTrack{}}
	updates := &applier{mirrors: map[string]*mirrorTrack{intentKey(KindUser, "u2"): {pending: 1}}}
	for _, tt := range []struct {
		name string
		step func()
	}{
		{"a plan's conflict lookup, none stored", func() { in.conflict(KindUser, create.Object.SourceID, "a@x", false) }},
		{"an apply's mirror of a create, none followed", func() { none.mirrorAfter(create, true) }},
		{"an apply's mirror of a create, updates followed", func() { updates.mirrorAfter(create, true) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, tt.step); n > 0 {
				t.Errorf("%v allocations, want none", n)
			}
		})
	}
}
