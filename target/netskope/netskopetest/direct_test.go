package netskopetest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/provsync/provsync/scim"
)

// directClient sends each request through the direct paths (direct.go)
// or through elimity's handler, as the server answered every request
// before them.
type directClient struct {
	*client
	s *Server
}

func (c directClient) sendVia(elimity bool, method, path string, body any) response {
	c.tb.Helper()
	c.s.viaElimity.Store(elimity)
	defer c.s.viaElimity.Store(false)
	return c.send(method, path, body)
}

// same fails unless two answers are the same to the byte, in status,
// media type and body.
func same(t *testing.T, what string, direct, elimity response) {
	t.Helper()
	if direct.status != elimity.status || direct.header.Get("Content-Type") != elimity.header.Get("Content-Type") ||
		!bytes.Equal(direct.body, elimity.body) {
		t.Errorf("%s:\ndirect:  %d %s %s\nelimity: %d %s %s", what,
			direct.status, direct.header.Get("Content-Type"), direct.body,
			elimity.status, elimity.header.Get("Content-Type"), elimity.body)
	}
}

// TestDirectMatchesElimity checks that the requests the server answers
// itself get the answers elimity's handler gives, byte for byte: every
// read is made both ways, and every write's answer is compared with a
// read of the same resource the other way.
func TestDirectMatchesElimity(t *testing.T) {
	for _, style := range []ErrorStyle{ErrorStyleSCIM, ErrorStyleMessage} {
		t.Run(style.String(), func(t *testing.T) { testDirectMatchesElimity(t, style) })
	}
}

func testDirectMatchesElimity(t *testing.T, style ErrorStyle) {
	s := New(t, WithErrorStyle(style), WithMaxPageSize(4))
	c := directClient{newClient(t, s), s}
	ent := "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

	// Users of every shape a client sends, created alternately through
	// each path; each answer is compared with a read the other way.
	users := []string{
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"plain@example.com","externalId":"src-1","displayName":"Plain User","name":{"givenName":"Plain","familyName":"User"},"active":true,"emails":[{"value":"plain@example.com","type":"work","primary":true}]}`,
		`{"userName":"Ünïcødé <&> \"q\" \\ \u2028 \t@example.com","displayName":"日本語 \u0001","active":"false","title":"a&b"}`,
		`{"USERNAME":"case@example.com","Active":"TRUE","Name":{"GIVENNAME":"Case"},"emails":{"value":"single@example.com","type":"work"}}`,
		`{"userName":"ent@example.com","` + ent + `":{"department":"Eng","employeeNumber":"42","manager":{"value":"boss"}},"password":"hidden","phoneNumbers":[{"value":"+1","type":"work"},{"value":"+2","type":"mobile"}]}`,
		`{"userName":"roles@example.com","roles":[{"value":"r1","primary":false}],"x509Certificates":[],"addresses":[{"streetAddress":"1 Main St","locality":"Town","country":"BE"}],"nickName":null}`,
		"{\"userName\":\"bad-utf8-\xff@example.com\",\"displayName\":\"\xc3\"}",
	}
	var userIDs []string
	for i, body := range users {
		viaElimity := i%2 == 1
		created := c.sendVia(viaElimity, http.MethodPost, "/Users", body)
		if created.status != http.StatusCreated {
			t.Fatalf("POST user %d: %d %s", i, created.status, created.body)
		}
		var u scim.User
		created.decode(t, &u)
		if loc := created.header.Get("Location"); loc != s.URL()+"/Users/"+u.ID {
			t.Errorf("POST user %d: Location %q, want %q", i, loc, s.URL()+"/Users/"+u.ID)
		}
		read := c.sendVia(!viaElimity, http.MethodGet, "/Users/"+u.ID, nil)
		created.status = http.StatusOK
		same(t, fmt.Sprintf("POST user %d then GET", i), created, read)
		userIDs = append(userIDs, u.ID)
	}

	groups := []struct {
		body, query string
	}{
		{`{"displayName":"Empty","externalId":"g-0"}`, ""},
		{`{"displayName":"Empty listed","externalId":"g-1"}`, "?attributes=members"},
		{fmt.Sprintf(`{"displayName":"Pair <&>","members":[{"value":%q},{"value":%q}]}`, userIDs[1], userIDs[0]), "?attributes=members"},
		{fmt.Sprintf(`{"displayName":"Trio","members":[{"value":%q},{"value":%q},{"value":%q}]}`, userIDs[2], userIDs[5], userIDs[3]), "?excludedAttributes=externalId"},
		{fmt.Sprintf(`{"displayName":"Single","members":{"value":%q}}`, userIDs[4]), "?attributes=Members.value"},
	}
	var groupIDs []string
	for i, g := range groups {
		viaElimity := i%2 == 0
		created := c.sendVia(viaElimity, http.MethodPost, "/Groups"+g.query, g.body)
		if created.status != http.StatusCreated {
			t.Fatalf("POST group %d: %d %s", i, created.status, created.body)
		}
		var got scim.Group
		created.decode(t, &got)
		read := c.sendVia(!viaElimity, http.MethodGet, "/Groups/"+got.ID+g.query, nil)
		created.status = http.StatusOK
		same(t, fmt.Sprintf("POST group %d then GET", i), created, read)
		groupIDs = append(groupIDs, got.ID)
	}

	// PUT, both ways, each compared with a read the other way.
	puts := []struct{ path, body string }{
		{"/Users/" + userIDs[0], `{"userName":"plain@example.com","active":"true","emails":[{"value":"new@example.com","type":"work"}]}`},
		{"/Users/" + userIDs[3], `{"userName":"ent@example.com","` + ent + `":{"department":"Ops"}}`},
		{"/Groups/" + groupIDs[2] + "?attributes=members", fmt.Sprintf(`{"displayName":"Pair renamed","members":[{"value":%q}]}`, userIDs[4])},
		{"/Groups/" + groupIDs[3], `{"displayName":"Trio emptied"}`},
	}
	for i, p := range puts {
		viaElimity := i%2 == 1
		put := c.sendVia(viaElimity, http.MethodPut, p.path, p.body)
		if put.status != http.StatusOK {
			t.Fatalf("PUT %s: %d %s", p.path, put.status, put.body)
		}
		same(t, "PUT "+p.path+" then GET", put, c.sendVia(!viaElimity, http.MethodGet, p.path, nil))
	}

	// Refused writes change nothing, so each is made both ways.
	refused := []struct{ method, path, body string }{
		{http.MethodPost, "/Users", `{"userName":`},
		{http.MethodPost, "/Users", `[1,2]`},
		{http.MethodPost, "/Users", `null`},
		{http.MethodPost, "/Users", `{"displayName":"no userName"}`},
		{http.MethodPost, "/Users", `{"userName":5}`},
		{http.MethodPost, "/Users", `{"userName":"x@example.com","active":"maybe"}`},
		{http.MethodPut, "/Users/" + userIDs[1], `{"userName":"x@example.com","active":"maybe"}`},
		{http.MethodPost, "/Users", `{"userName":"x@example.com","UserName":"y"}`},
		{http.MethodPost, "/Users", `{"userName":"x@example.com","emails":"nope"}`},
		{http.MethodPost, "/Users", `{"userName":"x@example.com","` + ent + `":"nope"}`},
		{http.MethodPost, "/Users", `{"userName":"PLAIN@example.com"}`},
		{http.MethodPost, "/Groups", `{"displayName":"empty"}`},
		{http.MethodPost, "/Groups", `{"displayName":"bad member","members":[{"value":"nobody"}]}`},
		{http.MethodPost, "/Groups", `{"displayName":"member without value","members":[{"display":"x"}]}`},
		{http.MethodPost, "/Groups", `{"externalId":"no name"}`},
		{http.MethodPut, "/Users/nobody", `{"userName":"x@example.com"}`},
		{http.MethodPut, "/Users/" + userIDs[1], `{"userName":"case@example.com"}`},
		{http.MethodPut, "/Users/" + userIDs[1], `{"userName":""}`},
		{http.MethodPut, "/Groups/" + groupIDs[0], `{"displayName":"Trio emptied"}`},
		{http.MethodPut, "/Groups/" + groupIDs[0], `{"displayName":"ok","members":[{"value":"nobody"}]}`},
		{http.MethodGet, "/Users/nobody", ""},
		{http.MethodGet, "/Groups/" + userIDs[0], ""},
	}
	for _, rq := range refused {
		var body any
		if rq.body != "" {
			body = rq.body
		}
		d := c.sendVia(false, rq.method, rq.path, body)
		e := c.sendVia(true, rq.method, rq.path, body)
		if d.status < 400 {
			t.Errorf("%s %s %s: status %d, want an error", rq.method, rq.path, rq.body, d.status)
		}
		same(t, rq.method+" "+rq.path+" "+rq.body, d, e)
	}

	// Lists and filters, with and without lies.
	lists := []string{
		"/Users", "/Users?count=2", "/Users?startIndex=3&count=2", "/Users?count=0", "/Users?count=-1",
		"/Users?startIndex=0", "/Users?startIndex=-5&count=1", "/Users?startIndex=99", "/Users?count=100",
		"/Users?count=x", "/Users?startIndex=1.5",
		"/Users?filter=" + url.QueryEscape(`userName eq "CASE@example.com"`),
		"/Users?filter=" + url.QueryEscape(`externalId eq "src-1"`),
		"/Users?filter=" + url.QueryEscape(`id eq "`+userIDs[2]+`"`),
		"/Users?filter=" + url.QueryEscape(`userName sw "p"`),
		"/Users?filter=" + url.QueryEscape(`emails.value co "example"`) + "&count=2&startIndex=2",
		"/Users?filter=" + url.QueryEscape(`active eq false or title pr`),
		"/Users?filter=" + url.QueryEscape(ent+`:department eq "Ops"`),
		"/Users?filter=" + url.QueryEscape(`userName eq`),
		"/Users?filter=" + url.QueryEscape(`nosuch eq "x"`),
		"/Users?filter=" + url.QueryEscape(`userName eq x`),
		"/Users?filter=%20%20",
		"/Users?excludedAttributes=emails,name,urn:ietf:params:scim:schemas:core:2.0:User:displayName",
		"/Users?excludedAttributes=" + url.QueryEscape(ent) + "&attributes=userName",
		"/Groups", "/Groups?attributes=members", "/Groups?attributes=members&excludedAttributes=members",
		"/Groups?attributes=displayName,members&startIndex=2&count=3",
		"/Groups?filter=" + url.QueryEscape(`displayName eq "pair renamed"`) + "&attributes=members",
		"/Groups?filter=" + url.QueryEscape(`members.value eq "`+userIDs[4]+`"`),
		"/Groups?excludedAttributes=displayName,meta,id,schemas",
	}
	lies := []ListLie{ListTruthful, ListEmpty, ListNullResources, ListTotalFirstPage, ListShortPage, ListRepeats}
	for _, lie := range lies {
		s.SetListLie(lie)
		for _, path := range lists {
			same(t, fmt.Sprintf("GET %s (%s)", path, lie), c.sendVia(false, http.MethodGet, path, nil), c.sendVia(true, http.MethodGet, path, nil))
		}
	}
	s.SetListLie(ListTruthful)

	// DELETE of a user in groups, of a group, and of what is not there,
	// made both ways.
	for i, path := range []string{"/Users/" + userIDs[0], "/Users/" + userIDs[1], "/Groups/" + groupIDs[2], "/Groups/" + groupIDs[3]} {
		d := c.sendVia(i%2 == 0, http.MethodDelete, path, nil)
		if d.status != http.StatusNoContent {
			t.Errorf("DELETE %s: %d %s", path, d.status, d.body)
		}
		same(t, "DELETE "+path+" twice", c.sendVia(false, http.MethodDelete, path, nil), c.sendVia(true, http.MethodDelete, path, nil))
		same(t, "GET "+path+" deleted", c.sendVia(false, http.MethodGet, path, nil), c.sendVia(true, http.MethodGet, path, nil))
	}
	same(t, "DELETE /Users/nobody", c.sendVia(false, http.MethodDelete, "/Users/nobody", nil), c.sendVia(true, http.MethodDelete, "/Users/nobody", nil))
	same(t, "groups after DELETEs", c.sendVia(false, http.MethodGet, "/Groups?attributes=members", nil), c.sendVia(true, http.MethodGet, "/Groups?attributes=members", nil))

	// An empty server: no resources at all.
	s.Reset()
	for _, path := range []string{"/Users", "/Users?count=0", "/Groups?startIndex=2"} {
		same(t, "empty GET "+path, c.sendVia(false, http.MethodGet, path, nil), c.sendVia(true, http.MethodGet, path, nil))
	}
}

// TestDirectQuirks runs the options that change reads through both paths.
func TestDirectQuirks(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		path string
	}{
		{"no list members", []Option{WithoutListMembers()}, "/Groups?attributes=members"},
		{"no empty members", []Option{WithoutEmptyMembers()}, "/Groups?attributes=members"},
		{"case-exact eq", []Option{WithFilterQuirks(FilterQuirks{CaseExactEq: true})}, "/Users?filter=" + url.QueryEscape(`userName eq "A@EXAMPLE.COM"`)},
		{"case-exact eq, exact", []Option{WithFilterQuirks(FilterQuirks{CaseExactEq: true})}, "/Users?filter=" + url.QueryEscape(`userName eq "a@example.com"`)},
		{"quotes refused", []Option{WithFilterQuirks(FilterQuirks{RejectQuotes: true})}, "/Users?filter=" + url.QueryEscape(`userName eq "a\"b"`)},
		{"raw escapes", []Option{WithFilterQuirks(FilterQuirks{RawEscapes: true})}, "/Users?filter=" + url.QueryEscape(`displayName eq "back\\slash"`)},
		{"escapes", nil, "/Users?filter=" + url.QueryEscape(`displayName eq "back\\slash"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, tt.opts...)
			c := directClient{newClient(t, s), s}
			u := c.createUser(scim.User{UserName: "a@example.com", DisplayName: `back\slash`})
			c.createGroup(scim.Group{DisplayName: "empty"})
			c.createGroup(scim.Group{DisplayName: "full", Members: []scim.Member{{Value: u.ID}}})
			d, e := c.sendVia(false, http.MethodGet, tt.path, nil), c.sendVia(true, http.MethodGet, tt.path, nil)
			same(t, "GET "+tt.path, d, e)
			if strings.Contains(tt.name, "members") && d.status != http.StatusOK {
				t.Errorf("status %d", d.status)
			}
		})
	}
}

// TestMemberReadsFollowChanges reads a group's members (both ways, one
// resource and a list) after each kind of change to them or to a member:
// the members a read shows are kept between changes, so every change
// must be seen by the next read.
func TestMemberReadsFollowChanges(t *testing.T) {
	s := New(t)
	c := directClient{newClient(t, s), s}
	u := make([]scim.User, 6)
	for i := range u {
		u[i] = c.createUser(scim.User{UserName: fmt.Sprintf("u%d@example.com", i), DisplayName: fmt.Sprintf("U%d", i)})
	}
	g := c.createGroup(scim.Group{DisplayName: "G", Members: []scim.Member{{Value: u[0].ID}, {Value: u[1].ID}}})
	path := "/Groups/" + g.ID
	ref := func(i int) scim.Member { return scim.Member{Value: u[i].ID} }
	steps := []struct {
		name   string
		change func()
		want   []string // displays, in order
	}{
		{"created", func() {}, []string{"U0", "U1"}},
		{"add", func() { c.patch(http.StatusNoContent, path, scim.Add("members", []scim.Member{ref(2)})) }, []string{"U0", "U1", "U2"}},
		{"remove", func() { c.patch(http.StatusNoContent, path, scim.Remove("members", []scim.Member{ref(0)})) }, []string{"U1", "U2"}},
		{"re-add goes last", func() { c.patch(http.StatusNoContent, path, scim.Add("members", []scim.Member{ref(0)})) }, []string{"U1", "U2", "U0"}},
		{"member renamed", func() {
			c.patch(http.StatusNoContent, "/Users/"+u[1].ID, scim.Replace("displayName", "U1 renamed"))
		}, []string{"U1 renamed", "U2", "U0"}},
		{"member's displayName removed", func() {
			c.patch(http.StatusNoContent, "/Users/"+u[2].ID, scim.Remove("displayName", nil))
		}, []string{"U1 renamed", "u2@example.com", "U0"}},
		{"member deleted", func() { c.must(http.StatusNoContent, http.MethodDelete, "/Users/"+u[0].ID, nil) }, []string{"U1 renamed", "u2@example.com"}},
		{"failed PATCH undone", func() {
			c.patch(http.StatusBadRequest, path, scim.Add("members", []scim.Member{ref(3)}), scim.Remove("members", []scim.Member{ref(1)}),
				scim.Add("members", []scim.Member{{Value: "nobody"}}))
		}, []string{"U1 renamed", "u2@example.com"}},
		{"PUT", func() {
			c.must(http.StatusOK, http.MethodPut, path, scim.Group{DisplayName: "G", Members: []scim.Member{ref(4), ref(2)}}.WithSchemas())
		}, []string{"u2@example.com", "U4"}},
		{"replace", func() { c.patch(http.StatusNoContent, path, scim.Replace("members", []scim.Member{ref(5)})) }, []string{"U5"}},
		{"remove all", func() { c.patch(http.StatusNoContent, path, scim.Remove("members", nil)) }, nil},
		{"add to empty", func() { c.patch(http.StatusNoContent, path, scim.Add("members", []scim.Member{ref(3)})) }, []string{"U3"}},
	}
	for _, st := range steps {
		st.change()
		for _, viaElimity := range []bool{false, true} {
			var one scim.Group
			c.sendVia(viaElimity, http.MethodGet, path+"?attributes=members", nil).decode(t, &one)
			var list scim.ListResponse[scim.Group]
			c.sendVia(viaElimity, http.MethodGet, "/Groups?attributes=members", nil).decode(t, &list)
			if len(list.Resources) != 1 {
				t.Fatalf("%s: %d groups listed", st.name, len(list.Resources))
			}
			for what, got := range map[string]scim.Group{"read": one, "listed": list.Resources[0]} {
				var displays []string
				for _, m := range got.Members {
					displays = append(displays, m.Display)
				}
				if !slices.Equal(displays, st.want) {
					t.Errorf("%s (via elimity %v): %s members %q, want %q", st.name, viaElimity, what, displays, st.want)
				}
			}
		}
	}
}

// TestUserDeleteLeavesEveryGroup deletes users after every kind of change
// to their memberships (the store counts each user's groups and looks
// through the groups on a delete only while that count says it is in
// some): a deleted user is in no group afterwards, whatever came before.
func TestUserDeleteLeavesEveryGroup(t *testing.T) {
	s := New(t)
	c := newClient(t, s)
	u := make([]scim.User, 4)
	for i := range u {
		u[i] = c.createUser(scim.User{UserName: fmt.Sprintf("d%d@example.com", i)})
	}
	ref := func(i int) scim.Member { return scim.Member{Value: u[i].ID} }
	g := make([]scim.Group, 6)
	for i := range g {
		g[i] = c.createGroup(scim.Group{DisplayName: fmt.Sprintf("G%d", i), Members: []scim.Member{ref(0), ref(3)}})
	}
	gp := func(i int) string { return "/Groups/" + g[i].ID }
	// u0: in every group, then a failed PATCH that removed it from G1
	// before failing, a remove from G2 and a re-add, G3 deleted, G4
	// replaced with it and u1.
	c.patch(http.StatusBadRequest, gp(1), scim.Remove("members", []scim.Member{ref(0)}), scim.Add("members", []scim.Member{{Value: "nobody"}}))
	c.patch(http.StatusNoContent, gp(2), scim.Remove("members", []scim.Member{ref(0)}))
	c.patch(http.StatusNoContent, gp(2), scim.Add("members", []scim.Member{ref(0)}))
	c.must(http.StatusNoContent, http.MethodDelete, gp(3), nil)
	c.patch(http.StatusNoContent, gp(4), scim.Replace("members", []scim.Member{ref(0), ref(1)}))
	// u1: added to G5 by a PATCH that then failed, and in G4 by replace;
	// u2: in G0 and G5 by PUT.
	c.patch(http.StatusBadRequest, gp(5), scim.Add("members", []scim.Member{ref(1)}), scim.Add("members", []scim.Member{{Value: "nobody"}}))
	for _, i := range []int{0, 5} {
		c.must(http.StatusOK, http.MethodPut, gp(i), scim.Group{DisplayName: fmt.Sprintf("G%d", i), Members: []scim.Member{ref(0), ref(2), ref(3)}}.WithSchemas())
	}
	want := map[string][]string{ // group -> members, by user name
		"G0": {"d0", "d3", "d2"}, "G1": {"d0", "d3"}, "G2": {"d3", "d0"}, "G4": {"d0", "d1"}, "G5": {"d0", "d3", "d2"},
	}
	check := func(step string) {
		t.Helper()
		got := map[string][]string{}
		for _, gr := range s.Groups() {
			names := []string{}
			for _, m := range gr.Members {
				names = append(names, strings.TrimSuffix(m.Display, "@example.com"))
			}
			got[gr.DisplayName] = names
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: groups hold %v, want %v", step, got, want)
		}
	}
	check("before deletes")
	for _, del := range []struct {
		user int
		name string
	}{{0, "d0"}, {1, "d1"}, {2, "d2"}} {
		c.must(http.StatusNoContent, http.MethodDelete, "/Users/"+u[del.user].ID, nil)
		for gname, members := range want {
			want[gname] = slices.DeleteFunc(members, func(n string) bool { return n == del.name })
		}
		check("after deleting " + del.name)
	}
}

// TestParseMembersPatch checks which PATCH bodies the direct path reads
// (only members given as {"value": id}) and what it reads from them.
func TestParseMembersPatch(t *testing.T) {
	const urn = `"urn:ietf:params:scim:api:messages:2.0:PatchOp"`
	body := func(ops string) string { return `{"schemas":[` + urn + `],"Operations":[` + ops + `]}` }
	tests := []struct {
		name, body string
		want       []string // op:ids per operation; nil: left to elimity
	}{
		{"add", body(`{"op":"add","path":"members","value":[{"value":"a"},{"value":"b"}]}`), []string{"add:[a b]"}},
		{"mixed case, spaces", "{ \"SCHEMAS\" : [ " + urn + " ] , \"operations\" : [ { \"Op\" : \"Remove\" , \"Path\" : \"Members\" , \"Value\" : [ { \"value\" : \"a\" } ]\n} ] }", []string{"remove:[a]"}},
		{"several ops", body(`{"op":"replace","path":"members","value":[{"value":"a"}]},{"op":"ADD","path":"MEMBERS","value":[{"value":"c"}]}`), []string{"replace:[a]", "add:[c]"}},
		{"escapes and non-ASCII", body(`{"op":"add","path":"members","value":[{"value":"\u0041\"\\"},{"value":"é"}]}`), []string{`add:[A"\ é]`}},
		{"empty id", body(`{"op":"add","path":"members","value":[{"value":""}]}`), []string{"add:[]"}},
		{"trailing data after the body", body(`{"op":"add","path":"members","value":[{"value":"a"}]}`) + ` {"x":1}`, []string{"add:[a]"}},
		{"display", body(`{"op":"add","path":"members","value":[{"value":"a","display":"A"}]}`), nil},
		{"Value key", body(`{"op":"add","path":"members","value":[{"Value":"a"}]}`), nil},
		{"escaped key", body(`{"op":"add","path":"members","value":[{"\u0076alue":"a"}]}`), nil},
		{"duplicate key", body(`{"op":"add","path":"members","value":[{"value":"a","value":"b"}]}`), nil},
		{"number id", body(`{"op":"add","path":"members","value":[{"value":1}]}`), nil},
		{"null id", body(`{"op":"add","path":"members","value":[{"value":null}]}`), nil},
		{"one object", body(`{"op":"add","path":"members","value":{"value":"a"}}`), nil},
		{"empty list", body(`{"op":"add","path":"members","value":[]}`), nil},
		{"no value", body(`{"op":"remove","path":"members"}`), nil},
		{"null value", body(`{"op":"remove","path":"members","value":null}`), nil},
		{"filter path", body(`{"op":"remove","path":"members[value eq \"a\"]"}`), nil},
		{"sub-attribute path", body(`{"op":"add","path":"members.value","value":[{"value":"a"}]}`), nil},
		{"core URN path", body(`{"op":"add","path":"urn:ietf:params:scim:schemas:core:2.0:Group:members","value":[{"value":"a"}]}`), nil},
		{"other path", body(`{"op":"replace","path":"displayName","value":"x"}`), nil},
		{"members and another path", body(`{"op":"add","path":"members","value":[{"value":"a"}]},{"op":"replace","path":"displayName","value":"x"}`), nil},
		{"no path", body(`{"op":"add","value":{"members":[{"value":"a"}]}}`), nil},
		{"unknown op", body(`{"op":"move","path":"members","value":[{"value":"a"}]}`), nil},
		{"op not a string", body(`{"op":1,"path":"members","value":[{"value":"a"}]}`), nil},
		{"no operations", body(``), nil},
		{"wrong schema", `{"schemas":["urn:x"],"Operations":[{"op":"add","path":"members","value":[{"value":"a"}]}]}`, nil},
		{"two schemas", `{"schemas":[` + urn + `,` + urn + `],"Operations":[{"op":"add","path":"members","value":[{"value":"a"}]}]}`, nil},
		{"not JSON", `{"schemas":`, nil},
		{"unterminated list", body(`{"op":"add","path":"members","value":[{"value":"a"}`) + `}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkScanMembersPatch(t, []byte(tt.body))
			ops, ok := parseMembersPatch([]byte(tt.body))
			var got []string
			for _, op := range ops {
				ids, _ := op.Value.(memberList)
				got = append(got, fmt.Sprintf("%s:%v", op.Op, []string(ids)))
				if !strings.EqualFold(op.Path.AttributePath.AttributeName, "members") || op.Path.ValueExpression != nil {
					t.Errorf("path %+v", op.Path)
				}
			}
			if ok != (tt.want != nil) || !slices.Equal(got, tt.want) {
				t.Errorf("parseMembersPatch = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

// TestScanMembersPatch checks which bodies scanMembersPatch reads itself
// (what a sync sends must be among them); checkScanMembersPatch compares
// it with encoding/json on every body it reads.
func TestScanMembersPatch(t *testing.T) {
	const urn = `"urn:ietf:params:scim:api:messages:2.0:PatchOp"`
	op := `{"op":"add","path":"members","value":[{"value":"a"},{"value":"b"}]}`
	tests := []struct {
		body string
		scan bool
	}{
		{`{"schemas":[` + urn + `],"Operations":[` + op + `]}`, true},
		{`{"Operations":[` + op + `,{"value":[{"value":"c"}],"path":"Members","op":"Remove"}], "schemas" : [ ` + urn + ` ] }`, true},
		{`{"schemas":[` + urn + `],"Operations":[{"op":"add","path":"members","value":[{"value":"a]"},{"value":"b"}]}]}`, true},
		{`{"schemas":[` + urn + `],"operations":[` + op + `]}`, false},
		{`{"schemas":[` + urn + `],"Operations":[` + op + `],"Operations":[` + op + `]}`, false},
		{`{"schemas":[` + urn + `],"Operations":[{"op":"add","op":"remove","path":"members","value":[{"value":"a"}]}]}`, false},
		{`{"schemas":[` + urn + `],"Operations":[{"op":"add","path":"members","value":[{"value":"a"}],"extra":1}]}`, false},
		{`{"schemas":[` + urn + `],"Operations":[{"op":"add","path":"members"}]}`, false},
		{`{"schemas":[` + urn + `],"Operations":[]}`, false},
		{`{"schemas":[` + urn + `],"id":"x","Operations":[` + op + `]}`, false},
	}
	for _, tt := range tests {
		checkScanMembersPatch(t, []byte(tt.body))
		if _, ok := scanMembersPatch([]byte(tt.body)); ok != tt.scan {
			t.Errorf("%s: scanned %v, want %v", tt.body, ok, tt.scan)
		}
	}
}

func checkScanMembersPatch(t *testing.T, body []byte) {
	t.Helper()
	got, ok := scanMembersPatch(body)
	if !ok {
		return
	}
	want, wantOK := decodeMembersPatch(body)
	if !wantOK || !reflect.DeepEqual(got, want) {
		t.Errorf("scanMembersPatch(%s) = %+v; encoding/json: %+v, %v", body, got, want, wantOK)
	}
}

// FuzzScanMembersPatch compares scanMembersPatch with encoding/json.
//
//	go test -run '^$' -fuzz FuzzScanMembersPatch ./target/netskope/netskopetest/
func FuzzScanMembersPatch(f *testing.F) {
	const urn = `"urn:ietf:params:scim:api:messages:2.0:PatchOp"`
	f.Add([]byte(`{"schemas":[` + urn + `],"Operations":[{"op":"add","path":"members","value":[{"value":"a"},{"value":"b"}]}]}`))
	f.Add([]byte(`{"Operations":[{"value":[{"value":"c\u0041"}],"path":"Members","op":"Remove"}],"schemas":[` + urn + `]} x`))
	f.Fuzz(checkScanMembersPatch)
}

// TestDirectPatchMatchesElimity makes each members PATCH on two groups
// alike, once through the direct path and once through elimity, and
// compares the answers and the groups' members afterwards.
func TestDirectPatchMatchesElimity(t *testing.T) {
	s := New(t)
	c := directClient{newClient(t, s), s}
	u := make([]string, 4)
	for i := range u {
		u[i] = c.createUser(scim.User{UserName: fmt.Sprintf("p%d@example.com", i)}).ID
	}
	const urn = `"urn:ietf:params:scim:api:messages:2.0:PatchOp"`
	body := func(ops string) string { return `{"schemas":[` + urn + `],"Operations":[` + ops + `]}` }
	vals := func(ids ...string) string {
		var parts []string
		for _, id := range ids {
			parts = append(parts, `{"value":"`+id+`"}`)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	patches := []string{
		body(`{"op":"add","path":"members","value":` + vals(u[2], u[3]) + `}`),
		body(`{"op":"Add","path":"Members","value":` + vals(u[0], u[2], u[2]) + `}`),
		body(`{"op":"remove","path":"members","value":` + vals(u[1], "not-a-member") + `}`),
		body(`{"op":"replace","path":"members","value":` + vals(u[3], u[1]) + `}`),
		body(`{"op":"add","path":"members","value":` + vals(u[2]) + `},{"op":"remove","path":"members","value":` + vals(u[0]) + `}`),
		body(`{"op":"add","path":"members","value":` + vals(u[2], "nobody") + `}`),
		body(`{"op":"add","path":"members","value":` + vals(u[2], "") + `}`),
		body(`{"op":"remove","path":"members","value":` + vals(u[0]) + `},{"op":"add","path":"members","value":` + vals("nobody") + `}`),
		body(`{"op":"add","path":"members","value":[{"value":"` + u[3] + `","display":"x"}]}`),
		body(`{"op":"remove","path":"members"}`),
	}
	for i, p := range patches {
		var ids [2]string
		for k := range ids {
			ids[k] = c.createGroup(scim.Group{DisplayName: fmt.Sprintf("P%d-%d", i, k), Members: []scim.Member{{Value: u[0]}, {Value: u[1]}}}).ID
		}
		d := c.sendVia(false, http.MethodPatch, "/Groups/"+ids[0], p)
		e := c.sendVia(true, http.MethodPatch, "/Groups/"+ids[1], p)
		same(t, "PATCH "+p, d, e)
		var members [2]string
		for k, id := range ids {
			g, _ := s.Group(id)
			members[k] = fmt.Sprint(g.Members)
		}
		if members[0] != members[1] {
			t.Errorf("PATCH %s: direct left members %s, elimity %s", p, members[0], members[1])
		}
	}
	// A PATCH of an unknown group.
	p := patches[0]
	same(t, "PATCH of an unknown group", c.sendVia(false, http.MethodPatch, "/Groups/nobody", p), c.sendVia(true, http.MethodPatch, "/Groups/nobody", p))
}
