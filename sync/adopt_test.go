package sync_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// TestAdoptAfterConflictWithWeakFilters: objects appear in the target
// between plan and apply, under names that the server's uniqueness check
// takes for the planned ones but its filters do not find. The creates meet
// 409, and the same run adopts the existing objects, through one listing
// shared by every lookup that needs it. The listing is streamed: no
// whole collection is taken as a slice.
func TestAdoptAfterConflictWithWeakFilters(t *testing.T) {
	tests := []struct {
		name   string
		quirks netskopetest.FilterQuirks
		// source names the planned objects (users, then one group) get,
		// and the names the objects made by hand carry.
		users   [2]string
		byHand  [2]string
		group   string
		groupBy string
	}{
		{"case-exact eq", netskopetest.FilterQuirks{CaseExactEq: true},
			[2]string{"Ann.Lee@example.com", "bo.ek@example.com"}, [2]string{"ann.lee@EXAMPLE.com", "Bo.Ek@example.com"},
			"Sales EMEA", "SALES emea"},
		{"quotes refused", netskopetest.FilterQuirks{RejectQuotes: true},
			[2]string{`ann."the boss".lee@example.com`, `bo"ek@example.com`}, [2]string{`ann."the boss".lee@example.com`, `bo"ek@example.com`},
			`"Sales"`, `"Sales"`},
		{"escapes not undone", netskopetest.FilterQuirks{RawEscapes: true},
			[2]string{`corp\ann.lee`, `corp\bo.ek`}, [2]string{`corp\ann.lee`, `CORP\bo.ek`},
			`Sales\EMEA`, `Sales\EMEA`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 6, 2, netskopetest.WithFilterQuirks(tt.quirks))
			eng, err := sync.New(e.src, streamedOnly{t, e.client}, sync.WithState(e.state))
			if err != nil {
				t.Fatal(err)
			}
			e.apply(eng)

			var ids [2]string
			e.edit(func(d *source.Directory) {
				for k := range ids {
					u := source.User{ID: "new-" + string(rune('a'+k)), UserName: tt.users[k], State: source.StateActive,
						GivenName: "New", FamilyName: "User"}
					d.Users = append(d.Users, u)
					ids[k] = u.ID
				}
				d.Groups = append(d.Groups, source.Group{ID: "new-group", DisplayName: tt.group, Members: ids[:]})
			})
			p, err := eng.Plan(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if p.Summary.CreateUsers != 2 || p.Summary.CreateGroups != 1 {
				t.Fatalf("plan %+v, want 2 users and 1 group created", p.Summary)
			}
			var handIDs [2]string
			for k, name := range tt.byHand {
				u, err := e.srv.AddUser(scim.User{UserName: name, Active: scim.Bool(true)})
				if err != nil {
					t.Fatal(err)
				}
				handIDs[k] = u.ID
			}
			hg, err := e.srv.AddGroup(scim.Group{DisplayName: tt.groupBy})
			if err != nil {
				t.Fatal(err)
			}

			e.srv.ResetStats()
			res, err := eng.Apply(ctx(t), p)
			if err != nil || res.Failed > 0 {
				t.Fatalf("Apply: %v; %s: %v", err, res.SummaryLine(), res.Err())
			}
			adopted := 0
			for _, o := range res.Outcomes {
				if strings.Contains(o.Note, "adopted") {
					adopted++
				}
			}
			if adopted != 3 {
				t.Errorf("%d outcomes adopted, want 3: %+v", adopted, res.Outcomes)
			}
			// Two filtered lookups and one listing for the users; one
			// filtered lookup and one listing for the group.
			st := e.srv.Stats()
			if got := st.Count(http.MethodGet, netskopetest.EndpointUsers); got != 3 {
				t.Errorf("%d user list requests, want 3", got)
			}
			if got := st.Count(http.MethodGet, netskopetest.EndpointGroups); got != 2 {
				t.Errorf("%d group list requests, want 2", got)
			}
			snap, err := e.state.Load(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			for k, id := range ids {
				if l := snap.Users[id]; l.TargetID != handIDs[k] || l.Origin != sync.OriginAdopted {
					t.Errorf("source user %s linked as %+v, want adopted %s", id, l, handIDs[k])
				}
			}
			if l := snap.Groups["new-group"]; l.TargetID != hg.ID || l.Origin != sync.OriginAdopted {
				t.Errorf("source group linked as %+v, want adopted %s", l, hg.ID)
			}
			if g, _ := e.srv.Group(hg.ID); len(g.Members) != 2 {
				t.Errorf("adopted group has %d members, want 2", len(g.Members))
			}
			if e.srv.UserCount() != 6+2 {
				t.Errorf("%d users in the target, want 8", e.srv.UserCount())
			}
			e.mustBeEmpty(eng)
		})
	}
}

// streamedOnly is a target that fails the test when a whole collection is
// read as one slice (ListUsers or ListGroups without a filter): the
// engine is to read it one object at a time (target.Streamer).
type streamedOnly struct {
	t *testing.T
	*netskope.Client
}

func (s streamedOnly) ListUsers(ctx context.Context, opts ...target.ReadOption) ([]scim.User, error) {
	s.whole("users", opts)
	return s.Client.ListUsers(ctx, opts...)
}

func (s streamedOnly) ListGroups(ctx context.Context, opts ...target.ReadOption) ([]scim.Group, error) {
	s.whole("groups", opts)
	return s.Client.ListGroups(ctx, opts...)
}

func (s streamedOnly) whole(what string, opts []target.ReadOption) {
	var o target.ReadOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.Filter.IsZero() {
		s.t.Helper()
		s.t.Errorf("all target %s read as one slice", what)
	}
}
