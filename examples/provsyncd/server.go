package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/pgstate"
	"github.com/provsync/provsync/sync/provlog"
)

// historySize is how many cycle reports the status page shows.
const historySize = 20

// history keeps the last cycle reports: a sync.Observer.
type history struct {
	mu      gosync.Mutex
	size    int
	reports []sync.CycleReport // oldest first
	hooks   []func(sync.CycleReport)
}

func newHistory(size int) *history { return &history{size: size} }

var _ sync.Observer = (*history)(nil)

// ChangeDone ignores changes; the provisioning log keeps them.
func (h *history) ChangeDone(sync.ChangeEvent) {}

// CycleDone keeps rep, dropping the oldest beyond the size, and calls the
// hooks.
func (h *history) CycleDone(rep sync.CycleReport) {
	h.mu.Lock()
	h.reports = append(h.reports, rep)
	if len(h.reports) > h.size {
		h.reports = slices.Delete(h.reports, 0, len(h.reports)-h.size)
	}
	hooks := slices.Clone(h.hooks)
	h.mu.Unlock()
	for _, f := range hooks {
		f(rep)
	}
}

// onCycle adds a function called after each cycle.
func (h *history) onCycle(f func(sync.CycleReport)) {
	h.mu.Lock()
	h.hooks = append(h.hooks, f)
	h.mu.Unlock()
}

// Reports returns the kept reports, newest first.
func (h *history) Reports() []sync.CycleReport {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := slices.Clone(h.reports)
	slices.Reverse(out)
	return out
}

// sessionCookie is the status page's session: an HMAC of the API token,
// so that the cookie is not the token.
const sessionCookie = "provsyncd_session"

// server is the HTTP side of provsyncd: health, the JSON API and the
// status page.
type server struct {
	runner  *sync.Runner
	eng     *sync.Engine
	history *history
	plog    eventLog
	metrics *prometheus.Registry
	log     *zap.Logger
	// audit records each mutating call (who, which, its outcome; never
	// the token): the provisioning log holds changes only. Default log.
	audit *zap.Logger
	// provision provisions one user on demand; nil answers 501.
	provision func(ctx context.Context, user string) (*provisionResult, error)
	// role tells "leader" or "standby" for a replica sharing its state,
	// "" otherwise; nil is "".
	role func() string
	// tokenSum is the SHA-256 of the API token, session the page's
	// cookie value; both empty when no token is set, which refuses every
	// mutating call.
	tokenSum [sha256.Size]byte
	session  string
	hasToken bool
	secure   bool
}

// eventLog is the provisioning log that /api/log reads and the API's
// calls are written to: a file (fileLog) or the state's PostgreSQL
// database (pgstate.Log).
type eventLog interface {
	Call(t time.Time, c provlog.APICall, outcome sync.Status, err error) error
	Query(ctx context.Context, f provlog.Filter) ([]provlog.Event, error)
}

var (
	_ eventLog = fileLog{}
	_ eventLog = (*pgstate.Log)(nil)
)

// fileLog is a provlog.Log as an eventLog: its Query reads local files
// and takes no context.
type fileLog struct{ *provlog.Log }

// Query returns the file log's events that pass f.
func (l fileLog) Query(_ context.Context, f provlog.Filter) ([]provlog.Event, error) {
	return l.Log.Query(f)
}

// newServer returns the HTTP side of a Runner. plog and metrics may be
// nil; token is the bearer token of mutating calls ("" refuses them);
// secure marks the session cookie for https only.
func newServer(r *sync.Runner, eng *sync.Engine, h *history, plog eventLog, metrics *prometheus.Registry, token string, secure bool, log *zap.Logger) *server {
	s := &server{runner: r, eng: eng, history: h, plog: plog, metrics: metrics, log: log, audit: log, secure: secure}
	if token != "" {
		s.hasToken = true
		s.tokenSum = sha256.Sum256([]byte(token))
		m := hmac.New(sha256.New, []byte(token))
		m.Write([]byte("provsyncd status page session"))
		s.session = hex.EncodeToString(m.Sum(nil))
	}
	return s
}

// handler routes the requests.
func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.ready)
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.apiStatus()) })
	mux.HandleFunc("GET /api/cycles", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.history.Reports()) })
	mux.HandleFunc("GET /api/plan", s.plan)
	mux.HandleFunc("GET /api/approvals", s.approvals)
	mux.HandleFunc("GET /api/log", s.provlog)
	if s.metrics != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("POST /api/approvals/{id}/approve", s.mutate("approve", s.decide(true)))
	mux.HandleFunc("POST /api/approvals/{id}/reject", s.mutate("reject", s.decide(false)))
	mux.HandleFunc("POST /api/run", s.mutate("run", func(*http.Request) error { s.runner.TriggerNow(); return nil }))
	mux.HandleFunc("POST /api/retry-failed", s.mutate("retry-failed", func(*http.Request) error { s.runner.RetryFailed(); return nil }))
	mux.HandleFunc("POST /api/provision", s.provisionUser)
	mux.HandleFunc("POST /api/restart", s.mutate("restart", func(*http.Request) error { s.runner.Restart(); return nil }))
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("GET /{$}", s.status)
	return securityHeaders(mux)
}

// apiStatus is what /api/status answers: the Runner's status and, for a
// replica sharing its state, its role.
type apiStatus struct {
	sync.RunnerStatus
	// Role is "leader" or "standby" for a replica whose state is shared
	// (PostgreSQL); omitted otherwise.
	Role string `json:"role,omitempty"`
}

func (s *server) apiStatus() apiStatus {
	return apiStatus{RunnerStatus: s.runner.Status(), Role: s.roleNow()}
}

// roleNow is s.role's answer, "" without one.
func (s *server) roleNow() string {
	if s.role == nil {
		return ""
	}
	return s.role()
}

// securityHeaders keeps the page out of frames and other origins'
// scripts; the page has no script of its own.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// ready answers 200 when the last cycle succeeded and the Runner is not
// quarantined, else 503 with the reason.
func (s *server) ready(w http.ResponseWriter, _ *http.Request) {
	st := s.runner.Status()
	switch {
	case st.Quarantine != nil:
		http.Error(w, "quarantined: "+string(st.Quarantine.Reason), http.StatusServiceUnavailable)
	case st.LastCycle == nil:
		http.Error(w, "no cycle finished yet", http.StatusServiceUnavailable)
	case st.LastCycle.Outcome != sync.CycleSucceeded:
		http.Error(w, "last cycle "+string(st.LastCycle.Outcome), http.StatusServiceUnavailable)
	default:
		w.Write([]byte("ready\n"))
	}
}

func (s *server) plan(w http.ResponseWriter, _ *http.Request) {
	p := s.runner.LastPlan()
	if p == nil {
		writeError(w, http.StatusNotFound, "no cycle has made a plan yet")
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *server) approvals(w http.ResponseWriter, r *http.Request) {
	list, err := s.eng.Approvals(r.Context())
	if err != nil {
		writeError(w, errorStatus(err), err.Error())
		return
	}
	if list == nil {
		list = []sync.Approval{}
	}
	writeJSON(w, http.StatusOK, list)
}

// provlog answers the provisioning log's events, filtered by the query's
// since and until (RFC 3339), object, action, kind (user, group or api),
// outcome and cycle.
func (s *server) provlog(w http.ResponseWriter, r *http.Request) {
	if s.plog == nil {
		writeError(w, http.StatusNotFound, "no provisioning log is configured (the log key)")
		return
	}
	q := r.URL.Query()
	f := provlog.Filter{Object: q.Get("object"), Action: sync.Action(q.Get("action")), Outcome: sync.Status(q.Get("outcome")),
		Cycle: q.Get("cycle"), Kind: sync.Kind(q.Get("kind"))}
	for key, t := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(key); v != "" {
			var err error
			if *t, err = time.Parse(time.RFC3339, v); err != nil {
				writeError(w, http.StatusBadRequest, key+": want an RFC 3339 time, such as 2026-01-02T15:04:05Z")
				return
			}
		}
	}
	events, err := s.plog.Query(r.Context(), f)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if events == nil {
		events = []provlog.Event{}
	}
	writeJSON(w, http.StatusOK, events)
}

// decide approves or rejects the held change the path names.
func (s *server) decide(approve bool) func(*http.Request) error {
	return func(r *http.Request) error {
		id := r.PathValue("id")
		if approve {
			return s.eng.Approve(r.Context(), id)
		}
		return s.eng.Reject(r.Context(), id)
	}
}

// mutate wraps a mutating call: it needs the bearer token, or the page's
// session cookie on a same-origin form post. An API call answers JSON; a
// form post goes back to the page.
func (s *server) mutate(name string, do func(*http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var args map[string]string
		if id := r.PathValue("id"); id != "" {
			args = map[string]string{"id": id}
		}
		form, ok := s.authorize(w, r)
		if !ok {
			s.record(r, name, false, provlog.OutcomeRefused, errRefused, args)
			return
		}
		err := do(r)
		s.record(r, name, form, done(err), err, args)
		switch {
		case errors.Is(err, sync.ErrUnknownApproval):
			writeError(w, http.StatusNotFound, err.Error())
		case err != nil:
			writeError(w, errorStatus(err), err.Error())
		case form:
			http.Redirect(w, r, "/", http.StatusSeeOther)
		default:
			writeJSON(w, http.StatusAccepted, map[string]string{"result": "accepted", "call": name})
		}
	}
}

// errorStatus is the HTTP status of a call that failed with err: 503 on
// a replica that stands by (another process holds the state: ask the
// leader), else 500.
func errorStatus(err error) int {
	if errors.Is(err, sync.ErrLocked) {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errRefused records a mutating call that authorize refused.
var errRefused = errors.New("refused: no valid token or session")

// done is the outcome of a call that was allowed and returned err.
func done(err error) sync.Status {
	if err != nil {
		return sync.StatusFailed
	}
	return provlog.OutcomeAccepted
}

// record writes a mutating call to the audit log and to the provisioning
// log, if there is one: the caller's address, the call, its arguments and
// its outcome. Nothing of the request's headers is recorded, so neither
// the token nor the session cookie is.
func (s *server) record(r *http.Request, call string, form bool, outcome sync.Status, err error, args map[string]string) {
	fields := []zap.Field{zap.String("remote", r.RemoteAddr), zap.String("call", call),
		zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Bool("page", form), zap.String("outcome", string(outcome))}
	for k, v := range args {
		fields = append(fields, zap.String(k, v))
	}
	if err != nil {
		fields = append(fields, zap.String("error", err.Error()))
	}
	s.audit.Info("api call", fields...)
	if s.plog == nil {
		return
	}
	c := provlog.APICall{Call: call, Args: args, Remote: r.RemoteAddr}
	if werr := s.plog.Call(time.Now(), c, outcome, err); werr != nil {
		s.log.Warn("provisioning log: API call not written", zap.String("call", call), zap.Error(werr))
	}
}

// provisionUser is POST /api/provision: it provisions the source user
// that the JSON body's "user" names (an id or a userName), now, and
// answers the plan and the result.
func (s *server) provisionUser(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r); !ok {
		s.record(r, "provision", false, provlog.OutcomeRefused, errRefused, nil)
		return
	}
	var body struct {
		User string `json:"user"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || strings.TrimSpace(body.User) == "" {
		msg := `want a JSON body {"user": "<source user id or userName>"}`
		if err != nil {
			msg += ": " + err.Error()
		}
		s.record(r, "provision", false, provlog.OutcomeRefused, errors.New(msg), nil)
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	if s.provision == nil {
		s.record(r, "provision", false, sync.StatusFailed, errors.ErrUnsupported, map[string]string{"user": body.User})
		writeError(w, http.StatusNotImplemented, "provision on demand is not available")
		return
	}
	res, err := s.provision(r.Context(), body.User)
	s.record(r, "provision", false, done(err), err, map[string]string{"user": body.User})
	if err != nil {
		writeError(w, provisionStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// auditLogger is the logger of the API's mutating calls: log with -v,
// else a JSON logger at Info on w (standard error), so that the calls
// are recorded even when nothing else is logged.
func auditLogger(log *zap.Logger, verbose bool, w io.Writer) *zap.Logger {
	if verbose {
		return log.Named("audit")
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), zap.InfoLevel)).Named("audit")
}

// authorize checks a mutating request and answers it when it fails. A
// bearer token is compared in constant time (SHA-256 digests, so that
// not even its length shows); a session cookie counts only on a request
// from the page's own origin, against cross-site request forgery.
func (s *server) authorize(w http.ResponseWriter, r *http.Request) (form, ok bool) {
	if !s.hasToken {
		writeError(w, http.StatusForbidden, "mutating calls are off: configure listener.token")
		return false, false
	}
	if h := r.Header.Get("Authorization"); h != "" {
		tok, found := strings.CutPrefix(h, "Bearer ")
		if found && s.tokenOK(tok) {
			return false, true
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="provsyncd"`)
		writeError(w, http.StatusUnauthorized, "wrong bearer token")
		return false, false
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || !s.sessionOK(c.Value) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="provsyncd"`)
		writeError(w, http.StatusUnauthorized, "a bearer token is required")
		return false, false
	}
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
		return false, false
	}
	return true, true
}

func (s *server) tokenOK(tok string) bool {
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], s.tokenSum[:]) == 1
}

func (s *server) sessionOK(v string) bool {
	return s.hasToken && subtle.ConstantTimeCompare([]byte(v), []byte(s.session)) == 1
}

// sameOrigin reports whether a browser's request comes from this
// server's own pages: by Sec-Fetch-Site when the browser sends it, else
// by Origin, else by Referer; a request with none is refused.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	ref := r.Header.Get("Origin")
	if ref == "" || ref == "null" {
		ref = r.Referer()
	}
	u, err := url.Parse(ref)
	return err == nil && ref != "" && u.Host == r.Host
}

// login checks the token typed into the page and sets the session
// cookie; the page never holds the token.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	if !s.hasToken {
		writeError(w, http.StatusForbidden, "mutating calls are off: configure listener.token")
		return
	}
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	if !s.tokenOK(r.PostFormValue("token")) {
		writeError(w, http.StatusUnauthorized, "wrong token")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.session, Path: "/", HttpOnly: true,
		Secure: s.secure, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.secure, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// pageData is what the status page shows.
type pageData struct {
	Status sync.RunnerStatus
	// Role is "leader" or "standby" for a replica sharing its state.
	Role      string
	Cycles    []sync.CycleReport
	MaxChange int
	Approvals []sync.Approval
	Error     string
	LoggedIn  bool
	HasToken  bool
	Now       time.Time
}

func (s *server) status(w http.ResponseWriter, r *http.Request) {
	d := pageData{Status: s.runner.Status(), Role: s.roleNow(), Cycles: s.history.Reports(), HasToken: s.hasToken, Now: time.Now()}
	if c, err := r.Cookie(sessionCookie); err == nil {
		d.LoggedIn = s.sessionOK(c.Value)
	}
	for _, c := range d.Cycles {
		d.MaxChange = max(d.MaxChange, changes(c.Planned))
	}
	list, err := s.eng.Approvals(r.Context())
	if err != nil {
		d.Error = err.Error()
		if errors.Is(err, sync.ErrLocked) {
			d.Error = "" // the role says it; the leader's page holds the approvals
		}
	}
	for _, a := range list {
		if a.Status == sync.ApprovalPending {
			d.Approvals = append(d.Approvals, a)
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := render(w, d); err != nil {
		s.log.Warn("status page", zap.Error(err))
	}
}

// changes counts a summary's changes.
func changes(s sync.Summary) int {
	return s.CreateUsers + s.UpdateUsers + s.DeactivateUsers + s.DeleteUsers + s.CreateGroups + s.UpdateGroups +
		s.DeleteGroups + s.AddMembers + s.RemoveMembers
}

// when formats a time for the page; the zero time is "-".
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
