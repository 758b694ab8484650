package sourcetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/synth"
)

// fakeProvider keeps every version of its directory, so that an
// incremental read can diff against the version a cursor names.
type fakeProvider struct {
	mu       sync.Mutex
	versions []*source.Directory
	failNext bool
}

// fakeSource is an Incremental source over a fakeProvider that "pages"
// through users 100 at a time.
type fakeSource struct{ p *fakeProvider }

var _ source.Incremental = (*fakeSource)(nil)

func (s *fakeSource) Name() string { return "fake" }

func (s *fakeSource) Read(ctx context.Context) (*source.Directory, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fake: %w", err)
	}
	s.p.mu.Lock()
	cur, fail := s.p.versions[len(s.p.versions)-1], s.p.failNext
	s.p.failNext = false
	s.p.mu.Unlock()
	out := &source.Directory{}
	for page := 0; page*100 < len(cur.Users); page++ {
		if fail && page == 1 {
			return nil, fmt.Errorf("fake: users page 2: %w", source.ErrUnavailable)
		}
		for _, u := range cur.Users[page*100 : min(len(cur.Users), (page+1)*100)] {
			out.Users = append(out.Users, u.Clone())
		}
	}
	for i := range cur.Groups {
		out.Groups = append(out.Groups, cur.Groups[i].Clone())
	}
	return out, nil
}

func (s *fakeSource) ReadChanges(ctx context.Context, cursor string) (*source.Changes, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fake: %w", err)
	}
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	latest := len(s.p.versions) - 1
	next := "v" + strconv.Itoa(latest)
	if cursor == "" {
		cur := s.p.versions[latest].Clone()
		return &source.Changes{Users: cur.Users, Groups: cur.Groups, Cursor: next, Full: true}, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(cursor, "v"))
	if !strings.HasPrefix(cursor, "v") || err != nil || n < 0 || n > latest {
		return nil, fmt.Errorf("fake: cursor %q: %w", cursor, source.ErrCursorExpired)
	}
	ch := changesBetween(s.p.versions[n], s.p.versions[latest])
	ch.Cursor = next
	return ch, nil
}

// changesBetween returns what changed from old to cur.
func changesBetween(old, cur *source.Directory) *source.Changes {
	ch := &source.Changes{}
	ox, cx := old.Index(), cur.Index()
	for i := range cur.Users {
		if o, ok := ox.UserByID(cur.Users[i].ID); !ok || !reflect.DeepEqual(*o, cur.Users[i]) {
			ch.Users = append(ch.Users, cur.Users[i].Clone())
		}
	}
	for _, u := range old.Users {
		if _, ok := cx.UserByID(u.ID); !ok {
			ch.RemovedUsers = append(ch.RemovedUsers, u.ID)
		}
	}
	for i := range cur.Groups {
		if o, ok := ox.GroupByID(cur.Groups[i].ID); !ok || !reflect.DeepEqual(*o, cur.Groups[i]) {
			ch.Groups = append(ch.Groups, cur.Groups[i].Clone())
		}
	}
	for _, g := range old.Groups {
		if _, ok := cx.GroupByID(g.ID); !ok {
			ch.RemovedGroups = append(ch.RemovedGroups, g.ID)
		}
	}
	return ch
}

type fakeHarness struct{ p *fakeProvider }

func (h *fakeHarness) Open(_ context.Context, _ *testing.T, want *source.Directory) (source.Source, error) {
	h.p = &fakeProvider{versions: []*source.Directory{want.Clone()}}
	return &fakeSource{p: h.p}, nil
}

func (h *fakeHarness) Update(_ context.Context, _ *testing.T, want *source.Directory) error {
	h.p.mu.Lock()
	h.p.versions = append(h.p.versions, want.Clone())
	h.p.mu.Unlock()
	return nil
}

func (h *fakeHarness) FailNext(*testing.T) error {
	h.p.mu.Lock()
	h.p.failNext = true
	h.p.mu.Unlock()
	return nil
}

// TestRunIncremental runs the suite, including its incremental part,
// against a fake that follows the contract.
func TestRunIncremental(t *testing.T) {
	Run(t, &fakeHarness{}, WithUserAttributes(synth.AttrDepartment, synth.AttrManagerID, synth.AttrHireDate, "deletedAt"),
		WithGroupAttributes("email", "description"), WithLargeDirectory(400))
}

// TestRunLimitedStates checks that fixtures keep to the states a provider
// can hold.
func TestRunLimitedStates(t *testing.T) {
	cfg := &config{states: []source.State{source.StateActive}}
	for _, d := range []*source.Directory{fixture(cfg, 200, 5, 2, 1), awkward(cfg)} {
		for _, u := range d.Users {
			if u.State != source.StateActive || !u.DeletedAt.IsZero() {
				t.Fatalf("fixture for an active-only provider has user %s in state %s", u.ID, u.State)
			}
		}
	}
	Run(t, &fakeHarness{}, WithStates(source.StateActive, source.StateSuspended), WithLargeDirectory(150))
}

func TestFixturesValid(t *testing.T) {
	cfg := &config{states: []source.State{source.StateActive, source.StateSuspended, source.StateDeleted}, large: 300}
	for name, d := range map[string]*source.Directory{
		"fixture": fixture(cfg, 60, 14, 3, 1), "large": largeFixture(cfg), "awkward": awkward(cfg),
	} {
		if err := d.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if got := len(largeFixture(cfg).Users); got != 300 {
		t.Errorf("large fixture has %d users, want 300", got)
	}
}

func TestChangeExpectation(t *testing.T) {
	cfg := &config{states: []source.State{source.StateActive, source.StateSuspended, source.StateDeleted}}
	base := fixture(cfg, 50, 8, 3, 6)
	next, exp := change(base)
	if err := next.Validate(); err != nil {
		t.Fatalf("changed fixture is invalid: %v", err)
	}
	ch := changesBetween(base, next)
	for _, p := range [][]string{
		idProblems("users", userIDs(ch.Users), exp.users, exp.allowedUsers),
		idProblems("removed users", ch.RemovedUsers, exp.removedUsers, nil),
		idProblems("groups", groupIDs(ch.Groups), exp.groups, exp.allowedGroups),
		idProblems("removed groups", ch.RemovedGroups, exp.removedGroups, nil),
	} {
		for _, msg := range p {
			t.Error(msg)
		}
	}
	if len(exp.users) != 3 || len(exp.removedUsers) != 1 || len(exp.groups) != 1 || len(exp.removedGroups) != 1 {
		t.Errorf("expectation %+v does not cover a rename, a suspension, an addition and the removals", exp)
	}
	got, err := source.Apply(base, ch)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(next, got, &config{userAttrs: []string{"department"}}); len(d) > 0 {
		t.Fatalf("Apply(base, changes) differs from the changed fixture:\n%s", formatDiff(d))
	}
}

func TestIDProblems(t *testing.T) {
	tests := []struct {
		name                   string
		got, required, allowed []string
		want                   []string
	}{
		{"exact", []string{"a", "b"}, []string{"b", "a"}, nil, nil},
		{"allowed extra", []string{"a", "c"}, []string{"a"}, []string{"c"}, nil},
		{"missing", []string{"a"}, []string{"a", "b"}, nil, []string{`lack 1 changed ["b"]`}},
		{"unexpected", []string{"a", "z"}, []string{"a"}, []string{"c"}, []string{`include 1 ["z"] that did not change`}},
		{"twice", []string{"a", "a"}, []string{"a"}, nil, []string{"more than once"}},
	}
	for _, tt := range tests {
		got := idProblems("ids", tt.got, tt.required, tt.allowed)
		if len(got) != len(tt.want) {
			t.Errorf("%s: idProblems = %q, want %d problems", tt.name, got, len(tt.want))
			continue
		}
		for i, w := range tt.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: problem %q lacks %q", tt.name, got[i], w)
			}
		}
	}
}

func TestDiff(t *testing.T) {
	base := func() *source.Directory {
		return &source.Directory{
			Users: []source.User{
				{ID: "u1", UserName: "Ada@Example.com", Emails: []source.Email{{Value: "ada@example.com", Primary: true}},
					GivenName: "Ada", DisplayName: "Ada L", Attributes: source.NewAttrs(map[string]any{
						"dept": "R&D", "n": int64(3), "when": time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), "tags": []string{"a", "b"}})},
				{ID: "u2", UserName: "bob@example.com", State: source.StateSuspended},
			},
			Groups: []source.Group{{ID: "g1", DisplayName: "G", Email: "g@x", Members: []string{"u1", "u2"}}},
		}
	}
	cfg := &config{userAttrs: []string{"dept", "n", "when", "tags"}, groupAttrs: []string{"email"}}
	tests := []struct {
		name string
		edit func(d *source.Directory)
		want []string
	}{
		{"same", func(*source.Directory) {}, nil},
		{"order and case ignored", func(d *source.Directory) {
			d.Users[0], d.Users[1] = d.Users[1], d.Users[0]
			d.Users[1].UserName = "ada@example.com"
			d.Users[1].Emails[0].Value = "ADA@example.com"
			d.Users[1].Attributes = d.Users[1].Attributes.With("n", float64(3))
			d.Users[1].Attributes = d.Users[1].Attributes.With("tags", []string{"b", "a"})
			d.Users[1].Attributes = d.Users[1].Attributes.With("when", time.Date(2024, 1, 1, 1, 0, 0, 0, time.FixedZone("", 3600)))
			d.Groups[0].Members = []string{"u2", "u1"}
		}, nil},
		{"missing user", func(d *source.Directory) { d.Users = d.Users[:1] }, []string{`user "u2" (bob@example.com): missing`}},
		{"extra user", func(d *source.Directory) { d.Users = append(d.Users, source.User{ID: "u3"}) }, []string{`user "u3" (): not in scope`}},
		{"renamed", func(d *source.Directory) { d.Users[0].DisplayName = "Ada M" }, []string{`user "u1": displayName = "Ada M", want "Ada L"`}},
		{"given name", func(d *source.Directory) { d.Users[0].GivenName = "ada" }, []string{`givenName = "ada", want "Ada"`}},
		{"state", func(d *source.Directory) { d.Users[1].State = source.StateActive }, []string{`user "u2": state = "active", want "suspended"`}},
		{"email", func(d *source.Directory) { d.Users[0].Emails = nil }, []string{`primary email = ""`}},
		{"attribute lost", func(d *source.Directory) { d.Users[0].Attributes = d.Users[0].Attributes.Without("dept") }, []string{`dept = (absent), want "R&D"`}},
		{"attribute type", func(d *source.Directory) { d.Users[0].Attributes = d.Users[0].Attributes.With("n", "3") }, []string{`n = "3", want 3`}},
		{"time", func(d *source.Directory) { d.Users[0].Attributes = d.Users[0].Attributes.With("when", time.Time{}) }, []string{`when = 0001-01-01T00:00:00Z`}},
		{"list", func(d *source.Directory) { d.Users[0].Attributes = d.Users[0].Attributes.With("tags", []string{"a"}) }, []string{`tags = []string{"a"}`}},
		{"member lost", func(d *source.Directory) { d.Groups[0].Members = []string{"u1"} },
			[]string{`group "g1" (G): members lack 1 ["u2"] and have 0 unexpected []`}},
		{"member twice", func(d *source.Directory) { d.Groups[0].Members = []string{"u1", "u2", "u1"} },
			[]string{`members list some ids more than once`}},
		{"group renamed", func(d *source.Directory) { d.Groups[0].DisplayName = "H" }, []string{`group "g1": displayName = "H", want "G"`}},
		{"group attribute", func(d *source.Directory) { d.Groups[0].Email = "" }, []string{`group "g1": email = (absent), want "g@x"`}},
		{"group missing", func(d *source.Directory) { d.Groups = nil }, []string{`group "g1" (G): missing`}},
		{"nested", func(d *source.Directory) { d.Groups[0].MemberGroups = []string{"g1"} }, []string{`memberGroups lack 0 [] and have 1 unexpected ["g1"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := base()
			tt.edit(got)
			d := diff(base(), got, cfg)
			if len(d) != len(tt.want) {
				t.Fatalf("diff = %q, want %d differences", d, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(d[i], w) {
					t.Errorf("difference %q lacks %q", d[i], w)
				}
			}
		})
	}
	many := make([]string, 40)
	if s := formatDiff(many); !strings.Contains(s, "... and 15 more") || strings.Count(s, "\n") != maxDiffs {
		t.Errorf("formatDiff does not cap its output: %q", s)
	}
}

// sanity: the change helper keeps base intact.
func TestChangeLeavesBase(t *testing.T) {
	cfg := &config{states: []source.State{source.StateActive}}
	base := fixture(cfg, 30, 4, 2, 9)
	before := base.Clone()
	change(base)
	if !reflect.DeepEqual(base, before) {
		t.Fatal("change modified its input")
	}
	if slices.ContainsFunc(base.Users, func(u source.User) bool { return u.ID == newUserID }) {
		t.Fatal("the new user's id is already in the fixture")
	}
}
