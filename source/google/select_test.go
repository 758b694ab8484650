package google_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/google"
	"github.com/provsync/provsync/source/google/directorytest"
)

// userAttrs are every built-in attribute the source sets on users, and
// the users.list field each comes from ("" for none beyond the fields
// every read asks for).
var userAttrs = map[string]string{
	"orgUnitPath": "", "isAdmin": "isAdmin", "aliases": "aliases",
	"jobTitle": "organizations", "department": "organizations", "costCenter": "organizations", "employeeType": "organizations",
	"employeeId": "externalIds", "externalIds": "externalIds",
	"managerEmail": "relations", "managerId": "relations",
	"workPhone": "phones", "mobilePhone": "phones",
	"creationTime": "creationTime", "lastLoginTime": "lastLoginTime",
}

// customAttrs are the custom schema attributes seedSelect sets.
var customAttrs = []string{"Netskope.tier", "Netskope.seats", "Netskope.regions", "HR.level", "Other.x"}

// baseFields are the user fields every read asks for.
var baseFields = []string{"id", "primaryEmail", "name", "suspended", "archived", "orgUnitPath", "emails", "deletionTime"}

// seedSelect fills srv with users carrying every attribute, in two
// organizational units, with every state, and groups with aliases, a
// nested group and a CUSTOMER member.
func seedSelect(t *testing.T, srv *directorytest.Server) {
	t.Helper()
	boss := srv.AddUser(user("boss", inOU("/Sales"), func(u *admin.User) {
		u.Phones = []any{map[string]any{"value": "+1 555 0111", "type": "mobile"}}
		u.CustomSchemas = map[string]googleapi.RawMessage{"HR": googleapi.RawMessage(`{"level":7}`)}
	}))
	var ids []string
	for i, ou := range []string{"/Sales", "/Sales/EMEA", "/Engineering", "/Sales", "/Engineering"} {
		u := srv.AddUser(user(fmt.Sprintf("u%d", i), inOU(ou), func(u *admin.User) {
			u.IsAdmin = i == 0
			u.Aliases = []string{fmt.Sprintf("alias%d@example.com", i)}
			u.Emails = []any{map[string]any{"address": fmt.Sprintf("u%d@example.net", i), "type": "home"}}
			u.Organizations = []any{map[string]any{"title": "T" + fmt.Sprint(i), "department": "D" + fmt.Sprint(i%2),
				"costCenter": "CC", "description": "Full time", "primary": true}}
			u.ExternalIds = []any{map[string]any{"value": fmt.Sprint("E-", i), "type": "organization"}}
			u.Relations = []any{map[string]any{"value": boss.PrimaryEmail, "type": "manager"}}
			if i == 3 {
				u.Relations = []any{map[string]any{"value": "gone@example.com", "type": "manager"}}
			}
			u.Phones = []any{map[string]any{"value": "+1 555 010" + fmt.Sprint(i), "type": "work"}}
			u.LastLoginTime = "2026-11-30T08:00:00.000Z"
			u.Suspended = i == 2
			u.CustomSchemas = map[string]googleapi.RawMessage{
				"Netskope": googleapi.RawMessage(fmt.Sprintf(`{"tier":"gold","seats":%d,"regions":[{"type":"work","value":"EU"}]}`, i)),
				"Other":    googleapi.RawMessage(`{"x":"y"}`),
			}
		}))
		ids = append(ids, u.Id)
	}
	srv.AddUser(user("arch", inOU("/Sales"), func(u *admin.User) { u.Archived = true; u.Organizations = []any{map[string]any{"department": "X"}} }))
	gone := srv.AddUser(user("gone", inOU("/Sales"), func(u *admin.User) {
		u.Organizations = []any{map[string]any{"department": "Left"}}
	}))
	must(t, srv.DeleteUser(gone.Id, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)))

	sales := srv.AddGroup(admin.Group{Email: "sales@example.com", Name: "Sales", Description: "Sellers", Aliases: []string{"sellers@example.com"}})
	eng := srv.AddGroup(admin.Group{Email: "eng@example.com", Name: "Eng"})
	all := srv.AddGroup(admin.Group{Email: "all@example.com", Name: "All", Aliases: []string{"everyone@example.com"}})
	must(t, srv.AddMembers(sales.Id, boss.Id, ids[0], ids[1], ids[3]))
	must(t, srv.AddMembers(eng.Id, ids[2], ids[4], sales.Id))
	must(t, srv.AddCustomerMember(all.Id))
}

// filtered returns dir with its objects' attributes kept only where
// names names them, ignoring case, sorted like normalize.
func filtered(dir *source.Directory, names []string) *source.Directory {
	keep := func(a source.Attrs) source.Attrs {
		m := map[string]any{}
		for k, v := range a.All() {
			if slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, k) }) {
				m[k] = v
			}
		}
		return source.NewAttrs(m)
	}
	out := &source.Directory{Users: slices.Clone(dir.Users), Groups: slices.Clone(dir.Groups)}
	for i := range out.Users {
		out.Users[i].Attributes = keep(out.Users[i].Attributes)
	}
	for i := range out.Groups {
		out.Groups[i].Attributes = keep(out.Groups[i].Attributes)
	}
	return normalize(out)
}

// normalize orders users, groups and members by id: listings by
// organizational unit run concurrently.
func normalize(dir *source.Directory) *source.Directory {
	slices.SortFunc(dir.Users, func(a, b source.User) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(dir.Groups, func(a, b source.Group) int { return strings.Compare(a.ID, b.ID) })
	for i := range dir.Groups {
		dir.Groups[i].Members = slices.Sorted(slices.Values(dir.Groups[i].Members))
	}
	return dir
}

// maskFields returns the fields a users.list or groups.list request
// asked for inside key(...), and whether the mask kept nextPageToken.
func maskFields(t *testing.T, q url.Values, key string) ([]string, bool) {
	t.Helper()
	fields := q.Get("fields")
	head, rest, ok := strings.Cut(fields, key+"(")
	if !ok || !strings.HasSuffix(rest, ")") {
		t.Fatalf("fields %q: no %s(...)", fields, key)
	}
	return slices.Sorted(slices.Values(strings.Split(strings.TrimSuffix(rest, ")"), ","))), head == "nextPageToken,"
}

// selectCase is one ReadAttributes call: the names, and for the default
// configuration the user fields beyond baseFields and the custom schemas
// the request must ask for (nil: not checked).
type selectCase struct {
	name    string
	names   []string
	extra   []string
	schemas []string
}

func selectCases() []selectCase {
	cases := []selectCase{
		{"nil", nil, []string{}, []string{}},
		{"empty", []string{}, []string{}, []string{}},
		{"unknown names", []string{"nope", "Netskope.nope", "Other.x", "Unknown.field", ".", ""}, []string{"customSchemas"}, []string{"Netskope"}},
		{"mixed case", []string{"DEPARTMENT", "managerid", "netskope.TIER", "hr.Level"}, []string{"organizations", "relations", "customSchemas"}, []string{"Netskope", "HR"}},
		{"group attributes", []string{"customerMember", "aliases"}, []string{"aliases"}, []string{}},
		{"manager id alone", []string{"managerId"}, []string{"relations"}, []string{}},
		{"manager both", []string{"managerId", "managerEmail"}, []string{"relations"}, []string{}},
	}
	for name, field := range userAttrs {
		extra := []string{}
		if field != "" {
			extra = []string{field}
		}
		cases = append(cases, selectCase{"user " + name, []string{name}, extra, []string{}})
	}
	for _, name := range customAttrs {
		schema, _, _ := strings.Cut(name, ".")
		c := selectCase{"custom " + name, []string{name}, []string{"customSchemas"}, []string{schema}}
		if schema == "Other" { // not in Config.CustomSchemas: never read
			c.extra, c.schemas = []string{}, []string{}
		}
		cases = append(cases, c)
	}
	every := []string{"customerMember"}
	for name := range userAttrs {
		every = append(every, name)
	}
	every = append(every, customAttrs...)
	cases = append(cases, selectCase{"every attribute", every, nil, []string{"Netskope", "HR"}})
	rng := rand.New(rand.NewPCG(13, 1))
	for i := range 24 {
		var names []string
		for _, n := range every {
			if rng.IntN(3) == 0 {
				switch rng.IntN(3) {
				case 0:
					n = strings.ToUpper(n)
				case 1:
					n = strings.ToLower(n)
				}
				names = append(names, n)
			}
		}
		cases = append(cases, selectCase{name: fmt.Sprintf("random %d", i), names: names})
	}
	return cases
}

// TestReadAttributes: for many name sets and configurations, a selected
// read is the full read with each object's attributes filtered to the
// names, and the users.list and groups.list requests ask for only the
// fields and custom schemas behind them. The fake server answers only
// the fields asked for, so a field missing from a request's mask is an
// attribute missing from the read.
func TestReadAttributes(t *testing.T) {
	srv := directorytest.New(t)
	seedSelect(t, srv)
	configs := []struct {
		name string
		edit func(*google.Config)
	}{
		{"default", func(c *google.Config) { c.CustomSchemas = []string{"Netskope", "HR"} }},
		{"every schema", func(c *google.Config) { c.CustomSchemas = []string{"*"} }},
		{"no schemas, org units", func(c *google.Config) { c.OrgUnits = []string{"/Sales", "/Engineering"}; c.ExcludeSubUnits = true }},
		{"scope group, flattened", func(c *google.Config) {
			c.ScopeGroups, c.FlattenNested, c.CustomSchemas = []string{"eng@example.com"}, true, []string{"HR"}
		}},
		{"named groups by alias", func(c *google.Config) {
			c.Groups, c.Named, c.CustomSchemas = google.GroupsNamed, []string{"everyone@example.com", "sellers@example.com"}, []string{"Netskope"}
		}},
	}
	for _, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			src := open(t, srv, cfg.edit)
			full := read(t, src)
			if cfg.name == "default" && (len(full.Users) != 7 || len(full.Groups) != 3) {
				t.Fatalf("full read: %d users and %d groups, want 7 and 3", len(full.Users), len(full.Groups))
			}
			for _, tc := range selectCases() {
				t.Run(tc.name, func(t *testing.T) {
					srv.ResetRequests()
					got, err := src.ReadAttributes(context.Background(), tc.names)
					if err != nil {
						t.Fatal(err)
					}
					want := filtered(full, tc.names)
					if got = normalize(got); !reflect.DeepEqual(got, want) {
						t.Fatalf("ReadAttributes(%q) differs from the filtered Read:\n got %+v\nwant %+v", tc.names, got, want)
					}
					checkRequests(t, srv, cfg.name, tc)
				})
			}
		})
	}
}

// checkRequests checks the users.list and groups.list requests of one
// selected read: every mask keeps nextPageToken and asks for no more
// than the read needs.
func checkRequests(t *testing.T, srv *directorytest.Server, config string, tc selectCase) {
	t.Helper()
	users := srv.Queries(directorytest.RouteUsers)
	if len(users) == 0 {
		t.Fatal("no users.list request")
	}
	for _, q := range users {
		fields, token := maskFields(t, q, "users")
		if !token {
			t.Errorf("users.list fields %q: no nextPageToken", q.Get("fields"))
		}
		for _, f := range fields {
			if !slices.Contains(baseFields, f) && !slices.ContainsFunc(tc.names, func(n string) bool {
				return userAttrs[findFold(n)] == f || (f == "customSchemas" && strings.Contains(n, "."))
			}) {
				t.Errorf("users.list asks for %s, which no name %q needs", f, tc.names)
			}
		}
		if q.Get("projection") == "basic" && q.Get("customFieldMask") != "" {
			t.Errorf("customFieldMask %q with projection basic", q.Get("customFieldMask"))
		}
		if config != "default" || tc.extra == nil {
			continue
		}
		if want := slices.Sorted(slices.Values(append(slices.Clone(baseFields), tc.extra...))); !slices.Equal(fields, want) {
			t.Errorf("users.list fields %v, want %v", fields, want)
		}
		schemas := []string{}
		if m := q.Get("customFieldMask"); m != "" {
			schemas = strings.Split(m, ",")
		}
		wantProj := "basic"
		if len(tc.schemas) > 0 {
			wantProj = "custom"
		}
		if !slices.Equal(schemas, tc.schemas) || q.Get("projection") != wantProj {
			t.Errorf("projection %q, customFieldMask %v; want %s and %v", q.Get("projection"), schemas, wantProj, tc.schemas)
		}
	}
	for _, q := range srv.Queries(directorytest.RouteGroups) {
		fields, token := maskFields(t, q, "groups")
		if !token {
			t.Errorf("groups.list fields %q: no nextPageToken", q.Get("fields"))
		}
		aliases := slices.ContainsFunc(tc.names, func(n string) bool { return strings.EqualFold(n, "aliases") })
		if config == "default" && slices.Contains(fields, "aliases") != aliases {
			t.Errorf("groups.list fields %v with names %q", fields, tc.names)
		}
	}
}

// findFold returns the userAttrs key equal to name ignoring case.
func findFold(name string) string {
	for k := range userAttrs {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return ""
}

// TestFakePartialResponse: the fake server leaves out of a users.list
// response every field the mask does not name and every custom schema
// the projection does not ask for, and refuses a mask naming a field
// that does not exist, as Google does; so a field the source forgets to
// ask for goes missing in the tests too.
func TestFakePartialResponse(t *testing.T) {
	srv := directorytest.New(t)
	seedSelect(t, srv)
	svc, err := admin.NewService(context.Background(), option.WithEndpoint(srv.Endpoint()),
		option.WithHTTPClient(&http.Client{Transport: &oauth2.Transport{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: srv.Token()})}}))
	must(t, err)
	list := func(fields, projection, mask string) (*admin.Users, error) {
		c := svc.Users.List().Customer("my_customer").MaxResults(2).Fields(googleapi.Field(fields)).Projection(projection)
		if mask != "" {
			c.CustomFieldMask(mask)
		}
		return c.Do()
	}
	r, err := list("nextPageToken,users(id,name/givenName,customSchemas)", "custom", "Other")
	must(t, err)
	if r.NextPageToken == "" || len(r.Users) != 2 || r.Kind != "" {
		t.Fatalf("page: token %q, %d users, kind %q", r.NextPageToken, len(r.Users), r.Kind)
	}
	for _, u := range r.Users {
		if u.Id == "" || u.PrimaryEmail != "" || u.Name == nil || u.Name.GivenName == "" || u.Name.FamilyName != "" || u.Organizations != nil {
			t.Errorf("user %+v: want id and name.givenName only", u)
		}
		if _, ok := u.CustomSchemas["Netskope"]; ok {
			t.Errorf("user %s: schema Netskope, not in customFieldMask", u.Id)
		}
	}
	r, err = list("users(id,customSchemas)", "basic", "")
	must(t, err)
	if r.NextPageToken != "" {
		t.Error("nextPageToken sent although the mask leaves it out")
	}
	for _, u := range r.Users {
		if u.CustomSchemas != nil {
			t.Errorf("user %s: custom schemas with projection basic", u.Id)
		}
	}
	for _, bad := range []string{"nextPageToken,users(id,department)", "users(name(nickname))", "users(id", "nope"} {
		if _, err := list(bad, "basic", ""); err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("fields %q: %v, want 400", bad, err)
		}
	}
}

// TestMappingOverSelectedRead: every mapping that says which attributes
// it reads maps a selected read of them to what it maps the full read
// to, so the engine's selected read never blanks a mapped attribute.
func TestMappingOverSelectedRead(t *testing.T) {
	srv := directorytest.New(t)
	seedSelect(t, srv)
	src := open(t, srv, func(c *google.Config) { c.CustomSchemas = []string{"Netskope", "HR"} })
	full := read(t, src)
	for _, m := range []mapping.AttributeReader{mapping.DefaultMapper{}} {
		t.Run(fmt.Sprintf("%T", m), func(t *testing.T) {
			names, known := m.SourceAttributes()
			if !known {
				t.Skip("the mapping cannot say which attributes it reads")
			}
			sel, err := src.ReadAttributes(context.Background(), names)
			must(t, err)
			want, err := m.Map(context.Background(), full)
			must(t, err)
			got, err := m.Map(context.Background(), sel)
			must(t, err)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Map over ReadAttributes(%q) differs from Map over Read:\n got %+v\nwant %+v", names, got, want)
			}
		})
	}
}

// TestUserListedTwice: a user that moves between pages while a listing
// runs (renamed, so sorted later) is listed twice; the read keeps it
// once, as first listed.
func TestUserListedTwice(t *testing.T) {
	srv := directorytest.New(t)
	var first admin.User
	for i := range 6 {
		u := srv.AddUser(user(fmt.Sprintf("u%d", i)))
		if i == 0 {
			first = u
		}
	}
	src := open(t, srv, func(c *google.Config) { c.PageSize, c.SkipDeleted, c.Groups = 3, true, google.GroupsNone })
	pages := 0
	google.SetPageHook(src, func() {
		if pages++; pages == 1 {
			must(t, srv.UpdateUser(first.Id, func(u *admin.User) { u.PrimaryEmail = "zz@" + directorytest.Domain }))
		}
	})
	dir := read(t, src)
	n := 0
	for _, u := range dir.Users {
		if u.ID == first.Id {
			n++
			if u.UserName != first.PrimaryEmail {
				t.Errorf("kept %s, want the first listing's %s", u.UserName, first.PrimaryEmail)
			}
		}
	}
	if n != 1 || pages != 2 {
		t.Fatalf("user %s read %d times over %d pages, want once over 2", first.Id, n, pages)
	}
}
