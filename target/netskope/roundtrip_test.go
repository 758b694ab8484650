package netskope

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/provsync/provsync/target"
)

// TestRoundTripKeepsWhatTheHTTPClientAdds checks that an http.Client
// given with WithHTTPClient still does what it adds to its transport: a
// cookie jar's cookies are sent, and a timeout ends a request.
func TestRoundTripKeepsWhatTheHTTPClientAdds(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/scim/Users/slow" {
			<-release
		}
		if c, err := r.Cookie("route"); err != nil || c.Value != "b" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/scim+json")
		_, _ = w.Write([]byte(`{"id":"u1","userName":"ann@example.com"}`))
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(srv.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: "route", Value: "b"}})

	c, _ := newTestClient(t, srv.URL+"/scim", noLimit(), WithHTTPClient(&http.Client{Jar: jar}))
	if _, err := c.GetUser(context.Background(), "u1"); err != nil {
		t.Errorf("with a cookie jar: %v; want its cookie sent", err)
	}

	c, _ = newTestClient(t, srv.URL+"/scim", noLimit(), WithMaxRetries(-1),
		WithHTTPClient(&http.Client{Jar: jar, Timeout: 50 * time.Millisecond}))
	if _, err := c.GetUser(context.Background(), "slow"); !errors.Is(err, target.ErrUnavailable) {
		t.Errorf("with a timeout: %v; want the request ended as unavailable", err)
	}
}

// TestRoundTripOddTransports checks the answers of transports that break
// the RoundTripper contract: no response and no error is a failure, a
// response without a body has an empty one.
func TestRoundTripOddTransports(t *testing.T) {
	for _, tc := range []struct {
		name string
		rt   roundTripFunc
		ok   bool
	}{
		{"neither response nor error", func(*http.Request) (*http.Response, error) { return nil, nil }, false},
		{"no body", func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusNoContent, Header: http.Header{}, Request: r}, nil
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newTestClient(t, "https://tenant.goskope.com/api/v2/scim", noLimit(), WithMaxRetries(-1),
				WithHTTPClient(&http.Client{Transport: tc.rt}))
			err := c.DeleteUser(context.Background(), "u1")
			if (err == nil) != tc.ok {
				t.Errorf("DeleteUser = %v; want success %v", err, tc.ok)
			}
		})
	}
}
