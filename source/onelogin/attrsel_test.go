package onelogin_test

import (
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source/onelogin"
	"github.com/provsync/provsync/source/onelogin/onelogintest"
	"github.com/provsync/provsync/source/sourcetest"
)

// TestReadAttributes: for many name sets, ReadAttributes is Read with
// each user's and group's attributes cut to those named (ignoring case),
// and the profile requests ask only for the fields the typed fields need,
// those behind the attributes named and, when any name is given, the
// custom attributes. The fake honours fields as OneLogin does (only the
// fields named come back), so a field the selection forgets shows as a
// missing attribute; custom attributes whose short names collide with
// fixed attributes show whether the collision is decided as Read decides
// it.
func TestReadAttributes(t *testing.T) {
	srv, src := attrServer(t)
	srv.ResetRequests()
	full := read(t, src)
	if f := profileFields(t, srv); len(f) != 1 || f[0] != "" {
		t.Fatalf("Read asked for fields %q; want none", f)
	}
	all := sourcetest.AttributeNames(full)
	for _, want := range []string{"department", "custom_attributes.jobTitle", "custom_attributes.email", "custom_attributes.roleIds",
		"costCenter", "Region", "jobTitle", "roleIds", "roles", "kind", "updatedAt", "managerId", "directoryId", "groupName"} {
		if !slices.Contains(all, want) {
			t.Fatalf("the full read has no attribute %s (has %q): the test would prove nothing", want, all)
		}
	}
	if v := byName(t, full, "bob").Attributes.Value("department"); v != "Custom dept" {
		t.Fatalf("bob's department is %v; want the custom attribute's, which the test relies on", v)
	}

	type tc struct {
		names []string
		keeps bool // keeps an attribute of some object
	}
	cases := []tc{{nil, false}, {[]string{}, false}, {all, true},
		{[]string{"DEPARTMENT", "costcenter", "Kind"}, true},
		{[]string{"custom_attributes.jobTitle"}, true}, // needs title, though jobTitle is not kept
		{[]string{"custom_attributes.roleIds", "region"}, true},
		{[]string{"roles"}, true},
		{[]string{"shoeSize", "", "email", "userName", "custom_attributes.nothing"}, false},
		{[]string{"updatedAt", "UPDATEDAT"}, true},
		// The long s folds to s, as the mapping's name lookups fold it.
		{[]string{"roleſ", "coſtCenter"}, true},
	}
	for _, n := range all {
		cases = append(cases, tc{[]string{n}, true})
	}
	for _, c := range cases {
		names := c.names
		srv.ResetRequests()
		if kept := sourcetest.CheckReadAttributes(ctx(t), t, src, full, names); (kept > 0) != c.keeps {
			t.Errorf("%q: %d attributes kept; the case is wrong", names, kept)
		}
		fields := profileFields(t, srv)
		if len(fields) != 1 {
			t.Fatalf("%q: profile requests with fields %q; want one list", names, fields)
		}
		if gotF, wantF := sortedList(fields[0]), wantFields(names); !slices.Equal(gotF, wantF) {
			t.Errorf("%q: profiles read with fields=%s; want %s", names, strings.Join(gotF, ","), strings.Join(wantF, ","))
		}
	}
	// An incremental read is not narrowed.
	srv.ResetRequests()
	ch, err := src.ReadChanges(ctx(t), "")
	if err != nil {
		t.Fatal(err)
	}
	if f := profileFields(t, srv); len(f) != 1 || f[0] != "" || !reflect.DeepEqual(ch.Users, full.Users) {
		t.Errorf("ReadChanges after selected reads asked for fields %q", f)
	}
}

// attrServer is an account whose users carry every kind of attribute,
// custom attributes whose short names collide with fixed ones included,
// and the source over it, reading roles and groups.
func attrServer(t *testing.T) (*onelogintest.Server, *onelogin.Source) {
	srv := onelogintest.New(t)
	sales := srv.AddGroup(onelogintest.Group{Name: "Sales"})
	boss := srv.AddUser(person("boss", 1))
	dir := int64(12)
	ann := person("ann", 1)
	ann.Title, ann.Department, ann.Company, ann.Phone, ann.ExternalID, ann.SAMAccountName = "Engineer", "R&D", "Acme", "+1 555", "E-7", "ann"
	ann.ManagerUserID, ann.DirectoryID, ann.GroupID = &boss.ID, &dir, &sales.ID
	ann.CustomAttributes = map[string]string{"costCenter": "CC-1", "email": "shadow@example.com", "jobTitle": "Custom title", "roleIds": "r"}
	annID := srv.AddUser(ann).ID
	bob := person("bob", 2)
	bob.CustomAttributes = map[string]string{"department": "Custom dept", "Region": "EMEA", "company": ""}
	bobID := srv.AddUser(bob).ID
	srv.AssignApp(app, annID, boss.ID)
	users := srv.AddRole(onelogintest.Role{Name: "Netskope Users", Apps: []int64{app}})
	must(t, srv.SetRoleUsers(users.ID, bobID, annID))

	src := open(t, srv, func(c *onelogin.Config) { c.Groups = onelogin.GroupsRolesAndGroups })
	return srv, src
}

// TestReadAttributesMapsAlike: a rule mapping maps the directory
// ReadAttributes returns for the attributes its rules read as it maps the
// one Read returns.
func TestReadAttributesMapsAlike(t *testing.T) {
	_, src := attrServer(t)
	m, err := mapping.Rules{
		Users: append(mapping.DefaultUserMappings(),
			mapping.AttributeMapping{Target: scim.PathDepartment, Type: mapping.Direct, Source: "department"},
			mapping.AttributeMapping{Target: scim.PathCostCenter, Type: mapping.Direct, Source: "CostCenter"},
			mapping.AttributeMapping{Target: scim.PathTitle, Type: mapping.Expression,
				Expression: `Coalesce([custom_attributes.jobTitle], [jobTitle])`}),
		GroupRules: mapping.GroupRules{{Name: "by role", Actions: []mapping.GroupAction{{FromAttribute: "roles"}},
			Conditions: []mapping.Condition{{Attribute: "region", Operator: mapping.CondNotEquals, Value: "APAC"}}}},
	}.Compile()
	must(t, err)
	// The names the engine asks for: those the rules read.
	names, known := m.SourceAttributes()
	if !known || len(names) == 0 {
		t.Fatalf("the rules read attributes %q (known %v); want a known, non-empty list", names, known)
	}
	sel, err := src.ReadAttributes(ctx(t), names)
	must(t, err)
	want, err := m.Map(ctx(t), read(t, src))
	must(t, err)
	got, err := m.Map(ctx(t), sel)
	must(t, err)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mapped from the selected read:\n%+v\nfrom Read:\n%+v", got.Users, want.Users)
	}
	def, err := mapping.Default().Map(ctx(t), read(t, src))
	must(t, err)
	if reflect.DeepEqual(want.Users, def.Users) {
		t.Error("the rules map as the default mapping does; the test proves nothing")
	}
}

// wantFields are the profile fields a read keeping names asks for: the
// typed fields', each named fixed attribute's (or its custom namesake's),
// and the custom attributes when any name is given.
func wantFields(names []string) []string {
	out := []string{"id", "username", "email", "firstname", "lastname", "status", "state", "group_id"}
	behind := map[string]string{"department": "department", "jobtitle": "title", "company": "company", "phone": "phone",
		"samaccountname": "samaccountname", "externalid": "external_id", "managerid": "manager_user_id",
		"directoryid": "directory_id", "updatedat": "updated_at", "roleids": "role_ids", "roles": "role_ids"}
	for _, n := range names {
		n = strings.TrimPrefix(strings.ToLower(n), "custom_attributes.")
		for k, f := range behind {
			if strings.EqualFold(n, k) && !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	if len(names) > 0 {
		out = append(out, "custom_attributes")
	}
	slices.Sort(out)
	return out
}

// profileFields returns the distinct fields parameters of the profile
// requests (/api/2/users with user_ids) the server received.
func profileFields(t *testing.T, srv *onelogintest.Server) []string {
	t.Helper()
	var out []string
	for _, line := range srv.RequestLog() {
		route, raw, _ := strings.Cut(line, " ")
		q, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatalf("request %q: %v", line, err)
		}
		if route != onelogintest.RouteUsers || q.Get("user_ids") == "" {
			continue
		}
		if f := q.Get("fields"); !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

func sortedList(s string) []string {
	l := strings.Split(s, ",")
	slices.Sort(l)
	return l
}
