package netskope

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/provsync/provsync/source/retry"
)

// Defaults of the client's settings.
const (
	// DefaultRateLimit is the request rate, in requests per second, the
	// client starts at: the one rate Netskope publishes for REST API v2
	// endpoints. The client then paces itself to what the tenant allows
	// (see WithAdaptiveRate).
	DefaultRateLimit = 4.0
	// DefaultMaxRate is the rate, in requests per second, adaptive pacing
	// never goes above by default.
	DefaultMaxRate = 50.0
	// DefaultBurst is the default number of requests sent back to back.
	DefaultBurst = 1
	// DefaultMaxRetries is how many times a failed request is retried,
	// the same in every provsync client.
	DefaultMaxRetries = retry.DefaultMaxRetries
	// DefaultBackoffBase is the first backoff step when the server names
	// no wait.
	DefaultBackoffBase = retry.DefaultBackoff
	// DefaultBackoffMax bounds every backoff step.
	DefaultBackoffMax = retry.DefaultMaxBackoff
	// DefaultPageSize is the count asked for per list page.
	DefaultPageSize = 100
	// MaxPageSize is the largest page size accepted by WithPageSize; the
	// official Netskope SDK caps pages at the same size.
	MaxPageSize = 1000
	// DefaultMemberChunkSize is how many members one PATCH adds or removes.
	DefaultMemberChunkSize = 1000
	// MaxMemberChunkSize is the largest chunk accepted by
	// WithMemberChunkSize.
	MaxMemberChunkSize = 10000
	// DefaultRequestTimeout bounds one attempt of one request.
	DefaultRequestTimeout = 60 * time.Second
	// DefaultIdleConns is how many idle connections to the tenant the
	// default HTTP client keeps. Go's default transport keeps 2 per host,
	// so a caller running more requests at once than that (the engine runs
	// 16 by default) would open a new connection for most of them.
	DefaultIdleConns = 64
	// DefaultUserAgent is the User-Agent header sent by default.
	DefaultUserAgent = "provsync-netskope"
)

// An Option sets an optional setting of a Client; pass it to New.
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// options are the settings New builds a Client from. They never hold the
// token.
type options struct {
	httpClient     *http.Client
	logger         *zap.Logger
	apiTokenHeader bool
	rps            float64
	burst          int
	adaptive       bool    // the rate moves between rps and maxRate
	maxRate        float64 // adaptive only
	maxRetries     int
	backoffBase    time.Duration
	backoffMax     time.Duration
	pageSize       int
	chunkSize      int
	requestTimeout time.Duration
	userAgent      string
}

func defaultOptions() options {
	return options{
		httpClient:     &http.Client{Transport: pooledTransport()},
		logger:         zap.NewNop(),
		rps:            DefaultRateLimit,
		burst:          DefaultBurst,
		adaptive:       true,
		maxRate:        DefaultMaxRate,
		maxRetries:     DefaultMaxRetries,
		backoffBase:    DefaultBackoffBase,
		backoffMax:     DefaultBackoffMax,
		pageSize:       DefaultPageSize,
		chunkSize:      DefaultMemberChunkSize,
		requestTimeout: DefaultRequestTimeout,
		userAgent:      DefaultUserAgent,
	}
}

// pooledTransport is Go's default transport keeping DefaultIdleConns idle
// connections per host instead of 2, with a write buffer of
// requestBufferSize.
func pooledTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = max(t.MaxIdleConns, DefaultIdleConns)
	t.MaxIdleConnsPerHost = DefaultIdleConns
	t.WriteBufferSize = requestBufferSize
	return t
}

// requestBufferSize is the default transport's write buffer on each
// connection: room for a request with a chunk of DefaultMemberChunkSize
// members (a group created with them, or a PATCH adding them; about 50
// KB), which then goes out in one write. With Go's default of 4 KiB such
// a request took several writes, and once the buffer was flushed the
// rest of the body was copied through a 32 KiB buffer made for that
// request alone.
const requestBufferSize = 64 << 10

// WithHTTPClient sends requests through hc instead of the default
// http.Client, whose transport is Go's default keeping DefaultIdleConns
// idle connections per host. The client is copied and set not to follow redirects, so
// the token is never replayed to another host. A client with neither a
// cookie jar nor a timeout adds nothing else, and its transport is then
// called directly.
func WithHTTPClient(hc *http.Client) Option {
	return optionFunc(func(o *options) { o.httpClient = hc })
}

// WithLogger logs through l (zap.NewNop by default): one Debug line per
// request attempt and a Warn when a request fails after its retries. Logs
// carry methods, paths relative to the base URL, statuses and durations;
// never the token, bodies, user names or filter values.
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

// WithAPITokenHeader sends the token as "Netskope-Api-Token: <token>", the
// header Netskope documents for REST API v2, instead of the default
// "Authorization: Bearer <token>".
func WithAPITokenHeader() Option {
	return optionFunc(func(o *options) { o.apiTokenHeader = true })
}

// WithRateLimit fixes the client-side limit shared by all callers of the
// Client: rps requests per second on average, at most burst back to back,
// whatever the tenant's answers say (the client still honours Retry-After
// and holds requests while RateLimit-Remaining says the budget is spent).
// rps <= 0 disables the limiter. It replaces the default adaptive pacing;
// the last of WithRateLimit and WithAdaptiveRate wins.
func WithRateLimit(rps float64, burst int) Option {
	return optionFunc(func(o *options) { o.rps, o.burst, o.adaptive = rps, burst, false })
}

// WithAdaptiveRate paces requests adaptively, which is the default with
// start DefaultRateLimit and maxRPS DefaultMaxRate: the client starts at start
// requests per second, one at a time, and never goes above maxRPS. When the
// tenant advertises its rate (RateLimit-Limit requests per RateLimit-Reset
// window), the client moves to 97% of it after the first answer. When it
// does not, the rate grows while requests succeed and the rate is what
// holds them back (by 25% a second until the first 429, by 0.5% a
// second after it), and each 429 cuts it by a fifth. The rate only grows
// while callers send as fast as it allows. The last of WithRateLimit and
// WithAdaptiveRate wins.
func WithAdaptiveRate(start, maxRPS float64) Option {
	return optionFunc(func(o *options) {
		o.rps, o.burst, o.adaptive, o.maxRate = start, 1, true, maxRPS
	})
}

// WithMaxRetries sets how many times a failed request is retried. As in
// every provsync client (the sources' MaxRetries fields), 0 means the
// default, DefaultMaxRetries, and a negative n, such as -1, disables
// retries.
func WithMaxRetries(n int) Option {
	return optionFunc(func(o *options) { o.maxRetries = n })
}

// WithBackoff sets the exponential backoff used when the server names no
// wait: retry k waits a random time between 0 and
// min(maxDelay, base*2^(k-1)) ("full jitter"). The defaults are
// DefaultBackoffBase and DefaultBackoffMax.
func WithBackoff(base, maxDelay time.Duration) Option {
	return optionFunc(func(o *options) { o.backoffBase, o.backoffMax = base, maxDelay })
}

// WithPageSize sets the count asked for per list page, between 1 and
// MaxPageSize. The default is DefaultPageSize, as Netskope's own plugin
// uses.
func WithPageSize(n int) Option {
	return optionFunc(func(o *options) { o.pageSize = n })
}

// WithMemberChunkSize sets how many members one PATCH of AddMembers or
// RemoveMembers carries, between 1 and MaxMemberChunkSize. The default is
// DefaultMemberChunkSize.
func WithMemberChunkSize(n int) Option {
	return optionFunc(func(o *options) { o.chunkSize = n })
}

// WithRequestTimeout bounds each attempt of a request, response body
// included; 0 leaves attempts bounded by the caller's context only. The
// default is DefaultRequestTimeout.
func WithRequestTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.requestTimeout = d })
}

// WithUserAgent sets the User-Agent header. The default is
// DefaultUserAgent.
func WithUserAgent(s string) Option {
	return optionFunc(func(o *options) { o.userAgent = s })
}

// validate reports every setting that cannot work, each naming its option.
func (o *options) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("netskope: "+format, args...))
	}
	if o.httpClient == nil {
		bad("WithHTTPClient: the client is nil")
	}
	if o.logger == nil {
		bad("WithLogger: the logger is nil; pass zap.NewNop() to log nothing")
	}
	switch {
	case o.adaptive:
		if !(o.rps > 0) || !(o.maxRate >= o.rps) || math.IsInf(o.maxRate, 0) {
			bad("WithAdaptiveRate: need 0 < start <= max requests per second, got start %v, max %v", o.rps, o.maxRate)
		}
	case math.IsNaN(o.rps) || math.IsInf(o.rps, 0):
		bad("WithRateLimit: rps %v is not a number of requests per second", o.rps)
	case o.rps > 0 && o.burst < 1:
		bad("WithRateLimit: burst %d must be at least 1 (or pass rps <= 0 to disable the limiter)", o.burst)
	}
	if o.backoffBase <= 0 || o.backoffMax < o.backoffBase {
		bad("WithBackoff: need 0 < base <= max, got base %v, max %v", o.backoffBase, o.backoffMax)
	}
	if o.pageSize < 1 || o.pageSize > MaxPageSize {
		bad("WithPageSize: %d must be between 1 and %d", o.pageSize, MaxPageSize)
	}
	if o.chunkSize < 1 || o.chunkSize > MaxMemberChunkSize {
		bad("WithMemberChunkSize: %d must be between 1 and %d", o.chunkSize, MaxMemberChunkSize)
	}
	if o.requestTimeout < 0 {
		bad("WithRequestTimeout: %v must be 0 (no per-attempt limit) or more", o.requestTimeout)
	}
	if strings.TrimSpace(o.userAgent) == "" || hasControl(o.userAgent) {
		bad("WithUserAgent: %q must be non-empty printable text", o.userAgent)
	}
	return errors.Join(errs...)
}

// hasControl reports whether s holds a control character, which no HTTP
// header value may.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
