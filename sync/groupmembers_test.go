package sync_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// TestCreatedGroupsResolveEachMember runs an initial sync in which one
// user's create keeps failing while the user is a member of several
// groups: every group is created with every other member, each by its
// own target id, and each group's outcome reports the missing member.
func TestCreatedGroupsResolveEachMember(t *testing.T) {
	probe := newEnv(t, 40, 5)
	// The user in the most groups.
	count := map[string]int{}
	for _, g := range probe.dir.Groups {
		for _, m := range g.Members {
			count[m]++
		}
	}
	failing := probe.dir.Users[0]
	for _, u := range probe.dir.Users {
		if count[u.ID] > count[failing.ID] {
			failing = u
		}
	}
	if count[failing.ID] < 2 {
		t.Fatalf("no user is in two groups: %v", count)
	}

	e := newEnv(t, 40, 5, netskopetest.WithFaults(netskopetest.Faults{FailCreates: []string{failing.UserName}}))
	c, err := netskope.New(e.srv.URL(), e.srv.Token(), netskope.WithRateLimit(0, 0), netskope.WithMaxRetries(-1))
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	_, res, err := e.engine(sync.WithConcurrency(4)).Sync(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := e.state.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := snap.Users[failing.ID]; ok || res.Failed != 1+count[failing.ID] {
		t.Fatalf("%s; want the create of %s failed, and the %d groups it is in short of it", res.SummaryLine(), failing.ID, count[failing.ID])
	}
	reported := 0
	for _, o := range res.Outcomes {
		if o.Action == sync.ActionCreateGroup && strings.Contains(o.Error, "1 members were not added") && strings.Contains(o.Error, failing.UserName) {
			reported++
		}
	}
	if reported != count[failing.ID] {
		t.Errorf("%d group creates report the missing member, want %d", reported, count[failing.ID])
	}
	for _, g := range e.dir.Groups {
		var want []string
		for _, m := range g.Members {
			if m != failing.ID {
				want = append(want, snap.Users[m].TargetID)
			}
		}
		tg, ok := e.srv.Group(snap.Groups[g.ID].TargetID)
		if !ok {
			t.Fatalf("group %s was not created", g.ID)
		}
		var got []string
		for _, m := range tg.Members {
			got = append(got, m.Value)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("group %s has members %v, want %v", g.ID, got, want)
		}
	}
}
