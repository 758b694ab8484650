package source_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/provsync/provsync/source"
)

// TestAttrFilter: a filter keeps the attributes named, ignoring case,
// under their own spelling; none for no names.
func TestAttrFilter(t *testing.T) {
	a := source.NewAttrs(map[string]any{"costCenter": "CC-1", "Office": "Paris", "licenses": []string{"a", "b"}, "level": int64(3)})
	tests := []struct {
		names []string
		want  map[string]any
	}{
		{nil, nil},
		{[]string{}, nil},
		{[]string{"nope"}, nil},
		{[]string{"COSTCENTER"}, map[string]any{"costCenter": "CC-1"}},
		{[]string{"office", "Licenses", "x"}, map[string]any{"Office": "Paris", "licenses": []string{"a", "b"}}},
		{[]string{"level", "office", "costcenter", "licenses"}, a.Map()},
	}
	for _, tt := range tests {
		f := source.NewAttrFilter(tt.names)
		for range 2 { // the second time from the spellings remembered
			if got := f.Filter(a).Map(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%q: Filter = %v; want %v", tt.names, got, tt.want)
			}
		}
		d := &source.Directory{Users: []source.User{{ID: "u", Attributes: a}}, Groups: []source.Group{{ID: "g", Attributes: a}}}
		f.Select(d)
		if got := d.Users[0].Attributes.Map(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: Select kept %v on the user; want %v", tt.names, got, tt.want)
		}
		if got := d.Groups[0].Attributes.Map(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: Select kept %v on the group; want %v", tt.names, got, tt.want)
		}
	}
}

// TestAttrsValid: UserAttrsValid and GroupAttrsValid agree with Validate
// on a user's and a group's attributes.
func TestAttrsValid(t *testing.T) {
	for _, m := range []map[string]any{
		nil,
		{"department": "R&D", "level": int64(3)},
		{"": "x"},
		{" ": "x"},
		{"mail": "a@x"},
		{"Members": "x"},
		{"dept": "a", "DEPT": "b"},
		{"x": strings.Repeat("a", source.MaxValueBytes+1)},
		{"x": make([]string, source.MaxListItems+1)},
		{"x": 3},
		{"x": map[string]any{}},
	} {
		a := source.NewAttrs(m)
		user := (&source.Directory{Users: []source.User{{ID: "u", Attributes: a}}}).Validate() == nil
		group := (&source.Directory{Groups: []source.Group{{ID: "g", Attributes: a}}}).Validate() == nil
		if source.UserAttrsValid(a) != user || source.GroupAttrsValid(a) != group {
			t.Errorf("%v: UserAttrsValid %v, GroupAttrsValid %v; Validate says %v, %v",
				m, source.UserAttrsValid(a), source.GroupAttrsValid(a), user, group)
		}
	}
}
