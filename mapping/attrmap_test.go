package mapping_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
)

func ada() *source.User {
	return &source.User{ID: "u1", UserName: "ada@contoso.com", GivenName: "Ada", FamilyName: "Lovelace",
		DisplayName: "Ada Lovelace", State: source.StateActive,
		Emails: []source.Email{{Value: "ada@contoso.com", Primary: true}},
		Attributes: source.NewAttrs(map[string]any{"department": "R&D", "employeeId": "E-1", "level": int64(3), "roles": []string{"admin", "user"},
			"ratio": 1.5, "hired": time.Date(2012, 3, 16, 7, 0, 0, 0, time.FixedZone("X", 3600)), "noRoles": []string{},
			// Types outside the attribute value types, which Validate
			// refuses but Map must still render as before.
			"odd": float32(1.1), "thing": struct{ X int }{7}})}
}

func TestDefaultMappingsMatchDefaultUser(t *testing.T) {
	m, err := mapping.CompileUserMappings(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []*source.User{ada(),
		{ID: "u2", UserName: "x@contoso.com", State: source.StateSuspended},
		{ID: "u3", Emails: []source.Email{{Value: "only@mail.com"}}, GivenName: "Only", State: source.StateDeleted},
		{ID: "u4", UserName: "noemail", FamilyName: "Solo"},
	} {
		want, werr := mapping.DefaultUser(u)
		got, gerr := m.Map(u)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%s: errors differ: %v vs %v", u.ID, werr, gerr)
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) || got.Event != want.Event {
			t.Errorf("%s:\n table   %+v\n default %+v", u.ID, got, want)
		}
	}
}

func TestAttributeMappings(t *testing.T) {
	base := []mapping.AttributeMapping{{Target: "userName", Type: mapping.Direct, Source: "userName"}}
	tests := []struct {
		name string
		row  mapping.AttributeMapping
		get  func(*scim.User) any
		want any
	}{
		{"direct", mapping.AttributeMapping{Target: "name.givenName", Type: mapping.Direct, Source: "givenName"},
			func(u *scim.User) any { return u.Name.GivenName }, "Ada"},
		{"constant", mapping.AttributeMapping{Target: "userType", Type: mapping.Constant, Value: "Employee"},
			func(u *scim.User) any { return u.UserType }, "Employee"},
		{"expression", mapping.AttributeMapping{Target: "displayName", Type: mapping.Expression, Expression: `Join(", ", [familyName], [givenName])`},
			func(u *scim.User) any { return u.DisplayName }, "Lovelace, Ada"},
		{"enterprise by short name", mapping.AttributeMapping{Target: "department", Type: mapping.Direct, Source: "department"},
			func(u *scim.User) any { return u.Enterprise.Department }, "R&D"},
		{"enterprise by urn", mapping.AttributeMapping{Target: scim.PathEmployeeNumber, Type: mapping.Direct, Source: "employeeId"},
			func(u *scim.User) any { return u.Enterprise.EmployeeNumber }, "E-1"},
		{"number to string", mapping.AttributeMapping{Target: "title", Type: mapping.Direct, Source: "level"},
			func(u *scim.User) any { return u.Title }, "3"},
		{"default when empty", mapping.AttributeMapping{Target: "title", Type: mapping.Direct, Source: "jobTitle", Default: "Staff"},
			func(u *scim.User) any { return u.Title }, "Staff"},
		{"empty without default", mapping.AttributeMapping{Target: "title", Type: mapping.Direct, Source: "jobTitle"},
			func(u *scim.User) any { return u.Title }, ""},
		{"IgnoreFlowIfNullOrEmpty", mapping.AttributeMapping{Target: "title", Type: mapping.Expression, Expression: `IgnoreFlowIfNullOrEmpty([jobTitle])`, Default: "never"},
			func(u *scim.User) any { return u.Title }, ""},
		{"entra email path", mapping.AttributeMapping{Target: `emails[type eq "work"].value`, Type: mapping.Direct, Source: "mail"},
			func(u *scim.User) any { return u.Emails[0].Value }, "ada@contoso.com"},
		{"active from an expression", mapping.AttributeMapping{Target: "active", Type: mapping.Expression, Expression: `Not([suspended])`},
			func(u *scim.User) any { return u.IsActive() }, true},
		{"list to emails", mapping.AttributeMapping{Target: "emails", Type: mapping.Direct, Source: "roles"},
			func(u *scim.User) any { return len(u.Emails) }, 2},
		{"list to a string takes the first", mapping.AttributeMapping{Target: "title", Type: mapping.Direct, Source: "roles"},
			func(u *scim.User) any { return u.Title }, "admin"},
		{"empty list takes the default", mapping.AttributeMapping{Target: "emails", Type: mapping.Direct, Source: "noRoles", Default: "d@x.io"},
			func(u *scim.User) any { return fmt.Sprint(u.Emails) }, "[{d@x.io  work true}]"},
		{"expression list to emails", mapping.AttributeMapping{Target: "emails", Type: mapping.Expression, Expression: `Split("a@x.io,b@x.io", ",")`},
			func(u *scim.User) any { return fmt.Sprint(u.Emails) }, "[{a@x.io  work true} {b@x.io  work false}]"},
		{"float to string", mapping.AttributeMapping{Target: "title", Type: mapping.Direct, Source: "ratio"},
			func(u *scim.User) any { return u.Title }, "1.5"},
		{"time to string", mapping.AttributeMapping{Target: "title", Type: mapping.Direct, Source: "hired"},
			func(u *scim.User) any { return u.Title }, "2012-03-16T06:00:00Z"},
		{"expression time to string", mapping.AttributeMapping{Target: "title", Type: mapping.Expression, Expression: `[hired]`},
			func(u *scim.User) any { return u.Title }, "2012-03-16T06:00:00Z"},
		{"zero time takes the default", mapping.AttributeMapping{Target: "title", Type: mapping.Direct, Source: "deletedAt", Default: "never"},
			func(u *scim.User) any { return u.Title }, "never"},
		{"bool to string", mapping.AttributeMapping{Target: "title", Type: mapping.Direct, Source: "suspended"},
			func(u *scim.User) any { return u.Title }, "false"},
		{"expression bool to string", mapping.AttributeMapping{Target: "title", Type: mapping.Expression, Expression: `IsPresent([department])`},
			func(u *scim.User) any { return u.Title }, "true"},
		{"expression number to string", mapping.AttributeMapping{Target: "title", Type: mapping.Expression, Expression: `Count([roles])`},
			func(u *scim.User) any { return u.Title }, "2"},
		{"float32 as fmt prints it", mapping.AttributeMapping{Target: "title", Type: mapping.Direct, Source: "odd"},
			func(u *scim.User) any { return u.Title }, "1.1"},
		{"struct as fmt prints it", mapping.AttributeMapping{Target: "title", Type: mapping.Direct, Source: "thing"},
			func(u *scim.User) any { return u.Title }, "{7}"},
		{"active from a string", mapping.AttributeMapping{Target: "active", Type: mapping.Constant, Value: " false "},
			func(u *scim.User) any { return u.IsActive() }, false},
		{"active from a direct string", mapping.AttributeMapping{Target: "active", Type: mapping.Direct, Source: "employeeId"},
			func(u *scim.User) any { return u.IsActive() }, "never: E-1 is no bool"},
		{"manager from a string", mapping.AttributeMapping{Target: "manager", Type: mapping.Direct, Source: "employeeId"},
			func(u *scim.User) any { return u.Enterprise.Manager.Value }, "E-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := mapping.CompileUserMappings(append(base[:1:1], tt.row))
			if err != nil {
				t.Fatal(err)
			}
			du, oerr := m.Map(ada())
			if strings.HasPrefix(fmt.Sprint(tt.want), "never: ") {
				if oerr == nil || oerr.SourceID != "u1" || oerr.Field != scim.PathActive {
					t.Fatalf("Map = %+v, %v; want an error on active", du.User, oerr)
				}
				return
			}
			if oerr != nil {
				t.Fatal(oerr)
			}
			if got := tt.get(&du.User); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestExpressionsSeeEmptyBuiltinsAsNull: an expression reads an empty
// built-in field as absent (null), as User.Attr has it, not as "".
func TestExpressionsSeeEmptyBuiltinsAsNull(t *testing.T) {
	m, err := mapping.CompileUserMappings([]mapping.AttributeMapping{
		{Target: "userName", Type: mapping.Direct, Source: "userName"},
		{Target: "title", Type: mapping.Expression, Expression: `Join(",", IsNull([familyName]), IsNull([surname]), IsNull([email]), IsNull([givenName]), IsNull([nickname]), IsNull([level]))`},
	})
	if err != nil {
		t.Fatal(err)
	}
	u := ada()
	u.FamilyName, u.Emails = "", nil
	du, oerr := m.Map(u)
	if oerr != nil {
		t.Fatal(oerr)
	}
	if want := "True,True,True,False,True,False"; du.User.Title != want {
		t.Errorf("title = %q, want %q", du.User.Title, want)
	}
}

func TestCreateOnlyAndEvents(t *testing.T) {
	m, err := mapping.CompileUserMappings([]mapping.AttributeMapping{
		{Target: "userName", Type: mapping.Direct, Source: "userName"},
		{Target: "title", Type: mapping.Constant, Value: "New hire", Apply: mapping.OnCreate},
	})
	if err != nil {
		t.Fatal(err)
	}
	u := ada()
	u.State, u.DeletedAt = source.StateDeleted, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	du, _ := m.Map(u)
	if len(du.CreateOnly) != 1 || du.CreateOnly[0] != scim.PathTitle || du.Event != mapping.EventDeleted || !du.Since.Equal(u.DeletedAt) {
		t.Fatalf("%+v", du)
	}
	if du.User.IsActive() {
		t.Error("a deleted user maps active")
	}
	if got := strings.Join(m.Managed(), ","); got != "userName,title,active" {
		t.Errorf("managed %s", got)
	}
}

func TestMappingErrors(t *testing.T) {
	tests := []struct {
		name string
		rows []mapping.AttributeMapping
		want []string
	}{
		{"unknown target", []mapping.AttributeMapping{{Target: "userName", Type: mapping.Direct, Source: "upn"}, {Target: "shoeSize", Type: mapping.Direct, Source: "x"}},
			[]string{`users[1].target: mapping: bad attribute mapping: "shoeSize"`}},
		{"duplicate, bad type, no source", []mapping.AttributeMapping{{Target: "userName", Type: mapping.Direct, Source: "upn"},
			{Target: "username", Type: mapping.Constant}, {Target: "title", Type: "magic"}, {Target: "nickName", Type: mapping.Direct}},
			[]string{"users[1].target", "already mapped by users[0]", `users[2].type: `, `"magic"`, "users[3].source"}},
		{"expression error with position", []mapping.AttributeMapping{{Target: "userName", Type: mapping.Expression, Expression: `Join(",", [a]`}},
			[]string{"users[0].expression", "1:14"}},
		{"no user name", []mapping.AttributeMapping{{Target: "title", Type: mapping.Constant, Value: "x"}}, []string{"userName must be mapped"}},
		{"bad apply", []mapping.AttributeMapping{{Target: "userName", Type: mapping.Direct, Source: "upn", Apply: "sometimes"}}, []string{"users[0].apply"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mapping.CompileUserMappings(tt.rows)
			if !errors.Is(err, mapping.ErrBadMapping) {
				t.Fatalf("%v is not ErrBadMapping", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
		})
	}
	// An evaluation error is the user's, naming the attribute.
	m, err := mapping.CompileUserMappings([]mapping.AttributeMapping{{Target: "userName", Type: mapping.Direct, Source: "userName"},
		{Target: "active", Type: mapping.Expression, Expression: `CBool([department])`}})
	if err != nil {
		t.Fatal(err)
	}
	if _, oerr := m.Map(ada()); oerr == nil || oerr.Field != scim.PathActive || oerr.SourceID != "u1" {
		t.Fatalf("evaluation error: %v", oerr)
	}
}
