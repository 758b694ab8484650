package netskope

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/target"
)

// tenant answers like a healthy Netskope tenant; a test overrides one
// request kind ("GET /Users", "DELETE /Groups", ...) with fail.
func tenant(key string, fail func(w http.ResponseWriter, r *http.Request)) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, _ int) {
		coll := "/Users"
		if strings.HasPrefix(r.URL.Path, "/Groups") {
			coll = "/Groups"
		}
		if fail != nil && key == r.Method+" "+coll {
			fail(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet:
			if coll == "/Users" {
				(&pager[scim.User]{items: makeUsers(3)}).serve(w, r)
			} else {
				(&pager[scim.Group]{items: []scim.Group{{ID: "g1", DisplayName: "G"}}}).serve(w, r)
			}
		case http.MethodDelete:
			writeJSON(w, http.StatusNotFound, scimError(404, "", "Resource not found"))
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	}
}

func respond(status int, contentType, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) { writeRaw(w, status, contentType, body) }
}

func TestCheck(t *testing.T) {
	checkSentinels := []error{ErrBadURL, ErrBadToken, ErrMissingScope, ErrIPNotAllowed}
	tests := []struct {
		name     string
		key      string
		fail     func(http.ResponseWriter, *http.Request)
		base     func(t *testing.T, srvURL string) string // nil: the server's URL
		rt       http.RoundTripper
		want     error // nil: the check passes
		wantHint string
	}{
		{name: "healthy tenant"},
		{
			name: "connection refused", want: ErrBadURL, wantHint: "tenant name and region",
			base: func(t *testing.T, _ string) string { return closedURL(t) },
		},
		{
			name: "DNS failure", want: ErrBadURL, wantHint: "DNS",
			rt: roundTripFunc(func(*http.Request) (*http.Response, error) {
				return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "acme.goskope.com", IsNotFound: true}}
			}),
		},
		{
			name: "404 on the collection", key: "GET /Users", want: ErrBadURL, wantHint: "/api/v2/scim",
			fail: respond(404, "application/json", `{"detail":"Not Found"}`),
		},
		{
			name: "Kong: no Route matched", key: "GET /Users", want: ErrBadURL, wantHint: "base URL should be",
			fail: respond(404, "application/json", `{"message":"no Route matched with those values"}`),
		},
		{
			name: "HTML page", key: "GET /Users", want: ErrBadURL, wantHint: "not as Netskope's SCIM API",
			fail: respond(200, "text/html", "<!doctype html><html><body>Netskope login</body></html>"),
		},
		{
			name: "JSON that is not SCIM", key: "GET /Users", want: ErrBadURL, wantHint: "not as Netskope's SCIM API",
			fail: respond(200, "application/json", `{"status":"ok"}`),
		},
		{
			name: "redirect to a login page", key: "GET /Users", want: ErrBadURL, wantHint: "redirect",
			fail: func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/login", http.StatusFound) },
		},
		{
			name: "401 bad or expired token", key: "GET /Users", want: ErrBadToken, wantHint: "expired",
			fail: respond(401, "application/json", `{"message":"Invalid authentication credentials"}`),
		},
		{
			name: "403 Kong IP restriction", key: "GET /Users", want: ErrIPNotAllowed, wantHint: "allowlist",
			fail: respond(403, "application/json", `{"message":"IP address not allowed"}`),
		},
		{
			name: "403 your IP is not allowed", key: "GET /Users", want: ErrIPNotAllowed, wantHint: "egress IP",
			fail: respond(403, "application/json", `{"message":"Your IP address is not allowed"}`),
		},
		{
			name: "403 allowlist in an RFC body", key: "GET /Groups", want: ErrIPNotAllowed, wantHint: "allowlist",
			fail: respond(403, "application/json", `{"schemas":["`+scim.SchemaError+`"],"status":"403","detail":"Request blocked by tenant allowlist"}`),
		},
		{
			name: "403 users scope missing", key: "GET /Users", want: ErrMissingScope, wantHint: "api/v2/scim/Users",
			fail: respond(403, "application/json", `{"schemas":["`+scim.SchemaError+`"],"status":"403","detail":"Insufficient privileges"}`),
		},
		{
			name: "403 groups scope missing", key: "GET /Groups", want: ErrMissingScope, wantHint: "api/v2/scim/Groups",
			fail: respond(403, "application/json", `{"message":"Forbidden"}`),
		},
		{
			name: "users read-only", key: "DELETE /Users", want: ErrMissingScope, wantHint: "Read+Write",
			fail: respond(403, "application/json", `{"message":"Forbidden"}`),
		},
		{
			name: "groups read-only", key: "DELETE /Groups", want: ErrMissingScope, wantHint: "not write api/v2/scim/Groups",
			fail: respond(403, "", ""),
		},
		{
			name: "write probe hits no route", key: "DELETE /Users", want: ErrBadURL, wantHint: "base URL should be",
			fail: respond(404, "application/json", `{"message":"no Route matched with those values"}`),
		},
		{
			name: "write probe 401", key: "DELETE /Users", want: ErrBadToken, wantHint: "REST API v2",
			fail: respond(401, "application/json", `{"message":"Unauthorized"}`),
		},
		{
			name: "server error is none of them", key: "GET /Users", want: target.ErrUnavailable,
			fail: respond(500, "application/json", `{"message":"internal"}`),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := newServer(t, tenant(tt.key, tt.fail))
			base := srv.URL
			if tt.base != nil {
				base = tt.base(t, srv.URL)
			}
			var opts []Option
			if tt.rt != nil {
				opts = append(opts, WithHTTPClient(&http.Client{Transport: tt.rt}))
			}
			c, _ := newTestClient(t, base, opts...)
			err := c.Check(ctxT(t))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check = %v", err)
				}
				checkProbes(t, rec.all())
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Check = %v, want %v", err, tt.want)
			}
			for _, s := range checkSentinels {
				if s != tt.want && errors.Is(err, s) {
					t.Errorf("Check error also matches %v", s)
				}
			}
			var te *target.Error
			if !errors.As(err, &te) {
				t.Errorf("Check error %v does not carry the *target.Error", err)
			}
			if !strings.Contains(err.Error(), tt.wantHint) {
				t.Errorf("Check error %q does not say %q", err, tt.wantHint)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("Check error leaks the token")
			}
		})
	}
}

// checkProbes checks what a passing Check sent: two one-item reads and
// two deletes of a random UUID.
func checkProbes(t *testing.T, reqs []seen) {
	t.Helper()
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if len(reqs) != 4 {
		t.Fatalf("Check sent %d requests, want 4", len(reqs))
	}
	for i, want := range []string{"GET /Users", "GET /Groups"} {
		r := reqs[i]
		q, _ := url.ParseQuery(r.Query)
		if r.Method+" "+r.Path != want || q.Get("count") != "1" {
			t.Errorf("probe %d = %s %s?%s, want %s?count=1", i, r.Method, r.Path, r.Query, want)
		}
	}
	ids := map[string]bool{}
	for i, coll := range []string{"/Users/", "/Groups/"} {
		r := reqs[2+i]
		id, ok := strings.CutPrefix(r.Path, coll)
		if r.Method != http.MethodDelete || !ok || !uuid.MatchString(id) {
			t.Errorf("write probe = %s %s, want DELETE %s<random UUID>", r.Method, r.Path, coll)
		}
		ids[id] = true
	}
	if len(ids) != 2 {
		t.Errorf("write probes reuse one id")
	}
}
