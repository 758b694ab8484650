package sync_test

import (
	"errors"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/synth"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target"
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
