package sync_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// TestTakeoverMovesTheLink: a person whose source object is gone from the
// directory while another one with the same userName appears (a merged
// directory whose owning source dropped them, so the next source's id
// stands for them; or a user deleted and created again at one source)
// keeps their Netskope account: the link moves to the new id, the
// attributes follow the new source object, and nothing is deactivated,
// deleted or created.
func TestTakeoverMovesTheLink(t *testing.T) {
	for _, merged := range []bool{false, true} {
		t.Run(map[bool]string{false: "recreated at the source", true: "merged directory"}[merged], func(t *testing.T) {
			users := []source.User{
				{ID: "entra/1", UserName: "ann@example.com", GivenName: "Ann", State: source.StateActive},
				{ID: "entra/2", UserName: "bo@example.com", GivenName: "Bo", State: source.StateActive},
			}
			dir := &source.Directory{Users: users, Groups: []source.Group{{ID: "entra/g", DisplayName: "Engineering", Members: []string{"entra/1", "entra/2"}}}}
			owners := map[string]string{"entra/1": "entra", "entra/2": "entra", "entra/g": "entra"}
			e, eng := syncedOnce(t, dir, owners, merged)
			before := linkTargets(t, e.state)
			ann := before["user:entra/1"]

			// Ann is now ann@example.com under another id, with another
			// given name, and still in Engineering.
			e.edit(func(d *source.Directory) {
				d.Users[0] = source.User{ID: "google/7", UserName: "ANN@example.com", GivenName: "Annie", State: source.StateActive}
				d.Groups[0].Members = []string{"google/7", "entra/2"}
			})
			owners["google/7"] = "google"
			delete(owners, "entra/1")
			e.srv.ResetStats()
			p, err := eng.Plan(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Problems) != 0 || len(p.Changes) != 1 {
				t.Fatalf("plan has %d changes, %d problems: %+v %+v", len(p.Changes), len(p.Problems), p.Changes, p.Problems)
			}
			c := p.Changes[0]
			if c.Action != sync.ActionUpdateUser || c.TakeoverFrom != "entra/1" || c.Object.SourceID != "google/7" || c.Object.TargetID != ann {
				t.Fatalf("change = %+v, want an update of %s taking entra/1's link over", c, ann)
			}
			if _, err := eng.Apply(ctx(t), p); err != nil {
				t.Fatal(err)
			}
			st := e.srv.Stats()
			for _, m := range []struct{ method, endpoint string }{
				{http.MethodPost, netskopetest.EndpointUsers}, {http.MethodDelete, netskopetest.EndpointUser},
				{http.MethodPost, netskopetest.EndpointGroups}, {http.MethodDelete, netskopetest.EndpointGroup},
			} {
				if n := st.Count(m.method, m.endpoint); n != 0 {
					t.Errorf("%d %s %s during the takeover", n, m.method, m.endpoint)
				}
			}
			if n := st.Count(http.MethodPatch, ""); n != 1 {
				t.Errorf("%d PATCH requests, want 1 (the attributes)", n)
			}
			u := e.targetUser(ann)
			if !u.IsActive() || u.Name == nil || u.Name.GivenName != "Annie" || u.ExternalID != "google/7" {
				t.Errorf("taken over user = %+v", u)
			}
			after := linkTargets(t, e.state)
			if after["user:google/7"] != ann || after["user:entra/1"] != "" || len(after) != len(before) {
				t.Errorf("links after the takeover = %v (before %v)", after, before)
			}
			if merged {
				if s := linkSources(t, e.state)["user:google/7"]; s != "google" {
					t.Errorf("the taken-over link names owner %q, want google", s)
				}
			}
			e.mustBeEmpty(eng)
		})
	}
}

// TestTakeoverNeedsTheOldObjectGone: a user who matches the account of
// another source user still in the directory takes nothing over, even
// when that user is out of scope (renamed, say, and so left out): that is
// a plan problem naming both, as before.
func TestTakeoverNeedsTheOldObjectGone(t *testing.T) {
	dir := &source.Directory{Users: []source.User{{ID: "1", UserName: "ann@example.com", State: source.StateActive}}}
	e := newEnv(t, 0, 0)
	e.dir, e.src = dir, file.FromDirectory(dir)
	m, err := mapping.Rules{Scope: mapping.Scope{{Clauses: []mapping.Clause{
		{Attribute: "userName", Operator: mapping.OpNotEquals, Value: "ann.old@example.com"}}}}}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	pol := sync.DefaultPolicy()
	pol.LeftScope = sync.Ignore
	eng := e.engine(sync.WithMapper(m), sync.WithPolicy(pol))
	e.apply(eng)
	e.edit(func(d *source.Directory) {
		d.Users[0].UserName = "ann.old@example.com"
		d.Users = append(d.Users, source.User{ID: "2", UserName: "ann@example.com", State: source.StateActive})
	})
	p, err := eng.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Changes {
		if c.TakeoverFrom != "" {
			t.Errorf("change %+v takes a link over", c)
		}
	}
	if len(p.Problems) != 1 || p.Problems[0].Object.SourceID != "2" || !strings.Contains(p.Problems[0].Message, `source user "1"`) {
		t.Errorf("problems = %+v, want one for user 2 naming user 1", p.Problems)
	}
}

// linkTargets returns the target id each stored link names, by kind and
// source id.
func linkTargets(t *testing.T, st sync.State) map[string]string {
	t.Helper()
	return storedLinks(t, st, func(l sync.Link) string { return l.TargetID })
}

// TestGroupTakeoverOnlyMerged: in a merged directory, a group whose owning
// source drops it while the next source holds it (same displayName, the
// next source's id) keeps its target group: the link moves, and no group
// is deleted or created. A group of a plain source whose id changes is
// not taken over.
func TestGroupTakeoverOnlyMerged(t *testing.T) {
	for _, merged := range []bool{true, false} {
		t.Run(map[bool]string{true: "merged", false: "plain"}[merged], func(t *testing.T) {
			dir := &source.Directory{
				Users:  []source.User{{ID: "entra/1", UserName: "ann@example.com", State: source.StateActive}},
				Groups: []source.Group{{ID: "entra/g", DisplayName: "Engineering", Members: []string{"entra/1"}}},
			}
			owners := map[string]string{"entra/1": "entra", "entra/g": "entra"}
			e, eng := syncedOnce(t, dir, owners, merged)
			group := linkTargets(t, e.state)["group:entra/g"]
			e.edit(func(d *source.Directory) { d.Groups[0].ID = "google/g" })
			owners["google/g"] = "google"
			delete(owners, "entra/g")
			p, err := eng.Plan(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			takeover := false
			for _, c := range p.Changes {
				takeover = takeover || c.TakeoverFrom == "entra/g" && c.Object.SourceID == "google/g" && c.Object.TargetID == group
				if merged && (c.Action == sync.ActionDeleteGroup || c.Action == sync.ActionCreateGroup) {
					t.Errorf("change %s %s", c.Action, c.Object)
				}
			}
			if takeover != merged {
				t.Fatalf("takeover planned: %v, want %v (changes %+v, problems %+v)", takeover, merged, p.Changes, p.Problems)
			}
			if !merged {
				return
			}
			e.srv.ResetStats()
			if _, err := eng.Apply(ctx(t), p); err != nil {
				t.Fatal(err)
			}
			if n := e.srv.Stats().Count(http.MethodPost, netskopetest.EndpointGroups) + e.srv.Stats().Count(http.MethodDelete, netskopetest.EndpointGroup); n != 0 {
				t.Errorf("%d group creates or deletes during the takeover", n)
			}
			if got := linkTargets(t, e.state); got["group:google/g"] != group || got["group:entra/g"] != "" {
				t.Errorf("links after the takeover: %v", got)
			}
			e.mustBeEmpty(eng)
		})
	}
}

// syncedOnce syncs dir into a new server, through a merged source whose
// owners are owners when merged, and returns the setup and its engine.
func syncedOnce(t *testing.T, dir *source.Directory, owners map[string]string, merged bool) (*env, *sync.Engine) {
	t.Helper()
	e := newEnv(t, 0, 0)
	e.dir, e.src = dir, file.FromDirectory(dir)
	var src source.Source = e.src
	if merged {
		src = &mergedSource{Source: e.src, owners: owners}
	}
	eng, err := sync.New(src, e.client, sync.WithState(e.state))
	if err != nil {
		t.Fatal(err)
	}
	e.apply(eng)
	return e, eng
}
