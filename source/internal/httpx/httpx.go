// Package httpx holds the HTTP helpers the source adapters share: the
// https-or-loopback rule for endpoints, Retry-After, jittered backoff, and
// telling a transient transport failure from a final one.
package httpx

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
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

// RetryAfter reads a Retry-After header, in seconds or as a date, capped
// at limit; 0 if there is none.
func RetryAfter(h http.Header, limit time.Duration) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return min(time.Duration(s)*time.Second, limit)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), limit)
	}
	return 0
}

// Backoff is the wait before retry attempt (0-based): exponential from
// base, capped at limit, with full jitter.
func Backoff(attempt int, base, limit time.Duration) time.Duration {
	ceiling := limit
	if attempt < 32 {
		ceiling = min(limit, base<<attempt)
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// Sleep waits d or until ctx is done.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
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

// MaxWait caps one retry's wait, whether a server asked for it or the
// backoff chose it.
const MaxWait = time.Minute

// Retrier is the retry loop the source adapters share: up to Max retries
// after the first try, each after the wait the server asked for or a
// jittered exponential backoff from Base.
type Retrier struct {
	// Name prefixes the debug logs ("google", "onelogin").
	Name string
	// Max is the number of retries; Base the first backoff.
	Max  int
	Base time.Duration
	// Log receives a debug entry per retry.
	Log *zap.Logger
}

// Do runs one request. before, if not nil, runs ahead of every attempt
// (a rate limiter's wait); its error ends Do as it is, and so does the
// context's. try makes the attempt and says whether its failure is worth
// another one, and how long the server asked to wait (0: back off). A
// failure that is final, or whose retries are spent, goes through final,
// which wraps it for the caller. what names the request in logs.
func (r Retrier) Do(ctx context.Context, what string, before func(context.Context) error,
	try func(context.Context) (retry bool, wait time.Duration, err error), final func(error) error) error {
	for attempt := 0; ; attempt++ {
		if before != nil {
			if err := before(ctx); err != nil {
				return err
			}
		}
		retry, wait, err := try(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !retry || attempt >= r.Max {
			return final(err)
		}
		if wait <= 0 {
			wait = Backoff(attempt, r.Base, MaxWait)
		}
		if r.Log != nil {
			r.Log.Debug(r.Name+": retrying", zap.String("request", what), zap.Int("attempt", attempt+1),
				zap.Duration("wait", wait), zap.Error(err))
		}
		if err := Sleep(ctx, wait); err != nil {
			return err
		}
	}
}
