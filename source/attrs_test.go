package source_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/provsync/provsync/source"
)

func TestAttrs(t *testing.T) {
	m := map[string]any{"site": "Oslo", "level": int64(3), "Dept": "R&D", "tags": []string{"a", "b"}}
	a := source.NewAttrs(m)
	if a.Len() != 4 {
		t.Fatalf("Len = %d, want 4", a.Len())
	}
	if got, want := a.Names(), []string{"Dept", "level", "site", "tags"}; !slices.Equal(got, want) {
		t.Errorf("Names = %q, want %q (sorted)", got, want)
	}
	var order []string
	for k, v := range a.All() {
		order = append(order, k)
		if !reflect.DeepEqual(v, m[k]) {
			t.Errorf("All yields %s = %v, want %v", k, v, m[k])
		}
	}
	if !slices.IsSorted(order) || len(order) != 4 {
		t.Errorf("All yields %q, want every name in order", order)
	}
	if !reflect.DeepEqual(a.Map(), m) {
		t.Errorf("Map = %v, want %v", a.Map(), m)
	}
	// Formatted as the map it holds, within a struct too.
	if got, want := fmt.Sprintf("%v", a), fmt.Sprintf("%v", m); got != want {
		t.Errorf("formatted as %s, want %s", got, want)
	}
	if got, want := fmt.Sprintf("%v", source.User{Attributes: a}), fmt.Sprintf("%v}", m); !strings.HasSuffix(got, want) {
		t.Errorf("a user formatted as %s, want it to end with %s", got, want)
	}
	tests := []struct {
		name string
		want any
		ok   bool
	}{
		{"level", int64(3), true},
		{"Dept", "R&D", true},
		{"dept", nil, false}, // Get is exact; User.Attr ignores case
		{"", nil, false},
		{"zzz", nil, false},
	}
	for _, tt := range tests {
		if v, ok := a.Get(tt.name); ok != tt.ok || !reflect.DeepEqual(v, tt.want) {
			t.Errorf("Get(%q) = %v, %v; want %v, %v", tt.name, v, ok, tt.want, tt.ok)
		}
		if v := a.Value(tt.name); !reflect.DeepEqual(v, tt.want) {
			t.Errorf("Value(%q) = %v, want %v", tt.name, v, tt.want)
		}
	}

	// With and Without leave the original as it was.
	b := a.With("site", "Bergen").With("cost", "CC-1")
	c := a.Without("level").Without("absent")
	if a.Value("site") != "Oslo" || a.Len() != 4 {
		t.Errorf("With changed the original: site %v, %d attributes", a.Value("site"), a.Len())
	}
	if b.Value("site") != "Bergen" || b.Value("cost") != "CC-1" || b.Len() != 5 || !slices.IsSorted(b.Names()) {
		t.Errorf("With: %v", b.Map())
	}
	if _, ok := c.Get("level"); ok || c.Len() != 3 || !slices.IsSorted(c.Names()) {
		t.Errorf("Without(level): %v", c.Map())
	}
	if one := source.NewAttrs(map[string]any{"x": 1}).Without("x"); !reflect.DeepEqual(one, source.Attrs{}) {
		t.Errorf("Without the only attribute = %+v, want the zero Attrs", one)
	}

	// No attributes: the zero value, however made.
	for name, z := range map[string]source.Attrs{"nil map": source.NewAttrs(nil), "empty map": source.NewAttrs(map[string]any{}), "zero": {}} {
		if z.Len() != 0 || z.Map() != nil || z.Names() != nil || !reflect.DeepEqual(z, source.Attrs{}) {
			t.Errorf("%s: Len %d, Map %v; want none and the zero Attrs", name, z.Len(), z.Map())
		}
		if _, ok := z.Get("x"); ok {
			t.Errorf("%s: Get found an attribute", name)
		}
	}
}

// TestAttrsCloneCopiesLists: a cloned user's list values are its own.
func TestAttrsCloneCopiesLists(t *testing.T) {
	u := source.User{ID: "u1", Attributes: source.NewAttrs(map[string]any{"tags": []string{"a"}})}
	c := u.Clone()
	c.Attributes.Value("tags").([]string)[0] = "changed"
	if got := u.Attributes.Value("tags").([]string)[0]; got != "a" {
		t.Errorf("changing a clone's list changed the original's to %q", got)
	}
}

// TestDirectoryBinarySharesAttributeNames: users with the same attribute
// names share one list of them once decoded, and a With on one user's
// attributes changes no other user's.
func TestDirectoryBinarySharesAttributeNames(t *testing.T) {
	d := &source.Directory{}
	for _, id := range []string{"u1", "u2", "u3"} {
		d.Users = append(d.Users, source.User{ID: id, UserName: id + "@example.com",
			Attributes: source.NewAttrs(map[string]any{"department": "Sales", "employeeId": "E-" + id})})
	}
	d.Users[2].Attributes = d.Users[2].Attributes.With("extra", true)
	decodeEach(t, mustMarshal(t, d), d, func(t *testing.T, _ func([]byte) (*source.Directory, error), got *source.Directory) {
		n0, n1, n2 := got.Users[0].Attributes.Names(), got.Users[1].Attributes.Names(), got.Users[2].Attributes.Names()
		if unsafe.SliceData(n0) != unsafe.SliceData(n1) {
			t.Error("two users with the same attribute names hold a list each")
		}
		if unsafe.SliceData(n0) == unsafe.SliceData(n2) {
			t.Error("users with different attribute names share a list")
		}
		changed := got.Users[0].Attributes.With("aaa", 1).With("department", "R&D")
		if got.Users[1].Attributes.Len() != 2 || got.Users[1].Attributes.Value("department") != "Sales" || changed.Len() != 3 {
			t.Errorf("a With on user 1's attributes changed user 2's: %v", got.Users[1].Attributes.Map())
		}
	})
}

// TestDirectoryBinaryRefusesUnorderedNames: an encoding whose attribute
// names are not in strictly increasing order (which MarshalBinary never
// writes) is refused, not decoded to a set Get cannot search.
func TestDirectoryBinaryRefusesUnorderedNames(t *testing.T) {
	shared := func(b []byte, s string) []byte { // a string written the first time
		b = binary.AppendUvarint(b, 0)
		b = binary.AppendUvarint(b, uint64(len(s)))
		return append(b, s...)
	}
	user := func(names ...string) []byte {
		b := binary.AppendUvarint([]byte("provsync directory 2\n"), 1)
		for _, s := range []string{"u1", "u1@example.com"} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
		b = shared(shared(b, ""), "")                    // given and family names
		b = append(b, 0, 0, byte(source.StateActive), 0) // display name, no emails, state, no deletion
		b = binary.AppendUvarint(b, uint64(len(names)))
		for i, n := range names {
			if i > 0 && n == names[i-1] {
				b = binary.AppendUvarint(b, uint64(i)) // the name before, numbered i
			} else {
				b = shared(b, n)
			}
			b = append(b, 'b', 1) // a bool, true
		}
		return binary.AppendUvarint(b, 0) // no groups
	}
	if d, err := decode(user("a", "b")); err != nil || d.Users[0].Attributes.Len() != 2 {
		t.Fatalf("decoding names in order = %v", err)
	}
	for _, names := range [][]string{{"b", "a"}, {"a", "a"}} {
		for _, dec := range decoders {
			_, err := dec.decode(user(names...))
			if !errors.Is(err, source.ErrInvalid) || !strings.Contains(err.Error(), "out of order") {
				t.Errorf("%s: names %q = %v, want source.ErrInvalid naming the order", dec.name, names, err)
			}
		}
	}
}
