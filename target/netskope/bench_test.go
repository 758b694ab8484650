package netskope

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/provsync/provsync/scim"
)

// BenchmarkListUsers10k lists 10,000 users from a local server that pages
// them, and reports the requests each listing takes.
//
//	go test -run '^$' -bench ListUsers10k -benchmem ./target/netskope/
func BenchmarkListUsers10k(b *testing.B) {
	const n = 10000
	users := makeUsers(n)
	for _, bc := range []struct {
		name      string
		pageSize  int
		serverMax int
	}{
		{"page=100", 100, 0},
		{"page=1000", 1000, 1000},
		{"page=1000/server-max=100", 1000, 100},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := &pager[scim.User]{items: users, max: bc.serverMax}
			srv := httptest.NewServer(http.HandlerFunc(p.serve))
			defer srv.Close()
			c, err := New(srv.URL, testToken, WithRateLimit(0, 0), WithPageSize(bc.pageSize))
			if err != nil {
				b.Fatal(err)
			}
			ctx := b.Context()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				got, err := c.ListUsers(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != n {
					b.Fatalf("%d users, want %d", len(got), n)
				}
			}
			b.StopTimer()
			st := c.Stats()
			b.ReportMetric(float64(st.Requests)/float64(b.N), "requests/op")
			b.ReportMetric(float64(st.Requests)/float64(b.N)/n, "requests/user")
		})
	}
}
