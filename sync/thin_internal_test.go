package sync

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
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
	snap := linked(links)
	return planInput{desired: &mapping.Desired{}, thin: th, snap: snap, same: same, policy: DefaultPolicy(), complete: true,
		userKeys: mapping.DefaultUserMatch(), groupKeys: mapping.DefaultGroupMatch(), userOwners: reverseLinks(snap.Users)}
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

// allocatedPlanning returns the bytes computePlan allocates to plan in.
func allocatedPlanning(t *testing.T, in planInput) int64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	p, err := computePlan(in)
	runtime.ReadMemStats(&after)
	if err != nil || !p.Empty() {
		t.Fatalf("computePlan: %v, %d changes; want an empty plan", err, len(p.Changes))
	}
	return int64(after.TotalAlloc - before.TotalAlloc)
}

// TestPlanReversesTheLinksOnce: a plan finds the owned users by target
// id in one map, made once for the users' pass and the groups', and the
// check of the limits makes none for a plan that deletes no group and
// removes no member: a no-op of thin users allocates about 260 bytes a
// user from 2,000 to 4,000 users, where the three maps it made took it
// to about 425.
func TestPlanReversesTheLinksOnce(t *testing.T) {
	small, large := allocatedPlanning(t, thinNoOp(2000)), allocatedPlanning(t, thinNoOp(4000))
	perUser := (large - small) / 2000
	t.Logf("a no-op plan of thin users allocates %d bytes (2,000 users), %d bytes (4,000 users): %d bytes a user", small, large, perUser)
	if perUser > 300 {
		t.Errorf("a no-op plan of thin users allocates %d bytes a user; want at most 300", perUser)
	}
}

// TestSameAsMirrorCopiesNoUser: comparing a mapped user with its link's
// packed mirror, as the plan does for every user the mapping streams,
// allocates nothing for a user with no manager (a copy of the user with
// the manager linked, 328 bytes, was made for each), and still tells a
// user with a manager by the manager's target id.
func TestSameAsMirrorCopiesNoUser(t *testing.T) {
	u := du("s1", "a@x.io", "A")
	links := map[string]Link{"s1": {TargetID: "t1", Mirror: userMirror(&u.User)}, "boss": {TargetID: "t-boss"}}
	if n := testing.AllocsPerRun(100, func() {
		if !sameAsMirror(&u.User, links["s1"], links) {
			t.Fatal("a user is not the same as its own mirror")
		}
	}); n != 0 {
		t.Errorf("comparing a user with its mirror: %.0f allocations, want none", n)
	}
	m := du("s2", "b@x.io", "B")
	m.User.Enterprise = &scim.EnterpriseUser{Manager: &scim.Manager{Value: "boss"}}
	linked := managerLinked(&m.User, links)
	l := Link{TargetID: "t2", Mirror: userMirror(&linked)}
	if !sameAsMirror(&m.User, l, links) || m.User.Enterprise.Manager.Value != "boss" {
		t.Errorf("a user with a manager is not the same as its mirror with the manager's target id, or was changed (manager %q)", m.User.Enterprise.Manager.Value)
	}
	if sameAsMirror(&m.User, Link{TargetID: "t2", Mirror: userMirror(&m.User)}, links) {
		t.Error("a user with a manager is the same as a mirror holding the manager's source id")
	}
}
