package netskopetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/provsync/provsync/scim"
)

// BenchmarkListUsers lists 10,000 users in pages of 1000: one op is the
// whole listing (10 requests). "handler" calls the handler in process;
// "http" goes over a loopback connection, as a client would.
//
//	go test -run '^$' -bench ListUsers -benchmem ./target/netskope/netskopetest/
func BenchmarkListUsers(b *testing.B) {
	const total, page = 10000, 1000
	s := New(b)
	for i := 0; i < total; i++ {
		u := user(fmt.Sprintf("bench%05d@example.com", i))
		u.ExternalID = fmt.Sprintf("src-%05d", i)
		u.Enterprise = &scim.EnterpriseUser{Department: "Dept", EmployeeNumber: fmt.Sprint(i)}
		if _, err := s.AddUser(u); err != nil {
			b.Fatal(err)
		}
	}
	check := func(b *testing.B, body []byte, start int) {
		var lr scim.ListResponse[scim.User]
		if err := json.Unmarshal(body, &lr); err != nil {
			b.Fatal(err)
		}
		if lr.TotalResults != total || len(lr.Resources) != page || lr.ItemsPerPage != page ||
			lr.Resources[0].UserName != fmt.Sprintf("bench%05d@example.com", start-1) {
			b.Fatalf("page at %d: total %d, %d resources", start, lr.TotalResults, len(lr.Resources))
		}
	}

	b.Run("handler", func(b *testing.B) {
		h := s.Handler()
		get := func(start int) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodGet, fmt.Sprintf("http://x%s/Users?startIndex=%d&count=%d", BasePath, start, page), nil)
			req.Header.Set("Authorization", "Bearer "+s.Token())
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec
		}
		check(b, get(5001).Body.Bytes(), 5001)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for start := 1; start <= total; start += page {
				if rec := get(start); rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		}
		b.ReportMetric(float64(total/page), "requests/op")
	})

	b.Run("http", func(b *testing.B) {
		hc := &http.Client{}
		get := func(start int) []byte {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/Users?startIndex=%d&count=%d", s.URL(), start, page), nil)
			req.Header.Set("Authorization", "Bearer "+s.Token())
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d: %v", resp.StatusCode, err)
			}
			return body
		}
		check(b, get(9001), 9001)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for start := 1; start <= total; start += page {
				get(start)
			}
		}
		b.ReportMetric(float64(total/page), "requests/op")
	})
}

// BenchmarkFilterUserName looks one user up by userName among 10,000, the
// lookup a sync does per object; it is answered from the index.
func BenchmarkFilterUserName(b *testing.B) {
	s := New(b)
	seedUsers(b, s, "f", 10000)
	h := s.Handler()
	q := filterQuery(b, scim.Eq("userName", "F05000"))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodGet, "http://x"+BasePath+"/Users"+q, nil)
		req.Header.Set("Authorization", "Bearer "+s.Token())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
