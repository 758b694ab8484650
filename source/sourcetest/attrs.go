package sourcetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/provsync/provsync/source"
)

// OnlyAttributes returns a copy of dir whose users and groups hold only
// the attributes named, matched ignoring case as
// source.Directory.ReadAttributesFrom matches them: what a
// source.AttributeSelector's ReadAttributes(names) returns when its Read
// returns dir. It also returns how many attributes it kept, so that a
// test can tell a case that keeps nothing. dir is not changed.
func OnlyAttributes(dir *source.Directory, names []string) (*source.Directory, int) {
	// Names match as the mapping's lookups match them (strings.EqualFold),
	// compared one by one rather than through a folded index, so that the
	// expected result does not share the adapters' folding.
	keeps := func(n string) bool {
		return slices.ContainsFunc(names, func(k string) bool { return strings.EqualFold(k, n) })
	}
	kept := 0
	only := func(a source.Attrs) source.Attrs {
		var b source.Attrs
		for n, v := range a.All() {
			if keeps(n) {
				b = b.With(n, v)
				kept++
			}
		}
		return b
	}
	out := &source.Directory{Users: slices.Clone(dir.Users), Groups: slices.Clone(dir.Groups)}
	for i := range out.Users {
		out.Users[i].Attributes = only(out.Users[i].Attributes)
	}
	for i := range out.Groups {
		out.Groups[i].Attributes = only(out.Groups[i].Attributes)
	}
	return out, kept
}

// AttributeNames returns the names of the attributes dir's users and
// groups hold, sorted, each once: the names a test of ReadAttributes
// tries one by one.
func AttributeNames(dir *source.Directory) []string {
	var out []string
	add := func(a source.Attrs) {
		for _, n := range a.Names() {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	for _, u := range dir.Users {
		add(u.Attributes)
	}
	for _, g := range dir.Groups {
		add(g.Attributes)
	}
	slices.Sort(out)
	return out
}

// CheckReadAttributes calls sel.ReadAttributes(names) and reports, as
// errors of t, a failure, an invalid directory, or a directory other than
// full, sel's Read, with only the attributes named (OnlyAttributes). It
// returns how many attributes the read should keep.
func CheckReadAttributes(ctx context.Context, t testing.TB, sel source.AttributeSelector, full *source.Directory, names []string) int {
	t.Helper()
	got, err := sel.ReadAttributes(ctx, names)
	if err != nil {
		t.Errorf("%q: ReadAttributes: %v", names, err)
		return 0
	}
	if err := got.Validate(); err != nil {
		t.Errorf("%q: invalid directory: %v", names, err)
	}
	want, kept := OnlyAttributes(full, names)
	if !reflect.DeepEqual(got.Users, want.Users) || !reflect.DeepEqual(got.Groups, want.Groups) {
		t.Errorf("%q: the selected read differs from Read with only those attributes:\n got %v\nwant %v",
			names, dirString(got), dirString(want))
	}
	return kept
}

// dirString renders dir's objects with their attributes, one a line.
func dirString(dir *source.Directory) string {
	var b strings.Builder
	for _, u := range dir.Users {
		fmt.Fprintf(&b, "\n  user %s %s %v", u.ID, u.UserName, u.Attributes)
	}
	for _, g := range dir.Groups {
		fmt.Fprintf(&b, "\n  group %s %s %v", g.ID, g.DisplayName, g.Attributes)
	}
	return b.String()
}
