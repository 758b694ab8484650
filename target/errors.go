package target

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/provsync/provsync/scim"
)

// Sentinel errors. Every Target maps its failures onto these, so callers
// can decide with errors.Is without knowing the provider.
var (
	// ErrNotFound: the object does not exist (404).
	ErrNotFound = errors.New("target: not found")
	// ErrConflict: the object collides with an existing one (409).
	ErrConflict = errors.New("target: conflict")
	// ErrRateLimited: the target refused the request for now (429).
	ErrRateLimited = errors.New("target: rate limited")
	// ErrUnauthorized: the credentials were refused (401), or lack the
	// right to the operation (403, which also matches ErrForbidden).
	ErrUnauthorized = errors.New("target: unauthorized")
	// ErrForbidden: authenticated but not allowed (403): a missing token
	// scope or a source address outside the tenant's allowlist.
	ErrForbidden = errors.New("target: forbidden")
	// ErrInvalid: the target rejected the request as malformed (400, 422).
	ErrInvalid = errors.New("target: invalid request")
	// ErrUnavailable: the target failed or could not be reached (5xx,
	// timeouts, connection errors). Retryable.
	ErrUnavailable = errors.New("target: unavailable")
	// ErrProtocol: the target answered with something that is not SCIM.
	ErrProtocol = errors.New("target: protocol error")
	// ErrIncomplete: a listing's pages contradict each other (totalResults
	// changed, a page came back short or empty before totalResults, ids
	// repeated), so the objects read may not be all the target holds.
	// Nothing may be concluded from what is missing from such a listing.
	ErrIncomplete = errors.New("target: incomplete listing")
)

// Error is a failed call to a target. It names the operation and the object
// and keeps the provider's SCIM error body; it matches the sentinel of its
// status with errors.Is.
type Error struct {
	// Op is the operation, such as "create user".
	Op string
	// Object names the object: "id=...", "userName=...", or "" for lists.
	Object string
	// Method and Path are the HTTP request's, the path without the query.
	Method string
	Path   string
	// Status is the HTTP status code, 0 if no response came back.
	Status int
	// SCIM is the decoded error body, nil if none.
	SCIM *scim.Error
	// RetryAfter is the wait the server asked for, 0 if it said none.
	RetryAfter time.Duration
	// Attempts is how many times the request was sent.
	Attempts int
	// Err is the underlying cause (a transport error, or a sentinel).
	Err error
}

// Error describes the failure in one line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Object != "" {
		b.WriteString(" ")
		b.WriteString(e.Object)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, ": %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.SCIM != nil {
		if e.SCIM.ScimType != "" {
			b.WriteString(" (")
			b.WriteString(e.SCIM.ScimType)
			b.WriteString(")")
		}
		if t := e.SCIM.Text(); t != "" {
			b.WriteString(": ")
			b.WriteString(t)
		}
	}
	if e.Err != nil && e.Status == 0 {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	if hint := e.hint(); hint != "" {
		b.WriteString("; ")
		b.WriteString(hint)
	}
	return b.String()
}

func (e *Error) hint() string {
	switch {
	case e.Status == http.StatusUnauthorized:
		return "check that the token is right and has not expired"
	case e.Status == http.StatusForbidden:
		return "check the token's scopes (Users and Groups, Read+Write) and the tenant's IP allowlist"
	}
	return ""
}

// Unwrap returns the cause and the sentinel that matches the status.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	errs = append(errs, StatusSentinels(e.Status)...)
	return errs
}

// StatusSentinels returns the sentinels an HTTP status code matches.
func StatusSentinels(status int) []error {
	switch {
	case status == http.StatusNotFound:
		return []error{ErrNotFound}
	case status == http.StatusConflict:
		return []error{ErrConflict}
	case status == http.StatusTooManyRequests:
		return []error{ErrRateLimited}
	case status == http.StatusUnauthorized:
		return []error{ErrUnauthorized}
	case status == http.StatusForbidden:
		return []error{ErrForbidden, ErrUnauthorized}
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		return []error{ErrInvalid}
	case status >= 500:
		return []error{ErrUnavailable}
	}
	return nil
}

// IsRetryable reports whether err is worth trying again later: rate limits
// and unavailability. Conflicts, bad input and refused credentials are not.
func IsRetryable(err error) bool {
	return errors.Is(err, ErrRateLimited) || errors.Is(err, ErrUnavailable)
}
