package sync_test

import (
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// twoSources is one embedded server fed by two engines that keep
// separate states: an Entra-like directory and a OneLogin-like one that
// share a person (ann) and a group name (Engineering).
type twoSources struct {
	*env
	entra, onelogin *file.Source
	entraDir, olDir *source.Directory
}

func newTwoSources(t *testing.T) *twoSources {
	e := newEnv(t, 0, 0)
	entra := &source.Directory{
		Users: []source.User{
			{ID: "e-1", UserName: "ann@example.com", GivenName: "Ann", State: source.StateActive},
			{ID: "e-2", UserName: "bo@example.com", GivenName: "Bo", State: source.StateActive},
		},
		Groups: []source.Group{{ID: "e-g", DisplayName: "Engineering", Members: []string{"e-1", "e-2"}}},
	}
	ol := &source.Directory{
		Users: []source.User{
			{ID: "101", UserName: "Ann@Example.com", GivenName: "Annette", State: source.StateActive},
			{ID: "102", UserName: "cy@example.com", GivenName: "Cy", State: source.StateActive},
		},
		Groups: []source.Group{{ID: "201", DisplayName: "engineering", Members: []string{"101", "102"}}},
	}
	return &twoSources{env: e, entra: file.FromDirectory(entra), onelogin: file.FromDirectory(ol), entraDir: entra, olDir: ol}
}

func (s *twoSources) engine(src source.Source, opts ...sync.Option) *sync.Engine {
	s.t.Helper()
	eng, err := sync.New(src, s.client, append([]sync.Option{sync.WithState(sync.NewMemoryState())}, opts...)...)
	if err != nil {
		s.t.Fatal(err)
	}
	return eng
}

// targetState is what the server holds, for comparing before and after.
func targetState(srv *netskopetest.Server) string {
	var lines []string
	for _, u := range srv.Users() {
		lines = append(lines, "user "+u.ID+" "+u.UserName+" "+u.ExternalID+" "+u.Name.GivenName+" "+map[bool]string{true: "active", false: "inactive"}[u.IsActive()])
	}
	for _, g := range srv.Groups() {
		var ms []string
		for _, m := range g.Members {
			ms = append(ms, m.Value)
		}
		sort.Strings(ms)
		lines = append(lines, "group "+g.ID+" "+g.DisplayName+" "+g.ExternalID+" "+strings.Join(ms, ","))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestSecondSourceLeavesTheFirstsObjectsAlone: Entra's engine feeds the
// tenant first; a OneLogin engine with a state of its own then meets
// Entra's "Engineering" group and Entra's ann under the same names. It
// adopts neither, updates neither (Entra's externalId is not relabelled),
// and reports both as plan problems naming Entra, while it provisions
// what is its own. Entra's next plan is empty: the engines do not fight.
// This holds whether or not the OneLogin engine names its owner.
func TestSecondSourceLeavesTheFirstsObjectsAlone(t *testing.T) {
	for _, named := range []bool{true, false} {
		t.Run(map[bool]string{true: "named", false: "unnamed"}[named], func(t *testing.T) {
			s := newTwoSources(t)
			entra := s.engine(s.entra, sync.WithOwner("entra"))
			s.apply(entra)
			var opts []sync.Option
			if named {
				opts = append(opts, sync.WithOwner("onelogin"))
			}
			ol := s.engine(s.onelogin, opts...)
			before := targetState(s.srv)

			p, err := ol.Plan(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			problems := map[string]string{}
			for _, pr := range p.Problems {
				problems[string(pr.Object.Kind)+":"+pr.Object.SourceID] = pr.Message
			}
			for _, k := range []string{"user:101", "group:201"} {
				if msg := problems[k]; !strings.Contains(msg, `source "entra"`) || !strings.Contains(msg, "never adopted") {
					t.Errorf("problem for %s = %q, want one naming source entra", k, msg)
				}
			}
			if len(problems) != 2 {
				t.Errorf("problems = %+v, want two", p.Problems)
			}
			for _, c := range p.Changes {
				if c.Object.SourceID != "102" {
					t.Errorf("change %s %s touches what is not OneLogin's own", c.Action, c.Object)
				}
				if c.Adopt {
					t.Errorf("change %s %s adopts", c.Action, c.Object)
				}
			}
			s.srv.ResetStats()
			res, err := ol.Apply(ctx(t), p)
			if err != nil || res.Failed > 0 {
				t.Fatalf("OneLogin's apply: %v %v", err, res.Err())
			}
			after := targetState(s.srv)
			for _, line := range strings.Split(before, "\n") {
				if !strings.Contains(after, line) {
					t.Errorf("Entra's object changed: %q is gone from\n%s", line, after)
				}
			}
			if n := s.srv.Stats().Count(http.MethodPatch, ""); n != 0 {
				t.Errorf("OneLogin sent %d PATCH requests", n)
			}
			s.mustBeEmpty(entra)
		})
	}
}

// TestConflictOnForeignObjectIsNotAdoption: OneLogin's plan is made
// before Entra creates ann and Engineering; the creates then meet 409,
// and the objects that answer carry Entra's marker: the changes fail
// naming both sources, and nothing is adopted or written.
func TestConflictOnForeignObjectIsNotAdoption(t *testing.T) {
	s := newTwoSources(t)
	ol := s.engine(s.onelogin, sync.WithOwner("onelogin"))
	p, err := ol.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	entra := s.engine(s.entra, sync.WithOwner("entra"))
	s.apply(entra)
	before := targetState(s.srv)
	res, err := ol.Apply(ctx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]string{}
	for _, o := range res.Outcomes {
		if o.Status == sync.StatusFailed {
			failed[o.Object.SourceID] = o.Error
		}
	}
	for _, id := range []string{"101", "201"} {
		if msg := failed[id]; !strings.Contains(msg, `source "entra"`) || !strings.Contains(msg, id) {
			t.Errorf("outcome of %s = %q, want a failure naming it and source entra", id, msg)
		}
	}
	for _, line := range strings.Split(before, "\n") {
		if !strings.Contains(targetState(s.srv), line) {
			t.Errorf("Entra's object changed: %q", line)
		}
	}
	snap, err := ol.State().Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := snap.Users["101"]; ok {
		t.Error("OneLogin linked Entra's ann")
	}
	if _, ok := snap.Groups["201"]; ok {
		t.Error("OneLogin linked Entra's Engineering")
	}
	s.mustBeEmpty(entra)
}

// TestOwnerMarker: a named engine writes "provsync:<owner>:<id>" as the
// externalId of what it creates, marks the objects it owned before the
// marker, a batch per plan, and a plan made after that is empty.
func TestOwnerMarker(t *testing.T) {
	e := newEnv(t, 7, 2)
	e.apply(e.engine())
	for _, u := range e.srv.Users() {
		if strings.HasPrefix(u.ExternalID, "provsync:") {
			t.Fatalf("an unnamed engine marked %s", u.ExternalID)
		}
	}
	eng := e.engine(sync.WithOwner("hr:emea"), sync.WithMarkerBatch(4))
	var marked []int
	for range 4 {
		p, _ := e.apply(eng)
		marked = append(marked, len(p.Changes))
	}
	if want := []int{4, 4, 1, 0}; !slices.Equal(marked, want) {
		t.Errorf("changes per plan while marking = %v, want %v", marked, want)
	}
	e.mustBeEmpty(eng)
	for _, u := range e.srv.Users() {
		if want := "provsync:hr%3Aemea:"; !strings.HasPrefix(u.ExternalID, want) {
			t.Errorf("user %s has externalId %q, want the prefix %q", u.UserName, u.ExternalID, want)
		}
	}
	for _, g := range e.srv.Groups() {
		if !strings.HasPrefix(g.ExternalID, "provsync:hr%3Aemea:") {
			t.Errorf("group %s has externalId %q", g.DisplayName, g.ExternalID)
		}
	}
	// A new user is created marked.
	e.edit(func(d *source.Directory) {
		d.Users = append(d.Users, source.User{ID: "new", UserName: "new@example.com", State: source.StateActive})
	})
	e.apply(eng)
	us, err := e.client.ListUsers(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, u := range us {
		found = found || u.UserName == "new@example.com" && u.ExternalID == "provsync:hr%3Aemea:new"
	}
	if !found {
		t.Error("the new user was not created with the marker")
	}
	e.mustBeEmpty(eng)
}

// TestEnginesSharingAStateKeepApart: two named engines share one state,
// and their sources use the same ids ("1", "g") for different people and
// groups. Each plans only against its own links, stored under its name:
// neither updates, adopts or deprovisions the other's objects, and
// removing a user from one source deprovisions only that source's user.
// (The owner markers keep the two "1"s' externalIds apart in the target;
// without them the second "1" would match the first's externalId, a plan
// problem.)
func TestEnginesSharingAStateKeepApart(t *testing.T) {
	for _, st := range []struct {
		name string
		new  func(t *testing.T) sync.State
	}{
		{"memory", func(*testing.T) sync.State { return sync.NewMemoryState() }},
		{"file", func(t *testing.T) sync.State {
			f := sync.NewFileState(filepath.Join(t.TempDir(), "state.json"))
			t.Cleanup(func() { f.Close() })
			return f
		}},
	} {
		t.Run(st.name, func(t *testing.T) {
			e := newEnv(t, 0, 0)
			state := st.new(t)
			hr := file.FromDirectory(&source.Directory{
				Users:  []source.User{{ID: "1", UserName: "ann@example.com", GivenName: "Ann", State: source.StateActive}},
				Groups: []source.Group{{ID: "g", DisplayName: "Staff", Members: []string{"1"}}},
			})
			ctDir := &source.Directory{
				Users: []source.User{
					{ID: "1", UserName: "cy@contractor.example", GivenName: "Cy", State: source.StateActive},
					{ID: "2", UserName: "di@contractor.example", GivenName: "Di", State: source.StateActive},
				},
				Groups: []source.Group{{ID: "g", DisplayName: "Contractors", Members: []string{"1", "2"}}},
			}
			ct := file.FromDirectory(ctDir)
			newEngine := func(src source.Source, owner string) *sync.Engine {
				eng, err := sync.New(src, e.client, sync.WithState(state), sync.WithOwner(owner))
				if err != nil {
					t.Fatal(err)
				}
				return eng
			}
			hrEng, ctEng := newEngine(hr, "hr"), newEngine(ct, "contractors")
			e.apply(hrEng)
			before := targetState(e.srv)
			p, _ := e.apply(ctEng)
			if p.Summary.CreateUsers != 2 || p.Summary.CreateGroups != 1 || len(p.Problems) != 0 {
				t.Fatalf("contractors' first plan: %s, problems %+v", p.SummaryLine(), p.Problems)
			}
			for _, line := range strings.Split(before, "\n") {
				if !strings.Contains(targetState(e.srv), line) {
					t.Errorf("hr's object changed: %q", line)
				}
			}
			e.mustBeEmpty(hrEng)
			e.mustBeEmpty(ctEng)
			if n := len(linkTargets(t, state)); n != 5 {
				t.Errorf("the shared state holds %d links, want 5 (hr's 2 and contractors' 3)", n)
			}

			// Cy (contractors' "1") leaves: only Cy is deactivated.
			ctDir.Users = ctDir.Users[1:]
			ctDir.Groups[0].Members = []string{"2"}
			ct.Set(ctDir)
			p, _ = e.apply(ctEng)
			if p.Summary.DeactivateUsers != 1 || p.Changes[0].Object.Key != "cy@contractor.example" {
				t.Errorf("contractors' plan after Cy left: %s %+v", p.SummaryLine(), p.Changes)
			}
			for _, u := range e.srv.Users() {
				if u.UserName == "ann@example.com" && !u.IsActive() {
					t.Error("hr's Ann was deactivated")
				}
			}
			e.mustBeEmpty(hrEng)
			e.mustBeEmpty(ctEng)
		})
	}
}

// TestSharedStateForeignObjectIsNotAdopted: in a shared state, another
// engine's link tells its object apart even without a marker: a second
// engine whose user has the same userName (and whose source id is the
// first's externalId) reports it, and adopts nothing.
func TestSharedStateForeignObjectIsNotAdopted(t *testing.T) {
	e := newEnv(t, 0, 0)
	state := sync.NewMemoryState()
	a := file.FromDirectory(&source.Directory{Users: []source.User{{ID: "7", UserName: "ann@example.com", State: source.StateActive}}})
	b := file.FromDirectory(&source.Directory{Users: []source.User{{ID: "7", UserName: "ANN@example.com", State: source.StateActive}}})
	var engs []*sync.Engine
	for _, x := range []struct {
		src   source.Source
		owner string
	}{{a, "a"}, {b, "b"}} {
		eng, err := sync.New(x.src, e.client, sync.WithState(state), sync.WithOwner(x.owner), sync.WithOwnerMarker(false))
		if err != nil {
			t.Fatal(err)
		}
		engs = append(engs, eng)
	}
	e.apply(engs[0])
	p, err := engs[1].Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 0 || len(p.Problems) != 1 || !strings.Contains(p.Problems[0].Message, `belongs to source "a"`) {
		t.Fatalf("b's plan: changes %+v, problems %+v; want one problem naming a", p.Changes, p.Problems)
	}
}

// TestSharedStateMigration: a state an engine without a name wrote (its
// links keyed by bare source id) is taken by that engine once named,
// stored under its name by the next apply, and left alone by a second
// named engine that shares it.
func TestSharedStateMigration(t *testing.T) {
	e := newEnv(t, 6, 2)
	state := sync.NewMemoryState()
	e.state = state
	e.apply(e.engine())
	legacy := linkTargets(t, state)
	named := e.engine(sync.WithOwner("hr"), sync.WithOwnerMarker(false))
	p, err := named.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 0 || len(p.Problems) != 0 {
		t.Fatalf("the named engine's plan over its unnamed state: %+v %+v", p.Changes, p.Problems)
	}
	e.edit(func(d *source.Directory) { d.Users[0].GivenName = "Renamed" })
	e.apply(named)
	stored := linkTargets(t, state)
	if len(stored) != len(legacy) {
		t.Fatalf("%d links stored, want %d", len(stored), len(legacy))
	}
	for k, tid := range legacy {
		kind, id, _ := strings.Cut(k, ":")
		if got := stored[kind+":hr\x1f"+id]; got != tid {
			t.Errorf("link %s stored as %q under hr's name, want %q", k, got, tid)
		}
	}
	for k, s := range linkSources(t, state) {
		if s != "hr" {
			t.Errorf("link %q names owner %q, want hr", k, s)
		}
	}
	// A second named engine sharing the state sees none of it.
	other, err := sync.New(file.FromDirectory(&source.Directory{}), e.client, sync.WithState(state), sync.WithOwner("other"))
	if err != nil {
		t.Fatal(err)
	}
	p, err = other.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 0 {
		t.Errorf("an empty source's engine sharing the state plans %+v", p.Changes)
	}
	e.mustBeEmpty(named)
}
