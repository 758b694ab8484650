package httpx

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/source/retry"
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://acme.onelogin.com", true}, {"http://127.0.0.1:8080", true}, {"http://[::1]:80/", true},
		{"http://localhost/", true}, {"http://acme.onelogin.com", false}, {"ftp://x", false}, {"https://", false}, {"::", false},
	}
	for _, tt := range tests {
		if err := CheckURL(tt.url); (err == nil) != tt.ok {
			t.Errorf("CheckURL(%q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
}

func TestTransient(t *testing.T) {
	if !Transient(io.ErrUnexpectedEOF) || Transient(errors.New("HTTP 400")) {
		t.Error("Transient misjudges")
	}
}

func TestRetrier(t *testing.T) {
	r := Retrier{Name: "test", Policy: retry.Policy{MaxRetries: 3, Backoff: time.Millisecond}}
	final := func(err error) error { return errors.Join(errors.New("final"), err) }
	boom := errors.New("boom")
	tests := []struct {
		name     string
		failures int  // attempts that fail before one succeeds
		retry    bool // whether failures are retryable
		tries    int
		final    bool
	}{
		{"success at once", 0, true, 1, false},
		{"success on the last retry", 3, true, 4, false},
		{"retries spent", 10, true, 4, true},
		{"not retryable", 10, false, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tries, befores := 0, 0
			err := r.Do(context.Background(), "x", func(context.Context) error { befores++; return nil },
				func(context.Context) (bool, time.Duration, error) {
					tries++
					if tries <= tt.failures {
						return tt.retry, 0, boom
					}
					return false, 0, nil
				}, final)
			if tries != tt.tries || befores != tt.tries {
				t.Errorf("%d tries, %d waits, want %d", tries, befores, tt.tries)
			}
			if got := err != nil && strings.HasPrefix(err.Error(), "final"); got != tt.final || (tt.final && !errors.Is(err, boom)) {
				t.Errorf("err %v, want final=%v", err, tt.final)
			}
		})
	}
	limit := errors.New("rate limiter")
	if err := r.Do(context.Background(), "x", func(context.Context) error { return limit },
		func(context.Context) (bool, time.Duration, error) { t.Fatal("tried"); return false, 0, nil }, final); err != limit {
		t.Errorf("before's error: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err := r.Do(ctx, "x", nil, func(context.Context) (bool, time.Duration, error) { cancel(); return true, 0, boom }, final)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
