package netskope

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source/retry"
	"github.com/provsync/provsync/target"
)

const (
	contentType = scim.MediaType + ";charset=utf-8"
	accept      = scim.MediaType + ", application/json"

	// maxBody bounds a response body read into memory.
	maxBody = 64 << 20
	// defaultHold is how long requests are held when the rate budget is
	// spent and the server names no reset.
	defaultHold = time.Second
)

// request is one logical call: it may be sent several times.
type request struct {
	op string // "create user", ...
	// objectAttr and objectValue name the object, "" for lists: the
	// object is "id=..." or "userName=...", made only for an error.
	objectAttr, objectValue string
	method                  string
	path                    string     // relative to the base URL, escaped, no query
	query                   url.Values // may hold personal data (filter): never logged
	body                    any        // marshalled once, sent on every attempt
	// hasFilter is logged instead of the filter.
	hasFilter bool
	// retryCap, when > 0, lowers the client's retry limit for this call.
	retryCap int
	// stream leaves the body of a 2xx answer open for the caller to
	// read as it arrives (response.stream), who closes it.
	stream bool
	// scratch reads the body of a 2xx answer into a buffer of the
	// client's, which the caller hands back with recycle once it has
	// decoded it and kept nothing of it.
	scratch bool
}

// response is a received response, its body read.
type response struct {
	status   int
	header   http.Header
	body     []byte
	attempts int
	// stream is the open body of a 2xx answer to a request with stream
	// set; body is nil then.
	stream *bodyStream
	// buf holds body when it is a buffer of the client's (see
	// request.scratch), nil otherwise.
	buf *[]byte
}

// bodyStream is a response body read as it arrives. It keeps the first
// failure of the transport (which a body that is merely short of its
// JSON does not have) and stops at maxBody.
type bodyStream struct {
	body   io.ReadCloser
	cancel context.CancelFunc // the attempt's context, ended on Close
	n      int64
	err    error // the first read error other than io.EOF
}

// errBodyTooLarge ends a streamed body longer than maxBody.
var errBodyTooLarge = errors.New("response body larger than 64 MiB")

func (s *bodyStream) Read(p []byte) (int, error) {
	if s.n >= maxBody {
		return 0, errBodyTooLarge
	}
	p = p[:min(int64(len(p)), maxBody-s.n)]
	n, err := s.body.Read(p)
	s.n += int64(n)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// Close closes the body and ends the attempt's context.
func (s *bodyStream) Close() error {
	err := s.body.Close()
	s.cancel()
	return err
}

// do sends r, retrying as the client is configured, and returns the 2xx
// response. Every other outcome is a *target.Error.
func (c *Client) do(ctx context.Context, r *request) (*response, error) {
	var payload []byte
	if r.body != nil {
		b, err := encodeBody(r.body)
		if err != nil {
			return nil, c.invalid(r, fmt.Sprintf("encoding the request body: %v", err))
		}
		payload = b
	}
	var u string
	switch r.path {
	case pathUsers:
		u = c.users
	case pathGroups:
		u = c.groups
	default:
		u = c.base + r.path
	}
	if len(r.query) > 0 {
		u += "?" + encodeQuery(r.query)
	}
	limit := c.policy.Retries()
	if r.retryCap > 0 && r.retryCap < limit {
		limit = r.retryCap
	}

	lastStatus := 0
	ambiguous := false // an earlier POST attempt may have been acted on
	for attempt := 1; ; attempt++ {
		if err := c.waitTurn(ctx); err != nil {
			return nil, c.canceled(r, attempt-1, lastStatus, err)
		}
		if r.method != http.MethodGet {
			// After the wait for its turn, the last moment before the
			// request goes out.
			if err := target.GuardWrite(ctx); err != nil {
				return nil, c.refused(r, attempt-1, err)
			}
		}
		c.stats.request(r.method, attempt > 1)
		sentAt := c.now()
		start := time.Now()
		res, sent, err := c.send(ctx, r, u, payload)
		elapsed := time.Since(start)
		if res != nil {
			c.stats.answered(r.method, res.status)
		} else {
			c.stats.answered(r.method, 0)
		}
		if err != nil && ctx.Err() != nil {
			c.logAttempt(r, attempt, 0, elapsed, ctx.Err(), 0)
			return nil, c.canceled(r, attempt, 0, ctx.Err())
		}
		if res != nil {
			res.attempts = attempt
			if res.status == http.StatusTooManyRequests {
				c.stats.rateLimited.Add(1)
			}
			c.observeBudget(res.header)
			c.observePace(sentAt, res)
			if res.status >= 200 && res.status < 300 {
				c.logAttempt(r, attempt, res.status, elapsed, nil, 0)
				return res, nil
			}
		}

		var retryable bool
		status := 0
		if err != nil {
			retryable = retryableError(r.method, sent, err)
		} else {
			status = res.status
			retryable = retryableStatus(r.method, status)
		}
		final := !retryable || attempt > limit
		var wait time.Duration
		if !final {
			wait = c.retryWait(res, attempt)
		}
		c.logAttempt(r, attempt, status, elapsed, err, wait)
		if final {
			if retryable {
				c.log.Warn("netskope request failed; giving up",
					zap.String("op", r.op), zap.String("method", r.method), zap.String("path", r.path),
					zap.Int("status", status), zap.Int("attempts", attempt), errField(err))
			}
			if err != nil {
				return nil, c.unavailable(r, attempt, err)
			}
			if ambiguous && status == http.StatusConflict {
				return nil, fmt.Errorf("%w (an earlier attempt failed without a clear answer and may have created it)",
					c.statusError(r, res))
			}
			return nil, c.statusError(r, res)
		}
		ambiguous = ambiguous || ambiguousPOST(r.method, status, sent, err)
		lastStatus = status
		if err := c.pause(ctx, wait); err != nil {
			return nil, c.canceled(r, attempt, lastStatus, err)
		}
	}
}

// object names the request's object ("id=...", "userName=..."), "" for
// lists.
func (r *request) object() string {
	if r.objectAttr == "" {
		return ""
	}
	return r.objectAttr + "=" + r.objectValue
}

// encodeQuery encodes q with spaces as %20 rather than "+": every server
// decodes %20 as a space, while some read "+" literally. A literal "+" is
// already encoded as %2B, so every "+" left stands for a space.
func encodeQuery(q url.Values) string {
	return strings.ReplaceAll(q.Encode(), "+", "%20")
}

// send makes one attempt. sent reports whether any of the request reached
// the connection, which decides whether a failed POST may be retried.
func (c *Client) send(ctx context.Context, r *request, u string, payload []byte) (res *response, sent bool, err error) {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if c.timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	keep := false // the body is handed on open, with cancel
	defer func() {
		if !keep {
			cancel()
		}
	}()
	// The headers fit the transport's write buffer, so nothing reaches
	// the connection before they are all written: WroteHeaders marks the
	// request sent as early as WroteHeaderField would, without the slice
	// net/http makes to report each field to it.
	tr := new(attemptTrace)
	tr.trace.WroteHeaders = func() { tr.wrote.Store(true) }
	actx = httptrace.WithClientTrace(actx, &tr.trace)

	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload) // sets GetBody: re-sendable
	}
	req, err := http.NewRequestWithContext(actx, r.method, u, body)
	if err != nil {
		return nil, false, causeOf(err)
	}
	if c.rt != nil {
		// Nothing between here and the transport adds to the headers, and
		// a transport may not change them (http.RoundTripper): all the
		// requests share two maps.
		req.Header = c.headers[0]
		if payload != nil {
			req.Header = c.headers[1]
		}
	} else {
		req.Header = c.header(payload != nil)
	}

	resp, err := c.roundTrip(req)
	if err != nil {
		return nil, tr.wrote.Load(), c.transportCause(actx, err)
	}
	if r.stream && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		keep = true
		return &response{status: resp.StatusCode, header: resp.Header, stream: &bodyStream{body: resp.Body, cancel: cancel}}, true, nil
	}
	defer resp.Body.Close()
	var buf *[]byte
	var into []byte
	if r.scratch && resp.StatusCode >= 200 && resp.StatusCode < 300 && resp.ContentLength <= maxScratch {
		buf, _ = c.scratch.Get().(*[]byte)
		if buf == nil {
			buf = new([]byte)
		}
		into = *buf
	}
	data, err := readBody(resp.Body, into, resp.ContentLength, maxBody+1)
	if err != nil {
		return nil, true, c.transportCause(actx, err)
	}
	if len(data) > maxBody {
		// Keep the status, drop the body: decoding it will fail as a
		// protocol error, which is what an endless body is.
		data = nil
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			data = []byte("<response body larger than 64 MiB>")
		}
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data, buf: buf}, true, nil
}

// maxScratch is the largest body read into a buffer of the client's (see
// request.scratch); a created object's answer is a few hundred bytes.
const maxScratch = 16 << 10

// recycle hands back the buffer res's body was read into, if it is the
// client's: the caller keeps nothing of the body.
func (c *Client) recycle(res *response) {
	if res.buf == nil || cap(res.body) > maxScratch {
		return
	}
	buf := res.buf
	*buf = res.body[:0]
	res.buf, res.body = nil, nil
	c.scratch.Put(buf)
}

// roundTrip sends req. Without a cookie jar or a timeout, all that
// http.Client adds is the following of redirects, which this client
// turns off, at the cost of a copy of the headers and the URL kept for
// them on every request: req then goes to the transport directly, with
// the checks http.Client makes of what it answers.
func (c *Client) roundTrip(req *http.Request) (*http.Response, error) {
	if c.rt == nil {
		return c.hc.Do(req)
	}
	resp, err := c.rt.RoundTrip(req)
	switch {
	case err != nil:
		return nil, err
	case resp == nil:
		return nil, fmt.Errorf("the HTTP transport (%T) returned neither a response nor an error", c.rt)
	case resp.Body == nil:
		resp.Body = http.NoBody
	}
	return resp, nil
}

// attemptTrace tells whether an attempt wrote its request: one
// allocation for the flag and the trace that sets it.
type attemptTrace struct {
	wrote atomic.Bool
	trace httptrace.ClientTrace
}

// header returns the headers of a request, with a Content-Type if it
// has a body: one map and one array of values, where setting them one by
// one made a slice each. The names are canonical already.
func (c *Client) header(withBody bool) http.Header {
	v := [...]string{c.cred.value, accept, c.userAgent, contentType}
	vals := v[:] // one allocation for the four
	h := make(http.Header, 4)
	h[c.cred.header] = vals[0:1:1]
	h["Accept"] = vals[1:2:2]
	h["User-Agent"] = vals[2:3:3]
	if withBody {
		h["Content-Type"] = vals[3:4:4]
	}
	return h
}

// readBody reads a response body of at most limit bytes (more are not
// read) into buf, or if it has not the room, into one buffer the size the
// response declares (size, -1 when not known), with room for the read
// that meets its end: io.ReadAll starts at 512 bytes and grows, copying,
// for most bodies.
func readBody(r io.Reader, buf []byte, size, limit int64) ([]byte, error) {
	if size < 0 || size >= limit {
		size = 511
	}
	b := buf[:0]
	if int64(cap(b)) < size+1 {
		b = make([]byte, 0, size+1)
	}
	for {
		n, err := r.Read(b[len(b):min(int64(cap(b)), limit)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if int64(len(b)) >= limit {
			return b, nil
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // room to grow
		}
	}
}

// transportCause turns a transport error into one that names neither the
// URL (its query may hold a filter) nor the token.
func (c *Client) transportCause(actx context.Context, err error) error {
	if c.timeout > 0 && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no response within %v (the request timeout)", c.timeout)
	}
	return causeOf(err)
}

// causeOf strips the *url.Error wrapper, which prints the URL.
func causeOf(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// retryableStatus reports whether a response is worth retrying: 429 and
// the 5xx statuses that mean "try again", for every method.
//
// A POST that failed with 500, 502 or 504 may still have created its
// object, so its retry can answer 409. That is reported as a conflict that
// says so (see ambiguousPOST), and the sync engine resolves it by looking
// the object up and adopting it: creates converge instead of failing.
func retryableStatus(_ string, status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable,
		http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// ambiguousPOST reports whether an earlier attempt of a POST failed in a
// way that leaves open whether the server acted on it.
func ambiguousPOST(method string, status int, sent bool, err error) bool {
	if method != http.MethodPost {
		return false
	}
	if err != nil {
		return sent
	}
	return status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable
}

// retryableError reports whether a transport error is worth retrying.
// Certificate errors never are.
func retryableError(_ string, _ bool, err error) bool {
	return !isCertificateError(err)
}

func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns) || errors.Is(err, syscall.ECONNREFUSED)
}

func isCertificateError(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) ||
		errors.As(err, &hostname) || errors.As(err, &invalid)
}

// retryWait returns how long to wait before retry number n (1-based):
// what Retry-After says, else what RateLimit-Reset says on a 429, else
// exponential backoff with full jitter (retry.Policy's).
func (c *Client) retryWait(res *response, n int) time.Duration {
	if d, ok := c.serverWait(res); ok {
		return d
	}
	return c.jitter(c.policy.Step(n - 1))
}

// serverWait returns the wait a response asks for, if it asks for one.
func (c *Client) serverWait(res *response) (time.Duration, bool) {
	if res == nil {
		return 0, false
	}
	return retry.ServerWait(res.status, res.header, c.now())
}

// observeBudget holds further requests until the reset when a response
// says the rate budget is nearly spent: RateLimit-Remaining at most 1, or
// under a tenth of RateLimit-Limit.
func (c *Client) observeBudget(h http.Header) {
	// The names are spelled in canonical form (http.CanonicalHeaderKey),
	// which Get then looks up as they are; "RateLimit-..." is made
	// canonical anew, on the heap, by every call.
	remaining, ok := retry.HeaderNumber(h.Get("Ratelimit-Remaining"))
	if !ok {
		return
	}
	limit, hasLimit := retry.HeaderNumber(h.Get("Ratelimit-Limit"))
	if remaining > 1 && !(hasLimit && remaining*10 < limit) {
		return
	}
	now := c.now()
	hold, ok := retry.Reset(h.Get("Ratelimit-Reset"), now)
	if !ok {
		hold = defaultHold
	}
	if hold <= 0 {
		return
	}
	until := now.Add(min(hold, retry.MaxServerWait))
	c.mu.Lock()
	if until.After(c.holdUntil) {
		c.holdUntil = until
	}
	c.mu.Unlock()
	c.log.Debug("netskope rate budget nearly spent; holding requests",
		zap.Float64("remaining", remaining), zap.Duration("hold", hold))
}

// waitTurn waits until a request may start: past any hold set by a spent
// rate budget, then for a token of the shared limiter.
func (c *Client) waitTurn(ctx context.Context) error {
	c.mu.Lock()
	until := c.holdUntil
	c.mu.Unlock()
	if d := until.Sub(c.now()); d > 0 {
		if err := c.pause(ctx, d); err != nil {
			return err
		}
	}
	if c.pace == nil {
		return ctx.Err()
	}
	rsv, d := c.pace.reserve(c.now())
	if d > 0 {
		if err := c.pause(ctx, d); err != nil {
			rsv.CancelAt(c.now())
			return err
		}
	}
	return ctx.Err()
}

// pause waits d, or less if ctx is done first. A wait that would outlast
// ctx's deadline fails at once.
func (c *Client) pause(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return fmt.Errorf("a wait of %v would pass the context deadline: %w", d, context.DeadlineExceeded)
	}
	c.stats.waited.Add(int64(d))
	return c.sleep(ctx, d)
}

// logAttempt writes the Debug line of one attempt. It names no personal
// data: the path holds ids only and the query is not logged.
func (c *Client) logAttempt(r *request, attempt, status int, elapsed time.Duration, err error, wait time.Duration) {
	ce := c.log.Check(zap.DebugLevel, "netskope request")
	if ce == nil {
		return
	}
	fields := make([]zap.Field, 0, 11)
	fields = append(fields,
		zap.String("op", r.op),
		zap.String("method", r.method),
		zap.String("path", r.path),
		zap.Int("status", status),
		zap.Duration("duration", elapsed),
		zap.Int("attempt", attempt),
	)
	if r.hasFilter {
		fields = append(fields, zap.Bool("filter", true))
	}
	if s := r.query.Get("startIndex"); s != "" {
		fields = append(fields, zap.String("startIndex", s), zap.String("count", r.query.Get("count")))
	}
	if err != nil {
		fields = append(fields, errField(err))
	}
	if wait > 0 {
		fields = append(fields, zap.Duration("retryIn", wait))
	}
	ce.Write(fields...)
}

func errField(err error) zap.Field {
	if err == nil {
		return zap.Skip()
	}
	return zap.String("error", err.Error())
}

// newError starts the *target.Error of r.
func newError(r *request) *target.Error {
	return &target.Error{Op: r.op, Object: r.object(), Method: r.method, Path: r.path}
}

// statusError maps a non-2xx response.
func (c *Client) statusError(r *request, res *response) error {
	e := newError(r)
	e.Status = res.status
	e.SCIM = scim.ParseError(res.status, res.body)
	e.SCIM.Detail = c.cred.scrub(e.SCIM.Detail)
	e.SCIM.Message = c.cred.scrub(e.SCIM.Message)
	e.Attempts = res.attempts
	if d, ok := c.serverWait(res); ok {
		e.RetryAfter = d
	}
	switch {
	case res.status >= 300 && res.status < 400:
		e.Err = fmt.Errorf("%w: a redirect, not followed; check the base URL", target.ErrProtocol)
	case res.status < 300:
		e.Err = fmt.Errorf("%w: unexpected status", target.ErrProtocol)
	default:
		return e
	}
	// *target.Error prints no cause when a status is set; add it.
	return fmt.Errorf("%w: %v", e, e.Err)
}

// unavailable maps a transport failure.
func (c *Client) unavailable(r *request, attempts int, cause error) error {
	e := newError(r)
	e.Attempts = attempts
	e.Err = fmt.Errorf("%w: %w", target.ErrUnavailable, cause)
	return e
}

// canceled maps the end of the caller's context.
func (c *Client) canceled(r *request, attempts, lastStatus int, cause error) error {
	e := newError(r)
	e.Attempts = attempts
	if lastStatus != 0 {
		e.Err = fmt.Errorf("stopped waiting to retry after status %d: %w", lastStatus, cause)
	} else {
		e.Err = fmt.Errorf("stopped: %w", cause)
	}
	return e
}

// refused reports a write that the context's write guard stopped before
// it was sent (target.WithWriteGuard).
func (c *Client) refused(r *request, attempts int, cause error) error {
	e := newError(r)
	e.Attempts = attempts
	e.Err = fmt.Errorf("not sent: %w", cause)
	return e
}

// invalid reports a call refused before anything was sent.
func (c *Client) invalid(r *request, msg string) error {
	e := newError(r)
	e.Err = fmt.Errorf("%w: %s", target.ErrInvalid, msg)
	return e
}

// protocolError reports a 2xx response that is not what SCIM promises.
// The message is added after the *target.Error's, which prints no cause
// when a status is set.
func (c *Client) protocolError(r *request, res *response, msg string) error {
	return c.badAnswer(r, res, target.ErrProtocol, msg)
}

// incomplete reports a listing whose pages contradict each other.
func (c *Client) incomplete(r *request, res *response, msg string) error {
	return c.badAnswer(r, res, target.ErrIncomplete, msg)
}

// badAnswer is a 2xx response that cannot be taken as it is, matching
// sentinel.
func (c *Client) badAnswer(r *request, res *response, sentinel error, msg string) error {
	e := newError(r)
	e.Status = res.status
	e.Attempts = res.attempts
	e.Err = fmt.Errorf("%w: %s", sentinel, msg)
	return fmt.Errorf("%w: %v", e, e.Err)
}

// decode reads a 2xx JSON body into v.
func (c *Client) decode(r *request, res *response, v any) error {
	if len(bytes.TrimSpace(res.body)) == 0 {
		return c.protocolError(r, res, "empty response body")
	}
	if err := json.Unmarshal(res.body, v); err != nil {
		return c.protocolError(r, res, fmt.Sprintf("response is not SCIM JSON (Content-Type %q): %v",
			res.header.Get("Content-Type"), err))
	}
	return nil
}

// encodeBody encodes a request body: users, groups and member patches
// without reflection (the same bytes json.Marshal makes), anything else
// with json.Marshal.
func encodeBody(body any) ([]byte, error) {
	switch b := body.(type) {
	case *scim.User:
		return b.AppendJSON(make([]byte, 0, 512)), nil
	case scim.User:
		return b.AppendJSON(make([]byte, 0, 512)), nil
	case *scim.Group:
		return b.AppendJSON(make([]byte, 0, groupBodySize(b))), nil
	case scim.Group:
		return b.AppendJSON(make([]byte, 0, groupBodySize(&b))), nil
	case scim.PatchOp:
		if out, ok := b.AppendJSON(make([]byte, 0, patchBodySize(&b))); ok {
			return out, nil
		}
	}
	return json.Marshal(body)
}

// patchBodySize is about the length of p's JSON when its values are
// member lists (scim.PatchOp.AppendJSON), and no less for UUIDs.
func patchBodySize(p *scim.PatchOp) int {
	n := 96
	for i := range p.Operations {
		o := &p.Operations[i]
		n += 32 + len(o.Op) + len(o.Path)
		if ms, ok := o.Value.([]scim.Member); ok {
			for k := range ms {
				n += 16 + len(ms[k].Value)
			}
		}
	}
	return n
}

// groupBodySize is about the length of g's JSON, and no less for a group
// whose members are UUIDs: {"value":"<36>"} and a comma, 49 bytes each.
func groupBodySize(g *scim.Group) int {
	n := 192 + len(g.DisplayName) + len(g.ExternalID)
	for i := range g.Members {
		n += 16 + len(g.Members[i].Value)
	}
	return n
}
