package sync

import (
	"fmt"
	"testing"

	"github.com/provsync/provsync/mapping"
)

// thinNoOp is the input of a no-op plan of n users, all held thin.
func thinNoOp(n int) planInput {
	links := map[string]string{}
	th := &thinUsers{}
	for i := range n {
		u := du(fmt.Sprintf("s%d", i), fmt.Sprintf("u%d@x.io", i), "N")
		links[u.SourceID] = fmt.Sprintf("t%d", i)
		th.order = append(th.order, ^int32(i))
		th.users = append(th.users, thinUser{sourceID: u.SourceID, userName: u.User.UserName, externalID: u.User.ExternalID})
	}
	same := make([]bool, n)
	for i := range same {
		same[i] = true
	}
	return planInput{desired: &mapping.Desired{}, thin: th, snap: linked(links), same: same, policy: DefaultPolicy(), complete: true,
		userKeys: mapping.DefaultUserMatch(), groupKeys: mapping.DefaultGroupMatch()}
}

// TestThinUsersArePlannedWithoutCopies: planning a user held thin makes
// no copy of it (a scim.User is 328 bytes) as the target holds it or as
// the plan would write it: about one allocation a user (its userPlan)
// where there were three. Nor does the name-clash check allocate per
// user.
func TestThinUsersArePlannedWithoutCopies(t *testing.T) {
	const n = 2000
	in := thinNoOp(n)
	allocs := testing.AllocsPerRun(5, func() {
		ups, _, unchanged, err := planUsers(&Plan{}, in, map[string]bool{}, nil)
		if err != nil || len(ups) != n || unchanged != n {
			t.Fatalf("planUsers: %d users planned, %d unchanged, %v; want %d, all unchanged", len(ups), unchanged, err, n)
		}
	})
	if perUser := allocs / n; perUser > 1.2 {
		t.Errorf("planUsers made %.2f allocations a thin user, want about 1", perUser)
	}
	names := func(i int) string { return in.thin.users[i].userName }
	if a := testing.AllocsPerRun(5, func() { sameName(n, "user", "userName", names, in.userID) }); a > n/20 {
		t.Errorf("sameName made %.0f allocations for %d names, want a few", a, n)
	}
}
