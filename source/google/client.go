package google

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"
	"golang.org/x/time/rate"
	"google.golang.org/api/googleapi"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/internal/httpx"
)

// maxBackoff caps one retry's wait.
const maxBackoff = time.Minute

// caller runs Directory API calls with the rate limit and retries the
// generated client lacks: it retries none of 403 rateLimitExceeded,
// userRateLimitExceeded, quotaExceeded, 429 and 503.
type caller struct {
	limiter *rate.Limiter
	retries int
	backoff time.Duration
	log     *zap.Logger
}

func newCaller(c *Config) *caller {
	lim := rate.NewLimiter(rate.Inf, 0)
	if c.RequestsPerMinute > 0 {
		lim = rate.NewLimiter(rate.Limit(float64(c.RequestsPerMinute)/60), max(1, c.Concurrency))
	}
	return &caller{limiter: lim, retries: c.MaxRetries, backoff: c.Backoff, log: c.Logger}
}

// do runs fn, one request, retrying what is retryable. what names the
// request for errors and logs ("users.list page 3"); it carries no
// personal data.
func (c *caller) do(ctx context.Context, what string, fn func(context.Context) error) error {
	for attempt := 0; ; attempt++ {
		if err := c.limiter.Wait(ctx); err != nil {
			return err
		}
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait, retry := retryable(err)
		if !retry || attempt >= c.retries {
			return classify(what, err)
		}
		if wait <= 0 {
			wait = httpx.Backoff(attempt, c.backoff, maxBackoff)
		}
		c.log.Debug("google: retrying", zap.String("request", what), zap.Int("attempt", attempt+1),
			zap.Duration("wait", wait), zap.String("reason", reasonOf(err)))
		if err := httpx.Sleep(ctx, wait); err != nil {
			return err
		}
	}
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
			return httpx.RetryAfter(ge.Header, maxBackoff), true
		case http.StatusForbidden:
			for _, e := range ge.Errors {
				if rateReasons[e.Reason] {
					return httpx.RetryAfter(ge.Header, maxBackoff), true
				}
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

func reasonOf(err error) string {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		for _, e := range ge.Errors {
			if e.Reason != "" {
				return strconv.Itoa(ge.Code) + " " + e.Reason
			}
		}
		return strconv.Itoa(ge.Code)
	}
	return "transport"
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
