package scim_test

import (
	"errors"
	"testing"

	"github.com/provsync/provsync/scim"
)

func TestUserAttrsGetSet(t *testing.T) {
	tests := []struct {
		path string
		val  any
	}{
		{"userName", "a@x.io"},
		{"EXTERNALID", "src-1"},
		{"name.givenName", "Zoë"},
		{"name.familyName", "Núñez"},
		{"displayName", "Zoë Núñez"},
		{"title", "Engineer"},
		{"active", false},
		{"department", "R&D"},
		{"enterprise:employeeNumber", "E-7"},
		{scim.PathManager, "m-1"},
		{"emails", []scim.Email{{Value: "a@x.io", Primary: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			a, ok := scim.LookupUserAttr(tt.path)
			if !ok {
				t.Fatalf("no attribute %q", tt.path)
			}
			var empty scim.User
			switch got := a.Get(&empty).(type) {
			case string:
				if got != "" {
					t.Errorf("Get on an empty user = %q", got)
				}
			case []scim.Email:
				if got != nil {
					t.Errorf("Get on an empty user = %#v", got)
				}
			case bool:
				if !got {
					t.Errorf("active of an empty user = false, want true (absent counts as active)")
				}
			default:
				t.Errorf("Get returned %T", got)
			}
			if empty.Name != nil || empty.Enterprise != nil {
				t.Errorf("Get allocated on an empty user: %+v", empty)
			}
			var u scim.User
			if err := a.Set(&u, tt.val); err != nil {
				t.Fatal(err)
			}
			got := a.Get(&u)
			if e, ok := tt.val.([]scim.Email); ok {
				if g, _ := got.([]scim.Email); len(g) != 1 || g[0] != e[0] {
					t.Errorf("Get = %#v, want %#v", got, tt.val)
				}
				return
			}
			if got != tt.val {
				t.Errorf("Get = %#v, want %#v", got, tt.val)
			}
		})
	}
}

func TestUserAttrSetRejectsWrongTypes(t *testing.T) {
	for _, path := range []string{"userName", "active", "emails", "manager"} {
		a, _ := scim.LookupUserAttr(path)
		var u scim.User
		if err := a.Set(&u, 3.5); !errors.Is(err, scim.ErrInvalidValue) {
			t.Errorf("Set(%s, 3.5) = %v, want ErrInvalidValue", path, err)
		}
	}
	if _, ok := scim.LookupUserAttr("nosuch"); ok {
		t.Error("LookupUserAttr found an unknown attribute")
	}
}
