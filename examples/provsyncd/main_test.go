package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/config"
	"github.com/provsync/provsync/sync/provlog"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// cycles is an observer that hands each cycle report to the test.
type cycles chan sync.CycleReport

func (cycles) ChangeDone(sync.ChangeEvent)      {}
func (c cycles) CycleDone(rep sync.CycleReport) { c <- rep }

// demoApp builds the -demo app with an observer of its cycles and runs
// its Runner until the test ends.
func demoApp(t *testing.T) (*app, cycles) { return demoAppWith(t, nil) }

// demoAppWith is demoApp with the configuration changed by edit.
func demoAppWith(t *testing.T, edit func(*config.Config)) (*app, cycles) {
	t.Helper()
	cfg, err := config.Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := cycles(make(chan sync.CycleReport, 10))
	a, err := build(ctx, cfg, options{demo: true}, zap.NewNop(), io.Discard, sync.WithObserver(done))
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- a.runner.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("Run: %v", err)
		}
		a.close()
	})
	return a, done
}

type client struct {
	t   *testing.T
	url string
}

func (c client) do(method, path string, header http.Header, body string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, string(b)
}

func (c client) status(method, path string, header http.Header, want int) string {
	c.t.Helper()
	resp, body := c.do(method, path, header, "")
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, want, body)
	}
	return body
}

// serve serves a's API with token until the test ends.
func serve(t *testing.T, a *app, token string) client {
	t.Helper()
	srv := newServer(a.runner, a.eng, a.history, a.plog, a.metrics, token, false, zap.NewNop())
	hs := httptest.NewServer(srv.handler())
	t.Cleanup(hs.Close)
	return client{t, hs.URL}
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func pending(t *testing.T, c client) []string {
	t.Helper()
	var list []sync.Approval
	if err := json.Unmarshal([]byte(c.status("GET", "/api/approvals", nil, 200)), &list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range list {
		if a.Status == sync.ApprovalPending {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

// The API against a Runner of the embedded server: health, status, the
// plan, and a held change approved over HTTP that the next cycle applies.
func TestAPIApproveFlow(t *testing.T) {
	a, done := demoApp(t)
	c := serve(t, a, a.token)

	first := <-done
	if first.Outcome != sync.CycleSucceeded || first.Applied != 4 || first.PendingApprovals != 2 {
		t.Fatalf("first cycle %+v; want the 4 users created and the 2 groups held", first)
	}
	c.status("GET", "/healthz", nil, 200)
	c.status("GET", "/readyz", nil, 200)
	var st sync.RunnerStatus
	if err := json.Unmarshal([]byte(c.status("GET", "/api/status", nil, 200)), &st); err != nil {
		t.Fatal(err)
	}
	if st.Cycles != 1 || st.PendingApprovals != 2 || st.LastCycle == nil || st.LastCycle.ID != first.ID {
		t.Errorf("status %+v", st)
	}
	var plan sync.Plan
	if err := json.Unmarshal([]byte(c.status("GET", "/api/plan", nil, 200)), &plan); err != nil {
		t.Fatal(err)
	}
	if plan.Summary.CreateUsers != 4 || len(plan.Held) != 2 {
		t.Errorf("plan summary %+v with %d held; want 4 user creates and 2 held", plan.Summary, len(plan.Held))
	}
	ids := pending(t, c)
	if len(ids) != 2 {
		t.Fatalf("pending approvals %v; want 2", ids)
	}

	// Every mutating call needs the token: none, a wrong one of the same
	// length, a prefix of it, a longer one, and another scheme fail.
	path := "/api/approvals/" + ids[0] + "/approve"
	wrong := a.token[:len(a.token)-1] + string(a.token[len(a.token)-1]^1)
	for _, h := range []http.Header{nil, bearer(""), bearer(wrong), bearer(a.token[:8]), bearer(a.token + "x"),
		{"Authorization": {"Basic " + a.token}}, {"Authorization": {"bearer" + a.token}}} {
		for _, p := range []string{path, "/api/run", "/api/retry-failed", "/api/restart"} {
			resp, body := c.do("POST", p, h, "")
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("POST %s with %v = %d, want 401: %s", p, h, resp.StatusCode, body)
			}
		}
	}
	if got := pending(t, c); len(got) != 2 {
		t.Fatalf("an unauthorized call decided something: pending %v", got)
	}
	c.status("POST", "/api/approvals/0000000000000000/approve", bearer(a.token), 404)
	c.status("GET", path, bearer(a.token), 405)

	c.status("POST", path, bearer(a.token), 202)
	c.status("POST", "/api/run", bearer(a.token), 202)
	second := <-done
	if second.Trigger != sync.TriggerManual || second.Outcome != sync.CycleSucceeded || second.Applied == 0 || second.PendingApprovals != 1 {
		t.Fatalf("second cycle %+v; want the approved group applied and one still held", second)
	}
	if got := pending(t, c); len(got) != 1 || got[0] != ids[1] {
		t.Errorf("pending after approving %s: %v", ids[0], got)
	}
	var reports []sync.CycleReport
	if err := json.Unmarshal([]byte(c.status("GET", "/api/cycles", nil, 200)), &reports); err != nil {
		t.Fatal(err)
	}
	if len(reports) != 2 || reports[0].ID != second.ID || reports[1].ID != first.ID {
		t.Errorf("cycles %+v; want the two, newest first", reports)
	}
	c.status("GET", "/api/log", nil, 404) // no log configured
	metrics := c.status("GET", "/metrics", nil, 200)
	for _, want := range []string{`provsync_runner_cycles_total{`, `outcome="succeeded"`, "provsync_runner_approvals_pending"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, metrics)
		}
	}
}

// The page's forms: log in with the token (same origin only), then
// approve and reject with the session cookie, which is not the token; a
// cross-site post with the cookie is refused.
func TestPageFormsAndCSRF(t *testing.T) {
	a, done := demoApp(t)
	c := serve(t, a, a.token)
	<-done
	ids := pending(t, c)
	if len(ids) != 2 {
		t.Fatalf("pending %v", ids)
	}
	page := c.status("GET", "/", nil, 200)
	if !strings.Contains(page, `id="login"`) || strings.Contains(page, "Approve</button>") {
		t.Errorf("the page without a session should offer the login and no buttons:\n%s", page)
	}
	same := http.Header{"Origin": {c.url}}
	evil := http.Header{"Origin": {"https://evil.example"}}
	form := "token=" + url.QueryEscape(a.token)
	if resp, _ := c.do("POST", "/login", same, "token=wrong"); resp.StatusCode != 401 {
		t.Errorf("login with a wrong token = %d", resp.StatusCode)
	}
	if resp, _ := c.do("POST", "/login", evil, form); resp.StatusCode != 403 {
		t.Errorf("cross-origin login = %d", resp.StatusCode)
	}
	resp, _ := c.do("POST", "/login", same, form)
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			session = ck
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
		t.Fatalf("login = %d, cookie %+v", resp.StatusCode, session)
	}
	if strings.Contains(session.Value, a.token) {
		t.Fatal("the session cookie holds the token")
	}
	withCookie := func(h http.Header) http.Header {
		h = h.Clone()
		if h == nil {
			h = http.Header{}
		}
		h.Set("Cookie", sessionCookie+"="+session.Value)
		return h
	}
	page = c.status("GET", "/", withCookie(nil), 200)
	if !strings.Contains(page, "/api/approvals/"+ids[0]+"/approve") || strings.Contains(page, a.token) {
		t.Errorf("the logged-in page should show the buttons and never the token:\n%s", page)
	}
	for name, h := range map[string]http.Header{
		"evil origin":     evil,
		"cross-site":      {"Sec-Fetch-Site": {"cross-site"}, "Origin": {c.url}},
		"no origin":       nil,
		"evil referer":    {"Referer": {"https://evil.example/x"}},
		"wrong cookie":    {"Origin": {c.url}},
		"cookie + nobody": {"Origin": {"null"}},
	} {
		hh := withCookie(h)
		if name == "wrong cookie" {
			hh.Set("Cookie", sessionCookie+"="+strings.Repeat("0", len(session.Value)))
		}
		if resp, body := c.do("POST", "/api/approvals/"+ids[0]+"/reject", hh, ""); resp.StatusCode < 400 {
			t.Errorf("%s: reject = %d: %s", name, resp.StatusCode, body)
		}
	}
	if got := pending(t, c); len(got) != 2 {
		t.Fatalf("a refused form decided something: %v", got)
	}
	resp, _ = c.do("POST", "/api/approvals/"+ids[0]+"/reject", withCookie(http.Header{"Sec-Fetch-Site": {"same-origin"}}), "")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("same-origin reject = %d", resp.StatusCode)
	}
	if resp, _ := c.do("POST", "/api/approvals/"+ids[1]+"/approve", withCookie(same), ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("same-origin approve = %d", resp.StatusCode)
	}
	if got := pending(t, c); len(got) != 0 {
		t.Errorf("pending after the forms: %v", got)
	}
}

// Without a token every mutating call is refused; reads work.
func TestNoTokenIsReadOnly(t *testing.T) {
	a, done := demoApp(t)
	c := serve(t, a, "")
	<-done
	for _, p := range []string{"/api/run", "/api/restart", "/api/retry-failed", "/login"} {
		c.status("POST", p, bearer(""), 403)
	}
	if page := c.status("GET", "/", nil, 200); !strings.Contains(page, "Read only") {
		t.Errorf("the page does not say it is read only:\n%s", page)
	}
}

// The provisioning log over HTTP, filtered.
func TestAPILog(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "prov.jsonl")
	a, done := demoAppWith(t, func(c *config.Config) { c.Service.Log = logPath })
	c := serve(t, a, a.token)
	first := <-done
	events := func(query string) []provlog.Event {
		t.Helper()
		var ev []provlog.Event
		if err := json.Unmarshal([]byte(c.status("GET", "/api/log"+query, nil, 200)), &ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	if all := events(""); len(all) != 4 || all[0].Cycle != first.ID {
		t.Errorf("log: %+v; want the 4 user creates of the first cycle", all)
	}
	if ev := events("?object=ADA.LOVELACE@example.com&outcome=applied&action=create-user"); len(ev) != 1 || ev[0].Name != "ada.lovelace@example.com" {
		t.Errorf("log of one object: %+v", ev)
	}
	if ev := events("?outcome=failed"); len(ev) != 0 {
		t.Errorf("failed events: %+v", ev)
	}
	if ev := events("?since=" + url.QueryEscape(first.Finished.Add(time.Hour).Format(time.RFC3339))); len(ev) != 0 {
		t.Errorf("events after the cycle: %+v", ev)
	}
	c.status("GET", "/api/log?since=yesterday", nil, 400)
}

// Not ready before the first cycle.
func TestReadyzBeforeFirstCycle(t *testing.T) {
	cfg, err := config.Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := build(context.Background(), cfg, options{demo: true}, zap.NewNop(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	srv := newServer(a.runner, a.eng, a.history, a.plog, a.metrics, a.token, false, zap.NewNop())
	rec := httptest.NewRecorder()
	srv.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("readyz before any cycle = %d", rec.Code)
	}
}

func TestListenRefusesNonLoopback(t *testing.T) {
	for _, l := range []config.Listener{
		{Address: "0.0.0.0:0"},
		{Address: ":0"},
		{Address: "0.0.0.0:0", TLSCert: "c", TLSKey: "k"},                     // no token
		{Address: "0.0.0.0:0", Token: config.Secret{Env: "X"}},                // no TLS
		{Address: "192.0.2.1:0", Token: config.Secret{Env: "X"}, TLSKey: "k"}, // no cert
	} {
		if ln, err := listen(l); !errors.Is(err, errNotLoopback) {
			if ln != nil {
				ln.Close()
			}
			t.Errorf("listen(%+v) = %v; want refused", l, err)
		}
	}
	ln, err := listen(config.Listener{Address: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
}

// provsyncd -demo -once: one cycle against the embedded server.
func TestDemoOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, []string{"-demo", "-once"}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "(start): succeeded; planned 4 changes, 4 applied, 0 failed, 0 skipped; 2 wait for approval") {
		t.Errorf("output:\n%s", out.String())
	}
}

// signalWriter reports when the output contains a string.
type signalWriter struct {
	mu   gosync.Mutex
	b    strings.Builder
	want string
	seen chan struct{}
	once gosync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if strings.Contains(w.b.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// The service mode serves until its context ends (SIGTERM or SIGINT in
// the program), then stops cleanly and saves its state file.
func TestServeStopsAndSaves(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "provsync.yaml")
	state := filepath.Join(dir, "state.json")
	if err := os.WriteFile(cfgPath, []byte("state: "+state+"\nlistener: {address: \"127.0.0.1:0\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The first cycle's line: the cycle is over and saved.
	out := &signalWriter{want: "(start): succeeded", seen: make(chan struct{})}
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, []string{"-demo", "-config", cfgPath}, out) }()
	select {
	case <-out.seen:
	case err := <-errc:
		t.Fatalf("run ended early: %v\n%s", err, out.String())
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if !strings.HasSuffix(out.String(), "stopped\n") {
		t.Errorf("output:\n%s", out.String())
	}
	if _, err := os.Stat(state); err != nil {
		t.Errorf("state not saved: %v", err)
	}
}

// writer returns a function that writes files into dir and returns
// their paths.
func writer(t *testing.T, dir string) func(name, body string) string {
	return func(name, body string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
}

func TestCheckConfig(t *testing.T) {
	write := writer(t, t.TempDir())
	good := write("good.yaml", "source: {file: {path: d.yaml}}\ntarget: {url: https://t.example/scim, token: {env: TEST_PROVSYNCD_NS}}\nstate: s.json\n")
	t.Setenv("TEST_PROVSYNCD_NS", "")
	var out strings.Builder
	err := run(context.Background(), []string{"-config", good, "-check-config"}, &out)
	if err == nil || !strings.Contains(err.Error(), "good.yaml:2:46: target.token: ") || !strings.Contains(err.Error(), "TEST_PROVSYNCD_NS is not set") {
		t.Errorf("unset token: %v", err)
	}
	t.Setenv("TEST_PROVSYNCD_NS", "tok-value")
	out.Reset()
	if err := run(context.Background(), []string{"-config", good, "-check-config"}, &out); err != nil || !strings.Contains(out.String(), "configuration OK: source file") ||
		strings.Contains(out.String(), "tok-value") {
		t.Errorf("good config: %v\n%s", err, out.String())
	}
	literal := write("literal.yaml", "source: {file: {path: d.yaml}}\ntarget:\n  url: https://t.example/scim\n  token: tok-value\nstate: s.json\n")
	err = run(context.Background(), []string{"-config", literal, "-check-config"}, &out)
	if err == nil || !strings.Contains(err.Error(), "literal.yaml:4:10: target.token: ") || strings.Contains(err.Error(), "tok-value") {
		t.Errorf("literal token: %v", err)
	}
	missing := write("missing.yaml", "policy: {adopt: true}\n")
	err = run(context.Background(), []string{"-config", missing, "-check-config"}, &out)
	if err == nil || !strings.Contains(err.Error(), "missing.yaml:1:1: source: ") {
		t.Errorf("missing keys: %v", err)
	}
	if err := run(context.Background(), nil, &out); err == nil {
		t.Error("run without -config or -demo succeeded")
	}
}

// envChild makes TestChild run provsyncd's main with the arguments it
// holds (separated by newlines).
const envChild = "PROVSYNCD_TEST_CHILD_ARGS"

// TestChild is provsyncd in a child process of TestProcessSIGTERM.
func TestChild(t *testing.T) {
	args := os.Getenv(envChild)
	if args == "" {
		t.Skip("the child process of TestProcessSIGTERM")
	}
	// The program's own main, signal handling included; it exits 1 on
	// an error.
	os.Args = append([]string{"provsyncd"}, strings.Split(args, "\n")...)
	main()
	os.Exit(0)
}

// provsyncd -demo as its own process: it serves, a held change is
// approved over HTTP and applied by the cycle asked for, and SIGTERM
// stops it with exit status 0 after it saved its state.
func TestProcessSIGTERM(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGTERM")
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "provsync.yaml")
	state := filepath.Join(dir, "state.json")
	if err := os.WriteFile(cfgPath, []byte("state: "+state+"\nlistener: {address: \"127.0.0.1:0\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envChild+"=-demo\n-config\n"+cfgPath)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	var seen []string
	// next reads lines up to one that contains want, and returns it.
	next := func(want string) string {
		t.Helper()
		for lines.Scan() {
			seen = append(seen, lines.Text())
			if strings.Contains(lines.Text(), want) {
				return lines.Text()
			}
		}
		t.Fatalf("the output ended before %q:\n%s\nstderr:\n%s", want, strings.Join(seen, "\n"), stderr.String())
		return ""
	}
	base := strings.TrimSuffix(strings.TrimPrefix(next("status page at "), "status page at "), "/")
	tokenLine := next("API token ")
	tokenFile := tokenLine[strings.LastIndex(tokenLine, " ")+1:]
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))
	if strings.Contains(strings.Join(seen, "\n"), token) {
		t.Fatal("the output shows the API token")
	}
	if first := next("(start): "); !strings.Contains(first, "succeeded; planned 4 changes, 4 applied, 0 failed, 0 skipped; 2 wait for approval") {
		t.Fatalf("first cycle: %s", first)
	}
	c := client{t, base}
	ids := pending(t, c)
	if len(ids) != 2 {
		t.Fatalf("pending %v", ids)
	}
	c.status("POST", "/api/approvals/"+ids[0]+"/approve", bearer(token), 202)
	c.status("POST", "/api/run", bearer(token), 202)
	if second := next("(manual): "); !strings.Contains(second, "succeeded") || !strings.Contains(second, "; 1 wait for approval") ||
		strings.Contains(second, ", 0 applied") {
		t.Fatalf("second cycle: %s", second)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	next("stopped")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("provsyncd after SIGTERM: %v\nstderr:\n%s", err, stderr.String())
	}
	if _, err := os.Stat(state); err != nil {
		t.Errorf("state not saved: %v", err)
	}
	if _, err := os.Stat(tokenFile); !os.IsNotExist(err) {
		t.Errorf("the demo token file outlived the process: %v", err)
	}
}

// Every value on the page is escaped: names, reasons, errors and ids
// from the source or the target cannot add markup.
func TestPageEscapes(t *testing.T) {
	const evil = `<script>alert(1)</script>"><img src=x onerror=alert(2)>`
	d := pageData{HasToken: true, LoggedIn: true,
		Status: sync.RunnerStatus{State: "quarantined",
			Quarantine:         &sync.Quarantine{Reason: sync.ReasonError, Error: evil},
			Held:               &sync.HeldPlan{Reasons: []string{evil}},
			PersistentFailures: []sync.EscrowEntry{{Action: sync.ActionCreateUser, Object: sync.Ref{Kind: sync.KindUser, Key: evil}, LastError: evil}}},
		Cycles:    []sync.CycleReport{{ID: evil, Outcome: sync.CycleFailed, Error: evil}},
		Approvals: []sync.Approval{{ID: `x"/../y`, Change: sync.Change{Action: sync.ActionCreateGroup, Object: sync.Ref{Kind: sync.KindGroup, Key: evil}, Reason: evil}}},
		Error:     evil}
	var b strings.Builder
	if err := render(&b, d); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script", "<img", `x"/../y`, `onerror=alert(2)>`} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q unescaped", bad)
		}
	}
	if n := strings.Count(page, "&lt;script&gt;alert(1)&lt;/script&gt;"); n < 6 {
		t.Errorf("the hostile value shows escaped %d times, want at least 6:\n%s", n, page)
	}
	if !strings.Contains(page, `action="/api/approvals/x%22%2F..%2Fy/approve"`) {
		t.Errorf("the approval id is not escaped in its form's action:\n%s", page)
	}
}

// readmeSection is the README's "Run provsyncd" section.
func readmeSection(t *testing.T) string { return readmeSectionNamed(t, "Run provsyncd") }

// readmeSectionNamed is the README's section with this title.
func readmeSectionNamed(t *testing.T, title string) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(readme), "## "+title+"\n")
	if !ok {
		t.Fatalf("README has no %s section", title)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	return sec
}

// readmeConfig parses the first yaml block of the README's section with
// this title.
func readmeConfig(t *testing.T, title string) *config.Config {
	t.Helper()
	_, block, ok := strings.Cut(readmeSectionNamed(t, title), "```yaml\n")
	if !ok {
		t.Fatal("the section has no yaml block")
	}
	block, _, _ = strings.Cut(block, "```")
	cfg, err := config.Parse([]byte(block))
	if err != nil {
		t.Fatalf("the README's configuration: %v\n%s", err, block)
	}
	return cfg
}

// The README's provsyncd configuration parses and configures a service.
func TestReadmeConfig(t *testing.T) {
	cfg := readmeConfig(t, "Run provsyncd")
	if err := cfg.RequireService(); err != nil {
		t.Errorf("the README's configuration is not a whole service: %v", err)
	}
	if cfg.Service.Source.Kind() != "entra" || cfg.Service.Listener.ListenAddress() != config.DefaultListenAddress || !cfg.Service.Listener.Token.Set() {
		t.Errorf("the README's configuration read as %+v", cfg.Service)
	}
}

// provsyncd as its own process against a Netskope server it does not
// own (the embedded one, in this test's process, behind a gate): SIGTERM
// arrives while a cycle is applying; the cycle finishes within the grace,
// the program exits 0, and the next run finds nothing left to do.
func TestProcessSIGTERMMidApply(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGTERM")
	}
	ns := netskopetest.NewServer()
	defer ns.Close()
	// The gate holds the third write until the test has sent SIGTERM.
	g := newGate(t, ns, 3)

	dir := t.TempDir()
	dirFile := filepath.Join(dir, "directory.yaml")
	cfgPath := filepath.Join(dir, "provsync.yaml")
	if err := os.WriteFile(dirFile, demoDirectory, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := "source: {file: {path: " + dirFile + "}}\ntarget:\n  url: " + g.url +
		"\n  token: {env: TEST_PROVSYNCD_NS_TOKEN}\nstate: " + filepath.Join(dir, "state.json") +
		"\nlistener: {address: \"127.0.0.1:0\"}\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"TEST_PROVSYNCD_NS_TOKEN=" + ns.Token()}
	cmd, out, stderr := startChild(t, env, "-config", cfgPath)
	<-g.reached
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	g.open()
	text := readAll(out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("provsyncd after SIGTERM mid-apply: %v\n%s\nstderr:\n%s", err, text, stderr.String())
	}
	if !strings.Contains(text, "(start): succeeded;") || !strings.Contains(text, " 0 failed") || !strings.HasSuffix(text, "stopped\n") {
		t.Errorf("first run:\n%s", text)
	}

	cmd, out, stderr = startChild(t, env, "-config", cfgPath, "-once")
	text = readAll(out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("second run: %v\n%s\nstderr:\n%s", err, text, stderr.String())
	}
	if !strings.Contains(text, "(start): succeeded; planned 0 changes") {
		t.Errorf("the second run did not converge:\n%s", text)
	}
}

// gate is a proxy in front of an embedded Netskope server that holds one
// write (a request other than GET) until open is called; reached is
// closed when it holds it.
type gate struct {
	url              string // the SCIM base URL through the gate
	reached, release chan struct{}
	once             gosync.Once
	mu               gosync.Mutex
	writes, holdAt   int // writes seen; the number of the one to hold (0: none)
}

// open lets the held write, and every later one, through.
func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

// newGate starts a gate before ns that holds write number holdAt (the
// first is 1; 0 holds none until holdNext).
func newGate(t *testing.T, ns *netskopetest.Server, holdAt int) *gate {
	t.Helper()
	backend, err := url.Parse(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{reached: make(chan struct{}), release: make(chan struct{}), holdAt: holdAt}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: backend.Scheme, Host: backend.Host})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			g.mu.Lock()
			g.writes++
			hold := g.writes == g.holdAt
			g.mu.Unlock()
			if hold {
				close(g.reached)
				<-g.release
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { g.open(); srv.Close() })
	g.url = srv.URL + backend.Path
	return g
}

// holdNext makes the gate hold the next write.
func (g *gate) holdNext() {
	g.mu.Lock()
	g.holdAt = g.writes + 1
	g.mu.Unlock()
}

// startChild starts provsyncd's main with args in a child process (the
// test binary running TestChild), with env added to its environment.
func startChild(t *testing.T, env []string, args ...string) (*exec.Cmd, *bufio.Scanner, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), envChild+"="+strings.Join(args, "\n")), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, bufio.NewScanner(stdout), stderr
}

// readAll reads the rest of s.
func readAll(s *bufio.Scanner) string {
	var b strings.Builder
	for s.Scan() {
		b.WriteString(s.Text() + "\n")
	}
	return b.String()
}

// The configurations for each IdP parse as whole services.
func TestExampleConfigs(t *testing.T) {
	for kind, file := range map[string]string{"entra": "entra.yaml", "google": "google.yaml", "onelogin": "onelogin.yaml"} {
		cfg, err := config.Load(file)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if err := cfg.RequireService(); err != nil {
			t.Errorf("%s: %v", file, err)
		}
		if got := cfg.Service.Source.Kind(); got != kind {
			t.Errorf("%s: source %q", file, got)
		}
	}
}
