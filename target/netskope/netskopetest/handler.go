package netskopetest

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/provsync/provsync/scim"
	"go.uber.org/zap"
)

// Endpoint templates, as counted by Stats.
const (
	// EndpointUsers is the Users collection, /Users.
	EndpointUsers = "/Users"
	// EndpointUser is one user, /Users/{id}.
	EndpointUser = "/Users/{id}"
	// EndpointGroups is the Groups collection, /Groups.
	EndpointGroups = "/Groups"
	// EndpointGroup is one group, /Groups/{id}.
	EndpointGroup = "/Groups/{id}"
	// EndpointUnknown is any path or method the gateway has no route for.
	EndpointUnknown = "unknown"
)

// Media types of responses, as Netskope's REST API v2 overview gives them.
const (
	contentTypeSCIM  = "application/scim+json;charset=utf-8"
	contentTypeError = "application/json"
)

// Messages of the API gateway in front of Netskope's SCIM API.
const (
	msgNoRoute     = "no Route matched with those values"
	msgRateLimited = "API rate limit exceeded"
)

// maxBodyBytes bounds request bodies; a PATCH adding 5000 members is about
// 250 KB.
const maxBodyBytes = 32 << 20

// route is the result of matching a request against the gateway's routes.
type route struct {
	endpoint string // one of the Endpoint constants
	kind     kind
	id       string // "" for collections
}

// matchRoute maps a request to its endpoint. Only the methods SCIM defines
// for each endpoint have a route.
func matchRoute(method, path string) (route, bool) {
	rest, ok := strings.CutPrefix(path, BasePath)
	if !ok || rest == "" || rest[0] != '/' {
		return route{endpoint: EndpointUnknown}, false
	}
	rest = rest[1:]
	res, id, hasID := strings.Cut(rest, "/")
	var rt route
	collection, one := EndpointUsers, EndpointUser
	switch res {
	case "Users":
		rt.kind = kindUser
	case "Groups":
		rt.kind = kindGroup
		collection, one = EndpointGroups, EndpointGroup
	default:
		return route{endpoint: EndpointUnknown}, false
	}
	unknown := route{endpoint: EndpointUnknown}
	if !hasID || id == "" {
		rt.endpoint = collection
		if method != http.MethodGet && method != http.MethodPost {
			return unknown, false
		}
		return rt, true
	}
	if strings.Contains(id, "/") {
		return unknown, false
	}
	rt.endpoint, rt.id = one, id
	switch method {
	case http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return rt, true
	}
	return unknown, false
}

// reqState carries what the resource handlers tell the middleware about
// one request.
type reqState struct {
	listed  int    // resources returned by a list
	created string // id of the resource a POST created
}

type stateKey struct{}

func stateFrom(ctx context.Context) *reqState {
	if st, ok := ctx.Value(stateKey{}).(*reqState); ok {
		return st
	}
	return &reqState{}
}

// statusWriter records the status a handler wrote, for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// serveHTTP is the gateway: route, latency, authentication, rate limit,
// faults, then elimity's SCIM handler with Netskope's answers put back.
func (s *Server) serveHTTP(rw http.ResponseWriter, r *http.Request) {
	w := &statusWriter{ResponseWriter: rw}
	rt, ok := matchRoute(r.Method, r.URL.Path)
	s.stats.request(r.Method, rt.endpoint)
	if s.log.Core().Enabled(zap.DebugLevel) {
		// Only then: the closure and its fields cost an allocation or
		// two on every request.
		start := time.Now()
		defer func() {
			s.log.Debug("netskopetest: request",
				zap.String("method", r.Method),
				zap.String("endpoint", rt.endpoint),
				zap.Int("status", w.status),
				zap.Duration("duration", time.Since(start)))
		}()
	}

	f := s.faults.current()
	if f.Latency > 0 && !s.sleep(r.Context(), f.Latency) {
		s.writeError(w, http.StatusServiceUnavailable, "", "server closing")
		return
	}
	if !ok {
		writeMessage(w, http.StatusNotFound, msgNoRoute)
		return
	}
	if !s.authorized(r) {
		s.stats.unauthorized()
		w.Header().Set("WWW-Authenticate", `Bearer realm="netskope"`)
		s.writeError(w, http.StatusUnauthorized, "", "missing or invalid API token")
		return
	}
	if s.bucket != nil {
		d := s.bucket.take(time.Now())
		h := w.Header()
		if !s.noRateHeaders {
			h.Set("RateLimit-Limit", strconv.Itoa(d.limit))
			h.Set("RateLimit-Remaining", strconv.Itoa(d.remaining))
			h.Set("RateLimit-Reset", strconv.Itoa(d.reset))
		}
		if !d.ok {
			s.stats.rateLimited()
			if !s.noRateHeaders {
				h.Set("Retry-After", strconv.Itoa(d.retryAfter))
			}
			writeMessage(w, http.StatusTooManyRequests, msgRateLimited)
			return
		}
	}
	switch fault, retryAfter := s.faults.draw(); fault {
	case http.StatusTooManyRequests:
		s.stats.fault(fault)
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		writeMessage(w, http.StatusTooManyRequests, msgRateLimited)
		return
	case http.StatusInternalServerError:
		s.stats.fault(fault)
		s.writeError(w, http.StatusInternalServerError, "", "injected fault")
		return
	}
	s.serveSCIM(w, r, rt)
}

// sleep waits d, or until the request is cancelled or the server closes;
// it reports whether the whole wait went by.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closing:
		return false
	}
}

// authorized accepts "Authorization: Bearer <token>" (scheme in any case)
// or "Netskope-Api-Token: <token>".
func (s *Server) authorized(r *http.Request) bool {
	if tok := r.Header.Get("Netskope-Api-Token"); tok != "" && s.tokenIs(tok) {
		return true
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && s.tokenIs(strings.TrimSpace(tok))
}

func (s *Server) tokenIs(tok string) bool {
	return subtle.ConstantTimeCompare([]byte(tok), []byte(s.token)) == 1
}

// serveSCIM hands the request to elimity under its own paths (/Users,
// /Users/{id}, ...), with the request body normalised, then writes its
// answer with Netskope's status codes, media types and error style.
func (s *Server) serveSCIM(w http.ResponseWriter, r *http.Request, rt route) {
	var body []byte
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		buf := s.getBuf()
		defer s.putBuf(buf)
		var err error
		*buf, err = readBody(*buf, http.MaxBytesReader(w, r.Body, maxBodyBytes), r.ContentLength)
		body = *buf
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				s.writeError(w, http.StatusRequestEntityTooLarge, "", "request body too large")
				return
			}
			s.writeError(w, http.StatusBadRequest, scim.ScimTypeInvalidSyntax, "could not read the request body")
			return
		}
		if s.groupOpsRefused(r.Method, rt.kind, body) {
			s.writeError(w, http.StatusBadRequest, scim.ScimTypeInvalidSyntax, "a group PATCH may carry one operation")
			return
		}
		if r.Method == http.MethodPost && s.faults.failsCreate(rt.kind == kindUser, body) {
			s.stats.fault(http.StatusInternalServerError)
			s.writeError(w, http.StatusInternalServerError, "", "injected fault")
			return
		}
		if r.Method != http.MethodPatch && s.serveDirect(w, r, rt, body) || r.Method == http.MethodPatch && s.directPatch(w, r, rt, body) {
			return
		}
		if rt.kind == kindUser {
			body = normalizeUserBody(r.Method, body, s.store.enterprise.ID)
		}
	case http.MethodGet, http.MethodDelete:
		if s.serveDirect(w, r, rt, nil) {
			return
		}
	}

	st := &reqState{}
	r2 := r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	u := *r.URL
	u.Path = strings.TrimSuffix(rt.endpoint, "/{id}")
	if rt.id != "" {
		// elimity unescapes the identifier it cuts from the path.
		u.Path += "/" + url.PathEscape(rt.id)
	}
	u.RawPath = ""
	r2.URL = &u
	if body != nil {
		r2.Body = io.NopCloser(bytes.NewReader(body))
		r2.ContentLength = int64(len(body))
	}

	buf := &bufferedResponse{header: http.Header{}}
	s.scim.ServeHTTP(buf, r2)

	status := buf.status
	if status == 0 {
		status = http.StatusOK
	}
	if status >= 400 {
		var e struct {
			ScimType string `json:"scimType"`
			Detail   string `json:"detail"`
		}
		_ = json.Unmarshal(buf.body.Bytes(), &e)
		s.writeError(w, status, e.ScimType, e.Detail)
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	out := buf.body.Bytes()
	if rt.id == "" && r.Method == http.MethodGet {
		out = fixItemsPerPage(out, st.listed)
	}
	if status == http.StatusCreated && st.created != "" {
		w.Header().Set("Location", locationOf(r, rt, st.created))
	}
	writeSCIM(w, status, out)
}

// readBody appends the request body rd, of the declared length n (-1:
// unknown), to b, which is grown to n at once. Nothing of the body may
// be kept after the request: b is reused for the next one, so whatever
// is decoded from it is copied (as decodeBody, encoding/json and
// parseMembersPatch do).
func readBody(b []byte, rd io.Reader, n int64) ([]byte, error) {
	if n > 0 && n <= maxBodyBytes && int(n) >= cap(b)-len(b) {
		// One byte more, so that the read that sees the end needs no
		// growth.
		b = slices.Grow(b, int(n)+1)
	}
	for {
		if len(b) == cap(b) {
			b = slices.Grow(b, 4096)
		}
		k, err := rd.Read(b[len(b):cap(b)])
		b = b[:len(b)+k]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// fixItemsPerPage rewrites elimity's list response, whose itemsPerPage is
// the count asked for, so that itemsPerPage is n, the number of resources
// returned. elimity marshals the response as a map, so its keys are sorted
// and "itemsPerPage" follows the Resources array; no key inside a resource
// can be "itemsPerPage", and inside a string value its quotes would be
// escaped. The number is replaced in place; anything unexpected falls back
// to decoding and re-encoding the whole response.
func fixItemsPerPage(body []byte, n int) []byte {
	key := []byte(`"itemsPerPage":`)
	if i := bytes.LastIndex(body, key); i >= 0 {
		j := i + len(key)
		k := j
		for k < len(body) && body[k] >= '0' && body[k] <= '9' {
			k++
		}
		if k > j && k < len(body) && (body[k] == ',' || body[k] == '}') {
			out := make([]byte, 0, len(body)+8)
			out = append(out, body[:j]...)
			out = strconv.AppendInt(out, int64(n), 10)
			return append(out, body[k:]...)
		}
	}
	var lr map[string]json.RawMessage
	if json.Unmarshal(body, &lr) != nil {
		return body
	}
	lr["itemsPerPage"] = json.RawMessage(strconv.Itoa(n))
	if out, err := json.Marshal(lr); err == nil {
		return out
	}
	return body
}

// bufferedResponse collects elimity's answer so the middleware can rewrite
// it.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// writeError writes a SCIM error in the server's error style.
func (s *Server) writeError(w http.ResponseWriter, status int, scimType, detail string) {
	if s.errorStyle == ErrorStyleMessage {
		if detail == "" {
			detail = http.StatusText(status)
		}
		writeMessage(w, status, detail)
		return
	}
	writeJSON(w, status, scim.NewError(status, scimType, detail))
}

// writeMessage writes the gateway's {"message": ...} error body.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, struct {
		Message string `json:"message"`
	}{msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"message":"internal error"}`)
	}
	w.Header().Set("Content-Type", contentTypeError)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
