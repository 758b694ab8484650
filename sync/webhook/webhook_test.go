package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/internal/clocktest"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// receiver is a webhook receiver answering with the statuses given, one
// a post (the last repeats), and keeping what it received.
type receiver struct {
	mu       gosync.Mutex
	statuses []int
	bodies   [][]byte
	headers  []http.Header
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.bodies = append(r.bodies, b)
	r.headers = append(r.headers, req.Header.Clone())
	status := http.StatusNoContent
	if len(r.statuses) > 0 {
		status = r.statuses[0]
		if len(r.statuses) > 1 {
			r.statuses = r.statuses[1:]
		}
	}
	r.mu.Unlock()
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "0")
	}
	w.WriteHeader(status)
}

func (r *receiver) posts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

// newNotifier returns a notifier posting to url whose backoff waits
// nothing.
func newNotifier(t *testing.T, url string, opts ...Option) *Notifier {
	t.Helper()
	n, err := New(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	n.policy.Jitter = func(time.Duration) time.Duration { return 0 }
	return n
}

func note() sync.Notification {
	return sync.Notification{Kind: sync.NotifyQuarantined, Time: time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC),
		Source: "file:users.yaml", Target: "tenant.goskope.com", Cycle: "c1", Message: "provisioning is quarantined",
		Quarantine: &sync.Quarantine{Reason: sync.ReasonSourceRead, Error: "source unavailable", Failures: 1}}
}

func TestNotifyPostsJSON(t *testing.T) {
	rec := &receiver{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	secret := []byte("signing-secret")
	n := newNotifier(t, srv.URL+"/hook", WithSigningSecret(secret), WithHeader("Authorization", "Bearer tok"))
	if err := n.Notify(context.Background(), note()); err != nil {
		t.Fatal(err)
	}
	if rec.posts() != 1 {
		t.Fatalf("%d posts, want 1", rec.posts())
	}
	var got sync.Notification
	if err := json.Unmarshal(rec.bodies[0], &got); err != nil {
		t.Fatal(err)
	}
	want := note()
	if got.Kind != want.Kind || !got.Time.Equal(want.Time) || got.Quarantine == nil || got.Quarantine.Reason != want.Quarantine.Reason || got.Message != want.Message {
		t.Errorf("received %+v, want %+v", got, want)
	}
	h := rec.headers[0]
	m := hmac.New(sha256.New, secret)
	m.Write(rec.bodies[0])
	if h.Get(HeaderSignature) != "sha256="+hex.EncodeToString(m.Sum(nil)) {
		t.Errorf("signature %q does not match the body", h.Get(HeaderSignature))
	}
	if h.Get("Content-Type") != "application/json" || h.Get("Authorization") != "Bearer tok" || h.Get(HeaderDelivery) == "" {
		t.Errorf("headers %v", h)
	}
	if strings.Contains(string(rec.bodies[0]), string(secret)) {
		t.Error("the body carries the signing secret")
	}
}

func TestNotifyRetries(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		retries  int
		posts    int
		ok       bool
	}{
		{"a 500 then success", []int{500, 503, 204}, 3, 3, true},
		{"a 429 then success", []int{429, 200}, 3, 2, true},
		{"a 400 is final", []int{400}, 3, 1, false},
		{"a 401 is final", []int{401}, 3, 1, false},
		{"retries run out", []int{500}, 2, 3, false},
		{"no retries", []int{502, 204}, 0, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &receiver{statuses: tt.statuses}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			n := newNotifier(t, srv.URL, WithRetries(tt.retries))
			err := n.Notify(context.Background(), note())
			if (err == nil) != tt.ok || rec.posts() != tt.posts {
				t.Fatalf("err %v after %d posts; want ok %v after %d", err, rec.posts(), tt.ok, tt.posts)
			}
			if err != nil && !errors.Is(err, ErrRejected) {
				t.Errorf("error %v does not match ErrRejected", err)
			}
			if rec.posts() > 1 && rec.headers[0].Get(HeaderDelivery) != rec.headers[len(rec.headers)-1].Get(HeaderDelivery) {
				t.Error("a retry carries another delivery id")
			}
		})
	}
}

func TestNewRefusesURLs(t *testing.T) {
	// S3CR3T marks what the errors must not quote: paths (a webhook's
	// secret, often) and passwords.
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://hooks.example.com/services/S3CR3T", true},
		{"http://127.0.0.1:8080/S3CR3T", true},
		{"http://localhost/S3CR3T", true},
		{"http://[::1]:9000/", true},
		{"http://hooks.example.com/S3CR3T", false},
		{"http://127.0.0.1.example.com/S3CR3T", false},
		{"http://10.0.0.1/S3CR3T", false},
		{"ftp://hooks.example.com/S3CR3T", false},
		{"https://user:S3CR3T@hooks.example.com/", false},
		{"https:///S3CR3T", false},
		{"hooks.example.com/S3CR3T", false},
		{"https://hooks.example.com/S3CR3T%zz", false},
	}
	for _, tt := range tests {
		_, err := New(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("New(%q): %v, want ok %v", tt.url, err, tt.ok)
		}
		if err != nil && strings.Contains(err.Error(), "S3CR3T") {
			t.Errorf("New(%q): the error %q quotes the URL's path or password", tt.url, err)
		}
	}
}

func TestErrorsCarryNoSecret(t *testing.T) {
	const token, auth = "T0KEN-IN-PATH", "Bearer HEADER-SECRET"
	rec := &receiver{statuses: []int{500}}
	srv := httptest.NewServer(rec)
	n := newNotifier(t, srv.URL+"/hooks/"+token+"?sig="+token, WithRetries(1), WithHeader("Authorization", auth))
	errRejected := n.Notify(context.Background(), note())
	srv.Close()
	errDown := n.Notify(context.Background(), note()) // nothing listens now
	redirect := httptest.NewServer(http.RedirectHandler("https://elsewhere.example.com/"+token, http.StatusFound))
	defer redirect.Close()
	errRedirected := newNotifier(t, redirect.URL+"/"+token).Notify(context.Background(), note())
	for name, err := range map[string]error{"rejected": errRejected, "receiver down": errDown, "redirected": errRedirected} {
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, token) || strings.Contains(msg, "HEADER-SECRET") {
			t.Errorf("%s: the error %q carries a secret", name, msg)
		}
	}
	if errRedirected != nil && !strings.Contains(errRedirected.Error(), "redirect") {
		t.Errorf("redirected: %v, want the redirect named", errRedirected)
	}
}

func TestNotifyOverTLS(t *testing.T) {
	rec := &receiver{}
	srv := httptest.NewTLSServer(rec)
	defer srv.Close()
	n := newNotifier(t, srv.URL, WithHTTPClient(srv.Client()))
	if err := n.Notify(context.Background(), note()); err != nil || rec.posts() != 1 {
		t.Fatalf("err %v, %d posts", err, rec.posts())
	}
}

func TestNotifyStopsWithContext(t *testing.T) {
	rec := &receiver{statuses: []int{500}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := newNotifier(t, srv.URL, WithRetries(5))
	if err := n.Notify(ctx, note()); !errors.Is(err, context.Canceled) || rec.posts() != 0 {
		t.Errorf("err %v after %d posts, want context.Canceled before any post", err, rec.posts())
	}
}

// brokenSource fails every read.
type brokenSource struct{}

func (brokenSource) Name() string { return "broken" }

func (brokenSource) Read(context.Context) (*source.Directory, error) {
	return nil, fmt.Errorf("broken: %w", source.ErrUnavailable)
}

// cycles is an Observer that hands each cycle report to a channel.
type cycles chan sync.CycleReport

func (cycles) ChangeDone(sync.ChangeEvent)    {}
func (c cycles) CycleDone(r sync.CycleReport) { c <- r }

func TestRunnerNotifiesTheWebhook(t *testing.T) {
	rec := &receiver{}
	hook := httptest.NewServer(rec)
	defer hook.Close()
	srv := netskopetest.New(t)
	tgt, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := sync.New(brokenSource{}, tgt)
	if err != nil {
		t.Fatal(err)
	}
	done := make(cycles, 4)
	run, err := sync.NewRunner(eng, sync.WithRunnerClock(clocktest.New(time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC))),
		sync.WithNotifier(newNotifier(t, hook.URL)), sync.WithObserver(done))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- run.Run(ctx) }()
	c := <-done
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if c.Outcome != sync.CycleFailed || rec.posts() != 1 {
		t.Fatalf("cycle %s, %d posts; want a failed cycle notified once", c.Outcome, rec.posts())
	}
	var got sync.Notification
	if err := json.Unmarshal(rec.bodies[0], &got); err != nil {
		t.Fatal(err)
	}
	if got.Kind != sync.NotifyQuarantined || got.Quarantine == nil || got.Quarantine.Reason != sync.ReasonSourceRead || got.Source != "broken" {
		t.Errorf("posted %+v, want the quarantine for the source read", got)
	}
	if strings.Contains(string(rec.bodies[0]), srv.Token()) {
		t.Error("the notification carries the target's token")
	}
}
