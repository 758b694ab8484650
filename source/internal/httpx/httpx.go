// Package httpx holds the HTTP helpers the source adapters share: the
// https-or-loopback rule for endpoints, the retry loop over retry.Policy
// (which holds Retry-After and the jittered backoff, shared with the
// Netskope target), and telling a transient transport failure from a
// final one.
package httpx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/provsync/provsync/source/retry"
)

// CheckURL allows https anywhere and http on loopback only, so that
// credentials never cross a network in the clear.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Host == "" {
		return errors.New("no host")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
			return nil
		}
		return errors.New("http is allowed on loopback only; use https")
	}
	return fmt.Errorf("scheme %q: want https", u.Scheme)
}

// Transient reports a transport failure worth retrying: a network error
// or a connection the server closed mid-response.
func Transient(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "EOF") || strings.Contains(s, "connection reset")
}

// Retrier is the retry loop the source adapters share: retry.Policy's,
// with a hook before every attempt, a wrapper for the final failure and a
// debug log per retry.
type Retrier struct {
	// Name prefixes the debug logs ("google", "onelogin").
	Name string
	// Policy is the retry count, backoff and budget.
	Policy retry.Policy
	// Log receives a debug entry per retry.
	Log *zap.Logger
}

// stopped carries the error of Do's before hook through the policy's loop.
type stopped struct{ err error }

func (s stopped) Error() string { return s.err.Error() }

// Do runs one request. before, if not nil, runs ahead of every attempt
// (a rate limiter's wait); its error ends Do as it is, and so does the
// context's. try makes the attempt and says whether its failure is worth
// another one, and how long the server asked to wait (0: back off). A
// failure that is final, or whose retries are spent, goes through final,
// which wraps it for the caller. what names the request in logs.
func (r Retrier) Do(ctx context.Context, what string, before func(context.Context) error,
	try func(context.Context) (retry bool, wait time.Duration, err error), final func(error) error) error {
	err := r.Policy.Do(ctx, func(ctx context.Context) (bool, time.Duration, error) {
		if before != nil {
			if err := before(ctx); err != nil {
				return false, 0, stopped{err}
			}
		}
		return try(ctx)
	}, func(n int, wait time.Duration, err error) {
		if r.Log != nil {
			r.Log.Debug(r.Name+": retrying", zap.String("request", what), zap.Int("attempt", n),
				zap.Duration("wait", wait), zap.Error(err))
		}
	})
	var s stopped
	switch {
	case err == nil:
		return nil
	case errors.As(err, &s):
		return s.err
	case ctx.Err() != nil && err == ctx.Err():
		return err
	}
	return final(err)
}
