package sync_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	gosync "sync"
	"testing"
	"time"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/internal/clocktest"
	"github.com/provsync/provsync/target"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

var mirrorEpoch = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// mirrored sets up an initial sync on a fake clock and resets the
// server's counts: the next plan compares the source with the mirrors.
func mirrored(t *testing.T, users, groups int, opts ...sync.Option) (*env, *sync.Engine, *clocktest.Clock) {
	t.Helper()
	e := newEnv(t, users, groups)
	clk := clocktest.New(mirrorEpoch)
	eng := e.engine(append([]sync.Option{sync.WithClock(clk.Now)}, opts...)...)
	if p, _ := e.apply(eng); !p.DriftCheck {
		t.Fatal("the first plan was not a drift check")
	}
	e.srv.ResetStats()
	return e, eng, clk
}

// requests returns the server's counts since the last reset, as text.
func requests(s netskopetest.Stats) string {
	return fmt.Sprintf("%d requests: GET /Users %d, GET /Users/{id} %d, GET /Groups %d, GET /Groups/{id} %d, POST %d, PATCH %d, DELETE %d",
		s.Requests, s.Count(http.MethodGet, netskopetest.EndpointUsers), s.Count(http.MethodGet, netskopetest.EndpointUser),
		s.Count(http.MethodGet, netskopetest.EndpointGroups), s.Count(http.MethodGet, netskopetest.EndpointGroup),
		s.Count(http.MethodPost, ""), s.Count(http.MethodPatch, ""), s.Count(http.MethodDelete, ""))
}

// activeUsers returns the indexes of n active source users.
func activeUsers(t *testing.T, d *source.Directory, n int) []int {
	t.Helper()
	var out []int
	for i := range d.Users {
		if d.Users[i].State == source.StateActive && len(out) < n {
			out = append(out, i)
		}
	}
	if len(out) < n {
		t.Fatalf("%d active users, want %d", len(out), n)
	}
	return out
}

// TestNoOpCycleReadsNothing: after the initial sync, a cycle with nothing
// changed at the source sends no request to the target, and one with N
// renames and M suspensions sends exactly N+M PATCHes and no read.
func TestNoOpCycleReadsNothing(t *testing.T) {
	e, eng, _ := mirrored(t, 60, 6)
	p, _ := e.apply(eng)
	if !p.Empty() || p.DriftCheck {
		t.Fatalf("no-op plan: %s; want empty, not a drift check", p.SummaryLine())
	}
	if s := e.srv.Stats(); s.Requests != 0 {
		t.Fatalf("no-op cycle: %s; want none", requests(s))
	}

	const renames, suspensions = 4, 3
	idx := activeUsers(t, e.dir, renames+suspensions)
	e.edit(func(d *source.Directory) {
		for k, i := range idx {
			if k < renames {
				d.Users[i].GivenName += "-renamed"
			} else {
				d.Users[i].State = source.StateSuspended
			}
		}
	})
	p, _ = e.apply(eng)
	if p.Summary.UpdateUsers != renames || p.Summary.DeactivateUsers != suspensions || len(p.Changes) != renames+suspensions {
		t.Fatalf("plan %s; want %d updates and %d deactivations", p.SummaryLine(), renames, suspensions)
	}
	s := e.srv.Stats()
	if s.Requests != renames+suspensions || s.Count(http.MethodPatch, netskopetest.EndpointUser) != renames+suspensions {
		t.Fatalf("cycle with %d user changes: %s; want exactly one PATCH each", renames+suspensions, requests(s))
	}
	for k, i := range idx {
		u, ok := userNamed(e, e.dir.Users[i].UserName)
		if !ok || (k < renames && u.Name.GivenName != e.dir.Users[i].GivenName) || (k >= renames && u.IsActive()) {
			t.Errorf("target user %s after the cycle: %+v", e.dir.Users[i].UserName, u)
		}
	}
	e.srv.ResetStats()
	e.mustBeEmpty(eng)
	if s := e.srv.Stats(); s.Requests != 0 {
		t.Errorf("plan after the changes: %s; want none", requests(s))
	}
}

// TestMembershipMovesPatchOnlyTheirGroups: users moved from one group to
// another cost one PATCH per group changed, and nothing else.
func TestMembershipMovesPatchOnlyTheirGroups(t *testing.T) {
	e, eng, _ := mirrored(t, 40, 5)
	from, to := &e.dir.Groups[0], &e.dir.Groups[1]
	var moved []string
	for _, m := range from.Members {
		if !slices.Contains(to.Members, m) && len(moved) < 3 {
			moved = append(moved, m)
		}
	}
	if len(moved) == 0 {
		t.Fatal("no member to move")
	}
	e.edit(func(d *source.Directory) {
		d.Groups[0].Members = slices.DeleteFunc(d.Groups[0].Members, func(m string) bool { return slices.Contains(moved, m) })
		d.Groups[1].Members = append(d.Groups[1].Members, moved...)
	})
	p, _ := e.apply(eng)
	if p.Summary.AddMembers != len(moved) || p.Summary.RemoveMembers != len(moved) || len(p.Changes) != 2 {
		t.Fatalf("plan %s; want %d members moved in two changes", p.SummaryLine(), len(moved))
	}
	if s := e.srv.Stats(); s.Requests != 2 || s.Count(http.MethodPatch, netskopetest.EndpointGroup) != 2 {
		t.Fatalf("membership moves: %s; want two group PATCHes", requests(s))
	}
	e.srv.ResetStats()
	e.mustBeEmpty(eng)
	if s := e.srv.Stats(); s.Requests != 0 {
		t.Errorf("plan after the moves: %s; want none", requests(s))
	}
}

// handChanges renames an owned user and removes an owned member from an
// owned group directly in the tenant, as an administrator would by hand.
func handChanges(t *testing.T, e *env) (userID, groupID, memberID, given string) {
	t.Helper()
	snap, err := e.state.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	i := activeUsers(t, e.dir, 1)[0]
	userID, given = snap.Users[e.dir.Users[i].ID].TargetID, e.dir.Users[i].GivenName
	if err := e.client.PatchUser(ctx(t), userID, scim.Replace(scim.PathGivenName, "Changed-By-Hand")); err != nil {
		t.Fatal(err)
	}
	for _, g := range e.dir.Groups {
		for _, m := range g.Members {
			if l, ok := snap.Users[m]; ok && groupID == "" {
				groupID, memberID = snap.Groups[g.ID].TargetID, l.TargetID
			}
		}
	}
	if groupID == "" {
		t.Fatal("no owned membership")
	}
	if err := e.client.RemoveMembers(ctx(t), groupID, []string{memberID}); err != nil {
		t.Fatal(err)
	}
	e.srv.ResetStats()
	return userID, groupID, memberID, given
}

// corrected reports whether the hand-made changes are undone.
func corrected(t *testing.T, e *env, userID, groupID, memberID, given string) bool {
	t.Helper()
	u, _ := e.srv.User(userID)
	g, _ := e.srv.Group(groupID)
	return u.Name != nil && u.Name.GivenName == given &&
		slices.ContainsFunc(g.Members, func(m scim.Member) bool { return m.Value == memberID })
}

// TestHandChangesWaitForTheDriftCheck: a rename and a member removal made
// by hand in the tenant are not seen by a plan against the mirrors, which
// reads nothing; the drift check, due once the interval has passed on the
// engine's clock, or asked for with DriftCheck or Reapply, undoes both.
func TestHandChangesWaitForTheDriftCheck(t *testing.T) {
	for _, how := range []string{"interval", "DriftCheck", "Reapply"} {
		t.Run(how, func(t *testing.T) {
			e, eng, clk := mirrored(t, 30, 3, sync.WithDriftCheck(6*time.Hour))
			uid, gid, mid, given := handChanges(t, e)
			clk.Advance(6*time.Hour - time.Minute)
			p, _ := e.apply(eng)
			if !p.Empty() || p.DriftCheck || e.srv.Stats().Requests != 0 {
				t.Fatalf("plan before the interval: %s, %s; want empty, no drift check, no request", p.SummaryLine(), requests(e.srv.Stats()))
			}
			if corrected(t, e, uid, gid, mid, given) {
				t.Fatal("the hand-made changes are undone without a drift check")
			}
			var opts []sync.PlanOption
			switch how {
			case "interval":
				clk.Advance(time.Minute)
			case "DriftCheck":
				opts = append(opts, sync.DriftCheck())
			case "Reapply":
				opts = append(opts, sync.Reapply())
			}
			p, err := eng.Plan(ctx(t), opts...)
			if err != nil {
				t.Fatal(err)
			}
			if !p.DriftCheck || p.Summary.UpdateUsers != 1 || p.Summary.AddMembers != 1 || len(p.Changes) != 2 {
				t.Fatalf("drift check plan: %s (drift check %v); want the rename and the membership undone", p.SummaryLine(), p.DriftCheck)
			}
			if res, err := eng.Apply(ctx(t), p); err != nil || res.Failed != 0 {
				t.Fatalf("Apply: %v, %v", err, res.Err())
			}
			if !corrected(t, e, uid, gid, mid, given) {
				t.Fatal("the drift check did not undo the hand-made changes")
			}
			// The drift check refreshed the mirrors and restarts the
			// interval: the next plan reads nothing.
			e.srv.ResetStats()
			p, _ = e.apply(eng)
			if !p.Empty() || p.DriftCheck || e.srv.Stats().Requests != 0 {
				t.Errorf("plan after the drift check: %s, %s; want empty and no request", p.SummaryLine(), requests(e.srv.Stats()))
			}
		})
	}
}

// TestUserDeletedByHand: an owned user deleted by hand in the tenant goes
// unnoticed by plans against the mirrors until the source changes it: the
// PATCH meets 404 and fails, naming the user; the next plan reads the
// user by id, drops the link and creates the user again. A drift check
// finds it gone by itself, and does the same.
func TestUserDeletedByHand(t *testing.T) {
	for _, how := range []string{"source change", "drift check"} {
		t.Run(how, func(t *testing.T) {
			e, eng, _ := mirrored(t, 20, 2)
			snap, err := e.state.Load(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			i := activeUsers(t, e.dir, 1)[0]
			su := e.dir.Users[i]
			old := snap.Users[su.ID].TargetID
			if err := e.client.DeleteUser(ctx(t), old); err != nil {
				t.Fatal(err)
			}
			e.srv.ResetStats()
			if p, _ := e.apply(eng); !p.Empty() || e.srv.Stats().Requests != 0 {
				t.Fatalf("plan after the deletion: %s, %s; want empty and no request", p.SummaryLine(), requests(e.srv.Stats()))
			}
			var opts []sync.PlanOption
			if how == "source change" {
				e.edit(func(d *source.Directory) { d.Users[i].GivenName = "Renamed" })
				p, err := eng.Plan(ctx(t))
				if err != nil {
					t.Fatal(err)
				}
				res, err := eng.Apply(ctx(t), p)
				if err != nil || res.Failed != 1 || !errors.Is(res.Err(), target.ErrNotFound) {
					t.Fatalf("Apply of the rename: %v, %s: %v; want it to fail with 404", err, res.SummaryLine(), res.Err())
				}
				t.Logf("the rename failed: %v", res.Err())
			} else {
				opts = append(opts, sync.DriftCheck())
			}
			e.srv.ResetStats()
			p, err := eng.Plan(ctx(t), opts...)
			if err != nil {
				t.Fatal(err)
			}
			if p.Summary.CreateUsers != 1 || p.Changes[0].Object.SourceID != su.ID {
				t.Fatalf("plan: %s; want %s created again", p.SummaryLine(), su.UserName)
			}
			if how == "source change" && (e.srv.Stats().Requests != 1 || e.srv.Stats().Count(http.MethodGet, netskopetest.EndpointUser) != 1) {
				t.Errorf("plan after the failed rename: %s; want one read by id", requests(e.srv.Stats()))
			}
			if res, err := eng.Apply(ctx(t), p); err != nil || res.Failed != 0 {
				t.Fatalf("Apply: %v, %v", err, res.Err())
			}
			snap, err = e.state.Load(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if l := snap.Users[su.ID]; l.TargetID == "" || l.TargetID == old || l.Origin != sync.OriginCreated {
				t.Errorf("link after the recreate: %+v", l)
			}
			e.srv.ResetStats()
			e.mustBeEmpty(eng)
			if e.srv.Stats().Requests != 0 {
				t.Errorf("plan after the recreate: %s; want none", requests(e.srv.Stats()))
			}
		})
	}
}

// crashingState stops storing anything once crash is set, as a process
// killed at that moment would: records and saves after it are lost.
type crashingState struct {
	sync.State
	mu      gosync.Mutex
	crashed bool
	crashAt func(sync.Record) bool // the first record lost
}

func (c *crashingState) Record(ctx context.Context, recs ...sync.Record) error {
	c.mu.Lock()
	for _, r := range recs {
		if c.crashAt != nil && c.crashAt(r) {
			c.crashed = true
		}
	}
	crashed := c.crashed
	c.mu.Unlock()
	if crashed {
		return nil
	}
	return c.State.Record(ctx, recs...)
}

func (c *crashingState) Save(ctx context.Context, s *sync.Snapshot) error {
	c.mu.Lock()
	crashed := c.crashed
	c.mu.Unlock()
	if crashed {
		return nil
	}
	return c.State.Save(ctx, s)
}

// TestLostMirrorRecordIsNotTrusted: a rename lands but the process dies
// before its new mirror is recorded; the source then renames the user
// back. The state must not claim the old name (which would make the plan
// see nothing to do while the tenant holds the new one): the mirror was
// marked unknown before the write, so the next plan reads the user by id
// and renames it back.
func TestLostMirrorRecordIsNotTrusted(t *testing.T) {
	for _, st := range []string{"memory", "file"} {
		t.Run(st, func(t *testing.T) {
			e := newEnv(t, 20, 2)
			if st == "file" {
				fs := sync.NewFileState(t.TempDir() + "/state.json")
				t.Cleanup(func() { fs.Close() })
				e.state = fs
			}
			clk := clocktest.New(mirrorEpoch)
			e.apply(e.engine(sync.WithClock(clk.Now)))
			i := activeUsers(t, e.dir, 1)[0]
			su := e.dir.Users[i]
			cs := &crashingState{State: e.state, crashAt: func(r sync.Record) bool {
				return r.Op == sync.OpMirror && r.SourceID == su.ID && r.Mirror != nil
			}}
			eng, err := sync.New(e.src, e.client, sync.WithState(cs), sync.WithClock(clk.Now))
			if err != nil {
				t.Fatal(err)
			}
			e.edit(func(d *source.Directory) { d.Users[i].GivenName = "Renamed" })
			if _, res, err := eng.Sync(ctx(t)); err != nil || res.Applied != 1 {
				t.Fatalf("rename: %v, %+v", err, res)
			}
			if !cs.crashed {
				t.Fatal("the rename recorded no mirror")
			}
			if u, _ := userNamed(e, su.UserName); u.Name.GivenName != "Renamed" {
				t.Fatalf("the rename did not land: %+v", u.Name)
			}
			// The process restarts; the source renames the user back.
			if fs, ok := e.state.(*sync.FileState); ok {
				if err := fs.Close(); err != nil {
					t.Fatal(err)
				}
			}
			e.edit(func(d *source.Directory) { d.Users[i].GivenName = su.GivenName })
			eng = e.engine(sync.WithClock(clk.Now))
			e.srv.ResetStats()
			p, _ := e.apply(eng)
			if p.DriftCheck || p.Summary.UpdateUsers != 1 || e.srv.Stats().Count(http.MethodGet, netskopetest.EndpointUser) != 1 {
				t.Fatalf("plan after the lost record: %s, %s; want the user read by id and renamed back", p.SummaryLine(), requests(e.srv.Stats()))
			}
			if u, _ := userNamed(e, su.UserName); u.Name.GivenName != su.GivenName {
				t.Errorf("target user's givenName %q, want %q", u.Name.GivenName, su.GivenName)
			}
		})
	}
}

// TestLostLinkOfAHireIsReclaimed: a hire's create lands but the process
// dies before its link is recorded. The next plan, against the mirrors,
// finds the user by its userName (one filtered read, no listing) and
// links it as created, instead of creating it again.
func TestLostLinkOfAHireIsReclaimed(t *testing.T) {
	e, clk := lostHireLink(t)
	eng := e.engine(sync.WithClock(clk.Now))
	e.srv.ResetStats()
	p, _ := e.apply(eng)
	s := e.srv.Stats()
	if !p.Empty() || p.DriftCheck || s.Requests != 1 || s.Count(http.MethodGet, netskopetest.EndpointUsers) != 1 {
		t.Fatalf("plan after the lost link: %s, %s; want one filtered read and nothing to do", p.SummaryLine(), requests(s))
	}
	snap, err := e.state.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if l := snap.Users["hire-1"]; l.TargetID == "" || l.Origin != sync.OriginCreated || len(snap.Intents) != 0 {
		t.Errorf("link %+v, intents %v; want the hire linked as created", l, snap.Intents)
	}
	if n := countUsersNamed(e, "hire1@example.com"); n != 1 {
		t.Errorf("%d target users named hire1@example.com, want 1", n)
	}
}

// lostHireLink syncs a hire (source id hire-1) whose create lands but
// whose link is lost: the process dies as it records it.
func lostHireLink(t *testing.T) (*env, *clocktest.Clock) {
	t.Helper()
	e, _, clk := mirrored(t, 20, 2)
	cs := &crashingState{State: e.state, crashAt: func(r sync.Record) bool { return r.Op == sync.OpLink && r.SourceID == "hire-1" }}
	eng, err := sync.New(e.src, e.client, sync.WithState(cs), sync.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	e.edit(func(d *source.Directory) {
		d.Users = append(d.Users, source.User{ID: "hire-1", UserName: "hire1@example.com", GivenName: "Hire", FamilyName: "One",
			State: source.StateActive, Emails: []source.Email{{Value: "hire1@example.com", Primary: true}}})
	})
	if _, res, err := eng.Sync(ctx(t)); err != nil || res.Applied != 1 || !cs.crashed {
		t.Fatalf("hire: %v, %+v, crashed %v", err, res, cs.crashed)
	}
	return e, clk
}

func userNamed(e *env, name string) (scim.User, bool) {
	for _, u := range e.srv.Users() {
		if u.UserName == name {
			return u, true
		}
	}
	return scim.User{}, false
}

func countUsersNamed(e *env, name string) int {
	n := 0
	for _, u := range e.srv.Users() {
		if u.UserName == name {
			n++
		}
	}
	return n
}

// TestRunnerDriftChecks: a Runner's cycles read the whole target on the
// first cycle, then as the engine's WithDriftCheck says (on the Runner's
// clock, which the engine shares here) or once WithDriftCheckCycles
// cycles have passed, and after Restart; the cycles in between, scheduled
// full source reads included, send no request when nothing changed.
func TestRunnerDriftChecks(t *testing.T) {
	tests := []struct {
		name   string
		every  time.Duration
		cycles int
		want   []int
	}{
		{"every 3 hours", 3 * time.Hour, 0, []int{3, 6}},
		{"2 cycles between", 100 * time.Hour, 2, []int{3, 6}},
		{"1 cycle between", 100 * time.Hour, 1, []int{2, 4, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 30, 3)
			clk := clocktest.New(runnerEpoch)
			eng := e.engine(sync.WithClock(clk.Now), sync.WithDriftCheck(tt.every))
			h := startRunner(t, clk, eng, sync.WithInterval(time.Hour), sync.WithFullReadEvery(2*time.Hour, 0),
				sync.WithDriftCheckCycles(tt.cycles))
			if c := h.cycle(); !c.DriftCheck || !c.FullRead || c.Outcome != sync.CycleSucceeded {
				t.Fatalf("first cycle %+v; want a drift check", c)
			}
			var drift []int
			for k := 1; k <= 6; k++ {
				e.srv.ResetStats()
				c := h.tick()
				if c.Outcome != sync.CycleSucceeded {
					t.Fatalf("cycle %d: %s (%s)", k, c.Outcome, c.Error)
				}
				if c.DriftCheck {
					drift = append(drift, k)
				} else if n := e.srv.Stats().Requests; n != 0 {
					t.Errorf("cycle %d (full source read %v): %d requests; want none", k, c.FullRead, n)
				}
			}
			if !slices.Equal(drift, tt.want) {
				t.Errorf("drift checks at cycles %v of an hour each; want %v", drift, tt.want)
			}
			h.clk.BlockUntil(1)
			h.run.Restart()
			if c := h.cycle(); !c.DriftCheck || !c.FullRead || c.Trigger != sync.TriggerRestart {
				t.Errorf("cycle after Restart %+v; want a drift check and a full source read", c)
			}
		})
	}
}

// TestUnknownMirrorsMakeADriftCheck: a few owned objects whose mirror is
// unknown are read by id; when more are unknown than a listing costs, or
// the state never saw a drift check (one an earlier provsync wrote), the
// plan reads the whole target instead.
func TestUnknownMirrorsMakeADriftCheck(t *testing.T) {
	tests := []struct {
		name    string
		unknown int
		never   bool
		drift   bool
	}{
		{"three unknown", 3, false, false},
		{"thirty unknown", 30, false, true},
		{"no drift check recorded", 0, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, eng, _ := mirrored(t, 40, 2)
			snap, err := e.state.Load(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for src, l := range snap.Users {
				if n < tt.unknown {
					l.Mirror = nil
					snap.Users[src] = l
					n++
				}
			}
			if tt.never {
				snap.LastDriftCheck = time.Time{}
			}
			snap.Serial++
			if err := e.state.Save(ctx(t), snap); err != nil {
				t.Fatal(err)
			}
			p, _ := e.apply(eng)
			s := e.srv.Stats()
			if !p.Empty() || p.DriftCheck != tt.drift {
				t.Fatalf("plan %s (drift check %v); want empty, drift check %v", p.SummaryLine(), p.DriftCheck, tt.drift)
			}
			if !tt.drift && (s.Requests != tt.unknown || s.Count(http.MethodGet, netskopetest.EndpointUser) != tt.unknown) {
				t.Errorf("%s; want %d reads by id", requests(s), tt.unknown)
			}
			if tt.drift && s.Count(http.MethodGet, netskopetest.EndpointUser) != 0 {
				t.Errorf("%s; want the listing, no read by id", requests(s))
			}
			// Either way the mirrors are known again.
			e.srv.ResetStats()
			e.mustBeEmpty(eng)
			if e.srv.Stats().Requests != 0 {
				t.Errorf("next plan: %s; want none", requests(e.srv.Stats()))
			}
		})
	}
}

// TestGroupDeletedByHand: an owned group deleted by hand is found gone
// when a membership change meets 404; the next plan reads it by id, drops
// its link and creates it again with its members.
func TestGroupDeletedByHand(t *testing.T) {
	e, eng, _ := mirrored(t, 20, 2)
	snap, err := e.state.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	g := e.dir.Groups[0]
	old := snap.Groups[g.ID].TargetID
	if err := e.client.DeleteGroup(ctx(t), old); err != nil {
		t.Fatal(err)
	}
	e.edit(func(d *source.Directory) { d.Groups[0].Members = d.Groups[0].Members[1:] })
	p, err := eng.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Apply(ctx(t), p)
	if err != nil || res.Failed != 1 || !errors.Is(res.Err(), target.ErrNotFound) {
		t.Fatalf("Apply of the member removal: %v, %s: %v; want it to fail with 404", err, res.SummaryLine(), res.Err())
	}
	e.srv.ResetStats()
	p, _ = e.apply(eng)
	if p.Summary.CreateGroups != 1 || p.Summary.AddMembers != len(e.dir.Groups[0].Members) ||
		e.srv.Stats().Count(http.MethodGet, netskopetest.EndpointGroup) != 1 {
		t.Fatalf("plan %s, %s; want the group read by id and created again", p.SummaryLine(), requests(e.srv.Stats()))
	}
	e.mustBeEmpty(eng)
}

// TestHireMatchingAHandMadeAccount: between drift checks a new source
// user is planned as a create, since the plan reads no listing; when an
// account of that userName exists already, the create meets 409 and the
// adoption rules decide, as at a drift check: adopted when Policy.Adopt
// allows and the user is active at the source, left alone (the change
// fails, naming why) when the source user is suspended and
// Policy.AdoptSuspended is off.
func TestHireMatchingAHandMadeAccount(t *testing.T) {
	for _, suspended := range []bool{false, true} {
		t.Run(fmt.Sprintf("suspended=%v", suspended), func(t *testing.T) {
			pol := sync.DefaultPolicy()
			pol.CreateSuspended = true
			e, eng, _ := mirrored(t, 10, 1, sync.WithPolicy(pol))
			hand, err := e.srv.AddUser(scim.User{UserName: "Hire2@example.com", Active: scim.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			e.srv.ResetStats()
			state := source.StateActive
			if suspended {
				state = source.StateSuspended
			}
			e.edit(func(d *source.Directory) {
				d.Users = append(d.Users, source.User{ID: "hire-2", UserName: "hire2@example.com", GivenName: "Hire", FamilyName: "Two",
					State: state, Emails: []source.Email{{Value: "hire2@example.com", Primary: true}}})
			})
			p, err := eng.Plan(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if p.DriftCheck || p.Summary.CreateUsers != 1 || len(p.Changes) != 1 {
				t.Fatalf("plan %s; want one create, planned against the mirrors", p.SummaryLine())
			}
			res, err := eng.Apply(ctx(t), p)
			if err != nil {
				t.Fatal(err)
			}
			snap, err := e.state.Load(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			now, _ := e.srv.User(hand.ID)
			if suspended {
				if res.Failed != 1 || !errors.Is(res.Err(), target.ErrConflict) || !now.IsActive() {
					t.Fatalf("%s: %v, account active %v; want the conflict reported and the account left alone", res.SummaryLine(), res.Err(), now.IsActive())
				}
				if _, ok := snap.Users["hire-2"]; ok {
					t.Error("the hand-made account was linked to a suspended source user")
				}
				return
			}
			if res.Failed != 0 || res.Outcomes[0].TargetID != hand.ID || snap.Users["hire-2"].Origin != sync.OriginAdopted {
				t.Fatalf("%s: %v, link %+v; want the account adopted", res.SummaryLine(), res.Err(), snap.Users["hire-2"])
			}
			if now.Name == nil || now.Name.GivenName != "Hire" {
				t.Errorf("adopted account not brought up to date: %+v", now.Name)
			}
			// Its mirror is the account as found and updated: the next
			// plan reads nothing, and a source change is one PATCH.
			e.srv.ResetStats()
			e.mustBeEmpty(eng)
			if s := e.srv.Stats(); s.Requests != 0 {
				t.Errorf("plan after the adoption: %s; want none", requests(s))
			}
			e.edit(func(d *source.Directory) { d.Users[len(d.Users)-1].FamilyName = "Renamed" })
			e.apply(eng)
			if s := e.srv.Stats(); s.Requests != 1 || s.Count(http.MethodPatch, netskopetest.EndpointUser) != 1 {
				t.Errorf("cycle renaming the adopted user: %s; want one PATCH", requests(s))
			}
			if now, _ := e.srv.User(hand.ID); now.Name == nil || now.Name.FamilyName != "Renamed" || now.Name.GivenName != "Hire" {
				t.Errorf("adopted account after the rename: %+v", now.Name)
			}
		})
	}
}

// TestUnchangedUsersMirrorsAreNotDecoded: between drift checks a plan
// decodes only the mirrors of the users the source changed; the others
// hold exactly what the mapped user would write. A user changed by hand
// in the tenant still matches its mirror, so it waits for the drift
// check, which corrects it, and after which no mirror is decoded again.
func TestUnchangedUsersMirrorsAreNotDecoded(t *testing.T) {
	e, eng, _ := mirrored(t, 40, 4, sync.WithDriftCheck(6*time.Hour))
	p, _ := e.apply(eng)
	if !p.Empty() || p.DriftCheck || sync.DecodedMirrors(p) != 0 {
		t.Fatalf("no-op plan: %s, %d mirrors decoded; want empty and none", p.SummaryLine(), sync.DecodedMirrors(p))
	}
	const renames = 3
	idx := activeUsers(t, e.dir, renames)
	e.edit(func(d *source.Directory) {
		for _, i := range idx {
			d.Users[i].FamilyName += "-renamed"
		}
	})
	p, _ = e.apply(eng)
	if p.Summary.UpdateUsers != renames || sync.DecodedMirrors(p) != renames {
		t.Fatalf("plan after %d renames: %s, %d mirrors decoded; want %d updates and %d decoded",
			renames, p.SummaryLine(), sync.DecodedMirrors(p), renames, renames)
	}
	uid, _, _, given := handChanges(t, e)
	p, _ = e.apply(eng)
	if !p.Empty() || sync.DecodedMirrors(p) != 0 || e.srv.Stats().Requests != 0 {
		t.Fatalf("plan after the hand-made changes: %s, %d decoded, %s; want empty, none, no request",
			p.SummaryLine(), sync.DecodedMirrors(p), requests(e.srv.Stats()))
	}
	p, err := eng.Plan(ctx(t), sync.DriftCheck())
	if err != nil {
		t.Fatal(err)
	}
	if !p.DriftCheck || p.Summary.UpdateUsers != 1 {
		t.Fatalf("drift check plan: %s; want the hand-made rename undone", p.SummaryLine())
	}
	if res, err := eng.Apply(ctx(t), p); err != nil || res.Failed != 0 {
		t.Fatalf("Apply: %v, %v", err, res.Err())
	}
	if u := e.targetUser(uid); u.Name == nil || u.Name.GivenName != given {
		t.Fatalf("after the drift check the user is named %+v; want given name %q", u.Name, given)
	}
	p, _ = e.apply(eng)
	if !p.Empty() || p.DriftCheck || sync.DecodedMirrors(p) != 0 {
		t.Errorf("plan after the drift check: %s, %d mirrors decoded; want empty and none", p.SummaryLine(), sync.DecodedMirrors(p))
	}
}

// TestUnchangedUsersAreNotHeld: a user the same as its mirror is compared
// without a target copy of it being kept for the plan (a no-op cycle at
// scale held one per user next to the mapped ones): a no-op plan holds
// no target user, a plan after renames holds the renamed ones only. The
// others still take their part: one removed from a group is named by its
// userName, and one moved into another group is added by its target id.
func TestUnchangedUsersAreNotHeld(t *testing.T) {
	e, eng, _ := mirrored(t, 40, 4, sync.WithDriftCheck(6*time.Hour))
	p, _ := e.apply(eng)
	if !p.Empty() || sync.HeldTargetUsers(p) != 0 || sync.HeldTargetUserRoom(p) != 0 {
		t.Fatalf("no-op plan: %s, %d target users held in room for %d; want empty and none", p.SummaryLine(), sync.HeldTargetUsers(p), sync.HeldTargetUserRoom(p))
	}
	const renames = 2
	idx := activeUsers(t, e.dir, renames+1)
	mover := &e.dir.Users[idx[renames]]
	var from, to *source.Group
	for gi := range e.dir.Groups {
		g := &e.dir.Groups[gi]
		if slices.Contains(g.Members, mover.ID) {
			if from == nil {
				from = g
			}
		} else if to == nil {
			to = g
		}
	}
	if from == nil || to == nil {
		t.Fatalf("user %s is in no group, or in all", mover.ID)
	}
	fromName, toName, moverID, moverName := from.DisplayName, to.DisplayName, mover.ID, mover.UserName
	e.edit(func(d *source.Directory) {
		for _, i := range idx[:renames] {
			d.Users[i].FamilyName += "-renamed"
		}
		for gi := range d.Groups {
			g := &d.Groups[gi]
			switch g.DisplayName {
			case fromName:
				g.Members = slices.DeleteFunc(g.Members, func(id string) bool { return id == moverID })
			case toName:
				g.Members = append(g.Members, moverID)
			}
		}
	})
	p, _ = e.apply(eng)
	if p.Summary.UpdateUsers != renames || sync.HeldTargetUsers(p) != renames || sync.HeldTargetUserRoom(p) > 2*renames {
		t.Fatalf("plan after %d renames: %s, %d target users held in room for %d; want %d updates and %d held in room for at most %d",
			renames, p.SummaryLine(), sync.HeldTargetUsers(p), sync.HeldTargetUserRoom(p), renames, renames, 2*renames)
	}
	var removed, added []sync.Ref
	for _, c := range p.Changes {
		switch {
		case c.Action == sync.ActionRemoveMembers && c.Object.Key == fromName:
			removed = c.Members
		case c.Action == sync.ActionAddMembers && c.Object.Key == toName:
			added = c.Members
		}
	}
	if len(removed) != 1 || removed[0].Key != moverName || len(added) != 1 || added[0].TargetID == "" {
		t.Fatalf("the move of %s (%s): removed %+v, added %+v; want it removed by its userName and added by its target id\n%s",
			moverID, moverName, removed, added, p.SummaryLine())
	}
	groups, err := e.client.ListGroups(ctx(t), target.WithMembers())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if g.DisplayName == toName && !slices.ContainsFunc(g.Members, func(m scim.Member) bool { return m.Value == added[0].TargetID }) {
			t.Fatalf("group %q holds %v after the apply; want %s in it", toName, g.Members, added[0].TargetID)
		}
	}
	if p, _ = e.apply(eng); !p.Empty() || sync.HeldTargetUsers(p) != 0 {
		t.Fatalf("plan after the apply: %s, %d held; want empty and none", p.SummaryLine(), sync.HeldTargetUsers(p))
	}
}
