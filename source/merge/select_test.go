package merge_test

import (
	"context"
	"reflect"
	"strings"
	gosync "sync"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/merge"
)

// whole is a member that cannot select attributes: it hides its
// source's ReadAttributes.
type whole struct{ source.Source }

// asked is a selecting member that records the names it is asked for.
type asked struct {
	*file.Source
	mu    gosync.Mutex
	names [][]string
}

func (a *asked) ReadAttributes(ctx context.Context, names []string) (*source.Directory, error) {
	a.mu.Lock()
	a.names = append(a.names, append([]string(nil), names...))
	a.mu.Unlock()
	return a.Source.ReadAttributes(ctx, names)
}

func withAttrs(u source.User, m map[string]any) source.User {
	u.Attributes = source.NewAttrs(m)
	return u
}

// cut returns a copy of dir whose objects hold only the attributes named,
// ignoring case: the test's own filter.
func cut(dir *source.Directory, names []string) *source.Directory {
	out := dir.Clone()
	keep := func(a source.Attrs) source.Attrs {
		var b source.Attrs
		for k, v := range a.All() {
			for _, n := range names {
				if strings.EqualFold(k, n) {
					b = b.With(k, v)
					break
				}
			}
		}
		return b
	}
	for i := range out.Users {
		out.Users[i].Attributes = keep(out.Users[i].Attributes)
	}
	for i := range out.Groups {
		out.Groups[i].Attributes = keep(out.Groups[i].Attributes)
	}
	return out
}

// TestReadAttributes: whatever the members can select, a selecting read
// of the merged source is its Read with the merged objects' attributes
// cut to those named, people matched alike (by a match attribute the
// names leave out too), and the owners the same; a selecting member is
// asked for the names and the match attributes.
func TestReadAttributes(t *testing.T) {
	// Persons match across sources by employeeId only: their user names
	// and addresses differ. Managers are named by source ids.
	a := &source.Directory{
		Users: []source.User{
			withAttrs(user("a1", "ada@a.example", "ada@a.example", "Ada"), map[string]any{"employeeId": "E1", "department": "R&D", "licenses": []string{"x", "y"}}),
			withAttrs(user("a2", "bob@a.example", "bob@a.example", "Bob"), map[string]any{"employeeId": "E2", "managerId": "a1", "Office": "Paris"}),
		},
		Groups: []source.Group{{ID: "ga", DisplayName: "Eng", Members: []string{"a1", "a2"}, Attributes: source.NewAttrs(map[string]any{"type": "team"})}},
	}
	b := &source.Directory{
		Users: []source.User{
			withAttrs(user("b1", "ada@b.example", "ada@b.example", "Ada B"), map[string]any{"EmployeeID": "E1", "department": "Ops"}),
			withAttrs(user("b2", "cy@b.example", "cy@b.example", "Cy"), map[string]any{"EmployeeID": "E3", "managerId": "b1", "office": "Oslo"}),
		},
		Groups: []source.Group{{ID: "gb", DisplayName: "eng", Members: []string{"b1", "b2"}, Attributes: source.NewAttrs(map[string]any{"Type": "dept", "owner": "b1"})}},
	}
	c := &source.Directory{
		Users: []source.User{
			withAttrs(user("c1", "dan@c.example", "dan@c.example", "Dan"), map[string]any{"employeeId": "E2", "level": int64(3)}),
		},
	}
	nameSets := [][]string{nil, {}, {"nope"}, {"department"}, {"DEPARTMENT", "office"}, {"managerId"},
		{"employeeid"}, {"licenses", "TYPE"}, {"owner", "level", "email"},
		{"employeeId", "department", "managerId", "Office", "licenses", "type", "owner", "level"}}
	for _, opts := range [][]merge.Option{
		nil,
		{merge.WithMatch("employeeId")},
		{merge.WithMatch("EMPLOYEEID", "email"), merge.WithGroups(merge.GroupsMerge)},
		{merge.WithMatch("employeeId"), merge.WithGroups(merge.GroupsNamespace)},
	} {
		spy := &asked{Source: file.FromDirectory(c)}
		src, err := merge.New([]merge.Member{
			{Name: "a", Source: file.FromDirectory(a)},
			{Name: "b", Source: whole{file.FromDirectory(b)}},
			{Name: "c", Source: spy},
		}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		all, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		owners := map[string]string{}
		for _, u := range all.Users {
			owners[u.ID] = src.OwnerOf(u.ID)
		}
		for _, names := range nameSets {
			got, err := src.ReadAttributes(ctx, names)
			if err != nil {
				t.Fatalf("ReadAttributes(%q): %v", names, err)
			}
			if want := cut(all, names); !reflect.DeepEqual(got, want) {
				t.Errorf("%d options, ReadAttributes(%q):\n got %+v\nwant %+v", len(opts), names, got, want)
			}
			for id, owner := range owners {
				if o := src.OwnerOf(id); o != owner {
					t.Errorf("ReadAttributes(%q): OwnerOf(%s) = %q; Read's %q", names, id, o, owner)
				}
			}
		}
		if len(spy.names) != len(nameSets) {
			t.Fatalf("the selecting member was asked %d times; want %d", len(spy.names), len(nameSets))
		}
		for _, n := range spy.names {
			if len(opts) > 0 && !containsFold(n, "employeeId") {
				t.Errorf("the selecting member was asked for %q: not the match attribute employeeId", n)
			}
		}
	}
}

func containsFold(names []string, name string) bool {
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// TestReadAttributesRefusesAsRead: a member's bad attribute refuses the
// selecting read, as Read, whether or not it is kept and whether or not
// the member can select.
func TestReadAttributesRefusesAsRead(t *testing.T) {
	bad := &source.Directory{Users: []source.User{withAttrs(user("u1", "u@x", "", ""), map[string]any{"Mail": "a@x"})}}
	for name, member := range map[string]source.Source{
		"selecting": file.FromDirectory(bad),
		"whole":     whole{file.FromDirectory(bad)},
		"file":      file.FromBytes([]byte("users:\n  - id: u1\n    attributes: {Mail: a@x}\n"), file.FormatYAML),
	} {
		src, err := merge.New([]merge.Member{{Name: "a", Source: file.FromDirectory(nil)}, {Name: "b", Source: member}})
		if err != nil {
			t.Fatal(err)
		}
		_, want := src.Read(context.Background())
		if want == nil {
			t.Fatalf("%s: Read accepted the member's bad attribute", name)
		}
		for _, names := range [][]string{nil, {"department"}, {"mail"}} {
			if dir, err := src.ReadAttributes(context.Background(), names); err == nil || err.Error() != want.Error() {
				t.Errorf("%s: ReadAttributes(%q) = %v, %v; want Read's error %v", name, names, dir, err, want)
			}
		}
	}
}
