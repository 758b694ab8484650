package merge_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/merge"
)

// user makes an active user with a primary e-mail.
func user(id, userName, email, given string) source.User {
	u := source.User{ID: id, UserName: userName, GivenName: given, State: source.StateActive}
	if email != "" {
		u.Emails = []source.Email{{Value: email, Type: "work", Primary: true}}
	}
	return u
}

func group(id, name string, members ...string) source.Group {
	return source.Group{ID: id, DisplayName: name, Members: members}
}

func deleted(u source.User) source.User { u.State = source.StateDeleted; return u }

// read merges the directories, in precedence order a, b, c, ..., and
// checks what every merged read must satisfy.
func read(t *testing.T, opts []merge.Option, dirs ...*source.Directory) (*merge.Source, *source.Directory) {
	t.Helper()
	var members []merge.Member
	for i, d := range dirs {
		name := string(rune('a' + i))
		members = append(members, merge.Member{Name: name, Source: file.FromDirectory(d, file.WithName("file-"+name))})
	}
	src, err := merge.New(members, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	got, err := src.Read(context.Background())
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("the merged directory is invalid: %v", err)
	}
	return src, got
}

// users renders the merged users as "id=userName:givenName", sorted.
func users(d *source.Directory) string {
	var out []string
	for _, u := range d.Users {
		s := u.ID + "=" + u.UserName + ":" + u.GivenName
		if u.State != source.StateActive {
			s += "(" + u.State.String() + ")"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// groups renders the merged groups as "id=name[members]", sorted, members
// sorted.
func groups(d *source.Directory) string {
	var out []string
	for _, g := range d.Groups {
		m := slices.Clone(g.Members)
		sort.Strings(m)
		s := fmt.Sprintf("%s=%s%v", g.ID, g.DisplayName, m)
		if len(g.MemberGroups) > 0 {
			s += fmt.Sprintf("<%v>", g.MemberGroups)
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestPeople(t *testing.T) {
	for _, tt := range []struct {
		name       string
		opts       []merge.Option
		dirs       []*source.Directory
		users      string
		groups     string
		ownerOf    map[string]string
		wantAbsent []string // ids OwnerOf does not know
	}{{
		name: "ids are unique across sources and OwnerOf names the source",
		dirs: []*source.Directory{
			{Users: []source.User{user("1", "ada@a.example", "", "Ada")}, Groups: []source.Group{group("g", "Eng", "1")}},
			{Users: []source.User{user("1", "bob@b.example", "", "Bob")}, Groups: []source.Group{group("g", "Ops", "1")}},
		},
		users:      "a/1=ada@a.example:Ada b/1=bob@b.example:Bob",
		groups:     "a/g=Eng[a/1] b/g=Ops[b/1]",
		ownerOf:    map[string]string{"a/1": "a", "b/1": "b", "a/g": "a", "b/g": "b"},
		wantAbsent: []string{"1", "g", "c/1", "a/2", ""},
	}, {
		name: "one person by user name ignoring case: the first source owns it, the other adds memberships",
		dirs: []*source.Directory{
			{Users: []source.User{user("e1", "Ada@Example.com", "", "Ada")}, Groups: []source.Group{group("g1", "Staff", "e1")}},
			{Users: []source.User{user("c7", "ada@example.COM", "", "Adelaide")}, Groups: []source.Group{group("g9", "Contractors", "c7")}},
		},
		users:      "a/e1=Ada@Example.com:Ada",
		groups:     "a/g1=Staff[a/e1] b/g9=Contractors[a/e1]",
		ownerOf:    map[string]string{"a/e1": "a"},
		wantAbsent: []string{"b/c7"},
	}, {
		name: "one person by primary e-mail",
		dirs: []*source.Directory{
			{Users: []source.User{user("e1", "ada@corp.example", "Ada@Mail.example", "Ada")}},
			{Users: []source.User{user("c7", "ada.l@contractor.example", "ada@mail.example", "Adelaide")}, Groups: []source.Group{group("g9", "Contractors", "c7")}},
		},
		users:  "a/e1=ada@corp.example:Ada",
		groups: "b/g9=Contractors[a/e1]",
	}, {
		name: "precedence is the order given, not the directories' contents",
		dirs: []*source.Directory{
			{Users: []source.User{user("c7", "ada@example.com", "", "Adelaide")}},
			{Users: []source.User{user("e1", "ada@example.com", "", "Ada")}},
		},
		users: "a/c7=ada@example.com:Adelaide",
	}, {
		name: "the owner drops the person: the next source owns it, under its id",
		dirs: []*source.Directory{
			{Users: []source.User{user("x", "other@example.com", "", "Other")}},
			{Users: []source.User{user("c7", "ada@example.com", "", "Adelaide")}},
			{Users: []source.User{user("z3", "ADA@example.com", "", "A.")}},
		},
		users:      "a/x=other@example.com:Other b/c7=ada@example.com:Adelaide",
		ownerOf:    map[string]string{"b/c7": "b"},
		wantAbsent: []string{"c/z3"},
	}, {
		name: "a source that reports the person deleted yields to the next one; its copy is left out",
		dirs: []*source.Directory{
			{Users: []source.User{deleted(user("e1", "ada@example.com", "", "Ada"))}, Groups: []source.Group{group("g1", "Staff", "e1")}},
			{Users: []source.User{user("c7", "ada@example.com", "", "Adelaide")}},
		},
		users:  "b/c7=ada@example.com:Adelaide",
		groups: "a/g1=Staff[]",
	}, {
		name: "a rehire: a source's deleted user beside its live one of the same name stays, as without merging",
		dirs: []*source.Directory{
			{Users: []source.User{deleted(user("old", "ada@example.com", "", "Ada")), user("new", "ada@example.com", "", "Ada")}},
			{Users: []source.User{user("c7", "ada@example.com", "", "Adelaide")}},
		},
		users: "a/new=ada@example.com:Ada a/old=ada@example.com:Ada(deleted)",
	}, {
		name: "deleted everywhere: the first source's deleted user stands for the person",
		dirs: []*source.Directory{
			{Users: []source.User{deleted(user("e1", "ada@example.com", "", "Ada"))}},
			{Users: []source.User{deleted(user("c7", "ada@example.com", "", "Adelaide"))}},
		},
		users: "a/e1=ada@example.com:Ada(deleted)",
	}, {
		name: "two users of one source matching one person stay apart",
		dirs: []*source.Directory{
			{Users: []source.User{user("e1", "ada@example.com", "shared@example.com", "Ada")}},
			{Users: []source.User{
				user("c1", "ada.c@example.com", "shared@example.com", "C1"),
				user("c2", "ADA@example.com", "", "C2"),
			}},
		},
		users: "a/e1=ada@example.com:Ada b/c1=ada.c@example.com:C1",
	}, {
		name: "persons chain across three sources",
		dirs: []*source.Directory{
			{Users: []source.User{user("1", "ada@a.example", "", "A")}},
			{Users: []source.User{user("2", "ada@b.example", "ada@a.example", "B")}},
			{Users: []source.User{user("3", "ada@b.example", "", "C")}, Groups: []source.Group{group("g", "G", "3")}},
		},
		users: "a/1=ada@a.example:A",
		opts:  []merge.Option{merge.WithMatch("emails")},
	}, {
		name: "match keys are configurable: employeeId",
		opts: []merge.Option{merge.WithMatch("employeeId")},
		dirs: []*source.Directory{
			{Users: []source.User{withAttr(user("e1", "ada@corp.example", "ada@x.example", "Ada"), "employeeId", "E-1")}},
			{Users: []source.User{
				withAttr(user("c7", "adelaide@contractor.example", "", "Adelaide"), "employeeId", "e-1"),
				user("c8", "bob@contractor.example", "ada@x.example", "Bob"),
			}},
		},
		users: "a/e1=ada@corp.example:Ada b/c8=bob@contractor.example:Bob",
	}} {
		t.Run(tt.name, func(t *testing.T) {
			src, got := read(t, tt.opts, tt.dirs...)
			if s := users(got); s != tt.users {
				t.Errorf("users:\n got %s\nwant %s", s, tt.users)
			}
			if tt.groups != "" {
				if s := groups(got); s != tt.groups {
					t.Errorf("groups:\n got %s\nwant %s", s, tt.groups)
				}
			}
			for id, want := range tt.ownerOf {
				if o := src.OwnerOf(id); o != want {
					t.Errorf("OwnerOf(%q) = %q, want %q", id, o, want)
				}
			}
			for _, id := range tt.wantAbsent {
				if o := src.OwnerOf(id); o != "" {
					t.Errorf("OwnerOf(%q) = %q, want \"\" (not in the merged directory)", id, o)
				}
			}
		})
	}
}

func withAttr(u source.User, k string, v any) source.User {
	u.Attributes = u.Attributes.With(k, v)
	return u
}

// TestOwnerAttributes checks that the merged user is the owner's, whole:
// emails, names, state and attributes, not a blend.
func TestOwnerAttributes(t *testing.T) {
	owner := withAttr(user("e1", "ada@example.com", "ada@example.com", "Ada"), "department", "R&D")
	owner.FamilyName, owner.DisplayName, owner.State = "Lovelace", "Ada Lovelace", source.StateSuspended
	other := withAttr(user("c7", "ada@example.com", "ada@contractor.example", "Adelaide"), "costCenter", "CC-9")
	other.FamilyName = "L."
	_, got := read(t, nil, &source.Directory{Users: []source.User{owner}}, &source.Directory{Users: []source.User{other}})
	if len(got.Users) != 1 {
		t.Fatalf("got %d users, want 1", len(got.Users))
	}
	want := owner.Clone()
	want.ID = "a/e1"
	if g := got.Users[0]; fmt.Sprint(g) != fmt.Sprint(want) {
		t.Errorf("merged user\n got %+v\nwant %+v", g, want)
	}
}

func TestManagerIsRenamed(t *testing.T) {
	a := &source.Directory{Users: []source.User{
		user("m", "boss@example.com", "", "Boss"),
		withAttr(user("e", "emp@example.com", "", "Emp"), "managerId", "m"),
		withAttr(user("o", "orphan@example.com", "", "Orphan"), "managerId", "gone"),
	}}
	b := &source.Directory{Users: []source.User{
		user("bm", "BOSS@example.com", "", "Boss at b"),
		withAttr(user("x", "x@example.com", "", "X"), "managerId", "bm"),
	}}
	_, got := read(t, nil, a, b)
	mgr := map[string]any{}
	for _, u := range got.Users {
		mgr[u.ID] = u.Attributes.Value("managerId")
	}
	want := map[string]any{"a/m": nil, "a/e": "a/m", "a/o": "a/gone", "b/x": "a/m"}
	if fmt.Sprint(mgr) != fmt.Sprint(want) {
		t.Errorf("managers = %v, want %v", mgr, want)
	}
}

func TestGroups(t *testing.T) {
	a := &source.Directory{
		Users: []source.User{user("1", "ada@example.com", "", "Ada"), user("2", "bob@example.com", "", "Bob")},
		Groups: []source.Group{
			{ID: "g1", DisplayName: "Engineering", Description: "from a", Members: []string{"1"}, MemberGroups: []string{"g2"}},
			group("g2", "Platform", "2"),
		},
	}
	b := &source.Directory{
		Users: []source.User{user("7", "ADA@example.com", "", "Ada at b"), user("8", "cy@example.com", "", "Cy")},
		Groups: []source.Group{
			{ID: "h1", DisplayName: "engineering", Description: "from b", Members: []string{"7", "8"}, MemberGroups: []string{"h2"}},
			group("h2", "Contractors", "8"),
		},
	}
	// One source holding a name twice: never merged.
	twice := &source.Directory{
		Users:  []source.User{user("9", "dee@example.com", "", "Dee")},
		Groups: []source.Group{group("k1", "Engineering", "9"), group("k2", "ENGINEERING")},
	}
	for _, tt := range []struct {
		name string
		opts []merge.Option
		dirs []*source.Directory
		want string
	}{{
		name: "default: both groups keep their name (the engine reports the clash)",
		dirs: []*source.Directory{a, b},
		want: "a/g1=Engineering[a/1]<[a/g2]> a/g2=Platform[a/2] b/h1=engineering[a/1 b/8]<[b/h2]> b/h2=Contractors[b/8]",
	}, {
		name: "separate, said so",
		opts: []merge.Option{merge.WithGroups(merge.GroupsSeparate)},
		dirs: []*source.Directory{a, b},
		want: "a/g1=Engineering[a/1]<[a/g2]> a/g2=Platform[a/2] b/h1=engineering[a/1 b/8]<[b/h2]> b/h2=Contractors[b/8]",
	}, {
		name: "namespaced with the default suffix",
		opts: []merge.Option{merge.WithGroups(merge.GroupsNamespace)},
		dirs: []*source.Directory{a, b},
		want: "a/g1=Engineering (a)[a/1]<[a/g2]> a/g2=Platform (a)[a/2] b/h1=engineering (b)[a/1 b/8]<[b/h2]> b/h2=Contractors (b)[b/8]",
	}, {
		name: "namespaced with a prefix",
		opts: []merge.Option{merge.WithGroups(merge.GroupsNamespace), merge.WithGroupFormat("{source}: {name}")},
		dirs: []*source.Directory{a, b},
		want: "a/g1=a: Engineering[a/1]<[a/g2]> a/g2=a: Platform[a/2] b/h1=b: engineering[a/1 b/8]<[b/h2]> b/h2=b: Contractors[b/8]",
	}, {
		name: "merged: one group, the first source's, members the union",
		opts: []merge.Option{merge.WithGroups(merge.GroupsMerge)},
		dirs: []*source.Directory{a, b},
		want: "a/g1=Engineering[a/1 b/8]<[a/g2 b/h2]> a/g2=Platform[a/2] b/h2=Contractors[b/8]",
	}, {
		name: "merged, but a source holds the name twice: nothing of that name merges",
		opts: []merge.Option{merge.WithGroups(merge.GroupsMerge)},
		dirs: []*source.Directory{a, twice},
		want: "a/g1=Engineering[a/1]<[a/g2]> a/g2=Platform[a/2] b/k1=Engineering[b/9] b/k2=ENGINEERING[]",
	}, {
		name: "merged, the name held twice by the later of three sources",
		opts: []merge.Option{merge.WithGroups(merge.GroupsMerge)},
		dirs: []*source.Directory{a, b, twice},
		want: "a/g1=Engineering[a/1]<[a/g2]> a/g2=Platform[a/2] b/h1=engineering[a/1 b/8]<[b/h2]> b/h2=Contractors[b/8] c/k1=Engineering[c/9] c/k2=ENGINEERING[]",
	}} {
		t.Run(tt.name, func(t *testing.T) {
			_, got := read(t, tt.opts, tt.dirs...)
			if s := groups(got); s != tt.want {
				t.Errorf("groups:\n got %s\nwant %s", s, tt.want)
			}
		})
	}
	// The merged group carries the owner's attributes.
	_, got := read(t, []merge.Option{merge.WithGroups(merge.GroupsMerge)}, a, b)
	for _, g := range got.Groups {
		if g.ID == "a/g1" && g.Description != "from a" {
			t.Errorf("merged group's description = %q, want the owner's", g.Description)
		}
	}
	// The sources' directories are left as they were.
	if a.Groups[0].Members[0] != "1" || b.Users[0].ID != "7" {
		t.Error("Read changed a member source's directory")
	}
}

// failing is a source whose reads fail.
type failing struct{ err error }

func (f failing) Name() string                                    { return "failing" }
func (f failing) Read(context.Context) (*source.Directory, error) { return nil, f.err }

// nothing returns neither a directory nor an error.
type nothing struct{}

func (nothing) Name() string                                    { return "nothing" }
func (nothing) Read(context.Context) (*source.Directory, error) { return nil, nil }

func TestReadFailures(t *testing.T) {
	good := file.FromDirectory(&source.Directory{Users: []source.User{user("1", "ada@example.com", "", "Ada")}})
	invalid := file.FromDirectory(nil)
	invalid.Set(&source.Directory{})
	cause := fmt.Errorf("graph: page 3: %w", source.ErrUnavailable)
	for _, tt := range []struct {
		name    string
		second  source.Source
		is      error
		message string
	}{
		{"unavailable", failing{cause}, source.ErrUnavailable, `source "b": graph: page 3: source: unavailable`},
		{"incomplete", failing{source.ErrIncomplete}, source.ErrIncomplete, `source "b": source: incomplete read`},
		{"no directory", nothing{}, source.ErrIncomplete, `source "b": source: incomplete read: returned no directory`},
		{"invalid", badDir{}, source.ErrInvalid, `source "b": user "1" (users[1]): id: duplicate of users[0]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src, err := merge.New([]merge.Member{{Name: "a", Source: good}, {Name: "b", Source: tt.second}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := src.Read(context.Background())
			if got != nil || err == nil {
				t.Fatalf("Read = %v, %v; want no directory and an error", got != nil, err)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %q does not match %v", err, tt.is)
			}
			if err.Error() != tt.message {
				t.Errorf("error %q, want %q", err, tt.message)
			}
			if o := src.OwnerOf("a/1"); o != "" {
				t.Errorf("after a failed read OwnerOf(a/1) = %q; no read succeeded", o)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	src, _ := merge.New([]merge.Member{{Name: "a", Source: good}})
	if got, err := src.Read(ctx); got != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a cancelled context = %v, %v", got != nil, err)
	}
}

// badDir returns a directory that fails Validate.
type badDir struct{}

func (badDir) Name() string { return "bad" }
func (badDir) Read(context.Context) (*source.Directory, error) {
	return &source.Directory{Users: []source.User{user("1", "x@example.com", "", "X"), user("1", "y@example.com", "", "Y")}}, nil
}

// A failed read keeps the owners of the last good one: the engine never
// sees the failed read.
func TestOwnerOfAfterFailure(t *testing.T) {
	flaky := &switchable{dir: &source.Directory{Users: []source.User{user("1", "ada@example.com", "", "Ada")}}}
	src, err := merge.New([]merge.Member{{Name: "a", Source: flaky}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	flaky.err = source.ErrUnavailable
	if _, err := src.Read(context.Background()); err == nil {
		t.Fatal("Read succeeded with a failing member")
	}
	if o := src.OwnerOf("a/1"); o != "a" {
		t.Errorf("OwnerOf(a/1) = %q after a failed read, want the last good read's %q", o, "a")
	}
}

type switchable struct {
	dir *source.Directory
	err error
}

func (s *switchable) Name() string { return "switchable" }
func (s *switchable) Read(context.Context) (*source.Directory, error) {
	if s.err != nil {
		return nil, s.err
	}
	return s.dir.Clone(), nil
}

func TestNew(t *testing.T) {
	src := file.FromDirectory(nil)
	m := func(names ...string) []merge.Member {
		var out []merge.Member
		for _, n := range names {
			out = append(out, merge.Member{Name: n, Source: src})
		}
		return out
	}
	for _, tt := range []struct {
		name    string
		members []merge.Member
		opts    []merge.Option
		err     string // "" for none
	}{
		{"one source", m("entra"), nil, ""},
		{"names with dots, dashes, underscores", m("entra-1", "g.workspace", "x_y"), nil, ""},
		{"none", nil, nil, "0 sources"},
		{"too many", m(strings.Fields(strings.Repeat("x ", merge.MaxMembers+1))...), nil, "65 sources: want 1 to 64"},
		{"empty name", m(""), nil, `source name ""`},
		{"slash in a name", m("a/b"), nil, `source name "a/b"`},
		{"space in a name", m("a b"), nil, `source name "a b"`},
		{"leading dash", m("-a"), nil, `source name "-a"`},
		{"duplicate ignoring case", m("entra", "Entra"), nil, `sources[1]: name "Entra": sources[0] has it too`},
		{"no source", []merge.Member{{Name: "a"}}, nil, "sources[0] (a): no source"},
		{"bad mode", m("a"), []merge.Option{merge.WithGroups("union")}, `group mode "union"`},
		{"format without source", m("a"), []merge.Option{merge.WithGroups(merge.GroupsNamespace), merge.WithGroupFormat("{name}")}, `group format "{name}"`},
		{"format ignored unless namespacing", m("a"), []merge.Option{merge.WithGroupFormat("{name}")}, ""},
		{"empty match attribute", m("a"), []merge.Option{merge.WithMatch("email", " ")}, "match[1]: empty"},
		{"retired", m("a"), []merge.Option{merge.WithRetired("b", "c")}, ""},
		{"retired and read", m("a", "b"), []merge.Option{merge.WithRetired("B")}, `retired[0]: name "B": sources[1] has it too`},
		{"retired twice", m("a"), []merge.Option{merge.WithRetired("b", "b")}, `retired[1]: name "b": retired[0] has it too`},
		{"retired bad name", m("a"), []merge.Option{merge.WithRetired("x y")}, `retired[0]: source name "x y"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := merge.New(tt.members, tt.opts...)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if !strings.HasPrefix(s.Name(), "merge:") {
					t.Errorf("Name() = %q", s.Name())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, source.ErrInvalid) {
				t.Errorf("New error = %v, want one matching source.ErrInvalid and saying %q", err, tt.err)
			}
		})
	}
	s, err := merge.New(m("entra", "google"), merge.WithName("corp"))
	if err != nil || s.Name() != "corp" || fmt.Sprint(s.Members()) != "[entra google]" {
		t.Errorf("WithName: %v, %v, %v", s, err, s.Members())
	}
	s, _ = merge.New(m("entra", "google"), merge.WithRetired("onelogin"))
	if fmt.Sprint(s.Members()) != "[entra google onelogin]" {
		t.Errorf("Members() = %v, want the members then the retired", s.Members())
	}
	if s.Name() != "merge:entra+google" {
		t.Errorf("default name %q", s.Name())
	}
}

func TestSplit(t *testing.T) {
	for _, tt := range []struct{ in, name, id string }{
		{"a/1", "a", "1"},
		{"entra/x/y", "entra", "x/y"},
		{"1", "", ""},
		{"/1", "", ""},
		{"a/", "", ""},
		{"a b/1", "", ""},
	} {
		name, id, ok := merge.Split(tt.in)
		if name != tt.name || id != tt.id || ok != (tt.name != "") {
			t.Errorf("Split(%q) = %q, %q, %v", tt.in, name, id, ok)
		}
		if ok && merge.ID(name, id) != tt.in {
			t.Errorf("ID(Split(%q)) = %q", tt.in, merge.ID(name, id))
		}
	}
}

func TestParseGroupMode(t *testing.T) {
	for in, want := range map[string]merge.GroupMode{"": merge.GroupsSeparate, "separate": merge.GroupsSeparate,
		"namespace": merge.GroupsNamespace, "merge": merge.GroupsMerge} {
		if got, err := merge.ParseGroupMode(in); err != nil || got != want {
			t.Errorf("ParseGroupMode(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := merge.ParseGroupMode("Merge"); !errors.Is(err, source.ErrInvalid) {
		t.Errorf("ParseGroupMode(Merge) = %v", err)
	}
}

type counting struct {
	source.Source
	n int64
}

func (c counting) RequestCount() int64 { return c.n }

func TestRequestCount(t *testing.T) {
	s, err := merge.New([]merge.Member{
		{Name: "a", Source: counting{file.FromDirectory(nil), 3}},
		{Name: "b", Source: file.FromDirectory(nil)},
		{Name: "c", Source: counting{file.FromDirectory(nil), 4}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := s.RequestCount(); n != 7 {
		t.Errorf("RequestCount = %d, want 7", n)
	}
}
