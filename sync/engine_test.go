package sync_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/synth"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// env is one end-to-end setup: a file source, the embedded Netskope
// server, the real client and an engine over them.
type env struct {
	t      *testing.T
	srv    *netskopetest.Server
	client *netskope.Client
	src    *file.Source
	state  sync.State
	dir    *source.Directory
}

func newEnv(t *testing.T, users, groups int, srvOpts ...netskopetest.Option) *env {
	t.Helper()
	srv := netskopetest.New(t, srvOpts...)
	c, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	dir := synth.Generate(synth.Config{Users: users, Groups: groups, MembershipsPerUser: 3, Seed: 7})
	return &env{t: t, srv: srv, client: c, src: file.FromDirectory(dir), state: sync.NewMemoryState(), dir: dir}
}

func (e *env) engine(opts ...sync.Option) *sync.Engine {
	e.t.Helper()
	eng, err := sync.New(e.src, e.client, append([]sync.Option{sync.WithState(e.state)}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	return eng
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return c
}

// apply plans and applies, failing the test on any error.
func (e *env) apply(eng *sync.Engine, opts ...sync.ApplyOption) (*sync.Plan, *sync.Result) {
	e.t.Helper()
	p, err := eng.Plan(ctx(e.t))
	if err != nil {
		e.t.Fatalf("Plan: %v", err)
	}
	res, err := eng.Apply(ctx(e.t), p, opts...)
	if err != nil {
		e.t.Fatalf("Apply: %v", err)
	}
	if res.Failed > 0 {
		e.t.Fatalf("Apply: %s: %v", res.SummaryLine(), res.Err())
	}
	return p, res
}

func (e *env) mustBeEmpty(eng *sync.Engine) {
	e.t.Helper()
	p, err := eng.Plan(ctx(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	if !p.Empty() {
		var b strings.Builder
		_ = p.Render(&b, 20)
		e.t.Fatalf("plan after apply is not empty:\n%s", b.String())
	}
}

// edit changes the source directory in place and hands it to the source.
func (e *env) edit(fn func(d *source.Directory)) {
	fn(e.dir)
	e.src.Set(e.dir)
}

func (e *env) targetUser(id string) *scim.User {
	e.t.Helper()
	u, err := e.client.GetUser(ctx(e.t), id)
	if err != nil {
		e.t.Fatalf("GetUser(%s): %v", id, err)
	}
	return u
}

func TestApplyThenPlanIsEmpty(t *testing.T) {
	e := newEnv(t, 60, 6)
	eng := e.engine()
	p, res := e.apply(eng)
	if p.Summary.CreateUsers != len(e.dir.Users)-countState(e.dir, source.StateSuspended, source.StateDeleted) {
		t.Errorf("created %d users, want every active user of %d", p.Summary.CreateUsers, len(e.dir.Users))
	}
	if p.Summary.CreateGroups != 6 || res.Applied != len(p.Changes) {
		t.Errorf("summary %+v, result %s", p.Summary, res.SummaryLine())
	}
	e.mustBeEmpty(eng)
	// Memberships landed: every group's members equal the source's.
	groups, err := e.client.ListGroups(ctx(t), target.WithMembers())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, g := range groups {
		total += len(g.Members)
	}
	if total == 0 || total != p.Summary.AddMembers {
		t.Errorf("target holds %d memberships, plan added %d", total, p.Summary.AddMembers)
	}
}

func countState(d *source.Directory, states ...source.State) int {
	n := 0
	for _, u := range d.Users {
		for _, s := range states {
			if u.State == s {
				n++
			}
		}
	}
	return n
}

func firstActive(d *source.Directory) int {
	for i, u := range d.Users {
		if u.State == source.StateActive {
			return i
		}
	}
	return -1
}

func TestRenameIsAnUpdate(t *testing.T) {
	e := newEnv(t, 20, 2)
	eng := e.engine()
	e.apply(eng)
	i := firstActive(e.dir)
	srcID := e.dir.Users[i].ID
	before, err := e.client.ListUsers(ctx(t), target.WithFilter(scim.Eq("externalId", srcID)))
	if err != nil || len(before) != 1 {
		t.Fatalf("target user for %s: %v %v", srcID, before, err)
	}
	e.edit(func(d *source.Directory) { d.Users[i].UserName = "renamed." + d.Users[i].UserName })
	p, _ := e.apply(eng)
	if p.Summary.UpdateUsers != 1 || p.Summary.CreateUsers != 0 || p.Summary.DeleteUsers != 0 || p.Summary.DeactivateUsers != 0 {
		t.Fatalf("rename planned as %+v", p.Summary)
	}
	after := e.targetUser(before[0].ID)
	if !strings.HasPrefix(after.UserName, "renamed.") {
		t.Errorf("target user %s still has userName %q", after.ID, after.UserName)
	}
	if e.srv.UserCount() != len(before)+p.Summary.UnchangedUsers+0 && e.srv.UserCount() < 1 {
		t.Errorf("user count changed")
	}
	e.mustBeEmpty(eng)
}

func TestLeavingScopeDeactivates(t *testing.T) {
	e := newEnv(t, 20, 2)
	eng := e.engine()
	e.apply(eng)
	i := firstActive(e.dir)
	gone := e.dir.Users[i].ID
	e.edit(func(d *source.Directory) { removeUser(d, gone) })
	p, _ := e.apply(eng)
	if p.Summary.DeactivateUsers != 1 || p.Summary.DeleteUsers != 0 {
		t.Fatalf("plan %+v, want one deactivation", p.Summary)
	}
	us, err := e.client.ListUsers(ctx(t), target.WithFilter(scim.Eq("externalId", gone)))
	if err != nil || len(us) != 1 {
		t.Fatalf("the user that left scope must still exist: %v %v", us, err)
	}
	if us[0].IsActive() {
		t.Errorf("user that left scope is still active")
	}
	e.mustBeEmpty(eng)
}

func TestDeletionLimitHolds(t *testing.T) {
	e := newEnv(t, 40, 2)
	pol := sync.DefaultPolicy()
	pol.UserLimit = sync.Limit{MaxCount: 5}
	eng := e.engine(sync.WithPolicy(pol))
	e.apply(eng)
	e.edit(func(d *source.Directory) { keepUsers(d, 10) })
	p, err := eng.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.Applyable || !p.NeedsConfirmation || len(p.Reasons) == 0 {
		t.Fatalf("plan with %d deactivations is applyable=%v needsConfirmation=%v", p.Summary.DeactivateUsers, p.Applyable, p.NeedsConfirmation)
	}
	writes := e.srv.Stats().Writes()
	if _, err := eng.Apply(ctx(t), p); !errors.Is(err, sync.ErrNotApplyable) {
		t.Fatalf("Apply without confirmation = %v, want ErrNotApplyable", err)
	}
	if got := e.srv.Stats().Writes(); got != writes {
		t.Fatalf("a refused plan wrote %d times", got-writes)
	}
	res, err := eng.Apply(ctx(t), p, sync.Confirm())
	if err != nil || res.Failed > 0 {
		t.Fatalf("confirmed Apply: %v %v", err, res.Err())
	}
	e.mustBeEmpty(eng)
}

func TestSourceErrorDeletesNothing(t *testing.T) {
	e := newEnv(t, 20, 2)
	pol := sync.DefaultPolicy()
	pol.LeftScope = sync.Delete
	e.apply(e.engine(sync.WithPolicy(pol)))
	writes := e.srv.Stats().Writes()
	broken := file.New(filepath.Join(t.TempDir(), "missing.yaml"))
	eng, err := sync.New(broken, e.client, sync.WithState(e.state), sync.WithPolicy(pol))
	if err != nil {
		t.Fatal(err)
	}
	p, res, err := eng.Sync(ctx(t))
	if !errors.Is(err, sync.ErrSourceRead) || p != nil || res != nil {
		t.Fatalf("Run over a failing source = %v, %v, %v; want ErrSourceRead and nothing done", p, res, err)
	}
	if got := e.srv.Stats().Writes(); got != writes {
		t.Errorf("a failed source read led to %d writes", got-writes)
	}
	if e.srv.UserCount() == 0 {
		t.Error("users were deleted")
	}
}

func TestForeignObjectsAreNeverTouched(t *testing.T) {
	e := newEnv(t, 10, 1)
	foreign, err := e.client.CreateUser(ctx(t), &scim.User{UserName: "hand.made@example.com", Active: scim.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	fg, err := e.client.CreateGroup(ctx(t), &scim.Group{DisplayName: "Made by hand", Members: scim.MemberValues([]string{foreign.ID})})
	if err != nil {
		t.Fatal(err)
	}
	pol := sync.DefaultPolicy()
	pol.LeftScope = sync.Delete
	eng := e.engine(sync.WithPolicy(pol))
	e.apply(eng)
	e.edit(func(d *source.Directory) { d.Users, d.Groups = nil, nil })
	p, err := eng.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Changes {
		if c.Object.TargetID == foreign.ID || c.Object.TargetID == fg.ID {
			t.Errorf("plan touches a foreign object: %+v", c)
		}
	}
	if _, err := eng.Apply(ctx(t), p, sync.Confirm()); err != nil {
		t.Fatal(err)
	}
	got := e.targetUser(foreign.ID)
	if !got.IsActive() {
		t.Error("foreign user was deactivated")
	}
	g, err := e.client.GetGroup(ctx(t), fg.ID, target.WithMembers())
	if err != nil || len(g.Members) != 1 {
		t.Errorf("foreign group changed: %+v %v", g, err)
	}
	if e.srv.UserCount() != 1 || e.srv.GroupCount() != 1 {
		t.Errorf("after removing every source object the target holds %d users, %d groups; want only the foreign ones",
			e.srv.UserCount(), e.srv.GroupCount())
	}
}

func TestInterruptedApplyConverges(t *testing.T) {
	for _, lose := range []bool{false, true} {
		name := "state kept"
		if lose {
			name = "state lost"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, 120, 8)
			eng := e.engine(sync.WithConcurrency(4))
			p, err := eng.Plan(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			c, cancel := context.WithCancel(context.Background())
			var once gosync.Once
			res, err := eng.Apply(c, p, sync.WithProgress(func(pr sync.Progress) {
				if pr.Done >= len(p.Changes)/2 {
					once.Do(cancel)
				}
			}))
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted Apply = %v", err)
			}
			if res.Applied == 0 || res.Applied == len(p.Changes) {
				t.Fatalf("interruption did not land halfway: %s", res.SummaryLine())
			}
			t.Logf("interrupted: %s", res.SummaryLine())
			if lose {
				e.state = sync.NewMemoryState() // the links made so far are forgotten
				eng = e.engine(sync.WithConcurrency(4))
			}
			e.apply(eng)
			e.mustBeEmpty(eng)
			active := len(e.dir.Users) - countState(e.dir, source.StateSuspended, source.StateDeleted)
			if got := e.srv.UserCount(); got != active {
				t.Errorf("target holds %d users, want %d (duplicates or losses)", got, active)
			}
			if got := e.srv.GroupCount(); got != len(e.dir.Groups) {
				t.Errorf("target holds %d groups, want %d", got, len(e.dir.Groups))
			}
		})
	}
}

func TestStalePlanRefused(t *testing.T) {
	e := newEnv(t, 5, 1)
	eng := e.engine()
	p1, err := eng.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	e.apply(eng)
	if _, err := eng.Apply(ctx(t), p1); !errors.Is(err, sync.ErrStalePlan) {
		t.Fatalf("applying a plan made before the last apply = %v, want ErrStalePlan", err)
	}
}

func TestFaultyTargetConverges(t *testing.T) {
	e := newEnv(t, 50, 4, netskopetest.WithFaults(netskopetest.Faults{Rate429: 0.1, Rate500: 0.1, Seed: 3}))
	c, err := netskope.New(e.srv.URL(), e.srv.Token(), netskope.WithRateLimit(0, 0), netskope.WithBackoff(time.Millisecond, 5*time.Millisecond), netskope.WithMaxRetries(10))
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	eng := e.engine()
	e.apply(eng)
	e.mustBeEmpty(eng)
}

// keepUsers drops all but the first n users, and their memberships.
func keepUsers(d *source.Directory, n int) {
	kept := map[string]bool{}
	for _, u := range d.Users[:n] {
		kept[u.ID] = true
	}
	d.Users = d.Users[:n]
	for g := range d.Groups {
		var m []string
		for _, id := range d.Groups[g].Members {
			if kept[id] {
				m = append(m, id)
			}
		}
		d.Groups[g].Members = m
	}
}

// A server that leaves members out of group lists, even when asked, makes
// the engine read each group's members on its own at a drift check, and
// still converge.
func TestServerWithoutMembersInLists(t *testing.T) {
	e := newEnv(t, 30, 4, netskopetest.WithoutListMembers())
	eng := e.engine(sync.WithDriftCheck(0))
	e.apply(eng)
	before := e.srv.Stats().Count("GET", netskopetest.EndpointGroup)
	e.mustBeEmpty(eng)
	if got := e.srv.Stats().Count("GET", netskopetest.EndpointGroup) - before; got != len(e.dir.Groups) {
		t.Errorf("plan read %d single groups, want one per group (%d)", got, len(e.dir.Groups))
	}
}

// Provision on demand: a source yielding one user changes only that user
// and that user's memberships, whatever the policy says about the rest.
func TestPartialSourceTouchesOnlyItsUsers(t *testing.T) {
	e := newEnv(t, 20, 3)
	pol := sync.DefaultPolicy()
	pol.LeftScope = sync.Delete
	e.apply(e.engine(sync.WithPolicy(pol)))
	i := firstActive(e.dir)
	u := e.dir.Users[i].Clone()
	u.DisplayName = "On Demand"
	var groups []source.Group
	for _, g := range e.dir.Groups {
		for _, m := range g.Members {
			if m == u.ID {
				g.Members = []string{u.ID}
				groups = append(groups, g)
				break
			}
		}
	}
	one := file.FromDirectory(&source.Directory{Users: []source.User{u}, Groups: groups})
	eng, err := sync.New(one, e.client, sync.WithState(e.state), sync.WithPolicy(pol), sync.WithPartialSource())
	if err != nil {
		t.Fatal(err)
	}
	users := e.srv.UserCount()
	p, err := eng.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 1 || p.Changes[0].Action != sync.ActionUpdateUser || p.Changes[0].Object.SourceID != u.ID || p.Complete {
		var b strings.Builder
		_ = p.Render(&b, 0)
		t.Fatalf("on-demand plan:\n%s", b.String())
	}
	if _, err := eng.Apply(ctx(t), p); err != nil {
		t.Fatal(err)
	}
	if e.srv.UserCount() != users {
		t.Errorf("users went from %d to %d", users, e.srv.UserCount())
	}
	e.mustBeEmpty(eng)
}
