package netskopetest

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	escim "github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	"go.uber.org/zap"

	"github.com/provsync/provsync/scim"
)

// BasePath is the path of the SCIM base URL, as on a Netskope tenant.
const BasePath = "/api/v2/scim"

// Server is an in-memory Netskope-compatible SCIM server. Create it with
// NewServer, New or NewUnstartedServer; it is safe for concurrent use.
type Server struct {
	token      string
	maxPage    int
	errorStyle ErrorStyle
	log        *zap.Logger
	// noListMembers: group lists never carry members (WithoutListMembers).
	noListMembers bool
	// noEmptyMembers: groups without members are read without the
	// attribute (WithoutEmptyMembers).
	noEmptyMembers bool
	// oneGroupOp: a group PATCH of several operations is refused
	// (WithOneGroupPatchOperation).
	oneGroupOp bool
	quirks     FilterQuirks
	lie        atomic.Int32 // a ListLie

	scim   escim.Server
	store  *store
	bucket *bucket // nil: no rate limit
	// noRateHeaders: the rate limit answers without RateLimit-* and
	// Retry-After (WithoutRateHeaders).
	noRateHeaders bool
	faults        faultGen
	stats         statsCounter
	// viaElimity sends every request through elimity's handler, as
	// before the direct paths (direct.go); tests compare the two.
	viaElimity atomic.Bool
	bufs       sync.Pool // *[]byte response buffers of the direct paths

	mu      sync.Mutex // guards the fields below
	srv     *http.Server
	url     string
	closed  bool
	serving sync.WaitGroup
	closing chan struct{} // closed by Close; ends injected latency
}

// NewServer starts a server on a random port of 127.0.0.1, like
// httptest.NewServer. Call Close when done.
func NewServer(opts ...Option) *Server {
	s := NewUnstartedServer(opts...)
	s.Start()
	return s
}

// New starts a server for a test or benchmark and closes it when tb ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := NewServer(opts...)
	tb.Cleanup(s.Close)
	return s
}

// NewUnstartedServer returns a server that does not listen yet: serve its
// Handler yourself, or call Start.
func NewUnstartedServer(opts ...Option) *Server {
	cfg := config{maxPage: DefaultMaxPageSize, log: zap.NewNop()}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.token == "" {
		cfg.token = randomToken()
	}
	if cfg.maxPage < 1 {
		cfg.maxPage = DefaultMaxPageSize
	}
	s := &Server{
		token:      cfg.token,
		maxPage:    cfg.maxPage,
		errorStyle: cfg.errorStyle,
		log:        cfg.log,
		closing:    make(chan struct{}),

		noListMembers:  cfg.noListMembers,
		noEmptyMembers: cfg.noEmptyMembers,
		oneGroupOp:     cfg.oneGroupOp,
		quirks:         cfg.quirks,
		noRateHeaders:  cfg.noRateHeaders,
	}
	s.SetListLie(cfg.lie)
	s.store = newStore()
	if cfg.rps > 0 {
		s.bucket = newBucket(cfg.rps, cfg.burst)
	}
	s.faults.set(cfg.faults)
	s.stats.reset()

	sc, err := escim.NewServer(&escim.ServerArgs{
		ServiceProviderConfig: &escim.ServiceProviderConfig{
			MaxResults:       s.maxPage,
			SupportFiltering: true,
			SupportPatch:     true,
		},
		ResourceTypes: []escim.ResourceType{
			{
				ID:          optional.NewString("User"),
				Name:        "User",
				Description: optional.NewString("User Account"),
				Endpoint:    "/Users",
				Schema:      s.store.users.schema,
				SchemaExtensions: []escim.SchemaExtension{
					{Schema: s.store.enterprise},
				},
				Handler: resourceHandler{s: s, kind: kindUser},
			},
			{
				ID:          optional.NewString("Group"),
				Name:        "Group",
				Description: optional.NewString("Group"),
				Endpoint:    "/Groups",
				Schema:      s.store.groups.schema,
				Handler:     resourceHandler{s: s, kind: kindGroup},
			},
		},
	}, escim.WithLogger(elimityLogger{s.log}))
	if err != nil {
		// The arguments are constants of this package; this cannot happen.
		panic(fmt.Sprintf("netskopetest: %v", err))
	}
	s.scim = sc
	return s
}

// Start starts listening on a random port of 127.0.0.1 (or [::1]) and
// serving. It panics if no port can be had or if the server was started or
// closed before, as httptest does.
func (s *Server) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil || s.closed {
		panic("netskopetest: Start called twice or after Close")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if ln, err = net.Listen("tcp6", "[::1]:0"); err != nil {
			panic(fmt.Sprintf("netskopetest: failed to listen on a port: %v", err))
		}
	}
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.url = "http://" + ln.Addr().String() + BasePath
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("netskopetest: serve", zap.Error(err))
		}
	}()
}

// URL returns the SCIM base URL, such as http://127.0.0.1:41234/api/v2/scim,
// or "" if the server was not started.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Token returns the API token the server accepts.
func (s *Server) Token() string { return s.token }

// Handler returns the server's HTTP handler. It serves BasePath and answers
// every other path with the gateway's 404, so it can be mounted at the root
// of any http.Server.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Close stops the server, if started, and waits for its requests to end;
// pending injected latency is cut short. Close may be called more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.closing)
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return
	}
	// A short grace: connections a cancelled client opened but never used
	// would otherwise hold Shutdown for its full five-second wait.
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
	}
	s.serving.Wait()
}

// SetFaults replaces the fault injection settings while the server runs.
func (s *Server) SetFaults(f Faults) { s.faults.set(f) }

// ThrottleNext makes the server answer its next n authorized requests
// with 429 and "Retry-After: 0", before anything is processed: a
// deterministic way to check that a client waits and retries.
func (s *Server) ThrottleNext(n int) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.throttle = max(0, n)
}

// Stats returns a copy of the request counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// ResetStats sets every request counter back to zero.
func (s *Server) ResetStats() { s.stats.reset() }

// randomToken returns 32 random bytes in hex.
func randomToken() string {
	var b [32]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// idKey is the key of a resource in table.byID: the 16 bytes of its id,
// a UUID as newID writes it. A key of fixed size, held in the map's own
// slots, spares each lookup (a million of them as a sync adds members)
// the hash of 36 characters and a read of the id's text elsewhere in
// memory to compare it.
type idKey [16]byte

// keyOf returns the key of id if id is a UUID as newID writes it: 36
// characters, lower-case hexadecimal digits with hyphens at 8, 13, 18
// and 23. Any other string names no resource (the ids the server gives
// are compared case-exactly, so an upper-case digit is another id).
func keyOf(id string) (idKey, bool) {
	k, ok := scim.ParseUUID(id)
	return idKey(k), ok
}

// newID returns a random (version 4) UUID and its key.
func newID() (string, idKey) {
	var b [16]byte
	_, _ = crand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	return string(scim.AppendUUID(out[:0], b)), b
}

// elimityLogger passes elimity's internal errors (marshalling, writing) to
// zap with their message only, as their arguments may hold resources.
type elimityLogger struct{ log *zap.Logger }

func (l elimityLogger) Error(args ...interface{}) {
	msg := "elimity scim error"
	if len(args) > 0 {
		if s, ok := args[0].(string); ok {
			msg = s
		}
	}
	l.log.Warn("netskopetest: "+msg, zap.Int("args", len(args)))
}

// userSchema is elimity's core User schema plus the common attributes id
// (read-only) and externalId, so that filters may name them.
func userSchema() schema.Schema { return withCommon(schema.CoreUserSchema()) }

// groupSchema is elimity's core Group schema plus id and externalId.
func groupSchema() schema.Schema { return withCommon(schema.CoreGroupSchema()) }

// withCommon adds id and externalId to s. The attribute slice is clipped
// to its length: elimity appends externalId to it on every request
// (ResourceType.schemaWithCommon), and spare capacity would make those
// concurrent appends write to one shared array.
func withCommon(s schema.Schema) schema.Schema {
	s.Attributes = slices.Clip(append(s.Attributes, commonAttributes()...))
	return s
}

func commonAttributes() []schema.CoreAttribute {
	return []schema.CoreAttribute{
		schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
			CaseExact:  true,
			Mutability: schema.AttributeMutabilityReadOnly(),
			Name:       "id",
			Returned:   schema.AttributeReturnedAlways(),
			Uniqueness: schema.AttributeUniquenessServer(),
		})),
		schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
			CaseExact:  true,
			Mutability: schema.AttributeMutabilityReadWrite(),
			Name:       "externalId",
			Uniqueness: schema.AttributeUniquenessNone(),
		})),
	}
}
