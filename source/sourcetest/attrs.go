package sourcetest

import (
	"slices"
	"strings"

	"github.com/provsync/provsync/source"
)

// OnlyAttributes returns a copy of dir whose users and groups hold only
// the attributes named, matched ignoring case as
// source.Directory.ReadAttributesFrom matches them: what a
// source.AttributeSelector's ReadAttributes(names) returns when its Read
// returns dir. It also returns how many attributes it kept, so that a
// test can tell a case that keeps nothing. dir is not changed.
func OnlyAttributes(dir *source.Directory, names []string) (*source.Directory, int) {
	keep := make(map[string]bool, len(names))
	for _, n := range names {
		keep[strings.ToLower(n)] = true
	}
	kept := 0
	only := func(a source.Attrs) source.Attrs {
		var b source.Attrs
		for n, v := range a.All() {
			if keep[strings.ToLower(n)] {
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
