package google

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/time/rate"
	"google.golang.org/api/googleapi"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/internal/httpx"
	"github.com/provsync/provsync/source/retry"
)

// caller runs Directory API calls with the rate limit and retries the
// generated client lacks: it retries none of 403 rateLimitExceeded,
// userRateLimitExceeded, quotaExceeded, 429 and 503.
type caller struct {
	limiter  *rate.Limiter
	retry    httpx.Retrier
	requests atomic.Int64 // attempts sent, retries included
}

func newCaller(c *Config) *caller {
	lim := rate.NewLimiter(rate.Inf, 0)
	if c.RequestsPerMinute > 0 {
		lim = rate.NewLimiter(rate.Limit(float64(c.RequestsPerMinute)/60), max(1, c.Concurrency))
	}
	return &caller{limiter: lim, retry: httpx.Retrier{Name: "google",
		Policy: retry.Policy{MaxRetries: c.MaxRetries, Backoff: c.Backoff}, Log: c.Logger}}
}

// do runs fn, one request, retrying what is retryable. what names the
// request for errors and logs ("users.list page 3"); it carries no
// personal data.
func (c *caller) do(ctx context.Context, what string, fn func(context.Context) error) error {
	return c.retry.Do(ctx, what, c.limiter.Wait, func(ctx context.Context) (bool, time.Duration, error) {
		c.requests.Add(1)
		err := fn(ctx)
		if err == nil {
			return false, 0, nil
		}
		wait, retry := retryable(err)
		return retry, wait, err
	}, func(err error) error { return classify(what, err) })
}

// rateReasons are the 403 reasons that mean "slow down", not "forbidden".
var rateReasons = map[string]bool{"rateLimitExceeded": true, "userRateLimitExceeded": true, "quotaExceeded": true}

// retryable says whether err is worth another try, and how long the
// server asked to wait (0: back off).
func retryable(err error) (time.Duration, bool) {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		switch ge.Code {
		case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			wait, _ := retry.ServerWait(ge.Code, ge.Header, time.Now())
			return wait, true
		case http.StatusForbidden:
			if rateLimited(ge) {
				wait, _ := retry.ServerWait(ge.Code, ge.Header, time.Now())
				return wait, true
			}
		}
		return 0, false
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return 0, re.Response != nil && re.Response.StatusCode >= 500
	}
	return 0, httpx.Transient(err)
}

// classify wraps a final failure with source.ErrUnavailable and, for the
// failures administrators cause, says what to check. The Google error
// stays reachable with errors.As.
func classify(what string, err error) error {
	var ge *googleapi.Error
	var re *oauth2.RetrieveError
	hint := ""
	switch {
	case errors.As(err, &re):
		hint = "; the token request was refused: check that the service account's client id is granted the Directory scopes under domain-wide delegation and that AdminEmail is an administrator of the account"
	case errors.As(err, &ge) && ge.Code == http.StatusForbidden && !rateLimited(ge):
		hint = "; the Directory API refused: check that AdminEmail is an administrator allowed to read users and groups and that the scopes are granted"
	case errors.As(err, &ge) && ge.Code == http.StatusNotFound && strings.Contains(ge.Message, "Domain"):
		hint = "; check Domain, or that AdminEmail belongs to the account"
	case errors.As(err, &ge) && ge.Code == http.StatusUnauthorized:
		hint = "; the credentials were rejected"
	}
	return fmt.Errorf("%w: google: %s: %w%s", source.ErrUnavailable, what, err, hint)
}

func rateLimited(ge *googleapi.Error) bool {
	for _, e := range ge.Errors {
		if rateReasons[e.Reason] {
			return true
		}
	}
	return false
}
