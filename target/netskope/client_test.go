package netskope

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/target"
)

func TestTenantURL(t *testing.T) {
	tests := []struct{ tenant, region, want string }{
		{"acme", "", "https://acme.goskope.com/api/v2/scim"},
		{"acme", "eu", "https://acme.eu.goskope.com/api/v2/scim"},
		{" acme ", " de ", "https://acme.de.goskope.com/api/v2/scim"},
	}
	for _, tt := range tests {
		if got := TenantURL(tt.tenant, tt.region); got != tt.want {
			t.Errorf("TenantURL(%q, %q) = %q, want %q", tt.tenant, tt.region, got, tt.want)
		}
	}
	if _, err := New(TenantURL("acme", "eu"), testToken); err != nil {
		t.Errorf("New(TenantURL(...)) = %v", err)
	}
}

func TestNewEnforcesHTTPS(t *testing.T) {
	tests := []struct {
		url     string
		wantErr string // "" for success
	}{
		{"https://acme.goskope.com/api/v2/scim", ""},
		{"https://acme.eu.goskope.com/api/v2/scim/", ""},
		{"HTTPS://acme.goskope.com/api/v2/scim", ""},
		{"https://addon-acme.goskope.com/SCIM/V2/uhrdzTCOsNGQl6N6U0BW", ""},
		{"http://127.0.0.1:8080/api/v2/scim", ""},
		{"http://127.9.8.7/api/v2/scim", ""},
		{"http://localhost:9000/scim", ""},
		{"http://LOCALHOST/scim", ""},
		{"http://[::1]:8080/scim", ""},
		{"http://acme.goskope.com/api/v2/scim", "plain http"},
		{"http://10.0.0.1/api/v2/scim", "plain http"},
		{"http://128.0.0.1/api/v2/scim", "plain http"},
		{"http://localhost.example.com/scim", "plain http"},
		{"ftp://acme.goskope.com/scim", "scheme"},
		{"", "empty base URL"},
		{"acme.goskope.com/api/v2/scim", "no host"},
		{"https://", "no host"},
		{"https://user:pw@acme.goskope.com/api/v2/scim", "credentials"},
		{"https://acme.goskope.com/api/v2/scim?x=1", "query"},
		{"https://acme.goskope.com/api/v2/scim#frag", "query or fragment"},
		{"https://acme.goskope.com/%zz", "does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c, err := New(tt.url, testToken)
			if tt.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("New(%q) = %v", tt.url, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New(%q) error = %v, want one mentioning %q", tt.url, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), testToken) {
				t.Errorf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestNewValidatesTokenAndOptions(t *testing.T) {
	const base = "https://acme.goskope.com/api/v2/scim"
	tests := []struct {
		name    string
		token   string
		opts    []Option
		wantErr string
	}{
		{"defaults", testToken, nil, ""},
		{"all options", testToken, []Option{
			WithHTTPClient(&http.Client{}), WithLogger(zap.NewNop()), WithAPITokenHeader(),
			WithRateLimit(2, 3), WithMaxRetries(0), WithBackoff(time.Second, time.Minute),
			WithPageSize(1000), WithMemberChunkSize(5000), WithRequestTimeout(0), WithUserAgent("me/1"),
		}, ""},
		{"rate limit off", testToken, []Option{WithRateLimit(0, 0)}, ""},
		{"nil option skipped", testToken, []Option{nil}, ""},
		{"empty token", "", nil, "empty token"},
		{"token with newline", testToken + "\n", nil, "white space"},
		{"token with control", "ab\x00cd", nil, "control characters"},
		{"nil http client", testToken, []Option{WithHTTPClient(nil)}, "WithHTTPClient"},
		{"nil logger", testToken, []Option{WithLogger(nil)}, "WithLogger"},
		{"zero burst", testToken, []Option{WithRateLimit(4, 0)}, "WithRateLimit"},
		{"NaN rate", testToken, []Option{WithRateLimit(nan(), 1)}, "WithRateLimit"},
		{"retries off", testToken, []Option{WithMaxRetries(-1)}, ""},
		{"zero backoff", testToken, []Option{WithBackoff(0, time.Second)}, "WithBackoff"},
		{"max below base", testToken, []Option{WithBackoff(time.Second, time.Millisecond)}, "WithBackoff"},
		{"page size 0", testToken, []Option{WithPageSize(0)}, "WithPageSize"},
		{"page size too big", testToken, []Option{WithPageSize(MaxPageSize + 1)}, "WithPageSize"},
		{"chunk 0", testToken, []Option{WithMemberChunkSize(0)}, "WithMemberChunkSize"},
		{"chunk too big", testToken, []Option{WithMemberChunkSize(MaxMemberChunkSize + 1)}, "WithMemberChunkSize"},
		{"negative timeout", testToken, []Option{WithRequestTimeout(-time.Second)}, "WithRequestTimeout"},
		{"empty user agent", testToken, []Option{WithUserAgent(" ")}, "WithUserAgent"},
		{"user agent with newline", testToken, []Option{WithUserAgent("a\r\nX-Evil: 1")}, "WithUserAgent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(base, tt.token, tt.opts...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want one mentioning %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "ab\x00cd") || strings.Contains(err.Error(), testToken) {
				t.Errorf("error echoes the token: %q", err)
			}
		})
	}
	// Several bad options are reported together.
	_, err := New(base, testToken, WithPageSize(0), WithBackoff(0, time.Second))
	if err == nil || !strings.Contains(err.Error(), "WithPageSize") || !strings.Contains(err.Error(), "WithBackoff") {
		t.Errorf("New with two bad options = %v, want both named", err)
	}
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

func TestAuthAndMediaHeaders(t *testing.T) {
	tests := []struct {
		name       string
		opts       []Option
		wantHeader string
		wantValue  string
		absent     string
	}{
		{"bearer by default", nil, "Authorization", "Bearer " + testToken, "Netskope-Api-Token"},
		{"Netskope-Api-Token", []Option{WithAPITokenHeader()}, "Netskope-Api-Token", testToken, "Authorization"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				switch r.Method {
				case http.MethodPost:
					writeJSON(w, http.StatusCreated, scim.User{ID: "u1", UserName: "a"})
				default:
					writeJSON(w, http.StatusOK, scim.User{ID: "u1", UserName: "a"})
				}
			})
			c, _ := newTestClient(t, srv.URL, append(tt.opts, WithUserAgent("provsync-test/1"))...)
			if _, err := c.GetUser(ctxT(t), "u1"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.CreateUser(ctxT(t), &scim.User{UserName: "a"}); err != nil {
				t.Fatal(err)
			}
			reqs := rec.all()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			for _, r := range reqs {
				if got := r.Header.Get(tt.wantHeader); got != tt.wantValue {
					t.Errorf("%s %s: header %s = %q, want %q", r.Method, r.Path, tt.wantHeader, got, tt.wantValue)
				}
				if got := r.Header.Get(tt.absent); got != "" {
					t.Errorf("%s %s: header %s = %q, want none", r.Method, r.Path, tt.absent, got)
				}
				if got := r.Header.Get("Accept"); got != "application/scim+json, application/json" {
					t.Errorf("Accept = %q", got)
				}
				if got := r.Header.Get("User-Agent"); got != "provsync-test/1" {
					t.Errorf("User-Agent = %q", got)
				}
			}
			if got := reqs[0].Header.Get("Content-Type"); got != "" {
				t.Errorf("GET without a body sent Content-Type %q", got)
			}
			if got := reqs[1].Header.Get("Content-Type"); got != "application/scim+json;charset=utf-8" {
				t.Errorf("POST Content-Type = %q", got)
			}
		})
	}
}

func TestResourcePaths(t *testing.T) {
	srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		switch {
		case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/Groups/"):
			writeJSON(w, http.StatusOK, scim.Group{ID: "g1", DisplayName: "G"})
		case r.Method == http.MethodGet:
			writeJSON(w, http.StatusOK, scim.User{ID: "x", UserName: "a"})
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	// The retired add-on form: a per-client path under /SCIM/V2.
	c, _ := newTestClient(t, srv.URL+"/SCIM/V2/uhrdzTCOsNGQl6N6U0BW/", noLimit())
	ctx := ctxT(t)
	if _, err := c.GetUser(ctx, "a/b c?d"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetGroup(ctx, "g1"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteUser(ctx, "u-1"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/SCIM/V2/uhrdzTCOsNGQl6N6U0BW/Users/a%2Fb%20c%3Fd",
		"/SCIM/V2/uhrdzTCOsNGQl6N6U0BW/Groups/g1",
		"/SCIM/V2/uhrdzTCOsNGQl6N6U0BW/Users/u-1",
	}
	reqs := rec.all()
	if len(reqs) != len(want) {
		t.Fatalf("%d requests, want %d", len(reqs), len(want))
	}
	for i, w := range want {
		if reqs[i].Path != w {
			t.Errorf("request %d path = %q, want %q", i, reqs[i].Path, w)
		}
	}

	// Ids that would address something else are refused before sending.
	for _, id := range []string{"", ".", ".."} {
		_, err := c.GetUser(ctx, id)
		if !errors.Is(err, target.ErrInvalid) {
			t.Errorf("GetUser(%q) = %v, want ErrInvalid", id, err)
		}
		if err := c.DeleteGroup(ctx, id); !errors.Is(err, target.ErrInvalid) {
			t.Errorf("DeleteGroup(%q) = %v, want ErrInvalid", id, err)
		}
	}
	if rec.count() != len(want) {
		t.Errorf("invalid ids sent %d requests", rec.count()-len(want))
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	other, otherRec := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		writeJSON(w, http.StatusOK, scim.User{ID: "u1"})
	})
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		http.Redirect(w, r, other.URL+"/login", http.StatusFound)
	})
	c, _ := newTestClient(t, srv.URL, WithAPITokenHeader(), noLimit())
	_, err := c.GetUser(ctxT(t), "u1")
	var te *target.Error
	if !errors.As(err, &te) || te.Status != http.StatusFound || !errors.Is(err, target.ErrProtocol) {
		t.Fatalf("GetUser through a redirect = %v, want a 302 protocol error", err)
	}
	if otherRec.count() != 0 {
		t.Errorf("the redirect was followed: the other host got %d requests (and the token)", otherRec.count())
	}
}

// TestNoSecretsLeak drives the client through successes, errors, retries
// and transport failures and checks that neither the token nor personal
// data reaches a log line, and the token no error or formatted value.
func TestNoSecretsLeak(t *testing.T) {
	const (
		userName = "alice.secretperson@example.com"
		filterBy = "bob.hiddenname@example.com"
	)
	srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		switch {
		case r.Method == http.MethodPost:
			writeJSON(w, http.StatusConflict, scimError(409, "uniqueness", "User "+userName+" already exists"))
		case r.URL.Query().Get("filter") != "":
			(&pager[scim.User]{items: []scim.User{{ID: "u9", UserName: filterBy}}}).serve(w, r)
		case strings.HasSuffix(r.URL.Path, "/Users/gone"):
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"message": "token " + testToken + " busy"})
		default:
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Invalid token"})
		}
	})
	for _, apiHeader := range []bool{false, true} {
		core, logs := observer.New(zap.DebugLevel)
		opts := []Option{WithLogger(zap.New(core)), noLimit(), WithMaxRetries(2)}
		if apiHeader {
			opts = append(opts, WithAPITokenHeader())
		}
		c, _ := newTestClient(t, srv.URL, opts...)
		dead, _ := newTestClient(t, closedURL(t), append(opts, WithMaxRetries(1))...)
		ctx := ctxT(t)

		var errs []error
		_, err := c.CreateUser(ctx, &scim.User{UserName: userName, Emails: []scim.Email{{Value: userName}}})
		errs = append(errs, err)
		users, err := c.ListUsers(ctx, target.WithFilter(scim.Eq("userName", filterBy)))
		if err != nil || len(users) != 1 {
			t.Fatalf("filtered list = %v, %v", users, err)
		}
		_, err = c.GetUser(ctx, "u1")
		errs = append(errs, err)
		_, err = c.GetUser(ctx, "gone")
		errs = append(errs, err)
		_, err = dead.ListUsers(ctx, target.WithFilter(scim.Eq("userName", filterBy)))
		errs = append(errs, err)
		errs = append(errs, c.Check(ctx))

		for i, err := range errs {
			if err == nil {
				t.Fatalf("call %d succeeded, want an error", i)
			}
			for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				if strings.Contains(s, testToken) {
					t.Errorf("error %d leaks the token: %s", i, s)
				}
			}
			if strings.Contains(err.Error(), filterBy) {
				t.Errorf("error %d leaks the filter value: %s", i, err)
			}
		}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			if s := fmt.Sprintf(verb, c); strings.Contains(s, testToken) || strings.Contains(s, fmt.Sprintf("%x", testToken)) {
				t.Errorf("fmt %s of the client leaks the token: %s", verb, s)
			}
		}
		if s := fmt.Sprintf("%+v %#v", c.cred, *c.cred); strings.Contains(s, testToken) {
			t.Errorf("formatting the credential leaks the token: %s", s)
		}
		if s := c.String(); !strings.Contains(s, "127.0.0.1") {
			t.Errorf("String() = %q, want the host", s)
		}
		zap.New(core).Info("client", zap.Object("client", c), zap.Any("any", c))

		entries := logs.All()
		if len(entries) == 0 {
			t.Fatal("nothing logged")
		}
		debug, warn := 0, 0
		for _, e := range entries {
			line := e.Message + fmt.Sprint(e.ContextMap())
			for _, secret := range []string{testToken, userName, filterBy, "example.com", "secretperson", "hiddenname"} {
				if strings.Contains(line, secret) {
					t.Errorf("log line leaks %q: %s", secret, line)
				}
			}
			switch e.Level {
			case zap.DebugLevel:
				if e.Message == "netskope request" {
					debug++
				}
			case zap.WarnLevel:
				warn++
			}
		}
		// One Debug line per attempt: the server's requests plus the two
		// failed attempts on the dead address.
		if want := rec.count() + 2; debug != want {
			t.Errorf("%d Debug request lines, want one per attempt (%d)", debug, want)
		}
		// Giving up: GET /Users/gone (503 after retries) and the dead list.
		if warn != 2 {
			t.Errorf("%d Warn lines, want 2 (one per request given up)", warn)
		}
		filtered := logs.FilterField(zap.Bool("filter", true)).Len()
		if filtered != 3 { // one page here, two attempts on the dead address
			t.Errorf("%d log lines say a filter was present, want 3", filtered)
		}
		rec.mu.Lock()
		rec.reqs = nil
		rec.mu.Unlock()
	}
}
