package netskope_test

import (
	"context"
	"flag"
	"sync"
	"testing"
	"time"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

var pacingTime = flag.Duration("pacing-time", time.Minute, "wall time of each BenchmarkPacing run")

// BenchmarkPacing runs a client with default options against the embedded
// server over loopback for -pacing-time (a minute by default) in each of
// three server behaviours: a limit of 20 and of 7 requests a second with
// rate headers, and 20 a second with none. Four callers read a user back
// to back. It reports the share of the allowed rate used (requests the
// server accepted over rps × time; the server's bucket starts full, so a
// client could reach 1 + 1/time-in-seconds), the 429s of the whole run and
// per minute over its second half, and the client's rate at the end.
//
//	go test ./target/netskope -run '^$' -bench Pacing -benchtime 1x
func BenchmarkPacing(b *testing.B) {
	for _, bc := range []struct {
		name    string
		rps     float64
		headers bool
	}{
		{"20rps", 20, true},
		{"7rps", 7, true},
		{"20rps-no-headers", 20, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			opts := []netskopetest.Option{netskopetest.WithRateLimit(bc.rps, 0)}
			if !bc.headers {
				opts = append(opts, netskopetest.WithoutRateHeaders())
			}
			var share, limited, lateRate, rate float64
			for b.Loop() {
				share, limited, lateRate, rate = runPacing(b, bc.rps, opts)
			}
			b.ReportMetric(share, "share")
			b.ReportMetric(limited, "429s")
			b.ReportMetric(lateRate, "429s/min-2nd-half")
			b.ReportMetric(rate, "rps-at-end")
		})
	}
}

func runPacing(b *testing.B, rps float64, opts []netskopetest.Option) (share, limited, late429PerMin, rate float64) {
	srv := netskopetest.New(b, opts...)
	u, err := srv.AddUser(scim.User{UserName: "pace@example.com"})
	if err != nil {
		b.Fatal(err)
	}
	c, err := netskope.New(srv.URL(), srv.Token())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(b.Context(), *pacingTime)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				_, _ = c.GetUser(ctx, u.ID) // a 429 after the retries is counted by the server
			}
		}()
	}
	half := time.NewTimer(*pacingTime / 2)
	var mid netskopetest.Stats
	select {
	case <-half.C:
		mid = srv.Stats()
	case <-ctx.Done():
	}
	wg.Wait()
	elapsed := time.Since(start)
	st := srv.Stats()
	accepted := float64(st.Requests - st.RateLimited)
	share = accepted / (rps * elapsed.Seconds())
	late := float64(st.RateLimited - mid.RateLimited)
	return share, float64(st.RateLimited), late / (elapsed / 2).Minutes(), c.Stats().Rate
}
