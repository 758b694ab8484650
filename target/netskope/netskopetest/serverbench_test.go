package netskopetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/provsync/provsync/scim"
)

// BenchmarkServerRequest measures the server's cost per request, over a
// loopback connection with a keep-alive client, for the requests an
// initial sync and a drift check make: POST /Users, POST /Groups with
// members, a PATCH adding members, a GET of 100 groups with their
// members and a GET of a 1000-user page.
//
//	go test -run '^$' -bench ServerRequest -benchmem ./target/netskope/netskopetest/
func BenchmarkServerRequest(b *testing.B) {
	do := func(b *testing.B, hc *http.Client, s *Server, method, path string, body []byte, want int) []byte {
		req, err := http.NewRequest(method, s.URL()+path, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+s.Token())
		req.Header.Set("Content-Type", scim.MediaType)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != want {
			b.Fatalf("%s %s: status %d, want %d: %s %v", method, path, resp.StatusCode, want, out, err)
		}
		return out
	}
	mustJSON := func(b *testing.B, v any) []byte {
		raw, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		return raw
	}
	benchUser := func(i int) scim.User {
		u := user(fmt.Sprintf("bench%07d@example.com", i))
		u.ExternalID = fmt.Sprintf("src-%07d", i)
		u.DisplayName = fmt.Sprintf("Bench User %07d", i)
		return u.WithSchemas()
	}

	b.Run("post-user", func(b *testing.B) {
		s := New(b)
		hc := &http.Client{}
		bodies := make([][]byte, b.N)
		for i := range bodies {
			bodies[i] = mustJSON(b, benchUser(i))
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			do(b, hc, s, http.MethodPost, "/Users", bodies[i], http.StatusCreated)
		}
	})

	// A server holding 2000 users, for the group requests.
	withUsers := func(b *testing.B) (*Server, []string) {
		s := New(b)
		ids := make([]string, 2000)
		for i := range ids {
			u, err := s.AddUser(benchUser(i))
			if err != nil {
				b.Fatal(err)
			}
			ids[i] = u.ID
		}
		return s, ids
	}
	members := func(ids []string, from, n int) []scim.Member {
		out := make([]scim.Member, n)
		for k := range out {
			out[k] = scim.Member{Value: ids[(from+k)%len(ids)]}
		}
		return out
	}

	b.Run("post-group-20-members", func(b *testing.B) {
		s, ids := withUsers(b)
		hc := &http.Client{}
		bodies := make([][]byte, b.N)
		for i := range bodies {
			g := scim.Group{DisplayName: fmt.Sprintf("Group %07d", i), ExternalID: fmt.Sprintf("g-%07d", i), Members: members(ids, i*20, 20)}
			bodies[i] = mustJSON(b, g.WithSchemas())
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			do(b, hc, s, http.MethodPost, "/Groups", bodies[i], http.StatusCreated)
		}
	})

	b.Run("patch-add-100-members", func(b *testing.B) {
		s, ids := withUsers(b)
		hc := &http.Client{}
		g, err := s.AddGroup(scim.Group{DisplayName: "Big"})
		if err != nil {
			b.Fatal(err)
		}
		bodies := make([][]byte, b.N)
		for i := range bodies {
			bodies[i] = mustJSON(b, scim.NewPatch(scim.PatchOperation{Op: "add", Path: "members", Value: members(ids, i*100, 100)}))
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			do(b, hc, s, http.MethodPatch, "/Groups/"+g.ID, bodies[i], http.StatusNoContent)
		}
	})

	b.Run("get-100-groups-200-members", func(b *testing.B) {
		s, ids := withUsers(b)
		hc := &http.Client{}
		for i := 0; i < 100; i++ {
			if _, err := s.AddGroup(scim.Group{DisplayName: fmt.Sprintf("Group %03d", i), Members: members(ids, i*200, 200)}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			do(b, hc, s, http.MethodGet, "/Groups?attributes=members&count=100", nil, http.StatusOK)
		}
	})

	b.Run("get-1000-users", func(b *testing.B) {
		s, _ := withUsers(b)
		hc := &http.Client{}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			do(b, hc, s, http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=1000", 1+(i%2)*1000), nil, http.StatusOK)
		}
	})
}

// discardWriter is a ResponseWriter that keeps the status and headers
// and drops the body, for measuring the handler alone.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkHandlerCreateUser measures the server's own cost of a POST
// /Users of the shape a sync sends, without net/http's connection
// handling: the handler is called directly.
//
//	go test -run '^$' -bench HandlerCreateUser -benchmem ./target/netskope/netskopetest/
func BenchmarkHandlerCreateUser(b *testing.B) {
	s := New(b)
	h := s.Handler()
	reqs := make([]*http.Request, b.N)
	for i := range reqs {
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"externalId":"7496ad38-1f1c-41c1-8fb5-%012d","userName":"user%07d@example.com","name":{"familyName":"Sato","givenName":"Hanako"},"displayName":"Hanako Sato %d","active":true,"emails":[{"value":"user%07d@example.com","type":"work","primary":true}]}`, i, i, i, i)
		r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1"+BasePath+"/Users", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+s.Token())
		r.Header.Set("Content-Type", scim.MediaType)
		reqs[i] = r
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, reqs[i])
		if w.status != http.StatusCreated {
			b.Fatalf("status %d", w.status)
		}
	}
}
