package target_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/target"
)

func TestErrorMatchesSentinels(t *testing.T) {
	tests := []struct {
		status    int
		want      []error
		notWant   []error
		retryable bool
	}{
		{http.StatusNotFound, []error{target.ErrNotFound}, []error{target.ErrConflict}, false},
		{http.StatusConflict, []error{target.ErrConflict}, []error{target.ErrNotFound}, false},
		{http.StatusTooManyRequests, []error{target.ErrRateLimited}, nil, true},
		{http.StatusUnauthorized, []error{target.ErrUnauthorized}, []error{target.ErrForbidden}, false},
		{http.StatusForbidden, []error{target.ErrForbidden, target.ErrUnauthorized}, nil, false},
		{http.StatusBadRequest, []error{target.ErrInvalid}, nil, false},
		{http.StatusBadGateway, []error{target.ErrUnavailable}, nil, true},
		{http.StatusOK, nil, []error{target.ErrInvalid, target.ErrUnavailable}, false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			err := error(&target.Error{Op: "create user", Object: "userName=a", Status: tt.status,
				SCIM: scim.NewError(tt.status, "", "detail text")})
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("errors.Is(%v, %v) = false", err, w)
				}
			}
			for _, w := range tt.notWant {
				if errors.Is(err, w) {
					t.Errorf("errors.Is(%v, %v) = true", err, w)
				}
			}
			if got := target.IsRetryable(err); got != tt.retryable {
				t.Errorf("IsRetryable = %v, want %v", got, tt.retryable)
			}
			var te *target.Error
			if !errors.As(err, &te) || te.SCIM.Detail != "detail text" {
				t.Errorf("detail not reachable through errors.As: %v", err)
			}
			if !strings.Contains(err.Error(), "create user userName=a") {
				t.Errorf("message %q does not name the operation and object", err)
			}
		})
	}
}

func TestErrorKeepsCause(t *testing.T) {
	cause := errors.New("dial tcp: refused")
	err := &target.Error{Op: "list users", Err: errors.Join(cause, target.ErrUnavailable), Attempts: 3}
	if !errors.Is(err, cause) || !target.IsRetryable(err) {
		t.Fatalf("cause or retryability lost: %v", err)
	}
	if !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("message %q does not count attempts", err)
	}
}
