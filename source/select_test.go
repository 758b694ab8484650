package source_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/sourcetest"
	"github.com/provsync/provsync/source/synth"
)

// TestReadAttributesFrom: a directory read keeping some attributes is the
// directory ReadFrom reads, its objects holding only the attributes named
// (none for no names), and a corrupt encoding is refused as ReadFrom
// refuses it, attributes out of order included.
func TestReadAttributesFrom(t *testing.T) {
	dir := synth.Generate(synth.Config{Users: 200, Groups: 8, MembershipsPerUser: 2, Seed: 3})
	dir.Groups[0].Attributes = source.NewAttrs(map[string]any{"costCenter": "CC-1", "owner": "x"})
	enc, err := dir.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, names := range [][]string{nil, {synth.AttrDepartment}, {synth.AttrDepartment, synth.AttrHireDate, "costCenter", "absent"}} {
		var whole, got source.Directory
		if _, err := whole.ReadFrom(bytes.NewReader(enc)); err != nil {
			t.Fatal(err)
		}
		n, err := got.ReadAttributesFrom(bytes.NewReader(enc), names)
		if err != nil || n != int64(len(enc)) {
			t.Fatalf("%q: read %d of %d bytes: %v", names, n, len(enc), err)
		}
		want, kept := sourcetest.OnlyAttributes(&whole, names)
		if !reflect.DeepEqual(got.Users, want.Users) || !reflect.DeepEqual(got.Groups, want.Groups) {
			t.Errorf("%q: the directory read differs from the whole one with only those attributes", names)
		}
		if len(names) > 0 && kept == 0 {
			t.Errorf("%q: no attribute kept; the test keeps none", names)
		}
	}
	// A corrupt encoding fails alike: truncated, and with two attributes
	// out of order (the second of two names swapped in the table is
	// found only by the order check, whether or not it is kept).
	for _, bad := range [][]byte{enc[:len(enc)/2], swapNames(t, enc, synth.AttrCostCenter, synth.AttrDepartment)} {
		var d source.Directory
		_, errWhole := d.ReadFrom(bytes.NewReader(bad))
		_, errSel := d.ReadAttributesFrom(bytes.NewReader(bad), nil)
		if errWhole == nil || errSel == nil || !errors.Is(errSel, source.ErrInvalid) != !errors.Is(errWhole, source.ErrInvalid) {
			t.Errorf("corrupt encoding: ReadFrom %v, ReadAttributesFrom %v; want both to fail alike", errWhole, errSel)
		}
	}
}

// swapNames returns enc with the first occurrences of names a and b, of
// equal length, swapped: their objects' attribute names are then out of
// order.
func swapNames(t *testing.T, enc []byte, a, b string) []byte {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%q and %q differ in length", a, b)
	}
	out := bytes.Clone(enc)
	i, j := bytes.Index(out, []byte(a)), bytes.Index(out, []byte(b))
	if i < 0 || j < 0 {
		t.Fatalf("%q or %q not in the encoding", a, b)
	}
	copy(out[i:], b)
	copy(out[j:], a)
	return out
}

// TestReadAttributesFromIgnoresCase: a name kept under another spelling
// keeps the attribute under its own, as the mapping's lookups ignore case
// (strings.EqualFold, User.Attr): also a spelling that folds to the name
// but does not lower to it, with a long s (ſ) or a Kelvin sign (K).
func TestReadAttributesFromIgnoresCase(t *testing.T) {
	dir := &source.Directory{Users: []source.User{
		{ID: "u1", UserName: "a@example.com", Attributes: source.NewAttrs(map[string]any{"costCenter": "CC-1", "Office": "Paris", "team": "x"})},
		{ID: "u2", UserName: "b@example.com", Attributes: source.NewAttrs(map[string]any{"COSTCENTER": "CC-2"})},
		{ID: "u3", UserName: "c@example.com", Attributes: source.NewAttrs(map[string]any{"ſtatus": "on", "\u212aey": "k", "team": "y"})},
	}}
	for _, name := range []string{"Status", "key"} {
		if _, ok := dir.Users[2].Attr(name); !ok {
			t.Fatalf("User.Attr(%q) finds nothing; the test needs it to", name)
		}
	}
	enc, err := dir.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got source.Directory
	if _, err := got.ReadAttributesFrom(bytes.NewReader(enc), []string{"CostCenter", "office", "Status", "key"}); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{{"costCenter": "CC-1", "Office": "Paris"}, {"COSTCENTER": "CC-2"}, {"ſtatus": "on", "\u212aey": "k"}}
	for i, u := range got.Users {
		if m := u.Attributes.Map(); !reflect.DeepEqual(m, want[i]) {
			t.Errorf("user %s: attributes %v; want %v", u.ID, m, want[i])
		}
	}
}
