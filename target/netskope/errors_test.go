package netskope

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/target"
)

func TestErrorMapping(t *testing.T) {
	const userName = "alice@example.com"
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		header      map[string]string
		want        error
		wantType    string // scimType
		wantText    string // SCIM detail or message
		wantMessage string // in err.Error()
	}{
		{
			name: "RFC 7644 body", status: 409, contentType: "application/json",
			body:     `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"User already exists"}`,
			want:     target.ErrConflict,
			wantType: "uniqueness", wantText: "User already exists",
			wantMessage: "create user userName=alice@example.com: 409 Conflict (uniqueness): User already exists",
		},
		{
			name: "RFC body with numeric status", status: 400, contentType: "application/json",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":400,"scimType":"invalidValue","detail":"emails required"}`,
			want: target.ErrInvalid, wantType: "invalidValue", wantText: "emails required",
		},
		{
			name: "gateway message body", status: 404, contentType: "application/json",
			body: `{"message":"no Route matched with those values"}`,
			want: target.ErrNotFound, wantText: "no Route matched with those values",
		},
		{
			name: "rate limit message", status: 429, contentType: "application/json",
			body:   `{"message":"API rate limit exceeded"}`,
			header: map[string]string{"Retry-After": "4"},
			want:   target.ErrRateLimited, wantText: "API rate limit exceeded",
		},
		{
			name: "raw text", status: 400, contentType: "text/plain",
			body: "Bad Request: malformed body",
			want: target.ErrInvalid, wantText: "Bad Request: malformed body",
		},
		{
			name: "HTML error page", status: 502, contentType: "text/html",
			body: "<html><h1>502 Bad Gateway</h1></html>",
			want: target.ErrUnavailable, wantText: "<html><h1>502 Bad Gateway</h1></html>",
		},
		{
			name: "401", status: 401, contentType: "application/json", body: `{"message":"Unauthorized"}`,
			want: target.ErrUnauthorized, wantText: "Unauthorized", wantMessage: "has not expired",
		},
		{
			name: "403", status: 403, contentType: "application/json", body: `{"message":"Forbidden"}`,
			want: target.ErrForbidden, wantText: "Forbidden", wantMessage: "scopes",
		},
		{
			name: "422", status: 422, contentType: "application/json", body: `{"detail":"no"}`,
			want: target.ErrInvalid, wantText: "no",
		},
		{
			name: "empty body", status: 404,
			want: target.ErrNotFound,
		},
		{
			name: "2xx HTML", status: 201, contentType: "text/html", body: "<html>login</html>",
			want: target.ErrProtocol, wantMessage: `not SCIM JSON (Content-Type "text/html")`,
		},
	}
	sentinels := []error{
		target.ErrNotFound, target.ErrConflict, target.ErrRateLimited, target.ErrUnauthorized,
		target.ErrForbidden, target.ErrInvalid, target.ErrUnavailable, target.ErrProtocol,
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				writeRaw(w, tt.status, tt.contentType, tt.body)
			})
			c, _ := newTestClient(t, srv.URL, WithMaxRetries(-1))
			_, err := c.CreateUser(ctxT(t), &scim.User{UserName: userName})
			if !errors.Is(err, tt.want) {
				t.Fatalf("CreateUser = %v, want %v", err, tt.want)
			}
			for _, s := range sentinels {
				if s != tt.want && errors.Is(err, s) && !(tt.want == target.ErrForbidden && s == target.ErrUnauthorized) {
					t.Errorf("error also matches %v", s)
				}
			}
			var te *target.Error
			if !errors.As(err, &te) {
				t.Fatalf("no *target.Error in %v", err)
			}
			if te.Op != "create user" || te.Object != "userName="+userName || te.Method != http.MethodPost ||
				te.Path != "/Users" || te.Status != tt.status || te.Attempts != 1 {
				t.Errorf("error fields %+v", te)
			}
			if tt.status >= 400 {
				if te.SCIM == nil {
					t.Fatal("no SCIM detail")
				}
				if te.SCIM.Status != tt.status || te.SCIM.ScimType != tt.wantType || te.SCIM.Text() != tt.wantText {
					t.Errorf("SCIM = %+v, want type %q text %q", te.SCIM, tt.wantType, tt.wantText)
				}
			}
			if ra := tt.header["Retry-After"]; ra != "" && te.RetryAfter != 4*time.Second {
				t.Errorf("RetryAfter = %v", te.RetryAfter)
			}
			if !strings.Contains(err.Error(), tt.wantMessage) {
				t.Errorf("message %q, want it to contain %q", err, tt.wantMessage)
			}
		})
	}
}

func TestTransportErrorMapping(t *testing.T) {
	c, _ := newTestClient(t, closedURL(t), WithMaxRetries(-1))
	_, err := c.ListUsers(ctxT(t), target.WithFilter(scim.Eq("userName", "carol@example.com")))
	var te *target.Error
	if !errors.As(err, &te) || te.Status != 0 || te.Op != "list users" || te.Path != "/Users" ||
		te.Method != http.MethodGet || te.Attempts != 1 {
		t.Fatalf("err = %#v", err)
	}
	if !errors.Is(err, target.ErrUnavailable) || !target.IsRetryable(err) {
		t.Errorf("a connection failure is not ErrUnavailable: %v", err)
	}
	if s := err.Error(); strings.Contains(s, "carol") || strings.Contains(s, "?") || strings.Contains(s, "filter") {
		t.Errorf("error names the query: %s", s)
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %q does not keep the cause", err)
	}
}
