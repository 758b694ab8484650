package sync_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target"
)

// clock is a settable engine clock.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) advance(d time.Duration) { c.now = c.now.Add(d) }

func TestDelayedDelete(t *testing.T) {
	const month = 30 * 24 * time.Hour
	long := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // long before the clock's start
	tests := []struct {
		name  string
		event func(u *source.User, d *source.Directory) // turns the user's event on
		since bool                                      // the source dates the event
	}{
		{"left scope", func(u *source.User, d *source.Directory) { removeUser(d, u.ID) }, false},
		{"suspended", func(u *source.User, _ *source.Directory) { u.State = source.StateSuspended }, false},
		{"deleted, time unknown", func(u *source.User, _ *source.Directory) { u.State = source.StateDeleted }, false},
		{"deleted long ago at the source", func(u *source.User, _ *source.Directory) {
			u.State, u.DeletedAt = source.StateDeleted, long
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 20, 2)
			clk := &clock{now: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
			pol := sync.DefaultPolicy()
			pol.LeftScopeDeleteAfter, pol.SuspendedDeleteAfter, pol.DeletedDeleteAfter =
				sync.Duration(month), sync.Duration(month), sync.Duration(month)
			eng := e.engine(sync.WithPolicy(pol), sync.WithClock(clk.Now))
			e.apply(eng)
			i := firstActive(e.dir)
			id := e.dir.Users[i].ID
			e.edit(func(d *source.Directory) { tt.event(&d.Users[i], d) })

			p, _ := e.apply(eng)
			if p.Summary.DeactivateUsers != 1 || p.Summary.DeleteUsers != 0 {
				t.Fatalf("at the event: %+v, want one deactivation", p.Summary)
			}
			clk.advance(month - time.Hour)
			p, _ = e.apply(eng)
			if tt.since {
				// The source's deletion time is long past: delete now.
				if p.Summary.DeleteUsers != 1 {
					t.Fatalf("deleted long ago: %+v, want the delete", p.Summary)
				}
				return
			}
			if !p.Empty() {
				t.Fatalf("an hour before the delay ends: %+v, want nothing", p.Summary)
			}
			clk.advance(2 * time.Hour)
			p, _ = e.apply(eng)
			if p.Summary.DeleteUsers != 1 || !strings.Contains(p.Changes[len(p.Changes)-1].Reason, "policy deletes after 30d") {
				t.Fatalf("after the delay: %+v %v, want one delete", p.Summary, p.Changes)
			}
			us, err := e.client.ListUsers(ctx(t), target.WithFilter(scim.Eq("externalId", id)))
			if err != nil || len(us) != 0 {
				t.Fatalf("the user is still there: %v %v", us, err)
			}
			e.mustBeEmpty(eng)
		})
	}
}

func TestDelayRestartsOnReactivation(t *testing.T) {
	e := newEnv(t, 10, 1)
	clk := &clock{now: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
	pol := sync.DefaultPolicy()
	pol.SuspendedDeleteAfter = sync.Duration(48 * time.Hour)
	eng := e.engine(sync.WithPolicy(pol), sync.WithClock(clk.Now))
	e.apply(eng)
	i := firstActive(e.dir)
	e.edit(func(d *source.Directory) { d.Users[i].State = source.StateSuspended })
	e.apply(eng) // deactivated at day 0
	clk.advance(40 * time.Hour)
	e.edit(func(d *source.Directory) { d.Users[i].State = source.StateActive })
	e.apply(eng) // reactivated at 40h
	clk.advance(time.Hour)
	e.edit(func(d *source.Directory) { d.Users[i].State = source.StateSuspended })
	e.apply(eng) // deactivated again at 41h
	clk.advance(10 * time.Hour)
	if p, _ := e.apply(eng); !p.Empty() {
		t.Fatalf("10h after the second suspension: %+v; the first suspension's clock must not count", p.Summary)
	}
	clk.advance(40 * time.Hour)
	if p, _ := e.apply(eng); p.Summary.DeleteUsers != 1 {
		t.Fatalf("50h after the second suspension: %+v, want the delete", p.Summary)
	}
}

func TestApproval(t *testing.T) {
	e := newEnv(t, 12, 2)
	acts, err := sync.ApprovalFor("create", "delete")
	if err != nil {
		t.Fatal(err)
	}
	pol := sync.DefaultPolicy()
	pol.RequireApproval = acts
	eng := e.engine(sync.WithPolicy(pol))

	// Everything is a create: all held, nothing applied.
	p, _ := e.apply(eng)
	if len(p.Changes) != 0 || len(p.Held) != 14 || e.srv.UserCount() != 0 {
		t.Fatalf("first plan: %d changes, %d held, %d users in Netskope; want 0, 14, 0", len(p.Changes), len(p.Held), e.srv.UserCount())
	}
	pending, err := eng.Approvals(ctx(t))
	if err != nil || len(pending) != 14 || pending[0].Status != sync.ApprovalPending {
		t.Fatalf("approvals: %d %v", len(pending), err)
	}
	var users []sync.Approval
	for _, a := range pending {
		if a.Change.Action == sync.ActionCreateUser {
			users = append(users, a)
		}
	}
	stale, err := eng.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Approve(ctx(t), users[0].ID, users[1].ID); err != nil {
		t.Fatal(err)
	}
	if err := eng.Reject(ctx(t), users[2].ID); err != nil {
		t.Fatal(err)
	}
	if err := eng.Approve(ctx(t), "nope"); !errors.Is(err, sync.ErrUnknownApproval) {
		t.Fatalf("approving an unknown id: %v", err)
	}
	if _, err := eng.Apply(ctx(t), stale); !errors.Is(err, sync.ErrStalePlan) {
		t.Fatalf("a plan made before the decisions applied: %v", err)
	}

	p, _ = e.apply(eng)
	if p.Summary.CreateUsers != 2 || e.srv.UserCount() != 2 {
		t.Fatalf("after approving two: %+v, Netskope holds %d", p.Summary, e.srv.UserCount())
	}
	rejected := 0
	for _, h := range p.Held {
		if h.Status == sync.ApprovalRejected {
			rejected++
			if h.ID != users[2].ID {
				t.Errorf("rejected %s, want %s", h.ID, users[2].ID)
			}
		}
	}
	if rejected != 1 || len(p.Held) != 12 {
		t.Fatalf("held %d with %d rejected, want 12 and 1", len(p.Held), rejected)
	}
	var b strings.Builder
	_ = p.Render(&b, 0)
	if !strings.Contains(b.String(), "Held for approval (12)") || !strings.Contains(b.String(), users[2].ID+" rejected") {
		t.Errorf("render lacks the held changes:\n%s", b.String())
	}
	left, _ := eng.Approvals(ctx(t))
	if len(left) != 12 {
		t.Errorf("%d approvals kept, want 12 (applied ones are forgotten)", len(left))
	}

	// The rejected user stays out until the source changes it.
	p, _ = e.apply(eng)
	if len(p.Changes) != 0 {
		t.Fatalf("rejected change proposed again: %+v", p.Changes)
	}
	rej := users[2].Change.Object.SourceID
	e.edit(func(d *source.Directory) {
		for k := range d.Users {
			if d.Users[k].ID == rej {
				d.Users[k].DisplayName += " (renamed)"
			}
		}
	})
	p, _ = e.apply(eng)
	found := false
	for _, h := range p.Held {
		if h.Change.Object.SourceID == rej {
			found = true
			if h.Status != sync.ApprovalPending || h.ID == users[2].ID {
				t.Errorf("after a source change: %s %s, want a new pending id", h.ID, h.Status)
			}
		}
	}
	if !found {
		t.Fatal("the changed user is not held for a new decision")
	}

	// Deletes wait for approval too; updates do not.
	i := indexOf(e.dir, users[0].Change.Object.SourceID)
	e.edit(func(d *source.Directory) { d.Users[i].State = source.StateSuspended })
	p, _ = e.apply(eng)
	if p.Summary.DeactivateUsers != 0 || !heldAction(p, sync.ActionDeactivateUser) {
		t.Fatalf("a deactivation was not held: %+v", p.Summary)
	}
}

func heldAction(p *sync.Plan, a sync.Action) bool {
	for _, h := range p.Held {
		if h.Change.Action == a {
			return true
		}
	}
	return false
}

func indexOf(d *source.Directory, id string) int {
	for i := range d.Users {
		if d.Users[i].ID == id {
			return i
		}
	}
	return -1
}

func removeUser(d *source.Directory, id string) {
	d.Users = append(d.Users[:indexOf(d, id):indexOf(d, id)], d.Users[indexOf(d, id)+1:]...)
	for g := range d.Groups {
		var keep []string
		for _, m := range d.Groups[g].Members {
			if m != id {
				keep = append(keep, m)
			}
		}
		d.Groups[g].Members = keep
	}
}

func TestDurationText(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"30d", 30 * 24 * time.Hour, "30d"}, {"72h", 72 * time.Hour, "3d"}, {"90m", 90 * time.Minute, "1h30m0s"}, {"0.5d", 12 * time.Hour, "12h0m0s"},
	}
	for _, tt := range tests {
		var d sync.Duration
		if err := d.UnmarshalText([]byte(tt.in)); err != nil || time.Duration(d) != tt.want || d.String() != tt.out {
			t.Errorf("%q: %v %v %q, want %v %q", tt.in, time.Duration(d), err, d.String(), tt.want, tt.out)
		}
	}
	var d sync.Duration
	if err := d.UnmarshalText([]byte("a week")); err == nil {
		t.Error("a week parsed")
	}
	if _, err := sync.ApprovalFor("create", "frobnicate"); err == nil {
		t.Error("ApprovalFor accepted frobnicate")
	}
}

// entMapper records the entitlements the engine hands it.
type entMapper struct{ got []string }

func (m *entMapper) Map(ctx context.Context, dir *source.Directory) (*mapping.Desired, error) {
	return mapping.Default().Map(ctx, dir)
}

func (m *entMapper) MapWith(ctx context.Context, dir *source.Directory, ent mapping.Entitlements) (*mapping.Desired, error) {
	m.got = ent.Groups
	return m.Map(ctx, dir)
}

// TestEntitlementsReachTheMapper: the mapper is told the target's groups:
// between drift checks, the owned groups' mirrors and the other groups the
// last drift check listed (one made by hand here).
func TestEntitlementsReachTheMapper(t *testing.T) {
	e := newEnv(t, 5, 2)
	if _, err := e.srv.AddGroup(scim.Group{DisplayName: "Made by hand"}); err != nil {
		t.Fatal(err)
	}
	e.apply(e.engine())
	m := &entMapper{}
	e.srv.ResetStats()
	if p, _ := e.apply(e.engine(sync.WithMapper(m))); p.DriftCheck || e.srv.Stats().Requests != 0 {
		t.Fatalf("plan %s, %d requests; want one against the mirrors, reading nothing", p.SummaryLine(), e.srv.Stats().Requests)
	}
	want := []string{e.dir.Groups[0].DisplayName, e.dir.Groups[1].DisplayName, "Made by hand"}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(m.got))
	if !slices.Equal(got, want) {
		t.Fatalf("entitlements %v, want the target's groups %v", got, want)
	}
}
