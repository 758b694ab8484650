package netskope

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source/retry"
	"github.com/provsync/provsync/target"
)

// reply is one canned response.
type reply struct {
	status int
	header map[string]string
}

// scripted answers request n with replies[n-1], and with ok after them.
func scripted(replies []reply, ok func(w http.ResponseWriter, r *http.Request)) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if n > len(replies) {
			ok(w, r)
			return
		}
		rp := replies[n-1]
		for k, v := range rp.header {
			w.Header().Set(k, v)
		}
		writeJSON(w, rp.status, map[string]string{"message": http.StatusText(rp.status)})
	}
}

func okUser(w http.ResponseWriter, r *http.Request) {
	status := http.StatusOK
	if r.Method == http.MethodPost {
		status = http.StatusCreated
	}
	writeJSON(w, status, scim.User{ID: "u1", UserName: "a"})
}

func TestRetryWaits(t *testing.T) {
	httpDate := testEpoch.Add(5 * time.Second).Format(http.TimeFormat)
	tests := []struct {
		name      string
		replies   []reply
		retries   int
		wantWaits []time.Duration
		wantErr   error // nil: success after the replies
	}{
		{
			name:      "Retry-After seconds",
			replies:   []reply{{429, map[string]string{"Retry-After": "3"}}},
			retries:   5,
			wantWaits: []time.Duration{3 * time.Second},
		},
		{
			name:      "Retry-After HTTP date",
			replies:   []reply{{503, map[string]string{"Retry-After": httpDate}}},
			retries:   5,
			wantWaits: []time.Duration{5 * time.Second},
		},
		{
			name:      "Retry-After wins over RateLimit-Reset",
			replies:   []reply{{429, map[string]string{"Retry-After": "2", "RateLimit-Reset": "9"}}},
			retries:   5,
			wantWaits: []time.Duration{2 * time.Second},
		},
		{
			name:      "RateLimit-Reset on 429",
			replies:   []reply{{429, map[string]string{"RateLimit-Reset": "7"}}},
			retries:   5,
			wantWaits: []time.Duration{7 * time.Second},
		},
		{
			name:      "RateLimit-Reset is not a wait on a 500",
			replies:   []reply{{500, map[string]string{"RateLimit-Reset": "7"}}},
			retries:   5,
			wantWaits: []time.Duration{100 * time.Millisecond},
		},
		{
			name: "exponential backoff bounded by the max",
			replies: []reply{
				{500, nil}, {502, nil}, {503, nil}, {504, nil}, {500, nil},
			},
			retries: 5,
			wantWaits: []time.Duration{
				100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
				800 * time.Millisecond, time.Second,
			},
		},
		{
			name:      "unparsable Retry-After falls back to backoff",
			replies:   []reply{{429, map[string]string{"Retry-After": "soon"}}},
			retries:   5,
			wantWaits: []time.Duration{100 * time.Millisecond},
		},
		{
			name:      "huge Retry-After is bounded",
			replies:   []reply{{429, map[string]string{"Retry-After": "99999999"}}},
			retries:   5,
			wantWaits: []time.Duration{retry.MaxServerWait},
		},
		{
			name:      "gives up after the retries",
			replies:   []reply{{503, map[string]string{"Retry-After": "2"}}, {503, map[string]string{"Retry-After": "2"}}, {503, map[string]string{"Retry-After": "2"}}},
			retries:   2,
			wantWaits: []time.Duration{2 * time.Second, 2 * time.Second},
			wantErr:   target.ErrUnavailable,
		},
		{
			name:    "no retries",
			replies: []reply{{429, map[string]string{"Retry-After": "2"}}},
			retries: -1,
			wantErr: target.ErrRateLimited,
		},
		{
			name:    "0 retries means the default",
			replies: []reply{{503, nil}, {503, nil}, {503, nil}, {503, nil}, {503, nil}, {503, nil}, {503, nil}},
			retries: 0,
			wantWaits: []time.Duration{
				100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
				800 * time.Millisecond, time.Second,
			},
			wantErr: target.ErrUnavailable,
		},
		{
			name:    "400 is not retried",
			replies: []reply{{400, map[string]string{"Retry-After": "2"}}},
			retries: 5,
			wantErr: target.ErrInvalid,
		},
		{
			name:    "404 is not retried",
			replies: []reply{{404, nil}},
			retries: 5,
			wantErr: target.ErrNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := newServer(t, scripted(tt.replies, okUser))
			core, logs := observer.New(zap.DebugLevel)
			c, fc := newTestClient(t, srv.URL, noLimit(), WithMaxRetries(tt.retries),
				WithBackoff(100*time.Millisecond, time.Second), WithLogger(zap.New(core)))
			u, err := c.GetUser(ctxT(t), "u1")
			if waits := fc.Waits(); !equalDurations(waits, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", waits, tt.wantWaits)
			}
			attempts := min(len(tt.replies)+1, tt.retries+1)
			if tt.wantErr != nil {
				attempts = len(tt.wantWaits) + 1
			}
			if rec.count() != attempts {
				t.Errorf("%d requests, want %d", rec.count(), attempts)
			}
			if tt.wantErr == nil {
				if err != nil || u.ID != "u1" {
					t.Fatalf("GetUser = %v, %v", u, err)
				}
				if st := c.Stats(); st.Retries != int64(attempts-1) {
					t.Errorf("Stats.Retries = %d, want %d", st.Retries, attempts-1)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("GetUser = %v, want %v", err, tt.wantErr)
			}
			var te *target.Error
			if !errors.As(err, &te) || te.Attempts != attempts || te.Status != tt.replies[attempts-1].status {
				t.Fatalf("error %#v, want %d attempts and the last status", err, attempts)
			}
			if ra := tt.replies[attempts-1].header["Retry-After"]; ra != "" {
				n, _ := strconv.Atoi(ra)
				if te.RetryAfter != time.Duration(n)*time.Second {
					t.Errorf("RetryAfter = %v, want %ss", te.RetryAfter, ra)
				}
			}
			warns := logs.FilterLevelExact(zap.WarnLevel).Len()
			if retryable := target.IsRetryable(err); (warns == 1) != retryable {
				t.Errorf("%d Warn lines for a final error (retryable %v)", warns, retryable)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFullJitterBounded(t *testing.T) {
	for _, d := range []time.Duration{0, 1, time.Millisecond, 30 * time.Second} {
		for range 200 {
			if j := retry.FullJitter(d); j < 0 || j > d {
				t.Fatalf("retry.FullJitter(%v) = %v, outside [0, %v]", d, j, d)
			}
		}
	}
	// The default jitter is used: waits vary below the step.
	srv, _ := newServer(t, scripted([]reply{{500, nil}, {500, nil}, {500, nil}}, okUser))
	c, fc := newTestClient(t, srv.URL, noLimit(), WithBackoff(time.Second, 2*time.Second))
	c.jitter = retry.FullJitter
	if _, err := c.GetUser(ctxT(t), "u1"); err != nil {
		t.Fatal(err)
	}
	for i, w := range fc.Waits() {
		if step := min(time.Second<<i, 2*time.Second); w < 0 || w > step {
			t.Errorf("wait %d = %v, outside [0, %v]", i, w, step)
		}
	}
}

func TestRetryStopsOnCancel(t *testing.T) {
	t.Run("while waiting", func(t *testing.T) {
		srv, rec := newServer(t, scripted([]reply{{503, map[string]string{"Retry-After": "30"}}}, okUser))
		c, fc := newTestClient(t, srv.URL, noLimit())
		ctx, cancel := context.WithCancel(ctxT(t))
		fc.onSleep = func(ctx context.Context, _ time.Duration) error {
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}
		_, err := c.GetUser(ctx, "u1")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("GetUser = %v, want context.Canceled", err)
		}
		var te *target.Error
		if !errors.As(err, &te) || te.Attempts != 1 || !strings.Contains(err.Error(), "503") {
			t.Errorf("error %v, want 1 attempt and the status it was waiting on", err)
		}
		if target.IsRetryable(err) {
			t.Errorf("a cancelled call reads as retryable")
		}
		if rec.count() != 1 {
			t.Errorf("%d requests, want 1", rec.count())
		}
	})
	t.Run("real sleeper", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctxT(t))
		defer cancel()
		srv, rec := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
			w.Header().Set("Retry-After", "3600")
			writeJSON(w, http.StatusTooManyRequests, map[string]string{"message": "API rate limit exceeded"})
			cancel() // the client is about to wait an hour
		})
		c, err := New(srv.URL, testToken, noLimit())
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListUsers(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("ListUsers = %v, want context.Canceled", err)
		}
		if rec.count() != 1 {
			t.Errorf("%d requests, want 1", rec.count())
		}
	})
	t.Run("wait past the deadline", func(t *testing.T) {
		srv, rec := newServer(t, scripted([]reply{{429, map[string]string{"Retry-After": "600"}}}, okUser))
		c, fc := newTestClient(t, srv.URL, noLimit())
		ctx, cancel := context.WithTimeout(ctxT(t), 5*time.Minute)
		defer cancel()
		_, err := c.GetUser(ctx, "u1")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("GetUser = %v, want DeadlineExceeded at once", err)
		}
		if len(fc.Waits()) != 0 || rec.count() != 1 {
			t.Errorf("waited %v over %d requests; want no wait, 1 request", fc.Waits(), rec.count())
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		srv, rec := newServer(t, scripted(nil, okUser))
		c, _ := newTestClient(t, srv.URL)
		ctx, cancel := context.WithCancel(ctxT(t))
		cancel()
		if _, err := c.GetUser(ctx, "u1"); !errors.Is(err, context.Canceled) {
			t.Errorf("GetUser = %v", err)
		}
		if rec.count() != 0 {
			t.Errorf("sent %d requests on a cancelled context", rec.count())
		}
	})
}

// Every method is retried on 429 and the retryable 5xx statuses; a POST
// whose retry meets a 409 is reported as a conflict (see
// TestRetriedPOSTConflictSaysSo).
func TestRetryByMethod(t *testing.T) {
	tests := []struct {
		method   string
		status   int
		attempts int
	}{
		{http.MethodPost, 500, 2},
		{http.MethodPost, 502, 2},
		{http.MethodPost, 504, 2},
		{http.MethodPost, 429, 2},
		{http.MethodPost, 503, 2},
		{http.MethodPut, 500, 2},
		{http.MethodPatch, 502, 2},
		{http.MethodDelete, 504, 2},
		{http.MethodGet, 503, 2},
		{http.MethodGet, 501, 1},
		{http.MethodPut, 409, 1},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+strconv.Itoa(tt.status), func(t *testing.T) {
			srv, rec := newServer(t, scripted([]reply{{tt.status, nil}}, func(w http.ResponseWriter, r *http.Request) {
				switch r.Method {
				case http.MethodPatch, http.MethodDelete:
					w.WriteHeader(http.StatusNoContent)
				default:
					okUser(w, r)
				}
			}))
			c, _ := newTestClient(t, srv.URL, noLimit())
			ctx := ctxT(t)
			var err error
			switch tt.method {
			case http.MethodPost:
				_, err = c.CreateUser(ctx, &scim.User{UserName: "a"})
			case http.MethodPut:
				_, err = c.ReplaceUser(ctx, "u1", &scim.User{UserName: "a"})
			case http.MethodPatch:
				err = c.PatchUser(ctx, "u1", scim.Replace("active", false))
			case http.MethodDelete:
				err = c.DeleteUser(ctx, "u1")
			case http.MethodGet:
				_, err = c.GetUser(ctx, "u1")
			}
			if rec.count() != tt.attempts {
				t.Errorf("%d requests, want %d", rec.count(), tt.attempts)
			}
			if wantOK := tt.attempts == 2; (err == nil) != wantOK {
				t.Errorf("err = %v, want success %v", err, wantOK)
			}
			// The retried request carries the same body.
			reqs := rec.all()
			if len(reqs) == 2 && string(reqs[0].Body) != string(reqs[1].Body) {
				t.Errorf("retry body %q differs from %q", reqs[1].Body, reqs[0].Body)
			}
			if len(reqs) == 2 && tt.method != http.MethodGet && tt.method != http.MethodDelete && len(reqs[1].Body) == 0 {
				t.Errorf("retry sent no body")
			}
		})
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestRetryTransportErrors(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	readTimeout := &net.OpError{Op: "read", Net: "tcp", Err: timeoutError{}}
	tests := []struct {
		name     string
		method   string
		first    error
		attempts int
	}{
		{"POST connection refused before sending", http.MethodPost, refused, 2},
		{"POST DNS failure", http.MethodPost, &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", IsNotFound: true}}, 2},
		{"POST read timeout", http.MethodPost, readTimeout, 2},
		{"POST connection reset", http.MethodPost, io.ErrUnexpectedEOF, 2},
		{"GET read timeout", http.MethodGet, readTimeout, 2},
		{"GET connection reset", http.MethodGet, io.ErrUnexpectedEOF, 2},
		{"GET bad certificate", http.MethodGet, &tls.CertificateVerificationError{Err: errors.New("x509: certificate signed by unknown authority")}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := newServer(t, scripted(nil, okUser))
			calls := 0
			rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				calls++
				if calls == 1 {
					if r.Body != nil {
						_ = r.Body.Close()
					}
					return nil, tt.first
				}
				return http.DefaultTransport.RoundTrip(r)
			})
			c, _ := newTestClient(t, srv.URL, noLimit(), WithHTTPClient(&http.Client{Transport: rt}))
			var err error
			if tt.method == http.MethodPost {
				_, err = c.CreateUser(ctxT(t), &scim.User{UserName: "a"})
			} else {
				_, err = c.GetUser(ctxT(t), "u1")
			}
			if calls != tt.attempts {
				t.Errorf("%d attempts, want %d", calls, tt.attempts)
			}
			if tt.attempts == 2 {
				if err != nil || rec.count() != 1 {
					t.Errorf("err = %v after %d server requests", err, rec.count())
				}
				return
			}
			var te *target.Error
			if !errors.As(err, &te) || te.Status != 0 || te.Attempts != 1 || !errors.Is(err, target.ErrUnavailable) {
				t.Errorf("err = %#v, want ErrUnavailable without status", err)
			}
		})
	}
}

func TestRetryRealConnectionRefused(t *testing.T) {
	c, fc := newTestClient(t, closedURL(t), noLimit(), WithMaxRetries(2))
	_, err := c.CreateUser(ctxT(t), &scim.User{UserName: "a"})
	var te *target.Error
	if !errors.As(err, &te) || te.Attempts != 3 || te.Status != 0 || !errors.Is(err, target.ErrUnavailable) {
		t.Fatalf("CreateUser to a closed port = %#v, want ErrUnavailable after 3 attempts", err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("the cause is not kept: %v", err)
	}
	if len(fc.Waits()) != 2 {
		t.Errorf("waits %v, want 2", fc.Waits())
	}
}

func TestRequestTimeout(t *testing.T) {
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		t.Run(method, func(t *testing.T) {
			srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				<-r.Context().Done() // never answers in time
			})
			// The requests the client sends: the server may never see one
			// whose 20 ms ran out before its handler started.
			var sent atomic.Int32
			hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				sent.Add(1)
				return http.DefaultTransport.RoundTrip(r)
			})}
			c, _ := newTestClient(t, srv.URL, noLimit(), WithMaxRetries(2), WithRequestTimeout(20*time.Millisecond), WithHTTPClient(hc))
			var err error
			if method == http.MethodPost {
				_, err = c.CreateUser(ctxT(t), &scim.User{UserName: "a"})
			} else {
				_, err = c.GetUser(ctxT(t), "u1")
			}
			want := 3 // a POST too: a duplicate create answers 409, which the engine resolves
			var te *target.Error
			if !errors.As(err, &te) || te.Attempts != want || !errors.Is(err, target.ErrUnavailable) {
				t.Fatalf("err = %#v, want ErrUnavailable after %d attempts", err, want)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("an attempt timeout reads as the caller's deadline: %v", err)
			}
			if !strings.Contains(err.Error(), "request timeout") {
				t.Errorf("error %q does not say it timed out", err)
			}
			if n := int(sent.Load()); n != want {
				t.Errorf("%d requests sent, want %d", n, want)
			}
		})
	}
}

func TestRetriedPOSTConflictSaysSo(t *testing.T) {
	srv, rec := newServer(t, scripted([]reply{{http.StatusBadGateway, nil}, {http.StatusConflict, nil}}, okUser))
	c, _ := newTestClient(t, srv.URL, noLimit())
	_, err := c.CreateUser(ctxT(t), &scim.User{UserName: "a"})
	if rec.count() != 2 {
		t.Fatalf("%d requests, want 2", rec.count())
	}
	var te *target.Error
	if !errors.Is(err, target.ErrConflict) || !errors.As(err, &te) || te.Status != http.StatusConflict {
		t.Fatalf("err = %v, want a 409 conflict", err)
	}
	if !strings.Contains(err.Error(), "may have created it") {
		t.Errorf("error %q does not say the first attempt may have landed", err)
	}
}
