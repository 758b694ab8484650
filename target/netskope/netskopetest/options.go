package netskopetest

import (
	"time"

	"go.uber.org/zap"
)

// DefaultMaxPageSize is the largest page the server returns unless
// WithMaxPageSize says otherwise.
const DefaultMaxPageSize = 1000

// ErrorStyle selects the body of the server's SCIM error responses.
type ErrorStyle int

const (
	// ErrorStyleSCIM answers errors with an RFC 7644 body:
	// {"schemas":[...Error],"status":"409","scimType":"uniqueness","detail":"..."}.
	ErrorStyleSCIM ErrorStyle = iota
	// ErrorStyleMessage answers errors the way Netskope's API gateway does:
	// {"message":"..."}, with no scimType.
	ErrorStyleMessage
)

// String names the style.
func (s ErrorStyle) String() string {
	switch s {
	case ErrorStyleSCIM:
		return "scim"
	case ErrorStyleMessage:
		return "message"
	}
	return "unknown"
}

// Faults describes injected failures. Every request first waits Latency
// (cut short if the server closes). Then a request that has a route, is
// authenticated and is within the rate limit is answered 429 (with
// Retry-After 0 or 1 and the gateway's body) with probability Rate429, or
// 500 with probability Rate500, before it reaches the store, so an
// injected fault never changes state. Rates are clamped to [0, 1]. A
// non-zero Seed makes the sequence of faults repeatable for a given order
// of requests; zero picks a random seed.
type Faults struct {
	// Rate429 is the fraction of requests answered 429 Too Many Requests.
	Rate429 float64
	// Rate500 is the fraction of requests answered 500 Internal Server Error.
	Rate500 float64
	// Latency is added before every request is handled.
	Latency time.Duration
	// Seed seeds the fault generator; 0 means random.
	Seed int64
	// MaxRetryAfter is the largest Retry-After, in seconds, an injected
	// 429 carries; each draws from 0 to MaxRetryAfter. Default 0, so a
	// test with faults does not sleep.
	MaxRetryAfter int
	// FailCreates are userNames and group displayNames whose create
	// (POST) is answered 500 Internal Server Error every time, after
	// authentication and before anything is stored: a change that keeps
	// failing while the others land.
	FailCreates []string
}

// Option configures a Server.
type Option func(*config)

type config struct {
	token string
	rps   float64
	burst int
	// noRateHeaders leaves the rate-limit headers and Retry-After out.
	noRateHeaders bool
	faults        Faults
	maxPage       int
	errorStyle    ErrorStyle
	log           *zap.Logger
	// noListMembers leaves members out of list responses even when asked.
	noListMembers bool
	// noEmptyMembers leaves members out of groups that have none.
	noEmptyMembers bool
	// oneGroupOp refuses group PATCH requests of several operations.
	oneGroupOp bool
	lie        ListLie
	quirks     FilterQuirks
}

// WithoutListMembers makes group lists leave members out even when the
// query asks for them, so only single group reads return members: the
// stricter reading of Netskope's spec, which documents the attributes
// parameter for GET /Groups/{id} only.
func WithoutListMembers() Option {
	return func(c *config) { c.noListMembers = true }
}

// WithToken sets the API token the server accepts. The default is a random
// token; read it with Server.Token.
func WithToken(token string) Option {
	return func(c *config) { c.token = token }
}

// WithRateLimit limits the server to rps requests per second with bursts of
// up to burst requests (a token bucket shared by all clients). Requests over
// the limit are answered 429. rps <= 0 means no limit (the default); burst
// < 1 means the whole number of requests in one second, at least 1.
func WithRateLimit(rps float64, burst int) Option {
	return func(c *config) { c.rps, c.burst = rps, burst }
}

// WithoutRateHeaders makes the rate limit of WithRateLimit silent: no
// response carries RateLimit-Limit, RateLimit-Remaining or RateLimit-Reset,
// and a 429 over the limit carries no Retry-After, so a client can only
// learn the limit from the 429s themselves.
func WithoutRateHeaders() Option {
	return func(c *config) { c.noRateHeaders = true }
}

// WithFaults injects latency and random 429 and 500 answers; see Faults.
func WithFaults(f Faults) Option {
	return func(c *config) { c.faults = f }
}

// WithMaxPageSize caps the number of resources returned per page (count);
// n < 1 means DefaultMaxPageSize.
func WithMaxPageSize(n int) Option {
	return func(c *config) { c.maxPage = n }
}

// WithErrorStyle selects the body of error responses; the default is
// ErrorStyleSCIM.
func WithErrorStyle(s ErrorStyle) Option {
	return func(c *config) { c.errorStyle = s }
}

// WithLogger logs every request at debug level (method, endpoint, status,
// duration; never tokens, bodies or filter values). The default is
// zap.NewNop().
func WithLogger(l *zap.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}
