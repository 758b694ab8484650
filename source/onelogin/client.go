package onelogin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	gosync "sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/time/rate"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/internal/httpx"
	"github.com/provsync/provsync/source/retry"
)

// client is a small OneLogin API client: client credentials tokens, rate
// limit pacing, retries and cursor paging.
type client struct {
	base   string
	hc     *http.Client
	retry  httpx.Retrier
	log    *zap.Logger
	steady rate.Limit    // Config.RateLimit, or rate.Inf
	lim    *rate.Limiter // steady, slowed down near the account's limit
	// now and wait are the clock the pacing reads and waits on: the real
	// one, which tests replace.
	now  func() time.Time
	wait func(ctx context.Context, until time.Time) error

	mu        gosync.Mutex
	limit     int       // X-RateLimit-Limit last seen
	remaining int       // X-RateLimit-Remaining, less requests sent since; -1 unknown
	reset     time.Time // when the window resets
	requests  int
}

func newClient(c *Config) *client {
	base := http.DefaultTransport
	if c.HTTPClient != nil && c.HTTPClient.Transport != nil {
		base = c.HTTPClient.Transport
	}
	timeout := 60 * time.Second
	if c.HTTPClient != nil && c.HTTPClient.Timeout > 0 {
		timeout = c.HTTPClient.Timeout
	}
	cc := &clientcredentials.Config{
		ClientID: c.ClientID, ClientSecret: string(c.ClientSecret),
		TokenURL: c.BaseURL + "/auth/oauth2/v2/token", AuthStyle: c.AuthStyle,
	}
	// The token source lives as long as the source: its requests use a
	// context that carries only the HTTP client.
	tctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: base, Timeout: timeout})
	hc := &http.Client{Transport: &oauth2.Transport{Source: cc.TokenSource(tctx), Base: base}, Timeout: timeout}
	steady := rate.Inf
	if c.RateLimit > 0 {
		steady = rate.Limit(c.RateLimit)
	}
	cl := &client{base: c.BaseURL, hc: hc, log: c.Logger, remaining: -1,
		steady: steady, lim: rate.NewLimiter(steady, 1), now: time.Now, wait: waitUntil}
	// Retries wait on the client's clock too.
	cl.retry = httpx.Retrier{Name: "onelogin", Log: c.Logger,
		Policy: retry.Policy{MaxRetries: c.MaxRetries, Backoff: c.Backoff, Sleep: cl.sleep}}
	return cl
}

// waitUntil waits until t on the real clock, or until ctx is done.
func waitUntil(ctx context.Context, t time.Time) error { return retry.Sleep(ctx, time.Until(t)) }

// sleep waits d on the client's clock.
func (c *client) sleep(ctx context.Context, d time.Duration) error {
	return c.wait(ctx, c.now().Add(d))
}

// get fetches path with query and returns the body and headers, retrying
// 429s, 5xxs and broken connections. what names the request in errors
// and logs; it carries no personal data.
func (c *client) get(ctx context.Context, what, path string, query url.Values) ([]byte, http.Header, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body []byte
	var header http.Header
	pace := func(ctx context.Context) error {
		if err := c.pace(ctx); err != nil {
			return fmt.Errorf("onelogin: %s: waiting for the rate limit: %w", what, err)
		}
		return nil
	}
	err := c.retry.Do(ctx, what, pace, func(ctx context.Context) (bool, time.Duration, error) {
		b, h, status, err := c.once(ctx, u)
		switch {
		case err != nil:
			return retryableErr(err), 0, err
		case status == http.StatusOK:
			body, header = b, h
			return false, 0, nil
		case status == http.StatusTooManyRequests || status >= 500:
			wait, _ := retry.ServerWait(status, h, c.now())
			return true, wait, apiError(status, b)
		}
		return false, 0, apiError(status, b)
	}, func(err error) error { return classify(what, err) })
	if err != nil {
		return nil, nil, err
	}
	return body, header, nil
}

func (c *client) once(ctx context.Context, u string) ([]byte, http.Header, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	c.mu.Lock()
	c.requests++
	c.mu.Unlock()
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, 0, err
	}
	c.observe(resp.Header)
	if d, ok := ctx.Value(datesKey{}).(*dates); ok {
		d.see(resp.Header)
	}
	return body, resp.Header, resp.StatusCode, nil
}

// dates tracks the earliest server Date header of one read, so that an
// incremental read's position is on OneLogin's clock, not the caller's.
type dates struct {
	mu    gosync.Mutex
	first time.Time
}

type datesKey struct{}

func (d *dates) see(h http.Header) {
	t, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.first.IsZero() || t.Before(d.first) {
		d.first = t
	}
}

// earliest returns the earliest Date seen, or fallback if none was.
func (d *dates) earliest(fallback time.Time) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.first.IsZero() {
		return fallback
	}
	return d.first.UTC()
}

// observe records the rate limit headers and sets the pace: the steady
// rate while more than a tenth of the window is left, then the requests
// left spread evenly over the time to the reset.
func (c *client) observe(h http.Header) {
	rem, err1 := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
	reset, err2 := strconv.Atoi(h.Get("X-RateLimit-Reset"))
	if err1 != nil || err2 != nil || rem < 0 || reset < 0 {
		return
	}
	lim, _ := strconv.Atoi(h.Get("X-RateLimit-Limit"))
	now := c.now()
	at := now.Add(time.Duration(reset) * time.Second)
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := at.Sub(c.reset); c.remaining >= 0 && c.remaining < rem && d > -2*time.Second && d < 2*time.Second {
		// The same window: requests sent since this response was made
		// have spent some of it already.
		rem = c.remaining
	}
	c.limit, c.remaining, c.reset = lim, rem, at
	pace := c.steady
	if left := at.Sub(now); lim > 0 && rem > 0 && rem*10 < lim && left > 0 {
		pace = min(pace, rate.Limit(float64(rem)/left.Seconds()))
	}
	c.lim.SetLimitAt(now, pace)
}

// pace keeps under the rate limit before it is hit: with the window spent
// it waits for the reset; otherwise it counts the request against the
// window and waits its turn at the current pace.
func (c *client) pace(ctx context.Context) error {
	for {
		c.mu.Lock()
		now, reset := c.now(), c.reset
		switch {
		case c.remaining < 0:
		case !now.Before(reset): // a new window: its budget is unknown until a response says
			c.remaining = -1
			c.lim.SetLimitAt(now, c.steady)
		case c.remaining > 0:
			c.remaining--
		default:
			c.mu.Unlock()
			c.log.Debug("onelogin: rate limit spent, waiting for the reset", zap.Duration("wait", reset.Sub(now)))
			if err := c.wait(ctx, reset); err != nil {
				return err
			}
			continue
		}
		c.mu.Unlock()
		// The limiter's turn, on the same clock.
		r := c.lim.ReserveN(now, 1)
		if !r.OK() {
			return errors.New("the request rate allows no request")
		}
		d := r.DelayFrom(now)
		if d <= 0 {
			return nil
		}
		if err := c.wait(ctx, now.Add(d)); err != nil {
			r.CancelAt(c.now())
			return err
		}
		return nil
	}
}

// Requests returns how many API requests the client has sent (token
// requests excluded).
func (c *client) Requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests
}

// retryableErr reports transport failures and token endpoint 5xxs.
func retryableErr(err error) bool {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.Response != nil && re.Response.StatusCode >= 500
	}
	return httpx.Transient(err)
}

// APIError is an error response of the OneLogin API.
type APIError struct {
	// Status is the HTTP status.
	Status int
	// Message is OneLogin's message.
	Message string
}

// Error reads "HTTP 400: message".
func (e *APIError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message) }

// apiError decodes OneLogin's error bodies: v2's {"message"} and v1's
// {"status": {"message"}}.
func apiError(status int, body []byte) error {
	var v struct {
		Message string `json:"message"`
		Status  struct {
			Message string `json:"message"`
		} `json:"status"`
	}
	_ = json.Unmarshal(body, &v)
	msg := v.Message
	if msg == "" {
		msg = v.Status.Message
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &APIError{Status: status, Message: msg}
}

// classify wraps a final failure with source.ErrUnavailable and says what
// to check for the failures an administrator causes.
func classify(what string, err error) error {
	var ae *APIError
	var re *oauth2.RetrieveError
	hint := ""
	switch {
	case errors.As(err, &re):
		hint = "; the token request was refused: check the API credential pair (client id and secret) and that its owner still exists"
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
		hint = "; the API credentials were rejected"
	case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
		hint = "; listing app users needs an API credential with Read All or Manage All"
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		hint = "; check AppID and BaseURL"
	}
	return fmt.Errorf("%w: onelogin: %s: %w%s", source.ErrUnavailable, what, err, hint)
}

// pages reads a v2 listing to its end: the first request with limit, the
// next ones with the After-Cursor header sent back as cursor (never with
// limit, which OneLogin refuses). A failure after the first page also
// wraps source.ErrIncomplete.
func pages[T any](ctx context.Context, c *client, what, path string, query url.Values, limit int) ([]T, error) {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("limit", strconv.Itoa(limit))
	var out []T
	prev := ""
	for page := 1; ; page++ {
		body, h, err := c.get(ctx, fmt.Sprintf("%s page %d", what, page), path, q)
		if err != nil {
			if page > 1 {
				return nil, fmt.Errorf("%w after %d pages: %w", source.ErrIncomplete, page-1, err)
			}
			return nil, err
		}
		var items []T
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, fmt.Errorf("%w: onelogin: %s page %d: decoding: %v", source.ErrUnavailable, what, page, err)
		}
		out = append(out, items...)
		next := h.Get("After-Cursor")
		if next == "" || len(items) == 0 {
			// OneLogin does not document the paging headers on every
			// listing: a last page short of Total-Count is not the end.
			if total, err := strconv.Atoi(h.Get("Total-Count")); err == nil && len(out) < total {
				return nil, fmt.Errorf("%w: onelogin: %s: %d of %d items, and no After-Cursor for the rest",
					source.ErrIncomplete, what, len(out), total)
			}
			return out, nil
		}
		if next == prev {
			return nil, fmt.Errorf("%w: onelogin: %s: page %d repeats its cursor", source.ErrIncomplete, what, page)
		}
		prev = next
		q.Del("limit")
		q.Set("cursor", next)
	}
}
