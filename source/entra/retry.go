package entra

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	khttp "github.com/microsoft/kiota-http-go"
	"go.uber.org/zap"

	"github.com/provsync/provsync/source/internal/httpx"
	"github.com/provsync/provsync/source/retry"
)

// retryHandler is the Graph pipeline's retry middleware, on the
// retry.Policy every provsync client shares. GET and HEAD are retried on
// 429, 500, 502, 503 and 504 and on a broken connection; other methods
// only on 429 and 503 (the server did not act on them), and only when
// their body can be sent again. Each retry waits what Retry-After says,
// else backs off exponentially with full jitter; the policy's budget
// bounds the waits of one request.
type retryHandler struct {
	policy retry.Policy
	log    *zap.Logger
}

// errRetryStatus marks a response worth retrying inside the policy's loop.
var errRetryStatus = errors.New("retryable status")

func (h *retryHandler) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	var resp *http.Response
	tries := 0
	err := h.policy.Do(req.Context(), func(ctx context.Context) (bool, time.Duration, error) {
		if resp != nil {
			discard(resp)
			resp = nil
		}
		r := req
		if tries > 0 {
			var err error
			if r, err = rewind(req); err != nil {
				return false, 0, err
			}
		}
		tries++
		res, err := p.Next(r, i)
		if err != nil {
			return idempotent(req.Method) && httpx.Transient(err), 0, err
		}
		resp = res
		if !retryableStatus(req, res.StatusCode) {
			return false, 0, nil
		}
		wait, _ := retry.ServerWait(res.StatusCode, res.Header, time.Now())
		return true, wait, errRetryStatus
	}, func(n int, wait time.Duration, err error) {
		if resp == nil {
			h.log.Warn("graph: request failed, retrying", zap.String("path", req.URL.Path),
				zap.Int("attempt", n), zap.Duration("wait", wait), zap.Error(err))
			return
		}
		h.log.Warn("graph: throttled or unavailable, retrying",
			zap.Int("status", resp.StatusCode), zap.String("path", req.URL.Path),
			zap.String("retryAfter", resp.Header.Get("Retry-After")), zap.Int("attempt", n),
			zap.Duration("wait", wait), zap.String("throttleScope", resp.Header.Get("x-ms-throttle-scope")))
	})
	switch {
	case err == nil, errors.Is(err, errRetryStatus):
		// Success, or a failing status whose retries are spent: the
		// caller reads the response.
		return resp, nil
	case resp != nil:
		discard(resp)
	}
	return nil, err
}

// retryableStatus reports whether a response to req is worth retrying.
func retryableStatus(req *http.Request, status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return idempotent(req.Method) || req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		return idempotent(req.Method)
	}
	return false
}

func idempotent(method string) bool { return method == http.MethodGet || method == http.MethodHead }

// rewind returns req to send again, with its body from the start.
func rewind(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return nil, errors.New("the request body cannot be sent again")
		}
		b, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = b
	}
	return r, nil
}

// discard reads a little of a response that will not be used, so that
// its connection can be reused, and closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

// retryPolicy is the policy of cfg.
func retryPolicy(cfg *Config) retry.Policy {
	return retry.Policy{MaxRetries: cfg.MaxRetries, Backoff: cfg.Backoff, Budget: retryBudget, Sleep: cfg.retrySleep}
}
