package onelogintest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/provsync/provsync/source/onelogin/onelogintest"
)

// client returns an HTTP client holding a token of srv, or of the given
// secret if not empty.
func client(srv *onelogintest.Server, secret string) *http.Client {
	id, s := srv.Credentials()
	if secret != "" {
		s = secret
	}
	cc := clientcredentials.Config{ClientID: id, ClientSecret: s, TokenURL: srv.URL() + "/auth/oauth2/v2/token",
		AuthStyle: oauth2.AuthStyleInParams}
	return cc.Client(context.Background())
}

func get(t *testing.T, hc *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestPagingHeadersAndCursorXorLimit(t *testing.T) {
	srv := onelogintest.New(t)
	for range 5 {
		srv.AssignApp(9, srv.AddUser(onelogintest.User{Username: "u", Status: 1}).ID)
	}
	hc := client(srv, "")
	base := srv.URL() + "/api/2/apps/9/users"
	resp, body := get(t, hc, base+"?limit=2")
	h := resp.Header
	if resp.StatusCode != 200 || h.Get("Total-Count") != "5" || h.Get("Total-Pages") != "3" || h.Get("After-Cursor") == "" ||
		h.Get("X-RateLimit-Remaining") == "" || h.Get("X-RateLimit-Reset") == "" {
		t.Fatalf("first page: %d %v %s", resp.StatusCode, h, body)
	}
	var items []map[string]any
	if err := json.Unmarshal([]byte(body), &items); err != nil || len(items) != 2 {
		t.Fatalf("first page items: %v %s", err, body)
	}
	next := url.QueryEscape(h.Get("After-Cursor"))
	tests := []struct {
		name, query string
		status      int
		message     string
	}{
		{"cursor and limit", "?cursor=" + next + "&limit=2", 400, "Requests can only have cursor xor pagination arguments"},
		{"cursor and page", "?cursor=" + next + "&page=2", 400, "Requests can only have cursor xor pagination arguments"},
		{"a cursor it never issued", "?cursor=41000001", 400, "Invalid pagination cursor"},
		{"cursor alone", "?cursor=" + next, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, hc, base+tt.query)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.message) {
				t.Fatalf("%d %s, want %d %q", resp.StatusCode, body, tt.status, tt.message)
			}
			if tt.status == 200 && (resp.Header.Get("Before-Cursor") == "" || resp.Header.Get("Current-Page") != "2") {
				t.Fatalf("second page headers: %v", resp.Header)
			}
		})
	}
}

func TestTokenAndFaults(t *testing.T) {
	srv := onelogintest.New(t)
	if _, err := client(srv, "wrong").Get(srv.URL() + "/api/2/roles"); err == nil {
		t.Fatal("a wrong secret got a token")
	}
	if resp, _ := get(t, http.DefaultClient, srv.URL()+"/api/2/roles"); resp.StatusCode != 401 {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	hc := client(srv, "")
	srv.InjectFault(onelogintest.Fault{Route: onelogintest.RouteRoles, Status: 429, RetryAfter: 7})
	resp, _ := get(t, hc, srv.URL()+"/api/2/roles")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" {
		t.Fatalf("fault: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := get(t, hc, srv.URL()+"/api/2/roles"); resp.StatusCode != 200 {
		t.Fatalf("after the fault: %d", resp.StatusCode)
	}
	if n := srv.Requests(onelogintest.RouteRoles); n != 3 {
		t.Fatalf("%d role requests counted, want 3", n)
	}
}

// TestUsersFields: a users listing with fields returns only those fields
// and id, on every page; without fields, every field; a field no user
// has is refused. The request log records each query.
func TestUsersFields(t *testing.T) {
	srv := onelogintest.New(t)
	for range 3 {
		srv.AddUser(onelogintest.User{Username: "u", Email: "u@example.com", Department: "R&D", Status: 1,
			CustomAttributes: map[string]string{"costCenter": "CC-1"}})
	}
	hc := client(srv, "")
	base := srv.URL() + "/api/2/users"
	resp, body := get(t, hc, base+"?limit=2&fields="+url.QueryEscape("email, custom_attributes"))
	var items []map[string]any
	if err := json.Unmarshal([]byte(body), &items); err != nil || resp.StatusCode != 200 || len(items) != 2 {
		t.Fatalf("first page: %d %v %s", resp.StatusCode, err, body)
	}
	_, body = get(t, hc, base+"?cursor="+url.QueryEscape(resp.Header.Get("After-Cursor")))
	var more []map[string]any
	if err := json.Unmarshal([]byte(body), &more); err != nil || len(more) != 1 {
		t.Fatalf("second page: %v %s", err, body)
	}
	for _, it := range append(items, more...) {
		if len(it) != 3 || it["id"] == nil || it["email"] != "u@example.com" || it["custom_attributes"] == nil {
			t.Errorf("user with fields email,custom_attributes: %v", it)
		}
	}
	_, body = get(t, hc, base)
	if err := json.Unmarshal([]byte(body), &items); err != nil || len(items) != 3 || items[0]["department"] != "R&D" || items[0]["status"] == nil {
		t.Errorf("users without fields: %v %s", err, body)
	}
	if resp, body := get(t, hc, base+"?fields=email,shoeSize"); resp.StatusCode != 400 || !strings.Contains(body, "shoeSize") {
		t.Errorf("unknown field: %d %s", resp.StatusCode, body)
	}
	log := srv.RequestLog()
	if len(log) != 4 || !strings.HasPrefix(log[0], onelogintest.RouteUsers+" ") || !strings.Contains(log[0], "fields=email") {
		t.Errorf("request log %q", log)
	}
	srv.ResetRequests()
	if log := srv.RequestLog(); len(log) != 0 {
		t.Errorf("request log after ResetRequests: %q", log)
	}
}
