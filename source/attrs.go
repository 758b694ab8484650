package source

import (
	"fmt"
	"iter"
	"maps"
	"slices"
	"sort"
	"strings"
	"unicode"
)

// Attrs are a user's or group's other attributes, by name: an immutable
// set, compact in memory (its names in one sorted list, which the binary
// decoder shares between the objects that have the same names, and its
// values in another), since a directory holds one per user. The zero
// value has no attribute. Build one with NewAttrs or With.
//
// Values are one of: string, bool, int64, float64, []string or time.Time
// (Directory.Validate reports anything else). A value read from Attrs must
// not be modified: a []string may be shared with other users.
type Attrs struct{ s *attrSet }

// attrSet is a non-empty Attrs: behind a pointer, so that a User whose
// attributes the mapping has dropped holds only that pointer's word.
type attrSet struct {
	names []string // sorted, no duplicates
	vals  []any    // by the position of their name
}

// makeAttrs returns the Attrs of names and vals (of equal length).
func makeAttrs(names []string, vals []any) Attrs {
	if len(names) == 0 {
		return Attrs{}
	}
	return Attrs{&attrSet{names: names, vals: vals}}
}

// parts returns a's names and values; nil for none.
func (a Attrs) parts() ([]string, []any) {
	if a.s == nil {
		return nil, nil
	}
	return a.s.names, a.s.vals
}

// NewAttrs returns the attributes of m; the zero Attrs when m is empty.
func NewAttrs(m map[string]any) Attrs {
	if len(m) == 0 {
		return Attrs{}
	}
	names := slices.Sorted(maps.Keys(m))
	vals := make([]any, len(names))
	for i, k := range names {
		vals[i] = m[k]
	}
	return makeAttrs(names, vals)
}

// Len returns the number of attributes.
func (a Attrs) Len() int {
	names, _ := a.parts()
	return len(names)
}

// Get returns the value of the attribute called exactly name, and whether
// there is one. (User.Attr and Group.Attr also find names ignoring case.)
func (a Attrs) Get(name string) (any, bool) {
	names, vals := a.parts()
	if i, ok := slices.BinarySearch(names, name); ok {
		return vals[i], true
	}
	return nil, false
}

// Value returns the value of the attribute called exactly name, nil if
// there is none.
func (a Attrs) Value(name string) any {
	v, _ := a.Get(name)
	return v
}

// All yields every attribute in name order.
func (a Attrs) All() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		names, vals := a.parts()
		for i, k := range names {
			if !yield(k, vals[i]) {
				return
			}
		}
	}
}

// Names returns the attributes' names in order. The slice must not be
// modified.
func (a Attrs) Names() []string {
	names, _ := a.parts()
	return names
}

// Map returns the attributes as a new map; nil when there are none.
func (a Attrs) Map() map[string]any {
	names, vals := a.parts()
	if len(names) == 0 {
		return nil
	}
	m := make(map[string]any, len(names))
	for i, k := range names {
		m[k] = vals[i]
	}
	return m
}

// String formats a as fmt formats a map: map[name:value ...], in name
// order.
func (a Attrs) String() string {
	var b strings.Builder
	b.WriteString("map[")
	for k, v := range a.All() {
		if b.Len() > len("map[") {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%v", k, v)
	}
	b.WriteByte(']')
	return b.String()
}

// With returns a copy of a with the attribute name set to v; a itself is
// not changed.
func (a Attrs) With(name string, v any) Attrs {
	names, vals := a.parts()
	i, found := slices.BinarySearch(names, name)
	if found {
		vals = slices.Clone(vals)
		vals[i] = v
		return makeAttrs(names, vals)
	}
	return makeAttrs(slices.Insert(slices.Clip(names), i, name), slices.Insert(slices.Clip(vals), i, v))
}

// Without returns a copy of a without the attribute called exactly name.
func (a Attrs) Without(name string) Attrs {
	names, vals := a.parts()
	i, found := slices.BinarySearch(names, name)
	if !found {
		return a
	}
	return makeAttrs(slices.Delete(slices.Clone(names), i, i+1), slices.Delete(slices.Clone(vals), i, i+1))
}

// lookup finds name, exactly first, then ignoring case. When several
// names match ignoring case (which Validate reports), the smallest wins.
func (a Attrs) lookup(name string) (any, bool) {
	if v, ok := a.Get(name); ok {
		return v, true
	}
	names, vals := a.parts()
	for i, k := range names { // in order: the first match is the smallest
		if strings.EqualFold(k, name) {
			return vals[i], true
		}
	}
	return nil, false
}

// FoldName maps each rune of s to the least of the runes it equals in
// any case, so that two names have the same key exactly when
// strings.EqualFold holds of them, as attribute lookups ignoring case
// compare names (strings.ToLower does not: "ſ" and "S" fold together
// but lower apart).
func FoldName(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}

// clone copies a's values, including []string ones.
func (a Attrs) clone() Attrs {
	names, vals := a.parts()
	if len(names) == 0 {
		return Attrs{}
	}
	c := make([]any, len(vals))
	for i, v := range vals {
		if s, ok := v.([]string); ok {
			v = append([]string(nil), s...)
		}
		c[i] = v
	}
	return makeAttrs(names, c)
}

// sortedByFold returns a's names sorted ignoring case, then exactly.
func (a Attrs) sortedByFold() []string {
	keys := slices.Clone(a.Names())
	sort.Slice(keys, func(x, y int) bool {
		lx, ly := strings.ToLower(keys[x]), strings.ToLower(keys[y])
		if lx != ly {
			return lx < ly
		}
		return keys[x] < keys[y]
	})
	return keys
}
