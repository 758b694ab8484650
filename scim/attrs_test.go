package scim_test

import (
	"errors"
	"reflect"
	"strings"
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

func TestLookupUserAttrSpellings(t *testing.T) {
	tests := []struct {
		path, want string
	}{
		{"userName", scim.PathUserName},
		{"USERNAME", scim.PathUserName},
		{"Name.GivenName", scim.PathGivenName},
		{"department", scim.PathDepartment},
		{"Department", scim.PathDepartment},
		{"enterprise:department", scim.PathDepartment},
		{"ENTERPRISE:Department", scim.PathDepartment},
		{"enterpri\u017fe:department", scim.PathDepartment}, // ſ folds to s, as strings.EqualFold has it
		{scim.SchemaEnterpriseUser + ":manager", scim.PathManager},
		{"enterprise:userName", ""}, // core attributes have no enterprise: form
		{"enterprise:", ""},
		{"enterprise", ""},
		{"", ""},
		{"user", ""},
	}
	for _, tt := range tests {
		a, ok := scim.LookupUserAttr(tt.path)
		if ok != (tt.want != "") || a.Path != tt.want {
			t.Errorf("LookupUserAttr(%q) = %q, %v; want %q", tt.path, a.Path, ok, tt.want)
		}
	}
}

func TestUserAttrsIsTheCallersCopy(t *testing.T) {
	attrs := scim.UserAttrs()
	for i := range attrs {
		attrs[i] = scim.UserAttr{Path: "x"}
	}
	if a, ok := scim.LookupUserAttr("title"); !ok || a.Path != scim.PathTitle {
		t.Fatalf("LookupUserAttr(title) = %q, %v after a caller changed its UserAttrs", a.Path, ok)
	}
	if got := scim.UserAttrs()[0].Path; got != scim.PathUserName {
		t.Errorf("UserAttrs()[0] = %q after a caller changed its copy", got)
	}
}

// TestLookupUserAttrDoesNotAllocate: the engine looks up every managed
// attribute of every user it compares, so a lookup must not rebuild the
// table.
func TestLookupUserAttrDoesNotAllocate(t *testing.T) {
	paths := []string{"userName", "enterprise:department", "manager", "nosuch"}
	if n := testing.AllocsPerRun(100, func() {
		for _, p := range paths {
			scim.LookupUserAttr(p)
		}
	}); n != 0 {
		t.Errorf("LookupUserAttr allocates %.0f times for %d lookups", n, len(paths))
	}
}

// BenchmarkLookupUserAttr looks up the attributes the default mapping
// manages and an enterprise one by its short name:
//
//	go test ./scim -run '^$' -bench LookupUserAttr -benchmem
func BenchmarkLookupUserAttr(b *testing.B) {
	paths := []string{scim.PathUserName, scim.PathExternalID, scim.PathDisplayName, scim.PathGivenName,
		scim.PathFamilyName, scim.PathActive, scim.PathEmails, "enterprise:department"}
	b.ReportAllocs()
	for range b.N {
		for _, p := range paths {
			if _, ok := scim.LookupUserAttr(p); !ok {
				b.Fatalf("no attribute %q", p)
			}
		}
	}
}

// TestSetStringIsSet: SetString writes every attribute as Set does with
// the same string, and refuses what Set refuses.
func TestSetStringIsSet(t *testing.T) {
	for _, a := range scim.UserAttrs() {
		for _, s := range []string{"v-1", ""} {
			var viaSet, viaSetString scim.User
			errSet := a.Set(&viaSet, s)
			errStr := a.SetString(&viaSetString, s)
			if errors.Is(errSet, scim.ErrInvalidValue) != errors.Is(errStr, scim.ErrInvalidValue) || (errSet == nil) != (errStr == nil) {
				t.Errorf("%s %q: Set error %v, SetString error %v", a.Path, s, errSet, errStr)
			}
			if !reflect.DeepEqual(viaSet, viaSetString) {
				t.Errorf("%s %q: SetString wrote %+v, Set %+v", a.Path, s, viaSetString, viaSet)
			}
		}
	}
}

func TestSetStringDoesNotBoxStrings(t *testing.T) {
	a, _ := scim.LookupUserAttr(scim.PathDisplayName)
	u := &scim.User{}
	name := strings.Repeat("x", 20)
	if n := testing.AllocsPerRun(100, func() { _ = a.SetString(u, name) }); n != 0 {
		t.Errorf("SetString(displayName) allocates %.0f times", n)
	}
	if u.DisplayName != name {
		t.Errorf("displayName = %q", u.DisplayName)
	}
}

// TestGetStringIsGet: GetString reads every attribute as Get does, for
// a user that has it and for one that has nothing, and changes neither.
func TestGetStringIsGet(t *testing.T) {
	full := func() *scim.User {
		u := &scim.User{}
		for _, a := range scim.UserAttrs() {
			_ = a.SetString(u, "v-"+a.Path)
		}
		u.Active = scim.Bool(false)
		return u
	}
	for _, u := range []*scim.User{full(), {}} {
		before := *u
		for _, a := range scim.UserAttrs() {
			want, wantOK := a.Get(u).(string)
			got, ok := a.GetString(u)
			if got != want || ok != wantOK {
				t.Errorf("%s: GetString = %q, %v; Get = %#v", a.Path, got, ok, a.Get(u))
			}
		}
		if !reflect.DeepEqual(before, *u) {
			t.Errorf("GetString changed the user: %+v", *u)
		}
	}
	a, _ := scim.LookupUserAttr("department")
	u := full()
	if n := testing.AllocsPerRun(100, func() { _, _ = a.GetString(u) }); n != 0 {
		t.Errorf("GetString(department) allocates %.0f times", n)
	}
}
