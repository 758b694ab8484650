package sync_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/merge"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// mergeEnv is one tenant (the embedded server) fed by one engine from two
// sources: employees (precedence first) and contractors. Ada is in both;
// both have a group called Engineering.
type mergeEnv struct {
	t           *testing.T
	srv         *netskopetest.Server
	client      *netskope.Client
	state       sync.State
	employees   *file.Source
	contractors *file.Source
}

func mergeUser(id, userName, given string) source.User {
	return source.User{ID: id, UserName: userName, GivenName: given, FamilyName: "Test", DisplayName: given + " Test",
		Emails: []source.Email{{Value: strings.ToLower(userName), Type: "work", Primary: true}}, State: source.StateActive}
}

func employees() *source.Directory {
	return &source.Directory{
		Users: []source.User{mergeUser("e-ada", "ada@example.com", "Ada"), mergeUser("e-bob", "bob@example.com", "Bob")},
		Groups: []source.Group{
			{ID: "g-eng", DisplayName: "Engineering", Members: []string{"e-ada", "e-bob"}},
			{ID: "g-staff", DisplayName: "Staff", Members: []string{"e-ada", "e-bob"}},
		},
	}
}

func contractors() *source.Directory {
	return &source.Directory{
		Users: []source.User{mergeUser("c-ada", "ADA@example.com", "Adelaide"), mergeUser("c-cy", "cy@example.com", "Cy"),
			mergeUser("c-dee", "dee@example.com", "Dee")},
		Groups: []source.Group{
			{ID: "h-eng", DisplayName: "Engineering", Members: []string{"c-ada", "c-cy"}},
			{ID: "h-con", DisplayName: "Contractors", Members: []string{"c-ada", "c-cy", "c-dee"}},
		},
	}
}

func newMergeEnv(t *testing.T) *mergeEnv {
	t.Helper()
	srv := netskopetest.New(t)
	c, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return &mergeEnv{t: t, srv: srv, client: c, state: sync.NewMemoryState(),
		employees: file.FromDirectory(employees()), contractors: file.FromDirectory(contractors())}
}

// engine makes an engine over the named sources ("employees",
// "contractors"), in that order, sharing the environment's state.
func (e *mergeEnv) engine(names []string, mopts []merge.Option, opts ...sync.Option) *sync.Engine {
	e.t.Helper()
	var members []merge.Member
	for _, n := range names {
		src := e.employees
		if n == "contractors" {
			src = e.contractors
		}
		members = append(members, merge.Member{Name: n, Source: src})
	}
	m, err := merge.New(members, mopts...)
	if err != nil {
		e.t.Fatal(err)
	}
	eng, err := sync.New(m, e.client, append([]sync.Option{sync.WithState(e.state)}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	return eng
}

var both = []string{"employees", "contractors"}

// plan plans and fails the test on error.
func (e *mergeEnv) plan(eng *sync.Engine) *sync.Plan {
	e.t.Helper()
	p, err := eng.Plan(ctx(e.t))
	if err != nil {
		e.t.Fatalf("Plan: %v", err)
	}
	return p
}

// apply applies p and checks that every change landed.
func (e *mergeEnv) apply(eng *sync.Engine, p *sync.Plan, opts ...sync.ApplyOption) {
	e.t.Helper()
	res, err := eng.Apply(ctx(e.t), p, opts...)
	if err != nil {
		e.t.Fatalf("Apply: %v", err)
	}
	if res.Failed > 0 {
		e.t.Fatalf("Apply: %s: %v", res.SummaryLine(), res.Err())
	}
}

// settled checks that planning again changes nothing.
func (e *mergeEnv) settled(eng *sync.Engine) *sync.Plan {
	e.t.Helper()
	p := e.plan(eng)
	if !p.Empty() {
		var b strings.Builder
		_ = p.Render(&b, 20)
		e.t.Fatalf("plan after apply is not empty:\n%s", b.String())
	}
	return p
}

// users returns the target's users by lower-case user name, failing the
// test if a name is there twice.
func (e *mergeEnv) users() map[string]scim.User {
	e.t.Helper()
	out := map[string]scim.User{}
	for _, u := range e.srv.Users() {
		k := strings.ToLower(u.UserName)
		if _, dup := out[k]; dup {
			e.t.Errorf("the target holds user %q twice", u.UserName)
		}
		out[k] = u
	}
	return out
}

// groups renders the target's groups as "name[members' user names]",
// sorted.
func (e *mergeEnv) groups() string {
	e.t.Helper()
	names := map[string]string{}
	for _, u := range e.srv.Users() {
		names[u.ID] = strings.ToLower(u.UserName)
	}
	var out []string
	for _, g := range e.srv.Groups() {
		var m []string
		for _, mem := range g.Members {
			m = append(m, strings.TrimSuffix(names[mem.Value], "@example.com"))
		}
		sort.Strings(m)
		out = append(out, g.DisplayName+"["+strings.Join(m, " ")+"]")
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// checkPeople checks that each person is in the target once, owned and
// described by the employees source when it has them.
func (e *mergeEnv) checkPeople(wantActive ...string) {
	e.t.Helper()
	users := e.users()
	want := map[string]struct{ externalID, given string }{
		"ada@example.com": {"employees/e-ada", "Ada"},
		"bob@example.com": {"employees/e-bob", "Bob"},
		"cy@example.com":  {"contractors/c-cy", "Cy"},
		"dee@example.com": {"contractors/c-dee", "Dee"},
	}
	if len(users) != len(want) {
		e.t.Errorf("the target holds %d users, want %d", len(users), len(want))
	}
	for name, w := range want {
		u, ok := users[name]
		if !ok {
			e.t.Errorf("user %s is missing", name)
			continue
		}
		if unmark(u.ExternalID) != w.externalID || u.Name == nil || u.Name.GivenName != w.given {
			e.t.Errorf("user %s: externalId %q, name %+v; want %q, given name %q", name, u.ExternalID, u.Name, w.externalID, w.given)
		}
		if active := slices.Contains(wantActive, name); u.IsActive() != active {
			e.t.Errorf("user %s: active = %v, want %v", name, u.IsActive(), active)
		}
	}
}

// unmark returns an externalId without its owner marker
// (provsync:<owner>:<id>), checking that the marker names the source of
// the merged id it holds.
func unmark(ext string) string {
	rest, ok := strings.CutPrefix(ext, "provsync:")
	if !ok {
		return ext
	}
	owner, id, _ := strings.Cut(rest, ":")
	if src, _, _ := merge.Split(id); src != owner {
		return ext
	}
	return id
}

var everyone = []string{"ada@example.com", "bob@example.com", "cy@example.com", "dee@example.com"}

func TestMergedSourcesSameNamedGroupIsAProblem(t *testing.T) {
	e := newMergeEnv(t)
	eng := e.engine(both, nil)
	p := e.plan(eng)
	var clash []string
	for _, pr := range p.Problems {
		if pr.Object.Kind == sync.KindGroup && pr.Field == scim.PathDisplayName {
			clash = append(clash, pr.Object.SourceID)
		}
	}
	sort.Strings(clash)
	if strings.Join(clash, " ") != "contractors/h-eng employees/g-eng" {
		t.Fatalf("display name problems for %v, want both Engineering groups; problems: %+v", clash, p.Problems)
	}
	for _, c := range p.Changes {
		if strings.EqualFold(c.Object.Key, "Engineering") {
			t.Errorf("the plan changes Engineering: %s", c.Action)
		}
	}
	e.apply(eng, p)
	e.checkPeople(everyone...)
	// Ada's memberships from the contractors' groups are hers, under the
	// employees' user; nothing called Engineering was written.
	if got, want := e.groups(), "Contractors[ada cy dee] Staff[ada bob]"; got != want {
		t.Errorf("target groups %s, want %s", got, want)
	}
	if p := e.settled(eng); len(p.Problems) != 2 {
		t.Errorf("the next plan has %d problems, want the two Engineering groups still", len(p.Problems))
	}
}

// A tenant fed from the employees alone gets the contractors too: their
// Engineering group does not take over the employees' one.
func TestMergedSourcesNoSilentTakeover(t *testing.T) {
	e := newMergeEnv(t)
	first := e.engine([]string{"employees"}, nil)
	e.apply(first, e.plan(first))
	before := e.srv.Groups()
	eng := e.engine(both, nil)
	p := e.plan(eng)
	if p.Summary.Problems != 2 {
		t.Errorf("%d problems, want the two Engineering groups", p.Summary.Problems)
	}
	e.apply(eng, p)
	e.checkPeople(everyone...)
	var eng0, eng1 scim.Group
	for _, g := range before {
		if g.DisplayName == "Engineering" {
			eng0 = g
		}
	}
	for _, g := range e.srv.Groups() {
		if g.ID == eng0.ID {
			eng1 = g
		}
	}
	if eng1.ID == "" || eng1.DisplayName != eng0.DisplayName || eng1.ExternalID != "employees/g-eng" || len(eng1.Members) != len(eng0.Members) {
		t.Errorf("the employees' Engineering group changed: before %+v, after %+v", eng0, eng1)
	}
}

func TestMergedSourcesGroupModes(t *testing.T) {
	for _, tt := range []struct {
		name   string
		opts   []merge.Option
		groups string
	}{
		{"namespace", []merge.Option{merge.WithGroups(merge.GroupsNamespace)},
			"Contractors (contractors)[ada cy dee] Engineering (contractors)[ada cy] Engineering (employees)[ada bob] Staff (employees)[ada bob]"},
		{"namespace with a prefix", []merge.Option{merge.WithGroups(merge.GroupsNamespace), merge.WithGroupFormat("{source}/{name}")},
			"contractors/Contractors[ada cy dee] contractors/Engineering[ada cy] employees/Engineering[ada bob] employees/Staff[ada bob]"},
		{"merge", []merge.Option{merge.WithGroups(merge.GroupsMerge)},
			"Contractors[ada cy dee] Engineering[ada bob cy] Staff[ada bob]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newMergeEnv(t)
			eng := e.engine(both, tt.opts)
			p := e.plan(eng)
			if len(p.Problems) > 0 {
				t.Errorf("problems: %+v", p.Problems)
			}
			e.apply(eng, p)
			e.checkPeople(everyone...)
			if got := e.groups(); got != tt.groups {
				t.Errorf("target groups\n got %s\nwant %s", got, tt.groups)
			}
			e.settled(eng)
		})
	}
}

// In a merged group each source manages its own members: a contractor
// leaving the contractors' Engineering group leaves the merged group,
// and an employee in it stays.
func TestMergedGroupMembersPerSource(t *testing.T) {
	e := newMergeEnv(t)
	eng := e.engine(both, []merge.Option{merge.WithGroups(merge.GroupsMerge)})
	e.apply(eng, e.plan(eng))
	d := contractors()
	d.Groups[0].Members = []string{"c-ada"}
	e.contractors.Set(d)
	p := e.plan(eng)
	if p.Summary.RemoveMembers != 1 || p.Summary.AddMembers != 0 {
		t.Errorf("summary %+v, want one membership removed", p.Summary)
	}
	e.apply(eng, p)
	if got, want := e.groups(), "Contractors[ada cy dee] Engineering[ada bob] Staff[ada bob]"; got != want {
		t.Errorf("target groups\n got %s\nwant %s", got, want)
	}
	e.settled(eng)
}

// Removing the contractors from the configuration deprovisions what only
// they owned, and nothing of the employees', within the deletion limits:
// by dropping them from the list for an engine that does not mark its
// objects, and by naming them retired for one that does (WithOwner).
func TestMergedSourceRemoved(t *testing.T) {
	for _, tt := range []struct {
		name    string
		opts    []sync.Option
		retired bool
	}{
		{"dropped", nil, false},
		{"dropped, retired", nil, true},
		{"named engine, retired", []sync.Option{sync.WithOwner("corp")}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newMergeEnv(t)
			ns := []merge.Option{merge.WithGroups(merge.GroupsNamespace)}
			eng := e.engine(both, ns, tt.opts...)
			e.apply(eng, e.plan(eng))
			e.settled(eng)
			if tt.retired {
				ns = append(ns, merge.WithRetired("contractors"))
			}

			// A limit of one user deprovision holds the plan: it would
			// remove two.
			strict := sync.DefaultPolicy()
			strict.UserLimit.MaxCount = 1
			alone := e.engine([]string{"employees"}, ns, append(tt.opts, sync.WithPolicy(strict))...)
			p := e.plan(alone)
			if p.Applyable || !p.NeedsConfirmation {
				t.Fatalf("a plan deactivating 2 users with a limit of 1 is applyable (%v) or needs no confirmation; reasons %v", p.Applyable, p.Reasons)
			}
			if _, err := alone.Apply(ctx(t), p); err == nil {
				t.Fatal("Apply carried out a held plan")
			}
			e.checkPeople(everyone...)

			alone = e.engine([]string{"employees"}, ns, tt.opts...)
			p = e.plan(alone)
			if len(p.Problems) > 0 {
				t.Errorf("problems: %+v", p.Problems)
			}
			var got []string
			for _, c := range p.Changes {
				got = append(got, string(c.Action)+" "+c.Object.Key)
			}
			sort.Strings(got)
			want := []string{"deactivate-user cy@example.com", "deactivate-user dee@example.com",
				"delete-group Contractors (contractors)", "delete-group Engineering (contractors)"}
			if strings.Join(got, ", ") != strings.Join(want, ", ") {
				t.Errorf("changes\n got %v\nwant %v", got, want)
			}
			e.apply(alone, p)
			e.checkPeople("ada@example.com", "bob@example.com")
			if got, want := e.groups(), "Engineering (employees)[ada bob] Staff (employees)[ada bob]"; got != want {
				t.Errorf("target groups\n got %s\nwant %s", got, want)
			}
			e.settled(alone)
		})
	}
}

// An engine that marks its objects with their owners, given the
// employees alone, leaves the contractors' objects alone: without
// WithRetired, they may be another engine's.
func TestMergedSourceDroppedNamed(t *testing.T) {
	e := newMergeEnv(t)
	eng := e.engine(both, nil, sync.WithOwner("corp"))
	e.apply(eng, e.plan(eng))
	alone := e.engine([]string{"employees"}, nil, sync.WithOwner("corp"))
	p := e.plan(alone)
	for _, c := range p.Changes {
		if c.Action == sync.ActionDeactivateUser || c.Action == sync.ActionDeleteUser || c.Action == sync.ActionDeleteGroup {
			t.Errorf("the plan has %s %s", c.Action, c.Object.Key)
		}
	}
	if p.Summary.Problems == 0 {
		t.Error("no problem reports the contractors' objects")
	}
	e.apply(alone, p)
	e.checkPeople(everyone...)
}

// When the employees drop Ada, the contractors, next in precedence, own
// her: her target user is handed over (same target id, the contractors'
// externalId and attributes), never deactivated or deleted, and her
// memberships of the contractors' groups stay.
func TestMergedSourceTakeover(t *testing.T) {
	e := newMergeEnv(t)
	eng := e.engine(both, []merge.Option{merge.WithGroups(merge.GroupsNamespace)})
	e.apply(eng, e.plan(eng))
	adaID := e.users()["ada@example.com"].ID

	d := employees()
	d.Users = d.Users[1:]
	for i := range d.Groups {
		d.Groups[i].Members = []string{"e-bob"}
	}
	e.employees.Set(d)
	p := e.plan(eng)
	for _, c := range p.Changes {
		if c.Object.TargetID == adaID && (c.Action == sync.ActionDeactivateUser || c.Action == sync.ActionDeleteUser) {
			t.Errorf("the plan deprovisions Ada (%s: %s) although the contractors still hold her", c.Action, c.Reason)
		}
	}
	if len(p.Problems) > 0 {
		t.Errorf("problems: %+v", p.Problems)
	}
	e.apply(eng, p)
	ada := e.users()["ada@example.com"]
	if ada.ID != adaID || ada.ExternalID != "contractors/c-ada" || ada.Name == nil || ada.Name.GivenName != "Adelaide" || !ada.IsActive() {
		t.Errorf("Ada after the takeover: id %s (was %s), externalId %q, name %+v, active %v; want the same user, the contractors' id and name, active",
			ada.ID, adaID, ada.ExternalID, ada.Name, ada.IsActive())
	}
	if got, want := e.groups(), "Contractors (contractors)[ada cy dee] Engineering (contractors)[ada cy] Engineering (employees)[bob] Staff (employees)[bob]"; got != want {
		t.Errorf("target groups\n got %s\nwant %s", got, want)
	}
	e.settled(eng)
}

// In merged groups, when the employees drop Engineering, the
// contractors' Engineering owns the group: the same target group, the
// contractors' id, and only their members.
func TestMergedGroupTakeover(t *testing.T) {
	e := newMergeEnv(t)
	eng := e.engine(both, []merge.Option{merge.WithGroups(merge.GroupsMerge)})
	e.apply(eng, e.plan(eng))
	var before scim.Group
	for _, g := range e.srv.Groups() {
		if g.DisplayName == "Engineering" {
			before = g
		}
	}
	d := employees()
	d.Groups = d.Groups[1:]
	e.employees.Set(d)
	p := e.plan(eng)
	for _, c := range p.Changes {
		if c.Action == sync.ActionDeleteGroup || c.Action == sync.ActionCreateGroup {
			t.Errorf("the plan has %s %s", c.Action, c.Object.Key)
		}
	}
	if len(p.Problems) > 0 {
		t.Errorf("problems: %+v", p.Problems)
	}
	e.apply(eng, p)
	for _, g := range e.srv.Groups() {
		if g.DisplayName == "Engineering" && (g.ID != before.ID || g.ExternalID != "contractors/h-eng") {
			t.Errorf("Engineering after the takeover: id %s (was %s), externalId %q", g.ID, before.ID, g.ExternalID)
		}
	}
	if got, want := e.groups(), "Contractors[ada cy dee] Engineering[ada cy] Staff[ada bob]"; got != want {
		t.Errorf("target groups\n got %s\nwant %s", got, want)
	}
	e.settled(eng)
}

// A tenant fed from one source moves to a merged configuration: the ids
// gain the source's name, and every user and group is handed over to its
// new id (externalId updated), none deprovisioned or created again.
func TestMergedFromSingleSource(t *testing.T) {
	e := newMergeEnv(t)
	single, err := sync.New(e.employees, e.client, sync.WithState(e.state))
	if err != nil {
		t.Fatal(err)
	}
	e.apply(single, e.plan(single))
	before := map[string]string{}
	for _, u := range e.srv.Users() {
		before[u.UserName] = u.ID
	}
	for _, g := range e.srv.Groups() {
		before[g.DisplayName] = g.ID
	}

	eng := e.engine([]string{"employees"}, nil)
	p := e.plan(eng)
	if len(p.Problems) > 0 {
		t.Errorf("problems: %+v", p.Problems)
	}
	for _, c := range p.Changes {
		if c.Action != sync.ActionUpdateUser && c.Action != sync.ActionUpdateGroup {
			t.Errorf("the plan has %s %s (%s)", c.Action, c.Object.Key, c.Reason)
		}
	}
	e.apply(eng, p)
	after := map[string]string{}
	for _, u := range e.srv.Users() {
		after[u.UserName] = u.ID
		if !strings.HasPrefix(u.ExternalID, "employees/") || !u.IsActive() {
			t.Errorf("user %s: externalId %q, active %v", u.UserName, u.ExternalID, u.IsActive())
		}
	}
	for _, g := range e.srv.Groups() {
		after[g.DisplayName] = g.ID
		if !strings.HasPrefix(g.ExternalID, "employees/") {
			t.Errorf("group %s: externalId %q", g.DisplayName, g.ExternalID)
		}
	}
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("target objects changed identity:\nbefore %v\nafter  %v", before, after)
	}
	e.settled(eng)
}
