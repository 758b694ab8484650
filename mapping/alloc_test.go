//go:build !race

// The race detector drops sync.Pool items at random, so expressions
// allocate their evaluation state now and then under -race; allocation
// counts are checked without it.

package mapping_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source/synth"
)

// TestRuleMapperAllocationsPerUser bounds what BenchmarkRuleMapper's
// mapping allocates per user: the user's own name, email and active flag,
// and a share of the result's slices and indexes. Attribute reads and
// writes, expression values and each user's rule groups allocate nothing.
func TestRuleMapperAllocationsPerUser(t *testing.T) {
	dir := synth.Generate(synth.Config{Users: 2000, Groups: 20, MembershipsPerUser: 3, Seed: 9, SuspendedFraction: 0.1})
	m, err := benchRules().Compile()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if d, err := m.Map(ctx, dir); err != nil || len(d.Users) != len(dir.Users) || len(d.Failed) != 0 {
		t.Fatalf("mapped %d of %d users, failed %v, error %v", len(d.Users), len(dir.Users), d.Failed, err)
	}
	n := testing.AllocsPerRun(3, func() { _, _ = m.Map(ctx, dir) })
	if perUser := n / float64(len(dir.Users)); perUser > 4 {
		t.Errorf("%.1f allocations per user, want at most 4", perUser)
	}
}

// TestMatchUsersAllocationsPerUser: matching reads attributes without
// boxing them and indexes unique values without a slice each; what is
// left is lowering the user names that have capitals.
func TestMatchUsersAllocationsPerUser(t *testing.T) {
	const n = 2000
	want := make([]scim.User, n)
	obs := make([]scim.User, n)
	for i := range want {
		want[i] = scim.User{UserName: fmt.Sprintf("user%d@x.io", i), ExternalID: fmt.Sprintf("s%d", i)}
		obs[i] = scim.User{ID: fmt.Sprintf("t%d", i), UserName: fmt.Sprintf("User%d@x.io", i)}
		if i%2 == 0 {
			obs[i].ExternalID = want[i].ExternalID
		}
	}
	keys := mapping.DefaultUserMatch()
	allocs := testing.AllocsPerRun(3, func() {
		m, err := mapping.MatchUsers(want, obs, keys, nil)
		if err != nil || len(m.Errors) != 0 || m.Observed[n-1] != n-1 {
			t.Fatalf("%d errors, last matched %d, error %v", len(m.Errors), m.Observed[n-1], err)
		}
	})
	if perUser := allocs / n; perUser > 1.2 {
		t.Errorf("%.1f allocations per user, want at most 1.2", perUser)
	}
}

// TestDefaultStreamingAllocationsPerUser: the default mapping, streaming
// every user to a Take that takes it, allocates for each user only its
// name, email and active flag: the DesiredUser Take is handed is one,
// mapped anew each time (one per user took 4 allocations a user).
func TestDefaultStreamingAllocationsPerUser(t *testing.T) {
	dir := synth.Generate(synth.Config{Users: 2000, Groups: 20, MembershipsPerUser: 3, Seed: 9})
	ctx := context.Background()
	taken := 0
	s := mapping.Stream{Take: func(*mapping.DesiredUser) bool { taken++; return true }}
	n := testing.AllocsPerRun(3, func() {
		taken = 0
		if d, err := mapping.Default().MapStreaming(ctx, dir, mapping.Entitlements{}, s); err != nil || len(d.Users) != 0 {
			t.Fatalf("MapStreaming: %v", err)
		}
	})
	if taken != len(dir.Users) {
		t.Fatalf("Take was handed %d users of %d", taken, len(dir.Users))
	}
	if perUser := n / float64(len(dir.Users)); perUser > 3.1 {
		t.Errorf("%.2f allocations per user, want at most 3.1", perUser)
	}
}
