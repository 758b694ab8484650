package entra_test

import (
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source/entra"
	"github.com/provsync/provsync/source/entra/graphtest"
	"github.com/provsync/provsync/source/sourcetest"
)

// fieldProps are the user properties a read needs whatever attributes it
// keeps: the typed fields' and the guest's UPN.
var fieldProps = []string{"id", "userPrincipalName", "mail", "otherMails", "givenName", "surname", "displayName", "accountEnabled"}

// TestReadAttributes: for many name sets, ReadAttributes is Read with
// each user's attributes cut to those named (ignoring case), in both
// scopes, and Graph is asked only for the user properties the typed
// fields need and those a name asks for. The fake tenant honours $select
// as Graph does (department, employeeId, userType and the extra
// properties come only when selected), so a property the selection
// forgets to ask for shows as a missing attribute.
func TestReadAttributes(t *testing.T) {
	tn, extras := attrTenant(t)
	for _, scope := range []entra.Scope{entra.ScopeAssigned, entra.ScopeAll} {
		t.Run(string(scope), func(t *testing.T) {
			s := tn.open(func(c *entra.Config) { c.Scope, c.UserAttributes = scope, extras })
			tn.srv.ResetStats()
			full := read(t, s)
			fullSel := userSelects(t, tn.srv)
			if len(fullSel) != 1 {
				t.Fatalf("Read asked for users with %d $select lists, want one: %q", len(fullSel), fullSel)
			}
			all := sourcetest.AttributeNames(full)
			for _, want := range []string{"department", "employeeId", "jobTitle", "userType", "originalUserPrincipalName",
				"city", "extension_0a1b2c_costCenter", "onPremisesImmutableId", "onPremisesExtensionAttributes.extensionAttribute2"} {
				if !slices.Contains(all, want) {
					t.Fatalf("the full read has no attribute %s (has %q): the test would prove nothing", want, all)
				}
			}
			type tc struct {
				names []string
				keeps bool // keeps an attribute of some user
			}
			cases := []tc{{nil, false}, {[]string{}, false}, {all, true},
				{[]string{"DEPARTMENT", "City", "onpremisesextensionattributes.EXTENSIONATTRIBUTE1"}, true},
				{[]string{"extension_0a1b2c_costCenter", "onPremisesImmutableId"}, true},
				{[]string{"employeeHireDate", "showInAddressList", "userType"}, true},
				{[]string{"onPremisesExtensionAttributes"}, false}, // the object: only its fields are attributes
				{[]string{"country", "shoeSize", "department.x", "", "mail", "displayName", "extension_ffff_other"}, false},
				{[]string{"jobTitle", "jobtitle", "JOBTITLE"}, true},
				// The long s folds to s, as the mapping's name lookups fold it.
				{[]string{"uſerType", "extenſion_0a1b2c_costCenter"}, true},
			}
			for _, n := range all {
				cases = append(cases, tc{[]string{n}, true})
			}
			for _, c := range cases {
				names := c.names
				tn.srv.ResetStats()
				if kept := sourcetest.CheckReadAttributes(ctx(t), t, s, full, names); (kept > 0) != c.keeps {
					t.Errorf("%q: %d attributes kept; the case is wrong", names, kept)
				}
				sels := userSelects(t, tn.srv)
				var wantSel []string
				for _, p := range fullSel[0] {
					if slices.Contains(fieldProps, p) || asks(names, p) {
						wantSel = append(wantSel, p)
					}
				}
				for _, sel := range sels {
					if !slices.Equal(sel, wantSel) {
						t.Errorf("%q: users read with $select=%s; want %s", names, strings.Join(sel, ","), strings.Join(wantSel, ","))
					}
				}
				if len(sels) == 0 {
					t.Errorf("%q: no user request seen", names)
				}
			}
		})
	}
}

// attrTenant is a tenant whose users carry every kind of attribute:
// select-only properties, extension and object-valued properties, a
// guest, users assigned directly and through a group, and one out of
// scope. It returns the extra properties to configure.
func attrTenant(t *testing.T) (*tenant, []string) {
	tn := newTenant(t)
	guest := tn.user("bob.smith_fabrikam.com#EXT#@contoso.onmicrosoft.com", func(u *graphtest.User) {
		u.UserType, u.OtherMails, u.Department = "Guest", []string{"bob@elsewhere.example"}, "Partners"
	})
	rich := tn.user("rich@contoso.com", func(u *graphtest.User) {
		u.Disabled, u.EmployeeID, u.Department, u.JobTitle = true, "E-42", "R&D", "Engineer"
		u.Extra = map[string]any{
			"city": "Zürich", "extension_0a1b2c_costCenter": "CC-7", "showInAddressList": false,
			"employeeHireDate":              "2021-03-01T00:00:00Z",
			"onPremisesImmutableId":         "aW1tdXRhYmxl",
			"onPremisesExtensionAttributes": map[string]any{"extensionAttribute1": "blue", "extensionAttribute2": "green"},
		}
	})
	plain := tn.user("plain@contoso.com", func(u *graphtest.User) { u.JobTitle = "Clerk" })
	member := tn.user("member@contoso.com", func(u *graphtest.User) {
		u.EmployeeID = "E-7"
		u.Extra = map[string]any{"city": "Lyon", "onPremisesExtensionAttributes": map[string]any{"extensionAttribute1": "red"}}
	})
	tn.user("outside@contoso.com", func(u *graphtest.User) { u.Department = "Elsewhere" })
	tn.assign(tn.group("Engineering", rich, member))
	for _, id := range []string{guest, plain} {
		tn.assign(id)
	}
	return tn, []string{"city", "extension_0a1b2c_costCenter", "employeeHireDate", "showInAddressList",
		"onPremisesExtensionAttributes", "onPremisesImmutableId", "country"}
}

// TestReadAttributesMapsAlike: a rule mapping maps the directory
// ReadAttributes returns for the attributes its rules read as it maps the
// one Read returns, in both scopes.
func TestReadAttributesMapsAlike(t *testing.T) {
	tn, extras := attrTenant(t)
	m, err := mapping.Rules{
		Users: append(mapping.DefaultUserMappings(),
			mapping.AttributeMapping{Target: scim.PathDepartment, Type: mapping.Direct, Source: "Department"},
			mapping.AttributeMapping{Target: scim.PathCostCenter, Type: mapping.Direct, Source: "extension_0a1b2c_costCenter"},
			mapping.AttributeMapping{Target: scim.PathTitle, Type: mapping.Expression,
				Expression: `Coalesce([jobTitle], [onPremisesExtensionAttributes.extensionAttribute1])`}),
		GroupRules: mapping.GroupRules{{Name: "zurich", Actions: []mapping.GroupAction{{SetGroup: "Zurich"}},
			Conditions: []mapping.Condition{{Attribute: "city", Operator: mapping.CondEquals, Value: "zürich"}}}},
	}.Compile()
	must(t, err)
	// The names the engine asks for: those the rules read.
	names, known := m.SourceAttributes()
	if !known || len(names) == 0 {
		t.Fatalf("the rules read attributes %q (known %v); want a known, non-empty list", names, known)
	}
	for _, scope := range []entra.Scope{entra.ScopeAssigned, entra.ScopeAll} {
		s := tn.open(func(c *entra.Config) { c.Scope, c.UserAttributes = scope, extras })
		sel, err := s.ReadAttributes(ctx(t), names)
		must(t, err)
		want, err := m.Map(ctx(t), read(t, s))
		must(t, err)
		got, err := m.Map(ctx(t), sel)
		must(t, err)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: mapped from the selected read:\n%+v\nfrom Read:\n%+v", scope, got.Users, want.Users)
		}
		if fmt.Sprint(want.Users) == fmt.Sprint(mapOf(t, s)) {
			t.Errorf("%s: the rules map as the default mapping does; the test proves nothing", scope)
		}
	}
}

// mapOf maps s's Read with the default mapping.
func mapOf(t *testing.T, s *entra.Source) []mapping.DesiredUser {
	d, err := mapping.Default().Map(ctx(t), read(t, s))
	must(t, err)
	return d.Users
}

// TestReadAttributesLeavesDeltaWhole: a selected read does not narrow
// the delta links an incremental read starts from: ReadChanges after it
// still reports a change to an attribute no selection named.
func TestReadAttributesLeavesDeltaWhole(t *testing.T) {
	tn := newTenant(t)
	id := tn.user("ada@contoso.com", func(u *graphtest.User) { u.Department = "R&D" })
	tn.assign(id)
	s := tn.open()
	full, err := s.ReadChanges(ctx(t), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadAttributes(ctx(t), []string{"jobTitle"}); err != nil {
		t.Fatal(err)
	}
	must(t, tn.srv.UpdateUser(id, func(u *graphtest.User) { u.Department = "Sales" }))
	ch, err := s.ReadChanges(ctx(t), full.Cursor)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Users) != 1 || ch.Users[0].Attributes.Value("department") != "Sales" {
		t.Errorf("changes after a selected read: %+v; want ada with department Sales", ch.Users)
	}
}

// userSelects returns the distinct $select lists of the requests that
// read users, in order.
func userSelects(t *testing.T, srv *graphtest.Server) [][]string {
	t.Helper()
	var out [][]string
	for _, line := range srv.RequestLog() {
		route, rest, _ := strings.Cut(line, " ")
		switch route {
		case graphtest.RouteUsers, graphtest.RouteUser, graphtest.RouteMembers, graphtest.RouteTransitiveMembers:
		case graphtest.RouteUsersDelta:
			t.Errorf("a full read sent %s", line)
			continue
		default:
			continue
		}
		_, target, _ := strings.Cut(rest, " ")
		u, err := url.Parse(target)
		if err != nil {
			t.Fatalf("request %q: %v", line, err)
		}
		raw := u.Query().Get("$select")
		if raw == "" {
			t.Errorf("users read without $select: %s", line)
			continue
		}
		sel := strings.Split(raw, ",")
		if !slices.ContainsFunc(out, func(o []string) bool { return slices.Equal(o, sel) }) {
			out = append(out, sel)
		}
	}
	return out
}

// asks reports whether a name asks for property p: p's own attribute, or
// one of its fields "p.field", ignoring case.
func asks(names []string, p string) bool {
	return slices.ContainsFunc(names, func(n string) bool {
		return strings.EqualFold(n, p) || (len(n) > len(p) && n[len(p)] == '.' && strings.EqualFold(n[:len(p)], p))
	})
}
