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
