package mapping_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source/synth"
)

// TestMapReleasingMapsAsMapWith: a ReleasingMapper maps a directory to
// exactly what MapWith makes of a copy, warnings included (they test
// whether any user has an attribute, so they must be found before the
// attributes go), and leaves no user of its directory with attributes or
// emails, and no group with its members (handed over to the mapped
// groups); the copy MapWith mapped keeps them.
func TestMapReleasingMapsAsMapWith(t *testing.T) {
	rules := benchRules()
	// A condition on an attribute no user has is warned about; one on an
	// attribute every user has (department) is not, unless it was
	// looked for after the attributes were dropped.
	rules.GroupRules = append(rules.GroupRules, mapping.GroupRule{Name: "misspelt",
		Conditions: []mapping.Condition{{Attribute: "departmnet", Operator: mapping.CondEquals, Value: "Sales"}},
		Actions:    []mapping.GroupAction{{SetGroup: "Sales"}}})
	rm, err := rules.Compile()
	if err != nil {
		t.Fatal(err)
	}
	ent := mapping.Entitlements{Groups: []string{"Contractors"}}
	tests := []struct {
		name string
		m    mapping.ReleasingMapper
		want func(*testing.T, *mapping.Desired)
	}{
		{name: "default mapping", m: mapping.Default()},
		{name: "rules", m: rm, want: func(t *testing.T, d *mapping.Desired) {
			if len(d.Warnings) != 1 {
				t.Errorf("warnings = %q, want the one on departmnet", d.Warnings)
			}
			if len(d.Groups) < 3 {
				t.Errorf("%d groups mapped; the rules on attributes make some", len(d.Groups))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := synth.Generate(synth.Config{Users: 500, Groups: 10, MembershipsPerUser: 2, Seed: 13, SuspendedFraction: 0.1})
			kept := dir.Clone()
			var want *mapping.Desired
			if em, ok := tt.m.(mapping.EntitlementMapper); ok {
				want, err = em.MapWith(context.Background(), kept, ent)
			} else {
				want, err = tt.m.Map(context.Background(), kept)
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := tt.m.MapReleasing(context.Background(), dir, ent)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("MapReleasing and MapWith differ:\n got %d users, %d groups, warnings %q\nwant %d users, %d groups, warnings %q",
					len(got.Users), len(got.Groups), got.Warnings, len(want.Users), len(want.Groups), want.Warnings)
			}
			if tt.want != nil {
				tt.want(t, got)
			}
			for i := range dir.Users {
				if u := &dir.Users[i]; u.Attributes.Len() != 0 || u.Emails != nil || u.ID != kept.Users[i].ID {
					t.Fatalf("user %d after MapReleasing: id %q, %d attributes, %d emails; want its id and neither", i, u.ID, u.Attributes.Len(), len(u.Emails))
				}
			}
			for i := range dir.Groups {
				if dir.Groups[i].Members != nil {
					t.Fatalf("group %s keeps its %d members after MapReleasing; want them handed over", dir.Groups[i].ID, len(dir.Groups[i].Members))
				}
			}
			if kept.Users[0].Attributes.Len() == 0 || len(kept.Users[0].Emails) == 0 || len(kept.Groups[0].Members) == 0 {
				t.Errorf("MapWith dropped the attributes, emails or members of the directory it mapped")
			}
		})
	}
}
