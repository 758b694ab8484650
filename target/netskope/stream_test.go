package netskope

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/target"
)

// TestListDecodesEachElement serves pages whose bodies break in one place
// and checks that the listing fails with a protocol error naming the
// page, the element and the attribute, never with a partial listing.
func TestListDecodesEachElement(t *testing.T) {
	const good = `{"id":"u1","userName":"a@example.com"},{"id":"u2","userName":"b@example.com"}`
	tests := []struct {
		name string
		body string
		want []string // in the error
	}{
		{"an attribute of the wrong type", `{"totalResults":3,"Resources":[` + good + `,{"id":"u3","userName":"c","emails":"c@example.com"}]}`,
			[]string{"resource 3 of the page at startIndex=1", "emails"}},
		{"active neither boolean nor one spelled", `{"totalResults":3,"Resources":[` + good + `,{"id":"u3","userName":"c","active":"maybe"}]}`,
			[]string{"resource 3 of the page at startIndex=1", "active"}},
		{"an element that is not an object", `{"totalResults":3,"Resources":[` + good + `,"u3"]}`,
			[]string{"resource 3 of the page at startIndex=1"}},
		{"a body cut in the middle of an element", `{"totalResults":3,"Resources":[` + good + `,{"id":"u3","userN`,
			[]string{"resource 3 of the page at startIndex=1", "unexpected EOF"}},
		{"a body cut after an element", `{"totalResults":3,"Resources":[` + good,
			[]string{"not SCIM JSON"}},
		{"a syntax error between elements", `{"totalResults":3,"Resources":[` + good + ` {"id":"u3"}]}`,
			[]string{"resource 3 of the page at startIndex=1"}},
		{"Resources not an array", `{"totalResults":1,"Resources":{"id":"u1"}}`,
			[]string{"Resources is a delimiter, not an array"}},
		{"Resources twice", `{"totalResults":2,"Resources":[` + good + `],"Resources":[]}`,
			[]string{"holds Resources twice"}},
		{"totalResults not a number", `{"totalResults":"2","Resources":[` + good + `]}`,
			[]string{"totalResults"}},
		{"a second value after the page", `{"totalResults":2,"Resources":[` + good + `]} {}`,
			[]string{"data after the top-level value"}},
		{"an array for a body", `[` + good + `]`,
			[]string{"not SCIM JSON", "an array"}},
		{"null", `null`,
			[]string{"not a SCIM ListResponse"}},
		{"Resources null, no totalResults", `{"Resources":null,"itemsPerPage":0}`,
			[]string{"not a SCIM ListResponse"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				writeRaw(w, http.StatusOK, "application/scim+json", tt.body)
			})
			c, _ := newTestClient(t, srv.URL, noLimit())
			got, err := c.ListUsers(ctxT(t))
			var te *target.Error
			if !errors.Is(err, target.ErrProtocol) || !errors.As(err, &te) || te.Status != 200 || got != nil {
				t.Fatalf("ListUsers = %d users, %v; want none and a protocol error carrying the 200", len(got), err)
			}
			if !strings.HasPrefix(err.Error(), "list users") {
				t.Errorf("error %q does not start with the op", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "c@example.com") {
				t.Errorf("error %q repeats a value of the body", err)
			}
		})
	}
}

// TestListPageForms checks the page forms a listing accepts: attribute
// names in any case, other attributes skipped, Resources null on the
// page that ends the listing, and itemsPerPage and startIndex that lie
// (the client counts the resources a page holds, not what it claims).
func TestListPageForms(t *testing.T) {
	u := makeUsers(5)
	enc := func(us []scim.User) string {
		parts := make([]string, len(us))
		for i := range us {
			parts[i] = fmt.Sprintf(`{"id":%q,"userName":%q,"x-vendor":{"a":[1,2,{"b":null}]}}`, us[i].ID, us[i].UserName)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	tests := []struct {
		name  string
		pages map[string]string // body by startIndex
		want  int
	}{
		{"lower-case attribute names", map[string]string{
			"1": `{"totalresults":5,"resources":` + enc(u[0:2]) + `}`,
			"3": `{"TOTALRESULTS":5,"RESOURCES":` + enc(u[2:4]) + `}`,
			"5": `{"totalResults":5,"Resources":` + enc(u[4:5]) + `}`,
		}, 5},
		{"Resources before totalResults, other attributes around", map[string]string{
			"1": `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"Resources":` + enc(u[0:2]) + `,"totalResults":3,"x":{"y":[]}}`,
			"3": `{"Resources":` + enc(u[2:3]) + `,"startIndex":1,"totalResults":3}`,
		}, 3},
		{"itemsPerPage and startIndex that lie", map[string]string{
			"1": `{"totalResults":4,"itemsPerPage":1000,"startIndex":7,"Resources":` + enc(u[0:2]) + `}`,
			"3": `{"totalResults":4,"itemsPerPage":1,"startIndex":1,"Resources":` + enc(u[2:4]) + `}`,
		}, 4},
		{"no totalResults, Resources empty at the end", map[string]string{
			"1": `{"Resources":` + enc(u[0:2]) + `}`,
			"3": `{"Resources":[],"itemsPerPage":0}`,
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				body, ok := tt.pages[r.URL.Query().Get("startIndex")]
				if !ok {
					body = `{"totalResults":0,"Resources":[]}`
				}
				writeRaw(w, http.StatusOK, "application/scim+json", body)
			})
			c, _ := newTestClient(t, srv.URL, noLimit(), WithPageSize(2))
			got, err := c.ListUsers(ctxT(t))
			if err != nil || len(got) != tt.want {
				t.Fatalf("ListUsers = %d users, %v; want %d", len(got), err, tt.want)
			}
			for i := range got {
				if got[i].ID != u[i].ID || got[i].UserName != u[i].UserName {
					t.Errorf("user %d = %s %s, want %s %s", i, got[i].ID, got[i].UserName, u[i].ID, u[i].UserName)
				}
			}
		})
	}
}

// TestListUsersSeq checks the iterator: it yields the listing in order,
// one page read ahead at most; a listing that turns out to lie yields
// its error last; a loop that breaks reads no further page.
func TestListUsersSeq(t *testing.T) {
	users := makeUsers(7)
	t.Run("the whole listing, each user fresh", func(t *testing.T) {
		p := &pager[scim.User]{items: users}
		srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) { p.serve(w, r) })
		c, _ := newTestClient(t, srv.URL, noLimit(), WithPageSize(3))
		var ids []string
		for u, err := range c.ListUsersSeq(ctxT(t)) {
			if err != nil {
				t.Fatal(err)
			}
			if u.Schemas == nil || !u.IsActive() {
				t.Errorf("user %s decoded without its attributes", u.ID)
			}
			ids = append(ids, u.ID)
		}
		if len(ids) != len(users) || rec.count() != 3 {
			t.Fatalf("%d users in %d requests, want %d in 3", len(ids), rec.count(), len(users))
		}
		for i, id := range ids {
			if id != users[i].ID {
				t.Fatalf("user %d = %s, want %s", i, id, users[i].ID)
			}
		}
	})
	t.Run("a page that lies about totalResults", func(t *testing.T) {
		srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			start, _ := strconv.Atoi(r.URL.Query().Get("startIndex"))
			total := 7
			if start > 1 {
				total = 6 // the tenant changed, or the server miscounts
			}
			to := min(start+2, len(users))
			writeJSON(w, http.StatusOK, map[string]any{"totalResults": total, "Resources": users[start-1 : to]})
		})
		c, _ := newTestClient(t, srv.URL, noLimit(), WithPageSize(3))
		var n int
		var last error
		for u, err := range c.ListUsersSeq(ctxT(t)) {
			if last != nil {
				t.Fatalf("yielded %v after the error %v", u, last)
			}
			if err != nil {
				last = err
				continue
			}
			n++
		}
		if !errors.Is(last, target.ErrIncomplete) || !strings.Contains(last.Error(), "startIndex=4") {
			t.Fatalf("after %d users, error %v; want ErrIncomplete naming startIndex=4", n, last)
		}
	})
	t.Run("break", func(t *testing.T) {
		p := &pager[scim.User]{items: users}
		srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) { p.serve(w, r) })
		c, _ := newTestClient(t, srv.URL, noLimit(), WithPageSize(3))
		n := 0
		for _, err := range c.ListUsersSeq(ctxT(t)) {
			if err != nil {
				t.Fatal(err)
			}
			if n++; n == 4 {
				break
			}
		}
		if rec.count() != 2 {
			t.Errorf("%d requests after a break in the second page, want 2", rec.count())
		}
	})
}

// TestListGroupsSeqMembers checks that a group's members, and their
// absence, come through the iterator as ListGroups returns them.
func TestListGroupsSeqMembers(t *testing.T) {
	body := `{"totalResults":3,"Resources":[` +
		`{"id":"g1","displayName":"A","members":[{"value":"u1"},{"value":"u2","display":"B"}]},` +
		`{"id":"g2","displayName":"B","members":[]},` +
		`{"id":"g3","displayName":"C"}]}`
	srv, _ := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		writeRaw(w, http.StatusOK, "application/scim+json", body)
	})
	c, _ := newTestClient(t, srv.URL, noLimit())
	var got []string
	for g, err := range c.ListGroupsSeq(ctxT(t), target.WithMembers()) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s:%v:%d", g.ID, g.Members == nil, len(g.Members)))
	}
	if want := "g1:false:2 g2:false:0 g3:true:0"; strings.Join(got, " ") != want {
		t.Errorf("groups %q, want %q", strings.Join(got, " "), want)
	}
}

// TestListRetriesAPageCutInTransit cuts the first answer to the second
// page off in the middle of an element: the page is sent again, and each
// user is listed once.
func TestListRetriesAPageCutInTransit(t *testing.T) {
	users := makeUsers(6)
	p := &pager[scim.User]{items: users}
	cut := true
	srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		if r.URL.Query().Get("startIndex") == "4" && cut {
			cut = false
			w.Header().Set("Content-Length", "4096")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"totalResults":6,"Resources":[{"id":"u-00004","userNa`))
			return // the server ends the response short of its length
		}
		p.serve(w, r)
	})
	c, _ := newTestClient(t, srv.URL, noLimit(), WithPageSize(3))
	got, err := c.ListUsers(ctxT(t))
	if err != nil || len(got) != len(users) {
		t.Fatalf("ListUsers = %d users, %v; want %d", len(got), err, len(users))
	}
	for i := range got {
		if got[i].ID != users[i].ID {
			t.Fatalf("user %d = %s, want %s", i, got[i].ID, users[i].ID)
		}
	}
	if rec.count() != 3 {
		t.Errorf("%d requests, want 3 (the cut page sent again)", rec.count())
	}
}

// TestListUsersActiveForms: a listing reads active as a boolean, as a
// "true"/"false" string in any case (some servers send those), null or
// absent (active), whichever element of the page it is.
func TestListUsersActiveForms(t *testing.T) {
	body := `{"totalResults":6,"Resources":[` +
		`{"id":"u1","userName":"a","active":"False","emails":[{"value":"a@example.com"}]},` +
		`{"id":"u2","userName":"b","active":true},` +
		`  {"id":"u3","userName":"c","active":"TRUE","name":{"givenName":"C"}} ,` +
		`{"id":"u4","userName":"d","active":null},` +
		`{"id":"u5","userName":"e"},` +
		"\n" + `{"id":"u6","userName":"f","active":false}]}`
	srv, _ := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		writeRaw(w, http.StatusOK, "application/scim+json", body)
	})
	c, _ := newTestClient(t, srv.URL, noLimit())
	got, err := c.ListUsers(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, u := range got {
		states = append(states, fmt.Sprintf("%s:%s:%v:%v", u.ID, u.UserName, u.Active != nil, u.IsActive()))
	}
	want := "u1:a:true:false u2:b:true:true u3:c:true:true u4:d:false:true u5:e:false:true u6:f:true:false"
	if strings.Join(states, " ") != want {
		t.Errorf("users %q, want %q", strings.Join(states, " "), want)
	}
	if got[0].PrimaryEmail() != "a@example.com" || got[2].Name == nil || got[2].Name.GivenName != "C" {
		t.Errorf("attributes beside active lost: %+v, %+v", got[0], got[2])
	}
}

// TestGroupPagesStreamed: group pages are decoded as they arrive. One cut
// off in transit after some groups were handed on is read again: the
// groups handed on are checked, not handed on twice; if the page read
// again differs there, or every attempt is cut off, the listing fails.
// JSON that ends early in a body that arrived whole is not read again.
func TestGroupPagesStreamed(t *testing.T) {
	groups := make([]scim.Group, 5)
	for i := range groups {
		groups[i] = scim.Group{ID: fmt.Sprintf("g%d", i+1), DisplayName: fmt.Sprintf("G%d", i+1),
			Members: []scim.Member{{Value: "u1"}, {Value: fmt.Sprintf("u%d", i+2)}}}
	}
	page := func(gs []scim.Group) string {
		b, err := json.Marshal(map[string]any{"totalResults": len(groups), "Resources": gs})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	full := page(groups)
	// cutAt is the body up to just after the second group.
	cutAt := strings.Index(full, `,{"id":"g3"`)
	tests := []struct {
		name     string
		answer   func(n int) (body string, cut bool) // the n-th request's
		want     int                                 // groups; -1: an error
		wantErr  error
		requests int
	}{
		{"cut once, after two groups", func(n int) (string, bool) { return full[:cutAt], n == 1 }, 5, nil, 2},
		{"cut once, in the first group", func(n int) (string, bool) { return full[:20], n == 1 }, 5, nil, 2},
		{"cut, then a page that changed", func(n int) (string, bool) {
			if n == 1 {
				return full[:cutAt], true
			}
			return page([]scim.Group{groups[0], groups[2], groups[1], groups[3], groups[4]}), false
		}, -1, target.ErrIncomplete, 2},
		{"cut every time", func(int) (string, bool) { return full[:cutAt], true }, -1, target.ErrUnavailable, 3},
		{"JSON cut short in a whole body", func(int) (string, bool) { return full[:cutAt] + "]", false }, -1, target.ErrProtocol, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := newServer(t, func(w http.ResponseWriter, _ *http.Request, n int) {
				body, cut := tt.answer(n)
				if n > 1 && !cut && tt.want >= 0 {
					body = full
				}
				w.Header().Set("Content-Type", "application/scim+json")
				if cut {
					w.Header().Set("Content-Length", strconv.Itoa(len(full)))
				}
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write([]byte(body)) // a cut body ends short of its Content-Length
			})
			c, _ := newTestClient(t, srv.URL, noLimit(), WithMaxRetries(2))
			var ids []string
			var err error
			for g, e := range c.ListGroupsSeq(ctxT(t), target.WithMembers()) {
				if e != nil {
					err = e
					break
				}
				ids = append(ids, g.ID)
			}
			if rec.count() != tt.requests {
				t.Errorf("%d requests, want %d", rec.count(), tt.requests)
			}
			if tt.want < 0 {
				if !errors.Is(err, tt.wantErr) || !strings.HasPrefix(err.Error(), "list groups") {
					t.Fatalf("listing = %v after %v; want %v", err, ids, tt.wantErr)
				}
				return
			}
			if err != nil || strings.Join(ids, " ") != "g1 g2 g3 g4 g5" {
				t.Fatalf("listing = %v, %v; want g1..g5 once each", ids, err)
			}
		})
	}
}
