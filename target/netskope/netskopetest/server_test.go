package netskopetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	efilter "github.com/elimity-com/scim/filter"
	"github.com/provsync/provsync/scim"
	fp "github.com/scim2/filter-parser/v2"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestURLAndToken(t *testing.T) {
	s := New(t, WithToken("secret"))
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") && !strings.HasPrefix(s.URL(), "http://[::1]:") {
		t.Errorf("URL() = %q, want a loopback address", s.URL())
	}
	if !strings.HasSuffix(s.URL(), "/api/v2/scim") {
		t.Errorf("URL() = %q, want it to end in /api/v2/scim", s.URL())
	}
	if s.Token() != "secret" {
		t.Errorf("Token() = %q, want secret", s.Token())
	}
	if a, b := NewUnstartedServer().Token(), NewUnstartedServer().Token(); a == "" || a == b {
		t.Errorf("default tokens %q and %q: want random, distinct", a, b)
	}
	s.Close()
	s.Close() // idempotent
}

func TestAuth(t *testing.T) {
	for _, style := range []ErrorStyle{ErrorStyleSCIM, ErrorStyleMessage} {
		s := New(t, WithToken("tok-123"), WithErrorStyle(style))
		c := newClient(t, s)
		tests := []struct {
			name string
			hdr  []string
			want int
		}{
			{"none", []string{"X-None", "1"}, http.StatusUnauthorized},
			{"wrong bearer", []string{"Authorization", "Bearer nope"}, http.StatusUnauthorized},
			{"empty bearer", []string{"Authorization", "Bearer "}, http.StatusUnauthorized},
			{"basic", []string{"Authorization", "Basic dG9rLTEyMw=="}, http.StatusUnauthorized},
			{"token without scheme", []string{"Authorization", "tok-123"}, http.StatusUnauthorized},
			{"wrong api token", []string{"Netskope-Api-Token", "nope"}, http.StatusUnauthorized},
			{"bearer", []string{"Authorization", "Bearer tok-123"}, http.StatusOK},
			{"bearer lower-case scheme", []string{"Authorization", "bearer tok-123"}, http.StatusOK},
			{"netskope api token", []string{"Netskope-Api-Token", "tok-123"}, http.StatusOK},
			{"api token header in lower case", []string{"netskope-api-token", "tok-123"}, http.StatusOK},
			{"wrong bearer, right api token", []string{"Authorization", "Bearer nope", "Netskope-Api-Token", "tok-123"}, http.StatusOK},
		}
		for _, tt := range tests {
			t.Run(style.String()+"/"+tt.name, func(t *testing.T) {
				r := c.send(http.MethodGet, "/Users", nil, tt.hdr...)
				if r.status != tt.want {
					t.Fatalf("status %d, want %d; body %s", r.status, tt.want, r.body)
				}
				if tt.want != http.StatusUnauthorized {
					return
				}
				if ct := r.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q, want application/json", ct)
				}
				e := r.scimErr(t)
				if e.Text() == "" {
					t.Errorf("401 body %s has no detail or message", r.body)
				}
				if style == ErrorStyleSCIM && (len(e.Schemas) != 1 || e.Schemas[0] != scim.SchemaError) {
					t.Errorf("401 body %s is not an RFC 7644 error", r.body)
				}
			})
		}
		if got := s.Stats().Unauthorized; got != 6 {
			t.Errorf("Stats().Unauthorized = %d, want 6", got)
		}
	}
}

func TestUnknownRoute(t *testing.T) {
	s := New(t)
	c := newClient(t, s)
	root := strings.TrimSuffix(s.URL(), BasePath)
	tests := []struct{ method, url string }{
		{http.MethodGet, s.URL() + "/Foo"},
		{http.MethodGet, s.URL() + "/ServiceProviderConfig"},
		{http.MethodGet, s.URL() + "/Schemas"},
		{http.MethodGet, s.URL()},
		{http.MethodGet, s.URL() + "/"},
		{http.MethodGet, s.URL() + "/users"},
		{http.MethodGet, s.URL() + "/Users/a/b"},
		{http.MethodDelete, s.URL() + "/Users"},
		{http.MethodPost, s.URL() + "/Users/x"},
		{http.MethodGet, root + "/scim/Users"},
		{http.MethodGet, root + "/api/v2/scimUsers"},
		{http.MethodGet, root + "/"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+strings.TrimPrefix(tt.url, root), func(t *testing.T) {
			for _, hdr := range [][]string{nil, {"X-No-Auth", "1"}} {
				r := c.send(tt.method, tt.url, nil, hdr...)
				if r.status != http.StatusNotFound {
					t.Fatalf("status %d, want 404", r.status)
				}
				if string(r.body) != `{"message":"no Route matched with those values"}` {
					t.Errorf("body %s, want the gateway's message", r.body)
				}
			}
		})
	}
	if got := s.Stats().Count("", EndpointUnknown); got != 2*len(tests) {
		t.Errorf("unknown endpoint count %d, want %d", got, 2*len(tests))
	}
}

func TestCreateGetConflict(t *testing.T) {
	s := New(t)
	c := newClient(t, s)

	in := user("Alice@Example.com")
	in.ExternalID = "src-1"
	in.Title = "Engineer"
	in.Enterprise = &scim.EnterpriseUser{Department: "R&D", EmployeeNumber: "42"}
	r := c.must(http.StatusCreated, http.MethodPost, "/Users", in.WithSchemas())
	if ct := r.header.Get("Content-Type"); ct != "application/scim+json;charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	var got scim.User
	r.decode(t, &got)
	if !uuidRE.MatchString(got.ID) {
		t.Errorf("id %q is not a UUID", got.ID)
	}
	if got.UserName != in.UserName || got.ExternalID != "src-1" || got.Title != "Engineer" ||
		got.Name == nil || got.Name.GivenName != in.Name.GivenName || got.PrimaryEmail() != in.Emails[0].Value ||
		got.Enterprise == nil || got.Enterprise.Department != "R&D" || !got.IsActive() {
		t.Errorf("created %+v, want the attributes sent", got)
	}
	if got.Meta == nil || got.Meta.ResourceType != "User" || got.Meta.Created == "" {
		t.Errorf("meta %+v", got.Meta)
	}

	var again scim.User
	c.must(http.StatusOK, http.MethodGet, "/Users/"+got.ID, nil).decode(t, &again)
	if again.ID != got.ID || again.UserName != got.UserName || again.Enterprise == nil || again.Enterprise.EmployeeNumber != "42" {
		t.Errorf("GET %+v, want %+v", again, got)
	}
	if len(again.Groups) != 0 {
		t.Errorf("user has groups %v; Netskope users carry none", again.Groups)
	}

	g := c.createGroup(scim.Group{DisplayName: "Sales", ExternalID: "g-1"})
	if !uuidRE.MatchString(g.ID) || g.DisplayName != "Sales" || g.ExternalID != "g-1" {
		t.Errorf("created group %+v", g)
	}

	conflicts := []struct {
		name string
		path string
		body any
	}{
		{"same userName", "/Users", user("Alice@Example.com").WithSchemas()},
		{"userName in other case", "/Users", user("alice@example.COM").WithSchemas()},
		{"same displayName", "/Groups", scim.Group{DisplayName: "Sales"}.WithSchemas()},
		{"displayName in other case", "/Groups", scim.Group{DisplayName: "sALES"}.WithSchemas()},
	}
	for _, tt := range conflicts {
		t.Run(tt.name, func(t *testing.T) {
			r := c.send(http.MethodPost, tt.path, tt.body)
			if r.status != http.StatusConflict {
				t.Fatalf("status %d, want 409; body %s", r.status, r.body)
			}
			if e := r.scimErr(t); e.ScimType != scim.ScimTypeUniqueness {
				t.Errorf("scimType %q, want uniqueness", e.ScimType)
			}
		})
	}
	if s.UserCount() != 1 || s.GroupCount() != 1 {
		t.Errorf("counts %d users, %d groups; want 1 and 1", s.UserCount(), s.GroupCount())
	}

	bad := []struct {
		name, method, path string
		body               any
		want               int
	}{
		{"unknown user", http.MethodGet, "/Users/00000000-0000-4000-8000-000000000000", nil, http.StatusNotFound},
		{"unknown group", http.MethodGet, "/Groups/nope", nil, http.StatusNotFound},
		{"no userName", http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"active":true}`, http.StatusBadRequest},
		{"empty userName", http.MethodPost, "/Users", `{"userName":""}`, http.StatusBadRequest},
		{"no displayName", http.MethodPost, "/Groups", `{"externalId":"x"}`, http.StatusBadRequest},
		{"not JSON", http.MethodPost, "/Users", `{"userName":`, http.StatusBadRequest},
		{"active not a boolean", http.MethodPost, "/Users", `{"userName":"x","active":"maybe"}`, http.StatusBadRequest},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if r := c.send(tt.method, tt.path, tt.body); r.status != tt.want {
				t.Errorf("status %d, want %d; body %s", r.status, tt.want, r.body)
			}
		})
	}

	// A string "active" is accepted, as some public clients send it.
	var str scim.User
	c.must(http.StatusCreated, http.MethodPost, "/Users", `{"userName":"str","active":"false"}`).decode(t, &str)
	if str.IsActive() {
		t.Errorf(`"active":"false" stored as active`)
	}
}

func TestFilterEq(t *testing.T) {
	s := New(t)
	c := newClient(t, s)
	const injection = `a" or userName pr or "b`
	users := map[string]scim.User{}
	for _, name := range []string{"alice@example.com", "Bob@Example.com", "a", "b", injection, `back\slash`} {
		u := user(name)
		u.ExternalID = "EXT-" + name
		users[name] = c.createUser(u)
	}
	off := user("carol")
	off.Active = scim.Bool(false)
	off.Emails = []scim.Email{{Value: "carol@corp.example", Type: "home"}}
	users["carol"] = c.createUser(off)
	groups := map[string]scim.Group{}
	for _, name := range []string{"Engineering", "Sales", injection} {
		groups[name] = c.createGroup(scim.Group{DisplayName: name, ExternalID: "g-" + name})
	}

	userTests := []struct {
		name   string
		filter scim.Filter
		want   []string // userNames
	}{
		{"userName", scim.Eq("userName", "alice@example.com"), []string{"alice@example.com"}},
		{"userName in other case", scim.Eq("userName", "ALICE@example.com"), []string{"alice@example.com"}},
		{"userName attribute in other case", scim.Eq("USERNAME", "bob@example.com"), []string{"Bob@Example.com"}},
		{"userName with core URN", scim.Eq(scim.SchemaUser+":userName", "a"), []string{"a"}},
		{"userName injection", scim.Eq("userName", injection), []string{injection}},
		{"userName with backslash", scim.Eq("userName", `back\slash`), []string{`back\slash`}},
		{"userName unknown", scim.Eq("userName", "nobody"), nil},
		{"userName prefix is no match", scim.Eq("userName", "alice"), nil},
		{"externalId", scim.Eq("externalId", "EXT-b"), []string{"b"}},
		{"externalId is case-exact", scim.Eq("externalId", "ext-b"), nil},
		{"externalId injection", scim.Eq("externalId", "EXT-"+injection), []string{injection}},
		{"id", scim.Eq("id", users["a"].ID), []string{"a"}},
		{"scan: active false", scim.Eq("active", false), []string{"carol"}},
		{"scan: emails.value", scim.Eq("emails.value", "carol@corp.example"), []string{"carol"}},
		{"scan: emails value path", scim.ValuePath("emails", scim.Eq("type", "home")), []string{"carol"}},
		{"scan: and with injection", scim.And(scim.Eq("userName", injection), scim.Eq("active", true)), []string{injection}},
		{"scan: or", scim.Or(scim.Eq("userName", "a"), scim.Eq("userName", "b")), []string{"a", "b"}},
		{"scan: name.givenName sw is case-insensitive", scim.Sw("name.givenName", "given BO"), []string{"Bob@Example.com"}},
		{"scan: name.givenName sw several", scim.Sw("name.givenName", "Given B"), []string{"Bob@Example.com", "b", `back\slash`}},
	}
	for _, tt := range userTests {
		t.Run("users/"+tt.name, func(t *testing.T) {
			lr := c.listUsers(filterQuery(t, tt.filter))
			var got []string
			for _, u := range lr.Resources {
				got = append(got, u.UserName)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || lr.TotalResults != len(tt.want) || lr.ItemsPerPage != len(tt.want) {
				t.Errorf("filter %s: got %q (total %d, itemsPerPage %d), want %q", tt.filter, got, lr.TotalResults, lr.ItemsPerPage, tt.want)
			}
		})
	}

	groupTests := []struct {
		name   string
		filter scim.Filter
		want   []string // displayNames
	}{
		{"displayName", scim.Eq("displayName", "Sales"), []string{"Sales"}},
		{"displayName in other case", scim.Eq("displayname", "sales"), []string{"Sales"}},
		{"displayName injection", scim.Eq("displayName", injection), []string{injection}},
		{"displayName unknown", scim.Eq("displayName", "Sale"), nil},
		{"externalId", scim.Eq("externalId", "g-Engineering"), []string{"Engineering"}},
		{"externalId is case-exact", scim.Eq("externalId", "G-engineering"), nil},
		{"scan: displayName sw", scim.Sw("displayName", "eng"), []string{"Engineering"}},
	}
	for _, tt := range groupTests {
		t.Run("groups/"+tt.name, func(t *testing.T) {
			lr := c.listGroups(filterQuery(t, tt.filter))
			var got []string
			for _, g := range lr.Resources {
				got = append(got, g.DisplayName)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || lr.TotalResults != len(tt.want) {
				t.Errorf("filter %s: got %q (total %d), want %q", tt.filter, got, lr.TotalResults, tt.want)
			}
		})
	}

	for _, f := range []string{`userName eq alice`, `userName eq`, `nosuch eq "x"`, `userName eq "a`} {
		t.Run("invalid/"+f, func(t *testing.T) {
			r := c.send(http.MethodGet, "/Users?filter="+strings.ReplaceAll(f, " ", "%20"), nil)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", r.status, r.body)
			}
			if e := r.scimErr(t); e.ScimType != scim.ScimTypeInvalidFilter {
				t.Errorf("scimType %q, want invalidFilter", e.ScimType)
			}
		})
	}
}

func TestIndexedEq(t *testing.T) {
	st := newStore()
	tests := []struct {
		table      *table
		filter     string
		attr, want string
		indexed    bool
	}{
		{st.users, `userName eq "x"`, "userName", "x", true},
		{st.users, `USERNAME EQ "x"`, "userName", "x", true},
		{st.users, `externalId eq "x"`, "externalId", "x", true},
		{st.users, `id eq "x"`, "id", "x", true},
		{st.users, `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, "userName", "x", true},
		{st.users, `displayName eq "x"`, "", "", false}, // not unique for users
		{st.users, `userName ne "x"`, "", "", false},
		{st.users, `userName eq "x" or userName eq "y"`, "", "", false},
		{st.users, `name.givenName eq "x"`, "", "", false},
		{st.groups, `displayName eq "x"`, "displayName", "x", true},
		{st.groups, `displayname eq "x"`, "displayName", "x", true},
		{st.groups, `externalid eq "x"`, "externalId", "x", true},
	}
	for _, tt := range tests {
		t.Run(tt.table.kind.String()+" "+tt.filter, func(t *testing.T) {
			val, err := filterValidator(tt.filter, tt.table)
			if err != nil {
				t.Fatal(err)
			}
			attr, v, ok := tt.table.indexedEq(tt.table.normalizeFilter(val, false))
			if ok != tt.indexed || attr != tt.attr || v != tt.want {
				t.Errorf("indexedEq = %q, %q, %v; want %q, %q, %v", attr, v, ok, tt.attr, tt.want, tt.indexed)
			}
		})
	}
}

func TestPaging(t *testing.T) {
	tests := []struct {
		name    string
		maxPage int
		count   int
		want    int // page size expected
	}{
		{"count 100", 0, 100, 100},
		{"count 1", 0, 1, 1},
		{"count above total", 0, 1000, 250},
		{"cap below count", 40, 100, 40},
		{"no count means the cap", 60, -1, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, WithMaxPageSize(tt.maxPage))
			seedUsers(t, s, "user", 250)
			c := newClient(t, s)
			seen := map[string]bool{}
			var order []string
			start := 1
			for pages := 0; ; pages++ {
				if pages > 300 {
					t.Fatal("paging does not end")
				}
				q := fmt.Sprintf("?startIndex=%d", start)
				if tt.count >= 0 {
					q += fmt.Sprintf("&count=%d", tt.count)
				}
				lr := c.listUsers(q)
				if lr.TotalResults != 250 {
					t.Fatalf("totalResults %d, want 250", lr.TotalResults)
				}
				if lr.StartIndex != start {
					t.Errorf("startIndex %d, want %d", lr.StartIndex, start)
				}
				if lr.ItemsPerPage != len(lr.Resources) {
					t.Errorf("itemsPerPage %d, but %d resources", lr.ItemsPerPage, len(lr.Resources))
				}
				if len(lr.Resources) == 0 {
					break
				}
				if left := 250 - (start - 1); len(lr.Resources) != min(tt.want, left) {
					t.Errorf("page at %d has %d resources, want %d", start, len(lr.Resources), min(tt.want, left))
				}
				for _, u := range lr.Resources {
					if seen[u.ID] {
						t.Errorf("user %s returned twice", u.UserName)
					}
					seen[u.ID] = true
					order = append(order, u.UserName)
				}
				start += len(lr.Resources)
			}
			if len(seen) != 250 {
				t.Errorf("saw %d distinct users, want 250", len(seen))
			}
			for i, name := range order {
				if want := fmt.Sprintf("user%05d", i); name != want {
					t.Fatalf("user %d is %s, want %s (insertion order)", i, name, want)
				}
			}
		})
	}

	s := New(t)
	c := newClient(t, s)
	users := seedUsers(t, s, "u", 5)
	edge := []struct {
		query              string
		total, items, from int
	}{
		{"?count=0", 5, 0, 0},
		{"?startIndex=6&count=10", 5, 0, 0},
		{"?startIndex=0&count=2", 5, 2, 0},
		{"?startIndex=-3&count=2", 5, 2, 0},
		{"?startIndex=5&count=10", 5, 1, 4},
		{"?count=-1", 5, 0, 0},
	}
	for _, tt := range edge {
		t.Run("edge"+tt.query, func(t *testing.T) {
			lr := c.listUsers(tt.query)
			if lr.TotalResults != tt.total || lr.ItemsPerPage != tt.items || len(lr.Resources) != tt.items {
				t.Fatalf("total %d, itemsPerPage %d, %d resources; want %d, %d", lr.TotalResults, lr.ItemsPerPage, len(lr.Resources), tt.total, tt.items)
			}
			if tt.items > 0 && lr.Resources[0].ID != users[tt.from].ID {
				t.Errorf("first resource %s, want %s", lr.Resources[0].UserName, users[tt.from].UserName)
			}
		})
	}
	for _, q := range []string{"?count=x", "?startIndex=y"} {
		if r := c.send(http.MethodGet, "/Users"+q, nil); r.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", q, r.status)
		}
	}

	// Deleting from the middle keeps the order and the totals right.
	c.must(http.StatusNoContent, http.MethodDelete, "/Users/"+users[2].ID, nil)
	lr := c.listUsers("?count=10")
	var names []string
	for _, u := range lr.Resources {
		names = append(names, u.UserName)
	}
	if want := "[u00000 u00001 u00003 u00004]"; fmt.Sprint(names) != want || lr.TotalResults != 4 {
		t.Errorf("after delete: %v (total %d), want %s", names, lr.TotalResults, want)
	}
}

func TestGroupMembersInReads(t *testing.T) {
	s := New(t)
	c := newClient(t, s)
	users := seedUsers(t, s, "m", 3)
	g := c.createGroup(scim.Group{DisplayName: "Team", Members: scim.MemberValues([]string{users[0].ID, users[1].ID, users[2].ID})})
	if g.Members != nil {
		t.Errorf("POST answer carries members %v without attributes=members", g.Members)
	}
	c.createGroup(scim.Group{DisplayName: "Empty"})

	tests := []struct {
		query   string
		members bool
	}{
		{"", false},
		{"?attributes=members", true},
		{"?attributes=Members", true},
		{"?attributes=displayName,members", true},
		{"?attributes=members.value", true},
		{"?attributes=urn:ietf:params:scim:schemas:core:2.0:Group:members", true},
		{"?attributes=displayName", false},
		{"?excludedAttributes=members", false},
		{"?attributes=members&excludedAttributes=members", false},
	}
	for _, tt := range tests {
		t.Run("get"+tt.query, func(t *testing.T) {
			r := c.must(http.StatusOK, http.MethodGet, "/Groups/"+g.ID+tt.query, nil)
			var raw map[string]json.RawMessage
			r.decode(t, &raw)
			_, has := raw["members"]
			if has != tt.members {
				t.Fatalf("members present = %v, want %v; body %s", has, tt.members, r.body)
			}
			var got scim.Group
			r.decode(t, &got)
			if got.DisplayName != "Team" {
				t.Errorf("displayName %q missing with %s", got.DisplayName, tt.query)
			}
			if tt.members {
				if len(got.Members) != 3 {
					t.Fatalf("%d members, want 3", len(got.Members))
				}
				for i, m := range got.Members {
					if m.Value != users[i].ID || m.Display != users[i].UserName {
						t.Errorf("member %d = %+v, want value %s display %s", i, m, users[i].ID, users[i].UserName)
					}
				}
			}
		})
		t.Run("list"+tt.query, func(t *testing.T) {
			q := "?count=10"
			if tt.query != "" {
				q += "&" + tt.query[1:]
			}
			r := c.must(http.StatusOK, http.MethodGet, "/Groups"+q, nil)
			var lr struct {
				Resources []map[string]json.RawMessage
			}
			r.decode(t, &lr)
			if len(lr.Resources) != 2 {
				t.Fatalf("%d groups, want 2", len(lr.Resources))
			}
			_, has := lr.Resources[0]["members"]
			if has != tt.members {
				t.Errorf("members present = %v, want %v", has, tt.members)
			}
		})
	}
	var empty scim.ListResponse[scim.Group]
	c.must(http.StatusOK, http.MethodGet, "/Groups?attributes=members&filter=displayName%20eq%20%22Empty%22", nil).decode(t, &empty)
	if len(empty.Resources) != 1 || empty.Resources[0].Members == nil || len(empty.Resources[0].Members) != 0 {
		t.Errorf("empty group read with attributes=members: %+v, want members []", empty.Resources)
	}
}

func TestGroupPatch(t *testing.T) {
	s := New(t)
	c := newClient(t, s)
	u := seedUsers(t, s, "p", 6)
	id := func(i int) string { return u[i].ID }
	g := c.createGroup(scim.Group{DisplayName: "Ops", ExternalID: "ops", Members: scim.MemberValues([]string{id(0)})})
	other := c.createGroup(scim.Group{DisplayName: "Other"})
	path := "/Groups/" + g.ID

	tests := []struct {
		name        string
		body        string
		status      int
		scimType    string
		members     []int
		displayName string
		externalID  string
	}{
		{"add members", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"` + id(1) + `"},{"value":"` + id(2) + `"}]}]}`,
			204, "", []int{0, 1, 2}, "Ops", "ops"},
		{"add again is a no-op", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"` + id(1) + `"}]}]}`,
			204, "", []int{0, 1, 2}, "Ops", "ops"},
		{"Entra capitalised ops and path", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"Members","value":[{"value":"` + id(3) + `"}]},{"op":"Remove","path":"members","value":[{"value":"` + id(0) + `"}]}]}`,
			204, "", []int{1, 2, 3}, "Ops", "ops"},
		{"remove with a filter", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"` + id(2) + `\"]"}]}`,
			204, "", []int{1, 3}, "Ops", "ops"},
		{"remove a non-member", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members","value":[{"value":"` + id(5) + `"}]}]}`,
			204, "", []int{1, 3}, "Ops", "ops"},
		{"replace members", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"members","value":[{"value":"` + id(3) + `"},{"value":"` + id(4) + `"}]}]}`,
			204, "", []int{3, 4}, "Ops", "ops"},
		{"lower-case displayname and externalid", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayname","value":"Operations"},{"op":"Replace","path":"externalid","value":"ops-2"}]}`,
			204, "", []int{3, 4}, "Operations", "ops-2"},
		{"path-less replace", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"` + g.ID + `","displayName":"Ops"}}]}`,
			204, "", []int{3, 4}, "Ops", "ops-2"},
		{"unknown member refused, nothing changes", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"` + id(5) + `"}]},{"op":"add","path":"members","value":[{"value":"no-such-user"}]}]}`,
			400, scim.ScimTypeInvalidValue, []int{3, 4}, "Ops", "ops-2"},
		{"group as member refused", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"` + other.ID + `"}]}]}`,
			400, scim.ScimTypeInvalidValue, []int{3, 4}, "Ops", "ops-2"},
		{"duplicate displayName refused, members kept", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members"},{"op":"replace","path":"displayName","value":"OTHER"}]}`,
			409, scim.ScimTypeUniqueness, []int{3, 4}, "Ops", "ops-2"},
		{"bad path", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"nosuch","value":"x"}]}`,
			400, scim.ScimTypeInvalidPath, []int{3, 4}, "Ops", "ops-2"},
		{"no schemas", `{"Operations":[{"op":"remove","path":"members"}]}`,
			400, scim.ScimTypeInvalidValue, []int{3, 4}, "Ops", "ops-2"},
		{"remove all members", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members"}]}`,
			204, "", nil, "Ops", "ops-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.send(http.MethodPatch, path, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.status, r.body)
			}
			if tt.status == http.StatusNoContent && len(r.body) != 0 {
				t.Errorf("204 with body %s", r.body)
			}
			if tt.scimType != "" {
				if e := r.scimErr(t); e.ScimType != tt.scimType {
					t.Errorf("scimType %q, want %q (%s)", e.ScimType, tt.scimType, r.body)
				}
			}
			got, ok := s.Group(g.ID)
			if !ok {
				t.Fatal("group gone")
			}
			var ids []string
			for _, m := range got.Members {
				ids = append(ids, m.Value)
			}
			var want []string
			for _, i := range tt.members {
				want = append(want, id(i))
			}
			if fmt.Sprint(ids) != fmt.Sprint(want) {
				t.Errorf("members %v, want %v", ids, want)
			}
			if got.DisplayName != tt.displayName || got.ExternalID != tt.externalID {
				t.Errorf("displayName %q externalId %q, want %q %q", got.DisplayName, got.ExternalID, tt.displayName, tt.externalID)
			}
		})
	}

	// The scim package's own builders work too.
	c.patch(http.StatusNoContent, path, scim.Add("members", scim.MemberValues([]string{id(0), id(1)})))
	c.patch(http.StatusNoContent, path, scim.Remove(scim.ValuePath("members", scim.Eq("value", id(0))).String(), nil))
	if got, _ := s.Group(g.ID); fmt.Sprint(got.MemberIDs()) != fmt.Sprint([]string{id(1)}) {
		t.Errorf("members %v, want [%s]", got.MemberIDs(), id(1))
	}
	if r := c.send(http.MethodPatch, "/Groups/nope", scim.NewPatch(scim.Remove("members", nil))); r.status != http.StatusNotFound {
		t.Errorf("PATCH unknown group: status %d, want 404", r.status)
	}
}

func TestLargeGroup(t *testing.T) {
	s := New(t)
	c := newClient(t, s)
	users := seedUsers(t, s, "big", 5000)
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	g := c.createGroup(scim.Group{DisplayName: "Big"})
	c.patch(http.StatusNoContent, "/Groups/"+g.ID, scim.Add("members", scim.MemberValues(ids)))
	c.patch(http.StatusNoContent, "/Groups/"+g.ID, scim.Remove("members", scim.MemberValues(ids[:2500])))
	var got scim.Group
	c.must(http.StatusOK, http.MethodGet, "/Groups/"+g.ID+"?attributes=members", nil).decode(t, &got)
	if len(got.Members) != 2500 || got.Members[0].Value != ids[2500] || got.Members[2499].Value != ids[4999] {
		t.Errorf("%d members, want the last 2500 in order", len(got.Members))
	}
}

func TestUserPatch(t *testing.T) {
	s := New(t)
	c := newClient(t, s)
	base := user("dave@example.com")
	base.Title = "Clerk"
	base.Enterprise = &scim.EnterpriseUser{Department: "Finance", CostCenter: "CC1"}
	u := c.createUser(base)
	taken := c.createUser(user("erin@example.com"))
	path := "/Users/" + u.ID
	const ent = scim.SchemaEnterpriseUser

	tests := []struct {
		name   string
		body   string
		status int
		check  func(t *testing.T, got scim.User)
	}{
		{"replace active false", `[{"op":"replace","path":"active","value":false}]`, 204,
			func(t *testing.T, got scim.User) {
				if got.IsActive() {
					t.Error("still active")
				}
			}},
		{"replace active with a string", `[{"op":"Replace","path":"active","value":"True"}]`, 204,
			func(t *testing.T, got scim.User) {
				if !got.IsActive() {
					t.Error("not active")
				}
			}},
		{"replace userName", `[{"op":"replace","path":"userName","value":"david@example.com"}]`, 204,
			func(t *testing.T, got scim.User) {
				if got.UserName != "david@example.com" {
					t.Errorf("userName %q", got.UserName)
				}
			}},
		{"replace userName in other case of itself", `[{"op":"replace","path":"username","value":"DAVID@example.com"}]`, 204,
			func(t *testing.T, got scim.User) {
				if got.UserName != "DAVID@example.com" {
					t.Errorf("userName %q", got.UserName)
				}
			}},
		{"taken userName refused", `[{"op":"replace","path":"userName","value":"ERIN@example.com"}]`, 409,
			func(t *testing.T, got scim.User) {
				if got.UserName != "DAVID@example.com" {
					t.Errorf("userName %q changed", got.UserName)
				}
			}},
		{"sub-attributes and externalId", `[{"op":"replace","path":"name.givenName","value":"Dave"},{"op":"replace","path":"name.familyName","value":"Jones"},{"op":"add","path":"externalId","value":"src-dave"},{"op":"replace","path":"displayName","value":"Dave Jones"}]`, 204,
			func(t *testing.T, got scim.User) {
				if got.Name == nil || got.Name.GivenName != "Dave" || got.Name.FamilyName != "Jones" || got.ExternalID != "src-dave" || got.DisplayName != "Dave Jones" {
					t.Errorf("got %+v %+v", got, got.Name)
				}
			}},
		{"replace emails", `[{"op":"replace","path":"emails","value":[{"value":"d1@example.com","type":"work","primary":true},{"value":"d2@example.com","type":"home"}]}]`, 204,
			func(t *testing.T, got scim.User) {
				if len(got.Emails) != 2 || got.PrimaryEmail() != "d1@example.com" {
					t.Errorf("emails %+v", got.Emails)
				}
			}},
		{"replace through a value filter", `[{"op":"replace","path":"emails[type eq \"work\"].value","value":"dave@corp.example"}]`, 204,
			func(t *testing.T, got scim.User) {
				if len(got.Emails) != 2 || got.PrimaryEmail() != "dave@corp.example" || got.Emails[1].Value != "d2@example.com" {
					t.Errorf("emails %+v", got.Emails)
				}
			}},
		{"add email", `[{"op":"add","path":"emails","value":[{"value":"d3@example.com","type":"other"}]}]`, 204,
			func(t *testing.T, got scim.User) {
				if len(got.Emails) != 3 || got.Emails[2].Value != "d3@example.com" {
					t.Errorf("emails %+v", got.Emails)
				}
			}},
		{"remove emails through a filter", `[{"op":"remove","path":"emails[type ne \"work\"]"}]`, 204,
			func(t *testing.T, got scim.User) {
				if len(got.Emails) != 1 || got.Emails[0].Value != "dave@corp.example" {
					t.Errorf("emails %+v", got.Emails)
				}
			}},
		{"replace through a filter that matches nothing adds", `[{"op":"replace","path":"emails[type eq \"home\"].value","value":"h@example.com"}]`, 204,
			func(t *testing.T, got scim.User) {
				if len(got.Emails) != 2 || got.Emails[1].Value != "h@example.com" || got.Emails[1].Type != "home" {
					t.Errorf("emails %+v", got.Emails)
				}
			}},
		{"title and enterprise department", `[{"op":"replace","path":"title","value":"Manager"},{"op":"replace","path":"` + ent + `:department","value":"Sales"}]`, 204,
			func(t *testing.T, got scim.User) {
				if got.Title != "Manager" || got.Enterprise == nil || got.Enterprise.Department != "Sales" || got.Enterprise.CostCenter != "CC1" {
					t.Errorf("title %q enterprise %+v", got.Title, got.Enterprise)
				}
			}},
		{"enterprise manager", `[{"op":"add","path":"` + ent + `:manager","value":{"value":"` + taken.ID + `"}}]`, 204,
			func(t *testing.T, got scim.User) {
				if got.Enterprise == nil || got.Enterprise.Manager == nil || got.Enterprise.Manager.Value != taken.ID {
					t.Errorf("enterprise %+v", got.Enterprise)
				}
			}},
		{"path-less replace with an object", `[{"op":"replace","value":{"active":"false","title":"Director","name":{"givenName":"D."},"` + ent + `:department":"Legal"}}]`, 204,
			func(t *testing.T, got scim.User) {
				if got.IsActive() || got.Title != "Director" || got.Name.GivenName != "D." || got.Name.FamilyName != "Jones" || got.Enterprise.Department != "Legal" {
					t.Errorf("got %+v name %+v enterprise %+v", got, got.Name, got.Enterprise)
				}
			}},
		{"path-less replace with the extension as an object", `[{"op":"replace","value":{"` + ent + `":{"department":"Ops","employeeNumber":"7"}}}]`, 204,
			func(t *testing.T, got scim.User) {
				if got.Enterprise.Department != "Ops" || got.Enterprise.EmployeeNumber != "7" || got.Enterprise.CostCenter != "CC1" {
					t.Errorf("enterprise %+v", got.Enterprise)
				}
			}},
		{"remove title and department", `[{"op":"remove","path":"title"},{"op":"remove","path":"` + ent + `:department"}]`, 204,
			func(t *testing.T, got scim.User) {
				if got.Title != "" || got.Enterprise.Department != "" || got.Enterprise.EmployeeNumber != "7" {
					t.Errorf("title %q enterprise %+v", got.Title, got.Enterprise)
				}
			}},
		{"remove userName refused", `[{"op":"remove","path":"userName"}]`, 400, nil},
		{"read-only id refused", `[{"op":"replace","path":"id","value":"x"}]`, 400, nil},
		{"unknown attribute refused", `[{"op":"replace","path":"nosuch","value":"x"}]`, 400, nil},
		{"wrong type refused", `[{"op":"replace","path":"active","value":"perhaps"}]`, 400, nil},
		{"unknown op refused", `[{"op":"move","path":"title","value":"x"}]`, 400, nil},
		{"failed patch changes nothing", `[{"op":"replace","path":"title","value":"Changed"},{"op":"replace","path":"userName","value":"erin@example.com"}]`, 409,
			func(t *testing.T, got scim.User) {
				if got.Title != "" {
					t.Errorf("title %q: a failed PATCH changed state", got.Title)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + tt.body + `}`
			r := c.send(http.MethodPatch, path, body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.status, r.body)
			}
			if r.status == http.StatusNoContent && len(r.body) != 0 {
				t.Errorf("204 with a body: %s", r.body)
			}
			if tt.check != nil {
				var got scim.User
				c.must(http.StatusOK, http.MethodGet, path, nil).decode(t, &got)
				tt.check(t, got)
			}
		})
	}
	// The userName index follows renames.
	if lr := c.listUsers(filterQuery(t, scim.Eq("userName", "david@example.com"))); lr.TotalResults != 1 {
		t.Errorf("renamed user not found by its new userName")
	}
	if lr := c.listUsers(filterQuery(t, scim.Eq("userName", "dave@example.com"))); lr.TotalResults != 0 {
		t.Errorf("renamed user still found by its old userName")
	}
	if lr := c.listUsers(filterQuery(t, scim.Eq("externalId", "src-dave"))); lr.TotalResults != 1 {
		t.Errorf("user not found by its patched externalId")
	}
}

func TestPut(t *testing.T) {
	s := New(t)
	c := newClient(t, s)
	users := seedUsers(t, s, "put", 3)
	u := users[0]
	repl := user("put-renamed")
	repl.Title = "New"
	var got scim.User
	c.must(http.StatusOK, http.MethodPut, "/Users/"+u.ID, repl.WithSchemas()).decode(t, &got)
	if got.ID != u.ID || got.UserName != "put-renamed" || got.Title != "New" || got.ExternalID != "" {
		t.Errorf("PUT answer %+v", got)
	}
	if r := c.send(http.MethodPut, "/Users/"+u.ID, user("PUT00001").WithSchemas()); r.status != http.StatusConflict {
		t.Errorf("PUT onto a taken userName: status %d, want 409", r.status)
	}
	if r := c.send(http.MethodPut, "/Users/nope", user("x").WithSchemas()); r.status != http.StatusNotFound {
		t.Errorf("PUT unknown user: status %d, want 404", r.status)
	}

	g := c.createGroup(scim.Group{DisplayName: "G", Members: scim.MemberValues([]string{users[1].ID})})
	c.must(http.StatusOK, http.MethodPut, "/Groups/"+g.ID, scim.Group{DisplayName: "G2", Members: scim.MemberValues([]string{users[2].ID})}.WithSchemas())
	if sg, _ := s.Group(g.ID); sg.DisplayName != "G2" || fmt.Sprint(sg.MemberIDs()) != fmt.Sprint([]string{users[2].ID}) {
		t.Errorf("after PUT: %+v", sg)
	}
	c.must(http.StatusOK, http.MethodPut, "/Groups/"+g.ID, scim.Group{DisplayName: "G2"}.WithSchemas())
	if sg, _ := s.Group(g.ID); len(sg.Members) != 0 {
		t.Errorf("PUT without members kept %v", sg.Members)
	}
	if r := c.send(http.MethodPut, "/Groups/"+g.ID, scim.Group{DisplayName: "G2", Members: scim.MemberValues([]string{"ghost"})}.WithSchemas()); r.status != http.StatusBadRequest {
		t.Errorf("PUT with an unknown member: status %d, want 400", r.status)
	}
}

func TestDelete(t *testing.T) {
	s := New(t)
	c := newClient(t, s)
	users := seedUsers(t, s, "del", 3)
	g1 := c.createGroup(scim.Group{DisplayName: "One", Members: scim.MemberValues([]string{users[0].ID, users[1].ID})})
	g2 := c.createGroup(scim.Group{DisplayName: "Two", Members: scim.MemberValues([]string{users[0].ID, users[2].ID})})

	c.must(http.StatusNoContent, http.MethodDelete, "/Users/"+users[0].ID, nil)
	tests := []struct {
		name   string
		method string
		path   string
		want   int
	}{
		{"get deleted user", http.MethodGet, "/Users/" + users[0].ID, 404},
		{"delete again", http.MethodDelete, "/Users/" + users[0].ID, 404},
		{"patch deleted user", http.MethodPatch, "/Users/" + users[0].ID, 404},
		{"other user stays", http.MethodGet, "/Users/" + users[1].ID, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.method == http.MethodPatch {
				body = scim.NewPatch(scim.Replace("active", false))
			}
			if r := c.send(tt.method, tt.path, body); r.status != tt.want {
				t.Errorf("status %d, want %d", r.status, tt.want)
			}
		})
	}
	for _, g := range []struct {
		id   string
		want []string
	}{{g1.ID, []string{users[1].ID}}, {g2.ID, []string{users[2].ID}}} {
		got, _ := s.Group(g.id)
		if fmt.Sprint(got.MemberIDs()) != fmt.Sprint(g.want) {
			t.Errorf("group %s members %v, want %v", got.DisplayName, got.MemberIDs(), g.want)
		}
	}
	// Adding the deleted user back to a group is refused.
	if r := c.send(http.MethodPatch, "/Groups/"+g1.ID, scim.NewPatch(scim.Add("members", scim.MemberValues([]string{users[0].ID})))); r.status != http.StatusBadRequest {
		t.Errorf("adding a deleted user: status %d, want 400", r.status)
	}
	// The userName is free again.
	c.createUser(user("del00000"))

	c.must(http.StatusNoContent, http.MethodDelete, "/Groups/"+g2.ID, nil)
	if r := c.send(http.MethodGet, "/Groups/"+g2.ID, nil); r.status != http.StatusNotFound {
		t.Errorf("deleted group: status %d, want 404", r.status)
	}
	c.must(http.StatusNoContent, http.MethodDelete, "/Users/"+users[2].ID, nil) // was in the deleted group
	if s.UserCount() != 2 || s.GroupCount() != 1 {
		t.Errorf("%d users and %d groups, want 2 and 1", s.UserCount(), s.GroupCount())
	}
}

func TestRateLimit(t *testing.T) {
	s := New(t, WithRateLimit(0.5, 3))
	c := newClient(t, s)
	for i := 0; i < 3; i++ {
		r := c.must(http.StatusOK, http.MethodGet, "/Users", nil)
		if got := r.header.Get("RateLimit-Limit"); got != "3" {
			t.Errorf("request %d: RateLimit-Limit %q, want 3", i, got)
		}
		if got := r.header.Get("RateLimit-Remaining"); got != strconv.Itoa(2-i) {
			t.Errorf("request %d: RateLimit-Remaining %q, want %d", i, got, 2-i)
		}
		if reset, err := strconv.Atoi(r.header.Get("RateLimit-Reset")); err != nil || reset < 1 {
			t.Errorf("request %d: RateLimit-Reset %q", i, r.header.Get("RateLimit-Reset"))
		}
	}
	r := c.send(http.MethodPost, "/Users", user("limited").WithSchemas())
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", r.status)
	}
	if string(r.body) != `{"message":"API rate limit exceeded"}` {
		t.Errorf("body %s", r.body)
	}
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 2 {
		t.Errorf("Retry-After %q, want 1 or 2 whole seconds", r.header.Get("Retry-After"))
	}
	if r.header.Get("RateLimit-Limit") != "3" || r.header.Get("RateLimit-Remaining") != "0" || r.header.Get("RateLimit-Reset") == "" {
		t.Errorf("rate-limit headers %v", r.header)
	}
	if s.UserCount() != 0 {
		t.Error("a refused request created a user")
	}
	if st := s.Stats(); st.RateLimited != 1 || st.Requests != 4 {
		t.Errorf("stats %+v, want 1 rate-limited of 4", st)
	}

	// Without a limit, no rate-limit headers.
	free := New(t)
	if r := newClient(t, free).must(http.StatusOK, http.MethodGet, "/Users", nil); r.header.Get("RateLimit-Limit") != "" {
		t.Errorf("RateLimit-Limit %q without a limit", r.header.Get("RateLimit-Limit"))
	}
}

// WithoutRateHeaders keeps the limit and drops every header that would
// tell a client about it.
func TestRateLimitWithoutHeaders(t *testing.T) {
	s := New(t, WithRateLimit(0.5, 2), WithoutRateHeaders())
	c := newClient(t, s)
	var statuses []int
	for range 3 {
		r := c.send(http.MethodGet, "/Users", nil)
		statuses = append(statuses, r.status)
		for _, h := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After"} {
			if v := r.header.Get(h); v != "" {
				t.Errorf("status %d carries %s: %q", r.status, h, v)
			}
		}
	}
	if want := []int{200, 200, 429}; !slices.Equal(statuses, want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}
	if st := s.Stats(); st.RateLimited != 1 {
		t.Errorf("stats %+v, want 1 rate-limited", st)
	}
}

func TestBucketRefills(t *testing.T) {
	b := newBucket(10, 2)
	now := time.Unix(1000, 0)
	for i, want := range []bool{true, true, false} {
		if d := b.take(now); d.ok != want {
			t.Fatalf("take %d: ok %v, want %v", i, d.ok, want)
		}
	}
	d := b.take(now.Add(150 * time.Millisecond)) // 1.5 tokens back
	if !d.ok || d.remaining != 0 {
		t.Errorf("after 150ms: %+v, want ok with 0 remaining", d)
	}
	if d := b.take(now.Add(160 * time.Millisecond)); d.ok || d.retryAfter != 1 || d.reset != 1 {
		t.Errorf("empty bucket: %+v, want refused, retry after 1s, reset 1s", d)
	}
	if d := newBucket(2.5, 0).take(now); d.limit != 3 {
		t.Errorf("default burst %d, want 3", d.limit)
	}
}

func TestFaults(t *testing.T) {
	const n = 1000
	run := func(f Faults) (codes []int, st Stats) {
		s := New(t, WithFaults(f))
		c := newClient(t, s)
		for i := 0; i < n; i++ {
			r := c.send(http.MethodGet, "/Users?count=1", nil)
			codes = append(codes, r.status)
			if r.status == http.StatusTooManyRequests {
				if ra := r.header.Get("Retry-After"); ra != "0" && ra != "1" {
					t.Fatalf("injected 429 with Retry-After %q", ra)
				}
			}
		}
		return codes, s.Stats()
	}
	f := Faults{Rate429: 0.2, Rate500: 0.1, Seed: 42}
	codes, st := run(f)
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[429] < 150 || count[429] > 250 || count[500] < 60 || count[500] > 140 {
		t.Errorf("429s %d and 500s %d of %d, want about 200 and 100", count[429], count[500], n)
	}
	if st.Faults429 != count[429] || st.Faults500 != count[500] || st.Faults() != count[429]+count[500] || st.Requests != n {
		t.Errorf("stats %+v, observed %v", st, count)
	}
	again, _ := run(f)
	if fmt.Sprint(again) != fmt.Sprint(codes) {
		t.Error("the same seed gave a different sequence of faults")
	}

	// Faults do not change state.
	s := New(t, WithFaults(Faults{Rate500: 1}))
	c := newClient(t, s)
	if r := c.send(http.MethodPost, "/Users", user("never").WithSchemas()); r.status != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", r.status)
	}
	s.SetFaults(Faults{Rate429: 1})
	if r := c.send(http.MethodPost, "/Users", user("never").WithSchemas()); r.status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", r.status)
	}
	if s.UserCount() != 0 {
		t.Errorf("%d users after injected faults, want 0", s.UserCount())
	}
	s.SetFaults(Faults{})
	c.createUser(user("now"))

	// FailCreates fails the named creates every time, and only those.
	s.SetFaults(Faults{FailCreates: []string{"doomed", "Doomed group"}})
	for range 3 {
		if r := c.send(http.MethodPost, "/Users", user("doomed").WithSchemas()); r.status != http.StatusInternalServerError {
			t.Fatalf("create of a listed user: status %d, want 500", r.status)
		}
		if r := c.send(http.MethodPost, "/Groups", scim.Group{DisplayName: "Doomed group"}.WithSchemas()); r.status != http.StatusInternalServerError {
			t.Fatalf("create of a listed group: status %d, want 500", r.status)
		}
	}
	c.createUser(user("spared"))
	c.createGroup(scim.Group{DisplayName: "Spared group"})
	if s.UserCount() != 2 {
		t.Errorf("%d users, want the 2 not listed", s.UserCount())
	}
	s.SetFaults(Faults{})

	// Latency is added, and cut short by Close.
	s.SetFaults(Faults{Latency: 30 * time.Millisecond})
	start := time.Now()
	c.must(http.StatusOK, http.MethodGet, "/Users", nil)
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("request took %v, want at least the 30ms latency", d)
	}
}

func TestErrorStyles(t *testing.T) {
	tests := []struct {
		style ErrorStyle
		check func(t *testing.T, status int, body []byte)
	}{
		{ErrorStyleSCIM, func(t *testing.T, status int, body []byte) {
			var e struct {
				Schemas  []string `json:"schemas"`
				Status   string   `json:"status"`
				ScimType string   `json:"scimType"`
				Detail   string   `json:"detail"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatal(err)
			}
			if len(e.Schemas) != 1 || e.Schemas[0] != scim.SchemaError || e.Status != strconv.Itoa(status) || e.Detail == "" {
				t.Errorf("body %s is not an RFC 7644 error of status %d", body, status)
			}
			if status == http.StatusConflict && e.ScimType != scim.ScimTypeUniqueness {
				t.Errorf("409 scimType %q", e.ScimType)
			}
		}},
		{ErrorStyleMessage, func(t *testing.T, status int, body []byte) {
			var e map[string]any
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatal(err)
			}
			if msg, _ := e["message"].(string); msg == "" || len(e) != 1 {
				t.Errorf("body %s, want only a message", body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.style.String(), func(t *testing.T) {
			s := New(t, WithErrorStyle(tt.style))
			c := newClient(t, s)
			c.createUser(user("x"))
			cases := []struct {
				name   string
				method string
				path   string
				body   any
				hdr    []string
				status int
			}{
				{"conflict", http.MethodPost, "/Users", user("X").WithSchemas(), nil, 409},
				{"not found", http.MethodGet, "/Users/nope", nil, nil, 404},
				{"bad filter", http.MethodGet, "/Users?filter=bad", nil, nil, 400},
				{"bad patch", http.MethodPatch, "/Users/nope", `{}`, nil, 400},
				{"unauthorized", http.MethodGet, "/Users", nil, []string{"Authorization", "Bearer no"}, 401},
			}
			for _, cc := range cases {
				t.Run(cc.name, func(t *testing.T) {
					r := c.send(cc.method, cc.path, cc.body, cc.hdr...)
					if r.status != cc.status {
						t.Fatalf("status %d, want %d; body %s", r.status, cc.status, r.body)
					}
					if ct := r.header.Get("Content-Type"); ct != "application/json" {
						t.Errorf("Content-Type %q, want application/json", ct)
					}
					tt.check(t, r.status, r.body)
				})
			}
		})
	}
}

func TestStats(t *testing.T) {
	s := New(t)
	c := newClient(t, s)
	u := c.createUser(user("s1"))
	c.must(http.StatusOK, http.MethodGet, "/Users/"+u.ID, nil)
	c.must(http.StatusOK, http.MethodGet, "/Users/"+u.ID, nil)
	c.must(http.StatusOK, http.MethodGet, "/Users", nil)
	c.patch(http.StatusNoContent, "/Users/"+u.ID, scim.Replace("active", false))
	c.createGroup(scim.Group{DisplayName: "G"})
	c.send(http.MethodGet, "/Nope", nil)
	c.send(http.MethodGet, "/Users", nil, "Authorization", "Bearer wrong")
	if _, err := s.AddUser(user("seeded")); err != nil { // not a request
		t.Fatal(err)
	}

	st := s.Stats()
	tests := []struct {
		method, endpoint string
		want             int
	}{
		{http.MethodPost, EndpointUsers, 1},
		{http.MethodGet, EndpointUser, 2},
		{http.MethodGet, EndpointUsers, 2},
		{http.MethodPatch, EndpointUser, 1},
		{http.MethodPost, EndpointGroups, 1},
		{http.MethodGet, EndpointUnknown, 1},
		{"", EndpointUser, 3},
		{http.MethodGet, "", 5},
		{"", "", 8},
		{http.MethodDelete, EndpointUser, 0},
	}
	for _, tt := range tests {
		if got := st.Count(tt.method, tt.endpoint); got != tt.want {
			t.Errorf("Count(%q, %q) = %d, want %d", tt.method, tt.endpoint, got, tt.want)
		}
	}
	if st.Requests != 8 || st.Unauthorized != 1 || st.Faults() != 0 || st.RateLimited != 0 {
		t.Errorf("stats %+v", st)
	}
	st.ByEndpoint[Endpoint{http.MethodGet, EndpointUsers}] = 100 // a copy
	if s.Stats().Count(http.MethodGet, EndpointUsers) != 2 {
		t.Error("Stats() shares its map with the server")
	}
	s.ResetStats()
	if st := s.Stats(); st.Requests != 0 || len(st.ByEndpoint) != 0 {
		t.Errorf("after ResetStats: %+v", st)
	}
}

func TestSeedAndSnapshots(t *testing.T) {
	s := NewServer()
	defer s.Close()
	u, err := s.AddUser(scim.User{UserName: "seed", Active: scim.Bool(false), Enterprise: &scim.EnterpriseUser{Department: "D"}})
	if err != nil {
		t.Fatal(err)
	}
	if !uuidRE.MatchString(u.ID) || u.IsActive() || u.Enterprise.Department != "D" {
		t.Errorf("AddUser = %+v", u)
	}
	if _, err := s.AddUser(scim.User{UserName: "SEED"}); err == nil {
		t.Error("AddUser accepted a taken userName")
	} else if e, ok := err.(*scim.Error); !ok || e.Status != http.StatusConflict || e.ScimType != scim.ScimTypeUniqueness {
		t.Errorf("AddUser error %#v, want a 409 *scim.Error", err)
	}
	if _, err := s.AddGroup(scim.Group{DisplayName: "G", Members: scim.MemberValues([]string{"ghost"})}); err == nil {
		t.Error("AddGroup accepted an unknown member")
	}
	g, err := s.AddGroup(scim.Group{DisplayName: "G", Members: scim.MemberValues([]string{u.ID})})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(g.MemberIDs()) != fmt.Sprint([]string{u.ID}) || g.Members[0].Display != "seed" {
		t.Errorf("AddGroup = %+v", g)
	}
	if us := s.Users(); len(us) != 1 || us[0].ID != u.ID {
		t.Errorf("Users() = %+v", us)
	}
	if gs := s.Groups(); len(gs) != 1 || len(gs[0].Members) != 1 {
		t.Errorf("Groups() = %+v", gs)
	}
	if _, ok := s.User("nope"); ok {
		t.Error("User(nope) found")
	}
	if s.Stats().Requests != 0 {
		t.Error("seeding counted requests")
	}
	s.Reset()
	if s.UserCount() != 0 || s.GroupCount() != 0 || len(s.Users()) != 0 {
		t.Error("Reset left resources")
	}
	// Users stored after a Reset are members as themselves, though the
	// store numbers them afresh.
	a, errA := s.AddUser(scim.User{UserName: "after-a"})
	b, errB := s.AddUser(scim.User{UserName: "after-b"})
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	g, err = s.AddGroup(scim.Group{DisplayName: "G", Members: scim.MemberValues([]string{b.ID, a.ID})})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Members) != 2 || g.Members[0].Value != b.ID || g.Members[0].Display != "after-b" || g.Members[1].Display != "after-a" {
		t.Errorf("AddGroup after Reset = %+v", g.Members)
	}
}

func TestConcurrent(t *testing.T) {
	s := New(t)
	c := newClient(t, s)
	g := c.createGroup(scim.Group{DisplayName: "All"})
	var wg sync.WaitGroup
	const workers, each = 8, 20
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			cc := newClient(t, s)
			for i := 0; i < each; i++ {
				u := cc.createUser(user(fmt.Sprintf("w%d-%d", w, i)))
				cc.patch(http.StatusNoContent, "/Groups/"+g.ID, scim.Add("members", scim.MemberValues([]string{u.ID})))
				cc.patch(http.StatusNoContent, "/Users/"+u.ID, scim.Replace("title", "t"))
				cc.listUsers("?count=5")
				cc.must(http.StatusOK, http.MethodGet, "/Groups/"+g.ID+"?attributes=members", nil)
				if i%2 == 0 {
					cc.must(http.StatusNoContent, http.MethodDelete, "/Users/"+u.ID, nil)
				}
			}
		}(w)
	}
	wg.Wait()
	got, _ := s.Group(g.ID)
	if s.UserCount() != workers*each/2 || len(got.Members) != workers*each/2 {
		t.Errorf("%d users, %d members; want %d each", s.UserCount(), len(got.Members), workers*each/2)
	}
}

func TestHandlerMountedAtRoot(t *testing.T) {
	s := NewUnstartedServer(WithToken("t"))
	defer s.Close()
	if s.URL() != "" {
		t.Errorf("unstarted URL() = %q", s.URL())
	}
	tests := []struct {
		path string
		want int
	}{
		{BasePath + "/Users", http.StatusOK},
		{BasePath + "/Groups", http.StatusOK},
		{"/v2/Users", http.StatusNotFound},
		{"/Users", http.StatusNotFound},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "http://x"+tt.path, nil)
		req.Header.Set("Netskope-Api-Token", "t")
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("%s: status %d, want %d", tt.path, rec.Code, tt.want)
		}
		if tt.want == http.StatusOK && !strings.Contains(rec.Body.String(), `"totalResults":0`) {
			t.Errorf("%s: body %s", tt.path, rec.Body.String())
		}
	}
}

// filterValidator parses and validates a filter as elimity does for a list.
func filterValidator(f string, t *table) (fp.Expression, error) {
	v, err := efilter.NewValidator(f, t.schema, t.exts...)
	if err != nil {
		return nil, err
	}
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return v.GetFilter(), nil
}

func TestThrottleNextAndWrites(t *testing.T) {
	s := New(t)
	do := func(method, path string) int {
		t.Helper()
		req, _ := http.NewRequest(method, s.URL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+s.Token())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	s.ThrottleNext(2)
	for i, want := range []int{429, 429, 200} {
		if got := do(http.MethodGet, "/Users"); got != want {
			t.Errorf("request %d: status %d, want %d", i, got, want)
		}
	}
	do(http.MethodDelete, "/Users/nope")
	if st := s.Stats(); st.Writes() != 1 || st.Faults429 != 2 {
		t.Errorf("writes %d, 429 faults %d; want 1 and 2", st.Writes(), st.Faults429)
	}
}
