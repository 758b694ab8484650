package netskopetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/provsync/provsync/scim"
)

// client is a minimal SCIM client over net/http for the tests.
type client struct {
	tb    testing.TB
	base  string
	token string
	hc    *http.Client
}

func newClient(tb testing.TB, s *Server) *client {
	return &client{tb: tb, base: s.URL(), token: s.Token(), hc: &http.Client{}}
}

// response is a read HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		tb.Fatalf("decode %s: %v", r.body, err)
	}
}

// scimErr decodes an RFC 7644 error body.
func (r response) scimErr(tb testing.TB) *scim.Error {
	tb.Helper()
	return scim.ParseError(r.status, r.body)
}

// send makes a request; path is relative to the base URL ("/Users?..."),
// or absolute when it starts with "http". hdr holds header name/value
// pairs; without any, the bearer token is sent.
func (c *client) send(method, path string, body any, hdr ...string) response {
	c.tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.tb.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		u = c.base + path
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		c.tb.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", scim.MediaType)
	}
	if len(hdr) == 0 {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.tb.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// must makes a request and fails the test unless the status is want.
func (c *client) must(want int, method, path string, body any) response {
	c.tb.Helper()
	r := c.send(method, path, body)
	if r.status != want {
		c.tb.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	return r
}

func (c *client) createUser(u scim.User) scim.User {
	c.tb.Helper()
	var out scim.User
	c.must(http.StatusCreated, http.MethodPost, "/Users", u.WithSchemas()).decode(c.tb, &out)
	return out
}

func (c *client) createGroup(g scim.Group) scim.Group {
	c.tb.Helper()
	var out scim.Group
	c.must(http.StatusCreated, http.MethodPost, "/Groups", g.WithSchemas()).decode(c.tb, &out)
	return out
}

func (c *client) patch(want int, path string, ops ...scim.PatchOperation) response {
	c.tb.Helper()
	return c.must(want, http.MethodPatch, path, scim.NewPatch(ops...))
}

func (c *client) listUsers(query string) scim.ListResponse[scim.User] {
	c.tb.Helper()
	var lr scim.ListResponse[scim.User]
	c.must(http.StatusOK, http.MethodGet, "/Users"+query, nil).decode(c.tb, &lr)
	return lr
}

func (c *client) listGroups(query string) scim.ListResponse[scim.Group] {
	c.tb.Helper()
	var lr scim.ListResponse[scim.Group]
	c.must(http.StatusOK, http.MethodGet, "/Groups"+query, nil).decode(c.tb, &lr)
	return lr
}

// filterQuery builds ?filter=... from a filter built with the scim package.
func filterQuery(tb testing.TB, f scim.Filter) string {
	tb.Helper()
	s, err := f.Build()
	if err != nil {
		tb.Fatal(err)
	}
	return "?filter=" + url.QueryEscape(s)
}

func user(name string) scim.User {
	return scim.User{
		UserName: name,
		Name:     &scim.Name{GivenName: "Given " + name, FamilyName: "Family"},
		Active:   scim.Bool(true),
		Emails:   []scim.Email{{Value: name + "@example.com", Type: "work", Primary: true}},
	}
}

// seedUsers stores n users named prefix0000... directly.
func seedUsers(tb testing.TB, s *Server, prefix string, n int) []scim.User {
	tb.Helper()
	out := make([]scim.User, n)
	for i := range out {
		u := user(fmt.Sprintf("%s%05d", prefix, i))
		u.ExternalID = fmt.Sprintf("ext-%s%05d", prefix, i)
		got, err := s.AddUser(u)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = got
	}
	return out
}

func memberIDsOf(g scim.Group) map[string]bool {
	m := map[string]bool{}
	for _, mb := range g.Members {
		m[mb.Value] = true
	}
	return m
}
