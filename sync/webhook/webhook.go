// Package webhook is a sync.Notifier that posts each notification as JSON
// to a URL: a chat channel's incoming webhook, an alerting service, or a
// service of one's own.
//
// The URL must be https, except on a loopback address. A notification
// carries names, counts and error messages, never a credential; the URL
// (whose path often is the webhook's secret) and the header values given
// with WithHeader appear in no error. Failed posts are retried on network
// errors, 429 and 5xx answers, with the Retry-After the receiver asks
// for or exponential backoff; redirects are refused.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/provsync/provsync/source/retry"
	"github.com/provsync/provsync/sync"
)

// ErrRejected matches a post the receiver answered with a status other
// than 2xx, after any retries.
var ErrRejected = errors.New("rejected")

// Headers the notifier sets.
const (
	// HeaderSignature carries "sha256=" and the hex HMAC-SHA256 of the
	// body under the signing secret (WithSigningSecret).
	HeaderSignature = "X-Provsync-Signature"
	// HeaderDelivery identifies a notification; its retries carry the
	// same value, so a receiver can drop repeats.
	HeaderDelivery = "X-Provsync-Delivery"
)

// Notifier posts notifications to one URL. It is safe for concurrent use.
type Notifier struct {
	url     string
	where   string // scheme and host, for errors
	client  *http.Client
	headers http.Header
	secret  []byte
	policy  retry.Policy
	now     func() time.Time
}

var _ sync.Notifier = (*Notifier)(nil)

// Option sets an optional setting of a Notifier.
type Option func(*Notifier)

// WithHTTPClient sets the HTTP client. Default: a client with a 30-second
// timeout. Redirects are refused whatever the client's own policy.
func WithHTTPClient(c *http.Client) Option { return func(n *Notifier) { n.client = c } }

// WithHeader adds a header to every post, e.g. Authorization. Its value
// is never logged or put in an error.
func WithHeader(name, value string) Option {
	return func(n *Notifier) { n.headers.Add(name, value) }
}

// WithSigningSecret signs each body with HMAC-SHA256 under secret, in
// HeaderSignature; the secret itself is never sent.
func WithSigningSecret(secret []byte) Option {
	return func(n *Notifier) { n.secret = bytes.Clone(secret) }
}

// WithRetries sets how many times a failed post is retried. Default 3;
// 0 turns retries off.
func WithRetries(retries int) Option {
	return func(n *Notifier) {
		n.policy.MaxRetries = retries
		if retries == 0 {
			n.policy.MaxRetries = retry.None
		}
	}
}

// New returns a Notifier posting to rawURL, which must be https, or http
// on a loopback address (localhost, 127.0.0.0/8, ::1), and must not carry
// a user name or password (use WithHeader).
func New(rawURL string, opts ...Option) (*Notifier, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse's error quotes the URL, which may hold a secret.
		return nil, errors.New("webhook: the URL does not parse")
	}
	where := u.Scheme + "://" + u.Host
	switch {
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("webhook: the URL %s has no host", where)
	case u.User != nil:
		return nil, fmt.Errorf("webhook: the URL %s carries a user name or password; send credentials with WithHeader", where)
	case u.Scheme == "https":
	case u.Scheme == "http" && loopback(u.Hostname()):
	case u.Scheme == "http":
		return nil, fmt.Errorf("webhook: the URL %s is http; https is required off loopback addresses", where)
	default:
		return nil, fmt.Errorf("webhook: the URL %s: scheme %q is not https", where, u.Scheme)
	}
	n := &Notifier{url: u.String(), where: where, headers: http.Header{},
		client: &http.Client{Timeout: 30 * time.Second}, policy: retry.Policy{MaxRetries: 3}, now: time.Now}
	for _, o := range opts {
		o(n)
	}
	if n.client == nil {
		return nil, errors.New("webhook: the HTTP client must not be nil")
	}
	if n.policy.MaxRetries < 0 && n.policy.MaxRetries != retry.None {
		return nil, fmt.Errorf("webhook: retries %d: want 0 or more", n.policy.MaxRetries)
	}
	c := *n.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return errRedirect }
	n.client = &c
	return n, nil
}

var errRedirect = errors.New("the receiver redirected; redirects are refused")

// loopback reports whether host is localhost or a loopback address.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Notify posts n as JSON, retrying what may pass on a retry.
func (w *Notifier) Notify(ctx context.Context, n sync.Notification) error {
	body, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("webhook: encode %s notification: %w", n.Kind, err)
	}
	sum := sha256.Sum256(body)
	delivery := hex.EncodeToString(sum[:12])
	var signature string
	if len(w.secret) > 0 {
		m := hmac.New(sha256.New, w.secret)
		m.Write(body)
		signature = "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	attempts := 0
	err = w.policy.Do(ctx, func(ctx context.Context) (bool, time.Duration, error) {
		attempts++
		return w.post(ctx, body, delivery, signature)
	}, nil)
	if err != nil {
		return fmt.Errorf("webhook: post %s notification to %s (%d attempts): %w", n.Kind, w.where, attempts, err)
	}
	return nil
}

// post sends one attempt; it says whether a retry may help and how long
// the receiver asked to wait.
func (w *Notifier) post(ctx context.Context, body []byte, delivery, signature string) (bool, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return false, 0, errors.New("cannot make the request")
	}
	for k, vs := range w.headers {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "provsync-webhook")
	req.Header.Set(HeaderDelivery, delivery)
	if signature != "" {
		req.Header.Set(HeaderSignature, signature)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		// A *url.Error quotes the whole URL; keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, errRedirect) {
			return false, 0, err
		}
		return ctx.Err() == nil, 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, 0, nil
	}
	err = fmt.Errorf("%w: %d %s", ErrRejected, resp.StatusCode, http.StatusText(resp.StatusCode))
	again := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout
	wait, _ := retry.ServerWait(resp.StatusCode, resp.Header, w.now())
	return again, wait, err
}
