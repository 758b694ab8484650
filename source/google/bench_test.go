package google_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/googleapi"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/google"
	"github.com/provsync/provsync/source/google/directorytest"
)

// BenchmarkReadHeap reads 5,000 users with every attribute, 500 a page,
// and reports the live heap the read adds at its peak (peak-live-MB),
// measured after each page is converted: a read that holds every API
// user until it assembles the directory peaks with all of them, one that
// converts each page as it arrives with the converted users and a page.
// The fake server's own memory is in the baseline. Run with
//
//	go test ./source/google -run '^$' -bench ReadHeap -benchtime 3x
func BenchmarkReadHeap(b *testing.B) {
	srv := directorytest.New(b)
	for i := range 5000 {
		srv.AddUser(user(fmt.Sprintf("u%05d", i), inOU("/Sales"), func(u *admin.User) {
			u.Aliases = []string{fmt.Sprintf("alias%05d@example.com", i)}
			u.Emails = []any{map[string]any{"address": fmt.Sprintf("u%05d@example.net", i), "type": "home"}}
			u.Organizations = []any{map[string]any{"title": "Account Executive", "department": "Sales", "costCenter": "CC-7", "primary": true}}
			u.ExternalIds = []any{map[string]any{"value": fmt.Sprint("E-", i), "type": "organization"}}
			u.Relations = []any{map[string]any{"value": "boss@example.com", "type": "manager"}}
			u.Phones = []any{map[string]any{"value": "+1 555 0100", "type": "work"}, map[string]any{"value": "+1 555 0199", "type": "mobile"}}
			u.LastLoginTime = "2026-11-30T08:00:00.000Z"
			u.CustomSchemas = map[string]googleapi.RawMessage{"Netskope": googleapi.RawMessage(`{"tier":"gold","seats":3}`)}
		}))
	}
	for _, bc := range []struct {
		name string
		read func(context.Context, *google.Source) (*source.Directory, error)
	}{
		{"Read", func(ctx context.Context, s *google.Source) (*source.Directory, error) { return s.Read(ctx) }},
		{"ReadAttributes-none", func(ctx context.Context, s *google.Source) (*source.Directory, error) {
			return s.ReadAttributes(ctx, nil)
		}},
		{"ReadAttributes-department", func(ctx context.Context, s *google.Source) (*source.Directory, error) {
			return s.ReadAttributes(ctx, []string{"department"})
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			src := open(b, srv, func(c *google.Config) { c.CustomSchemas = []string{"Netskope"}; c.Groups = google.GroupsNone })
			var ms runtime.MemStats
			live := func() uint64 { runtime.GC(); runtime.ReadMemStats(&ms); return ms.HeapAlloc }
			var peak, base uint64
			google.SetPageHook(src, func() { peak = max(peak, live()) })
			var total float64
			for b.Loop() {
				base, peak = live(), 0
				dir, err := bc.read(context.Background(), src)
				if err != nil || len(dir.Users) != 5000 {
					b.Fatalf("read %v users: %v", dir, err)
				}
				if peak > base {
					total += float64(peak - base)
				}
			}
			b.ReportMetric(total/float64(b.N)/(1<<20), "peak-live-MB")
		})
	}
}
