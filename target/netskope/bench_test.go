package netskope

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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

// BenchmarkDecodePage decodes a page of 1,000 users as a Netskope tenant
// returns them, element by element as listings do now ("stream", handing
// each user on and keeping none), and into one slice as they did before
// ("slice"); allocs/op and B/op divided by 1,000 are per user.
//
//	go test -run '^$' -bench DecodePage -benchmem ./target/netskope/
func BenchmarkDecodePage(b *testing.B) {
	const n = 1000
	users := make([]scim.User, n)
	for i := range users {
		id := fmt.Sprintf("0f6c2a1e-7d4b-4c39-9a51-%012d", i)
		users[i] = scim.User{
			Schemas: []string{scim.SchemaUser, scim.SchemaEnterpriseUser}, ID: id,
			ExternalID: fmt.Sprintf("src-%06d", i), UserName: fmt.Sprintf("user%06d@example.com", i),
			Name:        &scim.Name{GivenName: "Given", FamilyName: fmt.Sprintf("Family%d", i)},
			DisplayName: fmt.Sprintf("Given Family%d", i), Title: "Engineer", Active: scim.Bool(i%7 != 0),
			Emails:     []scim.Email{{Value: fmt.Sprintf("user%06d@example.com", i), Type: "work", Primary: true}},
			Enterprise: &scim.EnterpriseUser{Department: "R&D", Manager: &scim.Manager{Value: "0f6c2a1e-7d4b-4c39-9a51-000000000001"}},
			Meta:       &scim.Meta{ResourceType: "User", Location: "https://tenant.goskope.com/api/v2/scim/Users/" + id},
		}
	}
	body, err := json.Marshal(map[string]any{
		"schemas": []string{scim.SchemaListResponse}, "totalResults": n, "itemsPerPage": n, "startIndex": 1, "Resources": users,
	})
	if err != nil {
		b.Fatal(err)
	}
	c, err := New("https://tenant.goskope.com/api/v2/scim", testToken)
	if err != nil {
		b.Fatal(err)
	}
	r := &request{op: "list users", method: http.MethodGet, path: pathUsers}
	res := &response{status: http.StatusOK, header: http.Header{}, body: body}
	b.Run("stream", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			got := 0
			h, err := decodePage(c, r, res, 1, func(_ int, u *scim.User) error {
				if u.ID != "" {
					got++
				}
				return nil
			})
			if err != nil || got != n || h.n != n {
				b.Fatalf("%d users, %v", got, err)
			}
		}
	})
	b.Run("slice", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var page struct {
				TotalResults *int        `json:"totalResults"`
				Resources    []scim.User `json:"Resources"`
			}
			if err := json.Unmarshal(body, &page); err != nil || len(page.Resources) != n {
				b.Fatalf("%d users, %v", len(page.Resources), err)
			}
		}
	})
}

// BenchmarkCreateUser creates users through a transport that answers in
// memory, as Netskope does (201, the user echoed with its id), so that
// B/op and allocs/op are the client's own per create, net/http's
// transport left out.
//
//	go test -run '^$' -bench CreateUser -benchmem ./target/netskope/
func BenchmarkCreateUser(b *testing.B) {
	c, u := inMemoryCreates(b)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.CreateUser(ctx, u); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCreateUserAllocations counts what BenchmarkCreateUser measures:
// the client's allocations per create, net/http's transport left out.
// The requests sent to the transport share their header maps (three
// allocations each before), the object's name ("userName=...") is
// made only for an error, and the /Users URL once per client (it was
// made for each request).
func TestCreateUserAllocations(t *testing.T) {
	c, u := inMemoryCreates(t)
	ctx := t.Context()
	n := testing.AllocsPerRun(200, func() {
		if _, err := c.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	})
	if n > 27 {
		t.Errorf("%v allocations a create, want at most 27", n)
	}
}

// inMemoryCreates returns a client whose transport answers in memory as
// Netskope does (201, the user echoed with its id), and a user to create.
func inMemoryCreates(tb testing.TB) (*Client, *scim.User) {
	answer := []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"0f6c2a1e-7d4b-4c39-9a51-000000000001",` +
		`"userName":"ann@example.com","name":{"givenName":"Ann","familyName":"Lee"},"active":true,` +
		`"emails":[{"value":"ann@example.com","type":"work","primary":true}],"meta":{"resourceType":"User"}}`)
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return nil, err
		}
		_ = r.Body.Close()
		return &http.Response{StatusCode: http.StatusCreated, Header: http.Header{"Content-Type": {scim.MediaType}},
			Body: io.NopCloser(bytes.NewReader(answer)), ContentLength: int64(len(answer)), Request: r}, nil
	})}
	c, err := New("https://tenant.goskope.com/api/v2/scim", testToken, WithRateLimit(0, 0), WithHTTPClient(hc))
	if err != nil {
		tb.Fatal(err)
	}
	return c, &scim.User{UserName: "ann@example.com", ExternalID: "src-000001", Name: &scim.Name{GivenName: "Ann", FamilyName: "Lee"},
		DisplayName: "Ann Lee", Active: scim.Bool(true), Emails: []scim.Email{{Value: "ann@example.com", Type: "work", Primary: true}}}
}
