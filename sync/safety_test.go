package sync_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/synth"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// newEnvFrom is newEnv over a directory the test built.
func newEnvFrom(t *testing.T, dir *source.Directory) *env {
	t.Helper()
	e := newEnv(t, 0, 0)
	e.dir, e.src = dir, file.FromDirectory(dir)
	return e
}

// memberships counts the memberships the target holds.
func (e *env) memberships() int {
	e.t.Helper()
	groups, err := e.client.ListGroups(ctx(e.t), target.WithMembers())
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, g := range groups {
		n += len(g.Members)
	}
	return n
}

// heldWithoutWrites checks that p waits for confirmation and that
// applying it without one writes nothing to the target.
func (e *env) heldWithoutWrites(eng *sync.Engine, p *sync.Plan) {
	e.t.Helper()
	if p.Applyable || !p.NeedsConfirmation || len(p.Reasons) == 0 {
		e.t.Fatalf("plan (%s) is applyable=%v needsConfirmation=%v; want it held", p.SummaryLine(), p.Applyable, p.NeedsConfirmation)
	}
	writes := e.srv.Stats().Writes()
	if _, err := eng.Apply(ctx(e.t), p); !errors.Is(err, sync.ErrNotApplyable) {
		e.t.Fatalf("Apply without confirmation = %v, want ErrNotApplyable", err)
	}
	if got := e.srv.Stats().Writes() - writes; got != 0 {
		e.t.Fatalf("a held plan wrote %d times", got)
	}
}

// Emptying every member list at the source is a mass deprovision: the
// plan waits for a confirmation, as it does for users and groups.
func TestMembershipRemovalsCountAgainstLimits(t *testing.T) {
	dir := synth.Generate(synth.Config{Users: 1000, Groups: 60, MembershipsPerUser: 15, Seed: 11})
	e := newEnvFrom(t, dir)
	eng := e.engine()
	e.apply(eng)
	owned := e.memberships()
	if owned != 15000 {
		t.Fatalf("target holds %d memberships, want 15000", owned)
	}
	e.edit(func(d *source.Directory) {
		for g := range d.Groups {
			d.Groups[g].Members = nil
		}
	})
	p, err := eng.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.Summary.RemoveMembers != owned || p.Summary.DeactivateUsers+p.Summary.DeleteUsers+p.Summary.DeleteGroups != 0 {
		t.Fatalf("plan %s; want only %d membership removals", p.SummaryLine(), owned)
	}
	e.heldWithoutWrites(eng, p)
	if got := e.memberships(); got != owned {
		t.Fatalf("memberships went from %d to %d without confirmation", owned, got)
	}
	res, err := eng.Apply(ctx(t), p, sync.Confirm())
	if err != nil || res.Failed > 0 {
		t.Fatalf("confirmed Apply: %v %v", err, res.Err())
	}
	if got := e.memberships(); got != 0 {
		t.Errorf("after a confirmed apply the target holds %d memberships, want 0", got)
	}
	e.mustBeEmpty(eng)
}

// A few membership removals stay under the default limits and apply.
func TestFewMembershipRemovalsApply(t *testing.T) {
	e := newEnv(t, 60, 6)
	eng := e.engine()
	e.apply(eng)
	e.edit(func(d *source.Directory) {
		d.Groups[0].Members = d.Groups[0].Members[:len(d.Groups[0].Members)-1]
	})
	p, _ := e.apply(eng)
	if p.Summary.RemoveMembers != 1 {
		t.Fatalf("plan %s, want one membership removal", p.SummaryLine())
	}
}

// A Policy built by hand, with no limits written, keeps the default
// limits; only an explicit Unlimited lifts one.
func TestHandBuiltPolicyKeepsDefaultLimits(t *testing.T) {
	handBuilt := sync.Policy{LeftScope: sync.Delete, Suspended: sync.Deactivate, Deleted: sync.Deactivate}
	lifted := handBuilt
	// The users that leave take their memberships with them: both limits.
	lifted.UserLimit = sync.Limit{MaxCount: sync.Unlimited, MaxPercent: sync.Unlimited}
	lifted.MembershipLimit = lifted.UserLimit
	tests := []struct {
		name   string
		policy sync.Policy
		held   bool
	}{
		{"no limits written", handBuilt, true},
		{"user and membership limits lifted", lifted, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 40, 2)
			eng := e.engine(sync.WithPolicy(tt.policy))
			e.apply(eng)
			users := e.srv.UserCount()
			e.edit(func(d *source.Directory) { keepUsers(d, 10) })
			p, err := eng.Plan(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if p.Summary.DeleteUsers < 20 {
				t.Fatalf("plan %s; want the users that left deleted", p.SummaryLine())
			}
			if !tt.held {
				res, err := eng.Apply(ctx(t), p)
				if err != nil {
					t.Fatalf("Apply with the limits lifted: %v", err)
				}
				if res.Failed > 0 || e.srv.UserCount() != users-p.Summary.DeleteUsers {
					t.Fatalf("Apply with the limits lifted: %s: %v", res.SummaryLine(), res.Err())
				}
				return
			}
			e.heldWithoutWrites(eng, p)
			if got := e.srv.UserCount(); got != users {
				t.Errorf("users went from %d to %d", users, got)
			}
		})
	}
}

// problemsNaming returns the plan's problems whose message names every
// one of ids.
func problemsNaming(p *sync.Plan, ids ...string) []sync.Problem {
	var out []sync.Problem
	for _, pr := range p.Problems {
		all := true
		for _, id := range ids {
			all = all && strings.Contains(pr.Message, strconv.Quote(id))
		}
		if all {
			out = append(out, pr)
		}
	}
	return out
}

// Two source users that map to one userName would fight over one target
// user: every one of them is a problem naming all of them, and nothing
// is sent for any.
func TestSameUserNameIsAProblem(t *testing.T) {
	t.Run("constant mapping", func(t *testing.T) {
		e := newEnv(t, 23, 2)
		rules := mapping.Rules{Users: mapping.DefaultUserMappings()}
		rules.Users[0] = mapping.AttributeMapping{Target: scim.PathUserName, Type: mapping.Constant, Value: "everyone@example.com"}
		m, err := rules.Compile()
		if err != nil {
			t.Fatal(err)
		}
		eng := e.engine(sync.WithMapper(m))
		p, err := eng.Plan(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]string, len(e.dir.Users))
		for i, u := range e.dir.Users {
			ids[i] = u.ID
		}
		if got := len(problemsNaming(p, ids...)); got != len(ids) {
			t.Fatalf("%d problems name all %d source users, want one each:\n%v", got, len(ids), p.Problems)
		}
		if p.Summary.CreateUsers+p.Summary.AddMembers != 0 {
			t.Fatalf("plan %s sends users that share a userName", p.SummaryLine())
		}
		if _, err := eng.Apply(ctx(t), p); err != nil {
			t.Fatal(err)
		}
		if n := e.srv.Stats().Count(http.MethodPost, netskopetest.EndpointUsers); n != 0 || e.srv.UserCount() != 0 {
			t.Errorf("%d user creations sent, %d users in the target; want none", n, e.srv.UserCount())
		}
	})
	t.Run("rename onto another user's name", func(t *testing.T) {
		e := newEnv(t, 20, 2)
		eng := e.engine()
		e.apply(eng)
		a, b := firstActive(e.dir), -1
		for i := a + 1; i < len(e.dir.Users); i++ {
			if e.dir.Users[i].State == source.StateActive {
				b = i
				break
			}
		}
		// The default mapping takes the email when the userName is empty.
		taken := strings.ToUpper(e.dir.Users[b].UserName)
		e.edit(func(d *source.Directory) {
			d.Users[a].UserName = ""
			d.Users[a].Emails = []source.Email{{Value: taken, Primary: true}}
			d.Users[a].State = source.StateSuspended
			d.Groups[0].Members = nil
		})
		e.srv.ResetStats()
		p, err := eng.Plan(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if got := problemsNaming(p, e.dir.Users[a].ID, e.dir.Users[b].ID); len(got) != 2 {
			t.Fatalf("problems naming both users: %v", got)
		}
		for _, c := range p.Changes {
			for _, r := range append([]sync.Ref{c.Object}, c.Members...) {
				if r.SourceID == e.dir.Users[a].ID || r.SourceID == e.dir.Users[b].ID {
					t.Errorf("plan changes %s for a user whose userName is shared: %s", r, c.Action)
				}
			}
		}
	})
	t.Run("a deleted user may share its name", func(t *testing.T) {
		e := newEnv(t, 20, 2)
		eng := e.engine()
		e.apply(eng)
		i := firstActive(e.dir)
		rehire := e.dir.Users[i]
		rehire.ID = "rehire-of-" + rehire.ID
		e.edit(func(d *source.Directory) {
			d.Users[i].State = source.StateDeleted
			d.Users = append(d.Users, rehire)
		})
		p, err := eng.Plan(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Problems) != 0 || p.Summary.DeactivateUsers != 1 {
			t.Errorf("plan %s, problems %v; want the deleted user deactivated and no problem", p.SummaryLine(), p.Problems)
		}
	})
	t.Run("groups", func(t *testing.T) {
		e := newEnv(t, 20, 3)
		e.edit(func(d *source.Directory) { d.Groups[1].DisplayName = strings.ToUpper(d.Groups[0].DisplayName) })
		p, _ := e.apply(e.engine())
		if got := problemsNaming(p, e.dir.Groups[0].ID, e.dir.Groups[1].ID); len(got) != 2 {
			t.Fatalf("problems naming both groups: %v", p.Problems)
		}
		if p.Summary.CreateGroups != 1 || e.srv.GroupCount() != 1 {
			t.Errorf("plan %s, %d groups in the target; want only the third group", p.SummaryLine(), e.srv.GroupCount())
		}
	})
}

// groupsOf lists the target groups that hold the user targetID.
func (e *env) groupsOf(targetID string) []string {
	e.t.Helper()
	var out []string
	for _, g := range e.srv.Groups() {
		for _, m := range g.Members {
			if m.Value == targetID {
				out = append(out, g.DisplayName)
			}
		}
	}
	return out
}

// envWithForeign is a small directory and an embedded server holding a
// foreign user named userName whose externalId is the first active
// source user's id, as a hand-made or lost-state account would be.
func envWithForeign(t *testing.T, userName string) (*env, source.User, scim.User) {
	t.Helper()
	e := newEnvFrom(t, synth.Generate(synth.Config{Users: 12, Groups: 3, MembershipsPerUser: 3, Seed: 5}))
	su := e.dir.Users[firstActive(e.dir)]
	foreign, err := e.srv.AddUser(scim.User{UserName: userName, ExternalID: su.ID, Active: scim.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return e, su, foreign
}

// A source user whose id is one foreign user's externalId while its
// userName is another foreign user's is a problem naming both: neither is
// adopted, renamed or put into a group.
func TestAmbiguousMatchIsAProblem(t *testing.T) {
	e, su, byID := envWithForeign(t, "someone.else@example.com")
	byName, err := e.srv.AddUser(scim.User{UserName: su.UserName, Active: scim.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	eng := e.engine()
	p, err := eng.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, pr := range p.Problems {
		if pr.Object.SourceID == su.ID && strings.Contains(pr.Message, byID.ID) && strings.Contains(pr.Message, byName.ID) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no problem for %s naming both %s and %s: %v", su.ID, byID.ID, byName.ID, p.Problems)
	}
	if _, err := eng.Apply(ctx(t), p); err != nil {
		t.Fatal(err)
	}
	for _, u := range []scim.User{byID, byName} {
		now, ok := e.srv.User(u.ID)
		if !ok || now.UserName != u.UserName || now.ExternalID != u.ExternalID || !now.IsActive() {
			t.Errorf("foreign user %s changed: %+v -> %+v", u.ID, u, now)
		}
		if gs := e.groupsOf(u.ID); len(gs) != 0 {
			t.Errorf("foreign user %s was put into groups %v", u.ID, gs)
		}
	}
	snap, err := e.state.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := snap.Users[su.ID]; ok {
		t.Errorf("the ambiguous source user is linked to %s", l.TargetID)
	}
}

// An adoption planned but not carried out (the rename met a userName
// taken since the plan) leaves the foreign user out of every group: the
// engine adds only users it owns.
func TestFailedAdoptionAddsNoMembership(t *testing.T) {
	e, su, foreign := envWithForeign(t, "old.name@example.com")
	eng := e.engine()
	p, err := eng.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	adopting, member := false, false
	for _, c := range p.Changes {
		adopting = adopting || (c.Adopt && c.Object.TargetID == foreign.ID)
		for _, m := range c.Members {
			member = member || m.TargetID == foreign.ID
		}
	}
	if !adopting || !member || len(p.Problems) != 0 {
		t.Fatalf("plan does not adopt %s and put it into a group (problems %v)", foreign.ID, p.Problems)
	}
	// Someone takes the userName between plan and apply.
	if _, err := e.srv.AddUser(scim.User{UserName: su.UserName, Active: scim.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	res, err := eng.Apply(ctx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed == 0 {
		t.Fatalf("the adoption's rename did not fail: %s", res.SummaryLine())
	}
	if gs := e.groupsOf(foreign.ID); len(gs) != 0 {
		t.Errorf("a user the engine does not own was put into groups %v", gs)
	}
}

// Adoption never deprovisions on first contact: a foreign user matching
// only a deleted, suspended or out-of-scope source user is left alone;
// Policy.AdoptSuspended adopts (then deactivates) suspended matches, and
// an object adopted in a run is not deleted in that run.
func TestAdoptionNeverDeprovisionsOnFirstContact(t *testing.T) {
	tests := []struct {
		name    string
		state   source.State
		scoped  bool // a scoping filter leaves the source user out
		policy  func(*sync.Policy)
		adopted bool // linked after the first run, and inactive
		deleted bool // gone after a second run
	}{
		{"out of scope, policy delete", source.StateActive, true, func(p *sync.Policy) { p.LeftScope = sync.Delete }, false, false},
		{"deleted at source, policy delete", source.StateDeleted, false, func(p *sync.Policy) { p.Deleted = sync.Delete }, false, false},
		{"deleted at source, policy deactivate", source.StateDeleted, false, func(p *sync.Policy) {}, false, false},
		{"suspended, default policy", source.StateSuspended, false, func(p *sync.Policy) {}, false, false},
		{"suspended, policy delete", source.StateSuspended, false, func(p *sync.Policy) { p.Suspended = sync.Delete }, false, false},
		{"suspended, AdoptSuspended", source.StateSuspended, false, func(p *sync.Policy) { p.AdoptSuspended = true }, true, false},
		{"suspended, AdoptSuspended, policy delete", source.StateSuspended, false,
			func(p *sync.Policy) { p.AdoptSuspended, p.Suspended = true, sync.Delete }, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 12, 2)
			i := firstActive(e.dir)
			e.edit(func(d *source.Directory) { d.Users[i].State = tt.state })
			su := e.dir.Users[i]
			foreign, err := e.srv.AddUser(scim.User{UserName: su.UserName, Active: scim.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			pol := sync.DefaultPolicy()
			tt.policy(&pol)
			opts := []sync.Option{sync.WithPolicy(pol)}
			if tt.scoped {
				m, err := mapping.Rules{Scope: mapping.Scope{{Clauses: []mapping.Clause{
					{Attribute: "userName", Operator: mapping.OpNotEquals, Value: su.UserName}}}}}.Compile()
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, sync.WithMapper(m))
			}
			eng := e.engine(opts...)
			p, _ := e.apply(eng)
			now, ok := e.srv.User(foreign.ID)
			if !ok {
				t.Fatalf("the foreign user was deleted on first contact (plan %s)", p.SummaryLine())
			}
			snap, err := e.state.Load(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			l, linked := snap.Users[su.ID]
			if !tt.adopted {
				reported := len(p.Problems) == 1 && p.Problems[0].Object.SourceID == su.ID
				if linked || !now.IsActive() || reported == tt.scoped {
					t.Fatalf("linked=%v active=%v problems=%v; want the foreign user left alone and reported", linked, now.IsActive(), p.Problems)
				}
				return
			}
			if !linked || l.TargetID != foreign.ID || l.Origin != sync.OriginAdopted || now.IsActive() {
				t.Fatalf("link %+v (linked %v), active=%v; want adopted and deactivated", l, linked, now.IsActive())
			}
			e.apply(eng)
			if _, still := e.srv.User(foreign.ID); still == tt.deleted {
				t.Errorf("after a second run the adopted user exists=%v, want deleted=%v", still, tt.deleted)
			}
		})
	}
}

// The same holds when the match appears only at apply time: a suspended
// user created inactive (Policy.CreateSuspended) that meets a 409 adopts
// the existing account only with Policy.AdoptSuspended.
func TestConflictOnSuspendedCreate(t *testing.T) {
	for _, adoptSuspended := range []bool{false, true} {
		t.Run(fmt.Sprintf("AdoptSuspended=%v", adoptSuspended), func(t *testing.T) {
			e := newEnv(t, 12, 2)
			i := firstActive(e.dir)
			e.edit(func(d *source.Directory) { d.Users[i].State = source.StateSuspended })
			su := e.dir.Users[i]
			pol := sync.DefaultPolicy()
			pol.CreateSuspended, pol.AdoptSuspended = true, adoptSuspended
			eng := e.engine(sync.WithPolicy(pol))
			p, err := eng.Plan(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			foreign, err := e.srv.AddUser(scim.User{UserName: su.UserName, Active: scim.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			res, err := eng.Apply(ctx(t), p)
			if err != nil {
				t.Fatal(err)
			}
			now, _ := e.srv.User(foreign.ID)
			snap, err := e.state.Load(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			_, linked := snap.Users[su.ID]
			if linked != adoptSuspended || now.IsActive() == adoptSuspended || (res.Failed == 0) == !adoptSuspended {
				t.Errorf("linked=%v active=%v (%s); want adopted and deactivated only with AdoptSuspended",
					linked, now.IsActive(), res.SummaryLine())
			}
		})
	}
}

// While an adoption waits for approval the object is not the engine's:
// the foreign user is put into no group, and the foreign group gets no
// members. Once approved, the next run adopts both and then manages them.
func TestHeldAdoptionChangesNoMembership(t *testing.T) {
	e := newEnvFrom(t, synth.Generate(synth.Config{Users: 12, Groups: 3, MembershipsPerUser: 3, Seed: 5}))
	su := e.dir.Users[firstActive(e.dir)]
	gi := -1
	for i, g := range e.dir.Groups {
		if slices.Contains(g.Members, su.ID) {
			gi = i
		}
	}
	if gi < 0 {
		t.Fatal("the source user is in no group")
	}
	// A foreign user by userName, a foreign group by displayName.
	fu, err := e.srv.AddUser(scim.User{UserName: su.UserName, Active: scim.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	fg, err := e.srv.AddGroup(scim.Group{DisplayName: e.dir.Groups[gi].DisplayName})
	if err != nil {
		t.Fatal(err)
	}
	pol := sync.DefaultPolicy()
	pol.RequireApproval = []sync.Action{sync.ActionUpdateUser, sync.ActionUpdateGroup}
	eng := e.engine(sync.WithPolicy(pol))
	p, _ := e.apply(eng)
	if len(p.Held) != 2 {
		t.Fatalf("held %d changes, want the two adoptions: %+v", len(p.Held), p.Held)
	}
	if gs := e.groupsOf(fu.ID); len(gs) != 0 {
		t.Errorf("the user whose adoption waits was put into %v", gs)
	}
	if g, _ := e.srv.Group(fg.ID); len(g.Members) != 0 {
		t.Errorf("the group whose adoption waits got %d members", len(g.Members))
	}
	for _, h := range p.Held {
		if err := eng.Approve(ctx(t), h.ID); err != nil {
			t.Fatal(err)
		}
	}
	e.apply(eng)
	if g, _ := e.srv.Group(fg.ID); !slices.ContainsFunc(g.Members, func(m scim.Member) bool { return m.Value == fu.ID }) {
		t.Errorf("after approval the adopted group lacks the adopted user: %+v", g.Members)
	}
	e.mustBeEmpty(eng)
}
