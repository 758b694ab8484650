package netskope

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/target"
)

// TestWriteGuard: the client calls the context's write guard right before
// each write request it sends, every retry and every chunk included, and
// after its wait for a turn; a guard that fails stops the call before
// that request, and reads never call it.
func TestWriteGuard(t *testing.T) {
	errLost := errors.New("lost the lead")
	tests := []struct {
		name     string
		opts     []Option
		allow    int                                        // guard calls that pass; the next fails
		call     func(ctx context.Context, c *Client) error // the write
		status   func(n int) int                            // the server's answer to request n
		wantSent int                                        // requests the server receives
		wantErr  bool                                       // the call fails with the guard's error
		wantLog  []string                                   // sleeps and guard calls, in order
	}{
		{
			name:  "a retry is guarded",
			opts:  []Option{noLimit()},
			allow: 9,
			call: func(ctx context.Context, c *Client) error {
				return c.PatchUser(ctx, "u-1", scim.Replace(scim.PathActive, false))
			},
			status:   func(n int) int { return map[bool]int{true: 429, false: 204}[n == 1] },
			wantSent: 2,
			wantLog:  []string{"guard", "sleep", "guard"},
		},
		{
			name:  "a refused retry is not sent",
			opts:  []Option{noLimit()},
			allow: 1,
			call: func(ctx context.Context, c *Client) error {
				return c.DeleteUser(ctx, "u-1")
			},
			status:   func(n int) int { return map[bool]int{true: 503, false: 204}[n == 1] },
			wantSent: 1,
			wantErr:  true,
			wantLog:  []string{"guard", "sleep", "guard"},
		},
		{
			name:  "each chunk of members is guarded",
			opts:  []Option{noLimit(), WithMemberChunkSize(2)},
			allow: 2,
			call: func(ctx context.Context, c *Client) error {
				return c.AddMembers(ctx, "g-1", []string{"u-1", "u-2", "u-3", "u-4", "u-5"})
			},
			status:   func(int) int { return 204 },
			wantSent: 2,
			wantErr:  true,
			wantLog:  []string{"guard", "guard", "guard"},
		},
		{
			name:  "the guard runs after the wait for a turn",
			opts:  []Option{WithRateLimit(1, 1)},
			allow: 9,
			call: func(ctx context.Context, c *Client) error {
				for _, id := range []string{"u-1", "u-2"} {
					if err := c.PatchUser(ctx, id, scim.Replace(scim.PathActive, false)); err != nil {
						return err
					}
				}
				return nil
			},
			status:   func(int) int { return 204 },
			wantSent: 2,
			wantLog:  []string{"guard", "sleep", "guard"}, // not guard, guard, sleep
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if s := tc.status(n); s != 204 {
					w.Header().Set("Retry-After", "1")
					writeJSON(w, s, scimError(s, "", "try later"))
					return
				}
				w.WriteHeader(http.StatusNoContent)
			})
			c, fc := newTestClient(t, srv.URL, tc.opts...)
			var mu sync.Mutex
			var events []string
			calls := 0
			fc.onSleep = func(context.Context, time.Duration) error {
				mu.Lock()
				defer mu.Unlock()
				events = append(events, "sleep")
				return nil
			}
			ctx := target.WithWriteGuard(context.Background(), func(context.Context) error {
				mu.Lock()
				defer mu.Unlock()
				events = append(events, "guard")
				if calls++; calls > tc.allow {
					return errLost
				}
				return nil
			})
			before := rec.count()
			err := tc.call(ctx, c)
			if got := rec.count() - before; got != tc.wantSent {
				t.Errorf("the server received %d write requests, want %d", got, tc.wantSent)
			}
			if tc.wantErr != errors.Is(err, errLost) {
				t.Errorf("error = %v; want the guard's error: %v", err, tc.wantErr)
			}
			var te *target.Error
			if tc.wantErr && !errors.As(err, &te) {
				t.Errorf("error %v is not a *target.Error naming the call", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(events, tc.wantLog) {
				t.Errorf("sleeps and guard calls: %v, want %v", events, tc.wantLog)
			}
			events = nil
			mu.Unlock()
			_, _ = c.GetUser(ctx, "u-1") // the server's 204 is no user: an error, after one request
			mu.Lock()
			if slices.Contains(events, "guard") {
				t.Errorf("a read called the write guard: %v", events)
			}
		})
	}
}
