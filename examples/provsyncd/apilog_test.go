package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/config"
	"github.com/provsync/provsync/sync/provlog"
)

// Every mutating call, accepted, refused or failed, is in the
// provisioning log with its arguments and the caller's address, served
// by /api/log?kind=api; neither the token nor the session is.
func TestAPICallsInLog(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "prov.jsonl")
	a, done := demoAppWith(t, func(c *config.Config) { c.Service.Log = logPath })
	srv := newServer(a.runner, a.eng, a.history, a.plog, a.metrics, a.token, false, zap.NewNop())
	srv.provision = a.provision
	hs := httptest.NewServer(srv.handler())
	t.Cleanup(hs.Close)
	c := client{t, hs.URL}
	<-done
	ids := pending(t, c)
	if len(ids) != 2 {
		t.Fatalf("pending %v", ids)
	}
	wrong := bearer("x" + a.token)
	withJSON := func(h http.Header) http.Header {
		h = h.Clone()
		if h == nil {
			h = http.Header{}
		}
		h.Set("Content-Type", "application/json")
		return h
	}
	calls := []struct {
		path    string
		header  http.Header
		body    string
		code    int
		call    string
		outcome sync.Status
		object  string // the event's name: the id or user argument
	}{
		{"/api/approvals/" + ids[0] + "/approve", nil, "", 401, "approve", provlog.OutcomeRefused, ids[0]},
		{"/api/approvals/" + ids[0] + "/approve", bearer(a.token), "", 202, "approve", provlog.OutcomeAccepted, ids[0]},
		{"/api/approvals/" + ids[1] + "/reject", wrong, "", 401, "reject", provlog.OutcomeRefused, ids[1]},
		{"/api/approvals/0000000000000000/reject", bearer(a.token), "", 404, "reject", sync.StatusFailed, "0000000000000000"},
		{"/api/approvals/" + ids[1] + "/reject", bearer(a.token), "", 202, "reject", provlog.OutcomeAccepted, ids[1]},
		{"/api/provision", withJSON(nil), `{"user": "ada.lovelace@example.com"}`, 401, "provision", provlog.OutcomeRefused, ""},
		{"/api/provision", withJSON(bearer(a.token)), `{"nobody": 1}`, 400, "provision", provlog.OutcomeRefused, ""},
		{"/api/provision", withJSON(bearer(a.token)), `{"user": "nobody@example.com"}`, 404, "provision", sync.StatusFailed, "nobody@example.com"},
		{"/api/provision", withJSON(bearer(a.token)), `{"user": "ada.lovelace@example.com"}`, 200, "provision", provlog.OutcomeAccepted, "ada.lovelace@example.com"},
		{"/api/retry-failed", wrong, "", 401, "retry-failed", provlog.OutcomeRefused, ""},
		{"/api/retry-failed", bearer(a.token), "", 202, "retry-failed", provlog.OutcomeAccepted, ""},
		{"/api/restart", bearer(a.token), "", 202, "restart", provlog.OutcomeAccepted, ""},
		{"/api/run", nil, "", 401, "run", provlog.OutcomeRefused, ""},
		{"/api/run", bearer(a.token), "", 202, "run", provlog.OutcomeAccepted, ""},
	}
	for _, cl := range calls {
		resp, body := c.do("POST", cl.path, cl.header, cl.body)
		if resp.StatusCode != cl.code {
			t.Fatalf("POST %s = %d, want %d: %s", cl.path, resp.StatusCode, cl.code, body)
		}
	}
	body := c.status("GET", "/api/log?kind=api", nil, 200)
	var events []provlog.Event
	if err := json.Unmarshal([]byte(body), &events); err != nil {
		t.Fatal(err)
	}
	if len(events) != len(calls) {
		t.Fatalf("%d API events, want %d:\n%s", len(events), len(calls), body)
	}
	for i, cl := range calls {
		e := events[i]
		if e.Kind != provlog.KindAPI || e.API == nil || e.API.Call != cl.call || e.Outcome != cl.outcome || e.Name != cl.object ||
			!strings.HasPrefix(e.API.Remote, "127.0.0.1:") || (e.Outcome == provlog.OutcomeAccepted) != (e.Error == "") {
			t.Errorf("event %d: %+v %+v; want %s %s of %q", i, e, e.API, cl.call, cl.outcome, cl.object)
		}
	}
	// The changes are there too, apart: the first cycle's user creates.
	var changes []provlog.Event
	if err := json.Unmarshal([]byte(c.status("GET", "/api/log?kind=user", nil, 200)), &changes); err != nil {
		t.Fatal(err)
	}
	if len(changes) != 4 || changes[0].Action != sync.ActionCreateUser || changes[0].API != nil {
		t.Errorf("user events in the log: %+v", changes)
	}
	file, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"/api/log": body, "the log file": string(file)} {
		if strings.Contains(text, a.token) || strings.Contains(text, srv.session) || strings.Contains(strings.ToLower(text), "authorization") {
			t.Errorf("%s holds a credential or a header:\n%s", name, text)
		}
	}
}
