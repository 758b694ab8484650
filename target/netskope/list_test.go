package netskope

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/target"
)

func intp(n int) *int { return &n }

func TestListUsersPaging(t *testing.T) {
	tests := []struct {
		name      string
		n         int
		pageSize  int
		pager     pager[scim.User]
		wantUsers int
		wantStart []int // startIndex of each request
		wantErr   error
	}{
		{
			name: "whole pages", n: 250, pageSize: 100,
			wantUsers: 250, wantStart: []int{1, 101, 201},
		},
		{
			name: "exact multiple stops at totalResults", n: 200, pageSize: 100,
			wantUsers: 200, wantStart: []int{1, 101},
		},
		{
			name: "server caps the page below count", n: 100, pageSize: 100, pager: pager[scim.User]{max: 30},
			wantUsers: 100, wantStart: []int{1, 31, 61, 91},
		},
		{
			name: "no totalResults: read to the empty page", n: 150, pageSize: 100, pager: pager[scim.User]{noTotal: true},
			wantUsers: 150, wantStart: []int{1, 101, 151},
		},
		{
			name: "totalResults 0 with resources: read to the empty page", n: 5, pageSize: 2,
			pager:     pager[scim.User]{total: intp(0)},
			wantUsers: 5, wantStart: []int{1, 3, 5, 6},
		},
		{
			name: "totalResults too high: the short page before it is an incomplete read", n: 120, pageSize: 100,
			pager:     pager[scim.User]{total: intp(500)},
			wantStart: []int{1, 101}, wantErr: target.ErrIncomplete,
		},
		{
			name: "totalResults too high on a full last page: the empty page is an incomplete read", n: 200, pageSize: 100,
			pager:     pager[scim.User]{total: intp(201)},
			wantStart: []int{1, 101, 201}, wantErr: target.ErrIncomplete,
		},
		{
			name: "empty directory", n: 0, pageSize: 100,
			wantUsers: 0, wantStart: []int{1},
		},
		{
			name: "server ignores startIndex", n: 250, pageSize: 100, pager: pager[scim.User]{ignoreStart: true},
			wantStart: []int{1, 101}, wantErr: target.ErrProtocol,
		},
		{
			name: "server ignores startIndex and count", n: 30, pageSize: 10,
			pager:     pager[scim.User]{ignoreStart: true, ignoreCount: true, total: intp(31)},
			wantStart: []int{1, 31}, wantErr: target.ErrProtocol,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.pager
			p.items = makeUsers(tt.n)
			srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) { p.serve(w, r) })
			c, _ := newTestClient(t, srv.URL, WithPageSize(tt.pageSize))
			users, err := c.ListUsers(ctxT(t))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ListUsers = %d users, %v; want %v", len(users), err, tt.wantErr)
				}
				var te *target.Error
				if !errors.As(err, &te) || te.Op != "list users" || !strings.Contains(err.Error(), "list users") {
					t.Errorf("error %v does not name the list", err)
				}
				if !strings.Contains(err.Error(), "startIndex") {
					t.Errorf("error %q does not say what went wrong", err)
				}
			} else if err != nil {
				t.Fatalf("ListUsers: %v", err)
			}
			if tt.wantErr == nil {
				if len(users) != tt.wantUsers {
					t.Errorf("%d users, want %d", len(users), tt.wantUsers)
				}
				for i, u := range users {
					if want := p.items[i].ID; u.ID != want {
						t.Fatalf("user %d = %s, want %s (order or gap)", i, u.ID, want)
					}
				}
			}
			var starts []int
			for _, r := range rec.all() {
				q, _ := url.ParseQuery(r.Query)
				s, _ := strconv.Atoi(q.Get("startIndex"))
				starts = append(starts, s)
				if got := q.Get("count"); got != strconv.Itoa(tt.pageSize) {
					t.Errorf("count = %s, want %d", got, tt.pageSize)
				}
				if r.Path != "/Users" {
					t.Errorf("path %s, want /Users", r.Path)
				}
			}
			if !equalInts(starts, tt.wantStart) {
				t.Errorf("startIndex of the requests = %v, want %v", starts, tt.wantStart)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestListRefusesInconsistentPages: a listing whose pages contradict each
// other is target.ErrIncomplete, never a shorter list, since a caller
// would take the objects it lacks for deleted ones.
func TestListRefusesInconsistentPages(t *testing.T) {
	u := makeUsers(5)
	page := func(total any, res []scim.User) map[string]any {
		if res == nil {
			res = []scim.User{}
		}
		p := map[string]any{"schemas": []string{scim.SchemaListResponse}, "Resources": res}
		if total != nil {
			p["totalResults"] = total
		}
		return p
	}
	noResources := func(total int) map[string]any {
		return map[string]any{"schemas": []string{scim.SchemaListResponse}, "totalResults": total}
	}
	tests := []struct {
		name    string
		pages   map[string]map[string]any // by startIndex
		want    int                       // users, when no error
		wantErr error
	}{
		{"totalResults changes between pages", map[string]map[string]any{
			"1": page(5, u[0:2]), "3": page(4, u[2:4]), "5": page(4, u[4:5]),
		}, 0, target.ErrIncomplete},
		{"totalResults given, then left out", map[string]map[string]any{
			"1": page(5, u[0:2]), "3": page(nil, u[2:4]), "5": page(nil, u[4:5]),
		}, 0, target.ErrIncomplete},
		{"an empty page before totalResults", map[string]map[string]any{
			"1": page(5, u[0:2]), "3": page(5, nil),
		}, 0, target.ErrIncomplete},
		{"Resources left out before totalResults", map[string]map[string]any{
			"1": page(5, u[0:2]), "3": noResources(5),
		}, 0, target.ErrIncomplete},
		{"Resources left out on the first page", map[string]map[string]any{
			"1": noResources(5),
		}, 0, target.ErrIncomplete},
		{"a short page before totalResults", map[string]map[string]any{
			"1": page(5, u[0:2]), "3": page(5, u[2:3]), "4": page(5, u[3:5]),
		}, 0, target.ErrIncomplete},
		{"no totalResults: a short page, then more", map[string]map[string]any{
			"1": page(nil, u[0:2]), "3": page(nil, u[2:3]), "4": page(nil, u[3:5]),
		}, 0, target.ErrIncomplete},
		{"more resources than totalResults", map[string]map[string]any{
			"1": page(3, u[0:2]), "3": page(3, u[2:4]),
		}, 0, target.ErrIncomplete},
		{"an id again on the next page", map[string]map[string]any{
			"1": page(5, u[0:2]), "3": page(5, u[1:3]), "5": page(5, u[3:5]),
		}, 0, target.ErrIncomplete},
		{"an id twice on one page", map[string]map[string]any{
			"1": page(5, []scim.User{u[0], u[1], u[1]}),
		}, 0, target.ErrIncomplete},
		{"totalResults 0 and nothing: empty", map[string]map[string]any{
			"1": page(0, nil),
		}, 0, nil},
		{"no totalResults: a short last page, then the empty page", map[string]map[string]any{
			"1": page(nil, u[0:2]), "3": page(nil, u[2:4]), "5": page(nil, u[4:5]), "6": page(nil, nil),
		}, 5, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				p, ok := tt.pages[r.URL.Query().Get("startIndex")]
				if !ok {
					p = page(nil, nil)
				}
				writeJSON(w, http.StatusOK, p)
			})
			c, _ := newTestClient(t, srv.URL, WithPageSize(2))
			got, err := c.ListUsers(ctxT(t))
			if tt.wantErr == nil {
				if err != nil || len(got) != tt.want {
					t.Fatalf("ListUsers = %d users, %v; want %d", len(got), err, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || got != nil {
				t.Fatalf("ListUsers = %d users, %v; want no users and %v", len(got), err, tt.wantErr)
			}
			if errors.Is(err, target.ErrProtocol) || target.IsRetryable(err) {
				t.Errorf("%v also matches ErrProtocol or is retryable", err)
			}
			if !strings.Contains(err.Error(), "list users") || !strings.Contains(err.Error(), "startIndex=") {
				t.Errorf("error %q does not name the list and the page", err)
			}
		})
	}
}

func TestListRejectsNonSCIM(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		want        string
	}{
		{"HTML", "text/html", "<html><body>Sign in</body></html>", "not SCIM JSON"},
		{"JSON that is not a list", "application/json", `{"status":"ok"}`, "not a SCIM ListResponse"},
		{"empty body", "application/json", "", "empty response body"},
		{"resource without id", "application/scim+json", `{"totalResults":1,"Resources":[{"userName":"a"}]}`, "has no id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				writeRaw(w, http.StatusOK, tt.contentType, tt.body)
			})
			c, _ := newTestClient(t, srv.URL)
			_, err := c.ListUsers(ctxT(t))
			var te *target.Error
			if !errors.Is(err, target.ErrProtocol) || !errors.As(err, &te) || te.Status != 200 {
				t.Fatalf("ListUsers = %v, want a protocol error carrying the 200", err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "list users") {
				t.Errorf("error %q, want it to start with the op and mention %q", err, tt.want)
			}
		})
	}
}

func TestListFilter(t *testing.T) {
	srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		(&pager[scim.User]{}).serve(w, r)
	})
	c, _ := newTestClient(t, srv.URL)
	ctx := ctxT(t)
	tricky := `a" or userName pr or "b&c=d+e%`
	if _, err := c.ListUsers(ctx, target.WithFilter(scim.Eq("userName", tricky))); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListGroups(ctx, target.WithFilter(scim.Eq("displayName", "R&D"))); err != nil {
		t.Fatal(err)
	}
	reqs := rec.all()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	q, err := url.ParseQuery(reqs[0].Query)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := q.Get("filter"), `userName eq "a\" or userName pr or \"b&c=d+e%"`; got != want {
		t.Errorf("filter = %s, want %s", got, want)
	}
	if raw := reqs[0].Query; strings.Contains(raw, "+") || !strings.Contains(raw, "userName%20eq%20") ||
		!strings.Contains(raw, "d%2Be%25") || !strings.Contains(raw, "b%26c%3Dd") {
		t.Errorf("raw query %s: want spaces as %%20 and +, %%, &, = escaped", raw)
	}
	if len(q["startIndex"]) != 1 || len(q["filter"]) != 1 {
		t.Errorf("the filter value split the query: %s", reqs[0].Query)
	}
	if q2, _ := url.ParseQuery(reqs[1].Query); q2.Get("filter") != `displayName eq "R&D"` {
		t.Errorf("group filter = %q", q2.Get("filter"))
	}

	// A filter that cannot be built is refused before sending.
	_, err = c.ListUsers(ctx, target.WithFilter(scim.Eq("user name", "x")))
	if !errors.Is(err, target.ErrInvalid) || !errors.Is(err, scim.ErrInvalidFilter) && !strings.Contains(err.Error(), "filter") {
		t.Errorf("bad filter = %v, want ErrInvalid naming the filter", err)
	}
	if rec.count() != 2 {
		t.Errorf("a bad filter was sent")
	}
}

func TestReadQueries(t *testing.T) {
	srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/Groups/"):
			writeJSON(w, http.StatusOK, scim.Group{ID: "g1", DisplayName: "G",
				Members: []scim.Member{{Value: "u1"}}})
		case r.URL.Path == "/Groups":
			(&pager[scim.Group]{items: []scim.Group{{ID: "g1", DisplayName: "G"}}}).serve(w, r)
		default:
			(&pager[scim.User]{items: makeUsers(1)}).serve(w, r)
		}
	})
	c, _ := newTestClient(t, srv.URL)
	ctx := ctxT(t)
	tests := []struct {
		name string
		call func() error
		want url.Values // the read's own parameters (paging left out)
	}{
		{"GetGroup", func() error { _, err := c.GetGroup(ctx, "g1"); return err },
			url.Values{"excludedAttributes": {"members"}}},
		{"GetGroup WithMembers", func() error { _, err := c.GetGroup(ctx, "g1", target.WithMembers()); return err },
			url.Values{"attributes": {"id,externalId,displayName,members,meta"}}},
		{"GetGroup WithMembers WithAttributes", func() error {
			_, err := c.GetGroup(ctx, "g1", target.WithMembers(), target.WithAttributes("displayName"))
			return err
		}, url.Values{"attributes": {"displayName,id,members"}}},
		{"GetGroup WithAttributes", func() error {
			_, err := c.GetGroup(ctx, "g1", target.WithAttributes("displayName"))
			return err
		}, url.Values{"attributes": {"displayName,id"}}},
		{"ListGroups", func() error { _, err := c.ListGroups(ctx); return err },
			url.Values{"excludedAttributes": {"members"}}},
		{"ListGroups WithMembers", func() error { _, err := c.ListGroups(ctx, target.WithMembers()); return err },
			url.Values{"attributes": {"id,externalId,displayName,members,meta"}}},
		{"ListUsers", func() error { _, err := c.ListUsers(ctx); return err }, url.Values{}},
		{"ListUsers WithMembers has no effect", func() error { _, err := c.ListUsers(ctx, target.WithMembers()); return err },
			url.Values{}},
		{"ListUsers WithAttributes", func() error {
			_, err := c.ListUsers(ctx, target.WithAttributes("userName", "ID"))
			return err
		}, url.Values{"attributes": {"userName,ID"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := rec.count()
			if err := tt.call(); err != nil {
				t.Fatal(err)
			}
			reqs := rec.all()[before:]
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			q, _ := url.ParseQuery(reqs[0].Query)
			q.Del("startIndex")
			q.Del("count")
			if q.Encode() != tt.want.Encode() {
				t.Errorf("query = %s, want %s", q.Encode(), tt.want.Encode())
			}
		})
	}
	g, err := c.GetGroup(ctx, "g1", target.WithMembers())
	if err != nil || len(g.MemberIDs()) != 1 || g.MemberIDs()[0] != "u1" {
		t.Errorf("GetGroup WithMembers = %+v, %v", g, err)
	}
}

// TestListRequestCount10k measures the requests needed to list 10,000
// users: the number the benchmarks report per object.
func TestListRequestCount10k(t *testing.T) {
	const n = 10000
	users := makeUsers(n)
	tests := []struct {
		name      string
		pageSize  int
		serverMax int
		want      int64
	}{
		{"page 100", 100, 0, 100},
		{"page 1000, server caps at 1000", 1000, 1000, 10},
		{"page 1000, server caps at 100", 1000, 100, 100},
		{"page 1000, server caps at 300", 1000, 300, 34},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &pager[scim.User]{items: users, max: tt.serverMax}
			srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) { p.serve(w, r) })
			c, _ := newTestClient(t, srv.URL, WithPageSize(tt.pageSize))
			got, err := c.ListUsers(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != n {
				t.Fatalf("%d users, want %d", len(got), n)
			}
			st := c.Stats()
			t.Logf("%s: %d requests for %d users (%.4f requests per user)", tt.name, st.Requests, n, float64(st.Requests)/n)
			if st.Requests != tt.want || st.Get != tt.want {
				t.Errorf("%d requests (%d GET), want %d", st.Requests, st.Get, tt.want)
			}
		})
	}
}
