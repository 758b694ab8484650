package httpx

import (
	"errors"
	"io"
	"net/http"
	"testing"
	"time"
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

func TestRetryAfterAndBackoff(t *testing.T) {
	h := http.Header{}
	if RetryAfter(h, time.Minute) != 0 {
		t.Error("no header")
	}
	h.Set("Retry-After", "7")
	if got := RetryAfter(h, time.Minute); got != 7*time.Second {
		t.Errorf("seconds: %v", got)
	}
	h.Set("Retry-After", "7200")
	if got := RetryAfter(h, time.Minute); got != time.Minute {
		t.Errorf("capped: %v", got)
	}
	h.Set("Retry-After", time.Now().Add(30*time.Second).UTC().Format(http.TimeFormat))
	if got := RetryAfter(h, time.Minute); got < 20*time.Second || got > 31*time.Second {
		t.Errorf("date: %v", got)
	}
	for attempt := range 40 {
		if d := Backoff(attempt, time.Second, time.Minute); d < 0 || d > time.Minute || (attempt == 0 && d > time.Second) {
			t.Errorf("Backoff(%d) = %v", attempt, d)
		}
	}
	if !Transient(io.ErrUnexpectedEOF) || Transient(errors.New("HTTP 400")) {
		t.Error("Transient misjudges")
	}
}
