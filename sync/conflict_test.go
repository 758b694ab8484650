package sync_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/internal/clocktest"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// hireMeetsAccount syncs a small directory once (the first plan is a
// drift check), then makes an account by hand with externalID and hires a
// source user (in the first group) whose userName differs from the
// account's only in case. It returns the account.
func hireMeetsAccount(t *testing.T, e *env, eng *sync.Engine, externalID string) scim.User {
	t.Helper()
	e.apply(eng)
	hand, err := e.srv.AddUser(scim.User{UserName: "new.hire@example.com", ExternalID: externalID, Active: scim.Bool(true),
		Name: &scim.Name{GivenName: "Made", FamilyName: "By Hand"}})
	if err != nil {
		t.Fatal(err)
	}
	e.edit(func(d *source.Directory) {
		d.Users = append(d.Users, source.User{ID: "hire-1", UserName: "New.Hire@example.com", GivenName: "New",
			FamilyName: "Hire", State: source.StateActive})
		d.Groups[0].Members = append(d.Groups[0].Members, "hire-1")
	})
	e.srv.ResetStats()
	return hand
}

// cycle syncs once between drift checks and returns the plan and result.
func cycle(t *testing.T, eng *sync.Engine, opts ...sync.RunOption) (*sync.Plan, *sync.Result) {
	t.Helper()
	p, res, err := eng.Sync(ctx(t), opts...)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return p, res
}

// hireWithoutAdoption makes an environment of 6 users and 2 groups and an
// engine that may not adopt, and syncs a hire that meets an account made
// by hand (see hireMeetsAccount), which it returns.
func hireWithoutAdoption(t *testing.T) (*env, *sync.Engine, scim.User) {
	t.Helper()
	e := newEnv(t, 6, 2)
	pol := sync.DefaultPolicy()
	pol.Adopt = false
	eng := e.engine(sync.WithPolicy(pol))
	return e, eng, hireMeetsAccount(t, e, eng, "")
}

// conflictProblem returns the plan's problem about source user hire-1,
// failing the test unless it names the account (and foreign, if set).
func conflictProblem(t *testing.T, p *sync.Plan, hand scim.User, foreign string) {
	t.Helper()
	for _, pr := range p.Problems {
		if pr.Object.SourceID != "hire-1" {
			continue
		}
		if pr.Object.TargetID != hand.ID || !strings.Contains(pr.Message, hand.ID) || !strings.Contains(pr.Message, hand.UserName) {
			t.Errorf("problem %+v does not name target user id=%s (%s)", pr, hand.ID, hand.UserName)
		}
		if foreign != "" && !strings.Contains(pr.Message, foreign) {
			t.Errorf("problem %q does not name the account's owner %q", pr.Message, foreign)
		}
		return
	}
	t.Errorf("no problem names source user hire-1; problems %+v, changes %+v", p.Problems, p.Changes)
}

// TestHireMeetingAnUnownedAccount: between drift checks, a hire whose
// userName an account the engine may not adopt already holds is sent one
// POST; its 409 is resolved once, by a lookup, and recorded, so the
// following plans report a problem naming the source user and the
// account instead of sending the create again.
func TestHireMeetingAnUnownedAccount(t *testing.T) {
	tests := []struct {
		name       string
		adopt      bool
		externalID string // of the account made by hand
		foreign    string // the owner its marker names
	}{
		{name: "adoption off", adopt: false},
		{name: "another engine's account, adoption on", adopt: true, externalID: "provsync:hr-eu:4711", foreign: "hr-eu"},
		{name: "another engine's account, adoption off", adopt: false, externalID: "provsync:hr-eu:4711", foreign: "hr-eu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 6, 2)
			fst := sync.NewFileState(filepath.Join(t.TempDir(), "state.json"))
			t.Cleanup(func() { _ = fst.Close() })
			e.state = fst // the conflict is saved with the snapshot
			pol := sync.DefaultPolicy()
			pol.Adopt = tt.adopt
			eng := e.engine(sync.WithPolicy(pol))
			hand := hireMeetsAccount(t, e, eng, tt.externalID)
			users := e.srv.UserCount()

			for n := 1; n <= 3; n++ {
				p, res := cycle(t, eng)
				if p.DriftCheck {
					t.Fatalf("cycle %d is a drift check", n)
				}
				for _, c := range p.Changes {
					if c.Object.SourceID == "hire-1" && n > 1 {
						t.Errorf("cycle %d plans %s for the hire", n, c.Action)
					}
				}
				if n == 1 {
					// The create fails, naming the account; so does the
					// hire's membership, as its user is not created.
					if o := res.Outcomes[0]; o.Action != sync.ActionCreateUser || o.Status != sync.StatusFailed || !strings.Contains(o.Error, hand.ID) {
						t.Errorf("cycle 1: %+v; want the create failed, naming target user id=%s", o, hand.ID)
					}
					continue
				}
				conflictProblem(t, p, hand, tt.foreign)
				if res.Failed != 0 {
					t.Errorf("cycle %d: %s: %v", n, res.SummaryLine(), res.Err())
				}
			}
			st := e.srv.Stats()
			if n := st.Count(http.MethodPost, netskopetest.EndpointUsers); n != 1 {
				t.Errorf("%d POST /Users over three cycles; want 1", n)
			}
			if n := st.Count(http.MethodPatch, netskopetest.EndpointUser); n != 0 {
				t.Errorf("%d PATCH /Users/{id}; want none", n)
			}
			got := e.targetUser(hand.ID)
			if got.ExternalID != tt.externalID || got.Name == nil || got.Name.GivenName != "Made" || e.srv.UserCount() != users {
				t.Errorf("the account made by hand changed (%+v), or users were added (%d, want %d)", got, e.srv.UserCount(), users)
			}
			if l := linkTargets(t, e.state)["user:hire-1"]; l != "" {
				t.Errorf("hire-1 is linked to %s; want no link", l)
			}

			// A drift check reports the same, and so do the plans after it.
			p, _ := cycle(t, eng, sync.DriftCheck())
			conflictProblem(t, p, hand, "")
			p, _ = cycle(t, eng)
			conflictProblem(t, p, hand, tt.foreign)
			if n := e.srv.Stats().Count(http.MethodPost, netskopetest.EndpointUsers); n != 1 {
				t.Errorf("%d POST /Users after the drift check; want still 1", n)
			}
		})
	}
}

// TestHireConflictEnds: a recorded conflict ends when the account is
// deleted by hand (the next drift check creates the hire), when the hire
// is renamed at the source (the next cycle creates it under its new
// name), or when the policy comes to allow adopting the account (the next
// cycle sends the create, and its 409 adopts the account).
func TestHireConflictEnds(t *testing.T) {
	t.Run("account deleted by hand", func(t *testing.T) {
		e, eng, hand := hireWithoutAdoption(t)
		cycle(t, eng)
		if err := e.client.DeleteUser(ctx(t), hand.ID); err != nil {
			t.Fatal(err)
		}
		p, _ := cycle(t, eng)
		conflictProblem(t, p, hand, "") // the plans between drift checks read nothing
		p, res := cycle(t, eng, sync.DriftCheck())
		if res.Failed != 0 || p.Summary.CreateUsers != 1 || len(p.Problems) != 0 {
			t.Fatalf("drift check: %s, %d problems: %v", res.SummaryLine(), len(p.Problems), res.Err())
		}
		id := linkTargets(t, e.state)["user:hire-1"]
		if id == "" || id == hand.ID || e.targetUser(id).UserName != "New.Hire@example.com" {
			t.Errorf("hire-1 is linked to %q; want the user the drift check created", id)
		}
		if n := e.srv.Stats().Count(http.MethodPost, netskopetest.EndpointUsers); n != 2 {
			t.Errorf("%d POST /Users; want 2 (the 409, then the create)", n)
		}
		e.mustBeEmpty(eng)
	})
	t.Run("renamed at the source", func(t *testing.T) {
		e, eng, hand := hireWithoutAdoption(t)
		cycle(t, eng)
		e.edit(func(d *source.Directory) { d.Users[len(d.Users)-1].UserName = "new.hire2@example.com" })
		p, res := cycle(t, eng)
		if p.DriftCheck || res.Failed != 0 || p.Summary.CreateUsers != 1 || len(p.Problems) != 0 {
			t.Fatalf("%s, plan %s, problems %+v: %v", res.SummaryLine(), p.SummaryLine(), p.Problems, res.Err())
		}
		id := linkTargets(t, e.state)["user:hire-1"]
		if id == "" || id == hand.ID || e.targetUser(id).UserName != "new.hire2@example.com" {
			t.Errorf("hire-1 is linked to %q; want a new user named new.hire2@example.com", id)
		}
	})
	t.Run("adoption turned on", func(t *testing.T) {
		e, eng, hand := hireWithoutAdoption(t)
		cycle(t, eng)
		users := e.srv.UserCount()
		eng = e.engine() // adoption on, the same state
		p, res := cycle(t, eng)
		if p.DriftCheck || res.Failed != 0 || len(p.Problems) != 0 {
			t.Fatalf("%s, %d problems, drift check %v: %v", res.SummaryLine(), len(p.Problems), p.DriftCheck, res.Err())
		}
		if l := linkTargets(t, e.state)["user:hire-1"]; l != hand.ID {
			t.Errorf("hire-1 is linked to %q; want the account made by hand, %s", l, hand.ID)
		}
		if e.srv.UserCount() != users || e.targetUser(hand.ID).Name.GivenName != "New" {
			t.Errorf("%d users (want %d), or the adopted account was not brought up to date", e.srv.UserCount(), users)
		}
		if n := e.srv.Stats().Count(http.MethodPost, netskopetest.EndpointUsers); n != 2 {
			t.Errorf("%d POST /Users; want 2 (one 409 per policy)", n)
		}
	})
}

// TestHireAdoptsAnUnownedAccount: with adoption on, a hire meeting an
// account made by hand adopts it in the cycle that sends its create: one
// POST, no duplicate, and no problem after.
func TestHireAdoptsAnUnownedAccount(t *testing.T) {
	e := newEnv(t, 6, 2)
	eng := e.engine()
	hand := hireMeetsAccount(t, e, eng, "")
	users := e.srv.UserCount()
	for n := 1; n <= 3; n++ {
		p, res := cycle(t, eng)
		if res.Failed != 0 || len(p.Problems) != 0 || p.DriftCheck {
			t.Fatalf("cycle %d: %s, problems %+v, drift check %v: %v", n, res.SummaryLine(), p.Problems, p.DriftCheck, res.Err())
		}
	}
	if l := linkTargets(t, e.state)["user:hire-1"]; l != hand.ID {
		t.Errorf("hire-1 is linked to %q; want %s", l, hand.ID)
	}
	if n := e.srv.Stats().Count(http.MethodPost, netskopetest.EndpointUsers); n != 1 || e.srv.UserCount() != users {
		t.Errorf("%d POST /Users, %d users (want 1 POST, %d users)", n, e.srv.UserCount(), users)
	}
}

// TestRunnerHireConflictLeavesNoEscrow: under a Runner, a hire meeting an
// account it may not adopt is not retried cycle after cycle until the
// escrow gives up: after its one 409 the escrow holds nothing, no
// persistent failure is reported, and each later cycle succeeds, its plan
// counting the problem.
func TestRunnerHireConflictLeavesNoEscrow(t *testing.T) {
	e, eng, _ := hireWithoutAdoption(t)
	h := startRunner(t, clocktest.New(runnerEpoch), eng, sync.WithRetryLimit(2))
	for i := range 5 {
		var c sync.CycleReport
		if i == 0 {
			c = h.cycle()
		} else {
			c = h.tick()
		}
		if i == 0 {
			// The create meets 409: with the hire's membership, all of
			// this small cycle's changes fail, so the cycle does.
			if c.Failed != 2 || c.Planned.CreateUsers != 1 {
				t.Fatalf("cycle 1: %s, %+v planned, %d failed: %s; want the create and the membership failed", c.Outcome, c.Planned, c.Failed, c.Error)
			}
			continue
		}
		if c.Outcome != sync.CycleSucceeded || c.Planned.Problems != 1 || c.Escrowed != 0 || c.Failed != 0 {
			t.Fatalf("cycle %d: %s, %+v planned, %d escrowed: %s; want a success with one problem", i+1, c.Outcome, c.Planned, c.Escrowed, c.Error)
		}
	}
	if n := e.srv.Stats().Count(http.MethodPost, netskopetest.EndpointUsers); n > 1 {
		t.Errorf("%d POST /Users over five cycles; want at most one", n)
	}
	if s := h.run.Status(); s.Escrow != 0 || len(s.PersistentFailures) != 0 || len(persistentNotes(h.rec.notifications())) != 0 {
		t.Errorf("escrow %d, persistent failures %+v; want none", s.Escrow, s.PersistentFailures)
	}
}

// TestNewGroupMeetingAnUnownedGroup: a new source group whose displayName
// a target group the engine may not adopt already holds is sent one POST
// between drift checks, as a hire is; the plans after it report the
// problem, naming both, until the target group is deleted by hand and a
// drift check creates the source group.
func TestNewGroupMeetingAnUnownedGroup(t *testing.T) {
	tests := []struct {
		name       string
		adopt      bool
		externalID string
		foreign    string
	}{
		{name: "adoption off"},
		{name: "another engine's group, adoption on", adopt: true, externalID: "provsync:hr-eu:finance", foreign: "hr-eu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 6, 2)
			pol := sync.DefaultPolicy()
			pol.Adopt = tt.adopt
			eng := e.engine(sync.WithPolicy(pol))
			e.apply(eng)
			hand, err := e.srv.AddGroup(scim.Group{DisplayName: "Finance EMEA", ExternalID: tt.externalID})
			if err != nil {
				t.Fatal(err)
			}
			e.edit(func(d *source.Directory) {
				d.Groups = append(d.Groups, source.Group{ID: "new-group", DisplayName: "finance emea", Members: []string{d.Users[0].ID}})
			})
			e.srv.ResetStats()
			groups := e.srv.GroupCount()
			for n := 1; n <= 3; n++ {
				p, res := cycle(t, eng)
				if p.DriftCheck {
					t.Fatalf("cycle %d is a drift check", n)
				}
				if n == 1 {
					if res.Failed != 1 || !strings.Contains(res.Err().Error(), hand.ID) {
						t.Errorf("cycle 1: %s: %v; want the create failed, naming target group id=%s", res.SummaryLine(), res.Err(), hand.ID)
					}
					continue
				}
				if res.Failed != 0 || len(p.Changes) != 0 || len(p.Problems) != 1 {
					t.Fatalf("cycle %d: %s, plan %s", n, res.SummaryLine(), p.SummaryLine())
				}
				pr := p.Problems[0]
				if pr.Object.Kind != sync.KindGroup || pr.Object.SourceID != "new-group" || pr.Object.TargetID != hand.ID ||
					!strings.Contains(pr.Message, hand.ID) || !strings.Contains(pr.Message, tt.foreign) {
					t.Errorf("cycle %d: problem %+v; want one naming new-group and target group id=%s (owner %q)", n, pr, hand.ID, tt.foreign)
				}
			}
			if n := e.srv.Stats().Count(http.MethodPost, netskopetest.EndpointGroups); n != 1 || e.srv.GroupCount() != groups {
				t.Errorf("%d POST /Groups over three cycles, %d groups (want 1, %d)", n, e.srv.GroupCount(), groups)
			}
			if err := e.client.DeleteGroup(ctx(t), hand.ID); err != nil {
				t.Fatal(err)
			}
			p, res := cycle(t, eng, sync.DriftCheck())
			if res.Failed != 0 || p.Summary.CreateGroups != 1 || len(p.Problems) != 0 {
				t.Fatalf("drift check after the group was deleted: %s, plan %s: %v", res.SummaryLine(), p.SummaryLine(), res.Err())
			}
			e.mustBeEmpty(eng)
		})
	}
}
