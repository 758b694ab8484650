//go:build !race

// The race detector's shadow memory would count with the heap.

package sync

import (
	"context"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source/synth"
)

// heldPlanningUsers plans the initial sync of users users as Sync does
// (compact, owning the mapping) and returns the bytes the heap holds, more
// than before the plan, as the last user is planned: the plan's users
// pass then holds every user's create next to the mapped users.
func heldPlanningUsers(t *testing.T, users int) int64 {
	t.Helper()
	dir := synth.Generate(synth.Config{Users: users, Groups: users / 20, MembershipsPerUser: 10, Seed: 1})
	d, err := mapping.Default().Map(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	dir = nil
	last, held := d.Users[len(d.Users)-1].SourceID, int64(0)
	in := planInput{desired: d, snap: NewSnapshot(), policy: DefaultPolicy(), complete: true,
		userKeys: mapping.DefaultUserMatch(), groupKeys: mapping.DefaultGroupMatch(),
		compact: true, ownsDesired: true,
		ownerOf: func(id string) string {
			if id == last && held == 0 {
				held = HeapInUse()
			}
			return ""
		}}
	before := HeapInUse()
	p, err := computePlan(in)
	if err != nil {
		t.Fatal(err)
	}
	if p.Summary.CreateUsers != users || held == 0 {
		t.Fatalf("%d users to create (want %d), last one seen %v", p.Summary.CreateUsers, users, held != 0)
	}
	return held - before
}

// TestPlanHoldsLittlePerUserCreate: what a plan holds for each user to
// create, more than the mapping it plans from, as its users pass ends
// (measured as the difference between 2,000 and 4,000 users, which
// leaves out what does not grow with the users). It was about 625
// bytes while the plan held each create as a Change (232 bytes, room
// for all of them made at once) next to the mapped users whole; it is
// about 265 with the creates kept as plannedCreate (72 bytes) until the
// mapped users are dropped, and each mapped user's name and emails
// dropped once the user is planned.
func TestPlanHoldsLittlePerUserCreate(t *testing.T) {
	CheckHeldPerUser(t, "held as the last user is planned", 330, func(n int) int64 { return heldPlanningUsers(t, n) })
}
