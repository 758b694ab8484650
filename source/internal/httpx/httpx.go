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
