package sync_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/internal/clocktest"
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

	has := groupHolds(t, e, g.ID)
	for _, id := range joining {
		if !has(id) {
			t.Errorf("%s did not join the group", id)
		}
	}
	for _, id := range leaving {
		if has(id) {
			t.Errorf("%s is still in the group", id)
		}
	}
	if u := e.targetUser(linkTargets(t, e.state)["user:"+renamed]); u.IsActive() || u.Name == nil || !strings.HasSuffix(u.Name.FamilyName, "-renamed") {
		t.Errorf("the renamed and suspended user is %+v, active %v", u.Name, u.IsActive())
	}
	e.mustBeEmpty(eng)
	if p, err := eng.Plan(ctx(t), sync.DriftCheck()); err != nil || !p.Empty() {
		t.Fatalf("drift check after the cycle: %v, %s; want empty", err, p.SummaryLine())
	}
}

// TestMemberChangesSplitWhenThePairIsRefused: a target that refuses a
// group PATCH of two operations (as a tenant might that only ever sees
// Netskope's own one-operation member changes) gets the group's
// additions and removals one request each: the refused pair is sent
// again as two, every change is applied, and later cycles do not try
// the pair again.
func TestMemberChangesSplitWhenThePairIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		srvOpts []netskopetest.Option
		// want is the group PATCH requests of the first and the second
		// cycle, each moving one member in and one out of a group.
		want [2]int
	}{
		{"pair accepted", nil, [2]int{1, 1}},
		{"pair refused", []netskopetest.Option{netskopetest.WithOneGroupPatchOperation()}, [2]int{3, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 30, 8, tc.srvOpts...)
			eng := e.engine(sync.WithClock(clocktest.New(mirrorEpoch).Now))
			e.apply(eng)
			var groups []int // groups with members that not everyone is in
			for i, g := range e.dir.Groups {
				if len(g.Members) > 0 && len(g.Members) < len(e.dir.Users)/2 {
					groups = append(groups, i)
				}
			}
			if len(groups) < len(tc.want) {
				t.Fatalf("%d groups have some users as members, want %d", len(groups), len(tc.want))
			}
			for round, want := range tc.want {
				e.srv.ResetStats()
				gi := groups[round]
				g := e.dir.Groups[gi]
				var in, out string
				for _, u := range e.dir.Users {
					if u.State != source.StateActive {
						continue
					}
					switch {
					case slices.Contains(g.Members, u.ID) && out == "":
						out = u.ID
					case !slices.Contains(g.Members, u.ID) && in == "":
						in = u.ID
					}
				}
				if in == "" || out == "" {
					t.Fatalf("group %s: no active user to move in (%q) or out (%q)", g.ID, in, out)
				}
				e.edit(func(d *source.Directory) {
					g := &d.Groups[gi]
					g.Members = append(slices.DeleteFunc(g.Members, func(m string) bool { return m == out }), in)
				})
				p, res := cycle(t, eng)
				if res.Failed != 0 || p.Summary.AddMembers != 1 || p.Summary.RemoveMembers != 1 || len(p.Changes) != 2 {
					t.Fatalf("cycle %d: plan %s, %s: %v; want one member in and one out", round+1, p.SummaryLine(), res.SummaryLine(), res.Err())
				}
				st := e.srv.Stats()
				if got := st.Count(http.MethodPatch, netskopetest.EndpointGroup); got != want || st.Requests != want {
					t.Fatalf("cycle %d: %s; want %d group PATCH and nothing else", round+1, requests(st), want)
				}
				if has := groupHolds(t, e, g.ID); !has(in) || has(out) {
					t.Fatalf("cycle %d: group %s holds %s: %v, %s: %v; want in and out", round+1, g.ID, in, has(in), out, has(out))
				}
			}
			e.mustBeEmpty(eng)
			if p, err := eng.Plan(ctx(t), sync.DriftCheck()); err != nil || !p.Empty() {
				t.Fatalf("drift check: %v, %s; want empty", err, p.SummaryLine())
			}
		})
	}
}

// groupHolds reads source group id's target group with its members and
// returns whether it holds the target user of a source user id.
func groupHolds(t *testing.T, e *env, id string) func(userID string) bool {
	t.Helper()
	links := linkTargets(t, e.state)
	got, err := e.client.GetGroup(ctx(t), links["group:"+id], target.WithMembers())
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, m := range got.Members {
		have[m.Value] = true
	}
	return func(userID string) bool { return have[links["user:"+userID]] }
}
