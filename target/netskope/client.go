package netskope

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/provsync/provsync/source/retry"
	"github.com/provsync/provsync/target"
)

// Compile-time checks that Client is a complete target.
var (
	_ target.Target           = (*Client)(nil)
	_ target.Checker          = (*Client)(nil)
	_ target.Streamer         = (*Client)(nil)
	_ target.StatsReporter    = (*Client)(nil)
	_ target.WriteGuarded     = (*Client)(nil)
	_ zapcore.ObjectMarshaler = (*Client)(nil)
)

// Client is a Netskope SCIM 2.0 client. It is safe for concurrent use; all
// callers share its pacing and statistics. Create it with New.
type Client struct {
	base string // scheme://host[:port]/path, escaped, without a trailing slash
	host string // host[:port], for messages
	cred *credential
	// users and groups are base+pathUsers and base+pathGroups, made once:
	// every create is sent to one of them.
	users, groups string

	hc *http.Client
	// rt is hc's transport when hc adds nothing to it that this client
	// uses (no cookie jar, no timeout): requests go to it directly (see
	// roundTrip). Nil otherwise.
	rt http.RoundTripper
	// headers are the headers of the requests sent to rt, without and
	// with a body.
	headers   [2]http.Header
	log       *zap.Logger
	pace      *pacer       // nil when the limiter is disabled
	policy    retry.Policy // retries and backoff; the jitter is below
	pageSize  int
	chunkSize int
	timeout   time.Duration
	userAgent string

	// Clock, sleeper and jitter; tests in this package replace them to
	// observe waits without waiting.
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func(d time.Duration) time.Duration

	mu        sync.Mutex
	holdUntil time.Time // no request starts before this (rate budget spent)

	// scratch holds buffers (*[]byte) that the answers to creates are
	// read into and decoded from (see request.scratch): a create's answer
	// echoes the object, and only its id and meta are kept.
	scratch sync.Pool

	stats counters
}

// GuardsWrites marks the client as a target.WriteGuarded: it calls the
// context's write guard before each write request it sends, after any
// wait for its turn and before each retry and each chunk of members.
func (*Client) GuardsWrites() {}

// credential is the header that carries the token. It is kept behind a
// pointer so that formatting a Client value prints an address, not the
// token, and it formats itself as redacted.
type credential struct {
	header string // "Authorization" or "Netskope-Api-Token"
	value  string // "Bearer <token>" or "<token>"
	token  string
}

const redacted = "[REDACTED]"

// String hides the token.
func (c credential) String() string { return redacted }

// GoString hides the token.
func (c credential) GoString() string { return redacted }

// Format hides the token whatever the verb.
func (c credential) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// scheme names the way the token is sent, for String and logs.
func (c credential) scheme() string {
	if c.header == headerAPIToken {
		return headerAPIToken
	}
	return "Bearer"
}

// scrub replaces the token in s, should a server echo it back.
func (c credential) scrub(s string) string {
	return strings.ReplaceAll(s, c.token, redacted)
}

const headerAPIToken = "Netskope-Api-Token"

// TenantURL returns the SCIM base URL of a tenant:
// https://<tenant>[.<region>].goskope.com/api/v2/scim. Leave region empty
// for tenants without a region label.
func TenantURL(tenant, region string) string {
	host := strings.TrimSpace(tenant)
	if r := strings.TrimSpace(region); r != "" {
		host += "." + r
	}
	return "https://" + host + ".goskope.com/api/v2/scim"
}

// New returns a client for the SCIM API at baseURL (see TenantURL), sending
// token with every request. baseURL must use https unless its host is a
// loopback address (127.0.0.0/8, ::1, localhost). Options are checked here,
// and New reports every bad one.
func New(baseURL, token string, opts ...Option) (*Client, error) {
	u, err := parseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	switch {
	case token == "":
		return nil, errors.New("netskope: empty token; create one under Settings > Tools > REST API v2 " +
			"with the endpoints api/v2/scim/Users and api/v2/scim/Groups (Read+Write)")
	case strings.TrimSpace(token) != token:
		return nil, errors.New("netskope: the token has leading or trailing white space; copy it again without it")
	case hasControl(token):
		return nil, errors.New("netskope: the token holds control characters (a line break?); copy it again")
	}
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	if err := o.validate(); err != nil {
		return nil, err
	}

	hc := *o.httpClient
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	cred := &credential{header: "Authorization", value: "Bearer " + token, token: token}
	if o.apiTokenHeader {
		cred = &credential{header: headerAPIToken, value: token, token: token}
	}
	c := &Client{
		base:      u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"),
		host:      u.Host,
		cred:      cred,
		hc:        &hc,
		log:       o.logger,
		policy:    retry.Policy{MaxRetries: o.maxRetries, Backoff: o.backoffBase, MaxBackoff: o.backoffMax},
		pageSize:  o.pageSize,
		chunkSize: o.chunkSize,
		timeout:   o.requestTimeout,
		userAgent: o.userAgent,
		now:       time.Now,
		sleep:     retry.Sleep,
		jitter:    retry.FullJitter,
	}
	c.users, c.groups = c.base+pathUsers, c.base+pathGroups
	if hc.Jar == nil && hc.Timeout == 0 {
		c.rt = cmp.Or[http.RoundTripper](hc.Transport, http.DefaultTransport)
		c.headers = [2]http.Header{c.header(false), c.header(true)}
	}
	if o.rps > 0 {
		c.pace = newPacer(o.rps, o.burst, o.adaptive, o.maxRate)
	}
	return c, nil
}

// parseBaseURL checks a base URL. Its messages show the scheme and host
// only: the path of the retired add-on form holds a per-client secret.
func parseBaseURL(raw string) (*url.URL, error) {
	const want = "https://<tenant>[.<region>].goskope.com/api/v2/scim"
	if strings.TrimSpace(raw) == "" {
		return nil, errors.New("netskope: empty base URL; want " + want)
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("netskope: the base URL does not parse (%v); want %s", err, want)
	}
	switch {
	case u.User != nil:
		return nil, errors.New("netskope: the base URL must not carry credentials; pass the token to New")
	case u.Host == "" || u.Opaque != "":
		return nil, fmt.Errorf("netskope: the base URL has no host; want %s", want)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("netskope: the base URL of %s must not have a query or fragment", u.Host)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("netskope: refusing plain http to %s: the token would travel unencrypted; "+
				"use https (http is allowed for loopback hosts only)", u.Host)
		}
	default:
		return nil, fmt.Errorf("netskope: base URL scheme %q: want https", u.Scheme)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	return u, nil
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// String describes the client without its token.
func (c *Client) String() string {
	if c == nil {
		return "netskope.Client(nil)"
	}
	return fmt.Sprintf("netskope.Client{host: %s, auth: %s}", c.host, c.cred.scheme())
}

// GoString describes the client without its token, for %#v.
func (c *Client) GoString() string {
	if c == nil {
		return "(*netskope.Client)(nil)"
	}
	return fmt.Sprintf("&netskope.Client{host: %q, auth: %q}", c.host, c.cred.scheme())
}

// MarshalLogObject logs the client's host and auth scheme, never the token.
func (c *Client) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("host", c.host)
	enc.AddString("auth", c.cred.scheme())
	return nil
}
