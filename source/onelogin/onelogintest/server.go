// Package onelogintest is a fake OneLogin API, in memory, for testing the
// onelogin source over HTTP on 127.0.0.1.
//
// It speaks API v2's wire format: the client credentials token endpoint
// (/auth/oauth2/v2/token, credentials in the form body or as HTTP Basic),
// /api/2/apps/{id}/users, /api/2/users (user_ids, updated_since, app_id,
// fields), /api/2/roles (app_id), /api/2/roles/{id}/users, and v1's
// /api/1/groups. A users listing with fields returns only those fields
// and id, as OneLogin documents
// (https://developers.onelogin.com/api-docs/2/getting-started/using-query-parameters);
// a field no user has is refused with 400, which is stricter than
// OneLogin, so that a misspelt field fails a test.
// v2 lists page with the Total-Count, Total-Pages, Current-Page,
// Page-Items, Cursor, After-Cursor and Before-Cursor headers; a request
// with both cursor and limit is refused with 400, as OneLogin does, and
// so is a cursor it did not issue. Every response carries
// X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset; past the
// limit it answers 429. Faults inject 429s and 5xxs.
package onelogintest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/provsync/provsync/source/internal/fakeapi"
)

// Routes, for faults and request counts.
const (
	RouteToken     = "token"
	RouteAppUsers  = "apps.users"
	RouteUsers     = "users"
	RouteRoles     = "roles"
	RouteRoleUsers = "roles.users"
	RouteGroups    = "groups"
)

// User is a OneLogin user as API v2 returns it.
type User struct {
	ID               int64             `json:"id"`
	Username         string            `json:"username"`
	Email            string            `json:"email"`
	Firstname        string            `json:"firstname"`
	Lastname         string            `json:"lastname"`
	Title            string            `json:"title"`
	Department       string            `json:"department"`
	Company          string            `json:"company"`
	Phone            string            `json:"phone"`
	Status           int               `json:"status"`
	State            int               `json:"state"`
	GroupID          *int64            `json:"group_id"`
	RoleIDs          []int64           `json:"role_ids"`
	ManagerUserID    *int64            `json:"manager_user_id"`
	ExternalID       string            `json:"external_id"`
	SAMAccountName   string            `json:"samaccountname"`
	DirectoryID      *int64            `json:"directory_id"`
	CreatedAt        time.Time         `json:"created_at"`
	UpdatedAt        time.Time         `json:"updated_at"`
	CustomAttributes map[string]string `json:"custom_attributes"`
}

// Role is a OneLogin role: the apps it grants and its users.
type Role struct {
	ID    int64   `json:"id"`
	Name  string  `json:"name"`
	Apps  []int64 `json:"apps"`
	Users []int64 `json:"users"`
}

// Group is a OneLogin (legacy) group; a user belongs to at most one.
type Group struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Reference string `json:"reference"`
}

// Fault makes requests to a route fail.
type Fault struct {
	// Route is one of the Route constants; "" is any API route.
	Route string
	// Page is the 1-based page that fails (0: any).
	Page int
	// Status is the HTTP status: 429, 500, 502, 503.
	Status int
	// RetryAfter, if set, is sent as Retry-After, in seconds.
	RetryAfter int
	// Times is how many requests fail; 0 means once.
	Times int
	// Hold, once the fault's times are spent, holds every later request
	// to Route: it gets no answer until the client cancels it (or the
	// server closes). A client that stops at the first failure then sends
	// at most as many requests to Route as it keeps in flight.
	Hold bool
}

// Server is the fake OneLogin API. Its methods are safe for concurrent
// use.
type Server struct {
	mu       gosync.Mutex
	srv      *httptest.Server
	users    map[int64]*User
	roles    map[int64]*Role
	groups   map[int64]*Group
	direct   map[int64][]int64 // app id -> users assigned directly
	tokens   map[string]bool
	cursors  map[string]cursorState
	faults   fakeapi.Faults[Fault]
	counts   fakeapi.Counts
	seq      int64
	now      func() time.Time
	clientID string
	secret   string

	appListsRoles bool            // /apps/{id}/users includes users of roles
	noCursor      map[string]bool // routes that send no After-Cursor
	log           []string        // "route query" of every API request

	rateLimit int // requests per window
	remaining int
	window    time.Duration
	reset     time.Time
	maxLimit  int
}

type cursorState struct {
	route  string
	offset int
	limit  int
	query  string
}

// New starts a server and closes it when t ends.
func New(t testing.TB) *Server {
	s := NewServer()
	t.Cleanup(s.Close)
	return s
}

// NewServer starts a server with an empty account. Close it when done.
func NewServer() *Server {
	s := &Server{
		users: map[int64]*User{}, roles: map[int64]*Role{}, groups: map[int64]*Group{}, direct: map[int64][]int64{},
		tokens: map[string]bool{}, noCursor: map[string]bool{}, cursors: map[string]cursorState{},
		now: time.Now, clientID: "c1d2e3f4" + randHex(12), secret: randHex(32),
		rateLimit: 5000, window: time.Hour, maxLimit: 1000, seq: 41000000,
	}
	s.remaining = s.rateLimit
	s.counts.Uncounted = RouteToken
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close answers the requests a fault holds and stops the server.
func (s *Server) Close() {
	s.faults.Release()
	s.srv.Close()
}

// URL is the base URL: the account's subdomain in real life.
func (s *Server) URL() string { return s.srv.URL }

// Credentials are the API credential pair the token endpoint accepts.
func (s *Server) Credentials() (clientID, clientSecret string) { return s.clientID, s.secret }

// SetRateLimit sets the requests allowed per window, and starts a new
// window.
func (s *Server) SetRateLimit(limit int, window time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimit, s.remaining, s.window, s.reset = limit, limit, window, time.Time{}
}

// SetAppListingIncludesRoles says whether /api/2/apps/{id}/users lists
// the users who get the app through a role too. OneLogin does not document
// it; the default is false, direct assignments only.
func (s *Server) SetAppListingIncludesRoles(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appListsRoles = on
}

// OmitAfterCursor makes a route's pages leave out the After-Cursor
// header, as a listing might that OneLogin did not give paging headers
// (undocumented): a client that trusts it reads the first page only.
func (s *Server) OmitAfterCursor(route string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noCursor[route] = true
}

// SetClock replaces the clock that stamps updated_at and Date, and that
// times the rate limit windows.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// InjectFault adds a fault; faults are matched in the order added.
func (s *Server) InjectFault(f Fault) {
	s.faults.Add(fakeapi.Rule{Route: f.Route, Page: f.Page, Times: f.Times, Hold: f.Hold}, f)
}

// ClearFaults removes every fault not yet spent and answers the requests
// a Hold fault holds.
func (s *Server) ClearFaults() { s.faults.Clear() }

// Requests returns how many requests reached route ("" for every API
// route, the token endpoint excluded).
func (s *Server) Requests(route string) int { return s.counts.Get(route) }

// ResetRequests zeroes the request counts and empties the request log.
func (s *Server) ResetRequests() {
	s.counts.Reset()
	s.mu.Lock()
	s.log = nil
	s.mu.Unlock()
}

// RequestLog returns "route query" for every API request (the token
// endpoint excluded), in order, the query as sent (URL-encoded).
func (s *Server) RequestLog() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	w.Header().Set("Date", s.now().UTC().Format(http.TimeFormat))
	s.mu.Unlock()
	if r.URL.Path == "/auth/oauth2/v2/token" {
		s.count(RouteToken)
		s.token(w, r)
		return
	}
	route, id := routeOf(r.URL.Path)
	if route == "" {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	s.count(route)
	s.mu.Lock()
	s.log = append(s.log, route+" "+r.URL.RawQuery)
	s.mu.Unlock()
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, "Authentication Failure")
		return
	}
	if !s.rate(w) {
		writeError(w, http.StatusTooManyRequests, "Rate limit exceeded")
		return
	}
	q := r.URL.Query()
	if q.Get("cursor") != "" && (q.Get("limit") != "" || q.Get("page") != "") {
		writeError(w, http.StatusBadRequest, "Requests can only have cursor xor pagination arguments")
		return
	}
	cur, page, ok := s.position(route, q)
	if !ok {
		writeError(w, http.StatusBadRequest, "Invalid pagination cursor")
		return
	}
	if f := s.fault(r, route, page); f != nil {
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
		}
		writeError(w, f.Status, http.StatusText(f.Status))
		return
	}
	switch route {
	case RouteAppUsers:
		s.appUsers(w, id, cur)
	case RouteUsers:
		s.listUsers(w, cur)
	case RouteRoles:
		s.listRoles(w, cur)
	case RouteRoleUsers:
		s.roleUsers(w, id, cur)
	case RouteGroups:
		s.listGroups(w, r)
	}
}

// routeOf names the route of a path and its id, if any.
func routeOf(path string) (string, int64) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	id := func(i int) int64 {
		n, _ := strconv.ParseInt(parts[i], 10, 64)
		return n
	}
	switch {
	case len(parts) == 5 && parts[1] == "2" && parts[2] == "apps" && parts[4] == "users":
		return RouteAppUsers, id(3)
	case len(parts) == 3 && parts[1] == "2" && parts[2] == "users":
		return RouteUsers, 0
	case len(parts) == 3 && parts[1] == "2" && parts[2] == "roles":
		return RouteRoles, 0
	case len(parts) == 5 && parts[1] == "2" && parts[2] == "roles" && parts[4] == "users":
		return RouteRoleUsers, id(3)
	case len(parts) == 3 && parts[1] == "1" && parts[2] == "groups":
		return RouteGroups, 0
	}
	return "", 0
}

func (s *Server) count(route string) { s.counts.Add(route) }

func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return ok && s.tokens[tok]
}

// rate counts the request against the window and sets the headers; false
// means the limit is spent.
func (s *Server) rate(w http.ResponseWriter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.reset.IsZero() || !now.Before(s.reset) {
		s.reset, s.remaining = now.Add(s.window), s.rateLimit
	}
	ok := s.remaining > 0
	if ok {
		s.remaining--
	}
	left := int((s.reset.Sub(now) + time.Second - 1) / time.Second)
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(s.rateLimit))
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(s.remaining))
	w.Header().Set("X-RateLimit-Reset", strconv.Itoa(left))
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(left))
	}
	return ok
}

func (s *Server) fault(r *http.Request, route string, page int) *Fault {
	if f, ok := s.faults.Take(r.Context(), route, page); ok {
		return &f
	}
	return nil
}

// position reads limit or cursor: the offset and size of the page asked
// for, the query it belongs to, and its 1-based page number.
func (s *Server) position(route string, q map[string][]string) (cursorState, int, bool) {
	if c := first(q["cursor"]); c != "" {
		s.mu.Lock()
		st, ok := s.cursors[c]
		s.mu.Unlock()
		if !ok || st.route != route {
			return cursorState{}, 0, false
		}
		return st, st.offset/st.limit + 1, true
	}
	limit := 50
	if l := first(q["limit"]); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return cursorState{}, 0, false
		}
		limit = min(n, s.maxLimit)
	}
	vals := map[string][]string{}
	for k, v := range q {
		if k != "limit" {
			vals[k] = v
		}
	}
	b, _ := json.Marshal(vals)
	return cursorState{route: route, limit: limit, query: string(b)}, 1, true
}

// page writes one page of items with OneLogin's pagination headers.
func page[T any](s *Server, w http.ResponseWriter, cur cursorState, all []T) {
	start := min(cur.offset, len(all))
	end := min(start+cur.limit, len(all))
	h := w.Header()
	pages := (len(all) + cur.limit - 1) / cur.limit
	h.Set("Total-Count", strconv.Itoa(len(all)))
	h.Set("Total-Pages", strconv.Itoa(pages))
	h.Set("Current-Page", strconv.Itoa(start/cur.limit+1))
	h.Set("Page-Items", strconv.Itoa(cur.limit))
	s.mu.Lock()
	omit := s.noCursor[cur.route]
	s.mu.Unlock()
	if end < len(all) && !omit {
		next := cur
		next.offset = end
		tok := randToken()
		s.mu.Lock()
		s.cursors[tok] = next
		s.mu.Unlock()
		h.Set("After-Cursor", tok)
	}
	if start > 0 {
		h.Set("Before-Cursor", randToken())
	}
	items := all[start:end]
	if items == nil {
		items = []T{}
	}
	writeJSON(w, http.StatusOK, items)
}

type listedUser struct {
	ID        int64  `json:"id"`
	Firstname string `json:"firstname"`
	Lastname  string `json:"lastname"`
	Username  string `json:"username"`
	Email     string `json:"email"`
}

// appUsers lists the users who have the app, directly or through roles.
func (s *Server) appUsers(w http.ResponseWriter, app int64, cur cursorState) {
	s.mu.Lock()
	ids := s.appUserIDs(app, s.appListsRoles)
	out := make([]listedUser, 0, len(ids))
	for _, id := range ids {
		u := s.users[id]
		out = append(out, listedUser{ID: u.ID, Firstname: u.Firstname, Lastname: u.Lastname, Username: u.Username, Email: u.Email})
	}
	s.mu.Unlock()
	page(s, w, cur, out)
}

// appUserIDs are the users who have the app, sorted: directly, and with
// roles through roles. The caller holds mu.
func (s *Server) appUserIDs(app int64, roles bool) []int64 {
	set := map[int64]bool{}
	for _, id := range s.direct[app] {
		set[id] = true
	}
	for _, r := range s.roles {
		if roles && slices.Contains(r.Apps, app) {
			for _, id := range r.Users {
				set[id] = true
			}
		}
	}
	var ids []int64
	for id := range set {
		if _, ok := s.users[id]; ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (s *Server) listUsers(w http.ResponseWriter, cur cursorState) {
	var q map[string][]string
	_ = json.Unmarshal([]byte(cur.query), &q)
	var want map[int64]bool
	if v := first(q["user_ids"]); v != "" {
		want = map[int64]bool{}
		for _, p := range strings.Split(v, ",") {
			id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
			if err != nil {
				writeError(w, http.StatusBadRequest, "Invalid user_ids")
				return
			}
			want[id] = true
		}
	}
	var since time.Time
	if v := first(q["updated_since"]); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "Invalid updated_since")
			return
		}
		since = t
	}
	s.mu.Lock()
	var app map[int64]bool
	if v := first(q["app_id"]); v != "" {
		id, _ := strconv.ParseInt(v, 10, 64)
		app = map[int64]bool{}
		for _, uid := range s.appUserIDs(id, true) {
			app[uid] = true
		}
	}
	var out []User
	for _, u := range s.users {
		if (want != nil && !want[u.ID]) || (app != nil && !app[u.ID]) || (!since.IsZero() && u.UpdatedAt.Before(since)) {
			continue
		}
		c := *u
		c.RoleIDs = s.roleIDs(u.ID)
		out = append(out, c)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if v := first(q["fields"]); v != "" {
		trimmed, err := onlyFields(out, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "Invalid fields: "+err.Error())
			return
		}
		page(s, w, cur, trimmed)
		return
	}
	page(s, w, cur, out)
}

// onlyFields renders users with only the comma-separated fields named,
// and id.
func onlyFields(users []User, fields string) ([]map[string]any, error) {
	b, err := json.Marshal(User{})
	if err != nil {
		return nil, err
	}
	var known map[string]any
	if err := json.Unmarshal(b, &known); err != nil {
		return nil, err
	}
	keep := []string{"id"}
	for _, f := range strings.Split(fields, ",") {
		f = strings.TrimSpace(f)
		if _, ok := known[f]; !ok {
			return nil, fmt.Errorf("%q is not a user field", f)
		}
		keep = append(keep, f)
	}
	out := make([]map[string]any, len(users))
	for i, u := range users {
		b, err := json.Marshal(u)
		if err != nil {
			return nil, err
		}
		var all map[string]any
		if err := json.Unmarshal(b, &all); err != nil {
			return nil, err
		}
		out[i] = make(map[string]any, len(keep))
		for _, f := range keep {
			out[i][f] = all[f]
		}
	}
	return out, nil
}

// roleIDs are the roles a user holds. The caller holds mu.
func (s *Server) roleIDs(user int64) []int64 {
	var out []int64
	for _, r := range s.roles {
		if slices.Contains(r.Users, user) {
			out = append(out, r.ID)
		}
	}
	slices.Sort(out)
	return out
}

type listedRole struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

func (s *Server) listRoles(w http.ResponseWriter, cur cursorState) {
	var q map[string][]string
	_ = json.Unmarshal([]byte(cur.query), &q)
	app, hasApp := int64(0), false
	if v := first(q["app_id"]); v != "" {
		app, _ = strconv.ParseInt(v, 10, 64)
		hasApp = true
	}
	s.mu.Lock()
	var out []listedRole
	for _, r := range s.roles {
		if !hasApp || slices.Contains(r.Apps, app) {
			out = append(out, listedRole{ID: r.ID, Name: r.Name})
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	page(s, w, cur, out)
}

type roleUser struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Username string `json:"username"`
	Email    string `json:"email"`
	Assigned bool   `json:"assigned"`
}

func (s *Server) roleUsers(w http.ResponseWriter, role int64, cur cursorState) {
	s.mu.Lock()
	r, ok := s.roles[role]
	var out []roleUser
	if ok {
		for _, id := range r.Users {
			if u, ok := s.users[id]; ok {
				out = append(out, roleUser{ID: id, Name: strings.TrimSpace(u.Firstname + " " + u.Lastname), Username: u.Username, Email: u.Email, Assigned: true})
			}
		}
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Role not found")
		return
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	page(s, w, cur, out)
}

// listGroups is v1's /api/1/groups: 50 a page, paging in the body.
func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	offset := 0
	if c := r.URL.Query().Get("after_cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil {
			writeError(w, http.StatusBadRequest, "Invalid pagination cursor")
			return
		}
		offset = n
	}
	s.mu.Lock()
	var all []Group
	for _, g := range s.groups {
		all = append(all, *g)
	}
	s.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	offset = min(offset, len(all))
	end := min(offset+50, len(all))
	pag := map[string]any{"before_cursor": nil, "after_cursor": nil, "previous_link": nil, "next_link": nil}
	if end < len(all) {
		c := base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
		pag["after_cursor"] = c
		pag["next_link"] = s.srv.URL + "/api/1/groups?after_cursor=" + c
	}
	data := all[offset:end]
	if data == nil {
		data = []Group{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status":     map[string]any{"error": false, "code": 200, "type": "success", "message": "Success"},
		"pagination": pag, "data": data,
	})
}

// token answers the client credentials grant, credentials in the form or
// as HTTP Basic.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != s.clientID || secret != s.secret {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"status": map[string]any{"error": true, "code": 401,
			"type": "Unauthorized", "message": "Authentication Failure"}})
		return
	}
	tok := randHex(32)
	s.mu.Lock()
	s.tokens[tok] = true
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "created_at": time.Now().UTC().Format(time.RFC3339),
		"expires_in": 36000, "refresh_token": randHex(32), "token_type": "bearer", "account_id": 123456})
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes OneLogin v2's error body.
func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]any{"statusCode": status, "name": http.StatusText(status), "message": message})
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// errNoUser is returned by data methods for an unknown id.
func errNoUser(id int64) error { return fmt.Errorf("onelogintest: no user %d", id) }
