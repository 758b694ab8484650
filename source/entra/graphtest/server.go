package graphtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Server is a fake Microsoft Graph v1.0 service and a fake Entra token
// endpoint, in memory. Graph is served over plain HTTP on 127.0.0.1 (the
// kiota auth provider sends tokens to localhost over http); the token
// endpoint is served over TLS because azidentity accepts only https
// authority hosts; give AuthorityClient to the credential's transport.
type Server struct {
	mu     gosync.Mutex
	t      *tenant
	rnd    *mrand.Rand
	graph  *httptest.Server
	auth   *httptest.Server
	tokens map[string]bool

	tenantID, clientID, clientSecret, staticToken string

	deltaPage     int // items per delta page
	deltaMembers  int // members@delta entries per group object per page
	maxTop        int
	epoch         int // delta tokens of an older epoch are expired
	expiredStatus int
	expiredCode   string

	faults []*Fault
	stats  map[string]int
	total  int
	log    []string
	now    func() time.Time
}

// Option configures a Server.
type Option func(*Server)

// WithSeed makes the generated GUIDs reproducible. Default seed 1.
func WithSeed(seed uint64) Option {
	return func(s *Server) { s.rnd = mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
}

// WithDeltaPageSize sets how many objects one delta page carries
// (Graph ignores $top on delta). Default 100.
func WithDeltaPageSize(n int) Option { return func(s *Server) { s.deltaPage = n } }

// WithDeltaMembersPerObject splits a group whose members@delta is longer
// than n into several objects with the same id, as Graph does for big
// groups. Default 0: never split.
func WithDeltaMembersPerObject(n int) Option { return func(s *Server) { s.deltaMembers = n } }

// WithExpiredTokenResponse sets how an expired delta token is answered.
// Default 410 Gone with code "syncStateNotFound" and a Location header;
// 400 with "syncStateInvalid" is the other form seen in the field.
func WithExpiredTokenResponse(status int, code string) Option {
	return func(s *Server) { s.expiredStatus, s.expiredCode = status, code }
}

// NewServer starts a server with an empty tenant. Close it when done.
func NewServer(opts ...Option) *Server {
	s := &Server{
		t: newTenant(), tokens: map[string]bool{},
		deltaPage: 100, maxTop: 999, expiredStatus: http.StatusGone, expiredCode: "syncStateNotFound",
		stats: map[string]int{}, now: time.Now,
	}
	WithSeed(1)(s)
	for _, o := range opts {
		o(s)
	}
	s.tenantID = s.newGUID()
	s.clientID = s.newGUID()
	s.clientSecret = "fake~" + randomHex(16)
	s.staticToken = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0." + randomHex(24)
	s.tokens[s.staticToken] = true
	s.graph = httptest.NewServer(http.HandlerFunc(s.serveGraph))
	s.auth = httptest.NewTLSServer(http.HandlerFunc(s.serveAuth))
	return s
}

// New starts a server that tb closes at cleanup.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := NewServer(opts...)
	tb.Cleanup(s.Close)
	return s
}

// Close shuts both listeners down.
func (s *Server) Close() {
	s.graph.Close()
	s.auth.Close()
}

// URL returns the Graph base URL, version included: http://127.0.0.1:port/v1.0.
func (s *Server) URL() string { return s.graph.URL + "/v1.0" }

// AuthorityHost returns the token endpoint's authority host,
// https://127.0.0.1:port/, for azidentity's cloud configuration.
func (s *Server) AuthorityHost() string { return s.auth.URL + "/" }

// AuthorityClient returns an HTTP client that trusts the token endpoint's
// test certificate.
func (s *Server) AuthorityClient() *http.Client { return s.auth.Client() }

// TenantID, ClientID and ClientSecret are the app registration the token
// endpoint accepts (client credentials grant).
func (s *Server) TenantID() string     { return s.tenantID }
func (s *Server) ClientID() string     { return s.clientID }
func (s *Server) ClientSecret() string { return s.clientSecret }

// Credential returns an azcore.TokenCredential that hands out a token the
// Graph endpoint accepts, without calling the token endpoint.
func (s *Server) Credential() azcore.TokenCredential { return staticCredential{token: s.staticToken} }

type staticCredential struct{ token string }

func (c staticCredential) GetToken(ctx context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if err := ctx.Err(); err != nil {
		return azcore.AccessToken{}, err
	}
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// NewID returns a new random-looking but reproducible GUID.
func (s *Server) NewID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newGUID()
}

func (s *Server) newGUID() string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := s.rnd.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Fault makes matching requests fail. Requests are matched by Route (a
// route name such as RouteAppRoleAssignedTo; "" matches every Graph
// route) and Page (1-based page of a paged collection; 0 = any page).
type Fault struct {
	Route string
	Page  int
	// Status and Code form the answer, with a Graph error body.
	Status int
	Code   string
	// RetryAfter, when not empty, is sent as the Retry-After header.
	RetryAfter string
	// Times is how many requests fail; below 1 means every one.
	Times int
	// Every, when above 1, fails only every Every-th matching request
	// (the Every-th, the 2*Every-th, ...): a deterministic fault rate of
	// 1/Every.
	Every int
	hits  int
	seen  int
}

// InjectFault adds f; faults are tried in the order added.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Throttle answers the next n requests to route ("" = any) with 429
// TooManyRequests and Retry-After: retryAfter seconds.
func (s *Server) Throttle(route string, n, retryAfter int) {
	s.InjectFault(Fault{Route: route, Status: http.StatusTooManyRequests, Code: "TooManyRequests",
		RetryAfter: fmt.Sprint(retryAfter), Times: n})
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// ExpireDeltaTokens makes every delta token and delta skip token issued
// so far invalid, as a token older than seven days is.
func (s *Server) ExpireDeltaTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
}

// Requests returns how many Graph requests were received (token requests
// not included), including throttled and failed ones.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// RequestsTo returns how many requests route received.
func (s *Server) RequestsTo(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats[route]
}

// RequestLog returns "route GET /path?query" for every Graph request, in order.
func (s *Server) RequestLog() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

// ResetStats zeroes the request counters and the log.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats, s.total, s.log = map[string]int{}, 0, nil
}

// Routes, as counted by RequestsTo and matched by Fault.Route.
const (
	RouteToken              = "token"
	RouteServicePrincipal   = "servicePrincipal"
	RouteAppRoleAssignedTo  = "appRoleAssignedTo"
	RouteUsers              = "users"
	RouteUser               = "user"
	RouteUsersDelta         = "users.delta"
	RouteUsersCount         = "users.count"
	RouteMemberOf           = "memberOf"
	RouteTransitiveMemberOf = "transitiveMemberOf"
	RouteGroups             = "groups"
	RouteGroup              = "group"
	RouteGroupsDelta        = "groups.delta"
	RouteMembers            = "members"
	RouteTransitiveMembers  = "transitiveMembers"
)

func (s *Server) matchFault(route string, page int) *Fault {
	for _, f := range s.faults {
		if f.Route != "" && f.Route != route {
			continue
		}
		if f.Page != 0 && f.Page != page {
			continue
		}
		if f.Times > 0 && f.hits >= f.Times {
			continue
		}
		if f.Every > 1 {
			f.seen++
			if f.seen%f.Every != 0 {
				continue
			}
		}
		f.hits++
		return f
	}
	return nil
}

func (s *Server) validToken(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	return ok && s.tokens[tok]
}
