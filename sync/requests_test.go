package sync_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// TestOneWritePerChangedObject: between drift checks a cycle sends one
// PATCH per object it changes. A user renamed and suspended at once is
// one PATCH; a group that gains some members and loses others is one
// PATCH holding both operations, however many members move; and nothing
// is read. The target then holds what the source says: the next plan,
// and a drift check, are empty.
func TestOneWritePerChangedObject(t *testing.T) {
	e, eng, _ := mirrored(t, 30, 8)
	d := e.dir
	g := &d.Groups[0]
	var joining, leaving []string
	for _, i := range activeUsers(t, d, 12) {
		id := d.Users[i].ID
		switch {
		case slices.Contains(g.Members, id) && len(leaving) < 2:
			leaving = append(leaving, id)
		case !slices.Contains(g.Members, id) && len(joining) < 3:
			joining = append(joining, id)
		}
	}
	if len(joining) < 3 || len(leaving) < 2 {
		t.Fatalf("group %s: %d users to join, %d to leave; want 3 and 2", g.ID, len(joining), len(leaving))
	}
	var renamed string
	e.edit(func(d *source.Directory) {
		g := &d.Groups[0]
		g.Members = append(slices.DeleteFunc(g.Members, func(m string) bool { return slices.Contains(leaving, m) }), joining...)
		for i := range d.Users {
			u := &d.Users[i]
			if u.State == source.StateActive && !slices.Contains(joining, u.ID) && !slices.Contains(leaving, u.ID) {
				u.FamilyName += "-renamed"
				u.State = source.StateSuspended
				renamed = u.ID
				break
			}
		}
	})

	p, res := cycle(t, eng)
	s := p.Summary
	if p.DriftCheck || res.Failed != 0 || s.DeactivateUsers+s.UpdateUsers != 1 || s.AddMembers != 3 || s.RemoveMembers != 2 || len(p.Changes) != 3 {
		t.Fatalf("plan %s (drift check %v), %s: %v; want one user change and the group's two member changes", p.SummaryLine(), p.DriftCheck, res.SummaryLine(), res.Err())
	}
	st := e.srv.Stats()
	if st.Count(http.MethodPatch, netskopetest.EndpointUser) != 1 || st.Count(http.MethodPatch, netskopetest.EndpointGroup) != 1 || st.Requests != 2 {
		t.Fatalf("%s; want one PATCH of the user and one of the group, nothing else", requests(st))
	}
	for _, o := range res.Outcomes {
		if o.Status != sync.StatusApplied {
			t.Errorf("outcome %+v; want applied", o)
		}
	}

	gid := linkTargets(t, e.state)["group:"+g.ID]
	got, err := e.client.GetGroup(ctx(t), gid, target.WithMembers())
	if err != nil {
		t.Fatal(err)
	}
	links := linkTargets(t, e.state)
	have := map[string]bool{}
	for _, m := range got.Members {
		have[m.Value] = true
	}
	for _, id := range joining {
		if !have[links["user:"+id]] {
			t.Errorf("%s did not join the group", id)
		}
	}
	for _, id := range leaving {
		if have[links["user:"+id]] {
			t.Errorf("%s is still in the group", id)
		}
	}
	if u := e.targetUser(links["user:"+renamed]); u.IsActive() || u.Name == nil || !strings.HasSuffix(u.Name.FamilyName, "-renamed") {
		t.Errorf("the renamed and suspended user is %+v, active %v", u.Name, u.IsActive())
	}
	e.mustBeEmpty(eng)
	if p, err := eng.Plan(ctx(t), sync.DriftCheck()); err != nil || !p.Empty() {
		t.Fatalf("drift check after the cycle: %v, %s; want empty", err, p.SummaryLine())
	}
}
