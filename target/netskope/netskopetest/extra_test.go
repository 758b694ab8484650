package netskopetest

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/scim"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestLocationHeader(t *testing.T) {
	s := New(t)
	c := newClient(t, s)
	r := c.must(http.StatusCreated, http.MethodPost, "/Users", user("loc").WithSchemas())
	var u scim.User
	r.decode(t, &u)
	if got, want := r.header.Get("Location"), s.URL()+"/Users/"+u.ID; got != want {
		t.Errorf("Location %q, want %q", got, want)
	}
	// The Location can be read back.
	c.must(http.StatusOK, http.MethodGet, r.header.Get("Location"), nil)
}

func TestCloseCutsLatencyShort(t *testing.T) {
	s := NewServer(WithFaults(Faults{Latency: time.Minute}))
	c := newClient(t, s)
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, s.URL()+"/Users", nil)
		req.Header.Set("Authorization", "Bearer "+s.Token())
		resp, err := c.hc.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	for s.Stats().Requests == 0 { // the request is in the handler, in or before its latency
		runtime.Gosched()
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not cut the injected latency short")
	}
	if code := <-done; code != 0 && code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503 or a closed connection", code)
	}
}

func TestLogger(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	s := New(t, WithLogger(zap.New(core)), WithToken("very-secret-token"))
	c := newClient(t, s)
	c.createUser(user("logged@example.com"))
	c.listUsers(filterQuery(t, scim.Eq("userName", "logged@example.com")))
	entries := logs.All()
	if len(entries) != 2 {
		t.Fatalf("%d log entries, want one per request", len(entries))
	}
	if f := entries[0].ContextMap(); f["method"] != "POST" || f["endpoint"] != EndpointUsers || f["status"] != int64(201) {
		t.Errorf("log fields %v", f)
	}
	for _, e := range entries {
		if line := fmt.Sprint(e.Message, e.ContextMap()); strings.Contains(line, "very-secret-token") || strings.Contains(line, "logged@") {
			t.Errorf("log line %q holds the token or personal data", line)
		}
	}
}

func TestFixItemsPerPage(t *testing.T) {
	tests := []struct {
		name, in, want string
		n              int
	}{
		{"elimity's shape", `{"Resources":[{"userName":"a"}],"itemsPerPage":100,"schemas":["x"],"startIndex":1,"totalResults":1}`,
			`{"Resources":[{"userName":"a"}],"itemsPerPage":1,"schemas":["x"],"startIndex":1,"totalResults":1}`, 1},
		{"last key", `{"Resources":[],"itemsPerPage":7}`, `{"Resources":[],"itemsPerPage":0}`, 0},
		{"value that looks like the key", `{"Resources":[{"userName":"\"itemsPerPage\":5"}],"itemsPerPage":9,"startIndex":1}`,
			`{"Resources":[{"userName":"\"itemsPerPage\":5"}],"itemsPerPage":1,"startIndex":1}`, 1},
		{"fallback", `{"itemsPerPage": 9 ,"Resources":[]}`, `{"Resources":[],"itemsPerPage":0}`, 0},
		{"not JSON", `oops`, `oops`, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(fixItemsPerPage([]byte(tt.in), tt.n)); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
