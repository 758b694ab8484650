// Package directorytest is a fake Google Workspace Admin SDK Directory API
// and a fake Google OAuth 2.0 token endpoint, in memory, for testing the
// google source with the real google.golang.org/api client.
//
// It speaks the Directory API's wire format: users.list with customer or
// domain, maxResults (1 to 500), pageToken, projection (basic without
// custom schemas, custom with only those customFieldMask names, full),
// query on orgUnitPath, showDeleted listing only deleted users, and
// partial responses as Google makes them: a fields mask keeps only the
// fields it names, at every level (so nextPageToken is dropped unless it
// is asked for), and one naming a field the response type lacks is
// answered 400; groups.list (up to 200 a page); members.list (up to 200
// a page) with includeDerivedMembership and USER, GROUP and CUSTOMER
// members. Errors carry Google's JSON error body, with reasons such as
// userRateLimitExceeded on a 403. The token endpoint takes the JWT bearer
// grant of a service account with domain-wide delegation and checks its
// RS256 signature, audience, scopes and subject.
package directorytest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	gosync "sync"
	"testing"

	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/googleapi"

	"github.com/provsync/provsync/source/internal/fakeapi"
)

// Routes, for faults and request counts.
const (
	RouteUsers   = "users.list"
	RouteUser    = "users.get"
	RouteGroups  = "groups.list"
	RouteMembers = "members.list"
	RouteToken   = "token"
)

// CustomerID is the fake account's customer id; "my_customer" aliases it.
const CustomerID = "C01abcd9z"

// Domain is the fake account's primary domain.
const Domain = "example.com"

// Fault makes requests to a route fail.
type Fault struct {
	// Route is one of the Route constants.
	Route string
	// Page is the 1-based page of a listing that fails (the request
	// with the page's pageToken); 0 fails any request to the route.
	Page int
	// Status is the HTTP status: 403, 429, 500, 503...
	Status int
	// Reason is Google's error reason, such as "userRateLimitExceeded",
	// "rateLimitExceeded", "quotaExceeded" or "backendError".
	Reason string
	// RetryAfter, if set, is sent as a Retry-After header in seconds.
	RetryAfter int
	// Times is how many requests fail; 0 means once.
	Times int
}

// Server is the fake Directory API. Its methods are safe for concurrent
// use.
type Server struct {
	mu      gosync.Mutex
	users   map[string]*admin.User // by id
	groups  map[string]*admin.Group
	members map[string][]*admin.Member // group id -> members in insertion order
	tokens  map[string]bool
	faults  fakeapi.Faults[Fault]
	counts  fakeapi.Counts
	queries map[string][]url.Values // by route
	seq     int

	key         *rsa.PrivateKey
	saEmail     string
	subject     string
	srv         *httptest.Server
	staticToken string
}

// New starts a server and closes it when t ends.
func New(t testing.TB) *Server {
	s := NewServer()
	t.Cleanup(s.Close)
	return s
}

// NewServer starts a server with an empty account. Close it when done.
func NewServer() *Server {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(fmt.Sprintf("directorytest: generating a key: %v", err))
	}
	s := &Server{
		users: map[string]*admin.User{}, groups: map[string]*admin.Group{}, members: map[string][]*admin.Member{},
		tokens: map[string]bool{}, queries: map[string][]url.Values{},
		key: key, saEmail: "provsync@provsync-test.iam.gserviceaccount.com", subject: "admin@" + Domain,
		staticToken: "ya29.static-" + randHex(12),
	}
	s.tokens[s.staticToken] = true
	s.counts.Uncounted = RouteToken
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close answers the requests a fault holds and stops the server.
func (s *Server) Close() {
	s.faults.Release()
	s.srv.Close()
}

// URL is the server's root, such as http://127.0.0.1:41234. The Directory
// API lives under /admin/directory/v1/ and the token endpoint at /token.
func (s *Server) URL() string { return s.srv.URL }

// Endpoint is the base URL to give the client: URL() with a trailing
// slash, which the generated client needs.
func (s *Server) Endpoint() string { return s.srv.URL + "/" }

// Token is a bearer token the server accepts without a token request.
func (s *Server) Token() string { return s.staticToken }

// Subject is the admin a service account must impersonate.
func (s *Server) Subject() string { return s.subject }

// ServiceAccountKey returns a service account key file, in Google's JSON
// format, whose token_uri is this server's token endpoint.
func (s *Server) ServiceAccountKey() []byte {
	der, err := x509MarshalPKCS8(s.key)
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "provsync-test", "private_key_id": "0123456789abcdef",
		"private_key": string(der), "client_email": s.saEmail, "client_id": "1234567890",
		"auth_uri": s.srv.URL + "/auth", "token_uri": s.srv.URL + "/token",
	})
	return b
}

// InjectFault adds a fault; faults are matched in the order added.
func (s *Server) InjectFault(f Fault) {
	s.faults.Add(fakeapi.Rule{Route: f.Route, Page: f.Page, Times: f.Times}, f)
}

// ThrottleNext answers the next n Directory requests with 403
// userRateLimitExceeded, as Google does when a user's quota is spent.
func (s *Server) ThrottleNext(n int) {
	s.InjectFault(Fault{Status: http.StatusForbidden, Reason: "userRateLimitExceeded", Times: n})
}

// Requests returns how many requests reached route ("" for all routes but
// the token endpoint).
func (s *Server) Requests(route string) int { return s.counts.Get(route) }

// ResetRequests zeroes the request counts and forgets the queries.
func (s *Server) ResetRequests() {
	s.counts.Reset()
	s.mu.Lock()
	clear(s.queries)
	s.mu.Unlock()
}

// Queries returns the query parameters of every request that reached
// route (one of the Route constants) since the server started or
// ResetRequests, in the order they arrived.
func (s *Server) Queries(route string) []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]url.Values, len(s.queries[route]))
	for i, q := range s.queries[route] {
		out[i] = maps.Clone(q)
	}
	return out
}

// serve routes a request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		s.count(RouteToken)
		s.serveToken(w, r)
		return
	}
	const prefix = "/admin/directory/v1/"
	if !strings.HasPrefix(r.URL.Path, prefix) {
		writeError(w, http.StatusNotFound, "notFound", "Not Found")
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, prefix), "/")
	var route string
	switch {
	case len(parts) == 1 && parts[0] == "users":
		route = RouteUsers
	case len(parts) == 2 && parts[0] == "users":
		route = RouteUser
	case len(parts) == 1 && parts[0] == "groups":
		route = RouteGroups
	case len(parts) == 3 && parts[0] == "groups" && parts[2] == "members":
		route = RouteMembers
	default:
		writeError(w, http.StatusNotFound, "notFound", "Not Found")
		return
	}
	s.count(route)
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "badRequest", "Method not allowed")
		return
	}
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, "authError", "Invalid Credentials")
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	s.queries[route] = append(s.queries[route], q)
	s.mu.Unlock()
	page, err := pageOf(q.Get("pageToken"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "Invalid Input: pageToken")
		return
	}
	if f := s.fault(r, route, page+1); f != nil {
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
		}
		writeError(w, f.Status, f.Reason, "Injected failure: "+f.Reason)
		return
	}
	switch route {
	case RouteUsers:
		s.listUsers(w, q, page)
	case RouteUser:
		s.getUser(w, parts[1])
	case RouteGroups:
		s.listGroups(w, q, page)
	case RouteMembers:
		s.listMembers(w, q, parts[1], page)
	}
}

func (s *Server) count(route string) { s.counts.Add(route) }

func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	return ok && s.tokens[tok]
}

func (s *Server) fault(r *http.Request, route string, page int) *Fault {
	if f, ok := s.faults.Take(r.Context(), route, page); ok {
		return &f
	}
	return nil
}

// checkCustomer answers 400 unless exactly one of customer and domain
// names this account.
func checkCustomer(w http.ResponseWriter, q map[string][]string) bool {
	customer, domain := first(q["customer"]), first(q["domain"])
	switch {
	case customer == "" && domain == "":
		writeError(w, http.StatusBadRequest, "badRequest", "Bad Request")
	case customer != "" && customer != "my_customer" && customer != CustomerID:
		writeError(w, http.StatusNotFound, "notFound", "Resource Not Found: customer")
	case customer == "" && !strings.EqualFold(domain, Domain):
		writeError(w, http.StatusNotFound, "notFound", "Domain not found.")
	default:
		return true
	}
	return false
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// maxResults reads maxResults, answering 400 outside 1..limit.
func maxResults(w http.ResponseWriter, raw string, def, limit int) (int, bool) {
	if raw == "" {
		return def, true
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > limit {
		writeError(w, http.StatusBadRequest, "invalid", "Invalid Input: maxResults")
		return 0, false
	}
	return n, true
}

func (s *Server) listUsers(w http.ResponseWriter, q map[string][]string, page int) {
	if !checkCustomer(w, q) {
		return
	}
	size, ok := maxResults(w, first(q["maxResults"]), 100, 500)
	if !ok {
		return
	}
	ou, suspended, err := parseUserQuery(first(q["query"]))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "Invalid Input: "+err.Error())
		return
	}
	deleted := first(q["showDeleted"]) == "true"
	schemas, ok := projection(w, first(q["projection"]), first(q["customFieldMask"]))
	if !ok {
		return
	}
	s.mu.Lock()
	var all []admin.User
	for _, u := range s.users {
		if (u.DeletionTime != "") != deleted {
			continue
		}
		if ou != "" && u.OrgUnitPath != ou && !strings.HasPrefix(u.OrgUnitPath, strings.TrimSuffix(ou, "/")+"/") {
			continue
		}
		if suspended != nil && u.Suspended != *suspended {
			continue
		}
		c := *u
		c.CustomSchemas = schemas(c.CustomSchemas)
		all = append(all, c)
	}
	s.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].PrimaryEmail < all[j].PrimaryEmail })
	items, next := paginate(all, page, size)
	writeList[admin.Users](w, first(q["fields"]), "users", "admin#directory#users", items, next)
}

func (s *Server) getUser(w http.ResponseWriter, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.DeletionTime == "" && (u.Id == key || strings.EqualFold(u.PrimaryEmail, key)) {
			writeJSON(w, http.StatusOK, u)
			return
		}
	}
	writeError(w, http.StatusNotFound, "notFound", "Resource Not Found: userKey")
}

func (s *Server) listGroups(w http.ResponseWriter, q map[string][]string, page int) {
	if !checkCustomer(w, q) {
		return
	}
	size, ok := maxResults(w, first(q["maxResults"]), 200, 200)
	if !ok {
		return
	}
	s.mu.Lock()
	all := make([]admin.Group, 0, len(s.groups))
	for _, g := range s.groups {
		all = append(all, *g)
	}
	s.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].Email < all[j].Email })
	items, next := paginate(all, page, size)
	writeList[admin.Groups](w, first(q["fields"]), "groups", "admin#directory#groups", items, next)
}

func (s *Server) listMembers(w http.ResponseWriter, q map[string][]string, key string, page int) {
	size, ok := maxResults(w, first(q["maxResults"]), 200, 200)
	if !ok {
		return
	}
	s.mu.Lock()
	g := s.groupByKey(key)
	if g == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "notFound", "Resource Not Found: groupKey")
		return
	}
	var all []admin.Member
	if first(q["includeDerivedMembership"]) == "true" {
		seen := map[string]bool{}
		s.derived(g.Id, seen, &all)
	} else {
		for _, m := range s.members[g.Id] {
			all = append(all, *m)
		}
	}
	s.mu.Unlock()
	items, next := paginate(all, page, size)
	writeList[admin.Members](w, first(q["fields"]), "members", "admin#directory#members", items, next)
}

// derived appends the members of group id and, for each group member, its
// members in turn, each member once.
func (s *Server) derived(id string, seen map[string]bool, out *[]admin.Member) {
	for _, m := range s.members[id] {
		if seen[m.Id] {
			continue
		}
		seen[m.Id] = true
		*out = append(*out, *m)
		if m.Type == "GROUP" {
			s.derived(m.Id, seen, out)
		}
	}
}

func (s *Server) groupByKey(key string) *admin.Group {
	if g, ok := s.groups[key]; ok {
		return g
	}
	for _, g := range s.groups {
		if strings.EqualFold(g.Email, key) {
			return g
		}
	}
	return nil
}

// parseUserQuery understands the two search clauses the source sends:
// orgUnitPath='/Path' (or unquoted) and isSuspended=true|false, separated
// by spaces.
func parseUserQuery(query string) (ou string, suspended *bool, err error) {
	rest := strings.TrimSpace(query)
	for rest != "" {
		name, value, ok := strings.Cut(rest, "=")
		if !ok {
			return "", nil, fmt.Errorf("query %q", query)
		}
		name = strings.TrimSpace(name)
		if strings.HasPrefix(value, "'") {
			end := strings.Index(value[1:], "'")
			if end < 0 {
				return "", nil, fmt.Errorf("unterminated quote in query %q", query)
			}
			value, rest = value[1:1+end], strings.TrimSpace(value[2+end:])
		} else {
			v, r, _ := strings.Cut(value, " ")
			value, rest = v, strings.TrimSpace(r)
		}
		switch name {
		case "orgUnitPath":
			ou = value
		case "isSuspended":
			b := value == "true"
			suspended = &b
		default:
			return "", nil, fmt.Errorf("unsupported field %q in query", name)
		}
	}
	return ou, suspended, nil
}

// pageOf decodes a page token: the 0-based page it starts at.
func pageOf(token string) (int, error) {
	if token == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "page:"))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("bad page token")
	}
	return n, nil
}

func paginate[T any](all []T, page, size int) ([]T, string) {
	start := page * size
	if start > len(all) {
		start = len(all)
	}
	end := min(start+size, len(all))
	next := ""
	if end < len(all) {
		next = base64.RawURLEncoding.EncodeToString([]byte("page:" + strconv.Itoa(page+1)))
	}
	return all[start:end], next
}

// projection reads users.list's projection and customFieldMask into the
// function that keeps of a user's custom schemas those the response
// carries: none with basic (the default), those customFieldMask names
// with custom, all with full. Anything else is answered 400.
func projection(w http.ResponseWriter, proj, fieldMask string) (func(map[string]googleapi.RawMessage) map[string]googleapi.RawMessage, bool) {
	switch proj {
	case "", "basic":
		return func(map[string]googleapi.RawMessage) map[string]googleapi.RawMessage { return nil }, true
	case "full":
		return func(m map[string]googleapi.RawMessage) map[string]googleapi.RawMessage { return m }, true
	case "custom":
		names := strings.Split(fieldMask, ",")
		return func(m map[string]googleapi.RawMessage) map[string]googleapi.RawMessage {
			var out map[string]googleapi.RawMessage
			for _, n := range names {
				if v, ok := m[strings.TrimSpace(n)]; ok {
					if out == nil {
						out = map[string]googleapi.RawMessage{}
					}
					out[strings.TrimSpace(n)] = v
				}
			}
			return out
		}, true
	}
	writeError(w, http.StatusBadRequest, "invalid", "Invalid value for projection: "+proj)
	return nil, false
}

// writeList writes a list response of type R (such as admin.Users). With
// a fields mask, only the fields it names are kept, at every level, as
// Google's partial responses do: a mask without nextPageToken drops it.
func writeList[R any, T any](w http.ResponseWriter, fields, key, kind string, items []T, next string) {
	if items == nil {
		items = []T{}
	}
	body := map[string]any{"kind": kind, "etag": `"` + randHex(8) + `"`, key: items}
	if next != "" {
		body["nextPageToken"] = next
	}
	if fields == "" {
		writeJSON(w, http.StatusOK, body)
		return
	}
	m, err := parseMask(fields)
	if err == nil {
		err = m.check(reflect.TypeFor[R]())
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalidParameter", "Invalid field selection: "+err.Error())
		return
	}
	v, err := partial(body, m)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "backendError", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes Google's JSON error body.
func writeError(w http.ResponseWriter, status int, reason, message string) {
	domain, st := "global", http.StatusText(status)
	switch reason {
	case "userRateLimitExceeded", "rateLimitExceeded", "quotaExceeded":
		domain = "usageLimits"
	}
	switch status {
	case http.StatusForbidden:
		st = "PERMISSION_DENIED"
	case http.StatusTooManyRequests:
		st = "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable:
		st = "UNAVAILABLE"
	case http.StatusNotFound:
		st = "NOT_FOUND"
	case http.StatusBadRequest:
		st = "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		st = "UNAUTHENTICATED"
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code": status, "message": message, "status": st,
		"errors": []map[string]string{{"message": message, "domain": domain, "reason": reason}},
	}})
}
